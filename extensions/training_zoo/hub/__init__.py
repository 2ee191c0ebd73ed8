"""Hub-side wiring shared by the embedded default and the Kubernetes deployment.

The ``jupyterhub_config.d`` fragments stay wiring only; what they compute lives here, where it is
tested: the TZ custom scopes, the roles granting them, the scopes of user-server tokens, the
service definition, and the IPython start-up file that auto-loads ``%tz_*`` magics.
"""

from __future__ import annotations

import sys
from pathlib import Path

SERVICE_NAME = "tz"
DOMAINS = ("jobs", "workspace", "datasets", "models")
SERVICE_ACCESS = f"access:services!service={SERVICE_NAME}"


def custom_scopes() -> dict[str, dict[str, str]]:
    """``c.JupyterHub.custom_scopes``: read/write per domain plus ``custom:tz:admin``."""
    scopes = {}
    for domain in DOMAINS:
        scopes[f"custom:tz:{domain}:read"] = {"description": f"Read your own TZ {domain}."}
        scopes[f"custom:tz:{domain}:write"] = {
            "description": f"Create, change and cancel your own TZ {domain}.",
            "subscopes": [f"custom:tz:{domain}:read"],
        }
    scopes["custom:tz:admin"] = {
        "description": "See and manage every user's TZ objects; read service metrics.",
        "subscopes": [f"custom:tz:{d}:write" for d in DOMAINS],
    }
    return scopes


def user_scopes() -> list[str]:
    return [SERVICE_ACCESS] + [f"custom:tz:{d}:write" for d in DOMAINS]


def roles(admin_users: list[str]) -> list[dict]:
    """``c.JupyterHub.load_roles``: every user may use TZ; ``admin_users`` administer it."""
    return [
        # Overrides JupyterHub's default "user" role, keeping its "self" scope.
        {"name": "user", "scopes": ["self", *user_scopes()]},
        {
            "name": "tz-admin",
            "description": "Training Zoo administrators",
            "scopes": ["custom:tz:admin", SERVICE_ACCESS],
            "users": list(admin_users),
        },
    ]


def server_token_scopes() -> list[str]:
    """``c.Spawner.server_token_scopes``: a user server may act on TZ for its owner.

    The hub grants only the subset the owner holds, so ``custom:tz:admin`` reaches admins' servers
    only.
    """
    return ["users:activity!user", "access:servers!server", *user_scopes(), "custom:tz:admin"]


def load_groups(teams: str) -> dict[str, dict]:
    """``c.JupyterHub.load_groups`` from ``TZ_TEAMS`` (``"vision=alice,bob;nlp=carol"``).

    Teams are JupyterHub groups: every member reads and writes the team's workspace space and its
    team datasets. This is the embedded default's way to declare them; a real authenticator (or
    the hub's admin page) manages groups in production.

    Raises
    ------
    ValueError
        Naming the malformed entry.
    """
    groups: dict[str, dict] = {}
    for entry in filter(None, (e.strip() for e in teams.split(";"))):
        name, sep, members = entry.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"TZ_TEAMS: {entry!r} is not 'team=user1,user2'")
        users = sorted({u.strip() for u in members.split(",") if u.strip()})
        groups[name] = {"users": users}
    return groups


def service(
    url: str, environment: dict[str, str], cwd: str = "", command: list[str] | None = None
) -> dict:
    """The ``c.JupyterHub.services`` entry of the hub-managed TZ service.

    ``cwd`` is where it runs, and so where it finds ``tz_config.py``.
    """
    return {
        "name": SERVICE_NAME,
        "url": url,
        "command": command or [sys.executable, "-m", "training_zoo.service"],
        "environment": environment,
        "cwd": cwd,
        "display": False,
        "oauth_no_confirm": True,
    }


IPYTHON_STARTUP = """\
# Written by Training Zoo: load the %tz_* magics in every kernel of this server.
try:
    get_ipython().run_line_magic("load_ext", "training_zoo")
except Exception as e:  # a broken TZ install must never stop a kernel from starting
    print(f"training_zoo magics not loaded: {e}")
"""


def install_ipython_startup(home: str | Path) -> Path:
    """Write the start-up file that auto-loads ``%tz_*`` magics for a user's kernels."""
    path = Path(home) / ".ipython" / "profile_default" / "startup" / "00-training-zoo.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(IPYTHON_STARTUP)
    return path
