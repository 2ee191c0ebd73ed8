# Embedded default: JupyterHub + configurable-http-proxy + the TZ service on 127.0.0.1, SQLite,
# local processes. Loads the fragments in jupyterhub_config.d/ in sorted order, as z2jh does on
# Kubernetes, then adds what only the embedded default needs (local spawner, ports, paths).
# Environment: TZ_HOME (state), TZ_PORT (public port), TZ_PASSWORD, TZ_ADMIN_PASSWORD,
# TZ_ADMIN_USERS; for tests also TZ_HUB_PORT, TZ_PROXY_API_PORT, TZ_SERVICE_PORT.
import os
import sys
from pathlib import Path

from training_zoo.hub import install_ipython_startup

c = get_config()  # noqa: F821
here = Path(__file__).parent
tz_home = Path(os.environ.setdefault("TZ_HOME", str(Path.cwd() / ".tz"))).resolve()
os.environ["TZ_HOME"] = str(tz_home)
os.environ.setdefault("TZ_SERVICE_PORT", "10101")

for fragment in sorted((here / "jupyterhub_config.d").glob("*.py")):
    exec(compile(fragment.read_text(), str(fragment), "exec"))  # noqa: S102

# All hub state under TZ_HOME, nothing in the current directory.
c.JupyterHub.db_url = f"sqlite:///{tz_home / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(tz_home / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(tz_home / "jupyterhub.pid")
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('TZ_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ.get('TZ_HUB_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('TZ_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [
    os.environ.get(
        "TZ_PROXY_COMMAND", str(Path.cwd() / "node_modules/.bin/configurable-http-proxy")
    )
]

# Local processes: one jupyterhub-singleuser per user, home folders under TZ_HOME.
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(tz_home / "users" / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.default_url = "/lab"
c.Spawner.args = [
    "--LabApp.news_url=None",
    # Platform defaults for Lab (no news consent pop-up on a platform that has no internet).
    f"--LabApp.app_settings_dir={here / 'lab-settings'}",
    "--FileContentsManager.delete_to_trash=False",
]
if os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")  # jupyter-server refuses root otherwise
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120


def _pre_spawn(spawner):
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    home.mkdir(parents=True, exist_ok=True)
    install_ipython_startup(home)


c.Spawner.pre_spawn_hook = _pre_spawn
