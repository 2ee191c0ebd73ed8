"""``tz up``: start the embedded platform (JupyterHub + proxy + TZ service) on 127.0.0.1.

Reads ``TZ_HOME`` (default ``./.tz``), ``TZ_PORT`` (8000), ``TZ_PASSWORD`` and ``TZ_ADMIN_USERS``
(``admin``); generates the passwords once, stores them under ``TZ_HOME`` (mode 0600) and prints how
to log in, then replaces itself with ``jupyterhub``.
"""

from __future__ import annotations

import os
import secrets
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


def prepare(config: Path) -> dict[str, str]:
    """Environment for the hub: TZ_HOME and passwords resolved, ready to exec."""
    home = Path(os.environ.get("TZ_HOME") or config.parent.parent / ".tz").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["TZ_HOME"] = str(home)
    env["TZ_PASSWORD"] = _secret(home / "password", "TZ_PASSWORD", 16)
    env["TZ_ADMIN_PASSWORD"] = _secret(home / "admin-password", "TZ_ADMIN_PASSWORD", 40)
    env.setdefault("TZ_ADMIN_USERS", "admin")
    env.setdefault("TZ_PORT", "8000")
    return env


def main(argv: list[str] | None = None) -> int:
    config = Path(__file__).resolve().parents[2] / "jupyterhub_config" / "jupyterhub_config.py"
    if not config.exists():
        print(f"tz up: {config} not found (run from a Training Zoo checkout)", file=sys.stderr)
        return 2
    env = prepare(config)
    url = f"http://127.0.0.1:{env['TZ_PORT']}"
    admins = env["TZ_ADMIN_USERS"]
    print(
        f"\nTraining Zoo is starting at {url}\n"
        f"  log in with any user name and the password: {env['TZ_PASSWORD']}\n"
        f"  administrators ({admins}) use: {env['TZ_ADMIN_PASSWORD']}\n"
        f"  state (databases, storage, logs): {env['TZ_HOME']}\n",
        flush=True,
    )
    hub = str(Path(sys.executable).with_name("jupyterhub"))
    os.chdir(env["TZ_HOME"])
    os.execve(hub, [hub, "-f", str(config), *(argv or [])], env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
