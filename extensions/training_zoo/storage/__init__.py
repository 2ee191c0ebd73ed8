"""TZ object storage on fsspec: a local folder by default, S3 (AWS, MinIO, OBS, Ceph RGW) by config.

Exports :class:`TzStorage` and :func:`join_key`. Only the TZ service holds storage
credentials.
Keys are ``/``-separated, relative to the configured root; :func:`join_key` refuses anything that
could step outside it (``..``, absolute paths, backslashes, NUL), so a user-named path can never
reach
another prefix.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from typing import Any

import fsspec
import fsspec.asyn
from botocore.config import Config
from traitlets import Dict, Unicode, default
from traitlets.config import LoggingConfigurable

PRESIGNED_PUT_TYPE = "application/octet-stream"


def join_key(*parts: str) -> str:
    """Join key parts under the storage root, refusing traversal.

    Raises
    ------
    ValueError
        If a part is empty, absolute, or contains ``..``, a backslash or a NUL byte.
    """
    clean = []
    for part in parts:
        if not part or "\\" in part or "\x00" in part or part.startswith("/"):
            raise ValueError(f"invalid storage key part: {part!r}")
        for piece in part.split("/"):
            if piece in ("", ".", ".."):
                raise ValueError(f"invalid storage key part: {part!r}")
            clean.append(piece)
    return posixpath.join(*clean)


S3_CHECKSUMS = {"request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required"}  # fmt: skip


def _unsigned_when_checksummed(request: Any, **_: Any) -> None:
    """``before-sign.s3.UploadPart``: send a part that carries its CRC32 with an unsigned payload.

    Over plain http botocore otherwise hashes every byte with SHA-256 for the signature. The
    CRC32 header is signed and S3 checks the bytes against it: the integrity botocore itself
    settles for over HTTPS, where it leaves payloads that carry a checksum unsigned.
    """
    config = request.context.get("client_config")
    if config is None or "x-amz-checksum-crc32" not in request.headers:
        return
    s3 = dict(config.s3 or {}, payload_signing_enabled=False)
    request.context["client_config"] = config.merge(Config(s3=s3))


def _trailer_for_streamed_parts(params: dict, **_: Any) -> None:
    """``before-call.s3.UploadPart``: a streamed body's checksum goes in a trailer.

    botocore uses trailers (aws-chunked, ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``) only over
    HTTPS and otherwise puts the checksum in a header, which would mean reading the whole part
    before sending its first byte. A body marked ``tz_streamed`` is sent as it arrives, with the
    CRC32 computed on the way and checked by S3 at the end, whatever the scheme.
    """
    algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if getattr(params.get("body"), "tz_streamed", False) and isinstance(algorithm, dict):
        algorithm["in"] = "trailer"


def add_tz_hooks(client: Any) -> Any:
    """Register TZ's request hooks on an S3 client (idempotent: a client keeps them once)."""
    client.meta.events.register("before-sign.s3.UploadPart", _unsigned_when_checksummed,
                                unique_id="tz-unsigned-when-checksummed")  # fmt: skip
    client.meta.events.register("before-call.s3.UploadPart", _trailer_for_streamed_parts,
                                unique_id="tz-trailer-for-streamed-parts")  # fmt: skip
    return client


class TzStorage(LoggingConfigurable):
    """Where TZ keeps code snapshots, job outputs and logs (and later datasets and models)."""

    url = Unicode(
        help="""Root of TZ storage, as an fsspec URL.

        A local folder (``/srv/tz/storage`` or ``file:///srv/tz/storage``) or ``s3://bucket/prefix``.
        Default: ``$TZ_HOME/storage``.
        """,
    ).tag(config=True)

    @default("url")
    def _default_url(self) -> str:
        return os.path.join(os.environ.get("TZ_HOME", os.path.abspath(".tz")), "storage")

    storage_options = Dict(
        help="""Options passed to the fsspec filesystem, e.g. for S3
        ``{"client_kwargs": {"endpoint_url": "http://minio:9000"}, "key": ..., "secret": ...}``.
        Credentials may instead come from the usual ``AWS_*`` environment variables.
        Default: ``{}``.
        """,
    ).tag(config=True)

    def _fs_and_root(self) -> tuple[fsspec.AbstractFileSystem, str]:
        if not hasattr(self, "_fs"):
            options = dict(self.storage_options)
            if self.url.startswith("s3://"):
                # Checksums only where S3 requires them: the CRC32 headers and trailers botocore
                # adds by default since 1.36 are refused by several S3-compatible stores (older
                # MinIO, Ceph RGW, OBS) and cost CPU on every byte uploaded. Integrity stays with
                # SigV4's payload hash (plain http) or TLS. storage_options' config_kwargs win.
                options["config_kwargs"] = {**S3_CHECKSUMS, **options.get("config_kwargs", {})}
            fs, root = fsspec.core.url_to_fs(self.url, **options)
            self._fs, self._root = fs, root.rstrip("/")
        return self._fs, self._root

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs_and_root()[0]

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (for fsspec calls)."""
        return f"{self._fs_and_root()[1]}/{key}"

    def local_path(self, key: str) -> Path | None:
        """A real local path for ``key`` when storage is a local folder, else ``None``."""
        fs, _ = self._fs_and_root()
        if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
            return Path(self.path(key))
        return None

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` so that readers never see a partial object."""
        local = self.local_path(key)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.partial-{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, local)
        else:
            # S3 PUTs are atomic: the object appears whole or not at all.
            self.fs.pipe_file(self.path(key), data)

    def get_bytes(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def put_dir(self, local_dir: Path, key: str) -> None:
        """Copy a local folder to ``key`` (a no-op when it already is that folder)."""
        target = self.local_path(key)
        if target is not None:
            if target.resolve() != Path(local_dir).resolve():
                shutil.copytree(local_dir, target, dirs_exist_ok=True)
            return
        self.fs.put(str(local_dir), self.path(key), recursive=True)

    def presigned_url(self, key: str, method: str = "GET", expires: int = 24 * 3600) -> str:
        """A URL that lets its holder GET (or PUT) exactly ``key`` for ``expires`` seconds.

        How a training pod reads its code and writes its output without any storage credential.

        Raises
        ------
        NotImplementedError
            When storage is a local folder: nothing outside this machine could use the URL.
        """
        if self.local_path(key) is not None:
            raise NotImplementedError(
                "presigned URLs need object storage (TzStorage.url = 's3://...'), not a folder"
            )
        if method == "PUT":
            # The uploader must send exactly this Content-Type: it is part of the signature.
            return self.fs.url(self.path(key), expires=expires, client_method="put_object",
                               ContentType=PRESIGNED_PUT_TYPE)  # fmt: skip
        return self.fs.url(self.path(key), expires=expires, client_method="get_object")

    def presigned_gets(self, paths: list[str], expires: int) -> list[str]:
        """Presigned GET URLs of many objects, named by filesystem path (``path(key)``, or
        ``bucket/key`` for an object of the same store outside the prefix), in one pass.

        Signing is CPU work in botocore, about 0.3 ms per URL (100,000 files: about 30 s, once
        per job attempt, in a worker thread); one pass saves the event-loop hop of each
        ``presigned_url`` call (a quarter of the time).

        Raises
        ------
        NotImplementedError
            When storage is a local folder.
        """
        if self.local_path("probe") is not None:
            raise NotImplementedError(
                "presigned URLs need object storage (TzStorage.url = 's3://...'), not a folder"
            )
        fs = self.fs

        async def sign_all() -> list[str]:
            return [await fs._url(p, expires=expires, client_method="get_object") for p in paths]

        return fsspec.asyn.sync(fs.loop, sign_all)

    def delete(self, key: str) -> None:
        if self.fs.exists(self.path(key)):
            self.fs.rm(self.path(key), recursive=True)
