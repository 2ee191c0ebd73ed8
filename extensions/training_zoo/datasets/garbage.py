"""Reclaiming the storage of dataset blobs that nothing references any more.

A workspace file added to a draft is copied to ``datasets/<id>/blobs/<sha256>``; two keys with the
same bytes share one blob, and a blob that is already there is reused (one HEAD, no copy). When a
draft file is removed or replaced, its blob may still be referenced by another key, by a published
version's manifest, or by a file someone is adding right now; so removing a file only records the
blob as a *candidate* (``tz_dataset_blob_garbage``), and :class:`TzBlobCollector` deletes it later
when it is still unreferenced.

How deletion stays apart from requests that reuse blobs (on SQLite and MySQL alike):

- A candidate is considered only once it has been one for ``grace`` seconds, so a publish that
  took its snapshot of the draft before the file was removed has long written its manifest.
- Under the dataset's lock, the collector re-reads the draft's references and the versions, marks
  the candidates it will delete (``deleting_since``) and bumps ``tz_datasets.blob_epoch``; it then
  deletes the objects, and finally drops the rows of what it deleted.
- A request that reuses or copies blobs (:meth:`TzDatasetManager.add_files`, imports) first waits
  while fresh marks exist, reads the epoch, hashes and copies, then commits under the lock only if
  the epoch is unchanged (else it starts over: its blobs are copied again where they are gone), and
  drops any candidate rows of the blobs it now references.
- A mark older than ``lease`` belongs to a collector that died; the next run takes it over. The
  collector stops deleting before its own marks could go stale.

Blobs referenced by S3 imports live outside ``blobs/`` and are never candidates.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from ..db.orm import Dataset, DatasetBlobGarbage, DatasetFile, DatasetVersion
from ..jobs.manager import utcnow
from ..storage import join_key
from . import manifests as mf
from .paths import RESERVED_PREFIX

SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _batches(shas: Iterable[str]) -> Iterator[list[str]]:
    """``shas`` sorted, 500 at a time (far below any database's limit on bound parameters)."""
    ordered = sorted(shas)
    for i in range(0, len(ordered), 500):
        yield ordered[i : i + 500]


def _rows(ds_id: str, shas: list[str]) -> Any:
    """The ``WHERE`` of the candidate rows of ``shas`` in the dataset."""
    return (DatasetBlobGarbage.dataset_id == ds_id) & DatasetBlobGarbage.sha256.in_(shas)


def _draft_blobs(db: Session, ds_id: str) -> set[str]:
    """The dataset's own blobs its draft references."""
    sources = db.scalars(select(DatasetFile.source).where(DatasetFile.dataset_id == ds_id))
    return {sha for sha in (blob_sha(ds_id, src) for src in sources) if sha}


def blob_key(ds_id: str, sha: str) -> str:
    return join_key("datasets", ds_id, "blobs", sha)


def blob_sha(ds_id: str, source: str) -> str | None:
    """The sha256 of ``source`` when it is one of the dataset's own blobs, else ``None``."""
    prefix = join_key("datasets", ds_id, "blobs") + "/"
    sha = source[len(prefix) :] if source.startswith(prefix) else ""
    return sha if SHA256_RE.fullmatch(sha) else None


def record(db: Session, ds_id: str, lost: Iterable[tuple[str, int]]) -> None:
    """Note blobs that just lost a draft reference, as ``(source, size)`` pairs (call under the
    dataset's lock). Sources that are not the dataset's own blobs are ignored."""
    sizes = {sha: size for sha, size in ((blob_sha(ds_id, src), n) for src, n in lost) if sha}
    if not sizes:
        return
    now = utcnow()
    existing: set[str] = set()
    for batch in _batches(sizes):
        existing.update(db.scalars(select(DatasetBlobGarbage.sha256).where(_rows(ds_id, batch))))
    for sha in sorted(set(sizes) - existing):
        db.add(DatasetBlobGarbage(dataset_id=ds_id, sha256=sha, size=sizes[sha], since=now))
    for batch in _batches(existing):  # it lost another reference just now: grace restarts
        db.execute(update(DatasetBlobGarbage)
                   .where(_rows(ds_id, batch), DatasetBlobGarbage.deleting_since.is_(None))
                   .values(since=now))  # fmt: skip


def reclaim(db: Session, ds_id: str, sources: Iterable[str]) -> None:
    """Drop the candidate rows of blobs a commit is about to reference again (under the lock,
    once the epoch is known unchanged: no mark of a running collector can be among them)."""
    for batch in _batches({s for s in (blob_sha(ds_id, src) for src in sources) if s}):
        db.execute(delete(DatasetBlobGarbage).where(_rows(ds_id, batch)))


def epoch(db: Session, ds_id: str) -> int:
    return db.scalar(select(Dataset.blob_epoch).where(Dataset.id == ds_id)) or 0


def deleting(db: Session, ds_id: str, lease: float) -> bool:
    """Whether a live collector is deleting blobs of the dataset right now."""
    fresh = utcnow() - timedelta(seconds=lease)
    return bool(
        db.scalar(
            select(func.count())
            .select_from(DatasetBlobGarbage)
            .where(DatasetBlobGarbage.dataset_id == ds_id,
                   DatasetBlobGarbage.deleting_since > fresh)
        )
    )  # fmt: skip


class TzBlobCollector(LoggingConfigurable):
    """Deletes dataset blobs that have been unreferenced for a while (see the module docstring)."""

    interval = Float(
        3600,
        help="""Seconds between two runs of the blob collector over every dataset with
        candidates; the first run is this long after the service starts, so a restart adds no
        storage work. 0 turns it off (storage of removed files is then never reclaimed).
        Default: 3600 (hourly).""",
    ).tag(config=True)

    grace = Float(
        24 * 3600,
        help="""Seconds a blob must have been unreferenced by the draft before it may be deleted
        (it is kept anyway while a published version lists it). Why: a publish or a job started
        before the file was removed may still be reading it. Default: 86400 (one day).""",
    ).tag(config=True)

    lease = Float(
        3600,
        help="""Seconds a collector's deletion marks hold. Adding files waits while fresh marks
        exist; a collector stops deleting before its marks are this old, and a later run takes
        over marks older than this (a collector that died). Default: 3600.""",
    ).tag(config=True)

    batch = Integer(
        1000,
        help="""Blobs deleted per storage request (S3 DeleteObjects takes up to 1000).
        Default: 1000.""",
    ).tag(config=True)

    orphan_interval = Float(
        24 * 3600,
        help="""Seconds between two sweeps for orphaned blobs: blobs in storage that no draft
        file, version or candidate names, left by an "add files" request that failed half way
        (or a service that died during one). Each sweep lists every dataset's blobs (one
        storage listing per 1000 blobs); orphans past ``grace`` become candidates. 0 turns it
        off. Default: 86400 (daily; the first sweep runs with the first collection).""",
    ).tag(config=True)

    manager: Any = None  # TzDatasetManager (set by it)

    async def run_forever(self) -> None:
        """Collect every ``interval`` seconds until cancelled, the first time ``interval`` after
        start (a restart adds no storage work); a failed run is logged."""
        if self.interval <= 0:
            return
        last_sweep = float("-inf")
        while True:
            await asyncio.sleep(self.interval)
            try:
                due = time.monotonic() - last_sweep >= self.orphan_interval
                if self.orphan_interval > 0 and due:
                    last_sweep = time.monotonic()
                    await self.find_orphans()
                await self.collect_all()
            except Exception:  # noqa: BLE001 - storage or database hiccup: next round
                self.log.exception("blob collection failed; retrying in %.0f s", self.interval)

    async def find_orphans(self) -> int:
        """Make candidates of every dataset's orphaned blobs; how many were found."""
        with self.manager.sessions() as db:
            ids = list(db.scalars(select(Dataset.id)))
        found = 0
        for ds_id in ids:
            try:
                found += await self.find_orphans_of(ds_id)
            except Exception:  # noqa: BLE001 - e.g. a manifest missing: keep all, go on
                self.log.exception("blob collector: dataset %s skipped", ds_id)
        if found:
            self.log.info("blob collector: %d orphaned blob(s) found", found)
        return found

    async def find_orphans_of(self, ds_id: str) -> int:
        """Record the dataset's blobs that nothing names and that are older than ``grace`` as
        candidates (:meth:`collect` re-checks them under the lock before deleting anything);
        delete temporary files of copies that died. How many candidates were added."""
        m = self.manager
        _, in_versions = await self._version_refs(ds_id)
        listing = await asyncio.to_thread(_list_blobs, m.storage, ds_id)
        cutoff = utcnow() - timedelta(seconds=self.grace)
        leftovers = [name for name, _, mtime in listing
                     if name.startswith(RESERVED_PREFIX) and mtime <= cutoff]  # fmt: skip
        if leftovers:
            await asyncio.to_thread(_remove, m.storage, [blob_key(ds_id, n) for n in leftovers])
        with m.sessions() as db:
            named = _draft_blobs(db, ds_id)
            named |= set(db.scalars(select(DatasetBlobGarbage.sha256)
                                    .where(DatasetBlobGarbage.dataset_id == ds_id)))  # fmt: skip
            orphans = [(sha, size, mtime) for sha, size, mtime in listing
                       if SHA256_RE.fullmatch(sha) and mtime <= cutoff
                       and sha not in named and sha not in in_versions]  # fmt: skip
            for sha, size, mtime in orphans:
                db.add(DatasetBlobGarbage(dataset_id=ds_id, sha256=sha, size=size, since=mtime))
            try:
                db.commit()
            except IntegrityError:  # a file was removed meanwhile: it is a candidate anyway
                db.rollback()
                return 0
        return len(orphans)

    async def _version_refs(self, ds_id: str) -> tuple[int, set[str]]:
        """How many versions the dataset has, and the blobs their manifests list (manifests
        never change, so they are read outside the lock)."""
        m = self.manager
        with m.sessions() as db:
            numbers = list(db.scalars(
                select(DatasetVersion.number).where(DatasetVersion.dataset_id == ds_id)
            ))  # fmt: skip
        listed: set[str] = set()
        for number in numbers:
            data = await asyncio.to_thread(m.storage.get_bytes, m.manifest_key(ds_id, number))
            for entry in mf.decode(data):
                sha = blob_sha(ds_id, str(entry.get("source", "")))
                if sha:
                    listed.add(sha)
        return len(numbers), listed

    async def collect_all(self) -> dict[str, int]:
        """One run over every dataset with candidates: ``{"datasets", "blobs", "bytes"}``."""
        cutoff = utcnow() - timedelta(seconds=self.grace)
        with self.manager.sessions() as db:
            ids = list(db.scalars(
                select(DatasetBlobGarbage.dataset_id)
                .where(DatasetBlobGarbage.since <= cutoff).distinct()
            ))  # fmt: skip
        total = {"datasets": 0, "blobs": 0, "bytes": 0}
        for ds_id in ids:
            try:
                blobs, size = await self.collect(ds_id)
            except Exception:  # noqa: BLE001 - e.g. a manifest missing: keep all, go on
                self.log.exception("blob collector: dataset %s skipped", ds_id)
                continue
            if blobs:
                total["datasets"] += 1
                total["blobs"] += blobs
                total["bytes"] += size
        if total["blobs"]:
            self.log.info("blob collector: deleted %(blobs)d blob(s), %(bytes)d bytes, in "
                          "%(datasets)d dataset(s)", total)  # fmt: skip
        return total

    async def collect(self, ds_id: str) -> tuple[int, int]:
        """Delete the dataset's blobs that are past their grace and referenced by nothing;
        ``(blobs, bytes)`` deleted."""
        m = self.manager
        versions, in_versions = await self._version_refs(ds_id)
        cutoff = utcnow() - timedelta(seconds=self.grace)
        stale = utcnow() - timedelta(seconds=self.lease)
        with m.sessions() as db:
            # The dataset's lock (module docstring of datasets.manager), without touching
            # ``updated``: collecting garbage is not a change anyone made to the dataset.
            db.execute(update(Dataset).where(Dataset.id == ds_id)
                       .values(blob_epoch=Dataset.blob_epoch))  # fmt: skip
            now_numbers = db.scalar(select(func.count()).select_from(DatasetVersion)
                                    .where(DatasetVersion.dataset_id == ds_id))  # fmt: skip
            if now_numbers != versions:  # published meanwhile: next round
                db.rollback()
                return 0, 0
            rows = list(db.scalars(
                select(DatasetBlobGarbage).where(
                    DatasetBlobGarbage.dataset_id == ds_id, DatasetBlobGarbage.since <= cutoff,
                    (DatasetBlobGarbage.deleting_since.is_(None))
                    | (DatasetBlobGarbage.deleting_since <= stale))
            ))  # fmt: skip
            shas = {r.sha256 for r in rows}
            sizes = {r.sha256: r.size for r in rows}
            keep = (_draft_blobs(db, ds_id) | in_versions) & shas
            for batch in _batches(keep):  # referenced after all: no longer candidates
                db.execute(delete(DatasetBlobGarbage).where(_rows(ds_id, batch)))
            doomed = sorted(shas - keep)
            if doomed:
                marked_at = utcnow()
                for batch in _batches(doomed):
                    db.execute(update(DatasetBlobGarbage).where(_rows(ds_id, batch))
                               .values(deleting_since=marked_at))  # fmt: skip
                db.execute(update(Dataset).where(Dataset.id == ds_id)
                           .values(blob_epoch=Dataset.blob_epoch + 1))  # fmt: skip
            db.commit()
        if not doomed:
            return 0, 0
        deleted = await self._delete(ds_id, doomed, time.monotonic() + self.lease / 2)
        size = sum(sizes[sha] for sha in deleted)
        with m.sessions() as db:
            for batch in _batches(deleted):
                db.execute(delete(DatasetBlobGarbage).where(_rows(ds_id, batch)))
            for batch in _batches(set(doomed) - set(deleted)):  # out of time: next run's
                db.execute(update(DatasetBlobGarbage).where(_rows(ds_id, batch))
                           .values(deleting_since=None))  # fmt: skip
            db.commit()
        self.log.info("Dataset %s: deleted %d unreferenced blob(s), %d bytes", ds_id,
                      len(deleted), size)  # fmt: skip
        return len(deleted), size

    async def _delete(self, ds_id: str, shas: list[str], until: float) -> list[str]:
        """Delete blobs in batches while the marks are safely fresh; the ones deleted."""
        storage = self.manager.storage
        deleted: list[str] = []
        step = max(1, self.batch)
        for i in range(0, len(shas), step):
            if time.monotonic() > until:
                break
            chunk = shas[i : i + step]
            await asyncio.to_thread(_remove, storage, [blob_key(ds_id, sha) for sha in chunk])
            deleted.extend(chunk)
        return deleted


def _remove(storage: Any, keys: list[str]) -> None:
    """Delete objects that may already be gone (S3 DeleteObjects ignores missing keys)."""
    local = [storage.local_path(k) for k in keys]
    if all(p is not None for p in local):
        for p in local:
            p.unlink(missing_ok=True)
    else:
        storage.fs.rm([storage.path(k) for k in keys])


def _list_blobs(storage: Any, ds_id: str) -> list[tuple[str, int, datetime]]:
    """``(name, size, modified)`` of every object in the dataset's blob folder, ``modified`` in
    naive UTC like the database's timestamps."""
    fs = storage.fs
    path = storage.path(join_key("datasets", ds_id, "blobs"))
    try:
        entries = fs.ls(path, detail=True, refresh=True)
    except FileNotFoundError:
        return []
    out = []
    for e in entries:
        if e.get("type") == "directory":
            continue
        modified = e.get("LastModified") or e.get("mtime")
        if isinstance(modified, int | float):
            modified = datetime.fromtimestamp(modified, UTC)
        if not isinstance(modified, datetime):
            continue  # a store that says nothing about age: never an orphan
        if modified.tzinfo is not None:
            modified = modified.astimezone(UTC).replace(tzinfo=None)
        out.append((str(e["name"]).rstrip("/").rsplit("/", 1)[-1], int(e.get("size") or 0),
                    modified))  # fmt: skip
    return out
