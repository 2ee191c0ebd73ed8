"""Reading a dataset version that TZ materialised for a training job (standard library only).

Inside a job, ``training_zoo.datasets.open("cats:V003")`` finds the version's read-only folder from
``TZ_DATASETS`` (set by the job backend) and returns its files with their annotations and splits::

    ds = training_zoo.datasets.open("cats:V003")
    for f in ds.split("train"):
        image = PIL.Image.open(f.path)   # a real local file
        label = f.label                  # "cat" (image classification) or None
        boxes = f.boxes                  # [{"label", "x", "y", "w", "h"}] (object detection)

``TZ_DATASET_<NAME>`` points at the same folder for scripts that only want files: its ``files/``
holds the dataset's keys as paths and ``manifest.jsonl`` the manifest.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV = "TZ_DATASETS"


@dataclass(frozen=True)
class DatasetFile:
    """One file of a version: where it is on disk and what the manifest says about it."""

    key: str
    path: Path
    size: int
    sha256: str
    usage: str | None
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        """The first label (the class of an image-classification file), or None."""
        labels = self.annotations.get("labels") or []
        return labels[0] if labels else None

    @property
    def boxes(self) -> list[dict[str, Any]]:
        return list(self.annotations.get("boxes") or [])


class FileSet:
    """What every opened version offers over its ``files`` (here and in the SDK's
    ``OpenedDataset``), so code written in a notebook runs unchanged inside a job."""

    files: tuple[Any, ...]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def split(self, usage: str | None) -> list[Any]:
        """The files of one split: ``"train"``, ``"val"``, ``"test"`` or None (unassigned)."""
        return [f for f in self.files if f.usage == usage]

    @property
    def labels(self) -> Counter[str]:
        """How many files carry each label (boxes counted once per box)."""
        counts: Counter[str] = Counter()
        for f in self.files:
            counts.update(f.annotations.get("labels") or [])
            counts.update(b.get("label") for b in f.boxes if b.get("label"))
        return counts


@dataclass(frozen=True)
class DatasetVersion(FileSet):
    """A published, immutable dataset version materialised on local disk."""

    ref: str
    name: str
    version: str
    root: Path
    files: tuple[DatasetFile, ...]


def load_version(ref: str, root: str | Path) -> DatasetVersion:
    """Read the materialised folder ``root`` (``manifest.jsonl`` + ``files/``)."""
    root = Path(root)
    meta = json.loads((root / "version.json").read_text())
    files = []
    with (root / "manifest.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            files.append(DatasetFile(
                key=e["key"], path=root / "files" / e["key"], size=e["size"], sha256=e["sha256"],
                usage=e.get("usage"), annotations=e.get("annotations") or {},
            ))  # fmt: skip
    return DatasetVersion(ref=ref, name=meta["name"], version=meta["version"], root=root,
                          files=tuple(files))  # fmt: skip


def open(ref: str) -> DatasetVersion:  # noqa: A001 - the documented name: datasets.open("x:V001")
    """The dataset version ``ref`` (``name``, ``name:V003`` or ``owner/name:V003``) of this job.

    Raises
    ------
    LookupError
        When this process is not a TZ job that was given ``ref`` in its spec's ``datasets``.
    """
    mapping = json.loads(os.environ.get(ENV) or "{}")
    if ref in mapping:
        return load_version(ref, mapping[ref])
    given = ", ".join(sorted(mapping)) or "none"
    raise LookupError(
        f"dataset {ref!r} was not given to this job (datasets given: {given}); add it to the "
        "job spec's datasets, e.g. datasets=['name:V001']"
    )
