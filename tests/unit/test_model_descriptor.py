"""The model descriptor ``tz-model.json`` (issue 4): validation naming the bad field, reading a
folder with every named file confined to it, and ``tz.models.save`` from a training script."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from training_zoo.models.descriptor import (
    DESCRIPTOR,
    DescriptorError,
    card_text,
    read,
    save,
    validate,
)

GOOD: dict[str, Any] = {
    "name": "shapes-cnn",
    "task": "image_classification",
    "format": "pytorch-state-dict",
    "artifact": "model.pt",
    "builder": {"module": "model.py", "class": "Net", "kwargs": {"classes": 3}},
    "signature": {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 16, 16]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 3]}],
    },
    "preprocess": {
        "kind": "image",
        "size": [16, 16],
        "mode": "RGB",
        "mean": [0.5] * 3,
        "std": [0.5] * 3,
    },  # fmt: skip
    "labels": ["circle", "square", "triangle"],
    "metrics": {"val_accuracy": 0.97},
    "parameters": {"lr": 0.01, "optimizer": "adam", "amp": False, "seed": None},
    "tags": {"team": "vision"},
    "card": "README.md",
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with the field at dotted ``path`` (``[i]`` for list items) set, or removed when
    ``value`` is ``...``."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_the_contract_example_is_valid_and_kept() -> None:
    assert validate(GOOD) == GOOD


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("format", ..., "format: is required"),
        ("artifact", ..., "artifact: is required"),
        ("format", "pickle", "format: must be one of pytorch-state-dict, torchscript"),
        ("task", "clustering", "task: must be one of image_classification"),
        ("name", "Shapes CNN", "name: 'Shapes CNN' is not a model name"),
        ("name", "a" * 64, "name: 'aaaa"),
        ("labes", ["x"], "labes: unknown field"),
        ("artifact", "../model.pt", "artifact: must stay inside the model folder"),
        ("artifact", "/etc/passwd", "artifact: must be relative to the model folder"),
        ("artifact", "", "artifact: must not be empty"),
        ("builder.module", "sub/../../x.py", "builder.module: must stay inside"),
        ("builder.module", "model.txt", "builder.module: must be a .py file"),
        ("builder.class", "os.system('x')", "builder.class: must be a class name"),
        ("builder.kwargs", [3], "builder.kwargs: must be an object, not list"),
        ("signature.inputs", [], "signature.inputs: must list at least one tensor"),
        ("signature.inputs[0].dtype", "bfloat16", "signature.inputs[0].dtype: must be one of"),
        ("signature.inputs[0].shape", [-1, 0, 16], "signature.inputs[0].shape[1]: must be a"),
        ("signature.inputs[0].shape", [-1, True], "signature.inputs[0].shape[1]: must be a"),
        ("signature.outputs[0].name", 7, "signature.outputs[0].name: must be a string"),
        ("signature.extra", [], "signature.extra: unknown field"),
        ("preprocess.kind", "audio", "preprocess.kind: must be one of image, tabular"),
        ("preprocess.size", [16], "preprocess.size: must be [height, width]"),
        ("preprocess.mode", "CMYK", "preprocess.mode: must be one of RGB, L, RGBA"),
        ("preprocess.std", [0.5, 0, 0.5], "preprocess.std: must not contain 0"),
        ("preprocess.mean", [0.5, 0.5], "preprocess.mean: must have 1 or 3 values"),
        ("preprocess.size", [32, 32], "preprocess: makes images of [channels, height, width]"),
        ("labels", ["a", "b"], "labels: has 2 labels but signature.outputs[0] has 3 classes"),
        ("labels", ["a", "b", "a"], "labels[2]: 'a' is listed twice"),
        ("metrics.val_accuracy", "high", "metrics.val_accuracy: must be a number, not str"),
        ("metrics.val_accuracy", float("nan"), "metrics.val_accuracy: must be a finite number"),
        ("metrics.val_accuracy", True, "metrics.val_accuracy: must be a number, not bool"),
        ("metrics", {f"m{i}": 1 for i in range(201)}, "metrics: has 201 keys; at most 200"),
        ("parameters.layers", [1, 2], "parameters.layers: must be a number, not list"),
        ("tags.team", 3, "tags.team: must be a string, not int"),
        ("tags.team", "x" * 256, "tags.team: is 256 characters long; at most 255"),
        ("description", "é" * 50_001, "description: is 100002 bytes long; at most 100000"),
        ("card", "x" * 100_001, "card: is 100001 bytes long"),
        ("conversion", {"kind": "zip"}, "conversion.kind: must be one of onnx, torchscript"),
        ("conversion", {"kind": "onnx", "parity": {"passed": "yes"}}, "conversion.parity.passed:"),
    ],
)
def test_invalid_fields_are_named_first(path: str, value: Any, error: str) -> None:
    with pytest.raises(DescriptorError) as err:
        validate(_with(path, value))
    assert str(err.value).startswith(error), str(err.value)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([GOOD], "tz-model.json: must be a JSON object, not list"),
        ({**GOOD, "format": "onnx"}, "builder: is only for format pytorch-state-dict, not onnx"),
    ],
    ids=["not-object", "builder-wrong-format"],
)
def test_whole_descriptor_errors(data: Any, error: str) -> None:
    with pytest.raises(DescriptorError, match=f"^{error}"):
        validate(data)


def test_minimal_descriptor_and_normalisation() -> None:
    assert validate({"format": "onnx", "artifact": "./sub/./model.onnx"}) == {
        "format": "onnx",
        "artifact": "sub/model.onnx",
    }
    got = validate(
        {"format": "onnx", "artifact": "m.onnx", "description": None,
         "preprocess": {"kind": "image", "size": 28, "mode": "L"},
         "signature": {"inputs": [{"name": "x", "dtype": "uint8", "shape": [-1, 1, 28, 28]}]}}
    )  # fmt: skip
    assert "description" not in got
    assert got["preprocess"] == {"kind": "image", "size": [28, 28], "mode": "L", "mean": [0.0],
                                 "std": [1.0]}  # fmt: skip
    assert got["signature"]["outputs"] == []


# --- read(): files confined to the folder ----------------------------------------------------


def _folder(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"weights")
    (folder / "model.py").write_text("class Net: pass\n")
    (folder / "README.md").write_text("# Shapes\n")
    (folder / DESCRIPTOR).write_text(json.dumps(GOOD if data is None else data))
    (tmp_path / "secret.md").write_text("top secret")
    return folder


def test_read_returns_the_validated_descriptor_and_the_card(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert read(folder) == GOOD
    assert card_text(folder, GOOD) == "# Shapes\n"
    assert card_text(folder, {"card": "Inline *markdown*"}) == "Inline *markdown*"


def _escape_artifact(tmp_path: Path, folder: Path) -> dict[str, Any]:
    (folder / "model.pt").unlink()
    (folder / "model.pt").symlink_to(tmp_path / "secret.md")
    return GOOD


def _escape_builder(tmp_path: Path, folder: Path) -> dict[str, Any]:
    (folder / "lib").symlink_to(tmp_path)
    return _with("builder.module", "lib/evil.py")


def _escape_card_dotdot(tmp_path: Path, folder: Path) -> dict[str, Any]:
    return _with("card", "../secret.md")


def _escape_card_absolute(tmp_path: Path, folder: Path) -> dict[str, Any]:
    return _with("card", str(tmp_path / "secret.md"))


def _escape_card_symlink(tmp_path: Path, folder: Path) -> dict[str, Any]:
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to(tmp_path / "secret.md")
    return GOOD


def _escape_descriptor(tmp_path: Path, folder: Path) -> dict[str, Any]:
    (tmp_path / "elsewhere.json").write_text(json.dumps(GOOD))
    (folder / DESCRIPTOR).unlink()
    (folder / DESCRIPTOR).symlink_to(tmp_path / "elsewhere.json")
    return {}


def _missing_artifact(tmp_path: Path, folder: Path) -> dict[str, Any]:
    return _with("artifact", "weights/model.pt")


def _directory_artifact(tmp_path: Path, folder: Path) -> dict[str, Any]:
    (folder / "weights").mkdir()
    return _with("artifact", "weights")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (_escape_artifact, "artifact: 'model.pt' resolves outside the model folder"),
        (_escape_builder, "builder.module: 'lib/evil.py' resolves outside the model folder"),
        (_escape_card_dotdot, "card: must stay inside the model folder"),
        (_escape_card_absolute, "card: must be relative to the model folder"),
        (_escape_card_symlink, "card: 'README.md' resolves outside the model folder"),
        (_escape_descriptor, "tz-model.json: 'tz-model.json' resolves outside"),
        (_missing_artifact, "artifact: 'weights/model.pt' is not in the model folder"),
        (_directory_artifact, "artifact: 'weights' is not a regular file"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:],
)
def test_read_refuses_files_outside_or_missing(tmp_path: Path, make: Any, error: str) -> None:
    folder = _folder(tmp_path)
    data = make(tmp_path, folder)
    if data:
        (folder / DESCRIPTOR).write_text(json.dumps(data))
    with pytest.raises(DescriptorError) as err:
        read(folder)
    assert str(err.value).startswith(error), str(err.value)
    assert "top secret" not in str(err.value)


def test_read_missing_and_malformed_descriptor(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no tz-model.json in"):
        read(tmp_path)
    (tmp_path / DESCRIPTOR).write_text("{'format': 'onnx'")
    with pytest.raises(DescriptorError, match="^tz-model.json: is not valid JSON"):
        read(tmp_path)


def test_savedmodel_artifact_may_be_a_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"format": "tensorflow-savedmodel", "artifact": "saved"})
    (folder / "saved").mkdir()
    assert read(folder)["artifact"] == "saved"


# --- save() in a training script ---------------------------------------------------------------

torch = pytest.importorskip("torch")

MODEL_PY = """
import torch


class Net(torch.nn.Module):
    def __init__(self, classes: int = 3, width: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 3, padding=1)
        self.fc = torch.nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))
"""


@pytest.fixture(scope="module")
def net_class(tmp_path_factory: pytest.TempPathFactory) -> type:
    """``Net`` from its own module file, as a training script imports it."""
    import importlib.util

    folder = tmp_path_factory.mktemp("code")
    (folder / "tz_desc_model.py").write_text(MODEL_PY)
    spec = importlib.util.spec_from_file_location("tz_desc_model", folder / "tz_desc_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tz_desc_model"] = module
    spec.loader.exec_module(module)
    torch.set_num_threads(1)
    return module.Net


def test_save_writes_weights_builder_and_descriptor(
    net_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ_OUTPUT_DIR", str(tmp_path))
    monkeypatch.delenv("RANK", raising=False)
    model = net_class(classes=2)
    card = tmp_path / "CARD.md"
    card.write_text("# Net\n")
    folder = save(
        model, name="tiny", example_input=torch.zeros(1, 3, 8, 8), kwargs={"classes": 2},
        task="image_classification", labels=["a", "b"], metrics={"acc": torch.tensor(0.5)},
        parameters={"lr": 0.1}, tags={"team": "vision"}, card=str(card),
    )  # fmt: skip
    assert folder == tmp_path / "model"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "model.pt", "tz-model.json", "tz_desc_model.py"]  # fmt: skip
    desc = read(folder)
    assert desc["builder"] == {"module": "tz_desc_model.py", "class": "Net",
                               "kwargs": {"classes": 2}}  # fmt: skip
    assert desc["signature"] == {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 8, 8]}],
        "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, 2]}],
    }
    assert (desc["framework"], desc["framework_version"]) == (
        "pytorch", torch.__version__.split("+")[0])  # fmt: skip
    assert desc["metrics"] == {"acc": 0.5} and desc["card"] == "README.md"
    state = torch.load(folder / "model.pt", weights_only=True)
    assert torch.equal(state["fc.weight"], model.state_dict()["fc.weight"])


def test_save_on_other_ranks_writes_nothing(
    net_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    assert (
        save(net_class(), tmp_path / "m", name="x", example_input=torch.zeros(1, 3, 4, 4)) is None
    )
    assert not (tmp_path / "m").exists()


def test_save_looks_through_ddp(
    net_class: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch.distributed as dist

    monkeypatch.setenv("RANK", "0")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(net_class())
        folder = save(ddp, tmp_path, name="x", example_input=torch.zeros(2, 3, 4, 4))
    finally:
        dist.destroy_process_group()
    assert folder is not None
    assert read(folder)["builder"]["class"] == "Net"
    assert "fc.weight" in torch.load(folder / "model.pt", weights_only=True)  # no "module."


class _Main(torch.nn.Module):
    def forward(self, x):
        return x


_Main.__module__ = "__main__"


@pytest.mark.parametrize(
    ("make", "kwargs", "error"),
    [
        (
            lambda cls: _Main(),
            {},
            r"builder: the model class _Main is defined in the script "
            r"being run \(__main__\), .*e.g. model.py",
        ),
        (
            lambda cls: torch.nn.Sequential(torch.nn.Linear(2, 2)),
            {},
            "builder: the model is a plain torch.nn.modules.container.Sequential",
        ),
        (
            lambda cls: cls(classes=5),
            {},
            r"builder.kwargs: Net\(\*\*\{\}\) does not match the "
            r"trained model \(missing \[\], unexpected \[\], different shapes \['fc.bias'",
        ),
        (lambda cls: cls(), {"colours": 3}, r"builder.kwargs: Net\(\*\*\{'colours': 3\}\) fails"),
        (lambda cls: cls(), {"classes": 3, "fn": print}, "builder.kwargs: must be JSON values"),
    ],
    ids=["main", "torch-class", "kwargs-mismatch", "kwargs-unknown", "kwargs-not-json"],
)
def test_save_refuses_models_it_could_not_rebuild(
    net_class: type, tmp_path: Path, make: Any, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(DescriptorError, match=error):
        save(make(net_class), tmp_path, name="x", example_input=torch.zeros(1, 3, 4, 4),
             kwargs=kwargs)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_save_needs_a_folder_outside_a_job(
    net_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TZ_OUTPUT_DIR", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(LookupError, match="TZ_OUTPUT_DIR is not set.*pass folder="):
        save(net_class(), name="x", example_input=torch.zeros(1, 3, 4, 4))


def test_save_validates_its_arguments_before_writing(net_class: type, tmp_path: Path) -> None:
    with pytest.raises(DescriptorError, match="^labels: has 2 labels but signature.outputs"):
        save(net_class(), tmp_path, name="x", example_input=torch.zeros(1, 3, 4, 4),
             task="image_classification", labels=["a", "b"])  # fmt: skip
    assert list(tmp_path.iterdir()) == []
