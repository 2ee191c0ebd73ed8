"""``ObjectStore``: an HTTP server that answers GET with what it holds and keeps what is PUT, a
stand-in for presigned URLs in the pod tests, where a real store cannot answer 403 (an expired
URL) or serve other bytes on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    store: ObjectStore

    def do_GET(self):  # noqa: N802
        self.store.gets.append(self.path)
        data = self.store.objects.get(self.path)
        status = self.store.statuses.get(self.path, 200 if data is not None else 404)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(data if status == 200 and data is not None else b"")

    def do_PUT(self):  # noqa: N802
        self.store.objects[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class ObjectStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}
        self.statuses: dict[str, int] = {}  # path -> status to answer instead
        self.gets: list[str] = []


@contextmanager
def object_store() -> Iterator[ObjectStore]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.store = store = ObjectStore(f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield store
    finally:
        server.shutdown()
        server.server_close()
