"""``TzModelManager``: the model registry, its stage rules and lineage (no tornado imports).

It owns the model records (SQLAlchemy), enforces who may read and change them (a model the caller
may not read is "not found", like datasets: see :mod:`training_zoo.sharing`), copies registered
files into storage, moves versions between stages, and answers lineage and comparison queries.
Conversions and evaluations are tracked jobs: :mod:`.runner` submits them and closes them when their
job finishes.

Storage layout (TzStorage keys)::

    models/<model_id>/versions/<uid>/...     a version's files (written once, never changed)

Consistency rules, valid on SQLite and on MySQL/TiDB alike:

- A version's files are copied under a fresh ``uid`` folder *before* its row is inserted, and the
  row (whose commit makes the version visible) is what points at them: a crash in between leaves
  unreferenced bytes, never a visible version with missing files. A failed insert removes them.
- Every change to a model's versions (a new version, a stage move) first runs an ``UPDATE`` on the
  model's row. That takes the row lock on MySQL and the write lock on SQLite, so such changes of
  one model are serialised: version numbers are handed out once, and two concurrent promotions run
  one after the other. On top of that, ``production_of`` (equal to the model id while a version is
  in production) has a unique index: the database itself refuses a second production version.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import posixpath
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Any as AnyTrait
from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from .. import sharing
from ..datasets.paths import check_path, workspace_key
from ..db.orm import Model, ModelRun, ModelStageEvent, ModelVersion
from ..errors import Conflict, Forbidden, InvalidRequest, NotFound, PayloadTooLarge
from ..identity import Identity
from ..jobs.manager import isoformat, utcnow
from ..jobs.types import SUCCEEDED, check_fields
from ..storage import TzStorage, join_key
from . import descriptor as dsc

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ID_RE = re.compile(r"^mdl-[0-9a-f]{12}$")
REF_RE = re.compile(
    r"^(?:(?P<owner>[^/:\s]{1,255})/)?(?P<name>[^/:\s]+)(?::(?P<version>[^/:\s]+))?$"
)
STAGES = ("none", "staging", "production", "archived")
MAX_DESCRIPTION = 100_000
CHUNK = 1 << 20
# Fields a caller may set on a version (on top of, or instead of, the folder's tz-model.json).
VERSION_FIELDS = {
    "description", "format", "framework", "framework_version", "artifact", "signature",
    "metrics", "parameters", "tags", "card", "labels", "preprocess", "builder", "version_name",
}  # fmt: skip
# Kubeflow Model Registry names (``register_model(name, uri, version, model_format_name, ...)``).
KUBEFLOW_FORMATS = {"pytorch": "pytorch-state-dict", "tensorflow": "tensorflow-savedmodel"}


def version_ref(owner: str, name: str, number: int) -> str:
    return f"{owner}/{name}:{number}"


class TzModelManager(LoggingConfigurable):
    """Registered models: create, list, versions, files, stages, history, lineage, compare."""

    max_version_bytes = Integer(
        20 * 1024**3,
        help="""Largest total size of one model version's files, in bytes. Registration reads
        every file once (to record its sha256) while copying it. Default: 21474836480 (20 GiB).
        """,
    ).tag(config=True)

    max_version_files = Integer(
        10_000,
        help="""Most files one model version may hold (a SavedModel folder has a few dozen).
        Default: 10000.""",
    ).tag(config=True)

    storage = Instance(TzStorage)
    workspace = AnyTrait()
    jobs = AnyTrait()
    datasets = AnyTrait(None, allow_none=True)
    session_factory = AnyTrait()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: sessionmaker[Session] = self.session_factory

    # ================================================================== access

    def _get(self, db: Session, user: Identity, model_id: object, write: bool = False) -> Model:
        model = db.get(Model, model_id) if isinstance(model_id, str) else None
        if model is None or not sharing.can_read(model, user):
            raise NotFound(f"model {model_id} not found", reason="ModelNotFound")
        if write and not sharing.can_write(model, user):
            raise Forbidden(
                f"you may read model {model.owner}/{model.name} but not change it",
                reason="NotModelWriter",
            )
        return model

    def _lock(self, db: Session, model_id: str) -> Model:
        """Take the model's write lock (see the module docstring) and return the fresh row."""
        result = db.execute(update(Model).where(Model.id == model_id).values(updated=utcnow()))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"model {model_id} not found", reason="ModelNotFound")
        model = db.get(Model, model_id, populate_existing=True)
        assert model is not None
        return model

    @staticmethod
    def _number(value: object, field: str = "version") -> int:
        text = str(value)
        if not text.isdigit() or not 0 < int(text) < 10**9:
            raise InvalidRequest.field(field, "must be a version number like 3")
        return int(text)

    def _version(self, db: Session, model: Model, number: object) -> ModelVersion:
        n = self._number(number)
        row = db.scalar(
            select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.number == n)
        )
        if row is None:
            raise NotFound(f"model {model.owner}/{model.name} has no version {n}",
                           reason="VersionNotFound")  # fmt: skip
        return row

    # ================================================================== dicts

    def _model_dicts(self, db: Session, rows: list[Model]) -> list[dict[str, Any]]:
        ids = [m.id for m in rows]
        counts: dict[str, tuple[int, int]] = {}
        production: dict[str, int] = {}
        if ids:
            for model_id, count, latest in db.execute(
                select(ModelVersion.model_id, func.count(), func.max(ModelVersion.number))
                .where(ModelVersion.model_id.in_(ids))
                .group_by(ModelVersion.model_id)
            ):
                counts[model_id] = (count, latest)
            for model_id, number in db.execute(
                select(ModelVersion.production_of, ModelVersion.number).where(
                    ModelVersion.production_of.in_(ids)
                )
            ):
                production[model_id] = number
        return [
            {
                "id": m.id,
                "name": m.name,
                "owner": m.owner,
                "description": m.description,
                "task": m.task,
                "visibility": m.visibility,
                "team": m.team,
                "created": isoformat(m.created),
                "updated": isoformat(m.updated),
                "versions": counts.get(m.id, (0, None))[0],
                "latest_version": counts.get(m.id, (0, None))[1],
                "production_version": production.get(m.id),
            }  # fmt: skip
            for m in rows
        ]

    def _model_dict(self, db: Session, model: Model) -> dict[str, Any]:
        return self._model_dicts(db, [model])[0]

    def _version_dicts(
        self, db: Session, model: Model, rows: list[ModelVersion], *, evaluations: bool = True
    ) -> list[dict[str, Any]]:
        parents = {
            v.id: v.number
            for v in db.scalars(
                select(ModelVersion).where(
                    ModelVersion.id.in_([r.parent_id for r in rows if r.parent_id])
                )
            )
        }
        evals: dict[int, list[dict]] = {}
        if evaluations and rows:
            runs = db.scalars(
                select(ModelRun)
                .where(
                    ModelRun.model_id == model.id,
                    ModelRun.kind == "evaluate",
                    ModelRun.version.in_([r.number for r in rows]),
                )
                .order_by(ModelRun.created.desc())
            )
            for run in runs:
                evals.setdefault(run.version, []).append(self.run_dict(db, run))
        out = []
        for v in rows:
            parent = parents.get(v.parent_id) if v.parent_id else None
            out.append({
                "model_id": model.id, "name": model.name, "owner": model.owner,
                "version": v.number, "ref": version_ref(model.owner, model.name, v.number),
                "version_name": v.version_name, "description": v.description,
                "task": model.task, "format": v.format, "framework": v.framework,
                "framework_version": v.framework_version, "artifact": v.artifact,
                "signature": v.signature, "metrics": v.metrics, "parameters": v.parameters,
                "tags": v.tags, "labels": v.labels, "preprocess": v.preprocess,
                "builder": v.builder, "card": v.card, "stage": v.stage,
                "size_bytes": v.size_bytes, "files": len(v.files), "source": v.source,
                "parent": None if parent is None else {
                    "version": parent, "ref": version_ref(model.owner, model.name, parent)},
                "conversion": v.conversion, "lineage": v.lineage,
                "evaluations": evals.get(v.number, []),
                "created": isoformat(v.created), "created_by": v.created_by,
            })  # fmt: skip
        return out

    def _version_dict(self, db: Session, model: Model, row: ModelVersion) -> dict[str, Any]:
        return self._version_dicts(db, model, [row])[0]

    def run_dict(self, db: Session, run: ModelRun) -> dict[str, Any]:
        status, message = run.status, run.message
        if run.finished is None:
            # Until it is closed, a run is exactly as far along as its job.
            from ..db.orm import Job

            job = db.get(Job, run.job_id)
            if job is not None:
                status, message = job.status, job.message
        return {
            "id": run.id, "kind": run.kind, "model_id": run.model_id, "version": run.version,
            "owner": run.owner, "job_id": run.job_id, "status": status, "message": message,
            "params": run.params, "dataset": (run.dataset or {}).get("ref"),
            "dataset_lineage": run.dataset, "result_version": run.result_version,
            "metrics": run.metrics, "speed": run.speed,
            "created": isoformat(run.created), "finished": isoformat(run.finished),
        }  # fmt: skip

    # ================================================================== models

    def _text(self, body: dict, name: str, default: str = "", limit: int = MAX_DESCRIPTION) -> str:
        value = body.get(name, default)
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise InvalidRequest.field(name, f"must be text of at most {limit} characters")
        return value

    def _task(self, value: object) -> str:
        if value not in dsc.TASKS:
            raise InvalidRequest.field("task", f"must be one of {', '.join(dsc.TASKS)}")
        return value  # type: ignore[return-value]

    async def create(self, user: Identity, body: object) -> dict[str, Any]:
        """Create an empty model (versions come from :meth:`register`).

        Raises
        ------
        InvalidRequest
            A bad field (named).
        Conflict
            The caller already has a model with this name (``ModelExists``).
        """
        body = check_fields(body, {"name", "description", "task", "visibility", "team"})
        return await asyncio.to_thread(self._create, user, body)

    def _create(self, user: Identity, body: dict) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InvalidRequest.field(
                "name", "required: 1-63 lower-case letters, digits, '-' or '_', starting with a "
                "letter or digit",
            )  # fmt: skip
        visibility, team = sharing.check_visibility(
            user, body.get("visibility", "private"), body.get("team")
        )
        now = utcnow()
        model = Model(
            id=f"mdl-{secrets.token_hex(6)}", owner=user.name, name=name,
            description=self._text(body, "description"),
            task=self._task(body.get("task", "generic")), team=team, visibility=visibility,
            version_seq=0, created=now, updated=now,
        )  # fmt: skip
        with self.sessions() as db:
            db.add(model)
            try:
                db.commit()
            except IntegrityError:
                raise Conflict(f"you already have a model named {name}",
                               reason="ModelExists") from None  # fmt: skip
            self.log.info("Model %s/%s created (%s)", user.name, name, model.id)
            return self._model_dict(db, model)

    async def list(
        self,
        user: Identity,
        *,
        q: str = "",
        task: str | None = None,
        stage: str | None = None,
        owner: str | None = None,
        visibility: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Models the caller may read, most recently changed first, and the total count."""
        query = sharing.listing(Model, user, q=q, owner=owner, visibility=visibility)
        if task:
            query = query.where(Model.task == self._task(task))
        if stage:
            if stage not in STAGES:
                raise InvalidRequest.field("stage", f"must be one of {', '.join(STAGES)}")
            # Production has its own unique index (production_of); the other stages use the
            # (stage, model_id) index. Either way no scan of every version.
            having = (
                select(ModelVersion.production_of).where(ModelVersion.production_of.is_not(None))
                if stage == "production"
                else select(ModelVersion.model_id).where(ModelVersion.stage == stage)
            )
            query = query.where(Model.id.in_(having))

        def run() -> tuple[list[dict[str, Any]], int]:
            with self.sessions() as db:
                rows, total = sharing.page(db, query, Model, offset, limit)
                return self._model_dicts(db, rows), total

        return await asyncio.to_thread(run)

    async def get(self, user: Identity, model_id: str) -> dict[str, Any]:
        with self.sessions() as db:
            return self._model_dict(db, self._get(db, user, model_id))

    async def update(self, user: Identity, model_id: str, body: object) -> dict[str, Any]:
        """Change description and task (writers), visibility and team (owner or admin)."""
        body = check_fields(body, {"description", "task", "visibility", "team"})
        with self.sessions() as db:
            model = self._get(db, user, model_id, write=True)
            if {"visibility", "team"} & set(body):
                if not (user.admin or model.owner == user.name):
                    raise Forbidden("only the owner (or an admin) may change visibility or team",
                                    reason="NotModelOwner")  # fmt: skip
                model.visibility, model.team = sharing.check_visibility(
                    user, body.get("visibility", model.visibility), body.get("team", model.team)
                )
            if "description" in body:
                model.description = self._text(body, "description")
            if "task" in body:
                model.task = self._task(body["task"])
            model.updated = utcnow()
            db.commit()
            return self._model_dict(db, model)

    async def delete(self, user: Identity, model_id: str) -> None:
        """Delete a model, its versions and their files (owner or admin).

        Raises
        ------
        Conflict
            A version is in production (``InProduction``): archive it first.
        """
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            if not (user.admin or model.owner == user.name):
                raise Forbidden("only the owner (or an admin) may delete a model",
                                reason="NotModelOwner")  # fmt: skip
            prod = db.scalar(
                select(ModelVersion.number).where(ModelVersion.production_of == model.id)
            )
            if prod is not None:
                raise Conflict(f"version {prod} is in production; archive it first",
                               reason="InProduction")  # fmt: skip
            db.delete(model)
            db.commit()
        await asyncio.to_thread(self.storage.delete, join_key("models", model_id))
        self.log.info("Model %s deleted by %s", model_id, user.name)

    async def resolve(self, user: Identity, ref: object) -> tuple[dict, dict]:
        """Find ``[owner/]name[:N]`` (or ``mdl-...[:N]``) among the models the caller may read.

        ``name`` alone is the caller's own model, else the only readable one with that name.
        Without ``:N`` the version is the latest.

        Raises
        ------
        InvalidRequest
            ``ref`` is malformed or ambiguous (the message lists ``owner/name`` candidates).
        NotFound
            No such readable model, no such version, or a model with no version yet.
        """
        m = REF_RE.match(ref) if isinstance(ref, str) else None
        if m is None or not (NAME_RE.match(m["name"]) or ID_RE.match(m["name"])):
            raise InvalidRequest.field("ref", "must be [owner/]name[:N], like alice/resnet:3")
        number = self._number(m["version"], "ref") if m["version"] else None

        def run() -> tuple[dict, dict]:
            with self.sessions() as db:
                model = self._find(db, user, m["owner"], m["name"], str(ref))
                query = select(ModelVersion).where(ModelVersion.model_id == model.id)
                if number is not None:
                    query = query.where(ModelVersion.number == number)
                row = db.scalars(query.order_by(ModelVersion.number.desc()).limit(1)).first()
                if row is None:
                    what = f"version {number}" if number is not None else "version yet"
                    raise NotFound(f"model {model.owner}/{model.name} has no {what}",
                                   reason="VersionNotFound")  # fmt: skip
                return self._model_dict(db, model), self._version_dict(db, model, row)

        return await asyncio.to_thread(run)

    def _find(self, db: Session, user: Identity, owner: str | None, name: str, ref: str) -> Model:
        if ID_RE.match(name):
            return self._get(db, user, name)
        query = select(Model).where(Model.name == name)
        if owner:
            query = query.where(Model.owner == owner)
        rows = [mo for mo in db.scalars(query.order_by(Model.owner)) if sharing.can_read(mo, user)]
        own = [mo for mo in rows if mo.owner == user.name]
        if not owner and own:
            rows = own
        if not rows:
            raise NotFound(f"model {ref} not found", reason="ModelNotFound")
        if len(rows) > 1:
            names = ", ".join(f"{mo.owner}/{mo.name}" for mo in rows)
            raise InvalidRequest.field("ref", f"{name} is ambiguous: use one of {names}")
        return rows[0]

    # ---- for the job manager (blocking; ids come from rows it resolved) ----------------------

    def version_prefix(self, model_id: str, number: int) -> str:
        with self.sessions() as db:
            return (
                db.scalar(
                    select(ModelVersion.prefix).where(
                        ModelVersion.model_id == model_id, ModelVersion.number == number
                    )
                )
                or ""
            )

    def version_files_sync(self, model_id: str, number: int) -> list[dict[str, Any]]:
        with self.sessions() as db:
            files = db.scalar(
                select(ModelVersion.files).where(
                    ModelVersion.model_id == model_id, ModelVersion.number == number
                )
            )
            return list(files or [])

    # ================================================================== registration

    async def register_by_name(self, user: Identity, body: object) -> dict[str, Any]:
        """``POST /models/register``: the caller's model ``name`` (created when missing) gets a
        new version from ``source``. Accepts the Kubeflow Model Registry names too."""
        body = check_fields(body, {
            "name", "source", "description", "task", "visibility", "team", "model_description",
            "model_format_name", "model_format_version", "metadata", "version", *VERSION_FIELDS,
        })  # fmt: skip
        body = dict(body)
        if "model_format_name" in body:
            name = body.pop("model_format_name")
            body.setdefault("format", KUBEFLOW_FORMATS.get(name, name))
        if "model_format_version" in body:
            body.setdefault("framework_version", body.pop("model_format_version"))
        if "metadata" in body:
            meta = body.pop("metadata")
            if not isinstance(meta, dict):
                raise InvalidRequest.field("metadata", "must be an object of strings")
            body.setdefault("tags", {str(k): str(v) for k, v in meta.items()})
        if "version" in body:
            body.setdefault("version_name", body.pop("version"))
        model_fields = {"name": body.get("name")}
        for key in ("task", "visibility", "team"):
            if key in body:
                model_fields[key] = body.pop(key)
        if "model_description" in body:
            model_fields["description"] = body.pop("model_description")
        name = body.pop("name", None)
        if name is None:
            name = model_fields["name"] = await self._descriptor_name(user, body.get("source"))
        model_id = await asyncio.to_thread(self._own_model_id, user, name, model_fields)
        return await self.register(user, model_id, body)

    async def _descriptor_name(self, user: Identity, source: object) -> str | None:
        """The ``name`` in the source folder's tz-model.json, when the caller gave none."""
        folder, _, _ = await self._source(user, source)
        try:
            raw = await asyncio.to_thread(
                self.storage.get_bytes, join_key(folder, dsc.DESCRIPTOR)
            )
            name = json.loads(raw).get("name")
        except (FileNotFoundError, ValueError, AttributeError):
            return None
        return name if isinstance(name, str) else None

    def _own_model_id(self, user: Identity, name: object, fields: dict) -> str:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InvalidRequest.field("name", "required: a model name like resnet50")
        with self.sessions() as db:
            found = db.scalar(select(Model.id).where(Model.owner == user.name, Model.name == name))
        if found:
            return found
        try:
            return self._create(user, fields)["id"]
        except Conflict:  # created by a concurrent registration: use it
            with self.sessions() as db:
                return db.scalar(
                    select(Model.id).where(Model.owner == user.name, Model.name == name)
                )  # type: ignore[return-value]

    async def register(
        self,
        user: Identity,
        model_id: str,
        body: object,
        *,
        parent: int | None = None,
        conversion_source: dict | None = None,
    ) -> dict[str, Any]:
        """A new version of ``model_id`` from a job's output folder or a workspace folder.

        ``body`` is ``{"source": {"job", "path"} | {"space", "path"}, ...version fields}``; the
        folder's ``tz-model.json`` (when present) gives defaults for the version fields.

        Raises
        ------
        InvalidRequest
            A bad source, descriptor or field (named; descriptor errors name their path).
        NotFound
            No such model, job or folder visible to the caller.
        Conflict
            The job has not succeeded (``JobNotSucceeded``).
        PayloadTooLarge
            Over ``max_version_files`` or ``max_version_bytes``.
        """
        body = check_fields(body, {"source", *VERSION_FIELDS})
        with self.sessions() as db:
            model = self._get(db, user, model_id, write=True)
            owner, name = model.owner, model.name
        folder, source, lineage = await self._source(user, body.get("source"))
        if conversion_source is not None:
            source = {**source, "kind": "conversion", **conversion_source}
        files = await asyncio.to_thread(self._list_folder, folder)
        desc = await self._descriptor(folder, files, body)
        uid = secrets.token_hex(6)
        prefix = join_key("models", model_id, "versions", uid)
        try:
            recorded = await self._copy_files(folder, files, prefix, desc)
            row = await asyncio.to_thread(
                self._insert, user, model_id, prefix, desc, recorded, source, lineage, parent
            )
        except BaseException:
            await asyncio.to_thread(self.storage.delete, prefix)
            raise
        self.log.info("Model %s/%s version %s registered by %s from %s", owner, name,
                      row["version"], user.name, source)  # fmt: skip
        return row

    async def _source(self, user: Identity, source: object) -> tuple[str, dict, dict]:
        """``(storage key of the folder, source record, lineage)`` for a version's files."""
        if not isinstance(source, dict):
            raise InvalidRequest.field("source", 'must be {"job", "path"} or {"space", "path"}')
        if "job" in source:
            check_fields(source, {"job", "path"}, "source")
            job_id = source["job"]
            if not isinstance(job_id, str):
                raise InvalidRequest.field("source.job", "must be a job id")
            try:
                job = await self.jobs.get(user, job_id)
            except NotFound:
                raise NotFound(f"job {job_id} not found", reason="JobNotFound") from None
            if job["status"] != SUCCEEDED:
                raise Conflict(f"job {job_id} is {job['status']}; register models of a "
                               "succeeded job", reason="JobNotSucceeded")  # fmt: skip
            path = source.get("path", "model")
            segments = check_path(path, "source.path") if path not in ("", ".") else []
            folder = join_key(job["output_dir"], *segments)
            return (
                folder,
                {"kind": "job", "job_id": job_id, "path": "/".join(segments)},
                (self._job_lineage(job)),
            )
        check_fields(source, {"space", "path"}, "source")
        space, path = source.get("space"), source.get("path", "")
        if not isinstance(space, str) or not isinstance(path, str):
            raise InvalidRequest.field("source.space", "space and path must be strings")
        folder = workspace_key(user, space, path, "source.path")
        return folder, {"kind": "workspace", "space": space, "path": path}, {}

    @staticmethod
    def _job_lineage(job: dict[str, Any]) -> dict[str, Any]:
        spec = job["spec"]
        return {
            "job": {"id": job["id"], "name": job["name"], "owner": job["owner"],
                    "framework": job["framework"], "status": job["status"]},
            "datasets": job["lineage"]["datasets"],
            "models": job["lineage"].get("models", []),
            "code_snapshot": spec.get("snapshot"),
            "image": spec.get("image"),
            # Variable names only: values may be credentials, and a model is shared wider than
            # the job that made it.
            "parameters": {"entry": spec.get("entry"), "args": spec.get("args", []),
                           "env": sorted(spec.get("env") or {}), "nodes": spec.get("nodes"),
                           "procs_per_node": spec.get("procs_per_node")},
        }  # fmt: skip

    def _list_folder(self, folder: str) -> list[tuple[str, int]]:
        """``(relative path, size)`` of every file under ``folder``, sorted."""
        fs, root = self.storage.fs, self.storage.path(folder)
        try:
            found = fs.find(root, detail=True)
        except FileNotFoundError:
            found = {}
        out = []
        for full, info in found.items():
            if info.get("type") != "file":
                continue
            rel = full[len(root.rstrip("/")) + 1 :] if full != root else posixpath.basename(full)
            out.append((rel, int(info.get("size") or 0)))
        if not out:
            raise NotFound("the source folder has no files", reason="PathNotFound")
        if len(out) > self.max_version_files:
            raise PayloadTooLarge(f"the folder has {len(out)} files; a version holds at most "
                                  f"{self.max_version_files}", reason="TooManyFiles")  # fmt: skip
        total = sum(size for _, size in out)
        if total > self.max_version_bytes:
            raise PayloadTooLarge(
                f"the folder holds {total} bytes; a version holds at most "
                f"{self.max_version_bytes}", reason="VersionTooLarge",
            )  # fmt: skip
        return sorted(out)

    async def _descriptor(
        self, folder: str, files: list[tuple[str, int]], body: dict
    ) -> dict[str, Any]:
        """The version's descriptor: the folder's tz-model.json, overridden by ``body``."""
        names = {path for path, _ in files}
        base: dict[str, Any] = {}
        if dsc.DESCRIPTOR in names:
            raw = await asyncio.to_thread(self.storage.get_bytes, join_key(folder, dsc.DESCRIPTOR))
            try:
                base = json.loads(raw)
            except ValueError as e:
                raise InvalidRequest.field(dsc.DESCRIPTOR, f"is not valid JSON: {e}") from None
            if not isinstance(base, dict):
                raise InvalidRequest.field(dsc.DESCRIPTOR, "must be a JSON object")
        merged = {**base, **{k: v for k, v in body.items() if k != "source"}}
        merged.pop("version_name", None)
        if "artifact" not in merged:
            payload = sorted(names - {dsc.DESCRIPTOR})
            if len(payload) != 1:
                raise InvalidRequest.field("artifact", "required: name the main file of the "
                                           "version (the folder holds several)")  # fmt: skip
            merged["artifact"] = payload[0]
        try:
            desc = dsc.validate(merged)
        except dsc.DescriptorError as e:
            field, _, problem = str(e).partition(": ")
            raise InvalidRequest.field(
                field if problem else "descriptor", problem or str(e)
            ) from None
        artifact = desc["artifact"].rstrip("/")
        if artifact not in names and not any(n.startswith(artifact + "/") for n in names):
            raise InvalidRequest.field("artifact", f"{artifact} is not in the folder")
        builder = desc.get("builder")
        if builder and builder["module"] not in names:
            raise InvalidRequest.field(
                "builder.module", f"{builder['module']} is not in the folder"
            )
        card = desc.get("card") or ""
        if card and "\n" not in card and card in names:
            raw = await asyncio.to_thread(self.storage.get_bytes, join_key(folder, card))
            if len(raw) > MAX_DESCRIPTION:
                raise InvalidRequest.field("card", f"{card} is longer than {MAX_DESCRIPTION} bytes")
            desc["card"] = raw.decode("utf-8", "replace")
        desc["version_name"] = body.get("version_name")
        if desc["version_name"] is not None:
            self._text({"version_name": desc["version_name"]}, "version_name", limit=255)
        return desc

    async def _copy_files(
        self, folder: str, files: list[tuple[str, int]], prefix: str, desc: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Copy ``files`` under ``prefix`` recording each one's sha256; write the descriptor."""
        sem = asyncio.Semaphore(8)

        def copy(rel: str) -> dict[str, Any]:
            fs = self.storage.fs
            digest, size = hashlib.sha256(), 0
            src, dst = (
                self.storage.path(join_key(folder, rel)),
                self.storage.path(join_key(prefix, rel)),
            )
            fs.makedirs(posixpath.dirname(dst), exist_ok=True)
            with fs.open(src, "rb") as fin, fs.open(dst, "wb") as fout:
                while chunk := fin.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    fout.write(chunk)
            return {"path": rel, "size": size, "sha256": digest.hexdigest()}

        async def one(rel: str) -> dict[str, Any]:
            async with sem:
                try:
                    return await asyncio.to_thread(copy, rel)
                except FileNotFoundError:
                    raise NotFound(f"{rel} disappeared while being registered",
                                   reason="PathNotFound") from None  # fmt: skip

        recorded = await asyncio.gather(*(one(rel) for rel, _ in files if rel != dsc.DESCRIPTOR))
        data = json.dumps(
            {k: v for k, v in desc.items() if k != "version_name" and v is not None}, indent=2
        ).encode()
        await asyncio.to_thread(self.storage.put_bytes, join_key(prefix, dsc.DESCRIPTOR), data)
        recorded.append(
            {"path": dsc.DESCRIPTOR, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        return sorted(recorded, key=lambda f: f["path"])

    def _insert(
        self,
        user: Identity,
        model_id: str,
        prefix: str,
        desc: dict[str, Any],
        files: list[dict[str, Any]],
        source: dict[str, Any],
        lineage: dict[str, Any],
        parent: int | None,
    ) -> dict[str, Any]:
        with self.sessions() as db:
            db.execute(
                update(Model).where(Model.id == model_id)
                .values(version_seq=Model.version_seq + 1, updated=utcnow())
            )  # fmt: skip
            model = db.get(Model, model_id, populate_existing=True)
            if model is None:
                raise NotFound(f"model {model_id} not found", reason="ModelNotFound")
            parent_id = None
            if parent is not None:
                parent_id = db.scalar(select(ModelVersion.id).where(
                    ModelVersion.model_id == model_id, ModelVersion.number == parent))  # fmt: skip
            row = ModelVersion(
                model_id=model_id, number=model.version_seq, prefix=prefix,
                version_name=desc.get("version_name"), description=desc.get("description") or "",
                format=desc["format"], framework=desc.get("framework") or "",
                framework_version=desc.get("framework_version") or "",
                artifact=desc["artifact"], signature=desc.get("signature") or {},
                metrics=desc.get("metrics") or {}, parameters=desc.get("parameters") or {},
                tags=desc.get("tags") or {}, labels=desc.get("labels") or [],
                preprocess=desc.get("preprocess"), builder=desc.get("builder"),
                card=desc.get("card") or "", stage="none", production_of=None,
                size_bytes=sum(f["size"] for f in files), files=files, source=source,
                job_id=source.get("job_id"), parent_id=parent_id,
                conversion=desc.get("conversion"), lineage=lineage, created=utcnow(),
                created_by=user.name,
            )  # fmt: skip
            if desc.get("description") and not model.description:
                model.description = desc["description"]
            if desc.get("task") and model.task == "generic":
                model.task = desc["task"]
            db.add(row)
            db.commit()
            return self._version_dict(db, model, row)

    # ================================================================== versions

    async def versions(
        self, user: Identity, model_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        def run() -> tuple[list[dict[str, Any]], int]:
            with self.sessions() as db:
                model = self._get(db, user, model_id)
                query = select(ModelVersion).where(ModelVersion.model_id == model.id)
                total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
                rows = db.scalars(
                    query.order_by(ModelVersion.number.desc()).offset(offset).limit(limit)
                ).all()
                return self._version_dicts(db, model, list(rows)), total

        return await asyncio.to_thread(run)

    async def version(self, user: Identity, model_id: str, number: object) -> dict[str, Any]:
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            return self._version_dict(db, model, self._version(db, model, number))

    async def update_version(
        self, user: Identity, model_id: str, number: object, body: object
    ) -> dict[str, Any]:
        """Change a version's description, card, tags or metrics (its files never change)."""
        body = check_fields(body, {"description", "card", "tags", "metrics"})
        try:
            checked = dsc.validate({"format": "custom", "artifact": "x", **body})
        except dsc.DescriptorError as e:
            field, _, problem = str(e).partition(": ")
            raise InvalidRequest.field(field if problem else "body", problem or str(e)) from None
        with self.sessions() as db:
            model = self._get(db, user, model_id, write=True)
            row = self._version(db, model, number)
            for key in body:
                setattr(row, key, checked.get(key) if checked.get(key) is not None else body[key])
            model.updated = utcnow()
            db.commit()
            return self._version_dict(db, model, row)

    async def delete_version(self, user: Identity, model_id: str, number: object) -> None:
        """Delete a version and its files.

        Raises
        ------
        Conflict
            The version is in production (``InProduction``).
        """
        with self.sessions() as db:
            model = self._get(db, user, model_id, write=True)
            row = self._version(db, model, number)
            if row.stage == "production":
                raise Conflict(f"version {row.number} is in production; archive it first",
                               reason="InProduction")  # fmt: skip
            prefix = row.prefix
            db.execute(
                update(ModelVersion).where(ModelVersion.parent_id == row.id).values(parent_id=None)
            )
            db.delete(row)
            db.commit()
        await asyncio.to_thread(self.storage.delete, prefix)

    async def files(self, user: Identity, model_id: str, number: object) -> list[dict[str, Any]]:
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            return list(self._version(db, model, number).files)

    async def open_file(
        self, user: Identity, model_id: str, number: object, path: str
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """One file of a version and its bytes, checked against the recorded sha256 as they
        stream (the iterator raises ``Conflict`` ``ContentChanged`` at the end on a mismatch)."""
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            row = self._version(db, model, number)
            entry = next((f for f in row.files if f["path"] == path), None)
            prefix = row.prefix
        if entry is None:
            raise NotFound(f"version {number} has no file {path!r}", reason="PathNotFound")
        return entry, await self._open_verified(prefix, entry)

    async def _open_verified(self, prefix: str, entry: dict) -> AsyncIterator[bytes]:
        """The bytes of file ``entry`` of the version stored under ``prefix``, checked as they
        stream (see :meth:`_verified`)."""
        chunks = await self.workspace.read_key(join_key(prefix, entry["path"]), CHUNK)
        if chunks is None:
            raise NotFound(f"the bytes of {entry['path']!r} are gone from storage",
                           reason="SourceMissing")  # fmt: skip
        return self._verified(chunks, entry)

    async def open_version_zip(
        self, user: Identity, model_id: str, number: object
    ) -> tuple[str, AsyncIterator[bytes]]:
        """A version's files as one ZIP (``<name>-v<N>/<path>``): its file name and its bytes,
        made while they stream, every file checked against its sha256 on the way (a changed
        one ends the stream before the archive is complete)."""
        from ..datasets.workspace import WalkedFile
        from ..datasets.zipdownload import zip_stream

        with self.sessions() as db:
            model = self._get(db, user, model_id)
            row = self._version(db, model, number)
            entries = {f["path"]: f for f in row.files}
            prefix, root = row.prefix, f"{model.name}-v{row.number}"
            stamp = row.created.replace(tzinfo=UTC).timestamp()
        files = [WalkedFile(path, join_key(prefix, path), int(e["size"]), stamp)
                 for path, e in sorted(entries.items())]  # fmt: skip

        async def read(f: WalkedFile) -> AsyncIterator[bytes] | None:
            return await self._open_verified(prefix, entries[f.rel])

        return f"{root}.zip", zip_stream(root, files, read)

    @staticmethod
    async def _verified(chunks: AsyncIterator[bytes], entry: dict) -> AsyncIterator[bytes]:
        digest, held = hashlib.sha256(), None
        async for chunk in chunks:
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
        if digest.hexdigest() != entry["sha256"]:
            raise Conflict(f"{entry['path']} changed in storage since it was registered",
                           reason="ContentChanged")  # fmt: skip
        if held is not None:
            yield held

    # ================================================================== stages

    async def set_stage(
        self, user: Identity, model_id: str, number: object, body: object
    ) -> dict[str, Any]:
        """Move a version to a stage; promoting to production archives the previous one.

        Both moves are one transaction under the model's lock and are recorded in the history.

        Raises
        ------
        InvalidRequest
            An unknown ``stage`` or a bad ``comment``.
        """
        body = check_fields(body, {"stage", "comment"})
        stage = body.get("stage")
        if stage not in STAGES:
            raise InvalidRequest.field("stage", f"must be one of {', '.join(STAGES)}")
        comment = self._text(body, "comment", limit=2000)
        for attempt in range(5):
            try:
                return await asyncio.to_thread(self._set_stage, user, model_id, number, stage,
                                               comment)  # fmt: skip
            except IntegrityError:
                # Only reachable where the model lock does not serialise (it does on SQLite and
                # MySQL); the unique index kept the data right, so try again on fresh rows.
                await asyncio.sleep(0.05 * (attempt + 1))
        raise Conflict("another stage change of this model kept winning; try again",
                       reason="StageConflict")  # fmt: skip

    def _set_stage(
        self, user: Identity, model_id: str, number: object, stage: str, comment: str
    ) -> dict[str, Any]:
        with self.sessions() as db:
            model = self._get(db, user, model_id, write=True)
            model = self._lock(db, model.id)
            row = self._version(db, model, number)
            if row.stage == stage:
                return self._version_dict(db, model, row)
            now = utcnow()
            if stage == "production":
                for old in db.scalars(
                    select(ModelVersion).where(ModelVersion.production_of == model.id)
                ):
                    old.stage, old.production_of = "archived", None
                    db.add(ModelStageEvent(
                        model_id=model.id, version=old.number, from_stage="production",
                        to_stage="archived", by=user.name, time=now,
                        comment=f"replaced by version {row.number}",
                    ))  # fmt: skip
                db.flush()
            db.add(ModelStageEvent(
                model_id=model.id, version=row.number, from_stage=row.stage, to_stage=stage,
                by=user.name, time=now, comment=comment,
            ))  # fmt: skip
            row.stage = stage
            row.production_of = model.id if stage == "production" else None
            db.commit()
            self.log.info("Model %s/%s version %s -> %s by %s", model.owner, model.name,
                          row.number, stage, user.name)  # fmt: skip
            return self._version_dict(db, model, row)

    async def history(self, user: Identity, model_id: str) -> list[dict[str, Any]]:
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            rows = db.scalars(
                select(ModelStageEvent)
                .where(ModelStageEvent.model_id == model.id)
                .order_by(ModelStageEvent.id.desc())
            )
            return [
                {"version": e.version, "from": e.from_stage, "to": e.to_stage, "by": e.by,
                 "time": isoformat(e.time), "comment": e.comment}
                for e in rows
            ]  # fmt: skip

    # ================================================================== lineage

    async def lineage(self, user: Identity, model_id: str, number: object) -> dict[str, Any]:
        """The version's family as a graph: dataset versions → job → versions (root first,
        then every conversion of it) → evaluations (and the datasets they ran on)."""
        return await asyncio.to_thread(self._lineage, user, model_id, number)

    @staticmethod
    def _family(db: Session, model_id: str, version_id: int) -> list[Any]:
        """The original of a version and every conversion of it, in version order.

        Conversions stay within their model, so the links of the model's versions (two integers
        each) are read once and walked here; only the family's own rows are then loaded, with
        just the columns the graph shows. A chain of 100 conversions is 2 queries, not 200.
        """
        links: dict[int, int | None] = dict(db.execute(  # type: ignore[arg-type]
            select(ModelVersion.id, ModelVersion.parent_id)
            .where(ModelVersion.model_id == model_id)
        ).all())  # fmt: skip
        root, seen = version_id, {version_id}
        while links.get(root) in links and links[root] not in seen:
            root = links[root]  # type: ignore[assignment]
            seen.add(root)
        children: dict[int, list[int]] = {}
        for child, parent in links.items():
            if parent is not None:
                children.setdefault(parent, []).append(child)
        family, frontier = {root}, [root]
        while frontier:
            frontier = [c for f in frontier for c in children.get(f, ()) if c not in family]
            family.update(frontier)
        return list(db.execute(
            select(ModelVersion.id, ModelVersion.parent_id, ModelVersion.number,
                   ModelVersion.format, ModelVersion.stage, ModelVersion.lineage)
            .where(ModelVersion.id.in_(family)).order_by(ModelVersion.number)
        ).all())  # fmt: skip

    def _lineage(self, user: Identity, model_id: str, number: object) -> dict[str, Any]:
        with self.sessions() as db:
            model = self._get(db, user, model_id)
            row = self._version(db, model, number)
            family = self._family(db, model.id, row.id)
            nodes: dict[str, dict[str, Any]] = {}
            edges: list[dict[str, str]] = []

            def node(node_id: str, kind: str, label: str, **extra: Any) -> str:
                nodes.setdefault(node_id, {"id": node_id, "kind": kind, "label": label, **extra})
                return node_id

            def dataset_node(d: dict[str, Any]) -> str:
                ref = f"{d['owner']}/{d['name']}:{d['version']}"
                return node(f"dataset:{ref}", "dataset", f"{d['name']}:{d['version']}", ref=ref,
                            dataset_id=d.get("dataset_id"))  # fmt: skip

            by_id = {v.id: v for v in family}
            for v in family:
                ref = version_ref(model.owner, model.name, v.number)
                vid = node(f"version:{ref}", "version", f"{model.name}:{v.number} ({v.format})",
                           ref=ref, model_id=model.id, version=v.number, stage=v.stage)  # fmt: skip
                job = (v.lineage or {}).get("job")
                if v.parent_id in by_id:
                    # A conversion: its job rides on the edge, so the graph keeps the shape
                    # dataset -> training job -> version -> converted versions.
                    pref = version_ref(model.owner, model.name, by_id[v.parent_id].number)
                    edges.append({"from": f"version:{pref}", "to": vid, "kind": "converted",
                                  "job": job["id"] if job else None})  # fmt: skip
                elif job:
                    jid = node(f"job:{job['id']}", "job", job["name"], ref=job["id"])
                    edges.append({"from": jid, "to": vid, "kind": "produced"})
                    for d in v.lineage.get("datasets", []):
                        edges.append({"from": dataset_node(d), "to": jid, "kind": "trained_on"})
            runs = db.scalars(
                select(ModelRun).where(
                    ModelRun.model_id == model.id, ModelRun.kind == "evaluate",
                    ModelRun.version.in_([v.number for v in family]),
                ).order_by(ModelRun.created)
            )  # fmt: skip
            for run in runs:
                status = self.run_dict(db, run)["status"]
                ref = version_ref(model.owner, model.name, run.version)
                acc = (run.metrics or {}).get("accuracy")
                label = f"eval {status}" if acc is None else f"eval acc {acc:.3f}"
                eid = node(f"evaluation:{run.id}", "evaluation", label, ref=run.id, status=status)
                edges.append({"from": f"version:{ref}", "to": eid, "kind": "evaluated"})
                if run.dataset:
                    edges.append({"from": dataset_node(run.dataset), "to": eid,
                                  "kind": "evaluated_on"})  # fmt: skip
            return {"nodes": list(nodes.values()), "edges": edges}

    # ================================================================== compare

    async def compare(
        self, user: Identity, refs: object, dataset: str | None = None
    ) -> dict[str, Any]:
        """Versions side by side with their latest succeeded evaluation (on ``dataset`` when
        given): accuracy delta, latency ratio and size ratio against the first one.

        Raises
        ------
        InvalidRequest
            ``versions`` is empty, too long, or names a malformed or unreadable version.
        """
        if not isinstance(refs, list) or not refs or len(refs) > 50:
            raise InvalidRequest.field(
                "versions", "give 1 to 50 versions, like alice/m:1,alice/m:2"
            )
        want = None
        if dataset:
            if self.datasets is None:
                raise InvalidRequest.field("dataset", "datasets are not enabled here")
            try:
                ds, ver = await self.datasets.resolve(user, dataset)
            except (InvalidRequest, NotFound) as e:
                raise InvalidRequest.field("dataset", e.message) from None
            want = (ds["id"], ver["version"] if ver else None)
        rows = []
        for i, ref in enumerate(refs):
            try:
                model, version = await self.resolve(user, ref)
            except (InvalidRequest, NotFound) as e:
                raise InvalidRequest.field(f"versions[{i}]", e.message) from None
            evaluation = next(
                (e for e in version["evaluations"] if e["status"] == SUCCEEDED and (
                    want is None or ((e["dataset_lineage"] or {}).get("dataset_id"),
                                     (e["dataset_lineage"] or {}).get("version")) == want)),
                None,
            )  # fmt: skip
            rows.append({
                "ref": version["ref"], "model_id": model["id"], "version": version["version"],
                "format": version["format"], "size_bytes": version["size_bytes"],
                "runtime": ((evaluation or {}).get("speed") or {}).get("runtime"),
                "evaluation_id": evaluation["id"] if evaluation else None,
                "dataset": evaluation["dataset"] if evaluation else None,
                "metrics": _flat_numbers((evaluation or {}).get("metrics") or {}),
                "speed": (evaluation or {}).get("speed") or {},
            })  # fmt: skip
        columns = sorted({k for r in rows for k in r["metrics"]})
        speed = ("latency_ms_p50", "latency_ms_p95", "throughput_per_s", "peak_memory_mb")
        columns += [k for k in speed if any(k in r["speed"] for r in rows)]
        base = rows[0]
        for r in rows:
            r["accuracy_delta"] = _delta(
                r["metrics"].get("accuracy"), base["metrics"].get("accuracy")
            )
            r["latency_ratio"] = _ratio(r["speed"].get("latency_ms_p50"),
                                        base["speed"].get("latency_ms_p50"))  # fmt: skip
            r["size_ratio"] = _ratio(r["size_bytes"], base["size_bytes"])
        return {"baseline": base["ref"], "dataset": dataset, "columns": columns, "rows": rows}

    @staticmethod
    def compare_csv(result: dict[str, Any]) -> str:
        """The comparison as CSV: one row per version, every column, then the ratios."""
        out = io.StringIO()
        writer = csv.writer(out)
        head = ["ref", "format", "runtime", "size_bytes", "dataset", *result["columns"],
                "accuracy_delta", "latency_ratio", "size_ratio"]  # fmt: skip
        writer.writerow(head)
        for r in result["rows"]:
            values = {**r["speed"], **r["metrics"], **r}
            writer.writerow([_csv_cell(values.get(k)) for k in head])
        return out.getvalue()


def _flat_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The top-level numeric metrics (per-class tables and matrices stay in the evaluation)."""
    return {
        k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _delta(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else value - base


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def _csv_cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to spreadsheets; refs and formats are user text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
