"""Folders and versions downloaded as one ZIP file, streamed while it is made: a workspace
folder, a published dataset version, a model version.

Nothing is held whole: each file is read from storage in 1 MiB chunks and written into the
archive as it comes, and the bytes of the archive go to the client as they are produced, so a
folder of any size downloads in constant memory. Entries are *stored* (not compressed): most of
what a training team keeps (images, video, archives, model weights) is compressed already, and
deflating on the service would make it CPU-bound. The archive is written for a stream: each
entry's CRC32 and sizes follow its data (a data descriptor), ZIP64 is used for files of 2 GiB and
more, and the central directory ends the stream. unzip, 7-Zip, Windows Explorer, macOS Archive
Utility and Python's ``zipfile`` read it.
"""

from __future__ import annotations

import posixpath
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from .workspace import WalkedFile

# zipfile switches to ZIP64 on its own only past 4 GiB; a file that grows while it is read must
# not cross that line in a header written for 32-bit sizes.
_ZIP64_FROM = 1 << 31


class _Sink:
    """The archive's output: zipfile writes into it, the generator hands the bytes on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _date_time(stamp: float) -> tuple[int, int, int, int, int, int]:
    # ZIP stores local wall-clock time from 1980 on, to the even second.
    t = time.localtime(max(stamp, 315532800.0 + 86400))
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


async def zip_stream(
    root: str,
    files: Sequence[WalkedFile],
    read: Callable[[WalkedFile], Awaitable[AsyncIterator[bytes] | None]],
) -> AsyncIterator[bytes]:
    """The bytes of a ZIP holding ``files`` (at their ``rel`` paths) under the folder name
    ``root``.

    ``read(file)`` opens one file's bytes (``None`` when it is gone meanwhile: it is left out).
    An error the bytes raise (a checksum that does not match) ends the stream there, so the
    client never receives a complete archive.
    """
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED)  # type: ignore[arg-type]
    for f in files:
        chunks = await read(f)
        if chunks is None:
            continue  # deleted since the folder was listed
        info = zipfile.ZipInfo(posixpath.join(root, f.rel), _date_time(f.modified))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = f.size
        info.external_attr = 0o644 << 16
        try:
            with archive.open(info, "w", force_zip64=f.size >= _ZIP64_FROM) as out:
                async for chunk in chunks:
                    out.write(chunk)
                    if data := sink.take():
                        yield data
        finally:  # the client may hang up mid-file: close the object being read
            await chunks.aclose()  # type: ignore[attr-defined]
        if data := sink.take():
            yield data
    archive.close()
    yield sink.take()
