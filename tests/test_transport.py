"""The connection-reusing transport over real sockets: reuse, TLS as configured, lost connections, closing."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.devserver import DevServer, Fault
from vaultsync.errors import TransportError
from vaultsync.transport import ReusingTransport


def test_sequential_requests_share_one_connection(devserver: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    accept = devserver.server.process_request
    monkeypatch.setattr(devserver.server, "process_request", lambda r, a: (opened.append(a), accept(r, a)))
    devserver.secrets["a"] = "x"

    async def run() -> list[str | None]:
        async with EdcClient(devserver.url, None) as client:
            return [await client.get("a") for _ in range(25)]

    assert asyncio.run(run()) == ["x"] * 25
    assert len(opened) == 1


def test_a_connection_the_server_dropped_is_replaced(devserver: Server) -> None:
    devserver.secrets["a"] = "x"
    devserver.server.faults.add(Fault("drop", method="GET", times=1))

    async def run() -> list[str | None]:
        options = ClientOptions(max_retries=1, backoff_base=0.0)
        async with EdcClient(devserver.url, None, options=options) as client:
            first = await client.get("a")  # the dropped answer is retried on a fresh connection
            return [first, await client.get("a")]

    assert asyncio.run(run()) == ["x", "x"]


def test_closing_the_client_closes_its_connections(devserver: Server) -> None:
    async def run() -> ReusingTransport:
        transport = ReusingTransport(4)
        async with EdcClient(devserver.url, None, transport=transport) as client:
            await asyncio.gather(*(client.get(f"a{i}") for i in range(8)))
        return transport

    transport = asyncio.run(run())
    assert 1 <= transport.opened <= 8
    assert transport._idle == []  # nothing kept open after the run


# -- TLS -------------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A dev-server behind TLS with a self-signed certificate for 127.0.0.1: (URL, certificate file)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", *request, *names, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    server = DevServer("127.0.0.1", 0)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.secrets["a"] = "x"
    server.start_background()
    try:
        yield server.url.replace("http://", "https://"), cert
    finally:
        server.stop()


def _get(url: str, verify: bool | str) -> str | None:
    async def run() -> str | None:
        async with EdcClient(url, None, options=ClientOptions(verify=verify, max_retries=0)) as client:
            return await client.get("a")

    return asyncio.run(run())


def test_tls_with_the_servers_ca_bundle_works(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    assert _get(url, str(cert)) == "x"


def test_tls_with_an_untrusted_certificate_is_refused(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    with pytest.raises(TransportError, match="TLS certificate verification failed"):
        _get(url, True)


def test_tls_without_verification_works(tls_server: tuple[str, Path]) -> None:
    url, _ = tls_server
    assert _get(url, False) == "x"
