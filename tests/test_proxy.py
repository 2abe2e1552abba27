"""Connectors behind an HTTP proxy: HTTP_PROXY / HTTPS_PROXY / NO_PROXY are honoured like curl does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import Server, run_cli, write_desired


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    """Answers every request itself, as EDC would for an absent alias, and records the request line."""

    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        body = json.dumps([{"message": "not found", "type": "ObjectNotFound", "path": None}]).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_plan_goes_through_the_proxy_named_in_the_environment(tmp_path: Path, devserver: Server, proxy: _Proxy) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "value-a", "b": "value-b"})
    port = proxy.server_address[1]
    env = {"EDC_MANAGEMENT_URL": devserver.url, "HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": ""}
    env["EDC_API_VERSION"] = "v3"
    result = run_cli("plan", str(desired), env=env)
    assert result.code == 0, result.both
    assert "2 to create" in result.out
    # A forward proxy sees absolute URIs; the dev-server itself was never contacted.
    assert any(path.startswith(devserver.url) and path.endswith("/secrets/a") for path in proxy.seen)
    assert devserver.requests == []


def test_no_proxy_bypasses_the_proxy(tmp_path: Path, devserver: Server, proxy: _Proxy) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "value-a"})
    port = proxy.server_address[1]
    env = {"EDC_MANAGEMENT_URL": devserver.url, "HTTP_PROXY": f"http://127.0.0.1:{port}", "NO_PROXY": "127.0.0.1"}
    env["EDC_API_VERSION"] = "v3"
    result = run_cli("plan", str(desired), env=env)
    assert result.code == 0, result.both
    assert proxy.seen == []
    assert devserver.count("GET") == 1
