"""The local backend's queue policy: priority then FIFO, capacity, per-user limits, GPU hand-out.

Launching is replaced by a recorder here (the real launch is covered by the integration tests);
everything else is the real ``TzLocalBackend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from training_zoo.jobs.backends.base import BackendJob
from training_zoo.jobs.backends.local import TzLocalBackend
from training_zoo.jobs.types import parse_spec


def job(job_id: str, owner: str = "alice", created: float = 0, **spec) -> BackendJob:
    body = {"name": job_id, "code": "pass", **spec}
    return BackendJob(id=job_id, owner=owner, attempt=1, spec=parse_spec(body), created=created,
                      snapshot_key=None, job_key=f"jobs/{owner}/{job_id}")  # fmt: skip


@pytest.fixture
def backend(tmp_path, monkeypatch):
    b = TzLocalBackend(run_root=str(tmp_path), cpu_slots=4, max_running_per_user=2)
    b.launched = []

    async def fake_launch(j: BackendJob) -> None:
        b.running[j.id] = j
        b.launched.append(j.id)

    monkeypatch.setattr(b, "_launch", fake_launch)
    return b


@dataclass
class Case:
    name: str
    queue: list[BackendJob]
    expected: list[str]
    gpus: list[int] = field(default_factory=list)


CASES = [
    Case("priority first, then FIFO",
         [job("a", created=1), job("b", created=2, priority=5), job("c", created=3)],
         ["b", "a"]),  # alice's limit of 2 holds c back
    Case("per-user limit lets other users through",
         [job("a", created=1), job("b", created=2), job("c", created=3), job("d", "bob", 4)],
         ["a", "b", "d"]),
    Case("a head job that does not fit blocks later small ones",
         [job("big", created=1, resources_per_node={"cpus": 3}), job("x", "bob", 2,
          resources_per_node={"cpus": 2})], ["big"]),
    Case("nodes multiply the cpu demand",
         [job("two", created=1, nodes=2, resources_per_node={"cpus": 2}), job("y", "bob", 2)],
         ["two"]),
    Case("GPUs are counted per node",
         [job("g", created=1, nodes=2, resources_per_node={"gpus": 2}),
          job("h", "bob", 2, resources_per_node={"gpus": 1})], ["g"], gpus=[0, 1, 2, 3]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_admission_order(backend, case):
    backend.gpus = case.gpus
    for j in case.queue:
        await backend.submit(j)
    await backend._admit()
    assert backend.launched == case.expected


async def test_gpus_are_handed_out_per_node_without_overlap(backend):
    backend.gpus = [0, 1, 2, 3]
    a = job("a", created=1, nodes=2, resources_per_node={"gpus": 1})
    b = job("b", "bob", 2, resources_per_node={"gpus": 2})
    for j in (a, b):
        await backend.submit(j)
    await backend._admit()
    assert a.state["gpus"] == [[0], [1]]
    assert b.state["gpus"] == [[2, 3]]


async def test_queue_positions_follow_the_order(backend):
    backend.cpu_slots = 1
    await backend.submit(job("run", created=0))
    await backend._admit()
    for j in (job("a", "bob", 1), job("b", "bob", 2, priority=1)):
        await backend.submit(j)
    await backend._admit()
    assert [backend.queue_position(i) for i in ("run", "a", "b")] == [None, 2, 1]


@pytest.mark.parametrize(("spec", "problem"), [
    ({"resources_per_node": {"gpus": 1}}, "GPU"),
    ({"nodes": 8}, "CPU"),
])  # fmt: skip
def test_jobs_that_can_never_fit_are_refused_up_front(backend, spec, problem):
    assert problem in backend.check_fits(job("x", **spec))


@pytest.mark.parametrize(("name", "ok"), [
    ("local", True),
    ("training_zoo.jobs.backends.local.TzLocalBackend", True),
    ("training_zoo.storage.TzStorage", False),
])  # fmt: skip
def test_backend_class_resolves_aliases_and_import_strings(name, ok):
    from training_zoo.jobs.manager import load_backend_class

    if ok:
        assert load_backend_class(name) is TzLocalBackend
    else:
        with pytest.raises(ValueError, match="not a TzJobBackend"):
            load_backend_class(name)
