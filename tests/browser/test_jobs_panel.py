"""The Jobs panel in real Chromium, against the real hub, proxy, service and torchrun."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

JOBS = Path(__file__).parents[1] / "jobs"


def put_script(platform, user: str, folder: str, script: str) -> None:
    target = platform.home / "users" / user / folder
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(JOBS / script, target / script)


def dismiss_news(page: Page) -> None:
    button = page.locator(".jp-Notification-Toast-Close, button:has-text('No')").first
    if button.is_visible():
        button.click()


def open_jobs_panel(page: Page) -> None:
    dismiss_news(page)
    # The tab toggles; a restored workspace may already show the panel.
    if not page.locator(".jp-tz-JobsPanel").is_visible():
        page.click('[data-id="tz-jobs-panel"]')
    expect(page.locator(".jp-tz-JobsPanel")).to_be_visible()


def job_processes(job_id: str) -> list[int]:
    pids = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("TZ_JOB_ID") == job_id:
                pids.append(p.pid)
        except (psutil.Error, OSError):
            continue
    return pids


def test_submit_a_ddp_job_from_the_panel_and_watch_it_live(platform, lab, shots):
    # Given a DDP script in pat's Lab folder
    put_script(platform, "pat", "ddp", "ddp_live.py")
    page = lab("pat")
    dismiss_news(page)
    # When pat right-clicks it in the file browser and picks "Train with TZ"
    if not page.locator(".jp-FileBrowser").is_visible():
        page.click('[data-id="filebrowser"]')
    page.locator(".jp-DirListing-item", has_text="ddp").first.dblclick()
    script = page.locator('.jp-DirListing-item[data-file-type="python"]', has_text="ddp_live.py")
    script.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Train with TZ").click()
    # Then the form opens pre-filled with the script; pat asks for 2 processes and submits
    form = page.locator("form.jp-tz-SubmitForm")
    expect(form.locator("input[name=script]")).to_have_value("ddp/ddp_live.py")
    form.locator("input[name=name]").fill("ddp-browser")
    form.locator("input[name=procs_per_node]").fill("2")
    form.locator("input[name=args]").fill("20")
    page.screenshot(path=str(shots / "submit-form.png"))
    form.locator(".jp-tz-SubmitButton").click()
    # Then the job view opens, logs of both ranks arrive while it runs, and the chart draws
    view = page.locator(".jp-tz-JobView")
    expect(view).to_be_visible()
    status = view.locator(".jp-tz-JobStatus")
    expect(view.locator('.jp-tz-LogLine[data-rank="1"]').first).to_be_visible(timeout=60_000)
    assert status.inner_text().strip() == "running"  # the lines came live, not after the end
    expect(view.locator('.jp-tz-LogLine[data-rank="0"]').first).to_be_visible()
    expect(view.locator(".jp-tz-MetricsChart svg polyline").first).to_be_attached(timeout=30_000)
    page.screenshot(path=str(shots / "job-running.png"))
    expect(status).to_have_text("succeeded", timeout=90_000)
    lines = view.locator('.jp-tz-LogLine[data-rank="1"]').all_inner_texts()
    assert any("rank 1 step 19" in line for line in lines)
    # and the panel lists it as succeeded
    open_jobs_panel(page)
    row = page.locator(f'.jp-tz-JobRow[data-job-id="{view.get_attribute("data-job-id")}"]')
    expect(row.locator(".jp-tz-StatusBadge")).to_have_text("succeeded", timeout=30_000)
    page.screenshot(path=str(shots / "jobs-panel.png"))


def test_cancel_a_running_job_from_its_view(platform, api, lab, workdir):
    # Given a long job of sam's, running
    sam = api("sam")
    job = sam.submit(name="long", entry="sleep.py", snapshot=sam.snapshot(workdir),
                     procs_per_node=2)
    sam.wait(job["id"], {"running"})
    page = lab("sam")
    open_jobs_panel(page)
    # When sam opens it from the panel and presses Cancel
    page.click(f'.jp-tz-JobRow[data-job-id="{job["id"]}"]')
    view = page.locator(f'.jp-tz-JobView[data-job-id="{job["id"]}"]')
    expect(view.locator(".jp-tz-JobStatus")).to_have_text("running")
    expect(view.locator(".jp-tz-LogLine").first).to_be_visible(timeout=30_000)
    view.locator(".jp-tz-CancelButton").click()
    # Then the view shows cancelled and no process of the job is left
    expect(view.locator(".jp-tz-JobStatus")).to_have_text("cancelled", timeout=30_000)
    expect(view.locator(".jp-tz-CancelButton")).to_be_disabled()
    deadline = time.monotonic() + 10
    while job_processes(job["id"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job_processes(job["id"]) == []
    assert sam.get(f"/jobs/{job['id']}").json()["message"] == "cancelled by sam"


def test_server_errors_show_as_notifications(platform, lab):
    page = lab("pat")
    open_jobs_panel(page)
    page.click(".jp-tz-NewJobButton")
    form = page.locator("form.jp-tz-SubmitForm")
    form.locator("input[name=script]").fill("nowhere/missing.py")
    form.locator("input[name=name]").fill("bad")
    form.locator(".jp-tz-SubmitButton").click()
    toast = page.locator(".Toastify__toast, .jp-toast-message").filter(has_text="path")
    expect(toast.first).to_be_visible(timeout=30_000)
