"""Hub-side settings for Kubernetes: hardened KubeSpawner user pods and the external TZ service.

Exports :func:`in_kubernetes` (is this hub run by Zero-to-JupyterHub?), :func:`spawner_settings`
(the ``c.KubeSpawner`` traits TZ sets), :func:`service_url`, :func:`tz_service` (the
``c.JupyterHub.services`` entry of the TZ service when it runs as its own Deployment) and
:func:`configure_hub`, which ``jupyterhub_config.d/40-kubernetes.py`` calls to apply them all.
Nothing here imports KubeSpawner.

User pods get no Kubernetes API access (no service account token) and no storage or database
credentials: they reach data and jobs through the TZ API with their owner's hub token, at
``TZ_SERVICE_URL``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from ..hub import SERVICE_NAME

SERVICE_PORT = 10101
HOME = "/home/jovyan"
# jovyan in the Jupyter Docker Stacks images that images/singleuser builds on.
UID, GID = 1000, 100
# The names z2jh uses for `singleuser.storage.type: dynamic`, so switching to TZ keeps homes.
PVC_NAME_TEMPLATE = "claim-{user_server}"
VOLUME_NAME_TEMPLATE = "volume-{user_server}"


def in_kubernetes() -> bool:
    """True when the hub config is loaded by Zero-to-JupyterHub's ``jupyterhub_config.py``.

    z2jh puts its ``z2jh`` helper module on ``sys.path`` before it runs our fragments; that is a
    stronger sign than ``KUBERNETES_SERVICE_HOST``, which every pod has, including a user's
    notebook pod where someone might run ``tz up``.
    """
    return importlib.util.find_spec("z2jh") is not None


def service_url(namespace: str) -> str:
    """In-cluster URL of the TZ Service (``tz`` in the hub's namespace), without prefix."""
    return f"http://{SERVICE_NAME}.{namespace}.svc:{SERVICE_PORT}"


def spawner_settings(
    *,
    hub_namespace: str,
    storage_capacity: str = "10Gi",
    storage_class: str | None = None,
) -> dict[str, Any]:
    """The ``c.KubeSpawner`` traits TZ sets for every user pod.

    Parameters
    ----------
    hub_namespace
        Namespace of the hub and of the TZ Service (for ``TZ_SERVICE_URL``).
    storage_capacity, storage_class
        Size and StorageClass of each user's home PVC (``None``: the cluster default).

    Returns
    -------
    dict
        Trait name -> value; every name is a KubeSpawner 7.1 trait.
    """
    settings: dict[str, Any] = {
        # No Kubernetes API access from user pods: no service account, no token mounted.
        "service_account": None,
        "automount_service_account_token": False,
        # Pod Security "restricted": non-root jovyan, RuntimeDefault seccomp, no capabilities.
        "uid": UID,
        "gid": GID,
        "fs_gid": GID,
        "pod_security_context": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": GID,
            "fsGroup": GID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The root filesystem stays writable: Jupyter writes to /tmp, ~/.local and the
        # image's conda environment (pip install --user and %pip need it).
        "container_security_context": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": GID,
        },
        "allow_privilege_escalation": False,
        "privileged": False,
        # One PVC per user server, mounted as the home folder.
        "storage_pvc_ensure": True,
        "pvc_name_template": PVC_NAME_TEMPLATE,
        "storage_capacity": storage_capacity,
        "storage_access_modes": ["ReadWriteOnce"],
        "volumes": [
            {
                "name": VOLUME_NAME_TEMPLATE,
                "persistentVolumeClaim": {"claimName": PVC_NAME_TEMPLATE},
            }
        ],
        "volume_mounts": [{"name": VOLUME_NAME_TEMPLATE, "mountPath": HOME}],
        # The server extension and the SDK reach the TZ API directly (no proxy hop), with the
        # owner's hub token; nothing else in the environment is a credential.
        "environment": {"TZ_SERVICE_URL": f"{service_url(hub_namespace)}/services/{SERVICE_NAME}/"},
    }
    if storage_class:
        settings["storage_class"] = storage_class
    return settings


def tz_service(
    services: list[dict[str, Any]], *, hub_namespace: str, api_token: str | None = None
) -> list[dict[str, Any]]:
    """``c.JupyterHub.services`` with the TZ service as an external service (no ``command``).

    z2jh registers ``hub.services.tz`` itself with an API token it generates into its ``hub``
    Secret (key ``hub.services.tz.apiToken``), which the TZ Deployment reads too; this only fills
    in what that entry leaves out. Without such an entry, ``api_token`` (the hub's
    ``TZ_SERVICE_API_TOKEN``, from a Secret) is used.

    Raises
    ------
    ValueError
        No token from either source: the service could not authenticate to the hub.
    """
    others = [s for s in services if s.get("name") != SERVICE_NAME]
    entry = next((dict(s) for s in services if s.get("name") == SERVICE_NAME), {})
    entry.pop("command", None)  # never started by the hub on Kubernetes
    entry.pop("environment", None)
    entry.pop("cwd", None)
    entry.setdefault("url", service_url(hub_namespace))
    entry.setdefault("display", False)
    entry.setdefault("oauth_no_confirm", True)
    if not entry.get("api_token"):
        if not api_token:
            raise ValueError(
                "the tz service has no API token: set hub.services.tz in the Helm values "
                "(z2jh generates one) or TZ_SERVICE_API_TOKEN in the hub's environment"
            )
        entry["api_token"] = api_token
    entry["name"] = SERVICE_NAME
    return [*others, entry]


def configure_hub(c: Any, get_config: Any, environ: Any = os.environ) -> None:
    """Apply TZ's Kubernetes settings to the hub config ``c``, after z2jh's own.

    Called by ``jupyterhub_config.d/40-kubernetes.py`` with z2jh's ``get_config``: reads
    ``custom.tz`` into ``c.TzCluster``, sets :func:`spawner_settings` and the flavor profiles on
    ``c.KubeSpawner`` (keeping z2jh's ``singleuser.nodeSelector``, user-pod tolerations,
    ``extraEnv`` and extra volumes), and registers the TZ service as external (:func:`tz_service`).

    Raises
    ------
    ValueError
        ``custom.tz`` does not parse (the message names the field), or the service has no token.
    """
    from .catalog import TzCluster
    from .profiles import profile_list

    tz = get_config("custom.tz", {}) or {}
    for trait in TzCluster.class_trait_names(config=True):
        if trait in tz:
            c.TzCluster[trait] = tz[trait]
    namespace = environ.get("POD_NAMESPACE") or "jupyterhub"
    settings = spawner_settings(
        hub_namespace=namespace,
        storage_capacity=get_config("singleuser.storage.capacity", None) or "10Gi",
        storage_class=get_config("singleuser.storage.dynamic.storageClass", None),
    )
    # Keep what z2jh set from singleuser.extraEnv, extraVolumes and extraFiles; TZ's home
    # volume replaces z2jh's own (same name and mount path).
    environment = settings.pop("environment")
    earlier = c.KubeSpawner.get("environment")
    c.KubeSpawner.environment = {**(earlier if isinstance(earlier, dict) else {}), **environment}
    for name, key in (("volumes", "name"), ("volume_mounts", "mountPath")):
        ours = settings.pop(name)
        earlier = c.KubeSpawner.get(name)
        taken = {v[key] for v in ours}
        kept = [v for v in earlier if v.get(key) not in taken] if isinstance(earlier, list) else []
        c.KubeSpawner[name] = ours + kept
    for name, value in settings.items():
        c.KubeSpawner[name] = value
    tolerations = [
        *(get_config("scheduling.userPods.tolerations", []) or []),
        *(get_config("singleuser.extraTolerations", []) or []),
    ]
    c.KubeSpawner.profile_list = profile_list(
        TzCluster(config=c),
        base_node_selector=get_config("singleuser.nodeSelector", {}) or {},
        base_tolerations=tolerations,
    )
    services = c.JupyterHub.get("services")
    c.JupyterHub.services = tz_service(
        list(services) if isinstance(services, list) else [],
        hub_namespace=namespace,
        api_token=environ.get("TZ_SERVICE_API_TOKEN"),
    )
