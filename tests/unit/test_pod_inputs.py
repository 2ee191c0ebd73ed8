"""A pod fetching its job's dataset and model versions through an input plan
(``training_zoo.jobs.pod_inputs``), against an HTTP server standing in for presigned URLs
(``fakes.presigned``).

The happy path on real S3 presigned URLs runs in ``tests/integration/test_k8s_backend.py``; here
are the failures S3 cannot produce on demand: a hostile path in a plan, an expired URL, bytes
that differ from the ones recorded."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from fakes.presigned import ObjectStore, object_store
from training_zoo.jobs.pod_inputs import InputError, fetch_inputs


@pytest.fixture
def store():
    with object_store() as server:
        server.statuses["/expired"] = 403
        yield server


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_with(store: ObjectStore, files: dict[str, bytes], **changes) -> str:
    """A one-dataset plan serving ``files``; ``changes`` overwrite parts of it."""
    blobs = {}
    for name, data in files.items():
        store.objects[f"/{name}"] = data
        blobs[sha(data)] = {"size": len(data), "url": f"{store.url}/{name}"}
    plan = {"version": 1, "blobs": blobs, "inputs": [{
        "label": "pets:V001", "folder": "datasets/ds1/V001", "env": "TZ_DATASET_PETS",
        "map_env": "TZ_DATASETS", "refs": ["pets", "pets:V001"],
        "files": [{"path": f"files/{n}", "sha256": sha(d)} for n, d in files.items()],
        "write": {"version.json": "{}"}}]}  # fmt: skip
    for key, value in changes.items():
        if key == "entries":
            plan["inputs"][0]["files"] = value
        elif key == "url":
            next(iter(blobs.values()))["url"] = f"{store.url}{value}"
        else:
            plan[key] = value
    store.objects["/plan.json"] = json.dumps(plan).encode()
    return f"{store.url}/plan.json"


def test_versions_are_laid_out_read_only_and_named_in_the_environment(store, tmp_path):
    url = plan_with(store, {"a.txt": b"same", "b.txt": b"same", "c.txt": b"other"})
    said: list[str] = []
    env = fetch_inputs(url, tmp_path / "inputs", said.append)
    folder = tmp_path / "inputs" / "datasets" / "ds1" / "V001"
    assert env["TZ_DATASET_PETS"] == str(folder)
    assert json.loads(env["TZ_DATASETS"]) == {"pets": str(folder), "pets:V001": str(folder)}
    assert (folder / "files" / "b.txt").read_bytes() == b"same"
    assert (folder / "version.json").read_text() == "{}"
    assert oct(os.stat(folder / "files").st_mode & 0o777) == "0o555"
    assert oct(os.stat(folder / "files" / "c.txt").st_mode & 0o777) == "0o444"
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == ["datasets"]  # no blobs
    assert said == ["inputs ready: pets:V001 (2 files, 9 bytes, " + said[0].split(", ")[-1]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entries": [{"path": "../../escape.txt", "sha256": sha(b"x")}]},
         "refusing the path '../../escape.txt'"),
        ({"entries": [{"path": "/etc/passwd", "sha256": sha(b"x")}]}, "refusing the path"),
        ({"url": "/expired"}, "pets:V001 files/x.txt: storage answered 403 Forbidden"),
        ({"url": "/changed"}, "pets:V001 files/x.txt: its bytes differ from the ones recorded"),
        ({"version": 2}, "input plan version 2 is not 1"),
    ],
    ids=["traversal", "absolute", "expired", "changed", "newer plan"],
)  # fmt: skip
def test_an_input_that_cannot_be_had_as_recorded_stops_the_pod(store, tmp_path, changes, message):
    store.objects["/changed"] = b"y"  # the same size as x, other bytes
    url = plan_with(store, {"x.txt": b"x"}, **changes)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        fetch_inputs(url, tmp_path / "inputs", lambda _: None)
    assert not (tmp_path / "escape.txt").exists() and not Path("/etc/passwd.partial").exists()
    assert not (tmp_path / "inputs" / "datasets" / "ds1" / "V001").exists()  # no half version
    assert store.gets.count("/expired") <= 1  # a 4xx is not retried


def test_a_plan_that_cannot_be_fetched_says_so(store, tmp_path):
    with pytest.raises(InputError, match="the job's input plan: storage answered 404"):
        fetch_inputs(f"{store.url}/missing.json", tmp_path, lambda _: None)
