"""Training on a published dataset version: ``datasets=["pets:V001"]`` in a job spec.

The job finds the version read-only through ``training_zoo.datasets.open`` and
``TZ_DATASET_PETS``; the job records the exact version it used (lineage), and keeps it when the
dataset moves on.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

ME = "user:alice"
READER = """
import json, os
import training_zoo.datasets as tzd
ds = tzd.open("pets:V001")
print("files", len(ds), "train", [f.key for f in ds.split("train")])
print("label", ds.split("train")[0].label, "bytes", ds.split("train")[0].path.read_bytes())
print("env", os.environ["TZ_DATASET_PETS"] == str(ds.root))
try:
    open(ds.root / "files" / "new.txt", "w")
    print("writable", oct(os.stat(ds.root).st_mode & 0o777))
except OSError:
    print("writable no")
"""


def upload_small(client, path: str, data: bytes) -> None:
    s = client.post("/uploads", json={"space": ME, "path": path, "size": len(data)}).json()
    assert client.put(f"/uploads/{s['id']}/parts/1", data=data).status_code == 200
    assert client.post(f"/uploads/{s['id']}/complete").status_code == 200


@pytest.fixture(scope="module")
def pets(api):
    """alice's private dataset ``pets`` with V001: two labelled images, one in train."""
    alice = api("alice")
    upload_small(alice, "pets-src/cat.jpg", b"cat-bytes")
    upload_small(alice, "pets-src/dog.jpg", b"dog-bytes")
    r = alice.post("/datasets", json={"name": "pets", "type": "image_classification",
                                      "labels": ["cat", "dog"]})  # fmt: skip
    assert r.status_code == 201, r.text
    ds = r.json()
    r = alice.post(f"/datasets/{ds['id']}/files", json={"source": "workspace", "space": ME,
                                                        "path": "pets-src"})  # fmt: skip
    assert r.status_code == 201 and r.json()["added"] == 2, r.text
    files = {f["key"]: f for f in alice.get(f"/datasets/{ds['id']}/files").json()["items"]}
    for key, label, usage in (("cat.jpg", "cat", "train"), ("dog.jpg", "dog", "val")):
        f = files[key]
        r = alice.post(f"/datasets/{ds['id']}/files/annotations", json={
            "key": key, "revision": f["revision"], "annotations": {"labels": [label]},
            "usage": usage})  # fmt: skip
        assert r.status_code == 200, r.text
    r = alice.post(f"/datasets/{ds['id']}/publish", json={"note": "first"})
    assert r.status_code == 201 and r.json()["version"] == "V001", r.text
    return ds


def test_a_job_reads_its_dataset_version_and_records_it(api, pets):
    alice = api("alice")
    job = alice.submit(name="uses-pets", code=READER, datasets=["pets:V001"])
    done = alice.wait(job["id"])
    logs = "\n".join(alice.logs(job["id"]))
    assert done["status"] == "succeeded", logs
    assert "files 2 train ['cat.jpg']" in logs
    assert "label cat bytes b'cat-bytes'" in logs
    assert "env True" in logs
    assert "writable no" in logs or "writable 0o555" in logs
    (used,) = done["lineage"]["datasets"]
    assert {k: used[k] for k in ("ref", "name", "owner", "version")} == {
        "ref": "pets:V001", "name": "pets", "owner": "alice", "version": "V001"}  # fmt: skip
    assert len(used["manifest_sha256"]) == 64


def test_a_bare_name_records_the_latest_version_at_submit(api, pets):
    alice = api("alice")
    job = alice.submit(name="latest-pets", code="print('ok')", datasets=["pets"])
    assert job["lineage"]["datasets"][0]["version"] == "V001"
    alice.wait(job["id"])


@pytest.mark.parametrize(
    ("user", "datasets", "problem"),
    [
        ("bob", ["pets:V001"], "not found"),  # alice's private dataset: as if absent
        ("alice", ["pets:V009"], "V009"),
        ("alice", ["nope:V001"], "not found"),
        ("alice", ["Bad Name"], "must look like"),
        ("alice", ["pets:V001", "pets"], "given twice"),
        ("alice", "pets", "must be a list"),
    ],
)
def test_bad_dataset_references_are_refused_naming_the_entry(api, pets, user, datasets, problem):
    r = api(user).post("/jobs", json={"name": "x", "code": "pass", "datasets": datasets})
    assert r.status_code == 400, r.text
    (field,) = r.json()["errors"]
    assert field.startswith("datasets") and problem in r.json()["message"], r.json()
