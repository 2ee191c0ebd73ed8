"""The model registry end to end on both storage backends (a local folder, moto S3).

What a user would notice: who can see which model (404 otherwise, files included), versions
registered from a folder with their descriptor, files that download intact, stage rules (one
production version, even when eight people promote at once, every move in the history), lineage
through conversions, comparisons as JSON and CSV, HTML kept verbatim, and hostile paths refused.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import sys
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent.parent))

from s3server import moto_s3  # noqa: E402
from traversal import HOSTILE_PATHS  # noqa: E402

from training_zoo.datasets.workspace import TzWorkspace  # noqa: E402
from training_zoo.db.orm import ModelVersion  # noqa: E402
from training_zoo.db.session import make_session_factory  # noqa: E402
from training_zoo.errors import Conflict, Forbidden, InvalidRequest, NotFound  # noqa: E402
from training_zoo.identity import ADMIN_SCOPE, Identity  # noqa: E402
from training_zoo.models.manager import TzModelManager  # noqa: E402
from training_zoo.storage import TzStorage  # noqa: E402

pytestmark = pytest.mark.integration

BUCKET = "tz-models"
SCOPES = frozenset({"custom:tz:models:read", "custom:tz:models:write"})
ALICE = Identity("alice", groups=("vision",), scopes=SCOPES)
BOB = Identity("bob", groups=("other",), scopes=SCOPES)
CAROL = Identity("carol", groups=("vision",), scopes=SCOPES)
ROOT = Identity("root", scopes=SCOPES | {ADMIN_SCOPE})
XSS = "<img src=x onerror=window.__xss=1><script>alert(1)</script>"

DESCRIPTOR = {
    "format": "onnx",
    "framework": "onnx",
    "framework_version": "1.19",
    "artifact": "model.onnx",
    "task": "image_classification",
    "signature": {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 16, 16]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 3]}],
    },
    "labels": ["circle", "square", "triangle"],
    "metrics": {"val_accuracy": 0.9},
    "tags": {"note": XSS},
    "card": "CARD.md",
}
FILES = {
    "model.onnx": b"\x08\x07onnx-bytes" * 1000,
    "CARD.md": f"# Shapes\n\n{XSS}\n".encode(),
    "extra/notes.txt": b"notes",
}


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3(BUCKET) as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def mm(request, tmp_path) -> TzModelManager:
    if request.param == "local":
        storage = TzStorage(url=str(tmp_path / "storage"))
    else:
        storage = TzStorage(
            url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
            storage_options={"client_kwargs": {"endpoint_url": request.getfixturevalue("s3_url")},
                             "skip_instance_cache": True},
        )  # fmt: skip
    return TzModelManager(
        storage=storage,
        workspace=TzWorkspace(storage=storage),
        session_factory=make_session_factory(f"sqlite:///{tmp_path / 'tz.sqlite'}"),
    )


async def put_folder(mm: TzModelManager, user: Identity, folder: str, files: dict[str, bytes],
                     descriptor: dict | None = DESCRIPTOR) -> None:  # fmt: skip
    all_files = dict(files)
    if descriptor is not None:
        all_files["tz-model.json"] = json.dumps(descriptor).encode()
    for path, data in all_files.items():
        await mm.workspace.write_bytes(user, f"user:{user.name}", f"{folder}/{path}", data)


async def register(mm: TzModelManager, user: Identity = ALICE, name: str = "shapes",
                   folder: str = "exports/m1", **fields: Any) -> dict:  # fmt: skip
    await put_folder(mm, user, folder, FILES)
    source = {"space": f"user:{user.name}", "path": folder}
    return await mm.register_by_name(user, {"name": name, "source": source, **fields})


async def download(mm: TzModelManager, user: Identity, model_id: str, n: int, path: str) -> bytes:
    _, chunks = await mm.open_file(user, model_id, n, path)
    return b"".join([c async for c in chunks])


# ------------------------------------------------------------------------------ registration


async def test_register_from_a_folder_keeps_descriptor_files_and_card(mm) -> None:
    v = await register(mm, description="first")
    assert (v["version"], v["ref"], v["format"]) == (1, "alice/shapes:1", "onnx")
    assert v["stage"] == "none"
    assert v["signature"]["inputs"][0]["shape"] == [-1, 3, 16, 16]
    assert v["labels"] == ["circle", "square", "triangle"] and v["metrics"] == {"val_accuracy": 0.9}
    assert v["card"] == FILES["CARD.md"].decode()  # the file's Markdown, verbatim
    assert v["tags"] == {"note": XSS}  # stored verbatim; every view renders it as text
    assert v["source"] == {"kind": "workspace", "space": "user:alice", "path": "exports/m1"}
    model = await mm.get(ALICE, v["model_id"])
    assert (model["task"], model["versions"], model["latest_version"]) == (
        "image_classification", 1, 1)  # fmt: skip
    files = {f["path"]: f for f in await mm.files(ALICE, v["model_id"], 1)}
    assert set(files) == {"model.onnx", "CARD.md", "extra/notes.txt", "tz-model.json"}
    for path, data in FILES.items():
        assert files[path]["sha256"] == hashlib.sha256(data).hexdigest()
        assert await download(mm, ALICE, v["model_id"], 1, path) == data
    # The stored descriptor is the version's: it loads without the registry.
    stored = json.loads(await download(mm, ALICE, v["model_id"], 1, "tz-model.json"))
    assert stored["format"] == "onnx" and stored["artifact"] == "model.onnx"
    # The source folder changing afterwards does not change the version.
    await put_folder(mm, ALICE, "exports/m1", {"model.onnx": b"other"})
    assert await download(mm, ALICE, v["model_id"], 1, "model.onnx") == FILES["model.onnx"]
    assert [m["name"] for m in (await mm.list(ALICE, q="hap"))[0]] == ["shapes"]
    assert (await mm.list(ALICE, q="%"))[0] == []  # searched for literally
    v2 = await register(mm, version="v2-kubeflow-name", model_format_name="onnx",
                        metadata={"k": 1})  # fmt: skip
    assert (v2["version"], v2["version_name"], v2["tags"]) == (2, "v2-kubeflow-name", {"k": "1"})


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"format": "pickle"}, "format"),
        ({"artifact": "missing.onnx"}, "artifact"),
        ({"signature": {"inputs": [{"name": "x", "dtype": "complex", "shape": [1]}]}},
         "signature.inputs[0].dtype"),
        ({"metrics": {"acc": "high"}}, "metrics.acc"),
        ({"description": 3}, "description"),
    ],
)  # fmt: skip
async def test_bad_version_fields_are_refused_naming_the_field(mm, overrides, field) -> None:
    with pytest.raises(InvalidRequest) as e:
        await register(mm, **overrides)
    assert field in e.value.errors, e.value.errors
    assert (await mm.list(ALICE))[0] == [] or (await mm.list(ALICE))[0][0]["versions"] == 0


async def test_a_folder_without_descriptor_needs_format(mm) -> None:
    await put_folder(mm, ALICE, "bare", {"net.onnx": b"x"}, descriptor=None)
    source = {"space": "user:alice", "path": "bare"}
    with pytest.raises(InvalidRequest) as e:
        await mm.register_by_name(ALICE, {"name": "bare", "source": source})
    assert "format" in e.value.errors
    v = await mm.register_by_name(ALICE, {"name": "bare", "source": source, "format": "onnx"})
    assert v["artifact"] == "net.onnx"  # the only file
    with pytest.raises(InvalidRequest) as e:  # no name given, and no descriptor to take it from
        await mm.register_by_name(ALICE, {"source": source, "format": "onnx"})
    assert "name" in e.value.errors
    await put_folder(mm, ALICE, "named", FILES, {**DESCRIPTOR, "name": "from-descriptor"})
    v = await mm.register_by_name(ALICE, {"source": {"space": "user:alice", "path": "named"}})
    assert v["ref"] == "alice/from-descriptor:1"
    with pytest.raises(NotFound):
        await mm.register_by_name(ALICE, {"name": "bare", "format": "onnx",
                                          "source": {"space": "user:alice", "path": "nothing"}})


async def test_hostile_source_paths_never_escape(mm) -> None:
    await put_folder(mm, BOB, "secret", FILES)
    escaped = 0
    for path in HOSTILE_PATHS:
        try:
            v = await mm.register_by_name(ALICE, {"name": "evil", "format": "onnx",
                                                  "source": {"space": "user:alice", "path": path}})
            escaped += 1
            print("escaped with", repr(path), v)
        except (InvalidRequest, NotFound):
            pass
    for body in ({"space": "user:bob", "path": "secret"}, {"space": "team:other", "path": "x"}):
        with pytest.raises(NotFound):
            await mm.register_by_name(ALICE, {"name": "evil", "source": body})
    for artifact in ("../x", "/etc/passwd", "a/../../b"):
        with pytest.raises(InvalidRequest):
            await register(mm, artifact=artifact)
    assert escaped == 0


# ------------------------------------------------------------------------------ who sees what


@pytest.mark.parametrize(
    "visibility, team, reader, can_read, can_write",
    [
        ("private", None, BOB, False, False),
        ("private", None, CAROL, False, False),
        ("private", None, ROOT, True, True),
        ("team", "vision", CAROL, True, True),
        ("team", "vision", BOB, False, False),
        ("public", None, BOB, True, False),
    ],
)
async def test_who_may_read_and_write(mm, visibility, team, reader, can_read, can_write) -> None:
    v = await register(mm, visibility=visibility, team=team)
    mid = v["model_id"]
    listed = [m["id"] for m in (await mm.list(reader))[0]]
    if not can_read:
        assert mid not in listed
        for call in (mm.get(reader, mid), mm.version(reader, mid, 1), mm.files(reader, mid, 1),
                     mm.resolve(reader, "alice/shapes:1"), mm.lineage(reader, mid, 1),
                     mm.history(reader, mid), mm.open_file(reader, mid, 1, "model.onnx"),
                     mm.set_stage(reader, mid, 1, {"stage": "staging"}), mm.delete(reader, mid),
                     mm.compare(reader, ["alice/shapes:1"])):  # fmt: skip
            with pytest.raises((NotFound, InvalidRequest)) as e:
                await call
            assert "alice/shapes" not in str(e.value.message) or "not found" in e.value.message
        return
    assert mid in listed
    assert await download(mm, reader, mid, 1, "model.onnx") == FILES["model.onnx"]
    promote = mm.set_stage(reader, mid, 1, {"stage": "staging"})
    if can_write:
        assert (await promote)["stage"] == "staging"
    else:
        with pytest.raises(Forbidden):
            await promote


# ------------------------------------------------------------------------------ stages


async def test_promoting_demotes_the_previous_production_version(mm) -> None:
    for _ in range(3):
        v = await register(mm)
    mid = v["model_id"]
    await mm.set_stage(ALICE, mid, 1, {"stage": "production", "comment": "launch"})
    await mm.set_stage(ALICE, mid, 2, {"stage": "staging"})
    await mm.set_stage(ALICE, mid, 2, {"stage": "production", "comment": "better"})
    stages = {v["version"]: v["stage"] for v in (await mm.versions(ALICE, mid))[0]}
    assert stages == {1: "archived", 2: "production", 3: "none"}
    assert (await mm.get(ALICE, mid))["production_version"] == 2
    history = [(h["version"], h["from"], h["to"]) for h in await mm.history(ALICE, mid)]
    assert history == [(2, "staging", "production"), (1, "production", "archived"),
                       (2, "none", "staging"), (1, "none", "production")]  # fmt: skip
    assert (await mm.history(ALICE, mid))[1]["comment"] == "replaced by version 2"
    with pytest.raises(Conflict):
        await mm.delete_version(ALICE, mid, 2)
    with pytest.raises(Conflict):
        await mm.delete(ALICE, mid)
    with pytest.raises(InvalidRequest) as e:
        await mm.set_stage(ALICE, mid, 3, {"stage": "prod"})
    assert "stage" in e.value.errors
    assert [m["id"] for m in (await mm.list(ALICE, stage="production"))[0]] == [mid]


async def test_concurrent_promotions_leave_exactly_one_production_version(mm) -> None:
    for _ in range(8):
        v = await register(mm)
    mid = v["model_id"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def promote(n: int) -> None:
        barrier.wait()
        try:
            asyncio.run(mm.set_stage(ALICE, mid, n, {"stage": "production"}))
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=promote, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(e, Conflict) for e in errors), errors
    with mm.sessions() as db:
        production = db.query(ModelVersion).filter_by(model_id=mid, stage="production").all()
    assert len(production) == 1
    history = await mm.history(ALICE, mid)
    promoted = [h for h in history if h["to"] == "production"]
    assert len(promoted) == 8 - len(errors)
    # Every promotion but the first archived exactly the one before it.
    assert len([h for h in history if h["from"] == "production"]) == len(promoted) - 1


# ------------------------------------------------------------------------------ lineage, compare


async def test_lineage_follows_conversions_and_compare_exports_csv(mm) -> None:
    v1 = await register(mm)
    mid = v1["model_id"]
    await put_folder(mm, ALICE, "exports/int8", FILES, {**DESCRIPTOR, "conversion": {
        "kind": "int8", "parity": {"max_abs": 0.01, "max_rel": 0.02, "samples": 8,
                                   "tolerance_abs": 0.1, "tolerance_rel": 1.0, "passed": True}}})
    v2 = await mm.register(ALICE, mid, {"source": {"space": "user:alice", "path": "exports/int8"}},
                           parent=1)  # fmt: skip
    assert v2["parent"] == {"version": 1, "ref": "alice/shapes:1"}
    assert v2["conversion"]["parity"]["passed"] is True
    for n in (1, 2):
        graph = await mm.lineage(ALICE, mid, n)
        kinds = sorted((e["from"], e["to"], e["kind"]) for e in graph["edges"])
        assert kinds == [("version:alice/shapes:1", "version:alice/shapes:2", "converted")]
        assert {node["kind"] for node in graph["nodes"]} == {"version"}
    result = await mm.compare(ALICE, ["alice/shapes:1", "alice/shapes:2"])
    assert [r["ref"] for r in result["rows"]] == ["alice/shapes:1", "alice/shapes:2"]
    assert result["rows"][1]["size_ratio"] == pytest.approx(1.0, rel=0.1)
    rows = list(csv.DictReader(io.StringIO(mm.compare_csv(result))))
    assert rows[0]["ref"] == "alice/shapes:1" and "size_ratio" in rows[0]
    with pytest.raises(InvalidRequest) as e:
        await mm.compare(ALICE, ["alice/shapes:1", "alice/shapes:9"])
    assert "versions[1]" in e.value.errors


async def test_runs_whose_job_ended_while_the_service_was_away_are_closed_at_start(tmp_path):
    from training_zoo.db.orm import Job, ModelRun
    from training_zoo.jobs.manager import TzJobManager, utcnow
    from training_zoo.models.runner import TzModelRuns

    storage = TzStorage(url=str(tmp_path / "storage"))
    sessions = make_session_factory(f"sqlite:///{tmp_path / 'tz.sqlite'}")
    jobs = TzJobManager(storage=storage, session_factory=sessions)
    mm = TzModelManager(storage=storage, workspace=TzWorkspace(storage=storage),
                        session_factory=sessions, jobs=jobs)  # fmt: skip
    runs = TzModelRuns(registry=mm, jobs=jobs)
    v = await register(mm)
    # Given an evaluation whose job succeeded (its output written) but was never closed
    now = utcnow()
    spec = {"name": "eval-shapes-v1", "framework": "custom", "nodes": 1, "procs_per_node": 1}
    with sessions() as db:
        db.add(Job(id="eval-shapes-v1-0000", owner="alice", name="eval-shapes-v1",
                   framework="custom", status="succeeded", spec=spec, backend="local",
                   backend_state={}, created=now, finished=now))  # fmt: skip
        db.add(ModelRun(id="run-000000000001", kind="evaluate", model_id=v["model_id"],
                        version=1, owner="alice", job_id="eval-shapes-v1-0000",
                        status="running", params={}, created=now))  # fmt: skip
        db.commit()
    evaluation = {"metrics": {"accuracy": 0.75}, "speed": {"runtime": "onnxruntime"},
                  "samples": 4}  # fmt: skip
    storage.put_bytes("jobs/alice/eval-shapes-v1-0000/output/evaluation.json",
                      json.dumps(evaluation).encode())  # fmt: skip
    # When the service starts again, then the run is closed with what the job left
    await runs.reconcile()
    run = await runs.get(ALICE, "run-000000000001")
    assert (run["status"], run["metrics"], run["finished"] is not None) == (
        "succeeded", {"accuracy": 0.75}, True)  # fmt: skip
    assert (await mm.version(ALICE, v["model_id"], 1))["evaluations"][0]["id"] == run["id"]


# ------------------------------------------------------------------------------ download as a ZIP


async def test_a_version_downloads_as_one_zip_checked_as_it_streams(mm) -> None:
    v = await register(mm)
    # When alice downloads version 1 as one ZIP
    name, chunks = await mm.open_version_zip(ALICE, v["model_id"], 1)
    archive = zipfile.ZipFile(io.BytesIO(b"".join([c async for c in chunks])))
    # Then it holds every file of the version under shapes-v1/, byte for byte
    assert name == "shapes-v1.zip" and archive.testzip() is None
    stored = {f["path"] for f in await mm.files(ALICE, v["model_id"], 1)}
    assert sorted(archive.namelist()) == sorted(f"shapes-v1/{p}" for p in stored)
    for path, data in FILES.items():
        assert archive.read(f"shapes-v1/{path}") == data
    # and bob, who may not read the model, gets nothing
    with pytest.raises(NotFound):
        await mm.open_version_zip(BOB, v["model_id"], 1)
    # When a file changed in storage behind TZ's back, the archive never completes
    with mm.sessions() as db:
        query = select(ModelVersion.prefix).where(ModelVersion.model_id == v["model_id"])
        prefix = db.scalar(query)
    await asyncio.to_thread(mm.storage.put_bytes, f"{prefix}/model.onnx", b"tampered")
    _, chunks = await mm.open_version_zip(ALICE, v["model_id"], 1)
    with pytest.raises(Conflict):
        async for _ in chunks:
            pass
