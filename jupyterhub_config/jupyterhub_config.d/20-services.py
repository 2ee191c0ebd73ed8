# The TZ service, managed by the hub (it starts and restarts it). Only it holds the database and
# storage; it listens on its own port and the proxy routes /services/tz/ to it.
import os

from training_zoo.hub import service
from training_zoo.k8s.spawner import in_kubernetes

# On Kubernetes the service has its own Deployment: 40-kubernetes.py registers it instead.
if not in_kubernetes():
    _tz_url = os.environ.get("TZ_SERVICE_URL_INTERNAL") or (
        f"http://127.0.0.1:{os.environ.get('TZ_SERVICE_PORT', '10101')}"
    )
    _tz_env = {k: v for k, v in os.environ.items() if k.startswith("TZ_") and "PASSWORD" not in k}
    # It runs in TZ_HOME, where it reads tz_config.py (c.TzJobManager..., c.TzStorage...).
    _home = os.environ.get("TZ_HOME", "")
    c.JupyterHub.services = [service(_tz_url, _tz_env, cwd=_home)]  # noqa: F821
    # User servers reach the service directly (no proxy hop) with their own token.
    c.Spawner.environment.update({"TZ_SERVICE_URL": _tz_url + "/services/tz/"})  # noqa: F821
