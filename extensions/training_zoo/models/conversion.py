"""Model conversion, compression, parity checks and confined ONNX loading.

Pure functions with no service or tornado imports: a conversion job runs them in its own process.
Heavy dependencies (torch, onnx, onnxruntime) are imported inside the functions that need them so
that importing this module stays cheap; install them with ``pip install 'training-zoo[models]'``.

Exporter choice (torch 2.13): ``torch.onnx.export(..., dynamo=True)`` is torch's default and
supported exporter since 2.9; it needs ``onnxscript`` (which brings ``onnx-ir``), both plain wheels
on PyPI, so it works offline once the ``models`` extra is installed. The legacy TorchScript-based
exporter (``dynamo=False``) needs no extra package but warns that it "will be removed", so it is
only offered as an explicit opt-out (``exporter="legacy"``), never as a silent fallback.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict

if TYPE_CHECKING:
    import numpy as np
    import onnx
    import onnxruntime
    import torch

__all__ = [
    "ParityError",
    "ParityResult",
    "TorchScriptExport",
    "UnsafeModel",
    "check_parity",
    "external_data_locations",
    "load_onnx_confined",
    "parity",
    "quantize_int8",
    "to_fp16",
    "to_onnx",
    "to_torchscript",
]


class ParityError(AssertionError):
    """A converted model's outputs differ from its source beyond the configured tolerance."""


class UnsafeModel(ValueError):
    """An ONNX file refers to data outside the folder it is allowed to read from."""


class ParityResult(TypedDict):
    max_abs: float
    max_rel: float
    samples: int


class TorchScriptExport(NamedTuple):
    path: Path
    method: Literal["trace", "script"]


# --------------------------------------------------------------------------------------------
# PyTorch -> ONNX / TorchScript


def _as_tuple(example: Any) -> tuple[Any, ...]:
    return tuple(example) if isinstance(example, (tuple, list)) else (example,)


def to_onnx(
    model: torch.nn.Module,
    example: torch.Tensor | tuple[Any, ...],
    out_path: str | os.PathLike[str],
    opset: int = 17,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    exporter: Literal["dynamo", "legacy"] = "dynamo",
) -> Path:
    """Export ``model`` to a self-contained ONNX file at ``out_path`` and return its path.

    ``example`` is one tensor or a tuple of positional inputs. With ``dynamic_batch`` the first
    dimension of every tensor input (and so of the outputs) is named ``batch`` and left free.
    The dynamo exporter implements opset 18+ and converts down when a lower ``opset`` is asked
    for (it logs a warning saying so). That conversion fails for some graphs (``ReduceMean``,
    from ``AdaptiveAvgPool2d(1)``, takes its axes as an input since opset 18), and the exporter
    then keeps opset 18: read the saved model's ``opset_import`` for what it has.
    """
    import onnx
    import torch

    args = _as_tuple(example)
    tensor_idx = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    names = (
        list(input_names)
        if input_names
        else ["input" if len(args) == 1 else f"input_{i}" for i in range(len(args))]
    )
    outs = list(output_names) if output_names else ["output"]
    if dynamic_batch:
        # torch.export specialises a size-1 dimension to the constant 1 ("0/1 specialisation"),
        # which would pin the batch; export with the example repeated to batch 2 instead.
        args = tuple(
            torch.cat([a, a]) if i in tensor_idx and a.dim() > 0 and a.shape[0] == 1 else a
            for i, a in enumerate(args)
        )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            # torch 2.13 emits its own FutureWarning/DeprecationWarning from inside the exporter
            # (e.g. "isinstance(treespec, LeafSpec) is deprecated"); a caller running with
            # warnings as errors must not see the export fail for torch-internal notices.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                if exporter == "dynamo":
                    dynamic_shapes = None
                    if dynamic_batch:
                        batch = torch.export.Dim("batch")
                        dynamic_shapes = tuple(
                            {0: batch} if i in tensor_idx and args[i].dim() > 0 else None
                            for i in range(len(args))
                        )
                    torch.onnx.export(
                        model,
                        args,
                        str(out),
                        dynamo=True,
                        opset_version=opset,
                        input_names=names,
                        output_names=outs,
                        dynamic_shapes=dynamic_shapes,
                        # Weights inline (models under protobuf's 2 GB limit); external_data=True
                        # would also leave an empty "<name>.data" beside small models.
                        external_data=False,
                        verbose=False,
                    )
                else:
                    axes = {n: {0: "batch"} for n in [*names, *outs]} if dynamic_batch else None
                    torch.onnx.export(
                        model,
                        args,
                        str(out),
                        dynamo=False,
                        opset_version=opset,
                        input_names=names,
                        output_names=outs,
                        dynamic_axes=axes,
                    )
    finally:
        model.train(was_training)
    onnx.checker.check_model(str(out))
    return out


def to_torchscript(
    model: torch.nn.Module,
    example: torch.Tensor | tuple[Any, ...],
    out_path: str | os.PathLike[str],
) -> TorchScriptExport:
    """Save ``model`` as TorchScript: traced with ``example``, or scripted when tracing fails
    or warns that the trace may not generalise (data-dependent control flow)."""
    import torch

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    method: Literal["trace", "script"] = "trace"
    try:
        try:
            # A TracerWarning cannot be raised as an error inside the tracer (it surfaces as a
            # SystemError from C++), so record the warnings and decide afterwards.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", torch.jit.TracerWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.trace(model, _as_tuple(example))
            if any(issubclass(w.category, torch.jit.TracerWarning) for w in caught):
                raise torch.jit.TracerWarning("trace may not generalise")
        except (torch.jit.TracerWarning, RuntimeError, TypeError):
            method = "script"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.script(model)
        module.save(str(out))
    finally:
        model.train(was_training)
    return TorchScriptExport(out, method)


# --------------------------------------------------------------------------------------------
# ONNX -> INT8 / FP16


def quantize_int8(onnx_in: str | os.PathLike[str], onnx_out: str | os.PathLike[str]) -> Path:
    """Dynamic INT8 quantization (weights int8, activations quantized at run time).

    The dynamo exporter records shapes of initializers in ``graph.value_info``; onnxruntime's
    quantizer transposes Gemm weights and its shape inference then fails on the stale entries
    ("Inferred shape and existing shape differ"), so those entries are dropped first.

    Weights use 7 bits (``reduce_range=True``): x86 CPUs without VNNI (AVX2, AVX-512 before
    Cascade Lake) multiply uint8 activations by int8 weights with a 16-bit intermediate that
    saturates, which put a small CNN's outputs 13-30 % off its float model on such a machine;
    with the reduced range it was 0.3 %. VNNI machines lose one bit of weight precision.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(onnx_in))
    inits = {t.name for t in model.graph.initializer}
    keep = [v for v in model.graph.value_info if v.name not in inits]
    del model.graph.value_info[:]
    model.graph.value_info.extend(keep)
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(model, out, weight_type=QuantType.QInt8, reduce_range=True)
    return out


def to_fp16(onnx_in: str | os.PathLike[str], onnx_out: str | os.PathLike[str]) -> Path:
    """Convert float32 weights and compute to float16, keeping float32 inputs and outputs so
    callers feed the same arrays (``onnxruntime.transformers.float16``, shipped with ORT)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(onnx_in)), keep_io_types=True)
    out = Path(onnx_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


# --------------------------------------------------------------------------------------------
# Parity


def _to_numpy_list(value: Any) -> list[np.ndarray]:
    import numpy as np

    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _to_numpy_list(v)]
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return [np.asarray(value, dtype=np.float64)]


def _row_scale(mag: np.ndarray) -> np.ndarray:
    """The largest value of each row of ``mag`` (of all of it when 1-D), broadcastable to it."""
    if mag.ndim >= 2 and mag.size:
        return mag.reshape(mag.shape[0], -1).max(axis=1).reshape(-1, *[1] * (mag.ndim - 1))
    if mag.ndim == 1 and mag.size:
        return mag.max(keepdims=True)
    return mag


def parity(
    reference_fn: Callable[[Any], Any],
    candidate_fn: Callable[[Any], Any],
    inputs: Iterable[Any],
) -> ParityResult:
    """Run both functions on every input; return the largest absolute difference and the
    largest relative difference over all output elements. NaN where the reference is not NaN
    counts as infinite.

    The relative difference is taken against the scale of the output it belongs to: for an
    element of row ``i`` (first axis, one sample of a batch) it is ``|ref - cand|`` divided by
    the largest ``|ref|`` of that row, for a 1-D output by the largest ``|ref|`` of the whole
    vector (one scalar per sample), floored at 1e-12. Dividing by the element's own
    ``|ref|`` would make any logit that happens to sit near zero dominate the figure, so no
    relative tolerance could pass a quantized model whose argmax and scale are unchanged.
    """
    import numpy as np

    max_abs = 0.0
    max_rel = 0.0
    n = 0
    for x in inputs:
        refs, cands = _to_numpy_list(reference_fn(x)), _to_numpy_list(candidate_fn(x))
        if len(refs) != len(cands):
            raise ParityError(f"sample {n}: {len(refs)} reference outputs vs {len(cands)}")
        for ref, cand in zip(refs, cands, strict=True):
            if ref.shape != cand.shape:
                raise ParityError(f"sample {n}: output shape {ref.shape} vs {cand.shape}")
            diff = np.abs(ref - cand)
            both_nan = np.isnan(ref) & np.isnan(cand)
            diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
            rel = diff / np.maximum(_row_scale(np.abs(np.nan_to_num(ref))), 1e-12)
            if diff.size:
                max_abs = max(max_abs, float(diff.max()))
                max_rel = max(max_rel, float(rel.max()))
        n += 1
    if n == 0:
        raise ParityError("parity check ran on no samples")
    return {"max_abs": max_abs, "max_rel": max_rel, "samples": n}


def check_parity(result: ParityResult, atol: float, rtol: float = 0.0) -> ParityResult:
    """Pass when every element is within ``atol`` (``max_abs <= atol``) or every element is
    within ``rtol`` of its output's scale (``max_rel <= rtol``, see :func:`parity`; ``rtol``
    0 turns that test off). Otherwise raise :class:`ParityError` naming the measured numbers
    and the tolerance."""
    ok_abs = result["max_abs"] <= atol
    ok_rel = rtol > 0 and result["max_rel"] <= rtol
    if not (ok_abs or ok_rel) or math.isnan(result["max_abs"]):
        raise ParityError(
            f"parity check failed on {result['samples']} samples: "
            f"max_abs={result['max_abs']:.3g} (atol={atol:.3g}), "
            f"max_rel={result['max_rel']:.3g} (rtol={rtol:.3g})"
        )
    return result


# --------------------------------------------------------------------------------------------
# Confined ONNX loading


def _graph_tensors(graph: onnx.GraphProto) -> Iterable[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterable[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        for sp in attr.sparse_tensors:
            yield sp.values
            yield sp.indices
        if attr.HasField("g"):
            yield from _graph_tensors(attr.g)
        for g in attr.graphs:
            yield from _graph_tensors(g)


def external_data_locations(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """``(tensor name, location)`` for every tensor stored as external data, in the main graph,
    its subgraphs (If/Loop/Scan bodies), node attributes and local functions."""
    import onnx

    tensors = list(_graph_tensors(model.graph))
    for fn in model.functions:
        for node in fn.node:
            tensors.extend(_node_tensors(node))
    found = []
    for t in tensors:
        entries = {e.key: e.value for e in t.external_data}
        if t.data_location == onnx.TensorProto.EXTERNAL or entries:
            found.append((t.name, entries.get("location", "")))
    return found


def _check_location(name: str, location: str, base: Path, root: Path) -> None:
    def refuse(why: str) -> UnsafeModel:
        return UnsafeModel(
            f"refusing ONNX model: tensor {name!r} has external data at {location!r}, {why}; "
            f"external data must stay inside {str(root)!r}"
        )

    if not location:
        raise refuse("which names no file")
    if "\x00" in location:
        raise refuse("which contains a NUL byte")
    if (
        os.path.isabs(location)
        or location.startswith(("/", "\\"))
        or (len(location) > 1 and location[1] == ":")
    ):
        raise refuse("an absolute path")
    parts = location.replace("\\", "/").split("/")
    if ".." in parts:
        raise refuse("which climbs out with '..'")
    target = (base / location).resolve()
    if not target.is_relative_to(root):
        raise refuse(f"which resolves to {str(target)!r} outside the folder")
    if target.exists() and not target.is_file():
        raise refuse("which is not a regular file")


def load_onnx_confined(
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    options: onnxruntime.SessionOptions | None = None,
) -> onnxruntime.InferenceSession:
    """Open an ONNX model with onnxruntime (CPU) only if the model file and every external-data
    file it names resolve inside ``folder``; otherwise raise :class:`UnsafeModel` before
    onnxruntime reads anything. The graph is read with ``load_external_data=False``.

    Residual risk: a file swapped for a symlink between this check and onnxruntime's load is
    not caught; ``folder`` must not be writable by whoever supplies the model while loading.
    ``options`` (thread counts, say) are passed to the session as they are.
    """
    import onnx
    import onnxruntime

    root = Path(folder).resolve()
    model_path = Path(path)
    if not model_path.resolve().is_relative_to(root):
        raise UnsafeModel(
            f"refusing ONNX model {str(model_path)!r}: it resolves outside {str(root)!r}"
        )
    model = onnx.load(str(model_path), load_external_data=False)
    # onnxruntime resolves locations against the directory of the path it is given; check that
    # and the model's real directory, which differ when the model file itself is a symlink.
    bases = {model_path.absolute().parent, model_path.resolve().parent}
    for name, location in external_data_locations(model):
        for base in bases:
            _check_location(name, location, base, root)
    del model
    return onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
