"""The Models panel, model view and comparison in real Chromium, against the real hub, service,
local backend and torchrun.

A 2-process DDP job trains a small CNN on a published dataset version; its model is registered
on its own. Then everything else goes through the panels: convert to ONNX and to INT8 (live run
rows), evaluate the three versions, follow the lineage graph to the dataset and the job, compare
side by side with charts and a CSV, promote to production twice. Another job's output folder is
registered with the job view's "Register model" button; its hostile text stays text.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from notebooks import open_and_run
from playwright.sync_api import Locator, Page, expect

sys.path.insert(0, str(Path(__file__).parents[1]))

import shapes  # noqa: E402

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=window.__xss=1>"
USER = "mia"
RUN_TIMEOUT = 300_000  # ms: a conversion or evaluation is a whole tracked job


def dismiss_news(page: Page) -> None:
    button = page.locator(".jp-Notification-Toast-Close, button:has-text('No')").first
    if button.is_visible():
        button.click()


def open_models_panel(page: Page) -> Locator:
    dismiss_news(page)
    # The tab toggles; a restored workspace may already show the panel.
    if not page.locator(".jp-tz-ModelsPanel").is_visible():
        page.click('[data-id="tz-models-panel"]')
    panel = page.locator(".jp-tz-ModelsPanel")
    expect(panel).to_be_visible()
    return panel


def open_job(page: Page, job_id: str) -> Locator:
    dismiss_news(page)
    if not page.locator(".jp-tz-JobsPanel").is_visible():
        page.click('[data-id="tz-jobs-panel"]')
    page.locator(f'.jp-tz-JobRow[data-job-id="{job_id}"]').click()
    view = page.locator(f'.jp-tz-JobView[data-job-id="{job_id}"]')
    expect(view).to_be_visible()
    return view


def select_version(view: Locator, n: int) -> Locator:
    view.locator(f'.jp-tz-VersionRow[data-version="{n}"] td').nth(1).click()
    detail = view.locator(f'.jp-tz-VersionDetail[data-version="{n}"]')
    expect(detail).to_be_visible()
    return detail


def back_to(page: Page, model_id: str) -> None:
    page.locator(f'.lm-TabBar-tab[data-id="tz-model-{model_id}"]').click()


def accept(page: Page) -> None:
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


@pytest.fixture(scope="module")
def trained(api, tmp_path_factory):
    """mia's dataset shapes:V001 and the 2-process job that trained shapes-cnn on it."""
    return shapes.train(api(USER), f"user:{USER}", tmp_path_factory.mktemp("work"))


def test_convert_evaluate_compare_and_promote_through_the_panels(api, trained, lab, shots):
    mia = api(USER)
    v1 = mia.get("/models/resolve", params={"ref": "shapes-cnn:1"}).json()["version"]
    page = lab(USER)
    # The job's model is in the panel, registered on its own, and opens in the main area
    panel = open_models_panel(page)
    row = panel.locator(f'.jp-tz-ModelRow[data-model-id="{v1["model_id"]}"]')
    expect(row.locator(".jp-tz-ModelRow-latest")).to_have_text("v1")
    expect(row.locator(".jp-tz-ModelRow-task")).to_have_text("image classification")
    page.screenshot(path=str(shots / "models-panel.png"))
    row.click()
    view = page.locator(f'.jp-tz-ModelView[data-model-id="{v1["model_id"]}"]')
    expect(view.locator(".jp-tz-VersionRow")).to_have_count(1)
    detail = view.locator('.jp-tz-VersionDetail[data-version="1"]')
    expect(detail.locator(".jp-tz-ModelCard h1")).to_contain_text("shapes-cnn")
    graph = detail.locator(".jp-tz-LineageGraph")
    for kind in ("dataset", "job", "version"):
        expect(graph.locator(f'.jp-tz-LineageNode[data-kind="{kind}"]')).to_have_count(1)

    # When mia converts v1 to ONNX (parity on the dataset), the run row follows the job
    detail.locator(".jp-tz-ConvertButton").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator("select[name=to]")).to_have_value("onnx")
    dialog.locator("input[name=dataset]").fill("shapes:V001")
    accept(page)
    run = view.locator('.jp-tz-RunRow[data-kind="convert"]')
    expect(run).to_have_count(1)
    expect(run.locator(".jp-tz-RunRow-job")).to_be_visible()
    expect(run).to_have_attribute("data-status", "succeeded", timeout=RUN_TIMEOUT)
    expect(view.locator(".jp-tz-VersionRow")).to_have_count(2)
    # and v2 (ONNX) to INT8
    detail = select_version(view, 2)
    expect(detail.locator(".jp-tz-Parity")).to_have_attribute("data-passed", "true")
    detail.locator(".jp-tz-ConvertButton").click()
    expect(dialog.locator("select[name=to]")).to_have_value("int8")
    accept(page)
    expect(view.locator('.jp-tz-RunRow[data-kind="convert"][data-status="succeeded"]')
           ).to_have_count(2, timeout=RUN_TIMEOUT)  # fmt: skip
    expect(view.locator(".jp-tz-VersionRow")).to_have_count(3)
    expect(view.locator('.jp-tz-VersionRow[data-version="3"]')).to_have_attribute(
        "data-format", "onnx"
    )

    # Then the three are evaluated on the held-out split
    for n in (1, 2, 3):
        detail = select_version(view, n)
        detail.locator(".jp-tz-EvaluateButton").click()
        dialog.locator("input[name=dataset]").fill("shapes:V001")
        dialog.locator("select[name=split]").select_option("test")
        dialog.locator("input[name=batch_size]").fill("8")
        accept(page)
    expect(view.locator('.jp-tz-RunRow[data-kind="evaluate"]')).to_have_count(3)
    expect(view.locator('.jp-tz-RunRow[data-kind="evaluate"][data-status="succeeded"]')
           ).to_have_count(3, timeout=3 * RUN_TIMEOUT)  # fmt: skip
    detail = select_version(view, 3)
    evaluation = detail.locator(".jp-tz-EvaluationRow")
    expect(evaluation).to_have_count(1)
    expect(evaluation.locator('.jp-tz-Figure[data-key="accuracy"] dd')).not_to_be_empty()
    expect(evaluation.locator('.jp-tz-Figure[data-key="latency_ms_p50"] dd')).to_contain_text("ms")
    # and v3's lineage runs dataset -> job -> v1 -> v2 -> v3 -> the three evaluations
    graph = detail.locator(".jp-tz-LineageGraph")
    expect(graph.locator('.jp-tz-LineageNode[data-kind="version"]')).to_have_count(3)
    expect(graph.locator('.jp-tz-LineageNode[data-kind="evaluation"]')).to_have_count(3)
    expect(graph.locator('.jp-tz-LineageNode[data-kind="version"].jp-mod-current')
           ).to_have_attribute("data-ref", f"{USER}/shapes-cnn:3")  # fmt: skip
    page.screenshot(path=str(shots / "model-view.png"))
    view.locator(".jp-tz-ModelDetail").evaluate("n => n.parentElement.scrollTo(0, 1e6)")
    page.screenshot(path=str(shots / "model-lineage.png"))
    # whose nodes are links: a version selects it, the dataset and the job open their views
    graph.locator(f'.jp-tz-LineageNode[data-ref="{USER}/shapes-cnn:1"]').click()
    detail = view.locator('.jp-tz-VersionDetail[data-version="1"]')
    expect(detail).to_be_visible()
    graph = detail.locator(".jp-tz-LineageGraph")
    graph.locator('.jp-tz-LineageNode[data-kind="evaluation"]').first.click()
    expect(detail.locator(".jp-tz-EvaluationRow.jp-mod-highlighted")).to_have_count(1)
    graph.locator('.jp-tz-LineageNode[data-kind="dataset"]').click()
    expect(page.locator(".jp-tz-DatasetView:visible .jp-tz-DatasetHeader-name")).to_have_text(
        "shapes"
    )
    back_to(page, v1["model_id"])
    graph.locator('.jp-tz-LineageNode[data-kind="job"]').click()
    expect(page.locator(f'.jp-tz-JobView[data-job-id="{trained["id"]}"]')).to_be_visible()
    back_to(page, v1["model_id"])
    # and the conversions' jobs ride on the 'converted' edges
    conversions = graph.locator(".jp-tz-LineageEdgeJob")
    expect(conversions).to_have_count(2)
    conversion_job = conversions.first.get_attribute("data-job-id")
    conversions.first.click()
    expect(page.locator(f'.jp-tz-JobView[data-job-id="{conversion_job}"]')).to_be_visible()
    back_to(page, v1["model_id"])

    # When mia ticks the three versions and compares them
    for n in (1, 2, 3):
        view.locator(f'.jp-tz-VersionRow[data-version="{n}"] .jp-tz-CompareCheck').check()
    view.locator(".jp-tz-CompareButton").click()
    compare = page.locator(".jp-tz-CompareView:visible")
    rows = compare.locator(".jp-tz-CompareRow")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_class("jp-tz-CompareRow jp-mod-baseline")
    expect(rows.nth(0)).to_have_attribute("data-ref", f"{USER}/shapes-cnn:1")  # the original
    expect(rows.nth(0).locator('[data-column="runtime"]')).to_have_text("pytorch-eager")
    expect(rows.nth(1).locator('[data-column="runtime"]')).to_have_text("onnxruntime")
    expect(rows.nth(2).locator('[data-column="latency_ratio"]')).to_contain_text("×")
    expect(rows.nth(1).locator('[data-column="accuracy_delta"]')).to_contain_text("pp")
    for metric in ("accuracy", "latency_ms_p50", "size_bytes"):
        expect(compare.locator(f'.jp-tz-CompareChart[data-metric="{metric}"] '
                               ".jp-tz-CompareChart-bar")).to_have_count(3)  # fmt: skip
    page.screenshot(path=str(shots / "model-compare.png"))
    # Then Export CSV downloads the service's CSV
    with page.expect_download() as download:
        compare.locator(".jp-tz-ExportCsvButton").click()
    assert download.value.suggested_filename.startswith("compare-")
    assert download.value.suggested_filename.endswith(".csv")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("ref,format,runtime,size_bytes")
    assert len(text.splitlines()) == 4
    back_to(page, v1["model_id"])

    # When mia promotes v2, then v3, to production, v2 is moved to archived, recorded
    detail = select_version(view, 2)
    detail.locator("button", has_text="Promote to production").click()
    accept(page)
    expect(view.locator('.jp-tz-VersionRow[data-version="2"]')).to_have_attribute(
        "data-stage", "production"
    )
    detail = select_version(view, 3)
    detail.locator("button", has_text="Promote to production").click()
    expect(page.locator(".jp-Dialog")).to_contain_text("moves v2 to archived")
    page.locator(".jp-Dialog input[name=comment]").fill("int8 is fast enough")
    accept(page)
    expect(view.locator('.jp-tz-VersionRow[data-version="3"]')).to_have_attribute(
        "data-stage", "production"
    )
    expect(view.locator('.jp-tz-VersionRow[data-version="2"]')).to_have_attribute(
        "data-stage", "archived"
    )
    moves = view.locator(".jp-tz-StageMove")
    expect(moves.first).to_have_attribute("data-version", "3")
    expect(moves.first.locator(".jp-tz-StageMove-comment")).to_have_text("int8 is fast enough")
    expect(view.locator('.jp-tz-StageMove[data-version="2"][data-to="archived"]')).to_have_count(1)
    history = mia.get(f"/models/{v1['model_id']}/history").json()["items"]
    assert [(m["version"], m["to"]) for m in history][:3] == [
        (3, "production"), (2, "archived"), (2, "production")]  # fmt: skip
    expect(panel.locator(f'.jp-tz-ModelRow[data-model-id="{v1["model_id"]}"] '
                         ".jp-tz-StageBadge")).to_have_text("prod v3")  # fmt: skip


EXPORT = f"""
import json, os, pathlib
out = pathlib.Path(os.environ["TZ_OUTPUT_DIR"]) / "export"
out.mkdir(parents=True)
(out / "model.bin").write_bytes(b"weights")
(out / "tz-model.json").write_text(json.dumps({{
    "format": "custom", "artifact": "model.bin",
    "description": {HOSTILE!r},
    "card": "# Card\\n\\n" + {HOSTILE!r} + "\\n\\n<script>window.__xss = 2</script>\\n"
            + "[link](javascript:window.__xss=3)",
    "tags": {{"note": {HOSTILE!r}}},
    "labels": ["cat", {HOSTILE!r}],
    "metrics": {{"accuracy": 0.5}},
}}))
print("exported")
"""


def test_register_a_job_output_from_the_job_view_and_hostile_text_stays_text(api, lab, shots):
    mia = api(USER)
    job = mia.wait(mia.submit(name="Export.Model", code=EXPORT)["id"])
    assert job["status"] == "succeeded", mia.logs(job["id"])
    page = lab(USER)
    view = open_job(page, job["id"])
    # When mia registers the job's "export" folder as a model from the job view
    view.locator(".jp-tz-RegisterModelButton").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator("input[name=name]")).to_have_value("export-model")
    expect(dialog.locator("input[name=path]")).to_have_value("model")
    dialog.locator("input[name=name]").fill("hostile")
    dialog.locator("input[name=path]").fill("export")
    accept(page)
    # Then its view opens with version 1 from that job
    model = page.locator(".jp-tz-ModelView:visible")
    expect(model.locator(".jp-tz-ModelHeader-name")).to_have_text("hostile")
    version = model.locator('.jp-tz-VersionRow[data-version="1"]')
    expect(version.locator(".jp-tz-VersionRow-source")).to_have_text(job["id"])
    detail = model.locator('.jp-tz-VersionDetail[data-version="1"]')
    # and every hostile field is text: tags, labels, description, lineage labels, card
    expect(detail.locator('.jp-tz-ModelTags [data-key="note"] td')).to_have_text(HOSTILE)
    expect(detail.locator(".jp-tz-ModelLabel").nth(1)).to_have_text(HOSTILE)
    expect(detail.locator(".jp-tz-VersionDetail-description")).to_have_text(HOSTILE)
    card = detail.locator(".jp-tz-ModelCard")
    expect(card.locator("h1")).to_contain_text("Card")
    expect(card.locator("script")).to_have_count(0)
    expect(card.locator("[onerror]")).to_have_count(0)
    for link in card.locator("a").all():
        assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
    graph = detail.locator(".jp-tz-LineageGraph")
    expect(graph.locator('.jp-tz-LineageNode[data-kind="job"]')).to_have_attribute(
        "data-ref", job["id"]
    )
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(shots / "model-hostile.png"))
    # and the panel finds it by search
    panel = open_models_panel(page)
    panel.locator(".jp-tz-ModelSearch").fill("hostile")
    expect(panel.locator(".jp-tz-ModelRow")).to_have_count(1)
    expect(panel.locator(".jp-tz-ModelRow")).to_have_attribute("data-name", "hostile")
    panel.locator(".jp-tz-ModelSearch").fill("no-such-model")
    expect(panel.locator(".jp-tz-ModelRow")).to_have_count(0)
    expect(panel.locator(".jp-tz-Empty")).to_have_text("No models match these filters.")
    registered = mia.get("/models/resolve", params={"ref": "hostile:1"}).json()["version"]
    assert registered["source"]["job_id"] == job["id"]
    assert json.dumps(registered["tags"]) == json.dumps({"note": HOSTILE})
    assert page.evaluate("window.__xss") is None


def test_tz_models_magic_in_a_real_notebook(platform, api, trained, lab, shots):
    # Given a notebook whose cell shows version 1, when mia runs it
    page = open_and_run(platform, lab, USER, "models.ipynb", ["%tz_models show shapes-cnn:1"])
    # Then the output is a table of the version: its format and the job that trained it
    output = page.locator(".jp-Cell .jp-OutputArea").first
    expect(output).to_contain_text("shapes-cnn", timeout=60_000)
    expect(output).to_contain_text("pytorch-state-dict")
    expect(output).to_contain_text(trained["id"])
    expect(output.locator("table.jp-tz-Fields")).to_be_visible()
    expect(output.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
           ).to_have_count(0)  # fmt: skip
    page.screenshot(path=str(shots / "models-magic.png"))


def test_files_download_and_deleting_a_version_and_a_model_from_the_view(api, trained, lab, shots):
    mia = api(USER)
    source = {"job": trained["id"], "path": "model"}
    r = mia.post("/models/register", json={"name": "files-demo", "source": source})
    assert r.status_code in (200, 201), r.text
    version = r.json()
    model_id = version["model_id"]
    assert version["version"] == 1 and version["stage"] != "production"
    files = mia.get(f"/models/{model_id}/versions/1/files").json()["items"]
    sha = {f["path"]: f["sha256"] for f in files}
    page = lab(USER)
    # Given files-demo opened from the Models panel
    panel = open_models_panel(page)
    panel.locator(".jp-tz-ModelSearch").fill("files-demo")
    row = panel.locator(f'.jp-tz-ModelRow[data-model-id="{model_id}"]')
    row.click()
    view = page.locator(f'.jp-tz-ModelView[data-model-id="{model_id}"]')
    detail = view.locator('.jp-tz-VersionDetail[data-version="1"]')
    # Then the Files section lists the version's files with their size and sha256
    table = detail.locator(".jp-tz-VersionFiles")
    for path in ("tz-model.json", "model.pt"):
        file = table.locator(f'.jp-tz-VersionFile[data-path="{path}"]')
        expect(file).to_be_visible()
        expect(file.locator("code")).to_have_text(sha[path][:12])
        expect(file.locator("code")).to_have_attribute("title", sha[path])
    expect(table.locator(".jp-tz-VersionFile")).to_have_count(len(files))
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "model-files.png"))
    # When mia clicks tz-model.json, the browser downloads the file's bytes
    with page.expect_download() as download:
        table.locator('.jp-tz-VersionFile[data-path="tz-model.json"] a').click()
    assert download.value.suggested_filename == "tz-model.json"
    descriptor = json.loads(Path(download.value.path()).read_text())
    assert "format" in descriptor
    # and "Download all as ZIP" gives every file of the version in one archive
    with page.expect_download() as download:
        detail.locator(".jp-tz-ModelZipDownload").click()
    assert download.value.suggested_filename == "files-demo-v1.zip"
    archive = zipfile.ZipFile(download.value.path())
    assert sorted(archive.namelist()) == sorted(f"files-demo-v1/{f['path']}" for f in files)
    # When mia deletes version 1 (confirmed), it is gone from the view and the API
    detail.locator(".jp-tz-DeleteVersionButton").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(version["ref"])
    expect(dialog.locator(".jp-mod-accept")).to_have_text("Delete version")
    accept(page)
    expect(view.locator(".jp-tz-VersionRow")).to_have_count(0)
    expect(view.locator(".jp-tz-VersionDetail")).to_have_count(0)
    assert mia.get(f"/models/{model_id}/versions/1").status_code == 404
    # When mia deletes the model (confirmed), its view closes and the panel drops it
    view.locator(".jp-tz-DeleteModelButton").click()
    expect(dialog).to_contain_text("files-demo")
    expect(dialog.locator(".jp-mod-accept")).to_have_text("Delete model")
    accept(page)
    expect(view).to_have_count(0)
    expect(panel.locator(f'.jp-tz-ModelRow[data-model-id="{model_id}"]')).to_have_count(0)
    assert mia.get(f"/models/{model_id}").status_code == 404
