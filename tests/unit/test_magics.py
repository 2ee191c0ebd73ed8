"""Tests for the magics (training_zoo.magics) in a real IPython shell, and for the JobMonitor
widget they display (training_zoo.widgets), against the in-memory API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from fakes.api import FakeTzApi
from training_zoo.client import TzClientError
from training_zoo.magics import JobTable, TzMagics, load_ipython_extension
from training_zoo.widgets import JobMonitor, metrics_svg

_ENV_VARS = ("TZ_URL", "TZ_TOKEN", "TZ_SERVICE_URL", "JUPYTERHUB_API_TOKEN")


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    """The real IPython shell with the extension loaded (history kept out of ~/.ipython)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        shell = InteractiveShell.instance()
        load_ipython_extension(shell)
        yield shell


@pytest.fixture
def monitors() -> Iterator[list[JobMonitor]]:
    """Monitors made by a test; stopped and closed even when the test fails."""
    made: list[JobMonitor] = []
    yield made
    for monitor in made:
        monitor.stop()
        assert monitor.wait(5), "monitor threads did not stop"
        monitor.close()


@pytest.fixture
def fake(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeTzApi]:
    """The fake service wired into the magics; cwd is a small project."""
    api = FakeTzApi()
    magics: TzMagics = ip.magics_manager.registry["TzMagics"]
    magics.client = api.client()
    magics.poll_interval = 0.01
    (tmp_path / "train.py").write_text("print('hello')\n")
    (tmp_path / "helper.py").write_text("LR = 0.1\n")
    monkeypatch.chdir(tmp_path)
    yield api
    api.close()
    if magics.last_monitor is not None:
        magics.last_monitor.stop()
        assert magics.last_monitor.wait(5), "monitor threads did not stop"
        magics.last_monitor.close()
    magics.last_monitor = None
    magics.client = None


def _magics(ip: InteractiveShell) -> TzMagics:
    return ip.magics_manager.registry["TzMagics"]


# -- %tz_train -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageCase:
    name: str
    line: str
    expected_message: str
    reaches_service: bool = False


USAGE_CASES = [
    UsageCase("missing script", "--nodes 2", "needs a SCRIPT"),
    UsageCase("nodes below one", "--nodes 0 train.py", "argument --nodes: must be >= 1"),
    UsageCase("not an integer", "--procs-per-node many train.py", "--procs-per-node: expected an"),
    UsageCase("bad framework", "--framework jax train.py", "argument --framework: invalid choice"),
    UsageCase("no abbreviations", "--gpus 2 train.py", "unrecognized arguments: --gpus"),
    UsageCase("malformed env", "--env FOO train.py", "--env expects KEY=VALUE, got 'FOO'"),
    UsageCase("negative cpus", "--cpus-per-node -1 train.py", "--cpus-per-node"),
    UsageCase("zero timeout is fine, negative is not", "--timeout -5 train.py", "--timeout"),
    UsageCase("missing file", "nope.py", "tz: script 'nope.py' not found"),
    UsageCase("outside workdir", "--workdir sub train.py", "outside the working directory"),
    UsageCase(
        "service refusal", "--env TZ_X=1 train.py", "invalid job spec (env: invalid or", True
    ),
]


@pytest.mark.parametrize("case", USAGE_CASES, ids=lambda c: c.name)
def test_tz_train_bad_input_is_a_usage_error(
    case: UsageCase, ip: InteractiveShell, fake: FakeTzApi
) -> None:
    # Given a project (and an empty subfolder for --workdir)
    Path("sub").mkdir()

    # When / Then the magic refuses with a message naming the problem, not SystemExit
    with pytest.raises(UsageError, match=case.expected_message.replace("(", r"\(")):
        ip.run_line_magic("tz_train", case.line)
    submitted = [r for r in fake.requests if r.url.path.endswith("/jobs")]
    assert bool(submitted) is case.reaches_service


def test_usage_error_in_a_cell_shows_no_traceback(
    ip: InteractiveShell, fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When a user runs a cell with a bad option
    result = ip.run_cell("%tz_train --nodes 0 train.py")

    # Then IPython prints one UsageError line
    _, err = capsys.readouterr()
    assert isinstance(result.error_in_exec, UsageError)
    assert "UsageError" in err and "--nodes" in err and "Traceback" not in err


def test_tz_train_returns_at_once_with_a_live_monitor(
    ip: InteractiveShell, fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a project with train.py
    # When the line magic submits it with script arguments
    result = ip.run_line_magic("tz_train", "--gpus-per-node 1 train.py --epochs 3 --nodes 9")

    # Then nothing is returned, a monitor is displayed, and it follows the job to the end
    monitor = _magics(ip).last_monitor
    assert result is None
    assert isinstance(monitor, JobMonitor)
    assert f"JobMonitor(job='{monitor.job_id}'" in capsys.readouterr().out
    assert monitor.wait(5)
    assert monitor.status == "succeeded"
    assert "[0] rank 0: epoch 1 done" in monitor.log_lines
    spec = fake.jobs[monitor.job_id].job["spec"]
    assert spec["args"] == ["--epochs", "3", "--nodes", "9"]
    assert spec["resources_per_node"]["gpus"] == 1


@pytest.mark.parametrize(
    ("outcome", "expected_line"),
    [
        ("succeeded", r"job train-\w+ succeeded\n"),
        ("failed", r"job train-\w+ failed: rank 0 exited with code 1\n"),
    ],
)
def test_tz_train_wait_prints_and_returns_the_final_job(
    outcome: str,
    expected_line: str,
    ip: InteractiveShell,
    fake: FakeTzApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given jobs that end as `outcome`
    fake.outcome = outcome

    # When the magic waits
    job = ip.run_line_magic("tz_train", "--wait train.py")

    # Then it returns the finished job and says how it ended
    assert job["status"] == outcome
    assert re.search(expected_line, capsys.readouterr().out)


def test_cell_form_runs_the_cell_with_the_cwd_as_working_dir(
    ip: InteractiveShell, fake: FakeTzApi
) -> None:
    # Given a cell that imports a helper from the notebook's folder
    cell = "from helper import LR\nprint(LR)\n"

    # When it is submitted with script arguments after --
    job = ip.run_cell_magic("tz_train", "--wait --name lr-sweep -- --lr 0.1", cell)

    # Then the job runs the cell's code with the folder's files available
    spec = fake.jobs[job["id"]].job["spec"]
    assert (spec["name"], spec["code"], spec["args"]) == ("lr-sweep", cell, ["--lr", "0.1"])
    assert "entry" not in spec
    assert set(fake.snapshots[spec["snapshot"]]) == {"train.py", "helper.py"}
    assert job["status"] == "succeeded"


def test_help_documents_every_option(ip: InteractiveShell) -> None:
    # Given / When the user asks %tz_train?
    doc = ip.magics_manager.magics["line"]["tz_train"].__doc__

    # Then every option is explained
    for option in (
        "--name", "--framework", "--nodes", "--procs-per-node", "--gpus-per-node",
        "--cpus-per-node", "--memory-per-node", "--env", "--max-retries", "--timeout",
        "--priority", "--workdir", "--wait",
    ):  # fmt: skip
        assert option in doc, option
    assert "{pytorch,tensorflow,custom}" in doc


# -- %tz_jobs, %tz_logs, %tz_cancel ----------------------------------------------------------


def test_tz_jobs_shows_a_table(ip: InteractiveShell, fake: FakeTzApi) -> None:
    # Given two jobs, one with a name that looks like markup
    first = fake.add_job("a", status="running")
    fake.add_job("b<i>", status="queued")

    # When they are listed
    table = ip.run_line_magic("tz_jobs", "--status running,queued")

    # Then notebooks get HTML (escaped) and terminals aligned text
    assert isinstance(table, JobTable) and len(table) == 2
    html = table._repr_html_()
    assert first["id"] in html and "b&lt;i&gt;" in html and "<i>" not in html
    assert repr(table).splitlines()[0].split() == ["ID", "NAME", "STATUS", "WORLD", "CREATED"]
    assert repr(JobTable([])) == "no jobs"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("", ["[0] rank 0: starting train.py", "[1] rank 1: starting train.py"]),
        ("--rank 1", ["rank 1: starting train.py", "rank 1: epoch 1 done"]),
        ("--follow --tail 1", ["[1] rank 1: starting train.py"]),
    ],
)
def test_tz_logs_prints_lines(
    options: str,
    expected: list[str],
    ip: InteractiveShell,
    fake: FakeTzApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a two-rank job that has started (and finishes when followed)
    job = fake.add_job("ddp")
    fake.jobs[job["id"]].job["world_size"] = 2
    fake.advance(job["id"])
    if "--rank" in options:
        fake.advance(job["id"])

    # When its logs are printed
    ip.run_line_magic("tz_logs", f"{job['id']} {options}")

    # Then the lines show, prefixed with their rank unless one rank was asked for
    assert capsys.readouterr().out.splitlines()[: len(expected)] == expected


def test_tz_cancel(
    ip: InteractiveShell, fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running job
    fake.outcome = "running"
    job = fake.add_job("long", status="running")

    # When it is cancelled
    ip.run_line_magic("tz_cancel", job["id"])

    # Then the user is told and the job is cancelled
    assert f"cancel requested for job {job['id']} (now cancelled)" in capsys.readouterr().out
    assert fake.jobs[job["id"]].job["status"] == "cancelled"


def test_service_errors_become_usage_errors(ip: InteractiveShell, fake: FakeTzApi) -> None:
    # Given / When / Then
    with pytest.raises(UsageError, match="^tz: job nope not found$"):
        ip.run_line_magic("tz_logs", "nope")
    with pytest.raises(UsageError, match="the following arguments are required: job"):
        ip.run_line_magic("tz_cancel", "")


def test_missing_configuration_says_what_to_set(
    ip: InteractiveShell, fake: FakeTzApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no client and no configuration
    for var in _ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    _magics(ip).client = None

    # When / Then
    with pytest.raises(UsageError, match="no TZ service configured: set TZ_URL"):
        ip.run_line_magic("tz_jobs", "")


# -- JobMonitor ------------------------------------------------------------------------------


def test_monitor_cancel_button_stops_the_job(fake: FakeTzApi, monitors: list[JobMonitor]) -> None:
    # Given a monitor on a job that runs until cancelled
    fake.outcome = "running"
    client = fake.client()
    job = client.train("train.py")
    monitor = JobMonitor(job, client, poll_interval=0.01)
    monitors.append(monitor)
    seen: list[str] = []
    monitor.observe(lambda change: seen.append(change["new"]), "status")

    # When the user clicks Cancel
    monitor._cancel.click()

    # Then the badge turns to cancelled and the monitor stops by itself
    assert monitor.wait(5)
    assert monitor.status == "cancelled" and seen[-1] == "cancelled"
    assert monitor._cancel.disabled
    assert "cancelled" in monitor._header.value


def test_monitor_stop_ends_following_a_job_that_keeps_running(
    fake: FakeTzApi, monitors: list[JobMonitor]
) -> None:
    # Given a monitor on a job that never ends
    fake.outcome = "running"
    client = fake.client()
    monitor = JobMonitor(client.train("train.py"), client, poll_interval=0.01)
    monitors.append(monitor)
    assert not monitor.wait(0.2)

    # When the user closes it
    monitor.stop()

    # Then both the poller and the log stream stop, while the job keeps running
    assert monitor.wait(5)
    assert monitor.status == "running"
    assert fake.streams[-1].closed.is_set()


def test_monitor_shows_errors_inline_and_stops_on_404(
    fake: FakeTzApi, monitors: list[JobMonitor]
) -> None:
    # Given a monitor on a job that does not exist
    monitor = JobMonitor("nope", fake.client(), poll_interval=0.01)
    monitors.append(monitor)

    # When it polls / Then it shows the service's message and gives up
    assert monitor.wait(5)
    assert "job nope not found" in monitor.error
    assert monitor._error.layout.display != "none"


def test_monitor_survives_a_failing_cancel(fake: FakeTzApi, monitors: list[JobMonitor]) -> None:
    # Given a finished job
    client = fake.client()
    job = client.train("train.py")
    client.wait_for_job_status(job["id"], polling_interval=0)
    monitor = JobMonitor(job, client, autostart=False)
    monitors.append(monitor)

    # When cancel is attempted anyway
    monitor.cancel()

    # Then the refusal is shown, not raised
    assert "already succeeded" in monitor.error
    with pytest.raises(TzClientError):
        client.cancel_job(job["id"])


def test_monitor_chart_draws_each_metric(fake: FakeTzApi, monitors: list[JobMonitor]) -> None:
    # Given a monitor that followed a job to the end
    client = fake.client()
    monitor = JobMonitor(client.train("train.py"), client, poll_interval=0.01)
    monitors.append(monitor)
    assert monitor.wait(5)

    # Then the chart has one line per metric
    chart = monitor._chart.value
    assert chart.count("<polyline") == 2
    assert 'data-metric="acc"' in chart and 'data-metric="loss"' in chart
    assert "<b>0.5</b>" in chart  # the latest loss is in the legend


def test_monitor_chart_draws_each_metric_from_the_lowest_rank(
    fake: FakeTzApi, monitors: list[JobMonitor]
) -> None:
    # Given a two-rank job where both ranks log the same metrics (rank 1's values doubled)
    client = fake.client()
    monitor = JobMonitor(client.train("train.py", nodes=2), client, poll_interval=0.01)
    monitors.append(monitor)

    # When the monitor has followed it to the end
    assert monitor.wait(5)

    # Then one line per metric is drawn, with rank 0's values only
    chart = monitor._chart.value
    assert chart.count("<polyline") == 2
    assert "<b>0.5</b>" in chart and "<b>1</b>" not in chart
    assert monitor._series["loss"] == [(1.0, 2.0), (2.0, 1.0), (3.0, 0.5)]


@dataclass(frozen=True)
class SvgCase:
    name: str
    series: dict[str, list[tuple[float, float]]]
    expected_polylines: int
    expected_text: str = ""
    forbidden_text: str = "\x00"


SVG_CASES = [
    SvgCase("nothing to draw", {}, 0),
    SvgCase("empty series", {"loss": []}, 0),
    SvgCase("constant series", {"lr": [(1, 0.1), (2, 0.1)]}, 1, "80.0"),
    SvgCase("single point", {"loss": [(5, 1.0)]}, 1, "240.0,80.0"),
    SvgCase(
        "hostile metric names are escaped",
        {"<script>alert(1)</script>": [(1, 1.0), (2, 2.0)]},
        1,
        "&lt;script&gt;",
        "<script>",
    ),
    SvgCase("long series are downsampled", {"x": [(i, i) for i in range(5000)]}, 1, "4999"),
]


@pytest.mark.parametrize("case", SVG_CASES, ids=lambda c: c.name)
def test_metrics_svg(case: SvgCase) -> None:
    # Given metric series / When drawn
    svg = metrics_svg(case.series)

    # Then
    assert svg.count("<polyline") == case.expected_polylines
    assert case.expected_text in svg
    assert case.forbidden_text not in svg
    if "downsampled" in case.name:
        points = svg.split('points="')[1].split('"')[0].split()
        assert len(points) <= 400
