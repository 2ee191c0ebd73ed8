"""Loading a model folder to run it: PyTorch eager, TorchScript or ONNX Runtime, on the CPU.

:func:`load` reads the folder's ``tz-model.json`` (:func:`.descriptor.read`, which keeps every
file it names inside the folder) and returns a :class:`Loaded` whose :meth:`Loaded.predict`
takes and returns numpy arrays whatever the runtime, so evaluation and parity checks treat all
formats alike::

    loaded = load("/models/shapes-cnn-1")
    scores = loaded.predict(batch)          # (N, 3, 16, 16) float32 -> (N, classes)

How each format is loaded:

- ``pytorch-state-dict``: the builder module is imported from its file in the folder under a
  unique module name, ``Class(**kwargs)`` is built and the weights are loaded with
  ``torch.load(weights_only=True)`` (no arbitrary unpickling).
- ``torchscript``: ``torch.jit.load``.
- ``onnx``: :func:`.convert.load_onnx_confined`, so external data stays inside the folder.

Importing a builder module runs its code: load only folders of models you would run anyway.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import descriptor as dsc

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RUNTIMES", "Loaded", "available_cores", "example_batch", "load"]

RUNTIMES = {
    "pytorch-state-dict": "pytorch-eager",
    "torchscript": "torchscript",
    "onnx": "onnxruntime",
}


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, which a container's cpuset narrows;
    ``os.cpu_count()`` counts the whole machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Loaded:
    """A model ready to run.

    Attributes
    ----------
    runtime
        ``pytorch-eager``, ``torchscript`` or ``onnxruntime``.
    runtime_version
        The version of torch or onnxruntime.
    descriptor
        The folder's validated ``tz-model.json``.
    native
        The runtime's object: an ``nn.Module`` in eval mode, a ``ScriptModule`` or an
        ``onnxruntime.InferenceSession``.
    folder
        The model folder.
    threads
        Intra-op threads the runtime uses.
    """

    runtime: str
    runtime_version: str
    descriptor: dict[str, Any]
    native: Any
    folder: Path
    threads: int
    _input_dtypes: list[str | None] = field(default_factory=list, repr=False)

    def predict(self, batch: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Run the model on a batch and return its first output as a numpy array.

        ``batch`` is one array, or a tuple/list with one array per input of the signature.
        Arrays are cast to the dtypes the model takes (the ONNX graph's, else the signature's;
        without either, float64 becomes float32), so a float64 image batch just works.

        Raises
        ------
        ValueError
            The number of arrays does not match the model's inputs.
        """
        import numpy as np

        arrays = list(batch) if isinstance(batch, (list, tuple)) else [batch]
        if self._input_dtypes and len(arrays) != len(self._input_dtypes):
            raise ValueError(
                f"the model takes {len(self._input_dtypes)} inputs; got {len(arrays)} arrays"
            )
        arrays = [
            np.ascontiguousarray(a, dtype=dt or _default_dtype(a))
            for a, dt in zip(arrays, self._input_dtypes or [None] * len(arrays), strict=True)
        ]
        # torch warns on read-only arrays (it cannot promise not to write to them).
        arrays = [a if a.flags.writeable else a.copy() for a in arrays]
        if self.runtime == "onnxruntime":
            names = [i.name for i in self.native.get_inputs()]
            return np.asarray(self.native.run(None, dict(zip(names, arrays, strict=True)))[0])
        import torch

        with torch.inference_mode():
            out = self.native(*[torch.from_numpy(a) for a in arrays])
        return _first(out).detach().cpu().numpy()


def _default_dtype(a: Any) -> Any:
    # No signature to say: numpy's float64 default is almost never what a model was trained on.
    return "float32" if a.dtype == "float64" else a.dtype


_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def _first(out: Any) -> Any:
    while isinstance(out, (tuple, list, dict)):
        out = next(iter(out.values())) if isinstance(out, dict) else out[0]
    return out


def _import_builder(path: Path, qualname: str) -> type:
    """The class ``qualname`` from the Python file ``path``, imported under a name no other
    load uses, so two versions' ``model.py`` never see each other's classes."""
    name = f"_tz_builder_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses and typing look their module up by name.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise dsc.DescriptorError(f"builder.class: {path.name} defines no class {qualname!r}")
    return obj


def _load_state_dict(folder: Path, desc: dict[str, Any]) -> Any:
    import torch

    builder = desc.get("builder")
    if not builder:
        raise dsc.DescriptorError(
            "builder: required to run a pytorch-state-dict model (the module and class the "
            "weights belong to); tz.models.save() writes it"
        )
    cls = _import_builder(folder / builder["module"], builder["class"])
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise dsc.DescriptorError(f"builder.class: {builder['class']} is not a torch.nn.Module")
    model = cls(**builder["kwargs"])
    state = torch.load(folder / desc["artifact"], map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def load(folder: str | os.PathLike[str], *, threads: int | None = None) -> Loaded:
    """Load the model in ``folder`` on the CPU with ``threads`` intra-op threads (default: the
    cores this process may use; PyTorch's setting is process-wide).

    Raises
    ------
    FileNotFoundError
        No ``tz-model.json`` in ``folder``.
    DescriptorError
        The descriptor is invalid, names files outside the folder, or its ``builder`` does not
        name an ``nn.Module`` class; also for a format none of the runtimes runs.
    convert.UnsafeModel
        An ONNX file's external data lies outside the folder.
    """
    root = Path(folder)
    desc = dsc.read(root)
    fmt = desc["format"]
    if fmt not in RUNTIMES:
        raise dsc.DescriptorError(
            f"format: {fmt} models cannot be run here; the runtimes run {', '.join(RUNTIMES)}"
        )
    n = threads or available_cores()
    path = root / desc["artifact"]
    dtypes: list[str | None] = [t["dtype"] for t in desc.get("signature", {}).get("inputs", [])]
    if fmt == "onnx":
        import onnxruntime

        from .conversion import load_onnx_confined

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = n
        options.inter_op_num_threads = 1
        session = load_onnx_confined(path, root, options)
        # What the graph takes, which the signature may not record.
        dtypes = [_ORT_DTYPES.get(i.type) for i in session.get_inputs()]
        return Loaded("onnxruntime", onnxruntime.__version__, desc, session, root, n, dtypes)
    import torch

    torch.set_num_threads(n)
    if fmt == "torchscript":
        native = torch.jit.load(str(path), map_location="cpu").eval()
    else:
        native = _load_state_dict(root, desc)
    return Loaded(RUNTIMES[fmt], torch.__version__.split("+")[0], desc, native, root, n, dtypes)


_RANDOM_INTS = {"int64": (0, 2), "int32": (0, 2), "int8": (-8, 8), "uint8": (0, 256)}


def example_batch(descriptor: dict[str, Any], n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random inputs matching the descriptor's signature, one array per input.

    A dynamic first dimension becomes ``n`` (the batch), other dynamic dimensions 1. Floats
    are standard normal, like normalised images; integers small non-negative ids (0 or 1),
    ``uint8`` any byte, bools fair coin flips. The same ``seed`` gives the same arrays.

    Raises
    ------
    DescriptorError
        The descriptor has no ``signature`` to take shapes from.
    """
    import numpy as np

    inputs = (descriptor.get("signature") or {}).get("inputs")
    if not inputs:
        raise dsc.DescriptorError(
            "signature: required to make example inputs (the model's input names, dtypes "
            "and shapes)"
        )
    rng = np.random.default_rng(seed)
    out = []
    for spec in inputs:
        shape = [(n if i == 0 else 1) if d == -1 else d for i, d in enumerate(spec["shape"])]
        dtype = spec["dtype"]
        if dtype == "bool":
            out.append(rng.random(shape) < 0.5)
        elif dtype in _RANDOM_INTS:
            low, high = _RANDOM_INTS[dtype]
            out.append(rng.integers(low, high, size=shape, dtype=dtype))
        else:
            out.append(rng.standard_normal(shape).astype(dtype))
    return tuple(out)
