"""``%%tz_train`` in a real notebook: the cell becomes the job and a live widget follows it."""

from __future__ import annotations

import pytest
from notebooks import open_and_run
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CELL = """%%tz_train --name nb-cell --procs-per-node 2
import os, time
import training_zoo
for step in range(6):
    training_zoo.log_metrics(step=step, loss=1.0 / (step + 1))
    print(f"hello from rank {os.environ['RANK']} step {step}", flush=True)
    time.sleep(0.5)
"""


def test_cell_magic_submits_and_the_widget_reaches_succeeded(platform, lab, api, shots):
    # Given a notebook whose cell is a %%tz_train cell (magics load automatically),
    # when nina runs it
    page = open_and_run(platform, lab, "nina", "train.ipynb", [CELL])
    # Then a job monitor appears at once, streams logs, and reaches succeeded
    monitor = page.locator(".jp-tz-JobMonitor")
    expect(monitor).to_be_visible(timeout=60_000)
    expect(monitor).to_contain_text("hello from rank 1", timeout=60_000)
    expect(monitor.locator(".jp-tz-JobMonitor-badge")).to_have_text("succeeded", timeout=90_000)
    expect(monitor.locator("svg polyline").first).to_be_attached()
    page.screenshot(path=str(shots / "notebook-magic.png"))
    # and the job is nina's, with the cell as its code
    jobs = api("nina").get("/jobs").json()["items"]
    assert jobs[0]["name"] == "nb-cell" and "hello from rank" in jobs[0]["spec"]["code"]
