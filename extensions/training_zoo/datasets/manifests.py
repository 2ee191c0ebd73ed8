"""Dataset manifests: entries, annotations, JSON Lines encoding, statistics and diffs (pure).

A manifest entry is ``{"key", "size", "sha256", "usage", "annotations", "source"}`` with
``annotations = {"labels": [str], "boxes": [{"label", "x", "y", "w", "h"}]}`` (boxes in pixels,
x/y the top-left corner). A published manifest is one entry per line, sorted by the UTF-8 bytes of
``key``, each line a canonical JSON object (sorted keys, no spaces, non-ASCII kept): the same
entries always give the same bytes, so the sha256 on a version row identifies its content and two
versions of an unchanged draft have the same hash.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidRequest

USAGES = ("train", "val", "test")
ENTRY_FIELDS = ("key", "size", "sha256", "usage", "annotations", "source")
MAX_LABEL_CHARS = 256
MAX_LABELS = 10_000  # in a dataset's label set
MAX_BOXES = 1_000  # on one file


def version_name(number: int) -> str:
    """``1`` → ``"V001"`` (more digits past 999)."""
    return f"V{number:03d}"


def version_number(name: object, field: str = "version") -> int:
    """``"V001"`` → ``1``.

    Raises
    ------
    InvalidRequest
        Naming ``field`` when ``name`` is not ``V`` followed by at least three digits.
    """
    if (
        not isinstance(name, str)
        or len(name) < 4
        or name[0] != "V"
        or not name[1:].isascii()
        or not name[1:].isdigit()
        or int(name[1:]) < 1
    ):
        raise InvalidRequest.field(field, "must be a version like V001")
    return int(name[1:])


def check_label(label: object, field: str) -> str:
    """A label is any non-empty text up to 256 characters without control characters.

    HTML is allowed and kept verbatim: every view renders labels as text.
    """
    if not isinstance(label, str) or not label.strip():
        raise InvalidRequest.field(field, "labels must be non-empty strings")
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidRequest.field(field, f"a label is longer than {MAX_LABEL_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise InvalidRequest.field(field, "labels may not contain control characters")
    return label


def check_label_set(labels: object, field: str = "labels") -> list[str]:
    """A dataset's label set: a list of distinct labels, order kept."""
    if not isinstance(labels, list):
        raise InvalidRequest.field(field, "must be a list of strings")
    if len(labels) > MAX_LABELS:
        raise InvalidRequest.field(field, f"at most {MAX_LABELS} labels")
    out = [check_label(label, field) for label in labels]
    if len(set(out)) != len(out):
        raise InvalidRequest.field(field, "labels must be distinct")
    return out


def check_usage(usage: object, field: str = "usage") -> str | None:
    if usage is None or usage in USAGES:
        return usage  # type: ignore[return-value]
    raise InvalidRequest.field(field, "must be train, val, test or null")


def _number(value: object, field: str, positive: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest.field(field, "box coordinates must be finite numbers")
    if value < 0 or (positive and value == 0):
        raise InvalidRequest.field(
            field, "box width and height must be positive, x and y not negative"
        )
    return value


def check_annotations(
    value: object,
    allowed: Iterable[str] | None = None,
    *,
    single_label: bool = False,
    field: str = "annotations",
) -> dict[str, list]:
    """Validate and normalise annotations to ``{"labels": [...], "boxes": [...]}``.

    ``allowed`` is the dataset's label set (``None``: any label); ``single_label`` is for image
    classification, where a file has at most one label.

    Raises
    ------
    InvalidRequest
        Naming ``field``.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidRequest.field(field, "must be an object with labels and boxes")
    unknown = set(value) - {"labels", "boxes"}
    if unknown:
        raise InvalidRequest.field(field, f"unknown fields: {', '.join(sorted(unknown))}")
    allowed_set = set(allowed) if allowed is not None else None

    def known(label: str) -> str:
        check_label(label, field)
        if allowed_set is not None and label not in allowed_set:
            raise InvalidRequest.field(
                field, f"label {label!r} is not in the dataset's labels; add it there first"
            )
        return label

    labels = value.get("labels", [])
    if not isinstance(labels, list):
        raise InvalidRequest.field(field, "labels must be a list")
    labels = [known(label) for label in labels]
    if len(set(labels)) != len(labels):
        raise InvalidRequest.field(field, "labels must be distinct")
    if single_label and len(labels) > 1:
        raise InvalidRequest.field(field, "image classification takes one label per file")
    boxes = value.get("boxes", [])
    if not isinstance(boxes, list):
        raise InvalidRequest.field(field, "boxes must be a list")
    if len(boxes) > MAX_BOXES:
        raise InvalidRequest.field(field, f"at most {MAX_BOXES} boxes per file")
    out_boxes = []
    for box in boxes:
        if not isinstance(box, dict) or set(box) != {"label", "x", "y", "w", "h"}:
            raise InvalidRequest.field(field, "a box is {label, x, y, w, h}")
        out_boxes.append({
            "label": known(box["label"]),
            "x": _number(box["x"], field, False), "y": _number(box["y"], field, False),
            "w": _number(box["w"], field, True), "h": _number(box["h"], field, True),
        })  # fmt: skip
    return {"labels": labels, "boxes": out_boxes}


def is_labeled(annotations: dict | None) -> bool:
    return bool(annotations and (annotations.get("labels") or annotations.get("boxes")))


def entry(
    key: str,
    size: int,
    sha256: str,
    source: str,
    usage: str | None = None,
    annotations: dict | None = None,
) -> dict[str, Any]:
    """A manifest entry with every field present."""
    return {
        "key": key,
        "size": size,
        "sha256": sha256,
        "usage": usage,
        "annotations": {
            "labels": list((annotations or {}).get("labels", [])),
            "boxes": list((annotations or {}).get("boxes", [])),
        },
        "source": source,
    }


def manifest_entry(item: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields of a draft file (drops ``revision``, ``updated_by``, ``updated``)."""
    return entry(item["key"], item["size"], item["sha256"], item["source"], item.get("usage"),
                 item.get("annotations"))  # fmt: skip


def sort_key(item: dict[str, Any]) -> bytes:
    # UTF-8 byte order: the same on every database collation and in S3 listings.
    return item["key"].encode("utf-8", "surrogatepass")


def encode(entries: Iterable[dict[str, Any]]) -> bytes:
    """Canonical JSON Lines bytes of ``entries``, sorted by key.

    Raises
    ------
    ValueError
        When two entries have the same key.
    """
    items = sorted((manifest_entry(e) for e in entries), key=sort_key)
    for a, b in zip(items, items[1:], strict=False):
        if a["key"] == b["key"]:
            raise ValueError(f"duplicate key in manifest: {a['key']!r}")
    lines = (
        json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        for e in items
    )
    return "".join(lines).encode("utf-8")


def decode(data: bytes | str) -> list[dict[str, Any]]:
    """The entries of a JSON Lines manifest (blank lines ignored), in file order.

    Raises
    ------
    ValueError
        Naming the line, when a line is not an entry object with key, size and sha256.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise ValueError(f"line {number}: invalid JSON ({e})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
            raise ValueError(f"line {number}: an entry needs a string key")
        size, sha = obj.get("size"), obj.get("sha256")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
            raise ValueError(f"line {number}: size must be an integer")
        if sha is not None and not isinstance(sha, str):
            raise ValueError(f"line {number}: sha256 must be a string")
        out.append(entry(obj["key"], size or 0, sha or "", obj.get("source") or "",
                         obj.get("usage"), obj.get("annotations")))  # fmt: skip
    return out


def stats(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{"files", "bytes", "labels": {label: files}, "splits": {...}, "labeled"}``.

    A file counts once per label however many boxes carry it.
    """
    labels: Counter[str] = Counter()
    splits = dict.fromkeys((*USAGES, "unassigned"), 0)
    files = size = labeled = 0
    for e in entries:
        files += 1
        size += e["size"]
        ann = e.get("annotations") or {}
        names = set(ann.get("labels", [])) | {b["label"] for b in ann.get("boxes", [])}
        labels.update(names)
        splits[e.get("usage") or "unassigned"] += 1
        labeled += is_labeled(ann)
    return {"files": files, "bytes": size, "labels": dict(sorted(labels.items())),
            "splits": splits, "labeled": labeled}  # fmt: skip


def _canonical(annotations: dict | None) -> str:
    return json.dumps(annotations or {"labels": [], "boxes": []}, sort_keys=True)


def diff(before: Iterable[dict[str, Any]], after: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What changed from ``before`` to ``after`` (both lists of entries).

    ``added``/``removed`` are keys; ``relabeled`` lists files whose annotations changed with
    their annotations before and after; ``changed`` lists keys whose bytes changed (sha256), and
    ``resplit`` keys whose usage changed. ``counts`` has the length of each, plus ``unchanged``.
    """
    old = {e["key"]: e for e in before}
    new = {e["key"]: e for e in after}
    order = sorted(old.keys() | new.keys(), key=lambda k: k.encode("utf-8", "surrogatepass"))
    added, removed, relabeled, changed, resplit = [], [], [], [], []
    unchanged = 0
    for key in order:
        a, b = old.get(key), new.get(key)
        if a is None:
            added.append(key)
            continue
        if b is None:
            removed.append(key)
            continue
        same = True
        if _canonical(a.get("annotations")) != _canonical(b.get("annotations")):
            relabeled.append({"key": key, "before": a.get("annotations"),
                              "after": b.get("annotations")})  # fmt: skip
            same = False
        if a["sha256"] != b["sha256"]:
            changed.append(key)
            same = False
        if a.get("usage") != b.get("usage"):
            resplit.append(key)
            same = False
        unchanged += same
    return {
        "added": added,
        "removed": removed,
        "relabeled": relabeled,
        "changed": changed,
        "resplit": resplit,
        "counts": {"added": len(added), "removed": len(removed), "relabeled": len(relabeled),
                   "changed": len(changed), "resplit": len(resplit), "unchanged": unchanged},
    }  # fmt: skip
