"""Restarting the TZ service (SIGKILL) loses no job, no status and no log line."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from harness import Platform

pytestmark = pytest.mark.integration

TICKS = 8


def kill_service(p: Platform) -> None:
    pid = p.service_pid()
    assert pid
    os.kill(pid, signal.SIGKILL)


def wait_service_back(p: Platform, old_pid: int | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = p.service_pid()
        if pid and pid != old_pid:
            try:
                if requests.get(p.api + "/", timeout=2).status_code == 401:
                    return
            except requests.RequestException:
                pass
        time.sleep(0.3)
    raise TimeoutError("the hub did not restart the TZ service")


@pytest.fixture
def own_platform():
    # A platform of its own: this test kills its service.
    with Platform() as p:
        yield p


def test_sigkill_while_running_and_a_job_ending_during_the_outage(own_platform, workdir):
    from apiclient import ApiClient

    p = own_platform
    alice = ApiClient(p.api, p.token("alice"))
    snap = alice.snapshot(workdir)
    long = alice.submit(
        name="survivor", entry="sleep.py", args=[str(TICKS)], snapshot=snap, procs_per_node=2
    )
    short = alice.submit(
        name="ends-in-outage", entry="fail_rank.py", snapshot=snap, procs_per_node=2
    )
    alice.wait(long["id"], {"running"})
    alice.wait(short["id"], {"running"})
    time.sleep(1)
    # When the service is SIGKILLed while both run, and stays down while the short one ends
    old = p.service_pid()
    kill_service(p)
    time.sleep(3)
    # JupyterHub restarts a managed service that died; wait for the new one
    wait_service_back(p, old)
    # Then the short job is reconciled to its true final status
    done = alice.wait(short["id"])
    assert done["status"] == "failed" and done["exit_code"] == 3, done
    # and the long one was re-adopted and succeeds with every log line of both ranks
    survivor = alice.wait(long["id"], timeout=90)
    assert survivor["status"] == "succeeded", alice.events(long["id"])
    for rank in (0, 1):
        lines = alice.logs(long["id"], rank=rank)
        assert lines == [f"rank {rank} tick {i}" for i in range(TICKS)] + ["finished sleeping"]
    reasons = [e["reason"] for e in alice.events(long["id"])]
    assert reasons.count("Started") == 1  # re-adopted, not restarted
