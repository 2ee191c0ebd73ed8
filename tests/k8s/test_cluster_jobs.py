"""The Kubernetes job backend against a real cluster: the scenarios of
``tests/integration/test_k8s_backend.py`` that a real cluster can produce, end to end through
``TzJobManager`` with ``TzKubernetesBackend`` running in this process, on a kind or k3s cluster with
Kubeflow Trainer v2.3 (with JobSet), Kueue v0.19 and TZ's generated objects applied
(``tz k8s-render``; ``tests/k8s/README.md`` is the runbook).

Marked ``k8s``: deselected by default, run with ``pytest -m k8s tests/k8s``. Without the
variables below every test is skipped (never an error), with the missing variable as the reason.

Environment:

``TZ_TEST_KUBECONFIG``
    Kubeconfig of the cluster (default: ``$KUBECONFIG``), its current context is used. The
    backend reaches the API server through it (``c.TzKubernetesBackend.kubeconfig``); when the
    tests run inside a pod, the pod's service account wins, as it does for the TZ service.
``TZ_TEST_NAMESPACE``
    The jobs namespace (default ``training-zoo``): the one ``custom.tz.namespace`` rendered, with
    the teams' LocalQueues in it. **The suite owns it while it runs**: the backend deletes every
    TrainJob labelled ``app.kubernetes.io/managed-by=training-zoo`` it does not know (orphans),
    so never point it at a namespace where a real TZ service runs jobs, and do not run two
    sessions (or ``pytest -n``) against the same namespace.
``TZ_TEST_S3_URL``
    S3 endpoint (MinIO) reachable **under the same URL from this process and from the pods**.
    TZ signs presigned URLs for that host and port and pods use them as they are; S3 signatures
    cover the ``Host`` header, so a URL rewritten on the way (``localhost:9000`` here and
    ``minio.tz-minio:9000`` in the pods) is refused with ``SignatureDoesNotMatch``. The runbook
    uses ``http://minio.tz-minio.svc.cluster.local:9000``: the pods resolve it through cluster
    DNS, this machine through an ``/etc/hosts`` line to 127.0.0.1, where kind maps port 9000 to
    the MinIO Service's NodePort. Its port must be one the training pods' egress NetworkPolicy
    allows (443, 9000 or 7480).
``TZ_TEST_S3_BUCKET``
    An existing bucket; each test writes under ``tz-k8s-tests/<random>/`` and removes it.
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` (and optionally ``AWS_DEFAULT_REGION``)
    Credentials for that bucket. Only this process holds them; pods get presigned URLs.
``TZ_TEST_TRAINER_IMAGE``
    A trainer image the cluster's nodes have or can pull, e.g. ``images/build.sh build
    trainer-pytorch`` loaded with ``kind load``; use a tag other than ``latest`` so that the
    pods' pull policy is ``IfNotPresent``. It is the catalogue's only trainer image
    (``c.TzCluster.images``), for all three frameworks.
``TZ_TEST_TEAM`` (optional)
    A JupyterHub group of the test user, naming the team whose queue the jobs go to (default:
    no group, so the ``default_team``).
``TZ_TEST_VALUES`` (optional)
    The Helm values the queues were rendered from (default ``helm-values/values.yaml``): the
    tests read the teams there so that they pick the same LocalQueues.

Scenarios (each within 10 minutes, image pulls included; the TrainJobs of a test's jobs are
deleted afterwards, passed or failed):

- a 2-node x 1-process PyTorch DDP job (gloo, CPU) goes queued → running → succeeded, through
  Kueue's admission, with both ranks' logs in S3 under ``jobs/<user>/<id>/attempt-1/logs/``,
  metrics, the output, and its TrainJob, Secret and NetworkPolicy deleted afterwards;
- a job over its team's quota stays queued with Kueue's own reason as a ``Pending`` event;
  cancelling it deletes its TrainJob;
- a node over its memory limit: the job fails with ``OOMKilled``;
- an image that cannot be pulled: the job fails with ``ImagePullFailed`` after the grace;
- create is idempotent: a second submit of the same attempt, or a service stopped right after
  submit and started again, leaves exactly one TrainJob;
- a service restart while a job prints a line per second: the job succeeds, every line once;
- TensorFlow (``code``) and custom (``command``) jobs on 2 nodes get ``RANK``, ``WORLD_SIZE``
  and a resolvable ``MASTER_ADDR`` (and ``TF_CONFIG``).
- a published dataset version reaches both nodes of a job through presigned URLs, read-only
  for the pods' non-root user, and is recorded in the job's lineage.

Not here, because a real cluster cannot be made to produce them on demand: a watch answered
``410 Gone``, an API server outage of 60 s, a create answered with an error though stored (409
adoption after a 504), ``403`` quota denials, and orphans in both directions across a restart.
The API stand-in (``tests/fakes/kubeapi.py``) forces them in
``tests/integration/test_k8s_backend.py``, as it does the legacy PyTorchJob mode.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime

import pytest

from training_zoo.jobs.types import FINISHED
from training_zoo.k8s import trainjob as tj

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(900)]

DDP = """\
import os, time, torch, torch.distributed as dist
from training_zoo import log_metrics
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.ones(1) * (rank + 1)
dist.all_reduce(t)
print(f"rank {rank} of {world} sum {int(t.item())}", flush=True)
log_metrics(step=0, loss=1.0 / (rank + 1))
if rank == 0:
    open(os.path.join(os.environ["TZ_OUTPUT_DIR"], "model.txt"), "w").write(str(t.item()))
time.sleep(10)  # long enough for TZ to see the job running
dist.barrier()
dist.destroy_process_group()
"""

# 64Mi allowed, 512 MiB touched in 16 MiB steps (b"x" * n writes every page: it is resident).
MEMORY_HOG = """\
import time
chunks = []
for i in range(32):
    chunks.append(b"x" * (16 << 20))
    print(f"holding {16 * (i + 1)} MiB", flush=True)
time.sleep(60)
print("not killed")
"""

SLEEPER = """\
import time
print("started", flush=True)
time.sleep(30)
print("done")
"""

COUNTER = """\
import time
for i in range(20):
    print(f"line {i}", flush=True)
    time.sleep(1)
"""

CHECK_ENV = """\
import json, os, socket, time
rank, world, master = os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["MASTER_ADDR"]
assert world == "2", world
assert master not in ("", "127.0.0.1", "localhost"), master
end = time.time() + 120
while True:  # the headless Service publishes the pods' names (not-ready addresses included)
    try:
        address = socket.getaddrinfo(master, None)[0][4][0]
        break
    except OSError:
        if time.time() > end:
            raise
        time.sleep(2)
if os.environ["TZ_FRAMEWORK"] == "tensorflow":
    tf = json.loads(os.environ["TF_CONFIG"])
    assert len(tf["cluster"]["worker"]) == 2 and tf["task"]["index"] == int(rank), tf
print(f"env ok rank {rank} of {world} master {master} at {address}", flush=True)
"""

BAD_IMAGE = "registry.invalid/tz-k8s-test/no-such-trainer:0"  # .invalid never resolves


def created_uid(manager, job_id: str) -> str | None:
    job = manager.backend.jobs.get(job_id)
    return job.state.get("uid") if job is not None and job.state.get("created") else None


def when(text: str) -> float:
    return datetime.fromisoformat(text.removesuffix("Z")).timestamp()


async def test_ddp_job_is_admitted_runs_and_succeeds_with_both_ranks_archived(tz):
    manager = await tz.service()
    job = await tz.submit(manager, name="ddp", code=DDP, nodes=2, procs_per_node=1)
    job_id, name = job["id"], tj.object_name(job["id"], 1)
    assert job["status"] == "queued"
    running = await tz.wait_status(manager, job_id, {"running"} | FINISHED)
    assert running["status"] == "running", await tz.describe(manager, job_id)

    # While it runs: one TrainJob in the team's queue, its Secret (presigned URLs, never the S3
    # key) and NetworkPolicy, and a pod per node.
    [trainjob] = await tz.kube.trainjobs(job_id)
    assert trainjob["metadata"]["name"] == name
    assert trainjob["metadata"]["labels"][tj.KUEUE_QUEUE_LABEL] == tz.queue
    secret = await tz.kube.secret_data(tj.secret_name(name))
    assert secret is not None and {"output_url_0", "output_url_1", "cell.py"} <= set(secret)
    if tz.settings.secret_key != tz.settings.access_key:  # the key id is in every URL
        assert not any(tz.settings.secret_key in value for value in secret.values())
    policy = await tz.kube.network_policy(tj.secret_name(name))
    assert policy is not None
    assert policy["spec"]["podSelector"] == {"matchLabels": {tj.JOBSET_NAME_LABEL: name}}
    pods = await tz.until(lambda: _pods(tz, name, 2), "a pod per node")
    assert len(pods) == 2

    done = await tz.finished(manager, job_id)
    assert done["status"] == "succeeded", await tz.describe(manager, job_id)
    reasons = [r for r, _ in await tz.events(manager, job_id)]
    assert reasons[:3] == ["Created", "Queued", "Submitted"]
    assert {"Admitted", "NodeExited", "Succeeded"} <= set(reasons)
    assert (f"admitted by Kueue ClusterQueue {tz.queue}") in [
        m for r, m in await tz.events(manager, job_id) if r == "Admitted"
    ]
    assert done["started"] and done["finished"] and done["exit_code"] == 0

    # Archived before the end was reported; the objects go with the TrainJob.
    for rank in (0, 1):
        key = f"jobs/{tz.user.name}/{job_id}/attempt-1/logs/rank-{rank}.log"
        assert f"rank {rank} of 2 sum 3" in tz.storage.get_bytes(key).decode(), key
    await tz.until(lambda: tz.kube.no_trainjob(job_id), "the TrainJob deleted", timeout=120)
    await tz.until(lambda: _gone_secret(tz, name), "its Secret garbage-collected", timeout=120)
    # Read back from storage once the spool is gone.
    manager.backend.spool_dir = str(tz.workdir / "fresh-spool")
    assert "rank 1 of 2 sum 3" in await tz.logs(manager, job_id, rank=1)
    assert await manager.log_ranks(tz.user, job_id) == [0, 1]
    points, _ = await manager.metrics(tz.user, job_id, None)
    assert sorted(p["rank"] for p in points) == [0, 1]
    assert tz.storage.get_bytes(f"jobs/{tz.user.name}/{job_id}/output/model.txt") == b"3.0"


async def _pods(tz, name: str, count: int):
    pods = await tz.kube.pods_of(name)
    return pods if len(pods) >= count else None


async def _gone_secret(tz, name: str) -> bool:
    return await tz.kube.secret_data(tj.secret_name(name)) is None


async def test_a_job_over_the_team_quota_stays_queued_with_kueues_reason_until_cancelled(tz):
    # More CPU per node than the whole cohort owns: Kueue can never admit it.
    cpus = 1024  # the largest a spec may ask for
    cohort = tz.cluster.team_for(tz.user.groups).cohort
    owned = sum(_cores(t.cpu) for t in tz.cluster.all_teams() if t.cohort == cohort)
    assert owned < cpus, f"the cohort {cohort} owns {owned} CPUs: this scenario needs fewer"
    manager = await tz.service()
    job = await tz.submit(manager, name="too-big", resources_per_node={"cpus": cpus})
    job_id, name = job["id"], tj.object_name(job["id"], 1)

    pending = await tz.until(lambda: _messages(tz, manager, job_id, "Pending"), "a Pending event",
                             explain=lambda: tz.describe(manager, job_id))  # fmt: skip
    assert any("insufficient quota" in m and "cpu" in m for m in pending), pending

    # The message is Kueue's own: the condition of the job's Workload.
    async def from_kueue():
        wl = await tz.kube.workload_of(name)
        conditions = (wl or {}).get("status", {}).get("conditions") or []
        said = {c.get("message") for c in conditions if c.get("status") == "False"}
        return said & set(await _messages(tz, manager, job_id, "Pending") or [])

    await tz.until(from_kueue, "the Pending event carries the Workload's message")
    await asyncio.sleep(10)
    view = await manager.get(tz.user, job_id)
    assert view["status"] == "queued", await tz.describe(manager, job_id)
    [trainjob] = await tz.kube.trainjobs(job_id)
    assert trainjob["spec"].get("suspend") is True  # held by Kueue
    assert await tz.kube.pods_of(name) == []

    await manager.cancel(tz.user, job_id)
    done = await tz.finished(manager, job_id)
    assert done["status"] == "cancelled" and done["message"] == f"cancelled by {tz.user.name}"
    await tz.until(lambda: tz.kube.no_trainjob(job_id), "the TrainJob deleted", timeout=120)


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


async def _messages(tz, manager, job_id: str, reason: str) -> list[str] | None:
    found = [m for r, m in await tz.events(manager, job_id) if r == reason]
    return found or None


async def test_a_node_over_its_memory_limit_fails_the_job_as_oomkilled(tz):
    manager = await tz.service()
    job = await tz.submit(manager, name="oom", framework="custom", code=MEMORY_HOG,
                          resources_per_node={"memory": "64Mi"})  # fmt: skip
    done = await tz.finished(manager, job["id"])
    assert done["status"] == "failed", await tz.describe(manager, job["id"])
    assert done["reason"] == "OOMKilled", await tz.describe(manager, job["id"])
    assert "node 0" in done["message"] and done["exit_code"]
    assert "OOMKilled" in [r for r, _ in await tz.events(manager, job["id"])]
    assert "not killed" not in await tz.logs(manager, job["id"])
    await tz.until(lambda: tz.kube.no_trainjob(job["id"]), "the TrainJob deleted", timeout=120)


async def test_an_image_that_cannot_be_pulled_fails_the_job_after_the_grace(tz):
    manager = await tz.service(image_pull_grace=30)
    job = await tz.submit(manager, name="bad-image", image=BAD_IMAGE)
    done = await tz.finished(manager, job["id"])
    assert done["status"] == "failed", await tz.describe(manager, job["id"])
    assert done["reason"] == "ImagePullFailed", await tz.describe(manager, job["id"])
    assert BAD_IMAGE in done["message"]
    pulls = [e for e in await manager.events(tz.user, job["id"])
             if e["reason"] in ("ErrImagePull", "ImagePullBackOff")]  # fmt: skip
    assert pulls, await tz.describe(manager, job["id"])
    assert when(done["finished"]) - when(pulls[0]["time"]) >= 29  # the grace, not the first error
    await tz.until(lambda: tz.kube.no_trainjob(job["id"]), "the TrainJob deleted", timeout=120)


async def test_submitting_the_same_attempt_twice_leaves_one_trainjob(tz):
    manager = await tz.service()
    job = await tz.submit(manager, name="twice", code=SLEEPER)
    job_id = job["id"]
    uid = await tz.until(lambda: created_uid(manager, job_id), "the TrainJob created")
    # The same attempt again, as a fresh process would hold it (nothing known about it): the
    # create meets 409 AlreadyExists and adopts the object.
    again = dataclasses.replace(manager.backend.jobs[job_id], state={})
    await manager.backend.submit(again)
    await tz.until(lambda: again.state.get("created"), "the second create adopted the TrainJob")
    assert again.state["uid"] == uid
    trainjobs = await tz.kube.trainjobs(job_id)
    assert [t["metadata"]["uid"] for t in trainjobs] == [uid]
    done = await tz.finished(manager, job_id)
    assert done["status"] == "succeeded", await tz.describe(manager, job_id)


async def test_a_service_stopped_right_after_submit_creates_one_trainjob_once_back(tz):
    first = await tz.service()
    job = await tz.submit(first, name="early-stop", code=SLEEPER)
    job_id = job["id"]
    await tz.stop(first)  # the create may be in flight, done, or not started
    second = await tz.service()
    uid = await tz.until(lambda: created_uid(second, job_id), "the TrainJob created or adopted")
    assert [t["metadata"]["uid"] for t in await tz.kube.trainjobs(job_id)] == [uid]
    done = await tz.finished(second, job_id)
    assert done["status"] == "succeeded", await tz.describe(second, job_id)


async def test_a_service_restart_mid_job_loses_and_repeats_no_line(tz):
    first = await tz.service()
    job = await tz.submit(first, name="restart", code=COUNTER)
    job_id = job["id"]
    await tz.until(lambda: _has(tz, first, job_id, "line 2"), "line 2 streamed",
                   interval=0.5, explain=lambda: tz.describe(first, job_id))  # fmt: skip
    uid = created_uid(first, job_id)
    await tz.stop(first)
    await asyncio.sleep(6)  # lines printed while TZ is down
    assert [t["metadata"]["uid"] for t in await tz.kube.trainjobs(job_id)] == [uid]
    second = await tz.service()
    done = await tz.finished(second, job_id)
    assert done["status"] == "succeeded", await tz.describe(second, job_id)
    expected = [f"line {i}" for i in range(20)]
    lines = await tz.logs(second, job_id)
    assert [line for line in lines if line.startswith("line ")] == expected, lines
    key = f"jobs/{tz.user.name}/{job_id}/attempt-1/logs/rank-0.log"
    archived = tz.storage.get_bytes(key).decode().splitlines()
    assert [line for line in archived if line.startswith("line ")] == expected
    # Re-adopted, never created again: one Submitted event, from the first service.
    assert [r for r, _ in await tz.events(second, job_id)].count("Submitted") == 1


async def _has(tz, manager, job_id: str, text: str) -> bool:
    return text in await tz.logs(manager, job_id)


@pytest.mark.parametrize("framework", ["tensorflow", "custom"])
async def test_tensorflow_and_custom_jobs_get_rank_world_size_and_master_addr(tz, framework):
    manager = await tz.service()
    program = ({"code": CHECK_ENV} if framework == "tensorflow"
               else {"command": ["python", "-c", CHECK_ENV]})  # fmt: skip
    job = await tz.submit(manager, name=f"env-{framework}", framework=framework, nodes=2,
                          **program)  # fmt: skip
    done = await tz.finished(manager, job["id"])
    assert done["status"] == "succeeded", await tz.describe(manager, job["id"])
    for rank in (0, 1):
        lines = await tz.logs(manager, job["id"], rank=rank)
        assert any(line.startswith(f"env ok rank {rank} of 2 master ") for line in lines), lines


READS_PETS = """\
import os
import training_zoo.datasets as tzd
ds = tzd.open("pets:V001")
cat = ds.split("train")[0]
print("files", sorted(f.key for f in ds), cat.label, cat.path.read_bytes(), flush=True)
try:
    open(ds.root / "files" / "new.txt", "w")
    print("writable yes", flush=True)
except OSError:
    print("writable no", flush=True)
"""


async def test_a_dataset_version_reaches_every_node_read_only(tz):
    from training_zoo.datasets.manager import TzDatasetManager
    from training_zoo.datasets.workspace import TzWorkspace

    manager = await tz.service()
    me = dataclasses.replace(tz.user, scopes=frozenset({
        "custom:tz:datasets:read", "custom:tz:datasets:write"}))  # fmt: skip
    ws = TzWorkspace(storage=tz.storage)
    dm = TzDatasetManager(storage=tz.storage, workspace=ws,
                          session_factory=manager.sessions)  # fmt: skip
    manager.datasets = dm
    for name, data in (("cat.jpg", b"cat-bytes"), ("dog.jpg", b"dog-bytes")):
        await ws.write_bytes(me, f"user:{me.name}", f"pets-src/{name}", data)
    ds = await dm.create(me, {"name": "pets", "type": "image_classification",
                              "labels": ["cat", "dog"]})  # fmt: skip
    await dm.add_files(me, ds["id"], {"source": "workspace", "space": f"user:{me.name}",
                                      "path": "pets-src"})  # fmt: skip
    items, _ = await dm.files(me, ds["id"], limit=10)
    for f in items:
        label, usage = ("cat", "train") if f["key"] == "cat.jpg" else ("dog", "val")
        await dm.annotate(me, ds["id"], {"key": f["key"], "revision": f["revision"],
                                         "annotations": {"labels": [label]}, "usage": usage})
    await dm.publish(me, ds["id"], {"note": "k8s"})
    job = await tz.submit(manager, name="pets", framework="custom", nodes=2,
                          command=["python", "-c", READS_PETS], datasets=["pets:V001"])
    done = await tz.finished(manager, job["id"])
    assert done["status"] == "succeeded", await tz.describe(manager, job["id"])
    for rank in (0, 1):  # each node fetched its own copy; pods run as uid 1000: read-only holds
        lines = await tz.logs(manager, job["id"], rank=rank)
        assert "files ['cat.jpg', 'dog.jpg'] cat b'cat-bytes'" in lines, lines
        assert "writable no" in lines, lines
    assert [d["version"] for d in done["lineage"]["datasets"]] == ["V001"]
