"""REST handlers of the workspace and its upload sessions (thin: parse, call, answer).

Every path-like input arrives as a query argument or a JSON field and goes straight to
:class:`TzWorkspace` / :class:`TzUploads`, which confine it to the caller's spaces. Upload parts are
streamed: the body of ``PUT /uploads/{id}/parts/{n}`` is handed to storage chunk by chunk as it
arrives, so the service never holds more than one part (S3) or one chunk (local) per request.
"""

from __future__ import annotations

import asyncio
import posixpath
from typing import Any

from tornado import web

from ..bodystream import BodyRelay, ClosesOnError, read_in_big_chunks
from ..checksums import CRC32_HEADER
from ..errors import InvalidRequest
from ..jobs.types import check_fields
from ..service.base import TzAPIHandler, content_disposition
from .previews import THUMBNAIL_MAX, THUMBNAIL_MIN, TzPreviews
from .uploads import MAX_PART_SIZE, TzUploads
from .workspace import MAX_LIMIT, TzWorkspace

READ, WRITE = "custom:tz:workspace:read", "custom:tz:workspace:write"
UPLOAD_ID = r"(?P<upload_id>[0-9a-f]{32})"


class WorkspaceBase(TzAPIHandler):
    @property
    def workspace(self) -> TzWorkspace:
        return self.settings["tz_workspace"]

    @property
    def uploads(self) -> TzUploads:
        return self.settings["tz_uploads"]

    def space_and_path(self) -> tuple[str, str]:
        return self.text_argument("space"), self.text_argument("path")

    def body_fields(self, *names: str, optional: tuple[str, ...] = (),
                    flags: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
        """The JSON body: ``names`` required, ``optional`` allowed, ``flags`` booleans (False)."""
        body = check_fields(self.get_json_body(), {*names, *optional, *flags})
        for name in names:
            if name not in body:
                raise InvalidRequest.field(name, "is required")
        for flag in flags:
            if not isinstance(body.setdefault(flag, False), bool):
                raise InvalidRequest.field(flag, "must be true or false")
        return body


class SpacesHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """The spaces the caller may reach: their own, then one per JupyterHub group."""
        me = self.identity
        items = [{"space": f"user:{me.name}", "kind": "user", "name": me.name}]
        items += [{"space": f"team:{g}", "kind": "team", "name": g} for g in sorted(me.groups)]
        self.write_json({"items": items})


class ListHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        space, path = self.space_and_path()
        page = await self.workspace.list(
            self.identity, space, path,
            cursor=self.text_argument("cursor") or None,
            limit=self.int_argument("limit", 200, 1, MAX_LIMIT) or 200,
            sort=self.text_argument("sort", "name"),
            order=self.text_argument("order", "asc"),
        )  # fmt: skip
        self.write_json(page)


class StatHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        self.write_json(await self.workspace.stat(self.identity, *self.space_and_path()))


class DownloadHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """Stream a file's bytes, or a folder as one ZIP made while it is sent (1 MiB chunks,
        flushed as they go: nothing held whole in memory)."""
        space, path = self.space_and_path()
        item = await self.workspace.stat(self.identity, space, path)
        if item["type"] == "folder":
            await self.send_zip(*await self.workspace.open_zip(self.identity, space, path))
            return
        chunks = await self.workspace.open_read(self.identity, space, path)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", content_disposition(posixpath.basename(path)))
        self.set_header("Content-Length", str(item["size"]))
        await self.send_chunks(chunks)


class PreviewHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """What the file holds: image size, table head, text or JSON (see ``previews``)."""
        space, path = self.space_and_path()
        item, _, open_fn = await self.workspace.source(self.identity, space, path)
        previews: TzPreviews = self.settings["tz_previews"]
        self.write_json(await asyncio.to_thread(previews.preview, path, open_fn, item["size"]))


class ThumbnailHandler(WorkspaceBase):
    required_scopes = {"GET": READ}

    async def get(self) -> None:
        """A JPEG thumbnail (made once per file version and size, then served from the cache)."""
        space, path = self.space_and_path()
        size = self.int_argument("size", 256, THUMBNAIL_MIN, THUMBNAIL_MAX) or 256
        item, key, open_fn = await self.workspace.source(self.identity, space, path)
        previews: TzPreviews = self.settings["tz_previews"]
        tag = f"{item['size']}:{item['modified']}"
        jpeg = await asyncio.to_thread(previews.thumbnail_cached, key, tag, open_fn, size,
                                       name=posixpath.basename(path))  # fmt: skip
        self.set_header("Content-Type", "image/jpeg")
        # Private: the URL names a user's file; the tag changes when the file does.
        self.set_header("Cache-Control", "private, max-age=300")
        self.finish(jpeg)


class MkdirHandler(WorkspaceBase):
    required_scopes = {"POST": WRITE}

    async def post(self) -> None:
        body = self.body_fields("space", "path", flags=("exist_ok",))
        item = await self.workspace.mkdir(self.identity, body["space"], body["path"],
                                          body["exist_ok"])  # fmt: skip
        self.write_json(item, 201)


class TransferHandler(WorkspaceBase):
    required_scopes = {"POST": WRITE}

    async def post(self, action: str) -> None:
        """``move`` or ``copy`` ``path`` to ``target`` (optionally into ``target_space``)."""
        body = self.body_fields("space", "path", "target", optional=("target_space",),
                                flags=("overwrite",))  # fmt: skip
        op = self.workspace.move if action == "move" else self.workspace.copy
        item = await op(
            self.identity, body["space"], body["path"], body["target"],
            overwrite=body["overwrite"], target_space=body.get("target_space"),
        )  # fmt: skip
        self.write_json(item)


class FilesHandler(WorkspaceBase):
    required_scopes = {"DELETE": WRITE}

    async def delete(self) -> None:
        """Delete a file or a folder with its contents."""
        await self.workspace.delete(self.identity, *self.space_and_path())
        self.set_status(204)
        self.finish()


class UploadsHandler(WorkspaceBase):
    required_scopes = {"GET": WRITE, "POST": WRITE}

    async def get(self) -> None:
        """The caller's open upload sessions (to offer resuming them)."""
        self.write_json({"items": await self.uploads.list_sessions(self.identity)})

    async def post(self) -> None:
        """Open an upload session; 201 with its part plan."""
        body = self.body_fields("space", "path", "size", optional=("part_size",),
                                flags=("overwrite",))  # fmt: skip
        session = await self.uploads.create(
            self.identity, body["space"], body["path"], body["size"], body.get("part_size"),
            body["overwrite"],
        )  # fmt: skip
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{session['id']}")
        self.write_json(session, 201)


class UploadHandler(WorkspaceBase):
    required_scopes = {"GET": WRITE, "DELETE": WRITE}

    async def get(self, upload_id: str) -> None:
        self.write_json(await self.uploads.status(self.identity, upload_id))

    async def delete(self, upload_id: str) -> None:
        """Abort: drop the session and every part received."""
        await self.uploads.abort(self.identity, upload_id)
        self.set_status(204)
        self.finish()


class UploadCompleteHandler(WorkspaceBase):
    required_scopes = {"POST": WRITE}

    async def post(self, upload_id: str) -> None:
        self.write_json(await self.uploads.complete(self.identity, upload_id))


@web.stream_request_body
class UploadPartHandler(ClosesOnError, WorkspaceBase):
    """``PUT`` one part; the body flows to storage while it arrives."""

    required_scopes = {"PUT": WRITE}

    async def prepare(self) -> None:
        await super().prepare()
        self.request.connection.set_max_body_size(MAX_PART_SIZE)  # type: ignore[union-attr]
        read_in_big_chunks(self.request.connection)
        try:
            number = int(self.path_kwargs["number"])
        except ValueError:
            raise InvalidRequest.field("number", "must be an integer") from None
        upload_id = self.path_kwargs["upload_id"]
        crc32 = self.request.headers.get(CRC32_HEADER)
        self.relay = BodyRelay(
            lambda body: self.uploads.put_part(self.identity, upload_id, number, body, crc32)
        )

    async def data_received(self, chunk: bytes) -> None:
        await self.relay.feed(chunk)

    def on_connection_close(self) -> None:
        if hasattr(self, "relay"):
            self.relay.abort()

    async def put(self, upload_id: str, number: str) -> None:
        self.write_json(await self.relay.end())

    def on_finish(self) -> None:
        task = self.relay.task if hasattr(self, "relay") else None
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # consumed: a refused part is reported, not logged as unretrieved


def routes(api: str) -> list[tuple[str, type]]:
    return [
        (rf"{api}/workspace/spaces", SpacesHandler),
        (rf"{api}/workspace/list", ListHandler),
        (rf"{api}/workspace/stat", StatHandler),
        (rf"{api}/workspace/download", DownloadHandler),
        (rf"{api}/workspace/preview", PreviewHandler),
        (rf"{api}/workspace/thumbnail", ThumbnailHandler),
        (rf"{api}/workspace/mkdir", MkdirHandler),
        (rf"{api}/workspace/(?P<action>move|copy)", TransferHandler),
        (rf"{api}/workspace/files", FilesHandler),
        (rf"{api}/uploads", UploadsHandler),
        (rf"{api}/uploads/{UPLOAD_ID}", UploadHandler),
        (rf"{api}/uploads/{UPLOAD_ID}/complete", UploadCompleteHandler),
        (rf"{api}/uploads/{UPLOAD_ID}/parts/(?P<number>[0-9]{{1,6}})", UploadPartHandler),
    ]
