"""``BodyRelay``: hand a streamed request body to a consumer task with back-pressure.

Both the TZ service (upload parts into storage) and the user-server extension (upload parts on to
the service) receive bodies with tornado's ``stream_request_body`` and must pass them on without
holding them: ``data_received`` feeds chunks here, a consumer task reads :meth:`chunks`, and a
small queue between them makes a slow consumer slow the sender rather than grow memory.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from tornado.http1connection import HTTP1Connection

RELAY_CHUNK = 1 << 20


def read_in_big_chunks(connection: Any, size: int = RELAY_CHUNK) -> None:
    """Let a streamed body arrive in chunks of up to ``size`` bytes instead of tornado's 64 KiB.

    Every chunk costs a trip through tornado, the relay queue and the next writer; on a body of
    hundreds of MB the count of chunks, not the bytes, is what costs CPU. Only this request's
    connection changes (its parameters are copied, since the server shares one object).
    """
    if not isinstance(connection, HTTP1Connection):
        return
    connection.params = copy.copy(connection.params)
    connection.params.chunk_size = size
    connection.stream.read_chunk_size = max(connection.stream.read_chunk_size, size)


class ClosesOnError:
    """Mix into a ``stream_request_body`` handler before its base class.

    An error answered before the body was read (a refused token, a bad part number) ends the
    connection: tornado closes it rather than read the body, but only decides so after it wrote
    the headers, without ``Connection: close``. A keep-alive client such as configurable-http-proxy
    then sends its next request into the closed socket and its user sees a 503. Saying
    ``Connection: close`` in every error answer of these handlers costs at most a new connection.
    """

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Connection", "close")  # type: ignore[attr-defined]
        super().write_error(status_code, **kwargs)  # type: ignore[misc]


class BodyRelay:
    """Start ``consume(relay.chunks())`` as a task; feed it with :meth:`feed`, then :meth:`end`."""

    def __init__(self, consume: Callable[[AsyncIterator[bytes]], Coroutine[Any, Any, Any]],
                 depth: int = 4) -> None:  # fmt: skip
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=depth)
        self.task = asyncio.ensure_future(consume(self.chunks()))

    async def chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk

    async def feed(self, chunk: bytes) -> None:
        """Queue one chunk; returns early (dropping it) once the consumer has finished."""
        if self.task.done():
            return  # the consumer answered already (a refusal): drain the rest
        try:
            # The common case, without the two futures below: at hundreds of MB/s a part is
            # thousands of chunks, and their per-chunk cost is what the relay spends its CPU on.
            self.queue.put_nowait(chunk)
            return
        except asyncio.QueueFull:
            pass
        put = asyncio.ensure_future(self.queue.put(chunk))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()  # the consumer answered already (a refusal): drain the rest

    async def end(self) -> Any:
        """Mark the body complete; what the consumer returns (or raises)."""
        if not self.task.done():
            await self.queue.put(None)
        return await self.task

    def abort(self) -> None:
        """The sender hung up: stop the consumer (its cleanup runs on cancellation)."""
        if not self.task.done():
            self.task.cancel()
