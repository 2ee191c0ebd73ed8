"""Model conversion (issue 4, items 5 and 6): PyTorch -> ONNX / TorchScript / INT8 / FP16 with
parity checks, and ONNX loading with external data confined to the model's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import training_zoo.models.conversion as convert  # noqa: E402
from training_zoo.models.conversion import ParityError, UnsafeModel  # noqa: E402


def _classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4)
    ).eval()


def _samples() -> list[Any]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 16, generator=g) for b in (1, 3, 8)]


def _eager(model: torch.nn.Module):
    def run(x: Any) -> Any:
        with torch.no_grad():
            return model(x)

    return run


def _ort_fn(path: Path):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"input": x.numpy()})[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("convert")
    model = _classifier()
    onnx_path = convert.to_onnx(model, torch.randn(1, 16), d / "m.onnx")
    return {"dir": d, "model": model, "onnx": onnx_path}


# --- conversions and parity -----------------------------------------------------------------


def _convert_onnx(e: dict[str, Any]) -> tuple[Any, str]:
    return _ort_fn(e["onnx"]), "onnx"


def _convert_onnx_legacy(e: dict[str, Any]) -> tuple[Any, str]:
    out = convert.to_onnx(e["model"], torch.randn(2, 16), e["dir"] / "l.onnx", exporter="legacy")
    return _ort_fn(out), "onnx"


def _convert_torchscript(e: dict[str, Any]) -> tuple[Any, str]:
    res = convert.to_torchscript(e["model"], torch.randn(2, 16), e["dir"] / "m.pt")
    loaded = torch.jit.load(str(res.path))
    return _eager(loaded), res.method


def _convert_int8(e: dict[str, Any]) -> tuple[Any, str]:
    out = convert.quantize_int8(e["onnx"], e["dir"] / "m.int8.onnx")
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeLinear" in ops, ops
    assert out.stat().st_size < e["onnx"].stat().st_size
    return _ort_fn(out), "int8"


def _convert_fp16(e: dict[str, Any]) -> tuple[Any, str]:
    out = convert.to_fp16(e["onnx"], e["dir"] / "m.fp16.onnx")
    weights = [t.data_type for t in onnx.load(str(out)).graph.initializer]
    assert TensorProto.FLOAT16 in weights
    return _ort_fn(out), "fp16"


@pytest.mark.parametrize(
    ("convert_fn", "atol", "method"),
    [
        (_convert_onnx, 1e-5, "onnx"),
        (_convert_onnx_legacy, 1e-5, "onnx"),
        (_convert_torchscript, 1e-6, "trace"),
        # Dynamic INT8 quantizes activations per tensor at run time: ~0.007 max_abs here with
        # 7-bit weights (0.16 with 8-bit ones, saturating on CPUs without VNNI).
        (_convert_int8, 0.05, "int8"),
        (_convert_fp16, 1e-2, "fp16"),
    ],
    ids=["onnx", "onnx-legacy", "torchscript", "int8-loose", "fp16"],
)
def test_conversion_is_within_tolerance_of_eager(
    exported: dict[str, Any], convert_fn: Any, atol: float, method: str
) -> None:
    candidate, got_method = convert_fn(exported)
    assert got_method == method
    result = convert.parity(_eager(exported["model"]), candidate, _samples())
    assert result["samples"] == 3
    assert convert.check_parity(result, atol=atol) is result


def test_onnx_batch_dimension_is_dynamic_and_opset_is_the_one_asked(
    exported: dict[str, Any],
) -> None:
    model = onnx.load(str(exported["onnx"]))
    assert {o.domain: o.version for o in model.opset_import}.get("", None) == 17
    sess = ort.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert (inp.name, inp.shape) == ("input", ["batch", 16])
    for batch in (1, 5, 33):
        out = sess.run(None, {"input": np.zeros((batch, 16), np.float32)})[0]
        assert out.shape == (batch, 4)


def test_int8_strict_tolerance_raises_naming_the_numbers(exported: dict[str, Any]) -> None:
    candidate, _ = _convert_int8(exported)
    result = convert.parity(_eager(exported["model"]), candidate, _samples())
    assert result["max_abs"] > 1e-6
    with pytest.raises(ParityError) as err:
        convert.check_parity(result, atol=1e-7, rtol=1e-7)
    msg = str(err.value)
    assert f"max_abs={result['max_abs']:.3g}" in msg
    assert f"max_rel={result['max_rel']:.3g}" in msg
    assert "atol=1e-07" in msg and "3 samples" in msg


@pytest.mark.parametrize(
    ("candidate", "error"),
    [
        (lambda x: x[:, :2], r"shape \(\d+, 4\) vs \(\d+, 2\)"),
        (lambda x: (x, x), r"1 reference outputs vs 2"),
    ],
    ids=["shape", "arity"],
)
def test_parity_mismatched_outputs_raise(candidate: Any, error: str) -> None:
    with pytest.raises(ParityError, match=error):
        convert.parity(lambda x: x[:, :4], candidate, _samples())


def test_parity_nan_in_candidate_fails() -> None:
    result = convert.parity(lambda x: x, lambda x: x * float("nan"), _samples())
    with pytest.raises(ParityError, match="max_abs=inf"):
        convert.check_parity(result, atol=1.0, rtol=1.0)


def test_torchscript_falls_back_to_script_for_data_dependent_control_flow(
    tmp_path: Path,
) -> None:
    class Branchy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if bool(x.sum() > 0):
                return x * 2
            return x - 1

    res = convert.to_torchscript(Branchy(), torch.ones(2, 3), tmp_path / "b.pt")
    assert res.method == "script"
    loaded = torch.jit.load(str(res.path))
    assert torch.equal(loaded(-torch.ones(2, 3)), -torch.ones(2, 3) - 1)


# --- confined loading -------------------------------------------------------------------------

WEIGHT = np.arange(12, dtype=np.float32).reshape(4, 3)


def _external_model(folder: Path, location: str) -> Path:
    """A MatMul model whose weight is external data at ``location`` (written as given)."""
    folder.mkdir(parents=True, exist_ok=True)
    w = numpy_helper.from_array(WEIGHT, "W")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(WEIGHT.nbytes))):
        w.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def ort_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = ort.InferenceSession

    def spy(path: str, *a: Any, **kw: Any) -> Any:
        calls.append(path)
        return real(path, *a, **kw)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    return calls


def test_external_data_inside_folder_loads(tmp_path: Path, ort_spy: list[str]) -> None:
    folder = tmp_path / "v1"
    path = _external_model(folder, "weights/w.bin")
    (folder / "weights").mkdir()
    (folder / "weights" / "w.bin").write_bytes(WEIGHT.tobytes())
    sess = convert.load_onnx_confined(path, folder)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], x @ WEIGHT)
    assert ort_spy == [str(path)]


def _dotdot(tmp_path: Path, folder: Path) -> str:
    return "../outside.bin"


def _absolute(tmp_path: Path, folder: Path) -> str:
    return str(tmp_path / "outside.bin")


def _symlink(tmp_path: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "link.bin").symlink_to(tmp_path / "outside.bin")
    return "link.bin"


def _dir_symlink(tmp_path: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").symlink_to(tmp_path)
    return "sub/outside.bin"


@pytest.mark.parametrize(
    ("make_location", "reason"),
    [
        (_dotdot, "climbs out with '..'"),
        (_absolute, "an absolute path"),
        (_symlink, "resolves to .* outside the folder"),
        (_dir_symlink, "resolves to .* outside the folder"),
    ],
    ids=["dotdot", "absolute", "symlink", "dir-symlink"],
)
def test_external_data_escaping_folder_is_refused_before_loading(
    tmp_path: Path, ort_spy: list[str], make_location: Any, reason: str
) -> None:
    # The outside file is real and valid, so only the confinement check stands in the way.
    (tmp_path / "outside.bin").write_bytes(WEIGHT.tobytes())
    folder = tmp_path / "v1"
    location = make_location(tmp_path, folder)
    path = _external_model(folder, location)
    with pytest.raises(UnsafeModel, match=reason) as err:
        convert.load_onnx_confined(path, folder)
    assert "tensor 'W'" in str(err.value) and repr(location) in str(err.value)
    assert ort_spy == []


def test_model_file_outside_folder_is_refused(tmp_path: Path, ort_spy: list[str]) -> None:
    path = _external_model(tmp_path / "elsewhere", "w.bin")
    (tmp_path / "v1").mkdir()
    with pytest.raises(UnsafeModel, match="resolves outside"):
        convert.load_onnx_confined(path, tmp_path / "v1")
    assert ort_spy == []


def test_parity_relative_difference_is_against_each_rows_scale() -> None:
    ref = np.array([[10.0, 0.001], [1.0, 2.0]])
    cand = ref + np.array([[0.1, 0.1], [0.0, 0.02]])
    result = convert.parity(lambda x: ref, lambda x: cand, [None])
    assert result["max_abs"] == pytest.approx(0.1)
    # 0.1 / 10 and 0.02 / 2: a logit near zero (0.001) does not make it 100
    assert result["max_rel"] == pytest.approx(0.01)
