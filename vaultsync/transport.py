"""Keep-alive HTTP/1.1 connections for httpx: h11 over asyncio streams, one connection per request in flight.

Profiling a 10,000-alias plan put two thirds of the client's CPU below httpx's
client layer: httpcore's pool (re-scanning its connections, polling each idle
socket, at every request start and response end), its per-connection state
machine, and anyio's cancel scopes around every read and write (plus sniffio
and current_task look-ups). None of it is needed here: the engine bounds the
requests in flight, every body is small and read whole, and the event loop is
always asyncio. So each connection is an asyncio stream pair with an h11
state machine (the HTTP/1.1 parser httpcore itself uses), kept on a free list
and taken and given back in O(1).

httpx still builds requests and responses, decodes bodies, mounts proxies
(a client behind HTTP(S)_PROXY keeps httpx's own transport) and defines the
exceptions: failures here are raised as the httpx exceptions httpcore would
have led to, with the OS or TLS error as their cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import ssl
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import h11
import httpx

from vaultsync.errors import UsageError
from vaultsync.text import printable

T = TypeVar("T")
READ_SIZE = 64 * 1024
MAX_HEAD = 100 * 1024  # the largest response head accepted (httpcore's limit too)


def ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    """The context httpx would build for ``verify``, made once for every connection."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, str):  # a CA bundle file or directory, as httpx reads it (without its deprecation)
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=verify)


async def _within(seconds: float | None, work: Awaitable[T]) -> T:
    if seconds is None:
        return await work
    async with asyncio.timeout(seconds):
        return await work


class _Connection:
    """One TCP (or TLS) connection to one origin and its HTTP/1.1 state."""

    __slots__ = ("h11", "idle_since", "origin", "reader", "writer")

    def __init__(self, origin: tuple[bytes, bytes, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0

    def usable(self, expiry: float) -> bool:
        """Whether an idle connection can carry another request: not too old, not closed by the server."""
        if time.monotonic() - self.idle_since > expiry or self.reader.at_eof() or self.writer.is_closing():
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        try:  # an idle socket with something to read has been closed (or broken) by the server
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        self.writer.close()  # no wait for the close handshake: nothing more is read from it


class ReusingTransport(httpx.AsyncBaseTransport):
    """Reuses up to ``max_idle`` keep-alive connections; opens another only when all are busy.

    The engine bounds the requests in flight, so the number of connections
    never exceeds ``--parallelism``; idle ones beyond ``max_idle`` are closed.
    """

    def __init__(
        self, max_idle: int, verify: bool | str | ssl.SSLContext = True, *, keepalive_expiry: float = 5.0
    ) -> None:
        self._idle: list[_Connection] = []
        self._max_idle = max(1, max_idle)
        self._verify = verify
        self._context: ssl.SSLContext | None = None
        self._expiry = keepalive_expiry
        self._closed = False
        self.opened = 0  # connections opened so far (for tests and benchmarks)

    def _take(self, origin: tuple[bytes, bytes, int]) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # last in, first out: the warmest connection
            if connection.origin == origin and connection.usable(self._expiry):
                return connection
            connection.close()
        return None

    async def _connect(
        self, request: httpx.Request, origin: tuple[bytes, bytes, int], timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == b"https":
            if self._context is None:
                self._context = ssl_context(self._verify)
            context = self._context
        hostname = host.decode("ascii")
        try:
            reader, writer = await _within(
                timeout,
                asyncio.open_connection(
                    hostname, port, ssl=context, server_hostname=hostname if context else None, limit=MAX_HEAD
                ),
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("connection timed out", request=request) from exc
        except OSError as exc:  # ssl.SSLError is an OSError: its text and the cause say it was TLS
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        self.opened += 1
        return _Connection(origin, reader, writer)

    def _give_back(self, connection: _Connection) -> None:
        state = connection.h11
        if self._closed or len(self._idle) >= self._max_idle or state.our_state is not h11.DONE:
            connection.close()
            return
        if state.their_state is not h11.DONE:
            connection.close()
            return
        state.start_next_cycle()
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.raw_scheme == b"https" else 80))
        connection = self._take(origin)
        if connection is None:
            connection = await self._connect(request, origin, timeouts.get("connect"))
        try:
            response = await self._exchange(connection, request, timeouts)
        except BaseException:
            connection.close()
            raise
        self._give_back(connection)
        return response

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        body = await request.aread()
        try:
            data = (
                connection.h11.send(
                    h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
                )
                or b""
            )
            if body:
                data += connection.h11.send(h11.Data(data=body)) or b""
            data += connection.h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            connection.writer.write(data)
            if connection.writer.transport.get_write_buffer_size():  # the socket took it all: nothing to wait for
                await _within(timeouts.get("write"), connection.writer.drain())
        except TimeoutError as exc:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc

        read_timeout = timeouts.get("read")
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            try:
                event = connection.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            if event is h11.NEED_DATA:
                try:
                    received = await _within(read_timeout, connection.reader.read(READ_SIZE))
                except TimeoutError as exc:
                    raise httpx.ReadTimeout("timed out reading the response", request=request) from exc
                except OSError as exc:
                    raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
                try:
                    connection.h11.receive_data(received)  # b"": the server closed the connection
                except h11.RemoteProtocolError as exc:
                    raise httpx.RemoteProtocolError(str(exc), request=request) from exc
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            # h11.InformationalResponse (1xx): nothing to keep; the final answer follows
        assert response is not None
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw_items(),
            stream=httpx.ByteStream(b"".join(chunks)),
            extensions={"http_version": b"HTTP/" + response.http_version, "reason_phrase": response.reason},
            request=request,
        )

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:  # a TLS close_notify needs the loop; never wait long for a peer
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.writer.wait_closed(), 1.0)


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, minus its work on answers that set no cookie (each costs a urllib Request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class LeanAsyncClient(httpx.AsyncClient):
    """An httpx.AsyncClient whose cookie handling costs nothing while the server sets none.

    Reading cookies from every answer was a sixth of a plan's CPU once the transport was lean;
    cookies a server does set are kept and sent back as before.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jar = _Cookies(kwargs.get("cookies"))

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: httpx._types.CookieTypes) -> None:
        self._jar = _Cookies(cookies)


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


PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def default_transport(parallelism: int, verify: bool | ssl.SSLContext) -> httpx.AsyncBaseTransport | None:
    """One keep-alive connection per request in flight, taken and given back in O(1) (``ReusingTransport``).

    httpx honours HTTP(S)_PROXY / NO_PROXY only with its own transport, so behind a proxy
    (None here) the client keeps httpx's pool: correctness over a few percent of CPU.
    """
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None
    return ReusingTransport(parallelism, verify)
