"""Tests for the ``tz`` command line (training_zoo.cli) against the in-memory API."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fakes.api import API_URL, TOKEN, FakeTzApi
from training_zoo import cli
from training_zoo.client import Client


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeTzApi]:
    """The fake service, reachable by every Client the CLI builds; cwd is a small project."""
    api = FakeTzApi()
    monkeypatch.setenv("TZ_URL", "http://hub.test")
    monkeypatch.setenv("TZ_TOKEN", TOKEN)
    monkeypatch.setattr(
        cli,
        "Client",
        lambda url=None, token=None: Client(url, token, transport=api.transport),
    )
    monkeypatch.setattr(cli, "POLL_INTERVAL", 0)
    (tmp_path / "train.py").write_text("print('hello')\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text("")
    monkeypatch.chdir(tmp_path)
    yield api
    api.close()


@dataclass(frozen=True)
class CliCase:
    name: str
    argv: list[str]
    expected_code: int
    expected_stdout: str = ""
    expected_stderr: str = ""
    outcome: str = "succeeded"


CLI_CASES = [
    CliCase("submit prints the job id", ["train", "train.py"], 0, r"^train-[0-9a-f]{8}\n$"),
    CliCase(
        "wait for success",
        ["train", "--wait", "train.py"],
        0,
        r"^train-\w+\n$",
        r"job train-\w+ succeeded",
    ),
    CliCase(
        "wait for failure",
        ["train", "--wait", "--name", "oom", "train.py"],
        1,
        r"^oom-\w+\n$",
        r"job oom-\w+ failed: rank 0 exited with code 1",
        outcome="failed",
    ),
    CliCase(
        "wait for a job cancelled meanwhile",
        ["train", "--wait", "train.py"],
        3,
        expected_stderr=r"cancelled",
        outcome="cancelled",
    ),
    CliCase(
        "missing script", ["train", "nope.py"], 2, "", r"^tz: error: script 'nope.py' not found"
    ),
    CliCase(
        "script outside the working directory",
        ["train", "--workdir", "src", "train.py"],
        2,
        "",
        r"tz: error: script 'train.py' is outside the working directory",
    ),
    CliCase(
        "nodes must be positive", ["train", "--nodes", "0", "x.py"], 2, "", r"--nodes: must be >= 1"
    ),
    CliCase(
        "gpus must be an integer",
        ["train", "--gpus-per-node", "two", "x.py"],
        2,
        "",
        r"--gpus-per-node: expected an integer, got 'two'",
    ),
    CliCase(
        "unknown framework",
        ["train", "--framework", "jax", "x.py"],
        2,
        "",
        r"argument --framework: invalid choice: 'jax'",
    ),
    CliCase(
        "malformed --env",
        ["train", "--env", "NOEQUALS", "train.py"],
        2,
        "",
        r"--env expects KEY=VALUE, got 'NOEQUALS'",
    ),
    CliCase(
        "service rejects a reserved env name",
        ["train", "--env", "TZ_JOB_ID=x", "train.py"],
        4,
        "",
        r"tz: error: invalid job spec\n  env: invalid or reserved variable name 'TZ_JOB_ID'",
    ),
    CliCase("no subcommand", [], 2, "", r"a COMMAND is required"),
    CliCase(
        "no abbreviated options",
        ["train", "--gpus", "1", "train.py"],
        2,
        "",
        r"unrecognized arguments: --gpus",
    ),
    CliCase("unknown subcommand", ["launch"], 2, "", r"invalid choice: 'launch'"),
    CliCase("help", ["--help"], 0, r"Exit codes: 0 ok"),
    CliCase("unknown job", ["status", "nope"], 4, "", r"^tz: error: job nope not found\n$"),
    CliCase("cancel unknown job", ["cancel", "nope"], 4, "", r"tz: error: job nope not found"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.name)
def test_cli_exit_codes_and_messages(
    case: CliCase, fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a service whose jobs end as `case.outcome`
    fake.outcome = case.outcome

    # When tz runs
    code = cli.main(case.argv)

    # Then the exit code and the messages tell the user what happened
    out, err = capsys.readouterr()
    assert code == case.expected_code, (out, err)
    assert re.search(case.expected_stdout, out), out
    assert re.search(case.expected_stderr, err), err
    assert "Traceback" not in out + err


def test_train_options_reach_the_job_spec(
    fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given options before the script, and script arguments after `--` that look like options
    argv = [
        "train",
        "--nodes", "2", "--procs-per-node", "4", "--gpus-per-node", "1",
        "--cpus-per-node", "0.5", "--memory-per-node", "8Gi",
        "--env", "A=1", "--env", "B=x=y", "--max-retries", "1", "--timeout", "60",
        "--priority", "3", "--name", "ddp", "--framework", "custom",
        "--dataset", "pets:V001", "--dataset", "bob/coco",
        "src/model.py", "--lr", "0.1", "--", "--nodes", "9",
    ]  # fmt: skip

    # When the job is submitted
    assert cli.main(argv) == 0
    job_id = capsys.readouterr().out.strip()

    # Then tz's options configured the job and the rest went to the script untouched
    spec = fake.jobs[job_id].job["spec"]
    assert spec["entry"] == "src/model.py"
    assert spec["args"] == ["--lr", "0.1", "--nodes", "9"]
    assert (spec["nodes"], spec["procs_per_node"]) == (2, 4)
    assert spec["resources_per_node"] == {"gpus": 1, "cpus": 0.5, "memory": "8Gi"}
    assert spec["env"] == {"A": "1", "B": "x=y"}
    assert (spec["max_retries"], spec["timeout"], spec["priority"]) == (1, 60, 3)
    assert (spec["name"], spec["framework"]) == ("ddp", "custom")
    assert spec["datasets"] == ["pets:V001", "bob/coco"]


def test_train_options_may_follow_the_script_and_its_arguments(
    fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the synopsis `tz train SCRIPT [ARGS...] --nodes N --procs-per-node P --name NAME`
    argv = ["train", "src/model.py", "--epochs", "3", "--nodes", "2", "--procs-per-node", "2",
            "--name", "late", "--env", "A=1"]  # fmt: skip
    # When the job is submitted
    assert cli.main(argv) == 0
    spec = fake.jobs[capsys.readouterr().out.strip()].job["spec"]
    # Then tz took its options and the script kept its own, in order
    assert (spec["nodes"], spec["procs_per_node"], spec["name"]) == (2, 2, "late")
    assert spec["args"] == ["--epochs", "3"]
    assert spec["env"] == {"A": "1"}
    # and a bad value of a trailing tz option is a usage error naming it
    assert cli.main(["train", "src/model.py", "--nodes", "zero"]) == 2
    assert "--nodes" in capsys.readouterr().err


def test_jobs_prints_an_aligned_table(fake: FakeTzApi, capsys: pytest.CaptureFixture[str]) -> None:
    # Given jobs with names of different lengths
    fake.add_job("a", status="running")
    fake.add_job("a-much-longer-name", status="queued")

    # When they are listed
    assert cli.main(["jobs"]) == 0

    # Then each column starts at the same offset on every line, newest first
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "WORLD", "CREATED"]
    status_col = lines[0].index("STATUS")
    assert [line[status_col:].split()[0] for line in lines[1:]] == ["queued", "running"]
    assert lines[1].startswith("a-much-longer-name-")


def test_jobs_filters_and_shows_owner_for_admins(
    fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an admin and jobs of two users
    fake.admin = True
    fake.add_job("mine", status="running")
    fake.add_job("theirs", owner="bob", status="failed")

    # When listing everything that failed
    assert cli.main(["jobs", "--all", "--status", "failed"]) == 0

    # Then only bob's job shows, with its owner
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "OWNER"
    assert len(lines) == 2 and lines[1].split()[-1] == "bob"


def test_jobs_all_is_refused_for_users(fake: FakeTzApi, capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When a non-admin asks for everyone's jobs
    code = cli.main(["jobs", "--all"])

    # Then the service's refusal is printed
    assert code == 4
    assert "tz: error: all=true needs the custom:tz:admin scope" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--follow"], ["[0] rank 0: starting train.py", "[1] rank 1: starting train.py"]),
        (["--rank", "1"], ["rank 1: starting train.py", "rank 1: epoch 1 done"]),
        (["--tail", "1"], ["[1] rank 1: epoch 1 done"]),
    ],
)
def test_logs(
    argv: list[str], expected: list[str], fake: FakeTzApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a finished two-rank job
    job = fake.add_job("ddp")
    fake.jobs[job["id"]].job["world_size"] = 2
    if "--follow" not in argv:
        Client(API_URL, TOKEN, transport=fake.transport).wait_for_job_status(
            job["id"], polling_interval=0
        )

    # When its logs are printed
    assert cli.main(["logs", job["id"], *argv]) == 0

    # Then the lines carry their rank unless one rank was asked for
    out = capsys.readouterr().out.splitlines()
    assert out[: len(expected)] == expected


def test_status_human_and_json(fake: FakeTzApi, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a failed job
    fake.outcome = "failed"
    job = fake.add_job("oom", status="running")
    Client(API_URL, TOKEN, transport=fake.transport).get_job(job["id"])

    # When its status is shown both ways
    assert cli.main(["status", job["id"]]) == 0
    human = capsys.readouterr().out
    assert cli.main(["status", "--json", job["id"]]) == 0
    data = json.loads(capsys.readouterr().out)

    # Then people see the reason and message, scripts get the Job
    assert re.search(r"^status:\s+failed \(RankFailed\)$", human, re.M)
    assert re.search(r"^message:\s+rank 0 exited with code 1$", human, re.M)
    assert (data["id"], data["status"], data["exit_code"]) == (job["id"], "failed", 1)


def test_cancel_and_clone(fake: FakeTzApi, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a running job
    fake.outcome = "running"
    job = fake.add_job("long", status="running")

    # When it is cancelled and cloned under a new name
    assert cli.main(["cancel", job["id"]]) == 0
    cancel_out = capsys.readouterr().out
    assert cli.main(["clone", job["id"], "--name", "long-again"]) == 0
    new_id = capsys.readouterr().out.strip()

    # Then the user sees both results
    assert f"job {job['id']} cancel requested (status cancelled)" in cancel_out
    assert fake.jobs[new_id].job["cloned_from"] == job["id"]
    assert new_id.startswith("long-again-")


def test_global_url_and_token_options(fake: FakeTzApi, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no environment, only the global options
    monkeypatch.delenv("TZ_URL")
    monkeypatch.delenv("TZ_TOKEN")

    # When / Then
    assert cli.main(["--url", "http://hub.test", "--token", TOKEN, "jobs"]) == 0
    assert fake.requests[-1].headers["Authorization"] == f"token {TOKEN}"
    assert str(fake.requests[-1].url).startswith(API_URL + "/jobs")


def test_not_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no URL anywhere
    for var in ("TZ_URL", "TZ_TOKEN", "TZ_SERVICE_URL", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    # When / Then
    assert cli.main(["jobs"]) == 4
    assert "tz: error: no TZ service configured: set TZ_URL" in capsys.readouterr().err


def test_connection_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a service that is down
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    monkeypatch.setattr(
        cli, "Client", lambda url, token: Client(url, token, transport=httpx.MockTransport(refuse))
    )

    # When / Then
    assert cli.main(["--url", "http://127.0.0.1:1", "--token", "t", "jobs"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("tz: error: cannot reach the TZ service at http://127.0.0.1:1")


def test_subcommands_can_be_registered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a new subcommand that needs no service (like `tz up`)
    monkeypatch.setattr(cli, "_SUBCOMMANDS", dict(cli._SUBCOMMANDS))

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", type=int, default=8000)

    def run(args: argparse.Namespace) -> int:
        print(f"listening on {args.port}")
        return 0

    cli.register_subcommand(cli.Subcommand("hello", "say hello", configure, run))

    # When it is run, and registered twice
    code = cli.main(["hello", "--port", "9"])
    with pytest.raises(ValueError, match="already registered"):
        cli.register_subcommand(cli.Subcommand("hello", "again", configure, run))

    # Then it behaves like a built-in one
    assert code == 0 and capsys.readouterr().out == "listening on 9\n"


def test_up_hands_over_to_the_platform_starter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the platform starter (which would exec jupyterhub) replaced by a recorder
    from training_zoo import up

    calls: list[list[str]] = []
    monkeypatch.setattr(up, "main", lambda argv: calls.append(argv) or 0)

    # When `tz up` runs with extra hub arguments
    code = cli.main(["up", "--debug", "--port", "8001"])

    # Then they reach the starter untouched
    assert code == 0 and calls == [["--debug", "--port", "8001"]]
