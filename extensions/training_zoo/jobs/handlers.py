"""REST handlers of the jobs domain (thin: parse, call :class:`TzJobManager`, answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..errors import InvalidRequest
from ..service.base import TzAPIHandler
from .manager import TzJobManager
from .types import FINISHED

READ, WRITE = "custom:tz:jobs:read", "custom:tz:jobs:write"
JOB_ID = r"(?P<job_id>[A-Za-z0-9][A-Za-z0-9._-]{0,79})"


class JobsBase(TzAPIHandler):
    @property
    def jobs(self) -> TzJobManager:
        return self.settings["tz_jobs"]


class SnapshotHandler(JobsBase):
    required_scopes = {"POST": WRITE}

    async def post(self) -> None:
        """Store a working-directory snapshot (raw gzipped tar body); 201 ``{id, size, files}``."""
        kind = (self.request.headers.get("Content-Type") or "").split(";")[0].strip()
        if kind not in ("application/gzip", "application/x-gzip", "application/octet-stream"):
            raise InvalidRequest.field("Content-Type", "must be application/gzip (a .tar.gz)")
        result = await self.jobs.save_snapshot(self.identity, self.request.body)
        self.write_json(result, 201)


class JobListHandler(JobsBase):
    required_scopes = {"GET": READ, "POST": WRITE}

    async def get(self) -> None:
        """List the caller's jobs (``?all=true`` for admins), newest first, paginated."""
        offset, limit = self.pagination()
        raw = self.get_query_argument("status", "")
        status = [s for s in raw.split(",") if s] or None
        items, total = await self.jobs.list(
            self.identity, status=status, all_users=self.bool_argument("all"),
            offset=offset, limit=limit,
        )  # fmt: skip
        self.write_page(items, total, offset, limit)

    async def post(self) -> None:
        """Submit a job (JobSpec body); 201 with the job and its ``Location``."""
        job = await self.jobs.submit(self.identity, self.get_json_body())
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{job['id']}")
        self.write_json(job, 201)


class JobHandler(JobsBase):
    required_scopes = {"GET": READ, "DELETE": WRITE}

    async def get(self, job_id: str) -> None:
        self.write_json(await self.jobs.get(self.identity, job_id))

    async def delete(self, job_id: str) -> None:
        """Delete a finished job's record, logs and output."""
        await self.jobs.delete(self.identity, job_id)
        self.set_status(204)
        self.finish()


class JobActionHandler(JobsBase):
    required_scopes = {"POST": WRITE}

    async def post(self, job_id: str, action: str) -> None:
        """``cancel`` (202) or ``clone`` (201, optional body of fields to override)."""
        if action == "cancel":
            self.write_json(await self.jobs.cancel(self.identity, job_id), 202)
        else:
            overrides = self.get_json_body(required=False)
            job = await self.jobs.clone(self.identity, job_id, overrides)
            self.set_header("Location", self.request.path.rsplit("/", 2)[0] + "/" + job["id"])
            self.write_json(job, 201)


class JobEventsHandler(JobsBase):
    required_scopes = {"GET": READ}

    async def get(self, job_id: str) -> None:
        self.write_json({"items": await self.jobs.events(self.identity, job_id)})


def wants_stream(handler: TzAPIHandler) -> bool:
    accept = handler.request.headers.get("Accept", "")
    return handler.bool_argument("follow") or "text/event-stream" in accept


class JobLogsHandler(JobsBase):
    required_scopes = {"GET": READ}

    async def get(self, job_id: str) -> None:
        """Per-rank logs: JSON, or a live SSE stream with ``?follow=true``."""
        rank = self.int_argument("rank", None, 0, 1_000_000)
        tail = self.int_argument("tail", None, 1, 1_000_000)
        follow = wants_stream(self)
        lines = self.jobs.logs(self.identity, job_id, rank=rank, follow=follow, tail=tail)
        if not follow:
            items = [{"rank": r, "line": line} async for r, line in lines]
            ranks = await self.jobs.log_ranks(self.identity, job_id)
            self.write_json({"items": items, "ranks": ranks})
            return
        await self.jobs.get(self.identity, job_id)  # 404 before the stream starts
        self.start_sse()

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for r, line in lines:
                yield {"rank": r, "line": line}

        await self.stream_sse(messages())
        status = await self.jobs.status(self.identity, job_id)
        await self.send_end(status)

    async def send_end(self, status: str) -> None:
        try:
            await self.send_sse({"status": status}, event="end")
        except Exception:  # noqa: BLE001 - client already gone
            return


class JobMetricsHandler(JobLogsHandler):
    async def get(self, job_id: str) -> None:
        """Metric points: JSON ``{items, cursor}``, or SSE with ``?follow=true``."""
        cursor = self.get_query_argument("since", None)
        if not wants_stream(self):
            items, cursor = await self.jobs.metrics(self.identity, job_id, cursor)
            self.write_json({"items": items, "cursor": cursor})
            return
        await self.jobs.get(self.identity, job_id)
        self.start_sse()
        user, jobs = self.identity, self.jobs

        async def points() -> AsyncIterator[dict[str, Any]]:
            nonlocal cursor
            while True:
                finished = await jobs.status(user, job_id) in FINISHED
                items, cursor = await jobs.metrics(user, job_id, cursor)
                for item in items:
                    yield item
                if finished:
                    return
                if not items:
                    await jobs.wait_for_change(0.5)

        await self.stream_sse(points())
        await self.send_end(await self.jobs.status(self.identity, job_id))


class QueueHandler(JobsBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """Capacity, counts, and the caller's queued and running jobs (admins: everyone's)."""
        self.write_json(self.jobs.queue_summary(self.identity))


def routes(api: str) -> list[tuple[str, type]]:
    return [
        (rf"{api}/snapshots", SnapshotHandler),
        (rf"{api}/jobs", JobListHandler),
        (rf"{api}/jobs/{JOB_ID}", JobHandler),
        (rf"{api}/jobs/{JOB_ID}/(?P<action>cancel|clone)", JobActionHandler),
        (rf"{api}/jobs/{JOB_ID}/events", JobEventsHandler),
        (rf"{api}/jobs/{JOB_ID}/logs", JobLogsHandler),
        (rf"{api}/jobs/{JOB_ID}/metrics", JobMetricsHandler),
        (rf"{api}/queue", QueueHandler),
    ]
