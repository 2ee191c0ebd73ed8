"""Every route needs a valid token and the right scope; other users' jobs are 404; admins see all;
bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field

import pytest
import yaml

from apiclient import ApiClient

pytestmark = pytest.mark.integration

JOB_ROUTES = [
    ("GET", "/jobs/{id}"),
    ("GET", "/jobs/{id}/logs"),
    ("GET", "/jobs/{id}/logs?follow=true"),
    ("GET", "/jobs/{id}/metrics"),
    ("GET", "/jobs/{id}/events"),
    ("POST", "/jobs/{id}/cancel"),
    ("POST", "/jobs/{id}/clone"),
    ("DELETE", "/jobs/{id}"),
]


def all_routes() -> list[tuple[str, str]]:
    from pathlib import Path

    spec = yaml.safe_load(
        (Path(__file__).parents[2] / "extensions/training_zoo/service/openapi.yaml").read_text()
    )
    out = []
    for path, item in spec["paths"].items():
        for verb in ("get", "post", "delete"):
            if verb in item:
                out.append((verb.upper(), path.replace("{job_id}", "nope-123")))
    return out


@pytest.fixture(scope="module")
def alices_job(api):
    alice = api("alice")
    job = alice.submit(name="private", code="print('secret')")
    return alice.wait(job["id"])


@pytest.mark.parametrize(("method", "path"), all_routes())
def test_every_route_refuses_missing_and_invalid_tokens(platform, method, path):
    base = platform.api if path != "/metrics" else platform.url + "/services/tz"
    for token in (None, "not-a-real-token"):
        r = ApiClient(base, token).request(method, path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["reason"] in ("NoToken", "InvalidToken")


def test_a_token_without_tz_scopes_is_forbidden(platform):
    token = platform.token("carol", scopes=["read:users:name!user", "access:services!service=tz"])
    client = ApiClient(platform.api, token)
    r = client.get("/jobs")
    assert r.status_code == 403
    assert "custom:tz:jobs:read" in r.json()["message"]
    read_only = ApiClient(
        platform.api,
        platform.token("carol", scopes=["custom:tz:jobs:read", "access:services!service=tz"]),
    )
    assert read_only.get("/jobs").status_code == 200
    r = read_only.post("/jobs", json={"name": "x", "code": "pass"})
    assert r.status_code == 403 and "custom:tz:jobs:write" in r.json()["message"]


def test_service_metrics_need_the_admin_scope(platform, api):
    metrics = ApiClient(platform.url + "/services/tz", platform.token("alice"))
    assert metrics.get("/metrics").status_code == 403
    admin = ApiClient(platform.url + "/services/tz", platform.token("admin"))
    r = admin.session.get(platform.url + "/services/tz/metrics", timeout=10)
    assert r.status_code == 200 and "tz_jobs" in r.text and "tz_http_requests" in r.text


@pytest.mark.parametrize(("method", "path"), JOB_ROUTES)
def test_other_users_get_404_on_every_job_route(api, alices_job, method, path):
    bob = api("bob")
    r = bob.request(method, path.format(id=alices_job["id"]), json={} if method == "POST" else None)
    assert r.status_code == 404, r.text
    assert alices_job["id"] in r.json()["message"]


def test_other_users_do_not_see_the_job_in_lists(api, alices_job):
    bob = api("bob")
    assert alices_job["id"] not in [j["id"] for j in bob.get("/jobs").json()["items"]]
    assert alices_job["id"] not in [j["id"] for j in bob.get("/jobs?all=true").json()["items"]]
    assert all(j["owner"] == "bob" for j in bob.get("/queue").json()["items"])


def test_admin_sees_and_reads_every_job(api, alices_job):
    admin = api("admin")
    assert admin.get("/").json()["user"]["admin"] is True
    ids = [j["id"] for j in admin.get("/jobs?all=true&limit=200").json()["items"]]
    assert alices_job["id"] in ids
    assert admin.get(f"/jobs/{alices_job['id']}").json()["owner"] == "alice"
    assert admin.get(f"/jobs/{alices_job['id']}/logs").json()["items"][0]["line"] == "secret"


@dataclass
class BadInput:
    name: str
    body: object
    field: str
    raw: bytes | None = None
    headers: dict = field(default_factory=dict)


BAD_JOBS = [
    BadInput("unknown field", {"name": "a", "code": "1", "gpus": 1}, "gpus"),
    BadInput("nodes zero", {"name": "a", "code": "1", "nodes": 0}, "nodes"),
    BadInput("negative procs", {"name": "a", "code": "1", "procs_per_node": -2}, "procs_per_node"),
    BadInput("negative timeout", {"name": "a", "code": "1", "timeout": -1}, "timeout"),
    BadInput(
        "negative gpus",
        {"name": "a", "code": "1", "resources_per_node": {"gpus": -1}},
        "resources_per_node.gpus",
    ),
    BadInput(
        "bad memory",
        {"name": "a", "code": "1", "resources_per_node": {"memory": "lots"}},
        "resources_per_node.memory",
    ),
    BadInput("nodes as string", {"name": "a", "code": "1", "nodes": "2"}, "nodes"),
    BadInput("no name", {"code": "1"}, "name"),
    BadInput("bad name", {"name": "../x", "code": "1"}, "name"),
    BadInput("no entry", {"name": "a"}, "entry"),
    BadInput("script without snapshot", {"name": "a", "entry": "train.py"}, "snapshot"),
    BadInput(
        "entry outside", {"name": "a", "entry": "../../etc/passwd", "snapshot": "0" * 64}, "entry"
    ),
    BadInput(
        "absolute entry", {"name": "a", "entry": "/etc/passwd", "snapshot": "0" * 64}, "entry"
    ),
    BadInput("unknown snapshot", {"name": "a", "entry": "t.py", "snapshot": "0" * 64}, "snapshot"),
    BadInput("bad framework", {"name": "a", "code": "1", "framework": "jax"}, "framework"),
    BadInput(
        "reserved env", {"name": "a", "code": "1", "env": {"TZ_JOB_ID": "x"}}, "env.TZ_JOB_ID"
    ),
    BadInput("args not strings", {"name": "a", "code": "1", "args": [1]}, "args"),
    BadInput("not an object", [1, 2], "body"),
    BadInput("invalid json", None, "body", raw=b"{nope"),
    BadInput("non-utf8 body", None, "body", raw=b'{"name": "\xff\xfe"}'),
]


@pytest.mark.parametrize("case", BAD_JOBS, ids=[c.name for c in BAD_JOBS])
def test_bad_job_specs_are_400_naming_the_field(api, case):
    alice = api("alice")
    if case.raw is not None:
        r = alice.post("/jobs", data=case.raw, headers={"Content-Type": "application/json"})
    else:
        r = alice.post("/jobs", json=case.body)
    assert r.status_code == 400, r.text
    body = r.json()
    assert case.field in body["message"]
    assert case.field in body.get("errors", {})


def test_missing_script_in_snapshot_is_400(api, workdir):
    alice = api("alice")
    r = alice.post(
        "/jobs", json={"name": "a", "entry": "missing.py", "snapshot": alice.snapshot(workdir)}
    )
    assert r.status_code == 400 and "missing.py" in r.json()["message"]


def _tar(members: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return gzip.compress(buf.getvalue())


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("traversal", _tar({"../evil.py": b"x"})),
        ("absolute", _tar({"/etc/evil.py": b"x"})),
        ("link out", _tar({"a.py": b"x"}, link=("b.py", "/etc/passwd"))),
        ("not gzip", b"plain text"),
    ],
)
def test_hostile_snapshots_are_refused(api, name, data):
    r = api("alice").post("/snapshots", data=data, headers={"Content-Type": "application/gzip"})
    assert r.status_code == 400, (name, r.text)
    assert "snapshot" in r.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field_name"),
    [
        ("?limit=0", "limit"),
        ("?limit=abc", "limit"),
        ("?offset=-1", "offset"),
        ("?status=bogus", "status"),
        ("?all=maybe", "all"),
    ],
)
def test_bad_list_queries_are_400(api, query, field_name):
    r = api("alice").get("/jobs" + query)
    assert r.status_code == 400 and field_name in r.json()["message"]


def test_unknown_routes_are_json_404(api):
    r = api("alice").get("/nope")
    assert r.status_code == 404 and r.json()["message"]


def test_no_token_appears_in_the_logs(platform, api, alices_job):
    import psutil

    # The service's own hub token and every user token used in this session
    service_env = psutil.Process(platform.service_pid()).environ()
    secrets = [service_env["JUPYTERHUB_API_TOKEN"], platform.env["TZ_PASSWORD"],
               platform.env["TZ_ADMIN_PASSWORD"]]
    secrets += [platform.token(u) for u in ("alice", "bob", "admin")]
    api("alice").get(f"/jobs/{alices_job['id']}/logs?follow=true")
    api("bob").get(f"/jobs/{alices_job['id']}")  # a 404, which is logged
    texts = {"hub+service+proxy": platform.log_path.read_text(errors="replace")}
    for path in (platform.home / "storage" / "jobs").rglob("*.log"):
        texts[str(path)] = path.read_text(errors="replace")
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {name}"


def test_jobs_do_not_inherit_the_services_secrets(api):
    alice = api("alice")
    code = "import os\nprint(sorted(k for k in os.environ if 'TOKEN' in k or 'PASSWORD' in k))"
    job = alice.wait(alice.submit(name="env", code=code)["id"])
    assert alice.logs(job["id"]) == ["[]"]


def test_snapshot_made_with_tar_dot_finds_its_entry(api, tmp_path):
    # Given an archive made the way the REST guide shows (`tar czf - -C dir .`)
    import subprocess

    (tmp_path / "train.py").write_text("print('from tar')\n")
    data = subprocess.run(
        ["tar", "czf", "-", "-C", str(tmp_path), "."], check=True, capture_output=True
    ).stdout
    alice = api("alice")
    r = alice.post("/snapshots", data=data, headers={"Content-Type": "application/gzip"})
    assert r.status_code == 201
    # When a job names train.py
    job = alice.submit(name="tarred", entry="train.py", snapshot=r.json()["id"])
    # Then it runs it
    assert alice.wait(job["id"])["status"] == "succeeded"
    assert alice.logs(job["id"]) == ["from tar"]
