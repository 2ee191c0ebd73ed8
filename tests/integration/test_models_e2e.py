"""A model's whole life through the real platform (hub, service, local backend, torchrun).

A 2-process DDP job trains a small CNN on a published dataset version and leaves its model in
``$TZ_OUTPUT_DIR/model/``; TZ registers it with lineage to the job and the dataset. Conversion to
ONNX and then INT8 make versions 2 and 3 (parity checked in their jobs); the three are evaluated
on the held-out split and compared side by side. Then what another user and a hostile file get.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

import shapes  # noqa: E402

pytestmark = pytest.mark.integration

ME = "user:alice"
FINISHED = {"succeeded", "failed", "cancelled"}


def wait_run(client, run_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/models/runs/{run_id}").json()
        if run["status"] in FINISHED and run["finished"]:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def start(client, version: dict, action: str, **body) -> dict:
    r = client.post(f"/models/{version['model_id']}/versions/{version['version']}/{action}",
                    json=body)  # fmt: skip
    assert r.status_code == 202, r.text
    return r.json()


@pytest.fixture(scope="module")
def trained(api, tmp_path_factory):
    """alice's dataset shapes:V001 and the job that trained shapes-cnn on it (2 processes)."""
    return shapes.train(api("alice"), ME, tmp_path_factory.mktemp("work"))


def test_train_register_convert_evaluate_compare(api, trained):
    alice = api("alice")
    events = {e["reason"]: e["message"] for e in alice.events(trained["id"])}
    assert events.get("ModelRegistered") == "registered as alice/shapes-cnn:1", events
    r = alice.get("/models/resolve", params={"ref": "shapes-cnn:1"})
    assert r.status_code == 200, r.text
    v1 = r.json()["version"]
    assert (v1["format"], v1["task"], v1["labels"]) == (
        "pytorch-state-dict", "image_classification", list(shapes.LABELS))  # fmt: skip
    assert v1["lineage"]["job"]["id"] == trained["id"]
    assert [(d["name"], d["version"]) for d in v1["lineage"]["datasets"]] == [("shapes", "V001")]
    assert v1["signature"]["inputs"][0]["shape"][1:] == [3, 16, 16]

    # ONNX from the PyTorch weights, then INT8 from the ONNX file: each a tracked job.
    run = wait_run(alice, start(alice, v1, "convert", to="onnx", dataset="shapes:V001")["id"])
    assert run["status"] == "succeeded", run
    v2 = alice.get(f"/models/{v1['model_id']}/versions/{run['result_version']}").json()
    assert (v2["format"], v2["parent"]["version"]) == ("onnx", 1)
    assert v2["conversion"]["parity"]["passed"] is True
    assert v2["conversion"]["parity"]["max_abs"] <= v2["conversion"]["parity"]["tolerance_abs"]
    run = wait_run(alice, start(alice, v2, "convert", to="int8")["id"])
    assert run["status"] == "succeeded", run
    assert run["params"]["dataset"] == "alice/shapes:V001"  # the linked data gives the samples
    v3 = alice.get(f"/models/{v1['model_id']}/versions/{run['result_version']}").json()
    assert (v3["format"], v3["parent"]["version"], v3["conversion"]["kind"]) == ("onnx", 2, "int8")

    # The three evaluated on the held-out split, then side by side.
    runs = [start(alice, v, "evaluate", dataset="shapes:V001", split="test", batch_size=8)
            for v in (v1, v2, v3)]  # fmt: skip
    for run in runs:
        run = wait_run(alice, run["id"])
        assert run["status"] == "succeeded", run
        assert run["metrics"]["accuracy"] >= 0.8, run["metrics"]
        assert run["speed"]["latency_ms_p50"] > 0 and run["speed"]["throughput_per_s"] > 0
        assert sum(map(sum, run["metrics"]["confusion"]["matrix"])) == 3 * shapes.TEST_PER_CLASS
    refs = ",".join(v["ref"] for v in (v1, v2, v3))
    compare = alice.get("/models/compare", params={"versions": refs}).json()
    rows = {row["ref"]: row for row in compare["rows"]}
    assert [rows[v["ref"]]["runtime"] for v in (v1, v2, v3)] == [
        "pytorch-eager", "onnxruntime", "onnxruntime"]  # fmt: skip
    assert abs(rows[v2["ref"]]["accuracy_delta"]) < 0.05
    assert rows[v3["ref"]]["latency_ratio"] > 0 and rows[v2["ref"]]["size_ratio"] > 0
    csv = alice.get("/models/compare", params={"versions": refs, "format": "csv"})
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("ref,format,runtime,size_bytes")

    # The lineage graph: dataset -> job -> v1 -> v2 -> v3, and the evaluations.
    graph = alice.get(f"/models/{v1['model_id']}/versions/3/lineage").json()
    edges = {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}
    job = f"job:{trained['id']}"
    assert ("dataset:alice/shapes:V001", job, "trained_on") in edges
    assert (job, "version:alice/shapes-cnn:1", "produced") in edges
    assert ("version:alice/shapes-cnn:2", "version:alice/shapes-cnn:3", "converted") in edges
    assert len([n for n in graph["nodes"] if n["kind"] == "evaluation"]) == 3

    # Another user sees none of it, files included.
    bob = api("bob")
    for path in (f"/models/{v1['model_id']}", f"/models/{v1['model_id']}/versions/1",
                 f"/models/{v1['model_id']}/versions/1/files/tz-model.json",
                 f"/models/runs/{runs[0]['id']}"):  # fmt: skip
        assert bob.get(path).status_code == 404, path
    assert bob.get("/models/resolve", params={"ref": "alice/shapes-cnn:1"}).status_code == 404
    r = bob.post(f"/models/{v1['model_id']}/versions/1/evaluate", json={"dataset": "shapes:V001"})
    assert r.status_code == 404


def test_bad_requests_name_the_field(api, trained):
    alice = api("alice")
    v1 = alice.get("/models/resolve", params={"ref": "shapes-cnn:1"}).json()["version"]
    base = f"/models/{v1['model_id']}/versions/1"
    for action, body, field in (
        ("convert", {"to": "tflite"}, "to"),
        ("convert", {"to": "int8"}, "to"),  # int8 quantizes ONNX, not PyTorch weights
        ("convert", {"to": "onnx", "opset": 99}, "opset"),
        ("evaluate", {}, "dataset"),
        ("evaluate", {"dataset": "nope:V001"}, "dataset"),
        ("evaluate", {"dataset": "shapes:V001", "task": "custom"}, "script"),
        ("stage", {"stage": "live"}, "stage"),
    ):
        r = alice.post(f"{base}/{action}", json=body)
        assert r.status_code == 400 and field in r.json()["message"], (action, body, r.text)


def test_an_onnx_file_reaching_outside_its_folder_is_refused(api, trained, tmp_path):
    """A registered ONNX model whose external data names ../ is refused before it is read."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../../etc/passwd"), ("offset", "0"), ("length", "8")):
        weight.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "evil",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], initializer=[weight],
    )  # fmt: skip
    data = helper.make_model(graph).SerializeToString()
    alice = api("alice")
    s = alice.post("/uploads", json={"space": ME, "path": "evil/model.onnx", "size": len(data)})
    upload = s.json()["id"]
    assert alice.put(f"/uploads/{upload}/parts/1", data=data).status_code == 200
    assert alice.post(f"/uploads/{upload}/complete").status_code == 200
    r = alice.post("/models/register", json={
        "name": "evil", "source": {"space": ME, "path": "evil"}, "format": "onnx",
        "signature": {"inputs": [{"name": "x", "dtype": "float32", "shape": [2]}],
                      "outputs": [{"name": "y", "dtype": "float32", "shape": [2]}]}})  # fmt: skip
    assert r.status_code == 201, r.text
    version = r.json()
    run = wait_run(alice, start(alice, version, "convert", to="int8")["id"])
    assert run["status"] == "failed"
    assert "refusing ONNX model" in run["message"] and ".." in run["message"], run["message"]
    assert json.dumps(run).count("root:") == 0  # nothing of the target leaked
