"""Tests for training_zoo.client against the in-memory API of tests/fakes/api.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.api import API_URL, TOKEN, FakeTzApi
from training_zoo.client import (
    Client,
    ServerSentEvent,
    TzClientError,
    iter_sse,
    resolve_api_url,
)
from training_zoo.snapshot import validate_archive

_ENV_VARS = ("TZ_URL", "TZ_TOKEN", "TZ_SERVICE_URL", "JUPYTERHUB_API_TOKEN")


@pytest.fixture
def fake() -> Iterator[FakeTzApi]:
    api = FakeTzApi()
    yield api
    api.close()


@pytest.fixture
def client(fake: FakeTzApi) -> Iterator[Client]:
    with fake.client() as c:
        yield c


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with an entry script, a helper module and clutter; the cwd."""
    (tmp_path / "src").mkdir()
    (tmp_path / "train.py").write_text("import src.model\n")
    (tmp_path / "my model (v2).py").write_text("")
    (tmp_path / "src" / "model.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigCase:
    name: str
    env: dict[str, str]
    url: str | None = None
    token: str | None = None
    expected_api: str | None = None
    expected_token: str | None = None
    expected_error: str | None = None


CONFIG_CASES = [
    ConfigCase(
        "explicit hub url and token win over the environment",
        {"TZ_URL": "http://other:1", "TZ_TOKEN": "env"},
        url="http://hub:8000/",
        token="arg",
        expected_api="http://hub:8000/services/tz/api/v1",
        expected_token="arg",
    ),
    ConfigCase(
        "TZ_URL and TZ_TOKEN",
        {"TZ_URL": "http://127.0.0.1:8000", "TZ_TOKEN": "t1"},
        expected_api="http://127.0.0.1:8000/services/tz/api/v1",
        expected_token="t1",
    ),
    ConfigCase(
        "inside a user server",
        {"TZ_SERVICE_URL": "http://127.0.0.1:10101/services/tz/", "JUPYTERHUB_API_TOKEN": "u"},
        expected_api="http://127.0.0.1:10101/services/tz/api/v1",
        expected_token="u",
    ),
    ConfigCase(
        "TZ_URL beats TZ_SERVICE_URL",
        {"TZ_URL": "http://a", "TZ_SERVICE_URL": "http://b/services/tz/", "TZ_TOKEN": "t"},
        expected_api="http://a/services/tz/api/v1",
        expected_token="t",
    ),
    ConfigCase(
        "an API base url is used as is",
        {"TZ_TOKEN": "t"},
        url="http://hub/user/alice/tz/api/v1/",
        expected_api="http://hub/user/alice/tz/api/v1",
        expected_token="t",
    ),
    ConfigCase("nothing set", {}, expected_error="set TZ_URL"),
    ConfigCase("url but no token", {"TZ_URL": "http://hub"}, expected_error="TZ_TOKEN"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda c: c.name)
def test_client_resolves_url_and_token(case: ConfigCase, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment
    for var in _ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in case.env.items():
        monkeypatch.setenv(var, value)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "0"})

    # When a client is made and used
    if case.expected_error:
        with pytest.raises(TzClientError, match=case.expected_error) as info:
            Client(case.url, case.token, transport=httpx.MockTransport(handler))
        assert info.value.reason == "NotConfigured"
        return
    with Client(case.url, case.token, transport=httpx.MockTransport(handler)) as c:
        c.info()

    # Then it calls the API base with the token header
    assert c.api_url == case.expected_api
    assert str(seen[0].url) == case.expected_api + "/"
    assert seen[0].headers["Authorization"] == f"token {case.expected_token}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://hub:8000", "http://hub:8000/services/tz/api/v1"),
        ("http://hub/prefix/services/tz", "http://hub/prefix/services/tz/api/v1"),
        ("http://svc:10101/services/tz/", "http://svc:10101/services/tz/api/v1"),
        ("http://hub/services/tz/api/v1/", "http://hub/services/tz/api/v1"),
    ],
)
def test_resolve_api_url(url: str, expected: str) -> None:
    # Given / When / Then
    assert resolve_api_url(url) == expected


def test_import_stays_light() -> None:
    # Given a fresh interpreter
    code = (
        "import sys, training_zoo.client; print(sorted({'torch', 'ipywidgets'} & set(sys.modules)))"
    )

    # When the SDK is imported
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )

    # Then neither torch nor the widget stack came with it
    assert out.stdout.strip() == "[]"


# -- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCase:
    name: str
    response: httpx.Response
    expected_message: str
    expected_status: int
    expected_reason: str | None = None
    expected_errors: dict[str, str] = field(default_factory=dict)
    forbidden_text: str = "Traceback"


ERROR_CASES = [
    ErrorCase(
        "server JSON error",
        httpx.Response(404, json={"message": "job x not found", "reason": "NotFound"}),
        "job x not found",
        404,
        "NotFound",
    ),
    ErrorCase(
        "field errors",
        httpx.Response(
            400,
            json={"message": "invalid job spec", "reason": None, "errors": {"nodes": ">= 1"}},
        ),
        "invalid job spec (nodes: >= 1)",
        400,
        None,
        {"nodes": ">= 1"},
    ),
    ErrorCase(
        "proxy HTML page is not dumped",
        httpx.Response(502, text="<html><body>Bad Gateway from nginx</body></html>"),
        "GET /services/tz/api/v1/jobs/x failed: HTTP 502 Bad Gateway",
        502,
        "Bad Gateway",
        forbidden_text="<html>",
    ),
    ErrorCase(
        "crash page with a traceback is not dumped",
        httpx.Response(500, text='Traceback (most recent call last):\n  File "app.py"'),
        "HTTP 500 Internal Server Error",
        500,
        "Internal Server Error",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_http_errors_carry_the_server_message(
    case: ErrorCase, fake: FakeTzApi, client: Client
) -> None:
    # Given the service (or a proxy) answers with an error
    fake.fail_next(case.response)

    # When a call is made
    with pytest.raises(TzClientError) as info:
        client.get_job("x")

    # Then the error says what the server said, and nothing more
    err = info.value
    assert str(err).endswith(case.expected_message)
    assert (err.status, err.reason, err.errors) == (
        case.expected_status,
        case.expected_reason,
        case.expected_errors,
    )
    assert case.forbidden_text not in str(err)


def test_wrong_token_is_refused(fake: FakeTzApi) -> None:
    # Given a client with a bad token
    with Client(API_URL, "wrong", transport=fake.transport) as c:
        # When / Then
        with pytest.raises(TzClientError, match="invalid or missing token") as info:
            c.list_jobs()
    assert info.value.status == 403


def test_connection_error_names_the_service() -> None:
    # Given a service that cannot be reached
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Client("http://down:8000", TOKEN, transport=httpx.MockTransport(refuse)) as c:
        # When / Then
        with pytest.raises(TzClientError, match="cannot reach the TZ service at http://down") as e:
            c.info()
    assert e.value.status is None and e.value.reason == "ConnectionError"


# -- train -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainCase:
    name: str
    kwargs: dict[str, Any]
    expected_entry: str | None = None
    expected_name: str | None = None
    expected_snapshot_files: set[str] | None = None
    expected_error: type[Exception] | None = None
    expected_message: str = ""


TRAIN_CASES = [
    TrainCase(
        "script at the root of the cwd",
        {"script": "train.py"},
        "train.py",
        "train",
        {"train.py", "my model (v2).py", "src/model.py"},
    ),
    TrainCase(
        "script in a subfolder, relative entry",
        {"script": "src/model.py"},
        "src/model.py",
        "model",
    ),
    TrainCase(
        "working dir narrowed to src",
        {"script": "src/model.py", "working_dir": "src"},
        "model.py",
        "model",
        {"model.py"},
    ),
    TrainCase(
        "script outside the working dir",
        {"script": "train.py", "working_dir": "src"},
        expected_error=ValueError,
        expected_message="outside the working directory",
    ),
    TrainCase(
        "missing script",
        {"script": "nope.py"},
        expected_error=FileNotFoundError,
        expected_message="'nope.py' not found",
    ),
    TrainCase(
        "cell code without a working dir uploads nothing",
        {"code": "print(1)", "working_dir": None},
        expected_name="cell",
    ),
    TrainCase(
        "cell code with the cwd as working dir",
        {"code": "print(1)"},
        expected_name="cell",
        expected_snapshot_files={"train.py", "my model (v2).py", "src/model.py"},
    ),
    TrainCase(
        "default name from an awkward file name",
        {"script": "my model (v2).py"},
        "my model (v2).py",
        "my-model-v2",
    ),
    TrainCase(
        "script and code together",
        {"script": "train.py", "code": "x"},
        expected_error=ValueError,
        expected_message="exactly one",
    ),
]


@pytest.mark.parametrize("case", TRAIN_CASES, ids=lambda c: c.name)
def test_train_uploads_the_working_dir_and_submits(
    case: TrainCase, project: Path, fake: FakeTzApi, client: Client
) -> None:
    # Given a project folder as cwd
    # When a job is submitted
    if case.expected_error:
        with pytest.raises(case.expected_error, match=case.expected_message):
            client.train(**case.kwargs)
        assert not any(r.url.path.endswith("/jobs") for r in fake.requests)
        return
    job = client.train(**case.kwargs)

    # Then the job has the expected entry, name and snapshot
    spec = job["spec"]
    assert spec.get("entry") == case.expected_entry
    assert job["name"] == case.expected_name
    if "code" in case.kwargs:
        assert spec["code"] == case.kwargs["code"]
    if case.expected_snapshot_files is None:
        assert ("snapshot" in spec) is ("script" in case.kwargs)
    else:
        body = fake.snapshot_bodies[spec["snapshot"]]
        assert set(validate_archive(body, 10**6)) == case.expected_snapshot_files


def test_train_passes_an_explicit_name_to_the_service(project: Path, client: Client) -> None:
    # Given a name the service does not accept
    # When / Then the service's validation reaches the caller, naming the field
    with pytest.raises(TzClientError, match="invalid job spec") as info:
        client.train("train.py", name="my run #1")
    assert "name" in info.value.errors


def test_train_sends_resources_env_and_args(project: Path, client: Client) -> None:
    # Given resource options as a Kubeflow user would write them
    # When a job is submitted
    job = client.train(
        "train.py",
        args=["--epochs", 3, "--lr", 0.1],
        nodes=2,
        procs_per_node=4,
        gpus_per_node=4,
        cpus_per_node=8.0,
        memory_per_node="32Gi",
        env={"WANDB_MODE": "offline", "SEED": 1},
        max_retries=2,
        timeout=3600,
        priority=5,
        framework="pytorch",
    )

    # Then the spec holds them in the contract's shape
    spec = job["spec"]
    assert spec["args"] == ["--epochs", "3", "--lr", "0.1"]
    assert spec["resources_per_node"] == {"gpus": 4, "cpus": 8, "memory": "32Gi"}
    assert spec["env"] == {"WANDB_MODE": "offline", "SEED": "1"}
    assert (spec["nodes"], spec["procs_per_node"], job["world_size"]) == (2, 4, 8)
    assert (spec["max_retries"], spec["timeout"], spec["priority"]) == (2, 3600, 5)


def test_train_rejected_spec_names_the_field(project: Path, client: Client) -> None:
    # Given a reserved environment variable
    # When / Then the service's field error reaches the caller
    with pytest.raises(TzClientError, match="invalid job spec") as info:
        client.train("train.py", env={"TZ_JOB_ID": "x"})
    assert info.value.status == 400 and "env" in info.value.errors


def test_upload_snapshot_refuses_an_oversized_folder_before_uploading(
    project: Path, fake: FakeTzApi, client: Client
) -> None:
    # Given a folder larger than the limit
    (project / "data.bin").write_bytes(b"x" * 2048)

    # When / Then it fails locally with a ValueError naming the limit, and nothing is sent
    with pytest.raises(ValueError, match="limit 1.0 KiB"):
        client.upload_snapshot(project, max_bytes=1024)
    assert fake.requests == []


# -- listing, logs, metrics ------------------------------------------------------------------


def test_list_jobs_follows_pagination(fake: FakeTzApi, client: Client) -> None:
    # Given five jobs and a page size of two
    fake.page_limit = 2
    ids = [fake.add_job(f"j{i}")["id"] for i in range(5)]

    # When all jobs are listed
    jobs = client.list_jobs()

    # Then every job comes back once, newest first, over three pages
    assert [j["id"] for j in jobs] == ids[::-1]
    assert sum(r.url.path.endswith("/jobs") for r in fake.requests) == 3


def test_list_jobs_filters_and_all_is_admin_only(fake: FakeTzApi, client: Client) -> None:
    # Given jobs in several states, one of another user
    fake.add_job("a", status="running")
    fake.add_job("b", status="queued")
    fake.add_job("c", status="failed")
    fake.add_job("d", owner="bob", status="running")

    # When / Then
    assert {j["name"] for j in client.list_jobs(status=["running", "queued"])} == {"a", "b"}
    assert {j["name"] for j in client.list_jobs(status="failed")} == {"c"}
    with pytest.raises(TzClientError, match="admin") as info:
        client.list_jobs(all=True)
    assert info.value.status == 403
    fake.admin = True
    assert {j["owner"] for j in client.list_jobs(all=True)} == {"alice", "bob"}


def test_logs_follow_streams_until_the_job_ends(fake: FakeTzApi, client: Client) -> None:
    # Given a two-rank job
    job = fake.add_job("ddp")
    fake.jobs[job["id"]].job["world_size"] = 2

    # When its logs are followed
    lines = list(client.get_job_logs(job["id"], follow=True))

    # Then every line arrives with its rank and the stream ends with the job
    assert lines == [
        (0, "rank 0: starting train.py"),
        (1, "rank 1: starting train.py"),
        (0, "rank 0: epoch 1 done"),
        (1, "rank 1: epoch 1 done"),
    ]
    assert client.get_job(job["id"])["status"] == "succeeded"
    stream_request = next(r for r in fake.requests if "follow" in r.url.params)
    assert stream_request.headers["Accept"] == "text/event-stream"


def test_logs_without_follow_filter_by_rank_and_tail(fake: FakeTzApi, client: Client) -> None:
    # Given a finished two-rank job
    job = fake.add_job("ddp")
    fake.jobs[job["id"]].job["world_size"] = 2
    client.wait_for_job_status(job["id"], polling_interval=0)

    # When / Then
    assert client.get_job_logs(job["id"], rank=1) == [
        (1, "rank 1: starting train.py"),
        (1, "rank 1: epoch 1 done"),
    ]
    assert client.get_job_logs(job["id"], tail=1) == [(1, "rank 1: epoch 1 done")]
    assert list(client.get_job_logs(job["id"], rank=0, follow=True, tail=1)) == [
        (0, "rank 0: epoch 1 done")
    ]


def test_metrics_streaming(fake: FakeTzApi, client: Client) -> None:
    # Given a job that records metrics as it runs
    job = fake.add_job("m")

    # When its metrics are streamed
    streamed = list(client.iter_job_metrics(job["id"]))

    # Then every point arrives and the stream ends with the job
    assert [m["values"]["loss"] for m in streamed] == [2.0, 1.0, 0.5]
    assert client.get_job(job["id"])["status"] == "succeeded"


def test_metrics_polling_with_a_cursor(fake: FakeTzApi, client: Client) -> None:
    # Given a running job with its first point recorded
    job = fake.add_job("m")
    fake.advance(job["id"])

    # When metrics are polled, the job goes on, and they are polled again with the cursor
    first, cursor = client.poll_job_metrics(job["id"])
    fake.advance(job["id"])
    second, cursor2 = client.poll_job_metrics(job["id"], cursor)
    again, _ = client.poll_job_metrics(job["id"], cursor2)

    # Then each call returns only what is new, and the opaque cursor is sent back as is
    assert [m["step"] for m in first] == [1]
    assert [m["step"] for m in second] == [2, 3]
    assert again == []
    assert fake.requests[-1].url.params["since"] == cursor2
    assert client.get_job_metrics(job["id"], since=cursor) == second


def test_a_followed_stream_can_be_closed_from_another_thread(
    fake: FakeTzApi, client: Client
) -> None:
    # Given a job that runs until cancelled, followed in a background thread
    fake.outcome = "running"
    job = fake.add_job("long")
    fake.advance(job["id"])
    stream = client.get_job_logs(job["id"], follow=True)
    received: list[tuple[int, str]] = []

    def read() -> None:
        for item in stream:
            received.append(item)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.005)

    # When another thread closes the stream (a widget being closed)
    stream.close()
    reader.join(5)

    # Then the reader ends quietly and the connection is released
    assert not reader.is_alive() and stream.closed
    assert received == [(0, "rank 0: starting train.py")]
    assert fake.streams[-1].closed.is_set()


def test_stream_errors_are_client_errors(client: Client) -> None:
    # Given / When following logs of an unknown job
    # Then the 404 message surfaces on first iteration
    with pytest.raises(TzClientError, match="job nope not found"):
        list(client.get_job_logs("nope", follow=True))


@dataclass(frozen=True)
class SseCase:
    name: str
    lines: list[str]
    expected: list[ServerSentEvent]


SSE_CASES = [
    SseCase(
        "data and end events",
        ['data: {"a": 1}', "", "event: end", 'data: {"status": "ok"}', ""],
        [ServerSentEvent("message", '{"a": 1}'), ServerSentEvent("end", '{"status": "ok"}')],
    ),
    SseCase(
        "comments and unknown fields are ignored",
        [": keepalive", "", "retry: 10", "foo: bar", "data: x", ""],
        [ServerSentEvent("message", "x")],
    ),
    SseCase(
        "multi-line data, no space after colon, id",
        ["id: 7", "data:one", "data: two", ""],
        [ServerSentEvent("message", "one\ntwo", "7")],
    ),
    SseCase("bare end event without data", ["event: end", ""], [ServerSentEvent("end", "")]),
    SseCase("CRLF endings", ["data: a\r\n", "\r\n"], [ServerSentEvent("message", "a")]),
    SseCase("unterminated event is dropped", ["data: partial"], []),
    SseCase("blank lines alone dispatch nothing", ["", "", ""], []),
]


@pytest.mark.parametrize("case", SSE_CASES, ids=lambda c: c.name)
def test_iter_sse(case: SseCase) -> None:
    # Given lines of an event stream / When parsed / Then
    assert list(iter_sse(case.lines)) == case.expected


# -- waiting and job actions -----------------------------------------------------------------


def test_wait_for_job_status_returns_the_final_job(fake: FakeTzApi, client: Client) -> None:
    # Given a queued job
    job = fake.add_job("w")

    # When / Then
    assert client.wait_for_job_status(job["id"], polling_interval=0)["status"] == "succeeded"


def test_wait_for_job_status_times_out(fake: FakeTzApi, client: Client) -> None:
    # Given a job that keeps running
    fake.outcome = "running"
    job = fake.add_job("w")

    # When / Then
    with pytest.raises(TimeoutError, match="still running after 0.05 s"):
        client.wait_for_job_status(job["id"], timeout=0.05, polling_interval=0.01)


def test_wait_for_a_status_the_job_can_no_longer_reach(fake: FakeTzApi, client: Client) -> None:
    # Given a job that fails
    fake.outcome = "failed"
    job = fake.add_job("w")
    client.get_job(job["id"])

    # When waiting for it to succeed / Then the wait ends with the failure's message
    with pytest.raises(TzClientError, match="ended as failed .*rank 0 exited with code 1"):
        client.wait_for_job_status(job["id"], status="succeeded", polling_interval=0)


def test_cancel_clone_delete_events_queue(fake: FakeTzApi, client: Client) -> None:
    # Given a running job
    fake.outcome = "running"
    job = fake.add_job("c", status="running")

    # When it is inspected, refused deletion, cancelled, cloned and deleted
    assert client.queue()["running"] == 1 and "total" in client.queue()
    with pytest.raises(TzClientError, match="cancel it first") as info:
        client.delete_job(job["id"])
    assert info.value.status == 409
    assert client.cancel_job(job["id"])["status"] == "cancelled"
    clone = client.clone_job(job["id"], name="c2", args=("--lr", "0.1"))
    events = client.get_job_events(job["id"])
    client.delete_job(job["id"])

    # Then each step is visible through the API
    assert (clone["name"], clone["spec"]["args"], clone["cloned_from"]) == (
        "c2",
        ["--lr", "0.1"],
        job["id"],
    )
    assert [e["reason"] for e in events] == ["Queued", "Cancelled"]
    with pytest.raises(TzClientError, match="not found"):
        client.get_job(job["id"])


def test_clone_with_unknown_field_is_refused(fake: FakeTzApi, client: Client) -> None:
    # Given a job
    job = fake.add_job("c")

    # When / Then
    with pytest.raises(TzClientError, match="unknown field 'gpus'"):
        client.clone_job(job["id"], gpus=2)


def test_job_ids_are_one_path_segment(fake: FakeTzApi, client: Client) -> None:
    # Given a hostile id / When it is fetched
    with pytest.raises(TzClientError):
        client.get_job("../queue")

    # Then it stayed inside /jobs/
    assert fake.requests[-1].url.raw_path.endswith(b"/jobs/..%2Fqueue")
