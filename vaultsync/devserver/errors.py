"""The error answers of the real stack: EDC's JSON error arrays, Jetty's error pages, Jersey's text/plain 400s.

Measured on EDC 0.15.1 (Jetty 12, Jersey); see tests/edc/FINDINGS.md.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from vaultsync.devserver.vocab import EDC_NS

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


def edc_error(message: str, kind: str, path: str | None = None, invalid: Any = None) -> list[dict[str, Any]]:
    return [{"message": message, "type": kind, "path": path, "invalidValue": invalid}]


def missing_value() -> list[dict[str, Any]]:
    return edc_error(
        f"mandatory value '{EDC_NS}value' is missing or it is blank", "ValidationFailure", EDC_NS + "value"
    )


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


Response = tuple[int, Any]  # (status, JSON document or None for an empty body)


def not_json(error: json.JSONDecodeError | None, kind: str = "") -> Response:
    """Jersey's 400 for a body Jackson cannot read as a JSON object: plain text, not EDC's error array."""
    if error is not None:
        message = error.msg + _JACKSON_WHERE.format(error.lineno, error.colno)
    else:
        message = f"Expected `jakarta.json.JsonObject`, but encountered {kind} Value" + _JACKSON_WHERE.format(1, 1)
    return 400, Raw(message.encode("utf-8"), "text/plain")


def json_kind(doc: Any) -> str:
    if isinstance(doc, list):
        return "ARRAY"
    if isinstance(doc, str):
        return "STRING"
    if isinstance(doc, bool):
        return "BOOLEAN"
    return "NUMBER"
