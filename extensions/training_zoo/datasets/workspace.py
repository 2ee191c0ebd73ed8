"""``TzWorkspace``: the "network disk": per-user and team folders on TZ storage.

Browse (server-side pagination and sorting), mkdir, stat, move, copy, delete, small writes and
streamed reads, on both storage backends with the same behaviour:

- **S3** (``TzStorage.url = "s3://bucket/prefix"``): a folder is a key prefix; ``mkdir`` writes a
  ``<folder>/`` marker object so that empty folders exist. Listing is one ``ListObjectsV2`` call
  per page (``Delimiter="/"``, ``MaxKeys=limit``, S3's continuation token inside the cursor), so
  the first page of a 100,000-object folder costs what one S3 call costs.
- **Local folder** (the embedded default): ``os.scandir`` of the one folder, sorted by name, with
  ``stat`` only for the page returned.

Names sort in S3's order (UTF-8 bytes, a folder sorting as ``name/``) on both backends, so pages
look the same everywhere. Sorting by size or modification time needs the whole folder, so it is
allowed only up to ``max_sort_entries`` entries.

Every path goes through :func:`.paths.workspace_key`: another user's space answers ``NotFound``.
S3 calls run as coroutines on s3fs's own IO loop and are awaited from the caller's loop; local
filesystem calls run in a worker thread: the service's loop never blocks on storage.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import hashlib
import json
import os
import posixpath
import shutil
import stat as stat_mod
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from ..errors import Conflict, InvalidRequest, NotFound
from ..identity import Identity
from ..storage import TzStorage, add_tz_hooks
from .paths import RESERVED_PREFIX, workspace_key

T = TypeVar("T")

SORTS = ("name", "size", "modified")
ORDERS = ("asc", "desc")
MAX_LIMIT = 1000  # S3's MaxKeys ceiling: one page is one ListObjectsV2 call
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
S3_CONCURRENCY = 32


def iso(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        dt = ts.astimezone(UTC)
    else:
        dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _item(rel: str, kind: str, size: int | None, modified: str | None) -> dict:
    return {"name": posixpath.basename(rel), "path": rel, "type": kind, "size": size,
            "modified": modified}  # fmt: skip


def _encode_cursor(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, key: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest.field("cursor", "not a cursor this server issued") from None
    if not isinstance(data, dict) or data.get("k") != _folder_tag(key):
        raise InvalidRequest.field("cursor", "belongs to another folder or listing")
    return data


def _folder_tag(key: str) -> str:
    # Binds a cursor to its folder, so a cursor cannot be replayed against another prefix.
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class WalkedFile(NamedTuple):
    """One file under a folder: its path relative to the folder, its storage key, its size in
    bytes and its modification time (seconds since the epoch)."""

    rel: str
    key: str
    size: int
    modified: float


class TzWorkspace(LoggingConfigurable):
    """Files and folders in the workspace spaces (``user:<name>``, ``team:<group>``)."""

    storage = Instance(TzStorage)

    max_sort_entries = Integer(
        10_000,
        help="""Largest folder that may be listed sorted by size or modification time (those sorts
        read the whole folder). Sorting by name (the storage's own order) has no limit.
        """,
    ).tag(config=True)

    max_zip_files = Integer(
        100_000,
        help="""Most files a folder may hold to be downloaded as one ZIP (the folder is listed
        whole before the first byte goes out). Bigger folders are downloaded by subfolder, or
        with ``tz ws download``. Default: 100000.
        """,
    ).tag(config=True)

    # ------------------------------------------------------------------ backend plumbing

    @property
    def is_local(self) -> bool:
        return self.storage.local_path("x") is not None

    def _local(self, key: str) -> Path:
        path = self.storage.local_path(key)
        assert path is not None
        return path

    def _bucket_key(self, key: str) -> tuple[str, str]:
        bucket, _, skey = self.storage.path(key).partition("/")
        return bucket, skey

    async def _s3(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run an s3fs coroutine on s3fs's IO loop, awaited from ours."""
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(coro, self.storage.fs.loop)
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await self._s3(self._call_on_io_loop(method, kwargs))

    async def _call_on_io_loop(self, method: str, kwargs: dict[str, Any]) -> Any:
        fs = self.storage.fs
        add_tz_hooks(await fs.set_session())  # s3fs may have made a new client since
        return await fs._call_s3(method, **kwargs)

    async def _gather(self, aws: list[Awaitable[T]]) -> list[T]:
        sem = asyncio.Semaphore(S3_CONCURRENCY)

        async def one(aw: Awaitable[T]) -> T:
            async with sem:
                return await aw

        return await asyncio.gather(*(one(aw) for aw in aws))

    async def _s3_list_all(self, prefix_key: str) -> list[dict]:
        """Every object under ``prefix_key`` (recursive), as ListObjectsV2 ``Contents`` entries."""
        bucket, skey = self._bucket_key(prefix_key)
        out: list[dict] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": skey}
        while True:
            resp = await self._call("list_objects_v2", **kwargs)
            out.extend(resp.get("Contents", []))
            if not resp.get("IsTruncated"):
                return out
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    async def _s3_head(self, key: str) -> dict | None:
        bucket, skey = self._bucket_key(key)
        try:
            return await self._call("head_object", Bucket=bucket, Key=skey)
        except FileNotFoundError:
            return None

    async def _s3_is_folder(self, key: str) -> bool:
        bucket, skey = self._bucket_key(key)
        resp = await self._call("list_objects_v2", Bucket=bucket, Prefix=skey + "/", MaxKeys=1)
        return bool(resp.get("KeyCount") or resp.get("Contents"))

    async def _s3_marker(self, key: str) -> None:
        bucket, skey = self._bucket_key(key)
        await self._call("put_object", Bucket=bucket, Key=skey + "/", Body=b"")

    async def _s3_delete_keys(self, bucket: str, keys: list[str]) -> None:
        batches = [keys[i : i + S3_DELETE_BATCH] for i in range(0, len(keys), S3_DELETE_BATCH)]
        await self._gather([
            self._call("delete_objects", Bucket=bucket,
                       Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            for batch in batches
        ])  # fmt: skip

    async def _kind(self, key: str) -> str | None:
        """``"file"``, ``"folder"`` or ``None`` (absent) for a storage key."""
        if self.is_local:
            path = self._local(key)
            try:
                st = await asyncio.to_thread(os.stat, path)
            except (FileNotFoundError, NotADirectoryError):
                return None
            return "folder" if stat_mod.S_ISDIR(st.st_mode) else "file"
        if await self._s3_head(key) is not None:
            return "file"
        return "folder" if await self._s3_is_folder(key) else None

    @staticmethod
    def _is_root(key: str, root: str) -> bool:
        return key == root

    # ------------------------------------------------------------------ listing

    async def list(
        self,
        user: Identity,
        space: str,
        path: str = "",
        cursor: str | None = None,
        limit: int = MAX_LIMIT,
        sort: str = "name",
        order: str = "asc",
    ) -> dict:
        """One page of a folder: ``{"items": [...], "next": cursor or None}``.

        Items are ``{"name", "path", "type": "file"|"folder", "size", "modified"}`` (``size`` and
        ``modified`` are ``None`` for S3 folders, which are only prefixes). Pass ``next`` back as
        ``cursor`` for the following page, with the same ``sort`` and ``order``.

        Raises
        ------
        InvalidRequest
            For a bad ``limit``, ``sort``, ``order`` or ``cursor``, a sort over a folder larger
            than ``max_sort_entries``, or a ``path`` that is a file.
        NotFound
            For a folder that does not exist, or a space the caller may not reach.
        """
        key = workspace_key(user, space, path)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest.field("limit", f"must be an integer from 1 to {MAX_LIMIT}")
        if sort not in SORTS:
            raise InvalidRequest.field("sort", f"must be one of {', '.join(SORTS)}")
        if order not in ORDERS:
            raise InvalidRequest.field("order", "must be asc or desc")
        state = _decode_cursor(cursor, key) if cursor else None
        root_rel = path
        if sort == "name" and order == "asc":
            if state is not None and "o" in state:
                raise InvalidRequest.field("cursor", "belongs to a differently sorted listing")
            if self.is_local:
                page = await asyncio.to_thread(self._local_page, key, root_rel, state, limit)
            else:
                page = await self._s3_page(key, root_rel, state, limit)
        else:
            page = await self._sorted_page(key, root_rel, state, limit, sort, order)
        if not page["items"] and state is None and path:
            await self._require_folder(key)
        return page

    async def _require_folder(self, key: str) -> None:
        kind = await self._kind(key)
        if kind is None:
            raise NotFound("folder not found", reason="PathNotFound")
        if kind == "file":
            raise InvalidRequest.field("path", "is a file, not a folder")

    def _local_entries(self, key: str) -> list[tuple[str, os.DirEntry]]:
        """(sort key, entry) for every visible entry of a local folder, in S3's order."""
        folder = self._local(key)
        try:
            with os.scandir(folder) as it:
                entries = [e for e in it if not e.name.startswith(RESERVED_PREFIX)]
        except FileNotFoundError:
            if key.count("/") <= 2:  # a space root that nothing has been written to yet
                return []
            raise NotFound("folder not found", reason="PathNotFound") from None
        except NotADirectoryError:
            raise InvalidRequest.field("path", "is a file, not a folder") from None
        keyed = [(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in entries]
        keyed.sort(key=lambda pair: pair[0])
        return keyed

    def _local_item(self, rel_folder: str, entry: os.DirEntry) -> dict:
        rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
        st = entry.stat(follow_symlinks=False)
        if stat_mod.S_ISDIR(st.st_mode):
            return _item(rel, "folder", None, iso(st.st_mtime))
        return _item(rel, "file", st.st_size, iso(st.st_mtime))

    def _local_page(self, key: str, rel_folder: str, state: dict | None, limit: int) -> dict:
        keyed = self._local_entries(key)
        start = 0
        if state is not None:
            after = state.get("a")
            if not isinstance(after, str):
                raise InvalidRequest.field("cursor", "not a cursor this server issued")
            start = bisect.bisect_right([k for k, _ in keyed], after)
        chosen = keyed[start : start + limit]
        items = [self._local_item(rel_folder, e) for _, e in chosen]
        more = start + limit < len(keyed)
        nxt = _encode_cursor({"k": _folder_tag(key), "a": chosen[-1][0]}) if more else None
        return {"items": items, "next": nxt}

    async def _s3_page(self, key: str, rel_folder: str, state: dict | None, limit: int) -> dict:
        bucket, skey = self._bucket_key(key)
        prefix = skey + "/"
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/",
                                  "MaxKeys": limit}  # fmt: skip
        if state is not None:
            token = state.get("t")
            if not isinstance(token, str):
                raise InvalidRequest.field("cursor", "not a cursor this server issued")
            kwargs["ContinuationToken"] = token
        else:
            # Skips the folder's own marker object (the key equal to the prefix), so a page
            # holds exactly ``limit`` entries when there are that many.
            kwargs["StartAfter"] = prefix
        resp = await self._call("list_objects_v2", **kwargs)
        entries: list[tuple[str, dict]] = []
        for obj in resp.get("Contents", []):
            name = obj["Key"][len(prefix) :]
            if not name or name.startswith(RESERVED_PREFIX):  # the folder's own marker
                continue
            rel = f"{rel_folder}/{name}" if rel_folder else name
            entries.append((name, _item(rel, "file", obj["Size"], iso(obj["LastModified"]))))
        for cp in resp.get("CommonPrefixes", []):
            name = cp["Prefix"][len(prefix) :].rstrip("/")
            rel = f"{rel_folder}/{name}" if rel_folder else name
            entries.append((name + "/", _item(rel, "folder", None, None)))
        entries.sort(key=lambda pair: pair[0].encode())
        nxt = None
        if resp.get("IsTruncated"):
            nxt = _encode_cursor({"k": _folder_tag(key), "t": resp["NextContinuationToken"]})
        return {"items": [it for _, it in entries], "next": nxt}

    async def _sorted_page(self, key: str, rel_folder: str, state: dict | None, limit: int,
                           sort: str, order: str) -> dict:  # fmt: skip
        offset = 0
        if state is not None:
            offset = state.get("o")
            if state.get("s") != sort or state.get("d") != order or not isinstance(offset, int):
                raise InvalidRequest.field("cursor", "belongs to a differently sorted listing")
        items: list[dict] = []
        page_state: dict | None = None
        while True:
            if self.is_local:
                page = await asyncio.to_thread(self._local_page, key, rel_folder, page_state,
                                               MAX_LIMIT)  # fmt: skip
            else:
                page = await self._s3_page(key, rel_folder, page_state, MAX_LIMIT)
            items.extend(page["items"])
            if len(items) > self.max_sort_entries:
                raise InvalidRequest.field(
                    "sort", f"this folder has more than {self.max_sort_entries} entries: "
                    "only sorting by name is available")  # fmt: skip
            if not page["next"]:
                break
            page_state = _decode_cursor(page["next"], key)

        def sort_key(it: dict) -> tuple:
            value = it["size"] if sort == "size" else it["modified"] if sort == "modified" else 0
            name = it["name"] + ("/" if it["type"] == "folder" else "")
            return (value if value is not None else (0 if sort == "size" else ""), name.encode())

        items.sort(key=sort_key, reverse=order == "desc")
        chosen = items[offset : offset + limit]
        nxt = None
        if offset + limit < len(items):
            nxt = _encode_cursor({"k": _folder_tag(key), "o": offset + limit, "s": sort,
                                  "d": order})  # fmt: skip
        return {"items": chosen, "next": nxt}

    # ------------------------------------------------------------------ single objects

    async def stat(self, user: Identity, space: str, path: str = "") -> dict:
        """``{"name", "path", "type", "size", "modified"}`` of one file or folder.

        Raises
        ------
        NotFound
            When nothing is at ``path``.
        """
        key = workspace_key(user, space, path)
        if self.is_local:
            local = self._local(key)
            try:
                st = await asyncio.to_thread(os.stat, local)
            except (FileNotFoundError, NotADirectoryError):
                if not path:
                    return _item("", "folder", None, None)
                raise NotFound("path not found", reason="PathNotFound") from None
            if stat_mod.S_ISDIR(st.st_mode):
                return _item(path, "folder", None, iso(st.st_mtime))
            return _item(path, "file", st.st_size, iso(st.st_mtime))
        if not path:
            return _item("", "folder", None, None)
        head = await self._s3_head(key)
        if head is not None:
            return _item(path, "file", head["ContentLength"], iso(head["LastModified"]))
        if await self._s3_is_folder(key):
            return _item(path, "folder", None, None)
        raise NotFound("path not found", reason="PathNotFound")

    async def mkdir(self, user: Identity, space: str, path: str, exist_ok: bool = False) -> dict:
        """Create a folder (and its parents).

        Raises
        ------
        Conflict
            When a file is at ``path`` or at one of its parents, or the folder exists and
            ``exist_ok`` is false.
        """
        key = workspace_key(user, space, path)
        if not path:
            raise InvalidRequest.field("path", "the space root always exists")
        await self._check_parents_are_folders(user, space, path)
        kind = await self._kind(key)
        if kind == "file" or (kind == "folder" and not exist_ok):
            raise Conflict(f"{path} already exists", reason="PathExists")
        if self.is_local:
            await asyncio.to_thread(self._local(key).mkdir, parents=True, exist_ok=True)
        elif kind is None:
            await self._s3_marker(key)
        return await self.stat(user, space, path)

    async def _check_parents_are_folders(self, user: Identity, space: str, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if await self._kind(workspace_key(user, space, parent)) == "file":
                raise Conflict(f"{parent} is a file", reason="PathExists")

    async def write_bytes(self, user: Identity, space: str, path: str, data: bytes,
                          overwrite: bool = True) -> dict:  # fmt: skip
        """Write a small file in one request (readers never see it half-written).

        Big files go through :class:`~training_zoo.datasets.uploads.TzUploads` instead.
        """
        key = workspace_key(user, space, path)
        if not path:
            raise InvalidRequest.field("path", "names the space root, not a file")
        kind = await self._kind(key)
        if kind == "folder" or (kind == "file" and not overwrite):
            raise Conflict(f"{path} already exists", reason="PathExists")
        if self.is_local:
            await asyncio.to_thread(self._local_write, key, data)
        else:
            bucket, skey = self._bucket_key(key)
            await self._call("put_object", Bucket=bucket, Key=skey, Body=data)
        return await self.stat(user, space, path)

    def _local_write(self, key: str, data: bytes) -> None:
        target = self._local(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise Conflict("a parent of the path is a file", reason="PathExists") from None
        tmp = target.with_name(f"{RESERVED_PREFIX}write-{uuid.uuid4().hex}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    async def open_read(self, user: Identity, space: str, path: str,
                        chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:  # fmt: skip
        """An async iterator over the bytes of a file, ``chunk_size`` at a time.

        Awaiting this checks the file (so a handler can answer 404 before any byte is sent);
        iterating streams it without holding the file in memory.

        Raises
        ------
        NotFound
            When no file is at ``path``.
        InvalidRequest
            When ``path`` is a folder.
        """
        key = workspace_key(user, space, path)
        kind = await self._kind(key) if path else "folder"
        if kind is None:
            raise NotFound("file not found", reason="PathNotFound")
        if kind == "folder":
            raise InvalidRequest.field("path", "is a folder, not a file")
        chunks = await self.read_key(key, chunk_size)
        if chunks is None:
            raise NotFound("file not found", reason="PathNotFound")
        return chunks

    async def read_key(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes] | None:
        """The bytes of the object at ``key`` (a key the caller has confined), streamed; None
        when there is no such object. Awaiting it opens the object, iterating reads it."""
        if self.is_local:
            path = self._local(key)
            if not await asyncio.to_thread(path.is_file):
                return None
            return self._local_chunks(path, chunk_size)
        bucket, skey = self._bucket_key(key)
        try:
            resp = await self._call("get_object", Bucket=bucket, Key=skey)
        except FileNotFoundError:
            return None
        return self._s3_chunks(resp["Body"], chunk_size)

    async def source(
        self, user: Identity, space: str, path: str
    ) -> tuple[dict, str, Callable[[], IO[bytes]]]:
        """A file's item, its storage key and a blocking opener (for previews and thumbnails).

        Raises
        ------
        NotFound
            When no file is at ``path``.
        InvalidRequest
            When ``path`` is a folder.
        """
        key = workspace_key(user, space, path)
        item = await self.stat(user, space, path)
        if item["type"] != "file":
            raise InvalidRequest.field("path", "is a folder, not a file")
        fs, full = self.storage.fs, self.storage.path(key)
        return item, key, lambda: fs.open(full, "rb")

    async def _local_chunks(self, path: Path, chunk_size: int) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, chunk_size):
                yield chunk
        finally:
            f.close()

    async def _s3_chunks(self, body: Any, chunk_size: int) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._s3(body.read(chunk_size)):
                yield chunk
        finally:
            body.close()

    async def open_zip(
        self, user: Identity, space: str, path: str
    ) -> tuple[str, AsyncIterator[bytes]]:
        """A folder as one ZIP file: its file name and its bytes, streamed (see
        :mod:`.zipdownload`). Awaiting this lists the folder, so a handler can answer 4xx
        before any byte is sent.

        Raises
        ------
        NotFound
            When nothing is at ``path``.
        InvalidRequest
            When ``path`` is a file, or the folder holds more than ``max_zip_files`` files.
        """
        from .zipdownload import zip_stream

        key = workspace_key(user, space, path)
        kind = await self._kind(key) if path else "folder"
        if kind is None:
            raise NotFound("folder not found", reason="PathNotFound")
        if kind != "folder":
            raise InvalidRequest.field("path", "is a file, not a folder")
        files = await self.walk(key)
        if len(files) > self.max_zip_files:
            raise InvalidRequest.field(
                "path", f"holds {len(files)} files, more than {self.max_zip_files} in one ZIP: "
                "download its subfolders, or use `tz ws download`")  # fmt: skip
        name = posixpath.basename(path.rstrip("/")) or space.replace(":", "-")
        return f"{name}.zip", zip_stream(name, files, lambda f: self.read_key(f.key))

    async def walk(self, key: str) -> list[WalkedFile]:
        """Every file under a folder key (one the caller has confined), sorted by path; TZ's
        temporary files, folder markers and (on a local disk) links are left out."""
        if self.is_local:
            root = self._local(key)

            def walk() -> list[WalkedFile]:
                out = []
                for dirpath, dirnames, filenames in os.walk(root):
                    dirnames[:] = sorted(d for d in dirnames if not d.startswith(RESERVED_PREFIX))
                    for name in sorted(filenames):
                        full = os.path.join(dirpath, name)
                        if name.startswith(RESERVED_PREFIX) or os.path.islink(full):
                            continue  # TZ's temporary files; links could lead out of the space
                        st = os.stat(full)
                        rel = os.path.relpath(full, root).replace(os.sep, "/")
                        out.append(WalkedFile(rel, f"{key}/{rel}", st.st_size, st.st_mtime))
                return out

            return await asyncio.to_thread(walk)
        _, skey = self._bucket_key(key)
        out = []
        for obj in await self._s3_list_all(key + "/"):
            rel = obj["Key"][len(skey) + 1 :]
            if not rel or rel.endswith("/"):  # folder markers
                continue
            if any(part.startswith(RESERVED_PREFIX) for part in rel.split("/")):
                continue
            modified = obj.get("LastModified")
            stamp = modified.timestamp() if isinstance(modified, datetime) else time.time()
            out.append(WalkedFile(rel, f"{key}/{rel}", int(obj["Size"]), stamp))
        return sorted(out, key=lambda f: f.rel)

    # ------------------------------------------------------------------ move, copy, delete

    async def delete(self, user: Identity, space: str, path: str) -> None:
        """Delete a file, or a folder with everything in it.

        Raises
        ------
        NotFound
            When nothing is at ``path``.
        """
        key = workspace_key(user, space, path)
        if not path:
            raise InvalidRequest.field("path", "the space root cannot be deleted")
        kind = await self._kind(key)
        if kind is None:
            raise NotFound("path not found", reason="PathNotFound")
        await self._delete_key(key, kind)
        await self._keep_parent(user, space, path)

    async def _delete_key(self, key: str, kind: str) -> None:
        if self.is_local:
            local = self._local(key)
            if kind == "folder":
                await asyncio.to_thread(shutil.rmtree, local)
            else:
                await asyncio.to_thread(local.unlink, True)
            return
        bucket, skey = self._bucket_key(key)
        if kind == "file":
            await self._call("delete_object", Bucket=bucket, Key=skey)
            return
        keys = [o["Key"] for o in await self._s3_list_all(key + "/")]
        await self._s3_delete_keys(bucket, keys)

    async def _keep_parent(self, user: Identity, space: str, path: str) -> None:
        # On S3 a folder with no marker vanishes with its last object; the local backend keeps
        # it. Re-marking the parent keeps both backends alike.
        parent = posixpath.dirname(path)
        if parent and not self.is_local:
            await self._s3_marker(workspace_key(user, space, parent))

    async def move(self, user: Identity, space: str, path: str, target: str,
                   overwrite: bool = False, target_space: str | None = None) -> dict:  # fmt: skip
        """Move (rename) a file or folder to ``target`` (in ``target_space``, default the same).

        Raises
        ------
        InvalidRequest
            When moving a folder into itself, or the space root.
        Conflict
            When ``target`` exists and ``overwrite`` is false.
        NotFound
            When nothing is at ``path``.
        """
        return await self._transfer(user, space, path, target, overwrite, target_space, True)

    async def copy(self, user: Identity, space: str, path: str, target: str,
                   overwrite: bool = False, target_space: str | None = None) -> dict:  # fmt: skip
        """Copy a file or folder to ``target``; same rules as :meth:`move`."""
        return await self._transfer(user, space, path, target, overwrite, target_space, False)

    async def _transfer(
        self,
        user: Identity,
        space: str,
        path: str,
        target: str,
        overwrite: bool,
        target_space: str | None,
        remove: bool,
    ) -> dict:
        tspace = target_space if target_space is not None else space
        src = workspace_key(user, space, path)
        dst = workspace_key(user, tspace, target, field="target")
        if not path:
            raise InvalidRequest.field("path", "the space root cannot be moved or copied")
        if not target:
            raise InvalidRequest.field("target", "names the space root")
        if dst == src or dst.startswith(src + "/"):
            raise InvalidRequest.field("target", "a folder cannot be moved or copied into itself")
        kind = await self._kind(src)
        if kind is None:
            raise NotFound("path not found", reason="PathNotFound")
        await self._check_parents_are_folders(user, tspace, target)
        existing = await self._kind(dst)
        if existing is not None:
            if not overwrite:
                raise Conflict(f"{target} already exists", reason="PathExists")
            if src.startswith(dst + "/"):
                raise InvalidRequest.field("target", "would replace a folder holding the source")
            await self._delete_key(dst, existing)
        if self.is_local:
            await asyncio.to_thread(self._local_transfer, src, dst, kind, remove)
        else:
            await self._s3_transfer(src, dst, kind, remove)
        if remove:
            await self._keep_parent(user, space, path)
        return await self.stat(user, tspace, target)

    def _local_transfer(self, src: str, dst: str, kind: str, remove: bool) -> None:
        s, d = self._local(src), self._local(dst)
        d.parent.mkdir(parents=True, exist_ok=True)
        if remove:
            os.replace(s, d)  # same filesystem: atomic for a file and for a folder
        elif kind == "folder":
            shutil.copytree(s, d, ignore=shutil.ignore_patterns(f"{RESERVED_PREFIX}*"))
        else:
            tmp = d.with_name(f"{RESERVED_PREFIX}copy-{uuid.uuid4().hex}")
            try:
                shutil.copyfile(s, tmp)
                os.replace(tmp, d)
            finally:
                tmp.unlink(missing_ok=True)

    async def _s3_transfer(self, src: str, dst: str, kind: str, remove: bool) -> None:
        # S3 has no rename: copy every object (server side, s3fs switches to a multipart copy
        # over 5 GB), then delete the sources. Not atomic for folders; a failure part way leaves
        # both copies, never a loss.
        fs = self.storage.fs
        bucket, sk = self._bucket_key(src)
        _, dk = self._bucket_key(dst)
        if kind == "file":
            pairs = [(sk, dk)]
        else:
            pairs = [
                (o["Key"], dk + o["Key"][len(sk) :]) for o in await self._s3_list_all(src + "/")
            ]

        async def one(s: str, d: str) -> None:
            if s.endswith("/"):  # a folder marker: s3fs paths drop trailing slashes
                await self._call("put_object", Bucket=bucket, Key=d, Body=b"")
            else:
                await self._s3(fs._cp_file(f"{bucket}/{s}", f"{bucket}/{d}"))

        await self._gather([one(s, d) for s, d in pairs])
        if remove:
            await self._s3_delete_keys(bucket, [s for s, _ in pairs])
        fs.invalidate_cache()
