"""The embedded default job backend: real ``torchrun`` processes on this machine.

A priority-then-FIFO queue admits jobs while capacity allows (GPUs found with NVML and handed out
through ``CUDA_VISIBLE_DEVICES``; CPU slots when there is no GPU) and per-user limits hold. Each
admitted attempt gets a run folder and a detached :mod:`.supervisor` process in its own session;
all state the service needs lives in that folder, so the service can restart at any time and
re-adopt running jobs or reconcile the ones that ended meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
from traitlets import Float, Instance, Integer, Unicode, default

from ...datasets.cache import DatasetCache, env_name
from ...datasets.reader import ENV as READER_ENV
from ...models import ENV as MODELS_ENV
from ...models import env_name as model_env_name
from ...models.cache import ModelCache
from ...storage import TzStorage
from ..types import CANCELLED, FAILED, FINISHED, RUNNING
from . import spool
from .base import BackendJob, Event, JobUpdate, TzJobBackend, UpdateCallback
from .inputs import input_refs
from .supervisor import kill_job_processes

CELL_FILE = "__tz_cell__.py"


def detect_gpus() -> list[int]:
    """GPU indices visible through NVML; empty without a driver (the common CPU case)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return list(range(pynvml.nvmlDeviceGetCount()))
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no NVML library or no driver means no GPU
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class TzLocalBackend(TzJobBackend):
    """Runs jobs as local processes (one ``torchrun`` per node)."""

    name = "local"

    storage = Instance(TzStorage)

    run_root = Unicode(
        help="""Folder where running jobs keep code, logs and output before they are archived.

        Default: the storage folder itself when storage is local (nothing is copied), else
        ``$TZ_HOME/runs``.
        """,
    ).tag(config=True)

    @default("run_root")
    def _default_run_root(self) -> str:
        local = self.storage.local_path("jobs") if self.storage else None
        if local is not None:
            return str(local)
        return os.path.join(os.environ.get("TZ_HOME", os.path.abspath(".tz")), "runs")

    dataset_cache_dir = Unicode(
        help="""Folder where dataset versions given to jobs are materialised, read-only.

        Each file is downloaded once (kept by sha256, shared by every dataset and version that
        has it) and every job using a version shares one folder of hard links. Put it on the same
        disk as fast local scratch; delete it to reclaim space when no job runs.
        Default: ``$TZ_HOME/cache/datasets``.
        """,
    ).tag(config=True)

    @default("dataset_cache_dir")
    def _default_dataset_cache_dir(self) -> str:
        return os.path.join(os.environ.get("TZ_HOME", os.path.abspath(".tz")), "cache", "datasets")

    model_cache_dir = Unicode(
        help="""Folder where model versions given to jobs (``models=[...]``, conversions and
        evaluations) are materialised, read-only, one folder per version shared by every job.
        Delete it to reclaim space when no job runs. Default: ``$TZ_HOME/cache/models``.
        """,
    ).tag(config=True)

    @default("model_cache_dir")
    def _default_model_cache_dir(self) -> str:
        return os.path.join(os.environ.get("TZ_HOME", os.path.abspath(".tz")), "cache", "models")

    cpu_slots = Float(
        help="""CPU capacity of this machine for jobs, in cores.

        A job needs ``nodes x resources_per_node.cpus``; jobs wait in the queue while the sum over
        running jobs would exceed this. Default: the number of logical CPUs.
        """,
    ).tag(config=True)

    @default("cpu_slots")
    def _default_cpu_slots(self) -> float:
        return float(os.cpu_count() or 1)

    max_running_per_user = Integer(
        4, help="How many jobs one user may have running at once; more wait queued. Default: 4."
    ).tag(config=True)

    poll_interval = Float(
        0.1, help="Seconds between checks of running jobs' state files. Default: 0.1."
    ).tag(config=True)

    kill_grace = Float(
        5.0, help="Seconds a job's processes get between SIGTERM and SIGKILL. Default: 5."
    ).tag(config=True)

    python = Unicode(
        help="Python interpreter for jobs (needs torch). Default: the service's own."
    ).tag(config=True)

    @default("python")
    def _default_python(self) -> str:
        return sys.executable

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gpus = detect_gpus()
        self.queue: dict[str, BackendJob] = {}
        self.running: dict[str, BackendJob] = {}
        self.on_update: UpdateCallback | None = None
        self._task: asyncio.Task | None = None
        # Supervisors this process started, reaped when they end (no zombies while TZ runs).
        self._procs: dict[str, subprocess.Popen] = {}
        self._checked: dict[str, float] = {}  # job id -> when its supervisor was last checked
        self._wake = asyncio.Event()

    # ---- paths ------------------------------------------------------------------------------

    def job_dir(self, job: BackendJob) -> Path:
        return Path(self.run_root) / job.owner / job.id

    def attempt_dir(self, job: BackendJob) -> Path:
        return self.job_dir(job) / f"attempt-{job.attempt}"

    # ---- capacity ---------------------------------------------------------------------------

    def _demand(self, job: BackendJob) -> tuple[float, int]:
        r = job.spec.resources_per_node
        return r.cpus * job.spec.nodes, r.gpus * job.spec.nodes

    def _used(self) -> tuple[float, list[int]]:
        cpus, gpus = 0.0, []
        for job in self.running.values():
            cpus += self._demand(job)[0]
            for ids in job.state.get("gpus") or []:
                gpus.extend(ids)
        return cpus, gpus

    def capacity(self) -> dict[str, Any]:
        cpus, gpus = self._used()
        return {
            "total": {"cpus": self.cpu_slots, "gpus": len(self.gpus)},
            "used": {"cpus": cpus, "gpus": len(gpus)},
        }

    def check_fits(self, job: BackendJob) -> str | None:
        """Why the job can never run here, or None."""
        cpus, gpus = self._demand(job)
        if gpus > len(self.gpus):
            return f"needs {gpus} GPU(s) in total; this machine has {len(self.gpus)}"
        if cpus > self.cpu_slots:
            return f"needs {cpus:g} CPU(s) in total; this machine offers {self.cpu_slots:g}"
        return None

    def _order(self) -> list[BackendJob]:
        return sorted(self.queue.values(), key=lambda j: (-j.spec.priority, j.created, j.id))

    def queue_position(self, job_id: str) -> int | None:
        for i, job in enumerate(self._order(), 1):
            if job.id == job_id:
                return i
        return None

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self, on_update: UpdateCallback, active: list[BackendJob]) -> None:
        self.on_update = on_update
        for job in active:
            if job.state.get("launched_attempt") == job.attempt:
                await self._reconcile(job)
            else:
                self.queue[job.id] = job
        self._task = asyncio.create_task(self._loop())
        self._wake.set()

    async def _reconcile(self, job: BackendJob) -> None:
        state = read_json(self.attempt_dir(job) / "state.json") or {}
        if state.get("status") in FINISHED or self._supervisor_alive(job, state):
            # Re-adopted: _collect reports its events and final state as if nothing happened.
            self.log.info("Re-adopting job %s", job.id)
            self.running[job.id] = job
            return
        await self._supervisor_lost(job)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def submit(self, job: BackendJob) -> None:
        self.queue[job.id] = job
        self._wake.set()

    async def cancel(self, job: BackendJob, by: str) -> None:
        if self.queue.pop(job.id, None) is not None:
            await self._emit(JobUpdate(
                job.id, job.attempt, status=CANCELLED, reason="Cancelled",
                message=f"cancelled by {by} while queued",
                events=[Event("Cancelled", f"cancelled by {by} while queued", "Warning")],
                finished=time.time(),
            ))  # fmt: skip
            self._wake.set()
            return
        running = self.running.get(job.id)
        if running is None:
            return
        run = self.attempt_dir(running)
        (run / "cancel").write_text(by)
        state = read_json(run / "state.json") or running.state.get("supervisor") or {}
        try:
            proc = psutil.Process(state["pid"])
            if abs(proc.create_time() - state["create_time"]) < 1 and proc.status() != "zombie":
                proc.terminate()
                return
        except (KeyError, psutil.Error):
            pass
        # No supervisor to do it: kill the processes here and record the result ourselves.
        await asyncio.to_thread(kill_job_processes, job.id, self.kill_grace)
        self.running.pop(job.id, None)
        await self._emit(JobUpdate(
            job.id, job.attempt, status=CANCELLED, reason="Cancelled", message=f"cancelled by {by}",
            events=[Event("Cancelled", f"cancelled by {by}", "Warning")], finished=time.time(),
        ))  # fmt: skip

    async def _emit(self, update: JobUpdate) -> None:
        if self.on_update is not None:
            await self.on_update(update)

    # ---- the loop: admit queued jobs, collect running ones ----------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await self._collect()
                await self._admit()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad job must not stop the scheduler
                self.log.exception("Local job backend loop failed; continuing")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _admit(self) -> None:
        used_cpus, used_gpus = self._used()
        per_user: dict[str, int] = {}
        for job in self.running.values():
            per_user[job.owner] = per_user.get(job.owner, 0) + 1
        for job in self._order():
            if per_user.get(job.owner, 0) >= self.max_running_per_user:
                continue  # this user's limit, not the machine's: later jobs of others may go
            cpus, gpus = self._demand(job)
            free_gpus = [g for g in self.gpus if g not in used_gpus]
            if used_cpus + cpus > self.cpu_slots + 1e-9 or gpus > len(free_gpus):
                break  # head-of-line: a big job is never starved by a stream of small ones
            per_node = job.spec.resources_per_node.gpus
            job.state["gpus"] = [
                free_gpus[i * per_node : (i + 1) * per_node] for i in range(job.spec.nodes)
            ]
            del self.queue[job.id]
            try:
                await self._launch(job)
            except Exception as e:  # noqa: BLE001 - reported as the job's failure
                self.log.exception("Could not launch job %s", job.id)
                await self._emit(JobUpdate(
                    job.id, job.attempt, status=FAILED, reason="LaunchFailed",
                    message=f"could not start the job: {e}",
                    events=[Event("LaunchFailed", str(e), "Warning")], finished=time.time(),
                ))  # fmt: skip
                continue
            used_cpus += cpus
            used_gpus += [g for ids in job.state["gpus"] for g in ids]
            per_user[job.owner] = per_user.get(job.owner, 0) + 1

    def _prepare_code(self, job: BackendJob) -> Path:
        code = self.job_dir(job) / "code"
        if code.exists():
            return code  # a retry reuses the snapshot extracted for the first attempt
        tmp = code.with_name(".code.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if job.snapshot_key:
            data = self.storage.get_bytes(job.snapshot_key)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")
        if job.spec.code is not None:
            (tmp / CELL_FILE).write_text(job.spec.code)
        os.replace(tmp, code)
        return code

    def _program(self, job: BackendJob) -> list[str]:
        spec = job.spec
        if spec.command:
            return ["--command", *spec.command, *spec.args]
        script = CELL_FILE if spec.code is not None else spec.entry
        return [script, *spec.args]

    def _inputs_env(self, job: BackendJob) -> dict[str, str]:
        """Materialise the job's dataset and model versions (read-only, shared between jobs)
        and say where: ``TZ_DATASET_<NAME>``/``TZ_MODEL_<NAME>`` per input, and a JSON map from
        every way of naming an input to its folder (``TZ_DATASETS``, ``TZ_MODELS``)."""
        env: dict[str, str] = {}
        kinds = (
            (job.datasets, DatasetCache(self.dataset_cache_dir, self.storage), env_name,
             READER_ENV),
            (job.models, ModelCache(self.model_cache_dir, self.storage), model_env_name,
             MODELS_ENV),
        )  # fmt: skip
        for inputs, cache, name_of, map_env in kinds:
            where = {}
            for used in inputs:
                folder = str(cache.materialise(used))
                env[name_of(used["name"])] = folder
                where.update(dict.fromkeys(input_refs(used), folder))
            if inputs:
                env[map_env] = json.dumps(where)
        return env

    async def _launch(self, job: BackendJob) -> None:
        code = await asyncio.to_thread(self._prepare_code, job)
        inputs_env = await asyncio.to_thread(self._inputs_env, job)
        run = self.attempt_dir(job)
        run.mkdir(parents=True, exist_ok=True)
        spec = job.spec
        launch = {
            "job_id": job.id,
            "attempt": job.attempt,
            "user": job.owner,
            "framework": spec.framework,
            "nodes": spec.nodes,
            "procs_per_node": spec.procs_per_node,
            "timeout": spec.timeout,
            "memory": spec.resources_per_node.memory,
            "kill_grace": self.kill_grace,
            "python": self.python,
            "program": self._program(job),
            "env": {**spec.env, **inputs_env},
            "gpus": job.state["gpus"] if spec.resources_per_node.gpus else None,
            "code_dir": str(code),
            "output_dir": str(self.job_dir(job) / "output"),
            "logs_dir": str(run / "logs"),
            "ranks_dir": str(run / "ranks"),
            "metrics_dir": str(run / "metrics"),
            "rdzv_port": free_port(),
            "tf_ports": [free_port() for _ in range(spec.world_size)]
            if spec.framework == "tensorflow"
            else [],
        }
        (run / "launch.json").write_text(json.dumps(launch))
        log = open(run / "supervisor.log", "ab")
        # A new session detaches the job from the service: restarting TZ does not touch it.
        proc = subprocess.Popen(
            [self.python, "-m", "training_zoo.jobs.backends.supervisor", str(run)],
            cwd=str(code), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        log.close()
        self._procs[job.id] = proc
        # Known before the supervisor writes state.json, so a restart in between can find it.
        supervisor = {"pid": proc.pid, "create_time": psutil.Process(proc.pid).create_time()}
        job.state.update(launched_attempt=job.attempt, events_offset=0, supervisor=supervisor)
        self.running[job.id] = job
        events = []
        if spec.image:
            events.append(Event(
                "ImageIgnored", f"image {spec.image} is for container backends; the local "
                "backend runs the service's own Python environment",
            ))  # fmt: skip
        await self._emit(JobUpdate(
            job.id, job.attempt, status=RUNNING, reason="Started", started=time.time(),
            state=dict(job.state), events=events,
        ))  # fmt: skip

    def _supervisor_alive(self, job: BackendJob, state: dict) -> bool:
        proc = self._procs.get(job.id)
        if proc is not None:
            return proc.poll() is None  # also reaps it
        info = state if state.get("pid") else job.state.get("supervisor") or {}
        try:
            p = psutil.Process(info["pid"])
            same = abs(p.create_time() - info["create_time"]) < 1
            return same and p.status() != psutil.STATUS_ZOMBIE
        except (KeyError, psutil.Error):
            return False

    async def _supervisor_lost(self, job: BackendJob) -> None:
        """The supervisor died without a result: clean up and report why, as best we know."""
        await asyncio.to_thread(kill_job_processes, job.id, self.kill_grace)
        self.running.pop(job.id, None)
        self._procs.pop(job.id, None)
        self._wake.set()
        cancel = self.attempt_dir(job) / "cancel"
        if cancel.exists():
            by = cancel.read_text().strip()
            status, reason, message = CANCELLED, "Cancelled", f"cancelled by {by}"
        else:
            status, reason = FAILED, "SupervisorLost"
            message = "the job's supervisor stopped without recording a result"
        await self._emit(JobUpdate(
            job.id, job.attempt, status=status, reason=reason, message=message,
            events=[Event(reason, message, "Warning")], finished=time.time(),
        ))  # fmt: skip

    async def _collect(self) -> None:
        now = time.monotonic()
        for job in list(self.running.values()):
            run = self.attempt_dir(job)
            events, offset = self._new_events(run, job.state.get("events_offset", 0))
            state = read_json(run / "state.json") or {}
            final = state.get("status") in FINISHED
            if not events and not final:
                # A supervisor killed before it could record anything (SIGKILL, OOM, a cancel
                # during its start) must not leave the job "running" forever.
                if now - self._checked.get(job.id, 0) > 1.0:
                    self._checked[job.id] = now
                    if not self._supervisor_alive(job, state):
                        state = read_json(run / "state.json") or {}
                        if state.get("status") not in FINISHED:
                            await self._supervisor_lost(job)
                continue
            job.state["events_offset"] = offset
            update = JobUpdate(job.id, job.attempt, events=events, state=dict(job.state))
            if final:
                update.status, update.reason = state["status"], state.get("reason")
                update.message, update.exit_code = state.get("message"), state.get("exit_code")
                update.finished = state.get("finished")
                self.running.pop(job.id, None)
                self._checked.pop(job.id, None)
                proc = self._procs.pop(job.id, None)
                if proc is not None:
                    await asyncio.to_thread(proc.wait)
                self._wake.set()
                if self.storage.local_path(job.job_key) is None:
                    # Storage is remote (S3): archive output and logs so they outlive this disk.
                    await asyncio.to_thread(self.storage.put_dir, self.job_dir(job), job.job_key)
            await self._emit(update)

    @staticmethod
    def _new_events(run: Path, offset: int) -> tuple[list[Event], int]:
        try:
            with open(run / "events.jsonl", "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return [], offset
        # Only whole lines: the supervisor may be mid-write.
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            try:
                e = json.loads(line)
                events.append(Event(e["reason"], e["message"], e["type"], e["time"]))
            except (ValueError, KeyError):
                continue
        return events, offset + end

    # ---- logs and metrics -------------------------------------------------------------------

    async def log_ranks(self, job: BackendJob) -> list[int]:
        return spool.log_ranks(self.attempt_dir(job) / "logs")

    def get_job_logs(
        self,
        job: BackendJob,
        rank: int | None,
        follow: bool,
        tail: int | None,
        is_done: Callable[[], Awaitable[bool]],
    ) -> AsyncIterator[tuple[int, str]]:
        return spool.follow_logs(self.attempt_dir(job) / "logs", rank, follow, tail, is_done)

    async def get_job_metrics(self, job: BackendJob, cursor: str | None) -> tuple[list[dict], str]:
        return spool.read_metrics(self.attempt_dir(job) / "metrics", cursor)

    async def delete(self, job: BackendJob) -> None:
        await asyncio.to_thread(shutil.rmtree, self.job_dir(job), True)
