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
import random
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
)
from vaultsync.text import printable

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0
API_VERSIONS = ("v3", "v4")


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
    verify: bool | str = True
    backoff_base: float = 0.5


def secret_body(api_version: str, alias: str, value: str) -> dict[str, Any]:
    """The POST/PUT body EDC expects for ``api_version``."""
    if api_version == "v4":
        return {"@context": [V4_CONTEXT], "@type": "Secret", "@id": alias, "value": value}
    return {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": value}


def read_value(doc: Any) -> str | None:
    """The secret value from a GET body, whichever JSON-LD form EDC used."""
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
    except ValueError:
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
        self._on_event = on_event
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-Api-Key"] = api_key
        limits = httpx.Limits(max_connections=options.parallelism, max_keepalive_connections=options.parallelism)
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(options.timeout),
            limits=limits,
            verify=options.verify,
            transport=transport,
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
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._error("GET", url, response)
        try:
            doc = response.json()
        except ValueError:
            raise ApiError("GET", url, 200, "the body is not JSON (a proxy page or a truncated answer?)") from None
        value = read_value(doc)
        if value is None:
            raise ApiError("GET", url, 200, 'the answer has no string "value"')
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
        if response.status_code == 404:
            return False
        raise self._error("DELETE", url, response)

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
            return AuthError(method, shown, status, f"{detail} ({error_detail(response)})")
        if 300 <= status < 400:
            location = printable(response.headers.get("location", "(no Location header)"))
            return ApiError(method, shown, status, f"redirected to {location}; use the final URL as --url")
        detail = error_detail(response, secret)
        if status == 404:
            return NotFoundError(method, shown, status, f"no secret {printable(alias or '')!s} in the vault: {detail}")
        if status == 409:
            return AlreadyExistsError(method, shown, status, f"{printable(alias or '')} already exists: {detail}")
        if status >= 500 and detail == "empty response body":
            detail = "the connector failed with an internal error (EDC answers requests it cannot handle with 500)"
        return ApiError(method, shown, status, detail)

    async def _send(
        self, method: str, url: str, body: dict[str, Any] | None = None, *, secret: str | None = None
    ) -> tuple[httpx.Response, int]:
        """Send with retries; returns the final response and the number of attempts made."""
        attempt = 0
        path = urlsplit(url).path
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = await self._http.request(method, url, json=body)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = _transport_reason(exc)
                self._emit(method, path, None, started, attempt, reason)
                if attempt > self.options.max_retries:
                    raise TransportError(
                        f"{method} {printable(url)}: {reason} (gave up after {attempt} attempts)"
                    ) from None
                await self._sleep(self._backoff(attempt))
                continue
            except httpx.HTTPError as exc:
                raise TransportError(f"{method} {printable(url)}: {_transport_reason(exc)}") from None
            self._emit(method, path, response.status_code, started, attempt)
            if response.status_code in RETRY_STATUSES and attempt <= self.options.max_retries:
                wait = retry_after(response) if response.status_code == 429 else None
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


def _transport_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer within the timeout (--timeout)"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            return "TLS certificate verification failed (use --ca-bundle PATH, or --insecure for testing)"
        return "could not connect (is the connector running and the URL right?)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection or broke the HTTP protocol"
    return printable(type(exc).__name__ + (f": {exc}" if str(exc) else ""))
