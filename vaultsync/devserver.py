"""An embedded EDC-compatible secrets API for demos, local development and tests.

It mimics the real connector's secrets endpoints (v3 and v4): status codes,
IdResponse, error bodies (a JSON array of {message, type, path, invalidValue}),
v3's JSON-LD leniency and v4's strict context/type rules, and X-Api-Key auth.
It also answers like the HTTP stack in front of them (Jetty 12 and Jersey, as
measured on EDC 0.15.1; see tests/edc/FINDINGS.md): a path nothing serves gets
Jetty's 404 page (not EDC's ObjectNotFound array), ``%25``, ``%2F`` and ``%5C``
in a path get Jetty's 400 page, request heads over 8 KiB get 431 or 414, and a
body that is not a JSON object gets a ``text/plain`` 400.
It is not a vault: values sit in memory, or in a plain JSON file with --data.

``Faults`` lets tests inject failures (status codes, delays, dropped
connections, garbage bodies) so retries and partial failures are exercised over
real sockets.
"""

from __future__ import annotations

import fnmatch
import html
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from vaultsync.errors import UsageError

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
BASE_PATH = "/api/management"
VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
V3_RESPONSE_CONTEXT = {
    "@vocab": EDC_NS,
    "edc": EDC_NS,
    "odrl": "http://www.w3.org/ns/odrl/2/",
}
# Jetty's default request header buffer: the request line plus every header must fit.
MAX_REQUEST_HEAD = 8192
JETTY_HTML = "text/html;charset=iso-8859-1"
_JETTY_PAGE = (
    "<html>\n<head>\n"
    '<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n'
    "<title>Error {status} {message}</title>\n</head>\n<body>\n<h2>HTTP ERROR {status} {message}</h2>\n<table>\n"
    "<tr><th>URI:</th><td>{uri}</td></tr>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n"
    "<tr><th>MESSAGE:</th><td>{message}</td></tr>\n</table>\n\n</body>\n</html>\n"
)
_PAGE_METHODS = ("GET", "POST", "HEAD")
_BROKEN_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
_CONTROL_ESCAPE = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
_JACKSON_WHERE = (
    "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: {}, column: {}]"
)


@dataclass
class Fault:
    """One injected failure for the next ``times`` requests matching ``method`` and ``alias``.

    ``alias`` is a glob ("app-*"); for POST and PUT it is matched against the body's ``@id``.
    ``action`` says what happens (``delay`` seconds first, whatever the action):

    - a status code: answer with it (EDC's JSON error body for a 4xx, empty for a 5xx, or
      ``body``), adding ``Retry-After: retry_after`` when given; the request is not performed
    - "drop": close the connection without answering; not performed
    - "drop-after": perform the request, then close without answering (a lost answer)
    - "cut": perform the request, then send half of the answer and close
    - "truncated": perform the request, then answer 200 with cut-off JSON
    - "html": a proxy's 502 HTML error page; not performed
    - "no-value": answer 200 with a Secret document that has no value; not performed
    - "echo": answer 400 ValidationFailure quoting the sent value (as a careless server might)
    - "redirect": 302 to a login page; not performed
    - "delay": only the delay, then the normal answer
    """

    action: str | int
    method: str | None = None
    alias: str | None = None
    times: int = 1
    delay: float = 0.0
    retry_after: str | None = None
    body: str | None = None
    content_type: str = "application/json"

    def matches(self, method: str, alias: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.alias is None or (alias is not None and fnmatch.fnmatchcase(alias, self.alias))


@dataclass
class Faults:
    """The queue of pending faults; ``hits`` counts the requests a fault was applied to."""

    queue: deque[Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: int = 0

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self.lock)

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.queue.append(fault)

    def take(self, method: str, alias: str | None) -> Fault | None:
        with self.lock:
            for fault in self.queue:
                if fault.matches(method, alias):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.queue.remove(fault)
                    self.hits += 1
                    self._changed.notify_all()
                    return fault
        return None

    def wait_for_hits(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests met a fault (e.g. are inside a delay); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self.hits >= count, timeout)

    def clear(self) -> None:
        with self.lock:
            self.queue.clear()


def _body_id(body: bytes) -> str | None:
    """The ``@id`` of a POST/PUT body, so faults can target one alias's writes."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return None
    alias = doc.get("@id") if isinstance(doc, dict) else None
    return alias if isinstance(alias, str) else None


def _body_value(body: bytes) -> Any:
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    return next((doc[k] for k in VALUE_KEYS if k in doc), None)


class Vault:
    """The in-memory secret store, optionally persisted to a JSON file after each write."""

    def __init__(self, data_file: Path | None = None) -> None:
        self.data_file = data_file
        self.lock = threading.Lock()
        self.secrets: dict[str, str] = {}
        if data_file is not None and data_file.exists():
            try:
                loaded = json.loads(data_file.read_text("utf-8") or "{}")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise UsageError(f"--data {data_file}: not a dev-server data file ({type(exc).__name__})") from None
            if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
                raise UsageError(f"--data {data_file}: not a dev-server data file (expected an object of strings)")
            self.secrets = {str(k): v for k, v in loaded.items()}

    def persist(self) -> None:
        if self.data_file is None:
            return
        tmp = self.data_file.with_name(self.data_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.secrets, handle)
        os.replace(tmp, self.data_file)


def _error(message: str, kind: str, path: str | None = None, invalid: Any = None) -> list[dict[str, Any]]:
    return [{"message": message, "type": kind, "path": path, "invalidValue": invalid}]


def _missing_value() -> list[dict[str, Any]]:
    return _error(f"mandatory value '{EDC_NS}value' is missing or it is blank", "ValidationFailure", EDC_NS + "value")


@dataclass(frozen=True)
class Raw:
    """An answer that is not EDC's JSON: Jetty's error pages and Jersey's text/plain parse errors."""

    body: bytes
    content_type: str | None
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # Jetty closes the connection after a request it could not parse


def jetty_page(status: int, message: str, uri: str, method: str, close: bool = False) -> Raw:
    """The HTML error page of Jetty 12's HTTP layer, whatever the request accepts.

    Like every Jetty error page, only for GET, POST and HEAD: other methods get an empty body. A request
    Jetty could not even parse (URI ``/badMessage``) always gets the page.
    """
    headers = (("Connection", "close"),) if close else ()
    if method not in _PAGE_METHODS and uri != "/badMessage":
        return Raw(b"", None, headers, close)
    text = _JETTY_PAGE.format(status=status, message=html.escape(message), uri=html.escape(uri))
    return Raw(text.encode("iso-8859-1", "replace"), JETTY_HTML, headers, close)


def _accepted_format(accept: str | None) -> str | None:
    """The error-page format Jetty's ErrorHandler picks from ``Accept`` (None: no body at all).

    No ``Accept`` header means anything (HTML); an empty one, or one naming no format it has, means no body.
    """
    if accept is None:
        return "html"
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (item.strip().lower() for item in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, index, media))
    for _, _, media in sorted(ranked):
        if media in ("text/html", "text/*", "*/*"):
            return "html"
        if media in ("application/json", "text/json"):
            return "json"
        if media == "text/plain":
            return "text"
    return None


def jetty_error(
    status: int, method: str, url: str, accept: str | None, headers: tuple[tuple[str, str], ...] = ()
) -> Raw:
    """Jetty's answer when no resource serves a request (404, 405) or the servlet failed without a body (500).

    Measured on EDC 0.15.1: a page only for GET, POST and HEAD (PUT and DELETE get an empty body); HTML for
    ``*/*``, ``text/html`` or no ``Accept`` header, the JSON object ``{"message", "url", "status"}`` for
    ``application/json``, plain text for ``text/plain``, and no body for any other type.
    """
    message = HTTPStatus(status).phrase
    kind = _accepted_format(accept) if method in _PAGE_METHODS else None
    if kind == "html":
        page = jetty_page(status, message, url, method)
        return Raw(page.body, page.content_type, headers)
    if kind == "json":
        text = f'{{\n"message":{json.dumps(message)},\n"url":{json.dumps(url)},\n"status":"{status}"\n}}'
        return Raw(text.encode("utf-8"), "application/json", headers)
    if kind == "text":
        text = f"HTTP ERROR {status} {message}\nURI: {url}\nSTATUS: {status}\nMESSAGE: {message}\n"
        return Raw(text.encode("iso-8859-1", "replace"), "text/plain;charset=iso-8859-1", headers)
    return Raw(b"", None, headers)


def path_problem(raw_path: str, method: str) -> Raw | None:
    """Jetty 12's 400 for a path it finds ambiguous or suspicious, before any resource or auth runs.

    This is why an alias holding ``%``, ``/`` or ``\\`` can be created (its id travels in the body) but never
    read or deleted on EDC 0.13+: its percent-encoded form is refused here.
    """
    if _BROKEN_ESCAPE.search(raw_path):
        return jetty_page(400, "Bad Request", "/badMessage", method, close=True)
    lowered = raw_path.lower()
    if "%2f" in lowered:
        return jetty_page(400, "Ambiguous URI path separator", raw_path, method, close=True)
    if "%25" in lowered:
        return jetty_page(400, "Ambiguous URI path encoding", raw_path, method, close=True)
    if "%5c" in lowered or "\\" in raw_path or _CONTROL_ESCAPE.search(raw_path):
        return jetty_page(400, "Suspicious Path Character", raw_path, method, close=True)
    if any("%2e" in segment and unquote(segment) in (".", "..") for segment in lowered.split("/")):
        return jetty_page(400, "Ambiguous URI path segment", raw_path, method, close=True)
    return None


def _not_json(error: json.JSONDecodeError | None, kind: str = "") -> Response:
    """Jersey's 400 for a body Jackson cannot read as a JSON object: plain text, not EDC's error array."""
    if error is not None:
        message = error.msg + _JACKSON_WHERE.format(error.lineno, error.colno)
    else:
        message = f"Expected `jakarta.json.JsonObject`, but encountered {kind} Value" + _JACKSON_WHERE.format(1, 1)
    return 400, Raw(message.encode("utf-8"), "text/plain")


def _json_kind(doc: Any) -> str:
    if isinstance(doc, list):
        return "ARRAY"
    if isinstance(doc, str):
        return "STRING"
    if isinstance(doc, bool):
        return "BOOLEAN"
    return "NUMBER"


class Request:
    """The parts of an HTTP request the API logic needs."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


Response = tuple[int, Any]  # (status, JSON document or None for an empty body)


class SecretsApi:
    """The API logic, independent of the socket server so it is cheap to reason about."""

    def __init__(self, vault: Vault, api_key: str | None) -> None:
        self.vault = vault
        self.api_key = api_key
        from vaultsync.devserver_assets import AssetsApi  # builds on this module's helpers

        self.assets = AssetsApi()

    def handle(self, request: Request) -> Response:
        """Answer in the real stack's order: Jetty's path checks, resource matching, auth, then the body."""
        problem = path_problem(request.path, request.method)
        if problem is not None:
            return 400, problem
        if self.assets.serves(request.path):
            return self.assets.handle(request, self.api_key)
        method = request.method
        url = f"http://{request.headers.get('host', 'localhost')}{request.path}"
        accept = request.headers.get("accept")
        route = self.route(request.path)
        if route is None:  # Jetty's 404: what a client meets when the URL or the API version is wrong
            return 404, jetty_error(404, method, url, accept)
        version, alias = route
        allow = "DELETE,GET,OPTIONS" if alias is not None else "POST,OPTIONS,PUT"  # Jersey's order, as measured
        if method not in allow.split(","):
            return 405, jetty_error(405, method, url, accept, (("Allow", allow),))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if alias is None and content_type and content_type != "application/json":  # no method consumes it
            return 415, jetty_error(415, method, url, accept)
        if self.api_key is not None:  # EDC's auth filter runs after the resource was matched
            given = request.headers.get("x-api-key")
            if given is None:
                return 401, _error("x-api-key not found", "AuthenticationFailed")
            if given != self.api_key:
                return 401, _error("Request could not be authenticated", "AuthenticationFailed")
        if alias is None:
            if not content_type:  # matched as "any type", then no reader for application/octet-stream
                return 415, jetty_error(415, method, url, accept)
            if method == "POST":
                return self.create(version, request.body, (method, url, accept))
            return self.update(version, request.body, (method, url, accept))
        if method == "GET":
            return self.get(version, alias)
        return self.delete(alias)

    @staticmethod
    def route(path: str) -> tuple[str, str | None] | None:
        if not path.startswith(BASE_PATH + "/"):
            return None
        rest = path[len(BASE_PATH) + 1 :]
        for version in ("v3", "v4"):
            prefix = f"{version}/secrets"
            if rest == prefix:
                return version, None
            if rest.startswith(prefix + "/") and len(rest) > len(prefix) + 1:
                tail = rest[len(prefix) + 1 :]
                if "/" in tail:  # an encoded %2F arrives decoded only after routing
                    return None
                return version, unquote(tail)
        return None

    # -- body reading: v3 JSON-LD leniency, v4 strictness ---------------------------------

    def _parse(
        self, version: str, body: bytes, where: tuple[str, str, str | None]
    ) -> tuple[dict[str, Any] | None, Response | None]:
        """The body as a JSON object, or the real stack's answer to it; ``where`` is (method, URL, Accept)."""
        if not body.strip():
            return None, (400, _error("input json is null", "ValidationFailure", ""))
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            return None, _not_json(exc)
        except ValueError:  # not UTF-8
            return None, _not_json(json.JSONDecodeError("Invalid UTF-8 start byte", "", 0))
        if doc is None:  # Jersey hands EDC a null object: an exception, answered by Jetty's 500 page
            return None, (500, jetty_error(500, *where))
        if not isinstance(doc, dict):
            return None, _not_json(None, _json_kind(doc))
        if version == "v4":
            context = doc.get("@context")
            if not isinstance(context, list) or V4_CONTEXT not in context:
                return None, (
                    400,
                    _error(f"@context must be an array containing {V4_CONTEXT}", "ValidationFailure", "@context"),
                )
            if doc.get("@type") != "Secret":
                return None, (
                    400,
                    _error("@type must be Secret", "ValidationFailure", "@type", doc.get("@type")),
                )
        elif "@context" not in doc:
            # Without a context, JSON-LD expansion drops every plain key: the value is gone.
            return {**doc, "__value_dropped__": True}, None
        return doc, None

    @staticmethod
    def _value(version: str, doc: dict[str, Any]) -> tuple[str | None, Response | None]:
        if doc.get("__value_dropped__"):
            return None, (400, _missing_value())
        raw: Any = None
        for key in VALUE_KEYS:
            if key in doc:
                raw = doc[key]
                break
        if version == "v4":
            if raw is not None and not isinstance(raw, str):
                return None, (400, _error("value must be a string", "ValidationFailure", "value", raw))
        else:
            if isinstance(raw, list):  # EDC v3 keeps the first element only (silent data loss)
                raw = raw[0] if raw else None
            if isinstance(raw, (int, float, bool, dict)):
                return None, (500, None)  # EDC v3 throws: a 500 with an empty body
        if not isinstance(raw, str) or not raw.strip():
            return None, (400, _missing_value())
        return raw, None

    @staticmethod
    def _id(doc: dict[str, Any]) -> tuple[str | None, Response | None]:
        if "@id" not in doc:
            return str(uuid.uuid4()), None
        raw = doc["@id"]
        if not isinstance(raw, str) or not raw.strip():
            return None, (400, _error("@id cannot be blank", "ValidationFailure", "@id"))
        return raw, None

    # -- operations -------------------------------------------------------------------------

    def create(self, version: str, body: bytes, where: tuple[str, str, str | None] = ("POST", "", None)) -> Response:
        doc, problem = self._parse(version, body, where)
        if problem or doc is None:
            return problem or (400, None)
        alias, problem = self._id(doc)
        if problem or alias is None:
            return problem or (400, None)
        value, problem = self._value(version, doc)
        if problem or value is None:
            return problem or (400, None)
        with self.vault.lock:
            if alias in self.vault.secrets:
                return 409, _error(f"Secret {alias} already exist", "ObjectConflict")
            self.vault.secrets[alias] = value
            self.vault.persist()
        return 200, {
            "@context": V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT],
            "@id": alias,
            "@type": "IdResponse",
            "createdAt": int(time.time() * 1000),
        }

    def update(self, version: str, body: bytes, where: tuple[str, str, str | None] = ("PUT", "", None)) -> Response:
        doc, problem = self._parse(version, body, where)
        if problem or doc is None:
            return problem or (400, None)
        alias = doc.get("@id")
        if not isinstance(alias, str) or not alias.strip():
            return 400, _error("@id cannot be blank", "ValidationFailure", "@id")
        value, problem = self._value(version, doc)
        if problem or value is None:
            return problem or (400, None)
        with self.vault.lock:
            if alias not in self.vault.secrets:
                return 404, _error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
            self.vault.secrets[alias] = value
            self.vault.persist()
        return 204, None

    def get(self, version: str, alias: str) -> Response:
        with self.vault.lock:
            value = self.vault.secrets.get(alias)
        if value is None:
            return 404, _error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
        context: Any = V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT]
        return 200, {"@id": alias, "@type": "Secret", "value": value, "@context": context}

    def delete(self, alias: str) -> Response:
        with self.vault.lock:
            if self.vault.secrets.pop(alias, None) is None:
                return 404, _error(f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")
            self.vault.persist()
        return 204, None


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
            alias = _body_id(body)
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
            value = _body_value(request.body)
            record(request.method, request.path, 400)
            self._send(400, _error(f"value {value} is not acceptable", "ValidationFailure", EDC_NS + "value", value))
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
                body = json.dumps(_error("injected fault", "InvalidRequest")).encode()
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
