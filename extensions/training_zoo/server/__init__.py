"""The single-user jupyter-server extension: forwards ``/tz/api/v1/*`` to the TZ service.

Requests arrive with the browser's cookie (and XSRF token, checked by jupyter-server's
``APIHandler``); they leave with this server's own hub token (``JUPYTERHUB_API_TOKEN``), which only
carries the user's scopes. Responses stream back chunk by chunk, so SSE log streams are not
buffered; upload parts stream through without being buffered either. Extra routes need the Lab
root, which only this server can reach: ``POST /tz/snapshot`` packs a folder of it and uploads it
(so the browser can submit a job without reading files itself), and ``POST /tz/workspace/to-lab``
and ``/from-lab`` copy between the workspace and the Lab root (:mod:`.labcopy`). No domain
logic, no platform secret.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import httpclient, web
from tornado.iostream import StreamClosedError
from traitlets import Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from ..bodystream import BodyRelay, ClosesOnError, read_in_big_chunks
from ..checksums import CRC32_HEADER
from ..snapshot import SnapshotTooLarge, pack_directory
from . import labcopy
from .labcopy import LabPathError, ServiceClient, ServiceError, lab_path

FORWARD_REQUEST_HEADERS = ("Content-Type", "Accept", "Last-Event-ID")
FORWARD_RESPONSE_HEADERS = (
    "Content-Type", "Cache-Control", "X-Accel-Buffering",
    "Content-Disposition", "Content-Length", "ETag", "Last-Modified",
)  # fmt: skip
# Byte streams that may run for as long as a big file takes: they get the streaming timeout.
LONG_RESPONSE_SUFFIXES = ("/download", "/content", "/manifest")


class TzForwarder(LoggingConfigurable):
    """Where and how this user server reaches the TZ service."""

    service_url = Unicode(
        help="""Base URL of the TZ service as reachable from this server, e.g.
        ``http://127.0.0.1:10101/services/tz/``. Default: ``$TZ_SERVICE_URL`` (set by the spawner).
        """,
    ).tag(config=True)

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get("TZ_SERVICE_URL", "")

    token = Unicode(
        help="The hub token sent to the service. Default: ``$JUPYTERHUB_API_TOKEN``."
    ).tag(config=True)

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(
        60.0, help="Seconds a non-streaming request to the service may take. Default: 60."
    ).tag(config=True)

    stream_timeout = Float(
        24 * 3600.0, help="Seconds a streaming (SSE) request may stay open. Default: 86400."
    ).tag(config=True)

    max_connections = Int(
        200,
        help="""Most requests this server has open to the TZ service at once. Every open log,
        metrics or event stream of a Lab view holds one for as long as it is open, so a small
        pool would make the rest of Lab wait behind a few job views (tornado's shared client
        allows 10, and a request that waits past its connect timeout failed as "unreachable").
        Requests beyond it wait for a free connection. Default: 200.""",
    ).tag(config=True)

    _http: httpclient.AsyncHTTPClient | None = None

    @property
    def http(self) -> httpclient.AsyncHTTPClient:
        """This server's own client for the service, made on first use (on the server's loop)."""
        if self._http is None:
            self._http = httpclient.AsyncHTTPClient(
                force_instance=True, max_clients=self.max_connections
            )
        return self._http


class TzHandler(APIHandler):
    auth_resource = "tz"

    @property
    def forwarder(self) -> TzForwarder:
        return self.settings["tz_forwarder"]

    def tz_error(self, status: int, message: str, reason: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    async def forward(
        self, path: str, method: str, body: bytes | None, headers: dict[str, str]
    ) -> None:
        fw = self.forwarder
        if not fw.service_url or not fw.token:
            self.tz_error(
                503,
                "the TZ service is not configured for this server "
                "(TZ_SERVICE_URL / JUPYTERHUB_API_TOKEN missing)",
                "NotConfigured",
            )
            return
        url = url_path_join(fw.service_url, path)
        stream = (
            "text/event-stream" in headers.get("Accept", "")
            or self.get_query_argument("follow", "") in ("1", "true")
            or path.endswith(LONG_RESPONSE_SUFFIXES)
        )
        started = False

        def on_header(line: str) -> None:
            nonlocal started
            if line.startswith("HTTP/"):
                self.set_status(int(line.split(" ", 2)[1]))
                return
            name, _, value = line.partition(":")
            if name.strip().lower() in {h.lower() for h in FORWARD_RESPONSE_HEADERS}:
                self.set_header(name.strip(), value.strip())
            elif name.strip().lower() == "location":
                self.set_header("Location", self.rewrite_location(value.strip()))

        def on_chunk(chunk: bytes) -> None:
            nonlocal started
            if self.request.connection.stream is None or self.request.connection.stream.closed():
                raise StreamClosedError()  # the browser left: stop reading upstream
            started = True
            self.write(chunk)
            asyncio.ensure_future(self.flush())

        # _xsrf is for this server (EventSource cannot send the header); never pass it on.
        query = urlencode(
            [(k, v) for k, vs in self.request.query_arguments.items() if k != "_xsrf" for v in vs]
        )
        request = httpclient.HTTPRequest(
            url + (f"?{query}" if query else ""),
            method=method,
            headers={**headers, "Authorization": f"token {fw.token}"},
            body=body if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
            header_callback=on_header,
            streaming_callback=on_chunk,
            request_timeout=fw.stream_timeout if stream else fw.request_timeout,
            connect_timeout=10,
            follow_redirects=False,
        )
        try:
            await fw.http.fetch(request, raise_error=False)
        except StreamClosedError:
            return
        except (OSError, httpclient.HTTPError) as e:
            if not started:
                self.log.warning("TZ service unreachable at %s: %s", fw.service_url, e)
                self.clear_header("Content-Type")
                self.clear_header("Content-Length")
                self.tz_error(
                    502, "the TZ service is unreachable; try again shortly", "ServiceUnavailable"
                )
            return
        if not self._finished:
            self.finish()

    def rewrite_location(self, location: str) -> str:
        marker = "/api/v1/"
        if marker in location:
            return url_path_join(self.base_url, "tz/api/v1", location.split(marker, 1)[1])
        return location

    def request_headers(self) -> dict[str, str]:
        return {
            h: self.request.headers[h] for h in FORWARD_REQUEST_HEADERS if h in self.request.headers
        }


class ForwardHandler(TzHandler):
    """``/tz/api/v1/<path>`` → ``<service>/api/v1/<path>``, same verb, body and query."""

    async def _forward(self, path: str) -> None:
        await self.forward(
            f"api/v1/{quote(path, safe='/')}",  # tornado decoded it; send it as it came
            self.request.method or "GET",
            self.request.body,
            self.request_headers(),
        )

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self._forward(path)

    @web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self._forward(path)


MAX_PART_BYTES = 5 * 1024**3  # S3's largest part; the service checks each part's exact size
# The part's CRC32 as the browser computed it: the service and S3 check the bytes against it.
PART_HEADERS = (CRC32_HEADER,)


@web.stream_request_body
class PartForwardHandler(ClosesOnError, TzHandler):
    """``PUT /tz/api/v1/uploads/<id>/parts/<n>``: the body flows on to the service as it arrives.

    A browser sends parts of 16 MiB or more; buffering them here would hold them in this server's
    memory (and jupyter-server's body limit would apply), so chunks are relayed with back-pressure.
    """

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # Stream handlers run before the verb method, so check what @authenticated/@authorized do.
        if self.current_user is None:
            raise web.HTTPError(403, "authentication required")
        if not self.authorizer.is_authorized(self, self.current_user, "write", self.auth_resource):
            raise web.HTTPError(403, "not authorized to use the TZ API")
        self.request.connection.set_max_body_size(MAX_PART_BYTES)  # type: ignore[union-attr]
        read_in_big_chunks(self.request.connection)
        length = self.request.headers.get("Content-Length")
        self.relay = BodyRelay(lambda body: self.send_on(length, body))

    async def send_on(self, length: str | None,
                      body: AsyncIterator[bytes]) -> httpclient.HTTPResponse | None:  # fmt: skip
        fw = self.forwarder
        if not fw.service_url or not fw.token or length is None:
            return None

        async def producer(write: Any) -> None:
            async for chunk in body:
                await write(chunk)

        headers = {
            "Authorization": f"token {fw.token}",
            "Content-Length": length,
            "Content-Type": "application/octet-stream",
        }
        for name in PART_HEADERS:
            if (value := self.request.headers.get(name)) is not None:
                headers[name] = value
        request = httpclient.HTTPRequest(
            url_path_join(fw.service_url, "api/v1", self.path_args[0]),
            method="PUT",
            headers=headers,
            body_producer=producer,
            request_timeout=fw.stream_timeout,
            connect_timeout=10,
        )
        return await fw.http.fetch(request, raise_error=False)

    async def data_received(self, chunk: bytes) -> None:
        await self.relay.feed(chunk)

    def on_connection_close(self) -> None:
        if hasattr(self, "relay"):
            self.relay.abort()  # the browser hung up: hang up on the service too

    async def put(self, path: str) -> None:
        if self.request.headers.get("Content-Length") is None:
            self.tz_error(411, "Content-Length: required for upload parts", "InvalidField")
            return
        try:
            response = await self.relay.end()
        except (OSError, httpclient.HTTPError) as e:
            self.log.warning("TZ service unreachable at %s: %s", self.forwarder.service_url, e)
            response = None
        if response is None:
            self.tz_error(502, "the TZ service is unreachable; try again shortly",
                          "ServiceUnavailable")  # fmt: skip
            return
        self.set_status(response.code)
        self.set_header("Content-Type", response.headers.get("Content-Type", "application/json"))
        self.finish(response.body or b"")


class SnapshotHandler(TzHandler):
    """``POST /tz/snapshot {"path": "dir"}``: pack a folder of the Lab root, upload it."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body: Any = json.loads(self.request.body or b"{}")
        except ValueError:
            self.tz_error(400, 'body: must be JSON like {"path": "folder"}', "InvalidField")
            return
        rel = body.get("path", "") if isinstance(body, dict) else None
        if not isinstance(rel, str):
            self.tz_error(
                400, "path: must be a folder path relative to the Lab root", "InvalidField"
            )
            return
        try:
            folder = lab_path(self.settings["server_root_dir"], rel, "path")
        except LabPathError as e:
            self.tz_error(400, str(e), "InvalidField")
            return
        if not os.path.isdir(folder):
            self.tz_error(400, f"path: {rel or '.'} is not a folder", "InvalidField")
            return
        try:
            data = await asyncio.to_thread(pack_directory, folder)
        except SnapshotTooLarge as e:
            self.tz_error(413, f"path: {e}", "SnapshotTooLarge")
            return
        await self.forward("api/v1/snapshots", "POST", data, {"Content-Type": "application/gzip"})


class LabCopyHandler(TzHandler):
    """``POST /tz/workspace/to-lab`` and ``/from-lab``: see :mod:`.labcopy`."""

    @web.authenticated
    @authorized
    async def post(self, direction: str) -> None:
        fw = self.forwarder
        if not fw.service_url or not fw.token:
            self.tz_error(503, "the TZ service is not configured for this server", "NotConfigured")
            return
        try:
            body: Any = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.tz_error(400, "body: must be a JSON object", "InvalidField")
            return
        overwrite = body.get("overwrite", False)
        client = ServiceClient(fw.service_url, fw.token, fw.http)
        try:
            if not isinstance(overwrite, bool):
                raise LabPathError("overwrite: must be true or false")
            local = lab_path(self.settings["server_root_dir"], body.get("lab_path"))
            space, path = body.get("space"), body.get("path")
            if direction == "to-lab":
                result = await labcopy.to_lab(client, space, path, local, overwrite)
            else:
                result = await labcopy.from_lab(client, local, space, path, overwrite)
        except LabPathError as e:
            self.tz_error(400, str(e), "InvalidField")
            return
        except ServiceError as e:
            self.set_status(e.code)
            self.set_header("Content-Type", "application/json")
            self.finish(e.body)
            return
        except (OSError, httpclient.HTTPError) as e:
            self.log.warning("copy %s failed: %s", direction, e)
            self.tz_error(502, f"the copy failed: {e.__class__.__name__}; try again",
                          "CopyFailed")  # fmt: skip
            return
        self.finish(json.dumps(result))


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    base = web_app.settings["base_url"]
    web_app.settings["tz_forwarder"] = TzForwarder(parent=serverapp)
    web_app.add_handlers(".*$", [
        (url_path_join(base, r"tz/api/v1/(uploads/[0-9a-f]{32}/parts/[0-9]{1,6})"),
         PartForwardHandler),
        (url_path_join(base, r"tz/api/v1/(.*)"), ForwardHandler),
        (url_path_join(base, r"tz/snapshot"), SnapshotHandler),
        (url_path_join(base, r"tz/workspace/(to-lab|from-lab)"), LabCopyHandler),
    ])  # fmt: skip
    serverapp.log.info(
        "training_zoo: forwarding /tz/api/v1 to %s",
        web_app.settings["tz_forwarder"].service_url or "(not configured)",
    )


# jupyter-server < 2 name, kept so older servers still load it.
load_jupyter_server_extension = _load_jupyter_server_extension
