"""``BodyRelay``: hand a streamed request body to a consumer task with back-pressure.

Both the TZ service (upload parts into storage) and the user-server extension (upload parts on to
the service) receive bodies with tornado's ``stream_request_body`` and must pass them on without
holding them: ``data_received`` feeds chunks here, a consumer task reads :meth:`chunks`, and a
small queue between them makes a slow consumer slow the sender rather than grow memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any


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
