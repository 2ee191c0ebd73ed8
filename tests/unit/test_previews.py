"""Tests for training_zoo.datasets.previews: kinds, limits, hostile files and the thumbnail cache.

Every input is a real file: images made with Pillow, parquet written by pyarrow.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from training_zoo.datasets.previews import (
    MAX_CELL_CHARS,
    MAX_TABLE_ROWS,
    TzPreviews,
    detect_kind,
    preview,
    thumbnail,
)
from training_zoo.errors import InvalidRequest
from training_zoo.storage import TzStorage


def _image_bytes(fmt: str, size: tuple[int, int] = (40, 20), mode: str = "RGB", **save: Any):
    colour: Any = (200, 30, 30) if mode in ("RGB", "RGBA") else 128
    if mode == "RGBA":
        colour = (200, 30, 30, 0)
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def _parquet_bytes(rows: int) -> bytes:
    table = pa.table(
        {
            "id": list(range(rows)),
            "label": [f"<b>cat {i}</b>" for i in range(rows)],
            "score": [float("nan") if i == 1 else i / 2 for i in range(rows)],
            "big": [2**60 + i for i in range(rows)],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=1000)
    return out.getvalue()


def _opener(data: bytes) -> Callable[[], io.BytesIO]:
    return lambda: io.BytesIO(data)


def _oriented_jpeg() -> bytes:
    """A 60x20 landscape JPEG whose EXIF says "rotate 90°": viewers show it 20x60."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW
    out = io.BytesIO()
    Image.new("RGB", (60, 20), (0, 0, 255)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


# -- preview: one table of real files --------------------------------------------------------


@dataclass(frozen=True)
class PreviewCase:
    id: str
    name: str
    data: bytes
    expected: dict[str, Any] = field(default_factory=dict)  # keys that must match exactly
    check: Callable[[dict[str, Any]], None] | None = None
    max_text_bytes: int = 64 * 1024


_CSV_HTML = (
    b'name,comment\n"<script>alert(1)</script>","<img src=x onerror=alert(2)>"\nplain,"a,b"\n'
)
_WIDE_CELL = ("x," + "y" * (MAX_CELL_CHARS + 50) + "\n").encode()
_MANY_ROWS = ("n\n" + "".join(f"{i}\n" for i in range(MAX_TABLE_ROWS + 10))).encode()
_LONG_TEXT = ("é" * 40_000).encode()  # 80,000 bytes: over the 64 KiB limit, cut mid-character?


def _check_parquet(p: dict[str, Any]) -> None:
    assert p["kind"] == "table" and p["truncated"] is True
    assert p["columns"] == ["id", "label", "score", "big"]
    assert len(p["rows"]) == MAX_TABLE_ROWS
    # HTML stays the exact text; NaN and integers JavaScript would round become strings.
    assert p["rows"][0] == [0, "<b>cat 0</b>", 0.0, str(2**60)]
    assert p["rows"][1][2] == "nan"
    json.dumps(p, allow_nan=False)  # the whole preview is strict JSON


def _check_long_text(p: dict[str, Any]) -> None:
    assert p["kind"] == "text" and p["truncated"] is True
    # 64 KiB holds 32,768 two-byte characters; no half character and no replacement mark.
    assert p["text"] == "é" * 32_768


PREVIEW_CASES = [
    PreviewCase(
        "png",
        "cat.png",
        _image_bytes("PNG"),
        {"kind": "image", "width": 40, "height": 20, "format": "PNG"},
    ),
    PreviewCase(
        "jpeg without extension", "photo", _image_bytes("JPEG"), {"kind": "image", "format": "JPEG"}
    ),
    PreviewCase(
        "gif named .txt is still an image",
        "notes.txt",
        _image_bytes("GIF", mode="L"),
        {"kind": "image", "format": "GIF"},
    ),
    PreviewCase("webp", "x.webp", _image_bytes("WEBP"), {"kind": "image", "format": "WEBP"}),
    PreviewCase(
        "csv with html payloads kept verbatim",
        "labels.csv",
        _CSV_HTML,
        {
            "kind": "table",
            "columns": ["name", "comment"],
            "rows": [
                ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"],
                ["plain", "a,b"],
            ],
            "truncated": False,
        },
    ),
    PreviewCase(
        "tsv",
        "t.tsv",
        b"a\tb\n1\t2\n",
        {"kind": "table", "columns": ["a", "b"], "rows": [["1", "2"]], "truncated": False},
    ),
    PreviewCase(
        "csv head of 50 rows",
        "many.csv",
        _MANY_ROWS,
        check=lambda p: (
            (
                p["truncated"] is True
                and len(p["rows"]) == MAX_TABLE_ROWS
                and p["rows"][-1] == [str(MAX_TABLE_ROWS - 1)]
            )
            or pytest.fail(repr(p))
        ),
    ),
    PreviewCase(
        "csv cell capped",
        "wide.csv",
        _WIDE_CELL,
        check=lambda p: (
            (len(p["columns"][1]) == MAX_CELL_CHARS and p["columns"][1].endswith("…"))
            or pytest.fail(repr(p))
        ),
    ),
    PreviewCase(
        "csv with BOM",
        "bom.csv",
        "\ufeffa,b\n1,2\n".encode(),
        {"columns": ["a", "b"], "rows": [["1", "2"]]},
    ),
    PreviewCase(
        "csv with a field over csv's limit falls back to text",
        "huge-field.csv",
        b"a,b\n1," + b"z" * 200_000 + b"\n",
        {"kind": "text", "text": "a,b\n1," + "z" * (64 * 1024 - 6), "truncated": True},
    ),
    PreviewCase("parquet", "data.parquet", _parquet_bytes(120), check=_check_parquet),
    PreviewCase(
        "parquet without extension",
        "blob",
        _parquet_bytes(3),
        check=lambda p: (
            (p["kind"] == "table" and p["truncated"] is False and len(p["rows"]) == 3)
            or pytest.fail(repr(p))
        ),
    ),
    PreviewCase(
        "utf-8 text",
        "README.md",
        b"# Title\n<script>x</script>\n",
        {"kind": "text", "text": "# Title\n<script>x</script>\n", "truncated": False},
    ),
    PreviewCase(
        "unknown extension, utf-8",
        "notes.weird",
        "日本語\n".encode(),
        {"kind": "text", "text": "日本語\n"},
    ),
    PreviewCase(
        "non-utf-8 .txt shown with replacement marks",
        "latin1.txt",
        "café\n".encode("cp1252"),
        {"kind": "text", "text": "caf\ufffd\n", "truncated": False},
    ),
    PreviewCase(
        "non-utf-8 without known extension is binary",
        "data.bin",
        b"\xff\xfe\x00\x01" * 10,
        {"kind": "binary", "size": 40},
    ),
    PreviewCase(
        "oversized text is cut on a character boundary",
        "big.log",
        _LONG_TEXT,
        check=_check_long_text,
    ),
    PreviewCase(
        "text limit is configurable",
        "small.txt",
        b"0123456789",
        {"text": "0123", "truncated": True},
        max_text_bytes=4,
    ),
    PreviewCase(
        "json",
        "cfg.json",
        b'{"a": [1, 2, {"b": null}]}',
        {"kind": "json", "value": {"a": [1, 2, {"b": None}]}, "truncated": False},
    ),
    PreviewCase(
        "invalid json shown as text",
        "bad.json",
        b'{"a": ',
        {"kind": "json", "text": '{"a": ', "truncated": False},
    ),
    PreviewCase(
        "json with NaN is not JSON for browsers",
        "nan.json",
        b'{"a": NaN}',
        {"kind": "json", "text": '{"a": NaN}'},
    ),
    PreviewCase(
        "cut json is text",
        "cut.json",
        b'{"a": "' + b"x" * 100 + b'"}',
        {"kind": "json", "truncated": True},
        max_text_bytes=50,
    ),
    PreviewCase(
        "jsonl",
        "m.jsonl",
        b'{"k": 1}\n\n{"k": 2}\n',
        {"kind": "json", "value": [{"k": 1}, {"k": 2}], "truncated": False},
    ),
    PreviewCase(
        "cut jsonl keeps whole lines",
        "m.jsonl",
        b'{"k": 1}\n{"k": 2}\n{"k": 333333}\n',
        {"kind": "json", "value": [{"k": 1}, {"k": 2}], "truncated": True},
        max_text_bytes=24,
    ),
    PreviewCase("empty text", "empty.txt", b"", {"kind": "text", "text": "", "truncated": False}),
    PreviewCase("empty csv", "empty.csv", b"", {"kind": "table", "columns": [], "rows": []}),
    PreviewCase(
        "zip is binary", "a.zip", b"PK\x03\x04" + b"\x00" * 30, {"kind": "binary", "size": 34}
    ),
]


@pytest.mark.parametrize("case", PREVIEW_CASES, ids=lambda c: c.id)
def test_preview(case: PreviewCase) -> None:
    result = preview(
        case.name, _opener(case.data), len(case.data), max_text_bytes=case.max_text_bytes
    )
    for key, value in case.expected.items():
        assert result[key] == value, (key, result)
    if case.check is not None:
        case.check(result)
    json.dumps(result, allow_nan=False)


def test_preview_closes_every_file_it_opens() -> None:
    opened: list[io.BytesIO] = []

    def open_fn() -> io.BytesIO:
        opened.append(io.BytesIO(_parquet_bytes(5)))
        return opened[-1]

    preview("x.parquet", open_fn, 0)
    assert opened and all(f.closed for f in opened)


# -- errors: one message naming the file, never a traceback ----------------------------------


def _bomb_png(side: int) -> bytes:
    # One colour: a few hundred KB as PNG, side² bytes (and more) once decoded.
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    # 144 Mpx: under Pillow's own hard limit (2 x 89.5 Mpx), so our limit is what refuses it;
    # 400 Mpx: Pillow refuses it while reading the header already.
    return {"bomb.png": _bomb_png(12_000), "huge.png": _bomb_png(20_000)}


@dataclass(frozen=True)
class ErrorCase:
    id: str
    name: str
    data: Callable[[dict[str, bytes]], bytes]
    message: str
    what: str = "thumbnail"  # or "preview"
    max_pixels: int = 89_478_485


ERROR_CASES = [
    ErrorCase(
        "decompression bomb",
        "bomb.png",
        lambda b: b["bomb.png"],
        "144,000,000 pixels, over the 89,478,485 pixel limit",
    ),
    ErrorCase(
        "bomb past Pillow's own hard limit",
        "huge.png",
        lambda b: b["huge.png"],
        "too large to decode",
        max_pixels=10**12,
    ),
    ErrorCase(
        "preview of a bomb",
        "huge.png",
        lambda b: b["huge.png"],
        "too large to decode",
        what="preview",
    ),
    ErrorCase(
        "truncated JPEG",
        "cut.jpg",
        lambda b: _image_bytes("JPEG", (200, 200))[:300],
        "not a readable image",
    ),
    ErrorCase(
        "garbage named .png",
        "fake.png",
        lambda b: b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        "not a readable image",
    ),
    ErrorCase("text named .jpg", "fake.jpg", lambda b: b"hello", "not a readable image"),
    ErrorCase(
        "EPS is never decoded",
        "x.png",
        lambda b: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        "not a readable image",
    ),
    ErrorCase(
        "preview of garbage .png",
        "fake.png",
        lambda b: b"\x89PNG\r\n\x1a\n" + b"x" * 50,
        "not a readable image",
        what="preview",
    ),
    ErrorCase(
        "preview of corrupt parquet",
        "c.parquet",
        lambda b: b"PAR1" + b"\x00" * 100,
        "not a readable Parquet file",
        what="preview",
    ),
]


# Pillow warns about images past its soft limit before our own check refuses them.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.id)
def test_unreadable_files_raise_invalid_request_naming_the_file(
    case: ErrorCase, bombs: dict[str, bytes]
) -> None:
    data = case.data(bombs)
    with pytest.raises(InvalidRequest) as info:
        if case.what == "preview":
            preview(case.name, _opener(data), len(data))
        else:
            thumbnail(_opener(data), 64, name=case.name, max_pixels=case.max_pixels)
    assert info.value.message.startswith(f"{case.name}: ")
    assert case.message in info.value.message
    assert info.value.status_code == 400
    assert "Traceback" not in info.value.message


@pytest.mark.parametrize("size", [0, 31, 513, 10_000, "64", True])
def test_thumbnail_size_is_checked(size: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        thumbnail(_opener(_image_bytes("PNG")), size)
    assert info.value.errors.keys() == {"size"}


# -- thumbnails --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThumbCase:
    id: str
    data: bytes
    size: int
    expected: tuple[int, int]


THUMB_CASES = [
    ThumbCase("landscape shrinks", _image_bytes("PNG", (400, 200)), 100, (100, 50)),
    ThumbCase("portrait shrinks", _image_bytes("JPEG", (300, 600)), 64, (32, 64)),
    ThumbCase("small grows to the size", _image_bytes("PNG", (40, 20)), 256, (256, 128)),
    ThumbCase("EXIF orientation applied", _oriented_jpeg(), 60, (20, 60)),
    ThumbCase("RGBA flattened", _image_bytes("PNG", (50, 50), "RGBA"), 32, (32, 32)),
    ThumbCase(
        "palette with transparency",
        _image_bytes("GIF", (64, 32), "P", transparency=0),
        32,
        (32, 16),
    ),
    ThumbCase("16-bit grey", _image_bytes("PNG", (80, 40), "I;16"), 40, (40, 20)),
    ThumbCase("CMYK JPEG", _image_bytes("JPEG", (64, 64), "CMYK"), 32, (32, 32)),
]


@pytest.mark.parametrize("case", THUMB_CASES, ids=lambda c: c.id)
def test_thumbnail(case: ThumbCase) -> None:
    data = thumbnail(_opener(case.data), case.size)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        assert im.mode == "RGB"
        assert im.size == case.expected


def test_transparent_pixels_become_white() -> None:
    data = thumbnail(_opener(_image_bytes("PNG", (50, 50), "RGBA")), 32)
    with Image.open(io.BytesIO(data)) as im:
        assert all(c > 245 for c in im.getpixel((16, 16)))


def test_detect_kind_prefers_leading_bytes() -> None:
    assert detect_kind("x.csv", b"PAR1....") == "parquet"
    assert detect_kind("x.csv", b"a,b\n") == "csv"
    assert detect_kind("dir.d/x", b"\x00\x01") == "binary"
    assert detect_kind("x.WEBP", b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image"


# -- the cache ---------------------------------------------------------------------------------


@pytest.fixture
def previews(tmp_path: Path) -> TzPreviews:
    return TzPreviews(storage=TzStorage(url=str(tmp_path / "storage")))


def test_thumbnail_cached_once_per_version_and_size(previews: TzPreviews, tmp_path: Path) -> None:
    calls: list[bytes] = []
    image = {"data": _image_bytes("PNG", (100, 100))}

    def open_fn() -> io.BytesIO:
        calls.append(image["data"])
        return io.BytesIO(image["data"])

    first = previews.thumbnail_cached("workspace/users/a/cat.png", "etag-1", open_fn, 64)
    again = previews.thumbnail_cached("workspace/users/a/cat.png", "etag-1", open_fn, 64)
    assert first == again and len(calls) == 1
    key = previews.cache_key("workspace/users/a/cat.png", "etag-1", 64)
    assert key.startswith("cache/thumbnails/") and key.endswith(".jpg")
    assert (tmp_path / "storage" / key).read_bytes() == first

    # Another size, and a changed file (new etag), are new thumbnails.
    previews.thumbnail_cached("workspace/users/a/cat.png", "etag-1", open_fn, 32)
    image["data"] = _image_bytes("PNG", (100, 50))
    changed = previews.thumbnail_cached("workspace/users/a/cat.png", "etag-2", open_fn, 64)
    assert len(calls) == 3
    with Image.open(io.BytesIO(changed)) as im:
        assert im.size == (64, 32)


def test_failed_thumbnails_are_not_cached(previews: TzPreviews, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=r"^broken\.jpg: not a readable image"):
        previews.thumbnail_cached("k/broken.jpg", "1", _opener(b"\xff\xd8\xff" + b"\x00" * 10), 64)
    assert not (tmp_path / "storage" / "cache").exists()


def test_settings_apply(previews: TzPreviews) -> None:
    previews.max_image_pixels = 100
    with pytest.raises(InvalidRequest, match="over the 100 pixel limit"):
        previews.thumbnail(_opener(_image_bytes("PNG", (20, 20))), 64, name="a.png")
    previews.max_preview_bytes = 3
    assert previews.preview("a.txt", _opener(b"abcdef"), 6)["text"] == "abc"
    help_text = TzPreviews.class_get_help()
    assert "decompression bomb" in help_text and "max_preview_bytes" in help_text
