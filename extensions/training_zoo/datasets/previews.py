"""Previews and thumbnails of workspace and dataset files: pure functions, no tornado, no database.

Exports
-------
preview(name, open_fn, size, *, max_text_bytes=..., max_table_bytes=...) -> dict
    The preview JSON of the API contract, by detected kind:

    - image: ``{"kind": "image", "width", "height", "format"}``
    - table (csv/tsv/parquet): ``{"kind": "table", "columns", "rows", "truncated"}``
    - text: ``{"kind": "text", "text", "truncated"}``
    - json/jsonl: ``{"kind": "json", "value", "truncated"}`` or ``{"kind": "json", "text", ...}``
    - anything else: ``{"kind": "binary", "size"}``
thumbnail(open_fn, size, *, name="image", max_pixels=...) -> bytes
    A JPEG whose longest side is ``size`` pixels.
detect_kind(name, head) -> str
    ``image``, ``csv``, ``tsv``, ``parquet``, ``json``, ``jsonl``, ``text`` or ``binary``.
TzPreviews
    The configurable front: the limits as traitlets, and thumbnails cached in TZ storage under
    ``cache/thumbnails/<sha256>.jpg``.

Why pure: the same code serves workspace files (local folder or S3), dataset drafts and published
versions; the caller only hands over a way to open the bytes. Every function here blocks (file
reads, decoding, Pillow), so the service calls it in a worker thread. Pillow and pyarrow are
imported on first use, so importing this module (and the service) stays cheap.

User files are hostile: nothing here trusts a file name or a header. Text is never interpreted
(CSV cells with HTML stay the exact strings they were; the UI renders them as text), images are
checked against a pixel limit before any decoding (decompression bombs), and a file that is not
what it claims becomes an :class:`~training_zoo.errors.InvalidRequest` naming the file, never a
traceback.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import posixpath
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from traitlets import Instance, Integer
from traitlets.config import LoggingConfigurable

from ..errors import InvalidRequest
from ..storage import TzStorage

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_TABLE_ROWS",
    "THUMBNAIL_MAX",
    "THUMBNAIL_MIN",
    "TzPreviews",
    "detect_kind",
    "preview",
    "thumbnail",
]

KiB = 1024
#: Rows of a table preview (the contract's "≤ 50 rows").
MAX_TABLE_ROWS = 50
#: A cell longer than this is cut and ends with "…": one huge cell must not make the preview huge.
MAX_CELL_CHARS = 1000
#: Bytes of text, JSON and JSON Lines shown (the contract's "≤ 64 KiB").
DEFAULT_MAX_TEXT_BYTES = 64 * KiB
#: Bytes of a CSV/TSV read for its first rows; enough for 50 rows of wide tables.
DEFAULT_MAX_TABLE_BYTES = 1024 * KiB
#: Pillow's own default warning threshold (about 89.5 megapixels: a 0.25 GiB RGB bitmap).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
THUMBNAIL_MIN = 32
THUMBNAIL_MAX = 512
JPEG_QUALITY = 85
THUMBNAIL_PREFIX = "cache/thumbnails"

OpenFn = Callable[[], IO[bytes]]

# Leading bytes decide before the name does: a PNG called notes.txt is still an image, and a
# parquet file needs no extension.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image"),  # JPEG
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"BM", "image"),
    (b"II*\x00", "image"),  # TIFF, little-endian
    (b"MM\x00*", "image"),  # TIFF, big-endian
    (b"PAR1", "parquet"),
)
_IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
_EXTENSION_KINDS: dict[str, str] = {
    **dict.fromkeys(_IMAGE_EXTENSIONS, "image"),
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".geojson": "json",
    ".ipynb": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    # Text whatever its encoding: a cp1252 or GBK .txt is shown with replacement characters
    # rather than as "binary". SVG is here on purpose: it is shown as its XML, never rendered.
    **dict.fromkeys(
        (
            ".txt .md .rst .log .py .yaml .yml .toml .ini .cfg .sh .xml .html .htm .svg .js .ts"
            " .c .h .cpp .java .go .rs .r .sql .tex .names .vocab"
        ).split(),
        "text",
    ),
}
# The only formats Pillow may decode here. An allowlist, so that a user file can never reach EPS or
# PDF (which run Ghostscript) or one of Pillow's rarer, less-hardened plugins. (Camera JPEGs
# with extra pictures still open: the JPEG plugin hands them on as MPO.)
DECODED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")


# -- detection ---------------------------------------------------------------------------------


def _extension(name: str) -> str:
    return posixpath.splitext(posixpath.basename(name.replace("\\", "/")))[1].lower()


def _utf8_prefix(data: bytes) -> str | None:
    """``data`` decoded as UTF-8, allowing a character cut at the end; ``None`` if not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False keeps an incomplete trailing sequence pending instead of failing on it.
        return decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    return _utf8_prefix(head) is not None


def detect_kind(name: str, head: bytes) -> str:
    """The kind of a file from its name and first bytes.

    Parameters
    ----------
    name : str
        File name or key (only its extension is used).
    head : bytes
        The file's first bytes (a few KiB is plenty).

    Returns
    -------
    str
        ``image``, ``parquet``, ``csv``, ``tsv``, ``json``, ``jsonl``, ``text`` or ``binary``.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    ext = _extension(name)
    kind = _EXTENSION_KINDS.get(ext)
    if kind is not None:
        return kind
    return "text" if _looks_like_text(head) else "binary"


# -- helpers -----------------------------------------------------------------------------------


def _file_error(name: str, problem: str) -> InvalidRequest:
    # The file is what the request named (a path or a key): the message says which one.
    return InvalidRequest(f"{name}: {problem}", reason="InvalidFile", errors={"path": problem})


def _read_at_most(f: IO[bytes], limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes, and whether there was more."""
    chunks: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        chunk = f.read(min(remaining, 256 * KiB))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit


def _cap(text: str, limit: int = MAX_CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decode_text(data: bytes, truncated: bool) -> str:
    text = _utf8_prefix(data) if truncated else None
    if text is None:
        # Not UTF-8 (a cp1252 or GBK file named .txt): show it with U+FFFD for the bytes that do
        # not decode rather than nothing; the viewer says what it can.
        text = data.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")


# -- previews by kind --------------------------------------------------------------------------


def _image_preview(name: str, open_fn: OpenFn) -> dict[str, Any]:
    with open_fn() as f, _open_image(name, f, None) as im:
        return {"kind": "image", "width": im.width, "height": im.height, "format": im.format}


def _table_from_csv(data: bytes, truncated: bool, delimiter: str) -> dict[str, Any] | None:
    if truncated:
        # The read stopped mid-file: the last line may be cut; only whole lines are shown.
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else data
    text = _decode_text(data, truncated=False)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = next(reader, [])
        rows: list[list[str]] = []
        more = False
        for row in reader:
            if len(rows) == MAX_TABLE_ROWS:
                more = True
                break
            rows.append([_cap(cell) for cell in row])
    except csv.Error:
        # A NUL byte or a field over csv's size limit: not a table we can show, so the caller
        # shows the text instead.
        return None
    return {
        "kind": "table",
        "columns": [_cap(c) for c in header],
        "rows": rows,
        "truncated": more or truncated,
    }


def _json_cell(value: Any) -> Any:
    """A parquet value as a JSON-safe cell: numbers, booleans and nulls as such, the rest text."""
    if value is None or isinstance(value, bool | str):
        return _cap(value) if isinstance(value, str) else value
    if isinstance(value, int):
        # Beyond 2**53 JavaScript rounds integers; the UI gets the exact digits as text.
        return value if abs(value) <= 2**53 else str(value)
    if isinstance(value, float):
        # NaN and infinities are not JSON.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return _cap(value.hex())
    return _cap(str(value))


def _parquet_preview(name: str, open_fn: OpenFn) -> dict[str, Any]:
    import pyarrow
    import pyarrow.parquet as pq

    with open_fn() as f:
        # Parquet keeps its schema in a footer at the end: pyarrow seeks there and reads only
        # the first row group's pages of the first batch, never the whole file.
        try:
            parquet = pq.ParquetFile(f)
            columns = [_cap(str(c)) for c in parquet.schema_arrow.names]
            batch = next(parquet.iter_batches(batch_size=MAX_TABLE_ROWS), None)
            total = parquet.metadata.num_rows
        except (pyarrow.ArrowException, OSError, ValueError) as exc:
            raise _file_error(name, f"not a readable Parquet file ({exc})") from None
    rows: list[list[Any]] = []
    if batch is not None:
        for record in batch.to_pylist():
            rows.append([_json_cell(v) for v in record.values()])
    return {"kind": "table", "columns": columns, "rows": rows, "truncated": total > len(rows)}


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _json_preview(data: bytes, truncated: bool, lines: bool) -> dict[str, Any]:
    text = _decode_text(data, truncated)
    try:
        if lines:
            if truncated:
                # Only whole lines parse; the cut one is left out and truncated says so.
                text = text[: text.rfind("\n") + 1]
            value: Any = [
                json.loads(line, parse_constant=_no_constants)
                for line in text.splitlines()
                if line.strip()
            ]
        elif truncated:
            raise ValueError("cut")
        else:
            value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        # Invalid, cut, or with NaN (which browsers cannot parse): the raw text instead.
        return {"kind": "json", "text": text, "truncated": truncated}
    return {"kind": "json", "value": value, "truncated": truncated}


def preview(
    name: str,
    open_fn: OpenFn,
    size: int,
    *,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
) -> dict[str, Any]:
    """The preview JSON of one file.

    Parameters
    ----------
    name : str
        The file's name or path: decides the kind with the leading bytes, and names the file in
        errors.
    open_fn : callable
        Opens the file for binary reading; called once per pass and closed after each. Parquet
        needs it to return a seekable file (local files and s3fs files are).
    size : int
        The file's size in bytes (for ``binary``).
    max_text_bytes : int
        Bytes of text/JSON shown at most.
    max_table_bytes : int
        Bytes of a CSV/TSV read at most.

    Returns
    -------
    dict
        See the module docstring.

    Raises
    ------
    InvalidRequest
        An image or parquet file that cannot be read (the message names the file).
    """
    with open_fn() as f:
        head, _ = _read_at_most(f, 8 * KiB)
    kind = detect_kind(name, head)
    if kind == "image":
        return _image_preview(name, open_fn)
    if kind == "parquet":
        return _parquet_preview(name, open_fn)
    if kind == "binary":
        return {"kind": "binary", "size": size}
    limit = max_table_bytes if kind in ("csv", "tsv") else max_text_bytes
    if len(head) < 8 * KiB and limit >= len(head):
        data, truncated = head, False  # the whole file is already here
    else:
        with open_fn() as f:
            data, truncated = _read_at_most(f, limit)
    if kind in ("csv", "tsv"):
        table = _table_from_csv(data, truncated, "\t" if kind == "tsv" else ",")
        if table is not None:
            return table
        data, truncated = data[:max_text_bytes], truncated or len(data) > max_text_bytes
    elif kind in ("json", "jsonl"):
        return _json_preview(data, truncated, lines=kind == "jsonl")
    if b"\x00" in data[: 8 * KiB] and kind == "text":
        return {"kind": "binary", "size": size}
    return {"kind": "text", "text": _decode_text(data, truncated), "truncated": truncated}


# -- thumbnails --------------------------------------------------------------------------------


def _open_image(name: str, f: IO[bytes], max_pixels: int | None) -> PILImage.Image:
    """Open an image header (no pixels decoded yet), refusing bombs and non-images by name.

    The image is a context manager that closes it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open reads only the header. Pillow refuses on its own past twice its global
        # limit; our own (per-call) limit is checked right below, before any decoding.
        im = Image.open(f, formats=DECODED_FORMATS)
    except Image.DecompressionBombError:
        raise _file_error(name, "image is too large to decode (decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _file_error(name, f"not a readable image ({exc})") from None
    if max_pixels is not None and im.width * im.height > max_pixels:
        pixels = im.width * im.height
        im.close()
        raise _file_error(
            name,
            f"image is {pixels:,} pixels, over the {max_pixels:,} pixel limit "
            "(decompression bomb?)",
        )
    return im


def _to_rgb(im: PILImage.Image) -> PILImage.Image:
    from PIL import Image

    if im.mode == "RGB":
        return im
    if im.mode == "P":
        # Palette images may carry transparency in info; RGBA makes it an alpha band.
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "RGBa"):
        # JPEG has no alpha: flatten on white, as viewers show transparent pixels.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float images (medical, depth maps): scale their real range to 0..255, since
        # a plain convert clips everything above 255 to white.
        lo, hi = im.convert("F").getextrema()
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return im.convert("F").point(lambda v: (v - lo) * scale).convert("L").convert("RGB")
    return im.convert("RGB")


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidRequest.field("size", f"must be an integer, got {size!r}")
    if not THUMBNAIL_MIN <= size <= THUMBNAIL_MAX:
        raise InvalidRequest.field(
            "size", f"must be between {THUMBNAIL_MIN} and {THUMBNAIL_MAX}, got {size}"
        )
    return size


def thumbnail(
    open_fn: OpenFn,
    size: int,
    *,
    name: str = "image",
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> bytes:
    """A JPEG thumbnail whose longest side is ``size`` pixels.

    The EXIF orientation is applied (a phone photo shows upright), transparency is flattened on
    white, and every mode becomes RGB. Small images are scaled up, so every thumbnail of one size
    has the same longest side.

    Parameters
    ----------
    open_fn : callable
        Opens the image for binary reading.
    size : int
        Longest side in pixels, 32 to 512.
    name : str
        The file's name or path, for error messages.
    max_pixels : int
        Larger images are refused before decoding.

    Returns
    -------
    bytes
        The JPEG.

    Raises
    ------
    InvalidRequest
        ``size`` out of range, or the file is not a readable image, is a decompression bomb or is
        over ``max_pixels`` (the message names the file).
    """
    from PIL import Image, ImageOps

    _check_size(size)
    with open_fn() as f, _open_image(name, f, max_pixels) as im:
        try:
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: far less work and memory for a
            # camera photo than decoding it whole and shrinking afterwards.
            im.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(im) or im
            if max(image.size) > size:
                image.thumbnail((size, size), Image.Resampling.LANCZOS)
            else:
                image = ImageOps.contain(image, (size, size), Image.Resampling.LANCZOS)
            image = _to_rgb(image)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        except Image.DecompressionBombError:
            raise _file_error(name, "image is too large to decode (decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Truncated or corrupt pixel data shows up only now, when it is decoded.
            raise _file_error(name, f"not a readable image ({exc})") from None
    return out.getvalue()


# -- the configurable front with its cache -----------------------------------------------------


class TzPreviews(LoggingConfigurable):
    """Preview limits, and thumbnails cached in TZ storage.

    Every method blocks (storage I/O, decoding): call it with ``asyncio.to_thread``.
    """

    storage = Instance(TzStorage, help="Where cached thumbnails are kept.")

    max_image_pixels = Integer(
        DEFAULT_MAX_IMAGE_PIXELS,
        help="""Largest image, in pixels (width x height), that previews and thumbnails decode.

        Larger images are refused before decoding, with a message naming the file: a small PNG
        can claim a huge size and would take gigabytes of memory to decode (a decompression
        bomb). Pillow's own hard limit, twice ``PIL.Image.MAX_IMAGE_PIXELS``, applies as well.
        Default: 89478485 (Pillow's default, a 0.25 GiB RGB bitmap).
        Example: ``c.TzPreviews.max_image_pixels = 50_000_000``

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    max_preview_bytes = Integer(
        DEFAULT_MAX_TEXT_BYTES,
        help="""Bytes of a text, JSON or JSON Lines file shown in its preview.

        A longer file is shown cut (``"truncated": true``). CSV/TSV previews read up to
        ``max_table_bytes`` for their first 50 rows. Default: 65536 (64 KiB).

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    max_table_bytes = Integer(
        DEFAULT_MAX_TABLE_BYTES,
        help="""Bytes of a CSV or TSV file read for its table preview (the first 50 rows).

        Default: 1048576 (1 MiB). Parquet previews read only the footer and the first rows.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    def preview(self, name: str, open_fn: OpenFn, size: int) -> dict[str, Any]:
        """:func:`preview` with this object's limits."""
        return preview(
            name,
            open_fn,
            size,
            max_text_bytes=self.max_preview_bytes,
            max_table_bytes=self.max_table_bytes,
        )

    def thumbnail(self, open_fn: OpenFn, size: int, *, name: str = "image") -> bytes:
        """:func:`thumbnail` with this object's pixel limit (not cached)."""
        return thumbnail(open_fn, size, name=name, max_pixels=self.max_image_pixels)

    @staticmethod
    def cache_key(source_key: str, tag: str, size: int) -> str:
        """Storage key of the cached thumbnail of ``source_key`` in version ``tag`` at ``size``."""
        digest = hashlib.sha256(
            json.dumps([source_key, tag, size], ensure_ascii=True).encode()
        ).hexdigest()
        return f"{THUMBNAIL_PREFIX}/{digest}.jpg"

    def thumbnail_cached(
        self,
        source_key: str,
        tag: str,
        open_fn: OpenFn,
        size: int,
        *,
        name: str | None = None,
    ) -> bytes:
        """The thumbnail of a stored file, made once per file version and size.

        Parameters
        ----------
        source_key : str
            The storage key of the image (identifies it in the cache).
        tag : str
            Its ETag or modification time: a changed file gets a new thumbnail, and the old one
            is simply never asked for again.
        open_fn : callable
            Opens the image; only called on a cache miss.
        size : int
            Longest side, 32 to 512.
        name : str, optional
            Name for error messages (default: the last part of ``source_key``).

        Returns
        -------
        bytes
            The JPEG.

        Raises
        ------
        InvalidRequest
            As :func:`thumbnail`; failures are not cached, so a fixed file is tried again.
        """
        _check_size(size)
        if self.storage is None:
            raise RuntimeError("TzPreviews.storage is not set")
        key = self.cache_key(source_key, tag, size)
        try:
            return self.storage.get_bytes(key)
        except FileNotFoundError:
            pass
        data = self.thumbnail(open_fn, size, name=name or posixpath.basename(source_key))
        # put_bytes is atomic, so two requests racing on a miss both write the same bytes and
        # readers never see half a JPEG.
        self.storage.put_bytes(key, data)
        self.log.debug("thumbnail of %s (%s) cached at %s", source_key, size, key)
        return data
