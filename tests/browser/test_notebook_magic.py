"""``%%tz_train`` in a real notebook: the cell becomes the job and a live widget follows it."""

from __future__ import annotations

import json

import pytest
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


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip


def test_cell_magic_submits_and_the_widget_reaches_succeeded(platform, lab, api, shots):
    # Given a notebook whose cell is a %%tz_train cell (magics load automatically)
    home = platform.home / "users" / "nina"
    home.mkdir(parents=True, exist_ok=True)
    (home / "train.ipynb").write_text(json.dumps(notebook([CELL])))
    page = lab("nina")
    page.goto(f"{platform.url}/user/nina/lab/tree/train.ipynb")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # The kernel must be connected and idle, or the run request is dropped on a busy machine.
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(
        timeout=90_000
    )
    # When nina runs the cell
    prompt = page.locator(".jp-Cell .jp-InputPrompt").first
    for _ in range(3):
        page.locator(".jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=10_000)
            break
        except AssertionError:
            continue
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
