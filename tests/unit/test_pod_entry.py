"""The training pod's entry point, run as a real process: it fetches code through a presigned-style
URL, labels every line with its rank, marks metrics, uploads the output, and exits with the
program's code. And the service side that reads those lines back into per-rank logs and metrics."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from fakes.presigned import ObjectStore, object_store
from training_zoo.jobs.backends import spool
from training_zoo.jobs.backends.kubernetes import TzKubernetesBackend
from training_zoo.jobs.pod_entry import tf_config

SCRIPT = """\
import os, sys
from training_zoo import log_metrics
rank = os.environ["RANK"]
print("hello from", rank, "of", os.environ["WORLD_SIZE"])
print("to stderr", file=sys.stderr)
log_metrics(step=1, loss=0.5)
open(os.path.join(os.environ["TZ_OUTPUT_DIR"], f"out-{rank}.txt"), "w").write(rank)
sys.exit(int(sys.argv[1]) if rank == "1" else 0)
"""


@pytest.fixture
def store():
    with object_store() as server:
        yield server


def code_archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def run_pod(tmp_path: Path, store: ObjectStore, program: list[str], code: str = "/code.tar.gz"):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "code_url").write_text(f"{store.url}{code}")
    (secrets / "output_url").write_text(f"{store.url}/output.tar.gz")
    store.objects["/code.tar.gz"] = code_archive({"train.py": SCRIPT})
    full = dict(os.environ, TZ_SECRETS_DIR=str(secrets), TZ_WORKSPACE=str(tmp_path / "ws"),
                TZ_PROGRAM=json.dumps(program), TZ_METRICS_STDOUT="1", TZ_NUM_NODES="1",
                TZ_PROCS_PER_NODE="2", TZ_FRAMEWORK="custom", JOB_COMPLETION_INDEX="0")
    full.pop("TZ_METRICS_DIR", None)  # fmt: skip
    return subprocess.run([sys.executable, "-m", "training_zoo.jobs.pod_entry"], env=full,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_node_runs_its_ranks_labels_their_lines_and_uploads_the_output(tmp_path, store):
    proc = run_pod(tmp_path, store, ["train.py", "0"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.split("\n")  # not splitlines(): it splits at the \x1e metric mark
    for rank in ("0", "1"):
        assert f"[rank {rank}] hello from {rank} of 2" in lines
        assert f"[rank {rank}] to stderr" in lines
        assert any(line.startswith(f"[rank {rank}] \x1etz-metric ") for line in lines)
    with tarfile.open(fileobj=io.BytesIO(store.objects["/output.tar.gz"]), mode="r:gz") as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == [
            "./out-0.txt", "./out-1.txt"]  # fmt: skip


def test_a_failing_rank_fails_the_node_with_its_exit_code(tmp_path, store):
    proc = run_pod(tmp_path, store, ["train.py", "7"])
    assert proc.returncode == 7


def test_a_code_url_that_fails_ends_the_pod_with_a_clear_message(tmp_path, store):
    proc = run_pod(tmp_path, store, ["train.py"], code="/expired")
    assert proc.returncode == 66
    assert "[tz] cannot fetch the job's code: HTTP Error 404" in proc.stdout


def test_tf_config_lists_every_worker_by_headless_service_host(monkeypatch):
    monkeypatch.setenv("TZ_JOBSET_NAME", "tj-1")
    config = json.loads(tf_config(nodes=2, procs=2, index=3))
    assert config["cluster"]["worker"] == [
        "tj-1-node-0-0.tj-1:2222", "tj-1-node-0-0.tj-1:2223",
        "tj-1-node-0-1.tj-1:2222", "tj-1-node-0-1.tj-1:2223"]  # fmt: skip
    assert config["task"] == {"type": "worker", "index": 3}


@pytest.mark.parametrize(
    ("raw", "logs", "metrics"),
    [
        (b"[rank 3] epoch 1\n", {3: ["epoch 1"]}, {}),
        (b"[tz] code fetched\n", {2: ["[tz] code fetched"]}, {}),
        (b'[rank 2] \x1etz-metric {"step": 1, "time": 5, "values": {"loss": 1}}\n', {},
         {2: [{"step": 1, "time": 5, "values": {"loss": 1}}]}),
        (b'[rank 2] no newline\x1etz-metric {"step": 2, "time": 6, "values": {}}\n',
         {2: ["no newline"]}, {2: [{"step": 2, "time": 6, "values": {}}]}),
        (b"[rank x] odd\n", {2: ["[rank x] odd"]}, {}),
    ],
)  # fmt: skip
def test_pod_log_lines_become_per_rank_logs_and_metrics(tmp_path, raw, logs, metrics):
    TzKubernetesBackend._spool_line(tmp_path, 2, raw)
    for rank, lines in logs.items():
        assert (tmp_path / "logs" / f"rank-{rank}.log").read_text().splitlines() == lines
    assert spool.log_ranks(tmp_path / "logs") == sorted(logs)
    points, _ = spool.read_metrics(tmp_path / "metrics", None)
    assert {p["rank"] for p in points} == set(metrics)
