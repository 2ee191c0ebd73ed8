"""The Kubernetes objects of the TZ service and of the jobs namespace: :func:`service_manifests`.

On Kubernetes the TZ service is not started by the hub: it runs as its own Deployment in the hub's
namespace, is registered with the hub as an external service (``hub.services.tz``), and is the
only holder of the database URL, the storage credentials and a Kubernetes service account. What
this module returns, in ``kubectl apply`` order:

- the jobs ``Namespace`` (``cluster.namespace``), enforcing Pod Security "restricted";
- ``ServiceAccount`` ``tz``, a ``ClusterRole`` that can only read ``ClusterTrainingRuntimes``, and
  a ``Role`` in the jobs namespace with exactly what the job backend uses (:data:`JOBS_RULES`);
- ``ConfigMap`` ``tz-service-config`` (``tz_config.py``: the Kubernetes backend and the catalogue
  of ``custom.tz``, then the site's own ``tz_config.py`` from a Secret, loaded last);
- the ``Deployment`` (one replica, ``Recreate``: it owns the database connection and the watch
  caches) and its ``Service`` on port 10101;
- ``NetworkPolicies``: who may reach the service and where it may connect; training pods talk
  only to each other, DNS and object storage.

Secrets are never in these objects, only references to them (see ``docs/deployment.md``):
the hub API token (z2jh generates it into its ``hub`` Secret, key ``hub.services.tz.apiToken``),
the database URL, the S3 credentials, and the site config.
"""

from __future__ import annotations

import pprint
from typing import Any

from ..hub import SERVICE_NAME
from .catalog import TzCluster
from .spawner import SERVICE_PORT

MANAGED_BY = {
    "app.kubernetes.io/managed-by": "training-zoo",
    "app.kubernetes.io/part-of": "training-zoo",
}
SELECTOR = {"app.kubernetes.io/name": SERVICE_NAME, "app.kubernetes.io/component": "service"}
# Two sibling folders: a volume mounted inside a ConfigMap volume would need a mount point in it.
CONFIG_DIR = "/etc/training-zoo/generated"
SITE_DIR = "/etc/training-zoo/site"
SITE_CONFIG = f"{SITE_DIR}/tz_config.py"
STATE_DIR = "/var/lib/training-zoo"
# The z2jh hub's API port and labels (chart 4.x; `app` is the chart name unless nameOverride).
HUB_API_PORT = 8081
Z2JH_APP = {"app": "jupyterhub"}
# Egress the TZ service needs besides DNS and the hub; every port is documented in
# docs/deployment.md. S3: 443 (AWS, OBS, most gateways), 9000 (MinIO), 7480 (Ceph RGW).
# Database: 3306 (MySQL), 4000 (TiDB). Kubernetes API: 443 (the `kubernetes` Service) and 6443
# (what it forwards to on most clusters; policies see the endpoint after DNAT).
S3_PORTS = (443, 9000, 7480)
DB_PORTS = (3306, 4000)
KUBE_API_PORTS = (443, 6443)
PRIVATE_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
CLOUD_METADATA = "169.254.169.254/32"

# What the job backend does in the jobs namespace, and nothing more.
JOBS_RULES: list[dict[str, list[str]]] = [
    {
        "apiGroups": ["trainer.kubeflow.org"],
        "resources": ["trainjobs"],
        "verbs": ["get", "list", "watch", "create", "delete", "patch"],
    },
    {
        "apiGroups": ["kubeflow.org"],
        "resources": ["pytorchjobs"],
        "verbs": ["get", "list", "watch", "create", "delete", "patch"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    # One NetworkPolicy per job, owned by its TrainJob: only the job's own pods reach them.
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
     "verbs": ["get", "create", "delete"]},  # fmt: skip
    {
        "apiGroups": ["kueue.x-k8s.io"],
        "resources": ["workloads"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["localqueues"], "verbs": ["get", "list"]},
    {
        "apiGroups": ["visibility.kueue.x-k8s.io"],
        "resources": ["localqueues/pendingworkloads"],
        "verbs": ["get"],
    },
]
# Cluster-wide, read only: the stock runtimes TrainJobs refer to.
CLUSTER_RULES: list[dict[str, list[str]]] = [
    {
        "apiGroups": ["trainer.kubeflow.org"],
        "resources": ["clustertrainingruntimes"],
        "verbs": ["get", "list", "watch"],
    },
]

# The hub pod, the proxy and user servers may call the service; nothing else.
CLIENT_COMPONENTS = ["hub", "proxy", "singleuser-server"]

# Liveness: the API answers (a 401 without a token is an answer; 5xx or no answer is not). An
# exec probe, because an HTTP probe counts 401 as a failure and the service has no anonymous
# route; once a minute, as each probe logs a 401. Readiness: the port is open, which happens only
# after migrations ran and the job backend started (TzService.start_async).
PROBE = [
    "python3",
    "-c",
    "import sys, urllib.error, urllib.request as r\n"
    "try:\n"
    f"    r.urlopen('http://127.0.0.1:{SERVICE_PORT}/services/{SERVICE_NAME}/api/v1/', timeout=4)\n"
    "except urllib.error.HTTPError as e:\n"
    "    sys.exit(e.code >= 500)\n",
]


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _ports(ports: tuple[int, ...], *protocols: str) -> list[dict[str, Any]]:
    return [{"protocol": p, "port": n} for n in ports for p in (protocols or ("TCP",))]


def _anywhere_but_metadata() -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [CLOUD_METADATA]}}]


def _dns_egress() -> dict[str, Any]:
    """DNS: kube-system (CoreDNS) or any private address (NodeLocal DNS, other setups)."""
    return {
        "to": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
            *({"ipBlock": {"cidr": cidr}} for cidr in PRIVATE_CIDRS),
        ],
        "ports": _ports((53,), "UDP", "TCP"),
    }


def tz_config(cluster: TzCluster) -> str:
    """The generated ``tz_config.py``: Kubernetes backend and catalogue, then the site's file."""
    lines = [
        "# Generated by training_zoo.k8s.service from custom.tz: re-render, do not edit.",
        "# Site settings (storage URL, limits, ...) come from the Secret mounted at",
        f"# {SITE_CONFIG}, loaded last so that they win.",
        'c.TzJobManager.backend_class = "kubernetes"',
        f"c.TzCluster.namespace = {cluster.namespace!r}",
        f"c.TzCluster.default_team = {cluster.default_team!r}",
    ]
    for trait in ("flavors", "images", "teams"):
        value = pprint.pformat(getattr(cluster, trait), width=96, sort_dicts=True)
        lines.append(f"c.TzCluster.{trait} = {value}")
    lines.append(f"load_subconfig({SITE_CONFIG!r})")
    return "\n".join(lines) + "\n"


def _deployment(
    image: str,
    hub_namespace: str,
    config_secret: str,
    db_secret: str,
    storage_secret: str,
    token_secret: str,
    token_key: str,
) -> dict[str, Any]:
    env = [
        # HubAuth: the hub API, this service's identity and prefix, where to listen.
        {"name": "JUPYTERHUB_SERVICE_NAME", "value": SERVICE_NAME},
        {
            "name": "JUPYTERHUB_API_URL",
            "value": f"http://hub.{hub_namespace}.svc:{HUB_API_PORT}/hub/api",
        },
        {"name": "JUPYTERHUB_BASE_URL", "value": "/"},
        {"name": "JUPYTERHUB_SERVICE_PREFIX", "value": f"/services/{SERVICE_NAME}/"},
        {"name": "JUPYTERHUB_SERVICE_URL", "value": f"http://0.0.0.0:{SERVICE_PORT}"},
        {"name": "TZ_HOME", "value": STATE_DIR},
        {"name": "HOME", "value": "/tmp"},  # the root filesystem is read-only
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        _secret_env("JUPYTERHUB_API_TOKEN", token_secret, token_key),
        _secret_env("TZ_DB_URL", db_secret, "url"),
        _secret_env("AWS_ACCESS_KEY_ID", storage_secret, "AWS_ACCESS_KEY_ID"),
        _secret_env("AWS_SECRET_ACCESS_KEY", storage_secret, "AWS_SECRET_ACCESS_KEY"),
    ]
    container = {
        "name": "tz",
        "image": image,
        "command": ["python3", "-m", "training_zoo.service", f"--config={CONFIG_DIR}/tz_config.py"],
        "ports": [{"name": "http", "containerPort": SERVICE_PORT, "protocol": "TCP"}],
        "env": env,
        "readinessProbe": {
            "tcpSocket": {"port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "exec": {"command": PROBE},
            "timeoutSeconds": 10,
            "initialDelaySeconds": 60,
            "periodSeconds": 60,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "site-config", "mountPath": SITE_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_labels = {
        **MANAGED_BY,
        **SELECTOR,
        # z2jh's hub NetworkPolicy admits pods with this label (the service calls the hub API).
        "hub.jupyter.org/network-access-hub": "true",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(SERVICE_NAME, hub_namespace, **SELECTOR),
        "spec": {
            "replicas": 1,
            # One writer of the database and one set of watches: never two pods at once.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(SELECTOR)},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": SERVICE_NAME,
                    "automountServiceAccountToken": True,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "tz-service-config"}},
                        {
                            "name": "site-config",
                            "secret": {
                                "secretName": config_secret,
                                "items": [{"key": "tz_config.py", "path": "tz_config.py"}],
                            },
                        },
                        # Job log spool and (without TZ_DB_URL) SQLite; archived to storage.
                        {"name": "state", "emptyDir": {"sizeLimit": "10Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                    ],
                },
            },
        },
    }


def _service_policy(hub_namespace: str) -> dict[str, Any]:
    clients = {
        "matchLabels": dict(Z2JH_APP),
        "matchExpressions": [
            {"key": "component", "operator": "In", "values": list(CLIENT_COMPONENTS)}
        ],
    }
    hub = {"matchLabels": {**Z2JH_APP, "component": "hub"}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(SERVICE_NAME, hub_namespace),
        "spec": {
            "podSelector": {"matchLabels": dict(SELECTOR)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": clients}], "ports": _ports((SERVICE_PORT,))}],
            "egress": [
                _dns_egress(),
                {"to": [{"podSelector": hub}], "ports": _ports((HUB_API_PORT,))},
                {
                    "to": _anywhere_but_metadata(),
                    "ports": _ports(tuple(sorted({*KUBE_API_PORTS, *S3_PORTS, *DB_PORTS}))),
                },
            ],
        },
    }


def _jobs_policy(namespace: str) -> dict[str, Any]:
    same_namespace = [{"podSelector": {}}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("tz-training-pods", namespace),
        "spec": {
            # Every pod of the jobs namespace: no ingress at all, except what the per-job
            # NetworkPolicy the job backend creates with each TrainJob allows (the job's own
            # pods, on any port: after rendezvous NCCL and Gloo use ephemeral ports). c10d has
            # no authentication, so one user's job must not reach another's.
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                _dns_egress(),
                {"to": same_namespace},
                # Code in, output out: presigned S3 URLs.
                {"to": _anywhere_but_metadata(), "ports": _ports(S3_PORTS)},
            ],
        },
    }


def service_manifests(
    cluster: TzCluster,
    *,
    image: str,
    hub_namespace: str = "jupyterhub",
    config_secret: str = "tz-config",
    db_secret: str = "tz-db",
    storage_secret: str = "tz-storage",
    token_secret: str = "hub",
    token_key: str = f"hub.services.{SERVICE_NAME}.apiToken",
) -> list[dict[str, Any]]:
    """Every object the TZ service and the jobs namespace need, in ``kubectl apply`` order.

    Parameters
    ----------
    cluster
        The catalogue (``custom.tz``); ``cluster.namespace`` is the jobs namespace.
    image
        The TZ service image (the hub image: it has ``training_zoo`` installed).
    hub_namespace
        Namespace of the z2jh release; the service runs there, next to the hub.
    config_secret
        Secret with key ``tz_config.py``: the site's service config (storage URL, limits).
    db_secret
        Secret with key ``url``: the SQLAlchemy URL of MySQL/TiDB (``TZ_DB_URL``).
    storage_secret
        Secret with keys ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``.
    token_secret, token_key
        Where the service's hub API token is: by default the key z2jh generates for
        ``hub.services.tz`` in its ``hub`` Secret, so hub and service always agree.

    Raises
    ------
    ValueError
        ``cluster`` does not parse.
    """
    cluster.validate()
    jobs_ns = cluster.namespace
    if jobs_ns == hub_namespace:
        raise ValueError("custom.tz.namespace: jobs need their own namespace, not the hub's")
    subject = [{"kind": "ServiceAccount", "name": SERVICE_NAME, "namespace": hub_namespace}]
    cluster_role = f"training-zoo-{hub_namespace}-{SERVICE_NAME}"
    restricted = {
        f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(jobs_ns, **restricted)},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(SERVICE_NAME, hub_namespace),
            "automountServiceAccountToken": True,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(cluster_role),
            "rules": [dict(r) for r in CLUSTER_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(cluster_role),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role,
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(SERVICE_NAME, jobs_ns),
            "rules": [dict(r) for r in JOBS_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(SERVICE_NAME, jobs_ns),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": SERVICE_NAME,
            },
            "subjects": subject,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("tz-service-config", hub_namespace),
            "data": {"tz_config.py": tz_config(cluster)},
        },
        _deployment(
            image, hub_namespace, config_secret, db_secret, storage_secret, token_secret, token_key
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(SERVICE_NAME, hub_namespace, **SELECTOR),
            "spec": {
                "type": "ClusterIP",
                "selector": dict(SELECTOR),
                "ports": [
                    {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
                ],
            },
        },
        _service_policy(hub_namespace),
        _jobs_policy(jobs_ns),
    ]
