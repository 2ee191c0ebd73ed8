"""``TzJobManager``: the jobs domain's rules, independent of HTTP and of the compute backend.

It owns the job records (SQLAlchemy), validates specs and snapshots, enforces ownership (another
user's job is "not found"), applies retries, and relays what the backend reports into the
database. It imports nothing from tornado; the REST handlers are a thin layer over it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import posixpath
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from traitlets import Any as AnyTrait
from traitlets import Instance, Integer, Unicode
from traitlets.config import LoggingConfigurable
from traitlets.utils.importstring import import_item

from ..db.orm import Job, JobDataset, JobEvent, JobModel
from ..errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from ..identity import Identity
from ..snapshot import validate_archive
from ..storage import TzStorage, join_key
from .backends.base import BackendJob, Event, JobUpdate, TzJobBackend
from .types import (
    FAILED,
    FINISHED,
    PENDING,
    QUEUED,
    RUNNING,
    SPEC_FIELDS,
    STATUSES,
    check_fields,
    parse_spec,
    spec_from_dict,
)

BACKEND_GROUP = "training_zoo.job_backends"


def load_backend_class(name: str) -> type[TzJobBackend]:
    """An alias from the ``training_zoo.job_backends`` entry points, or an import string.

    Raises
    ------
    ValueError
        When the name resolves to something that is not a ``TzJobBackend``.
    """
    aliases = {ep.name: ep for ep in entry_points(group=BACKEND_GROUP)}
    cls = aliases[name].load() if name in aliases else import_item(name)
    if not (isinstance(cls, type) and issubclass(cls, TzJobBackend)):
        raise ValueError(f"TzJobManager.backend_class: {name} is not a TzJobBackend")
    return cls


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def from_ts(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None) if ts else None


def isoformat(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="milliseconds") + "Z" if dt else None


def lineage_entry(row: JobDataset, with_key: bool = False) -> dict[str, Any]:
    """One dataset version a job used, as the API shows it (and, for backends, where it is)."""
    out = {"ref": row.ref, "dataset_id": row.dataset_id, "owner": row.owner, "name": row.name,
           "version": row.version, "manifest_sha256": row.manifest_sha256}  # fmt: skip
    if with_key:
        out["manifest_key"] = row.manifest_key
    return out


def model_entry(row: JobModel, with_files: bool = False) -> dict[str, Any]:
    """One model version a job was given as input, as the API shows it."""
    out = {"ref": row.ref, "model_id": row.model_id, "owner": row.owner, "name": row.name,
           "version": row.version}  # fmt: skip
    if with_files:
        out["prefix"] = row.prefix
    return out


FinishHook = Callable[[dict[str, Any]], Awaitable[None]]


class TzJobManager(LoggingConfigurable):
    """Training jobs: submit, list, inspect, cancel, clone, logs and metrics."""

    backend_class = Unicode(
        "local",
        help="""The compute backend that runs jobs.

        An alias (``local``: processes on this machine, the embedded default) or the import
        string of a ``TzJobBackend`` subclass, like JupyterHub's ``spawner_class``.
        Default: ``local``.
        """,
    ).tag(config=True)

    max_snapshot_bytes = Integer(
        100 * 1024 * 1024,
        help="""Largest working-directory snapshot accepted, in bytes (compressed upload and
        uncompressed content alike). Default: 104857600 (100 MiB).""",
    ).tag(config=True)

    max_queued_per_user = Integer(
        50, help="Unfinished jobs one user may have at once (429 beyond). Default: 50."
    ).tag(config=True)

    max_nodes = Integer(16, help="Largest ``nodes`` a job may ask for. Default: 16.").tag(
        config=True
    )

    max_procs_per_node = Integer(
        16, help="Largest ``procs_per_node`` a job may ask for. Default: 16."
    ).tag(config=True)

    storage = Instance(TzStorage)
    session_factory = AnyTrait()
    # The dataset manager resolving a spec's ``datasets`` (set by the service); None refuses them.
    datasets = AnyTrait(None, allow_none=True)
    # The model registry resolving a spec's ``models`` (set by the service); None refuses them.
    registry = AnyTrait(None, allow_none=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: sessionmaker[Session] = self.session_factory
        cls = load_backend_class(self.backend_class)
        self.backend: TzJobBackend = cls(parent=self, storage=self.storage)
        self._changed = asyncio.Condition()
        # Called with the job's dict once a job has finished for good (no retry left); the model
        # registry registers models and closes conversion/evaluation runs this way.
        self.finish_hooks: list[FinishHook] = []
        self._hook_tasks: set[asyncio.Future] = set()

    # ---- start/stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the backend and reconcile every unfinished job with it."""
        with self.sessions() as db:
            active = db.scalars(select(Job).where(Job.status.in_([PENDING, QUEUED, RUNNING])))
            jobs = [self._backend_job(j) for j in active]
        await self.backend.start(self._on_update, jobs)

    async def stop(self) -> None:
        if self._hook_tasks:
            # Let running hooks finish; a hook cut short is redone at the next start (the
            # model registry reconciles its runs).
            await asyncio.wait(self._hook_tasks, timeout=30)
        await self.backend.stop()

    # ---- helpers ---------------------------------------------------------------------------

    def _backend_job(self, job: Job) -> BackendJob:
        spec = spec_from_dict(job.spec)
        snapshot = job.spec.get("snapshot")
        return BackendJob(
            id=job.id,
            owner=job.owner,
            attempt=job.attempt,
            spec=spec,
            created=job.created.timestamp(),
            snapshot_key=self._snapshot_key(job.owner, snapshot) if snapshot else None,
            job_key=join_key("jobs", job.owner, job.id),
            groups=tuple(job.groups or ()),
            state=dict(job.backend_state or {}),
            datasets=[lineage_entry(d, with_key=True) for d in job.datasets],
            models=[self._model_input(m) for m in job.models],
        )

    def _model_input(self, row: JobModel) -> dict[str, Any]:
        entry = model_entry(row, with_files=True)
        if self.registry is not None:
            entry["files"] = self.registry.version_files_sync(row.model_id, row.version)
        return entry

    @staticmethod
    def _snapshot_key(owner: str, snapshot_id: str) -> str:
        return join_key("snapshots", owner, f"{snapshot_id}.tar.gz")

    def _visible(self, db: Session, user: Identity, job_id: str) -> Job:
        job = db.get(Job, job_id)
        if job is None or (job.owner != user.name and not user.admin):
            raise NotFound(f"job {job_id} not found", reason="JobNotFound")
        return job

    def to_dict(self, job: Job) -> dict[str, Any]:
        spec = job.spec
        return {
            "id": job.id,
            "name": job.name,
            "owner": job.owner,
            "framework": job.framework,
            "status": job.status,
            "reason": job.reason,
            "message": job.message,
            "spec": spec,
            "attempt": job.attempt,
            "queue_position": self.backend.queue_position(job.id) if job.status == QUEUED else None,
            "world_size": spec["nodes"] * spec["procs_per_node"],
            "created": isoformat(job.created),
            "started": isoformat(job.started),
            "finished": isoformat(job.finished),
            "exit_code": job.exit_code,
            "output_dir": join_key("jobs", job.owner, job.id, "output"),
            "cloned_from": job.cloned_from,
            "lineage": {
                "datasets": [lineage_entry(d) for d in job.datasets],
                "models": [model_entry(m) for m in job.models],
            },
        }

    def _new_id(self, name: str) -> str:
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "job"
        return f"{slug}-{secrets.token_hex(4)}"

    def _add_event(self, db: Session, job: Job, event: Event) -> None:
        db.add(JobEvent(
            job_id=job.id, time=from_ts(event.time) or utcnow(), type=event.type,
            reason=event.reason, message=event.message, attempt=job.attempt,
        ))  # fmt: skip

    async def record_event(self, job_id: str, event: Event) -> None:
        """Add an event to a job's history (other domains report what they did with a job)."""
        with self.sessions() as db:
            job = db.get(Job, job_id)
            if job is not None:
                self._add_event(db, job, event)
                db.commit()
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- snapshots -------------------------------------------------------------------------

    async def save_snapshot(self, user: Identity, data: bytes) -> dict[str, Any]:
        """Store a gzipped tar of a working directory; its sha256 is its id.

        Raises
        ------
        PayloadTooLarge
            Over ``max_snapshot_bytes``.
        InvalidRequest
            Not a safe tar.gz archive.
        """
        if len(data) > self.max_snapshot_bytes:
            raise PayloadTooLarge(
                f"snapshot is {len(data)} bytes; the limit is {self.max_snapshot_bytes} bytes",
                reason="SnapshotTooLarge",
            )
        try:
            files = await asyncio.to_thread(validate_archive, data, self.max_snapshot_bytes)
        except ValueError as e:
            raise InvalidRequest.field("snapshot", str(e)) from None
        # `tar -C dir .` names members ./x.py; entries are matched in normal form.
        files = sorted({posixpath.normpath(name) for name in files})
        digest = hashlib.sha256(data).hexdigest()
        key = self._snapshot_key(user.name, digest)
        if not await asyncio.to_thread(self.storage.exists, key):
            index = json.dumps({"files": files}).encode()
            await asyncio.to_thread(self.storage.put_bytes, key[: -len(".tar.gz")] + ".json", index)
            await asyncio.to_thread(self.storage.put_bytes, key, data)
        return {"id": digest, "size": len(data), "files": len(files)}

    async def _snapshot_files(self, owner: str, snapshot_id: str) -> set[str]:
        key = self._snapshot_key(owner, snapshot_id)[: -len(".tar.gz")] + ".json"
        try:
            raw = await asyncio.to_thread(self.storage.get_bytes, key)
        except FileNotFoundError:
            raise InvalidRequest.field("snapshot", f"unknown snapshot {snapshot_id}") from None
        return set(json.loads(raw)["files"])

    # ---- jobs ------------------------------------------------------------------------------

    async def submit(
        self, user: Identity, body: Any, *, cloned_from: str | None = None
    ) -> dict[str, Any]:
        """Validate and queue a job.

        Raises
        ------
        InvalidRequest
            A bad spec field, an unknown snapshot, or an entry script not in the snapshot.
        QuotaExceeded
            The user already has ``max_queued_per_user`` unfinished jobs.
        """
        spec = parse_spec(body, max_nodes=self.max_nodes, max_procs=self.max_procs_per_node)
        if spec.snapshot:
            files = await self._snapshot_files(user.name, spec.snapshot)
            if spec.entry is not None and spec.entry not in files:
                raise InvalidRequest.field(
                    "entry", f"{spec.entry} is not in the working directory snapshot"
                )
        used = await self._resolve_datasets(user, spec.datasets)
        inputs = await self._resolve_models(user, spec.models)
        with self.sessions() as db:
            unfinished = db.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.owner == user.name, Job.status.not_in(list(FINISHED)))
            )
            if unfinished >= self.max_queued_per_user:
                raise QuotaExceeded(
                    f"you already have {unfinished} unfinished jobs (limit "
                    f"{self.max_queued_per_user}); wait or cancel some",
                    reason="TooManyJobs",
                )
            job = Job(
                id=self._new_id(spec.name), owner=user.name, name=spec.name,
                framework=spec.framework, status=PENDING, spec=spec.to_dict(),
                priority=spec.priority, attempt=1, backend=self.backend.name, backend_state={},
                created=utcnow(), cloned_from=cloned_from, groups=sorted(user.groups),
            )  # fmt: skip
            job.datasets = [JobDataset(position=i, **u) for i, u in enumerate(used)]
            job.models = [JobModel(position=i, **u) for i, u in enumerate(inputs)]
            bjob = self._backend_job(job)
            problem = self.backend.check_fits(bjob)
            if problem:
                raise InvalidRequest.field("resources_per_node", problem)
            db.add(job)
            origin = f" (clone of {cloned_from})" if cloned_from else ""
            self._add_event(db, job, Event("Created", f"submitted by {user.name}{origin}"))
            job.status = QUEUED
            self._add_event(db, job, Event("Queued", "waiting for capacity"))
            db.commit()
            bjob.created = job.created.timestamp()
        await self.backend.submit(bjob)
        self.log.info("Job %s submitted by %s", job.id, user.name)
        return await self.get(user, job.id)

    async def _resolve_datasets(self, user: Identity, refs: list[str]) -> list[dict[str, Any]]:
        """The exact published version behind each of ``refs``, checked readable by ``user``."""
        used = []
        for i, ref in enumerate(refs):
            if self.datasets is None:
                raise InvalidRequest.field(f"datasets[{i}]", "datasets are not enabled here")
            try:
                ds, version = await self.datasets.resolve(user, ref)
            except (InvalidRequest, NotFound) as e:
                raise InvalidRequest.field(f"datasets[{i}]", e.message) from None
            if version is None:
                raise InvalidRequest.field(
                    f"datasets[{i}]", f"{ds['name']} has no published version yet; publish it"
                )
            used.append({
                "ref": ref, "dataset_id": ds["id"], "owner": ds["owner"], "name": ds["name"],
                "version": version["version"], "manifest_sha256": version["manifest_sha256"],
                "manifest_key": self.datasets.manifest_key(ds["id"], version["version"]),
            })  # fmt: skip
        return used

    async def _resolve_models(self, user: Identity, refs: list[str]) -> list[dict[str, Any]]:
        """The exact registered version behind each of ``refs``, checked readable by ``user``."""
        used = []
        for i, ref in enumerate(refs):
            if self.registry is None:
                raise InvalidRequest.field(f"models[{i}]", "the model registry is not enabled here")
            try:
                model, version = await self.registry.resolve(user, ref)
            except (InvalidRequest, NotFound) as e:
                raise InvalidRequest.field(f"models[{i}]", e.message) from None
            used.append({
                "ref": ref, "model_id": model["id"], "owner": model["owner"],
                "name": model["name"], "version": version["version"],
                "prefix": self.registry.version_prefix(model["id"], version["version"]),
            })  # fmt: skip
        return used

    async def list(
        self,
        user: Identity,
        *,
        status: list[str] | None = None,
        all_users: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Jobs the caller may see, newest first, and the total count."""
        for s in status or []:
            if s not in STATUSES:
                raise InvalidRequest.field("status", f"unknown status {s!r}")
        query = select(Job).options(selectinload(Job.datasets), selectinload(Job.models))
        if not (all_users and user.admin):
            query = query.where(Job.owner == user.name)
        if status:
            query = query.where(Job.status.in_(status))
        with self.sessions() as db:
            total = db.scalar(select(func.count()).select_from(query.subquery()))
            rows = db.scalars(
                query.order_by(Job.created.desc(), Job.id).offset(offset).limit(limit)
            ).all()
            return [self.to_dict(j) for j in rows], total

    async def get(self, user: Identity, job_id: str) -> dict[str, Any]:
        with self.sessions() as db:
            return self.to_dict(self._visible(db, user, job_id))

    async def status(self, user: Identity, job_id: str) -> str:
        with self.sessions() as db:
            return self._visible(db, user, job_id).status

    async def events(self, user: Identity, job_id: str) -> list[dict[str, Any]]:
        with self.sessions() as db:
            job = self._visible(db, user, job_id)
            return [
                {"time": isoformat(e.time), "type": e.type, "reason": e.reason,
                 "message": e.message, "attempt": e.attempt}
                for e in job.events
            ]  # fmt: skip

    async def cancel(self, user: Identity, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job.

        Raises
        ------
        NotFound
            No such job visible to the caller.
        Conflict
            The job has already finished.
        """
        with self.sessions() as db:
            job = self._visible(db, user, job_id)
            if job.status in FINISHED:
                raise Conflict(f"job {job_id} already {job.status}", reason="JobFinished")
            bjob = self._backend_job(job)
        await self.backend.cancel(bjob, by=user.name)
        return await self.get(user, job_id)

    async def clone(self, user: Identity, job_id: str, overrides: Any) -> dict[str, Any]:
        """Submit a new job with the same spec (and snapshot), with some fields overridden."""
        overrides = check_fields(overrides or {}, SPEC_FIELDS)
        with self.sessions() as db:
            job = self._visible(db, user, job_id)
            body = {k: v for k, v in job.spec.items() if v is not None}
        body.update(overrides)
        if "code" in overrides or "command" in overrides:
            body.pop("entry", None)
        return await self.submit(user, body, cloned_from=job_id)

    async def delete(self, user: Identity, job_id: str) -> None:
        with self.sessions() as db:
            job = self._visible(db, user, job_id)
            if job.status not in FINISHED:
                raise Conflict(
                    f"job {job_id} is {job.status}; cancel it first", reason="JobNotFinished"
                )
            bjob = self._backend_job(job)
            db.delete(job)
            db.commit()
        await self.backend.delete(bjob)

    def queue_summary(self, user: Identity) -> dict[str, Any]:
        with self.sessions() as db:
            counts = dict(db.execute(
                select(Job.status, func.count()).where(Job.status.in_([QUEUED, RUNNING]))
                .group_by(Job.status)
            ).all())  # fmt: skip
            query = select(Job).where(Job.status.in_([QUEUED, RUNNING]))
            if not user.admin:
                query = query.where(Job.owner == user.name)
            items = [self.to_dict(j) for j in db.scalars(query.order_by(Job.created))]
        items.sort(key=lambda j: (j["status"] != RUNNING, j["queue_position"] or 0))
        return {
            **self.backend.capacity(),
            "running": counts.get(RUNNING, 0),
            "queued": counts.get(QUEUED, 0),
            "items": items,
        }

    # ---- streams ---------------------------------------------------------------------------

    async def logs(
        self, user: Identity, job_id: str, *, rank: int | None, follow: bool, tail: int | None
    ) -> AsyncIterator[tuple[int, str]]:
        """Lines of the current attempt; a follower moves on to the next attempt on a retry."""
        with self.sessions() as db:
            bjob = self._backend_job(self._visible(db, user, job_id))

        async def progress() -> tuple[str, int]:
            with self.sessions() as db:
                job = self._visible(db, user, job_id)
                return job.status, job.attempt

        while True:
            attempt = bjob.attempt

            async def is_done(attempt: int = attempt) -> bool:
                status, current = await progress()
                return status in FINISHED or current != attempt

            async for item in self.backend.get_job_logs(bjob, rank, follow, tail, is_done):
                yield item
            status, current = await progress()
            if not follow or current == attempt:
                return
            with self.sessions() as db:
                bjob = self._backend_job(self._visible(db, user, job_id))
            tail = None

    async def log_ranks(self, user: Identity, job_id: str) -> list[int]:
        with self.sessions() as db:
            bjob = self._backend_job(self._visible(db, user, job_id))
        return await self.backend.log_ranks(bjob)

    async def metrics(
        self, user: Identity, job_id: str, cursor: str | None
    ) -> tuple[list[dict], str]:
        with self.sessions() as db:
            bjob = self._backend_job(self._visible(db, user, job_id))
        items, cursor = await self.backend.get_job_metrics(bjob, cursor)
        for item in items:
            item["time"] = isoformat(from_ts(item["time"]))
        return items, cursor

    async def wait_for_change(self, timeout: float) -> None:
        """Wait until some job changes (or ``timeout`` seconds), for streams that follow."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass

    # ---- backend updates -------------------------------------------------------------------

    async def _on_update(self, update: JobUpdate) -> None:
        resubmit: BackendJob | None = None
        finished: dict[str, Any] | None = None
        with self.sessions() as db:
            job = db.get(Job, update.job_id)
            if job is None or job.attempt != update.attempt or job.status in FINISHED:
                return  # deleted, or news about an attempt we have moved past
            for event in update.events:
                self._add_event(db, job, event)
            if update.state is not None:
                job.backend_state = update.state
            if update.status == RUNNING and job.status != RUNNING:
                job.status, job.reason, job.message = RUNNING, update.reason, None
                job.started = job.started or from_ts(update.started) or utcnow()
            elif update.status in FINISHED:
                job.reason, job.message = update.reason, update.message
                job.exit_code = update.exit_code
                if update.status == FAILED and job.attempt <= job.spec.get("max_retries", 0):
                    job.attempt += 1
                    job.status = QUEUED
                    job.backend_state = {}
                    self._add_event(db, job, Event(
                        "Retrying", f"attempt {job.attempt - 1} failed ({update.message}); "
                        f"retry {job.attempt - 1} of {job.spec['max_retries']}", "Warning",
                    ))  # fmt: skip
                    resubmit = self._backend_job(job)
                else:
                    job.status = update.status
                    job.finished = from_ts(update.finished) or utcnow()
            db.commit()
            if update.status in FINISHED and job.status in FINISHED:
                self.log.info("Job %s %s: %s", job.id, job.status, job.message)
                finished = self.to_dict(job)
        if resubmit is not None:
            await self.backend.submit(resubmit)
        if finished is not None:
            # Hooks may copy big files (a converted model): off the backend's update path, so
            # other jobs' updates never wait for them.
            task = asyncio.ensure_future(self._run_finish_hooks(finished))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)
        await self._notify()

    async def _run_finish_hooks(self, job: dict[str, Any]) -> None:
        for hook in self.finish_hooks:
            try:
                await hook(job)
            except Exception:  # noqa: BLE001 - a hook's failure must not stall job updates
                self.log.exception("Finish hook %r failed for job %s", hook, job["id"])
