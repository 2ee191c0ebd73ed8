"""``TzModelRuns``: conversions and evaluations as tracked jobs, and models registered by jobs.

A conversion or an evaluation is an ordinary job of its owner (queued, logged, cancellable, seen
in the Jobs panel) whose command is :mod:`training_zoo.models.worker` and whose inputs are the
model version (``models=[...]``) and, when given, a dataset version (``datasets=[...]``). A
``tz_model_runs`` row ties the job to the version; when the job finishes, :meth:`on_job_finished`
closes the run: a conversion registers the converted folder as a new version whose parent is the
source; an evaluation records its metrics and speed on the source version.

A job that is not a run but leaves ``$TZ_OUTPUT_DIR/model/tz-model.json`` behind when it succeeds
has that model registered automatically (the descriptor's ``name``, owned by the job's owner),
and the job's events say what happened.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from typing import Any

from sqlalchemy import select
from traitlets import Any as AnyTrait
from traitlets import Float, Unicode, default
from traitlets.config import LoggingConfigurable

from ..db.orm import ModelRun
from ..errors import InvalidRequest, NotFound, TzError
from ..identity import Identity
from ..jobs.backends.base import Event
from ..jobs.manager import utcnow
from ..jobs.types import FINISHED, SNAPSHOT_RE, SUCCEEDED, check_fields, relative_path
from ..storage import join_key
from . import descriptor as dsc
from .manager import TzModelManager

CONVERSIONS = {
    # target: formats it converts from
    "onnx": ("pytorch-state-dict",),
    "torchscript": ("pytorch-state-dict",),
    "int8": ("onnx",),
    "fp16": ("onnx",),
}
EVAL_TASKS = ("image_classification", "tabular_classification", "regression", "custom")


class TzModelRuns(LoggingConfigurable):
    """Submit conversions and evaluations; close them (and auto-register models) on finish."""

    python = Unicode(
        help="""Python that runs conversion and evaluation jobs (it needs ``training-zoo[models]``:
        torch, onnx, onnxruntime, onnxscript). Default: the service's own interpreter when jobs
        run on the service's machine (local backend); ``python``, looked up on the image's
        ``PATH``, when they run in containers (Kubernetes), where the service's path means
        nothing.""",
    ).tag(config=True)

    @default("python")
    def _default_python(self) -> str:
        backend = getattr(self.jobs, "backend", None)
        return "python" if getattr(backend, "in_containers", False) else sys.executable

    cpus = Float(
        1,
        help="""CPU cores a conversion or evaluation job asks for (``resources_per_node.cpus``).
        Evaluation latency is measured with this many threads. Default: 1.""",
    ).tag(config=True)

    timeout = Float(
        3600,
        help="""Longest a conversion or evaluation job may run, in seconds, before it is stopped
        and marked failed. Default: 3600.""",
    ).tag(config=True)

    registry = AnyTrait()  # TzModelManager
    jobs = AnyTrait()  # TzJobManager

    @property
    def models(self) -> TzModelManager:
        return self.registry

    # ================================================================== submit

    async def convert(
        self, user: Identity, model_id: str, number: object, body: object
    ) -> dict[str, Any]:
        """Start converting a version (``to``: onnx, torchscript, int8, fp16); a 202 Run.

        Raises
        ------
        InvalidRequest
            A bad field, or a conversion the version's format does not support (named).
        """
        body = check_fields(body, {"to", "opset", "tolerance", "samples", "dataset", "split"})
        to = body.get("to")
        if to not in CONVERSIONS:
            raise InvalidRequest.field("to", f"must be one of {', '.join(CONVERSIONS)}")
        model, version = await self._writable_version(user, model_id, number)
        if version["format"] not in CONVERSIONS[to]:
            raise InvalidRequest.field(
                "to", f"{to} converts from {' or '.join(CONVERSIONS[to])}; version "
                f"{version['version']} is {version['format']}",
            )  # fmt: skip
        args = ["convert", "--to", to]
        params: dict[str, Any] = {"to": to}
        if "opset" in body:
            params["opset"] = _int(body["opset"], "opset", 7, 25)
            args += ["--opset", str(params["opset"])]
        if "tolerance" in body:
            tol = check_fields(body["tolerance"], {"abs", "rel"}, "tolerance")
            for key in ("abs", "rel"):
                if key in tol:
                    params[f"tolerance_{key}"] = _number(tol[key], f"tolerance.{key}", 0, 1e6)
                    args += [f"--tolerance-{key}", repr(float(tol[key]))]
        if "samples" in body:
            params["samples"] = _int(body["samples"], "samples", 1, 10_000)
            args += ["--samples", str(params["samples"])]
        if not body.get("dataset"):
            body = {**body, **await self._linked_dataset(user, version)}
        return await self._submit(user, model, version, "convert", args, params, body)

    async def _linked_dataset(self, user: Identity, version: dict) -> dict[str, str]:
        """``{"dataset": ref}`` of the dataset version the model was trained on, when the caller
        can still read it and the model says how to turn its files into inputs; else ``{}``
        (parity then runs on seeded random inputs from the signature)."""
        linked = (version.get("lineage") or {}).get("datasets") or []
        if not linked or not version.get("preprocess"):
            return {}
        d = linked[0]
        ref = f"{d['owner']}/{d['name']}:{d['version']}"
        try:
            await self._dataset(user, ref)
        except InvalidRequest:
            return {}
        return {"dataset": ref}

    async def evaluate(
        self, user: Identity, model_id: str, number: object, body: object
    ) -> dict[str, Any]:
        """Start evaluating a version on a dataset version; a 202 Run.

        Raises
        ------
        InvalidRequest
            A bad field (named): no dataset, an unknown task, a custom task without a script.
        """
        body = check_fields(body, {"dataset", "split", "task", "batch_size", "target", "script",
                                   "snapshot", "latency_runs"})  # fmt: skip
        if not body.get("dataset"):
            raise InvalidRequest.field("dataset", "required: the dataset version to evaluate on")
        model, version = await self._writable_version(user, model_id, number)
        task = body.get("task") or ("custom" if body.get("script") else model["task"])
        if task not in EVAL_TASKS:
            raise InvalidRequest.field(
                "task", f"evaluation supports {', '.join(EVAL_TASKS)}; this model's task is "
                f"{model['task']}: pass task, or task=custom with a script",
            )  # fmt: skip
        args = ["evaluate", "--task", task]
        params: dict[str, Any] = {"task": task}
        if "batch_size" in body:
            params["batch_size"] = _int(body["batch_size"], "batch_size", 1, 4096)
            args += ["--batch-size", str(params["batch_size"])]
        if "latency_runs" in body:
            params["latency_runs"] = _int(body["latency_runs"], "latency_runs", 5, 100_000)
            args += ["--latency-runs", str(params["latency_runs"])]
        if "target" in body:
            target = body["target"]
            if not isinstance(target, str) or not target or len(target) > 255:
                raise InvalidRequest.field("target", "must be a column name")
            params["target"] = target
            args += ["--target", target]
        snapshot = None
        if task == "custom":
            script, snapshot = body.get("script"), body.get("snapshot")
            if script is None or snapshot is None:
                raise InvalidRequest.field(
                    "script", "a custom evaluation needs script (a .py file) and snapshot (the "
                    "id of the uploaded working directory that holds it)",
                )  # fmt: skip
            params["script"] = relative_path(script, "script")
            if not isinstance(snapshot, str) or not SNAPSHOT_RE.match(snapshot):
                raise InvalidRequest.field("snapshot", "must be an id returned by POST /snapshots")
            args += ["--script", params["script"]]
        return await self._submit(user, model, version, "evaluate", args, params, body,
                                  snapshot=snapshot)  # fmt: skip

    async def _writable_version(
        self, user: Identity, model_id: str, number: object
    ) -> tuple[dict, dict]:
        model = await self.models.get(user, model_id)
        version = await self.models.version(user, model_id, number)
        # Runs add versions and evaluations to the model: only its writers start them.
        with self.models.sessions() as db:
            self.models._get(db, user, model_id, write=True)
        return model, version

    async def _submit(
        self,
        user: Identity,
        model: dict,
        version: dict,
        kind: str,
        args: list[str],
        params: dict[str, Any],
        body: dict,
        snapshot: str | None = None,
    ) -> dict[str, Any]:
        ref = version["ref"]
        datasets, used = [], None
        if body.get("dataset"):
            datasets = [body["dataset"]]
            used = await self._dataset(user, body["dataset"])
            params["dataset"] = used["ref"]
            args += ["--dataset", used["ref"]]
            split = body.get("split", "test")
            if split not in ("train", "val", "test", "all"):
                raise InvalidRequest.field("split", "must be train, val, test or all")
            params["split"] = split
            args += ["--split", split]
            datasets = [used["ref"]]
        elif kind == "evaluate":
            raise InvalidRequest.field("dataset", "required")
        # Short enough that the job id (name + 8 hex) reads whole in the Jobs panel.
        label = (
            f"convert-{model['name']}-v{version['version']}-{params['to']}"
            if (kind == "convert")
            else f"eval-{model['name']}-v{version['version']}"
        )
        spec = {
            "name": label[:63].rstrip("-._"),
            "framework": "custom",
            "command": [self.python, "-m", "training_zoo.models.worker", *args, "--model", ref],
            "models": [ref],
            "datasets": datasets,
            "resources_per_node": {"cpus": self.cpus},
            "timeout": self.timeout,
        }
        if snapshot:
            spec["snapshot"] = snapshot
        job = await self.jobs.submit(user, spec)
        run = ModelRun(
            id=f"run-{secrets.token_hex(6)}", kind=kind, model_id=model["id"],
            version=version["version"], owner=user.name, job_id=job["id"], status=job["status"],
            params=params, dataset=used, created=utcnow(),
        )  # fmt: skip

        def insert() -> dict[str, Any]:
            with self.models.sessions() as db:
                db.add(run)
                db.commit()
                return self.models.run_dict(db, run)

        out = await asyncio.to_thread(insert)
        self.log.info("Model run %s (%s of %s) started as job %s", run.id, kind, ref, job["id"])
        return out

    async def _dataset(self, user: Identity, ref: str) -> dict[str, Any]:
        datasets = self.models.datasets
        if datasets is None:
            raise InvalidRequest.field("dataset", "datasets are not enabled here")
        try:
            ds, version = await datasets.resolve(user, ref)
        except (InvalidRequest, NotFound) as e:
            raise InvalidRequest.field("dataset", e.message) from None
        if version is None:
            raise InvalidRequest.field("dataset", f"{ds['name']} has no published version yet")
        return {
            "ref": f"{ds['owner']}/{ds['name']}:{version['version']}", "dataset_id": ds["id"],
            "owner": ds["owner"], "name": ds["name"], "version": version["version"],
        }  # fmt: skip

    # ================================================================== read

    async def list(
        self, user: Identity, model_id: str, kind: str | None, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        if kind not in (None, "convert", "evaluate"):
            raise InvalidRequest.field("kind", "must be convert or evaluate")
        with self.models.sessions() as db:
            model = self.models._get(db, user, model_id)
            query = select(ModelRun).where(ModelRun.model_id == model.id)
            if kind:
                query = query.where(ModelRun.kind == kind)
            rows = list(db.scalars(query.order_by(ModelRun.created.desc(), ModelRun.id)))
            return [self.models.run_dict(db, r) for r in rows[offset : offset + limit]], len(rows)

    async def get(self, user: Identity, run_id: str) -> dict[str, Any]:
        with self.models.sessions() as db:
            run = db.get(ModelRun, run_id) if isinstance(run_id, str) else None
            if run is not None:
                self.models._get(db, user, run.model_id)  # 404 unless the model is readable
                return self.models.run_dict(db, run)
        raise NotFound(f"run {run_id} not found", reason="RunNotFound")

    # ================================================================== job finished

    async def reconcile(self) -> None:
        """Close the runs whose job finished while the service was not there to see it (or
        stopped before its finish hook completed)."""
        from ..db.orm import Job

        with self.models.sessions() as db:
            pending = db.execute(
                select(ModelRun.id, ModelRun.job_id)
                .join(Job, Job.id == ModelRun.job_id)
                .where(ModelRun.finished.is_(None), Job.status.in_(list(FINISHED)))
            ).all()
            jobs = {job_id: self.jobs.to_dict(db.get(Job, job_id)) for _, job_id in pending}
        for run_id, job_id in pending:
            self.log.info("Closing model run %s: its job %s finished meanwhile", run_id, job_id)
            await self._close(run_id, jobs[job_id])

    async def on_job_finished(self, job: dict[str, Any]) -> None:
        """Close the job's run, or register the model a plain job left in its output."""
        with self.models.sessions() as db:
            run = db.scalar(select(ModelRun).where(ModelRun.job_id == job["id"]))
            run_id = run.id if run is not None and run.finished is None else None
            is_run = run is not None
        if run_id:
            await self._close(run_id, job)
        elif not is_run and job["status"] == SUCCEEDED:
            await self._auto_register(job)

    async def _output(self, job: dict[str, Any], name: str) -> dict[str, Any] | None:
        try:
            raw = await asyncio.to_thread(
                self.models.storage.get_bytes, join_key(job["output_dir"], name)
            )
            data = json.loads(raw)
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    async def _close(self, run_id: str, job: dict[str, Any]) -> None:
        with self.models.sessions() as db:
            run = db.get(ModelRun, run_id)
            assert run is not None
            kind, model_id, number = run.kind, run.model_id, run.version
        result = await self._output(job, "result.json") or {}
        status, message = job["status"], job["message"]
        values: dict[str, Any] = {}
        if status == SUCCEEDED and kind == "convert":
            try:
                user = await self._owner_identity(job)
                made = await self.models.register(
                    user, model_id, {"source": {"job": job["id"], "path": "model"}},
                    parent=number, conversion_source={"run_id": run_id},
                )  # fmt: skip
                values["result_version"] = made["version"]
                message = f"registered as version {made['version']}"
            except TzError as e:
                status, message = (
                    "failed",
                    f"the converted model could not be registered: {e.message}",
                )
        elif status == SUCCEEDED and kind == "evaluate":
            evaluation = await self._output(job, "evaluation.json")
            if evaluation is None or not isinstance(evaluation.get("metrics"), dict):
                status, message = "failed", "the evaluation wrote no evaluation.json with metrics"
            else:
                values["metrics"] = evaluation["metrics"]
                values["speed"] = evaluation.get("speed") or {}
                message = f"{evaluation.get('samples', '?')} samples evaluated"
        elif status in FINISHED and result.get("error"):
            message = str(result["error"])[:4000]
        with self.models.sessions() as db:
            run = db.get(ModelRun, run_id)
            assert run is not None
            run.status, run.message, run.finished = status, message, utcnow()
            for key, value in values.items():
                setattr(run, key, value)
            db.commit()
        self.log.info("Model run %s %s: %s", run_id, status, message)

    async def _owner_identity(self, job: dict[str, Any]) -> Identity:
        # The job runs for its owner with the groups it was submitted with: registration checks
        # write access as that user (a team member who lost the team cannot add versions).
        from ..db.orm import Job

        with self.models.sessions() as db:
            row = db.get(Job, job["id"])
            groups = tuple(row.groups or ()) if row is not None else ()
        return Identity(job["owner"], groups=groups)

    async def _auto_register(self, job: dict[str, Any]) -> None:
        raw = await self._output(job, f"model/{dsc.DESCRIPTOR}")
        if raw is None:
            exists = await asyncio.to_thread(
                self.models.storage.exists, join_key(job["output_dir"], "model", dsc.DESCRIPTOR)
            )
            if exists:
                await self.jobs.record_event(job["id"], Event(
                    "ModelNotRegistered", f"model/{dsc.DESCRIPTOR} is not a JSON object", "Warning"
                ))  # fmt: skip
            return
        user = await self._owner_identity(job)
        name = raw.get("name")
        try:
            if not isinstance(name, str):
                raise InvalidRequest.field(f"{dsc.DESCRIPTOR}.name", "required to register a "
                                           "job's model automatically")  # fmt: skip
            version = await self.models.register_by_name(user, {
                "name": name, "task": raw.get("task", "generic"),
                "source": {"job": job["id"], "path": "model"},
            })  # fmt: skip
        except TzError as e:
            await self.jobs.record_event(job["id"], Event(
                "ModelNotRegistered", f"model/{dsc.DESCRIPTOR}: {e.message}", "Warning"
            ))  # fmt: skip
            return
        await self.jobs.record_event(
            job["id"], Event("ModelRegistered", f"registered as {version['ref']}")
        )


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest.field(name, f"must be an integer between {low} and {high}")
    return value


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest.field(name, f"must be a number between {low} and {high}")
    return float(value)
