"""The one module that talks HTTP to an EDC management API's secrets endpoints.

``EdcClient`` sends each request, retries what is safe to retry, and carries out the four
secret operations. What it sends is built in bodies.py; how it reads each answer (EDC's shape
or not, the error a person can act on, values and keys scrubbed) is responses.py; which
failures are worth another try is retries.py; the connections themselves are transport.py.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from vaultsync.bodies import API_VERSIONS, secret_body
from vaultsync.breaker import PROBE_CONNECT_TIMEOUT, STREAK, Breaker, connection_failure
from vaultsync.errors import ApiError, NotEdcError, TransportError
from vaultsync.responses import (
    NOT_EDC,
    bodiless_success,
    body_kind,
    declares_json,
    edc_conflict,
    edc_not_found,
    id_response,
    json_ld_node,
    not_edc,
    read_value,
    redact,
    status_error,
)
from vaultsync.retries import MAX_BACKOFF, RETRY_STATUSES, retry_after, transient, transport_reason
from vaultsync.text import printable
from vaultsync.transport import LeanAsyncClient, default_transport, tls_context


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
            transport=transport if transport is not None else default_transport(options.parallelism, verify),
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
        if edc_not_found(response):
            return None
        if response.status_code != 200:
            raise self._error("GET", url, response)
        try:
            doc = response.json()
        except (ValueError, RecursionError):
            if declares_json(response):  # EDC's answer cut short, most likely
                raise ApiError("GET", printable(url), 200, "the body is not JSON (a truncated answer?)") from None
            raise not_edc("GET", url, response, "a JSON Secret document") from None
        value = read_value(doc)
        if value is None:
            missing = 'the answer has no string "value"'
            if not json_ld_node(doc):
                detail = f"{missing} and is not an EDC Secret document ({body_kind(response)}): {NOT_EDC}"
                raise NotEdcError("GET", printable(url), 200, detail)
            raise ApiError("GET", printable(url), 200, missing)
        return value

    async def create(self, alias: str, value: str) -> None:
        """POST (create-only). A retried POST that meets 409 is settled by a GET."""
        body = secret_body(self.api_version, alias, value)
        response, attempts = await self._send("POST", self._collection, body, secret=value)
        if response.status_code in (200, 201) and id_response(response):
            return
        if edc_conflict(response) and attempts > 1 and await self.get(alias) == value:
            return  # our earlier attempt landed; its answer was lost
        raise self._error("POST", self._collection, response, value, alias, expected="200 with an IdResponse")

    async def update(self, alias: str, value: str) -> None:
        """PUT; never creates (404 when the alias is gone)."""
        body = secret_body(self.api_version, alias, value)
        response, _ = await self._send("PUT", self._collection, body, secret=value)
        if bodiless_success(response):
            return
        raise self._error("PUT", self._collection, response, value, alias, expected="204 with no body")

    async def delete(self, alias: str) -> bool:
        """DELETE; False when the alias was already gone (which counts as done)."""
        url = self.url_for(alias)
        response, _ = await self._send("DELETE", url)
        if bodiless_success(response):
            return True
        if edc_not_found(response):
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
        return status_error(
            method,
            url,
            response,
            secret,
            alias,
            api_key=self._api_key,
            max_retries=self.options.max_retries,
            expected=expected,
        )

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
                reason = redact(transport_reason(exc), self._api_key)
                self._emit(method, path, None, started, attempt, reason)
                if transient(exc) and connection_failure(exc):
                    self.breaker.failure(reason)
                if not transient(exc) or attempt > self.options.max_retries or self.breaker.tripped:
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
