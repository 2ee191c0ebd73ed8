"""The Kubeflow objects of a TZ job: a Trainer v2 ``TrainJob`` (or a legacy ``PyTorchJob``), its
per-job ``Secret``, and the ``ClusterTrainingRuntime`` s TZ ships.

A TZ job spec maps one to one onto a TrainJob: ``nodes`` is ``numNodes``, ``procs_per_node`` is
``numProcPerNode``, ``resources_per_node`` is ``resourcesPerNode``. The pod never sees a platform
secret: its code comes from a presigned GET URL and its output goes to a presigned PUT URL, both
for one object only, in a Secret owned by the TrainJob (so Kubernetes deletes it with the job)
and mounted as files, never as environment variables that a ``ps`` or crash dump could show.

Names are deterministic (``dns_label(job id + attempt)``): creating the same attempt twice meets
409 AlreadyExists instead of a duplicate, which is what makes create idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..jobs.backends.base import BackendJob
from .catalog import GPU_RESOURCE, Flavor, dns_label

TRAINER_GROUP, TRAINER_VERSION = "trainer.kubeflow.org", "v1alpha1"
TRAINER_API = f"{TRAINER_GROUP}/{TRAINER_VERSION}"
LEGACY_GROUP, LEGACY_VERSION = "kubeflow.org", "v1"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
MANAGED_BY = ("app.kubernetes.io/managed-by", "training-zoo")
JOB_LABEL = "training-zoo.io/job-id"
ATTEMPT_LABEL = "training-zoo.io/attempt"
OWNER_ANNOTATION = "training-zoo.io/owner"
PATCH_MANAGER = "training-zoo.io/backend"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
SECRETS_DIR = "/var/run/training-zoo"
WORKSPACE = "/workspace"
TF_PORT = 2222
TORCH_PORT = 29500
# JobSet pod hostnames are <name>-node-0-<index> and must stay a 63-character DNS label.
NAME_LIMIT = 40

RUNTIMES = {"pytorch": "tz-pytorch", "tensorflow": "tz-tensorflow", "custom": "tz-custom"}


def object_name(job_id: str, attempt: int) -> str:
    """The TrainJob name of one attempt: stable across retries of the create call."""
    return dns_label(f"{job_id}-{attempt}", NAME_LIMIT)


def secret_name(name: str) -> str:
    return f"{name}-tz"


@dataclass(frozen=True)
class Placement:
    """Where and how a job's pods run: image, team queue, and the flavor's scheduling rules."""

    namespace: str
    image: str
    queue: str
    flavor: Flavor | None
    memory: str
    image_pull_secrets: tuple[str, ...] = ()


def _program(job: BackendJob) -> list[str]:
    spec = job.spec
    if spec.command:
        return ["--command", *spec.command, *spec.args]
    script = "__tz_cell__.py" if spec.code is not None else spec.entry
    return [str(script), *spec.args]


def _env(job: BackendJob) -> list[dict[str, str]]:
    spec = job.spec
    tz = {
        "TZ_JOB_ID": job.id,
        "TZ_ATTEMPT": str(job.attempt),
        "TZ_FRAMEWORK": spec.framework,
        "TZ_PROGRAM": json.dumps(_program(job)),
        "TZ_NUM_NODES": str(spec.nodes),
        "TZ_PROCS_PER_NODE": str(spec.procs_per_node),
        "TZ_OUTPUT_DIR": f"{WORKSPACE}/output",
        "TZ_SECRETS_DIR": SECRETS_DIR,
        "TZ_METRICS_STDOUT": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env = [{"name": k, "value": v} for k, v in tz.items()]
    env += [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    return env


def _resources(job: BackendJob, placement: Placement) -> dict[str, dict[str, str]]:
    res = job.spec.resources_per_node
    cpu = str(int(res.cpus)) if float(res.cpus).is_integer() else f"{int(res.cpus * 1000)}m"
    amounts = {"cpu": cpu, "memory": res.memory or placement.memory, GPU_RESOURCE: str(res.gpus)}
    # Requests equal limits: Kueue accounts requests, and GPUs allow nothing else.
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _labels(job: BackendJob, placement: Placement) -> dict[str, str]:
    return {
        MANAGED_BY[0]: MANAGED_BY[1],
        JOB_LABEL: job.id,
        ATTEMPT_LABEL: str(job.attempt),
        KUEUE_QUEUE_LABEL: placement.queue,
    }


def _pod_patch(name: str, placement: Placement, container: str) -> dict[str, Any]:
    """Per-job pod settings: the Secret's files, and the GPU flavor's node selector."""
    spec: dict[str, Any] = {
        "volumes": [{"name": "tz-job", "secret": {"secretName": secret_name(name),
                                                  "defaultMode": 0o440}}],
        "containers": [{"name": container, "volumeMounts": [
            {"name": "tz-job", "mountPath": SECRETS_DIR, "readOnly": True}]}],
    }  # fmt: skip
    if placement.flavor is not None and placement.flavor.node_selector:
        spec["nodeSelector"] = dict(placement.flavor.node_selector)
    if placement.flavor is not None and placement.flavor.tolerations:
        spec["tolerations"] = [dict(t) for t in placement.flavor.tolerations]
    if placement.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in placement.image_pull_secrets]
    return spec


def build_trainjob(job: BackendJob, placement: Placement) -> dict[str, Any]:
    """The ``TrainJob`` (Kubeflow Trainer v2.3) of one attempt."""
    spec = job.spec
    name = object_name(job.id, job.attempt)
    trainjob: dict[str, Any] = {
        "apiVersion": TRAINER_API,
        "kind": "TrainJob",
        "metadata": {
            "name": name,
            "namespace": placement.namespace,
            "labels": _labels(job, placement),
            "annotations": {OWNER_ANNOTATION: job.owner},
        },
        "spec": {
            "runtimeRef": {"name": RUNTIMES[spec.framework], "apiGroup": TRAINER_GROUP,
                           "kind": "ClusterTrainingRuntime"},
            "trainer": {
                "image": placement.image,
                "command": ["python", "-m", "training_zoo.jobs.pod_entry"],
                "numNodes": spec.nodes,
                "numProcPerNode": spec.procs_per_node,
                "resourcesPerNode": _resources(job, placement),
                "env": _env(job),
            },
            "runtimePatches": [{
                "manager": PATCH_MANAGER,
                "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [{
                    "name": "node",
                    "template": {"spec": {"template": {"spec": _pod_patch(name, placement,
                                                                          "node")}}},
                }]}}},
            }],
        },
    }  # fmt: skip
    if spec.timeout:
        trainjob["spec"]["activeDeadlineSeconds"] = max(1, int(spec.timeout))
    return trainjob


def build_pytorchjob(job: BackendJob, placement: Placement) -> dict[str, Any]:
    """The legacy ``PyTorchJob`` (Training Operator v1.9) of one attempt, for clusters without
    Trainer v2. One Master plus ``nodes - 1`` Workers, ``nprocPerNode`` processes each."""
    spec = job.spec
    name = object_name(job.id, job.attempt)
    pod = {
        "metadata": {"labels": {MANAGED_BY[0]: MANAGED_BY[1], JOB_LABEL: job.id}},
        "spec": {
            **pod_security(),
            "restartPolicy": "Never",
            "containers": [{
                "name": "pytorch",
                "image": placement.image,
                "command": ["python", "-m", "training_zoo.jobs.pod_entry"],
                "env": _env(job),
                "resources": _resources(job, placement),
                "ports": [{"name": "pytorchjob-port", "containerPort": TORCH_PORT}],
                "securityContext": container_security(),
                "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
            }],
            "volumes": [{"name": "workspace", "emptyDir": {}}],
        },
    }  # fmt: skip
    patch = _pod_patch(name, placement, "pytorch")
    pod["spec"]["volumes"] += patch.pop("volumes")
    pod["spec"]["containers"][0]["volumeMounts"] += patch.pop("containers")[0]["volumeMounts"]
    pod["spec"].update(patch)
    replicas: dict[str, Any] = {
        "Master": {"replicas": 1, "restartPolicy": "Never", "template": pod},
    }
    if spec.nodes > 1:
        replicas["Worker"] = {"replicas": spec.nodes - 1, "restartPolicy": "Never",
                              "template": pod}  # fmt: skip
    job_spec: dict[str, Any] = {
        "nprocPerNode": str(spec.procs_per_node),
        "runPolicy": {
            "cleanPodPolicy": "None",
            "backoffLimit": 0,
            "suspend": True,
        },  # Kueue unsuspends it on admission  # fmt: skip
        "pytorchReplicaSpecs": replicas,
    }
    if spec.timeout:
        job_spec["runPolicy"]["activeDeadlineSeconds"] = max(1, int(spec.timeout))
    return {
        "apiVersion": f"{LEGACY_GROUP}/{LEGACY_VERSION}",
        "kind": "PyTorchJob",
        "metadata": {
            "name": name,
            "namespace": placement.namespace,
            "labels": _labels(job, placement),
            "annotations": {OWNER_ANNOTATION: job.owner},
        },
        "spec": job_spec,
    }


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    """Makes an object go when ``owner`` (the job's TrainJob) is deleted."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "blockOwnerDeletion": False, "controller": False}  # fmt: skip


def build_secret(
    name: str, namespace: str, owner: dict[str, Any] | None, files: dict[str, str]
) -> dict[str, Any]:
    """The per-job Secret (presigned URLs, notebook cell code), owned by its TrainJob."""
    meta: dict[str, Any] = {
        "name": secret_name(name),
        "namespace": namespace,
        "labels": {MANAGED_BY[0]: MANAGED_BY[1]},
    }
    if owner is not None:
        meta["ownerReferences"] = [owner_reference(owner)]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta,
            "stringData": dict(files)}  # fmt: skip


def build_network_policy(
    name: str, namespace: str, owner: dict[str, Any], pod_label: str
) -> dict[str, Any]:
    """Ingress to a job's pods from that job's pods only (any port: NCCL and Gloo pick ephemeral
    ports after rendezvous). The namespace denies all other ingress; owned by the TrainJob."""
    own = {"matchLabels": {pod_label: name}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": secret_name(name),
            "namespace": namespace,
            "labels": {MANAGED_BY[0]: MANAGED_BY[1]},
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {"podSelector": own, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"podSelector": own}]}]},
    }  # fmt: skip


# ---- what the cluster needs once: the runtimes --------------------------------------------------


def pod_security() -> dict[str, Any]:
    """Pod-level settings of Pod Security "restricted"; training needs no privilege."""
    return {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 100,
                            "fsGroup": 100, "seccompProfile": {"type": "RuntimeDefault"}},
    }  # fmt: skip


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _runtime(name: str, framework: str, ml_policy: dict, ports: list[dict]) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{
        "name": "TZ_JOBSET_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOBSET_NAME_LABEL}']"}},
    }]  # fmt: skip
    container = {
        "name": "node",
        "image": "registry.example.com/training-zoo/trainer-pytorch:0.1.0",
        "command": ["python", "-m", "training_zoo.jobs.pod_entry"],
        "env": env,
        "ports": ports,
        "securityContext": container_security(),
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE},
                         {"name": "dshm", "mountPath": "/dev/shm"}],
    }  # fmt: skip
    pod_spec = {
        **pod_security(),
        # JobSet defaults to OnFailure, which restarts a failed or OOM-killed node in place: the
        # user's script would run twice and the OOM reason would hide in lastState.
        "restartPolicy": "Never",
        "containers": [container],
        # NCCL and DataLoader workers need more shared memory than the container default.
        "volumes": [{"name": "workspace", "emptyDir": {}},
                    {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}],
    }  # fmt: skip
    return {
        "apiVersion": TRAINER_API,
        "kind": "ClusterTrainingRuntime",
        "metadata": {
            "name": name,
            "labels": {"trainer.kubeflow.org/framework": framework, MANAGED_BY[0]: MANAGED_BY[1]},
        },
        "spec": {
            "mlPolicy": {"numNodes": 1, **ml_policy},
            "template": {"spec": {
                "network": {"enableDNSHostnames": True, "publishNotReadyAddresses": True},
                "replicatedJobs": [{
                    "name": "node",
                    "template": {
                        "metadata": {"labels": {
                            "trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}},
                        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}},
                    },
                }],
            }},
        },
    }  # fmt: skip


def cluster_training_runtimes() -> list[dict[str, Any]]:
    """The runtimes TZ jobs reference, one per framework.

    PyTorch uses Trainer's torch policy (it injects ``PET_*`` for torchrun). TensorFlow and
    custom jobs use the plain policy: the pod entry derives ``TF_CONFIG`` (or ``RANK`` and
    ``MASTER_ADDR``) from the JobSet index and the headless-service host names
    ``<jobset>-node-0-<i>.<jobset>``, since Trainer v2 ships no TensorFlow runtime.
    """
    return [
        _runtime(RUNTIMES["pytorch"], "torch", {"torch": {}},
                 [{"name": "c10d", "containerPort": TORCH_PORT}]),
        _runtime(RUNTIMES["tensorflow"], "tensorflow", {},
                 [{"name": "tf-worker", "containerPort": TF_PORT}]),
        _runtime(RUNTIMES["custom"], "custom", {},
                 [{"name": "c10d", "containerPort": TORCH_PORT}]),
    ]  # fmt: skip
