"""The conversion and evaluation jobs' entry point: ``python -m training_zoo.models.worker``.

The TZ service submits these as ordinary jobs of the user (``models=[source]``,
``datasets=[ref]``); they find their inputs through ``TZ_MODELS`` and ``TZ_DATASETS`` and write
to ``$TZ_OUTPUT_DIR``::

    python -m training_zoo.models.worker convert --model REF --to onnx|torchscript|int8|fp16
           [--opset 17] [--tolerance-abs X] [--tolerance-rel X] [--samples 16]
           [--dataset REF [--split test]]
    python -m training_zoo.models.worker evaluate --model REF --dataset REF [--split test]
           [--task image_classification|tabular_classification|regression|custom]
           [--script PATH] [--batch-size 32] [--latency-runs 100] [--target COLUMN]

**convert** writes ``model/`` (the converted files and a ``tz-model.json`` copied from the
source with ``format``, ``artifact``, ``framework(_version)`` and ``conversion`` updated). It
converts from ``pytorch-state-dict`` to ``onnx`` (dynamo exporter, dynamic batch) and
``torchscript``; ``int8`` (ONNX Runtime dynamic quantization) and ``fp16`` from ``onnx``, or from
``pytorch-state-dict`` through an ONNX export. The converted model is then loaded the way
evaluation loads it and compared with the source on ``--samples`` inputs: from ``--dataset``
(preprocessed as the descriptor says; a fixed random choice of files or rows) or else random
from the signature (seed 0), fed as one batch of 1 and then batches of up to 8. Parity passes
when every output element is within ``--tolerance-abs`` absolute, or within ``--tolerance-rel``
of its output's scale (:func:`.convert.parity`: the largest ``|reference|`` of the same sample).
Defaults per conversion, which an explicit flag always overrides:

===============  ===============  ===============  ==============================================
conversion       tolerance-abs    tolerance-rel    why
===============  ===============  ===============  ==============================================
``onnx``         1e-4             1e-3             float32 either side: only kernel rounding
``torchscript``  1e-4             1e-3             the same computation, traced or scripted
``fp16``         1e-2             1e-2             ~3 significant digits per float16 operation
``int8``         0.1              0.05             8-bit weights and activations: a few % of scale
===============  ===============  ===============  ==============================================

Out of tolerance the job fails: ``result.json`` says ``parity check failed`` with the measured
and allowed differences, and no ``model/`` folder is left (it is built in a temporary folder
and renamed only once parity has passed).

**evaluate** writes ``evaluation.json``: ``task``, ``dataset``, ``split``, ``samples``, ``metrics``
and ``speed`` (:func:`.evaluation.measure_speed`). ``image_classification`` reads the split's
labelled images (``preprocess`` of kind image, or ``[C, H, W]`` from the signature scaled to
0..1 when there is none); ``tabular_classification`` and ``regression`` read its CSV files
(``preprocess.features``, or every column but the target; the target is ``--target`` or
``preprocess.target``). ``custom`` imports ``--script`` (relative to the working directory,
the job's code snapshot) and calls its ``evaluate(model_path, dataset_path) -> dict``; the
dataset path is the version's folder (``files/`` and ``manifest.jsonl``) and ``TZ_EVAL_SPLIT``
holds ``--split``. An empty split falls back to all files (``split`` then reads ``all``).

Both write ``result.json``: ``{"ok": true}`` or ``{"ok": false, "error": "<one line>"}``, print
that line on stderr and exit 1 (2 for a usage error).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import descriptor as dsc
from . import open_input
from .conversion import ParityError, UnsafeModel

if TYPE_CHECKING:
    import numpy as np

    from ..datasets.reader import DatasetFile, DatasetVersion
    from .runtime import Loaded

log = logging.getLogger("training_zoo.models.worker")

TOLERANCES: dict[str, tuple[float, float]] = {
    "onnx": (1e-4, 1e-3),
    "torchscript": (1e-4, 1e-3),
    "fp16": (1e-2, 1e-2),
    "int8": (0.1, 0.05),
}
SOURCES: dict[str, tuple[str, ...]] = {
    "onnx": ("pytorch-state-dict",),
    "torchscript": ("pytorch-state-dict",),
    "int8": ("onnx", "pytorch-state-dict"),
    "fp16": ("onnx", "pytorch-state-dict"),
}
TASKS = ("image_classification", "tabular_classification", "regression", "custom")
SEED = 0
PARITY_BATCH = 8
# Failures whose message says it all: no traceback in the log, no exception name in result.json.
EXPLAINED = (ParityError, UnsafeModel, dsc.DescriptorError, LookupError)


class WorkerError(Exception):
    """A failure explained to the user; its message goes to ``result.json`` as it is."""


class UsageError(WorkerError):
    """Bad command-line arguments."""


# --------------------------------------------------------------------------------------------
# Command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print and exit(2)
        raise UsageError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _tolerance(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


# argparse names the type in "invalid <name> value: 'x'".
_positive_int.__name__ = "integer"
_tolerance.__name__ = "number"


def build_parser() -> argparse.ArgumentParser:
    """The worker's command line (``convert`` and ``evaluate``)."""
    parser = _Parser(
        prog="python -m training_zoo.models.worker",
        description="Convert or evaluate a TZ model version inside a job; writes "
        "$TZ_OUTPUT_DIR/result.json (and model/ or evaluation.json).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="convert a model version and check its parity")
    c.add_argument(
        "--model", required=True, metavar="REF", help="source version, as given in TZ_MODELS"
    )
    c.add_argument(
        "--to",
        required=True,
        choices=tuple(TOLERANCES),
        help="onnx, torchscript (from pytorch-state-dict); int8, fp16 (from onnx or "
        "pytorch-state-dict)",
    )
    c.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset (default 17)")
    defaults = ", ".join(f"{k} {a:g}" for k, (a, _) in TOLERANCES.items())
    c.add_argument(
        "--tolerance-abs",
        type=_tolerance,
        metavar="X",
        help="parity passes when every output element is within this absolute difference, "
        f"or within --tolerance-rel (default per target: {defaults})",
    )
    defaults = ", ".join(f"{k} {r:g}" for k, (_, r) in TOLERANCES.items())
    c.add_argument(
        "--tolerance-rel",
        type=_tolerance,
        metavar="X",
        help="... or within this fraction of its output's scale (largest |value| of the "
        f"sample); 0 turns it off (default per target: {defaults})",
    )
    c.add_argument("--samples", type=_positive_int, default=16, help="parity samples (default 16)")
    c.add_argument("--dataset", metavar="REF", help="take parity inputs from this dataset")
    c.add_argument("--split", default="test", help="dataset split (default test; 'all')")
    e = sub.add_parser("evaluate", help="measure accuracy and speed on a dataset")
    e.add_argument("--model", required=True, metavar="REF", help="version, as given in TZ_MODELS")
    e.add_argument("--dataset", required=True, metavar="REF", help="dataset version")
    e.add_argument("--split", default="test", help="dataset split (default test; 'all')")
    e.add_argument(
        "--task", choices=TASKS, help="default: custom with --script, else the model's task"
    )
    e.add_argument("--script", metavar="PATH", help="custom: a .py file with evaluate()")
    e.add_argument(
        "--batch-size", type=_positive_int, default=32, help="throughput batch (default 32)"
    )
    e.add_argument(
        "--latency-runs", type=_positive_int, default=100, help="batch-1 runs timed (default 100)"
    )
    e.add_argument("--target", metavar="COLUMN", help="CSV column with the true value")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (0, 1 on failure, 2 on a usage error)."""
    # The exporters log every optimisation pass at INFO; the job log wants ours only.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stdout)
    log.setLevel(logging.INFO)
    out_env = os.environ.get("TZ_OUTPUT_DIR")
    try:
        args = build_parser().parse_args(argv)
        if not out_env:
            raise WorkerError("TZ_OUTPUT_DIR is not set: the worker runs inside a TZ job")
        out = Path(out_env)
        out.mkdir(parents=True, exist_ok=True)
        extra = COMMANDS[args.command](args, out)
        _write_json(out / "result.json", {"ok": True, **extra})
        return 0
    except Exception as e:
        if not _explained(e):
            traceback.print_exc()
        message = _one_line(e)
        print(f"error: {message}", file=sys.stderr, flush=True)
        if out_env:
            try:
                result = {"ok": False, "error": message, **getattr(e, "details", {})}
                _write_json(Path(out_env) / "result.json", result)
            except OSError as write_error:
                print(f"error: cannot write result.json: {write_error}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


def _explained(e: BaseException) -> bool:
    # A KeyError or IndexError is a LookupError too, but one of those is a bug to trace.
    return isinstance(e, (WorkerError, *EXPLAINED)) and not isinstance(e, KeyError | IndexError)


def _one_line(e: BaseException) -> str:
    text = str(e) if _explained(e) else f"{type(e).__name__}: {e}"
    text = " ".join(text.split())
    return text[:2000] + (" ..." if len(text) > 2000 else "")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Inputs


def _open_model(ref: str) -> tuple[Path, dict[str, Any]]:
    folder = open_input(ref)
    log.info("model %s: %s", ref, folder)
    return folder, dsc.read(folder)


def _open_dataset(ref: str, split: str) -> tuple[DatasetVersion, list[DatasetFile], str]:
    """The dataset version, the files of ``split`` (all of them for ``all`` or an empty
    split) and the split actually used."""
    from ..datasets.reader import open as open_dataset

    ds = open_dataset(ref)
    files = list(ds.files) if split == "all" else ds.split(split)
    if not files:
        log.info("dataset %s has no %s files: using all %d files", ref, split, len(ds.files))
        files, split = list(ds.files), "all"
    return ds, files, split


def _image_preprocess(desc: dict[str, Any]) -> dict[str, Any] | None:
    pre = desc.get("preprocess")
    if pre and pre["kind"] == "image":
        return pre
    if pre:
        return None
    inputs = (desc.get("signature") or {}).get("inputs") or []
    shape = inputs[0]["shape"] if len(inputs) == 1 else []
    # No preprocess recorded: an image model's [N, C, H, W] input still says size and mode.
    if len(shape) == 4 and shape[1] in (1, 3) and shape[2] > 0 and shape[3] > 0:
        mode = "RGB" if shape[1] == 3 else "L"
        log.info(
            "no preprocess in tz-model.json: images as %s %dx%d, scaled to 0..1",
            mode,
            shape[2],
            shape[3],
        )
        channels = shape[1]
        return {
            "kind": "image",
            "size": shape[2:],
            "mode": mode,
            "mean": [0.0] * channels,
            "std": [1.0] * channels,
        }
    return None


def _is_image(f: DatasetFile) -> bool:
    from PIL import Image

    return f.path.suffix.lower() in Image.registered_extensions()


def _tabular_columns(
    desc: dict[str, Any], target: str | None
) -> tuple[list[str] | None, str | None]:
    pre = desc.get("preprocess") or {}
    if pre.get("kind") == "tabular":
        return pre["features"], target or pre.get("target")
    return None, target


def _image_inputs(
    desc: dict[str, Any], files: list[DatasetFile], *, labelled: bool
) -> tuple[np.ndarray, list[str | None]]:
    pre = _image_preprocess(desc)
    if pre is None:
        raise WorkerError(
            "the model has no image preprocess (tz-model.json preprocess: {kind: image, size, "
            "mode, mean, std}) and its signature is not one [N, C, H, W] input"
        )
    from .evaluation import image_batch

    chosen = [f for f in files if _is_image(f) and (f.label is not None or not labelled)]
    if not chosen:
        what = "labelled images" if labelled else "images"
        raise WorkerError(f"the dataset split has no {what} ({len(files)} files)")
    log.info("reading %d images", len(chosen))
    return image_batch([f.path for f in chosen], pre), [f.label for f in chosen]


def _csv_inputs(
    desc: dict[str, Any], files: list[DatasetFile], target: str | None, *, need_target: bool
) -> tuple[np.ndarray, list[str] | None]:
    from .evaluation import read_csv

    features, target = _tabular_columns(desc, target)
    if need_target and not target:
        raise WorkerError(
            "which CSV column is the target? pass --target COLUMN or set preprocess.target "
            "in tz-model.json"
        )
    csvs = [f.path for f in files if f.key.lower().endswith(".csv")]
    if not csvs:
        raise WorkerError(f"the dataset split has no .csv files ({len(files)} files)")
    x, y, names = read_csv(csvs, features, target)
    log.info("read %d rows of %d features from %d CSV files", len(x), len(names), len(csvs))
    return x, y


def _tabular(desc: dict[str, Any]) -> bool:
    """Whether the model reads CSV rows rather than images."""
    kind = (desc.get("preprocess") or {}).get("kind")
    return kind == "tabular" or (
        kind is None and desc.get("task") in ("tabular_classification", "regression")
    )


def _batches(arrays: tuple[np.ndarray, ...]) -> list[tuple[np.ndarray, ...]]:
    """One batch of 1 (dynamic-batch models break there first), then batches of up to 8."""
    n = len(arrays[0])
    edges = [0, *range(1, n, PARITY_BATCH), n]
    return [tuple(a[i:j] for a in arrays) for i, j in zip(edges, edges[1:], strict=False) if j > i]


def _parity_inputs(
    desc: dict[str, Any], args: argparse.Namespace
) -> tuple[list[tuple[np.ndarray, ...]], str]:
    import numpy as np

    from .runtime import example_batch

    if not args.dataset:
        arrays = example_batch(desc, args.samples, SEED)
        return _batches(arrays), f"random inputs from the signature, seed {SEED}"
    ds, files, split = _open_dataset(args.dataset, args.split)
    if _tabular(desc):
        if _tabular_columns(desc, None)[0] is None:
            raise WorkerError(
                "parity inputs from CSV files need preprocess.features in tz-model.json (the "
                "columns the model reads, in order); or convert without --dataset"
            )
        x, _ = _csv_inputs(desc, files, None, need_target=False)
    else:
        x, _ = _image_inputs(desc, files, labelled=False)
    if not len(x):
        raise WorkerError(f"dataset {ds.ref} ({split}) gave no inputs for the parity check")
    rows = np.random.default_rng(SEED).permutation(len(x))[: args.samples]
    return _batches((x[np.sort(rows)],)), f"dataset {ds.ref} ({split})"


# --------------------------------------------------------------------------------------------
# convert


def _torch_example(desc: dict[str, Any]) -> tuple[Any, ...]:
    import torch

    from .runtime import example_batch

    return tuple(torch.from_numpy(a) for a in example_batch(desc, 2, SEED))


def _export_onnx(source: Loaded, desc: dict[str, Any], path: Path, opset: int) -> dict[str, Any]:
    from .conversion import to_onnx

    sig = desc["signature"]
    dynamic = all(t["shape"] and t["shape"][0] == -1 for t in sig["inputs"])
    log.info("exporting to ONNX (opset %d, dynamo exporter)", opset)
    to_onnx(
        source.native,
        _torch_example(desc),
        path,
        opset=opset,
        input_names=[t["name"] for t in sig["inputs"]],
        output_names=[t["name"] for t in sig["outputs"]] or None,
        dynamic_batch=dynamic,
    )
    return {"exporter": "dynamo"}


def _onnx_facts(path: Path, signature: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """The model's default-domain opset, and ``signature`` with each dynamic dimension the
    exporter fixed recorded as fixed (torch.export specialises a dimension it is not told is
    dynamic, so a -1 other than the batch comes back as the example's size)."""
    import copy

    import onnx

    model = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    shapes = {
        v.name: [
            d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim
        ]
        for v in [*model.graph.input, *model.graph.output]
    }
    sig = copy.deepcopy(signature)
    for tensor in [*sig["inputs"], *sig["outputs"]]:
        got = shapes.get(tensor["name"])
        if got and len(got) == len(tensor["shape"]):
            tensor["shape"] = [
                g if s == -1 and g > 0 else s for s, g in zip(tensor["shape"], got, strict=True)
            ]
    return opset, sig


def _convert_files(
    kind: str, source: Loaded, src: Path, desc: dict[str, Any], tmp: Path, opset: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the converted artifact into ``tmp``; return descriptor fields and conversion facts."""
    fmt = desc["format"]
    facts: dict[str, Any] = {"kind": kind, "source_format": fmt}
    if kind == "torchscript":
        import torch

        from .conversion import to_torchscript

        example = _torch_example(desc)
        made = to_torchscript(
            source.native, example if len(example) > 1 else example[0], tmp / "model.pt"
        )
        facts["method"] = made.method
        fields = {
            "format": "torchscript",
            "artifact": "model.pt",
            "framework": "pytorch",
            "framework_version": torch.__version__.split("+")[0],
        }
        return fields, facts
    import onnx

    target = tmp / "model.onnx"
    if fmt == "onnx":
        onnx_in = src / desc["artifact"]
    else:
        onnx_in = target if kind == "onnx" else tmp / f".export-{uuid.uuid4().hex}.onnx"
        facts.update(_export_onnx(source, desc, onnx_in, opset))
    if kind == "int8":
        from .conversion import quantize_int8

        log.info("quantizing to INT8 (dynamic, 7-bit weights)")
        quantize_int8(onnx_in, target)
        facts.update(quantization="dynamic", weights="int8", reduce_range=True)
    elif kind == "fp16":
        from .conversion import to_fp16

        log.info("converting weights and compute to float16 (float32 inputs and outputs)")
        to_fp16(onnx_in, target)
    if onnx_in != target and onnx_in.parent == tmp:
        onnx_in.unlink()
    return {
        "format": "onnx",
        "artifact": "model.onnx",
        "framework": "onnx",
        "framework_version": onnx.__version__,
    }, facts


def run_convert(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``convert``: see the module docstring."""
    from .conversion import check_parity, parity
    from .runtime import load

    kind = args.to
    src, desc = _open_model(args.model)
    fmt = desc["format"]
    if fmt not in SOURCES[kind]:
        raise WorkerError(
            f"cannot convert {fmt} to {kind}: {kind} converts from {' or '.join(SOURCES[kind])}"
        )
    if not (desc.get("signature") or {}).get("inputs"):
        raise WorkerError(
            "the source has no signature in tz-model.json (input names, dtypes and shapes); "
            "conversion builds its example inputs from it"
        )
    default_abs, default_rel = TOLERANCES[kind]
    tol_abs = default_abs if args.tolerance_abs is None else args.tolerance_abs
    tol_rel = default_rel if args.tolerance_rel is None else args.tolerance_rel
    # The source is loaded first: for ONNX that checks its external data stays in its folder
    # before the converters read the file.
    source = load(src)
    batches, described = _parity_inputs(desc, args)
    tmp = Path(tempfile.mkdtemp(prefix=".model-", dir=out))
    try:
        fields, facts = _convert_files(kind, source, src, desc, tmp, args.opset)
        new = {k: v for k, v in desc.items() if k not in ("builder", "conversion")}
        new.update(fields)
        if fields["format"] == "onnx":
            opset, new["signature"] = _onnx_facts(tmp / fields["artifact"], desc["signature"])
            facts["opset"] = opset
            if "exporter" in facts and opset != args.opset:
                # The dynamo exporter writes opset 18 and converts down; that fails for some
                # graphs (ReduceMean's axes became an input in 18) and it keeps 18.
                facts["opset_requested"] = args.opset
                log.warning(
                    "the exporter could not convert to opset %d: the model has opset %s",
                    args.opset,
                    opset,
                )
        card = dsc.card_file(src, desc["card"]) if desc.get("card") else None
        if card is not None:
            (tmp / desc["card"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(card, tmp / desc["card"])
        new["conversion"] = facts
        _write_json(tmp / dsc.DESCRIPTOR, dsc.validate(new))
        candidate = load(tmp)
        log.info("parity: %s vs %s on %s", kind, fmt, described)
        result = dict(parity(source.predict, candidate.predict, batches))
        result["samples"] = sum(len(b[0]) for b in batches)
        record = {
            "max_abs": result["max_abs"],
            "max_rel": result["max_rel"],
            "samples": result["samples"],
            "tolerance_abs": tol_abs,
            "tolerance_rel": tol_rel,
            "inputs": described,
        }
        try:
            check_parity(result, atol=tol_abs, rtol=tol_rel)  # type: ignore[arg-type]
        except ParityError:
            record["passed"] = False
            error = ParityError(
                f"parity check failed: max_abs {result['max_abs']:.3g} > {tol_abs:g} "
                f"(tolerance_abs) and max_rel {result['max_rel']:.3g} > {tol_rel:g} "
                f"(tolerance_rel) on {result['samples']} samples ({described}), {kind} vs the "
                f"{fmt} source; pass --tolerance-abs/--tolerance-rel to accept more"
            )
            error.details = {"parity": _finite(record)}  # type: ignore[attr-defined]
            raise error from None
        record["passed"] = True
        log.info("parity passed: max_abs %.3g, max_rel %.3g", result["max_abs"], result["max_rel"])
        facts["parity"] = _finite(record)
        _write_json(tmp / dsc.DESCRIPTOR, dsc.validate(new))
        final = out / "model"
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        return {"parity": facts["parity"]}
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """JSON has no infinity or NaN: a NaN output compares as an infinite difference."""
    import math

    return {
        k: (1e308 if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in record.items()
    }


# --------------------------------------------------------------------------------------------
# evaluate


def _artifact_size(folder: Path, desc: dict[str, Any]) -> int:
    """Bytes of the artifact (all files under it when it is a folder): the descriptor, card
    and builder module would skew the size ratios of small models."""
    path = folder / desc["artifact"]
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _predict_all(loaded: Loaded, x: np.ndarray, batch_size: int) -> np.ndarray:
    import numpy as np

    return np.concatenate(
        [loaded.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    )


def _load_measured(
    folder: Path, desc: dict[str, Any], sample_fn: Callable[[int], Any], args: argparse.Namespace
) -> tuple[Loaded, dict[str, Any]]:
    """Load the model and time it; memory counts from just before the load, with the runtime
    library already imported so that its own size is not the model's."""
    from .evaluation import PeakMemory, measure_speed
    from .runtime import load

    if desc["format"] == "onnx":
        import onnxruntime  # noqa: F401
    else:
        import torch  # noqa: F401
    memory = PeakMemory().start()
    try:
        loaded = load(folder)
    except BaseException:
        memory.stop()
        raise
    log.info(
        "timing %s: %d runs at batch 1, batch %d",
        loaded.runtime,
        args.latency_runs,
        args.batch_size,
    )
    speed = measure_speed(
        loaded,
        sample_fn,
        args.batch_size,
        args.latency_runs,
        _artifact_size(folder, desc),
        memory=memory,
    )
    log.info(
        "latency p50 %.3f ms, %.0f samples/s, peak memory +%.1f MB",
        speed["latency_ms_p50"],
        speed["throughput_per_s"] or 0,
        speed["peak_memory_mb"],
    )
    return loaded, speed


def _rows(x: np.ndarray) -> Callable[[int], np.ndarray]:
    import numpy as np

    return lambda n: x[np.arange(n) % len(x)]


def _custom(args: argparse.Namespace, folder: Path, ds: DatasetVersion) -> dict[str, Any]:
    if not args.script:
        raise UsageError("--task custom needs --script PATH (a .py file defining evaluate())")
    script = Path(args.script)
    script = script if script.is_absolute() else Path.cwd() / script
    if script.suffix != ".py" or not script.is_file():
        raise WorkerError(f"--script {args.script}: no such .py file in {Path.cwd()}")
    name = f"_tz_eval_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise WorkerError(f"--script {args.script}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    os.environ["TZ_EVAL_SPLIT"] = args.split
    # The script's own folder first, so it can import its neighbours from the code snapshot.
    sys.path.insert(0, str(script.parent))
    try:
        spec.loader.exec_module(module)
        fn = getattr(module, "evaluate", None)
        if not callable(fn):
            raise WorkerError(
                f"{args.script} defines no function evaluate(model_path, dataset_path)"
            )
        log.info("calling %s evaluate(%s, %s)", args.script, folder, ds.root)
        result = fn(str(folder), str(ds.root))
    except SystemExit as e:
        raise WorkerError(
            f"{args.script} exited (sys.exit({e.code!r})) instead of returning"
        ) from None
    finally:
        sys.path.remove(str(script.parent))
    if not isinstance(result, dict):
        raise WorkerError(
            f"{args.script}: evaluate() must return a dict of metrics, not {type(result).__name__}"
        )
    try:
        return json.loads(json.dumps(result, allow_nan=False, default=_json_number))
    except (TypeError, ValueError) as e:
        raise WorkerError(
            f"{args.script}: evaluate() returned a dict that is not JSON: {e}"
        ) from None


def _json_number(value: Any) -> Any:
    # numpy scalars and arrays, which metric code returns all the time.
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def run_evaluate(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``evaluate``: see the module docstring."""
    import numpy as np

    from .evaluation import regression
    from .runtime import RUNTIMES, example_batch

    folder, desc = _open_model(args.model)
    task = args.task or ("custom" if args.script else desc.get("task"))
    if task not in TASKS:
        raise UsageError(
            f"the model's task is {desc.get('task') or 'not set'}: pass --task "
            f"({', '.join(TASKS)}); custom needs --script"
        )
    ds, files, split = _open_dataset(args.dataset, args.split)
    speed: dict[str, Any] | None = None
    if task == "custom":
        metrics = _custom(args, folder, ds)
        if desc["format"] in RUNTIMES and (desc.get("signature") or {}).get("inputs"):
            _, speed = _load_measured(folder, desc, lambda n: example_batch(desc, n, SEED), args)
        samples = metrics.get("samples") if isinstance(metrics.get("samples"), int) else len(files)
    elif task == "image_classification":
        x, values = _image_inputs(desc, files, labelled=True)
        loaded, speed = _load_measured(folder, desc, _rows(x), args)
        scores = _predict_all(loaded, x, args.batch_size)
        metrics = _classify(scores, values, desc)
        samples = len(x)
    else:
        x, values = _csv_inputs(desc, files, args.target, need_target=True)
        if not len(x):
            raise WorkerError(f"the CSV files of {ds.ref} ({split}) have no rows")
        loaded, speed = _load_measured(folder, desc, _rows(x), args)
        pred = _predict_all(loaded, x, args.batch_size)
        if task == "regression":
            try:
                y = np.asarray([float(v) for v in values or []])
            except ValueError as e:
                raise WorkerError(
                    f"the target column holds a value that is not a number: {e}"
                ) from None
            metrics = regression(y, pred)
        else:
            metrics = _classify(pred, values, desc)
        samples = len(x)
    if task != "custom":
        log.info(
            "%s on %d samples: %s",
            task,
            samples,
            {k: v for k, v in metrics.items() if isinstance(v, float)},
        )
    _write_json(
        out / "evaluation.json",
        {
            "task": task,
            "dataset": ds.ref,
            "split": split,
            "samples": samples,
            "metrics": metrics,
            "speed": speed,
        },
    )
    return {}


def _classify(scores: np.ndarray, values: list[Any] | None, desc: dict[str, Any]) -> dict[str, Any]:
    from .evaluation import classification, label_indices

    if scores.ndim != 2:
        raise WorkerError(
            f"a classifier's output is (samples, classes); this model's is {scores.shape}"
        )
    classes = scores.shape[1]
    labels = desc.get("labels")
    y = label_indices(values or [], labels, classes)
    return classification(y, scores, labels if labels and len(labels) == classes else None)


COMMANDS: dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]] = {
    "convert": run_convert,
    "evaluate": run_evaluate,
}


if __name__ == "__main__":
    sys.exit(main())
