"""``TzUploads``: resumable upload sessions that send big files to storage in parts.

Why: a browser upload of hundreds of MB through one request (or the base64 contents API) fails
and holds the whole file in memory. Here a client opens a session (``create``), sends numbered
parts in any order and as many times as it likes (``put_part``: a retried part *replaces* the
earlier one), asks what arrived after a reload or dropped connection (``status``), then
``complete``s, which checks every part and makes the object appear at its final key whole or not
at all. ``abort`` and ``sweep`` remove what an abandoned session left behind.

- **S3**: one S3 multipart upload per session (``UploadPart`` for each part, so parts go straight to
  the store; ``CompleteMultipartUpload`` publishes the object; ``AbortMultipartUpload`` drops it).
  Each part carries its CRC32, which S3 checks before it keeps the part (``part_checksum``).
  A client that sends the part's CRC32 with it (``X-TZ-Checksum-CRC32``: the Lab, the SDK and
  the CLI do) gets its bytes checked end to end, and the part streams straight on to S3.
- **Local folder**: each part is a file in a staging folder ``uploads/<user>/<id>.parts/`` (never
  under the final key); ``complete`` concatenates them into a hidden temporary file next to the
  final key and ``os.replace``s it there.

Sessions survive a service restart: their metadata is a small JSON document in storage at
``uploads/<user>/<id>.json`` (written atomically), so another user's id simply is not found.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from traitlets import Enum, Float, Instance, Integer, Unicode
from traitlets.config import LoggingConfigurable

from ..checksums import CRC32_HEADER, CRC32_RE, crc32_int, crc32_text
from ..errors import BackendUnavailable, Conflict, InvalidRequest, NotFound, PayloadTooLarge
from ..identity import Identity
from ..storage import join_key
from .paths import RESERVED_PREFIX, workspace_key
from .workspace import TzWorkspace

MiB = 1 << 20
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MiB  # S3's maximum part
MAX_PARTS = 10_000  # S3's maximum part count
DEFAULT_PART_SIZE = 16 * MiB
UPLOADS_PREFIX = "uploads"
ID_RE = re.compile(r"^[0-9a-f]{32}$")
KNOWN_SESSIONS = 4096  # session documents kept in memory (a few hundred bytes each)


class TzUploads(LoggingConfigurable):
    """Multipart upload sessions into the workspace."""

    workspace = Instance(TzWorkspace)

    max_upload_size = Integer(
        5 * 1024**4,
        help="Largest file one upload session may write, in bytes (default 5 TiB, S3's limit).",
    ).tag(config=True)

    session_max_age = Float(
        7 * 24 * 3600.0,
        help="""Seconds after which an upload session that never completed is aborted and its
        parts deleted (a browser closed for good, a laptop that never came back). Resuming is
        possible until then. Default: 604800 (7 days).
        """,
    ).tag(config=True)

    sweep_interval = Float(
        3600.0,
        help="Seconds between two sweeps for expired upload sessions. Default: 3600 (hourly).",
    ).tag(config=True)

    spool_dir = Unicode(
        "",
        help="""Folder for the temporary files that hold an S3 upload part while it is sent on.

        Each part in flight takes one file of up to the part size (16 MiB by default); the files
        have no name and vanish when the part is sent. Put it on local disk with room for the
        parts of all concurrent uploads. Default: the system's temporary folder.
        """,
    ).tag(config=True)

    part_checksum = Enum(
        ["CRC32", "CRC32-stream", "none"],
        "CRC32",
        help="""How each S3 upload part travels and what checks its bytes.

        ``CRC32``: the part is spooled to ``spool_dir`` while its CRC32 is computed, then sent
        with ``x-amz-checksum-crc32`` (a signed header, as ``boto3.upload_file`` sends it) and an
        unsigned payload; S3 refuses a part whose bytes do not match.
        ``CRC32-stream``: the part streams on to S3 while it arrives (no temporary file, about
        a third less CPU on the service, a few MiB of memory per part in flight) as an
        aws-chunked body with its CRC32 in a trailer (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``,
        what botocore sends over HTTPS). Needs an S3 that takes aws-chunked trailers (AWS S3,
        current MinIO); moto decodes them slowly, so it is not the default.
        ``none``: spooled, no checksum; over plain http the SigV4 signature covers each part's
        SHA-256 (about 0.5 CPU-s more per GiB); for stores that refuse checksum headers.

        A part sent with its CRC32 in ``X-TZ-Checksum-CRC32`` (the Lab, the SDK and the CLI
        send it) is checked against it by the service whatever the mode; with ``CRC32`` or
        ``CRC32-stream`` it then streams straight on to S3 with that CRC32 in the signed header
        (no temporary file, no trailer), so S3 checks the client's own checksum.
        Default: ``CRC32``.
        """,
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._known: OrderedDict[str, dict] = OrderedDict()

    @property
    def storage(self):
        return self.workspace.storage

    # ------------------------------------------------------------------ session documents

    def _session_key(self, user: str, upload_id: str) -> str:
        return join_key(UPLOADS_PREFIX, user, f"{upload_id}.json")

    def _staging(self, user: str, upload_id: str) -> Path:
        path = self.storage.local_path(join_key(UPLOADS_PREFIX, user, f"{upload_id}.parts"))
        assert path is not None
        return path

    async def _save(self, session: dict) -> None:
        data = json.dumps(session, indent=1).encode()
        key = self._session_key(session["user"], session["id"])
        await asyncio.to_thread(self.storage.put_bytes, key, data)
        self._remember(key, session)

    async def _load(self, user: Identity, upload_id: object) -> dict:
        if not isinstance(upload_id, str) or not ID_RE.match(upload_id):
            raise NotFound("upload not found", reason="UploadNotFound")
        key = self._session_key(user.name, upload_id)
        if key in self._known:
            self._known.move_to_end(key)
            return dict(self._known[key])
        try:
            raw = await asyncio.to_thread(self.storage.get_bytes, key)
        except FileNotFoundError:
            raise NotFound("upload not found", reason="UploadNotFound") from None
        session = json.loads(raw)
        self._remember(key, session)
        return dict(session)

    def _remember(self, key: str, session: dict) -> None:
        # A session document never changes after it is written, and every part would otherwise
        # read it back from storage (a request to S3 per part).
        self._known[key] = dict(session)
        self._known.move_to_end(key)
        while len(self._known) > KNOWN_SESSIONS:
            self._known.popitem(last=False)

    async def _forget(self, session: dict) -> None:
        key = self._session_key(session["user"], session["id"])
        self._known.pop(key, None)
        await asyncio.to_thread(self.storage.delete, key)
        if session["backend"] == "local":
            await asyncio.to_thread(shutil.rmtree, self._staging(session["user"], session["id"]),
                                    True)  # fmt: skip

    @staticmethod
    def _part_length(session: dict, number: int) -> int:
        if number < session["parts"]:
            return session["part_size"]
        return session["size"] - (session["parts"] - 1) * session["part_size"]

    # ------------------------------------------------------------------ API

    async def create(self, user: Identity, space: str, path: str, size: int,
                     part_size: int | None = None, overwrite: bool = False) -> dict:  # fmt: skip
        """Open an upload session for a file of ``size`` bytes at ``path`` in ``space``.

        Returns ``{"id", "part_size", "parts"}``: send parts ``1..parts``, each ``part_size``
        bytes except the last.

        Raises
        ------
        InvalidRequest
            For a bad ``size`` or ``part_size`` (parts under 5 MiB, over 5 GiB or more than 10,000).
        PayloadTooLarge
            Over ``max_upload_size``.
        Conflict
            When ``path`` is a folder, or a file and ``overwrite`` is false.
        """
        key = workspace_key(user, space, path)
        if not path:
            raise InvalidRequest.field("path", "names the space root, not a file")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidRequest.field("size", "must be a non-negative integer")
        if size > self.max_upload_size:
            raise PayloadTooLarge(f"files over {self.max_upload_size} bytes cannot be uploaded",
                                  reason="UploadTooLarge")  # fmt: skip
        if part_size is None:
            # Grow the default part (in whole MiB) only when the file would need > 10,000 parts.
            part_size = max(DEFAULT_PART_SIZE, math.ceil(size / MAX_PARTS / MiB) * MiB)
        elif isinstance(part_size, bool) or not isinstance(part_size, int) or part_size <= 0:
            raise InvalidRequest.field("part_size", "must be a positive integer")
        parts = math.ceil(size / part_size)
        if parts > 1 and part_size < MIN_PART_SIZE:
            raise InvalidRequest.field("part_size", f"must be at least {MIN_PART_SIZE} bytes")
        if part_size > MAX_PART_SIZE and size > MAX_PART_SIZE:
            raise InvalidRequest.field("part_size", f"must be at most {MAX_PART_SIZE} bytes")
        if parts > MAX_PARTS:
            raise InvalidRequest.field("part_size", f"gives more than {MAX_PARTS} parts")
        await self._check_target(key, path, overwrite)
        session = {
            "id": uuid.uuid4().hex, "user": user.name, "space": space, "path": path,
            "size": size, "part_size": part_size, "parts": parts, "overwrite": overwrite,
            "created": time.time(), "backend": "local" if self.workspace.is_local else "s3",
            "s3_upload_id": None,
        }  # fmt: skip
        if session["backend"] == "s3" and parts:
            bucket, skey = self.workspace._bucket_key(key)
            # Declared up front so S3 keeps a checksum per part (a composite one at completion).
            checksum = {"ChecksumAlgorithm": "CRC32"} if self.part_checksum != "none" else {}
            resp = await self.workspace._call("create_multipart_upload", Bucket=bucket, Key=skey,
                                              **checksum)  # fmt: skip
            session["s3_upload_id"] = resp["UploadId"]
            session["checksum"] = self.part_checksum
        await self._save(session)
        return {**_public(session), "received": []}

    async def _check_target(self, key: str, path: str, overwrite: bool) -> None:
        kind = await self.workspace._kind(key)
        if kind == "folder" or (kind == "file" and not overwrite):
            raise Conflict(f"{path} already exists", reason="PathExists")

    async def put_part(self, user: Identity, upload_id: str, number: int,
                       data: bytes | AsyncIterator[bytes],
                       crc32: str | None = None) -> dict:  # fmt: skip
        """Store part ``number`` (1-based); sending a number again replaces that part.

        ``crc32`` is the part's CRC32 as the client computed it (base64 of the 4 big-endian
        bytes, like S3's ``x-amz-checksum-crc32``); a part whose bytes do not match it is not
        kept. Returns ``{"number", "size", "etag"}``.

        Raises
        ------
        NotFound
            For an unknown upload id, or another user's.
        InvalidRequest
            For a part number out of range, a part of the wrong size, a malformed ``crc32``, or
            bytes that do not match it (naming ``X-TZ-Checksum-CRC32``).
        """
        if crc32 is not None and not CRC32_RE.match(crc32):
            raise InvalidRequest.field(
                CRC32_HEADER, "must be the part's CRC32 as 8 base64 characters (like S3's "
                "x-amz-checksum-crc32), or left out")  # fmt: skip
        session = await self._load(user, upload_id)
        # Re-check the space: a user who left the team can no longer write into its space.
        key = workspace_key(user, session["space"], session["path"])
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= session["parts"]
        ):
            raise InvalidRequest.field("number", f"must be from 1 to {session['parts']}")
        expected = self._part_length(session, number)
        want = None if crc32 is None else crc32_int(crc32)
        if session["backend"] == "local":
            size, etag = await self._local_part(session, number, data, expected, want)
        else:
            size = expected
            etag = await self._s3_part(session, key, number, data, expected, want)
        return {"number": number, "size": size, "etag": etag}

    async def _s3_part(self, session: dict, key: str, number: int,
                       data: bytes | AsyncIterator[bytes], expected: int,
                       want: int | None) -> str:  # fmt: skip
        """``UploadPart`` as ``session["checksum"]`` says (see ``part_checksum``); the ETag."""
        bucket, skey = self.workspace._bucket_key(key)
        mode = session.get("checksum")
        loop = asyncio.get_running_loop()
        checksum: dict[str, str] = {}
        if mode != "none" and want is not None:
            # The client's CRC32 is known before the first byte: stream with it in the header.
            body: Any = StreamedPart(_chunks(data), expected, loop, crc32=want, number=number)
            checksum["ChecksumCRC32"] = crc32_text(want)
        elif mode == "CRC32-stream":
            body = StreamedPart(_chunks(data), expected, loop, trailer=True)
            checksum["ChecksumAlgorithm"] = "CRC32"  # sent in a trailer, see add_tz_hooks
        else:
            # The length and checksum (or, unsigned, the sha256) go before the first byte, so the
            # part is spooled to a local temporary file, not held in memory.
            body, crc = await _spool(data, expected, self.spool_dir or None)
            if want is not None and crc != want:
                body.close()
                raise _crc_mismatch(number)
            if mode == "CRC32":
                checksum["ChecksumCRC32"] = crc32_text(crc)
        try:
            resp = await self.workspace._call(
                "upload_part", Bucket=bucket, Key=skey, UploadId=session["s3_upload_id"],
                PartNumber=number, Body=body, ContentLength=expected, **checksum)  # fmt: skip
        except FileNotFoundError:  # NoSuchUpload: completed or aborted meanwhile
            raise NotFound("upload not found", reason="UploadNotFound") from None
        except Exception as e:
            # A streamed part that broke off (wrong size, sender gone) says why; any other
            # failure left no part behind (S3 keeps a part only once its checksum matched).
            if isinstance(body, StreamedPart) and body.error is not None:
                raise body.error from None
            self.log.warning("UploadPart %d of %s failed: %r", number, key, e)
            raise BackendUnavailable(f"storage did not take part {number}: send it again",
                                     reason="StorageUnavailable") from e  # fmt: skip
        finally:
            body.close()
        return resp["ETag"].strip('"')

    async def _local_part(self, session: dict, number: int, data: bytes | AsyncIterator[bytes],
                          expected: int, want: int | None) -> tuple[int, str]:  # fmt: skip
        staging = self._staging(session["user"], session["id"])
        await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
        tmp = staging / f"{RESERVED_PREFIX}{number:05d}-{uuid.uuid4().hex}"
        md5 = hashlib.md5(usedforsecurity=False)
        size = crc = 0
        f = await asyncio.to_thread(open, tmp, "wb")
        try:
            async for chunk in _chunks(data):
                size += len(chunk)
                if size > expected:
                    raise InvalidRequest.field("data", f"part {number} must be {expected} bytes")
                md5.update(chunk)
                crc = zlib.crc32(chunk, crc)
                await asyncio.to_thread(f.write, chunk)
            f.close()
            if size != expected:
                raise InvalidRequest.field("data", f"part {number} must be {expected} bytes")
            if want is not None and crc != want:
                raise _crc_mismatch(number)
            etag = md5.hexdigest()
            # One thread call: a sender that hangs up after its last byte cancels this task, and
            # a cancelled await must not leave the part stored without its etag (status() would
            # report a part no client can verify, so a resume would send it again).
            await asyncio.to_thread(_publish_local_part, tmp, staging, number,
                                    {"size": size, "etag": etag, "crc32": crc32_text(crc)})
        finally:
            f.close()
            tmp.unlink(missing_ok=True)
        return size, etag

    async def status(self, user: Identity, upload_id: str) -> dict:
        """The session and the parts received so far (for resuming after a reload).

        Returns ``{"id", "space", "path", "size", "part_size", "parts", "created",
        "received": [{"number", "size", "etag", "crc32"}, ...]}`` with ``received`` sorted by
        number; ``etag`` and ``crc32`` are ``None`` where unknown or unverified.
        """
        session = await self._load(user, upload_id)
        received = [{k: p.get(k) for k in ("number", "size", "etag", "crc32")}
                    for p in await self._received(session)]  # fmt: skip
        return {**_public(session), "received": received}

    async def list_sessions(self, user: Identity) -> list[dict]:
        """The caller's open sessions, oldest first, without their parts (for a resume prompt).

        Sessions in spaces the caller can no longer reach (a team they left) are left out.
        """
        out = []
        for key in await asyncio.to_thread(self._session_paths, user.name):
            try:
                session = json.loads(await asyncio.to_thread(self.storage.get_bytes, key))
                workspace_key(user, session["space"], session["path"])
            except (FileNotFoundError, ValueError, NotFound, InvalidRequest):
                continue
            out.append(_public(session))
        return sorted(out, key=lambda s: s["created"])

    async def _received(self, session: dict) -> list[dict]:
        if session["backend"] == "local":
            return await asyncio.to_thread(self._local_received, session)
        if not session["parts"]:
            return []
        key = workspace_key(Identity(session["user"], scopes=frozenset({"custom:tz:admin"})),
                            session["space"], session["path"])  # fmt: skip
        bucket, skey = self.workspace._bucket_key(key)
        out: list[dict] = []
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": skey,
            "UploadId": session["s3_upload_id"],
        }
        while True:
            try:
                resp = await self.workspace._call("list_parts", **kwargs)
            except FileNotFoundError:
                raise NotFound("upload not found", reason="UploadNotFound") from None
            out.extend({"number": p["PartNumber"], "size": p["Size"],
                        "etag": p["ETag"].strip('"'), "crc32": p.get("ChecksumCRC32")}
                       for p in resp.get("Parts", []))  # fmt: skip
            if not resp.get("IsTruncated"):
                break
            kwargs["PartNumberMarker"] = resp["NextPartNumberMarker"]
        return sorted(out, key=lambda p: p["number"])

    def _local_received(self, session: dict) -> list[dict]:
        staging = self._staging(session["user"], session["id"])
        out = []
        for n in range(1, session["parts"] + 1):
            part = staging / f"{n:05d}"
            try:
                size = part.stat().st_size
            except FileNotFoundError:
                continue
            try:
                meta = json.loads((staging / f"{n:05d}.json").read_text())
            except (FileNotFoundError, ValueError):
                meta = {}
            trusted = meta.get("size") == size
            out.append({"number": n, "size": size, "etag": meta.get("etag") if trusted else None,
                        "crc32": meta.get("crc32") if trusted else None})  # fmt: skip
        return out

    async def complete(self, user: Identity, upload_id: str) -> dict:
        """Check every part, then publish the file at its final key in one step.

        Returns the file's ``stat`` item. On any refusal nothing appears at the final key and the
        session stays open (send the missing part, then complete again).

        Raises
        ------
        InvalidRequest
            Naming ``parts`` when a part is missing or has the wrong size.
        Conflict
            When the target now exists (and the session did not ask to overwrite).
        """
        session = await self._load(user, upload_id)
        key = workspace_key(user, session["space"], session["path"])
        received = {p["number"]: p for p in await self._received(session)}
        missing = [n for n in range(1, session["parts"] + 1) if n not in received]
        wrong = [n for n, p in received.items() if p["size"] != self._part_length(session, n)]
        if missing or wrong:
            problem = []
            if missing:
                problem.append(f"missing parts {_ranges(missing)}")
            if wrong:
                problem.append(f"wrongly sized parts {_ranges(sorted(wrong))}")
            raise InvalidRequest.field("parts", "; ".join(problem))
        await self._check_target(key, session["path"], session["overwrite"])
        await self.workspace._check_parents_are_folders(user, session["space"], session["path"])
        if session["backend"] == "local":
            await asyncio.to_thread(self._local_complete, session, key)
        elif not session["parts"]:
            bucket, skey = self.workspace._bucket_key(key)
            await self.workspace._call("put_object", Bucket=bucket, Key=skey, Body=b"")
        else:
            bucket, skey = self.workspace._bucket_key(key)
            # S3 wants each part's checksum back when the upload declared one; it lists them (an
            # S3 that lists none, like moto, takes the parts without).
            parts = []
            for n in range(1, session["parts"] + 1):
                part = {"PartNumber": n, "ETag": f'"{received[n]["etag"]}"'}
                if received[n].get("crc32"):
                    part["ChecksumCRC32"] = received[n]["crc32"]
                parts.append(part)
            try:
                await self.workspace._call(
                    "complete_multipart_upload", Bucket=bucket, Key=skey,
                    UploadId=session["s3_upload_id"], MultipartUpload={"Parts": parts})  # fmt: skip
            except FileNotFoundError:
                raise NotFound("upload not found", reason="UploadNotFound") from None
            self.storage.fs.invalidate_cache()
        await self._forget(session)
        return await self.workspace.stat(user, session["space"], session["path"])

    def _local_complete(self, session: dict, key: str) -> None:
        staging = self._staging(session["user"], session["id"])
        target = self.storage.local_path(key)
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{RESERVED_PREFIX}upload-{session['id']}")
        try:
            with open(tmp, "wb") as out:
                for n in range(1, session["parts"] + 1):
                    with open(staging / f"{n:05d}", "rb") as part:
                        shutil.copyfileobj(part, out, 4 * MiB)
            if tmp.stat().st_size != session["size"]:  # a part replaced during the checks
                raise InvalidRequest.field("parts", "parts changed while completing; retry")
            os.replace(tmp, target)
        except FileNotFoundError:
            raise NotFound("upload not found", reason="UploadNotFound") from None
        finally:
            tmp.unlink(missing_ok=True)

    async def abort(self, user: Identity, upload_id: str) -> None:
        """Drop a session and every part it received.

        Raises
        ------
        NotFound
            For an unknown upload id, or another user's.
        """
        session = await self._load(user, upload_id)
        await self._abort_session(session)

    async def _abort_session(self, session: dict) -> None:
        if session["backend"] == "s3" and session["s3_upload_id"]:
            key = workspace_key(Identity(session["user"], scopes=frozenset({"custom:tz:admin"})),
                                session["space"], session["path"])  # fmt: skip
            bucket, skey = self.workspace._bucket_key(key)
            try:
                await self.workspace._call("abort_multipart_upload", Bucket=bucket, Key=skey,
                                           UploadId=session["s3_upload_id"])  # fmt: skip
            except FileNotFoundError:
                pass  # already completed or aborted
        await self._forget(session)

    async def sweep(self, older_than_seconds: float) -> int:
        """Abort every session created more than ``older_than_seconds`` ago; return how many.

        Also aborts S3 multipart uploads under the workspace that no session knows about (a crash
        between creating one and saving its session), once they are as old.
        """
        cutoff = time.time() - older_than_seconds
        docs = await asyncio.to_thread(self._session_paths)
        known: set[str] = set()
        count = 0
        for raw_key in docs:
            try:
                session = json.loads(await asyncio.to_thread(self.storage.get_bytes, raw_key))
            except (FileNotFoundError, ValueError):
                continue
            if session.get("s3_upload_id"):
                known.add(session["s3_upload_id"])
            if session.get("created", 0) < cutoff:
                await self._abort_session(session)
                count += 1
        if not self.workspace.is_local:
            count += await self._sweep_orphans(cutoff, known)
        return count

    async def sweep_forever(self) -> None:
        """Sweep every ``sweep_interval`` seconds until cancelled; a failed sweep is logged."""
        while True:
            try:
                count = await self.sweep(self.session_max_age)
                if count:
                    self.log.info("aborted %d expired upload session(s)", count)
            except Exception:  # noqa: BLE001 - storage hiccup: try again next round
                self.log.exception("upload sweep failed; retrying in %.0f s", self.sweep_interval)
            await asyncio.sleep(self.sweep_interval)

    def _session_paths(self, user: str | None = None) -> list[str]:
        fs = self.storage.fs
        root = self.storage.path(join_key(UPLOADS_PREFIX, user) if user else UPLOADS_PREFIX)
        try:
            found = fs.find(root)
        except FileNotFoundError:
            return []
        base = self.storage.path("")
        keys = []
        for p in found:
            p = p.split("://", 1)[-1] if "://" in p else p
            rel = p[len(base) :] if p.startswith(base) else p[p.find(UPLOADS_PREFIX + "/") :]
            parts = rel.split("/")
            if len(parts) == 3 and parts[0] == UPLOADS_PREFIX and parts[2].endswith(".json"):
                keys.append(rel)
        return keys

    async def _sweep_orphans(self, cutoff: float, known: set[str]) -> int:
        bucket, prefix = self.workspace._bucket_key("workspace/")
        count = 0
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            resp = await self.workspace._call("list_multipart_uploads", **kwargs)
            for up in resp.get("Uploads", []):
                if up["UploadId"] in known or up["Initiated"].timestamp() >= cutoff:
                    continue
                await self.workspace._call("abort_multipart_upload", Bucket=bucket, Key=up["Key"],
                                           UploadId=up["UploadId"])  # fmt: skip
                count += 1
            if not resp.get("IsTruncated"):
                return count
            kwargs["KeyMarker"] = resp["NextKeyMarker"]
            kwargs["UploadIdMarker"] = resp["NextUploadIdMarker"]


def _public(session: dict) -> dict:
    return {k: session[k] for k in ("id", "space", "path", "size", "part_size", "parts", "created")}


async def _chunks(data: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    async for chunk in data:
        yield chunk


def _crc_mismatch(number: int) -> InvalidRequest:
    return InvalidRequest.field(
        CRC32_HEADER, f"part {number} arrived with other bytes than the ones it was computed "
        "from (changed on the way?); nothing was kept: send the part again")  # fmt: skip


class StreamedPart:
    """An ``UploadPart`` body read from the part's request while it arrives.

    botocore and aiohttp read it on s3fs's event loop; the chunks come from the request on the
    service's loop. It ends with an error (so the request to S3 breaks off and S3 keeps nothing)
    when the part is not exactly ``expected`` bytes, or, given the client's ``crc32``, when its
    bytes do not match it: the last chunk is held back until the CRC32 is checked, so S3 never
    gets the whole part. :attr:`error` keeps that error for the caller.
    """

    def __init__(self, chunks: AsyncIterator[bytes], expected: int,
                 loop: asyncio.AbstractEventLoop, *, crc32: int | None = None, number: int = 0,
                 trailer: bool = False) -> None:  # fmt: skip
        self._chunks = chunks
        self._number = number
        self._expected = expected
        self._loop = loop
        self._want = crc32
        self._crc = 0
        # add_tz_hooks sends a body marked so as aws-chunked with the CRC32 in a trailer.
        self.tz_streamed = trailer
        self.size = 0
        self.error: BaseException | None = None

    async def _next(self) -> bytes:
        return await anext(self._chunks, b"")

    async def read(self, size: int = -1) -> bytes:
        try:
            chunk = await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self._next(), self._loop))  # fmt: skip
            self.size += len(chunk)
            if self.size > self._expected or (not chunk and self.size < self._expected):
                raise InvalidRequest.field("data", f"the part must be {self._expected} bytes")
            if self._want is not None:
                self._crc = zlib.crc32(chunk, self._crc)
                if self.size == self._expected and self._crc != self._want:
                    raise _crc_mismatch(self._number)
        except BaseException as e:
            self.error = e
            raise
        return chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        # aiohttp sends an async iterable as it comes (a header-checksummed part is not wrapped
        # in aws-chunked framing, so the body goes to aiohttp as it is).
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while chunk := await self.read():
            yield chunk

    def close(self) -> None:
        pass


async def _spool(data: bytes | AsyncIterator[bytes], expected: int,
                 folder: str | None) -> tuple[IO[bytes], int]:  # fmt: skip
    """The part in an anonymous temporary file, rewound, and its CRC32; refused unless exactly
    ``expected`` bytes."""
    f = await asyncio.to_thread(tempfile.TemporaryFile, dir=folder)
    crc = 0
    try:
        size = 0
        async for chunk in _chunks(data):
            size += len(chunk)
            if size > expected:
                raise InvalidRequest.field("data", f"the part must be {expected} bytes")
            crc = zlib.crc32(chunk, crc)
            await asyncio.to_thread(f.write, chunk)
        if size != expected:
            raise InvalidRequest.field("data", f"the part must be {expected} bytes")
        await asyncio.to_thread(f.seek, 0)
    except BaseException:
        f.close()
        raise
    return f, crc


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7`` for ``[1, 2, 3, 7]`` (a message listing 10,000 numbers helps nobody)."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}-{prev}" if start != prev else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(out[:20]) + (" ..." if len(out) > 20 else "")


def _publish_local_part(tmp: Path, staging: Path, number: int, meta: dict[str, Any]) -> None:
    """Move a received part into place, then record its ``meta`` (size, etag, CRC32): status()
    trusts them only when they name the part's size, so a crash between the two steps shows the
    part as unverified."""
    os.replace(tmp, staging / f"{number:05d}")
    tmp_meta = staging / f"{RESERVED_PREFIX}meta-{uuid.uuid4().hex}"
    tmp_meta.write_text(json.dumps(meta))
    os.replace(tmp_meta, staging / f"{number:05d}.json")
