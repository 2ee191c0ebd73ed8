"""Copies between the workspace and this user's Lab home folder (the user server's disk).

Only the user server can read and write the Lab root, so these two routes live here and talk to
the TZ service with the server's own token, like any other client:

- ``POST /tz/workspace/to-lab {"space", "path", "lab_path", "overwrite"?}``: download a file or a
  folder (recursively, page by page) into the Lab root. Each file is streamed into a hidden
  temporary file and renamed into place, so a cut transfer never leaves a half-written file.
- ``POST /tz/workspace/from-lab {"lab_path", "space", "path", "overwrite"?}``: upload a Lab file or
  folder through the resumable uploads API, one part at a time (never a whole file in memory).

Both answer ``{"files", "bytes"}``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import posixpath
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from tornado import httpclient

PART_SIZE = 16 << 20
# What the Lab folder answers to a name it cannot take: a 400 naming lab_path, not a 502.
LAB_NAME_ERRORS = {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL}


class LabPathError(ValueError):
    """A Lab path outside the Lab root, or of the wrong kind."""


def lab_path(root: str, rel: object, field: str = "lab_path") -> str:
    """The absolute path of ``rel`` inside the Lab ``root``, symlinks resolved.

    Raises
    ------
    LabPathError
        With ``"<field>: ..."`` when ``rel`` is not a string or leaves the root.
    """
    if not isinstance(rel, str) or "\x00" in rel:
        raise LabPathError(f"{field}: must be a path relative to your Lab root folder")
    if rel not in ("", ".") and any(seg in ("", ".", "..") for seg in rel.strip("/").split("/")):
        # Refused rather than normalised: "a/." or "a//b" is not what anyone means to name.
        raise LabPathError(f"{field}: no empty, '.' or '..' parts, please")
    root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, rel.lstrip("/")))
    if os.path.isabs(rel) or not (target == root or target.startswith(root + os.sep)):
        raise LabPathError(f"{field}: must stay inside your Lab root folder")
    return target


class ServiceError(Exception):
    """The service refused a request; carries its status and JSON body for the browser."""

    def __init__(self, code: int, body: bytes) -> None:
        super().__init__(code)
        self.code, self.body = code, body


class ServiceClient:
    """Minimal async client of the TZ REST API with this server's token."""

    def __init__(self, base_url: str, token: str, http: httpclient.AsyncHTTPClient) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.headers = {"Authorization": f"token {token}"}
        self.http = http

    async def call(self, method: str, path: str, params: dict | None = None,
                   body: Any = None, raw: bytes | None = None) -> Any:  # fmt: skip
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        headers = dict(self.headers)
        data: bytes | None = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            headers["Content-Type"] = "application/octet-stream"
        resp = await self.http.fetch(
            url, method=method, headers=headers, body=data, raise_error=False,
            allow_nonstandard_methods=True, request_timeout=600,
        )  # fmt: skip
        if resp.code >= 400:
            raise ServiceError(resp.code, resp.body or b"")
        return json.loads(resp.body) if resp.body else None

    async def download(self, space: str, path: str, dest: str) -> int:
        """Stream one file to ``dest`` (via a temporary sibling, then renamed); its size."""
        tmp = os.path.join(os.path.dirname(dest), f".tz-download-{uuid.uuid4().hex}")
        f = open(tmp, "wb")  # noqa: SIM115 - closed in finally; written from the callback
        size = 0

        def on_chunk(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            f.write(chunk)

        try:
            url = self.base + "/workspace/download?" + urlencode({"space": space, "path": path})
            resp = await self.http.fetch(url, headers=self.headers, streaming_callback=on_chunk,
                                         raise_error=False, request_timeout=24 * 3600)  # fmt: skip
            f.close()
            if resp.code >= 400:
                raise ServiceError(resp.code, resp.body or b"")
            os.replace(tmp, dest)
        finally:
            f.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
        return size

    async def walk(self, space: str, folder: str) -> AsyncIterator[dict]:
        """Every file under ``folder``, recursively, page by page."""
        cursor: str | None = None
        while True:
            params = {"space": space, "path": folder, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = await self.call("GET", "/workspace/list", params)
            for item in page["items"]:
                if item["type"] == "folder":
                    async for sub in self.walk(space, item["path"]):
                        yield sub
                else:
                    yield item
            if not (cursor := page["next"]):
                return

    async def upload(self, local: str, space: str, path: str, overwrite: bool) -> int:
        size = os.path.getsize(local)
        session = await self.call("POST", "/uploads", body={
            "space": space, "path": path, "size": size, "overwrite": overwrite})  # fmt: skip
        try:
            with open(local, "rb") as f:
                for number in range(1, session["parts"] + 1):
                    chunk = await asyncio.to_thread(f.read, session["part_size"])
                    await self.call("PUT", f"/uploads/{session['id']}/parts/{number}", raw=chunk)
            await self.call("POST", f"/uploads/{session['id']}/complete")
        except BaseException:
            await self.call("DELETE", f"/uploads/{session['id']}")
            raise
        return size


async def to_lab(client: ServiceClient, space: str, path: str, dest: str,
                 overwrite: bool) -> dict:  # fmt: skip
    """Copy ``path`` of ``space`` into the Lab folder ``dest`` (a file or a folder)."""
    item = await client.call("GET", "/workspace/stat", {"space": space, "path": path})
    if item["type"] == "file":
        files = [(item["path"], dest)]
    else:
        files = [(f["path"], os.path.join(dest, posixpath.relpath(f["path"], item["path"])))
                 async for f in client.walk(space, item["path"])]  # fmt: skip
        if os.path.isfile(dest):
            raise LabPathError("lab_path: a file of that name is in the Lab folder")
    clashes = [d for _, d in files if os.path.exists(d)]
    if clashes and not overwrite:
        raise LabPathError(f"lab_path: {os.path.basename(clashes[0])} already exists in the Lab "
                           "folder (set overwrite to replace)")  # fmt: skip
    total = 0
    try:
        if item["type"] == "folder":
            os.makedirs(dest, exist_ok=True)
        for src, target in files:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            total += await client.download(space, src, target)
    except OSError as e:
        if e.errno not in LAB_NAME_ERRORS:
            raise
        name = os.path.basename(e.filename or dest)[:80]
        raise LabPathError(f"lab_path: {e.strerror} in the Lab folder ({name})") from None
    return {"files": len(files), "bytes": total}


async def from_lab(client: ServiceClient, src: str, space: str, path: str,
                   overwrite: bool) -> dict:  # fmt: skip
    """Upload the Lab file or folder ``src`` to ``path`` of ``space``."""
    if os.path.isfile(src):
        return {"files": 1, "bytes": await client.upload(src, space, path, overwrite)}
    if not os.path.isdir(src):
        raise LabPathError("lab_path: no such file or folder")
    count = total = 0
    await client.call("POST", "/workspace/mkdir", body={"space": space, "path": path,
                                                         "exist_ok": True})  # fmt: skip
    for folder, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(folder, src)
        for name in sorted(n for n in names if not n.startswith(".")):
            target = posixpath.join(path, *(() if rel == "." else rel.split(os.sep)), name)
            total += await client.upload(os.path.join(folder, name), space, target, overwrite)
            count += 1
    return {"files": count, "bytes": total}
