"""An in-memory workspace, upload-session and datasets API behind ``httpx.MockTransport``.

Exports
-------
FakeDataApi
    The fake service of the data module (``/workspace``, ``/uploads``, ``/datasets``), following
    the shared contract closely enough for SDK, CLI and magics tests: parts are stored with their
    MD5 as ETag, ``GET /uploads`` lists open sessions, errors are ``{"message", "reason"}``.
    ``fail_parts`` makes chosen part numbers fail with 503 a number of times, and ``corrupt``
    answers a wrong ETag once for a part; ``changed`` flips a byte of a part once on its way, which
    the part's ``X-TZ-Checksum-CRC32`` then refuses, as the service does; ``requests`` records
    every request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import posixpath
import threading
import uuid
import zlib
from typing import Any

import httpx

from training_zoo.client import Client

API_URL = "http://hub.test/services/tz/api/v1"
TOKEN = "tz-test-token"


def _error(status: int, message: str, reason: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message, "reason": reason})


class FakeDataApi:
    """In-memory data module of the TZ service for user ``alice`` (space ``user:alice``)."""

    def __init__(self, user: str = "alice", page_size: int = 2) -> None:
        self.user = user
        self.page_size = page_size
        self.files: dict[str, bytes] = {}  # "space/path" -> bytes
        self.folders: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self.fail_parts: dict[int, int] = {}
        self.corrupt: set[int] = set()
        self.changed: set[int] = set()
        # What a session's status says of each part, as stores differ: "md5" (an MD5 ETag, no
        # checksum: moto), "crc32" (a CRC32 and an ETag that is no MD5: S3 with KMS keys), or
        # "opaque" (neither can be checked).
        self.receipts = "md5"
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    def client(self, **kwargs: Any) -> Client:
        return Client(API_URL, TOKEN, transport=self.transport, **kwargs)

    def part_puts(self) -> list[int]:
        """Numbers of the parts sent, in order."""
        return [
            int(r.url.path.rsplit("/", 1)[1])
            for r in self.requests
            if r.method == "PUT" and "/parts/" in r.url.path
        ]

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
            parts = request.url.path.split("/api/v1/", 1)[1].strip("/").split("/")
            try:
                return self._route(request, parts, request.url.params)
            except KeyError as exc:
                return _error(404, f"{exc.args[0]} not found", "NotFound")

    def _body(self, request: httpx.Request) -> dict[str, Any]:
        return json.loads(request.content or b"{}")

    def _route(self, request: httpx.Request, parts: list[str], q: Any) -> httpx.Response:
        method = request.method
        if parts[0] == "workspace":
            return self._workspace(request, parts[1], q)
        if parts[0] == "uploads":
            return self._uploads(request, parts[1:])
        if parts[0] == "datasets":
            return self._datasets(method, parts[1:], q, request)
        return _error(404, f"no route {method} {'/'.join(parts)}", "NotFound")

    # -- workspace -------------------------------------------------------------------------

    def _item(self, space: str, path: str) -> dict[str, Any]:
        key = f"{space}/{path}"
        if key in self.files:
            return {"name": posixpath.basename(path), "path": path, "type": "file",
                    "size": len(self.files[key]), "modified": "2026-01-02T03:04:05Z"}  # fmt: skip
        if key in self.folders or not path:
            return {"name": posixpath.basename(path), "path": path, "type": "folder",
                    "size": None, "modified": None}  # fmt: skip
        raise KeyError(path)

    def _workspace(self, request: httpx.Request, action: str, q: Any) -> httpx.Response:
        if action == "spaces":
            return httpx.Response(200, json={"items": [
                {"space": f"user:{self.user}", "kind": "user", "name": self.user},
                {"space": "team:vision", "kind": "team", "name": "vision"},
            ]})  # fmt: skip
        if action == "stat":
            return httpx.Response(200, json=self._item(q["space"], q["path"]))
        if action == "list":
            space, folder = q["space"], q.get("path", "")
            self._item(space, folder)
            prefix = f"{space}/{folder}/" if folder else f"{space}/"
            names = sorted(
                {k[len(prefix) :].split("/")[0] for k in [*self.files, *self.folders]
                 if k.startswith(prefix)}
            )  # fmt: skip
            start = int(q.get("cursor") or 0)
            page = names[start : start + self.page_size]
            items = [self._item(space, posixpath.join(folder, n)) for n in page]
            more = start + self.page_size < len(names)
            nxt = str(start + self.page_size) if more else None
            return httpx.Response(200, json={"items": items, "next": nxt})
        if action == "download":
            data = self.files[f"{q['space']}/{q['path']}"]
            return httpx.Response(200, content=data, headers={"Content-Length": str(len(data))})
        body = self._body(request)
        if action == "mkdir":
            key = f"{body['space']}/{body['path']}"
            if key in self.folders and not body.get("exist_ok"):
                return _error(409, f"{body['path']} exists", "Conflict")
            path = body["path"]
            while path:
                self.folders.add(f"{body['space']}/{path}")
                path = posixpath.dirname(path)
            return httpx.Response(201, json=self._item(body["space"], body["path"]))
        if action in ("move", "copy"):
            src, dst = f"{body['space']}/{body['path']}", f"{body['space']}/{body['target']}"
            self.files[dst] = self.files[src]
            if action == "move":
                del self.files[src]
            return httpx.Response(200, json=self._item(body["space"], body["target"]))
        if action == "files" and request.method == "DELETE":
            key = f"{q['space']}/{q['path']}"
            self.files.pop(key, None)
            self.folders.discard(key)
            for k in [k for k in self.files if k.startswith(key + "/")]:
                del self.files[k]
            return httpx.Response(204)
        return _error(404, f"no route {action}", "NotFound")

    # -- uploads ---------------------------------------------------------------------------

    def _uploads(self, request: httpx.Request, rest: list[str]) -> httpx.Response:
        public = ("id", "space", "path", "size", "part_size", "parts", "created")
        if not rest:
            if request.method == "GET":
                items = [{k: s[k] for k in public} for s in self.sessions.values()]
                return httpx.Response(200, json={"items": items})
            body = self._body(request)
            key = f"{body['space']}/{body['path']}"
            if key in self.files and not body.get("overwrite"):
                return _error(409, f"{body['path']} exists; pass overwrite", "Conflict")
            part_size = body.get("part_size") or 16 << 20
            sid = uuid.uuid4().hex
            self.sessions[sid] = {
                "id": sid, "space": body["space"], "path": body["path"], "size": body["size"],
                "part_size": part_size, "parts": math.ceil(body["size"] / part_size),
                "created": f"2026-01-02T03:04:{len(self.sessions):02d}Z", "data": {},
            }  # fmt: skip
            return httpx.Response(201, json=self._status(self.sessions[sid]))
        session = self.sessions[rest[0]]
        if len(rest) == 1 and request.method == "GET":
            return httpx.Response(200, json=self._status(session))
        if len(rest) == 1 and request.method == "DELETE":
            del self.sessions[rest[0]]
            return httpx.Response(204)
        if rest[1:2] == ["parts"]:
            number = int(rest[2])
            if self.fail_parts.get(number):
                self.fail_parts[number] -= 1
                return _error(503, "storage unavailable", "BackendUnavailable")
            content = request.content
            if number in self.changed:
                self.changed.discard(number)
                content = bytes([content[0] ^ 1]) + content[1:]
            crc = request.headers.get("X-TZ-Checksum-CRC32")
            if crc is not None and crc != base64.b64encode(
                zlib.crc32(content).to_bytes(4, "big")
            ).decode():
                return _error(400, f"X-TZ-Checksum-CRC32: part {number} arrived with other "
                              "bytes; nothing was kept: send the part again", "InvalidField")
            session["data"][number] = content
            etag = hashlib.md5(content).hexdigest()
            if number in self.corrupt:
                self.corrupt.discard(number)
                etag = "0" * 32
            return httpx.Response(200, json={"number": number, "size": len(content),
                                             "etag": etag})  # fmt: skip
        if rest[1:2] == ["complete"]:
            data = b"".join(session["data"][n] for n in range(1, session["parts"] + 1))
            assert len(data) == session["size"]
            self.files[f"{session['space']}/{session['path']}"] = data
            del self.sessions[session["id"]]
            return httpx.Response(200, json=self._item(session["space"], session["path"]))
        return _error(404, "no route", "NotFound")

    def _status(self, session: dict[str, Any]) -> dict[str, Any]:
        def receipt(n: int, d: bytes) -> dict[str, Any]:
            md5 = self.receipts == "md5"
            crc = base64.b64encode(zlib.crc32(d).to_bytes(4, "big")).decode()
            return {"number": n, "size": len(d),
                    "etag": hashlib.md5(d).hexdigest() if md5 else f"kms-{n}",
                    "crc32": crc if self.receipts == "crc32" else None}  # fmt: skip

        received = [receipt(n, d) for n, d in sorted(session["data"].items())]
        return {**{k: v for k, v in session.items() if k != "data"}, "received": received}

    # -- datasets --------------------------------------------------------------------------

    def add_dataset(self, name: str, **fields: Any) -> dict[str, Any]:
        ds_id = "ds-" + hashlib.sha256(name.encode()).hexdigest()[:12]
        dataset = {
            "id": ds_id, "name": name, "owner": self.user, "type": "generic",
            "visibility": "private", "team": None, "labels": [], "description": "",
            "created": "2026-01-02T03:04:05.678Z", "updated": "2026-01-02T03:04:05.678Z",
            "draft": {"files": 0, "bytes": 0, "labeled": 0, "revision": 0},
            "latest_version": None, "versions": 0, **fields,
        }  # fmt: skip
        self.datasets[ds_id] = dataset
        self.versions[ds_id] = []
        return dataset

    def _by_ref(self, ref: str) -> dict[str, Any]:
        name = ref.split(":", 1)[0].split("/")[-1]
        for dataset in self.datasets.values():
            if dataset["name"] == name:
                return dataset
        raise KeyError(f"dataset {ref}")

    def _datasets(
        self, method: str, rest: list[str], q: Any, request: httpx.Request
    ) -> httpx.Response:
        if not rest:
            if method == "POST":
                return httpx.Response(201, json=self.add_dataset(**self._body(request)))
            items = [d for d in self.datasets.values() if not q.get("type") or
                     d["type"] == q["type"]]  # fmt: skip
            return httpx.Response(200, json={"items": items, "_pagination": {"next": None}})
        if rest == ["resolve"]:
            dataset = self._by_ref(q["ref"])
            latest = (self.versions[dataset["id"]] or [None])[0]
            return httpx.Response(200, json={"dataset": dataset, "version": latest})
        dataset = self.datasets[rest[0]]
        if len(rest) == 1:
            return httpx.Response(200, json=dataset)
        if rest[1] == "versions" and len(rest) == 2:
            return httpx.Response(200, json={"items": self.versions[dataset["id"]]})
        if rest[1] == "publish":
            number = len(self.versions[dataset["id"]]) + 1
            version = {"version": f"V{number:03d}", "files": 0, "bytes": 0, "note": None,
                       "created": "2026-01-03T00:00:00Z", "created_by": self.user}  # fmt: skip
            self.versions[dataset["id"]].insert(0, version)
            dataset["latest_version"] = version["version"]
            return httpx.Response(201, json=version)
        if rest[1] == "versions" and rest[3:] == ["diff"]:
            return httpx.Response(200, json={"added": ["new.jpg"], "removed": ["old.jpg"],
                "relabeled": [{"key": "x.jpg", "before": {"labels": ["cat"]},
                               "after": {"labels": ["dog"]}}],
                "counts": {"added": 1, "removed": 1, "relabeled": 1}})  # fmt: skip
        return _error(404, "no route", "NotFound")


__all__ = ["API_URL", "TOKEN", "FakeDataApi"]
