"""``ModelCache``: registered model versions materialised read-only on local disk for jobs.

Layout under the cache root (``$TZ_HOME/cache/models`` by default)::

    <model_id>/<version>-<uid>/      one folder per version, shared by every job that reads it
        <the version's files>        as registered (read-only), tz-model.json among them

A version's files never change after registration (their sha256 are on the version row), so a
folder is built once: downloaded into a temporary folder, every file checked against its sha256,
made read-only and renamed into place under a file lock, so jobs starting together build it once
and none ever sees half a version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from ..datasets.cache import _locked, _make_writable, _read_only
from ..datasets.paths import check_path
from ..errors import InvalidRequest
from ..storage import TzStorage, join_key

CHUNK = 1 << 20


class ModelChanged(Exception):
    """A version's file no longer matches the sha256 recorded when it was registered."""


class ModelCache:
    """Blocking: call from a worker thread."""

    def __init__(self, root: str | Path, storage: TzStorage) -> None:
        self.root = Path(root)
        self.storage = storage

    def materialise(self, used: dict[str, Any]) -> Path:
        """The read-only folder of one model version (built on first use).

        ``used`` is ``{"model_id", "name", "version", "prefix", "files": [{"path", "size",
        "sha256"}]}``.

        Raises
        ------
        ModelChanged
            A file is missing or no longer matches its recorded sha256.
        """
        uid = used["prefix"].rstrip("/").rsplit("/", 1)[-1]
        folder = self.root / used["model_id"] / f"{used['version']}-{uid}"
        if folder.exists():
            return folder
        with _locked(self.root / "locks" / f"{used['model_id']}-{uid}.lock"):
            if not folder.exists():
                self._build(used, folder)
        return folder

    def _build(self, used: dict[str, Any], folder: Path) -> None:
        tmp = folder.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            for entry in used["files"]:
                self._fetch(used, entry, tmp)
            _read_only(tmp)
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                _make_writable(tmp)
                shutil.rmtree(tmp, ignore_errors=True)

    def _fetch(self, used: dict[str, Any], entry: dict[str, Any], tmp: Path) -> None:
        try:
            segments = check_path(entry["path"], "path")
        except InvalidRequest as e:  # registered paths are checked; this is defence in depth
            raise ModelChanged(f"file {entry.get('path')!r}: {e.message}") from None
        target = tmp.joinpath(*segments)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        full = self.storage.path(join_key(used["prefix"], entry["path"]))
        try:
            with self.storage.fs.open(full, "rb") as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            raise ModelChanged(
                f"{used['name']}:{used['version']}: {entry['path']} is missing from storage"
            ) from None
        if digest.hexdigest() != entry["sha256"]:
            raise ModelChanged(
                f"{used['name']}:{used['version']}: {entry['path']} changed since it was "
                "registered (its sha256 differs)"
            )
