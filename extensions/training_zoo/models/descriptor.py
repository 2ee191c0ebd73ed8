"""The model descriptor ``tz-model.json``: its validation, reading it from a folder, and
:func:`save`, which writes a model folder from a training script.

A job that writes ``$TZ_OUTPUT_DIR/model/tz-model.json`` gets its model registered when it
succeeds; in a training script::

    import training_zoo as tz

    tz.models.save(model, name="shapes-cnn", example_input=x[:1], kwargs={"classes": 2},
                   task="image_classification", labels=["circle", "square"],
                   metrics={"val_accuracy": acc})

The format; only ``format`` and ``artifact`` are required (``name`` to be registered by a job):

==============  ===========================================================================
``name``        model name for auto-registration, ``^[a-z0-9][a-z0-9_-]{0,62}$``
``format``      one of :data:`FORMATS`
``artifact``    the main file (a folder for ``tensorflow-savedmodel``/``custom``), relative
``builder``     ``pytorch-state-dict`` only: ``{"module": "model.py", "class": "Net",
                "kwargs": {...}}``, the state dict is loaded into ``Net(**kwargs)``
``signature``   ``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``; -1 = dynamic
``preprocess``  ``{"kind": "image", "size": [H, W], "mode", "mean", "std"}`` or
                ``{"kind": "tabular", "features": [...], "target": "y"}``
``labels``      class index -> label
``card``        a Markdown file in the folder, else inline Markdown
``conversion``  written by the conversion worker
==============  ===========================================================================

Standard library only at import time; :func:`save` imports torch when it runs.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "DESCRIPTOR",
    "DTYPES",
    "FORMATS",
    "TASKS",
    "DescriptorError",
    "card_file",
    "card_text",
    "read",
    "save",
    "validate",
]

DESCRIPTOR = "tz-model.json"
FORMATS = ("pytorch-state-dict", "torchscript", "onnx", "tensorflow-savedmodel", "custom")
TASKS = (
    "image_classification",
    "object_detection",
    "text_classification",
    "tabular_classification",
    "regression",
    "generic",
)
DTYPES = ("float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool")
CLASSIFICATION_TASKS = ("image_classification", "text_classification", "tabular_classification")
CONVERSION_KINDS = ("onnx", "torchscript", "int8", "fp16")
IMAGE_MODES = {"RGB": 3, "L": 1, "RGBA": 4}

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_TEXT = 100_000  # description and card, in UTF-8 bytes
MAX_KEYS = 200  # metrics, parameters, tags
MAX_NAME = 255  # any name, key, label, tag value or path
MAX_FILE = 2_000_000  # tz-model.json itself, read whole before its parts are checked
# Artifacts that may be folders rather than files.
FOLDER_FORMATS = ("tensorflow-savedmodel", "custom")


class DescriptorError(ValueError):
    """A ``tz-model.json`` (or the arguments of :func:`save`) is not valid; the message starts
    with the path of the offending field, e.g. ``signature.inputs[0].dtype: must be one of``."""


# --------------------------------------------------------------------------------------------
# Validation


def _fail(path: str, message: str) -> DescriptorError:
    return DescriptorError(f"{path}: {message}")


def _str(value: Any, path: str, limit: int = MAX_NAME, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, not {type(value).__name__}")
    if not value and not empty:
        raise _fail(path, "must not be empty")
    size = len(value.encode("utf-8")) if limit == MAX_TEXT else len(value)
    if size > limit:
        unit = "bytes" if limit == MAX_TEXT else "characters"
        raise _fail(path, f"is {size} {unit} long; at most {limit} allowed")
    return value


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(path, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def _number(value: Any, path: str) -> float | int:
    # bool is an int to Python but never a metric.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, "must be a finite number")
    return value


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"must be an object, not {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, f"must be a list, not {type(value).__name__}")
    return value


def _relpath(value: Any, path: str) -> str:
    """A path relative to the model folder that cannot leave it by its spelling (the
    filesystem check, symlinks included, is :func:`read`'s)."""
    raw = _str(value, path)
    if "\x00" in raw or "\\" in raw:
        raise _fail(path, "must be a plain relative path with '/' separators")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise _fail(path, f"must be relative to the model folder, not absolute ({raw!r})")
    parts = PurePosixPath(raw).parts
    if ".." in parts:
        raise _fail(path, f"must stay inside the model folder: no '..' ({raw!r})")
    clean = str(PurePosixPath(*[p for p in parts if p != "."])) if parts else ""
    if clean in ("", "."):
        raise _fail(path, "must name a file inside the model folder")
    return clean


def _mapping(value: Any, path: str, check: Callable[[Any, str], Any]) -> dict[str, Any]:
    data = _object(value, path)
    if len(data) > MAX_KEYS:
        raise _fail(path, f"has {len(data)} keys; at most {MAX_KEYS} allowed")
    for key in data:
        _str(key, f"{path} key {key!r}")
    return {key: check(item, f"{path}.{key}") for key, item in data.items()}


def _scalar(value: Any, path: str) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return _str(value, path, MAX_TEXT, empty=True) if isinstance(value, str) else value
    return _number(value, path)


def _tensor(value: Any, path: str) -> dict[str, Any]:
    data = _object(value, path)
    _only(data, path, ("name", "dtype", "shape"))
    shape = _list(data.get("shape"), f"{path}.shape")
    for i, dim in enumerate(shape):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < -1 or dim == 0:
            raise _fail(f"{path}.shape[{i}]", f"must be a positive int or -1, not {dim!r}")
    return {
        "name": _str(data.get("name"), f"{path}.name"),
        "dtype": _choice(data.get("dtype"), f"{path}.dtype", DTYPES),
        "shape": list(shape),
    }


def _tensors(value: Any, path: str, *, required: bool) -> list[dict[str, Any]]:
    items = [_tensor(t, f"{path}[{i}]") for i, t in enumerate(_list(value, path))]
    if required and not items:
        raise _fail(path, "must list at least one tensor")
    names = [t["name"] for t in items]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _fail(f"{path}[{i}].name", f"{name!r} is used twice")
    return items


def _only(data: Mapping[str, Any], path: str, known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise _fail(where, f"unknown field (known: {', '.join(known)})")


def _signature(value: Any) -> dict[str, Any]:
    data = _object(value, "signature")
    _only(data, "signature", ("inputs", "outputs"))
    return {
        "inputs": _tensors(data.get("inputs"), "signature.inputs", required=True),
        "outputs": _tensors(data.get("outputs", []), "signature.outputs", required=False),
    }


def _floats(value: Any, path: str, count: int, default: float) -> list[float]:
    if value is None:
        return [default] * count
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    items = [float(_number(v, f"{path}[{i}]")) for i, v in enumerate(_list(value, path))]
    if len(items) == 1:
        items *= count
    if len(items) != count:
        raise _fail(path, f"must have 1 or {count} values (one per channel), not {len(items)}")
    return items


def _preprocess(value: Any) -> dict[str, Any]:
    data = _object(value, "preprocess")
    kind = _choice(data.get("kind"), "preprocess.kind", ("image", "tabular"))
    if kind == "tabular":
        _only(data, "preprocess", ("kind", "features", "target"))
        features = [
            _str(f, f"preprocess.features[{i}]")
            for i, f in enumerate(_list(data.get("features"), "preprocess.features"))
        ]
        if not features:
            raise _fail("preprocess.features", "must name at least one column")
        for i, f in enumerate(features):
            if f in features[:i]:
                raise _fail(f"preprocess.features[{i}]", f"{f!r} is listed twice")
        out: dict[str, Any] = {"kind": kind, "features": features}
        if data.get("target") is not None:
            out["target"] = _str(data["target"], "preprocess.target")
        return out
    _only(data, "preprocess", ("kind", "size", "mode", "mean", "std"))
    size = data.get("size")
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size, size]
    size = _list(size, "preprocess.size")
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
        raise _fail("preprocess.size", f"must be [height, width] in pixels, not {size!r}")
    mode = _choice(data.get("mode", "RGB"), "preprocess.mode", tuple(IMAGE_MODES))
    channels = IMAGE_MODES[mode]
    std = _floats(data.get("std"), "preprocess.std", channels, 1.0)
    if any(s == 0 for s in std):
        raise _fail("preprocess.std", "must not contain 0 (inputs are divided by it)")
    return {
        "kind": kind,
        "size": list(size),
        "mode": mode,
        "mean": _floats(data.get("mean"), "preprocess.mean", channels, 0.0),
        "std": std,
    }


def _builder(value: Any) -> dict[str, Any]:
    data = _object(value, "builder")
    _only(data, "builder", ("module", "class", "kwargs"))
    module = _relpath(data.get("module"), "builder.module")
    if not module.endswith(".py"):
        raise _fail("builder.module", f"must be a .py file, not {module!r}")
    cls = _str(data.get("class"), "builder.class")
    if not all(part.isidentifier() for part in cls.split(".")):
        raise _fail("builder.class", f"must be a class name such as 'Net', not {cls!r}")
    kwargs = _object(data.get("kwargs", {}), "builder.kwargs")
    for key in kwargs:
        if not isinstance(key, str) or not key.isidentifier():
            raise _fail(f"builder.kwargs key {key!r}", "must be a Python argument name")
    return {"module": module, "class": cls, "kwargs": dict(kwargs)}


def _parity(value: Any) -> dict[str, Any]:
    data = _object(value, "conversion.parity")
    out: dict[str, Any] = {}
    for key, item in data.items():
        path = f"conversion.parity.{key}"
        if key == "passed":
            if not isinstance(item, bool):
                raise _fail(path, "must be true or false")
            out[key] = item
        elif key == "inputs":
            out[key] = _str(item, path, MAX_TEXT)
        elif key in ("max_abs", "max_rel", "tolerance_abs", "tolerance_rel", "samples"):
            out[key] = _number(item, path)
        else:
            raise _fail(path, "unknown field")
    return out


def _conversion(value: Any) -> dict[str, Any]:
    # Written by the worker; other keys it adds (method, quantization) are plain scalars.
    data = _object(value, "conversion")
    out: dict[str, Any] = {"kind": _choice(data.get("kind"), "conversion.kind", CONVERSION_KINDS)}
    for key, item in data.items():
        if key == "parity":
            out[key] = _parity(item)
        elif key != "kind":
            _str(key, f"conversion key {key!r}")
            out[key] = _scalar(item, f"conversion.{key}")
    return out


def _labels(value: Any) -> list[str]:
    labels = [_str(v, f"labels[{i}]") for i, v in enumerate(_list(value, "labels"))]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise _fail(f"labels[{i}]", f"{label!r} is listed twice")
    return labels


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": lambda v: _model_name(v),
    "description": lambda v: _str(v, "description", MAX_TEXT, empty=True),
    "task": lambda v: _choice(v, "task", TASKS),
    "format": lambda v: _choice(v, "format", FORMATS),
    "framework": lambda v: _str(v, "framework"),
    "framework_version": lambda v: _str(v, "framework_version"),
    "artifact": lambda v: _relpath(v, "artifact"),
    "builder": _builder,
    "signature": _signature,
    "preprocess": _preprocess,
    "labels": _labels,
    "metrics": lambda v: _mapping(v, "metrics", _number),
    "parameters": lambda v: _mapping(v, "parameters", _scalar),
    "tags": lambda v: _mapping(v, "tags", _str),
    "card": lambda v: _str(v, "card", MAX_TEXT, empty=True),
    "conversion": _conversion,
}


def _model_name(value: Any) -> str:
    name = _str(value, "name")
    if not NAME_RE.match(name):
        raise _fail(
            "name",
            f"{name!r} is not a model name: lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters",
        )
    return name


def validate(data: Any) -> dict[str, Any]:
    """Check a descriptor and return it normalised (a new dict; absent fields stay absent).

    Normalisation: paths lose ``./`` segments, an image ``preprocess`` gets its defaults
    (``mode`` RGB, ``mean`` 0, ``std`` 1, one per channel) and a one-value ``size``, ``mean``
    or ``std`` is spread, ``signature.outputs`` defaults to ``[]``, ``builder.kwargs`` to ``{}``.

    Raises
    ------
    DescriptorError
        On the first invalid field; the message starts with its path
        (``signature.inputs[0].dtype: must be one of float32, ...``).
    """
    if not isinstance(data, dict):
        raise _fail(DESCRIPTOR, f"must be a JSON object, not {type(data).__name__}")
    _only(data, "", tuple(_FIELDS))
    for key in ("format", "artifact"):
        if data.get(key) is None:
            raise _fail(key, "is required")
    out = {key: _FIELDS[key](value) for key, value in data.items() if value is not None}
    _cross_check(out)
    return out


def _cross_check(d: dict[str, Any]) -> None:
    """Rules between fields, each reported at the field a user would fix."""
    if "builder" in d and d["format"] != "pytorch-state-dict":
        raise _fail("builder", f"is only for format pytorch-state-dict, not {d['format']}")
    inputs = d.get("signature", {}).get("inputs", [])
    outputs = d.get("signature", {}).get("outputs", [])
    labels = d.get("labels")
    if labels and d.get("task") in CLASSIFICATION_TASKS and outputs:
        shape = outputs[0]["shape"]
        if len(shape) >= 1 and shape[-1] != -1 and shape[-1] != len(labels):
            raise _fail(
                "labels",
                f"has {len(labels)} labels but signature.outputs[0] has {shape[-1]} classes "
                f"(shape {shape})",
            )
    pre = d.get("preprocess")
    if pre and pre["kind"] == "image" and inputs:
        shape = inputs[0]["shape"]
        want = [IMAGE_MODES[pre["mode"]], *pre["size"]]
        if len(shape) == 4 and any(s not in (-1, w) for s, w in zip(shape[1:], want, strict=True)):
            raise _fail(
                "preprocess",
                f"makes images of [channels, height, width] {want} (mode {pre['mode']}, size "
                f"{pre['size']}) but signature.inputs[0] takes shape {shape}",
            )


# --------------------------------------------------------------------------------------------
# Reading a folder


def _confined(folder: Path, rel: str, path: str, *, folder_ok: bool = False) -> Path:
    """``folder/rel`` after resolving symlinks, which must stay inside ``folder`` and exist."""
    root = folder.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise _fail(path, f"{rel!r} resolves outside the model folder (a symlink?)")
    if not target.exists():
        raise _fail(path, f"{rel!r} is not in the model folder")
    if not (target.is_file() or (folder_ok and target.is_dir())):
        raise _fail(path, f"{rel!r} is not a regular file")
    return target


def card_file(folder: str | os.PathLike[str], card: str) -> Path | None:
    """The file ``card`` names in ``folder``, or None when it is inline Markdown.

    A one-line card is a file reference when something exists at that name; such a reference
    must then stay inside the folder, so ``../../etc/passwd`` is refused, not read.

    Raises
    ------
    DescriptorError
        ``card`` names something outside ``folder``, or not a regular file.
    """
    if not card or "\n" in card or len(card) > MAX_NAME or "\x00" in card:
        return None
    folder = Path(folder)
    if not os.path.lexists(folder / card):
        return None
    rel = _relpath(card, "card")
    return _confined(folder, rel, "card")


def read(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``folder/tz-model.json``; check that the files it names are there.

    ``artifact``, ``builder.module`` and a ``card`` naming a file must resolve inside
    ``folder`` (no ``..``, not absolute, no symlink leading out) and exist.

    Raises
    ------
    FileNotFoundError
        ``folder`` has no ``tz-model.json``.
    DescriptorError
        The descriptor is not valid JSON, too large, invalid, or names a missing or escaping
        file; the message starts with the field path.
    """
    root = Path(folder)
    path = root / DESCRIPTOR
    if not path.is_file():
        raise FileNotFoundError(f"no {DESCRIPTOR} in {str(root)!r}")
    _confined(root, DESCRIPTOR, DESCRIPTOR)
    if path.stat().st_size > MAX_FILE:
        raise _fail(DESCRIPTOR, f"is larger than {MAX_FILE} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(DESCRIPTOR, f"is not valid JSON: {e}") from None
    desc = validate(data)
    _confined(root, desc["artifact"], "artifact", folder_ok=desc["format"] in FOLDER_FORMATS)
    if "builder" in desc:
        _confined(root, desc["builder"]["module"], "builder.module")
    if desc.get("card"):
        card_file(root, desc["card"])
    return desc


def card_text(folder: str | os.PathLike[str], descriptor: Mapping[str, Any]) -> str | None:
    """The model card's Markdown: the file ``card`` names in ``folder``, else ``card`` itself.

    Raises
    ------
    DescriptorError
        ``card`` names a file outside ``folder`` or one over 100 kB.
    """
    card = descriptor.get("card")
    if not card:
        return None
    file = card_file(Path(folder), card)
    if file is None:
        return card
    if file.stat().st_size > MAX_TEXT:
        raise _fail("card", f"{card!r} is larger than {MAX_TEXT} bytes")
    return file.read_text(encoding="utf-8", errors="replace")


# --------------------------------------------------------------------------------------------
# Writing a model folder from a training script


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The user's own module inside DDP/DataParallel and ``torch.compile`` wrappers.

    The example forward pass must not go through DDP: only rank 0 saves, and DDP's forward may
    broadcast buffers to the other ranks, which would wait for a call that never comes.
    """
    import torch

    while True:
        if isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, torch.nn.Module):
            model = model._orig_mod
        else:
            return model


def _tensor_spec(value: Any, name: str, path: str) -> dict[str, Any]:
    import torch

    if not isinstance(value, torch.Tensor):
        raise _fail(path, f"must be a tensor, not {type(value).__name__}")
    dtype = str(value.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise _fail(f"{path}.dtype", f"must be one of {', '.join(DTYPES)} (got {dtype})")
    shape = list(value.shape)
    if shape:
        shape[0] = -1  # the batch
    return {"name": name, "dtype": dtype, "shape": shape}


def _signature_of(model: torch.nn.Module, example: Any) -> dict[str, Any]:
    import torch

    args = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    many = len(args) > 1
    inputs = [
        _tensor_spec(a, f"input_{i}" if many else "input", f"signature.inputs[{i}]")
        for i, a in enumerate(args)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(*args)
    finally:
        model.train(was_training)
    if isinstance(out, dict):
        named = list(out.items())
    elif isinstance(out, (tuple, list)):
        named = [(f"output_{i}", o) for i, o in enumerate(out)]
    else:
        named = [("output", out)]
    outputs = [_tensor_spec(o, str(n), f"signature.outputs[{i}]") for i, (n, o) in enumerate(named)]
    return {"inputs": inputs, "outputs": outputs}


def _builder_source(model: torch.nn.Module) -> tuple[Path, str]:
    """The file defining ``type(model)`` and the class's qualified name in it.

    Raises
    ------
    DescriptorError
        The class lives in ``__main__`` or in torch, has no source file, or its module uses
        relative imports (it is copied alone into the model folder).
    """
    import inspect

    cls = type(model)
    where = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__ == "__main__":
        raise _fail(
            "builder",
            f"the model class {cls.__qualname__} is defined in the script being run "
            "(__main__), which cannot be copied to rebuild it: move the class to its own module, "
            "e.g. model.py next to the script, and import it from there",
        )
    if cls.__module__.split(".")[0] == "torch":
        raise _fail(
            "builder",
            f"the model is a plain {where}: save() rebuilds models from a class you define, so "
            "wrap it in an nn.Module subclass in your own module, e.g. model.py",
        )
    if "<locals>" in cls.__qualname__:
        raise _fail("builder", f"{where} is defined inside a function; define it at module level")
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        source = None
    if not source or not source.endswith(".py") or not os.path.isfile(source):
        raise _fail("builder", f"no Python source file found for {where}")
    tree = ast.parse(Path(source).read_text(encoding="utf-8"), filename=source)
    if any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)):
        raise _fail(
            "builder",
            f"{source} uses relative imports, but it is copied alone into the model folder: "
            "put the model class in a self-contained module that imports installed packages only",
        )
    siblings = {p.stem for p in Path(source).parent.glob("*.py")}
    imported = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module:
            imported.add(n.module.split(".")[0])
    local = sorted((imported & siblings) - {Path(source).stem})
    if local:
        warnings.warn(
            f"{Path(source).name} imports {', '.join(local)} from its own folder; only "
            f"{Path(source).name} is copied into the model folder, so loading the model elsewhere "
            "will fail unless those modules are installed there",
            stacklevel=3,
        )
    return Path(source), cls.__qualname__


def _check_rebuild(model: torch.nn.Module, state: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """Rebuild ``type(model)(**kwargs)`` and compare its state dict's keys and shapes with
    ``state``, so a wrong ``kwargs`` fails here and not in a conversion job days later.
    On the meta device first: no memory for weights."""
    import torch

    cls = type(model)
    try:
        with torch.device("meta"):
            fresh = cls(**kwargs)
    except TypeError as e:
        raise _fail(
            "builder.kwargs",
            f"{cls.__qualname__}(**{kwargs!r}) fails: {e}; pass the constructor arguments "
            "as kwargs={...}",
        ) from None
    except Exception:
        # Some constructors compute with real tensor values; build those for real.
        fresh = cls(**kwargs)
    want = {k: tuple(getattr(v, "shape", ())) for k, v in fresh.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
    if want != have:
        missing = sorted(set(want) - set(have))[:3]
        extra = sorted(set(have) - set(want))[:3]
        shapes = sorted(k for k in set(want) & set(have) if want[k] != have[k])[:3]
        raise _fail(
            "builder.kwargs",
            f"{cls.__qualname__}(**{kwargs!r}) does not match the trained model "
            f"(missing {missing}, unexpected {extra}, different shapes {shapes}); pass the "
            "constructor arguments the model was built with as kwargs={...}",
        )


def _plain(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Numbers as JSON has them: ``acc.item()`` is easy to forget for a tensor or numpy scalar."""
    if values is None:
        return None
    return {
        k: v.item() if hasattr(v, "item") and getattr(v, "shape", None) == () else v
        for k, v in values.items()
    }


def save(
    model: torch.nn.Module,
    folder: str | os.PathLike[str] | None = None,
    *,
    name: str,
    example_input: Any,
    kwargs: Mapping[str, Any] | None = None,
    task: str = "generic",
    labels: list[str] | None = None,
    preprocess: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    card: str | None = None,
    description: str | None = None,
) -> Path | None:
    """Write a PyTorch model as a TZ model folder: ``model.pt`` (the state dict), the module
    defining the model's class, and ``tz-model.json``; return the folder.

    ``folder`` defaults to ``$TZ_OUTPUT_DIR/model``, which TZ registers as model ``name`` when
    the job succeeds. ``example_input`` (a tensor, or a tuple of tensors) is run through the
    model once to record the signature; the first dimension is recorded as the dynamic batch.
    ``kwargs`` are the arguments the class is constructed with (``Net(**kwargs)``); they are
    checked against the trained weights. ``card`` is Markdown text, or a path to a Markdown
    file, copied into the folder as ``README.md``. A DDP or ``torch.compile`` wrapper is looked
    through. In a distributed job only rank 0 writes: on other ranks (``RANK`` set and not 0)
    this does nothing and returns None.

    Raises
    ------
    DescriptorError
        An argument is invalid (the message names it), the class is defined in ``__main__`` or
        torch itself, or ``kwargs`` do not rebuild the trained model.
    LookupError
        ``folder`` is not given and ``TZ_OUTPUT_DIR`` is not set (not inside a TZ job).
    """
    if (os.environ.get("RANK") or "0").strip() != "0":
        return None
    import torch

    if folder is None:
        if not os.environ.get("TZ_OUTPUT_DIR"):
            raise LookupError(
                "TZ_OUTPUT_DIR is not set (not inside a TZ job): pass folder=... to save the "
                "model somewhere else"
            )
        folder = Path(os.environ["TZ_OUTPUT_DIR"]) / "model"
    out = Path(folder)
    inner = _unwrap(model)
    if not isinstance(inner, torch.nn.Module):
        raise _fail("model", f"must be a torch.nn.Module, not {type(model).__name__}")
    source, qualname = _builder_source(inner)
    state = {
        k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
        for k, v in inner.state_dict().items()
    }
    init = dict(kwargs or {})
    try:
        json.dumps(init, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise _fail("builder.kwargs", f"must be JSON values: {e}") from None
    _check_rebuild(inner, state, init)
    card_src = None
    if card and "\n" not in card and len(card) <= MAX_NAME and os.path.isfile(card):
        card_src = Path(card)
    module_name = source.name
    desc: dict[str, Any] = {
        "name": name,
        "task": task,
        "format": "pytorch-state-dict",
        "framework": "pytorch",
        "framework_version": torch.__version__.split("+")[0],
        "artifact": "model.pt",
        "builder": {"module": module_name, "class": qualname, "kwargs": init},
        "signature": _signature_of(inner, example_input),
        "description": description,
        "labels": list(labels) if labels is not None else None,
        "preprocess": dict(preprocess) if preprocess is not None else None,
        "metrics": _plain(metrics),
        "parameters": _plain(parameters),
        "tags": dict(tags) if tags is not None else None,
        "card": "README.md" if card_src else card,
    }
    desc = validate({k: v for k, v in desc.items() if v is not None})
    out.mkdir(parents=True, exist_ok=True)
    torch.save(state, out / "model.pt")
    shutil.copyfile(source, out / module_name)
    if card_src:
        shutil.copyfile(card_src, out / "README.md")
    # The descriptor last: a folder with tz-model.json is complete.
    tmp = out / f".{DESCRIPTOR}.tmp"
    tmp.write_text(json.dumps(desc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / DESCRIPTOR)
    return out
