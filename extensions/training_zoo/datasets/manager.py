"""``TzDatasetManager``: datasets, their editable draft and immutable published versions.

It owns the dataset records (SQLAlchemy), enforces who may read and write them (a dataset the
caller may not read is "not found"), copies file bytes from the workspace into content-addressed
blobs, keeps per-file revisions so several people can label one draft, freezes drafts into
versions, and imports/exports annotations. It imports nothing from tornado.

Storage layout (TzStorage keys)::

    datasets/<id>/blobs/<sha256>                     file bytes added from the workspace
    datasets/<id>/versions/<Vnnn>/manifest.jsonl     a published manifest (never rewritten)

Concurrency rules, valid on SQLite and on MySQL/TiDB alike:

- Every transaction that changes a dataset's draft first runs an ``UPDATE`` on the dataset's row
  (bumping ``draft_revision``). That statement takes the row lock on MySQL and the database write
  lock on SQLite, so draft changes of one dataset are serialised and always take their locks in
  the same order (dataset row, then file rows): no lost updates, no lock-order deadlocks.
- A label write is a compare-and-set on the file's ``revision``; a stale one changes nothing and
  answers 409 ``StaleRevision`` with the current file. Different files never conflict.
- Publishing numbers versions with ``version_seq = version_seq + 1`` on the dataset row and reads
  the draft in the same transaction, so each publisher gets its own number and a consistent
  snapshot taken in number order. The manifest is written under that number *before* the version
  row is inserted; a failure removes it again. See :meth:`TzDatasetManager.publish`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from pathlib import Path
from typing import IO, Any, TypeVar

from PIL import Image as PILImage
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from traitlets import Any as AnyTrait
from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from .. import sharing
from ..db.orm import Dataset, DatasetBlobGarbage, DatasetFile, DatasetVersion
from ..errors import (
    BackendUnavailable,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from ..identity import Identity
from ..jobs.manager import isoformat, utcnow
from ..jobs.types import check_fields
from ..storage import TzStorage, join_key
from . import formats, garbage
from . import manifests as mf
from .paths import MAX_KEY_BYTES, RESERVED_PREFIX, check_path, workspace_key
from .previews import DECODED_FORMATS, TzPreviews
from .workspace import TzWorkspace, WalkedFile

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ID_RE = re.compile(r"^ds-[0-9a-f]{12}$")
REF_RE = re.compile(
    r"^(?:(?P<owner>[^/:\s]{1,255})/)?(?P<name>[^/:\s]+)(?::(?P<version>[^/:\s]+))?$"
)
TYPES = ("image_classification", "object_detection", "text", "tabular", "generic")
VISIBILITIES = ("private", "team", "public")
MAX_DESCRIPTION = 20_000
CHUNK = 1 << 20
_T = TypeVar("_T")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


MAX_SINGLE_COPY = 5 * 1024**3  # S3 CopyObject's limit


def _str(body: dict, name: str, default: str | None = None, limit: int = 1024) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise InvalidRequest.field(name, "must be a string")
    if len(value) > limit:
        raise InvalidRequest.field(name, f"longer than {limit} characters")
    return value


class TzDatasetManager(LoggingConfigurable):
    """Datasets: create, list, files, labeling, publish, versions, diff, import and export."""

    max_files_per_request = Integer(
        100_000,
        help="""Most files one request may add to a draft (a workspace folder or an S3 prefix,
        counted recursively). Bigger trees are added in several requests, by subfolder.
        Why: every file is hashed (read once) before the request answers. Default: 100000.
        """,
    ).tag(config=True)

    hash_concurrency = Integer(
        16,
        help="""Files hashed and copied at once when adding files to a draft. Higher is faster on
        S3 (each file is at least one request) and costs more memory (one 1 MiB buffer each).
        Default: 16.
        """,
    ).tag(config=True)

    max_annotation_file_bytes = Integer(
        256 * 1024 * 1024,
        help="""Largest COCO JSON or manifest file that ``import`` reads, in bytes (it is parsed
        in memory). Default: 268435456 (256 MiB).
        """,
    ).tag(config=True)

    manifest_cache_size = Integer(
        32,
        help="""Published manifests kept parsed in memory (they are immutable), for paging through
        a version's files and serving its files' content without re-reading the manifest.
        Default: 32.
        """,
    ).tag(config=True)

    storage = Instance(TzStorage)
    workspace = Instance(TzWorkspace)
    previews = Instance(TzPreviews, allow_none=True)
    session_factory = AnyTrait()
    collector = Instance(garbage.TzBlobCollector, allow_none=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: sessionmaker[Session] = self.session_factory
        if self.previews is None:
            self.previews = TzPreviews(parent=self, storage=self.storage)
        if self.collector is None:
            self.collector = garbage.TzBlobCollector(parent=self)
        self.collector.manager = self
        self._manifests: OrderedDict[tuple[str, int], list[dict]] = OrderedDict()

    # ================================================================== access

    can_read = staticmethod(sharing.can_read)
    can_write = staticmethod(sharing.can_write)

    def _get(self, db: Session, user: Identity, ds_id: str, write: bool = False) -> Dataset:
        ds = db.get(Dataset, ds_id) if isinstance(ds_id, str) else None
        if ds is None or not self.can_read(ds, user):
            raise NotFound(f"dataset {ds_id} not found", reason="DatasetNotFound")
        if write and not self.can_write(ds, user):
            raise Forbidden(
                f"you may read dataset {ds.owner}/{ds.name} but not change it",
                reason="NotDatasetWriter",
            )
        return ds

    def _lock(self, db: Session, ds_id: str, *, draft: bool = True) -> Dataset:
        """Take the dataset's write lock (see the module docstring) and return the fresh row."""
        values: dict[str, Any] = {"updated": utcnow()}
        if draft:
            values["draft_revision"] = Dataset.draft_revision + 1
        result = db.execute(update(Dataset).where(Dataset.id == ds_id).values(**values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"dataset {ds_id} not found", reason="DatasetNotFound")
        ds = db.get(Dataset, ds_id, populate_existing=True)
        assert ds is not None
        return ds

    def _visibility_clause(self, user: Identity):  # type: ignore[no-untyped-def]
        return sharing.readable_clause(Dataset, user)

    # ================================================================== dicts

    def _to_dicts(self, db: Session, rows: list[Dataset]) -> list[dict[str, Any]]:
        ids = [ds.id for ds in rows]
        drafts: dict[str, tuple[int, int, int]] = {}
        versions: dict[str, tuple[int, int]] = {}
        if ids:
            for ds_id, files, size, labeled in db.execute(
                select(DatasetFile.dataset_id, func.count(), func.sum(DatasetFile.size),
                       func.sum(case((DatasetFile.labeled, 1), else_=0)))
                .where(DatasetFile.dataset_id.in_(ids)).group_by(DatasetFile.dataset_id)
            ):  # fmt: skip
                drafts[ds_id] = (files, int(size or 0), int(labeled or 0))
            for ds_id, count, latest in db.execute(
                select(DatasetVersion.dataset_id, func.count(), func.max(DatasetVersion.number))
                .where(DatasetVersion.dataset_id.in_(ids)).group_by(DatasetVersion.dataset_id)
            ):  # fmt: skip
                versions[ds_id] = (count, latest)
        out = []
        for ds in rows:
            files, size, labeled = drafts.get(ds.id, (0, 0, 0))
            count, latest = versions.get(ds.id, (0, None))
            out.append({
                "id": ds.id, "name": ds.name, "description": ds.description, "owner": ds.owner,
                "team": ds.team, "visibility": ds.visibility, "type": ds.type,
                "labels": list(ds.labels or []), "created": isoformat(ds.created),
                "updated": isoformat(ds.updated),
                "draft": {"files": files, "bytes": size, "labeled": labeled,
                          "revision": ds.draft_revision},
                "latest_version": mf.version_name(latest) if latest else None,
                "versions": count,
            })  # fmt: skip
        return out

    def _to_dict(self, db: Session, ds: Dataset) -> dict[str, Any]:
        return self._to_dicts(db, [ds])[0]

    @staticmethod
    def file_dict(f: DatasetFile) -> dict[str, Any]:
        return {
            **mf.entry(f.key, f.size, f.sha256, f.source, f.usage, f.annotations),
            "revision": f.revision,
            "updated_by": f.updated_by,
            "updated": isoformat(f.updated),
        }

    @staticmethod
    def version_dict(v: DatasetVersion) -> dict[str, Any]:
        stats = v.stats or {}
        return {
            "version": mf.version_name(v.number),
            "created": isoformat(v.created),
            "created_by": v.created_by,
            "note": v.note,
            "files": v.files,
            "bytes": v.bytes,
            "manifest_sha256": v.manifest_sha256,
            "stats": {k: stats.get(k) for k in ("labels", "splits", "labeled")},
        }

    # ================================================================== datasets

    def _check_team(self, user: Identity, visibility: str, team: object) -> str | None:
        return sharing.check_visibility(user, visibility, team)[1]

    async def create(self, user: Identity, body: object) -> dict[str, Any]:
        """Create an empty dataset owned by the caller.

        Raises
        ------
        InvalidRequest
            A bad field (named).
        Conflict
            ``DatasetExists``: the caller already has a dataset with that name.
        """
        body = check_fields(body, {"name", "description", "type", "visibility", "team", "labels"})
        name = body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InvalidRequest.field(
                "name", "1 to 63 lowercase letters, digits, '-' or '_', starting with a letter "
                "or digit",
            )  # fmt: skip
        kind = body.get("type")
        if kind not in TYPES:
            raise InvalidRequest.field("type", f"must be one of {', '.join(TYPES)}")
        visibility = body.get("visibility", "private")
        if visibility not in VISIBILITIES:
            raise InvalidRequest.field("visibility", "must be private, team or public")
        team = self._check_team(user, visibility, body.get("team"))
        description = _str(body, "description", "", MAX_DESCRIPTION)
        labels = mf.check_label_set(body.get("labels", []))
        now = utcnow()
        ds = Dataset(
            id=f"ds-{secrets.token_hex(6)}", owner=user.name, name=name, description=description,
            team=team, visibility=visibility, type=kind, labels=labels, draft_revision=0,
            version_seq=0, created=now, updated=now,
        )  # fmt: skip
        with self.sessions() as db:
            exists = db.scalar(
                select(Dataset.id).where(Dataset.owner == user.name, Dataset.name == name)
            )
            if exists is None:
                db.add(ds)
                try:
                    db.commit()
                except IntegrityError:  # created by a concurrent request since the check
                    db.rollback()
                    exists = "yes"
            if exists is not None:
                raise Conflict(f"you already have a dataset named {name}", reason="DatasetExists")
            self.log.info("Dataset %s (%s/%s) created", ds.id, user.name, name)
            return self._to_dict(db, ds)

    async def list(
        self,
        user: Identity,
        *,
        q: str = "",
        type: str | None = None,
        owner: str | None = None,
        visibility: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Datasets the caller may read, most recently updated first, and the total count."""
        query = sharing.listing(Dataset, user, q=q, owner=owner, visibility=visibility)
        if type:
            if type not in TYPES:
                raise InvalidRequest.field("type", f"must be one of {', '.join(TYPES)}")
            query = query.where(Dataset.type == type)
        with self.sessions() as db:
            rows, total = sharing.page(db, query, Dataset, offset, limit)
            return self._to_dicts(db, rows), total

    async def get(self, user: Identity, ds_id: str) -> dict[str, Any]:
        with self.sessions() as db:
            return self._to_dict(db, self._get(db, user, ds_id))

    async def update(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Change description and labels (writers), visibility and team (owner or admin).

        Raises
        ------
        Forbidden
            A team member changing who may see the dataset, or a reader changing anything.
        """
        body = check_fields(body, {"description", "visibility", "team", "labels"})
        with self.sessions() as db:
            ds = self._get(db, user, ds_id, write=True)
            if ({"visibility", "team"} & set(body)) and not (user.admin or ds.owner == user.name):
                raise Forbidden(
                    "only the owner (or an admin) may change visibility or team",
                    reason="NotDatasetOwner",
                )
            visibility = body.get("visibility", ds.visibility)
            if visibility not in VISIBILITIES:
                raise InvalidRequest.field("visibility", "must be private, team or public")
            team = body["team"] if "team" in body else ds.team
            if "team" in body:
                team = self._check_team(user, visibility, team)
            elif visibility == "team" and team is None:
                raise InvalidRequest.field("team", "team visibility needs a team")
            description = _str(body, "description", ds.description, MAX_DESCRIPTION)
            labels = mf.check_label_set(body["labels"]) if "labels" in body else None
            ds = self._lock(db, ds_id, draft=False)
            ds.visibility, ds.team, ds.description = visibility, team, description
            if labels is not None:
                ds.labels = labels
            db.commit()
            return self._to_dict(db, ds)

    async def delete(self, user: Identity, ds_id: str) -> None:
        """Delete a dataset, its draft, its versions and their stored bytes (owner or admin)."""
        with self.sessions() as db:
            ds = self._get(db, user, ds_id, write=True)
            if not (user.admin or ds.owner == user.name):
                raise Forbidden("only the owner (or an admin) may delete a dataset",
                                reason="NotDatasetOwner")  # fmt: skip
            db.execute(DatasetVersion.__table__.delete().where(DatasetVersion.dataset_id == ds_id))
            db.execute(DatasetFile.__table__.delete().where(DatasetFile.dataset_id == ds_id))
            db.execute(DatasetBlobGarbage.__table__.delete().where(
                DatasetBlobGarbage.dataset_id == ds_id))  # fmt: skip
            db.delete(ds)
            db.commit()
        self._manifests = OrderedDict((k, v) for k, v in self._manifests.items() if k[0] != ds_id)
        await asyncio.to_thread(self.storage.delete, join_key("datasets", ds_id))
        self.log.info("Dataset %s deleted by %s", ds_id, user.name)

    async def resolve(self, user: Identity, ref: object) -> tuple[dict, dict | None]:
        """Find ``[owner/]name[:Vnnn]`` among the datasets the caller may read.

        ``name`` alone is the caller's own dataset, else the only readable one with that name.
        Without ``:V...`` the version is the latest (``None`` when nothing is published).

        Raises
        ------
        InvalidRequest
            ``ref`` is malformed, or ambiguous (the message lists ``owner/name`` candidates).
        NotFound
            No such readable dataset, or no such version.
        """
        m = REF_RE.match(ref) if isinstance(ref, str) else None
        if m is None or not NAME_RE.match(m["name"]):
            raise InvalidRequest.field("ref", "must be [owner/]name[:V001]")
        number = mf.version_number(m["version"], "ref") if m["version"] else None
        with self.sessions() as db:
            query = select(Dataset).where(Dataset.name == m["name"])
            if m["owner"]:
                query = query.where(Dataset.owner == m["owner"])
            rows = [
                ds for ds in db.scalars(query.order_by(Dataset.owner)) if self.can_read(ds, user)
            ]
            own = [ds for ds in rows if ds.owner == user.name]
            if not m["owner"] and own:
                rows = own
            if not rows:
                raise NotFound(f"dataset {ref} not found", reason="DatasetNotFound")
            if len(rows) > 1:
                names = ", ".join(f"{ds.owner}/{ds.name}" for ds in rows)
                raise InvalidRequest.field("ref", f"{m['name']} is ambiguous: use one of {names}")
            ds = rows[0]
            query = select(DatasetVersion).where(DatasetVersion.dataset_id == ds.id)
            if number is not None:
                query = query.where(DatasetVersion.number == number)
            row = db.scalars(query.order_by(DatasetVersion.number.desc()).limit(1)).first()
            if number is not None and row is None:
                raise NotFound(f"dataset {ds.owner}/{ds.name} has no version {m['version']}",
                               reason="VersionNotFound")  # fmt: skip
            return self._to_dict(db, ds), self.version_dict(row) if row else None

    @staticmethod
    def manifest_key(dataset_id: str, version: str | int) -> str:
        """Storage key of a version's manifest (``version`` as ``"V003"`` or ``3``)."""
        number = version if isinstance(version, int) else mf.version_number(version)
        return join_key("datasets", dataset_id, "versions", mf.version_name(number),
                        "manifest.jsonl")  # fmt: skip

    # ================================================================== draft files

    async def files(
        self,
        user: Identity,
        ds_id: str,
        *,
        q: str = "",
        usage: str | None = None,
        labeled: bool | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the draft's files, by key, and the total matching."""
        query = select(DatasetFile).where(DatasetFile.dataset_id == ds_id)
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(DatasetFile.key.like(like, escape="\\"))
        if usage:
            if usage == "unassigned":
                query = query.where(DatasetFile.usage.is_(None))
            elif usage in mf.USAGES:
                query = query.where(DatasetFile.usage == usage)
            else:
                raise InvalidRequest.field("usage", "must be train, val, test or unassigned")
        if labeled is not None:
            query = query.where(DatasetFile.labeled.is_(labeled))
        with self.sessions() as db:
            self._get(db, user, ds_id)
            total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = db.scalars(query.order_by(DatasetFile.key).offset(offset).limit(limit)).all()
            return [self.file_dict(f) for f in rows], total

    def _file(self, db: Session, ds_id: str, key: str) -> DatasetFile | None:
        return db.scalar(
            select(DatasetFile).where(
                DatasetFile.dataset_id == ds_id, DatasetFile.key_hash == _sha(key)
            )
        )

    def _s3_source_key(self, user: Identity, uri: object) -> tuple[str, str]:
        """``s3://bucket/...`` inside TZ's store and in a space the caller reaches → (space, path).

        Only workspace spaces the caller may reach can be referenced in place: anything else in
        the bucket (other users' spaces, other datasets' blobs, other buckets) is refused.
        """
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise InvalidRequest.field("uri", "must be s3://bucket/prefix")
        if self.workspace.is_local:
            raise InvalidRequest.field("uri", "TZ storage is a local folder, not S3")
        root = self.storage.path("x")[: -len("/x")]
        rest = uri[len("s3://") :].rstrip("/")
        if not rest.startswith(root + "/"):
            raise InvalidRequest.field("uri", f"only objects under s3://{root}/ can be imported")
        parts = rest[len(root) + 1 :].split("/")
        if len(parts) < 3 or parts[0] != "workspace" or parts[1] not in ("users", "teams"):
            raise InvalidRequest.field("uri", "must point into a workspace space you can reach")
        space = f"{'user' if parts[1] == 'users' else 'team'}:{parts[2]}"
        return space, "/".join(parts[3:])

    async def _hash_s3(self, key: str) -> tuple[str, int, str]:
        """``(sha256, size, ETag)`` of a stored object, read once."""
        ws = self.workspace
        bucket, skey = ws._bucket_key(key)
        try:
            resp = await ws._call("get_object", Bucket=bucket, Key=skey)
        except FileNotFoundError:
            raise NotFound(f"{key} disappeared while being added", reason="PathNotFound") from None
        digest, size = hashlib.sha256(), 0
        async for chunk in ws._s3_chunks(resp["Body"], CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size, resp["ETag"]

    async def _copy_if_unchanged(self, key: str, blob: str, etag: str, size: int) -> None:
        """Server-side copy of ``key`` to ``blob`` only if it still has ``etag`` (what was hashed).

        Raises
        ------
        Conflict
            When the source was overwritten after it was hashed (add it again).
        """
        ws = self.workspace
        if size > MAX_SINGLE_COPY:
            # CopyObject stops at 5 GiB; s3fs copies bigger objects in parts without the
            # condition, and reads check the sha256 instead.
            await ws._s3(self.storage.fs._cp_file(self.storage.path(key), self.storage.path(blob)))
            return
        bucket, skey = ws._bucket_key(key)
        _, bkey = ws._bucket_key(blob)
        name = key.rsplit("/", 1)[-1]
        try:
            resp = await ws._call("copy_object", Bucket=bucket, Key=bkey, CopySourceIfMatch=etag,
                                  CopySource={"Bucket": bucket, "Key": skey})  # fmt: skip
        except (FileNotFoundError, OSError) as e:
            # 412 PreconditionFailed (changed) or 404 (deleted) since it was hashed.
            raise Conflict(f"{name} changed while it was being added; add it again",
                           reason="SourceChanged", log_message=str(e)) from None  # fmt: skip
        copied = resp.get("CopyObjectResult", {}).get("ETag")
        if "-" not in etag and copied is not None and copied != etag:
            # Stores that ignore the condition: a single-part object's ETag is its MD5, and the
            # copy's must equal it. (A multipart source's ETag is not an MD5; reads still check.)
            await ws._call("delete_object", Bucket=bucket, Key=bkey)
            raise Conflict(
                f"{name} changed while it was being added; add it again", reason="SourceChanged"
            )

    def _ingest_local(self, ds_id: str, key: str, copy: bool) -> tuple[str, int]:
        src = self.storage.local_path(key)
        assert src is not None
        digest, size = hashlib.sha256(), 0
        if not copy:
            with open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            return digest.hexdigest(), size
        blobs = self.storage.local_path(join_key("datasets", ds_id, "blobs"))
        assert blobs is not None
        blobs.mkdir(parents=True, exist_ok=True)
        # Hash while copying into a temporary file, then rename it to its hash: the blob holds
        # exactly the bytes that were hashed even if the source changes meanwhile.
        tmp = blobs / f"{RESERVED_PREFIX}{uuid.uuid4().hex}"
        try:
            with open(src, "rb") as f, open(tmp, "wb") as out:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            target = blobs / digest.hexdigest()
            if not target.exists():
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return digest.hexdigest(), size

    async def _ingest(self, ds_id: str, key: str, copy: bool) -> tuple[str, int, str]:
        """Hash one stored file, copying it into the dataset's blobs when ``copy``.

        Returns ``(sha256, size, source key)``.
        """
        if self.workspace.is_local:
            sha, size = await asyncio.to_thread(self._ingest_local, ds_id, key, copy)
        else:
            sha, size, etag = await self._hash_s3(key)
            if copy:
                blob = join_key("datasets", ds_id, "blobs", sha)
                if await self.workspace._s3_head(blob) is None:
                    await self._copy_if_unchanged(key, blob, etag, size)
        source = join_key("datasets", ds_id, "blobs", sha) if copy else key
        return sha, size, source

    async def _collect(
        self, user: Identity, body: dict
    ) -> tuple[list[tuple[str, str, int]], int, bool]:
        """The files a request names: ``([(dataset key, storage key, size)], skipped, copy)``."""
        source = body.get("source")
        prefix = body.get("prefix", "")
        check_path(prefix, "prefix")
        if source == "workspace":
            check_fields(body, {"source", "space", "path", "prefix"})
            space, path = body.get("space"), body.get("path", "")
            key = workspace_key(user, space, path)  # type: ignore[arg-type]
            copy = True
        elif source == "s3":
            check_fields(body, {"source", "uri", "prefix"})
            space, path = self._s3_source_key(user, body.get("uri"))
            key = workspace_key(user, space, path, field="uri")
            copy = False
        else:
            raise InvalidRequest.field("source", "must be workspace or s3")
        kind = await self.workspace._kind(key) if path else "folder"
        if kind is None:
            raise NotFound("nothing at that path", reason="PathNotFound")
        found = (
            [(path.rsplit("/", 1)[-1], key, 0)]
            if kind == "file"
            else [(f.rel, f.key, f.size) for f in await self.workspace.walk(key)]
        )
        if len(found) > self.max_files_per_request:
            raise InvalidRequest.field(
                "path", f"more than {self.max_files_per_request} files: add subfolders one by one"
            )
        out, skipped = [], 0
        for rel, skey, size in found:
            dkey = f"{prefix}/{rel}" if prefix else rel
            try:
                check_path(dkey, "key")
            except InvalidRequest:
                skipped += 1  # a name that could not be a dataset key (control characters ...)
                continue
            if len(dkey.encode("utf-8")) > MAX_KEY_BYTES:
                skipped += 1
                continue
            out.append((dkey, skey, size))
        return out, skipped, copy

    async def _hash_all(
        self, ds_id: str, found: list[tuple[str, str, int]], copy: bool
    ) -> list[tuple[str, str, int, str]]:
        sem = asyncio.Semaphore(max(1, self.hash_concurrency))

        async def one(dkey: str, skey: str) -> tuple[str, str, int, str]:
            async with sem:
                sha, size, source = await self._ingest(ds_id, skey, copy)
                return dkey, sha, size, source

        return await asyncio.gather(*(one(d, s) for d, s, _ in found))

    def _upsert(
        self,
        db: Session,
        ds_id: str,
        user: Identity,
        hashed: list[tuple[str, str, int, str]],
        labels: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[int, int, int]:
        """Add or replace draft files (under the dataset's lock). ``(added, bytes, unchanged)``."""
        now = utcnow()
        added = size_added = unchanged = 0
        replaced: list[tuple[str, int]] = []
        for dkey, sha, size, source in hashed:
            extra = (labels or {}).get(dkey)
            row = self._file(db, ds_id, dkey)
            if row is None:
                ann = (extra or {}).get("annotations") or {"labels": [], "boxes": []}
                db.add(DatasetFile(
                    dataset_id=ds_id, key_hash=_sha(dkey), key=dkey, size=size, sha256=sha,
                    source=source, usage=(extra or {}).get("usage"), annotations=ann,
                    labeled=mf.is_labeled(ann), revision=1, updated_by=user.name, updated=now,
                ))  # fmt: skip
            elif row.sha256 == sha and row.source == source and extra is None:
                unchanged += 1
                continue
            else:
                if row.source != source:
                    replaced.append((row.source, row.size))
                row.size, row.sha256, row.source = size, sha, source
                if extra is not None:
                    row.annotations = extra["annotations"]
                    row.labeled = mf.is_labeled(extra["annotations"])
                    row.usage = extra.get("usage", row.usage)
                row.revision += 1
                row.updated_by, row.updated = user.name, now
            added += 1
            size_added += size
        garbage.record(db, ds_id, replaced)
        return added, size_added, unchanged

    def _draft_count(self, db: Session, ds_id: str) -> int:
        return db.scalar(
            select(func.count()).select_from(DatasetFile).where(DatasetFile.dataset_id == ds_id)
        ) or 0  # fmt: skip

    async def add_files(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Add a workspace file or folder (copied into blobs), or an S3 prefix (referenced).

        Returns ``{"added", "bytes", "files", "skipped"}``: files added or replaced, their bytes,
        the draft's file count afterwards, and files left out (unchanged, or names that cannot be
        keys).
        """
        body = check_fields(body, {"source", "space", "path", "prefix", "uri"})
        with self.sessions() as db:
            self._get(db, user, ds_id, write=True)
        found, skipped, copy = await self._collect(user, body)

        def commit(db: Session, hashed: list[tuple[str, str, int, str]]) -> tuple[int, int, int]:
            return self._upsert(db, ds_id, user, hashed)

        added, size, unchanged = await self._hash_and_commit(ds_id, found, copy, commit)
        with self.sessions() as db:
            files = self._draft_count(db, ds_id)
        return {"added": added, "bytes": size, "files": files, "skipped": skipped + unchanged}

    async def _hash_and_commit(
        self,
        ds_id: str,
        found: list[tuple[str, str, int]],
        copy: bool,
        commit: Callable[[Session, list[tuple[str, str, int, str]]], _T],
    ) -> _T:
        """Hash (and copy into blobs) the files ``found``, then run ``commit(db, hashed)`` under
        the dataset's lock and commit; started over when the blob collector marked blobs for
        deletion meanwhile, so no commit references a blob it deleted (see ``datasets.garbage``).

        Raises
        ------
        Conflict
            ``BlobsBeingCollected`` when the collector kept the dataset busy for too long.
        """
        for _ in range(3):
            start = await self._idle_blob_epoch(ds_id)
            hashed = await self._hash_all(ds_id, found, copy)
            with self.sessions() as db:
                self._lock(db, ds_id)
                if garbage.epoch(db, ds_id) != start:
                    db.rollback()
                    continue
                garbage.reclaim(db, ds_id, [source for _, _, _, source in hashed])
                result = commit(db, hashed)
                db.commit()
                return result
        raise _blobs_being_collected()

    async def _idle_blob_epoch(self, ds_id: str, timeout: float = 60) -> int:
        """The dataset's blob epoch once no collector is deleting its blobs (waits up to
        ``timeout`` seconds, then raises ``Conflict`` ``BlobsBeingCollected``)."""
        assert self.collector is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with self.sessions() as db:
                if not garbage.deleting(db, ds_id, self.collector.lease):
                    return garbage.epoch(db, ds_id)
            if asyncio.get_running_loop().time() > deadline:
                raise _blobs_being_collected()
            await asyncio.sleep(0.5)

    async def remove_files(self, user: Identity, ds_id: str, body: object) -> None:
        """Remove draft entries by key (published versions keep theirs)."""
        body = check_fields(body, {"keys"})
        keys = body.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InvalidRequest.field("keys", "must be a list of file keys")
        with self.sessions() as db:
            self._get(db, user, ds_id, write=True)
            self._lock(db, ds_id)
            hashes = [_sha(k) for k in keys]
            for i in range(0, len(hashes), 500):
                lost = db.execute(select(DatasetFile.source, DatasetFile.size).where(
                    DatasetFile.dataset_id == ds_id, DatasetFile.key_hash.in_(hashes[i : i + 500])
                ))  # fmt: skip
                garbage.record(db, ds_id, [(src, size) for src, size in lost])
                db.execute(DatasetFile.__table__.delete().where(
                    DatasetFile.dataset_id == ds_id, DatasetFile.key_hash.in_(hashes[i : i + 500])
                ))  # fmt: skip
            db.commit()

    async def annotate(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Set one file's annotations (and usage) if its ``revision`` is still current.

        Raises
        ------
        Conflict
            ``StaleRevision`` when someone changed the file since the caller read it; ``errors``
            holds ``{"current": file}`` so the client can merge and retry.
        NotFound
            No such file in the draft.
        """
        body = check_fields(body, {"key", "revision", "annotations", "usage"})
        key = _str(body, "key", None, MAX_KEY_BYTES)
        revision = body.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise InvalidRequest.field("revision", "must be the file's current revision (integer)")
        if "annotations" not in body:
            raise InvalidRequest.field("annotations", "is required")
        with self.sessions() as db:
            ds = self._get(db, user, ds_id, write=True)
            ann = mf.check_annotations(body["annotations"], ds.labels,
                                       single_label=ds.type == "image_classification")  # fmt: skip
            values: dict[str, Any] = {
                "annotations": ann, "labeled": mf.is_labeled(ann), "updated_by": user.name,
                "updated": utcnow(), "revision": DatasetFile.revision + 1,
            }  # fmt: skip
            if "usage" in body:
                values["usage"] = mf.check_usage(body["usage"])
            self._lock(db, ds_id)
            # Compare-and-set: the row changes only if nobody changed it since `revision`.
            result = db.execute(
                update(DatasetFile)
                .where(DatasetFile.dataset_id == ds_id, DatasetFile.key_hash == _sha(key),
                       DatasetFile.revision == revision)
                .values(**values)
            )  # fmt: skip
            if result.rowcount != 1:  # type: ignore[attr-defined]
                db.rollback()
                current = self._file(db, ds_id, key)
                if current is None:
                    raise NotFound(f"no file {key!r} in the draft", reason="FileNotFound")
                raise Conflict(
                    f"{key} was changed by {current.updated_by} (revision {current.revision}); "
                    "reload it and apply your change again",
                    reason="StaleRevision",
                    errors={"current": self.file_dict(current)},  # type: ignore[dict-item]
                )
            db.commit()
            row = self._file(db, ds_id, key)
            assert row is not None
            db.refresh(row)
            return self.file_dict(row)

    # ================================================================== publish and versions

    async def publish(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Freeze the draft into the next version.

        How concurrent publishers stay apart, on SQLite and MySQL alike:

        1. One transaction runs ``UPDATE tz_datasets SET version_seq = version_seq + 1`` and then
           reads the counter and the whole draft. The UPDATE holds the dataset row's lock (the
           write lock on SQLite) until commit, and every draft change takes that lock first, so
           each publisher gets a number of its own and a snapshot of the draft as it was at that
           number, never half of someone's change. (A compare-and-set on a counter read earlier
           would make losers retry; the in-place increment cannot lose.)
        2. The manifest goes to ``versions/Vnnn/manifest.jsonl``; no other publisher can hold
           ``nnn``, so it is written once. An existing object there (a database restored from an
           older backup) is never overwritten: that number is skipped.
        3. Only then is the version row inserted (unique on (dataset, number) as a last guard):
           a version is visible only once its manifest is complete. If anything fails, the
           manifest is removed and the number handed back when nobody took a later one; a crash
           between 2 and 3 leaves an unreferenced manifest and a gap in the numbers, never a
           version without its manifest.

        Raises
        ------
        Conflict
            ``PublishConflict`` when the database could not give a number (lock timeout,
            deadlock victim) or the version row could not be inserted; publishing again works.
        """
        body = check_fields(body if body is not None else {}, {"note"})
        note = _str(body, "note", "", MAX_DESCRIPTION)
        with self.sessions() as db:
            self._get(db, user, ds_id, write=True)
        for _attempt in range(5):
            number, draft_revision, entries = self._reserve(ds_id)
            key = self.manifest_key(ds_id, number)
            if not await asyncio.to_thread(self.storage.exists, key):
                break
            self.log.warning("Dataset %s: %s already exists in storage; skipping it", ds_id, key)
        else:
            raise Conflict("could not find a free version number; try again",
                           reason="PublishConflict")  # fmt: skip
        data = mf.encode(entries)
        digest = hashlib.sha256(data).hexdigest()
        stats = mf.stats(entries)
        try:
            await asyncio.to_thread(self.storage.put_bytes, key, data)
        except Exception as exc:
            await self._give_back(ds_id, number, key)
            raise BackendUnavailable(
                "storage failed while writing the manifest",
                reason="StorageUnavailable",
                log_message=repr(exc),
            ) from None
        version = DatasetVersion(
            dataset_id=ds_id, number=number, created=utcnow(), created_by=user.name, note=note,
            files=stats["files"], bytes=stats["bytes"], manifest_sha256=digest,
            draft_revision=draft_revision, stats=stats,
        )  # fmt: skip
        try:
            with self.sessions() as db:
                db.add(version)
                db.commit()
                result = self.version_dict(version)
        except (IntegrityError, OperationalError) as exc:
            await self._give_back(ds_id, number, key)
            raise Conflict("another publish of this dataset got in the way; try again",
                           reason="PublishConflict", log_message=repr(exc)) from None  # fmt: skip
        except BaseException:
            await self._give_back(ds_id, number, key)
            raise
        self.log.info("Dataset %s: %s published by %s (%d files, sha256 %s)",
                      ds_id, result["version"], user.name, stats["files"], digest)  # fmt: skip
        return result

    def _reserve(self, ds_id: str) -> tuple[int, int, list[dict[str, Any]]]:
        """Step 1 of :meth:`publish`: ``(number, draft revision, draft entries)``."""
        try:
            with self.sessions() as db:
                result = db.execute(
                    update(Dataset).where(Dataset.id == ds_id)
                    .values(version_seq=Dataset.version_seq + 1)
                )  # fmt: skip
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise NotFound(f"dataset {ds_id} not found", reason="DatasetNotFound")
                number, draft_revision = db.execute(
                    select(Dataset.version_seq, Dataset.draft_revision).where(Dataset.id == ds_id)
                ).one()
                rows = db.scalars(select(DatasetFile).where(DatasetFile.dataset_id == ds_id))
                entries = [mf.entry(f.key, f.size, f.sha256, f.source, f.usage, f.annotations)
                           for f in rows]  # fmt: skip
                db.commit()
        except OperationalError as exc:  # lock wait timeout, deadlock victim, database locked
            raise Conflict("the dataset is busy; publish again",
                           reason="PublishConflict", log_message=repr(exc)) from None  # fmt: skip
        return number, draft_revision, entries

    async def _give_back(self, ds_id: str, number: int, key: str) -> None:
        """Undo a failed publish: remove its manifest; hand its number back if still the last."""
        try:
            await asyncio.to_thread(self.storage.delete, key)
        except Exception:  # noqa: BLE001 - keep the number burned; the manifest stays orphaned
            self.log.exception("Dataset %s: could not remove %s after a failed publish", ds_id, key)
            return
        try:
            with self.sessions() as db:
                db.execute(
                    update(Dataset)
                    .where(Dataset.id == ds_id, Dataset.version_seq == number)
                    .values(version_seq=number - 1)
                )  # fmt: skip
                db.commit()
        except Exception:  # noqa: BLE001 - a gap in the numbers is harmless
            self.log.warning("Dataset %s: version number %d not handed back", ds_id, number)

    def _version_row(self, db: Session, ds_id: str, version: object) -> DatasetVersion:
        number = mf.version_number(version)
        row = db.scalar(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == ds_id, DatasetVersion.number == number
            )
        )
        if row is None:
            raise NotFound(f"version {version} not found", reason="VersionNotFound")
        return row

    async def versions(self, user: Identity, ds_id: str) -> list[dict[str, Any]]:
        """Published versions, newest first."""
        with self.sessions() as db:
            self._get(db, user, ds_id)
            rows = db.scalars(
                select(DatasetVersion)
                .where(DatasetVersion.dataset_id == ds_id)
                .order_by(DatasetVersion.number.desc())
            )
            return [self.version_dict(v) for v in rows]

    async def version(self, user: Identity, ds_id: str, version: str) -> dict[str, Any]:
        with self.sessions() as db:
            self._get(db, user, ds_id)
            return self.version_dict(self._version_row(db, ds_id, version))

    async def manifest(self, user: Identity, ds_id: str, version: str) -> bytes:
        """The manifest bytes of a version, checked against the sha256 on its row.

        Raises
        ------
        Conflict
            ``ManifestCorrupt`` when the stored bytes no longer match.
        """
        with self.sessions() as db:
            self._get(db, user, ds_id)
            row = self._version_row(db, ds_id, version)
            number, digest = row.number, row.manifest_sha256
        try:
            data = await asyncio.to_thread(self.storage.get_bytes,
                                           self.manifest_key(ds_id, number))  # fmt: skip
        except FileNotFoundError:
            raise Conflict(f"the manifest of {version} is missing from storage",
                           reason="ManifestCorrupt") from None  # fmt: skip
        if hashlib.sha256(data).hexdigest() != digest:
            raise Conflict(f"the manifest of {version} does not match its sha256",
                           reason="ManifestCorrupt")  # fmt: skip
        return data

    async def _entries(self, user: Identity, ds_id: str, version: str | None) -> list[dict]:
        """Entries of a version (cached: manifests never change) or of the current draft."""
        if version is None:
            with self.sessions() as db:
                self._get(db, user, ds_id)
                rows = db.scalars(select(DatasetFile).where(DatasetFile.dataset_id == ds_id))
                return [self.file_dict(f) for f in rows]
        number = mf.version_number(version)
        cached = self._manifests.get((ds_id, number))
        if cached is not None:
            with self.sessions() as db:  # still check the caller may read it
                self._get(db, user, ds_id)
            self._manifests.move_to_end((ds_id, number))
            return cached
        entries = mf.decode(await self.manifest(user, ds_id, version))
        self._manifests[(ds_id, number)] = entries
        while len(self._manifests) > max(1, self.manifest_cache_size):
            self._manifests.popitem(last=False)
        return entries

    async def version_files(
        self, user: Identity, ds_id: str, version: str, *, q: str = "", offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
        entries = await self._entries(user, ds_id, version)
        if q:
            entries = [e for e in entries if q in e["key"]]
        return entries[offset : offset + limit], len(entries)

    async def diff(
        self, user: Identity, ds_id: str, version: str, against: str | None
    ) -> dict[str, Any]:
        """What changed from ``against`` (default: the version before) to ``version``."""
        after = await self._entries(user, ds_id, version)
        if against is None:
            number = mf.version_number(version)
            with self.sessions() as db:
                prev = db.scalar(
                    select(func.max(DatasetVersion.number)).where(
                        DatasetVersion.dataset_id == ds_id, DatasetVersion.number < number
                    )
                )
            before = await self._entries(user, ds_id, mf.version_name(prev)) if prev else []
        else:
            mf.version_number(against, "against")
            before = await self._entries(user, ds_id, against)
        return mf.diff(before, after)

    # ================================================================== file content

    async def _entry(self, user: Identity, ds_id: str, key: str, version: str | None) -> dict:
        if not isinstance(key, str) or not key:
            raise InvalidRequest.field("key", "is required")
        if version is None:
            with self.sessions() as db:
                self._get(db, user, ds_id)
                row = self._file(db, ds_id, key)
                if row is None:
                    raise NotFound(f"no file {key!r} in the draft", reason="FileNotFound")
                return self.file_dict(row)
        for e in await self._entries(user, ds_id, version):
            if e["key"] == key:
                return e
        raise NotFound(f"no file {key!r} in {version}", reason="FileNotFound")

    async def open_file(
        self, user: Identity, ds_id: str, key: str, version: str | None = None
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """A file's entry and its bytes, verified against its sha256 as they stream.

        The iterator raises ``Conflict`` (``ContentChanged``) at the end when the bytes read do
        not match (an S3 object referenced in place was overwritten since it was added).
        """
        e = await self._entry(user, ds_id, key, version)
        return e, await self._open_verified(e)

    async def _open_verified(self, e: dict) -> AsyncIterator[bytes]:
        """The bytes of manifest entry ``e``, checked as they stream (see :meth:`_verified`)."""
        chunks = await self.workspace.read_key(e["source"], CHUNK)
        if chunks is None:
            raise NotFound(f"the bytes of {e['key']!r} are gone from storage",
                           reason="SourceMissing")  # fmt: skip
        return self._verified(chunks, e)

    @staticmethod
    async def _verified(chunks: AsyncIterator[bytes], e: dict) -> AsyncIterator[bytes]:
        # The last chunk is held back until the whole file is verified: a reader of changed bytes
        # then never gets a complete response (it sees fewer bytes than Content-Length).
        digest, size = hashlib.sha256(), 0
        held: bytes | None = None
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            if held is not None:
                yield held
            held = chunk
        if digest.hexdigest() != e["sha256"] or size != e["size"]:
            raise Conflict(f"{e['key']} changed in storage since it was added",
                           reason="ContentChanged")  # fmt: skip
        if held is not None:
            yield held

    async def open_version_zip(
        self, user: Identity, ds_id: str, version: str
    ) -> tuple[str, AsyncIterator[bytes]]:
        """A published version as one ZIP: its file name and its bytes, streamed.

        The archive holds ``<name>-<Vnnn>/`` laid out as a job sees the version
        (``files/<key>``, ``manifest.jsonl``, ``version.json``), so
        ``training_zoo.datasets.reader.load_version`` reads the unpacked folder too. Every file
        is checked against its sha256 while it streams; one that changed in storage ends the
        stream before the archive is complete.
        """
        from .zipdownload import zip_stream

        manifest = await self.manifest(user, ds_id, version)  # checks access and the sha256
        entries = mf.decode(manifest)
        with self.sessions() as db:
            ds = self._get(db, user, ds_id)
            row = self._version_row(db, ds_id, version)
            name, owner, vname = ds.name, ds.owner, mf.version_name(row.number)
            digest, stamp = row.manifest_sha256, row.created.replace(tzinfo=UTC).timestamp()
        meta = json.dumps({"dataset_id": ds_id, "owner": owner, "name": name, "version": vname,
                           "manifest_sha256": digest}).encode()  # fmt: skip
        inline = {"manifest.jsonl": manifest, "version.json": meta}
        by_rel = {f"files/{e['key']}": e for e in entries}
        files = [WalkedFile(rel, "", len(data), stamp) for rel, data in inline.items()]
        files += [WalkedFile(rel, e["source"], e["size"], stamp) for rel, e in by_rel.items()]

        async def read(f: WalkedFile) -> AsyncIterator[bytes] | None:
            if f.rel in inline:
                return _once(inline[f.rel])
            return await self._open_verified(by_rel[f.rel])

        root = f"{name}-{vname}"
        return f"{root}.zip", zip_stream(root, files, read)

    async def read_file(self, user: Identity, ds_id: str, key: str,
                        version: str | None = None) -> bytes:  # fmt: skip
        _, chunks = await self.open_file(user, ds_id, key, version)
        return b"".join([c async for c in chunks])

    def _opener(self, source: str) -> Callable[[], IO[bytes]]:
        fs, path = self.storage.fs, self.storage.path(source)
        return lambda: fs.open(path, "rb")  # type: ignore[no-any-return]

    async def preview(self, user: Identity, ds_id: str, key: str,
                      version: str | None = None) -> dict[str, Any]:  # fmt: skip
        """The preview JSON of a file (see :mod:`.previews`)."""
        e = await self._entry(user, ds_id, key, version)
        assert self.previews is not None
        return await asyncio.to_thread(self.previews.preview, key, self._opener(e["source"]),
                                       e["size"])  # fmt: skip

    async def thumbnail(self, user: Identity, ds_id: str, key: str, version: str | None,
                        size: int) -> bytes:  # fmt: skip
        """A JPEG thumbnail, cached in storage by the file's sha256 and the size."""
        e = await self._entry(user, ds_id, key, version)
        assert self.previews is not None
        return await asyncio.to_thread(
            self.previews.thumbnail_cached, e["source"], e["sha256"], self._opener(e["source"]),
            size, name=key,
        )  # fmt: skip

    # ================================================================== import and export

    async def _read_workspace(self, user: Identity, space: object, path: object) -> bytes:
        if not isinstance(path, str) or not path:
            raise InvalidRequest.field("path", "names the file to import")
        chunks = await self.workspace.open_read(user, space, path)  # type: ignore[arg-type]
        parts, size = [], 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_annotation_file_bytes:
                raise PayloadTooLarge(
                    f"{path} is over {self.max_annotation_file_bytes} bytes", reason="FileTooLarge"
                )
            parts.append(chunk)
        return b"".join(parts)

    async def import_annotations(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Apply annotations from a workspace file (COCO, manifest) or tree (ImageNet).

        Labels new to the dataset are added to its label set. COCO and manifest entries are
        matched to draft files by key (else by a unique base name); an ImageNet tree's files are
        added to the draft, keyed by their path in the tree, with the class from their folder.

        Returns ``{"added", "updated", "skipped", "labels"}``: files added, files whose
        annotations were set, entries that matched no file, and the labels added.
        """
        body = check_fields(body, {"format", "space", "path"})
        fmt = body.get("format")
        if fmt not in formats.FORMATS:
            raise InvalidRequest.field("format", f"must be one of {', '.join(formats.FORMATS)}")
        with self.sessions() as db:
            ds = self._get(db, user, ds_id, write=True)
            single = ds.type == "image_classification"
        records: dict[str, dict[str, Any]]
        new_labels: list[str] = []
        if fmt == "imagenet":
            found, skipped, _ = await self._collect(
                user, {"source": "workspace", "space": body.get("space"),
                       "path": body.get("path", "")})  # fmt: skip
            tree = formats.from_imagenet([d for d, _, _ in found])
            records = {}
            for dkey, info in tree.items():
                ann = {"labels": [info["label"]] if info["label"] else [], "boxes": []}
                records[dkey] = {"annotations": ann, "usage": info["usage"]}
                new_labels.extend(ann["labels"])
        else:
            found = []
            data = await self._read_workspace(user, body.get("space"), body.get("path"))
            try:
                if fmt == "coco":
                    records, cats = formats.from_coco(json.loads(data))
                    new_labels.extend(cats)
                else:
                    records = {
                        e["key"]: {"annotations": e["annotations"], "usage": e["usage"]}
                        for e in mf.decode(data)
                    }
            except (ValueError, UnicodeDecodeError) as e:
                raise InvalidRequest.field("path", f"not a valid {fmt} file: {e}") from None
            skipped = 0
        for name, rec in records.items():
            try:
                rec["annotations"] = mf.check_annotations(rec["annotations"], None,
                                                          single_label=single)  # fmt: skip
                if "usage" in rec:
                    mf.check_usage(rec["usage"])
            except InvalidRequest as e:
                raise InvalidRequest.field("path", f"{name}: {e.message}") from None
            new_labels.extend(rec["annotations"]["labels"])
            new_labels.extend(b["label"] for b in rec["annotations"]["boxes"])

        def commit(db: Session, hashed: list[tuple[str, str, int, str]]) -> dict[str, Any]:
            dataset = db.get(Dataset, ds_id)  # fresh: the caller holds its lock
            assert dataset is not None
            added = updated = 0
            unmatched = skipped
            if fmt == "imagenet":
                added, _, _ = self._upsert(db, ds_id, user, hashed, records)
                updated = added
            else:
                keys = db.scalars(select(DatasetFile.key).where(DatasetFile.dataset_id == ds_id))
                matches = formats.match_keys(records, list(keys))
                unmatched = len(records) - len(matches)
                now = utcnow()
                for name, dkey in matches.items():
                    row = self._file(db, ds_id, dkey)
                    assert row is not None
                    rec = records[name]
                    row.annotations = rec["annotations"]
                    row.labeled = mf.is_labeled(rec["annotations"])
                    if "usage" in rec:
                        row.usage = rec["usage"]
                    row.revision += 1
                    row.updated_by, row.updated = user.name, now
                    updated += 1
            current = list(dataset.labels or [])
            fresh = [x for x in dict.fromkeys(new_labels) if x not in current]
            if fresh:
                dataset.labels = mf.check_label_set(current + fresh)
            return {"added": added, "updated": updated, "skipped": unmatched, "labels": fresh}

        if fmt == "imagenet":
            return await self._hash_and_commit(ds_id, found, True, commit)
        with self.sessions() as db:
            self._lock(db, ds_id)
            result = commit(db, [])
            db.commit()
        return result

    async def export(self, user: Identity, ds_id: str, body: object) -> dict[str, Any]:
        """Write a version's (or the draft's) annotations into the workspace.

        ``coco`` and ``manifest`` write one file at ``path``; ``imagenet`` writes a folder tree
        at ``path`` with a copy of every labeled file. Returns the workspace item written.

        Raises
        ------
        Conflict
            ``PathExists`` when something is at ``path`` and ``overwrite`` is not true.
        """
        body = check_fields(body, {"format", "version", "space", "path", "overwrite"})
        fmt = body.get("format")
        if fmt not in formats.FORMATS:
            raise InvalidRequest.field("format", f"must be one of {', '.join(formats.FORMATS)}")
        version = body.get("version")
        if version is not None:
            mf.version_number(version)
        overwrite = body.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise InvalidRequest.field("overwrite", "must be true or false")
        space, path = body.get("space"), body.get("path")
        if not isinstance(path, str) or not path:
            raise InvalidRequest.field("path", "names where to write the export")
        target = workspace_key(user, space, path)  # type: ignore[arg-type]
        with self.sessions() as db:
            labels = list(self._get(db, user, ds_id).labels or [])
        entries = await self._entries(user, ds_id, version)
        ws = self.workspace
        if fmt == "manifest":
            return await ws.write_bytes(user, space, path, mf.encode(entries), overwrite)  # type: ignore[arg-type]
        if fmt == "coco":
            sizes = await self._image_sizes(entries)
            doc = json.dumps(formats.to_coco(entries, labels, sizes), ensure_ascii=False,
                             indent=1)  # fmt: skip
            return await ws.write_bytes(user, space, path, doc.encode(), overwrite)  # type: ignore[arg-type]
        layout, _unlabeled = formats.imagenet_layout(entries)
        if await ws._kind(target) is not None:
            if not overwrite:
                raise Conflict(f"{path} already exists", reason="PathExists")
            await ws.delete(user, space, path)  # type: ignore[arg-type]
        pairs = []
        for rel, e in layout:
            try:
                pairs.append((e["source"], workspace_key(user, space, f"{path}/{rel}")))  # type: ignore[arg-type]
            except InvalidRequest:
                continue  # a label that cannot be a folder name ('..', control characters)
        await self._copy_all(pairs)
        return await ws.mkdir(user, space, path, exist_ok=True)  # type: ignore[arg-type]

    async def _image_sizes(self, entries: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
        """``(width, height)`` of every entry Pillow can read the header of (COCO needs them).

        Only the header is read (small range reads on S3); files that are not images are left
        out, and COCO gets 0 for them.
        """
        fs = self.storage.fs
        sem = asyncio.Semaphore(max(1, self.hash_concurrency))

        def size_of(source: str) -> tuple[int, int] | None:
            try:
                with fs.open(self.storage.path(source), "rb", block_size=256 * 1024) as f:
                    with PILImage.open(f, formats=DECODED_FORMATS) as im:
                        return im.size
            except (OSError, ValueError, PILImage.DecompressionBombError):
                return None

        async def one(e: dict[str, Any]) -> tuple[str, tuple[int, int] | None]:
            async with sem:
                return e["key"], await asyncio.to_thread(size_of, e["source"])

        found = await asyncio.gather(*(one(e) for e in entries))
        return {key: size for key, size in found if size is not None}

    async def _copy_all(self, pairs: list[tuple[str, str]]) -> None:
        ws = self.workspace
        sem = asyncio.Semaphore(max(1, self.hash_concurrency))

        def local_copy(src: str, dst: str) -> None:
            s, d = self.storage.local_path(src), self.storage.local_path(dst)
            assert s is not None and d is not None
            d.parent.mkdir(parents=True, exist_ok=True)
            tmp = d.with_name(f"{RESERVED_PREFIX}copy-{uuid.uuid4().hex}")
            try:
                shutil.copyfile(s, tmp)
                os.replace(tmp, d)
            finally:
                Path(tmp).unlink(missing_ok=True)

        async def one(src: str, dst: str) -> None:
            async with sem:
                if ws.is_local:
                    await asyncio.to_thread(local_copy, src, dst)
                else:
                    fs = self.storage.fs
                    await ws._s3(fs._cp_file(self.storage.path(src), self.storage.path(dst)))

        await asyncio.gather(*(one(s, d) for s, d in pairs))
        if not ws.is_local:
            self.storage.fs.invalidate_cache()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _blobs_being_collected() -> Conflict:
    return Conflict(
        "storage of files removed from this dataset is being reclaimed right now; add the "
        "files again in a minute", reason="BlobsBeingCollected")  # fmt: skip
