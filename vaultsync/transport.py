"""Keep-alive connections handed out whole: one per request in flight, O(1) to take and give back.

httpcore's connection pool re-scans every connection (polling each idle socket)
whenever a request starts or a response ends, so its cost per request grows
with ``--parallelism``: at 10 it is a fifth of a plan's CPU, at 32 it doubles
the cost of a request. Here each connection sits in its own single-connection
httpx transport on a free list. httpx still does the HTTP/1.1, TLS, timeouts,
proxies (mounted by the client) and exception mapping; this only decides which
connection a request gets.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator

import httpx


def ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    """The context httpx would build for ``verify``, made once for every connection."""
    if isinstance(verify, str):  # a CA bundle file or directory, as httpx reads it (without its deprecation)
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


class _GiveBack(httpx.AsyncByteStream):
    """A response body that returns its connection to the pool when closed (httpx closes it once read)."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: ReusingTransport, slot: httpx.AsyncHTTPTransport) -> None:
        self._stream = stream
        self._pool = pool
        self._slot: httpx.AsyncHTTPTransport | None = slot

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            slot, self._slot = self._slot, None
            if slot is not None:
                await self._pool.give_back(slot)


class ReusingTransport(httpx.AsyncBaseTransport):
    """Reuses up to ``max_idle`` keep-alive connections; opens another only when all are busy.

    The engine bounds the requests in flight, so the number of connections
    never exceeds ``--parallelism``; idle ones beyond ``max_idle`` are closed.
    """

    def __init__(
        self, max_idle: int, verify: bool | str | ssl.SSLContext = True, *, keepalive_expiry: float = 5.0
    ) -> None:
        self._idle: list[httpx.AsyncHTTPTransport] = []
        self._max_idle = max(1, max_idle)
        self._verify = verify
        self._context: ssl.SSLContext | None = None
        self._limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=keepalive_expiry)
        self._closed = False
        self.opened = 0  # slots created so far (for tests and benchmarks)

    def _take(self) -> httpx.AsyncHTTPTransport:
        if self._idle:
            return self._idle.pop()  # last in, first out: the warmest connection
        if self._context is None:
            self._context = ssl_context(self._verify)
        self.opened += 1
        return httpx.AsyncHTTPTransport(verify=self._context, limits=self._limits)

    async def give_back(self, slot: httpx.AsyncHTTPTransport) -> None:
        if self._closed or len(self._idle) >= self._max_idle:
            await slot.aclose()
        else:
            self._idle.append(slot)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        slot = self._take()
        try:
            response = await slot.handle_async_request(request)
        except BaseException:
            await self.give_back(slot)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _GiveBack(response.stream, self, slot)
        return response

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for slot in idle:
            await slot.aclose()
