"""Models: the service's model registry, conversion and evaluation, and ``tz.models`` for users.

For users (``import training_zoo as tz``)::

    tz.models.register("shapes-cnn", "exports/model", format="onnx")   # from a notebook
    tz.models.register(job="train-abc123", path="model")              # from a finished job
    model = tz.models.load("shapes-cnn:3")                             # back as a live object
    tz.models.convert("shapes-cnn:1", to="onnx")                       # a tracked job
    tz.models.evaluate("shapes-cnn:2", dataset="shapes:V001")          # a tracked job
    tz.models.compare(["shapes-cnn:1", "shapes-cnn:2", "shapes-cnn:3"])

Inside a job, :func:`open_input` finds a model version the job was given (``models=[...]`` in its
spec, materialised read-only by the backend, ``TZ_MODELS``); :func:`training_zoo.models.save`
(:mod:`.descriptor`) writes ``$TZ_OUTPUT_DIR/model/`` with its ``tz-model.json`` so the job's
model is registered when it succeeds.

For the service, each module has one job: :mod:`.manager` (registry rules), :mod:`.runner`
(conversions and evaluations as jobs), :mod:`.handlers` (REST), :mod:`.descriptor` (the
``tz-model.json`` format), :mod:`.conversion` (conversion and parity), :mod:`.runtime` (loading a
version to run it), :mod:`.evaluation` (metrics and speed), :mod:`.worker` (the runs' job entry
point) and :mod:`.cache` (versions materialised for jobs). No module is named like a facade
function (``convert``, ``runs``...): an imported submodule would shadow it on this package.

Nothing heavy is imported here, so a training process importing this package stays cheap.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

ENV = "TZ_MODELS"

__all__ = ["ENV", "env_name", "open_input"]


def env_name(name: str) -> str:
    """``TZ_MODEL_<NAME>``: the variable naming where a job's input model ``name`` is."""
    return "TZ_MODEL_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def open_input(ref: str) -> Path:
    """The read-only folder of a model version this job was given (``models=[ref]``).

    Raises
    ------
    LookupError
        Not inside a job, or ``ref`` is not one of the job's input models (the message lists
        the ones it has).
    """
    raw = os.environ.get(ENV)
    if not raw:
        raise LookupError(
            f"no input models here ({ENV} is not set): open_input works inside a TZ job "
            "submitted with models=[...]"
        )
    where: dict[str, str] = json.loads(raw)
    if ref not in where:
        known = ", ".join(sorted(where)) or "none"
        raise LookupError(f"model {ref} is not an input of this job; it has: {known}")
    return Path(where[ref])


def __getattr__(name: str) -> Any:
    if name == "save":
        from .descriptor import save

        return save
    from ..sdk_models import forward

    return forward(name)
