"""The models SDK, ``tz models`` CLI and ``%tz_models`` without a service: references, sources,
argument checks, registering local files (staged and cleaned up), verified downloads, waiting for
runs, comparisons (table, CSV, HTML) and saving an ``nn.Module`` as TorchScript, against an
in-memory models API (tests/fakes/data_api.py's workspace and uploads plus the routes below)."""

from __future__ import annotations

import hashlib
import json
import posixpath
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from fakes.data_api import TOKEN, FakeDataApi, _error
from training_zoo import cli, sdk_models
from training_zoo.client import (
    MODEL_STAGING,
    Client,
    TzClientError,
    model_source,
    parse_model_ref,
    run_status_line,
    set_default_client,
)
from training_zoo.magics import TzMagics, comparison_table

MODEL_ID = "mdl-0123456789ab"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeModelsApi(FakeDataApi):
    """The data fake plus an in-memory model registry of user alice."""

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}  # type: ignore[assignment]
        self.blobs: dict[tuple[str, int], dict[str, bytes]] = {}
        self.registered: list[dict[str, Any]] = []
        self.register_error: tuple[int, str] | None = None
        self.run_statuses: list[dict[str, Any]] = []
        self.bad_sha: set[str] = set()
        self.compare_csv = "ref,format,accuracy\r\nalice/m:1,onnx,0.9\r\n"

    def add_model(self, name: str, model_id: str = MODEL_ID, **fields: Any) -> dict[str, Any]:
        model = {
            "id": model_id,
            "name": name,
            "owner": self.user,
            "description": "",
            "task": "generic",
            "visibility": "private",
            "team": None,
            "versions": 0,
            "latest_version": None,
            "production_version": None,
            "created": "2026-01-02T03:04:05Z",
            "updated": "2026-01-02T03:04:05Z",
            **fields,
        }
        self.models[model_id] = model
        self.versions[model_id] = []
        return model

    def add_version(self, model_id: str, files: dict[str, bytes], **fields: Any) -> dict:
        model = self.models[model_id]
        number = len(self.versions[model_id]) + 1
        version = {
            "model_id": model_id,
            "name": model["name"],
            "owner": self.user,
            "version": number,
            "ref": f"{self.user}/{model['name']}:{number}",
            "stage": "none",
            "format": "onnx",
            "size_bytes": sum(map(len, files.values())),
            "files": len(files),
            "source": {"kind": "upload"},
            "created_by": self.user,
            "created": "2026-01-02T03:04:05Z",
            **fields,
        }
        self.versions[model_id].insert(0, version)
        self.blobs[(model_id, number)] = dict(files)
        model["versions"] = model["latest_version"] = number
        return version

    def _route(self, request: httpx.Request, parts: list[str], q: Any) -> httpx.Response:
        if parts[0] == "models":
            return self._models(request, parts[1:], q)
        return super()._route(request, parts, q)

    def _by_name(self, ref: str) -> dict[str, Any]:
        _, name, _ = parse_model_ref(ref)
        if name in self.models:
            return self.models[name]
        for model in self.models.values():
            if model["name"] == name:
                return model
        raise KeyError(f"model {ref}")

    def _version(self, model_id: str, number: int) -> dict[str, Any]:
        for version in self.versions[model_id]:
            if version["version"] == number:
                return version
        raise KeyError(f"version {number}")

    def _models(self, request: httpx.Request, rest: list[str], q: Any) -> httpx.Response:
        method = request.method
        if not rest:
            items = list(self.models.values())
            offset, limit = int(q.get("offset", 0)), int(q.get("limit", 100))
            page = items[offset : offset + self.page_size]
            # The service's envelope (write_page): next is null on the last page.
            after = offset + self.page_size
            nxt = {"offset": after, "limit": limit} if after < len(items) else None
            return httpx.Response(
                200,
                json={
                    "items": page,
                    "_pagination": {
                        "offset": offset,
                        "limit": limit,
                        "total": len(items),
                        "next": nxt,
                    },
                },
            )
        if rest == ["resolve"]:
            model = self._by_name(q["ref"])
            number = parse_model_ref(q["ref"])[2] or model["latest_version"]
            version = self._version(model["id"], number) if number else None
            return httpx.Response(200, json={"model": model, "version": version})
        if rest == ["register"]:
            body = json.loads(request.content)
            self.registered.append(body)
            if self.register_error:
                return _error(self.register_error[0], self.register_error[1], "Invalid")
            src = body["source"]
            prefix = f"{src['space']}/{src['path']}/"
            files = {k[len(prefix) :]: v for k, v in self.files.items() if k.startswith(prefix)}
            model = next((m for m in self.models.values() if m["name"] == body["name"]), None)
            model = model or self.add_model(body["name"], "mdl-" + "f" * 12)
            return httpx.Response(201, json=self.add_version(model["id"], files))
        if rest == ["compare"]:
            if q.get("format") == "csv":
                return httpx.Response(
                    200, text=self.compare_csv, headers={"Content-Type": "text/csv"}
                )
            return httpx.Response(200, json=COMPARISON)
        if rest[0] == "runs":
            run = self.run_statuses.pop(0) if len(self.run_statuses) > 1 else self.run_statuses[0]
            return httpx.Response(200, json=run)
        model = self.models[rest[0]]
        if len(rest) == 1:
            if method == "DELETE":
                del self.models[rest[0]]
                return httpx.Response(204)
            return httpx.Response(200, json=model)
        if rest[1] == "versions" and len(rest) == 2:
            return httpx.Response(
                200,
                json={
                    "items": self.versions[model["id"]],
                    "_pagination": {"total": len(self.versions[model["id"]]), "next": None},
                },
            )
        number = int(rest[2])
        version = self._version(model["id"], number)
        if len(rest) == 3:
            if method == "DELETE":
                self.versions[model["id"]].remove(version)
                return httpx.Response(204)
            return httpx.Response(200, json=version)
        blobs = self.blobs[(model["id"], number)]
        if rest[3] == "files" and len(rest) == 4:
            items = [
                {"path": p, "size": len(d), "sha256": "0" * 64 if p in self.bad_sha else _sha(d)}
                for p, d in sorted(blobs.items())
            ]
            return httpx.Response(200, json={"items": items})
        if rest[3] == "files":
            data = blobs["/".join(rest[4:])]
            return httpx.Response(200, content=data, headers={"Content-Length": str(len(data))})
        if rest[3] == "stage":
            version["stage"] = json.loads(request.content)["stage"]
            return httpx.Response(200, json=version)
        if rest[3] in ("convert", "evaluate"):
            body = json.loads(request.content)
            return httpx.Response(
                202,
                json={
                    "id": "run-000000000001",
                    "kind": rest[3],
                    "status": "queued",
                    "params": body,
                },
            )
        return _error(404, "no route", "NotFound")


COMPARISON = {
    "baseline": "alice/m:1",
    "dataset": "alice/shapes:V001",
    "columns": ["accuracy", "val.top5", "latency_ms_p50"],
    "rows": [
        {
            "ref": "alice/m:1",
            "format": "pytorch-state-dict",
            "runtime": "pytorch-eager",
            "size_bytes": 4000,
            "dataset": "alice/shapes:V001",
            "metrics": {"accuracy": 0.951234, "val.top5": 1.0},
            "speed": {"latency_ms_p50": 2.0},
            "accuracy_delta": 0.0,
            "latency_ratio": 1.0,
            "size_ratio": 1.0,
        },
        {
            "ref": "alice/m:2",
            "format": "onnx",
            "runtime": None,
            "size_bytes": 1000,
            "metrics": {"accuracy": 0.95},
            "speed": {"runtime": "onnxruntime", "latency_ms_p50": 0.5},
            "accuracy_delta": -0.001234,
            "latency_ratio": 0.25,
            "size_ratio": 0.25,
        },
        {
            "ref": "alice/m:3",
            "format": "<b>onnx</b>",
            "runtime": "onnxruntime",
            "size_bytes": None,
            "metrics": {},
            "speed": {},
            "accuracy_delta": None,
            "latency_ratio": None,
            "size_ratio": None,
        },
    ],
}


@pytest.fixture
def fake() -> FakeModelsApi:
    return FakeModelsApi()


@pytest.fixture
def client(fake: FakeModelsApi) -> Iterator[Client]:
    with fake.client() as c:
        set_default_client(c)
        try:
            yield c
        finally:
            set_default_client(None)


def _model_requests(fake: FakeModelsApi) -> list[str]:
    return [
        f"{r.method} {r.url.path.split('/api/v1/')[1]}"
        for r in fake.requests
        if "/models" in r.url.path
    ]


# -- references and sources --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("shapes-cnn", (None, "shapes-cnn", None)),
        ("shapes-cnn:3", (None, "shapes-cnn", 3)),
        ("alice/shapes_cnn:12", ("alice", "shapes_cnn", 12)),
        (f"{MODEL_ID}:2", (None, MODEL_ID, 2)),
    ],
)
def test_model_refs_are_parsed(ref: str, expected: tuple) -> None:
    assert parse_model_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    ["", "Shapes", "-x", "a/b/c", "/x", "x:", "x:0", "x:V001", "x:1.5", "x:³", "a" * 64, "x y"],
)
def test_malformed_model_refs_are_refused_naming_ref(ref: str) -> None:
    with pytest.raises(ValueError, match=r"^ref: "):
        parse_model_ref(ref)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("job://train-abc123", {"job": "train-abc123", "path": "model"}),
        ("job://train-abc123/out/best/", {"job": "train-abc123", "path": "out/best"}),
        ("tz-job://train-abc123/model", {"job": "train-abc123", "path": "model"}),
        ("tz-ws://team:vision/m", {"space": "team:vision", "path": "m"}),
        ("user:alice/exports/m1", {"space": "user:alice", "path": "exports/m1"}),
        ("team:vision/m", {"space": "team:vision", "path": "m"}),
        ("workspace://user:alice/exports/m1/", {"space": "user:alice", "path": "exports/m1"}),
        ("exports/model", Path("exports/model")),
        ("file:///tmp/model.onnx", Path("/tmp/model.onnx")),
        (Path("m.onnx"), Path("m.onnx")),
    ],
)
def test_uris_map_to_service_sources_or_local_paths(uri: Any, expected: Any) -> None:
    assert model_source(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://bucket/model", "not from s3://"),
        ("https://example.com/m.onnx", "not from https://"),
        ("job://", "names no job"),
        ("user:alice", "names no folder"),
        ("workspace://alice/x", "workspace://user:<name>/<path>"),
    ],
)
def test_unusable_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^uri: ") as error:
        model_source(uri)
    assert message in str(error.value)


def test_arguments_are_checked_before_any_request(
    fake: FakeModelsApi, client: Client, tmp_path: Path
) -> None:
    fake.add_model("m")
    fake.requests.clear()
    cases = [
        (lambda: client.create_model("Bad Name"), "name: "),
        (lambda: client.list_models(stage="prod"), "stage: "),
        (lambda: client.set_model_stage(f"{MODEL_ID}:1", "live"), "stage: "),
        (lambda: client.convert_model(f"{MODEL_ID}:1", "tflite"), "to: "),
        (lambda: client.register_model("m"), "pass exactly one of uri"),
        (lambda: client.register_model("m", "x", source={"job": "j"}), "pass exactly one"),
        (lambda: client.register_model("m", "s3://b/k"), "uri: "),
        (lambda: client.get_model_version(f"{MODEL_ID}:2", 3), "version: "),
        (lambda: client.get_model_version(MODEL_ID, 0), "version: "),
        (lambda: client.get_model_version(MODEL_ID, True), "version: "),
        (lambda: client.delete_model("m:1"), "names one version"),
        (lambda: client.delete_model_version("m"), "version: say which version"),
        (lambda: client.compare_models([]), "refs: "),
        (lambda: sdk_models.register("m"), "pass what to register"),
        (lambda: sdk_models.register("m", tmp_path, job="j"), "pass what to register"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="files_or_object: expected a path"):
        sdk_models.register("m", {"weights": 1})
    assert fake.requests == []


def test_versions_resolve_through_refs_ids_and_dicts(fake: FakeModelsApi, client: Client) -> None:
    fake.add_model("m")
    fake.add_version(MODEL_ID, {"a": b"1"})
    v2 = fake.add_version(MODEL_ID, {"a": b"2"})
    assert client._model_version("m") == (MODEL_ID, 2)
    assert client._model_version("alice/m:1") == (MODEL_ID, 1)
    assert client._model_version("m", 1) == (MODEL_ID, 1)
    fake.requests.clear()
    assert client._model_version(f"{MODEL_ID}:1") == (MODEL_ID, 1)
    assert client._model_version(v2) == (MODEL_ID, 2)
    assert fake.requests == []  # ids with a version and dicts need no lookup
    assert client._model_version(MODEL_ID) == (MODEL_ID, 2)
    fake.add_model("empty", "mdl-" + "e" * 12)
    with pytest.raises(TzClientError) as error:
        client.get_model_version("empty")
    assert error.value.reason == "NoVersion" and "register one first" in str(error.value)


def test_listings_follow_pages(fake: FakeModelsApi, client: Client) -> None:
    for i in range(5):
        fake.add_model(f"m{i}", f"mdl-{i:012x}")
    assert [m["name"] for m in client.list_models()] == [f"m{i}" for i in range(5)]
    assert [m["name"] for m in sdk_models.list()] == [f"m{i}" for i in range(5)]


# -- registering local files -------------------------------------------------------------------


def test_a_local_folder_is_staged_registered_and_the_staging_folder_removed(
    fake: FakeModelsApi, client: Client, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx bytes")
    (folder / "sub" / "extra.bin").write_bytes(b"x" * 10)
    (folder / "tz-model.json").write_text(
        json.dumps({"name": "from-json", "format": "onnx", "artifact": "model.onnx"})
    )

    version = sdk_models.register(None, folder, task="image_classification")

    body = fake.registered[-1]
    assert body["name"] == "from-json" and body["task"] == "image_classification"
    space, staged = body["source"]["space"], body["source"]["path"]
    assert space == "user:alice"
    assert posixpath.dirname(staged) == MODEL_STAGING and not staged.startswith(".tz-")
    # The service saw every file under the staging folder, which is gone afterwards
    assert set(fake.blobs[(version["model_id"], 1)]) == {
        "model.onnx",
        "sub/extra.bin",
        "tz-model.json",
    }
    assert not [k for k in fake.files if staged in k]
    deletes = [r.url.params for r in fake.requests if r.method == "DELETE"]
    assert deletes == [httpx.QueryParams({"space": space, "path": staged})]
    assert version["ref"] == "alice/from-json:1"


def test_the_staging_folder_is_removed_when_registering_fails(
    fake: FakeModelsApi, client: Client, tmp_path: Path
) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"onnx")
    fake.register_error = (400, "signature.inputs[0].dtype: must be one of float32, ...")
    with pytest.raises(TzClientError, match=r"signature\.inputs\[0\]\.dtype"):
        client.register_model("m", model)
    body = fake.registered[-1]
    # A single file: its name is the artifact, and .onnx gives the format
    assert body["artifact"] == "m.onnx" and body["format"] == "onnx"
    assert not [k for k in fake.files if body["source"]["path"] in k]
    deletes = [r.url.params for r in fake.requests if r.method == "DELETE"]
    assert deletes == [httpx.QueryParams({"space": "user:alice", "path": body["source"]["path"]})]


def test_local_files_without_a_format_are_refused_before_uploading(
    fake: FakeModelsApi, client: Client, tmp_path: Path
) -> None:
    (tmp_path / "weights.pt").write_bytes(b"w")
    with pytest.raises(ValueError, match=r"^format: .* has no tz-model\.json"):
        client.register_model("m", tmp_path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="job://<job id>/model"):
        client.register_model("m", tmp_path / "missing")
    assert fake.requests == []


def test_kubeflow_names_and_job_sources_are_sent_as_given(
    fake: FakeModelsApi, client: Client
) -> None:
    fake.add_model("m")
    fake.files["user:alice/exports/m1/model.onnx"] = b"x"
    client.register_model(
        "m",
        "user:alice/exports/m1",
        version="v1.0",
        model_format_name="onnx",
        model_format_version="17",
        metadata={"k": "v"},
    )
    assert fake.registered[-1] == {
        "name": "m",
        "version_name": "v1.0",
        "model_format_name": "onnx",
        "model_format_version": "17",
        "metadata": {"k": "v"},
        "source": {"space": "user:alice", "path": "exports/m1"},
    }
    fake.register_error = (409, "job train-1 has not succeeded")
    with pytest.raises(TzClientError):
        sdk_models.register(job="train-1")
    assert fake.registered[-1] == {"source": {"job": "train-1", "path": "model"}}


# -- downloads -----------------------------------------------------------------------------------


def test_downloads_verify_sha256_and_keep_matching_files(
    fake: FakeModelsApi, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training_zoo.transfers._BACKOFF", 0)
    fake.add_model("m")
    files = {"model.onnx": b"onnx" * 100, "sub/labels.txt": b"a\nb\n"}
    fake.add_version(MODEL_ID, files)
    seen: list = []
    dest = client.download_model("m:1", tmp_path / "d", progress=seen.append)
    assert {
        p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()
    } == files
    assert seen[-1].done == seen[-1].total == sum(map(len, files.values()))

    # Again: nothing is fetched, every file matches its sha256
    fake.requests.clear()
    client.download_model("m:1", dest)
    assert not [r for r in fake.requests if "/files/" in r.url.path]

    # A changed local file is fetched again
    (dest / "model.onnx").write_bytes(b"tampered")
    client.download_model("m:1", dest)
    assert (dest / "model.onnx").read_bytes() == files["model.onnx"]

    # Bytes that do not match the listed sha256 are refused and not left behind
    fake.bad_sha.add("sub/labels.txt")
    with pytest.raises(TzClientError) as error:
        client.download_model("m:1", tmp_path / "bad")
    assert error.value.reason == "ChecksumMismatch"
    assert not (tmp_path / "bad" / "sub" / "labels.txt").exists()


def test_listed_paths_that_leave_the_folder_are_refused(
    fake: FakeModelsApi, client: Client, tmp_path: Path
) -> None:
    fake.add_model("m")
    fake.add_version(MODEL_ID, {"ok.bin": b"1", "../escape.bin": b"2"})
    with pytest.raises(ValueError, match="outside"):
        client.download_model("m:1", tmp_path / "d")
    assert not (tmp_path / "escape.bin").exists() and not (tmp_path / "d").exists()


def test_cache_folder_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ_MODEL_CACHE", str(tmp_path / "env"))
    assert sdk_models.cache_folder(MODEL_ID, 3) == tmp_path / "env" / MODEL_ID / "3"
    assert sdk_models.cache_folder(MODEL_ID, 3, tmp_path) == tmp_path / MODEL_ID / "3"
    monkeypatch.delenv("TZ_MODEL_CACHE")
    assert sdk_models.cache_folder(MODEL_ID, 1).parts[-5:] == (
        ".cache",
        "training-zoo",
        "models",
        MODEL_ID,
        "1",
    )
    with pytest.raises(ValueError):
        sdk_models.cache_folder("..", 1)


# -- runs ----------------------------------------------------------------------------------------


def _run(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "run-000000000001",
        "kind": "convert",
        "status": status,
        "message": None,
        "job_id": "convert-onnx-1",
        **fields,
    }


def test_waiting_backs_off_and_raises_with_the_runs_message(
    fake: FakeModelsApi, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("training_zoo.client.time.sleep", sleeps.append)
    message = "parity check failed: max_abs 0.31 > 0.0001"
    fake.run_statuses = [_run("queued"), *[_run("running")] * 6, _run("failed", message=message)]
    seen: list[str] = []
    with pytest.raises(TzClientError, match=r"max_abs 0\.31 > 0\.0001") as error:
        client.wait_for_model_run(
            "run-000000000001",
            polling_interval=1,
            max_interval=4,
            callback=lambda r: seen.append(r["status"]),
        )
    assert error.value.reason == "RunFailed"
    assert sleeps == [1, 1.5, 2.25, 3.375, 4, 4, 4]
    assert seen == ["queued", *["running"] * 6, "failed"]

    fake.run_statuses = [_run("cancelled")]
    assert client.wait_for_model_run("run-000000000001", raise_on_failure=False)["status"] == (
        "cancelled"
    )
    fake.run_statuses = [_run("running")]
    monkeypatch.setattr("training_zoo.client.time.monotonic", iter(range(0, 1000, 5)).__next__)
    with pytest.raises(TimeoutError, match="still running after 12 s"):
        client.wait_for_model_run("run-000000000001", timeout=12)


def test_convert_and_evaluate_send_the_contract_bodies(
    fake: FakeModelsApi, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_model("m")
    fake.add_version(MODEL_ID, {"a": b"1"})
    run = client.convert_model("m:1", "onnx", opset=17, tolerance_abs=1e-4, dataset="d:V001")
    assert run["params"] == {
        "to": "onnx",
        "opset": 17,
        "tolerance": {"abs": 1e-4},
        "dataset": "d:V001",
    }
    fake.run_statuses = [_run("succeeded", result_version=2)]
    done = sdk_models.convert("m:1", to="int8", wait=True)
    assert run_status_line(done) == "convert run run-000000000001 succeeded: version 2"
    assert run_status_line({**done, "message": "registered as version 2"}) == (
        "convert run run-000000000001 succeeded: registered as version 2"
    )

    snapshots: list[Path] = []
    monkeypatch.setattr(
        Client, "upload_snapshot", lambda self, p: snapshots.append(p) or {"id": "snap1"}
    )
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "mine.py").write_text("def evaluate(m, d): return {}\n")
    monkeypatch.chdir(tmp_path)
    run = client.evaluate_model("m", "d:V001", task="custom", script="evals/mine.py")
    assert run["params"] == {
        "dataset": "d:V001",
        "task": "custom",
        "script": "evals/mine.py",
        "snapshot": "snap1",
    }
    assert snapshots == [tmp_path]
    with pytest.raises(ValueError, match="outside the working directory"):
        client.evaluate_model("m", "d:V001", script="evals/mine.py", working_dir=tmp_path / "x")


# -- comparisons ---------------------------------------------------------------------------------


def test_compare_table_flattens_metrics_then_speed() -> None:
    headers, rows = sdk_models.compare_table(COMPARISON)
    # The service CSV's columns, in its order
    assert headers == (
        ["ref", "format", "runtime", "size_bytes", "dataset"]
        + ["accuracy", "val.top5", "latency_ms_p50"]
        + ["accuracy_delta", "latency_ratio", "size_ratio"]
    )
    assert rows[0] == (
        ["alice/m:1", "pytorch-state-dict", "pytorch-eager", 4000, "alice/shapes:V001"]
        + [0.951234, 1.0, 2.0]
        + [0.0, 1.0, 1.0]
    )
    assert rows[1][2] == "onnxruntime"  # the runtime from speed when the row has none
    assert rows[2][3:] == [None] * 8
    assert [sdk_models.format_value(v) for v in (0.951234, None, 3, {"b": 1})] == [
        "0.9512",
        "",
        "3",
        '{"b": 1}',
    ]


def test_compare_sends_refs_and_returns_the_services_csv(
    fake: FakeModelsApi, client: Client
) -> None:
    fake.add_model("m")
    fake.add_version(MODEL_ID, {"a": b"1"})
    fake.add_version(MODEL_ID, {"a": b"2"})
    csv = client.compare_models_csv(["m:1", "alice/m:2"], dataset="shapes:V001")
    assert csv == fake.compare_csv
    # References go as given (the service resolves them); dicts as model_id:version
    params = fake.requests[-1].url.params
    assert params["versions"] == "m:1,alice/m:2" and len(fake.requests) == 1
    assert params["format"] == "csv" and params["dataset"] == "shapes:V001"
    assert client.compare_models(f"{MODEL_ID}:1, m") == COMPARISON
    assert fake.requests[-1].url.params["versions"] == f"{MODEL_ID}:1,m"
    client.compare_models([fake.versions[MODEL_ID][1], "m:2"])
    assert fake.requests[-1].url.params["versions"] == f"{MODEL_ID}:1,m:2"
    with pytest.raises(ValueError, match="ref: "):
        client.compare_models(["m:1", "m;2"])
    # Without pandas the facade returns the comparison itself
    result = sdk_models.compare(["m:1", "m:2"])
    try:
        import pandas as pd
    except ImportError:
        assert result == COMPARISON
    else:
        assert isinstance(result, pd.DataFrame) and list(result["ref"])[0] == "alice/m:1"


def test_comparison_html_escapes_cells() -> None:
    table = comparison_table(COMPARISON)
    html_out = table._repr_html_()
    assert "&lt;b&gt;onnx&lt;/b&gt;" in html_out and "<b>onnx" not in html_out
    assert "<th>val.top5</th>" in html_out and "<td>1</td>" in html_out
    assert "alice/m:2" in repr(table) and "0.9512" in repr(table)


# -- TorchScript ---------------------------------------------------------------------------------


def _net() -> Any:
    torch = pytest.importorskip("torch")

    class TinyNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.conv(x).mean(dim=(2, 3)))

    return TinyNet()


def _load_script(path: Path) -> Any:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load in torch 2.13
        return torch.jit.load(str(path))


def test_a_module_is_saved_as_torchscript_with_its_signature(tmp_path: Path) -> None:
    import torch

    net = _net()
    net.train()
    example = torch.randn(2, 3, 8, 8)
    folder = sdk_models.save_torchscript(
        net,
        tmp_path / "m",
        example_input=example,
        name="tiny",
        task="image_classification",
        labels=["a", "b", "c"],
    )
    data = json.loads((folder / "tz-model.json").read_text())
    assert data["format"] == "torchscript" and data["artifact"] == "model.pt"
    assert data["framework"] == "pytorch" and "+" not in data["framework_version"]
    assert data["signature"] == {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 8, 8]}],
        "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, 3]}],
    }
    assert data["name"] == "tiny" and data["labels"] == ["a", "b", "c"]
    assert net.training  # its mode is given back
    net.eval()
    batch = torch.randn(5, 3, 8, 8)  # another batch size than the example's
    with torch.no_grad():
        assert torch.allclose(_load_script(folder / "model.pt")(batch), net(batch), atol=1e-6)
    try:
        from training_zoo.models.descriptor import validate
    except ModuleNotFoundError:  # the descriptor module lands with the service side
        return
    assert validate(data)["format"] == "torchscript"


def test_a_module_without_an_example_is_scripted(tmp_path: Path) -> None:
    import torch

    folder = sdk_models.save_torchscript(_net(), tmp_path / "s")
    data = json.loads((folder / "tz-model.json").read_text())
    assert "signature" not in data and data["format"] == "torchscript"
    assert _load_script(folder / "model.pt")(torch.zeros(1, 3, 8, 8)).shape == (1, 3)
    with pytest.raises(ValueError, match=r"^signature\.inputs\[0\]\.dtype: .*got bfloat16"):
        sdk_models.save_torchscript(
            _net(), tmp_path / "b", example_input=torch.zeros(1, 3, 8, 8, dtype=torch.bfloat16)
        )


def test_registering_a_module_uploads_torchscript(fake: FakeModelsApi, client: Client) -> None:
    import torch

    version = sdk_models.register(
        "tiny", _net(), example_input=torch.zeros(1, 3, 8, 8), task="image_classification"
    )
    uploaded = fake.blobs[(version["model_id"], 1)]
    assert set(uploaded) == {"model.pt", "tz-model.json"}
    descriptor = json.loads(uploaded["tz-model.json"])
    assert descriptor["name"] == "tiny" and descriptor["task"] == "image_classification"
    assert fake.registered[-1]["name"] == "tiny"
    with pytest.raises(ValueError, match="format: a module is saved as torchscript"):
        sdk_models.register("tiny", _net(), format="onnx")


# -- facade, CLI, magic --------------------------------------------------------------------------


def test_the_package_forwards_the_facade() -> None:
    import training_zoo.models as models

    assert models.list is sdk_models.list and models.promote is sdk_models.promote
    assert sdk_models.set_stage is sdk_models.promote
    assert {"register_model", "load", "compare", "wait"} <= sdk_models.SDK_NAMES
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        models.nope  # noqa: B018


def test_load_downloads_into_the_cache_and_opens_with_the_runtime(
    fake: FakeModelsApi, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    fake.add_model("m")
    fake.add_version(MODEL_ID, {"model.onnx": b"bytes"})
    opened: list[Path] = []
    runtime = types.ModuleType("training_zoo.models.runtime")
    runtime.load = lambda folder: opened.append(folder) or types.SimpleNamespace(native="live")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "training_zoo.models.runtime", runtime)
    assert sdk_models.load("m", cache_dir=tmp_path) == "live"
    assert opened == [tmp_path / MODEL_ID / "1"]
    assert (tmp_path / MODEL_ID / "1" / "model.onnx").read_bytes() == b"bytes"


@pytest.fixture
def cli_fake(fake: FakeModelsApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("TZ_URL", "http://hub.test")
    monkeypatch.setenv("TZ_TOKEN", TOKEN)
    monkeypatch.setattr(cli, "Client", lambda url=None, token=None: fake.client())
    monkeypatch.chdir(tmp_path)
    fake.add_model("m", description="<script>x</script>")
    fake.add_version(MODEL_ID, {"model.onnx": b"1"})
    fake.add_version(MODEL_ID, {"model.onnx": b"22"}, stage="production")
    return fake


def test_cli_models(cli_fake: FakeModelsApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "NAME",
        "OWNER",
        "TASK",
        "VISIBILITY",
        "LATEST",
        "PRODUCTION",
        "VERSIONS",
        "UPDATED",
    ]
    assert cli.main(["models", "show", "m"]) == 0
    out = capsys.readouterr().out
    assert "description:" in out and "production" in out
    assert cli.main(["models", "show", "m:2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ref"] == "alice/m:2"
    assert cli.main(["models", "compare", "m:1", "m:2"]) == 0
    out = capsys.readouterr().out
    assert "latency_ms_p50" in out.splitlines()[0] and "0.9512" in out
    assert cli.main(["models", "compare", "m:1", "m:2", "--csv"]) == 0
    assert capsys.readouterr().out == cli_fake.compare_csv
    assert cli.main(["models", "promote", "m:1", "staging"]) == 0
    assert capsys.readouterr().out.strip() == "alice/m:1 staging"
    assert cli.main(["models", "download", "m:2", "-q"]) == 0
    assert Path(capsys.readouterr().out.strip(), "model.onnx").read_bytes() == b"22"


def test_cli_convert_wait_reports_a_failed_run(
    cli_fake: FakeModelsApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training_zoo.client.time.sleep", lambda s: None)
    cli_fake.run_statuses = [
        _run("queued"),
        _run("running"),
        _run("running"),
        _run("failed", message="parity check failed: max_abs 0.31"),
    ]
    assert cli.main(["models", "convert", "m:1", "--to", "onnx", "--wait"]) == 1
    out, err = capsys.readouterr()
    assert out.strip() == "run-000000000001"
    assert "queued" in err and "running (job convert-onnx-1)" in err
    assert err.count("running") == 1  # one line per change
    assert "tz: error: convert run run-000000000001 failed: parity check failed" in err
    assert cli.main(["models", "convert", "m:1", "--to", "tflite"]) == 2
    capsys.readouterr()
    assert cli.main(["models", "register", "--name", "m"]) == 2
    assert "give SOURCE" in capsys.readouterr().err
    assert cli.main(["models", "register", "missing-folder"]) == 2
    assert "is no local file or folder" in capsys.readouterr().err


def test_cli_service_errors_exit_4(
    cli_fake: FakeModelsApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["models", "show", "nope"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("tz: error: ") and "Traceback" not in err


@pytest.fixture
def magics(fake: FakeModelsApi) -> Iterator[TzMagics]:
    shell = InteractiveShell.instance()
    m = TzMagics(shell=shell)
    m.client = fake.client()
    yield m
    InteractiveShell.clear_instance()


def test_tz_models_magic(fake: FakeModelsApi, magics: TzMagics) -> None:
    fake.add_model("m", description="<img src=x onerror=alert(1)>")
    fake.add_version(MODEL_ID, {"a": b"1"})
    fake.add_version(MODEL_ID, {"a": b"2"})
    listing = magics.tz_models("")
    assert len(listing) == 1 and "<img" not in listing._repr_html_()
    shown = magics.tz_models("show m")
    assert len(shown) == 2 and "&lt;img src=x" in shown._repr_html_()
    assert ("ref", "alice/m:1") in magics.tz_models("show m:1").fields
    assert len(magics.tz_models("versions m")) == 2
    compared = magics.tz_models("compare m:1 m:2 --dataset shapes:V001")
    assert "&lt;b&gt;onnx" in compared._repr_html_()
    assert len(magics.tz_models("list m")) == 1
    assert fake.requests[-1].url.params["q"] == "m"
    for bad in ("show", "frobnicate m", "compare", "show a b", "list a b"):
        with pytest.raises(UsageError):
            magics.tz_models(bad)
    with pytest.raises(UsageError, match="tz: "):
        magics.tz_models("show Not_A_Name")


def test_facade_names_are_not_shadowed_by_submodules() -> None:
    """An imported submodule becomes an attribute of its package and would hide the facade
    function of the same name (``tz.models.convert`` would be a module): none may share one."""
    import importlib
    import pkgutil

    import training_zoo.models as models

    submodules = {m.name for m in pkgutil.iter_modules(models.__path__)}
    assert not submodules & set(sdk_models.SDK_NAMES)
    for name in submodules - {"__main__"}:
        importlib.import_module(f"training_zoo.models.{name}")
    for name in sdk_models.SDK_NAMES:
        assert getattr(models, name) is getattr(sdk_models, name), name
