"""The h11-over-asyncio transport and the lean client against real sockets speaking odd but legal HTTP.

Each test runs a tiny asyncio server on loopback that answers with exactly the bytes a test needs
(chunked bodies, Connection: close, a keep-alive connection closed while idle, silence, garbage),
and checks what vaultsync's client makes of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.errors import TransportError
from vaultsync.transport import LeanAsyncClient, ReusingTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
NO_RETRIES = ClientOptions(max_retries=0)
BODY = b'{"@id":"a","@type":"Secret","value":"x"}'


def ok(body: bytes = BODY, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")  # GETs only: no body


async def with_server(handler: Handler, work: Callable[[str], Awaitable[object]]) -> tuple[object, int]:
    """Run ``work(base_url)`` against a server whose n-th connection is served by ``handler(.., n)``."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await handler(reader, writer, connections)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await work(f"http://127.0.0.1:{port}/api/management")
    finally:
        server.close()
    return result, connections


def gets(count: int, options: ClientOptions = NO_RETRIES) -> Callable[[str], Awaitable[object]]:
    async def work(url: str) -> list[str | None]:
        async with EdcClient(url, None, options=options) as client:
            return [await client.get("a") for _ in range(count)]

    return work


def test_keep_alive_answers_share_one_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        while True:
            await read_request(reader)
            writer.write(ok())

    values, connections = asyncio.run(with_server(handler, gets(5)))
    assert values == ["x"] * 5
    assert connections == 1


def test_chunked_bodies_and_connection_close_are_honoured() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        await read_request(reader)
        half = len(BODY) // 2
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, BODY[:half], len(BODY) - half, BODY[half:])
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
        await writer.drain()

    values, connections = asyncio.run(with_server(handler, gets(3)))
    assert values == ["x"] * 3
    assert connections == 3  # the server said close: every request on a new connection, none failed


def test_a_keep_alive_connection_closed_while_idle_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        await read_request(reader)
        writer.write(ok())  # keep-alive promised, then the server goes away (as an idle timeout does)
        await writer.drain()

    async def work(url: str) -> list[str | None]:
        async with EdcClient(url, None, options=ClientOptions(max_retries=0)) as client:
            first = await client.get("a")
            await asyncio.sleep(0.1)  # the close reaches us while the connection is idle
            return [first, await client.get("a")]

    values, connections = asyncio.run(with_server(handler, work))
    assert values == ["x", "x"]  # no retry allowed: the transport itself saw the dead connection
    assert connections == 2


def test_silence_is_a_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter, _n: int) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    with pytest.raises(TransportError, match="no answer within the timeout"):
        asyncio.run(with_server(handler, gets(1, ClientOptions(timeout=0.2, max_retries=0))))


@pytest.mark.parametrize(
    "answer",
    [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"cut", b""],
    ids=["garbage", "cut-off-body", "closed-without-answer"],
)
def test_a_broken_answer_is_a_protocol_error(answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()

    with pytest.raises(TransportError, match="closed the connection or broke the HTTP protocol"):
        asyncio.run(with_server(handler, gets(1)))


def test_a_refused_connection_says_so() -> None:
    async def work() -> None:
        async with EdcClient("http://127.0.0.1:9/api/management", None, options=ClientOptions(max_retries=0)) as c:
            await c.get("a")

    with pytest.raises(TransportError, match="could not connect"):
        asyncio.run(work())


def test_idle_connections_beyond_the_limit_are_closed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.05)  # all four requests are in flight at once
            writer.write(ok())

    async def work(url: str) -> ReusingTransport:
        transport = ReusingTransport(2)
        async with EdcClient(url, None, transport=transport) as client:
            await asyncio.gather(*(client.get("a") for _ in range(4)))
            assert len(transport._idle) == 2
        assert transport._idle == []
        return transport

    transport, connections = asyncio.run(with_server(handler, work))
    assert isinstance(transport, ReusingTransport)
    assert transport.opened == connections == 4


def test_cookies_a_server_sets_are_still_sent_back() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "route=b; Path=/"}, json={"value": "x"})

    async def run() -> None:
        async with LeanAsyncClient(transport=httpx.MockTransport(answer)) as client:
            await client.get("http://edc.test/api/management/v3/secrets/a")
            await client.get("http://edc.test/api/management/v3/secrets/a")
            assert client.cookies.get("route") == "b"

    asyncio.run(run())
    assert seen == [None, "route=b"]
