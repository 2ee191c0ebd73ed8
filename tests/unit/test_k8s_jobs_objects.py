"""Every object the Kubernetes job backend and ``tz k8s-render`` generate validates against the real
schemas (Kubeflow Trainer v2.3 and Training Operator v1.9 CRDs, Kueue v0.19 CRDs, Kubernetes 1.30),
and carries what a job needs: its queue, its resources, no platform secret."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import kubeschema
import pytest
import yaml

from training_zoo.errors import InvalidRequest
from training_zoo.jobs.backends.base import BackendJob
from training_zoo.jobs.backends.kubernetes import TzKubernetesBackend
from training_zoo.jobs.types import parse_spec
from training_zoo.k8s import render
from training_zoo.k8s.catalog import TzCluster
from training_zoo.k8s.queues import kueue_objects
from training_zoo.k8s.trainjob import (
    KUEUE_QUEUE_LABEL,
    NAME_LIMIT,
    build_network_policy,
    build_secret,
    cluster_training_runtimes,
    object_name,
)
from training_zoo.storage import TzStorage

ROOT = Path(__file__).parents[2]
TEAMS = {"default": {"cpu": 16, "memory": "64Gi", "gpus": 0},
         "vision": {"cpu": 64, "memory": "512Gi", "gpus": 16}}  # fmt: skip


def backend(mode: str = "trainjob") -> TzKubernetesBackend:
    cluster = TzCluster(teams=TEAMS)
    return TzKubernetesBackend(cluster=cluster, storage=TzStorage(url="/nonexistent"), mode=mode)


def job(framework: str, nodes: int, gpus: int, **extra) -> BackendJob:
    body = {"name": "resnet", "framework": framework, "nodes": nodes, "procs_per_node": 2,
            "resources_per_node": {"gpus": gpus, "cpus": 4}, "timeout": 3600,
            "env": {"LR": "0.1"}, **extra}  # fmt: skip
    if framework == "custom":
        body["command"] = ["python", "train.py"]
    else:
        body["code"] = "print('hi')"
    return BackendJob(id="resnet-0a1b2c3d", owner="alice", attempt=1, spec=parse_spec(body),
                      created=0, snapshot_key=None, job_key="jobs/alice/resnet-0a1b2c3d",
                      groups=("vision",))  # fmt: skip


CASES = list(itertools.product(("pytorch", "tensorflow", "custom"), (1, 2, 4), (0, 1, 8)))


@pytest.mark.parametrize(("framework", "nodes", "gpus"), CASES)
def test_trainjobs_validate_and_ask_for_what_the_spec_says(framework, nodes, gpus):
    obj = backend().manifest(job(framework, nodes, gpus))
    kubeschema.validate(obj)
    trainer = obj["spec"]["trainer"]
    assert trainer["numNodes"] == nodes and trainer["numProcPerNode"] == 2
    limits = trainer["resourcesPerNode"]["limits"]
    assert limits["nvidia.com/gpu"] == str(gpus)  # explicit, 0 included
    assert trainer["resourcesPerNode"]["requests"] == limits
    assert obj["spec"]["runtimeRef"]["name"] == f"tz-{framework}"
    assert obj["metadata"]["labels"][KUEUE_QUEUE_LABEL] == TzCluster(teams=TEAMS).team_for(
        {"vision"}
    ).queue
    assert obj["spec"]["activeDeadlineSeconds"] == 3600
    patch = obj["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    pod = patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    assert pod["volumes"][0]["secret"]["secretName"] == f"{obj['metadata']['name']}-tz"
    if gpus:
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    else:
        assert "nodeSelector" not in pod
    image = trainer["image"]
    assert ("tensorflow" in image) == (framework == "tensorflow")


@pytest.mark.parametrize(("nodes", "gpus"), [(1, 0), (2, 1), (3, 8)])
def test_legacy_pytorchjobs_validate(nodes, gpus):
    obj = backend("pytorchjob").manifest(job("pytorch", nodes, gpus))
    kubeschema.validate(obj)
    replicas = obj["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1
    assert replicas.get("Worker", {"replicas": 0})["replicas"] == nodes - 1
    assert obj["spec"]["runPolicy"]["suspend"] is True  # Kueue admits it
    pod = replicas["Master"]["template"]
    assert kubeschema.pss_restricted({"kind": "Pod", "apiVersion": "v1", **pod}) == []


def test_the_pod_gets_no_platform_secret():
    """Only presigned URLs for this job's objects travel, in an owned Secret, as files."""
    obj = backend().manifest(job("pytorch", 2, 1))
    text = json.dumps(obj)
    for secret in ("AWS_", "JUPYTERHUB_API_TOKEN", "TZ_DB_URL", "https://", "X-Amz"):
        assert secret not in text
    owner = {**obj, "metadata": {**obj["metadata"], "uid": "u-1"}}
    secret = build_secret(obj["metadata"]["name"], "training-zoo", owner, {"code_url": "x"})
    kubeschema.validate(secret)
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    policy = build_network_policy(obj["metadata"]["name"], "training-zoo", owner, "job-label")
    kubeschema.validate(policy)
    assert policy["metadata"]["ownerReferences"][0]["uid"] == "u-1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"env": {"PET_NNODES": "3"}}, "env.PET_NNODES"),
        ({"env": {"MASTER_PORT": "1"}}, "env.MASTER_PORT"),
    ],
)
def test_specs_the_cluster_cannot_run_are_refused_naming_the_field(body, field):
    with pytest.raises(InvalidRequest) as e:
        backend().check_fits(job("pytorch", 1, 0, **body))
    assert field in str(e.value)


def test_more_gpus_than_any_flavor_is_refused():
    assert "largest: 8" in backend().check_fits(job("pytorch", 1, 16))


def test_tensorflow_needs_trainer_v2():
    with pytest.raises(InvalidRequest, match="framework"):
        backend("pytorchjob").check_fits(job("tensorflow", 1, 0))


def test_names_are_deterministic_collision_free_dns_labels():
    names = {object_name(f"job-{i:04d}", a) for i in range(500) for a in (1, 2)}
    assert len(names) == 1000
    long = object_name("x" * 80, 1)
    assert long == object_name("x" * 80, 1) and len(long) <= NAME_LIMIT
    assert all(n[0].isalpha() and n.replace("-", "").isalnum() for n in names)


@pytest.mark.parametrize("obj", cluster_training_runtimes() + kueue_objects(TzCluster(teams=TEAMS)),
                         ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")  # fmt: skip
def test_runtimes_and_queues_validate(obj):
    kubeschema.validate(obj)


def test_each_team_gets_a_cluster_queue_and_a_local_queue_with_its_quota():
    objs = kueue_objects(TzCluster(teams=TEAMS, namespace="jobs"))
    cqs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ClusterQueue"}
    lqs = [o for o in objs if o["kind"] == "LocalQueue"]
    assert len(cqs) == len(lqs) == 2
    vision = TzCluster(teams=TEAMS).team_for({"vision"}).queue
    quota = cqs[vision]["spec"]["resourceGroups"][0]["flavors"][0]["resources"]
    assert {r["name"]: r["nominalQuota"] for r in quota} == {
        "cpu": "64", "memory": "512Gi", "nvidia.com/gpu": 16}  # fmt: skip
    assert all(lq["metadata"]["namespace"] == "jobs" for lq in lqs)


def test_shipped_generated_manifests_are_current_and_valid():
    """helm-values/generated/ is exactly what tz k8s-render makes of helm-values/values.yaml."""
    values_path = ROOT / "helm-values" / "values.yaml"
    values = yaml.safe_load(values_path.read_text())
    for name, objects in render.render(values).items():
        shipped = ROOT / "helm-values" / "generated" / name
        assert shipped.exists(), f"run: tz k8s-render (missing {shipped})"
        assert shipped.read_text() == render.dump(objects, "helm-values/values.yaml"), (
            f"{shipped} is stale; run: tz k8s-render"
        )
        for obj in objects:
            kubeschema.validate(obj)


@pytest.mark.parametrize(
    "runtime", cluster_training_runtimes(), ids=lambda o: o["metadata"]["name"]
)
def test_training_pods_are_restricted_and_never_restart_in_place(runtime):
    job = runtime["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": job["template"]["spec"]}  # fmt: skip
    assert kubeschema.pss_restricted(pod) == []
    assert pod["spec"]["restartPolicy"] == "Never" and job["backoffLimit"] == 0
    assert pod["spec"]["automountServiceAccountToken"] is False  # no Kubernetes API in jobs


def test_jobs_with_dataset_and_model_inputs_fit_the_cluster():
    # Pods fetch them through the job's input plan (tests/integration/test_k8s_backend.py).
    j = job("pytorch", 1, 0)
    j.datasets = [{"ref": "pets:V001", "name": "pets"}]
    j.models = [{"ref": "shapes-cnn:1", "name": "shapes-cnn"}]
    assert backend().check_fits(j) is None
