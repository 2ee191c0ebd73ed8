"""The part checksum every TZ client and the service agree on.

A part travels with the CRC32 its client computed, in the form S3 writes ``x-amz-checksum-crc32``
(base64 of the 4 big-endian bytes), so the service can hand it to ``UploadPart`` unchanged. The
SDK/CLI compute it here; the Lab computes the same value in ``labextension/src/uploads/crc32.ts``.
"""

from __future__ import annotations

import base64
import re

CRC32_HEADER = "X-TZ-Checksum-CRC32"
CRC32_RE = re.compile(r"^[A-Za-z0-9+/]{6}==$")  # 4 bytes in base64


def crc32_text(crc: int) -> str:
    """``crc`` (as ``zlib.crc32`` returns it) in the header's and S3's form."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def crc32_int(text: str) -> int:
    """The value of a header already checked against ``CRC32_RE``."""
    return int.from_bytes(base64.b64decode(text), "big")
