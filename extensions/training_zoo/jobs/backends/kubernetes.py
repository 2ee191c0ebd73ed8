"""The production job backend: each TZ job attempt is a Kubeflow Trainer ``TrainJob`` (or a legacy
``PyTorchJob``) queued by Kueue.

How it keeps track, in the manner of KubeSpawner's reflector:

- **Watch caches.** One list-then-watch loop per kind (TrainJobs, their pods, Kueue Workloads) keeps
  a local copy of every object TZ owns. A watch that ends resumes from its last resourceVersion;
  one answered 410 Gone relists, and since a job's status is *computed from the current objects*
  (level-triggered), a relist cannot lose a transition that happened during the gap. An API
  outage only delays updates: the loops retry with backoff and catch up.
- **Deterministic names** (``dns_label(job id + attempt)``) make create idempotent: a retried
  create meets 409 AlreadyExists and adopts the object that is there.
- **Reconcile on start.** Every unfinished job in the database is matched with its object: a
  running one is re-adopted, a vanished one is failed, one never created is created; an object
  labelled as TZ's whose job is not active is deleted. No orphan either way.
- **Logs outlive pods.** Pod logs are streamed while pods run (a pod's lines carry their rank,
  see :mod:`training_zoo.jobs.pod_rank`) into per-rank files in a local spool, the same files the
  local backend writes; when the attempt ends they are archived to TZ storage before the final
  status is reported, and read back from storage when the spool is gone.
- **No platform secret in a pod**: code and output travel through presigned URLs for one object
  each, in a Secret owned by the TrainJob.

Kubernetes-facing code only; the job lifecycle rules (retries, ownership) stay in the manager.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from traitlets import Enum, Float, Instance, Integer, List, Unicode, default

from ...errors import InvalidRequest
from ...k8s import trainjob as tj
from ...k8s.catalog import Flavor, TzCluster
from ...runtime import METRIC_MARK
from ...storage import TzStorage
from ..types import CANCELLED, FAILED, RUNNING, SUCCEEDED
from . import spool
from .base import BackendJob, Event, JobUpdate, TzJobBackend, UpdateCallback
from .inputs import InputsUnavailable, build_plan

TORCH_RESERVED_ENV = {"PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR",
                      "PET_MASTER_PORT", "MASTER_ADDR", "MASTER_PORT"}  # fmt: skip
IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError"}
LEGACY_JOB_LABEL = "training.kubeflow.org/job-name"
LEGACY_INDEX_LABEL = "training.kubeflow.org/replica-index"
LEGACY_TYPE_LABEL = "training.kubeflow.org/replica-type"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
TRANSIENT = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def condition(obj: dict | None, kind: str) -> dict | None:
    """The condition of type ``kind`` when its status is True."""
    for cond in (obj or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def any_condition(obj: dict | None, kind: str) -> dict | None:
    for cond in (obj or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


class Reflector:
    """List, then watch from the list's resourceVersion; relist on 410; retry through outages."""

    def __init__(
        self,
        backend: TzKubernetesBackend,
        kind: str,
        list_call: Callable[..., Awaitable[Any]],
        args: tuple,
        kwargs: dict[str, Any],
    ) -> None:
        self.backend, self.kind = backend, kind
        self.list_call, self.args, self.kwargs = list_call, args, kwargs
        self.objects: dict[str, dict] = {}
        self.synced = asyncio.Event()
        self.available = True  # False when the kind is not installed (no Kueue, say)
        self.resyncs = 0

    async def _list(self) -> str:
        response = await self.list_call(*self.args, **self.kwargs, _preload_content=False)
        data = json.loads(await checked(response))
        items = {o["metadata"]["name"]: o for o in data.get("items") or []}
        gone = set(self.objects) - set(items)
        self.objects = items
        self.resyncs += 1
        await self.backend._on_objects(self.kind, list(items.values()), gone, listed=True)
        self.synced.set()
        return data["metadata"]["resourceVersion"]

    async def run(self) -> None:
        log = self.backend.log
        rv: str | None = None
        delay = self.backend.retry_delay
        while True:
            try:
                if rv is None:
                    rv = await self._list()
                stream = watch.Watch().stream(
                    self.list_call, *self.args, **self.kwargs, resource_version=rv,
                    timeout_seconds=self.backend.watch_timeout, allow_watch_bookmarks=True,
                )  # fmt: skip
                async with stream:
                    async for event in stream:
                        obj = event["raw_object"]
                        rv = obj.get("metadata", {}).get("resourceVersion") or rv
                        if event["type"] == "BOOKMARK":
                            continue
                        name = obj["metadata"]["name"]
                        if event["type"] == "DELETED":
                            self.objects.pop(name, None)
                            await self.backend._on_objects(self.kind, [], {name})
                        else:
                            self.objects[name] = obj
                            await self.backend._on_objects(self.kind, [obj], set())
                delay = self.backend.retry_delay
            except asyncio.CancelledError:
                raise
            except ApiException as e:
                if e.status == 410:
                    log.info("Watch of %s expired (410); relisting", self.kind)
                    rv = None
                    continue
                if e.status == 404 and self.kind == "workloads":
                    log.warning("Kueue Workloads are not served; queue reasons unavailable")
                    self.available = False
                    self.synced.set()
                    return
                log.warning("Watch of %s failed (%s %s); retrying", self.kind, e.status, e.reason)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backend.retry_delay_max)
            except TRANSIENT as e:
                log.warning("Kubernetes API unreachable watching %s (%s); retrying", self.kind, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backend.retry_delay_max)


class TzKubernetesBackend(TzJobBackend):
    """Runs jobs as Kubeflow Trainer TrainJobs on Kubernetes, queued by Kueue."""

    name = "kubernetes"
    in_containers = True

    storage = Instance(TzStorage)
    cluster = Instance(TzCluster)

    @default("cluster")
    def _default_cluster(self) -> TzCluster:
        return TzCluster(parent=self)

    api_url = Unicode(
        "",
        help="""URL of the Kubernetes API server, without authentication (e.g. ``kubectl proxy``).

        Empty: the in-cluster service account when running in a pod, else ``kubeconfig``.
        Default: empty.
        """,
    ).tag(config=True)

    kubeconfig = Unicode(
        "", help="Kubeconfig file used outside a cluster. Default: ``$KUBECONFIG`` or ~/.kube."
    ).tag(config=True)

    mode = Enum(
        ["trainjob", "pytorchjob"],
        "trainjob",
        help="""Which Kubeflow API jobs become.

        ``trainjob``: Kubeflow Trainer v2 ``TrainJob`` (all frameworks). ``pytorchjob``: the
        legacy Training Operator v1.9 ``PyTorchJob`` for clusters without Trainer v2 (PyTorch
        and custom jobs only). Default: ``trainjob``.
        """,
    ).tag(config=True)

    default_memory = Unicode(
        "8Gi",
        help="Memory per node for jobs that do not set resources_per_node.memory. Default: 8Gi.",
    ).tag(config=True)

    image_pull_secrets = List(
        Unicode(),
        help="Secrets (in the jobs namespace) for pulling trainer images, e.g. from Harbor.",
    ).tag(config=True)

    presign_expiry = Integer(
        7 * 24 * 3600,
        help="""Seconds a job's presigned URLs (code, output, and the files of its dataset and
        model versions) stay valid (S3 allows at most 604800). A job queued longer cannot fetch
        its inputs, one that runs longer cannot upload its output. Default: 604800 (7 days).""",
    ).tag(config=True)

    spool_dir = Unicode(
        help="""Local folder where pod logs and metrics are collected while jobs run, before
        they are archived to storage. Default: ``$TZ_HOME/k8s-spool``.""",
    ).tag(config=True)

    @default("spool_dir")
    def _default_spool_dir(self) -> str:
        return os.path.join(os.environ.get("TZ_HOME", os.path.abspath(".tz")), "k8s-spool")

    watch_timeout = Integer(
        300, help="Seconds one watch request lasts before it is renewed. Default: 300."
    ).tag(config=True)

    retry_delay = Float(
        0.5, help="First delay, in seconds, before retrying a failed API call. Default: 0.5."
    ).tag(config=True)

    retry_delay_max = Float(
        30.0, help="Longest delay, in seconds, between retries of API calls. Default: 30."
    ).tag(config=True)

    queue_poll_interval = Float(
        5.0,
        help="""Seconds between reads of Kueue's pending-workloads (visibility) API for queue
        positions, while jobs are queued. Default: 5.""",
    ).tag(config=True)

    image_pull_grace = Float(
        300.0,
        help="""Seconds a pod may fail to pull its image before the job fails (a typo in an
        image name would otherwise wait forever). Default: 300.""",
    ).tag(config=True)

    log_drain_timeout = Float(
        30.0,
        help="""Seconds to wait, when a job ends, for its pods' last log lines before archiving.
        Default: 30.""",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs: dict[str, BackendJob] = {}  # unfinished attempts TZ tracks, by job id
        self.on_update: UpdateCallback | None = None
        self.api: client.ApiClient | None = None
        self.reflectors: dict[str, Reflector] = {}
        self._tasks: list[asyncio.Task] = []
        self._creating: dict[str, asyncio.Task] = {}
        self._finishing: dict[str, asyncio.Task] = {}
        self._streams: dict[str, asyncio.Task] = {}
        self._positions: dict[str, int] = {}
        self._pull_failing: dict[str, float] = {}

    # ---- names and placement ---------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.cluster.namespace

    @property
    def kind(self) -> tuple[str, str, str]:
        """(group, version, plural) of the job objects."""
        if self.mode == "pytorchjob":
            return tj.LEGACY_GROUP, tj.LEGACY_VERSION, "pytorchjobs"
        return tj.TRAINER_GROUP, tj.TRAINER_VERSION, "trainjobs"

    def _flavor(self, job: BackendJob) -> Flavor | None:
        """The smallest GPU flavor the owner may use that fits the job, None for CPU jobs."""
        gpus = job.spec.resources_per_node.gpus
        if not gpus:
            return None
        fitting = [f for f in self.cluster.flavors_for(set(job.groups)) if f.gpus >= gpus]
        return min(fitting, key=lambda f: f.gpus) if fitting else None

    def placement(self, job: BackendJob) -> tj.Placement:
        spec = job.spec
        image = spec.image or self.cluster.trainer_image(
            spec.framework, cuda=spec.resources_per_node.gpus > 0
        ).image
        return tj.Placement(
            namespace=self.namespace,
            image=image,
            queue=self.cluster.team_for(job.groups).queue,
            flavor=self._flavor(job),
            memory=self.default_memory,
            image_pull_secrets=tuple(self.image_pull_secrets),
        )

    def manifest(self, job: BackendJob) -> dict[str, Any]:
        """The object this backend creates for ``job`` (what ``tz k8s render-job`` prints)."""
        build = tj.build_pytorchjob if self.mode == "pytorchjob" else tj.build_trainjob
        return build(job, self.placement(job))

    def check_fits(self, job: BackendJob) -> str | None:
        spec = job.spec
        if self.mode == "pytorchjob" and spec.framework == "tensorflow":
            raise InvalidRequest.field(
                "framework", "this cluster runs legacy PyTorchJobs: tensorflow jobs need Trainer v2"
            )
        if spec.framework == "pytorch":
            for key in spec.env:
                if key in TORCH_RESERVED_ENV:
                    raise InvalidRequest.field(f"env.{key}", "is set by Kubeflow Trainer")
        if spec.resources_per_node.gpus and self._flavor(job) is None:
            allowed = [f.gpus for f in self.cluster.flavors_for(set(job.groups))]
            return (
                f"{spec.resources_per_node.gpus} GPUs per node is more than any flavor you may "
                f"use offers (largest: {max(allowed, default=0)})"
            )
        return None

    # ---- life cycle ------------------------------------------------------------------------

    async def _connect(self) -> client.ApiClient:
        if self.api_url:
            return client.ApiClient(client.Configuration(host=self.api_url))
        cfg = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException:
            await config.load_kube_config(
                config_file=self.kubeconfig or None, client_configuration=cfg
            )
        return client.ApiClient(cfg)

    async def start(self, on_update: UpdateCallback, active: list[BackendJob]) -> None:
        self.cluster.validate()
        try:
            await asyncio.to_thread(self.storage.presigned_url, "probe", "GET", 60)
        except Exception as e:  # noqa: BLE001 - any reason means pods could not get their code
            raise RuntimeError(
                f"TzKubernetesBackend needs object storage that can sign URLs for pods "
                f"(TzStorage.url s3://..., with credentials): {e}"
            ) from None
        self.on_update = on_update
        self.api = await self._connect()
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        group, version, plural = self.kind
        selector = f"{tj.MANAGED_BY[0]}={tj.MANAGED_BY[1]}"
        pod_selector = LEGACY_JOB_LABEL if self.mode == "pytorchjob" else tj.JOBSET_NAME_LABEL
        for job in active:
            self.jobs[job.id] = job
        self.reflectors = {
            "jobs": Reflector(self, "jobs", self.custom.list_namespaced_custom_object,
                              (group, version, self.namespace, plural),
                              {"label_selector": selector}),
            "pods": Reflector(self, "pods", self.core.list_namespaced_pod, (self.namespace,),
                              {"label_selector": pod_selector}),
            "workloads": Reflector(self, "workloads", self.custom.list_namespaced_custom_object,
                                   ("kueue.x-k8s.io", "v1beta2", self.namespace, "workloads"),
                                   {}),
        }  # fmt: skip
        for reflector in self.reflectors.values():
            self._tasks.append(asyncio.create_task(reflector.run()))
        self._tasks.append(asyncio.create_task(self._poll_queue_positions()))

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._creating.values(), *self._finishing.values(),
                 *self._streams.values()]  # fmt: skip
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self.api is not None:
            await self.api.close()

    async def _emit(self, update: JobUpdate) -> None:
        if self.on_update is not None:
            await self.on_update(update)

    async def _save_state(self, job: BackendJob, events: list[Event] | None = None) -> None:
        await self._emit(JobUpdate(job.id, job.attempt, events=events or [],
                                   state=dict(job.state)))  # fmt: skip

    # ---- create ----------------------------------------------------------------------------

    async def submit(self, job: BackendJob) -> None:
        self.jobs[job.id] = job
        job.state.setdefault("name", tj.object_name(job.id, job.attempt))
        self._start_create(job)

    def _start_create(self, job: BackendJob) -> None:
        if job.id not in self._creating:
            self._creating[job.id] = asyncio.create_task(self._create(job))

    def _secret_files(self, job: BackendJob) -> dict[str, str]:
        # One archive per node: like the local backend's shared folder, output/ ends up with what
        # every node wrote (nodes writing the same file: the higher node wins).
        files = {f"output_url_{node}": self.storage.presigned_url(
            f"{job.job_key}/output-node-{node}.tar.gz", "PUT", self.presign_expiry)
            for node in range(job.spec.nodes)}  # fmt: skip
        if job.snapshot_key:
            files["code_url"] = self.storage.presigned_url(
                job.snapshot_key, "GET", self.presign_expiry
            )
        if job.spec.code is not None:
            files["cell.py"] = job.spec.code
        if job.datasets or job.models:
            files["inputs_url"] = self.storage.presigned_url(
                self._inputs_key(job), "GET", self.presign_expiry
            )
        return files

    def _inputs_key(self, job: BackendJob) -> str:
        return f"{job.job_key}/attempt-{job.attempt}/inputs.json"

    def _write_inputs_plan(self, job: BackendJob) -> None:
        """What the pods fetch before the ranks start (:mod:`.inputs`): written before the job
        object exists, so a version that cannot be read fails the job without a pod."""
        plan = build_plan(self.storage, job.datasets, job.models, self.presign_expiry)
        self.storage.put_bytes(self._inputs_key(job), json.dumps(plan).encode())

    async def _prepare_inputs(self, job: BackendJob) -> bool:
        """Write the job's input plan, retrying while storage is unreachable; False when the
        inputs cannot be had (the job is failed with the reason)."""
        delay = self.retry_delay
        while True:
            try:
                await asyncio.to_thread(self._write_inputs_plan, job)
                return True
            except InputsUnavailable as e:
                await self._finish(job, FAILED, "InputsUnavailable", str(e), None)
                return False
            except OSError as e:
                self.log.warning("Job %s: cannot write its input plan (%s); retrying", job.id, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_delay_max)

    async def _create(self, job: BackendJob) -> None:
        """Create the job object and its Secret, retrying until it exists or cannot be made."""
        group, version, plural = self.kind
        body = self.manifest(job)
        name = body["metadata"]["name"]
        delay = self.retry_delay
        try:
            if (job.datasets or job.models) and not await self._prepare_inputs(job):
                return
            while True:
                try:
                    created = await self.custom.create_namespaced_custom_object(
                        group, version, self.namespace, plural, body
                    )
                    break
                except ApiException as e:
                    if e.status == 409:
                        created = await self.custom.get_namespaced_custom_object(
                            group, version, self.namespace, plural, name
                        )
                        if created["metadata"].get("labels", {}).get(tj.JOB_LABEL) != job.id:
                            raise
                        self.log.info("Job %s: %s %s already exists; adopted", job.id,
                                      body["kind"], name)  # fmt: skip
                        break
                    message = _api_message(e)
                    if e.status == 403:
                        # Quota frees up and RBAC gets fixed: say why, and keep trying.
                        quota = "exceeded quota" in message
                        await self._event_once(job, "QuotaExceeded" if quota else "Forbidden",
                                               message, "Warning")  # fmt: skip
                    elif e.status < 500 and e.status != 429:
                        refused = f"Kubernetes refused the {body['kind']}: {message}"
                        await self._finish(job, FAILED, "CreateFailed", refused, None)
                        return
                    else:
                        self.log.warning("Create of %s failed (%s); retrying", name, e.status)
                except TRANSIENT as e:
                    self.log.warning("Kubernetes API unreachable creating %s (%s)", name, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_delay_max)
            job.state.update(name=name, created=True, uid=created["metadata"]["uid"])
            await self._save_state(job, [Event(
                "Submitted", f"{body['kind']} {self.namespace}/{name} created in queue "
                f"{body['metadata']['labels'][tj.KUEUE_QUEUE_LABEL]}")])  # fmt: skip
            await self._create_owned(job, created)
            await self._evaluate(job.id)
        finally:
            self._creating.pop(job.id, None)

    async def _create_owned(self, job: BackendJob, owner: dict) -> None:
        """The job's Secret and NetworkPolicy, owned by its object (deleted with it)."""
        name = owner["metadata"]["name"]
        files = await asyncio.to_thread(self._secret_files, job)
        secret = tj.build_secret(name, self.namespace, owner, files)
        label = LEGACY_JOB_LABEL if self.mode == "pytorchjob" else tj.JOBSET_NAME_LABEL
        policy = tj.build_network_policy(name, self.namespace, owner, label)
        await self._create_retrying(self.core.create_namespaced_secret, secret)
        networking = client.NetworkingV1Api(self.api)
        await self._create_retrying(networking.create_namespaced_network_policy, policy)
        job.state["owned"] = True
        await self._save_state(job)

    async def _create_retrying(self, create: Callable[..., Awaitable[Any]], body: dict) -> None:
        delay = self.retry_delay
        while True:
            try:
                await create(self.namespace, body)
                return
            except ApiException as e:
                if e.status == 409:
                    return
                if e.status < 500:
                    raise
            except TRANSIENT:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_delay_max)

    # ---- watching --------------------------------------------------------------------------

    def _job_for(self, kind: str, obj: dict) -> str | None:
        """The TZ job id an object belongs to, or None."""
        meta = obj.get("metadata", {})
        labels = meta.get("labels") or {}
        if kind == "jobs":
            return labels.get(tj.JOB_LABEL)
        if kind == "pods":
            name = labels.get(tj.JOBSET_NAME_LABEL) or labels.get(LEGACY_JOB_LABEL)
        else:
            owners = meta.get("ownerReferences") or []
            name = next((o["name"] for o in owners if o.get("kind") in ("TrainJob", "PyTorchJob")),
                        None)  # fmt: skip
        for job in self.jobs.values():
            if job.state.get("name") == name:
                return job.id
        return None

    async def _on_objects(
        self, kind: str, objects: list[dict], gone: set[str], *, listed: bool = False
    ) -> None:
        """Called by the reflectors with changed and vanished objects (all of them on a list)."""
        touched = {job_id for obj in objects if (job_id := self._job_for(kind, obj))}
        if kind == "pods":
            for obj in objects:
                self._follow_pod(obj)
        if kind == "jobs":
            for job in list(self.jobs.values()):
                if job.state.get("name") in gone and job.id not in self._finishing:
                    await self._vanished(job)
            if listed:
                await self._reconcile_jobs()
        for job_id in touched:
            await self._evaluate(job_id)

    async def _vanished(self, job: BackendJob) -> None:
        """The job's object is gone though TZ did not delete it: confirm, then fail the job."""
        group, version, plural = self.kind
        try:
            obj = await self.custom.get_namespaced_custom_object(
                group, version, self.namespace, plural, job.state["name"]
            )
        except ApiException as e:
            if e.status != 404:
                return  # cannot tell now; the next list decides
            gone = f"{job.state['name']} was deleted outside TZ"
            await self._finish(job, FAILED, "Deleted", gone, None)
        except TRANSIENT:
            return
        else:
            self.reflectors["jobs"].objects.setdefault(obj["metadata"]["name"], obj)

    async def _reconcile_jobs(self) -> None:
        """After a (re)list: adopt what exists, create what is missing, fail what vanished, and
        delete objects labelled as TZ's that no active job owns."""
        cached = self.reflectors["jobs"].objects
        names = {j.state.get("name") or tj.object_name(j.id, j.attempt): j
                 for j in self.jobs.values()}  # fmt: skip
        for name, obj in list(cached.items()):
            if name not in names:
                self.log.warning("Deleting orphan %s %s (no active TZ job)", obj["kind"], name)
                self._tasks.append(asyncio.create_task(self._delete_object(name)))
        for name, job in names.items():
            if job.id in self._finishing or job.id in self._creating:
                continue
            job.state.setdefault("name", name)
            if name in cached:
                if not job.state.get("owned"):
                    # Created just before a crash: its Secret and policy may be missing.
                    job.state.update(created=True, uid=cached[name]["metadata"]["uid"])
                    await self._create_owned(job, cached[name])
            elif job.state.get("created"):
                await self._vanished(job)
            else:
                self._start_create(job)

    def _pods_of(self, job: BackendJob) -> list[dict]:
        name = job.state.get("name")
        pods = self.reflectors["pods"].objects.values() if self.reflectors else []
        label = LEGACY_JOB_LABEL if self.mode == "pytorchjob" else tj.JOBSET_NAME_LABEL
        return [p for p in pods if (p["metadata"].get("labels") or {}).get(label) == name]

    def _workload_of(self, job: BackendJob) -> dict | None:
        name = job.state.get("name")
        for wl in self.reflectors["workloads"].objects.values():
            if any(o.get("name") == name for o in wl["metadata"].get("ownerReferences") or []):
                return wl
        return None

    def _node_index(self, pod: dict) -> int:
        meta = pod["metadata"]
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        value = notes.get(COMPLETION_INDEX) or labels.get(COMPLETION_INDEX)
        if value is None and self.mode == "pytorchjob":
            index = int(labels.get(LEGACY_INDEX_LABEL, "0"))
            return index + (1 if labels.get(LEGACY_TYPE_LABEL) == "worker" else 0)
        return int(value or 0)

    async def _event_once(
        self, job: BackendJob, reason: str, message: str, kind: str = "Normal"
    ) -> None:
        key = f"{reason}:{message}"
        seen = job.state.setdefault("seen", [])
        if key in seen:
            return
        seen.append(key)
        await self._save_state(job, [Event(reason, message, kind)])

    async def _evaluate(self, job_id: str) -> None:
        """Derive the job's status from the cached objects and report what changed."""
        job = self.jobs.get(job_id)
        if job is None or job_id in self._finishing or not job.state.get("created"):
            return
        obj = self.reflectors["jobs"].objects.get(job.state["name"])
        if obj is None:
            return  # a relist decides (_reconcile_jobs)
        pods = sorted(self._pods_of(job), key=self._node_index)
        workload = self._workload_of(job)
        if workload is not None:
            await self._queue_events(job, workload)
        exit_code, oom = await self._pod_events(job, pods)
        if job_id in self._finishing:
            return
        complete = condition(obj, "Complete") or condition(obj, "Succeeded")
        failed = condition(obj, "Failed")
        if complete:
            await self._finish(job, SUCCEEDED, "Succeeded", complete.get("message") or "", 0)
        elif failed:
            reason, message = failed.get("reason") or "Failed", failed.get("message") or ""
            if reason == "DeadlineExceeded":
                reason, message = "Timeout", f"the job ran longer than {job.spec.timeout:g} s"
            elif oom is not None:
                reason = "OOMKilled"
                message = f"node {oom} was killed for using more memory than its limit"
            await self._finish(job, FAILED, reason, message, exit_code if exit_code else 1)
        elif job.state.get("status") != RUNNING and self._running(obj, pods):
            started = min((t for p in pods if (t := _pod_started(p))), default=time.time())
            job.state["status"] = RUNNING
            await self._emit(JobUpdate(job.id, job.attempt, status=RUNNING, reason="Running",
                                       started=started, state=dict(job.state)))  # fmt: skip

    def _running(self, obj: dict, pods: list[dict]) -> bool:
        if obj.get("spec", {}).get("suspend") or condition(obj, "Suspended"):
            return False
        return any(p.get("status", {}).get("phase") == "Running" for p in pods)

    async def _queue_events(self, job: BackendJob, workload: dict) -> None:
        admitted = any_condition(workload, "Admitted")
        reserved = any_condition(workload, "QuotaReserved")
        if admitted and admitted.get("status") == "True":
            queue = (workload.get("status", {}).get("admission") or {}).get("clusterQueue")
            await self._event_once(job, "Admitted", f"admitted by Kueue ClusterQueue {queue}"
                                   if queue else "admitted by Kueue")  # fmt: skip
        else:
            pending = reserved if reserved and reserved.get("status") == "False" else admitted
            if pending and pending.get("status") == "False" and pending.get("message"):
                await self._event_once(job, "Pending", pending["message"])
        evicted = condition(workload, "Evicted")
        if evicted:
            await self._event_once(job, "Evicted", evicted.get("message") or evicted["reason"],
                                   "Warning")  # fmt: skip

    async def _pod_events(self, job: BackendJob, pods: list[dict]) -> tuple[int, int | None]:
        """Events for waiting and ended containers; the first non-zero exit code; OOM node."""
        exit_code, oom = 0, None
        pulling = False
        for pod in pods:
            node = self._node_index(pod)
            for status in pod.get("status", {}).get("containerStatuses") or []:
                state = status.get("state") or {}
                waiting, ended = state.get("waiting"), state.get("terminated")
                # A runtime that restarts containers in place keeps the OOM kill in lastState.
                ended = ended or (status.get("lastState") or {}).get("terminated")
                if waiting and waiting.get("reason") in IMAGE_PULL_REASONS | CONFIG_REASONS:
                    message = f"node {node}: {waiting['reason']}: {waiting.get('message', '')}"
                    await self._event_once(job, waiting["reason"], message.strip(), "Warning")
                    pulling = True
                    first = self._pull_failing.setdefault(job.id, time.monotonic())
                    if time.monotonic() - first >= self.image_pull_grace:
                        await self._finish(job, FAILED, "ImagePullFailed", message, None)
                        return exit_code, oom
                if ended:
                    code = int(ended.get("exitCode", 0))
                    reason = ended.get("reason") or ""
                    if reason == "OOMKilled":
                        oom = node if oom is None else oom
                        await self._event_once(job, "OOMKilled", f"node {node} "
                                               f"({pod['metadata']['name']}) used more memory "
                                               "than its limit and was killed", "Warning")
                    await self._event_once(job, "NodeExited", f"node {node} exited with code "
                                           f"{code}" + (f" ({reason})" if reason else ""),
                                           "Warning" if code else "Normal")  # fmt: skip
                    if code and not exit_code:
                        exit_code = code
        if not pulling:
            self._pull_failing.pop(job.id, None)
        return exit_code, oom

    # ---- logs -------------------------------------------------------------------------------

    def attempt_dir(self, job: BackendJob) -> Path:
        return Path(self.spool_dir) / job.owner / job.id / f"attempt-{job.attempt}"

    def _follow_pod(self, pod: dict) -> None:
        name = pod["metadata"]["name"]
        if name in self._streams:
            return
        job_id = self._job_for("pods", pod)
        job = self.jobs.get(job_id or "")
        if job is None:
            return
        statuses = pod.get("status", {}).get("containerStatuses") or []
        if not any(("running" in (s.get("state") or {})) or ("terminated" in (s.get("state")
                   or {})) for s in statuses):  # fmt: skip
            return
        self._streams[name] = asyncio.create_task(self._stream_pod(job, pod))

    async def _stream_pod(self, job: BackendJob, pod: dict) -> None:
        """Copy a pod's log into the spool, skipping lines already copied before a restart."""
        name = pod["metadata"]["name"]
        container = "pytorch" if self.mode == "pytorchjob" else "node"
        run = self.attempt_dir(job)
        first_rank = self._node_index(pod) * job.spec.procs_per_node
        delay = self.retry_delay
        try:
            while True:
                done = await asyncio.to_thread(self._read_offset, run, name)
                try:
                    response = await self.core.read_namespaced_pod_log(
                        name, self.namespace, container=container, follow=True,
                        _preload_content=False,
                    )  # fmt: skip
                    if response.status >= 400:
                        await checked(response)
                    seen = 0
                    async for raw in response.content:
                        seen += 1
                        if seen <= done:
                            continue
                        # One thread call: a cancel cannot fall between line and offset.
                        await asyncio.to_thread(self._spool, run, name, first_rank, raw, seen)
                    response.release()
                    if self._pod_ended(name):
                        return
                    # The follow ended but the pod has not (a server-side timeout, or the
                    # watch has not told us yet): look again shortly, skipping what we have.

                except ApiException as e:
                    if e.status == 404:
                        return  # the pod is gone
                except TRANSIENT:
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_delay_max)
        finally:
            self._streams.pop(name, None)

    def _pod_ended(self, name: str) -> bool:
        pod = self.reflectors["pods"].objects.get(name)
        if pod is None:
            return True
        statuses = pod.get("status", {}).get("containerStatuses") or []
        return bool(statuses) and all("terminated" in (s.get("state") or {}) for s in statuses)

    # How many lines of each pod's log are already in the spool, one small file per pod (pods
    # stream concurrently), so a restarted service neither loses nor repeats a line.

    @staticmethod
    def _read_offset(run: Path, pod: str) -> int:
        try:
            return int((run / "pods" / pod).read_text())
        except (OSError, ValueError):
            return 0

    @staticmethod
    def _write_offset(run: Path, pod: str, lines: int) -> None:
        path = run / "pods" / pod
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(lines))
        os.replace(tmp, path)

    @classmethod
    def _spool(cls, run: Path, pod: str, default_rank: int, raw: bytes, seen: int) -> None:
        cls._spool_line(run, default_rank, raw)
        cls._write_offset(run, pod, seen)

    @staticmethod
    def _spool_line(run: Path, default_rank: int, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\n")
        rank = default_rank
        if text.startswith("[rank "):
            head, _, rest = text.partition("] ")
            if head[6:].isdigit():
                rank, text = int(head[6:]), rest
        text, mark, record = text.partition(METRIC_MARK)
        (run / "logs").mkdir(parents=True, exist_ok=True)
        if text or not mark:
            with open(run / "logs" / f"rank-{rank}.log", "a") as f:
                f.write(text + "\n")
        if mark:
            try:
                point = json.loads(record)
            except ValueError:
                return
            (run / "metrics").mkdir(parents=True, exist_ok=True)
            with open(run / "metrics" / f"rank-{rank}.jsonl", "a") as f:
                f.write(json.dumps(point) + "\n")

    async def _ensure_spool(self, job: BackendJob) -> Path:
        """The attempt's spool folder; fetched back from storage after the job was archived."""
        run = self.attempt_dir(job)
        if job.id not in self.jobs and not run.exists():
            key = f"{job.job_key}/attempt-{job.attempt}"
            await asyncio.to_thread(self._download, key, run)
        return run

    def _download(self, key: str, run: Path) -> None:
        if not self.storage.exists(key):
            return
        tmp = Path(tempfile.mkdtemp(dir=run.parent if run.parent.exists() else None))
        try:
            self.storage.fs.get(self.storage.path(key) + "/", str(tmp), recursive=True)
            run.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, run)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    async def log_ranks(self, job: BackendJob) -> list[int]:
        return spool.log_ranks(await self._ensure_spool(job) / "logs")

    async def get_job_logs(
        self,
        job: BackendJob,
        rank: int | None,
        follow: bool,
        tail: int | None,
        is_done: Callable[[], Awaitable[bool]],
    ) -> AsyncIterator[tuple[int, str]]:
        run = await self._ensure_spool(job)
        async for item in spool.follow_logs(run / "logs", rank, follow, tail, is_done):
            yield item

    async def get_job_metrics(self, job: BackendJob, cursor: str | None) -> tuple[list[dict], str]:
        return spool.read_metrics(await self._ensure_spool(job) / "metrics", cursor)

    # ---- ending -----------------------------------------------------------------------------

    async def _finish(
        self, job: BackendJob, status: str, reason: str, message: str, exit_code: int | None
    ) -> None:
        if job.id not in self._finishing:
            self._finishing[job.id] = asyncio.create_task(
                self._wrap_up(job, status, reason, message, exit_code)
            )

    async def _wrap_up(
        self, job: BackendJob, status: str, reason: str, message: str, exit_code: int | None
    ) -> None:
        """Drain logs, archive them and the output, delete the object, then report the end."""
        try:
            # Pods still running (a cancel, an image that never came) go first, so their log
            # streams end; pods that ended keep their logs until the streams have drained.
            stop_first = status == CANCELLED or reason == "ImagePullFailed"
            if stop_first and job.state.get("created"):
                await self._delete_object(job.state["name"])
            pending = [t for n, t in self._streams.items() if n.startswith(job.state.get("name",
                       "\0"))]  # fmt: skip
            if pending:
                await asyncio.wait(pending, timeout=self.log_drain_timeout)
            run = self.attempt_dir(job)
            events = [Event(reason, message, "Normal" if status == SUCCEEDED else "Warning")]
            try:
                await asyncio.to_thread(self._archive, job, run)
            except Exception as e:  # noqa: BLE001 - a storage failure must not hide the status
                self.log.exception("Job %s: archiving logs and output failed", job.id)
                events.append(Event("ArchiveFailed", f"logs or output not archived: {e}",
                                    "Warning"))  # fmt: skip
            if job.state.get("created") and not stop_first:
                await self._delete_object(job.state["name"])
            self.jobs.pop(job.id, None)
            self._positions.pop(job.id, None)
            self._pull_failing.pop(job.id, None)
            await self._emit(JobUpdate(
                job.id, job.attempt, status=status, reason=reason, message=message,
                exit_code=exit_code, events=events, state=dict(job.state), finished=time.time(),
            ))  # fmt: skip
        finally:
            self._finishing.pop(job.id, None)

    def _archive(self, job: BackendJob, run: Path) -> None:
        if run.exists():
            self.storage.put_dir(run, f"{job.job_key}/attempt-{job.attempt}")
        keys = [f"{job.job_key}/output-node-{node}.tar.gz" for node in range(job.spec.nodes)]
        keys = [key for key in keys if self.storage.exists(key)]
        if not keys:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for key in keys:
                data = self.storage.get_bytes(key)
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                    tar.extractall(tmp, filter="data")
            self.storage.put_dir(Path(tmp), f"{job.job_key}/output")
        for key in keys:
            self.storage.delete(key)

    async def _delete_object(self, name: str) -> None:
        group, version, plural = self.kind
        delay = self.retry_delay
        while True:
            try:
                await self.custom.delete_namespaced_custom_object(
                    group, version, self.namespace, plural, name,
                    body={"propagationPolicy": "Foreground"},
                )  # fmt: skip
                return
            except ApiException as e:
                if e.status == 404:
                    return
                self.log.warning("Delete of %s failed (%s); retrying", name, e.status)
            except TRANSIENT:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_delay_max)

    async def cancel(self, job: BackendJob, by: str) -> None:
        job = self.jobs.get(job.id, job)
        task = self._creating.pop(job.id, None)
        if task is not None:
            task.cancel()
        job.state["cancelled_by"] = by
        await self._finish(job, CANCELLED, "Cancelled", f"cancelled by {by}", None)

    async def delete(self, job: BackendJob) -> None:
        await asyncio.to_thread(shutil.rmtree, Path(self.spool_dir) / job.owner / job.id, True)

    # ---- queue -----------------------------------------------------------------------------

    def queue_position(self, job_id: str) -> int | None:
        return self._positions.get(job_id)

    def capacity(self) -> dict[str, Any]:
        """Teams' nominal quota as the total, TZ's running jobs as the use (Kueue may lend
        idle quota across a cohort, so use can exceed a team's share)."""
        teams = self.cluster.all_teams()
        running = [j for j in self.jobs.values() if j.state.get("status") == RUNNING]
        return {
            "total": {
                "cpus": sum(_cores(t.cpu) for t in teams),
                "gpus": sum(t.gpus for t in teams),
            },
            "used": {
                "cpus": sum(j.spec.nodes * j.spec.resources_per_node.cpus for j in running),
                "gpus": sum(j.spec.nodes * j.spec.resources_per_node.gpus for j in running),
            },
            "namespace": self.namespace,
            "queues": [t.queue for t in teams],
        }

    async def _poll_queue_positions(self) -> None:
        """Queue positions from Kueue's VisibilityOnDemand API, while any job waits."""
        while True:
            await asyncio.sleep(self.queue_poll_interval)
            # Image pulls that keep failing produce no new event: look at them again.
            for job_id in list(self._pull_failing):
                await self._evaluate(job_id)
            waiting = [j for j in self.jobs.values()
                       if j.state.get("created") and j.state.get("status") != RUNNING]  # fmt: skip
            if not waiting:
                self._positions.clear()
                continue
            positions: dict[str, int] = {}
            for queue in {self.cluster.team_for(j.groups).queue for j in waiting}:
                path = (f"/apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/{self.namespace}"
                        f"/localqueues/{queue}/pendingworkloads")  # fmt: skip
                try:
                    response = await self.api.call_api(
                        path, "GET", response_types_map={200: "object"},
                        auth_settings=["BearerToken"],
                        _preload_content=False, _return_http_data_only=True,
                    )  # fmt: skip
                    data = json.loads(await checked(response))
                except (ApiException, ValueError, *TRANSIENT) as e:
                    self.log.debug("Kueue visibility API unavailable: %s", e)
                    continue
                for item in data.get("items") or []:
                    owners = item.get("metadata", {}).get("ownerReferences") or []
                    for job in waiting:
                        if any(o.get("name") == job.state.get("name") for o in owners):
                            positions[job.id] = int(item.get("positionInLocalQueue", 0)) + 1
            self._positions = positions


async def checked(response: aiohttp.ClientResponse) -> bytes:
    """The body of a ``_preload_content=False`` response, raising ``ApiException`` on errors
    (the client does not check the status when it does not read the body itself)."""
    body = await response.read()
    if response.status >= 400:
        response.release()
        error = ApiException(status=response.status, reason=response.reason)
        error.body = body.decode("utf-8", "replace")
        raise error
    return body


def _api_message(e: ApiException) -> str:
    try:
        return json.loads(e.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(e.reason)


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _pod_started(pod: dict) -> float | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        running = (status.get("state") or {}).get("running")
        if running:
            return parse_time(running.get("startedAt"))
    return parse_time(pod.get("status", {}).get("startTime"))


__all__ = ["TzKubernetesBackend"]
