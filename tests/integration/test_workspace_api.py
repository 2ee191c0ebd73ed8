"""The workspace and upload REST API through the real hub and service: local folder storage for
the session platform, and a second platform on moto S3 for cut connections and multipart uploads.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import random
import socket
import zipfile
import zlib
from pathlib import Path
from urllib.parse import quote, urlparse

import boto3
import pytest
from s3server import CREDENTIALS, moto_s3
from traversal import HOSTILE_PATHS, HOSTILE_SPACES

from apiclient import ApiClient
from harness import Platform

pytestmark = pytest.mark.integration
MiB = 1 << 20
ME = "user:alice"


def q(**params: str) -> str:
    return "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def upload(client: ApiClient, space: str, path: str, data: bytes, part_size: int = 5 * MiB,
           order: list[int] | None = None) -> dict:  # fmt: skip
    r = client.post("/uploads", json={"space": space, "path": path, "size": len(data),
                                      "part_size": part_size})  # fmt: skip
    assert r.status_code == 201, r.text
    session = r.json()
    for n in order or range(1, session["parts"] + 1):
        chunk = data[(n - 1) * part_size : n * part_size]
        r = client.put(f"/uploads/{session['id']}/parts/{n}", data=chunk,
                       headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 200 and r.json()["size"] == len(chunk), r.text
    r = client.post(f"/uploads/{session['id']}/complete")
    assert r.status_code == 200, r.text
    return r.json()


def open_session(client: ApiClient, path: str, size: int, part_size: int = 5 * MiB) -> dict:
    body = {"space": ME, "path": path, "size": size, "part_size": part_size}
    r = client.post("/uploads", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def download(client: ApiClient, space: str, path: str) -> bytes:
    r = client.get("/workspace/download" + q(space=space, path=path))
    assert r.status_code == 200, r.text
    return r.content


def test_spaces_are_the_user_and_their_teams(api):
    spaces = {name: [s["space"] for s in api(name).get("/workspace/spaces").json()["items"]]
              for name in ("alice", "bob")}  # fmt: skip
    assert spaces == {"alice": ["user:alice", "team:vision"], "bob": ["user:bob"]}


def test_a_file_sent_in_retried_out_of_order_parts_downloads_intact(api):
    alice = api("alice")
    data = random.Random(1).randbytes(12 * MiB + 123)
    item = upload(alice, ME, "big/data.bin", data, order=[3, 1, 2, 1, 3])
    assert (item["type"], item["size"]) == ("file", len(data))
    got = download(alice, ME, "big/data.bin")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    r = alice.get("/workspace/download" + q(space=ME, path="big/data.bin"))
    assert "attachment" in r.headers["Content-Disposition"]


def test_a_folder_downloads_as_a_zip(api):
    alice = api("alice")
    files = {"zipped/a.txt": b"alpha", "zipped/sub/b.bin": random.Random(2).randbytes(3 * MiB)}
    for path, data in files.items():
        upload(alice, ME, path, data)
    r = alice.get("/workspace/download" + q(space=ME, path="zipped"))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/zip"
    assert 'filename="zipped.zip"' in r.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert {n: archive.read(n) for n in archive.namelist()} == files
    # another user's folder is not found
    assert api("bob").get("/workspace/download" + q(space=ME, path="zipped")).status_code == 404


def test_an_open_session_is_listed_for_resume_and_abort_leaves_nothing(api):
    alice = api("alice")
    r = alice.post("/uploads", json={"space": ME, "path": "resume/x.bin", "size": 11 * MiB,
                                     "part_size": 5 * MiB})  # fmt: skip
    session = r.json()
    alice.put(f"/uploads/{session['id']}/parts/2", data=b"b" * 5 * MiB)
    listed = {s["id"]: s for s in alice.get("/uploads").json()["items"]}
    assert listed[session["id"]]["path"] == "resume/x.bin"
    status = alice.get(f"/uploads/{session['id']}").json()
    assert [p["number"] for p in status["received"]] == [2]
    r = alice.post(f"/uploads/{session['id']}/complete")
    assert r.status_code == 400 and r.json()["errors"] == {"parts": "missing parts 1, 3"}
    assert api("bob").get(f"/uploads/{session['id']}").status_code == 404
    assert alice.delete(f"/uploads/{session['id']}").status_code == 204
    assert alice.get(f"/uploads/{session['id']}").status_code == 404
    assert alice.get("/workspace/stat" + q(space=ME, path="resume/x.bin")).status_code == 404


@pytest.mark.parametrize(
    ("number", "body", "status", "field", "crc"),
    [
        ("0", b"x", 400, "number", None),
        ("4", b"x", 400, "number", None),
        ("1", b"x" * (5 * MiB + 1), 400, "data", None),
        ("3", b"x" * 10, 400, "data", None),
        ("3", b"x" * MiB, 400, "X-TZ-Checksum-CRC32", "AAAAAA=="),
        ("3", b"x" * MiB, 400, "X-TZ-Checksum-CRC32", "not base64"),
    ],
)
def test_bad_parts_are_refused_naming_the_field(api, number, body, status, field, crc):
    alice = api("alice")
    session = open_session(alice, f"bad/{number}-{len(body)}-{crc}", 11 * MiB)
    r = alice.put(f"/uploads/{session['id']}/parts/{number}", data=body,
                  headers={"X-TZ-Checksum-CRC32": crc} if crc else {})  # fmt: skip
    assert (r.status_code, list(r.json()["errors"])) == (status, [field])
    alice.delete(f"/uploads/{session['id']}")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"path": "a", "size": 1}, "space"),
        ({"space": ME, "size": 1}, "path"),
        ({"space": ME, "path": "a"}, "size"),
        ({"space": ME, "path": "a", "size": -1}, "size"),
        ({"space": ME, "path": "a", "size": "1"}, "size"),
        ({"space": ME, "path": "a", "size": 20 * MiB, "part_size": 1024}, "part_size"),
        ({"space": ME, "path": "a", "size": 1, "overwrite": "yes"}, "overwrite"),
        ({"space": ME, "path": "a", "size": 1, "colour": "red"}, "colour"),
    ],
)
def test_bad_upload_sessions_are_refused_naming_the_field(api, body, field):
    r = api("alice").post("/uploads", json=body)
    assert r.status_code == 400 and field in r.json()["errors"], r.text


def test_browse_in_pages_sort_and_manage_files(api):
    alice = api("alice")
    for i in range(25):
        upload(alice, ME, f"browse/f{i:02d}.txt", b"x" * i)
    names, cursor = [], None
    while True:
        page = alice.get(
            "/workspace/list"
            + q(space=ME, path="browse", limit="10", **({"cursor": cursor} if cursor else {}))
        ).json()
        names += [it["name"] for it in page["items"]]
        if not (cursor := page["next"]):
            break
    assert names == [f"f{i:02d}.txt" for i in range(25)]
    by_size = alice.get("/workspace/list" + q(space=ME, path="browse", sort="size",
                                              order="desc", limit="3")).json()  # fmt: skip
    assert [it["size"] for it in by_size["items"]] == [24, 23, 22]

    assert (
        alice.post("/workspace/mkdir", json={"space": ME, "path": "browse/sub"}).status_code == 201
    )
    r = alice.post("/workspace/move", json={"space": ME, "path": "browse/f00.txt",
                                           "target": "browse/sub/renamed.txt"})  # fmt: skip
    assert r.json()["path"] == "browse/sub/renamed.txt"
    r = alice.post(
        "/workspace/copy",
        json={
            "space": ME,
            "path": "browse/sub",
            "target": "team-copy",
            "target_space": "team:vision",
        },
    )
    assert r.status_code == 200, r.text
    assert download(api("carol"), "team:vision", "team-copy/renamed.txt") == b""
    r = alice.post("/workspace/move", json={"space": ME, "path": "browse/f01.txt",
                                           "target": "browse/f02.txt"})  # fmt: skip
    assert r.status_code == 409
    assert alice.delete("/workspace/files" + q(space=ME, path="browse")).status_code == 204
    assert alice.get("/workspace/list" + q(space=ME, path="browse")).status_code == 404


def test_other_users_spaces_answer_404_and_teams_are_shared(api):
    alice, bob, carol = api("alice"), api("bob"), api("carol")
    upload(alice, ME, "private.txt", b"mine")
    upload(alice, "team:vision", "shared.txt", b"ours")
    for path in ("/workspace/stat", "/workspace/download", "/workspace/list"):
        r = bob.get(path + q(space=ME, path="private.txt" if "list" not in path else ""))
        assert r.status_code == 404, (path, r.text)
        r = bob.get(path + q(space="team:vision", path="shared.txt" if "list" not in path else ""))
        assert r.status_code == 404, (path, r.text)
    assert bob.delete("/workspace/files" + q(space=ME, path="private.txt")).status_code == 404
    assert download(carol, "team:vision", "shared.txt") == b"ours"
    assert carol.get("/workspace/stat" + q(space=ME, path="private.txt")).status_code == 404
    assert download(alice, ME, "private.txt") == b"mine"


def test_previews_and_thumbnails_of_workspace_files(api):
    from io import BytesIO

    from PIL import Image

    alice = api("alice")
    png = BytesIO()
    Image.new("RGB", (640, 320), (200, 30, 30)).save(png, "PNG")
    upload(alice, ME, "look/red.png", png.getvalue())
    upload(alice, ME, "look/t.csv", b"name,note\n<b>x</b>,<script>1</script>\n")
    r = alice.get("/workspace/preview" + q(space=ME, path="look/red.png"))
    assert r.json() == {"kind": "image", "width": 640, "height": 320, "format": "PNG"}
    r = alice.get("/workspace/preview" + q(space=ME, path="look/t.csv"))
    assert r.json()["rows"] == [["<b>x</b>", "<script>1</script>"]], "cells are data, verbatim"
    r = alice.get("/workspace/thumbnail" + q(space=ME, path="look/red.png", size="64"))
    assert r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(BytesIO(r.content)).size == (64, 32)
    r = alice.get("/workspace/thumbnail" + q(space=ME, path="look/t.csv"))
    assert r.status_code == 400 and "t.csv" in r.json()["message"]
    r = alice.get("/workspace/thumbnail" + q(space=ME, path="look/red.png", size="4096"))
    assert r.status_code == 400 and r.json()["errors"] == {"size": "must be between 32 and 512"}
    assert api("bob").get("/workspace/preview" + q(space=ME, path="look/t.csv")).status_code == 404


def hostile_requests(payload: object) -> list[tuple[str, str, dict]]:
    """Every path-like parameter of the workspace API, carrying ``payload``."""
    p = payload if isinstance(payload, str) else str(payload)
    return [
        ("GET", "/workspace/list" + q(space=ME, path=p), {}),
        ("GET", "/workspace/stat" + q(space=ME, path=p), {}),
        ("GET", "/workspace/download" + q(space=ME, path=p), {}),
        ("GET", "/workspace/preview" + q(space=ME, path=p), {}),
        ("GET", "/workspace/thumbnail" + q(space=ME, path=p), {}),
        ("DELETE", "/workspace/files" + q(space=ME, path=p), {}),
        ("POST", "/workspace/mkdir", {"json": {"space": ME, "path": payload}}),
        (
            "POST",
            "/workspace/move",
            {"json": {"space": ME, "path": "victim.txt", "target": payload}},
        ),
        ("POST", "/workspace/copy", {"json": {"space": ME, "path": payload, "target": "x"}}),
        ("POST", "/uploads", {"json": {"space": ME, "path": payload, "size": 1}}),
    ]


def test_no_hostile_path_escapes_on_any_parameter(api, platform):
    alice = api("alice")
    upload(alice, ME, "victim.txt", b"v")
    before = {p for p in Path(platform.home).rglob("*")}
    escapes = []
    for payload in HOSTILE_PATHS:
        for method, path, kw in hostile_requests(payload):
            r = alice.request(method, path, **kw)
            if r.status_code not in (400, 404):
                escapes.append((method, path, repr(payload), r.status_code))
    for space in HOSTILE_SPACES:
        r = alice.get("/workspace/list" + q(space=str(space)))
        if r.status_code not in (400, 404):
            escapes.append(("GET", "list", repr(space), r.status_code))
        r = alice.post("/workspace/mkdir", json={"space": space, "path": "x"})
        if r.status_code not in (400, 404):
            escapes.append(("POST", "mkdir", repr(space), r.status_code))
    assert escapes == []
    created = {p for p in Path(platform.home).rglob("*")} - before
    workspace = Path(platform.home) / "workspace" / "users" / "alice"
    assert [p for p in created if workspace not in p.parents and "uploads" not in p.parts
            and p.suffix not in (".sqlite", ".log", "-journal")] == []  # fmt: skip
    assert download(alice, ME, "victim.txt") == b"v"


# ---- S3: cut connections ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["CRC32", "CRC32-stream"])
def s3_platform(tmp_path_factory, request):
    """The platform on moto S3, once with parts spooled then sent with a CRC32 header and once
    with parts streamed on as they arrive (CRC32 in an aws-chunked trailer)."""
    bucket = "tz-ws-api" if request.param == "CRC32" else "tz-ws-api-stream"
    with moto_s3(bucket) as s3:
        config = f"""
c.TzStorage.url = "s3://{bucket}/platform"
c.TzStorage.storage_options = {{"key": "testing", "secret": "testing",
                                "client_kwargs": {{"endpoint_url": "{s3}"}}}}
c.TzUploads.part_checksum = "{request.param}"
"""
        home = tmp_path_factory.mktemp("s3home")
        with Platform(home, tz_config=config, extra_env=CREDENTIALS) as p:
            client = boto3.client("s3", endpoint_url=s3, **{
                "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                "region_name": "us-east-1"})  # fmt: skip
            yield p, ApiClient(p.api, p.token("alice")), client, bucket


def crc_of(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def cut_put(api_url: str, token: str, path: str, body: bytes, send: int, crc: bool) -> None:
    """Start a PUT that announces ``len(body)`` bytes, send ``send`` of them, and hang up; with
    ``crc`` the part's CRC32 goes with it, as the Lab sends it (the part then streams on)."""
    url = urlparse(api_url + path)
    checksum = f"X-TZ-Checksum-CRC32: {crc_of(body)}\r\n" if crc else ""
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: token {token}\r\nContent-Type: application/octet-stream\r\n"
                f"{checksum}Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode() + body[:send])
        sock.shutdown(socket.SHUT_RDWR)


def visible_keys(s3, bucket: str, prefix: str = "platform/workspace/") -> list[str]:
    resp = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


def test_connections_cut_at_random_offsets_never_leave_a_visible_object(s3_platform):
    platform, alice, s3, bucket = s3_platform
    part = 5 * MiB
    data = random.Random(7).randbytes(2 * part + 1000)
    session = alice.post("/uploads", json={"space": ME, "path": "cut/data.bin", "size": len(data),
                                           "part_size": part}).json()  # fmt: skip
    offsets = sorted(random.Random(3).sample(range(1, part), 22)) + [0, part - 1]
    for i, offset in enumerate(offsets):
        number = 1 + i % 2
        cut_put(platform.api, platform.token("alice"), f"/uploads/{session['id']}/parts/{number}",
                data[(number - 1) * part : number * part], offset, crc=i % 4 >= 2)  # fmt: skip
        r = alice.get(f"/uploads/{session['id']}")
        assert r.status_code == 200, (offset, r.text[:300])
        received = r.json()["received"]
        assert [p for p in received if p["size"] != part] == [], (offset, received)
        assert visible_keys(s3, bucket) == [], offset
    r = alice.post(f"/uploads/{session['id']}/complete")
    assert r.status_code == 400 and "missing parts" in r.json()["message"]
    assert visible_keys(s3, bucket) == []
    for n in (3, 2, 1):
        chunk = data[(n - 1) * part : n * part]
        alice.put(f"/uploads/{session['id']}/parts/{n}", data=chunk,
                  headers={"X-TZ-Checksum-CRC32": crc_of(chunk)} if n != 2 else {})  # fmt: skip
    assert alice.post(f"/uploads/{session['id']}/complete").status_code == 200
    assert visible_keys(s3, bucket) == ["platform/workspace/users/alice/cut/data.bin"]
    got = s3.get_object(Bucket=bucket, Key="platform/workspace/users/alice/cut/data.bin")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_abort_on_s3_drops_the_multipart_upload(s3_platform):
    _, alice, s3, bucket = s3_platform
    session = open_session(alice, "cut/aborted.bin", 6 * MiB)
    alice.put(f"/uploads/{session['id']}/parts/1", data=os.urandom(5 * MiB))
    assert len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    assert alice.delete(f"/uploads/{session['id']}").status_code == 204
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "platform/workspace/users/alice/cut/aborted.bin" not in visible_keys(s3, bucket)
