"""Loading a model folder to run it (issue 4): PyTorch eager from a state dict and its builder
module, TorchScript, ONNX Runtime with confined external data; example inputs from a signature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from training_zoo.models.conversion import UnsafeModel, to_torchscript  # noqa: E402
from training_zoo.models.descriptor import DESCRIPTOR, DescriptorError  # noqa: E402
from training_zoo.models.runtime import example_batch, load  # noqa: E402

SIGNATURE = {
    "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
    "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 3]}],
}
MODEL_PY = """
import torch


class Affine(torch.nn.Module):
    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
        self.scale = scale

    def forward(self, x):
        return self.lin(x) * self.scale, x
"""
WEIGHT = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def _write(folder: Path, desc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DESCRIPTOR).write_text(json.dumps(desc))
    return folder


def _state_dict_folder(folder: Path, scale: float, module_text: str = MODEL_PY) -> Path:
    """A folder as tz.models.save leaves it, written by hand: weights 0.1*i, bias 0."""
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(module_text)
    state = {"lin.weight": torch.from_numpy(WEIGHT.T.copy()), "lin.bias": torch.zeros(3)}
    torch.save(state, folder / "model.pt")
    return _write(folder, {
        "format": "pytorch-state-dict", "artifact": "model.pt", "signature": SIGNATURE,
        "builder": {"module": "model.py", "class": "Affine", "kwargs": {"scale": scale}},
    })  # fmt: skip


def _onnx_folder(folder: Path, location: str | None = None) -> Path:
    """y = x @ WEIGHT as ONNX; with ``location`` the weight is external data there."""
    folder.mkdir(parents=True, exist_ok=True)
    w = numpy_helper.from_array(WEIGHT, "W")
    if location:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "48")):
            w.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [w],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    return _write(folder, {"format": "onnx", "artifact": "model.onnx", "signature": SIGNATURE})


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)


def test_state_dict_versions_load_side_by_side(tmp_path: Path) -> None:
    # Two versions whose builder modules share a file name and class name but differ.
    a = load(_state_dict_folder(tmp_path / "a", 1.0), threads=1)
    b = load(_state_dict_folder(tmp_path / "b", 2.0, MODEL_PY.replace("* self.scale", "- 1")))
    assert (a.runtime, a.runtime_version) == ("pytorch-eager", torch.__version__.split("+")[0])
    assert isinstance(a.native, torch.nn.Module) and not a.native.training
    assert type(a.native) is not type(b.native)
    np.testing.assert_allclose(a.predict(X), X @ WEIGHT, rtol=1e-6)  # first of two outputs
    np.testing.assert_allclose(b.predict(X), X @ WEIGHT - 1, rtol=1e-6)


def test_torchscript_and_onnx_run_like_the_source(tmp_path: Path) -> None:
    eager = load(_state_dict_folder(tmp_path / "src", 1.0))
    to_torchscript(eager.native, torch.from_numpy(X), tmp_path / "ts" / "model.pt")
    _write(tmp_path / "ts", {"format": "torchscript", "artifact": "model.pt"})
    ts = load(tmp_path / "ts")
    ort = load(_onnx_folder(tmp_path / "onnx"), threads=1)
    assert (ts.runtime, ort.runtime, ort.threads) == ("torchscript", "onnxruntime", 1)
    assert ort.native.get_session_options().intra_op_num_threads == 1
    for loaded in (ts, ort):
        # float64 and read-only input is cast and copied to what the model takes
        x64 = X.astype(np.float64)
        x64.flags.writeable = False
        out = loaded.predict(x64)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, X @ WEIGHT, rtol=1e-5)


def test_onnx_external_data_outside_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(WEIGHT.tobytes())
    with pytest.raises(UnsafeModel, match="climbs out with '..'"):
        load(_onnx_folder(tmp_path / "v1", "../w.bin"))
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "w.bin").write_bytes(WEIGHT.tobytes())
    np.testing.assert_allclose(
        load(_onnx_folder(tmp_path / "v2", "w.bin")).predict(X), X @ WEIGHT, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("desc", "error"),
    [
        ({"format": "tensorflow-savedmodel", "artifact": "model.pt"},
         "format: tensorflow-savedmodel models cannot be run here"),
        ({"format": "pytorch-state-dict", "artifact": "model.pt"}, "builder: required"),
        ({"format": "pytorch-state-dict", "artifact": "model.pt",
          "builder": {"module": "model.py", "class": "Missing"}},
         "builder.class: model.py defines no class 'Missing'"),
        ({"format": "pytorch-state-dict", "artifact": "model.pt",
          "builder": {"module": "model.py", "class": "torch"}},
         "builder.class: torch is not a torch.nn.Module"),
    ],
    ids=["savedmodel", "no-builder", "no-class", "not-a-module"],
)  # fmt: skip
def test_models_the_runtimes_cannot_run(tmp_path: Path, desc: dict, error: str) -> None:
    folder = _state_dict_folder(tmp_path / "v", 1.0)
    _write(folder, desc)
    with pytest.raises(DescriptorError, match=f"^{error}"):
        load(folder)


def test_predict_checks_the_number_of_inputs(tmp_path: Path) -> None:
    loaded = load(_onnx_folder(tmp_path / "v"))
    with pytest.raises(ValueError, match="takes 1 inputs; got 2 arrays"):
        loaded.predict((X, X))


@pytest.mark.parametrize(
    ("spec", "shape", "check"),
    [
        ({"dtype": "float32", "shape": [-1, 3, 8, 8]}, (5, 3, 8, 8), lambda a: a.std() > 0.5),
        ({"dtype": "int64", "shape": [-1, -1]}, (5, 1), lambda a: set(a.ravel()) <= {0, 1}),
        ({"dtype": "uint8", "shape": [2, 7]}, (2, 7), lambda a: a.dtype == np.uint8),
        ({"dtype": "bool", "shape": [-1]}, (5,), lambda a: a.dtype == np.bool_),
        ({"dtype": "float16", "shape": []}, (), lambda a: a.dtype == np.float16),
    ],
    ids=["image", "ids", "fixed-batch", "bool", "scalar"],
)
def test_example_batch_follows_the_signature(spec: dict, shape: tuple, check: Any) -> None:
    desc = {"signature": {"inputs": [{"name": "x", **spec}], "outputs": []}}
    (a,) = example_batch(desc, 5, seed=3)
    assert a.shape == shape and a.dtype == np.dtype(spec["dtype"]) and check(a)
    np.testing.assert_array_equal(a, example_batch(desc, 5, seed=3)[0])


def test_example_batch_needs_a_signature() -> None:
    with pytest.raises(DescriptorError, match="^signature: required"):
        example_batch({"format": "onnx", "artifact": "m.onnx"}, 2)
