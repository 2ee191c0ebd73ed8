"""Start the real embedded platform (JupyterHub + configurable-http-proxy + TZ service) for tests
and benchmarks, on free loopback ports in a throw-away ``TZ_HOME``.

``Platform`` is a context manager: ``with Platform() as p: token = p.token("alice")``. It runs the
same ``tz up`` entry point a user runs, so tests prove what ``make up`` starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "tz-test-password"
ADMIN_PASSWORD = "tz-test-admin-password-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60, ok=(200, 302, 401, 403, 404)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2, allow_redirects=False).status_code in ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class Platform:
    """A running hub + proxy + TZ service; ``url`` is the public URL."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        admins: str = "admin",
        extra_env: dict[str, str] | None = None,
        tz_config: str = "",
    ) -> None:
        self._tmp = None if home else tempfile.TemporaryDirectory(prefix="tz-test-")
        self.home = Path(home or self._tmp.name)
        self.port = free_port()
        self.service_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/services/tz/api/v1"
        self.env = dict(
            os.environ,
            TZ_HOME=str(self.home),
            TZ_PORT=str(self.port),
            TZ_HUB_PORT=str(free_port()),
            TZ_PROXY_API_PORT=str(free_port()),
            TZ_SERVICE_PORT=str(self.service_port),
            TZ_PASSWORD=PASSWORD,
            TZ_ADMIN_PASSWORD=ADMIN_PASSWORD,
            TZ_ADMIN_USERS=admins,
            **(extra_env or {}),
        )
        self.tz_config = tz_config  # written to TZ_HOME/tz_config.py, read by the service
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "hub.log"
        self._tokens: dict[str, str] = {}

    def start(self) -> Platform:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.tz_config:
            (self.home / "tz_config.py").write_text(self.tz_config)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "training_zoo.up"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_http(f"{self.url}/hub/health", ok=(200,))
        wait_for_http(f"{self.api}/", ok=(401,))
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> Platform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    # ---- users ------------------------------------------------------------------------------

    def login(self, user: str) -> requests.Session:
        """A browser-like session logged into the hub as ``user``."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=10)
        xsrf = s.cookies.get("_xsrf")
        password = ADMIN_PASSWORD if user in self.env["TZ_ADMIN_USERS"].split(",") else PASSWORD
        r = s.post(f"{self.url}/hub/login?next=", data={"username": user, "password": password,
                   "_xsrf": xsrf}, allow_redirects=False, timeout=30)  # fmt: skip
        if r.status_code not in (302, 303):
            raise RuntimeError(f"login of {user} failed: {r.status_code}")
        s.hub_xsrf = [c for c in s.cookies if c.name == "_xsrf"][-1].value  # type: ignore[attr-defined]
        return s

    def token(self, user: str, scopes: list[str] | None = None) -> str:
        """An API token of ``user`` (cached per user when ``scopes`` is None)."""
        if scopes is None and user in self._tokens:
            return self._tokens[user]
        s = self.login(user)
        body: dict = {"note": "tz tests"}
        if scopes is not None:
            body["scopes"] = scopes
        r = s.post(
            f"{self.url}/hub/api/users/{user}/tokens",
            json=body,
            headers={"X-XSRFToken": s.hub_xsrf},
            timeout=30,
        )  # type: ignore[attr-defined]
        r.raise_for_status()
        token = r.json()["token"]
        if scopes is None:
            self._tokens[user] = token
        return token

    def service_pid(self) -> int | None:
        """PID of the TZ service process (a child of the hub)."""
        import psutil

        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if "training_zoo.service" in " ".join(p.cmdline()):
                    return p.pid
            except psutil.Error:
                continue
        return None
