"""How vaultsync reads EDC's answers: which have EDC's shape, what an error says, and the error for each status.

Server error bodies are reduced to their ``message`` fields: EDC's ``invalidValue`` can be the secret
itself and is never kept, and the API key and the value are scrubbed from whatever text is shown.
Answers without EDC's shape (a proxy, a single sign-on page, Jetty's own 404) are told apart from
EDC's, so that a wrong URL never reads as "absent".
"""

from __future__ import annotations

from typing import Any

import httpx

from vaultsync.bodies import EDC_NS
from vaultsync.errors import AlreadyExistsError, ApiError, AuthError, NotEdcError, NotFoundError
from vaultsync.retries import RETRY_STATUSES
from vaultsync.text import printable

VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
NOT_SERVED = (
    "this URL does not serve the EDC secrets API (the answer is not EDC's); check the base URL "
    "(--url / EDC_MANAGEMENT_URL, the management API with its path, e.g. http://HOST:8181/api/management) and "
    "--api-version (auto detects it; v4 needs EDC 0.17+, v4beta is EDC 0.15-0.16; v3 was removed after EDC 0.18)"
)

NOT_EDC = (
    "this is not the EDC secrets API: something else answers at this URL (a proxy, a single sign-on page or "
    "another service?); check --url / EDC_MANAGEMENT_URL"
)

NOT_SERVED_405 = NOT_SERVED.replace(
    "(the 404 is not EDC's ObjectNotFound answer)", "(EDC's secrets paths take this method)"
)


def read_value(doc: Any) -> str | None:
    """The secret value from a GET body, whichever JSON-LD form EDC used."""
    if isinstance(doc, list) and len(doc) == 1:  # a fully expanded JSON-LD document
        doc = doc[0]
    if not isinstance(doc, dict):
        return None
    for key in VALUE_KEYS:
        if key in doc:
            raw = doc[key]
            if isinstance(raw, list) and raw:
                raw = raw[0]
            if isinstance(raw, dict):
                raw = raw.get("@value")
            return raw if isinstance(raw, str) else None
    return None


def redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "(sensitive value)")
    return text


def error_detail(response: httpx.Response, secret: str | None = None) -> str:
    """A readable, value-free summary of an error response."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not response.content:
        return "empty response body"
    try:
        doc = response.json()
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting from a hostile server
        return (
            f"unreadable {content_type or 'untyped'} body ({len(response.content)} bytes; not EDC's JSON error format)"
        )
    items = doc if isinstance(doc, list) else [doc]
    messages = []
    for item in items:
        if isinstance(item, dict):
            message = item.get("message")
            kind = item.get("type")
            path = item.get("path")
            if isinstance(message, str):
                text = message
                if isinstance(path, str) and path and path not in message:
                    text += f" (at {path})"
                if isinstance(kind, str):
                    text = f"{kind}: {text}"
                messages.append(printable(redact(text, secret)))
    return "; ".join(messages) if messages else f"{content_type or 'untyped'} body without an error message"


def status_error(
    method: str,
    url: str,
    response: httpx.Response,
    secret: str | None = None,
    alias: str | None = None,
    *,
    api_key: str | None,
    max_retries: int,
    expected: str = "its JSON answer",
) -> ApiError:
    """The error a person can act on for an answer the operation did not expect (never the key or the value)."""
    status = response.status_code
    shown = printable(url)
    if 200 <= status < 300:  # callers return on EDC's own success answers; this one is not EDC's
        return not_edc(method, url, response, expected)
    if status == 409 and not edc_conflict(response):
        return not_edc(method, url, response, "409 with an ObjectConflict error array")
    if status == 405:  # EDC's secrets paths take all four methods: Jetty answers 405 for a path nothing serves
        return NotEdcError(method, shown, status, f"{_detail(response, secret, api_key)}: {NOT_SERVED_405}")
    if status in (401, 403):
        if not api_key:
            detail = "the API requires a key and none was given: set EDC_API_KEY or use --api-key-file"
        else:
            detail = "the API key was refused: check EDC_API_KEY / --api-key-file against the connector's key"
        return AuthError(method, shown, status, f"{detail} ({_detail(response, secret, api_key)})")
    if 300 <= status < 400:
        location = redact(printable(response.headers.get("location", "(no Location header)")), api_key)
        return ApiError(method, shown, status, f"redirected to {location}; use the final URL as --url")
    detail = _detail(response, secret, api_key)
    if (status == 404 and not edc_not_found(response)) or status == 405:
        # A served secrets API allows every method vaultsync sends: a 405 (Jetty's answer to a POST on a
        # path nothing serves) and a 404 that is not EDC's mean a wrong base URL or API version.
        return ApiError(method, shown, status, f"{detail}: {NOT_SERVED}")
    if status == 404:
        return NotFoundError(method, shown, status, f"no secret {printable(alias or '')!s} in the vault: {detail}")
    if status == 409:
        return AlreadyExistsError(method, shown, status, f"{printable(alias or '')} already exists: {detail}")
    if status in RETRY_STATUSES:  # only returned once the retries are used up
        tries = max_retries + 1
        detail += f"; gave up after {tries} attempt{'s' if tries > 1 else ''} (--max-retries)"
    elif status >= 500 and detail == "empty response body":
        detail = "the connector failed with an internal error (EDC answers requests it cannot handle with 500)"
    return ApiError(method, shown, status, detail)


def not_edc(method: str, url: str, response: httpx.Response, expected: str) -> NotEdcError:
    """An answer that does not have EDC's shape: say what came, what EDC sends, and what that means."""
    got = body_kind(response)
    return NotEdcError(method, printable(url), response.status_code, f"{got} where EDC sends {expected}: {NOT_EDC}")


def _detail(response: httpx.Response, secret: str | None, api_key: str | None) -> str:
    # A proxy's error page may quote the request's key; EDC's may quote the value (invalidValue is dropped).
    return redact(error_detail(response, secret), api_key)


def edc_not_found(response: httpx.Response) -> bool:
    """Whether the answer is EDC's own "no such id": a 404 whose body is a JSON array of ObjectNotFound errors.

    Every other 404 comes from the HTTP server, not from a secrets API: Jetty answers a path that no
    resource serves (a wrong base URL, a connector without the secrets API, an API version it does not
    have) with an HTML page, a JSON *object* ``{"message": "Not Found", ...}`` when JSON is accepted, or
    an empty body for PUT and DELETE. Reading those as "absent" would plan every secret as a create.
    """
    if response.status_code != 404:
        return False
    try:
        doc = response.json()
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, list) and any(isinstance(i, dict) and i.get("type") == "ObjectNotFound" for i in doc)


def _json_body(response: httpx.Response) -> tuple[bool, object]:
    try:
        doc: object = response.json()
    except (ValueError, RecursionError):
        return False, None
    return True, doc


def edc_conflict(response: httpx.Response) -> bool:
    """EDC's "already exists": a 409 whose body is a JSON array holding an ObjectConflict error."""
    if response.status_code != 409:
        return False
    ok, doc = _json_body(response)
    return ok and isinstance(doc, list) and any(isinstance(i, dict) and i.get("type") == "ObjectConflict" for i in doc)


def json_ld_node(doc: object) -> bool:
    """Whether ``doc`` is a JSON-LD node as EDC answers with (compacted, or expanded into a one-item list)."""
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    return isinstance(doc, dict) and isinstance(doc.get("@id"), str)


def id_response(response: httpx.Response) -> bool:
    """EDC's answer to a create: an IdResponse, a JSON-LD node naming the created ``@id``."""
    ok, doc = _json_body(response)
    return ok and json_ld_node(doc)


def declares_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def bodiless_success(response: httpx.Response) -> bool:
    """EDC's answer to PUT and DELETE: 204 with no body. A 200 with no body or a JSON one is taken too
    (nothing tells it from EDC); a page (HTML, text) is another server's answer."""
    if response.status_code == 204:
        return True
    if response.status_code != 200:
        return False
    parsed, _ = _json_body(response)
    return parsed or not response.content.strip()


def body_kind(response: httpx.Response) -> str:
    """What an answer holds, for messages: its kind and size, never its text (it may quote the key or a value)."""
    size = len(response.content)
    if not response.content.strip():
        return "an empty body"
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    head = response.content[:256].lstrip().lower()
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        return f"an HTML page, not JSON ({size} bytes)"
    ok, doc = _json_body(response)
    if not ok:
        return f"a {printable(content_type) or 'untyped'} body, not JSON ({size} bytes)"
    kind = "array" if isinstance(doc, list) else "object" if isinstance(doc, dict) else "value"
    return f"a JSON {kind} ({size} bytes)"
