"""Fixtures of the real-cluster suite (``pytest -m k8s tests/k8s``); the variables that point it at
a cluster are described in ``test_cluster_jobs.py`` and ``tests/k8s/README.md``.

- Without them every test here is *skipped* (never errors), with the missing variable as the
  reason, also printed at the end of the run.
- ``cluster_ready`` (session, used by ``tz``): checks once that the cluster is prepared as the
  runbook says (jobs namespace, TZ's ClusterTrainingRuntimes, the team's LocalQueue, the bucket,
  no TZ service deployed that would delete the tests' TrainJobs as orphans); fails saying what is
  missing.
- ``tz``: a :class:`Harness` per test: TZ services (``TzJobManager`` + ``TzKubernetesBackend``)
  sharing one SQLite database and spool folder, helpers to wait with a deadline of
  ``SCENARIO_TIMEOUT`` seconds per test, a Kubernetes client to look at the cluster, and cleanup
  (services stopped, then the TrainJobs of the test's jobs deleted and the test's S3 prefix
  removed), which runs even when the test failed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from traitlets.config import Config

from training_zoo.db.session import make_session_factory
from training_zoo.identity import Identity
from training_zoo.jobs.manager import TzJobManager
from training_zoo.jobs.types import FINISHED
from training_zoo.k8s import trainjob as tj
from training_zoo.k8s.catalog import TzCluster
from training_zoo.k8s.render import cluster_from_values
from training_zoo.storage import TzStorage

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCENARIO_TIMEOUT = 600  # seconds per test, first image pulls included
USER = "k8s-test"
KUEUE = ("kueue.x-k8s.io", "v1beta2")
REQUIRED = ("TZ_TEST_S3_URL", "TZ_TEST_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "TZ_TEST_TRAINER_IMAGE")  # fmt: skip
SKIP_PREFIX = "no cluster configured for tests/k8s"


@dataclass(frozen=True)
class Settings:
    kubeconfig: str
    namespace: str
    s3_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    image: str
    team: str | None
    values: Path


def read_settings() -> tuple[Settings | None, str | None]:
    """The suite's settings from the environment, or why there are none (a skip reason)."""
    env = os.environ
    kubeconfig = env.get("TZ_TEST_KUBECONFIG") or env.get("KUBECONFIG") or ""
    missing = [] if kubeconfig else ["TZ_TEST_KUBECONFIG (or KUBECONFIG)"]
    missing += [name for name in REQUIRED if not env.get(name)]
    if missing:
        return None, f"{SKIP_PREFIX}: {', '.join(missing)} not set (see tests/k8s/README.md)"
    paths = [Path(p).expanduser() for p in kubeconfig.split(os.pathsep) if p]
    if not any(p.is_file() for p in paths):
        return None, f"{SKIP_PREFIX}: TZ_TEST_KUBECONFIG={kubeconfig} is not a file"
    values = Path(env.get("TZ_TEST_VALUES") or ROOT / "helm-values" / "values.yaml")
    return Settings(
        kubeconfig=kubeconfig,
        namespace=env.get("TZ_TEST_NAMESPACE") or "training-zoo",
        s3_url=env["TZ_TEST_S3_URL"].rstrip("/"),
        bucket=env["TZ_TEST_S3_BUCKET"],
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env.get("AWS_DEFAULT_REGION") or "us-east-1",
        image=env["TZ_TEST_TRAINER_IMAGE"],
        team=env.get("TZ_TEST_TEAM") or None,
        values=values,
    ), None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _, reason = read_settings()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if HERE in item.path.parents and item.get_closest_marker("k8s"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why, even under ``-q``: a run of ``-m k8s`` that only skips must not look like a pass."""
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if SKIP_PREFIX in message:
            reasons.add(message.removeprefix("Skipped: "))
    for reason in sorted(reasons):
        terminalreporter.write_line(f"tests/k8s skipped: {reason}", yellow=True)


# ---- the cluster ---------------------------------------------------------------------------------


def catalogue(settings: Settings) -> TzCluster:
    """Teams (queues and quotas) as ``tz k8s-render`` rendered them, and one trainer image for
    every framework: ``TZ_TEST_TRAINER_IMAGE``."""
    values = yaml.safe_load(settings.values.read_text()) or {}
    rendered = cluster_from_values(values)
    return TzCluster(
        namespace=settings.namespace,
        teams=dict(rendered.teams),
        default_team=rendered.default_team,
        images=[{"slug": "trainer", "display_name": "Trainer under test", "kind": "trainer",
                 "image": settings.image, "frameworks": ["pytorch", "tensorflow", "custom"],
                 "default": True}],
    )  # fmt: skip


def groups(settings: Settings) -> tuple[str, ...]:
    return (settings.team,) if settings.team else ()


async def kube_client(settings: Settings) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=settings.kubeconfig, client_configuration=cfg, persist_config=False
    )
    return client.ApiClient(cfg)


def make_storage(settings: Settings, prefix: str) -> TzStorage:
    return TzStorage(
        url=f"s3://{settings.bucket}/{prefix}",
        storage_options={
            "key": settings.access_key,
            "secret": settings.secret_key,
            "client_kwargs": {"endpoint_url": settings.s3_url, "region_name": settings.region},
            # MinIO and most gateways serve buckets as paths, not host names.
            "config_kwargs": {"s3": {"addressing_style": "path"}},
        },
    )


async def _preflight(settings: Settings, cluster: TzCluster) -> list[str]:
    api = await kube_client(settings)
    problems: list[str] = []
    try:
        try:
            response = await client.VersionApi(api).get_code(_preload_content=False)
            response.release()
        except Exception as e:  # noqa: BLE001 - any reason: say it
            return [f"cannot reach the API server of {settings.kubeconfig}: {e}"]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        ns = settings.namespace
        try:
            await core.read_namespace(ns)
        except ApiException as e:
            problems.append(f"namespace {ns}: {e.status} {e.reason} (kubectl apply -f "
                            "helm-values/generated/10-tz-service.yaml)")  # fmt: skip
        for runtime in tj.RUNTIMES.values():
            try:
                await custom.get_cluster_custom_object(
                    tj.TRAINER_GROUP, tj.TRAINER_VERSION, "clustertrainingruntimes", runtime
                )
            except ApiException as e:
                problems.append(f"ClusterTrainingRuntime {runtime}: {e.status} {e.reason} "
                                "(Trainer v2.3 installed? kubectl apply --server-side -f "
                                "helm-values/generated/20-training-runtimes.yaml)")  # fmt: skip
        queue = cluster.team_for(groups(settings)).queue
        try:
            await custom.get_namespaced_custom_object(*KUEUE, ns, "localqueues", queue)
        except ApiException as e:
            problems.append(f"LocalQueue {ns}/{queue}: {e.status} {e.reason} (Kueue installed? "
                            "kubectl apply --server-side -f "
                            "helm-values/generated/30-kueue-queues.yaml, rendered from "
                            f"{settings.values} with namespace {ns})")  # fmt: skip
        # A deployed TZ service reconciles the same namespace and deletes every TZ-labelled
        # TrainJob it does not know: the tests' jobs, within seconds.
        selector = "app.kubernetes.io/name=tz,app.kubernetes.io/component=service"
        deployments = await client.AppsV1Api(api).list_deployment_for_all_namespaces(
            label_selector=selector
        )
        for d in deployments.items:
            if d.spec.replicas:
                problems.append(
                    f"the TZ service Deployment {d.metadata.namespace}/{d.metadata.name} runs "
                    "and would delete the tests' TrainJobs as orphans: kubectl -n "
                    f"{d.metadata.namespace} scale deploy/{d.metadata.name} --replicas=0"
                )
    finally:
        await api.close()
    return problems


@pytest.fixture(scope="session")
def settings() -> Settings:
    found, reason = read_settings()
    if found is None:
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def cluster_ready(settings: Settings) -> None:
    """Once per session: is the cluster prepared as the runbook says? Fails saying what is not."""
    try:
        cluster = catalogue(settings)
        cluster.validate()
    except (OSError, ValueError, yaml.YAMLError) as e:
        pytest.fail(f"tests/k8s: cannot read the teams from {settings.values}: {e}", pytrace=False)
    problems: list[str] = []
    if settings.team is not None and settings.team not in cluster.teams:
        problems.append(f"TZ_TEST_TEAM={settings.team} is not a team of {settings.values} "
                        f"({', '.join(sorted(cluster.teams))})")  # fmt: skip
    try:
        make_storage(settings, "tz-k8s-tests").fs.ls(settings.bucket, refresh=True)
    except FileNotFoundError:
        problems.append(f"bucket {settings.bucket} does not exist at {settings.s3_url}")
    except Exception as e:  # noqa: BLE001 - any reason: say it
        problems.append(f"cannot reach S3 at {settings.s3_url}: {e}")
    problems += asyncio.run(_preflight(settings, cluster))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        pytest.fail(f"tests/k8s: the cluster is not ready (tests/k8s/README.md):\n{lines}",
                    pytrace=False)  # fmt: skip


class Kube:
    """A read-and-clean-up view of the jobs namespace, independent of the backend under test."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.networking = client.NetworkingV1Api(api)

    @staticmethod
    def selector(job_id: str) -> str:
        return f"{tj.MANAGED_BY[0]}={tj.MANAGED_BY[1]},{tj.JOB_LABEL}={job_id}"

    async def trainjobs(self, job_id: str) -> list[dict]:
        """The TrainJobs of a TZ job (those being deleted included)."""
        found = await self.custom.list_namespaced_custom_object(
            tj.TRAINER_GROUP, tj.TRAINER_VERSION, self.namespace, "trainjobs",
            label_selector=self.selector(job_id),
        )  # fmt: skip
        return found.get("items") or []

    async def no_trainjob(self, job_id: str) -> bool:
        return not await self.trainjobs(job_id)

    async def pods_of(self, name: str) -> list[dict]:
        found = await self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{tj.JOBSET_NAME_LABEL}={name}"
        )
        return [self.api.sanitize_for_serialization(p) for p in found.items]

    async def workload_of(self, name: str) -> dict | None:
        """Kueue's Workload of a TrainJob."""
        found = await self.custom.list_namespaced_custom_object(*KUEUE, self.namespace,
                                                                "workloads")  # fmt: skip
        for wl in found.get("items") or []:
            owners = wl["metadata"].get("ownerReferences") or []
            if any(o.get("kind") == "TrainJob" and o.get("name") == name for o in owners):
                return wl
        return None

    async def secret_data(self, name: str) -> dict[str, str] | None:
        try:
            secret = await self.core.read_namespaced_secret(name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    async def network_policy(self, name: str) -> dict | None:
        try:
            policy = await self.networking.read_namespaced_network_policy(name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return self.api.sanitize_for_serialization(policy)

    async def delete_trainjobs(self, job_id: str) -> None:
        for obj in await self.trainjobs(job_id):
            try:
                await self.custom.delete_namespaced_custom_object(
                    tj.TRAINER_GROUP, tj.TRAINER_VERSION, self.namespace, "trainjobs",
                    obj["metadata"]["name"], body={"propagationPolicy": "Background"},
                )  # fmt: skip
            except ApiException as e:
                if e.status != 404:
                    raise


class TzService:
    """A TzJobManager with the Kubernetes backend, configured as the TZ service would be, but
    reaching the API server through the kubeconfig (``TzKubernetesBackend.kubeconfig``)."""

    def __init__(
        self, settings: Settings, workdir: Path, storage: TzStorage, **backend: Any
    ) -> None:
        self.settings, self.workdir, self.storage, self.backend_cfg = (
            settings, workdir, storage, backend
        )  # fmt: skip
        self.manager: TzJobManager | None = None

    async def start(self) -> TzJobManager:
        s, cluster = self.settings, catalogue(self.settings)
        c = Config()
        c.TzJobManager.backend_class = "kubernetes"
        c.TzCluster.namespace = s.namespace
        c.TzCluster.teams = cluster.teams
        c.TzCluster.default_team = cluster.default_team
        c.TzCluster.images = cluster.images
        k = c.TzKubernetesBackend
        k.kubeconfig = s.kubeconfig
        k.spool_dir = str(self.workdir / "spool")
        k.default_memory = "2Gi"  # kind nodes on a laptop: torch + gloo on CPU need far less
        k.retry_delay, k.retry_delay_max = 0.5, 5.0
        k.queue_poll_interval, k.watch_timeout, k.log_drain_timeout = 2.0, 60, 30.0
        for key, value in self.backend_cfg.items():
            setattr(k, key, value)
        self.manager = TzJobManager(
            config=c, storage=self.storage,
            session_factory=make_session_factory(f"sqlite:///{self.workdir}/tz.sqlite"),
        )  # fmt: skip
        await self.manager.start()
        return self.manager

    async def stop(self) -> None:
        if self.manager is not None:
            manager, self.manager = self.manager, None
            await manager.stop()


class Harness:
    """What a scenario needs: services, the cluster, waiting with a deadline, and cleanup."""

    def __init__(self, settings: Settings, workdir: Path, kube: Kube) -> None:
        self.settings, self.workdir, self.kube = settings, workdir, kube
        self.prefix = f"tz-k8s-tests/{uuid.uuid4().hex[:12]}"
        self.storage = make_storage(settings, self.prefix)
        self.user = Identity(USER, groups=groups(settings),
                             scopes=frozenset({"custom:tz:jobs:write"}))  # fmt: skip
        self.cluster = catalogue(settings)
        self.queue = self.cluster.team_for(self.user.groups).queue
        self.deadline = time.monotonic() + SCENARIO_TIMEOUT
        self.job_ids: list[str] = []
        self.services: list[TzService] = []

    # ---- services and jobs ---------------------------------------------------------------

    async def service(self, **backend: Any) -> TzJobManager:
        """Start a TZ service; every service of a test shares its database and spool folder."""
        svc = TzService(self.settings, self.workdir, self.storage, **backend)
        self.services.append(svc)
        return await svc.start()

    async def stop(self, manager: TzJobManager) -> None:
        for svc in self.services:
            if svc.manager is manager:
                await svc.stop()

    async def submit(self, manager: TzJobManager, **spec: Any) -> dict:
        body = {"name": "k8s-test", "framework": "pytorch", **spec}
        if not any(k in body for k in ("code", "command", "entry")):
            body["code"] = "print('hello from a pod')"
        job = await manager.submit(self.user, body)
        self.job_ids.append(job["id"])
        return job

    # ---- waiting ---------------------------------------------------------------------------

    async def until(
        self,
        predicate: Callable[[], Any],
        what: str,
        *,
        timeout: float | None = None,
        interval: float = 1.0,
        explain: Callable[[], Awaitable[str]] | None = None,
    ) -> Any:
        """Poll ``predicate`` (sync or async) until truthy, within ``timeout`` and the test's
        deadline; on timeout fail naming ``what`` (and ``explain()``, e.g. the job's events)."""
        limit = self.deadline - time.monotonic()
        if timeout is not None:
            limit = min(limit, timeout)
        end = time.monotonic() + max(limit, 0)
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() >= end:
                detail = f"\n{await explain()}" if explain is not None else ""
                pytest.fail(f"{what}: not reached within {limit:.0f} s{detail}", pytrace=False)
            await asyncio.sleep(interval)

    async def wait_status(
        self, manager: TzJobManager, job_id: str, wanted: set[str] | frozenset[str],
        timeout: float | None = None,
    ) -> dict:  # fmt: skip
        async def check() -> dict | None:
            job = await manager.get(self.user, job_id)
            return job if job["status"] in wanted else None

        return await self.until(check, f"job {job_id} {sorted(wanted)}", timeout=timeout,
                                explain=lambda: self.describe(manager, job_id))  # fmt: skip

    async def finished(self, manager: TzJobManager, job_id: str) -> dict:
        return await self.wait_status(manager, job_id, FINISHED)

    async def describe(self, manager: TzJobManager, job_id: str) -> str:
        """The job as TZ sees it, its events, and its objects: for failure messages."""
        job = await manager.get(self.user, job_id)
        lines = [f"job {job_id}: {job['status']} {job['reason']} {job['message']}"]
        lines += [f"  {e['time']} {e['type']} {e['reason']}: {e['message']}"
                  for e in await manager.events(self.user, job_id)]  # fmt: skip
        try:
            for obj in await self.kube.trainjobs(job_id):
                name = obj["metadata"]["name"]
                conditions = obj.get("status", {}).get("conditions") or []
                lines.append(f"  TrainJob {name}: suspend={obj['spec'].get('suspend')} "
                             f"conditions={conditions}")  # fmt: skip
                for pod in await self.kube.pods_of(name):
                    statuses = pod.get("status", {}).get("containerStatuses") or []
                    lines.append(f"  pod {pod['metadata']['name']}: "
                                 f"{pod.get('status', {}).get('phase')} "
                                 f"{[s.get('state') for s in statuses]}")  # fmt: skip
        except (ApiException, OSError) as e:
            lines.append(f"  (cluster unreadable: {e})")
        return "\n".join(lines)

    async def events(self, manager: TzJobManager, job_id: str) -> list[tuple[str, str]]:
        return [(e["reason"], e["message"]) for e in await manager.events(self.user, job_id)]

    async def logs(self, manager: TzJobManager, job_id: str, rank: int | None = None) -> list[str]:
        return [line async for _, line in manager.logs(self.user, job_id, rank=rank,
                                                         follow=False, tail=None)]  # fmt: skip

    # ---- cleanup ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop every service (so none recreates an object), delete the TrainJobs of the test's
        jobs and wait until they are gone, remove the test's S3 prefix."""
        errors: list[BaseException] = []
        for svc in self.services:
            try:
                await svc.stop()
            except Exception as e:  # noqa: BLE001 - go on cleaning up
                errors.append(e)
        for job_id in self.job_ids:
            try:
                await self.kube.delete_trainjobs(job_id)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        end = time.monotonic() + 120
        for job_id in self.job_ids:
            while time.monotonic() < end:
                try:
                    if await self.kube.no_trainjob(job_id):
                        break
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
                    break
                await asyncio.sleep(2)
        try:
            await asyncio.to_thread(self._remove_prefix)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        if errors:
            raise errors[0]

    def _remove_prefix(self) -> None:
        fs = self.storage.fs
        path = f"{self.settings.bucket}/{self.prefix}"
        if fs.exists(path):
            fs.rm(path, recursive=True)


@pytest.fixture
async def tz(settings: Settings, cluster_ready: None, tmp_path: Path):
    api = await kube_client(settings)
    harness = Harness(settings, tmp_path, Kube(api, settings.namespace))
    try:
        yield harness
    finally:
        try:
            await harness.close()
        finally:
            await api.close()
