"""Datasets end to end: the manager on both storage backends (a local folder, moto S3), and the
REST handlers in a real tornado server, with a stand-in for the hub's token check.

What a user would notice: who can see which dataset (404 otherwise), labels that several people
write at once, versions that 8 publishers create at the same moment (distinct, or a 409, never a
mixed manifest: every manifest is checked byte for byte against the stored files), diffs, COCO and
ImageNet round trips, HTML kept verbatim, and hostile paths refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import sys
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))

from s3server import moto_s3  # noqa: E402
from traversal import HOSTILE_PATHS  # noqa: E402  (the shared traversal corpus)

from training_zoo.datasets import handlers as dataset_handlers  # noqa: E402
from training_zoo.datasets import manifests as mf  # noqa: E402
from training_zoo.datasets import reader  # noqa: E402
from training_zoo.datasets.manager import TzDatasetManager  # noqa: E402
from training_zoo.datasets.paths import RESERVED_PREFIX  # noqa: E402
from training_zoo.datasets.workspace import TzWorkspace  # noqa: E402
from training_zoo.db.orm import DatasetVersion  # noqa: E402
from training_zoo.db.session import make_session_factory  # noqa: E402
from training_zoo.errors import (  # noqa: E402
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    TzError,
)
from training_zoo.identity import ADMIN_SCOPE, Identity  # noqa: E402
from training_zoo.storage import TzStorage  # noqa: E402

pytestmark = pytest.mark.integration

BUCKET = "tz-ds"
SCOPES = frozenset({"custom:tz:datasets:read", "custom:tz:datasets:write"})
ALICE = Identity("alice", groups=("vision",), scopes=SCOPES)
BOB = Identity("bob", groups=("other",), scopes=SCOPES)
CAROL = Identity("carol", groups=("vision",), scopes=SCOPES)  # alice's teammate
ROOT = Identity("root", scopes=SCOPES | {ADMIN_SCOPE})
USERS = {u.name: u for u in (ALICE, BOB, CAROL, ROOT)}


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3(BUCKET) as url:
        yield url


def make_storage(kind: str, tmp_path: Path, s3_url: str | None, prefix: str) -> TzStorage:
    if kind == "local":
        return TzStorage(url=str(tmp_path / "storage"))
    return TzStorage(
        url=f"s3://{BUCKET}/{prefix}",
        storage_options={"client_kwargs": {"endpoint_url": s3_url}, "skip_instance_cache": True},
    )


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path) -> dict[str, Any]:
    s3 = request.getfixturevalue("s3_url") if request.param == "s3" else None
    return {"kind": request.param, "tmp": tmp_path, "s3": s3, "prefix": uuid.uuid4().hex[:8],
            "db": f"sqlite:///{tmp_path / 'tz.sqlite'}"}  # fmt: skip


def make_manager(backend: dict[str, Any]) -> TzDatasetManager:
    storage = make_storage(backend["kind"], backend["tmp"], backend["s3"], backend["prefix"])
    ws = TzWorkspace(storage=storage)
    return TzDatasetManager(
        storage=storage, workspace=ws, session_factory=make_session_factory(backend["db"])
    )


@pytest.fixture
def dm(backend) -> TzDatasetManager:
    return make_manager(backend)


async def write(dm: TzDatasetManager, user: Identity, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        await dm.workspace.write_bytes(user, f"user:{user.name}", path, data)


IMAGES = {f"pics/{c}/{i}.jpg": f"{c}-{i}".encode() * 50 for c in ("cat", "dog") for i in range(3)}


async def make_dataset(dm: TzDatasetManager, user: Identity = ALICE, **kw: Any) -> dict:
    body = {"name": "pets", "type": "image_classification", "labels": ["cat", "dog"], **kw}
    ds = await dm.create(user, body)
    await write(dm, user, IMAGES)
    added = await dm.add_files(
        user, ds["id"], {"source": "workspace", "space": f"user:{user.name}", "path": "pics"}
    )
    assert added["added"] == len(IMAGES) and added["files"] == len(IMAGES)
    return ds


async def all_files(dm: TzDatasetManager, user: Identity, ds_id: str) -> dict[str, dict]:
    items, _ = await dm.files(user, ds_id, limit=1000)
    return {f["key"]: f for f in items}


async def check_version_bytes(dm: TzDatasetManager, ds_id: str, number: int, sha: str) -> list:
    """The stored manifest matches the row's sha256, and every entry its stored bytes."""
    data = await asyncio.to_thread(dm.storage.get_bytes, dm.manifest_key(ds_id, number))
    assert hashlib.sha256(data).hexdigest() == sha
    entries = mf.decode(data)
    assert [e["key"] for e in entries] == sorted(e["key"] for e in entries)
    for e in entries:
        blob = await asyncio.to_thread(dm.storage.get_bytes, e["source"])
        assert hashlib.sha256(blob).hexdigest() == e["sha256"] and len(blob) == e["size"]
    return entries


# ------------------------------------------------------------------------------ who sees what


@pytest.mark.parametrize(
    "visibility, team, reader, can_read, can_write",
    [
        ("private", None, ALICE, True, True),
        ("private", None, BOB, False, False),
        ("private", None, CAROL, False, False),
        ("private", None, ROOT, True, True),
        ("team", "vision", CAROL, True, True),
        ("team", "vision", BOB, False, False),
        ("public", None, BOB, True, False),
        ("public", "vision", CAROL, True, False),  # a team named, but not team visibility
    ],
)
async def test_who_may_read_and_write(dm, visibility, team, reader, can_read, can_write) -> None:
    ds = await make_dataset(dm, visibility=visibility, team=team)
    ref = "alice/pets"
    listed = [d["id"] for d in (await dm.list(reader))[0]]
    if not can_read:
        for call in (dm.get(reader, ds["id"]), dm.versions(reader, ds["id"]),
                     dm.files(reader, ds["id"]), dm.resolve(reader, ref),
                     dm.publish(reader, ds["id"], {}), dm.delete(reader, ds["id"]),
                     dm.read_file(reader, ds["id"], "cat/0.jpg")):  # fmt: skip
            with pytest.raises(NotFound):
                await call
        assert ds["id"] not in listed
        return
    assert ds["id"] in listed
    assert (await dm.get(reader, ds["id"]))["name"] == "pets"
    assert (await dm.resolve(reader, ref))[0]["id"] == ds["id"]
    assert await dm.read_file(reader, ds["id"], "cat/0.jpg") == IMAGES["pics/cat/0.jpg"]
    f = (await all_files(dm, reader, ds["id"]))["cat/0.jpg"]
    label = dm.annotate(reader, ds["id"], {"key": "cat/0.jpg", "revision": f["revision"],
                                           "annotations": {"labels": ["cat"]}})  # fmt: skip
    if can_write:
        assert (await label)["annotations"]["labels"] == ["cat"]
    else:
        with pytest.raises(Forbidden):
            await label


async def test_team_rules(dm) -> None:
    with pytest.raises(InvalidRequest) as e:
        await dm.create(ALICE, {"name": "t", "type": "generic", "visibility": "team"})
    assert "team" in e.value.errors
    with pytest.raises(InvalidRequest) as e:
        await dm.create(ALICE, {"name": "t", "type": "generic", "visibility": "team",
                                "team": "other"})  # fmt: skip
    assert "team" in e.value.errors
    ds = await dm.create(ALICE, {"name": "t", "type": "generic", "visibility": "team",
                                 "team": "vision"})  # fmt: skip
    # A teammate may label and publish but not decide who sees the data, nor delete it.
    with pytest.raises(Forbidden):
        await dm.update(CAROL, ds["id"], {"visibility": "public"})
    with pytest.raises(Forbidden):
        await dm.delete(CAROL, ds["id"])
    assert (await dm.update(CAROL, ds["id"], {"labels": ["x"]}))["labels"] == ["x"]
    await dm.update(ALICE, ds["id"], {"visibility": "private"})
    with pytest.raises(NotFound):
        await dm.get(CAROL, ds["id"])
    with pytest.raises(Conflict) as c:
        await dm.create(ALICE, {"name": "t", "type": "generic"})
    assert c.value.reason == "DatasetExists"
    assert (await dm.create(BOB, {"name": "t", "type": "generic"}))["owner"] == "bob"


async def test_resolve_references(dm) -> None:
    mine = await dm.create(ALICE, {"name": "shared", "type": "generic"})
    bobs = await dm.create(BOB, {"name": "shared", "type": "generic", "visibility": "public"})
    carols = await dm.create(CAROL, {"name": "shared", "type": "generic", "visibility": "public"})
    assert (await dm.resolve(ALICE, "shared"))[0]["id"] == mine["id"]  # own first
    assert (await dm.resolve(ALICE, "bob/shared"))[0]["id"] == bobs["id"]
    with pytest.raises(InvalidRequest) as e:
        await dm.resolve(ROOT, "shared")
    assert "alice/shared" in e.value.message and "bob/shared" in e.value.message
    assert (await dm.resolve(CAROL, "shared"))[0]["id"] == carols["id"]
    ds, version = await dm.resolve(ALICE, "shared")
    assert version is None
    await dm.publish(ALICE, mine["id"], {})
    await dm.publish(ALICE, mine["id"], {})
    assert (await dm.resolve(ALICE, "shared"))[1]["version"] == "V002"
    assert (await dm.resolve(ALICE, "alice/shared:V001"))[1]["version"] == "V001"
    assert (
        dm.manifest_key(mine["id"], "V002") == f"datasets/{mine['id']}/versions/V002/manifest.jsonl"
    )
    for bad, error in [("shared:V009", NotFound), ("nobody/shared", NotFound),
                       ("Shared", InvalidRequest), ("a/b/c", InvalidRequest), ("", InvalidRequest),
                       ("shared:v1", InvalidRequest)]:  # fmt: skip
        with pytest.raises(error):
            await dm.resolve(ALICE, bad)


# ------------------------------------------------------------------------------ labeling


async def test_concurrent_labeling(dm) -> None:
    ds = await make_dataset(dm, visibility="team", team="vision")
    files = await all_files(dm, ALICE, ds["id"])
    a, b = files["cat/0.jpg"], files["dog/0.jpg"]
    # Alice and Carol both loaded cat/0.jpg at the same revision; Alice saves first.
    saved = await dm.annotate(ALICE, ds["id"], {"key": a["key"], "revision": a["revision"],
                                                "annotations": {"labels": ["cat"]}})  # fmt: skip
    assert saved["revision"] == a["revision"] + 1 and saved["updated_by"] == "alice"
    with pytest.raises(Conflict) as e:
        await dm.annotate(CAROL, ds["id"], {"key": a["key"], "revision": a["revision"],
                                            "annotations": {"labels": ["dog"]}})  # fmt: skip
    assert e.value.reason == "StaleRevision"
    assert e.value.errors["current"]["annotations"]["labels"] == ["cat"]  # type: ignore[index]
    assert e.value.errors["current"]["revision"] == saved["revision"]  # type: ignore[index]
    # Carol's save of another file at the same time does not conflict.
    other = await dm.annotate(CAROL, ds["id"], {"key": b["key"], "revision": b["revision"],
                                                "annotations": {"labels": ["dog"]},
                                                "usage": "val"})  # fmt: skip
    assert other["usage"] == "val"
    # Many writers on distinct files at once: every write lands.
    keys = [k for k in files if k not in (a["key"], b["key"])]
    results = await asyncio.gather(*(
        dm.annotate(CAROL if i % 2 else ALICE, ds["id"], {
            "key": k, "revision": files[k]["revision"],
            "annotations": {"labels": [k.split("/")[0]]}})
        for i, k in enumerate(keys)
    ))  # fmt: skip
    assert all(r["annotations"]["labels"] for r in results)
    labeled = (await dm.get(ALICE, ds["id"]))["draft"]["labeled"]
    assert labeled == len(IMAGES)
    page, total = await dm.files(ALICE, ds["id"], labeled=True, usage="val")
    assert total == 1 and page[0]["key"] == "dog/0.jpg"
    for body, field in [
        (
            {"key": a["key"], "revision": saved["revision"], "annotations": {"labels": ["bird"]}},
            "annotations",
        ),
        (
            {
                "key": a["key"],
                "revision": saved["revision"],
                "annotations": {"labels": ["cat", "dog"]},
            },
            "annotations",
        ),
        ({"key": a["key"], "revision": "1", "annotations": {}}, "revision"),
        ({"key": a["key"], "revision": 1}, "annotations"),
    ]:
        with pytest.raises(InvalidRequest) as bad:
            await dm.annotate(ALICE, ds["id"], body)
        assert field in bad.value.errors
    with pytest.raises(NotFound):
        await dm.annotate(ALICE, ds["id"], {"key": "nope.jpg", "revision": 1, "annotations": {}})


# ------------------------------------------------------------------------------ publish


async def test_publish_versions_stats_and_diff(dm) -> None:
    ds = await make_dataset(dm)
    files = await all_files(dm, ALICE, ds["id"])
    for key, f in files.items():
        await dm.annotate(ALICE, ds["id"], {"key": key, "revision": f["revision"],
                                            "annotations": {"labels": [key.split("/")[0]]},
                                            "usage": "train"})  # fmt: skip
    v1 = await dm.publish(ALICE, ds["id"], {"note": "<b>first</b>"})
    assert v1["version"] == "V001" and v1["note"] == "<b>first</b>"
    assert v1["files"] == 6 and v1["bytes"] == sum(len(b) for b in IMAGES.values())
    assert v1["stats"] == {
        "labels": {"cat": 3, "dog": 3},
        "labeled": 6,
        "splits": {"train": 6, "val": 0, "test": 0, "unassigned": 0},
    }
    await check_version_bytes(dm, ds["id"], 1, v1["manifest_sha256"])
    assert (await dm.manifest(ALICE, ds["id"], "V001")) == await asyncio.to_thread(
        dm.storage.get_bytes, dm.manifest_key(ds["id"], 1))  # fmt: skip
    # Change the draft: remove one, add one, relabel one.
    await dm.remove_files(ALICE, ds["id"], {"keys": ["dog/2.jpg"]})
    await write(dm, ALICE, {"more/new.jpg": b"new"})
    await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:alice",
                                         "path": "more/new.jpg", "prefix": "extra"})  # fmt: skip
    f = (await all_files(dm, ALICE, ds["id"]))["cat/1.jpg"]
    await dm.annotate(ALICE, ds["id"], {"key": "cat/1.jpg", "revision": f["revision"],
                                        "annotations": {"labels": ["dog"]}})  # fmt: skip
    v2 = await dm.publish(ALICE, ds["id"], None)
    assert v2["version"] == "V002"
    d = await dm.diff(ALICE, ds["id"], "V002", "V001")
    assert d["added"] == ["extra/new.jpg"] and d["removed"] == ["dog/2.jpg"]
    assert d["relabeled"] == [{"key": "cat/1.jpg", "before": {"labels": ["cat"], "boxes": []},
                               "after": {"labels": ["dog"], "boxes": []}}]  # fmt: skip
    assert (await dm.diff(ALICE, ds["id"], "V002", None)) == d  # default: the previous version
    assert [v["version"] for v in await dm.versions(ALICE, ds["id"])] == ["V002", "V001"]
    # V001 is immutable: the draft moved on, the version did not.
    page, total = await dm.version_files(ALICE, ds["id"], "V001", q="dog/2")
    assert total == 1 and page[0]["key"] == "dog/2.jpg"
    assert await dm.read_file(ALICE, ds["id"], "dog/2.jpg", "V001") == IMAGES["pics/dog/2.jpg"]
    with pytest.raises(NotFound):
        await dm.read_file(ALICE, ds["id"], "dog/2.jpg")
    got = await dm.get(ALICE, ds["id"])
    assert got["latest_version"] == "V002" and got["versions"] == 2


async def test_eight_publishers_in_eight_threads(backend) -> None:
    """Like eight service processes on one database: distinct versions or 409s."""
    dm = make_manager(backend)
    ds = await make_dataset(dm)
    results: list[Any] = [None] * 8
    barrier = threading.Barrier(8)

    # Each with its own engine and storage client (made here: alembic's setup is not
    # thread-safe), and its own event loop in its thread.
    managers = [make_manager(backend) for _ in range(8)]

    def client(i: int) -> None:
        barrier.wait(30)
        try:
            results[i] = asyncio.run(managers[i].publish(ALICE, ds["id"], {"note": f"c{i}"}))
        except Conflict as e:
            results[i] = e

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        await asyncio.to_thread(t.join, 120)
    published = [r for r in results if isinstance(r, dict)]
    assert all(isinstance(r, dict) or r.reason == "PublishConflict" for r in results), results
    names = [r["version"] for r in published]
    assert len(set(names)) == len(names) and published
    rows = await dm.versions(ALICE, ds["id"])
    assert sorted(v["version"] for v in rows) == sorted(names)
    shas = {r["manifest_sha256"] for r in published}
    assert len(shas) == 1  # the same draft: the same bytes
    for r in published:
        await check_version_bytes(dm, ds["id"], mf.version_number(r["version"]),
                                  r["manifest_sha256"])  # fmt: skip


async def test_failed_publish_leaves_no_version(dm, monkeypatch) -> None:
    ds = await make_dataset(dm)

    def broken(key: str, data: bytes) -> None:
        raise OSError("storage is down")

    monkeypatch.setattr(dm.storage, "put_bytes", broken)
    with pytest.raises(TzError) as e:
        await dm.publish(ALICE, ds["id"], {})
    assert e.value.status_code == 503
    monkeypatch.undo()
    assert await dm.versions(ALICE, ds["id"]) == []
    # The row insert fails after the manifest is written: the manifest is removed again.
    real = dm.sessions

    class FailingInsert:
        def __call__(self):  # type: ignore[no-untyped-def]
            session = real()
            original = session.add

            def add(obj):  # type: ignore[no-untyped-def]
                if isinstance(obj, DatasetVersion):
                    raise RuntimeError("crash before the row")
                return original(obj)

            session.add = add  # type: ignore[method-assign]
            return session

    dm.sessions = FailingInsert()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await dm.publish(ALICE, ds["id"], {})
    dm.sessions = real
    assert not await asyncio.to_thread(dm.storage.exists, dm.manifest_key(ds["id"], 1))
    assert (await dm.publish(ALICE, ds["id"], {}))["version"] == "V001"  # number handed back
    # A manifest already at the next number (a restored database) is never overwritten.
    squatter = dm.manifest_key(ds["id"], 2)
    await asyncio.to_thread(dm.storage.put_bytes, squatter, b"old")
    assert (await dm.publish(ALICE, ds["id"], {}))["version"] == "V003"
    assert await asyncio.to_thread(dm.storage.get_bytes, squatter) == b"old"


# ------------------------------------------------------------------------------ formats


async def test_coco_and_manifest_round_trip(dm) -> None:
    ds = await make_dataset(dm, type="object_detection", name="boxes")
    files = await all_files(dm, ALICE, ds["id"])
    box = {"label": "cat", "x": 1, "y": 2, "w": 30, "h": 40.5}
    f = files["cat/0.jpg"]
    await dm.annotate(ALICE, ds["id"], {"key": f["key"], "revision": f["revision"], "usage": "test",
                                        "annotations": {"labels": [], "boxes": [box]}})  # fmt: skip
    await dm.publish(ALICE, ds["id"], {})
    for fmt in ("coco", "manifest"):
        item = await dm.export(
            ALICE,
            ds["id"],
            {"format": fmt, "version": "V001", "space": "user:alice", "path": f"out/{fmt}"},
        )
        assert item["type"] == "file" and item["size"] > 0
        # Into a fresh dataset with the same files: the annotations come back.
        copy = await dm.create(ALICE, {"name": f"copy-{fmt}", "type": "object_detection"})
        await dm.add_files(ALICE, copy["id"], {"source": "workspace", "space": "user:alice",
                                               "path": "pics"})  # fmt: skip
        result = await dm.import_annotations(ALICE, copy["id"], {
            "format": fmt, "space": "user:alice", "path": f"out/{fmt}"})  # fmt: skip
        # COCO carries the whole label set as categories; a manifest only the labels used.
        labels = ["cat", "dog"] if fmt == "coco" else ["cat"]
        assert result["updated"] == 6 and result["labels"] == labels
        got = (await all_files(dm, ALICE, copy["id"]))["cat/0.jpg"]
        assert got["annotations"]["boxes"] == [box] and got["usage"] == "test"
        assert (await dm.get(ALICE, copy["id"]))["labels"] == labels
    with pytest.raises(Conflict):
        await dm.export(ALICE, ds["id"], {"format": "coco", "space": "user:alice",
                                          "path": "out/coco"})  # fmt: skip
    await write(dm, ALICE, {"bad.json": b"{not json"})
    with pytest.raises(InvalidRequest) as e:
        await dm.import_annotations(ALICE, ds["id"], {"format": "coco", "space": "user:alice",
                                                      "path": "bad.json"})  # fmt: skip
    assert "path" in e.value.errors


async def test_coco_export_gives_real_image_sizes(dm) -> None:
    from io import BytesIO

    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (40, 30)).save(png, "PNG")
    await write(dm, ALICE, {"sized/a.png": png.getvalue(), "sized/notes.txt": b"not an image"})
    ds = await dm.create(ALICE, {"name": "sized", "type": "object_detection"})
    await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:alice",
                                         "path": "sized"})  # fmt: skip
    await dm.export(ALICE, ds["id"], {"format": "coco", "space": "user:alice",
                                      "path": "sized.json"})  # fmt: skip
    chunks = await dm.workspace.open_read(ALICE, "user:alice", "sized.json")
    doc = json.loads(b"".join([c async for c in chunks]))
    sizes = {i["file_name"]: (i["width"], i["height"]) for i in doc["images"]}
    assert sizes == {"a.png": (40, 30), "notes.txt": (0, 0)}


async def test_a_source_overwritten_while_it_is_added_is_refused_not_mislabelled(dm, monkeypatch):
    await write(dm, ALICE, {"race/a.bin": b"first bytes"})
    ds = await dm.create(ALICE, {"name": "race", "type": "generic"})
    if dm.workspace.is_local:
        pytest.skip("the local folder hashes while it copies: there is no window")
    hash_s3 = dm._hash_s3

    async def hash_then_overwrite(key):
        found = await hash_s3(key)
        await dm.workspace.write_bytes(ALICE, "user:alice", "race/a.bin", b"other bytes!!")
        return found

    monkeypatch.setattr(dm, "_hash_s3", hash_then_overwrite)
    with pytest.raises(Conflict) as e:
        await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:alice",
                                             "path": "race"})  # fmt: skip
    assert e.value.reason == "SourceChanged" and "a.bin" in e.value.message
    assert (await dm.get(ALICE, ds["id"]))["draft"]["files"] == 0
    monkeypatch.undo()
    await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:alice",
                                         "path": "race"})  # fmt: skip
    assert await dm.read_file(ALICE, ds["id"], "a.bin") == b"other bytes!!"


async def test_imagenet_round_trip(dm) -> None:
    ds = await make_dataset(dm)
    files = await all_files(dm, ALICE, ds["id"])
    for key, f in files.items():
        await dm.annotate(
            ALICE,
            ds["id"],
            {
                "key": key,
                "revision": f["revision"],
                "annotations": {"labels": [key.split("/")[0]]},
                "usage": "val" if key.endswith("0.jpg") else "train",
            },
        )
    item = await dm.export(ALICE, ds["id"], {"format": "imagenet", "space": "user:alice",
                                             "path": "tree"})  # fmt: skip
    assert item["type"] == "folder"
    listing = await dm.workspace.list(ALICE, "user:alice", "tree/val/cat")
    assert [it["name"] for it in listing["items"]] == ["0.jpg"]
    copy = await dm.create(ALICE, {"name": "from-tree", "type": "image_classification"})
    result = await dm.import_annotations(ALICE, copy["id"], {
        "format": "imagenet", "space": "user:alice", "path": "tree"})  # fmt: skip
    assert result["added"] == 6 and sorted(result["labels"]) == ["cat", "dog"]
    back = await all_files(dm, ALICE, copy["id"])
    by_sha = {f["sha256"]: f for f in back.values()}
    for f in files.values():
        twin = by_sha[f["sha256"]]
        assert twin["annotations"]["labels"] == [f["key"].split("/")[0]]
        assert twin["usage"] == ("val" if f["key"].endswith("0.jpg") else "train")


# ------------------------------------------------------------------------------ hostile input


HTML = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def test_html_is_stored_and_returned_verbatim(dm) -> None:
    ds = await dm.create(ALICE, {"name": "html", "type": "generic", "description": HTML,
                                 "labels": [HTML, "<b>"]})  # fmt: skip
    assert ds["description"] == HTML and ds["labels"] == [HTML, "<b>"]
    await write(dm, ALICE, {f"h/{HTML.replace('/', '_')}.txt": b"x"})
    await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:alice",
                                         "path": "h"})  # fmt: skip
    ((key, f),) = (await all_files(dm, ALICE, ds["id"])).items()
    assert key == f"{HTML.replace('/', '_')}.txt"
    saved = await dm.annotate(ALICE, ds["id"], {"key": key, "revision": f["revision"],
                                                "annotations": {"labels": [HTML]}})  # fmt: skip
    assert saved["annotations"]["labels"] == [HTML]
    with pytest.raises(InvalidRequest) as e:
        await dm.create(ALICE, {"name": "<script>", "type": "generic"})
    assert "name" in e.value.errors


@pytest.mark.parametrize("field", ["path", "prefix", "key"])
async def test_traversal_corpus_is_refused(dm, field) -> None:
    ds = await make_dataset(dm)
    await write(dm, BOB, {"secret/s.txt": b"bob's secret"})
    escaped = 0
    for payload in HOSTILE_PATHS:
        try:
            if field == "key":
                data = await dm.read_file(ALICE, ds["id"], payload)
                escaped += data == b"bob's secret"
                continue
            body = {"source": "workspace", "space": "user:alice", "path": "pics"}
            body[field] = payload
            await dm.add_files(ALICE, ds["id"], body)
            escaped += 1
        except (InvalidRequest, NotFound):
            continue
    assert escaped == 0
    keys = await all_files(dm, ALICE, ds["id"])
    assert all(".." not in k.split("/") and not k.startswith("/") for k in keys)
    with pytest.raises(NotFound):  # another user's space
        await dm.add_files(ALICE, ds["id"], {"source": "workspace", "space": "user:bob",
                                             "path": "secret"})  # fmt: skip


async def test_s3_prefix_referenced_in_place(dm) -> None:
    ds = await dm.create(ALICE, {"name": "inplace", "type": "generic"})
    await write(dm, ALICE, {"raw/a.bin": b"a" * 10, "raw/sub/b.bin": b"b" * 20})
    await write(dm, BOB, {"raw/x.bin": b"x"})
    root = dm.storage.path("x")[: -len("/x")]
    if dm.workspace.is_local:
        with pytest.raises(InvalidRequest):
            await dm.add_files(ALICE, ds["id"], {"source": "s3", "uri": f"s3://{root}/x"})
        return
    result = await dm.add_files(ALICE, ds["id"], {
        "source": "s3", "uri": f"s3://{root}/workspace/users/alice/raw"})  # fmt: skip
    assert result["added"] == 2 and result["bytes"] == 30
    files = await all_files(dm, ALICE, ds["id"])
    assert files["sub/b.bin"]["source"] == "workspace/users/alice/raw/sub/b.bin"  # not copied
    assert await dm.read_file(ALICE, ds["id"], "sub/b.bin") == b"b" * 20
    # The original changes behind the dataset's back: reading it fails instead of lying.
    await write(dm, ALICE, {"raw/sub/b.bin": b"c" * 20})
    with pytest.raises(Conflict):
        await dm.read_file(ALICE, ds["id"], "sub/b.bin")
    for uri, error in [
        (f"s3://{root}/workspace/users/bob/raw", NotFound),
        (f"s3://{root}/datasets/{ds['id']}", InvalidRequest),
        (f"s3://{root}-other/workspace/users/alice/raw", InvalidRequest),
        ("s3://another-bucket/workspace/users/alice/raw", InvalidRequest),
        (f"s3://{root}/workspace/users/alice/../bob/raw", InvalidRequest),
        ("/etc/passwd", InvalidRequest),
    ]:
        with pytest.raises(error):
            await dm.add_files(ALICE, ds["id"], {"source": "s3", "uri": uri})


# ------------------------------------------------------------------------------ over HTTP


class FakeHubAuth:
    """Resolves ``Authorization: token <name>`` to that test user (the hub's part, stood in)."""

    access_scopes: set[str] = set()

    def get_token(self, handler: web.RequestHandler, in_cookie: bool = False) -> str | None:
        header = handler.request.headers.get("Authorization", "")
        return header.split(" ", 1)[1] if header.startswith("token ") else None

    async def user_for_token(self, token: str, sync: bool = False) -> dict | None:
        user = USERS.get(token)
        if user is None:
            return None
        return {"name": user.name, "kind": "user", "groups": list(user.groups),
                "scopes": sorted(user.scopes)}  # fmt: skip


@pytest.fixture
async def http(dm):
    app = web.Application(dataset_handlers.routes("/api"), hub_auth=FakeHubAuth(),
                          tz_datasets=dm, log=logging.getLogger("tz-test"))  # fmt: skip
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    client = AsyncHTTPClient(force_instance=True)

    async def call(user: str, method: str, path: str, body: Any = None) -> HTTPResponse:
        return await client.fetch(
            f"http://127.0.0.1:{port}/api{path}", method=method, raise_error=False,
            headers={"Authorization": f"token {user}"}, allow_nonstandard_methods=True,
            body=None if body is None else json.dumps(body),
        )  # fmt: skip

    yield call
    client.close()
    server.stop()


async def test_http_eight_clients_publish_at_once(dm, http) -> None:
    ds = await make_dataset(dm, visibility="team", team="vision")
    files = await all_files(dm, ALICE, ds["id"])

    async def labeler() -> None:
        # Draft edits while the publishers run: every manifest must still be one consistent
        # snapshot of the draft.
        for key, f in files.items():
            r = await http("carol", "POST", f"/datasets/{ds['id']}/files/annotations",
                           {"key": key, "revision": f["revision"],
                            "annotations": {"labels": [key.split("/")[0]]}})  # fmt: skip
            assert r.code == 200, r.body

    publishers = [http("alice" if i % 2 else "carol", "POST", f"/datasets/{ds['id']}/publish",
                       {"note": f"client {i}"}) for i in range(8)]  # fmt: skip
    *responses, _ = await asyncio.gather(*publishers, labeler())
    created = [json.loads(r.body) for r in responses if r.code == 201]
    for r in responses:
        assert r.code == 201 or (
            r.code == 409 and json.loads(r.body)["reason"] == "PublishConflict"
        )
    names = [v["version"] for v in created]
    assert created and len(set(names)) == len(names)
    listed = json.loads((await http("alice", "GET", f"/datasets/{ds['id']}/versions")).body)
    assert sorted(v["version"] for v in listed["items"]) == sorted(names)
    for v in created:
        r = await http("bob", "GET", f"/datasets/{ds['id']}/versions/{v['version']}/manifest")
        assert r.code == 404  # not on the team
        r = await http("carol", "GET", f"/datasets/{ds['id']}/versions/{v['version']}/manifest")
        assert r.code == 200 and r.headers["Content-Type"] == "application/jsonl"
        assert hashlib.sha256(r.body).hexdigest() == v["manifest_sha256"]
        entries = await check_version_bytes(dm, ds["id"], mf.version_number(v["version"]),
                                            v["manifest_sha256"])  # fmt: skip
        # One snapshot: labels are a prefix of the labeler's order, never a patchwork.
        labeled = [bool(e["annotations"]["labels"]) for e in entries]
        assert labeled == sorted(labeled, reverse=True)
        assert v["stats"]["labeled"] == sum(labeled)


async def test_http_routes_and_errors(dm, http) -> None:
    r = await http("alice", "POST", "/datasets", {"name": "web", "type": "generic",
                                                  "labels": ["<i>x</i>"]})  # fmt: skip
    assert r.code == 201, r.body
    ds = json.loads(r.body)
    assert r.headers["Location"].endswith(ds["id"])
    png = io.BytesIO()
    Image.new("RGB", (200, 100), "red").save(png, "PNG")
    await write(dm, ALICE, {"w/a.png": b"\x89PNG fake", "w/b.txt": b"hello",
                            "w/c.png": png.getvalue()})  # fmt: skip
    r = await http(
        "alice",
        "POST",
        f"/datasets/{ds['id']}/files",
        {"source": "workspace", "space": "user:alice", "path": "w"},
    )
    assert r.code == 201 and json.loads(r.body)["added"] == 3
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files/content?key=b.txt")
    assert r.code == 200 and r.body == b"hello"
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment")
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files/content?key=a.png")
    assert r.headers["Content-Type"] == "image/png"
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files/preview?key=b.txt")
    assert r.code == 200 and json.loads(r.body)["kind"] == "text"
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files/thumbnail?key=c.png&size=64")
    assert r.code == 200 and r.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.body)) as im:
        assert im.format == "JPEG" and max(im.size) == 64
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files/thumbnail?key=b.txt")
    assert r.code == 400
    r = await http("alice", "GET", f"/datasets/{ds['id']}/files?labeled=false&limit=1")
    page = json.loads(r.body)
    assert len(page["items"]) == 1 and page["_pagination"]["total"] == 3
    r = await http("bob", "GET", f"/datasets/{ds['id']}")
    assert r.code == 404 and json.loads(r.body)["reason"] == "DatasetNotFound"
    r = await http("bob", "GET", "/datasets/resolve?ref=alice/web")
    assert r.code == 404
    r = await http("alice", "GET", "/datasets/resolve?ref=web")
    assert json.loads(r.body)["version"] is None
    r = await http("alice", "POST", f"/datasets/{ds['id']}/publish")
    assert r.code == 201 and json.loads(r.body)["version"] == "V001"
    r = await http("alice", "GET", f"/datasets/{ds['id']}/versions/V001/files")
    assert [e["key"] for e in json.loads(r.body)["items"]] == ["a.png", "b.txt", "c.png"]
    r = await http("alice", "GET", f"/datasets/{ds['id']}/versions/V001/diff")
    assert json.loads(r.body)["added"] == ["a.png", "b.txt", "c.png"]
    r = await http("alice", "GET", f"/datasets/{ds['id']}/versions/V009")
    assert r.code == 404
    r = await http("alice", "PATCH", f"/datasets/{ds['id']}", {"description": HTML})
    assert json.loads(r.body)["description"] == HTML
    r = await http("alice", "GET", "/datasets?q=web")
    assert [d["id"] for d in json.loads(r.body)["items"]] == [ds["id"]]
    r = await http("alice", "DELETE", f"/datasets/{ds['id']}/files", {"keys": ["a.png"]})
    assert r.code == 204
    r = await http("nobody", "GET", "/datasets")
    assert r.code == 401
    r = await http("alice", "DELETE", f"/datasets/{ds['id']}")
    assert r.code == 204
    assert not await asyncio.to_thread(dm.storage.exists, dm.manifest_key(ds["id"], 1))
    r = await http("alice", "GET", f"/datasets/{ds['id']}")
    assert r.code == 404


# ------------------------------------------------------------------------------ blob collection


def blob_exists(dm: TzDatasetManager, ds_id: str, data: bytes) -> bool:
    sha = hashlib.sha256(data).hexdigest()
    dm.storage.fs.invalidate_cache()
    return dm.storage.exists(f"datasets/{ds_id}/blobs/{sha}")


async def add_folder(dm: TzDatasetManager, ds_id: str, path: str) -> dict:
    return await dm.add_files(ALICE, ds_id, {"source": "workspace", "space": "user:alice",
                                             "path": path})  # fmt: skip


BLOBS = {"a": b"A" * 1000, "b": b"B" * 1000, "c": b"C" * 1000, "e": b"E" * 777, "f": b"F" * 10}


async def test_removed_files_blobs_are_reclaimed_unless_something_still_lists_them(dm) -> None:
    # Given a published V001 of a, b, c (and d: the same bytes as c)
    ds = await dm.create(ALICE, {"name": "gc", "type": "generic"})
    files = {f"gc/{k}.bin": v for k, v in BLOBS.items() if k in "abc"} | {"gc/d.bin": BLOBS["c"]}
    await write(dm, ALICE, files)
    await add_folder(dm, ds["id"], "gc")
    await dm.publish(ALICE, ds["id"], {})
    # and a draft where a and d are removed, b gets new bytes, e was added and removed again,
    # and f was removed and added back
    await write(dm, ALICE, {"more/e.bin": BLOBS["e"], "more/f.bin": BLOBS["f"],
                            "gc/b.bin": b"B2" * 600})  # fmt: skip
    await add_folder(dm, ds["id"], "more")
    await add_folder(dm, ds["id"], "gc/b.bin")
    await dm.remove_files(ALICE, ds["id"], {"keys": ["a.bin", "d.bin", "e.bin", "f.bin"]})
    await add_folder(dm, ds["id"], "more/f.bin")
    collector = dm.collector

    # When the collector runs within the grace period, then nothing is deleted
    assert (await collector.collect_all())["blobs"] == 0
    assert blob_exists(dm, ds["id"], BLOBS["e"])

    # When it runs after the grace period
    collector.grace = 0
    assert await collector.collect_all() == {"datasets": 1, "blobs": 1, "bytes": len(BLOBS["e"])}

    # Then only e's blob is gone: V001 still lists a and b, the draft still has c and f
    assert not blob_exists(dm, ds["id"], BLOBS["e"])
    for key in ("a", "b", "c", "f"):
        assert blob_exists(dm, ds["id"], BLOBS[key]), key
    for key, data in {"a.bin": BLOBS["a"], "b.bin": BLOBS["b"], "d.bin": BLOBS["c"]}.items():
        assert await dm.read_file(ALICE, ds["id"], key, "V001") == data
    assert await dm.read_file(ALICE, ds["id"], "f.bin") == BLOBS["f"]
    assert (await collector.collect_all())["blobs"] == 0  # nothing left to consider
    # and adding e again copies it anew
    await add_folder(dm, ds["id"], "more/e.bin")
    assert await dm.read_file(ALICE, ds["id"], "e.bin") == BLOBS["e"]
    # Deleting the dataset takes its candidates with it
    await dm.remove_files(ALICE, ds["id"], {"keys": ["e.bin"]})
    await dm.delete(ALICE, ds["id"])
    assert (await collector.collect_all())["blobs"] == 0


async def removed_and_collectable(dm: TzDatasetManager, name: str) -> dict:
    """A dataset whose e.bin was added from folder ``name`` and removed; its blob may now be
    deleted by the collector (no grace)."""
    ds = await dm.create(ALICE, {"name": name, "type": "generic"})
    await write(dm, ALICE, {f"{name}/e.bin": BLOBS["e"]})
    await add_folder(dm, ds["id"], name)
    await dm.remove_files(ALICE, ds["id"], {"keys": ["e.bin"]})
    dm.collector.grace = 0
    return ds


async def test_files_added_while_their_blob_is_collected_are_copied_again(
    dm, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given e, removed from the draft, whose blob the collector may now delete
    ds = await removed_and_collectable(dm, "race")
    collector = dm.collector

    # When e is added again and the collector deletes the blob after the add reused it
    # (between hashing and committing)
    hash_all = dm._hash_all
    collected: list[dict] = []

    async def hash_then_collect(*args: Any, **kwargs: Any):
        hashed = await hash_all(*args, **kwargs)
        if not collected:
            collected.append(await collector.collect_all())
        return hashed

    monkeypatch.setattr(dm, "_hash_all", hash_then_collect)
    await add_folder(dm, ds["id"], "race")

    # Then the add started over and copied the blob again: the draft's file reads back whole
    assert collected == [{"datasets": 1, "blobs": 1, "bytes": len(BLOBS["e"])}]
    assert await dm.read_file(ALICE, ds["id"], "e.bin") == BLOBS["e"]


async def test_adding_files_waits_while_the_collector_deletes(
    dm, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await removed_and_collectable(dm, "wait")
    collector = dm.collector
    marked, release = asyncio.Event(), asyncio.Event()
    delete = collector._delete

    async def slow_delete(*args: Any) -> list[str]:
        marked.set()
        await release.wait()
        return await delete(*args)

    monkeypatch.setattr(collector, "_delete", slow_delete)
    # Given a collector that has marked e's blob and is deleting it
    collecting = asyncio.ensure_future(collector.collect_all())
    await asyncio.wait_for(marked.wait(), 10)
    # When e is added again, then the add waits for the collector
    adding = asyncio.ensure_future(add_folder(dm, ds["id"], "wait"))
    await asyncio.sleep(1.5)
    assert not adding.done()
    release.set()
    assert (await collecting)["blobs"] == 1
    assert (await adding)["added"] == 1
    # and the file it added reads back whole
    assert await dm.read_file(ALICE, ds["id"], "e.bin") == BLOBS["e"]


async def test_orphaned_blobs_of_a_failed_add_become_candidates_and_are_collected(dm) -> None:
    # Given a dataset with a published file and a draft file, and blobs nothing names (an add
    # copied them, then failed)
    ds = await dm.create(ALICE, {"name": "orphans", "type": "generic"})
    await write(dm, ALICE, {"o/a.bin": BLOBS["a"], "o/b.bin": BLOBS["b"]})
    await add_folder(dm, ds["id"], "o/a.bin")
    await dm.publish(ALICE, ds["id"], {})
    await add_folder(dm, ds["id"], "o/b.bin")
    await dm.remove_files(ALICE, ds["id"], {"keys": ["a.bin"]})  # V001 still lists it

    async def put_blob(data: bytes) -> None:
        key = f"datasets/{ds['id']}/blobs/{hashlib.sha256(data).hexdigest()}"
        await asyncio.to_thread(dm.storage.put_bytes, key, data)

    orphan, fresh = BLOBS["e"], BLOBS["f"]
    await put_blob(orphan)
    # (on a local store, also the temporary file of a copy that died)
    blobs = dm.storage.local_path(f"datasets/{ds['id']}/blobs")
    leftover = blobs / f"{RESERVED_PREFIX}dead-copy" if blobs is not None else None
    if leftover is not None:
        leftover.write_bytes(b"half")
    collector = dm.collector
    assert await collector.find_orphans() == 0  # younger than a day

    # When the sweep runs with a grace that only the older orphan is past
    await asyncio.sleep(4)
    await put_blob(fresh)
    collector.grace = 3
    assert await collector.find_orphans() == 1
    assert await collector.find_orphans() == 0  # already a candidate
    done = await collector.collect_all()

    # Then only the orphan is deleted; the published, draft and fresh blobs stay
    assert done == {"datasets": 1, "blobs": 1, "bytes": len(orphan)}
    assert not blob_exists(dm, ds["id"], orphan)
    assert leftover is None or not leftover.exists()
    for data in (BLOBS["a"], BLOBS["b"], fresh):
        assert blob_exists(dm, ds["id"], data)
    assert await dm.read_file(ALICE, ds["id"], "a.bin", "V001") == BLOBS["a"]
    assert await dm.read_file(ALICE, ds["id"], "b.bin") == BLOBS["b"]


async def test_a_dataset_whose_manifest_is_missing_keeps_its_blobs(dm) -> None:
    # Given two datasets with a removed file each, one of them with a lost manifest
    broken, fine = await removed_and_collectable(dm, "broken"), await removed_and_collectable(
        dm, "fine")
    await write(dm, ALICE, {"x/a.bin": BLOBS["a"]})
    await add_folder(dm, broken["id"], "x")
    await dm.publish(ALICE, broken["id"], {})
    await asyncio.to_thread(dm.storage.delete, dm.manifest_key(broken["id"], 1))
    # When the collector runs, then it cannot know what V001 listed and keeps that dataset whole,
    # and still collects the other one
    done = await dm.collector.collect_all()
    assert done == {"datasets": 1, "blobs": 1, "bytes": len(BLOBS["e"])}
    assert blob_exists(dm, broken["id"], BLOBS["e"])
    assert not blob_exists(dm, fine["id"], BLOBS["e"])


# ------------------------------------------------------------------------------ version as a ZIP


async def test_a_version_downloads_as_a_zip_laid_out_as_a_job_sees_it(dm, http, tmp_path) -> None:
    # Given pets:V001, published from the workspace
    ds = await make_dataset(dm)
    version = await dm.publish(ALICE, ds["id"], {"note": "zip me"})
    # When alice downloads it
    r = await http("alice", "GET", f"/datasets/{ds['id']}/versions/V001/download")
    assert r.code == 200 and r.headers["Content-Type"] == "application/zip"
    assert "pets-V001.zip" in r.headers["Content-Disposition"]
    # Then the archive is the folder a job gets: files by key, the manifest, version.json
    archive = zipfile.ZipFile(io.BytesIO(r.body))
    assert archive.testzip() is None
    archive.extractall(tmp_path)
    root = tmp_path / "pets-V001"
    manifest = (root / "manifest.jsonl").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == version["manifest_sha256"]
    opened = reader.load_version("pets:V001", root)
    assert (opened.name, opened.version, len(opened.files)) == ("pets", "V001", len(IMAGES))
    for f in opened.files:
        assert f.path.read_bytes() == IMAGES[f"pics/{f.key}"]
    # Another user's private dataset is not found
    r = await http("bob", "GET", f"/datasets/{ds['id']}/versions/V001/download")
    assert r.code == 404


async def test_a_version_whose_file_changed_in_storage_never_downloads_whole(dm) -> None:
    ds = await make_dataset(dm)
    await dm.publish(ALICE, ds["id"], {})
    entries = await dm._entries(ALICE, ds["id"], "V001")
    await asyncio.to_thread(dm.storage.put_bytes, entries[-1]["source"], b"changed behind TZ")
    _, chunks = await dm.open_version_zip(ALICE, ds["id"], "V001")
    with pytest.raises(Conflict, match="changed in storage"):
        async for _ in chunks:
            pass
