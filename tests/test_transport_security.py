"""Transport security: TLS verified by default, --ca-bundle, --insecure with a warning, and a warning
whenever secrets would cross the network in plain HTTP.

The TLS tests serve the dev-server over https with a throwaway self-signed certificate made by the
`openssl` command line tool (skipped where it is missing).
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Result, Server, run_cli, write_desired

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.config import Flags, resolve
from vaultsync.devserver import DevServer
from vaultsync.errors import UsageError
from vaultsync.model import Target

KEY = "tls-test-key-0123456789"


def make_cert(folder: Path, name: str, san: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += [
        "-days",
        "2",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-subj",
        f"/CN={name}",
        "-addext",
        f"subjectAltName={san}",
    ]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line tool is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    return {
        "right": make_cert(folder, "localhost", "DNS:localhost,IP:127.0.0.1"),
        "wrong-host": make_cert(folder, "elsewhere", "DNS:elsewhere.example"),
    }


def https_server(cert: Path, key: Path) -> DevServer:
    server = DevServer("127.0.0.1", 0)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start_background()
    return server


@pytest.fixture
def tls(certs: dict[str, tuple[Path, Path]]) -> Iterator[tuple[str, Path]]:
    cert, key = certs["right"]
    server = https_server(cert, key)
    try:
        yield server.url.replace("http://", "https://"), cert
    finally:
        server.stop()


def plan(tmp_path: Path, url: str, *args: str, key: str | None = KEY) -> Result:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    env = {"EDC_MANAGEMENT_URL": url, "EDC_API_VERSION": "v3"}
    if key:
        env["EDC_API_KEY"] = key
    result = run_cli("plan", str(file), *args, env=env)
    assert "Traceback" not in result.both
    assert key is None or key not in result.both
    return result


# -- TLS ----------------------------------------------------------------------------------------------------


def test_an_untrusted_certificate_is_refused_by_default_with_a_way_out(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, _ = tls
    result = plan(tmp_path, url)
    assert result.code == 1
    assert f"GET {url}/v3/secrets/" in result.err
    assert "TLS certificate verification failed (self-signed certificate)" in result.err
    assert "--ca-bundle PATH" in result.err and "--insecure" in result.err
    assert "gave up" not in result.err  # not retried: trying again cannot fix trust


def test_ca_bundle_makes_the_certificate_trusted(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, cert = tls
    result = plan(tmp_path, url, "--ca-bundle", str(cert))
    assert result.code == 0, result.err
    assert f"-> {url} (v3)" in result.out
    assert "Warning" not in result.err


def test_insecure_connects_and_warns(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, _ = tls
    result = plan(tmp_path, url, "--insecure")
    assert result.code == 0, result.err
    assert "Warning: --insecure: TLS certificates are NOT verified" in result.err


def test_a_certificate_for_another_host_is_refused_even_when_its_ca_is_trusted(
    tmp_path: Path, certs: dict[str, tuple[Path, Path]]
) -> None:
    cert, key = certs["wrong-host"]
    server = https_server(cert, key)
    try:
        result = plan(tmp_path, server.url.replace("http://", "https://"), "--ca-bundle", str(cert))
    finally:
        server.stop()
    assert result.code == 1
    assert "TLS certificate verification failed (IP address mismatch" in result.err
    assert "certificate is not valid for '127.0.0.1'" in result.err


def test_a_ca_bundle_that_is_not_pem_is_a_clear_error(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, _ = tls
    bogus = tmp_path / "bundle.pem"
    bogus.write_text("this is not a certificate\n")
    result = plan(tmp_path, url, "--ca-bundle", str(bogus))
    assert result.code == 1
    assert f"--ca-bundle {bogus}: not a PEM file of CA certificates" in result.err


def test_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, _ = tls
    result = plan(tmp_path, url, "--ca-bundle", str(tmp_path / "nowhere.pem"))
    assert result.code == 1
    assert "no such file" in result.err


def test_https_to_a_plain_http_server_says_so(tmp_path: Path, devserver: Server) -> None:
    result = plan(tmp_path, devserver.url.replace("http://", "https://"), "--max-retries", "2")
    assert result.code == 1
    assert "TLS handshake failed" in result.err
    assert "gave up" not in result.err


def test_http_to_a_tls_server_is_a_clear_error(tmp_path: Path, tls: tuple[str, Path]) -> None:
    url, _ = tls
    result = plan(tmp_path, url.replace("https://", "http://"), "--max-retries", "0")
    assert result.code == 1
    assert result.err.startswith("Error: GET http://")


def test_a_ca_bundle_path_becomes_an_ssl_context_not_a_deprecated_string(tls: tuple[str, Path]) -> None:
    url, cert = tls

    async def read() -> str | None:
        async with EdcClient(url, None, "v3", ClientOptions(verify=str(cert), max_retries=0)) as client:
            return await client.get("nothing-here")

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # httpx 0.28 deprecates verify=<str>
        assert asyncio.run(read()) is None


def test_a_bad_ca_bundle_never_reaches_the_network(tmp_path: Path) -> None:
    bogus = tmp_path / "bundle.pem"
    bogus.write_bytes(b"\x00\x01garbage")
    with pytest.raises(UsageError, match="not a PEM file"):
        EdcClient("https://edc.example.com/api/management", None, "v3", ClientOptions(verify=str(bogus)))


# -- plain HTTP ---------------------------------------------------------------------------------------------


def warnings_for(url: str, key: str | None = KEY, **flags: object) -> tuple[str, ...]:
    env = {"EDC_API_KEY": key} if key else {}
    return resolve(Flags(url=url, **flags), Target(), env, "d.json").warnings  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://edc.example.com:8181/api/management",
        "http://10.0.0.5/api/management",
        "http://0.0.0.0:8181/api/management",
        "http://[2001:db8::1]:8181/api/management",
    ],
)
def test_the_key_over_plain_http_to_another_host_is_warned_about(url: str) -> None:
    (warning,) = warnings_for(url)
    assert "the API key and secret values travel unencrypted over plain HTTP" in warning
    assert "use https://" in warning


def test_values_over_plain_http_are_warned_about_even_without_a_key() -> None:
    (warning,) = warnings_for("http://edc.example.com/api/management", key=None)
    assert warning.startswith("secret values travel unencrypted over plain HTTP to edc.example.com")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8181/api/management",
        "http://127.9.9.9/api/management",
        "http://localhost:8181/api/management",
        "http://vault.localhost/api/management",
        "http://[::1]:8181/api/management",
        "https://edc.example.com/api/management",
    ],
)
def test_loopback_and_https_need_no_warning(url: str) -> None:
    assert warnings_for(url) == ()


def test_insecure_warns_only_where_there_is_tls_to_skip() -> None:
    (warning,) = warnings_for("https://edc.example.com/api/management", insecure=True)
    assert warning.startswith("--insecure: TLS certificates are NOT verified")


def test_the_cli_prints_the_plain_http_warning_before_any_request(tmp_path: Path, devserver: Server) -> None:
    # 0.0.0.0 reaches the loopback dev-server but is not a loopback name: the warning must show.
    url = devserver.url.replace("127.0.0.1", "0.0.0.0")
    result = plan(tmp_path, url)
    assert result.code == 0, result.err
    assert result.err.startswith("Warning: the API key and secret values travel unencrypted over plain HTTP to 0.0.0.0")
    assert "Warning" not in plan(tmp_path, devserver.url).err  # loopback: no warning (a first run's note only)


def test_a_url_with_credentials_is_refused_before_it_can_be_printed(tmp_path: Path) -> None:
    result = plan(tmp_path, "https://user:hunter2-password@edc.example.com/api/management")
    assert result.code == 1
    assert "must not hold a user name or password" in result.err
    assert "hunter2-password" not in result.both


@pytest.mark.parametrize("bad", ["line\nbreak", "tab\there", "caf\u00e9", "\x1b[31m"])
def test_an_api_key_that_cannot_be_a_header_is_refused_without_showing_it(
    tmp_path: Path, devserver: Server, bad: str
) -> None:
    key = f"K3Y-{bad}-K3Y"
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    result = run_cli("plan", str(file), env={"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_KEY": key})
    assert result.code == 1
    assert "the API key from EDC_API_KEY holds characters an HTTP header cannot carry" in result.err
    assert "K3Y" not in result.both
    assert devserver.requests == []
