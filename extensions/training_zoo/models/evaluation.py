"""Evaluation: accuracy metrics (numpy only), speed on this machine, and inputs from a dataset.

- :func:`classification` and :func:`regression` compute the metrics ``evaluation.json`` holds.
- :func:`measure_speed` times a :class:`.runtime.Loaded` model: latency at batch 1 (p50/p95 after
  a warm-up), throughput at a batch size, peak memory, with the runtime, threads and hardware.
  :class:`PeakMemory` measures the memory; start it before loading the model to count the load.
- :func:`image_batch` and :func:`read_csv` turn dataset files into model inputs as the
  descriptor's ``preprocess`` says; :func:`label_indices` maps a dataset's labels to classes.

numpy, Pillow and psutil only; the runtime's library is already imported by whoever loaded it.
"""

from __future__ import annotations

import csv
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .runtime import Loaded

__all__ = [
    "PeakMemory",
    "classification",
    "hardware",
    "image_batch",
    "label_indices",
    "measure_speed",
    "read_csv",
    "regression",
]

MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Accuracy


def classification(
    y_true: Sequence[int] | np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, top-5 accuracy, per-class precision/recall/support and the confusion matrix.

    ``scores`` is ``(samples, classes)`` (logits or probabilities: only their order matters);
    ``y_true`` the true class indices. Top-5 counts a hit when the true class is among the
    ``min(5, classes)`` highest scores. A class never predicted has precision 0, one with no
    samples recall 0. ``confusion.matrix[i][j]`` counts samples of class ``i`` predicted ``j``.

    Raises
    ------
    ValueError
        No samples, mismatched lengths, a class index out of range, or ``labels`` of another
        length than the number of classes.
    """
    import numpy as np

    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    s = np.asarray(scores)
    if s.ndim == 1:
        s = s.reshape(-1, 1)
    if s.ndim != 2:
        raise ValueError(f"scores must be (samples, classes), not shape {s.shape}")
    n, classes = s.shape
    if n == 0:
        raise ValueError("no samples to evaluate")
    if len(y) != n:
        raise ValueError(f"{len(y)} true labels for {n} rows of scores")
    if y.min() < 0 or y.max() >= classes:
        raise ValueError(f"class indices must be in 0..{classes - 1}; got {y.min()}..{y.max()}")
    names = [str(i) for i in range(classes)] if labels is None else list(labels)
    if len(names) != classes:
        raise ValueError(f"{len(names)} labels for {classes} classes of scores")
    pred = s.argmax(axis=1)
    k = min(5, classes)
    topk = np.argpartition(-s, k - 1, axis=1)[:, :k]
    matrix = np.bincount(y * classes + pred, minlength=classes * classes).reshape(classes, -1)
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    per_class = {
        name: {
            "precision": float(tp[i] / predicted[i]) if predicted[i] else 0.0,
            "recall": float(tp[i] / support[i]) if support[i] else 0.0,
            "support": int(support[i]),
        }
        for i, name in enumerate(names)
    }
    return {
        "accuracy": float((pred == y).mean()),
        "top5": float((topk == y[:, None]).any(axis=1).mean()),
        "per_class": per_class,
        "confusion": {"labels": names, "matrix": matrix.astype(int).tolist()},
    }


def regression(y_true: Sequence[float] | np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean squared error, mean absolute error and its root (``rmse``) of ``pred`` against
    ``y_true``; a ``(samples, 1)`` prediction is compared as ``(samples,)``.

    Raises
    ------
    ValueError
        No samples, or shapes that differ after that squeeze.
    """
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == y.ndim + 1 and p.shape[-1] == 1:
        p = p[..., 0]
    if y.size == 0:
        raise ValueError("no samples to evaluate")
    if p.shape != y.shape:
        raise ValueError(f"predictions of shape {p.shape} for targets of shape {y.shape}")
    err = p - y
    mse = float(np.mean(err**2))
    return {"mse": mse, "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(mse))}


def label_indices(
    values: Iterable[str | None], labels: Sequence[str] | None, classes: int
) -> np.ndarray:
    """Class indices for a dataset's label values: a value that is one of the model's
    ``labels`` is its position there; otherwise a whole number below ``classes`` is taken as
    the index itself (CSV targets are often 0, 1, 2).

    Raises
    ------
    ValueError
        A value that is neither, naming it and the model's labels.
    """
    import numpy as np

    names = list(labels or [])
    index = {name: i for i, name in enumerate(names)}
    out = []
    for v in values:
        if v in index:
            out.append(index[v])
            continue
        try:
            i = int(str(v).strip())
        except ValueError:
            i = -1
        if not 0 <= i < classes:
            known = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
            raise ValueError(
                f"label {v!r} is not one of the model's labels ({known or 'none recorded'}) "
                f"nor a class index below {classes}; set labels in tz-model.json"
            )
        out.append(i)
    return np.asarray(out, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Inputs from dataset files


def image_batch(paths: Sequence[str | os.PathLike[str]], preprocess: dict[str, Any]) -> np.ndarray:
    """Images as a float32 ``(N, C, H, W)`` batch, as the contract's image ``preprocess`` says:
    ``convert(mode)``, resize to ``size`` = [H, W] (bilinear), ``/255``, ``(x - mean) / std``
    per channel, channels first.

    Raises
    ------
    ValueError
        A file that is not an image Pillow can read (the message names it).
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    h, w = preprocess["size"]
    mode = preprocess.get("mode", "RGB")
    mean = np.asarray(preprocess.get("mean") or [0.0], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(preprocess.get("std") or [1.0], dtype=np.float32).reshape(-1, 1, 1)
    out = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img = img.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"{Path(path).name}: not an image Pillow can read ({e})") from None
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        out.append((arr - mean) / std)
    if not out:
        return np.zeros((0, len(mode), h, w), np.float32)  # RGB, L, RGBA: a letter a channel
    return np.stack(out).astype(np.float32, copy=False)


def read_csv(
    paths: Sequence[str | os.PathLike[str]],
    features: Sequence[str] | None,
    target: str | None,
) -> tuple[np.ndarray, list[str] | None, list[str]]:
    """Rows of CSV files (with a header) as ``(features float32 (N, F), target values or None,
    feature names)``. Without ``features``, every column but ``target`` is a feature, in the
    first file's order. Target values stay strings: labels or numbers, the caller decides.

    Raises
    ------
    ValueError
        A missing column or a feature that is not a number (file, line and column named).
    """
    import numpy as np

    rows: list[list[float]] = []
    ys: list[str] = []
    names = list(features) if features else None
    for path in paths:
        name = Path(path).name
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if names is None:
                names = [c for c in header if c != target]
            missing = [c for c in [*names, *([target] if target else [])] if c not in header]
            if missing:
                raise ValueError(
                    f"{name}: no column {', '.join(map(repr, missing))} (columns: "
                    f"{', '.join(header)})"
                )
            for line, row in enumerate(reader, start=2):
                try:
                    rows.append([float(row[c]) for c in names])
                except (TypeError, ValueError):
                    bad = next(c for c in names if not _is_number(row[c]))
                    raise ValueError(
                        f"{name} line {line}: column {bad!r} is not a number ({row[bad]!r})"
                    ) from None
                if target:
                    ys.append((row[target] or "").strip())
    width = len(names or [])
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), width)
    return x, (ys if target else None), list(names or [])


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# --------------------------------------------------------------------------------------------
# Speed


class PeakMemory:
    """How far this process's resident memory (RSS) rose above its level at :meth:`start`.

    A thread samples RSS every ``interval`` seconds; the kernel's own high-water mark
    (``getrusage``) catches peaks between samples once it passes the start level, which it
    does whenever the model needs more than the process ever had before.
    """

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline = 0
        self.peak = 0
        self._maxrss_start = 0

    def _rss(self) -> int:
        return int(self._proc.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._rss())

    def start(self) -> PeakMemory:
        self.baseline = self.peak = self._rss()
        self._maxrss_start = _maxrss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tz-peak-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling; return the growth in MB (never negative)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.peak = max(self.peak, self._rss())
        maxrss = _maxrss()
        if maxrss > self._maxrss_start:
            self.peak = max(self.peak, maxrss)
        return self.growth_mb

    @property
    def growth_mb(self) -> float:
        return max(0, self.peak - self.baseline) / MB

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _maxrss() -> int:
    """The process's peak RSS in bytes (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(value if sys.platform == "darwin" else value * 1024)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _gpu_name() -> str | None:
    # torch only when already imported: importing it costs seconds and memory for ONNX models.
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return str(torch.cuda.get_device_name(0))
    except Exception:  # a broken CUDA setup is "no GPU" for this report
        pass
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            if pynvml.nvmlDeviceGetCount() > 0:
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
                return name.decode() if isinstance(name, bytes) else str(name)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: no GPU
        pass
    return None


def hardware() -> dict[str, Any]:
    """``{"cpu": model name, "cores": usable cores, "gpu": first GPU's name or None}``."""
    from .runtime import available_cores

    return {"cpu": _cpu_model(), "cores": available_cores(), "gpu": _gpu_name()}


def measure_speed(
    loaded: Loaded,
    sample_batch_fn: Callable[[int], Any],
    batch_size: int,
    latency_runs: int,
    model_size_bytes: int,
    *,
    memory: PeakMemory | None = None,
    min_throughput_s: float = 0.25,
) -> dict[str, Any]:
    """Time ``loaded`` on this machine; return the ``speed`` object of ``evaluation.json``.

    Latency: ``latency_runs`` calls at batch 1, after ``min(10, latency_runs)`` warm-up calls
    (first-call allocations and lazy initialisation are not latency); p50 and p95 in ms.
    Throughput: samples per second over calls at ``batch_size``, repeated until at least 3
    calls and ``min_throughput_s`` seconds. ``sample_batch_fn(n)`` returns an input batch of
    ``n`` samples. ``peak_memory_mb`` comes from ``memory`` when given (start it before
    loading to count the load; it is stopped here), else from a :class:`PeakMemory` around
    these calls.
    """
    import numpy as np

    if batch_size < 1 or latency_runs < 1:
        raise ValueError("batch_size and latency_runs must be at least 1")
    mem = memory or PeakMemory().start()
    try:
        one, many = sample_batch_fn(1), sample_batch_fn(batch_size)
        for _ in range(min(10, latency_runs)):
            loaded.predict(one)
        loaded.predict(many)
        times = np.empty(latency_runs)
        for i in range(latency_runs):
            t0 = time.perf_counter()
            loaded.predict(one)
            times[i] = time.perf_counter() - t0
        runs, spent = 0, 0.0
        while runs < 3 or (spent < min_throughput_s and runs < 10_000):
            t0 = time.perf_counter()
            loaded.predict(many)
            spent += time.perf_counter() - t0
            runs += 1
    finally:
        peak = mem.stop()
    ms = times * 1000.0
    return {
        "runtime": loaded.runtime,
        "runtime_version": loaded.runtime_version,
        "latency_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "latency_ms_p95": round(float(np.percentile(ms, 95)), 4),
        "batch_size": batch_size,
        "throughput_per_s": round(batch_size * runs / spent, 1) if spent > 0 else None,
        "peak_memory_mb": round(peak, 2),
        "model_size_bytes": int(model_size_bytes),
        "threads": loaded.threads,
        "hardware": hardware(),
    }
