"""The one module that talks HTTP to an EDC management API's secrets endpoints.

It speaks both body dialects (v3 JSON-LD with ``@vocab``, v4 with the v2
management context), reads every JSON-LD shape EDC answers with, retries what
is safe to retry, and turns each status code into an error a person can act
on. Server error bodies are reduced to their ``message`` fields: EDC's
``invalidValue`` can be the secret itself and is never kept.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from vaultsync.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    TransportError,
    UsageError,
)
from vaultsync.text import printable
from vaultsync.transport import ReusingTransport

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
API_VERSIONS = ("v3", "v4")
NOT_SERVED = (
    "this URL does not serve the EDC secrets API (the 404 is not EDC's ObjectNotFound answer); check the base URL "
    "(--url / EDC_MANAGEMENT_URL, the management API with its path, e.g. http://HOST:8181/api/management) and "
    "--api-version (v4 needs EDC 0.17+; v3 was removed after EDC 0.18)"
)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """What ``-v`` may show of one HTTP exchange: never a body, a value or the key."""

    method: str
    path: str
    status: int | None
    elapsed: float
    attempt: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    timeout: float = 30.0
    max_retries: int = 4
    parallelism: int = 10
    verify: bool | str | ssl.SSLContext = True  # a str is a CA bundle path
    backoff_base: float = 0.5


def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying TLS context trusting the CA certificates in ``ca_bundle`` (PEM).

    httpx 0.28 deprecates ``verify=<path>``; an SSLContext is the supported way,
    and building it here turns a bad bundle into a clear error before any request.
    """
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except ssl.SSLError as exc:
        reason = exc.reason or "unreadable"
        raise UsageError(
            f"--ca-bundle {printable(ca_bundle)}: not a PEM file of CA certificates ({printable(str(reason))})"
        ) from None
    except OSError as exc:
        raise UsageError(f"--ca-bundle {printable(ca_bundle)}: cannot read: {exc.strerror or exc}") from None


def secret_body(api_version: str, alias: str, value: str) -> dict[str, Any]:
    """The POST/PUT body EDC expects for ``api_version``."""
    if api_version == "v4":
        return {"@context": [V4_CONTEXT], "@type": "Secret", "@id": alias, "value": value}
    return {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": value}


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


def _redact(text: str, secret: str | None) -> str:
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
                messages.append(printable(_redact(text, secret)))
    return "; ".join(messages) if messages else f"{content_type or 'untyped'} body without an error message"


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or an HTTP date), capped."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, min(float(raw), MAX_RETRY_AFTER))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


class EdcClient:
    """Async client for ``/{v3,v4}/secrets`` with retries. Use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        api_version: str = "v3",
        options: ClientOptions = ClientOptions(),
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_event: Callable[[RequestEvent], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"unknown API version {api_version!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.options = options
        self._has_key = bool(api_key)
        self._api_key = api_key  # kept only to scrub it from transport error texts
        self._on_event = on_event
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-Api-Key"] = api_key
        limits = httpx.Limits(max_connections=options.parallelism, max_keepalive_connections=options.parallelism)
        verify = tls_context(options.verify) if isinstance(options.verify, str) else options.verify
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(options.timeout),
            limits=limits,
            verify=verify,
            transport=transport if transport is not None else _default_transport(options.parallelism, verify),
            follow_redirects=False,
        )
        self._collection = f"{self.base_url}/{api_version}/secrets"
        self._base_path = urlsplit(self.base_url).path

    async def __aenter__(self) -> EdcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def url_for(self, alias: str) -> str:
        return f"{self._collection}/{quote(alias, safe='')}"

    # -- the four operations -------------------------------------------------

    async def get(self, alias: str) -> str | None:
        """The stored value, or None when the alias does not exist."""
        url = self.url_for(alias)
        response, _ = await self._send("GET", url)
        if _edc_not_found(response):
            return None
        if response.status_code != 200:
            raise self._error("GET", url, response)
        try:
            doc = response.json()
        except (ValueError, RecursionError):
            raise ApiError(
                "GET", printable(url), 200, "the body is not JSON (a proxy page or a truncated answer?)"
            ) from None
        value = read_value(doc)
        if value is None:
            raise ApiError("GET", printable(url), 200, 'the answer has no string "value"')
        return value

    async def create(self, alias: str, value: str) -> None:
        """POST (create-only). A retried POST that meets 409 is settled by a GET."""
        body = secret_body(self.api_version, alias, value)
        response, attempts = await self._send("POST", self._collection, body, secret=value)
        if response.status_code in (200, 201, 204):
            return
        if response.status_code == 409 and attempts > 1 and await self.get(alias) == value:
            return  # our earlier attempt landed; its answer was lost
        raise self._error("POST", self._collection, response, value, alias)

    async def update(self, alias: str, value: str) -> None:
        """PUT; never creates (404 when the alias is gone)."""
        body = secret_body(self.api_version, alias, value)
        response, _ = await self._send("PUT", self._collection, body, secret=value)
        if response.status_code in (200, 204):
            return
        raise self._error("PUT", self._collection, response, value, alias)

    async def delete(self, alias: str) -> bool:
        """DELETE; False when the alias was already gone (which counts as done)."""
        url = self.url_for(alias)
        response, _ = await self._send("DELETE", url)
        if response.status_code in (200, 204):
            return True
        if _edc_not_found(response):
            return False
        raise self._error("DELETE", url, response)

    async def post_json(self, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """POST ``body`` to ``{base}/{path}`` with the same retries and request log; the caller reads the answer.

        For the management API's other resources (the assets query for references).
        """
        response, _ = await self._send("POST", f"{self.base_url}/{path.lstrip('/')}", body)
        return response

    def error_for(self, method: str, path: str, response: httpx.Response) -> ApiError:
        """The error a person can act on for an unexpected answer to ``post_json``."""
        return self._error(method, f"{self.base_url}/{path.lstrip('/')}", response)

    # -- plumbing --------------------------------------------------------------

    def _error(
        self,
        method: str,
        url: str,
        response: httpx.Response,
        secret: str | None = None,
        alias: str | None = None,
    ) -> ApiError:
        status = response.status_code
        shown = printable(url)
        if status in (401, 403):
            if not self._has_key:
                detail = "the API requires a key and none was given: set EDC_API_KEY or use --api-key-file"
            else:
                detail = "the API key was refused: check EDC_API_KEY / --api-key-file against the connector's key"
            return AuthError(method, shown, status, f"{detail} ({self._detail(response, secret)})")
        if 300 <= status < 400:
            location = _redact(printable(response.headers.get("location", "(no Location header)")), self._api_key)
            return ApiError(method, shown, status, f"redirected to {location}; use the final URL as --url")
        detail = self._detail(response, secret)
        if status == 404 and not _edc_not_found(response):
            return ApiError(method, shown, status, f"{detail}: {NOT_SERVED}")
        if status == 404:
            return NotFoundError(method, shown, status, f"no secret {printable(alias or '')!s} in the vault: {detail}")
        if status == 409:
            return AlreadyExistsError(method, shown, status, f"{printable(alias or '')} already exists: {detail}")
        if status in RETRY_STATUSES:  # only returned once the retries are used up
            tries = self.options.max_retries + 1
            detail += f"; gave up after {tries} attempt{'s' if tries > 1 else ''} (--max-retries)"
        elif status >= 500 and detail == "empty response body":
            detail = "the connector failed with an internal error (EDC answers requests it cannot handle with 500)"
        return ApiError(method, shown, status, detail)

    def _detail(self, response: httpx.Response, secret: str | None) -> str:
        # A proxy's error page may quote the request's key; EDC's may quote the value (invalidValue is dropped).
        return _redact(error_detail(response, secret), self._api_key)

    async def _send(
        self, method: str, url: str, body: dict[str, Any] | None = None, *, secret: str | None = None
    ) -> tuple[httpx.Response, int]:
        """Send with retries; returns the final response and the number of attempts made.

        Retried, up to ``max_retries`` times after the first try: connection errors, timeouts,
        answers cut off, and 429/502/503/504 (waiting as long as a ``Retry-After`` asks, else
        exponential backoff with full jitter). Not retried: TLS failures, a 500, any other status.
        """
        attempt = 0
        path = urlsplit(url).path
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = await self._http.request(method, url, json=body)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                reason = _redact(_transport_reason(exc), self._api_key)
                self._emit(method, path, None, started, attempt, reason)
                if not _transient(exc) or attempt > self.options.max_retries:
                    tried = f" (gave up after {attempt} attempts)" if attempt > 1 else ""
                    raise TransportError(f"{method} {printable(url)}: {reason}{tried}") from None
                await self._sleep(self._backoff(attempt))
                continue
            self._emit(method, path, response.status_code, started, attempt)
            if response.status_code in RETRY_STATUSES and attempt <= self.options.max_retries:
                wait = retry_after(response)  # RFC 9110: meaningful on 429 and 503; harmless elsewhere
                await self._sleep(wait if wait is not None else self._backoff(attempt))
                continue
            return response, attempt

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads the retries of many parallel requests apart.
        ceiling = min(MAX_BACKOFF, self.options.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)

    def _emit(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        attempt: int,
        error: str | None = None,
    ) -> None:
        if self._on_event is not None:
            elapsed = time.perf_counter() - started
            self._on_event(RequestEvent(method, path, status, elapsed, attempt, error))


def _edc_not_found(response: httpx.Response) -> bool:
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


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a connection failure, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(5):  # httpx -> httpcore -> ssl: a short chain
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _transient(exc: Exception) -> bool:
    """Whether trying again may help: not for TLS failures, bad URLs or requests we cannot even send."""
    if isinstance(exc, httpx.TimeoutException | httpx.RemoteProtocolError):
        return True
    if isinstance(exc, httpx.ConnectError):
        return _tls_failure(exc) is None and "SSL" not in str(exc)
    return isinstance(exc, httpx.NetworkError)


PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def _default_transport(parallelism: int, verify: bool | ssl.SSLContext) -> httpx.AsyncBaseTransport | None:
    """One keep-alive connection per request in flight, taken and given back in O(1) (see transport.py).

    httpx honours HTTP(S)_PROXY / NO_PROXY only with its own transport, so behind a proxy
    (None here) the client keeps httpx's pool: correctness over a few percent of CPU.
    """
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    return ReusingTransport(parallelism, verify)


def _transport_reason(exc: Exception) -> str:
    """What went wrong, in words a user can act on. Never the request's headers (they hold the key)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer within the timeout (--timeout)"
    if isinstance(exc, httpx.ConnectError):
        tls = _tls_failure(exc)
        text = str(exc)
        if isinstance(tls, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            why = getattr(tls, "verify_message", None) or "untrusted certificate"
            return (
                f"TLS certificate verification failed ({printable(str(why))}): use --ca-bundle PATH with the CA "
                "that signed the server's certificate, or --insecure for testing only"
            )
        if tls is not None or "SSL" in text:
            return "TLS handshake failed (does the server speak https on that port? for plain HTTP use http://)"
        return "could not connect (is the connector running and the URL right?)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection or broke the HTTP protocol"
    if isinstance(exc, httpx.NetworkError):
        return "the connection failed while talking to the server"
    if isinstance(exc, httpx.LocalProtocolError):
        # h11's text quotes the offending header value, which may be the API key.
        return "the request could not be sent (an invalid header, such as an API key with control characters)"
    return printable(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
