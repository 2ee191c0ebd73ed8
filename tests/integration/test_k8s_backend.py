"""The Kubernetes job backend's control logic, end to end through ``TzJobManager``, against an
in-process stand-in for the Kubernetes API (``fakes.kubeapi``) and real S3 (moto).

Scenarios of issue 5: submit → admitted → running → succeeded with logs archived (pods run as
real processes by ``fakes.kubelet``: torchrun, ranks, presigned code and output); Kueue pending
with its reason as an event and a queue position; OOMKilled; image pull failure; 409 on create;
403 quota denials; 410 on watch; an API outage of 60 s; a service restart mid-job; orphans in
both directions; cancel.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from s3server import moto_s3
from traitlets.config import Config

from fakes.kubeapi import NETWORKPOLICIES, PODS, PYTORCHJOBS, SECRETS, TRAINJOBS, FakeKubeAPI
from fakes.kubelet import Kubelet, trainjob_names
from training_zoo.db.session import make_session_factory
from training_zoo.identity import Identity
from training_zoo.jobs.manager import TzJobManager
from training_zoo.storage import TzStorage

pytestmark = pytest.mark.integration

NS = "training-zoo"
ALICE = Identity("alice", groups=("vision",), scopes=frozenset({"custom:tz:jobs:write"}))
TEAMS = {"default": {"cpu": 8, "memory": "32Gi", "gpus": 0},
         "vision": {"cpu": 64, "memory": "256Gi", "gpus": 8}}  # fmt: skip
DDP = """\
import os, torch, torch.distributed as dist
from training_zoo import log_metrics
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.ones(1) * (rank + 1)
dist.all_reduce(t)
print(f"rank {rank} of {world} sum {int(t.item())}")
log_metrics(step=0, loss=1.0 / (rank + 1))
if rank == 0:
    open(os.path.join(os.environ["TZ_OUTPUT_DIR"], "model.txt"), "w").write(str(t.item()))
dist.destroy_process_group()
"""


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3("tz-k8s") as url:
        yield url


@pytest.fixture
def kube():
    with FakeKubeAPI() as api:
        yield api


@pytest.fixture
def storage(s3_url):
    return TzStorage(url=f"s3://tz-k8s/{uuid.uuid4().hex[:8]}",
                     storage_options={"client_kwargs": {"endpoint_url": s3_url}})  # fmt: skip


@pytest.fixture
def kubelet(kube):
    k = Kubelet(kube, NS)
    yield k
    k.wait(30)
    k.close()


class Service:
    """A TzJobManager with the Kubernetes backend, as the TZ service would configure it."""

    def __init__(self, tmp_path, kube: FakeKubeAPI, storage: TzStorage, **backend) -> None:
        self.tmp_path, self.kube, self.storage, self.backend_cfg = tmp_path, kube, storage, backend
        self.db_url = f"sqlite:///{tmp_path}/tz.sqlite"
        self.manager: TzJobManager | None = None

    async def start(self) -> TzJobManager:
        c = Config()
        c.TzJobManager.backend_class = "kubernetes"
        c.TzCluster.namespace = NS
        c.TzCluster.teams = TEAMS
        k = c.TzKubernetesBackend
        k.api_url = self.kube.url
        k.spool_dir = str(self.tmp_path / "spool")
        k.retry_delay, k.retry_delay_max = 0.05, 0.5
        k.queue_poll_interval, k.watch_timeout, k.log_drain_timeout = 0.2, 5, 5
        for key, value in self.backend_cfg.items():
            setattr(k, key, value)
        self.manager = TzJobManager(config=c, storage=self.storage,
                                    session_factory=make_session_factory(self.db_url))  # fmt: skip
        await self.manager.start()
        return self.manager

    async def stop(self) -> None:
        if self.manager is not None:
            await self.manager.stop()
            self.manager = None


@pytest.fixture
async def service(tmp_path, kube, storage):
    svc = Service(tmp_path, kube, storage)
    await svc.start()
    yield svc
    await svc.stop()


async def until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout} s")


async def status(manager: TzJobManager, job_id: str, wanted: set[str], timeout: float = 30):
    async def check():
        job = await manager.get(ALICE, job_id)
        return job if job["status"] in wanted else None

    return await until(check, timeout, f"job {job_id} in {wanted}")


async def events(manager, job_id) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in await manager.events(ALICE, job_id)]


async def logs(manager, job_id, rank=None) -> list[str]:
    return [line async for _, line in manager.logs(ALICE, job_id, rank=rank, follow=False,
                                                     tail=None)]  # fmt: skip


async def submit(manager, **spec) -> dict:
    body = {"name": "train", "framework": "pytorch", "code": "print('hi')", **spec}
    return await manager.submit(ALICE, body)


def only_trainjob(kube) -> str:
    names = trainjob_names(kube, NS)
    assert len(names) == 1, names
    return names[0]


async def test_ddp_job_runs_to_success_with_logs_metrics_and_output_archived(
    service, kube, kubelet, storage
):
    manager = service.manager
    job = await submit(manager, name="ddp", code=DDP, nodes=2, procs_per_node=2)
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    trainjob = kube.get(*TRAINJOBS, NS, name)
    assert trainjob["metadata"]["labels"]["kueue.x-k8s.io/queue-name"].startswith("tz-vision")
    assert trainjob["spec"]["suspend"] is True  # Kueue holds it until admitted
    await until(lambda: kube.get(*SECRETS, NS, f"{name}-tz"), what="the job's Secret")
    policy = await until(lambda: kube.get(*NETWORKPOLICIES, NS, f"{name}-tz"), what="policy")
    peers = {"matchLabels": {"jobset.sigs.k8s.io/jobset-name": name}}
    assert policy["spec"]["podSelector"] == peers  # the job's pods admit only each other
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": peers}]}]
    kubelet.run(name)
    done = await status(manager, job["id"], {"succeeded", "failed"}, timeout=90)
    assert done["status"] == "succeeded", await events(manager, job["id"])
    reasons = [r for r, _ in await events(manager, job["id"])]
    assert reasons[:3] == ["Created", "Queued", "Submitted"]
    assert {"Admitted", "NodeExited", "Succeeded"} <= set(reasons)
    # Per-rank logs came from the pods' logs; they are archived and outlive the pods.
    assert kube.get(*TRAINJOBS, NS, name) is None  # deleted after archiving
    assert kube.list(*PODS, NS) == [] and kube.get(*SECRETS, NS, f"{name}-tz") is None
    assert kube.get(*NETWORKPOLICIES, NS, f"{name}-tz") is None  # garbage-collected with it
    key = f"jobs/alice/{job['id']}/attempt-1/logs/rank-3.log"
    assert "rank 3 of 4 sum 10" in storage.get_bytes(key).decode()
    service.manager.backend.spool_dir = str(service.tmp_path / "fresh-spool")  # pods and spool gone
    assert "rank 2 of 4 sum 10" in await logs(manager, job["id"], rank=2)
    assert await manager.log_ranks(ALICE, job["id"]) == [0, 1, 2, 3]
    points, _ = await manager.metrics(ALICE, job["id"], None)
    assert sorted(p["rank"] for p in points) == [0, 1, 2, 3]
    # The output went through the presigned PUT URL and was unpacked.
    assert storage.get_bytes(f"jobs/alice/{job['id']}/output/model.txt") == b"10.0"


async def test_kueue_pending_reason_and_queue_position_are_shown(service, kube):
    manager = service.manager
    job = await submit(manager, resources_per_node={"gpus": 8})
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    message = "couldn't assign flavors to pod set node: insufficient quota for nvidia.com/gpu"
    queue = kube.get(*TRAINJOBS, NS, name)["metadata"]["labels"]["kueue.x-k8s.io/queue-name"]
    kube.add_local_queue(NS, queue)  # tz k8s-render ships one per team
    kube.admit_workload(name, NS, admitted=False, message=message)
    await until(lambda: manager.get(ALICE, job["id"]), what="job")
    assert ("Pending", message) in await until(
        lambda: _has_event(manager, job["id"], "Pending"), what="Pending event"
    )
    view = await until(lambda: _position(manager, job["id"]), what="queue position")
    assert view["status"] == "queued" and view["queue_position"] == 1
    trainjob = kube.get(*TRAINJOBS, NS, name)
    limits = trainjob["spec"]["trainer"]["resourcesPerNode"]["limits"]
    assert limits["nvidia.com/gpu"] == "8"


async def _has_event(manager, job_id, reason):
    found = await events(manager, job_id)
    return found if any(r == reason for r, _ in found) else None


async def _position(manager, job_id):
    job = await manager.get(ALICE, job_id)
    return job if job["queue_position"] else None


async def test_oom_killed_node_fails_the_job_with_the_reason(service, kube):
    manager = service.manager
    job = await submit(manager, nodes=2)
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    kube.admit_workload(name, NS, admitted=True)
    pods = kube.start_pods(name, NS)
    await status(manager, job["id"], {"running"})
    kube.finish_pod(pods[0]["metadata"]["name"], 0, namespace=NS)
    kube.finish_pod(pods[1]["metadata"]["name"], 137, "OOMKilled", namespace=NS)
    kube.finish_trainjob(name, NS, succeeded=False)
    done = await status(manager, job["id"], {"failed"})
    assert done["reason"] == "OOMKilled" and done["exit_code"] == 137
    assert "node 1" in done["message"]
    assert any(r == "OOMKilled" for r, _ in await events(manager, job["id"]))


async def test_image_pull_failure_fails_the_job_after_the_grace(tmp_path, kube, storage):
    svc = Service(tmp_path, kube, storage, image_pull_grace=0.5)
    manager = await svc.start()
    try:
        job = await submit(manager, image="registry.example.com/typo/trainer:1")
        name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
        kube.admit_workload(name, NS, admitted=True)
        pods = kube.start_pods(name, NS, running=False)
        kube.pod_waiting(pods[0]["metadata"]["name"], namespace=NS,
                         message='Back-off pulling image "registry.example.com/typo/trainer:1"')
        done = await status(manager, job["id"], {"failed"})  # fmt: skip
        assert done["reason"] == "ImagePullFailed"
        assert "registry.example.com/typo/trainer:1" in done["message"]
        assert trainjob_names(kube, NS) == []
    finally:
        await svc.stop()


async def test_a_create_answered_with_an_error_but_stored_is_adopted_on_409(service, kube):
    kube.fail("POST", r"/trainjobs$", 504, "Timeout", "the server was unable to return a "
              "response in the time allotted", apply=True)  # fmt: skip
    job = await submit(service.manager)
    await until(lambda: _created(service, job["id"]), what="created")
    posts = [c for c in kube.requests if c[0] == "POST" and c[1].endswith("/trainjobs")]
    assert len(posts) == 2  # the first stored it, the retry met 409 and adopted it
    assert len(trainjob_names(kube, NS)) == 1


def _created(service, job_id):
    job = service.manager.backend.jobs.get(job_id)
    return job is not None and job.state.get("created")


async def test_quota_denial_is_shown_and_retried(service, kube):
    message = ('trainjobs.trainer.kubeflow.org "x" is forbidden: exceeded quota: tz-jobs, '
               "requested: count/trainjobs.trainer.kubeflow.org=1, used: 20, limited: 20")
    kube.fail("POST", r"/trainjobs$", 403, "Forbidden", message, times=3)
    job = await submit(service.manager)
    await until(lambda: _created(service, job["id"]), what="created after the denials")
    assert ("QuotaExceeded", message) in await events(service.manager, job["id"])
    assert len(trainjob_names(kube, NS)) == 1
    assert (await service.manager.get(ALICE, job["id"]))["status"] == "queued"


async def test_a_watch_answered_410_resyncs_without_losing_the_end(service, kube):
    manager = service.manager
    job = await submit(manager)
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    kube.admit_workload(name, NS, admitted=True)
    pods = kube.start_pods(name, NS)
    await status(manager, job["id"], {"running"})
    resyncs = manager.backend.reflectors["jobs"].resyncs
    kube.down()  # the watches break ...
    kube.finish_pod(pods[0]["metadata"]["name"], 0, namespace=NS)
    kube.finish_trainjob(name, NS, succeeded=True)
    kube.compact()  # ... and their resourceVersion is gone when they come back
    kube.up()
    await status(manager, job["id"], {"succeeded"})
    assert manager.backend.reflectors["jobs"].resyncs > resyncs


async def test_an_api_outage_of_60_seconds_delays_but_loses_nothing(service, kube):
    manager = service.manager
    kube.down()
    job = await submit(manager)  # accepted while the API is down
    await asyncio.sleep(20)
    kube.up()
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube), 10)
    kube.admit_workload(name, NS, admitted=True)
    pods = kube.start_pods(name, NS)
    await status(manager, job["id"], {"running"})
    kube.down()
    started = time.monotonic()
    kube.append_log(NS, pods[0]["metadata"]["name"], "node", "[rank 0] during the outage\n")
    kube.finish_pod(pods[0]["metadata"]["name"], 0, namespace=NS)
    kube.finish_trainjob(name, NS, succeeded=True)
    await asyncio.sleep(60 - 20 - (time.monotonic() - started))
    assert (await manager.get(ALICE, job["id"]))["status"] == "running"  # nothing seen yet
    kube.up()
    await status(manager, job["id"], {"succeeded"}, timeout=30)
    creates = [c for c in kube.requests if c[0] == "POST" and c[1].endswith("/trainjobs")]
    assert len(creates) == 1  # no duplicate object
    assert "during the outage" in await logs(manager, job["id"])


async def test_service_restart_mid_job_readopts_it_and_drops_orphans(tmp_path, kube, storage):
    first = Service(tmp_path, kube, storage)
    manager = await first.start()
    job = await submit(manager, nodes=1)
    gone = await submit(manager, name="gone")
    await until(lambda: len(trainjob_names(kube, NS)) == 2)
    by_job = {o["metadata"]["labels"]["training-zoo.io/job-id"]: o["metadata"]["name"]
              for o in kube.list(*TRAINJOBS, NS)}  # fmt: skip
    name = by_job[job["id"]]
    kube.admit_workload(name, NS, admitted=True)
    pod = kube.start_pods(name, NS)[0]["metadata"]["name"]
    kube.append_log(NS, pod, "node", "[rank 0] before the restart\n")
    await until(lambda: _has_line(manager, job["id"], "before the restart"))
    await first.stop()
    # While TZ is down: more output, someone deletes the other job, and a stray TrainJob with
    # TZ's label appears (a job TZ no longer knows).
    kube.append_log(NS, pod, "node", "[rank 0] while TZ was down\n")
    kube.delete(*TRAINJOBS, NS, by_job[gone["id"]])
    stray = kube.get(*TRAINJOBS, NS, name)
    stray["metadata"] = {"name": "stray-1", "namespace": NS,
                         "labels": {**stray["metadata"]["labels"],
                                    "training-zoo.io/job-id": "deleted-0000"}}  # fmt: skip
    kube.create(stray)
    kube.clear_requests()
    second = Service(tmp_path, kube, storage)
    manager = await second.start()
    try:
        await until(lambda: trainjob_names(kube, NS) == [name], what="orphan deleted")
        lost = await status(manager, gone["id"], {"failed"})
        assert lost["reason"] == "Deleted"
        kube.append_log(NS, pod, "node", "[rank 0] after the restart\n")
        kube.finish_pod(pod, 0, namespace=NS)
        kube.finish_trainjob(name, NS, succeeded=True)
        await status(manager, job["id"], {"succeeded"})
        lines = await logs(manager, job["id"])
        assert lines == ["before the restart", "while TZ was down", "after the restart"]
        assert not [c for c in kube.requests if c[0] == "POST" and "trainjobs" in c[1]]
    finally:
        await second.stop()


async def _has_line(manager, job_id, text):
    return text in await logs(manager, job_id)


async def test_cancel_deletes_the_trainjob_and_its_pods(service, kube):
    manager = service.manager
    job = await submit(manager, nodes=2)
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    kube.admit_workload(name, NS, admitted=True)
    kube.start_pods(name, NS)
    await status(manager, job["id"], {"running"})
    await manager.cancel(ALICE, job["id"])
    done = await status(manager, job["id"], {"cancelled"})
    assert done["message"] == "cancelled by alice"
    assert trainjob_names(kube, NS) == [] and kube.list(*PODS, NS) == []
    deletes = [c for c in kube.calls if c["method"] == "DELETE" and "trainjobs" in c["path"]]
    assert deletes and "Foreground" in str(deletes[0])


async def test_legacy_pytorchjob_mode(tmp_path, kube, storage):
    svc = Service(tmp_path, kube, storage, mode="pytorchjob")
    manager = await svc.start()
    try:
        job = await submit(manager, nodes=2)
        obj = await until(lambda: kube.list(*PYTORCHJOBS, NS), what="PyTorchJob")
        name = obj[0]["metadata"]["name"]
        assert obj[0]["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
        kube.run_pytorchjob(name, NS)
        kube.finish_pytorchjob(name, NS, succeeded=True)
        await status(manager, job["id"], {"succeeded"})
        assert kube.list(*PYTORCHJOBS, NS) == []
    finally:
        await svc.stop()


async def test_a_crash_between_create_and_bookkeeping_is_repaired_on_restart(
    tmp_path, kube, storage
):
    """The TrainJob exists but TZ died before its Secret was made: the next start adopts the
    TrainJob (no second one) and creates what it owns."""
    kube.fail("POST", r"/secrets$", 503, "ServiceUnavailable", "etcd is busy", times=None)
    first = Service(tmp_path, kube, storage)
    manager = await first.start()
    job = await submit(manager)
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    await first.stop()
    kube.clear_faults()
    kube.clear_requests()
    second = Service(tmp_path, kube, storage)
    manager = await second.start()
    try:
        await until(lambda: kube.get(*SECRETS, NS, f"{name}-tz"), what="the Secret")
        await until(lambda: kube.get(*NETWORKPOLICIES, NS, f"{name}-tz"), what="the policy")
        assert trainjob_names(kube, NS) == [name]
        assert not [c for c in kube.requests if c[0] == "POST" and c[1].endswith("/trainjobs")]
        assert (await manager.get(ALICE, job["id"]))["status"] == "queued"
    finally:
        await second.stop()


async def test_a_failed_attempt_is_retried_as_a_new_trainjob(service, kube):
    manager = service.manager
    job = await submit(manager, max_retries=1)
    first = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    kube.admit_workload(first, NS, admitted=True)
    kube.start_pods(first, NS)
    await status(manager, job["id"], {"running"})
    kube.finish_trainjob(first, NS, succeeded=False)
    second = await until(lambda: [n for n in trainjob_names(kube, NS) if n != first],
                         what="attempt 2")  # fmt: skip
    labels = kube.get(*TRAINJOBS, NS, second[0])["metadata"]["labels"]
    assert labels["training-zoo.io/attempt"] == "2"
    assert labels["kueue.x-k8s.io/queue-name"].startswith("tz-vision")  # same team on retry
    kube.admit_workload(second[0], NS, admitted=True)
    kube.start_pods(second[0], NS)
    kube.finish_trainjob(second[0], NS, succeeded=True)
    done = await status(manager, job["id"], {"succeeded"})
    assert done["attempt"] == 2
    queue = manager.queue_summary(ALICE)
    assert queue["total"] == {"cpus": 72, "gpus": 8} and queue["namespace"] == NS


@pytest.mark.parametrize(
    ("code", "reason", "message", "outcome"),
    [
        (422, "Invalid", 'TrainJob.trainer.kubeflow.org "x" is invalid: spec.runtimeRef: '
         'ClusterTrainingRuntime tz-pytorch not found', "CreateFailed"),
        (403, "Forbidden", 'trainjobs.trainer.kubeflow.org is forbidden: User '
         '"system:serviceaccount:jupyterhub:tz" cannot create resource', "Forbidden"),
    ],
)  # fmt: skip
async def test_a_refused_create_is_explained(service, kube, code, reason, message, outcome):
    kube.fail("POST", r"/trainjobs$", code, reason, message, times=2)
    job = await submit(service.manager)
    if outcome == "CreateFailed":  # the cluster will never take it: fail with the API's words
        done = await status(service.manager, job["id"], {"failed"})
        assert done["reason"] == "CreateFailed" and message in done["message"]
    else:  # an operator can fix RBAC: say why and keep trying
        await until(lambda: _created(service, job["id"]), what="created once allowed")
        assert (outcome, message) in await events(service.manager, job["id"])


# ---- datasets and models in pods ---------------------------------------------------------------

READS_INPUTS = """\
import os
import training_zoo.datasets as tzd
from training_zoo.models import open_input
ds = tzd.open("pets:V001")
cat = ds.split("train")[0]
print("files", sorted(f.key for f in ds), "train", cat.key, cat.label, cat.path.read_bytes())
model = open_input("alice/shapes:1")
print("model", (model / "model.onnx").read_bytes(), (model / "extra" / "notes.txt").read_text())
print("env", os.environ["TZ_DATASET_PETS"] == str(ds.root),
      os.environ["TZ_MODEL_SHAPES"] == str(model))
modes = {oct(os.stat(p).st_mode & 0o777) for p in (ds.root, ds.root / "files", model)}
print("modes", sorted(modes), oct(os.stat(cat.path).st_mode & 0o777))  # root ignores them
"""
PETS = {"pets-src/cat.jpg": b"cat-bytes", "pets-src/dog.jpg": b"dog-bytes",
        "pets-src/same.jpg": b"cat-bytes"}  # fmt: skip


@pytest.fixture
async def inputs(service):
    """alice's dataset ``pets:V001`` (three files, two with the same bytes) and model
    ``shapes:1``, in the store and database the job manager uses."""
    from training_zoo.datasets.manager import TzDatasetManager
    from training_zoo.datasets.workspace import TzWorkspace
    from training_zoo.models.manager import TzModelManager

    me = Identity("alice", groups=("vision",), scopes=frozenset({
        "custom:tz:datasets:read", "custom:tz:datasets:write", "custom:tz:models:read",
        "custom:tz:models:write"}))  # fmt: skip
    sessions = make_session_factory(service.db_url)
    ws = TzWorkspace(storage=service.storage)
    dm = TzDatasetManager(storage=service.storage, workspace=ws, session_factory=sessions)
    mm = TzModelManager(storage=service.storage, workspace=ws, session_factory=sessions)
    service.manager.datasets, service.manager.registry = dm, mm
    for path, data in PETS.items():
        await ws.write_bytes(me, "user:alice", path, data)
    ds = await dm.create(me, {"name": "pets", "type": "image_classification",
                              "labels": ["cat", "dog"]})  # fmt: skip
    await dm.add_files(me, ds["id"], {"source": "workspace", "space": "user:alice",
                                      "path": "pets-src"})  # fmt: skip
    items, _ = await dm.files(me, ds["id"], limit=10)
    for f in items:
        label, usage = ("dog", "val") if f["key"] == "dog.jpg" else ("cat", "train")
        await dm.annotate(me, ds["id"], {"key": f["key"], "revision": f["revision"],
                                         "annotations": {"labels": [label]}, "usage": usage})
    await dm.publish(me, ds["id"], {"note": "first"})
    model = {"model.onnx": b"onnx-bytes", "extra/notes.txt": b"notes", "tz-model.json":
             b'{"format": "onnx", "artifact": "model.onnx"}'}
    for path, data in model.items():
        await ws.write_bytes(me, "user:alice", f"exports/shapes/{path}", data)
    await mm.register_by_name(me, {"name": "shapes", "source": {
        "space": "user:alice", "path": "exports/shapes"}})  # fmt: skip
    return dm


async def test_pods_get_the_jobs_dataset_and_model_versions_read_only(
    service, kube, kubelet, inputs
):
    manager = service.manager
    job = await submit(manager, name="reads", code=READS_INPUTS, framework="custom", nodes=2,
                       datasets=["pets:V001"], models=["alice/shapes:1"])  # fmt: skip
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    secret = await until(lambda: kube.get(*SECRETS, NS, f"{name}-tz"), what="the job's Secret")
    assert "inputs_url" in (secret.get("stringData") or secret.get("data"))
    kubelet.run(name)
    done = await status(manager, job["id"], {"succeeded", "failed"}, timeout=90)
    lines = await logs(manager, job["id"])
    assert done["status"] == "succeeded", lines
    for rank in (0, 1):  # each node fetched its own copy
        mine = "\n".join(await logs(manager, job["id"], rank=rank))
        assert ("files ['cat.jpg', 'dog.jpg', 'same.jpg'] train cat.jpg cat b'cat-bytes'"
                in mine), mine  # fmt: skip
        assert "model b'onnx-bytes' notes" in mine
        assert "env True True" in mine and "modes ['0o555'] 0o444" in mine
    ready = [line for line in lines if "inputs ready" in line]
    # 7 files and a manifest, but cat.jpg and same.jpg are the same bytes: fetched once
    assert ready and "pets:V001, shapes:1 (6 files," in ready[0], lines
    lineage = done["lineage"]
    assert [(d["name"], d["version"]) for d in lineage["datasets"]] == [("pets", "V001")]
    assert [(m["name"], m["version"]) for m in lineage["models"]] == [("shapes", 1)]


async def test_a_file_changed_after_publishing_fails_the_pod_naming_it(
    service, kube, kubelet, inputs
):
    ds_id = (await inputs.list(ALICE))[0][0]["id"]
    manifest = service.storage.get_bytes(inputs.manifest_key(ds_id, "V001")).decode()
    (entry,) = [e for e in map(json.loads, manifest.splitlines()) if e["key"] == "dog.jpg"]
    service.storage.put_bytes(entry["source"], b"not the dog")  # behind TZ's back
    job = await submit(service.manager, name="changed", code="print('ran')",
                       datasets=["pets:V001"])  # fmt: skip
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    await until(lambda: kube.get(*SECRETS, NS, f"{name}-tz"), what="the job's Secret")
    kubelet.run(name)
    done = await status(service.manager, job["id"], {"succeeded", "failed"}, timeout=90)
    lines = "\n".join(await logs(service.manager, job["id"]))
    assert done["status"] == "failed", lines
    assert "cannot fetch the job's datasets and models: pets:V001 files/dog.jpg" in lines
    assert "differ from the ones recorded" in lines and "ran" not in lines


async def test_a_manifest_changed_after_publishing_fails_the_job_before_any_pod(
    service, kube, inputs
):
    ds_id = (await inputs.list(ALICE))[0][0]["id"]
    service.storage.put_bytes(inputs.manifest_key(ds_id, "V001"), b'{"key": "x"}\n')
    job = await submit(service.manager, name="tampered", code="print('ran')",
                       datasets=["pets:V001"])  # fmt: skip
    done = await status(service.manager, job["id"], {"failed"})
    assert done["reason"] == "InputsUnavailable", done
    assert "the manifest of pets:V001 was changed after it was published" in done["message"]
    assert trainjob_names(kube, NS) == []


LINE_PY = """\
import torch


class Line(torch.nn.Module):
    def __init__(self, features: int = 2) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(features, 1)

    def forward(self, x):
        return self.lin(x)
"""


async def test_a_conversion_runs_in_pods_and_registers_the_new_version(
    service, kube, kubelet, inputs, tmp_path, monkeypatch
):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from training_zoo.models.descriptor import save
    from training_zoo.models.runner import TzModelRuns

    # Given a PyTorch model alice registered (its class is saved with it), and model runs whose
    # jobs go to the Kubernetes backend
    manager, registry = service.manager, service.manager.registry
    (tmp_path / "tz_k8s_line.py").write_text(LINE_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    from tz_k8s_line import Line  # type: ignore[import-not-found]

    folder = save(Line(), tmp_path / "line", name="line", example_input=torch.zeros(1, 2),
                  kwargs={"features": 2}, task="regression")  # fmt: skip
    assert folder is not None
    me = Identity("alice", groups=("vision",), scopes=frozenset({
        "custom:tz:models:read", "custom:tz:models:write", "custom:tz:jobs:write"}))  # fmt: skip
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        await registry.workspace.write_bytes(
            me, "user:alice", f"exports/line/{path.relative_to(folder)}", path.read_bytes())
    v1 = await registry.register_by_name(me, {"name": "line", "source": {
        "space": "user:alice", "path": "exports/line"}})  # fmt: skip
    registry.jobs = manager
    runs = TzModelRuns(registry=registry, jobs=manager)
    manager.finish_hooks.append(runs.on_job_finished)
    # the service's interpreter path means nothing in an image: its `python` is used
    assert runs.python == "python"

    # When alice converts it to TorchScript and the cluster runs the job's pod
    run = await runs.convert(me, v1["model_id"], 1, {"to": "torchscript"})
    name = await until(lambda: trainjob_names(kube, NS) and only_trainjob(kube))
    await until(lambda: kube.get(*SECRETS, NS, f"{name}-tz"), what="the job's Secret")
    trainer = kube.get(*TRAINJOBS, NS, name)["spec"]["trainer"]
    env = {e["name"]: e.get("value") for e in trainer["env"]}
    assert json.loads(env["TZ_PROGRAM"])[:6] == [
        "--command", "python", "-m", "training_zoo.models.worker", "convert", "--to"]  # fmt: skip
    kubelet.run(name)
    done = await status(manager, run["job_id"], {"succeeded", "failed"}, timeout=120)
    assert done["status"] == "succeeded", await logs(manager, run["job_id"])

    # Then the pod read version 1, and version 2 is registered as its TorchScript child
    async def closed():
        got = await runs.get(me, run["id"])
        return got if got["finished"] else None

    finished = await until(closed, what="the run closed")
    assert (finished["status"], finished["result_version"]) == ("succeeded", 2), finished
    v2 = await registry.version(me, v1["model_id"], 2)
    assert (v2["format"], v2["parent"]["version"]) == ("torchscript", 1)
    assert v2["conversion"]["parity"]["passed"] is True
