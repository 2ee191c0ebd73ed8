"""``BodyRelay`` and ``read_in_big_chunks``: how a streamed upload body is handed on."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from tornado import web
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from training_zoo.bodystream import RELAY_CHUNK, BodyRelay, ClosesOnError, read_in_big_chunks


async def test_chunks_reach_the_consumer_in_order() -> None:
    async def consume(chunks):
        return [c async for c in chunks]

    relay = BodyRelay(consume)
    sent = [bytes([i]) * (i + 1) for i in range(50)]
    for chunk in sent:
        await relay.feed(chunk)
    assert await relay.end() == sent


async def test_a_slow_consumer_holds_the_sender_back() -> None:
    gate = asyncio.Event()

    async def consume(chunks):
        await gate.wait()
        return sum([len(c) async for c in chunks])

    relay = BodyRelay(consume, depth=2)
    await relay.feed(b"a")
    await relay.feed(b"b")
    third = asyncio.ensure_future(relay.feed(b"c"))
    await asyncio.sleep(0.05)
    assert not third.done()  # the queue is full: the sender waits, memory does not grow
    gate.set()
    await third
    assert await relay.end() == 3


async def test_a_refusal_ends_the_body_and_is_what_end_reports() -> None:
    async def consume(chunks):
        async for _ in chunks:
            raise ValueError("part too big")

    relay = BodyRelay(consume, depth=1)
    for _ in range(20):  # the rest of the body is drained, not queued
        await asyncio.wait_for(relay.feed(b"x" * 10), timeout=1)
    with pytest.raises(ValueError, match="part too big"):
        await relay.end()


def test_big_chunks_change_only_this_request() -> None:
    shared = HTTP1ConnectionParameters(chunk_size=65536)
    stream = SimpleNamespace(read_chunk_size=65536)
    conn = HTTP1Connection.__new__(HTTP1Connection)
    conn.params, conn.stream = shared, stream
    read_in_big_chunks(conn)
    assert conn.params.chunk_size == RELAY_CHUNK and stream.read_chunk_size == RELAY_CHUNK
    assert shared.chunk_size == 65536  # the server's other connections keep theirs
    read_in_big_chunks(object())  # anything but an HTTP/1 connection is left alone


@web.stream_request_body
class RefusingPartHandler(ClosesOnError, web.RequestHandler):
    async def prepare(self) -> None:
        raise web.HTTPError(403, "no token")

    def data_received(self, chunk: bytes) -> None:
        pass

    def put(self) -> None:
        self.finish("kept")


async def test_an_error_before_the_body_is_read_says_the_connection_closes() -> None:
    """Tornado hangs up rather than read the body a refusal left unread; a keep-alive proxy must
    be told, or its next request on that connection fails (a 503 for the user)."""
    sock, port = bind_unused_port()
    server = HTTPServer(web.Application([(r"/part", RefusingPartHandler)]))
    server.add_sockets([sock])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PUT /part HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        writer.write(b"x" * 1000)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        writer.close()
    finally:
        server.stop()
    assert head.startswith("http/1.1 403")
    assert "\r\nconnection: close\r\n" in head
