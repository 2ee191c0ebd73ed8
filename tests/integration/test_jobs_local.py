"""Jobs on the local backend, end to end through the real hub, proxy and service.

Real torchrun processes (gloo on CPU); the scripts live in ``tests/jobs/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration


def output_dir(platform, job: dict) -> Path:
    return platform.home / "storage" / job["output_dir"]


def job_processes(job_id: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("TZ_JOB_ID") == job_id:
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def test_two_nodes_two_procs_make_world_size_four_with_identical_parameters(platform, api, workdir):
    # Given alice's working folder with a DDP script
    alice = api("alice")
    snap = alice.snapshot(workdir)
    # When she submits it on 2 nodes x 2 processes
    job = alice.submit(
        name="ddp-4", entry="ddp_params.py", args=["5"], snapshot=snap, nodes=2, procs_per_node=2
    )
    assert job["world_size"] == 4
    job = alice.wait(job["id"])
    # Then it succeeds with four ranks on two nodes that end with the same parameters
    assert job["status"] == "succeeded", alice.events(job["id"])
    results = [
        json.loads(p.read_text()) for p in sorted(output_dir(platform, job).glob("params-*"))
    ]
    assert sorted(r["rank"] for r in results) == [0, 1, 2, 3]
    assert {r["world"] for r in results} == {4}
    assert {r["node"] for r in results} == {"0", "1"}
    assert all(r["params"] == results[0]["params"] for r in results)
    # and every rank's log and the metrics are served
    assert alice.get(f"/jobs/{job['id']}/logs").json()["ranks"] == [0, 1, 2, 3]
    assert any("rank 3 of 4 done" in line for line in alice.logs(job["id"], rank=3))
    metrics = alice.get(f"/jobs/{job['id']}/metrics").json()["items"]
    assert {m["step"] for m in metrics if m["rank"] == 0} == set(range(5))
    assert all("loss" in m["values"] for m in metrics)


def test_tensorflow_workers_get_a_correct_tf_config(platform, api, workdir):
    alice = api("alice")
    job = alice.submit(
        name="tf",
        framework="tensorflow",
        entry="tf_config.py",
        snapshot=alice.snapshot(workdir),
        nodes=2,
        procs_per_node=1,
    )
    job = alice.wait(job["id"])
    assert job["status"] == "succeeded", alice.events(job["id"])
    configs = [json.loads((output_dir(platform, job) / f"tf-{i}.json").read_text()) for i in (0, 1)]
    workers = configs[0]["cluster"]["worker"]
    assert len(workers) == 2 and len(set(workers)) == 2
    assert all(w.startswith("127.0.0.1:") for w in workers)
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
    ]
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)


def test_custom_command_runs_once_per_node(platform, api):
    alice = api("alice")
    job = alice.submit(
        name="custom",
        framework="custom",
        nodes=2,
        command=["sh", "-c", "echo node=$TZ_NODE_RANK of $TZ_NUM_NODES"],
    )
    job = alice.wait(job["id"])
    assert job["status"] == "succeeded"
    lines = sorted(alice.logs(job["id"]))
    assert lines == ["node=0 of 2", "node=1 of 2"]


def test_failing_rank_fails_the_job_with_its_exit_code(api, workdir):
    alice = api("alice")
    job = alice.submit(
        name="fails", entry="fail_rank.py", snapshot=alice.snapshot(workdir), procs_per_node=2
    )
    job = alice.wait(job["id"])
    assert job["status"] == "failed"
    assert job["reason"] == "RankFailed"
    assert job["exit_code"] == 3
    assert "rank 1 exited with code 3" in job["message"]
    events = alice.events(job["id"])
    assert any(
        e["reason"] == "RankExited" and "rank 1" in e["message"] and "code 3" in e["message"]
        for e in events
    )


def test_max_retries_retries_until_success(api, workdir):
    alice = api("alice")
    job = alice.submit(
        name="flaky", entry="flaky.py", snapshot=alice.snapshot(workdir), max_retries=2
    )
    job = alice.wait(job["id"])
    assert job["status"] == "succeeded"
    assert job["attempt"] == 2
    reasons = [e["reason"] for e in alice.events(job["id"])]
    assert reasons.count("Started") == 2 and "Retrying" in reasons
    assert alice.logs(job["id"]) == ["attempt 2"]


def test_timeout_kills_the_job(api, workdir):
    alice = api("alice")
    job = alice.submit(
        name="slow", entry="sleep.py", snapshot=alice.snapshot(workdir), procs_per_node=2, timeout=3
    )
    job = alice.wait(job["id"], timeout=60)
    assert job["status"] == "failed"
    assert job["reason"] == "TimedOut"
    assert not job_processes(job["id"])
    assert any(e["reason"] == "TimedOut" for e in alice.events(job["id"]))


def test_cancel_kills_every_process_of_a_running_job(api, workdir):
    alice = api("alice")
    job = alice.submit(
        name="cancel-me",
        entry="sleep.py",
        snapshot=alice.snapshot(workdir),
        nodes=2,
        procs_per_node=1,
    )
    alice.wait(job["id"], {"running"})
    # wait until the ranks print, so torchrun and the ranks all exist
    for _ in range(100):
        if len(alice.logs(job["id"])) >= 2:
            break
        import time

        time.sleep(0.2)
    assert job_processes(job["id"])
    r = alice.post(f"/jobs/{job['id']}/cancel")
    assert r.status_code == 202
    job = alice.wait(job["id"], timeout=30)
    assert job["status"] == "cancelled"
    assert job["message"] == "cancelled by alice"
    assert job_processes(job["id"]) == []
    # a finished job cannot be cancelled again
    assert alice.post(f"/jobs/{job['id']}/cancel").status_code == 409


def test_clone_reruns_with_the_same_snapshot_even_after_files_change(api, workdir):
    alice = api("alice")
    snap = alice.snapshot(workdir)
    (workdir / "hello.py").write_text("print('first')\n")
    first = alice.submit(name="hello", entry="fail_rank.py", snapshot=snap, procs_per_node=1)
    alice.wait(first["id"])
    r = alice.post(f"/jobs/{first['id']}/clone", json={"name": "hello-again"})
    assert r.status_code == 201, r.text
    clone = r.json()
    assert clone["cloned_from"] == first["id"]
    assert clone["spec"]["snapshot"] == snap
    assert clone["name"] == "hello-again"
    assert alice.wait(clone["id"])["status"] == "succeeded"


def test_priority_then_fifo_in_the_queue(api, workdir):
    alice = api("alice")
    snap = alice.snapshot(workdir)
    # fill the machine's 2 CPU slots, then queue three jobs
    blocker = alice.submit(
        name="blocker", entry="sleep.py", args=["3"], snapshot=snap, resources_per_node={"cpus": 2}
    )
    low = alice.submit(name="low", entry="sleep.py", args=["0"], snapshot=snap)
    low2 = alice.submit(name="low2", entry="sleep.py", args=["0"], snapshot=snap)
    high = alice.submit(name="high", entry="sleep.py", args=["0"], snapshot=snap, priority=5)
    positions = {
        j["id"]: alice.get(f"/jobs/{j['id']}").json()["queue_position"] for j in (low, low2, high)
    }
    assert positions[high["id"]] == 1 and positions[low["id"]] == 2 and positions[low2["id"]] == 3
    queue = alice.get("/queue").json()
    assert queue["total"]["cpus"] >= 2 and queue["queued"] >= 3
    started = [alice.wait(j["id"])["started"] for j in (blocker, high, low, low2)]
    assert started == sorted(started)


def test_too_big_for_this_machine_is_a_clear_400(api):
    r = api("alice").post(
        "/jobs", json={"name": "huge", "code": "pass", "resources_per_node": {"gpus": 8}}
    )
    assert r.status_code == 400
    assert r.json()["errors"] == {"resources_per_node": r.json()["errors"]["resources_per_node"]}
    assert "GPU" in r.json()["message"]


def test_tensorboard_event_files_land_in_the_kept_output_dir(platform, api, workdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    alice = api("alice")
    job = alice.submit(name="tb", entry="tensorboard_job.py", snapshot=alice.snapshot(workdir))
    job = alice.wait(job["id"])
    assert job["status"] == "succeeded", alice.logs(job["id"])
    events = EventAccumulator(str(output_dir(platform, job)))
    events.Reload()
    values = [s.value for s in events.Scalars("loss")]
    assert values == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2], rel=1e-6)


def test_a_followed_log_stream_continues_into_the_retry(api, workdir):
    import json as _json

    alice = api("alice")
    job = alice.submit(
        name="flaky-follow", entry="flaky.py", snapshot=alice.snapshot(workdir), max_retries=1
    )
    r = alice.session.get(
        f"{alice.base}/jobs/{job['id']}/logs?follow=true", stream=True, timeout=120
    )
    lines = [ln for ln in r.iter_lines(decode_unicode=True) if ln.startswith("data:")]
    assert [_json.loads(ln[5:]).get("line") for ln in lines[:-1]] == ["attempt 1", "attempt 2"]
    assert _json.loads(lines[-1][5:]) == {"status": "succeeded"}


def test_cancel_right_after_start_and_a_killed_supervisor_end_the_job(api, workdir):
    # Given a job cancelled the moment it is marked running (its supervisor still starting)
    alice = api("alice")
    job = alice.submit(name="quick-cancel", entry="sleep.py", snapshot=alice.snapshot(workdir))
    alice.wait(job["id"], {"running"})
    alice.post(f"/jobs/{job['id']}/cancel")
    # Then it ends cancelled, with nothing left running
    job = alice.wait(job["id"], timeout=30)
    assert job["status"] == "cancelled" and job["message"] == "cancelled by alice"
    assert job_processes(job["id"]) == []
    # Given a job whose supervisor is SIGKILLed while it runs
    job = alice.submit(name="lost", entry="sleep.py", snapshot=alice.snapshot(workdir))
    alice.wait(job["id"], {"running"})
    import time

    time.sleep(2)
    # (the supervisor's command line names the job's run folder)
    commands = {p: " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])}
    supervisor = [p for p, cmd in commands.items() if "supervisor" in cmd and job["id"] in cmd]
    supervisor[0].kill()
    # Then the job fails as SupervisorLost and its ranks are cleaned up
    job = alice.wait(job["id"], timeout=30)
    assert job["status"] == "failed" and job["reason"] == "SupervisorLost"
    assert job_processes(job["id"]) == []


def test_memory_limit_per_node_is_enforced_as_oomkilled(api):
    alice = api("alice")
    hog = "x = bytearray(400 * 2**20); import time; print('allocated', flush=True); time.sleep(30)"
    job = alice.submit(name="hog", framework="custom", command=["python3", "-c", hog],
                       resources_per_node={"memory": "200Mi"})  # fmt: skip
    job = alice.wait(job["id"], timeout=60)
    assert job["status"] == "failed" and job["reason"] == "OOMKilled"
    assert "node 0 used" in job["message"] and "200Mi" in job["message"]
    assert any(e["reason"] == "OOMKilled" for e in alice.events(job["id"]))
    assert job_processes(job["id"]) == []
