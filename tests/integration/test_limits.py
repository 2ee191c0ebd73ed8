"""Limits set in tz_config.py (read from TZ_HOME) hold, with clear errors."""

from __future__ import annotations

import os

import pytest

from apiclient import ApiClient
from harness import Platform

pytestmark = pytest.mark.integration

CONFIG = """
c.TzJobManager.max_snapshot_bytes = 4096
c.TzJobManager.max_queued_per_user = 2
c.TzJobManager.max_nodes = 2
c.TzLocalBackend.max_running_per_user = 1
"""


@pytest.fixture(scope="module")
def limited():
    with Platform(tz_config=CONFIG) as p:
        yield p


def test_a_snapshot_over_the_limit_is_413_with_sizes(limited, tmp_path):
    from training_zoo.snapshot import pack_directory

    (tmp_path / "big.bin").write_bytes(os.urandom(8192))  # random: gzip cannot shrink it
    alice = ApiClient(limited.api, limited.token("alice"))
    r = alice.post("/snapshots", data=pack_directory(tmp_path),
                   headers={"Content-Type": "application/gzip"})  # fmt: skip
    assert r.status_code == 413
    assert "4096" in r.json()["message"] and r.json()["reason"] == "SnapshotTooLarge"


def test_nodes_over_the_configured_maximum_is_400(limited):
    alice = ApiClient(limited.api, limited.token("alice"))
    r = alice.post("/jobs", json={"name": "n", "code": "pass", "nodes": 3})
    assert r.status_code == 400 and "between 1 and 2" in r.json()["message"]


def test_per_user_running_and_queued_limits(limited):
    alice = ApiClient(limited.api, limited.token("alice"))
    first = alice.submit(name="one", code="import time; time.sleep(30)")
    second = alice.submit(name="two", code="pass")
    alice.wait(first["id"], {"running"})
    # the running limit of 1 keeps the second queued although CPU slots are free
    assert alice.get(f"/jobs/{second['id']}").json()["status"] == "queued"
    # and a third unfinished job is refused
    r = alice.post("/jobs", json={"name": "three", "code": "pass"})
    assert r.status_code == 429 and "limit 2" in r.json()["message"]
    alice.post(f"/jobs/{first['id']}/cancel")
    assert alice.wait(second["id"])["status"] == "succeeded"
