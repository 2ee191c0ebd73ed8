"""The single-user server extension, in a real user server spawned by the hub.

The browser's cookies (plus XSRF) reach ``/user/<name>/tz/api/v1``; the extension forwards with the
server's own token and streams SSE without buffering.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

pytestmark = pytest.mark.integration


def start_server(platform, user: str) -> requests.Session:
    s = platform.login(user)
    r = s.post(
        f"{platform.url}/hub/api/users/{user}/server",
        headers={"X-XSRFToken": s.hub_xsrf},
        timeout=30,
    )
    assert r.status_code in (201, 202, 400), r.text  # 400: already running
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        model = s.get(
            f"{platform.url}/hub/api/users/{user}", headers={"X-XSRFToken": s.hub_xsrf}, timeout=10
        ).json()
        if model["servers"].get("", {}).get("ready"):
            break
        time.sleep(0.5)
    # A page (not an API call) runs the OAuth dance with the user server, which sets its cookies.
    s.get(f"{platform.url}/user/{user}/lab", timeout=60)
    r = s.get(f"{platform.url}/user/{user}/api/status", timeout=30)
    assert r.status_code == 200, r.status_code
    s.user_xsrf = next(
        c.value
        for c in s.cookies  # type: ignore[attr-defined]
        if c.name == "_xsrf" and c.path.startswith(f"/user/{user}")
    )
    return s


@pytest.fixture(scope="module")
def alice_browser(platform):
    return start_server(platform, "alice")


def tz(platform, user: str, path: str) -> str:
    return f"{platform.url}/user/{user}/tz/{path}"


def test_forwards_with_the_users_identity(platform, alice_browser):
    r = alice_browser.get(tz(platform, "alice", "api/v1/"), timeout=10)
    assert r.status_code == 200
    assert r.json()["user"]["name"] == "alice"
    assert r.json()["user"]["admin"] is False


def test_posts_without_xsrf_are_refused(platform, alice_browser):
    r = alice_browser.post(
        tz(platform, "alice", "api/v1/jobs"), json={"name": "x", "code": "pass"}, timeout=10
    )
    assert r.status_code == 403
    assert not alice_browser.get(tz(platform, "alice", "api/v1/jobs"), timeout=10).json()[
        "items"
    ] or all(
        j["name"] != "x"
        for j in alice_browser.get(tz(platform, "alice", "api/v1/jobs"), timeout=10).json()["items"]
    )


def test_snapshot_submit_and_live_logs_through_the_extension(platform, alice_browser):
    s, xsrf = alice_browser, alice_browser.user_xsrf
    project = platform.home / "users" / "alice" / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "train.py").write_text(
        "import time\nprint('first line', flush=True)\ntime.sleep(4)\nprint('last line')\n"
    )
    # Given a snapshot of a folder of alice's Lab root
    r = s.post(
        tz(platform, "alice", "snapshot"),
        json={"path": "project"},
        headers={"X-XSRFToken": xsrf},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    snap = r.json()["id"]
    # When she submits through her server
    r = s.post(
        tz(platform, "alice", "api/v1/jobs"),
        headers={"X-XSRFToken": xsrf},
        timeout=30,
        json={"name": "via-lab", "entry": "train.py", "snapshot": snap},
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert r.headers["Location"] == f"/user/alice/tz/api/v1/jobs/{job['id']}"
    # Then the SSE stream delivers the first line while the job is still running
    with s.get(
        tz(platform, "alice", f"api/v1/jobs/{job['id']}/logs?follow=true"), stream=True, timeout=60
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        for line in lines:
            if line.startswith("data:"):
                assert json.loads(line[5:])["line"] == "first line"
                break
        status = s.get(tz(platform, "alice", f"api/v1/jobs/{job['id']}"), timeout=10).json()
        assert status["status"] == "running"
        rest = [ln for ln in lines if ln.startswith(("data:", "event:"))]
    assert json.loads(rest[0][5:])["line"] == "last line"
    assert rest[1] == "event: end"


@pytest.mark.parametrize("path", ["..", "../bob", "/etc", "project/../../.."])
def test_snapshot_paths_outside_the_lab_root_are_refused(platform, alice_browser, path):
    r = alice_browser.post(
        tz(platform, "alice", "snapshot"),
        json={"path": path},
        headers={"X-XSRFToken": alice_browser.user_xsrf},
        timeout=30,
    )
    assert r.status_code == 400
    assert r.json()["message"].startswith("path:")


def test_another_users_server_is_out_of_reach(platform, alice_browser):
    r = alice_browser.get(tz(platform, "bob", "api/v1/jobs"), timeout=10, allow_redirects=False)
    assert r.status_code in (302, 403, 404, 503)
    assert "items" not in r.text
