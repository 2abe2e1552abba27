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

from vaultsync.breaker import PROBE_CONNECT_TIMEOUT, STREAK, Breaker, connection_failure
from vaultsync.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotEdcError,
    NotFoundError,
    TransportError,
    UsageError,
)
from vaultsync.text import printable
from vaultsync.transport import LeanAsyncClient, ReusingTransport

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
API_VERSIONS = ("v3", "v4beta", "v4")  # v4beta (EDC 0.15-0.16) and v4 (0.17+): same bodies, other path
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
    if api_version != "v3":
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
    """Async client for ``/{v3,v4beta,v4}/secrets`` with retries. Use as ``async with``: with
    ``api_version="auto"`` entering it detects the version (``detect_version``)."""

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
        on_version: Callable[[str], None] | None = None,
    ) -> None:
        if api_version not in (*API_VERSIONS, "auto"):
            raise ValueError(f"unknown API version {api_version!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.options = options
        self._has_key = bool(api_key)
        self._api_key = api_key  # kept only to scrub it from transport error texts
        self._on_event = on_event
        self._on_version = on_version
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-Api-Key"] = api_key
        limits = httpx.Limits(max_connections=options.parallelism, max_keepalive_connections=options.parallelism)
        verify = tls_context(options.verify) if isinstance(options.verify, str) else options.verify
        self._http = LeanAsyncClient(
            headers=headers,
            timeout=httpx.Timeout(options.timeout),
            limits=limits,
            verify=verify,
            transport=transport if transport is not None else _default_transport(options.parallelism, verify),
            follow_redirects=False,
        )
        self._collection = f"{self.base_url}/{api_version}/secrets"
        self.breaker = Breaker(max(STREAK, options.max_retries + 1))  # shared by every worker using this client
        self._base_path = urlsplit(self.base_url).path

    async def __aenter__(self) -> EdcClient:
        if self.api_version == "auto":
            try:
                await self.detect_version()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def detect_version(self) -> str:
        """Probe v4, v3, v4beta (see versions.py) and use the first served; once, before anything else."""
        from vaultsync import versions

        answers = []
        alias = versions.probe_alias()
        for version in versions.PROBE_ORDER:
            url = f"{self.base_url}/{version}/secrets/{quote(alias, safe='')}"
            response, _ = await self._send("GET", url)
            answer = versions.classify(version, response)
            answers.append(answer)
            if answer.kind == "key-refused":
                raise self._error("GET", url, response)
            if answer.kind == "served":
                self.api_version = version
                self._collection = f"{self.base_url}/{version}/secrets"
                if self._on_version is not None:
                    self._on_version(versions.chosen_message(version, answers))
                return version
        raise versions.NotServedError(versions.not_served_message(self.base_url, answers))

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
            if _declares_json(response):  # EDC's answer cut short, most likely
                raise ApiError("GET", printable(url), 200, "the body is not JSON (a truncated answer?)") from None
            raise self._not_edc("GET", url, response, "a JSON Secret document") from None
        value = read_value(doc)
        if value is None:
            missing = 'the answer has no string "value"'
            if not _json_ld_node(doc):
                detail = f"{missing} and is not an EDC Secret document ({body_kind(response)}): {NOT_EDC}"
                raise NotEdcError("GET", printable(url), 200, detail)
            raise ApiError("GET", printable(url), 200, missing)
        return value

    async def create(self, alias: str, value: str) -> None:
        """POST (create-only). A retried POST that meets 409 is settled by a GET."""
        body = secret_body(self.api_version, alias, value)
        response, attempts = await self._send("POST", self._collection, body, secret=value)
        if response.status_code in (200, 201) and _id_response(response):
            return
        if _edc_conflict(response) and attempts > 1 and await self.get(alias) == value:
            return  # our earlier attempt landed; its answer was lost
        raise self._error("POST", self._collection, response, value, alias, expected="200 with an IdResponse")

    async def update(self, alias: str, value: str) -> None:
        """PUT; never creates (404 when the alias is gone)."""
        body = secret_body(self.api_version, alias, value)
        response, _ = await self._send("PUT", self._collection, body, secret=value)
        if _bodiless_success(response):
            return
        raise self._error("PUT", self._collection, response, value, alias, expected="204 with no body")

    async def delete(self, alias: str) -> bool:
        """DELETE; False when the alias was already gone (which counts as done)."""
        url = self.url_for(alias)
        response, _ = await self._send("DELETE", url)
        if _bodiless_success(response):
            return True
        if _edc_not_found(response):
            return False
        raise self._error("DELETE", url, response, expected="204 with no body")

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
        *,
        expected: str = "its JSON answer",
    ) -> ApiError:
        status = response.status_code
        shown = printable(url)
        if 200 <= status < 300:  # callers return on EDC's own success answers; this one is not EDC's
            return self._not_edc(method, url, response, expected)
        if status == 409 and not _edc_conflict(response):
            return self._not_edc(method, url, response, "409 with an ObjectConflict error array")
        if status == 405:  # EDC's secrets paths take all four methods: Jetty answers 405 for a path nothing serves
            return NotEdcError(method, shown, status, f"{self._detail(response, secret)}: {NOT_SERVED_405}")
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
        if (status == 404 and not _edc_not_found(response)) or status == 405:
            # A served secrets API allows every method vaultsync sends: a 405 (Jetty's answer to a POST on a
            # path nothing serves) and a 404 that is not EDC's mean a wrong base URL or API version.
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

    def _not_edc(self, method: str, url: str, response: httpx.Response, expected: str) -> NotEdcError:
        """An answer that does not have EDC's shape: say what came, what EDC sends, and what that means."""
        got = body_kind(response)
        return NotEdcError(method, printable(url), response.status_code, f"{got} where EDC sends {expected}: {NOT_EDC}")

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
            self.breaker.check(method, printable(url))
            started = time.perf_counter()
            try:
                response = await self._http.request(method, url, json=body, timeout=self._attempt_timeout())
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                reason = _redact(_transport_reason(exc), self._api_key)
                self._emit(method, path, None, started, attempt, reason)
                if _transient(exc) and connection_failure(exc):
                    self.breaker.failure(reason)
                if not _transient(exc) or attempt > self.options.max_retries or self.breaker.tripped:
                    tried = f" (gave up after {attempt} attempts)" if attempt > 1 else ""
                    if self.breaker.tripped and attempt <= self.options.max_retries:
                        tried = f" (not retried: {self.breaker.describe()})"
                    raise TransportError(f"{method} {printable(url)}: {reason}{tried}") from None
                await self._sleep(self._backoff(attempt))
                continue
            self.breaker.success()
            self._emit(method, path, response.status_code, started, attempt)
            if response.status_code in RETRY_STATUSES and attempt <= self.options.max_retries:
                wait = retry_after(response)  # RFC 9110: meaningful on 429 and 503; harmless elsewhere
                await self._sleep(wait if wait is not None else self._backoff(attempt))
                continue
            return response, attempt

    def _attempt_timeout(self) -> httpx.Timeout:
        """A short connect timeout while finding out whether a connector that stopped answering is back."""
        if self.breaker.probing:
            return httpx.Timeout(self.options.timeout, connect=min(PROBE_CONNECT_TIMEOUT, self.options.timeout))
        return self._http.timeout

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


def _json_body(response: httpx.Response) -> tuple[bool, object]:
    try:
        doc: object = response.json()
    except (ValueError, RecursionError):
        return False, None
    return True, doc


def _edc_conflict(response: httpx.Response) -> bool:
    """EDC's "already exists": a 409 whose body is a JSON array holding an ObjectConflict error."""
    if response.status_code != 409:
        return False
    ok, doc = _json_body(response)
    return ok and isinstance(doc, list) and any(isinstance(i, dict) and i.get("type") == "ObjectConflict" for i in doc)


def _json_ld_node(doc: object) -> bool:
    """Whether ``doc`` is a JSON-LD node as EDC answers with (compacted, or expanded into a one-item list)."""
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    return isinstance(doc, dict) and isinstance(doc.get("@id"), str)


def _id_response(response: httpx.Response) -> bool:
    """EDC's answer to a create: an IdResponse, a JSON-LD node naming the created ``@id``."""
    ok, doc = _json_body(response)
    return ok and _json_ld_node(doc)


def _declares_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _bodiless_success(response: httpx.Response) -> bool:
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
