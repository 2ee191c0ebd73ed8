"""Big-file transfers of the SDK: resumable multipart uploads and verified streamed downloads.

Exports
-------
TransferProgress
    What a ``progress`` callback receives.
upload_path(client, local, space, path, ...) -> dict or list of dict
    Upload a file (in parts, several at a time, resuming an open session) or a folder.
download_path(client, space, path, dest, ...) -> Path
    Download a workspace file or folder.
download_to(client, url_path, params, dest, ...) -> Path
    Stream one GET response into a file, atomically (also used for dataset files).
md5_of_range(path, offset, length) -> str

Why a module of its own: :mod:`training_zoo.client` stays a thin map of REST calls; the logic of
moving gigabytes (parts, threads, retries, resume, atomic files) lives here once and is used by the
SDK, the ``tz ws`` commands and the dataset facade.

How an upload resumes: the service keeps every upload session until it completes, is aborted or
expires, and reports the parts it holds with their MD5 (the S3 part ETag; the local backend
computes the same). A new upload of the same local file to the same ``space``/``path`` with the
same size finds that session with ``GET /uploads``, checks each received part against the local
bytes, and sends only the parts that are missing or differ. Interrupting a transfer (Ctrl-C, a
killed process, a dropped connection) therefore loses at most the parts in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .checksums import CRC32_HEADER, crc32_text

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "TransferProgress",
    "download_path",
    "download_to",
    "md5_of_range",
    "upload_path",
]

CHUNK = 1 << 20
#: Attempts per part (and per download) when the connection fails or the service answers 5xx.
ATTEMPTS = 4
_BACKOFF = 0.5
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
# Left in a folder ``tz ws download`` created until the download completes (see download_path).
DOWNLOAD_MARKER = ".tz-download-in-progress.json"


@dataclass(frozen=True)
class TransferProgress:
    """The state of an upload or download, passed to ``progress`` callbacks.

    Attributes
    ----------
    path : str
        The workspace path (uploads) or local file (downloads) being transferred now.
    done : int
        Bytes transferred so far, all files together, including ``resumed``.
    total : int
        Bytes of the whole transfer.
    files_done, files_total : int
        Files finished (or skipped) and files in all.
    resumed : int
        Bytes that an earlier, interrupted upload had already sent and that were not sent again.
    parts_resumed : int
        Parts of those.
    skipped : int
        Files left out because they were already at the target with the same size.
    """

    path: str = ""
    done: int = 0
    total: int = 0
    files_done: int = 0
    files_total: int = 1
    resumed: int = 0
    parts_resumed: int = 0
    skipped: int = 0


ProgressFn = Callable[[TransferProgress], None]


class _Tracker:
    """Thread-safe progress accounting; calls the user's callback under a lock, in order."""

    def __init__(self, callback: ProgressFn | None, total: int, files: int) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self.state = TransferProgress(total=total, files_total=files)

    def update(self, **changes: Any) -> None:
        with self._lock:
            for key in ("done", "files_done", "resumed", "parts_resumed", "skipped"):
                if key in changes:
                    changes[key] += getattr(self.state, key)
            self.state = replace(self.state, **changes)
            if self._callback is not None:
                self._callback(self.state)


def _read_range(path: str | os.PathLike[str], offset: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def md5_of_range(path: str | os.PathLike[str], offset: int, length: int) -> str:
    """MD5 hex digest of ``length`` bytes of a file from ``offset`` (an S3 part's ETag)."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in _read_range(path, offset, length):
        digest.update(chunk)
    return digest.hexdigest()


def _holds_range(
    part: Mapping[str, Any], path: str | os.PathLike[str], offset: int, length: int
) -> bool:
    """Whether a part the service holds has exactly these bytes of the file."""
    if part.get("crc32"):
        return crc32_of_range(path, offset, length) == part["crc32"]
    etag = str(part.get("etag") or "")
    return bool(_MD5_HEX.match(etag)) and md5_of_range(path, offset, length) == etag


def crc32_of_range(path: str | os.PathLike[str], offset: int, length: int) -> str:
    """CRC32 of ``length`` bytes of a file from ``offset``, as S3 writes it (base64 of the 4
    big-endian bytes): what ``X-TZ-Checksum-CRC32`` carries with a part."""
    crc = 0
    for chunk in _read_range(path, offset, length):
        crc = zlib.crc32(chunk, crc)
    return crc32_text(crc)


def _retryable(exc: Exception) -> bool:
    from .client import TzClientError

    if not isinstance(exc, TzClientError):
        return False
    if exc.status == 400 and CRC32_HEADER in str(exc):
        return True  # the part's bytes changed on the way: nothing was kept, send it again
    return exc.status is None or exc.status >= 500 or exc.status == 429


# -- uploads -----------------------------------------------------------------------------------


@dataclass
class _Plan:
    local: Path
    path: str
    size: int


class _Uploader:
    """One upload call: its client, options, thread pool and progress."""

    def __init__(
        self,
        client: Client,
        space: str,
        *,
        parallel: int,
        resume: bool,
        overwrite: bool,
        part_size: int | None,
        tracker: _Tracker,
    ) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be >= 1, got {parallel}")
        self.client = client
        self.space = space
        self.parallel = parallel
        self.resume = resume
        self.overwrite = overwrite
        self.part_size = part_size
        self.tracker = tracker
        self.stop = threading.Event()
        self._sessions: list[dict[str, Any]] | None = None

    # -- sessions ----------------------------------------------------------------------------

    def open_sessions(self) -> list[dict[str, Any]]:
        if self._sessions is None:
            self._sessions = self.client.list_uploads() if self.resume else []
        return self._sessions

    def session_for(self, plan: _Plan) -> tuple[dict[str, Any], bool]:
        """An open session of this file to resume (with its received parts), or a new one."""
        candidates = [
            s
            for s in self.open_sessions()
            if s.get("space") == self.space
            and s.get("path") == plan.path
            and s.get("size") == plan.size
            and (self.part_size is None or s.get("part_size") == self.part_size)
        ]
        for session in sorted(candidates, key=lambda s: str(s.get("created")), reverse=True):
            from .client import TzClientError

            try:
                return self.client.upload_status(session["id"]), True
            except TzClientError as exc:
                if exc.status != 404:  # expired or completed meanwhile: look further
                    raise
        created = self.client.create_upload(
            self.space, plan.path, plan.size, part_size=self.part_size, overwrite=self.overwrite
        )
        return created, False

    # -- one file ----------------------------------------------------------------------------

    def upload_file(self, plan: _Plan) -> dict[str, Any]:
        session, _ = self.session_for(plan)
        upload_id = session["id"]
        part_size = int(session["part_size"])
        parts = int(session["parts"])

        def length(number: int) -> int:
            return part_size if number < parts else plan.size - (parts - 1) * part_size

        todo: list[int] = []
        received = {int(p["number"]): p for p in session.get("received") or []}
        kept_bytes = kept_parts = 0
        for number in range(1, parts + 1):
            part = received.get(number)
            # A received part counts only if it holds exactly these bytes: the local file may
            # have changed since the interrupted upload. The stored CRC32 proves it where the
            # store keeps one, else an ETag that is an MD5; a part with neither (S3 with KMS
            # encryption and no checksums) cannot be checked, so it is sent again.
            if (
                part is not None
                and int(part.get("size", -1)) == length(number)
                and _holds_range(part, plan.local, (number - 1) * part_size, length(number))
            ):
                kept_bytes += length(number)
                kept_parts += 1
            else:
                todo.append(number)
        self.tracker.update(path=plan.path, done=kept_bytes, resumed=kept_bytes,
                            parts_resumed=kept_parts)  # fmt: skip
        # When every part arrived before the interruption, only completing is left.
        self._send_parts(plan, upload_id, part_size, todo, length)
        item = self.client.complete_upload(upload_id)
        self.tracker.update(path=plan.path, files_done=1)
        return item

    def _send_parts(
        self,
        plan: _Plan,
        upload_id: str,
        part_size: int,
        numbers: list[int],
        length: Callable[[int], int],
    ) -> None:
        if not numbers:
            return
        if self.parallel == 1 or len(numbers) == 1:
            for number in numbers:
                self._send_part(plan, upload_id, number, (number - 1) * part_size, length(number))
            return
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="tz-upload")
        futures: list[Future[None]] = [
            pool.submit(self._send_part, plan, upload_id, n, (n - 1) * part_size, length(n))
            for n in numbers
        ]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # the first failure, if any
        except BaseException:
            # Ctrl-C or a failed part: parts in flight stop at their next chunk, queued parts
            # never start, and the session stays open on the service for a later resume.
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _part_body(
        self, plan: _Plan, offset: int, length: int, digest: Any, sent: list[int]
    ) -> Iterator[bytes]:
        with open(plan.local, "rb") as f:
            f.seek(offset)
            remaining = length
            while remaining > 0:
                if self.stop.is_set():
                    raise InterruptedError("upload stopped")
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    raise OSError(f"{plan.local} shrank while it was being uploaded")
                digest.update(chunk)
                remaining -= len(chunk)
                sent[0] += len(chunk)
                self.tracker.update(path=plan.path, done=len(chunk))
                yield chunk

    def _send_part(
        self, plan: _Plan, upload_id: str, number: int, offset: int, length: int
    ) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            digest = hashlib.md5(usedforsecurity=False)
            sent = [0]
            # Read twice (once here from the page cache): the CRC32 must go before the bytes.
            crc32 = crc32_of_range(plan.local, offset, length)
            body = self._part_body(plan, offset, length, digest, sent)
            try:
                result = self.client.put_upload_part(upload_id, number, body, length, crc32)
            except Exception as exc:
                # Progress counted the bytes of the failed attempt: take them back.
                self.tracker.update(done=-sent[0])
                if self.stop.is_set() or attempt == ATTEMPTS or not _retryable(exc):
                    raise
                time.sleep(_BACKOFF * 2 ** (attempt - 1))
                continue
            etag = str(result.get("etag", ""))
            if not _MD5_HEX.match(etag) or etag == digest.hexdigest():
                return
            # The service stored other bytes than we sent (corrupted on the way): send again.
            self.tracker.update(done=-length)
            if attempt == ATTEMPTS:
                from .client import TzClientError

                raise TzClientError(
                    f"part {number} of {plan.path} arrived corrupted {ATTEMPTS} times",
                    reason="ChecksumMismatch",
                )


def _folder_plans(local: Path, path: str) -> tuple[list[str], list[_Plan]]:
    """Folders to create and files to send, in a stable order; links are not followed."""
    folders: list[str] = [path] if path else []
    plans: list[_Plan] = []
    for root, dirs, files in os.walk(local):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        rel = Path(root).relative_to(local).as_posix()
        base = path if rel == "." else posixpath.join(path, rel) if path else rel
        folders.extend(posixpath.join(base, d) if base else d for d in dirs)
        for name in sorted(files):
            full = Path(root) / name
            if full.is_symlink() or not full.is_file():
                continue
            target = posixpath.join(base, name) if base else name
            plans.append(_Plan(full, target, full.stat().st_size))
    return folders, plans


def upload_path(
    client: Client,
    local: str | os.PathLike[str],
    space: str,
    path: str = "",
    *,
    progress: ProgressFn | None = None,
    parallel: int = 4,
    resume: bool = True,
    overwrite: bool = False,
    part_size: int | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Upload a local file or folder into the workspace (see :meth:`Client.ws_upload`)."""
    source = Path(local).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"local: {str(local)!r} does not exist")
    path = path.strip("/")
    options: dict[str, Any] = {"resume": resume, "overwrite": overwrite, "part_size": part_size}
    if source.is_file():
        target = path or source.name
        size = source.stat().st_size
        tracker = _Tracker(progress, size, 1)
        uploader = _Uploader(client, space, parallel=parallel, tracker=tracker, **options)
        return uploader.upload_file(_Plan(source, target, size))
    if not source.is_dir():
        raise ValueError(f"local: {str(local)!r} is neither a file nor a folder")
    folders, plans = _folder_plans(source, path or source.name)
    tracker = _Tracker(progress, sum(p.size for p in plans), len(plans))
    for folder in folders:
        client.ws_mkdir(space, folder, exist_ok=True)
    if resume and not overwrite:
        plans = _skip_present(client, space, plans, tracker)
    small_limit = part_size or 16 << 20
    small = [p for p in plans if p.size <= small_limit]
    large = [p for p in plans if p.size > small_limit]
    items: list[dict[str, Any]] = []
    # Large files go one at a time with their parts in parallel; small files (one part each)
    # go several at a time, each on its own thread: thousands of small files would otherwise
    # wait on three round trips each.
    part_uploader = _Uploader(client, space, parallel=parallel, tracker=tracker, **options)
    for plan in large:
        items.append(part_uploader.upload_file(plan))
    if small:
        file_uploader = _Uploader(client, space, parallel=1, tracker=tracker, **options)
        file_uploader._sessions = part_uploader._sessions
        items.extend(_run_parallel(file_uploader, small, parallel))
    return items


def _skip_present(client: Client, space: str, plans: list[_Plan], tracker: _Tracker) -> list[_Plan]:
    """Leave out files already at the target with the same size (what a resumed run sent)."""
    from .client import TzClientError

    present: dict[str, int | None] = {}
    for folder in sorted({posixpath.dirname(p.path) for p in plans}):
        try:
            for item in client.ws_list(space, folder):
                if item.get("type") == "file":
                    present[item["path"]] = item.get("size")
        except TzClientError as exc:
            if exc.status != 404:
                raise
    todo = []
    for plan in plans:
        if present.get(plan.path) == plan.size:
            tracker.update(path=plan.path, done=plan.size, resumed=plan.size, files_done=1,
                           skipped=1)  # fmt: skip
        else:
            todo.append(plan)
    return todo


def _run_parallel(uploader: _Uploader, plans: list[_Plan], parallel: int) -> list[dict]:
    pool = ThreadPoolExecutor(parallel, thread_name_prefix="tz-upload-files")
    futures = [pool.submit(uploader.upload_file, plan) for plan in plans]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()
    except BaseException:
        uploader.stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [f.result() for f in futures]


# -- downloads ---------------------------------------------------------------------------------


def download_to(
    client: Client,
    url_path: str,
    params: Mapping[str, Any],
    dest: Path,
    *,
    tracker: _Tracker | None = None,
    label: str = "",
    sha256: str | None = None,
) -> Path:
    """Stream ``GET url_path`` into ``dest``, atomically, checking length (and ``sha256``).

    The bytes go to a hidden temporary file next to ``dest`` that is renamed only once complete,
    so an interrupted download never leaves a file that looks whole.
    """
    from .client import TzClientError

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tz-partial-{os.getpid()}-{threading.get_ident()}")
    for attempt in range(1, ATTEMPTS + 1):
        written = 0
        digest = hashlib.sha256()
        try:
            with client._stream("GET", url_path, params=params) as response, open(tmp, "wb") as f:
                expected = response.headers.get("Content-Length")
                for chunk in response.iter_bytes(CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    if tracker is not None:
                        tracker.update(path=label, done=len(chunk))
            if expected is not None and int(expected) != written:
                raise TzClientError(
                    f"download of {label} broke off after {written} of {expected} bytes",
                    reason="ConnectionError",
                )
            if sha256 is not None and digest.hexdigest() != sha256:
                raise TzClientError(
                    f"{label}: sha256 {digest.hexdigest()} does not match the manifest's {sha256}",
                    reason="ChecksumMismatch",
                )
            os.replace(tmp, dest)
            return dest
        except (TzClientError, httpx.HTTPError) as exc:
            tmp.unlink(missing_ok=True)
            if tracker is not None:
                tracker.update(done=-written)
            error = _as_client_error(exc, client)
            if attempt == ATTEMPTS or not _retryable(error):
                raise error from None
            time.sleep(_BACKOFF * 2 ** (attempt - 1))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    raise AssertionError("unreachable")


def _epoch(stamp: object) -> float | None:
    """Seconds since the epoch of an API timestamp (ISO 8601, ``Z``), or None."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _unchanged(local: Path, size: int, modified: float) -> bool:
    """rsync's quick check: a local file of the same size and modification time (to the second,
    as a download sets it) is the file already downloaded."""
    try:
        st = local.stat()
    except OSError:
        return False
    return st.st_size == size and abs(st.st_mtime - modified) < 1.0


def _as_client_error(exc: Exception, client: Client) -> Exception:
    from .client import TzClientError

    if isinstance(exc, TzClientError):
        return exc
    return TzClientError(
        f"cannot reach the TZ service at {client.api_url}: {exc}", reason="ConnectionError"
    )


def _safe_local(root: Path, rel: str) -> Path:
    """``root / rel`` for a path the service sent, refusing anything that leaves ``root``."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or "\\" in rel or "\x00" in rel or rel.startswith("/"):
        raise ValueError(f"path: refusing to write {rel!r} outside {root}")
    return root.joinpath(*parts)


def download_path(
    client: Client,
    space: str,
    path: str,
    dest: str | os.PathLike[str] = ".",
    *,
    progress: ProgressFn | None = None,
    parallel: int = 4,
    skip_unchanged: bool = True,
) -> Path:
    """Download a workspace file or folder (see :meth:`Client.ws_download`)."""
    item = client.ws_stat(space, path)
    target = Path(dest).expanduser()
    name = item.get("name") or posixpath.basename(path.rstrip("/")) or space.split(":", 1)[-1]

    def fetch(entry: Mapping[str, Any], local: Path, tracker: _Tracker) -> None:
        size = int(entry.get("size") or 0)
        modified = _epoch(entry.get("modified"))
        if skip_unchanged and modified is not None and _unchanged(local, size, modified):
            tracker.update(path=entry["path"], done=size, resumed=size, skipped=1, files_done=1)
            return
        download_to(client, "workspace/download", {"space": space, "path": entry["path"]},
                    local, tracker=tracker, label=entry["path"])  # fmt: skip
        if modified is not None:  # what the next run's quick check compares
            os.utime(local, (time.time(), modified))
        tracker.update(files_done=1)

    if item.get("type") != "folder":
        if target.is_dir():
            target = target / name
        fetch({**item, "path": path}, target, _Tracker(progress, int(item.get("size") or 0), 1))
        return target
    # ``dest`` names the folder to create, or an existing folder to download into, as ``cp -r``
    # does. A download that created ``dest`` and was interrupted left a marker in it, so that
    # running the same command again fills that folder instead of nesting a new one inside.
    marker = {"space": space, "path": path.strip("/")}
    named = not target.is_dir() or _read_marker(target) == marker
    root = target if named else target / name
    files = list(_walk_remote(client, space, path))
    tracker = _Tracker(progress, sum(int(f.get("size") or 0) for f in files), len(files))
    root.mkdir(parents=True, exist_ok=True)
    if named:
        (root / DOWNLOAD_MARKER).write_text(json.dumps(marker))
    prefix = path.strip("/")

    def one(entry: dict[str, Any]) -> None:
        rel = entry["path"][len(prefix) :].lstrip("/") if prefix else entry["path"]
        fetch(entry, _safe_local(root, rel), tracker)

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="tz-download") as pool:
        for future in [pool.submit(one, f) for f in files]:
            future.result()
    (root / DOWNLOAD_MARKER).unlink(missing_ok=True)
    return root


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / DOWNLOAD_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _walk_remote(client: Client, space: str, path: str) -> Iterator[dict[str, Any]]:
    for item in client.ws_list(space, path):
        if item.get("type") == "folder":
            yield from _walk_remote(client, space, item["path"])
        else:
            yield item
