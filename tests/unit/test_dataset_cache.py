"""Dataset versions materialised for jobs: downloaded once, shared, read-only, verified."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from training_zoo.datasets import reader
from training_zoo.datasets.cache import DatasetCache, DatasetChanged, env_name
from training_zoo.storage import TzStorage

FILES = {
    "images/cat 1.jpg": (b"meow", "train", {"labels": ["cat"]}),
    "images/dog.jpg": (b"woof", "val", {"labels": ["dog"], "boxes": [
        {"label": "dog", "x": 1, "y": 2, "w": 3, "h": 4}]}),
    "same-bytes.jpg": (b"meow", None, {}),
}  # fmt: skip


def publish(storage: TzStorage, files=FILES, version: str = "V001") -> dict:
    lines = []
    for key, (data, usage, notes) in sorted(files.items()):
        sha = hashlib.sha256(data).hexdigest()
        storage.put_bytes(f"datasets/ds-1/blobs/{sha}", data)
        lines.append(json.dumps({"key": key, "size": len(data), "sha256": sha, "usage": usage,
                                 "annotations": notes,
                                 "source": f"datasets/ds-1/blobs/{sha}"}))  # fmt: skip
    manifest = ("\n".join(lines) + "\n").encode()
    key = f"datasets/ds-1/versions/{version}/manifest.jsonl"
    storage.put_bytes(key, manifest)
    return {"ref": f"pets:{version}", "dataset_id": "ds-1", "owner": "alice", "name": "pets",
            "version": version, "manifest_key": key,
            "manifest_sha256": hashlib.sha256(manifest).hexdigest()}  # fmt: skip


@pytest.fixture
def storage(tmp_path) -> TzStorage:
    return TzStorage(url=str(tmp_path / "store"))


def test_a_version_is_materialised_read_only_and_read_back(storage, tmp_path, monkeypatch):
    used = publish(storage)
    view = DatasetCache(tmp_path / "cache", storage).materialise(used)
    assert (view / "files/images/cat 1.jpg").read_bytes() == b"meow"
    # Modes, not a write attempt: these tests may run as root, whom modes do not stop.
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in view.rglob("*") if p.is_file()} == {
        "0o444"
    }
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in [view, *view.rglob("*")]
            if p.is_dir()} == {"0o555"}  # fmt: skip
    monkeypatch.setenv(reader.ENV, json.dumps({"pets:V001": str(view)}))
    ds = reader.open("pets:V001")
    assert (ds.name, ds.version, len(ds)) == ("pets", "V001", 3)
    assert [f.key for f in ds.split("train")] == ["images/cat 1.jpg"]
    assert ds.split("val")[0].boxes == [{"label": "dog", "x": 1, "y": 2, "w": 3, "h": 4}]
    assert ds.labels == {"cat": 1, "dog": 2}
    assert ds.split(None)[0].path.read_bytes() == b"meow"
    with pytest.raises(LookupError, match="pets:V001"):
        reader.open("other:V001")


def test_bytes_are_downloaded_once_and_views_shared_by_concurrent_jobs(storage, tmp_path):
    used = publish(storage)
    cache = DatasetCache(tmp_path / "cache", storage)
    with ThreadPoolExecutor(8) as pool:
        views = set(pool.map(lambda _: cache.materialise(used), range(8)))
    assert len(views) == 1
    blobs = [p for p in (tmp_path / "cache/blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 2, "identical bytes are stored once"
    view = views.pop()
    assert os.stat(view / "files/same-bytes.jpg").st_ino == os.stat(
        view / "files/images/cat 1.jpg").st_ino  # fmt: skip
    assert not [p for p in view.parent.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("tamper", ["blob", "manifest", "key"])
def test_changed_bytes_are_refused_never_used(storage, tmp_path, tamper):
    used = publish(storage)
    if tamper == "blob":
        sha = hashlib.sha256(b"woof").hexdigest()
        storage.put_bytes(f"datasets/ds-1/blobs/{sha}", b"WOOF")
    elif tamper == "manifest":
        storage.put_bytes(used["manifest_key"], b"{}\n")
    else:
        bad = {"../escape.txt": (b"x", None, {})}
        used = publish(storage, bad, "V002")
    with pytest.raises(DatasetChanged):
        DatasetCache(tmp_path / "cache", storage).materialise(used)
    view = tmp_path / "cache/views/ds-1" / used["version"]
    assert not view.exists(), "no half-built view is left for a later job"
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    ("name", "var"),
    [("pets", "TZ_DATASET_PETS"), ("coco-2017", "TZ_DATASET_COCO_2017"), ("a_b", "TZ_DATASET_A_B")],
)
def test_env_names(name, var):
    assert env_name(name) == var
