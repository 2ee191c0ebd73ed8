"""The conversion and evaluation jobs' worker (issue 4, items 5 and 7), run as its real command
line with ``TZ_MODELS``, ``TZ_DATASETS`` and ``TZ_OUTPUT_DIR`` as a job backend sets them.

A tiny CNN is trained for a few steps on synthetic 16x16 colour images and saved with
``tz.models.save``; it is converted to ONNX and INT8 (parity passes), a conversion with no
tolerance fails and leaves no model, and each version is evaluated on the held-out split. A
regression model is evaluated on CSV files, and a custom evaluation script runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from PIL import Image  # noqa: E402

from training_zoo.models.descriptor import DESCRIPTOR, save  # noqa: E402
from training_zoo.models.worker import main  # noqa: E402

LABELS = ["red", "green", "blue"]
TEST_PER_CLASS = 4
MODEL_PY = """
import torch


class ColourNet(torch.nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        )
        self.head = torch.nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class Line(torch.nn.Module):
    def __init__(self, features: int = 2) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(features, 1)

    def forward(self, x):
        return self.lin(x)
"""
CUSTOM_PY = """
import json
import os
from pathlib import Path

import numpy as np
from helpers import count_files  # a neighbour in the code snapshot

from training_zoo.models.runtime import load


def evaluate(model_path, dataset_path):
    model = load(model_path)
    return {"files": count_files(dataset_path), "split": os.environ["TZ_EVAL_SPLIT"],
            "runtime": model.runtime, "score": np.float32(0.25), "nested": {"ok": True}}
"""


@dataclass
class World:
    root: Path
    code: Path
    models: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)

    def env(self, out: Path) -> dict[str, str]:
        return {**os.environ, "TZ_MODELS": json.dumps(self.models),
                "TZ_DATASETS": json.dumps(self.datasets), "TZ_OUTPUT_DIR": str(out)}  # fmt: skip

    def run(self, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """The worker's command line, in the code snapshot like a job."""
        return subprocess.run(
            [sys.executable, "-m", "training_zoo.models.worker", *args],
            env=self.env(out), cwd=self.code, capture_output=True, text=True, timeout=180,
        )  # fmt: skip


def _view(folder: Path, name: str, files: dict[str, tuple[bytes, str, list[str]]]) -> Path:
    """A dataset version folder as the job backends materialise it: ``files/``,
    ``manifest.jsonl`` and ``version.json``. ``files`` maps key -> (bytes, usage, labels)."""
    lines = []
    for key, (data, usage, labels) in files.items():
        (folder / "files" / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / "files" / key).write_bytes(data)
        lines.append(json.dumps({"key": key, "size": len(data), "usage": usage,
                                 "sha256": hashlib.sha256(data).hexdigest(),
                                 "annotations": {"labels": labels} if labels else {}}))  # fmt: skip
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "version.json").write_text(json.dumps(
        {"dataset_id": f"ds-{name}", "owner": "alice", "name": name, "version": "V001",
         "manifest_sha256": ""}))  # fmt: skip
    return folder


def _png(colour: int, rng: Any) -> bytes:
    import io

    pixels = rng.integers(0, 100, (16, 16, 3))
    pixels[..., colour] += 150
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _import(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("worker")
    w = World(root, root / "code")
    w.code.mkdir()
    (w.code / "tz_worker_model.py").write_text(MODEL_PY)
    (w.code / "helpers.py").write_text(
        "import json\nfrom pathlib import Path\n\n\ndef count_files(root):\n"
        "    return len((Path(root) / 'manifest.jsonl').read_text().splitlines())\n"
    )
    (w.code / "eval_custom.py").write_text(CUSTOM_PY)
    (w.code / "eval_list.py").write_text(
        "def evaluate(model_path, dataset_path):\n    return [1]\n"
    )

    rng = np.random.default_rng(0)
    images = {
        f"img/{i:02d}.png": (_png(i % 3, rng), "test" if i < 3 * TEST_PER_CLASS else "train",
                             [LABELS[i % 3]])
        for i in range(36)
    }  # fmt: skip
    colours = _view(root / "datasets" / "colours", "colours", images)
    w.datasets["colours:V001"] = str(colours)
    a, b = rng.normal(size=(2, 30))
    rows = ["a,b,y", *(f"{a[i]:.6f},{b[i]:.6f},{2 * a[i] - b[i] + 0.5:.6f}" for i in range(30))]
    table = {"test.csv": ("\n".join(rows[:11]).encode(), "test", []),
             "train.csv": ("\n".join([rows[0], *rows[11:]]).encode(), "train", [])}  # fmt: skip
    w.datasets["table:V001"] = str(_view(root / "datasets" / "table", "table", table))

    # Train the CNN for a few steps on the train split, as a training script would.
    module = _import(w.code / "tz_worker_model.py", "tz_worker_model")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train = [k for k, (_, usage, _) in images.items() if usage == "train"]
    x = torch.from_numpy(np.stack([
        np.asarray(Image.open(colours / "files" / k), np.float32).transpose(2, 0, 1) / 255
        for k in train
    ]) * 2 - 1)  # fmt: skip
    y = torch.tensor([LABELS.index(images[k][2][0]) for k in train])
    model = module.ColourNet(classes=3)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    pre = {"kind": "image", "size": [16, 16], "mode": "RGB", "mean": [0.5], "std": [0.5]}
    src = save(model, root / "models" / "cnn-1", name="colours-cnn", example_input=x[:1],
               kwargs={"classes": 3}, task="image_classification", labels=LABELS,
               preprocess=pre, card="# colours-cnn")  # fmt: skip
    w.models["alice/colours-cnn:1"] = str(src)

    # y = 2a - b + 0.5 predicted with a bias of 0.6: every prediction 0.1 too high.
    line = module.Line(features=2)
    with torch.no_grad():
        line.lin.weight.copy_(torch.tensor([[2.0, -1.0]]))
        line.lin.bias.fill_(0.6)
    reg = save(line, root / "models" / "line-1", name="line", example_input=torch.zeros(1, 2),
               kwargs={"features": 2}, task="regression",
               preprocess={"kind": "tabular", "features": ["a", "b"], "target": "y"})  # fmt: skip
    w.models["alice/line:1"] = str(reg)
    return w


def _result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())


def _converted(world: World, ref: str, out: Path, *args: str) -> dict[str, Any]:
    done = world.run(out, "convert", "--model", ref, *args)
    assert done.returncode == 0, done.stderr
    assert _result(out)["ok"] is True
    assert sorted(p.name for p in out.iterdir()) == ["model", "result.json"]  # no temp folder
    return json.loads((out / "model" / DESCRIPTOR).read_text())


@pytest.fixture(scope="module")
def onnx_version(world: World) -> dict[str, Any]:
    out = world.root / "jobs" / "convert-onnx"
    desc = _converted(world, "alice/colours-cnn:1", out, "--to", "onnx", "--dataset",
                      "colours:V001", "--samples", "8")  # fmt: skip
    world.models["alice/colours-cnn:2"] = str(out / "model")
    return desc


@pytest.fixture(scope="module")
def int8_version(world: World, onnx_version: dict[str, Any]) -> dict[str, Any]:
    out = world.root / "jobs" / "convert-int8"
    desc = _converted(world, "alice/colours-cnn:2", out, "--to", "int8")
    world.models["alice/colours-cnn:3"] = str(out / "model")
    return desc


def test_convert_to_onnx_checks_parity_on_the_dataset(onnx_version: dict[str, Any]) -> None:
    desc = onnx_version
    assert (desc["format"], desc["artifact"], desc["framework"]) == ("onnx", "model.onnx", "onnx")
    assert "builder" not in desc
    assert (desc["labels"], desc["preprocess"]["size"], desc["card"]) == (
        LABELS, [16, 16], "# colours-cnn")  # fmt: skip
    assert desc["signature"]["inputs"][0]["shape"] == [-1, 3, 16, 16]
    conv = desc["conversion"]
    assert (conv["kind"], conv["exporter"]) == ("onnx", "dynamo")
    # AdaptiveAvgPool2d(1) keeps the export at opset 18 (convert.to_onnx); that is recorded.
    assert conv["opset"] == 17 or (conv["opset"] > 17 and conv["opset_requested"] == 17)
    parity = conv["parity"]
    assert parity["passed"] is True and parity["inputs"] == "dataset colours:V001 (test)"
    assert (parity["samples"], parity["tolerance_abs"], parity["tolerance_rel"]) == (8, 1e-4, 1e-3)
    assert parity["max_abs"] <= 1e-4


def test_convert_onnx_to_int8_passes_with_its_default_tolerance(
    int8_version: dict[str, Any],
) -> None:
    conv = int8_version["conversion"]
    assert (conv["kind"], conv["source_format"], conv["quantization"]) == (
        "int8", "onnx", "dynamic")  # fmt: skip
    parity = conv["parity"]
    assert parity["passed"] is True and (parity["tolerance_abs"], parity["tolerance_rel"]) == (
        0.1, 0.05)  # fmt: skip
    assert parity["inputs"] == "random inputs from the signature, seed 0"
    assert parity["samples"] == 16 and 0 < parity["max_abs"]


@pytest.mark.parametrize("to", ["fp16", "int8"])
def test_parity_out_of_tolerance_fails_and_leaves_no_model(
    world: World, onnx_version: dict[str, Any], to: str
) -> None:
    out = world.root / "jobs" / f"strict-{to}"
    done = world.run(out, "convert", "--model", "alice/colours-cnn:2", "--to", to,
                     "--tolerance-abs", "0", "--tolerance-rel", "0")  # fmt: skip
    assert done.returncode == 1
    result = _result(out)
    assert result["ok"] is False
    assert result["error"].startswith("parity check failed: max_abs ")
    assert "> 0 (tolerance_abs) and max_rel " in result["error"]
    assert "on 16 samples" in result["error"]
    assert result["parity"]["passed"] is False and result["parity"]["max_abs"] > 0
    assert done.stderr.strip().splitlines()[-1] == f"error: {result['error']}"
    assert [p.name for p in out.iterdir()] == ["result.json"]


SPEED_KEYS = {
    "runtime", "runtime_version", "latency_ms_p50", "latency_ms_p95", "batch_size",
    "throughput_per_s", "peak_memory_mb", "model_size_bytes", "threads", "hardware",
}  # fmt: skip


@pytest.mark.parametrize(
    ("version", "runtime"),
    [("1", "pytorch-eager"), ("2", "onnxruntime"), ("3", "onnxruntime")],
    ids=["pytorch", "onnx", "int8"],
)
def test_evaluate_image_classification(
    world: World, int8_version: dict[str, Any], version: str, runtime: str
) -> None:
    out = world.root / "jobs" / f"evaluate-{version}"
    done = world.run(out, "evaluate", "--model", f"alice/colours-cnn:{version}", "--dataset",
                     "colours:V001", "--batch-size", "8", "--latency-runs", "20")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _result(out) == {"ok": True}
    ev = json.loads((out / "evaluation.json").read_text())
    assert (ev["task"], ev["dataset"], ev["split"], ev["samples"]) == (
        "image_classification", "colours:V001", "test", 3 * TEST_PER_CLASS)  # fmt: skip
    m = ev["metrics"]
    assert m["accuracy"] >= 0.9 and m["top5"] == 1.0
    assert m["confusion"]["labels"] == LABELS
    assert sum(map(sum, m["confusion"]["matrix"])) == 3 * TEST_PER_CLASS
    assert {k: v["support"] for k, v in m["per_class"].items()} == dict.fromkeys(LABELS, 4)
    s = ev["speed"]
    assert set(s) == SPEED_KEYS and (s["runtime"], s["batch_size"]) == (runtime, 8)
    assert 0 < s["latency_ms_p50"] <= s["latency_ms_p95"]
    assert s["throughput_per_s"] > 0 and s["peak_memory_mb"] > 0
    assert s["model_size_bytes"] > 0 and s["threads"] >= 1
    assert s["hardware"]["cores"] >= 1 and s["hardware"]["cpu"]


@pytest.fixture(scope="module")
def line_torchscript(world: World) -> dict[str, Any]:
    out = world.root / "jobs" / "convert-line"
    desc = _converted(world, "alice/line:1", out, "--to", "torchscript", "--dataset",
                      "table:V001")  # fmt: skip
    world.models["alice/line:2"] = str(out / "model")
    return desc


def test_convert_to_torchscript_with_parity_on_csv_rows(line_torchscript: dict[str, Any]) -> None:
    desc = line_torchscript
    assert (desc["format"], desc["artifact"], desc["framework"]) == (
        "torchscript", "model.pt", "pytorch")  # fmt: skip
    conv = desc["conversion"]
    assert (conv["kind"], conv["method"]) == ("torchscript", "trace")
    assert conv["parity"]["inputs"] == "dataset table:V001 (test)"
    assert conv["parity"]["samples"] == 10 and conv["parity"]["max_abs"] == 0.0


def test_evaluate_regression_on_csv(world: World, line_torchscript: dict[str, Any]) -> None:
    out = world.root / "jobs" / "evaluate-line"
    done = world.run(out, "evaluate", "--model", "alice/line:2", "--dataset", "table:V001",
                     "--latency-runs", "5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ev = json.loads((out / "evaluation.json").read_text())
    assert (ev["task"], ev["split"], ev["samples"]) == ("regression", "test", 10)
    assert ev["metrics"] == pytest.approx({"mse": 0.01, "mae": 0.1, "rmse": 0.1}, abs=1e-5)
    assert ev["speed"]["runtime"] == "torchscript"


def test_evaluate_with_a_custom_script(world: World, onnx_version: dict[str, Any]) -> None:
    out = world.root / "jobs" / "evaluate-custom"
    done = world.run(out, "evaluate", "--model", "alice/colours-cnn:2", "--dataset",
                     "colours:V001", "--script", "eval_custom.py", "--split", "train",
                     "--latency-runs", "5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["task"] == "custom" and ev["samples"] == 24
    assert ev["metrics"] == {"files": 36, "split": "train", "runtime": "onnxruntime",
                             "score": 0.25, "nested": {"ok": True}}  # fmt: skip
    assert ev["speed"]["runtime"] == "onnxruntime"


# --- failures, in process -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["convert", "--model", "alice/colours-cnn:1"], 2,
         "python -m training_zoo.models.worker convert: the following arguments are required: "
         "--to"),
        (["convert", "--model", "alice/colours-cnn:1", "--to", "onnx", "--samples", "0"], 2,
         "python -m training_zoo.models.worker convert: argument --samples: must be at least 1, "
         "not 0"),
        (["convert", "--model", "nope:1", "--to", "int8"], 1,
         "model nope:1 is not an input of this job; it has: alice/colours-cnn:1"),
        (["convert", "--model", "alice/line:1", "--to", "int8", "--dataset", "other:V001"], 1,
         "dataset 'other:V001' was not given to this job (datasets given: colours:V001, "
         "table:V001)"),
        (["evaluate", "--model", "alice/colours-cnn:1", "--dataset", "colours:V001", "--task",
          "custom"], 2, "--task custom needs --script PATH"),
        (["evaluate", "--model", "alice/colours-cnn:1", "--dataset", "colours:V001", "--script",
          "eval_list.py"], 1, "eval_list.py: evaluate() must return a dict of metrics, not list"),
        (["evaluate", "--model", "alice/colours-cnn:1", "--dataset", "colours:V001", "--script",
          "missing.py"], 1, "--script missing.py: no such .py file in"),
        (["evaluate", "--model", "alice/colours-cnn:1", "--dataset", "table:V001"], 1,
         "the dataset split has no labelled images (1 files)"),
        (["evaluate", "--model", "alice/line:1", "--dataset", "colours:V001"], 1,
         "the dataset split has no .csv files (12 files)"),
    ],
    ids=["usage", "bad-samples", "unknown-model", "unknown-dataset", "custom-no-script",
         "custom-not-dict", "custom-missing", "no-images", "no-csv"],
)  # fmt: skip
def test_failures_write_one_clear_message(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    error: str,
) -> None:
    for key, value in world.env(tmp_path).items():
        if key.startswith("TZ_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(world.code)
    assert main(args) == code
    result = _result(tmp_path)
    assert result["ok"] is False and result["error"].startswith(error), result["error"]
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {result['error']}"
    assert not (tmp_path / "model").exists() and not (tmp_path / "evaluation.json").exists()


def test_without_an_output_dir_it_only_reports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TZ_OUTPUT_DIR", raising=False)
    assert main(["convert", "--model", "m:1", "--to", "onnx"]) == 1
    assert "error: TZ_OUTPUT_DIR is not set" in capsys.readouterr().err


def test_help_names_each_conversions_default_tolerance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["convert", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "onnx 0.0001, torchscript 0.0001, fp16 0.01, int8 0.1" in text
    assert "onnx 0.001, torchscript 0.001, fp16 0.01, int8 0.05" in text
