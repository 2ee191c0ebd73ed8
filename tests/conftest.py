"""Shared fixtures.

- ``platform``: one real embedded platform (hub + proxy + TZ service) for the whole session.
- ``api``: ``api(user)`` returns an :class:`ApiClient` for that user's token on ``platform``.
- ``workdir``: a temporary folder with the training scripts of ``tests/jobs/`` copied in.

Every response that :class:`ApiClient` sees is checked for a JSON body and, on errors, for the
``{"message", "reason"}`` shape with no traceback (after JupyterHub's ``tests/utils.api_request``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from apiclient import ApiClient  # noqa: E402
from harness import Platform  # noqa: E402

JOBS = Path(__file__).parent / "jobs"
TEAMS = "vision=alice,carol"


@pytest.fixture(scope="session")
def platform():
    # alice and carol share the team "vision"; bob is in no team.
    with Platform(extra_env={"TZ_TEAMS": TEAMS}) as p:
        yield p


@pytest.fixture(scope="session")
def api(platform):
    clients: dict[str, ApiClient] = {}

    def make(user: str) -> ApiClient:
        if user not in clients:
            clients[user] = ApiClient(platform.api, platform.token(user))
        return clients[user]

    return make


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    target = tmp_path / "work"
    shutil.copytree(JOBS, target)
    return target
