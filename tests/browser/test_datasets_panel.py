"""The Datasets panel and dataset view in real Chromium, against the real hub, service and storage:
create a dataset from a workspace folder, label 5 images with keyboard shortcuts, draw 2 boxes,
publish V001, preview it; hostile labels render as text."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=window.__xss=1>"


def png(color: tuple[int, int, int]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), color)
    ImageDraw.Draw(image).ellipse((100, 60, 220, 180), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(client, space: str, path: str, data: bytes) -> None:
    s = client.post("/uploads", json={"space": space, "path": path, "size": len(data)}).json()
    client.put(f"/uploads/{s['id']}/parts/1", data=data,
               headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert client.post(f"/uploads/{s['id']}/complete").status_code == 200


def open_workspace(page: Page) -> None:
    button = page.locator(".jp-Notification-Toast-Close, button:has-text('No')").first
    if button.is_visible():
        button.click()
    if not page.locator(".jp-tz-WorkspacePanel").is_visible():
        page.click('[data-id="tz-workspace-panel"]')
    expect(page.locator(".jp-tz-WorkspacePanel")).to_be_visible()
    expect(page.locator(".jp-tz-WorkspaceBrowser[data-space^='user:']")).to_be_attached()


def create_from_folder(page: Page, folder: str, name: str, kind: str, labels: str) -> None:
    page.locator(f'.jp-tz-WorkspaceRow[data-path="{folder}"]').click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Create Dataset from Folder").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator("input[name=name]")).to_have_value(folder)
    dialog.locator("input[name=name]").fill(name)
    dialog.locator("select[name=type]").select_option(kind)
    dialog.locator("input[name=labels]").fill(labels)
    dialog.locator(".jp-mod-accept").click()
    expect(page.locator(".jp-tz-DatasetView:visible .jp-tz-DatasetHeader-name")).to_have_text(name)


def test_label_publish_and_preview_a_dataset_from_a_folder(platform, lab, api, shots):
    vic = api("vic")
    for i in range(6):
        upload(vic, "user:vic", f"pets/img{i}.png", png((40 * i, 120, 200 - 30 * i)))
    page = lab("vic")
    open_workspace(page)
    # When vic makes an image-classification dataset from the folder
    create_from_folder(page, "pets", "pets", "image_classification", f"cat, dog, {HOSTILE}")
    view = page.locator(".jp-tz-DatasetView:visible")
    expect(view.locator(".jp-tz-FileCard")).to_have_count(6)
    expect(view.locator(".jp-tz-DatasetHeader-labels")).to_contain_text(HOSTILE)
    # and labels 5 images with the number keys (each moves on to the next unlabeled image)
    view.locator(".jp-tz-Tab-label").click()
    labeler = view.locator(".jp-tz-ClassificationLabeler")
    expect(labeler).to_be_visible()
    expect(labeler.locator(f'.jp-tz-LabelButton[data-label="{HOSTILE}"]')).to_have_text(
        f"3{HOSTILE}"
    )
    for n, key in enumerate("12131", start=1):
        before = labeler.get_attribute("data-key")
        page.keyboard.press(key)
        expect(labeler).not_to_have_attribute("data-key", before)
        expect(labeler.locator(".jp-tz-LabelingProgress-count")).to_have_text(
            f"{n} / 6 labeled"
        )
    # and the view's header counts them as they are saved, still on the Label tab
    expect(view.locator(".jp-tz-DatasetHeader-draft")).to_contain_text("5 labeled")
    page.keyboard.press("p")  # back to the last labeled image
    expect(labeler).to_have_attribute("data-label", "cat")
    page.screenshot(path=str(shots / "labeling-classification.png"))
    # Then publishing freezes V001 with the label histogram
    view.locator(".jp-tz-PublishButton").click()
    page.locator(".jp-Dialog input").fill("first five")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    detail = view.locator('.jp-tz-VersionDetail[data-version="V001"]')
    expect(detail).to_be_visible()
    expect(detail.locator('.jp-tz-LabelHistogram [data-label="cat"] .jp-tz-BarChart-count')
           ).to_have_text("3")  # fmt: skip
    expect(detail.locator('.jp-tz-SplitSizes [data-label="unassigned"] .jp-tz-BarChart-count')
           ).to_have_text("6")  # fmt: skip
    page.screenshot(path=str(shots / "dataset-view.png"))
    # and V001 downloads as one ZIP laid out as a job sees it
    with page.expect_download() as download:
        detail.locator(".jp-tz-VersionDownload").click()
    assert download.value.suggested_filename == "pets-V001.zip"
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert {"pets-V001/manifest.jsonl", "pets-V001/version.json"} <= set(names)
    assert len([n for n in names if n.startswith("pets-V001/files/")]) == 6
    # and V001 previews: thumbnails, and a file's manifest entry with its label
    view.locator(".jp-tz-Tab-files").click()
    view.locator(".jp-tz-VersionPicker").select_option("V001")
    card = view.locator('.jp-tz-FileCard[data-key$="img0.png"]')
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("i => i.naturalWidth") > 0
    card.click()
    preview = view.locator(".jp-tz-FilePreview")
    expect(preview.locator(".jp-tz-FilePreview-labels")).to_have_text("cat")
    expect(preview.locator('.jp-tz-Preview[data-kind="image"] img')).to_be_visible()
    versions = vic.get(f"/datasets/{view.get_attribute('data-dataset-id')}/versions").json()
    assert [v["version"] for v in versions["items"]] == ["V001"]
    # and a training job reading pets:V001 sees the five labels and shows the version it used
    code = ("import training_zoo.datasets as d; ds = d.open('pets:V001'); "
            "print('labeled', sum(1 for f in ds if f.label), 'of', len(ds))")  # fmt: skip
    job = vic.wait(vic.submit(name="on-pets", code=code, datasets=["pets:V001"])["id"])
    assert job["status"] == "succeeded" and "labeled 5 of 6" in "\n".join(vic.logs(job["id"]))
    page.click('[data-id="tz-jobs-panel"]')
    page.click(f'.jp-tz-JobRow[data-job-id="{job["id"]}"]')
    job_view = page.locator(f'.jp-tz-JobView[data-job-id="{job["id"]}"]')
    expect(job_view.locator(".jp-tz-JobLineage")).to_have_text("vic/pets:V001")
    page.screenshot(path=str(shots / "job-lineage.png"))
    assert page.evaluate("window.__xss") is None


def test_draw_two_boxes_and_preview_them(platform, lab, api, shots):
    vic = api("vic")
    for i in range(2):
        upload(vic, "user:vic", f"shapes/s{i}.png", png((30, 60 + 80 * i, 120)))
    page = lab("vic")
    open_workspace(page)
    create_from_folder(page, "shapes", "shapes", "object_detection", "ball, hole")
    view = page.locator(".jp-tz-DatasetView:visible")
    dataset_id = view.get_attribute("data-dataset-id")
    view.locator(".jp-tz-Tab-label").click()
    labeler = view.locator(".jp-tz-DetectionLabeler")
    svg = labeler.locator(".jp-tz-BoxEditor-svg")
    expect(svg).to_be_visible()
    box = svg.bounding_box()

    def drag(x0: float, y0: float, x1: float, y1: float) -> None:
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=5)
        page.mouse.up()

    # When vic draws a box, then picks label 2 for the next one and draws it
    drag(0.1, 0.1, 0.4, 0.5)
    expect(labeler).to_have_attribute("data-boxes", "1")
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    drag(0.55, 0.5, 0.9, 0.9)
    expect(labeler).to_have_attribute("data-boxes", "2")
    # and moves the second box a little by dragging its middle
    drag(0.7, 0.7, 0.65, 0.65)
    page.screenshot(path=str(shots / "labeling.png"))
    # Then the draft holds the two boxes in image pixels, labeled ball and hole
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        files = vic.get(f"/datasets/{dataset_id}/files").json()["items"]
        boxes = next(f for f in files if f["key"].endswith("s0.png"))["annotations"]["boxes"]
        if len(boxes) == 2 and boxes[1]["x"] < 0.55 * 320 - 5:
            break
        time.sleep(0.2)
    assert [b["label"] for b in boxes] == ["ball", "hole"]
    first, second = boxes
    assert abs(first["x"] - 32) <= 3 and abs(first["y"] - 24) <= 3
    assert abs(first["w"] - 96) <= 3 and abs(first["h"] - 96) <= 3
    assert abs(second["x"] - (0.55 - 0.05) * 320) <= 4  # moved left by 5 % of the width
    # Deleting the selected box with Del removes it
    page.keyboard.press("Delete")
    expect(labeler).to_have_attribute("data-boxes", "1")
    # and the preview draws the remaining box over the image
    view.locator(".jp-tz-Tab-files").click()
    view.locator('.jp-tz-FileCard[data-key$="s0.png"]').click()
    expect(view.locator(".jp-tz-BoxOverlay-box")).to_have_count(1)
    expect(view.locator(".jp-tz-BoxOverlay-box text")).to_have_text("ball")
