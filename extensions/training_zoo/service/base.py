"""``TzAPIHandler``: the base of every TZ REST handler.

It authenticates the hub token with ``HubAuth`` (header only: the service never reads cookies),
checks the scope each verb requires, parses and validates JSON bodies, paginates lists, streams
Server-Sent Events and turns every error into ``{"message", "reason", "errors"?}`` with no
traceback.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from jupyterhub.services.auth import HubAuth, check_scopes
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import Forbidden, InvalidRequest, NotFound, TzError, Unauthorized
from ..identity import Identity

KEEPALIVE_SECONDS = 15.0
MAX_LIMIT = 200


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A header both old and new browsers read (RFC 6266 ``filename*``), never breakable."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name)
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class TzAPIHandler(web.RequestHandler):
    """Base handler. Subclasses set ``required_scopes = {"GET": "custom:tz:jobs:read", ...}``."""

    required_scopes: dict[str, str] = {}

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    @property
    def log(self):  # type: ignore[no-untyped-def]
        return self.settings["log"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:
        # Token-only API: no cookies are honoured, so there is nothing to forge.
        return

    async def prepare(self) -> None:
        self.identity = await self.authenticate()
        required = self.required_scopes.get(self.request.method or "")
        if required is None:
            raise web.HTTPError(405)
        if not check_scopes({required}, self.identity.scopes):
            raise Forbidden(f"this action needs the {required} scope", reason="MissingScope")

    async def authenticate(self) -> Identity:
        token = self.hub_auth.get_token(self, in_cookie=False)
        if not token:
            raise Unauthorized(
                "authentication required: send 'Authorization: token <JupyterHub token>'",
                reason="NoToken",
            )
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model:
            raise Unauthorized("invalid or expired token", reason="InvalidToken")
        scopes = frozenset(model.get("scopes") or [])
        access = self.hub_auth.access_scopes
        if access and not check_scopes(access, scopes):
            raise Forbidden("this token may not access the tz service", reason="NoServiceAccess")
        kind = model.get("kind", "user")
        name = model.get("name") or ""
        return Identity(
            name=name, kind=kind, groups=tuple(model.get("groups") or ()), scopes=scopes
        )

    # ---- input -----------------------------------------------------------------------------

    def get_json_body(self, *, required: bool = True) -> Any:
        raw = self.request.body
        if not raw:
            if required:
                raise InvalidRequest.field("body", "a JSON object is required")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest.field("body", "must be UTF-8 encoded JSON") from None
        try:
            return json.loads(text)
        except ValueError as e:
            raise InvalidRequest.field("body", f"invalid JSON: {e.msg} at {e.pos}") from None

    def text_argument(self, name: str, default: str = "") -> str:
        """A query argument exactly as sent.

        Tornado's ``get_query_argument`` replaces control characters with spaces and strips
        whitespace, which would quietly turn a hostile name (``a\x00b``) into a different, valid
        one (``a b``); paths must be refused, not rewritten.
        """
        values = self.request.query_arguments.get(name)
        if not values:
            return default
        if len(values) > 1:
            raise InvalidRequest.field(name, "given more than once")
        try:
            return values[0].decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest.field(name, "must be UTF-8 text") from None

    def int_argument(self, name: str, default: int | None, low: int, high: int) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidRequest.field(name, "must be an integer") from None
        if not low <= value <= high:
            raise InvalidRequest.field(name, f"must be between {low} and {high}")
        return value

    def bool_argument(self, name: str) -> bool:
        raw = (self.get_query_argument(name, "") or "").lower()
        if raw in ("", "0", "false", "no"):
            return False
        if raw in ("1", "true", "yes"):
            return True
        raise InvalidRequest.field(name, "must be true or false")

    def pagination(self) -> tuple[int, int]:
        offset = self.int_argument("offset", 0, 0, 10**9)
        limit = self.int_argument("limit", 50, 1, MAX_LIMIT)
        return offset or 0, limit or 50

    # ---- output ----------------------------------------------------------------------------

    async def send_file(
        self,
        name: str,
        size: int,
        chunks: AsyncIterator[bytes],
        *,
        inline_types: frozenset[str] = frozenset(),
        etag: str | None = None,
    ) -> None:
        """Stream a stored file: inline only for ``inline_types`` (images an ``<img>`` shows),
        an attachment otherwise, and sandboxed so user bytes never run as a page of ours."""
        kind = mimetypes.guess_type(name)[0]
        inline = kind in inline_types
        self.set_header("Content-Type", kind if inline else "application/octet-stream")
        disposition = "inline" if inline else "attachment"
        self.set_header("Content-Disposition", content_disposition(name, disposition))
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Content-Length", str(size))
        self.set_header("Cache-Control", "private, max-age=0")
        if etag:
            self.set_header("ETag", f'"{etag}"')
        await self.send_chunks(chunks)

    async def send_zip(self, name: str, chunks: AsyncIterator[bytes]) -> None:
        """Stream a ZIP made while it is sent (no ``Content-Length``: a cut connection is the
        only sign of a failure once bytes are out, see :meth:`send_chunks`)."""
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", content_disposition(name))
        self.set_header("Cache-Control", "private, max-age=0")
        await self.send_chunks(chunks)

    async def send_chunks(self, chunks: AsyncIterator[bytes]) -> None:
        """Stream a body whose headers (Content-Length...) are set, then finish.

        A ``TzError`` raised mid-stream (bytes changed under us) cannot become an error answer:
        the headers are out. The only honest signal left is a cut connection, so the client sees
        fewer bytes than ``Content-Length`` (or no last chunk). A client that hangs up ends the
        stream quietly, and the object being read is closed either way.
        """
        try:
            async for chunk in chunks:
                self.write(chunk)
                await self.flush()
        except StreamClosedError:
            return
        except TzError as exc:
            self.log.warning("%s %s: %s", self.request.method, self.request.path, exc.log_message)
            if self.request.connection is not None:
                self.request.connection.close()  # type: ignore[attr-defined]
            return
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        self.finish()

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_page(self, items: list, total: int, offset: int, limit: int) -> None:
        nxt = None
        if offset + len(items) < total:
            url = self.request.path + f"?offset={offset + limit}&limit={limit}"
            nxt = {"offset": offset + limit, "limit": limit, "url": url}
        self.write_json({
            "items": items,
            "_pagination": {"offset": offset, "limit": limit, "total": total, "next": nxt},
        })  # fmt: skip

    def start_sse(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        # Tell nginx-style proxies not to buffer the stream.
        self.set_header("X-Accel-Buffering", "no")

    async def send_sse(self, data: Any, event: str | None = None) -> None:
        head = f"event: {event}\n" if event else ""
        self.write(f"{head}data: {json.dumps(data)}\n\n")
        await self.flush()

    async def stream_sse(self, items: AsyncIterator[Any]) -> None:
        """Send every item of ``items`` as an SSE message, with keepalives while it waits."""
        iterator = aiter(items)
        pending: asyncio.Future | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(iterator))
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
                if not done:
                    self.write(": keepalive\n\n")
                    await self.flush()
                    continue
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                await self.send_sse(item)
        except StreamClosedError:
            return  # the client went away: stop quietly
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    # ---- errors ----------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        body: dict[str, Any] = {"message": self._reason, "reason": None}
        if isinstance(exc, TzError):
            body = {"message": exc.message, "reason": exc.reason}
            if exc.errors:
                body["errors"] = exc.errors
        elif isinstance(exc, web.HTTPError):
            body = {"message": exc.log_message or self._reason, "reason": exc.reason}
        elif status_code >= 500:
            body = {"message": "Unhandled error", "reason": "InternalError"}
        self.finish(json.dumps(body))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, TzError):
            self.log.warning(
                "%s %s -> %s %s",
                self.request.method,
                self.request.path,
                e.status_code,
                e.log_message,
            )
            if not self._finished:
                self.send_error(e.status_code, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


class NotFoundHandler(TzAPIHandler):
    """Any unknown path under the service: a JSON 404 (after authentication)."""

    async def prepare(self) -> None:
        await self.authenticate()
        # A TzError, not HTTPError: its message is sent as is (a path may hold '%').
        raise NotFound(f"no such API route: {self.request.path}", reason="NoSuchRoute")
