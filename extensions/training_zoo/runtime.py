"""What a training process uses from TZ: :func:`log_metrics`.

Metrics go to ``$TZ_METRICS_DIR/rank-<RANK>.jsonl``, one JSON object a line, appended and flushed
per call, so the service can serve them while the job runs and nothing is lost if the service
restarts.
On Kubernetes (``TZ_METRICS_STDOUT`` set) each record is one line on stdout that starts with
:data:`METRIC_MARK`; the pod's rank wrapper labels it with the rank and the TZ service, which
reads the pod log, files it as a metric instead of a log line.
Outside a TZ job (no ``TZ_METRICS_DIR``) the call is a no-op, so the same script runs anywhere.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from numbers import Real

_handle = None
METRIC_MARK = "\x1etz-metric "


def log_metrics(step: int | None = None, **values: float) -> None:
    """Record scalar metrics for this rank at a training step.

    Parameters
    ----------
    step
        The training step (any non-negative integer); defaults to a per-process counter.
    **values
        Metric names and numbers, e.g. ``loss=0.12, acc=0.9``. Tensors with one element
        (anything with ``.item()``) are accepted.

    Raises
    ------
    ValueError
        If a value is not a real number.
    """
    global _handle
    directory = os.environ.get("TZ_METRICS_DIR")
    to_stdout = bool(os.environ.get("TZ_METRICS_STDOUT"))
    if not directory and not to_stdout:
        return
    scalars: dict[str, float] = {}
    for key, value in values.items():
        if hasattr(value, "item"):
            value = value.item()
        if not isinstance(value, Real) or isinstance(value, bool):
            raise ValueError(f"log_metrics: {key} must be a number, not {type(value).__name__}")
        number = float(value)
        # JSON has no NaN/Infinity; keep the point but as null so charts show a gap.
        scalars[key] = number if math.isfinite(number) else None  # type: ignore[assignment]
    record = {"step": step, "time": time.time(), "values": scalars}
    if to_stdout:
        # A marker in mid-line (after a print without newline) is still found by the reader.
        sys.stdout.flush()
        sys.__stdout__.write(METRIC_MARK + json.dumps(record) + "\n")
        sys.__stdout__.flush()
        return
    if _handle is None:
        os.makedirs(directory, exist_ok=True)
        rank = os.environ.get("RANK", os.environ.get("TZ_NODE_RANK", "0"))
        _handle = open(os.path.join(directory, f"rank-{rank}.jsonl"), "a", buffering=1)
    _handle.write(json.dumps(record) + "\n")
