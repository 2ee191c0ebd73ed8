"""An in-memory TZ REST API v1 behind ``httpx.MockTransport``, for SDK, CLI and magics tests.

Exports
-------
FakeTzApi
    The fake service. ``fake.client()`` returns a ``training_zoo.client.Client`` wired to it.
API_URL, TOKEN
    The base URL and token the fake accepts by default.

It follows ``docs/api-contract.md``: JSON error bodies ``{"message", "reason", "errors"}``,
pagination with ``_pagination.next``, SSE for ``follow=true`` logs and metrics (with keepalive
comments and a final ``event: end``), 409 for deleting unfinished jobs, 400 naming unknown
JobSpec fields. Jobs move through their lifecycle by themselves, one step per ``GET /jobs/{id}``
and while a log or metrics stream is followed (``queued → running → outcome``), so waiting code
finishes without sleeps. ``outcome = "running"`` keeps jobs running until cancelled, and
``outcome = "cancelled"`` has them cancelled by someone else while they run.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx

from training_zoo.client import Client
from training_zoo.snapshot import validate_archive

API_URL = "http://hub.test/services/tz/api/v1"
TOKEN = "tz-test-token"

_TERMINAL = {"succeeded", "failed", "cancelled"}
_SPEC_FIELDS = {
    "name",
    "framework",
    "entry",
    "code",
    "command",
    "args",
    "snapshot",
    "env",
    "nodes",
    "procs_per_node",
    "resources_per_node",
    "max_retries",
    "timeout",
    "priority",
    "image",
    "datasets",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, message: str, reason: str, errors: dict | None = None) -> httpx.Response:
    body: dict[str, Any] = {"message": message, "reason": reason}
    if errors:
        body["errors"] = errors
    return httpx.Response(status, json=body)


class _HttpError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


class _ClosableStream(httpx.SyncByteStream):
    """Response body of an SSE stream; ``close()`` (the client hanging up) ends its generator."""

    def __init__(self, make_chunks: Callable[[threading.Event], Iterator[bytes]]) -> None:
        self.closed = threading.Event()
        self._chunks = make_chunks(self.closed)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self.closed.is_set():
                return
            yield chunk

    def close(self) -> None:
        self.closed.set()


@dataclass
class _Record:
    job: dict[str, Any]
    logs: list[tuple[int, str]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class FakeTzApi:
    """In-memory TZ service.

    Parameters
    ----------
    token : str
        The only token accepted (others get 403).
    user : str
        Name of the caller; jobs are owned by this user.
    admin : bool
        Whether ``all=true`` listings are allowed.
    outcome : {"succeeded", "failed", "cancelled", "running"}
        How running jobs end; ``running`` means never by themselves.
    page_limit : int
        Default page size, small in tests that check pagination.
    max_snapshot_bytes : int
        Upload limit, answered with 413.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        user: str = "alice",
        admin: bool = False,
        outcome: str = "succeeded",
        page_limit: int = 50,
        max_snapshot_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.token = token
        self.user = user
        self.admin = admin
        self.outcome = outcome
        self.page_limit = page_limit
        self.max_snapshot_bytes = max_snapshot_bytes
        self.snapshots: dict[str, list[str]] = {}
        self.snapshot_bodies: dict[str, bytes] = {}
        self.jobs: dict[str, _Record] = {}
        self.requests: list[httpx.Request] = []
        self.streams: list[_ClosableStream] = []
        self.closed = threading.Event()
        self._lock = threading.RLock()
        self._counter = 0
        self._next_failure: httpx.Response | None = None
        self.transport = httpx.MockTransport(self.handle)

    # -- test controls ---------------------------------------------------------------------

    def client(self, **kwargs: Any) -> Client:
        """A real ``Client`` talking to this fake."""
        return Client(API_URL, self.token, transport=self.transport, **kwargs)

    def fail_next(self, response: httpx.Response) -> None:
        """Answer the next request with ``response`` (e.g. a proxy's HTML 502 page)."""
        self._next_failure = response

    def close(self) -> None:
        """End every open stream (call at teardown so no thread is left polling)."""
        self.closed.set()

    def add_job(self, name: str = "job", *, owner: str | None = None, status: str = "queued"):
        """Insert a job directly, bypassing POST /jobs; returns the Job dict."""
        spec = {"name": name, "framework": "pytorch", "entry": "train.py", "args": []}
        with self._lock:
            job = self._create(spec, owner=owner or self.user)
            job["status"] = status
            return dict(job)

    def advance(self, job_id: str) -> None:
        """Move a job one lifecycle step, emitting logs, metrics and events like a real run."""
        with self._lock:
            rec = self.jobs[job_id]
            job = rec.job
            ranks = range(job["world_size"])
            if job["status"] in ("pending", "queued"):
                job.update(status="running", started=_now(), queue_position=None)
                self._event(rec, "Normal", "Started", f"started {job['world_size']} rank(s)")
                for r in ranks:
                    rec.logs.append((r, f"rank {r}: starting {job['spec'].get('entry', 'cell')}"))
                self._metric(rec, step=1, loss=2.0, acc=0.1)
            elif job["status"] == "running" and self.outcome == "cancelled":
                # Someone else (the Lab panel, an admin) cancels the job while it runs.
                job.update(status="cancelled", reason="Cancelled", finished=_now())
                self._event(rec, "Normal", "Cancelled", "cancelled by admin")
            elif job["status"] == "running" and self.outcome in ("succeeded", "failed"):
                self._metric(rec, step=2, loss=1.0, acc=0.5)
                self._metric(rec, step=3, loss=0.5, acc=0.8)
                for r in ranks:
                    rec.logs.append((r, f"rank {r}: epoch 1 done"))
                if self.outcome == "succeeded":
                    job.update(reason="Succeeded", exit_code=0, message=None)
                    self._event(rec, "Normal", "Succeeded", "all ranks exited with code 0")
                else:
                    rec.logs.append((0, "Traceback (most recent call last):"))
                    rec.logs.append((0, "RuntimeError: CUDA out of memory"))
                    job.update(
                        reason="RankFailed", exit_code=1, message="rank 0 exited with code 1"
                    )
                    self._event(rec, "Warning", "Failed", "rank 0 exited with code 1")
                job.update(status=self.outcome, finished=_now())

    # -- state helpers ---------------------------------------------------------------------

    def _event(self, rec: _Record, type_: str, reason: str, message: str) -> None:
        rec.events.append(
            {"time": _now(), "type": type_, "reason": reason, "message": message, "attempt": 1}
        )

    def _metric(self, rec: _Record, step: int, **values: float) -> None:
        # Like the service: every rank logs, and seq counts per rank.
        for rank in range(rec.job["world_size"]):
            seq = sum(1 for m in rec.metrics if m["rank"] == rank)
            scaled = {k: v * (1 + rank) for k, v in values.items()}
            rec.metrics.append(
                {"seq": seq, "rank": rank, "step": step, "time": _now(), "values": scaled}
            )

    def _create(self, spec: dict[str, Any], owner: str, cloned_from: str | None = None) -> dict:
        self._counter += 1
        job_id = f"{spec['name']}-{self._counter:08x}"
        world = int(spec.get("nodes", 1)) * int(spec.get("procs_per_node", 1))
        job = {
            "id": job_id,
            "name": spec["name"],
            "owner": owner,
            "framework": spec.get("framework", "pytorch"),
            "status": "queued",
            "reason": None,
            "message": None,
            "spec": spec,
            "attempt": 1,
            "queue_position": 1,
            "world_size": world,
            "created": _now(),
            "started": None,
            "finished": None,
            "exit_code": None,
            "output_dir": f"jobs/{owner}/{job_id}/output",
            "cloned_from": cloned_from,
        }
        rec = _Record(job)
        self._event(rec, "Normal", "Queued", "waiting for resources")
        self.jobs[job_id] = rec
        return job

    def _record(self, job_id: str) -> _Record:
        rec = self.jobs.get(job_id)
        if rec is None or (rec.job["owner"] != self.user and not self.admin):
            # Other users' jobs answer 404, like JupyterHub's filtered scopes.
            raise _HttpError(_error(404, f"job {job_id} not found", "NotFound"))
        return rec

    def _validate_spec(self, body: Any, *, partial: bool = False) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _HttpError(_error(400, "request body must be a JSON object", "InvalidRequest"))
        unknown = sorted(set(body) - _SPEC_FIELDS)
        if unknown:
            raise _HttpError(
                _error(
                    400,
                    f"unknown field {unknown[0]!r} in job spec",
                    "InvalidRequest",
                    {name: "unknown field" for name in unknown},
                )
            )
        errors: dict[str, str] = {}
        if "name" in body or not partial:
            if not isinstance(body.get("name"), str) or not _NAME.match(body["name"]):
                errors["name"] = (
                    "1-63 characters from [a-zA-Z0-9._-], starting with a letter or digit"
                )
        if body.get("framework", "pytorch") not in ("pytorch", "tensorflow", "custom"):
            errors["framework"] = "must be pytorch, tensorflow or custom"
        for key in ("nodes", "procs_per_node"):
            if key in body and (not isinstance(body[key], int) or body[key] < 1):
                errors[key] = "must be an integer >= 1"
        for key in body.get("env") or {}:
            if not _ENV_NAME.match(key) or key.startswith("TZ_"):
                errors["env"] = f"invalid or reserved variable name {key!r}"
        if not partial:
            if bool(body.get("entry")) == bool(body.get("code")):
                errors["entry"] = "give exactly one of entry or code"
            if body.get("entry"):
                files = self.snapshots.get(body.get("snapshot") or "")
                if files is None:
                    errors["snapshot"] = "unknown snapshot; upload it with POST /snapshots"
                elif body["entry"] not in files:
                    errors["entry"] = f"{body['entry']!r} is not in the snapshot"
        if errors:
            raise _HttpError(_error(400, "invalid job spec", "InvalidRequest", errors))
        return body

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """MockTransport handler: route one request."""
        self.requests.append(request)
        if self._next_failure is not None:
            response, self._next_failure = self._next_failure, None
            return response
        if request.headers.get("Authorization") != f"token {self.token}":
            return _error(403, "invalid or missing token", "Forbidden")
        path = request.url.path
        if "/api/v1" not in path:
            return _error(404, f"no route {path}", "NotFound")
        parts = [unquote(p) for p in path.split("/api/v1", 1)[1].strip("/").split("/") if p]
        try:
            with self._lock:
                return self._route(request, parts)
        except _HttpError as exc:
            return exc.response

    def _route(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        method = request.method
        params = request.url.params
        if not parts and method == "GET":
            return httpx.Response(
                200,
                json={
                    "version": "0.1.0",
                    "backends": {"jobs": "fake"},
                    "user": {"name": self.user, "admin": self.admin, "groups": [], "scopes": []},
                },
            )
        if parts == ["snapshots"] and method == "POST":
            return self._post_snapshot(request)
        if parts == ["queue"] and method == "GET":
            return self._queue()
        if parts == ["jobs"]:
            if method == "GET":
                return self._list(params)
            if method == "POST":
                spec = self._validate_spec(json.loads(request.content or b"null"))
                job = self._create(spec, owner=self.user)
                return httpx.Response(201, json=job, headers={"Location": f"jobs/{job['id']}"})
        if len(parts) >= 2 and parts[0] == "jobs":
            rec = self._record(parts[1])
            action = parts[2] if len(parts) > 2 else None
            return self._job_route(request, rec, action, params)
        return _error(404, f"no route {method} /{'/'.join(parts)}", "NotFound")

    def _job_route(
        self, request: httpx.Request, rec: _Record, action: str | None, params: httpx.QueryParams
    ) -> httpx.Response:
        method = request.method
        job = rec.job
        if action is None and method == "GET":
            if job["status"] not in _TERMINAL:
                self.advance(job["id"])
            return httpx.Response(200, json=job)
        if action is None and method == "DELETE":
            if job["status"] not in _TERMINAL:
                return _error(
                    409, f"job {job['id']} is {job['status']}; cancel it first", "Conflict"
                )
            del self.jobs[job["id"]]
            return httpx.Response(204)
        if action == "cancel" and method == "POST":
            if job["status"] in _TERMINAL:
                return _error(409, f"job {job['id']} already {job['status']}", "Conflict")
            job.update(status="cancelled", reason="Cancelled", finished=_now())
            self._event(rec, "Normal", "Cancelled", f"cancelled by {self.user}")
            return httpx.Response(202, json=job)
        if action == "clone" and method == "POST":
            overrides = self._validate_spec(json.loads(request.content or b"{}"), partial=True)
            spec = {**job["spec"], **overrides}
            new = self._create(spec, owner=self.user, cloned_from=job["id"])
            return httpx.Response(201, json=new)
        if action == "events" and method == "GET":
            return httpx.Response(200, json={"items": rec.events})
        if action == "logs" and method == "GET":
            rank = int(params["rank"]) if "rank" in params else None
            tail = int(params["tail"]) if "tail" in params else None
            if tail is not None and tail < 1:
                return _error(400, "tail: must be >= 1", "InvalidField", {"tail": "must be >= 1"})
            if params.get("follow") == "true":
                return self._sse(lambda stop: self._log_events(job["id"], rank, tail, stop))
            lines = [(r, line) for r, line in rec.logs if rank is None or r == rank]
            if tail is not None:
                lines = lines[-tail:]
            return httpx.Response(
                200,
                json={
                    "items": [{"rank": r, "line": line} for r, line in lines],
                    "ranks": list(range(job["world_size"])),
                },
            )
        if action == "metrics" and method == "GET":
            # The cursor is opaque to clients; here it is the number of points already sent.
            since = int(params.get("since") or 0)
            if params.get("follow") == "true":
                return self._sse(lambda stop: self._metric_events(job["id"], since, stop))
            return httpx.Response(
                200, json={"items": rec.metrics[since:], "cursor": str(len(rec.metrics))}
            )
        return _error(405, f"{method} not allowed here", "MethodNotAllowed")

    def _post_snapshot(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Content-Type") != "application/gzip":
            return _error(400, "snapshots must be sent as application/gzip", "InvalidRequest")
        data = request.content
        try:
            files = validate_archive(data, self.max_snapshot_bytes)
        except ValueError as exc:
            return _error(400, str(exc), "InvalidRequest")
        sid = hashlib.sha256(data).hexdigest()
        self.snapshots[sid] = files
        self.snapshot_bodies[sid] = data
        return httpx.Response(201, json={"id": sid, "size": len(data), "files": len(files)})

    def _list(self, params: httpx.QueryParams) -> httpx.Response:
        show_all = params.get("all") == "true"
        if show_all and not self.admin:
            return _error(403, "all=true needs the custom:tz:admin scope", "Forbidden")
        statuses = set(params["status"].split(",")) if params.get("status") else None
        jobs = [
            rec.job
            for rec in reversed(list(self.jobs.values()))
            if (show_all or rec.job["owner"] == self.user)
            and (statuses is None or rec.job["status"] in statuses)
        ]
        offset = int(params.get("offset", 0))
        limit = min(int(params.get("limit", self.page_limit)), self.page_limit)
        page = jobs[offset : offset + limit]
        nxt = None
        if offset + limit < len(jobs):
            nxt = {
                "offset": offset + limit,
                "limit": limit,
                "url": f"/services/tz/api/v1/jobs?offset={offset + limit}&limit={limit}",
            }
        return httpx.Response(
            200,
            json={
                "items": page,
                "_pagination": {"offset": offset, "limit": limit, "total": len(jobs), "next": nxt},
            },
        )

    def _queue(self) -> httpx.Response:
        mine = [
            r.job
            for r in self.jobs.values()
            if r.job["status"] in ("queued", "running") and r.job["owner"] == self.user
        ]
        running = [j for j in mine if j["status"] == "running"]
        gpus = sum(
            j["spec"].get("resources_per_node", {}).get("gpus", 0) * j["spec"].get("nodes", 1)
            for j in running
        )
        return httpx.Response(
            200,
            json={
                "total": {"gpus": 8, "cpus": 64},
                "used": {"gpus": gpus, "cpus": len(running)},
                "running": len(running),
                "queued": len(mine) - len(running),
                "items": mine,
            },
        )

    # -- streams ---------------------------------------------------------------------------

    def _sse(self, make_events: Callable[[threading.Event], Iterator[bytes]]) -> httpx.Response:
        stream = _ClosableStream(make_events)
        self.streams.append(stream)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=stream)

    def _stream(self, job_id: str, pending, stop: threading.Event) -> Iterator[bytes]:
        """Shared loop: send what is new, advance the job, end once it is final."""
        yield b": keepalive\n\n"
        while not (self.closed.is_set() or stop.is_set()):
            with self._lock:
                rec = self.jobs.get(job_id)
                if rec is None:
                    return
                chunks = pending(rec)
                status = rec.job["status"]
            yield from chunks
            if status in _TERMINAL:
                yield f"event: end\r\ndata: {json.dumps({'status': status})}\r\n\r\n".encode()
                return
            if self.outcome == "running":
                time.sleep(0.01)
            else:
                self.advance(job_id)

    def _log_events(
        self, job_id: str, rank: int | None, tail: int | None, stop: threading.Event
    ) -> Iterator[bytes]:
        sent = 0
        if tail is not None:
            with self._lock:
                total = sum(1 for r, _ in self.jobs[job_id].logs if rank is None or r == rank)
            sent = max(0, total - tail)

        def pending(rec: _Record) -> list[bytes]:
            nonlocal sent
            lines = [(r, line) for r, line in rec.logs if rank is None or r == rank]
            new, sent = lines[sent:], len(lines)
            return [
                f"data: {json.dumps({'rank': r, 'line': line})}\n\n".encode() for r, line in new
            ]

        return self._stream(job_id, pending, stop)

    def _metric_events(self, job_id: str, since: int, stop: threading.Event) -> Iterator[bytes]:
        sent = since

        def pending(rec: _Record) -> list[bytes]:
            nonlocal sent
            new, sent = rec.metrics[sent:], len(rec.metrics)
            return [f"data: {json.dumps(m)}\n\n".encode() for m in new]

        return self._stream(job_id, pending, stop)


__all__ = ["API_URL", "TOKEN", "FakeTzApi"]
