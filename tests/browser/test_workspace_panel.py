"""The Workspace panel in real Chromium, against the real hub, proxy, service and storage: big
uploads in parts with progress, a folder of 2,000 files, resume after a reload, file actions, and
hostile file names rendered as text."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

pytestmark = pytest.mark.browser

MiB = 1 << 20


def dismiss_news(page: Page) -> None:
    button = page.locator(".jp-Notification-Toast-Close, button:has-text('No')").first
    if button.is_visible():
        button.click()


def open_workspace(page: Page) -> None:
    dismiss_news(page)
    # The tab toggles; a restored layout may already show the panel.
    if not page.locator(".jp-tz-WorkspacePanel").is_visible():
        page.click('[data-id="tz-workspace-panel"]')
    expect(page.locator(".jp-tz-WorkspacePanel")).to_be_visible()
    expect(page.locator(".jp-tz-WorkspaceBrowser[data-space^='user:']")).to_be_attached()


def make_big_file(path: Path, size: int) -> str:
    """A file of ``size`` bytes (random 1 MiB blocks, so parts differ); returns its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            chunk = block[i % 251:] + block[: i % 251]
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stored(platform, user: str, path: str) -> Path:
    return platform.home / "storage" / "workspace" / "users" / user / path


def progress_of(page: Page, name: str) -> int:
    bar = page.locator(f'.jp-tz-UploadRow[data-path="{name}"] .jp-tz-ProgressBar')
    return int(bar.get_attribute("aria-valuenow") or 0)


def wait_progress(page: Page, name: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = progress_of(page, name)
        if value >= at_least:
            return value
        page.wait_for_timeout(50)
    raise AssertionError(f"upload of {name} stayed under {at_least}%")


def test_upload_a_300_mb_file_in_parts_with_progress(platform, lab, shots, tmp_path):
    big = tmp_path / "big-300.bin"
    digest = make_big_file(big, 300 * MiB)
    page = lab("wendy")
    open_workspace(page)
    puts: list[tuple[str, str | None]] = []
    page.on("request", lambda r: puts.append((r.url, r.headers.get("x-tz-checksum-crc32")))
            if r.method == "PUT" else None)  # fmt: skip
    # When wendy picks the file
    page.set_input_files("input.jp-tz-UploadFiles", str(big))
    # Then its row shows progress between 0 and 100 while the parts go out
    row = page.locator('.jp-tz-UploadRow[data-path="big-300.bin"]')
    expect(row).to_be_visible()
    seen = wait_progress(page, "big-300.bin", 5)
    assert seen < 100
    expect(page.locator(".jp-tz-Uploads-bytes")).to_contain_text("/ 300 MiB")
    # and, after a second of sending, the rate and the time left
    expect(page.locator(".jp-tz-Uploads-rate")).to_have_text(
        re.compile(r"^[\d.]+ (KiB|MiB|GiB)/s · \d+ (s|min) left$"))
    page.screenshot(path=str(shots / "workspace-upload-progress.png"))
    expect(row).to_have_attribute("data-state", "done", timeout=100_000)
    expect(page.locator(".jp-tz-Uploads-title")).to_have_text("Uploads: 1 of 1 file done")
    # in parts (16 MiB by default: 19 PUTs), and the list shows the file
    parts = {int(u.rsplit("/", 1)[1]): crc for u, crc in puts if "/parts/" in u}
    assert len(parts) == 19
    # each with the CRC32 the browser computed, checked by the service against the bytes
    data = big.read_bytes()
    for n, crc in parts.items():
        part = zlib.crc32(data[(n - 1) * 16 * MiB : n * 16 * MiB]).to_bytes(4, "big")
        assert crc == base64.b64encode(part).decode(), n
    expect(page.locator('.jp-tz-WorkspaceRow[data-path="big-300.bin"]')).to_be_visible()
    assert sha256_of(stored(platform, "wendy", "big-300.bin")) == digest


RATE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def shown_rate(page: Page) -> float:
    """The uploads dock's rate, in bytes per second."""
    text = page.locator(".jp-tz-Uploads-rate").inner_text()
    value, unit = re.match(r"([\d.]+) (B|KiB|MiB|GiB)/s", text).groups()  # type: ignore[union-attr]
    return float(value) * RATE_UNITS[unit]


def test_a_stalled_upload_shows_its_rate_falling_then_goes_on(platform, lab, tmp_path):
    big = tmp_path / "stall-160.bin"
    digest = make_big_file(big, 160 * MiB)
    page = lab("wendy")
    open_workspace(page)
    # The network takes the first 7 parts, then stops taking any (until released)
    held: list[Route] = []
    released = False

    def hold(route: Route) -> None:
        number = int(route.request.url.rsplit("/", 1)[1])
        route.continue_() if released or number < 8 else held.append(route)

    page.route("**/uploads/*/parts/*", hold)
    page.set_input_files("input.jp-tz-UploadFiles", str(big))
    deadline = time.monotonic() + 60
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert held, "the upload never asked for part 8"
    # The parts already on the wire still arrive (seconds on a busy CI machine): wait until
    # the byte count has stood still for a while, so what follows measures a stall
    sent = page.locator(".jp-tz-Uploads-bytes > span").first
    last, since = sent.inner_text(), time.monotonic()
    while time.monotonic() - since < 1.5 and time.monotonic() < deadline + 60:
        page.wait_for_timeout(250)
        if (now := sent.inner_text()) != last:
            last, since = now, time.monotonic()
    assert time.monotonic() - since >= 1.5, f"the bytes sent never stood still: {last}"
    before = shown_rate(page)
    page.wait_for_timeout(5000)
    # Then the rate shown falls while nothing moves, instead of keeping the last good figure
    after = shown_rate(page)
    assert after < 0.7 * before, (before, after)
    # and once the network takes parts again, the upload finishes whole
    released = True
    for route in held:
        route.continue_()
    row = page.locator('.jp-tz-UploadRow[data-path="stall-160.bin"]')
    expect(row).to_have_attribute("data-state", "done", timeout=100_000)
    assert sha256_of(stored(platform, "wendy", "stall-160.bin")) == digest


def test_upload_a_folder_of_2000_files(platform, lab, api, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2000):
        (folder / f"f{i:04d}.txt").write_text(f"file {i}\n")
    page = lab("wendy")
    open_workspace(page)
    started = time.monotonic()
    page.set_input_files("input.jp-tz-UploadFolder", str(folder))
    expect(page.locator(".jp-tz-Uploads")).to_be_visible()
    expect(page.locator(".jp-tz-Uploads-title")).to_contain_text("2000")
    # The uploads list is windowed: never 2,000 rows in the DOM
    assert page.locator(".jp-tz-UploadRow").count() < 50
    expect(page.locator(".jp-tz-Uploads-title")).to_have_text(
        "Uploads: 2000 of 2000 files done", timeout=100_000
    )
    print(f"2000 files uploaded in {time.monotonic() - started:.1f} s")
    # The folder is listed and holds every file
    page.locator('.jp-tz-WorkspaceRow[data-path="many"]').dblclick()
    listing = page.locator(".jp-tz-WorkspaceList")
    expect(listing).to_have_attribute("data-count", "500")  # the first page
    assert page.locator(".jp-tz-WorkspaceRow").count() < 60
    wendy = api("wendy")
    names, cursor = [], None
    while True:
        params = {"space": "user:wendy", "path": "many", "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        body = wendy.get("/workspace/list", params=params).json()
        names += [item["name"] for item in body["items"]]
        cursor = body["next"]
        if not cursor:
            break
    assert sorted(names) == [f"f{i:04d}.txt" for i in range(2000)]
    assert stored(platform, "wendy", "many/f1999.txt").read_text() == "file 1999\n"


def interrupt_by_reload(page: Page, api, user: str, big: Path) -> tuple[Locator, set[int]]:
    """Start uploading ``big``, reload the page part way; the interrupted row and the numbers
    of the whole parts the server holds."""
    open_workspace(page)
    page.set_input_files("input.jp-tz-UploadFiles", str(big))
    wait_progress(page, big.name, 20)
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel")
    # As the lab fixture does: the restored layout reopens the panel; a click before that
    # would be undone by it, or shut the panel it opens.
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=120_000)
    open_workspace(page)
    # The panel lists the interrupted upload, and the server still has its session
    row = page.locator(f'.jp-tz-UploadRow[data-path="{big.name}"]')
    expect(row).to_have_attribute("data-state", "interrupted", timeout=30_000)
    sessions = api(user).get("/uploads").json()["items"]
    session = next(s for s in sessions if s["path"] == big.name)
    session = api(user).get(f"/uploads/{session['id']}").json()
    already = {p["number"] for p in session["received"] if p["size"] == 16 * MiB}
    assert already, "some parts arrived before the reload"
    return row, already


def resume_with(page: Page, row: Locator, big: Path) -> list[tuple[str, str | None]]:
    """Pick ``big`` again on the interrupted row; the ``(url, CRC32 header)`` of every part
    PUT until the upload is done."""
    puts: list[tuple[str, str | None]] = []
    page.on("request", lambda r: puts.append((r.url, r.headers.get("x-tz-checksum-crc32")))
            if r.method == "PUT" and "/parts/" in r.url else None)  # fmt: skip
    with page.expect_file_chooser() as chooser:
        row.locator(".jp-tz-UploadRow-resume").click()
    chooser.value.set_files(str(big))
    expect(row).to_have_attribute("data-state", "done", timeout=100_000)
    return puts


def test_reload_mid_upload_then_resume_sends_only_missing_parts(platform, lab, api, tmp_path):
    big = tmp_path / "resume-200.bin"
    digest = make_big_file(big, 200 * MiB)
    page = lab("rita")
    # When the page reloads mid-upload and rita picks the same file again
    row, already = interrupt_by_reload(page, api, "rita", big)
    parts = resume_with(page, row, big)
    # Then only the missing parts are sent, each with its CRC32, and the file is whole
    sent = {int(u.rsplit("/", 1)[1]) for u, _ in parts}
    assert sent and not (sent & already)
    assert all(crc for _, crc in parts), "every resumed part carries its CRC32"
    assert sent | already >= set(range(1, 14))
    assert sha256_of(stored(platform, "rita", "resume-200.bin")) == digest
    assert page.evaluate("localStorage.getItem('training-zoo:uploads')") is None


def test_a_file_changed_before_resuming_has_its_changed_parts_sent_again(
    platform, lab, api, tmp_path
):
    big = tmp_path / "changed-200.bin"
    make_big_file(big, 200 * MiB)
    page = lab("rita")
    row, already = interrupt_by_reload(page, api, "rita", big)
    # Given the file changed in a part the server already holds, keeping its name, size and
    # modification time (what the panel matches the interrupted upload by)
    changed = min(already)
    stat = big.stat()
    with big.open("r+b") as f:
        f.seek((changed - 1) * 16 * MiB + 12345)
        f.write(b"changed since the upload began")
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # When rita resumes with it
    parts = resume_with(page, row, big)
    # Then the changed part is sent again, the unchanged ones are not, and the stored file is
    # the file as it is now
    sent = {int(u.rsplit("/", 1)[1]) for u, _ in parts}
    assert changed in sent and not (sent & (already - {changed}))
    assert sha256_of(stored(platform, "rita", "changed-200.bin")) == sha256_of(big)


def test_file_actions_and_hostile_names_render_as_text(platform, lab, api, shots, tmp_path):
    hostile = "<img src=x onerror=window.__xss=1>.txt"
    uma = api("uma")
    # Given a file with an HTML payload as its name, uploaded through the API
    s = uma.post("/uploads", json={"space": "user:uma", "path": hostile, "size": 5}).json()
    uma.put(f"/uploads/{s['id']}/parts/1", data=b"hello",
            headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert uma.post(f"/uploads/{s['id']}/complete").status_code == 200
    for path, data in (("zipme/one.txt", b"one"), ("zipme/sub/two.txt", b"two")):
        s = uma.post("/uploads", json={"space": "user:uma", "path": path, "size": 3}).json()
        uma.put(f"/uploads/{s['id']}/parts/1", data=data,
                headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert uma.post(f"/uploads/{s['id']}/complete").status_code == 200
    page = lab("uma")
    open_workspace(page)
    row = page.locator(".jp-tz-WorkspaceRow").filter(has_text="onerror")
    # Then it renders as text, and no script ran
    expect(row.locator(".jp-tz-WorkspaceRow-name")).to_have_text(hostile)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".jp-tz-WorkspacePanel img[src='x']").count() == 0
    # Its preview shows the name and the text as text too
    row.dblclick()
    expect(page.locator(".jp-tz-WorkspacePreview-title")).to_have_text(hostile)
    expect(page.locator(".jp-tz-Preview-text")).to_have_text("hello")
    # Download with a plain link (session cookie, no XSRF header needed for GET)
    row.click(button="right")
    with page.expect_download() as download:
        page.locator(".lm-Menu-itemLabel", has_text="Download").click()
    assert Path(download.value.path()).read_bytes() == b"hello"
    # A folder downloads as one ZIP of its files
    folder_row = page.locator('.jp-tz-WorkspaceRow[data-path="zipme"]')
    folder_row.click(button="right")
    page.screenshot(path=str(shots / "workspace-folder-menu.png"))
    with page.expect_download() as download:
        page.locator(".lm-Menu-itemLabel", has_text="Download as ZIP").click()
    assert download.value.suggested_filename == "zipme.zip"
    archive = zipfile.ZipFile(download.value.path())
    assert {n: archive.read(n) for n in archive.namelist()} == {
        "zipme/one.txt": b"one", "zipme/sub/two.txt": b"two"}  # fmt: skip
    # New folder, rename, delete with confirmation
    page.click(".jp-tz-NewFolderButton")
    page.locator(".jp-Dialog input").fill("made-here")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    folder = page.locator('.jp-tz-WorkspaceRow[data-path="made-here"]')
    expect(folder).to_be_visible()
    folder.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Rename").click()
    page.locator(".jp-Dialog input").fill("renamed")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    renamed = page.locator('.jp-tz-WorkspaceRow[data-path="renamed"]')
    expect(renamed).to_be_visible()
    renamed.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Delete").click()
    expect(page.locator(".jp-Dialog")).to_contain_text("cannot be undone")
    page.locator(".jp-Dialog .jp-mod-warn").click()
    expect(renamed).to_have_count(0)
    assert page.evaluate("window.__xss") is None
