"""The SDK, the ``tz ws`` / ``tz datasets`` CLI and the facades against the real platform.

Real hub, proxy and TZ service (local storage backend), real CLI processes: a 40 MB upload in
parts is killed half way and resumed, sending only the missing parts (counted by the service's own
request metrics); downloads equal uploads byte for byte; folders go both ways; datasets go from
local files to a published, opened and diffed version.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from training_zoo.client import Client, TzClientError, set_default_client

pytestmark = pytest.mark.integration

MiB = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def alice(platform) -> Iterator[Client]:
    with Client(platform.url, platform.token("alice"), timeout=60) as client:
        yield client


@pytest.fixture
def folder(alice: Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh folder in alice's space for one test, deleted afterwards."""
    name = f"sdk-{request.node.name[:40]}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    name = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    alice.ws_mkdir("user:alice", name)
    yield name
    try:
        alice.ws_delete("user:alice", name)
    except TzClientError:
        pass


def _cli(platform, *args: str, token: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training_zoo.cli",
        "--url",
        platform.url,
        "--token",
        token,
        *args,
    ]


def _part_puts(platform) -> int:
    """Parts the service stored so far (its own counter of answered ``PUT …/parts/N``)."""
    r = requests.get(
        f"{platform.url}/services/tz/metrics",
        headers={"Authorization": f"token {platform.token('admin')}"},
        timeout=30,
    )
    r.raise_for_status()
    total = 0
    for line in r.text.splitlines():
        if (
            line.startswith("tz_http_requests_total{")
            and 'handler="UploadPartHandler"' in line
            and 'method="PUT"' in line
            and 'code="200"' in line
        ):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def _wait_for_parts(client: Client, path: str, proc: subprocess.Popen, at_least: int) -> dict:
    """Poll until the upload session of ``path`` holds ``at_least`` parts; its status."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the upload ended (rc {proc.returncode}) before it was killed")
        for session in client.list_uploads():
            if session["space"] == "user:alice" and session["path"] == path:
                status = client.upload_status(session["id"])
                if len(status["received"]) >= at_least:
                    return status
        time.sleep(0.02)
    raise AssertionError(f"no upload session of {path} reached {at_least} parts")


def test_cli_upload_of_40_mb_resumes_after_a_kill_and_downloads_identically(
    platform, alice: Client, folder: str, tmp_path: Path
) -> None:
    # Given a 40 MB file of random bytes
    source = tmp_path / "big.bin"
    with source.open("wb") as f:
        for _ in range(40):
            f.write(os.urandom(MiB))
    target = f"{folder}/big.bin"
    token = platform.token("alice")
    upload = _cli(platform, "ws", "upload", str(source), target, "--part-size", "5",
                  "--parallel", "1", token=token)  # fmt: skip
    # When the CLI is killed (SIGKILL: no chance to clean up) after some parts arrived
    proc = subprocess.Popen(upload, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_parts(alice, target, proc, at_least=2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(1)  # let the service finish the request the kill cut off
    # Then nothing is visible at the target, and the session holds what arrived
    with pytest.raises(TzClientError) as missing:
        alice.ws_stat("user:alice", target)
    assert missing.value.status == 404
    session = next(s for s in alice.list_uploads() if s["path"] == target)
    received = alice.upload_status(session["id"])["received"]
    parts = session["parts"]
    assert parts == 8 and 2 <= len(received) < parts, received
    puts_before = _part_puts(platform)

    # When the same command runs again
    rerun = subprocess.run(upload, capture_output=True, text=True, timeout=300)

    # Then it resumes: it says so, sends only the missing parts, and the file is whole
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {len(received)} part(s)" in rerun.stderr, rerun.stderr
    assert _part_puts(platform) - puts_before == parts - len(received)
    assert rerun.stdout.strip() == target
    assert re.search(r"MB/s", rerun.stderr)
    item = alice.ws_stat("user:alice", target)
    assert item["size"] == 40 * MiB
    assert not [s for s in alice.list_uploads() if s["path"] == target]

    # And a download (from the CLI too) equals the upload
    dest = tmp_path / "down"
    dest.mkdir()
    down = subprocess.run(
        _cli(platform, "ws", "download", target, str(dest), token=token),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert Path(down.stdout.strip()) == dest / "big.bin"
    assert _sha256(dest / "big.bin") == _sha256(source)
    assert [p.name for p in dest.iterdir()] == ["big.bin"]  # no partial files left


def test_ctrl_c_leaves_the_upload_resumable(
    platform, alice: Client, folder: str, tmp_path: Path
) -> None:
    source = tmp_path / "mid.bin"
    # 24 parts: enough that Ctrl-C lands mid-upload however fast the parts go
    source.write_bytes(os.urandom(120 * MiB))
    target = f"{folder}/mid.bin"
    upload = _cli(platform, "ws", "upload", str(source), target, "--part-size", "5",
                  "--parallel", "1", token=platform.token("alice"))  # fmt: skip
    # A shell that starts pytest in the background hands it SIGINT ignored, and Python keeps an
    # ignored SIGINT: give the CLI the terminal's default, where users press Ctrl-C.
    proc = subprocess.Popen(upload, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for_parts(alice, target, proc, at_least=1)
        # Freeze the CLI so the interrupt lands while parts are still missing
        proc.send_signal(signal.SIGSTOP)
        held = next(s for s in alice.list_uploads() if s["path"] == target)
        assert len(alice.upload_status(held["id"])["received"]) < 24
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    rerun = subprocess.run(upload, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming:" in rerun.stderr
    assert alice.ws_stat("user:alice", target)["size"] == 120 * MiB


def test_folder_upload_download_and_rerun(alice: Client, folder: str, tmp_path: Path) -> None:
    # Given a local tree with nested folders, an empty folder and a file over one part
    local = tmp_path / "tree"
    (local / "a" / "b").mkdir(parents=True)
    (local / "empty").mkdir()
    files = {
        "top.txt": b"top\n",
        "a/one.csv": b"x,y\n1,2\n",
        "a/b/<b>html&amp; name.txt": b"kept as a name\n",
        "a/b/big.bin": os.urandom(6 * MiB),
    }
    for rel, data in files.items():
        (local / rel).write_bytes(data)
    seen: list[int] = []

    # When it is uploaded with the SDK
    items = alice.ws_upload(local, "user:alice", f"{folder}/tree", part_size=5 * MiB,
                            progress=lambda p: seen.append(p.done))  # fmt: skip

    # Then every file arrived, the folders exist, and progress reached the total
    assert isinstance(items, list)
    assert sorted(i["path"] for i in items) == sorted(f"{folder}/tree/{r}" for r in files)
    assert seen[-1] == sum(len(d) for d in files.values())
    names = {i["name"] for i in alice.ws_list("user:alice", f"{folder}/tree")}
    assert names == {"a", "empty", "top.txt"}

    # And downloading the folder gives the same tree, byte for byte
    back = alice.ws_download("user:alice", f"{folder}/tree", tmp_path / "back")
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data
    # and downloading it into a folder twice fetches nothing the second time
    into = tmp_path / "into"
    into.mkdir()
    for run in ("first", "again"):
        down: list = []
        got = alice.ws_download("user:alice", f"{folder}/tree", into, progress=down.append)
        assert got == into / "tree"
        assert down[-1].files_done == len(files)
        assert down[-1].skipped == (len(files) if run == "again" else 0)

    # And uploading it again sends nothing: every file is there with its size
    progress: list = []
    again = alice.ws_upload(local, "user:alice", f"{folder}/tree", progress=progress.append)
    assert again == []
    assert progress[-1].skipped == len(files)


def test_workspace_commands(platform, alice: Client, folder: str, tmp_path: Path) -> None:
    token = platform.token("alice")

    def tz(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_cli(platform, "ws", *args, token=token), capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    (tmp_path / "f.txt").write_text("hello\n")
    assert tz("mkdir", f"{folder}/x/y").returncode == 0
    assert tz("mkdir", "-p", f"{folder}/x/y").returncode == 0
    assert tz("mkdir", f"{folder}/x/y").returncode == 4  # exists: the service's 409
    assert tz("upload", "-q", str(tmp_path / "f.txt"), f"{folder}/x/f.txt").returncode == 0
    assert tz("cp", f"{folder}/x/f.txt", f"{folder}/x/g.txt").returncode == 0
    assert tz("mv", f"{folder}/x/g.txt", f"{folder}/x/y/h.txt").returncode == 0
    listing = tz("ls", "-l", f"{folder}/x")
    assert listing.returncode == 0
    assert re.search(r"^folder\s+.*y/$", listing.stdout, re.M), listing.stdout
    assert re.search(r"^file\s+6\s+.*f\.txt$", listing.stdout, re.M), listing.stdout
    refused = tz("rm", f"{folder}/x/y")
    assert refused.returncode == 2 and "use tz ws rm -r" in refused.stderr
    assert tz("rm", "-r", f"{folder}/x/y").returncode == 0
    assert tz("ls", f"{folder}/x").stdout.split() == ["f.txt"]
    missing = tz("ls", f"{folder}/nope")
    assert missing.returncode == 4 and "Traceback" not in missing.stderr


def test_datasets_from_local_files_to_an_opened_version(
    platform, alice: Client, folder: str, tmp_path: Path
) -> None:
    set_default_client(alice)
    try:
        import training_zoo as tz

        local = tmp_path / "pets"
        (local / "cats").mkdir(parents=True)
        (local / "dogs").mkdir()
        blobs = {"cats/c1.txt": b"cat one", "cats/c2.txt": b"cat two", "dogs/d1.txt": b"dog"}
        for rel, data in blobs.items():
            (local / rel).write_bytes(data)
        name = f"pets-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        created = tz.datasets.create(name, type="image_classification", labels=["cat", "dog"])
        assert created["name"] == name and created["latest_version"] is None

        added = tz.datasets.upload(name, local, via=f"{folder}/staging")
        assert added["added"] == 3
        keys = sorted(f["key"] for f in tz.datasets.files(name))
        assert len(keys) == 3 and all(k.endswith(".txt") for k in keys)
        for key in keys:
            label = "cat" if "cat" in key else "dog"
            tz.datasets.annotate(name, key, labels=[label], usage="train")
        v1 = tz.datasets.publish(name, note="first")
        assert v1["version"] == "V001"

        # The CLI sees it too
        out = subprocess.run(
            _cli(platform, "datasets", "versions", name, token=platform.token("alice")),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0 and "V001" in out.stdout, out.stderr

        # Open it: files come down on use, checked against the manifest's sha256
        ds = tz.datasets.open(f"{name}:V001", cache_dir=tmp_path / "cache")
        assert ds.version == "V001" and len(ds) == 3
        assert ds.labels == {"cat": 2, "dog": 1}
        assert len(ds.split("train")) == 3
        for f in ds.files:
            assert hashlib.sha256(f.path.read_bytes()).hexdigest() == f.sha256
        assert sorted(ds.root.rglob("*.txt")) == sorted(f.path for f in ds.files)

        # A second version that drops one file and relabels another
        tz_client = alice
        tz_client.remove_dataset_files(name, [keys[0]])
        tz.datasets.annotate(name, keys[1], labels=["dog"])
        assert tz.datasets.publish(name)["version"] == "V002"
        diff = tz.datasets.diff(name, "V002", "V001")
        assert diff["removed"] == [keys[0]] and diff["added"] == []
        assert [c["key"] for c in diff["relabeled"]] == [keys[1]]
        assert [v["version"] for v in tz.datasets.versions(name)] == ["V002", "V001"]
        assert len(list(tz.datasets.manifest(f"{name}:V001"))) == 3

        exported = tz.datasets.export(f"{name}:V001", f"{folder}/export.jsonl")
        assert exported["type"] == "file"
    finally:
        set_default_client(None)
