"""Browser fixtures: real Chromium (Debian's package) driven by Playwright against the real
platform.

- ``browser``: one headless Chromium for the session.
- ``lab(user)``: a new page logged into the hub as ``user`` through the login form, with JupyterLab
  loaded (the user's server spawned).
- ``shots``: the folder where tests save screenshots (``test-results/screenshots``).

When a test fails, every page it opened is saved to ``test-results/failures/<test>-<n>.png``:
what the user would have seen is the first thing to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from harness import ADMIN_PASSWORD, PASSWORD

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
SHOTS = Path(__file__).parents[2] / "test-results" / "screenshots"
FAILURES = SHOTS.parent / "failures"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    if report.when == "call" and report.failed:
        item.tz_failed = True  # type: ignore[attr-defined]


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, which would break asyncio tests that run after the browser tests.
@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs it with apt-get")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def lab(request, browser, platform):
    contexts = []

    def open_lab(user: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{platform.url}/hub/login")
        page.fill("input[name=username]", user)
        admins = platform.env["TZ_ADMIN_USERS"].split(",")
        page.fill("input[name=password]", ADMIN_PASSWORD if user in admins else PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
        page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
        page.wait_for_selector('[data-id="tz-jobs-panel"]', timeout=60_000)
        # Lab removes its splash once the saved layout is restored: a panel restored open after
        # a test looked would otherwise be toggled shut by the test's own click on its tab.
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=120_000)
        return page

    yield open_lab
    failed = getattr(request.node, "tz_failed", False)
    pages = [page for context in contexts for page in context.pages] if failed else []
    for n, page in enumerate(pages):
        FAILURES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FAILURES / f"{request.node.name}-{n}.png"))
    for context in contexts:
        context.close()
