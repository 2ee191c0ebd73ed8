"""The job-backend interface every compute backend implements.

Shaped like the Kubeflow SDK's ``trainer/backends/base.py``: the manager owns the database and the
lifecycle rules (retries, permissions); a backend only runs jobs and reports what happens to them
through an update callback. Nothing here assumes processes, files or a single machine, so a
Kubernetes backend (Kubeflow Trainer ``TrainJob`` + Kueue) implements the same methods.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets.config import LoggingConfigurable

from ..types import JobSpec


@dataclass
class BackendJob:
    """What a backend needs to run one attempt of a job."""

    id: str
    owner: str
    attempt: int
    spec: JobSpec
    created: float
    # Storage keys: the code snapshot archive (or None) and the job's folder (output, logs).
    snapshot_key: str | None
    job_key: str
    # The owner's JupyterHub groups at submit time (team queues).
    groups: tuple[str, ...] = ()
    # Whatever this backend stored for the job last time (pids, object names); survives restarts.
    state: dict[str, Any] = field(default_factory=dict)
    # The exact dataset versions the job reads (lineage entries: dataset_id, owner, name,
    # version, manifest_key, manifest_sha256), resolved at submit.
    datasets: list[dict[str, Any]] = field(default_factory=list)
    # The exact model versions the job reads (model_id, owner, name, version, prefix), likewise.
    models: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Event:
    reason: str
    message: str
    type: str = "Normal"
    time: float | None = None


@dataclass
class JobUpdate:
    """A change the backend observed. ``status`` None means only events or state changed."""

    job_id: str
    attempt: int
    status: str | None = None
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    events: list[Event] = field(default_factory=list)
    state: dict[str, Any] | None = None
    started: float | None = None
    finished: float | None = None


UpdateCallback = Callable[[JobUpdate], Awaitable[None]]


class _BackendMeta(type(LoggingConfigurable), abc.ABCMeta):  # type: ignore[misc]
    """Traits and abstract methods together."""


class TzJobBackend(LoggingConfigurable, metaclass=_BackendMeta):
    """Base class of job backends."""

    #: Short name shown in ``GET /api/v1/`` (``local``, ``kubernetes``).
    name = "base"

    #: Whether a job's command runs in an image of its own rather than on the service's machine:
    #: there, paths of the service's machine (its interpreter, its venv) mean nothing.
    in_containers = False

    @abc.abstractmethod
    async def start(self, on_update: UpdateCallback, active: list[BackendJob]) -> None:
        """Start watching, and reconcile ``active`` (every unfinished job in the database).

        A job the backend still runs is re-adopted; one that ended while the service was down is
        reported with its true final status; one the backend has never heard of is queued again.
        """

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop watching. Running jobs keep running."""

    @abc.abstractmethod
    async def submit(self, job: BackendJob) -> None:
        """Queue one attempt of a job. Returns once the backend has accepted it."""

    @abc.abstractmethod
    async def cancel(self, job: BackendJob, by: str) -> None:
        """Stop a queued or running job; the backend reports ``cancelled`` through the callback."""

    @abc.abstractmethod
    def get_job_logs(
        self,
        job: BackendJob,
        rank: int | None,
        follow: bool,
        tail: int | None,
        is_done: Callable[[], Awaitable[bool]],
    ) -> AsyncIterator[tuple[int, str]]:
        """Yield ``(rank, line)``; with ``follow``, keep going until ``is_done()`` and drained."""

    @abc.abstractmethod
    async def get_job_metrics(self, job: BackendJob, cursor: str | None) -> tuple[list[dict], str]:
        """Metric points recorded since ``cursor``, and the cursor to pass next time."""

    async def log_ranks(self, job: BackendJob) -> list[int]:
        """Ranks that have logs so far."""
        return []

    def check_fits(self, job: BackendJob) -> str | None:
        """Why ``job`` can never run on this backend (refused at submit), or None.

        A reason returned here is reported against ``resources_per_node``; a backend raises
        :class:`~training_zoo.errors.InvalidRequest` itself to name another field.
        """
        return None

    def queue_position(self, job_id: str) -> int | None:
        """1-based position in the backend's queue, or None when not queued (or unknown)."""
        return None

    def capacity(self) -> dict[str, Any]:
        """Total and used resources, for ``GET /queue``."""
        return {}

    async def delete(self, job: BackendJob) -> None:
        """Remove what the backend keeps for a finished job (not its stored output)."""
