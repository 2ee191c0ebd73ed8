"""``tz up``: start the embedded platform (JupyterHub + proxy + TZ service) on 127.0.0.1.

Reads ``TZ_HOME`` (default ``./.tz``), ``TZ_PORT`` (8000), ``TZ_PASSWORD`` and ``TZ_ADMIN_USERS``
(``admin``); generates the passwords once, stores them under ``TZ_HOME`` (mode 0600) and prints how
to log in, then replaces itself with ``jupyterhub``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path


def _secret(path: Path, env: str, length: int) -> str:
    if os.environ.get(env):
        return os.environ[env]
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(length)[:length]
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def find_hub_config() -> Path | None:
    """``$TZ_HUB_CONFIG``, else the checkout's (current folder), else the wheel's copy."""
    candidates = [
        os.environ.get("TZ_HUB_CONFIG"),
        Path.cwd() / "jupyterhub_config" / "jupyterhub_config.py",
        Path(sys.prefix) / "share" / "training-zoo" / "jupyterhub_config" / "jupyterhub_config.py",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def find_proxy() -> str | None:
    """configurable-http-proxy from the checkout's npm install, else from PATH."""
    local = Path.cwd() / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


def prepare() -> dict[str, str]:
    """Environment for the hub: TZ_HOME and passwords resolved, ready to exec."""
    home = Path(os.environ.get("TZ_HOME") or Path.cwd() / ".tz").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["TZ_HOME"] = str(home)
    env["TZ_PASSWORD"] = _secret(home / "password", "TZ_PASSWORD", 16)
    env["TZ_ADMIN_PASSWORD"] = _secret(home / "admin-password", "TZ_ADMIN_PASSWORD", 40)
    env.setdefault("TZ_ADMIN_USERS", "admin")
    env.setdefault("TZ_PORT", "8000")
    proxy = env.get("TZ_PROXY_COMMAND") or find_proxy()
    if proxy:
        env["TZ_PROXY_COMMAND"] = proxy
    return env


def main(argv: list[str] | None = None) -> int:
    config = find_hub_config()
    if config is None:
        print(
            "tz up: no jupyterhub_config.py found; run from a Training Zoo checkout or set "
            "TZ_HUB_CONFIG",
            file=sys.stderr,
        )
        return 2
    env = prepare()
    if "TZ_PROXY_COMMAND" not in env:
        print(
            "tz up: configurable-http-proxy not found; run `npm install` in the checkout or "
            "`npm install -g configurable-http-proxy`",
            file=sys.stderr,
        )
        return 2
    url = f"http://127.0.0.1:{env['TZ_PORT']}"
    admins = env["TZ_ADMIN_USERS"]
    # Print passwords TZ generated; one the user chose through the environment stays unprinted.
    user_pw = "the one in TZ_PASSWORD" if os.environ.get("TZ_PASSWORD") else env["TZ_PASSWORD"]
    admin_pw = (
        "the one in TZ_ADMIN_PASSWORD" if os.environ.get("TZ_ADMIN_PASSWORD")
        else env["TZ_ADMIN_PASSWORD"]
    )  # fmt: skip
    print(
        f"\nTraining Zoo is starting at {url}\n"
        f"  log in with any user name and the password: {user_pw}\n"
        f"  administrators ({admins}) log in with the admin password: {admin_pw}\n"
        f"  state (databases, storage, logs): {env['TZ_HOME']}\n",
        flush=True,
    )
    hub = str(Path(sys.executable).with_name("jupyterhub"))
    os.chdir(env["TZ_HOME"])
    os.execve(hub, [hub, "-f", str(config), *(argv or [])], env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
