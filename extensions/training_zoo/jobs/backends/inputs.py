"""The input plan of a job that runs in pods: which files of its dataset and model versions go
where, and a presigned GET URL for each distinct file.

A pod holds no storage credential, so it cannot read a version the way the local backend's
caches do. Before a job's pods exist, the backend writes this plan as one object next to the
job's output and gives the pods a presigned URL to it (``inputs_url`` in the job's Secret);
``training_zoo.jobs.pod_inputs`` then fetches every file, checks its sha256 and lays the versions
out read-only exactly as the local backend does (``files/`` + ``manifest.jsonl`` +
``version.json`` for a dataset, the registered files for a model), so a script reads
``training_zoo.datasets.open("pets:V001")`` and ``tz.models.open_input("cnn:3")`` unchanged.

The plan (JSON)::

    {"version": 1,
     "blobs": {"<sha256>": {"size": 123, "url": "https://..."}},      one URL per distinct file
     "inputs": [{"label": "pets:V001", "folder": "datasets/<id>/V001",
                 "env": "TZ_DATASET_PETS", "map_env": "TZ_DATASETS", "refs": ["pets", ...],
                 "files": [{"path": "files/cat.jpg", "sha256": "..."}, ...],
                 "write": {"version.json": "{...}"}}]}

Everything the pod needs to trust is checked here first: each manifest against the sha256 its
version recorded, and every path with the workspace's rules (the pod checks again).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ...datasets.cache import env_name as dataset_env
from ...datasets.paths import check_path
from ...datasets.reader import ENV as DATASETS_ENV
from ...errors import InvalidRequest
from ...models import ENV as MODELS_ENV
from ...models import env_name as model_env
from ...storage import TzStorage, join_key

PLAN_VERSION = 1


class InputsUnavailable(Exception):
    """A version's manifest or files are not what it recorded: the job cannot get its inputs."""


def input_refs(used: dict[str, Any]) -> list[str]:
    """Every way a job's script may name one of its inputs: as given in the spec, the bare name,
    ``name:version`` and ``owner/name:version``."""
    name, version = used["name"], used["version"]
    return sorted({used["ref"], name, f"{name}:{version}", f"{used['owner']}/{name}:{version}"})


def _relative(path: str, label: str) -> str:
    try:
        return "/".join(check_path(path, "path"))
    except InvalidRequest as e:  # checked when published or registered; defence in depth
        raise InputsUnavailable(f"{label}: refusing the path {path!r}: {e.message}") from None


class PlanBuilder:
    """Collects files by sha256 (a file in two versions is fetched once), then signs them."""

    def __init__(self, storage: TzStorage) -> None:
        self.storage = storage
        self.sources: dict[str, tuple[str, int]] = {}  # sha256 -> (filesystem path, size)
        self.inputs: list[dict[str, Any]] = []

    def _file(self, path: str, sha256: str, size: int, source: str) -> dict[str, str]:
        self.sources.setdefault(sha256, (source, int(size)))
        return {"path": path, "sha256": sha256}

    def _source_path(self, source: str) -> str:
        # Imported by reference from the same store: s3://bucket/key; else a key under the root.
        return source[len("s3://") :] if source.startswith("s3://") else self.storage.path(source)

    def add_dataset(self, used: dict[str, Any]) -> None:
        label = f"{used['name']}:{used['version']}"
        try:
            manifest = self.storage.get_bytes(used["manifest_key"])
        except FileNotFoundError:
            raise InputsUnavailable(f"the manifest of {label} is missing from storage") from None
        if hashlib.sha256(manifest).hexdigest() != used["manifest_sha256"]:
            raise InputsUnavailable(f"the manifest of {label} was changed after it was published")
        files = []
        for line in manifest.decode("utf-8").splitlines():
            if line.strip():
                e = json.loads(line)
                key = _relative(e["key"], label)
                files.append(self._file(f"files/{key}", e["sha256"], e["size"],
                                        self._source_path(e["source"])))  # fmt: skip
        files.append(self._file("manifest.jsonl", used["manifest_sha256"], len(manifest),
                                self.storage.path(used["manifest_key"])))  # fmt: skip
        meta = {k: used[k] for k in ("dataset_id", "owner", "name", "version", "manifest_sha256")}
        self.inputs.append({
            "label": label, "folder": f"datasets/{used['dataset_id']}/{used['version']}",
            "env": dataset_env(used["name"]), "map_env": DATASETS_ENV, "refs": input_refs(used),
            "files": files, "write": {"version.json": json.dumps(meta)},
        })  # fmt: skip

    def add_model(self, used: dict[str, Any]) -> None:
        label = f"{used['name']}:{used['version']}"
        files = []
        for f in used["files"]:
            path = _relative(f["path"], label)
            files.append(self._file(path, f["sha256"], f["size"],
                                    self.storage.path(join_key(used["prefix"], path))))  # fmt: skip
        self.inputs.append({
            "label": label, "folder": f"models/{used['model_id']}/{used['version']}",
            "env": model_env(used["name"]), "map_env": MODELS_ENV, "refs": input_refs(used),
            "files": files, "write": {},
        })  # fmt: skip

    def plan(self, expires: int) -> dict[str, Any]:
        shas = list(self.sources)
        urls = self.storage.presigned_gets([self.sources[s][0] for s in shas], expires)
        blobs = {s: {"size": self.sources[s][1], "url": u} for s, u in zip(shas, urls, strict=True)}
        return {"version": PLAN_VERSION, "blobs": blobs, "inputs": self.inputs}


def build_plan(
    storage: TzStorage, datasets: list[dict[str, Any]], models: list[dict[str, Any]], expires: int
) -> dict[str, Any]:
    """The input plan of one job (blocking: storage reads and signing).

    Raises
    ------
    InputsUnavailable
        A manifest is missing or changed since it was published, or names a path that
        would leave its folder.
    """
    builder = PlanBuilder(storage)
    for used in datasets:
        builder.add_dataset(used)
    for used in models:
        builder.add_model(used)
    return builder.plan(expires)
