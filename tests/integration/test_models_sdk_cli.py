"""``tz.models``, the ``tz models`` CLI and ``%tz_models`` against the real platform.

Real hub, proxy and TZ service (local storage), real CLI processes and real jobs: local folders
and an ``nn.Module`` are registered from a notebook's point of view (staged in the workspace and
cleaned up, also when the service refuses), downloaded intact, loaded back as live models that
answer like the originals, promoted (one production version), converted to ONNX and INT8 and
evaluated on a published dataset by tracked jobs followed with ``--wait``, and compared as a
table and as CSV. A conversion out of parity tolerance fails loudly: exit 1 and the measured
difference on stderr.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from training_zoo.client import MODEL_STAGING, Client, TzClientError, set_default_client

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "jobs"))

import shapes  # noqa: E402

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")

PREPROCESS = {"kind": "image", "size": [16, 16], "mode": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3}


def _unique(stem: str) -> str:
    return f"{stem}-{os.getpid() % 10000}-{time.monotonic_ns() % 10**6}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def alice(platform) -> Iterator[Client]:
    with Client(platform.url, platform.token("alice"), timeout=60) as client:
        set_default_client(client)
        try:
            yield client
        finally:
            set_default_client(None)


def _tz(platform, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "training_zoo.cli",
        "--url",
        platform.url,
        "--token",
        platform.token("alice"),
        "models",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _state_dict_folder(folder: Path, name: str) -> tuple[Path, torch.nn.Module]:
    """A ``pytorch-state-dict`` model folder of ShapesNet, as ``tz.models.save`` writes it."""
    from shapes_model import ShapesNet

    import training_zoo as tz

    torch.manual_seed(0)
    net = ShapesNet(3).eval()
    tz.models.save(
        net,
        folder,
        name=name,
        example_input=torch.zeros(1, 3, 16, 16),
        kwargs={"classes": 3},
        task="image_classification",
        labels=list(shapes.LABELS),
        preprocess=PREPROCESS,
    )
    return folder, net


def _staged(client: Client) -> list[str]:
    try:
        return [item["name"] for item in client.ws_list("user:alice", MODEL_STAGING)]
    except TzClientError as exc:
        assert exc.status == 404
        return []


def test_register_download_load_promote_from_sdk_and_cli(
    platform, alice: Client, tmp_path: Path
) -> None:
    import training_zoo as tz

    name = _unique("shapes-sdk")
    folder, net = _state_dict_folder(tmp_path / "export", name)
    staged_before = _staged(alice)

    # A local folder, from the CLI: its tz-model.json names and describes the model
    out = _tz(platform, "register", str(folder), "--description", "<b>first</b>", "-q")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"alice/{name}:1"
    v1 = tz.models.version(f"{name}:1")
    assert v1["format"] == "pytorch-state-dict" and v1["description"] == "<b>first</b>"
    assert v1["source"]["kind"] == "workspace"
    assert v1["signature"]["inputs"][0]["shape"] == [-1, 3, 16, 16]

    # An nn.Module, from the SDK: saved as TorchScript with the example's signature
    example = torch.rand(2, 3, 16, 16)
    v2 = tz.models.register(name, net, example_input=example, metrics={"note": 1.0})
    assert (v2["ref"], v2["format"], v2["artifact"]) == (
        f"alice/{name}:2",
        "torchscript",
        "model.pt",
    )
    assert v2["signature"]["outputs"] == [{"name": "output", "dtype": "float32", "shape": [-1, 3]}]

    # A folder the service refuses (a dtype no signature has): the message names the field,
    # and no staging folder is left behind either way
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "m.onnx").write_bytes(b"not really onnx")
    (bad / "tz-model.json").write_text(
        json.dumps(
            {
                "format": "onnx",
                "artifact": "m.onnx",
                "signature": {
                    "inputs": [{"name": "x", "dtype": "complex64", "shape": [1]}],
                    "outputs": [{"name": "y", "dtype": "float32", "shape": [1]}],
                },
            }
        )
    )
    with pytest.raises(TzClientError, match=r"signature\.inputs\[0\]\.dtype"):
        tz.models.register(name, bad)
    assert _staged(alice) == staged_before

    # Listing and showing
    listed = _tz(platform, "list", name, "--json")
    assert listed.returncode == 0, listed.stderr
    [model] = [m for m in json.loads(listed.stdout) if m["name"] == name]
    assert model["latest_version"] == 2 and model["versions"] == 2
    shown = _tz(platform, "show", name)
    assert shown.returncode == 0, shown.stderr
    assert "torchscript" in shown.stdout and "pytorch-state-dict" in shown.stdout
    assert "ref:" in _tz(platform, "show", f"{name}:2").stdout
    assert [v["version"] for v in tz.models.versions(name)] == [2, 1]

    # Downloads equal what the service lists, sha256 for sha256
    dest = tmp_path / "down"
    down = _tz(platform, "download", f"{name}:1", str(dest), "-q")
    assert down.returncode == 0, down.stderr
    listed_files = tz.models.files(f"{name}:1")
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == (
        sorted(f["path"] for f in listed_files)
    )
    for entry in listed_files:
        assert _sha256(dest / entry["path"]) == entry["sha256"]
    assert not [p for p in dest.rglob("*") if "tz-partial" in p.name]

    # Loaded back, both versions answer like the module they came from
    cache = tmp_path / "cache"
    with torch.no_grad():
        expected = net(example)
        rebuilt = tz.models.load(f"{name}:1", cache_dir=cache)
        assert isinstance(rebuilt, torch.nn.Module) and type(rebuilt).__name__ == "ShapesNet"
        assert torch.allclose(rebuilt(example), expected, atol=1e-6)
        scripted = tz.models.load(f"alice/{name}:2", cache_dir=cache)
        assert torch.allclose(scripted(example), expected, atol=1e-5)
    # A second load downloads nothing: the cached files match their sha256
    cached = next((cache / v2["model_id"] / "2").rglob("model.pt"))
    stamp = cached.stat().st_mtime_ns
    tz.models.load(f"{name}:2", cache_dir=cache)
    assert cached.stat().st_mtime_ns == stamp

    # Stages: one production version; every move is in the history
    promoted = _tz(platform, "promote", f"{name}:1", "--comment", "baseline")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == f"alice/{name}:1 production"
    assert tz.models.promote(f"{name}:2", "production", "scripted")["stage"] == "production"
    assert tz.models.version(f"{name}:1")["stage"] == "archived"
    history = _tz(platform, "history", name, "--json")
    moves = [(h["version"], h["from"], h["to"]) for h in json.loads(history.stdout)]
    assert sorted(moves) == sorted(
        [(1, "none", "production"), (1, "production", "archived"), (2, "none", "production")]
    )
    assert tz.models.get(name)["production_version"] == 2

    # The production version cannot be deleted; the service's message comes through
    with pytest.raises(TzClientError) as refused:
        tz.models.delete(f"{name}:2")
    assert refused.value.status == 409
    cli_refused = _tz(platform, "show", f"{name}:9")
    assert cli_refused.returncode == 4 and cli_refused.stderr.startswith("tz: error: ")
    assert "Traceback" not in cli_refused.stderr

    # Lineage of a registered folder: the version itself
    lineage = tz.models.lineage(f"{name}:1")
    assert any(n["kind"] == "version" and n["ref"] == f"alice/{name}:1" for n in lineage["nodes"])

    # The magic shows the same, escaped
    from IPython.core.interactiveshell import InteractiveShell

    from training_zoo.magics import TzMagics

    magics = TzMagics(shell=InteractiveShell.instance())
    magics.client = alice
    try:
        table = magics.tz_models(f"show {name}")
        assert len(table) == 2
        assert "&lt;b&gt;first" in magics.tz_models(f"show {name}:1")._repr_html_()
    finally:
        InteractiveShell.clear_instance()

    # Deleting a version that is not in production works; the model keeps the other one
    tz.models.delete(f"{name}:1")
    assert [v["version"] for v in tz.models.versions(name)] == [2]


@pytest.mark.timeout(1200)
def test_convert_evaluate_and_compare_with_the_cli(
    platform, api, alice: Client, tmp_path: Path
) -> None:
    import training_zoo as tz

    dataset = _unique("shapes-eval")
    shapes.publish(api("alice"), "user:alice", folder=_unique("shapes-src"), name=dataset)
    name = _unique("shapes-conv")
    folder, _ = _state_dict_folder(tmp_path / "export", name)
    assert tz.models.register(name, folder)["version"] == 1

    # Conversion to ONNX, followed: the run id on stdout, status lines on stderr
    converted = _tz(platform, "convert", f"{name}:1", "--to", "onnx", "--wait", timeout=600)
    assert converted.returncode == 0, converted.stderr
    run_id = converted.stdout.strip()
    assert run_id.startswith("run-")
    assert f"run {run_id} succeeded: " in converted.stderr, converted.stderr
    assert "version 2" in converted.stderr.splitlines()[-1]
    v2 = tz.models.version(f"{name}:2")
    assert v2["format"] == "onnx" and v2["parent"]["version"] == 1
    assert v2["conversion"]["parity"]["passed"] is True
    edges = {(e["kind"]) for e in tz.models.lineage(f"{name}:2")["edges"]}
    assert "converted" in edges

    # INT8 with a tolerance it cannot meet: the run fails loudly with the measured difference
    strict = _tz(
        platform,
        "convert",
        f"{name}:2",
        "--to",
        "int8",
        "--tolerance-abs",
        "1e-9",
        "--tolerance-rel",
        "1e-9",
        "--wait",
        timeout=600,
    )
    assert strict.returncode == 1, strict.stderr
    assert "tz: error: convert run" in strict.stderr and "failed" in strict.stderr
    assert "parity" in strict.stderr and "max_abs" in strict.stderr, strict.stderr
    assert len(tz.models.versions(name)) == 2  # nothing registered

    # Evaluations of both versions on the published dataset
    for n in (1, 2):
        evaluated = _tz(
            platform,
            "evaluate",
            f"{name}:{n}",
            "--dataset",
            f"{dataset}:V001",
            "--wait",
            timeout=600,
        )
        assert evaluated.returncode == 0, evaluated.stderr
        assert "metrics: " in evaluated.stderr and "accuracy=" in evaluated.stderr
    runs = json.loads(_tz(platform, "runs", name, "--json").stdout)
    assert sorted((r["kind"], r["status"]) for r in runs) == [
        ("convert", "failed"),
        ("convert", "succeeded"),
        ("evaluate", "succeeded"),
        ("evaluate", "succeeded"),
    ]

    # Compared: a table, CSV (the service's), and the SDK's comparison
    table = _tz(platform, "compare", f"{name}:1", f"{name}:2", "--dataset", f"{dataset}:V001")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header[:5] == ["ref", "format", "runtime", "size_bytes", "dataset"]
    assert "accuracy" in header and "latency_ms_p50" in header
    raw = _tz(platform, "compare", f"{name}:1", f"{name}:2", "--csv")
    assert raw.returncode == 0, raw.stderr
    rows = list(csv.DictReader(io.StringIO(raw.stdout)))
    assert [r["ref"] for r in rows] == [f"alice/{name}:1", f"alice/{name}:2"]
    assert [r["format"] for r in rows] == ["pytorch-state-dict", "onnx"]
    assert abs(float(rows[1]["accuracy_delta"])) < 1e-9  # parity: the same predictions
    comparison = tz.models.compare([f"{name}:1", f"{name}:2"], dataset=f"{dataset}:V001")
    if isinstance(comparison, dict):
        assert [r["runtime"] for r in comparison["rows"]] == ["pytorch-eager", "onnxruntime"]
    else:
        assert list(comparison["runtime"]) == ["pytorch-eager", "onnxruntime"]
