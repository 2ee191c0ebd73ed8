"""``DatasetCache``: published dataset versions materialised read-only on local disk for jobs.

Layout under the cache root (``$TZ_HOME/cache/datasets`` by default)::

    blobs/<sha256[:2]>/<sha256>       every file's bytes, once, whatever dataset or version has it
    views/<dataset_id>/<version>/     one folder per version, shared by every job that uses it
        files/<key>                   hard links to the blobs (read-only)
        manifest.jsonl                the version's manifest, as published
        version.json                  {"dataset_id", "owner", "name", "version", "manifest_sha256"}

A blob is downloaded once, checked against the manifest's sha256 (so a source changed behind TZ's
back is refused, never silently used) and then shared. A view is built in a temporary folder and
renamed into place, under a file lock, so two jobs starting together build it once and no job
ever sees half a view. Everything in a view is read-only (files 0444, folders 0555).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest
from ..storage import TzStorage
from .paths import check_path

CHUNK = 1 << 20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class DatasetChanged(Exception):
    """A file's bytes no longer match the sha256 its version recorded."""


def env_name(name: str) -> str:
    """``TZ_DATASET_<NAME>``: the dataset name upper-cased, anything else than A-Z0-9 as ``_``."""
    return "TZ_DATASET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class DatasetCache:
    """Blocking: call from a worker thread."""

    def __init__(self, root: str | Path, storage: TzStorage) -> None:
        self.root = Path(root)
        self.storage = storage

    def view_dir(self, dataset_id: str, version: str) -> Path:
        return self.root / "views" / dataset_id / version

    def materialise(self, used: dict[str, Any]) -> Path:
        """The read-only folder of one dataset version (built on first use).

        ``used`` is a lineage entry: ``{"dataset_id", "owner", "name", "version",
        "manifest_key", "manifest_sha256"}``.

        Raises
        ------
        DatasetChanged
            When the manifest or a file no longer matches its recorded sha256.
        """
        view = self.view_dir(used["dataset_id"], used["version"])
        if (view / "version.json").exists():
            return view
        with _locked(self.root / "locks" / f"{used['dataset_id']}-{used['version']}.lock"):
            if (view / "version.json").exists():
                return view  # another job built it while we waited
            self._build(used, view)
        return view

    def _build(self, used: dict[str, Any], view: Path) -> None:
        manifest = self.storage.get_bytes(used["manifest_key"])
        if hashlib.sha256(manifest).hexdigest() != used["manifest_sha256"]:
            raise DatasetChanged(f"the manifest of {used['name']}:{used['version']} was changed")
        tmp = view.parent / f".tmp-{used['version']}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            for line in manifest.decode("utf-8").split("\n"):
                if line.strip():
                    self._place(json.loads(line), tmp / "files", used)
            (tmp / "manifest.jsonl").write_bytes(manifest)
            meta = {k: used[k] for k in ("dataset_id", "owner", "name", "version",
                                         "manifest_sha256")}  # fmt: skip
            (tmp / "version.json").write_text(json.dumps(meta))
            _read_only(tmp)
            os.replace(tmp, view)
        finally:
            if tmp.exists():
                _make_writable(tmp)
                shutil.rmtree(tmp, ignore_errors=True)

    def _place(self, entry: dict[str, Any], files: Path, used: dict[str, Any]) -> None:
        try:
            segments = check_path(entry["key"], "key")
        except InvalidRequest as e:  # published manifests are checked; this is defence in depth
            raise DatasetChanged(f"manifest entry {entry.get('key')!r}: {e.message}") from None
        blob = self.blob(entry, used)
        target = files.joinpath(*segments)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(blob, target)
        except OSError:  # another filesystem, or links not supported: a read-only copy instead
            shutil.copyfile(blob, target)
            os.chmod(target, 0o444)

    def blob(self, entry: dict[str, Any], used: dict[str, Any]) -> Path:
        """The cached bytes of one manifest entry, downloaded and checked on first use."""
        sha = entry["sha256"]
        if not SHA256_RE.match(str(sha)):
            raise DatasetChanged(f"manifest entry {entry['key']!r} has no valid sha256")
        blob = self.root / "blobs" / sha[:2] / sha
        if blob.exists():
            return blob
        blob.parent.mkdir(parents=True, exist_ok=True)
        tmp = blob.with_name(f".tmp-{uuid.uuid4().hex}")
        digest = hashlib.sha256()
        try:
            with self._open_source(entry["source"]) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha:
                raise DatasetChanged(
                    f"{used['name']}:{used['version']}: {entry['key']} changed since it was "
                    "published (its sha256 differs); publish a new version"
                )
            os.chmod(tmp, 0o444)
            os.replace(tmp, blob)
        finally:
            tmp.unlink(missing_ok=True)
        return blob

    def _open_source(self, source: str) -> Any:
        if source.startswith("s3://"):  # imported by reference from the same store
            return self.storage.fs.open(source[len("s3://") :], "rb")
        return self.storage.fs.open(self.storage.path(source), "rb")


def _read_only(root: Path) -> None:
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


def _make_writable(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        os.chmod(folder, stat.S_IRWXU)
