"""The single-user server extension, in a real user server spawned by the hub.

The browser's cookies (plus XSRF) reach ``/user/<name>/tz/api/v1``; the extension forwards with the
server's own token and streams SSE without buffering.
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib

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


def test_an_upload_in_parts_streams_through_the_users_server(platform, alice_browser):
    s, xsrf = alice_browser, {"X-XSRFToken": alice_browser.user_xsrf}
    data = os.urandom(5 * 1024 * 1024 + 77)
    body = {"space": "user:alice", "path": "via-lab/blob.bin", "size": len(data),
            "part_size": 5 * 1024 * 1024}  # fmt: skip
    session = s.post(tz(platform, "alice", "api/v1/uploads"), json=body, headers=xsrf,
                     timeout=30).json()  # fmt: skip
    for n, chunk in ((2, data[5 * 1024 * 1024 :]), (1, data[: 5 * 1024 * 1024])):
        r = s.put(tz(platform, "alice", f"api/v1/uploads/{session['id']}/parts/{n}"),
                  data=chunk, headers=xsrf, timeout=60)  # fmt: skip
        assert r.status_code == 200 and r.json()["size"] == len(chunk), r.text
    r = s.put(tz(platform, "alice", f"api/v1/uploads/{session['id']}/parts/1"), data=b"x",
              timeout=30)  # fmt: skip
    assert r.status_code == 403, "a part without the XSRF header must be refused"
    r = s.post(tz(platform, "alice", f"api/v1/uploads/{session['id']}/complete"), headers=xsrf,
               timeout=30)  # fmt: skip
    assert r.status_code == 200 and r.json()["size"] == len(data), r.text
    r = s.get(tz(platform, "alice", "api/v1/workspace/download"), timeout=30,
              params={"space": "user:alice", "path": "via-lab/blob.bin"})  # fmt: skip
    assert r.content == data


def test_a_part_travels_with_its_crc32_and_changed_bytes_are_refused(platform, alice_browser):
    """The Lab sends each part's CRC32 in X-TZ-Checksum-CRC32; the user server passes it on, so a
    part whose bytes changed between the browser and the service is refused and not kept."""
    s, xsrf = alice_browser, {"X-XSRFToken": alice_browser.user_xsrf}
    data = os.urandom(1000)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = {"space": "user:alice", "path": "via-lab/checked.bin", "size": len(data)}
    session = s.post(tz(platform, "alice", "api/v1/uploads"), json=body, headers=xsrf,
                     timeout=30).json()  # fmt: skip
    part = tz(platform, "alice", f"api/v1/uploads/{session['id']}/parts/1")
    changed = bytes([data[0] ^ 1]) + data[1:]
    r = s.put(part, data=changed, headers={**xsrf, "X-TZ-Checksum-CRC32": crc}, timeout=30)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["X-TZ-Checksum-CRC32"], r.text
    status = s.get(tz(platform, "alice", f"api/v1/uploads/{session['id']}"), timeout=30).json()
    assert status["received"] == []
    r = s.put(part, data=data, headers={**xsrf, "X-TZ-Checksum-CRC32": crc}, timeout=30)
    assert r.status_code == 200, r.text
    r = s.post(tz(platform, "alice", f"api/v1/uploads/{session['id']}/complete"), headers=xsrf,
               timeout=30)  # fmt: skip
    assert r.status_code == 200 and r.json()["size"] == len(data), r.text


def test_copy_a_folder_from_the_lab_home_to_the_workspace_and_back(platform, alice_browser):
    s, xsrf = alice_browser, {"X-XSRFToken": alice_browser.user_xsrf}
    home = platform.home / "users" / "alice"
    (home / "notes" / "deep").mkdir(parents=True, exist_ok=True)
    (home / "notes" / "a.txt").write_text("alpha")
    (home / "notes" / "deep" / "b.csv").write_text("x,y\n1,2\n")
    r = s.post(tz(platform, "alice", "workspace/from-lab"), headers=xsrf, timeout=60,
               json={"lab_path": "notes", "space": "team:vision", "path": "shared-notes"})
    assert r.json() == {"files": 2, "bytes": 13}, r.text
    r = s.post(tz(platform, "alice", "workspace/to-lab"), headers=xsrf, timeout=60,
               json={"space": "team:vision", "path": "shared-notes", "lab_path": "back"})
    assert r.json() == {"files": 2, "bytes": 13}, r.text
    assert (home / "back" / "deep" / "b.csv").read_text() == "x,y\n1,2\n"
    r = s.post(tz(platform, "alice", "workspace/to-lab"), headers=xsrf, timeout=60,
               json={"space": "team:vision", "path": "shared-notes", "lab_path": "back"})
    assert r.status_code == 400 and "already exists" in r.json()["message"]


@pytest.mark.parametrize(
    ("direction", "body", "status", "starts"),
    [
        ("to-lab", {"space": "user:alice", "path": "x", "lab_path": "../bob"}, 400, "lab_path:"),
        ("from-lab", {"space": "user:alice", "path": "x", "lab_path": "/etc"}, 400, "lab_path:"),
        ("from-lab", {"space": "user:alice", "path": "x", "lab_path": "nope"}, 400, "lab_path:"),
        ("from-lab", {"space": "user:bob", "path": "x", "lab_path": "notes"}, 404, "space"),
        ("to-lab", {"space": "user:alice", "path": "../x", "lab_path": "y"}, 400, "path:"),
    ],
)
def test_lab_copies_refuse_paths_outside_either_side(platform, alice_browser, direction, body,
                                                     status, starts):  # fmt: skip
    xsrf = {"X-XSRFToken": alice_browser.user_xsrf}
    r = alice_browser.post(tz(platform, "alice", f"workspace/{direction}"), json=body,
                           headers=xsrf, timeout=30)  # fmt: skip
    assert r.status_code == status and r.json()["message"].startswith(starts), r.text


def test_downloads_keep_their_name_and_size_and_patch_is_forwarded(platform, alice_browser):
    s, xsrf = alice_browser, {"X-XSRFToken": alice_browser.user_xsrf}
    body = {"space": "user:alice", "path": "named/café 1.txt", "size": 5}
    session = s.post(tz(platform, "alice", "api/v1/uploads"), json=body, headers=xsrf,
                     timeout=30).json()  # fmt: skip
    s.put(tz(platform, "alice", f"api/v1/uploads/{session['id']}/parts/1"), data=b"hello",
          headers=xsrf, timeout=30)  # fmt: skip
    s.post(tz(platform, "alice", f"api/v1/uploads/{session['id']}/complete"), headers=xsrf,
           timeout=30)  # fmt: skip
    r = s.get(tz(platform, "alice", "api/v1/workspace/download"), timeout=30,
              params={"space": "user:alice", "path": "named/café 1.txt"})  # fmt: skip
    assert r.content == b"hello" and r.headers["Content-Length"] == "5"
    assert "filename*=UTF-8''caf%C3%A9%201.txt" in r.headers["Content-Disposition"]
    r = s.post(tz(platform, "alice", "api/v1/datasets"), headers=xsrf, timeout=30,
               json={"name": "patched", "type": "generic"})  # fmt: skip
    r = s.patch(tz(platform, "alice", f"api/v1/datasets/{r.json()['id']}"), headers=xsrf,
                json={"description": "<b>new</b>"}, timeout=30)  # fmt: skip
    assert r.status_code == 200 and r.json()["description"] == "<b>new</b>", r.text
    r = s.get(tz(platform, "alice", "api/v1/no/such%25route"), timeout=30)
    assert r.status_code == 404 and r.json()["message"] == "no such API route: " \
        "/services/tz/api/v1/no/such%25route"  # fmt: skip


def test_no_hostile_lab_path_reaches_outside_the_lab_root(platform, alice_browser):
    from traversal import HOSTILE_PATHS

    s, xsrf = alice_browser, {"X-XSRFToken": alice_browser.user_xsrf}
    root = (platform.home / "users" / "alice").resolve()
    outside = lambda: {p for p in platform.home.rglob("*") if root not in p.resolve().parents  # noqa: E731
                       and p.resolve() != root and "storage" not in p.parts}  # fmt: skip
    before = outside()
    for payload in HOSTILE_PATHS:
        for direction, body in (
            ("from-lab", {"lab_path": payload, "space": "user:alice", "path": "in"}),
            ("to-lab", {"space": "user:alice", "path": "via-lab/blob.bin", "lab_path": payload}),
        ):
            r = s.post(tz(platform, "alice", f"workspace/{direction}"), json=body, headers=xsrf,
                       timeout=30)  # fmt: skip
            # A name that is odd but stays inside the root may succeed; nothing may leave it.
            assert r.status_code in (200, 400, 404, 409), (direction, repr(payload), r.text)
    assert outside() - before == set()


def test_open_log_streams_do_not_hold_up_other_requests(platform, alice_browser):
    """Every open job view follows two streams through the user's server: a dozen of them must
    not make the rest of Lab wait (with tornado's shared client, 10 connections, the 11th
    request queued and then failed as "service unreachable")."""
    s, xsrf = alice_browser, alice_browser.user_xsrf
    project = platform.home / "users" / "alice" / "ticking"
    project.mkdir(parents=True, exist_ok=True)
    (project / "tick.py").write_text(
        "import time\nfor i in range(120):\n    print('tick', i, flush=True)\n    time.sleep(1)\n"
    )
    r = s.post(tz(platform, "alice", "snapshot"), json={"path": "ticking"},
               headers={"X-XSRFToken": xsrf}, timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    spec = {"name": "ticking", "entry": "tick.py", "snapshot": r.json()["id"]}
    r = s.post(tz(platform, "alice", "api/v1/jobs"), headers={"X-XSRFToken": xsrf}, json=spec,
               timeout=30)  # fmt: skip
    assert r.status_code == 201, r.text
    job = r.json()["id"]
    streams = []
    try:
        # Given 12 log streams open at once
        for _ in range(12):
            stream = s.get(tz(platform, "alice", f"api/v1/jobs/{job}/logs?follow=true"),
                           stream=True, timeout=60)  # fmt: skip
            lines = stream.iter_lines(chunk_size=None, decode_unicode=True)
            streams.append((stream, lines))
            assert stream.headers["Content-Type"].startswith("text/event-stream"), stream.text
        # Then each of them is live: it delivers the job's next line
        for _, lines in streams:
            assert next(ln for ln in lines if ln.startswith("data:")).startswith("data:")
        # And an ordinary request still answers at once
        started = time.monotonic()
        r = s.get(tz(platform, "alice", "api/v1/"), timeout=30)
        assert r.status_code == 200, r.text
        assert time.monotonic() - started < 5
    finally:
        for stream, _ in streams:
            stream.close()
        s.post(tz(platform, "alice", f"api/v1/jobs/{job}/cancel"),
               headers={"X-XSRFToken": xsrf}, timeout=30)  # fmt: skip
