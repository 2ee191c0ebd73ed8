"""The data module's SDK, CLI commands and magic against the in-memory API of
tests/fakes/data_api.py: parts, resume, retries, folders, downloads, argument handling, tables."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from fakes.data_api import TOKEN, FakeDataApi
from training_zoo import cli
from training_zoo.client import Client, TransferProgress, TzClientError
from training_zoo.magics import Table, TzMagics, load_ipython_extension

MB = 1_000_000
MiB = 1 << 20
PART = 5 * MiB


@pytest.fixture
def fake() -> FakeDataApi:
    return FakeDataApi()


@pytest.fixture
def client(fake: FakeDataApi) -> Iterator[Client]:
    with fake.client() as c:
        yield c


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * PART + 123))  # four parts, the last one short
    return path


# -- uploads -----------------------------------------------------------------------------------


def test_upload_sends_parts_in_parallel_and_reports_progress(
    fake: FakeDataApi, client: Client, big: Path
) -> None:
    seen: list[TransferProgress] = []
    item = client.ws_upload(big, "user:alice", "d/big.bin", part_size=PART, progress=seen.append)
    assert item["path"] == "d/big.bin" and item["size"] == big.stat().st_size
    assert fake.files["user:alice/d/big.bin"] == big.read_bytes()
    assert sorted(fake.part_puts()) == [1, 2, 3, 4]
    assert seen[-1].done == seen[-1].total == big.stat().st_size
    assert seen[-1].files_done == 1 and seen[-1].resumed == 0
    puts = [r for r in fake.requests if r.method == "PUT"]
    assert {r.headers["Content-Type"] for r in puts} == {"application/octet-stream"}


@pytest.mark.parametrize(
    ("receipts", "resent"),
    [("md5", []), ("crc32", []), ("opaque", [1, 3])],  # an opaque part cannot be trusted
)
def test_an_interrupted_upload_resumes_with_the_missing_parts_only(
    fake: FakeDataApi, client: Client, big: Path, receipts: str, resent: list[int]
) -> None:
    fake.receipts = receipts
    # Given a session that received parts 1 and 3 before the uploader died
    session = client.create_upload("user:alice", "big.bin", big.stat().st_size, part_size=PART)
    data = big.read_bytes()
    for n in (1, 3):
        client.put_upload_part(session["id"], n, data[(n - 1) * PART : n * PART], PART)
    fake.requests.clear()
    seen: list[TransferProgress] = []
    # When the same file is uploaded again
    client.ws_upload(big, "user:alice", "big.bin", part_size=PART, progress=seen.append)
    # Then only parts 2 and 4 go out (and those it cannot check), through the same session
    assert sorted(fake.part_puts()) == sorted([2, 4, *resent])
    assert not [r for r in fake.requests if r.method == "POST" and r.url.path.endswith("uploads")]
    assert fake.files["user:alice/big.bin"] == data
    kept = 2 - len(resent)
    assert seen[-1].parts_resumed == kept and seen[-1].resumed == kept * PART


@pytest.mark.parametrize("receipts", ["md5", "crc32"])
def test_a_received_part_with_other_bytes_is_sent_again(
    fake: FakeDataApi, client: Client, big: Path, receipts: str
) -> None:
    fake.receipts = receipts
    session = client.create_upload("user:alice", "big.bin", big.stat().st_size, part_size=PART)
    client.put_upload_part(session["id"], 1, b"x" * PART, PART)  # the local file changed since
    fake.requests.clear()
    client.ws_upload(big, "user:alice", "big.bin", part_size=PART)
    assert sorted(fake.part_puts()) == [1, 2, 3, 4]
    assert fake.files["user:alice/big.bin"] == big.read_bytes()


def test_no_resume_starts_a_new_session(fake: FakeDataApi, client: Client, big: Path) -> None:
    client.create_upload("user:alice", "big.bin", big.stat().st_size, part_size=PART)
    client.ws_upload(big, "user:alice", "big.bin", part_size=PART, resume=False, parallel=1)
    assert fake.part_puts() == [1, 2, 3, 4]


def test_parts_are_retried_on_5xx_and_resent_on_a_wrong_etag(
    fake: FakeDataApi, client: Client, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training_zoo.transfers._BACKOFF", 0)
    fake.fail_parts = {2: 2}
    fake.corrupt = {3}
    seen: list[TransferProgress] = []
    client.ws_upload(big, "user:alice", "big.bin", part_size=PART, parallel=1,
                     progress=seen.append)  # fmt: skip
    assert fake.part_puts() == [1, 2, 2, 2, 3, 3, 4]
    assert fake.files["user:alice/big.bin"] == big.read_bytes()
    assert seen[-1].done == big.stat().st_size  # failed attempts were taken back


def test_a_part_changed_on_the_way_is_refused_by_its_crc32_and_sent_again(
    fake: FakeDataApi, client: Client, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training_zoo.transfers._BACKOFF", 0)
    fake.changed = {2}
    client.ws_upload(big, "user:alice", "big.bin", part_size=PART, parallel=1)
    assert fake.part_puts() == [1, 2, 2, 3, 4]
    assert fake.files["user:alice/big.bin"] == big.read_bytes()
    data = big.read_bytes()
    for r in (r for r in fake.requests if r.method == "PUT"):
        n = int(r.url.path.rsplit("/", 1)[1])
        crc = zlib.crc32(data[(n - 1) * PART : n * PART]).to_bytes(4, "big")
        assert r.headers["X-TZ-Checksum-CRC32"] == base64.b64encode(crc).decode()


def test_a_part_failing_for_good_names_the_error(
    fake: FakeDataApi, client: Client, big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("training_zoo.transfers._BACKOFF", 0)
    fake.fail_parts = {1: 99}
    with pytest.raises(TzClientError, match="storage unavailable") as info:
        client.ws_upload(big, "user:alice", "big.bin", part_size=PART)
    assert info.value.status == 503
    assert len(fake.sessions) == 1  # left open for a later resume


def test_folder_upload_creates_folders_and_skips_what_is_there(
    fake: FakeDataApi, client: Client, tmp_path: Path
) -> None:
    root = tmp_path / "imgs"
    (root / "cats").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "cats" / "a.jpg").write_bytes(b"a" * 10)
    (root / "b.jpg").write_bytes(b"b" * 20)
    (root / "link.jpg").symlink_to(root / "b.jpg")
    items = client.ws_upload(root, "user:alice", parallel=2)
    assert sorted(i["path"] for i in items) == ["imgs/b.jpg", "imgs/cats/a.jpg"]
    assert {"user:alice/imgs", "user:alice/imgs/cats", "user:alice/imgs/empty"} <= fake.folders
    fake.requests.clear()
    seen: list[TransferProgress] = []
    assert client.ws_upload(root, "user:alice", progress=seen.append) == []
    assert fake.part_puts() == [] and seen[-1].skipped == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"local": "missing.bin"}, FileNotFoundError, "local: 'missing.bin' does not exist"),
        ({"parallel": 0}, ValueError, "parallel must be >= 1"),
    ],
)
def test_upload_arguments_are_checked(
    client: Client, big: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    kwargs: dict, error: type, message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    args = {"local": big, "space": "user:alice", **kwargs}
    with pytest.raises(error, match=message):
        client.ws_upload(**args)


# -- downloads and listing ---------------------------------------------------------------------


def test_download_file_and_folder(fake: FakeDataApi, client: Client, tmp_path: Path) -> None:
    fake.files.update({"user:alice/d/x.bin": b"x" * 100, "user:alice/d/sub/y.txt": b"y"})
    fake.folders.update({"user:alice/d", "user:alice/d/sub"})
    assert client.ws_download("user:alice", "d/x.bin", tmp_path) == tmp_path / "x.bin"
    assert (tmp_path / "x.bin").read_bytes() == b"x" * 100
    root = client.ws_download("user:alice", "d", tmp_path / "copy")
    assert (root / "x.bin").read_bytes() == b"x" * 100 and (root / "sub" / "y.txt").exists()
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]
    # each file carries the workspace file's modification time
    stamp = datetime.fromisoformat("2026-01-02T03:04:05+00:00").timestamp()
    assert (root / "x.bin").stat().st_mtime == stamp


def _downloads(fake: FakeDataApi) -> list[str]:
    return sorted(r.url.params["path"] for r in fake.requests
                  if r.url.path.endswith("/workspace/download"))  # fmt: skip


def test_downloading_again_fetches_only_missing_or_changed_files(
    fake: FakeDataApi, client: Client, tmp_path: Path
) -> None:
    fake.files.update({"user:alice/d/x.bin": b"x" * 100, "user:alice/d/sub/y.txt": b"y",
                       "user:alice/d/z.txt": b"zz"})  # fmt: skip
    fake.folders.update({"user:alice/d", "user:alice/d/sub"})
    root = client.ws_download("user:alice", "d", tmp_path)
    # Given a download interrupted before z.txt, and y.txt changed locally since
    (root / "z.txt").unlink()
    (root / "sub" / "y.txt").write_bytes(b"Y")
    fake.requests.clear()
    # When it runs again
    seen: list[TransferProgress] = []
    client.ws_download("user:alice", "d", tmp_path, progress=seen.append)
    # Then only z.txt and the changed y.txt are fetched, and the tree is the workspace's again
    assert _downloads(fake) == ["d/sub/y.txt", "d/z.txt"]
    assert seen[-1].skipped == 1 and seen[-1].files_done == 3
    assert (root / "sub" / "y.txt").read_bytes() == b"y" and (root / "z.txt").read_bytes() == b"zz"
    # and with skip_unchanged=False everything is fetched
    fake.requests.clear()
    client.ws_download("user:alice", "d", tmp_path, skip_unchanged=False)
    assert _downloads(fake) == ["d/sub/y.txt", "d/x.bin", "d/z.txt"]


def test_ws_list_follows_cursors(fake: FakeDataApi, client: Client) -> None:
    fake.files.update({f"user:alice/f{i}": b"" for i in range(5)})
    assert [i["name"] for i in client.ws_list("user:alice")] == [f"f{i}" for i in range(5)]
    assert len([r for r in fake.requests if r.url.path.endswith("/list")]) == 3


def test_opened_dataset_refuses_keys_outside_its_root(client: Client, tmp_path: Path) -> None:
    from training_zoo.client import OpenedDataset

    ds = OpenedDataset(
        client, {"name": "pets", "owner": "bob"}, {"version": "V001"},
        [{"key": "../../evil", "size": 1, "sha256": "0" * 64}], tmp_path,
    )  # fmt: skip
    with pytest.raises(ValueError, match="unsafe path segment"):
        _ = ds.files[0].path


# -- facades -------------------------------------------------------------------------------------


def test_import_stays_light_and_facades_resolve() -> None:
    code = (
        "import sys, training_zoo as tz\n"
        "assert 'httpx' not in sys.modules and 'traitlets' not in sys.modules\n"
        "assert callable(tz.workspace.ls) and callable(tz.datasets.publish)\n"
        "import training_zoo.datasets as d\n"
        "assert d.list is tz.datasets.list\n"
        "try:\n    tz.datasets.nope\n"
        "except AttributeError:\n    pass\n"
        "else:\n    raise SystemExit(1)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_fake(fake: FakeDataApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeDataApi:
    monkeypatch.setenv("TZ_URL", "http://hub.test")
    monkeypatch.setenv("TZ_TOKEN", TOKEN)
    monkeypatch.setattr(cli, "Client", lambda url=None, token=None: fake.client())
    monkeypatch.chdir(tmp_path)
    return fake


@dataclass(frozen=True)
class CliCase:
    name: str
    argv: list[str]
    code: int
    stdout: str = ""
    stderr: str = ""


CLI_CASES = [
    CliCase("ws needs an action", ["ws"], 2, stderr="ACTION"),
    CliCase("unknown option", ["ws", "ls", "--colour"], 2, stderr="unrecognized arguments"),
    CliCase("parallel must be >= 1", ["ws", "upload", "x", "--parallel", "0"], 2, stderr=">= 1"),
    CliCase("part size in MiB >= 5", ["ws", "upload", "x", "--part-size", "4"], 2, stderr=">= 5"),
    CliCase("missing local file", ["ws", "upload", "nope.bin"], 2,
            stderr="local: 'nope.bin' does not exist"),
    CliCase("ls default space", ["ws", "ls"], 0, stdout="d/\nf.txt\n"),
    CliCase("ls -l", ["ws", "ls", "-l", "d"], 0, stdout="file  3     2026-01-02 03:04:05  g.txt"),
    CliCase("ls a team space", ["ws", "ls", "--space", "team:vision"], 0, stdout="t.txt\n"),
    CliCase("ls missing folder", ["ws", "ls", "nope"], 4, stderr="tz: error: nope not found"),
    CliCase("rm of a folder needs -r", ["ws", "rm", "d"], 2, stderr="use tz ws rm -r"),
    CliCase("rm -r", ["ws", "rm", "-r", "d"], 0),
    CliCase("mkdir exists", ["ws", "mkdir", "d"], 4, stderr="exists"),
    CliCase("mkdir -p", ["ws", "mkdir", "-p", "d"], 0, stdout="d\n"),
    CliCase("cp", ["ws", "cp", "f.txt", "h.txt"], 0, stdout="h.txt\n"),
    CliCase("datasets needs an action", ["datasets"], 2, stderr="ACTION"),
    CliCase("bad type", ["datasets", "create", "x", "--type", "video"], 2, stderr="invalid choice"),
    CliCase("create", ["datasets", "create", "pets", "--labels", "cat, dog"], 0,
            stdout=r"^ds-[0-9a-f]{12}\n$"),
    CliCase("list", ["datasets", "list"], 0,
            stdout=r"NAME +OWNER +TYPE.*\nflowers +alice +generic"),
    CliCase("list empty filter", ["datasets", "list", "--type", "text"], 0,
            stderr="no datasets"),
    CliCase("show", ["datasets", "show", "flowers"], 0, stdout=r"name: +flowers"),
    CliCase("publish", ["datasets", "publish", "flowers"], 0, stdout="V001\n"),
    CliCase("versions before publish", ["datasets", "versions", "flowers"], 0,
            stderr="no versions"),
    CliCase("diff", ["datasets", "diff", "flowers", "V002", "V001"], 0,
            stdout=r'\+ new\.jpg\n- old\.jpg\n~ x\.jpg: \{"labels": \["cat"\]\} -> '),
    CliCase("add a missing local source", ["datasets", "add", "flowers", "nope"], 2,
            stderr="is not a local file or folder"),
]  # fmt: skip


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.name)
def test_cli(case: CliCase, cli_fake: FakeDataApi, capsys: pytest.CaptureFixture[str]) -> None:
    cli_fake.files.update({"user:alice/f.txt": b"f", "user:alice/d/g.txt": b"ggg",
                           "team:vision/t.txt": b"t"})  # fmt: skip
    cli_fake.folders.add("user:alice/d")
    cli_fake.add_dataset("flowers")
    code = cli.main(case.argv)
    out, err = capsys.readouterr()
    assert code == case.code, err
    if case.stdout:
        assert re.search(case.stdout, out), out
    if case.stderr:
        assert re.search(case.stderr, err), err
    assert "Traceback" not in err


def test_cli_upload_prints_the_path_and_a_summary(
    cli_fake: FakeDataApi, big: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ws", "upload", str(big), "in/big.bin", "--part-size", "5"]) == 0
    out, err = capsys.readouterr()
    assert out == "in/big.bin\n"
    assert re.search(r"uploaded user:alice/in/big\.bin: 15\.7 MB, 15\.7 MB sent at [\d.]+ MB/s",
                     err), err  # fmt: skip
    assert cli_fake.files["user:alice/in/big.bin"] == big.read_bytes()


def test_cli_interrupted_upload_says_how_to_resume(
    cli_fake: FakeDataApi, big: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Client, "ws_upload", interrupt)
    assert cli.main(["ws", "upload", str(big)]) == cli.EXIT_INTERRUPTED
    assert "run the same command again to resume" in capsys.readouterr().err


def test_progress_bar_text() -> None:
    stream = io.StringIO()
    bar = cli.ProgressBar(stream, log_every=0)
    bar(TransferProgress(path="a", done=5 * MiB, total=10 * MiB, parts_resumed=1, resumed=MiB))
    bar(TransferProgress(path="a", done=10 * MiB, total=10 * MiB, files_done=1, parts_resumed=1,
                         resumed=MiB))  # fmt: skip
    bar.finish("user:alice/a")
    text = stream.getvalue()
    assert "resuming: 1 part(s), 1.0 MB already uploaded" in text
    assert "[###############---------------]  50%  5.2/10.5 MB" in text
    assert re.search(r"uploaded user:alice/a: 10\.5 MB, 9\.4 MB sent at [\d.]+ MB/s, 1\.0 MB "
                     r"resumed \(1 part\(s\)\)", text), text  # fmt: skip
    assert "\r" not in text  # not a terminal: whole lines


def test_progress_bar_says_the_time_left_once_a_second_of_sending_was_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    bar = cli.ProgressBar(stream, log_every=0)
    clock[0] += 0.5
    bar(TransferProgress(path="a", done=10 * MB, total=1000 * MB))
    assert "left" not in stream.getvalue()  # half a second says too little
    clock[0] += 9.5  # 100 MB in 10 s: 10 MB/s, 900 MB to go
    bar(TransferProgress(path="a", done=100 * MB, total=1000 * MB))
    assert stream.getvalue().splitlines()[-1].endswith("10.0 MB/s  2 min left")
    bar(TransferProgress(path="a", done=1000 * MB, total=1000 * MB))
    assert "left" not in stream.getvalue().splitlines()[-1]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "1 s"), (8.1, "9 s"), (12, "15 s"), (54, "55 s"), (56, "1 min"), (91, "2 min"),
    (150, "3 min"), (59 * 60, "59 min"), (3600, "1 h"), (3900, "1 h 5 min"),
    (2 * 86400 + 3 * 3600, "2 d 3 h"),
])  # fmt: skip
def test_durations_read_as_the_lab_writes_them(seconds: float, text: str) -> None:
    assert cli._duration(seconds) == text


# -- %tz_datasets ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteractiveShell]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        shell = InteractiveShell.instance()
        load_ipython_extension(shell)
        yield shell


@pytest.fixture
def magics(ip: InteractiveShell, fake: FakeDataApi) -> Iterator[TzMagics]:
    m: TzMagics = ip.magics_manager.registry["TzMagics"]
    m.client = fake.client()
    yield m
    m.client = None


def test_tz_datasets_lists_shows_and_lists_versions(
    ip: InteractiveShell, magics: TzMagics, fake: FakeDataApi
) -> None:
    # Names are restricted by the service; owners and descriptions carry whatever users typed.
    fake.add_dataset("pets", owner="<b>eve</b>", description="<script>alert(1)</script>")
    table = ip.run_line_magic("tz_datasets", "")
    assert isinstance(table, Table) and len(table) == 1
    assert "&lt;b&gt;eve&lt;/b&gt;" in table._repr_html_() and "<b>" not in table._repr_html_()
    assert repr(ip.run_line_magic("tz_datasets", "--type text")) == "no datasets"
    fake.client().publish_dataset("pets")
    shown = ip.run_line_magic("tz_datasets", "pets")
    assert re.search(r"description: +<script>alert\(1\)</script>", repr(shown))
    assert "V001" in repr(shown)
    assert "&lt;script&gt;" in shown._repr_html_() and "<script>" not in shown._repr_html_()
    versions = ip.run_line_magic("tz_datasets", "--versions pets")
    assert [v["version"] for v in versions.items] == ["V001"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--versions", "needs a dataset"),
        ("nope", "tz: dataset nope not found"),
        ("--verbose", "unrecognized arguments"),
    ],
)
def test_tz_datasets_usage_errors(
    ip: InteractiveShell, magics: TzMagics, line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("tz_datasets", line)


def test_an_interrupted_download_into_a_new_folder_resumes_there(
    fake: FakeDataApi, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training_zoo.transfers as transfers

    fake.files.update({"user:alice/d/x.bin": b"x" * 100, "user:alice/d/z.txt": b"zz"})
    fake.folders.add("user:alice/d")
    real = transfers.download_to

    def cut_at_z(client: Client, url: str, params: dict, dest: Path, **kw: object) -> Path:
        if params["path"] == "d/z.txt":
            raise KeyboardInterrupt
        return real(client, url, params, dest, **kw)

    # Given `tz ws download d back` interrupted before its last file
    monkeypatch.setattr(transfers, "download_to", cut_at_z)
    with pytest.raises(KeyboardInterrupt):
        client.ws_download("user:alice", "d", tmp_path / "back", parallel=1)
    monkeypatch.setattr(transfers, "download_to", real)
    # When the same command runs again
    fake.requests.clear()
    root = client.ws_download("user:alice", "d", tmp_path / "back")
    # Then it fills the same folder (not back/d), fetching only the missing file
    assert root == tmp_path / "back" and _downloads(fake) == ["d/z.txt"]
    assert sorted(p.name for p in root.iterdir()) == ["x.bin", "z.txt"]  # marker gone
    # and once complete, `back` is an ordinary folder to download into, as with cp -r
    assert client.ws_download("user:alice", "d", tmp_path / "back") == tmp_path / "back" / "d"
