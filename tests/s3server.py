"""``moto_s3()``: a real S3 endpoint (moto's server, in a thread) with test credentials in the
environment, for tests of what TZ keeps on object storage."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator

import s3fs
from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[str]:
    """Start moto, set the credentials in ``os.environ``, create ``bucket``; yield the URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    url = f"http://127.0.0.1:{port}"
    try:
        s3fs.S3FileSystem(client_kwargs={"endpoint_url": url}, skip_instance_cache=True).mkdir(
            bucket
        )
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
