"""The workspace and upload sessions, one table of behaviours run on both storage backends.

``backend`` is a local folder in ``tmp_path`` or a real S3 endpoint (moto's server, one per module,
a fresh prefix per test). Pagination, mkdir/move/copy/delete/stat, streamed reads, multipart
uploads (out of order, retried, interrupted, refused) and who may reach which space must behave
the same on both.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import sys
import time
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

sys.path.insert(0, str(Path(__file__).parent.parent))

from s3server import moto_s3  # noqa: E402

from training_zoo.datasets import TzUploads, TzWorkspace  # noqa: E402
from training_zoo.errors import (  # noqa: E402
    BackendUnavailable,
    Conflict,
    InvalidRequest,
    NotFound,
)
from training_zoo.identity import Identity  # noqa: E402
from training_zoo.storage import TzStorage  # noqa: E402

pytestmark = pytest.mark.integration

BUCKET = "tz-ws"
ALICE = Identity("alice", groups=("data",))
BOB = Identity("bob", groups=("other",))
MiB = 1 << 20


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3(BUCKET) as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> TzStorage:
    if request.param == "local":
        return TzStorage(url=str(tmp_path / "storage"))
    url = request.getfixturevalue("s3_url")
    return TzStorage(
        url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
        storage_options={"client_kwargs": {"endpoint_url": url}, "skip_instance_cache": True},
    )


@pytest.fixture
def ws(storage) -> TzWorkspace:
    return TzWorkspace(storage=storage)


@pytest.fixture
def uploads(ws) -> TzUploads:
    return TzUploads(workspace=ws)


async def fill(ws: TzWorkspace, folder: str, names: list[str]) -> None:
    """Write many small files in alice's space fast: one request each, in parallel on S3."""
    if ws.is_local:
        base = ws.storage.local_path(f"workspace/users/alice/{folder}")
        base.mkdir(parents=True, exist_ok=True)
        for name in names:
            (base / name).write_bytes(name.encode())
        return
    bucket, prefix = ws._bucket_key(f"workspace/users/alice/{folder}")
    await ws._gather([ws._call("put_object", Bucket=bucket, Key=f"{prefix}/{n}", Body=n.encode())
                      for n in names])  # fmt: skip


async def read_all(ws: TzWorkspace, user: Identity, space: str, path: str) -> bytes:
    return b"".join([c async for c in await ws.open_read(user, space, path, chunk_size=1000)])


# -------------------------------------------------------------------- listing


async def test_pagination_returns_every_name_once_in_order(ws: TzWorkspace) -> None:
    names = [f"f{i:05d}.txt" for i in range(2500)]
    await ws.mkdir(ALICE, "user:alice", "bulk")
    await fill(ws, "bulk", names)
    await ws.mkdir(ALICE, "user:alice", "bulk/zsub")  # a folder among the files
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        page = await ws.list(ALICE, "user:alice", "bulk", cursor=cursor, limit=1000)
        assert len(page["items"]) <= 1000
        seen.extend(it["name"] for it in page["items"])
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert seen == [*names, "zsub"]
    assert pages == 3
    item = (await ws.list(ALICE, "user:alice", "bulk", limit=1))["items"][0]
    assert item == {
        **item,
        "name": "f00000.txt",
        "path": "bulk/f00000.txt",
        "type": "file",
        "size": 10,
    }
    # A cursor is bound to its folder.
    first = await ws.list(ALICE, "user:alice", "bulk", limit=5)
    with pytest.raises(InvalidRequest) as e:
        await ws.list(ALICE, "user:alice", "", cursor=first["next"])
    assert "cursor" in e.value.errors
    with pytest.raises(InvalidRequest):
        await ws.list(ALICE, "user:alice", "bulk", cursor="garbage!")


async def test_sort_by_size_and_cap(ws: TzWorkspace) -> None:
    for name, size in [("b", 3), ("a", 1), ("c", 2)]:
        await ws.write_bytes(ALICE, "user:alice", f"s/{name}", b"x" * size)
    page = await ws.list(ALICE, "user:alice", "s", sort="size", order="desc", limit=2)
    assert [it["name"] for it in page["items"]] == ["b", "c"]
    page = await ws.list(ALICE, "user:alice", "s", sort="size", order="desc", cursor=page["next"])
    assert [it["name"] for it in page["items"]] == ["a"] and page["next"] is None
    ws.max_sort_entries = 2
    with pytest.raises(InvalidRequest) as e:
        await ws.list(ALICE, "user:alice", "s", sort="modified")
    assert "sort" in e.value.errors
    assert len((await ws.list(ALICE, "user:alice", "s"))["items"]) == 3  # name sort: no cap


# -------------------------------------------------------------------- file operations


async def test_mkdir_stat_move_copy_delete(ws: TzWorkspace) -> None:
    u, sp = ALICE, "user:alice"
    assert (await ws.list(u, sp, ""))["items"] == []  # an untouched space is empty, not missing
    await ws.mkdir(u, sp, "empty")
    assert (await ws.stat(u, sp, "empty"))["type"] == "folder"
    assert (await ws.list(u, sp, "empty"))["items"] == []
    with pytest.raises(Conflict):
        await ws.mkdir(u, sp, "empty")
    await ws.mkdir(u, sp, "empty", exist_ok=True)
    await ws.write_bytes(u, sp, "d/one.txt", b"1")
    await ws.write_bytes(u, sp, "d/sub/two.txt", b"22")
    with pytest.raises(Conflict):
        await ws.mkdir(u, sp, "d/one.txt/x")
    st = await ws.stat(u, sp, "d/sub/two.txt")
    assert (st["name"], st["type"], st["size"]) == ("two.txt", "file", 2)
    assert st["modified"].endswith("Z")
    with pytest.raises(NotFound):
        await ws.stat(u, sp, "nope")
    with pytest.raises(NotFound):
        await ws.list(u, sp, "nope")
    with pytest.raises(InvalidRequest):
        await ws.list(u, sp, "d/one.txt")

    # copy a folder, then move it; refuse into itself; conflicts unless overwrite
    await ws.copy(u, sp, "d", "e")
    assert await read_all(ws, u, sp, "e/sub/two.txt") == b"22"
    assert await read_all(ws, u, sp, "d/sub/two.txt") == b"22"
    with pytest.raises(InvalidRequest) as e:
        await ws.move(u, sp, "d", "d/sub/d")
    assert "target" in e.value.errors
    with pytest.raises(Conflict):
        await ws.move(u, sp, "d", "e")
    await ws.move(u, sp, "d", "e", overwrite=True)
    with pytest.raises(NotFound):
        await ws.stat(u, sp, "d")
    assert [it["name"] for it in (await ws.list(u, sp, "e"))["items"]] == ["one.txt", "sub"]
    # rename a file into a new folder; the old folder stays (empty), like on a disk
    await ws.move(u, sp, "e/sub/two.txt", "f/two.txt")
    assert (await ws.list(u, sp, "e/sub"))["items"] == []
    assert await read_all(ws, u, sp, "f/two.txt") == b"22"
    with pytest.raises(Conflict):
        await ws.copy(u, sp, "e/one.txt", "f/two.txt")
    await ws.copy(u, sp, "e/one.txt", "f/two.txt", overwrite=True)
    assert await read_all(ws, u, sp, "f/two.txt") == b"1"

    await ws.delete(u, sp, "e")
    with pytest.raises(NotFound):
        await ws.stat(u, sp, "e/one.txt")
    await ws.delete(u, sp, "f/two.txt")
    assert (await ws.list(u, sp, "f"))["items"] == []
    with pytest.raises(NotFound):
        await ws.delete(u, sp, "f/two.txt")
    with pytest.raises(InvalidRequest):
        await ws.delete(u, sp, "")
    names = [it["name"] for it in (await ws.list(u, sp, ""))["items"]]
    assert names == ["empty", "f"]


async def test_streamed_read(ws: TzWorkspace) -> None:
    data = os.urandom(2 * MiB + 17)
    await ws.write_bytes(ALICE, "user:alice", "big.bin", data)
    chunks = [c async for c in await ws.open_read(ALICE, "user:alice", "big.bin", chunk_size=MiB)]
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= MiB
    with pytest.raises(NotFound):
        await ws.open_read(ALICE, "user:alice", "missing.bin")


async def test_a_folder_downloads_as_one_zip_made_while_it_streams(ws: TzWorkspace) -> None:
    # Given a folder with nested files, one bigger than a read chunk, and TZ's own temporary
    # file that nobody should receive
    files = {"a.txt": b"hello", "sub/deeper/b.bin": os.urandom(MiB + 5), "sub/c <&>.txt": b"x"}
    for path, data in files.items():
        await ws.write_bytes(ALICE, "user:alice", f"pack/{path}", data)
    if ws.is_local:
        ws.storage.local_path("workspace/users/alice/pack/.tz-upload-tmp").write_bytes(b"no")
    # When it is read as a ZIP
    name, chunks = await ws.open_zip(ALICE, "user:alice", "pack")
    pieces = [c async for c in chunks]
    # Then the archive holds exactly the files under the folder's name, byte for byte, and it
    # came in pieces (no whole file or archive was built first)
    assert name == "pack.zip" and max(map(len, pieces)) <= MiB + 4096
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted(f"pack/{p}" for p in files)
    for path, data in files.items():
        assert archive.read(f"pack/{path}") == data
    # A file, a missing folder, too many files and another user's space are refused
    with pytest.raises(InvalidRequest):
        await ws.open_zip(ALICE, "user:alice", "pack/a.txt")
    with pytest.raises(NotFound):
        await ws.open_zip(ALICE, "user:alice", "nothing-here")
    ws.max_zip_files = 2
    with pytest.raises(InvalidRequest, match="more than 2 in one ZIP"):
        await ws.open_zip(ALICE, "user:alice", "pack")
    with pytest.raises(NotFound):
        await ws.open_zip(BOB, "user:alice", "pack")


async def test_spaces_are_confined(ws: TzWorkspace) -> None:
    await ws.write_bytes(ALICE, "user:alice", "secret.txt", b"s")
    await ws.write_bytes(ALICE, "team:data", "shared.txt", b"t")
    for call in (
        ws.list(BOB, "user:alice", ""),
        ws.stat(BOB, "user:alice", "secret.txt"),
        ws.open_read(BOB, "user:alice", "secret.txt"),
        ws.delete(BOB, "user:alice", "secret.txt"),
        ws.list(BOB, "team:data", ""),
        ws.write_bytes(BOB, "team:data", "x.txt", b"x"),
        ws.copy(BOB, "user:bob", "x", "y", target_space="user:alice"),
    ):
        with pytest.raises(NotFound):
            await call
    member = Identity("carol", groups=("data",))
    assert await read_all(ws, member, "team:data", "shared.txt") == b"t"
    await ws.copy(ALICE, "team:data", "shared.txt", "mine.txt", target_space="user:alice")
    assert await read_all(ws, ALICE, "user:alice", "mine.txt") == b"t"


# -------------------------------------------------------------------- uploads


async def test_multipart_out_of_order_and_retried(ws: TzWorkspace, uploads: TzUploads) -> None:
    data = os.urandom(3 * 5 * MiB + 1234)
    up = await uploads.create(ALICE, "user:alice", "up/big.bin", len(data), part_size=5 * MiB)
    assert up["parts"] == 4 and up["part_size"] == 5 * MiB
    part = {n: data[(n - 1) * 5 * MiB : n * 5 * MiB] for n in range(1, 5)}

    async def stream(b: bytes):
        for i in range(0, len(b), MiB):
            yield b[i : i + MiB]

    for n in (3, 1, 4):
        await uploads.put_part(ALICE, up["id"], n, part[n])
    with pytest.raises(NotFound):  # nothing at the final key before complete
        await ws.stat(ALICE, "user:alice", "up/big.bin")
    st = await uploads.status(ALICE, up["id"])
    assert [p["number"] for p in st["received"]] == [1, 3, 4]
    # part 2 retried twice, once from a stream; part 3 sent again
    await uploads.put_part(ALICE, up["id"], 2, stream(part[2]))
    await uploads.put_part(ALICE, up["id"], 2, part[2])
    await uploads.put_part(ALICE, up["id"], 3, stream(part[3]))
    st = await uploads.status(ALICE, up["id"])
    assert [(p["number"], p["size"]) for p in st["received"]] == [
        (1, 5 * MiB), (2, 5 * MiB), (3, 5 * MiB), (4, 1234),
    ]  # fmt: skip
    assert all(p["etag"] for p in st["received"])
    # each with its CRC32 as the store keeps it, so a resuming client can check its own bytes
    crcs = [p["crc32"] for p in st["received"]]
    if ws.is_local:
        assert crcs == [crc_of(part[n]) for n in range(1, 5)]
    else:
        bucket, key = ws._bucket_key("workspace/users/alice/up/big.bin")
        s3_id = (await uploads._load(ALICE, up["id"]))["s3_upload_id"]
        listed = await ws._call("list_parts", Bucket=bucket, Key=key, UploadId=s3_id)
        numbers = [p["PartNumber"] for p in listed["Parts"]]
        assert numbers == [1, 2, 3, 4]  # no duplicate part
        # (AWS S3 and MinIO list each part's CRC32; moto lists none, and then neither do we)
        assert crcs == [p.get("ChecksumCRC32") for p in listed["Parts"]]
    with pytest.raises(NotFound):  # another user's upload id
        await uploads.status(BOB, up["id"])
    with pytest.raises(NotFound):
        await uploads.put_part(BOB, up["id"], 1, part[1])
    done = await uploads.complete(ALICE, up["id"])
    assert done["size"] == len(data)
    got = await read_all(ws, ALICE, "user:alice", "up/big.bin")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    with pytest.raises(NotFound):  # the session is gone once completed
        await uploads.status(ALICE, up["id"])
    assert [it["name"] for it in (await ws.list(ALICE, "user:alice", "up"))["items"]] == ["big.bin"]


async def test_complete_refuses_missing_or_wrong_parts(ws: TzWorkspace, uploads: TzUploads):
    up = await uploads.create(ALICE, "user:alice", "bad.bin", 6 * MiB, part_size=5 * MiB)
    await uploads.put_part(ALICE, up["id"], 2, b"x" * MiB)
    with pytest.raises(InvalidRequest) as e:
        await uploads.complete(ALICE, up["id"])
    assert "parts" in e.value.errors and "1" in e.value.errors["parts"]
    with pytest.raises(InvalidRequest):  # a part of the wrong size is refused on arrival
        await uploads.put_part(ALICE, up["id"], 1, b"x" * 100)
    with pytest.raises(InvalidRequest):
        await uploads.put_part(ALICE, up["id"], 3, b"x")
    with pytest.raises(NotFound):
        await ws.stat(ALICE, "user:alice", "bad.bin")
    await uploads.put_part(ALICE, up["id"], 1, b"y" * 5 * MiB)
    await uploads.complete(ALICE, up["id"])  # the session stayed open: completing now works
    assert (await ws.stat(ALICE, "user:alice", "bad.bin"))["size"] == 6 * MiB


async def test_interrupted_upload_leaves_nothing(ws: TzWorkspace, uploads: TzUploads):
    a = await uploads.create(ALICE, "user:alice", "cut.bin", 11 * MiB, part_size=5 * MiB)
    b = await uploads.create(ALICE, "team:data", "cut2.bin", 11 * MiB, part_size=5 * MiB)
    for up in (a, b):
        await uploads.put_part(ALICE, up["id"], 1, b"a" * 5 * MiB)
        await uploads.put_part(ALICE, up["id"], 3, b"c" * MiB)
    for sp, p in (("user:alice", "cut.bin"), ("team:data", "cut2.bin")):
        with pytest.raises(NotFound):
            await ws.stat(ALICE, sp, p)
    assert (await ws.list(ALICE, "user:alice", ""))["items"] == []
    with pytest.raises(NotFound):
        await uploads.abort(BOB, a["id"])
    await uploads.abort(ALICE, a["id"])
    with pytest.raises(NotFound):
        await uploads.status(ALICE, a["id"])
    assert await uploads.sweep(older_than_seconds=3600) == 0  # b is still fresh
    assert await uploads.sweep(older_than_seconds=0) == 1
    with pytest.raises(NotFound):
        await uploads.status(ALICE, b["id"])
    if ws.is_local:
        staging = ws.storage.local_path("uploads")
        assert staging is not None and list(staging.rglob("*")) in ([], [staging / "alice"])
    else:
        bucket, prefix = ws._bucket_key("")
        resp = await ws._call("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
        assert resp.get("Uploads", []) == []


async def test_a_sender_hanging_up_as_its_part_is_stored_leaves_no_unverifiable_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local store and a part whose sender hangs up just as the part lands in its place
    # (a CLI killed as its last byte went out: the service cancels the part's task)
    uploads = TzUploads(workspace=TzWorkspace(storage=TzStorage(url=str(tmp_path / "s"))))
    up = await uploads.create(ALICE, "user:alice", "hangup.bin", 6 * MiB, part_size=5 * MiB)
    data = os.urandom(5 * MiB)
    loop = asyncio.get_running_loop()
    task: asyncio.Task | None = None
    real_replace = os.replace

    def replace_then_hang_up(src, dst, **kwargs):
        real_replace(src, dst, **kwargs)
        if Path(dst).name == "00001" and task is not None:
            loop.call_soon_threadsafe(task.cancel)
            time.sleep(0.2)  # the cancel lands while the part is being recorded

    monkeypatch.setattr(os, "replace", replace_then_hang_up)
    task = asyncio.ensure_future(uploads.put_part(ALICE, up["id"], 1, data))
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)  # storage work already handed to a thread finishes

    # Then the part is whole with its etag (a resume keeps it) or absent (it is sent again),
    # never listed without an etag that a resuming client could check
    received = (await uploads.status(ALICE, up["id"]))["received"]
    assert received in ([], [{"number": 1, "size": 5 * MiB, "crc32": crc_of(data),
                              "etag": hashlib.md5(data).hexdigest()}]), received  # fmt: skip


async def test_upload_rules(ws: TzWorkspace, uploads: TzUploads) -> None:
    with pytest.raises(InvalidRequest) as e:
        await uploads.create(ALICE, "user:alice", "x", 20 * MiB, part_size=MiB)
    assert "part_size" in e.value.errors
    with pytest.raises(InvalidRequest):
        await uploads.create(ALICE, "user:alice", "x", 100 * 1024 * MiB, part_size=5 * MiB)
    big = await uploads.create(ALICE, "user:alice", "x", 1024**4)  # 1 TiB: the part grows
    assert big["parts"] <= 10_000 and big["part_size"] % MiB == 0
    await uploads.abort(ALICE, big["id"])
    with pytest.raises(NotFound):
        await uploads.create(BOB, "user:alice", "x", 10)
    with pytest.raises(NotFound):
        await uploads.create(BOB, "team:data", "x", 10)
    await ws.write_bytes(ALICE, "user:alice", "exists.txt", b"1")
    with pytest.raises(Conflict):
        await uploads.create(ALICE, "user:alice", "exists.txt", 10)
    small = await uploads.create(ALICE, "team:data", "small.txt", 5)
    assert small["parts"] == 1
    await uploads.put_part(ALICE, small["id"], 1, b"hello")
    await uploads.complete(ALICE, small["id"])
    assert await read_all(ws, ALICE, "team:data", "small.txt") == b"hello"
    empty = await uploads.create(ALICE, "user:alice", "empty.txt", 0)
    assert empty["parts"] == 0
    await uploads.complete(ALICE, empty["id"])
    assert (await ws.stat(ALICE, "user:alice", "empty.txt"))["size"] == 0


async def test_sessions_survive_a_restart(storage: TzStorage) -> None:
    first = TzUploads(workspace=TzWorkspace(storage=storage))
    up = await first.create(ALICE, "user:alice", "r.bin", 6 * MiB, part_size=5 * MiB)
    await first.put_part(ALICE, up["id"], 1, b"r" * 5 * MiB)
    again = TzUploads(workspace=TzWorkspace(storage=TzStorage(url=storage.url,
                      storage_options=storage.storage_options)))  # fmt: skip
    st = await again.status(ALICE, up["id"])
    assert [p["number"] for p in st["received"]] == [1]
    await again.put_part(ALICE, up["id"], 2, b"s" * MiB)
    started = time.monotonic()
    await again.complete(ALICE, up["id"])
    assert time.monotonic() - started < 10
    assert (await again.workspace.stat(ALICE, "user:alice", "r.bin"))["size"] == 6 * MiB


@pytest.mark.parametrize("checksum", ["CRC32", "CRC32-stream", "none"])
async def test_s3_parts_carry_their_crc32_instead_of_a_payload_hash(s3_url, checksum) -> None:
    """``CRC32`` sends each part's CRC32 in a header, ``CRC32-stream`` streams the part with its
    CRC32 in a trailer: either way S3 can refuse a part whose bytes changed on the way, and the
    service does not hash every byte for the signature. ``none`` (for stores that refuse
    checksums) keeps the signed payload hash."""
    storage = TzStorage(
        url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
        storage_options={"client_kwargs": {"endpoint_url": s3_url}, "skip_instance_cache": True},
    )
    ws = TzWorkspace(storage=storage)
    uploads = TzUploads(workspace=ws, part_checksum=checksum)
    data = os.urandom(5 * MiB + 777)
    parts = {1: data[: 5 * MiB], 2: data[5 * MiB :]}
    sent: dict[int, dict[str, str]] = {}
    answered: dict[int, dict] = {}

    def number(url: str) -> int:
        return int(url.partition("partNumber=")[2].partition("&")[0])

    def record(request, **_) -> None:
        sent[number(request.url)] = {
            k.lower(): v if isinstance(v, str) else v.decode() for k, v in request.headers.items()
        }

    def record_answer(http_response, parsed, **_) -> None:
        answered[number(http_response.url)] = parsed

    async def stream(b: bytes):
        for i in range(0, len(b), 300_000):
            yield b[i : i + 300_000]

    up = await uploads.create(ALICE, "user:alice", "sum.bin", len(data), part_size=5 * MiB)
    client = await ws._s3(storage.fs.set_session())
    client.meta.events.register("before-send.s3.UploadPart", record)
    client.meta.events.register("after-call.s3.UploadPart", record_answer)
    for n, part in parts.items():
        await uploads.put_part(ALICE, up["id"], n, stream(part))
    await uploads.complete(ALICE, up["id"])

    assert await read_all(ws, ALICE, "user:alice", "sum.bin") == data
    for n, part in parts.items():
        headers = sent[n]
        crc = base64.b64encode(zlib.crc32(part).to_bytes(4, "big")).decode()
        if checksum == "CRC32-stream":
            assert headers["content-encoding"] == "aws-chunked"
            assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
            assert headers["x-amz-decoded-content-length"] == str(len(part))
            assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
            assert answered[n]["ChecksumCRC32"] == crc  # the trailer S3 checked
        elif checksum == "CRC32":
            assert headers["x-amz-checksum-crc32"] == crc
            assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        else:
            assert "x-amz-checksum-crc32" not in headers and "x-amz-trailer" not in headers
            assert headers["x-amz-content-sha256"] == hashlib.sha256(part).hexdigest()
    bucket, key = ws._bucket_key("workspace/users/alice/sum.bin")
    head = await ws._call("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert ("ChecksumCRC32" in head) == (checksum != "none")  # S3 kept the parts' checksums


@pytest.mark.parametrize("sent", [5 * MiB - 1, 5 * MiB + 1])
async def test_a_streamed_part_of_the_wrong_size_leaves_no_part(s3_url, sent) -> None:
    storage = TzStorage(
        url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
        storage_options={"client_kwargs": {"endpoint_url": s3_url}, "skip_instance_cache": True},
    )
    ws = TzWorkspace(storage=storage)
    uploads = TzUploads(workspace=ws, part_checksum="CRC32-stream")

    async def stream(n: int):
        for i in range(0, n, MiB):
            yield b"z" * min(MiB, n - i)

    up = await uploads.create(ALICE, "user:alice", "short.bin", 6 * MiB, part_size=5 * MiB)
    with pytest.raises(InvalidRequest, match="5242880 bytes"):
        await uploads.put_part(ALICE, up["id"], 1, stream(sent))
    assert (await uploads.status(ALICE, up["id"]))["received"] == []


@pytest.mark.parametrize("checksum", ["CRC32", "CRC32-stream", "client CRC32"])
async def test_a_part_storage_did_not_take_answers_503_and_can_be_sent_again(s3_url, checksum):
    storage = TzStorage(
        url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
        storage_options={"client_kwargs": {"endpoint_url": s3_url}, "skip_instance_cache": True,
                         "config_kwargs": {"retries": {"max_attempts": 1}}},
    )
    ws = TzWorkspace(storage=storage)
    uploads = TzUploads(workspace=ws, part_checksum=checksum.removeprefix("client "))
    data = os.urandom(5 * MiB)
    crc = crc_of(data) if checksum.startswith("client") else None  # streamed with the header
    up = await uploads.create(ALICE, "user:alice", "flaky.bin", len(data), part_size=5 * MiB)
    client = await ws._s3(storage.fs.set_session())

    def unreachable(**_):  # the store going away mid-upload, which moto cannot do on demand
        raise EndpointConnectionError(endpoint_url=s3_url)

    client.meta.events.register("before-send.s3.UploadPart", unreachable, unique_id="cut")
    with pytest.raises(BackendUnavailable, match="send it again"):
        await uploads.put_part(ALICE, up["id"], 1, chunked(data), crc)
    assert (await uploads.status(ALICE, up["id"]))["received"] == []
    client.meta.events.unregister("before-send.s3.UploadPart", unique_id="cut")
    await uploads.put_part(ALICE, up["id"], 1, chunked(data), crc)
    await uploads.complete(ALICE, up["id"])
    assert await read_all(ws, ALICE, "user:alice", "flaky.bin") == data


def crc_of(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.fixture(params=["local", "CRC32", "CRC32-stream", "none"])
def checked(request, tmp_path) -> TzUploads:
    """Upload sessions on the local folder and on moto in each ``part_checksum`` mode."""
    if request.param == "local":
        return TzUploads(workspace=TzWorkspace(storage=TzStorage(url=str(tmp_path / "st"))))
    storage = TzStorage(
        url=f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
        storage_options={"client_kwargs": {"endpoint_url": request.getfixturevalue("s3_url")},
                         "skip_instance_cache": True},
    )  # fmt: skip
    return TzUploads(workspace=TzWorkspace(storage=storage), part_checksum=request.param)


async def sent_headers(uploads: TzUploads) -> dict[int, dict[str, str]]:
    """The headers of each UploadPart request, by part number, filled in as parts go out."""
    sent: dict[int, dict[str, str]] = {}
    if uploads.workspace.is_local:
        return sent

    def record(request, **_) -> None:
        number = int(request.url.partition("partNumber=")[2].partition("&")[0])
        sent[number] = {k.lower(): v if isinstance(v, str) else v.decode()
                        for k, v in request.headers.items()}  # fmt: skip

    client = await uploads.workspace._s3(uploads.storage.fs.set_session())
    client.meta.events.register("before-send.s3.UploadPart", record)
    return sent


async def chunked(b: bytes, size: int = 300_000):
    for i in range(0, len(b), size):
        yield b[i : i + size]


async def test_a_part_sent_with_its_crc32_streams_on_with_it(checked) -> None:
    """With the client's CRC32 known before the first byte, the part goes straight on to S3 with
    that CRC32 in the signed header: no aws-chunked framing, no payload hash, no temporary
    file. ``none`` checks it in the service and sends the part as before."""
    data = os.urandom(5 * MiB + 777)
    parts = {1: data[: 5 * MiB], 2: data[5 * MiB :]}
    up = await checked.create(ALICE, "user:alice", "crc.bin", len(data), part_size=5 * MiB)
    sent = await sent_headers(checked)
    for n, part in parts.items():
        got = await checked.put_part(ALICE, up["id"], n, chunked(part), crc_of(part))
        assert got["size"] == len(part)
    await checked.complete(ALICE, up["id"])
    assert await read_all(checked.workspace, ALICE, "user:alice", "crc.bin") == data
    for n, part in parts.items():
        headers = sent.get(n, {})
        if checked.workspace.is_local:
            continue
        if checked.part_checksum == "none":
            assert "x-amz-checksum-crc32" not in headers
            assert headers["x-amz-content-sha256"] == hashlib.sha256(part).hexdigest()
        else:
            assert headers["x-amz-checksum-crc32"] == crc_of(part)
            assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
            assert "content-encoding" not in headers and "x-amz-trailer" not in headers


@pytest.mark.parametrize("where", [0, 5 * MiB - 1])
async def test_a_part_whose_bytes_do_not_match_its_crc32_is_not_kept(checked, where) -> None:
    """A bit flipped on the way (first or last byte) is refused naming the header, whatever the
    backend and mode; nothing is kept, and the part can be sent again."""
    data = os.urandom(5 * MiB)
    changed = bytearray(data)
    changed[where] ^= 1
    up = await checked.create(ALICE, "user:alice", "flip.bin", len(data), part_size=5 * MiB)
    with pytest.raises(InvalidRequest, match="X-TZ-Checksum-CRC32: part 1 arrived with other"):
        await checked.put_part(ALICE, up["id"], 1, chunked(bytes(changed)), crc_of(data))
    assert (await checked.status(ALICE, up["id"]))["received"] == []
    await checked.put_part(ALICE, up["id"], 1, chunked(data), crc_of(data))
    await checked.complete(ALICE, up["id"])
    assert await read_all(checked.workspace, ALICE, "user:alice", "flip.bin") == data


@pytest.mark.parametrize("crc", ["", "AAAA", "AAAAAAAA", "AAAAAA=", "<script>", "AAAAAA==x"])
async def test_a_malformed_crc32_is_refused_naming_the_header(uploads, crc) -> None:
    up = await uploads.create(ALICE, "user:alice", "m.bin", 5, part_size=5 * MiB)
    with pytest.raises(InvalidRequest) as e:
        await uploads.put_part(ALICE, up["id"], 1, b"hello", crc)
    assert e.value.errors == {"X-TZ-Checksum-CRC32": e.value.errors["X-TZ-Checksum-CRC32"]}
    assert (await uploads.status(ALICE, up["id"]))["received"] == []
