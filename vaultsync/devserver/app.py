"""The HTTP side: the request handler (with fault injection), the threaded server and ``serve()``."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vaultsync.devserver.api import Request, SecretsApi
from vaultsync.devserver.errors import MAX_REQUEST_HEAD, Raw, edc_error, jetty_page
from vaultsync.devserver.faults import Fault, Faults, body_id, body_value
from vaultsync.devserver.store import Vault
from vaultsync.devserver.vocab import BASE_PATH, EDC_NS, V3_RESPONSE_CONTEXT


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: DevServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: never log requests (or bodies)
        return

    def parse_request(self) -> bool:
        """Refuse request heads Jetty's 8 KiB buffer cannot hold: 414 for the request line, else 431."""
        if not super().parse_request():
            return False
        line = len(getattr(self, "raw_requestline", b""))
        head = line + sum(len(name) + len(value) + 4 for name, value in self.headers.items()) + 2
        if line > MAX_REQUEST_HEAD:
            refused = 414, jetty_page(414, "URI Too Long", "/badMessage", self.command, close=True)
        elif head > MAX_REQUEST_HEAD:
            path = urlsplit(self.path).path
            refused = 431, jetty_page(431, "Request Header Fields Too Large", path, self.command, close=True)
        else:
            return True
        self.server.record(self.command, urlsplit(self.path).path, refused[0])
        self._send(*refused)
        return False

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, raw_path, headers, body)
        route = SecretsApi.route(raw_path)
        alias = route[1] if route else None
        if alias is None and self.command in ("POST", "PUT"):
            alias = body_id(body)
        fault = self.server.faults.take(self.command, alias)
        if fault is not None and self._inject(fault, request):
            return
        status, doc = self.server.api.handle(request)
        self.server.record(self.command, raw_path, status)
        if fault is not None and self._spoil(fault, status, doc):
            return
        self._send(status, doc)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def _inject(self, fault: Fault, request: Request) -> bool:
        """Apply ``fault`` before the request is performed; True when it was answered (or dropped).

        Injected answers are recorded in the request log too (status 0: dropped).
        """
        if fault.delay:
            time.sleep(fault.delay)
        if fault.action in ("delay", "drop-after", "cut", "truncated"):
            return False  # performed normally; _spoil may mangle the answer
        record = self.server.record
        if fault.action == "drop":
            record(request.method, request.path, 0)
            self._drop()
        elif fault.action == "html":
            record(request.method, request.path, 502)
            self._send_raw(502, b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>", "text/html")
        elif fault.action == "no-value":
            record(request.method, request.path, 200)
            self._send(200, {"@id": "x", "@type": "Secret", "@context": V3_RESPONSE_CONTEXT})
        elif fault.action == "echo":
            value = body_value(request.body)
            record(request.method, request.path, 400)
            self._send(400, edc_error(f"value {value} is not acceptable", "ValidationFailure", EDC_NS + "value", value))
        elif fault.action == "redirect":
            record(request.method, request.path, 302)
            self._send_raw(302, b"", "text/plain", {"Location": "https://login.example.invalid/sso"})
        elif isinstance(fault.action, int):
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.body is not None:
                body = fault.body.encode("utf-8")
            elif fault.action >= 500:
                body = b""
            else:
                body = json.dumps(edc_error("injected fault", "InvalidRequest")).encode()
            record(request.method, request.path, fault.action)
            self._send_raw(fault.action, body, fault.content_type, extra)
        else:
            raise ValueError(f"unknown fault action {fault.action!r}")
        return True

    def _spoil(self, fault: Fault, status: int, doc: Any) -> bool:
        """Mangle the answer of a performed request; True when the answer was handled."""
        if fault.action == "drop-after":
            self._drop()
            return True
        if fault.action == "truncated":
            self._send_raw(200, b'{"@id": "x", "value": "abc', "application/json")
            return True
        if fault.action == "cut":
            if isinstance(doc, Raw):
                body = doc.body
            elif doc is not None:
                body = json.dumps(doc).encode("utf-8")
            else:
                body = b'{"@id": "x", "@type": "IdResponse"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._drop()
            return True
        return False

    def _send(self, status: int, doc: Any) -> None:
        if isinstance(doc, Raw):
            if doc.close:
                self.close_connection = True
            self._send_raw(status, doc.body, doc.content_type or "", dict(doc.headers))
            return
        body = b"" if doc is None else json.dumps(doc).encode("utf-8")
        self._send_raw(status, body, "application/json")

    def _send_raw(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "")
        if body:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the connects of a client opening 10 at once (vaultsync's
    # default --parallelism): each dropped one waits 1 s for the kernel to resend it.
    request_queue_size = 128

    def __init__(self, host: str, port: int, api_key: str | None = None, data_file: Path | None = None) -> None:
        self.api = SecretsApi(Vault(data_file), api_key)
        self.faults = Faults()
        # (method, raw path, status) of every request, injected answers included (0: dropped), for tests
        self.requests: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout, an injected delay or drop) is not the server's problem:
        # no traceback on stderr for it.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def record(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self.requests.append((method, path, status))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}{BASE_PATH}"

    @property
    def secrets(self) -> dict[str, str]:
        return self.api.vault.secrets

    def start_background(self) -> threading.Thread:
        # A short poll interval: stop() waits up to one interval, and tests start hundreds of servers.
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="vaultsync-dev-server", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve(host: str, port: int, api_key: str | None, data_file: Path | None, announce: Callable[[str], None]) -> None:
    """Run until SIGINT/SIGTERM. The first line announced is the URL to export."""
    import signal

    server = DevServer(host, port, api_key, data_file)
    announce(f"EDC_MANAGEMENT_URL={server.url}")

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
