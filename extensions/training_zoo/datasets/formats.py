"""Annotation import and export formats, as pure functions over manifest entries.

- **COCO JSON** (object detection): ``images`` / ``annotations`` (``bbox = [x, y, w, h]`` in
  pixels) / ``categories``. Image-level labels and the split have no COCO field; they travel in
  the extension fields ``tz_labels`` and ``tz_usage`` on each image, which other COCO tools ignore,
  so a TZ → COCO → TZ round trip loses nothing.
- **ImageNet-style folder tree** (image classification): ``<split>/<label>/<file>`` when any file
  has a split, else ``<label>/<file>``; reading a tree takes the label from a file's parent folder
  and the split from a top folder named train, val (or validation) or test.
- **manifest**: the JSON Lines of :mod:`.manifests`.

Nothing here reads or writes storage: the manager moves the bytes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from .manifests import USAGES

FORMATS = ("coco", "imagenet", "manifest")
SPLIT_FOLDERS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
UNASSIGNED = "unassigned"


# ------------------------------------------------------------------------------------ COCO


def to_coco(
    entries: Iterable[dict[str, Any]],
    labels: Iterable[str] = (),
    sizes: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """A COCO document for ``entries``; categories are ``labels`` then any other label used.

    ``sizes`` maps keys to ``(width, height)`` where known (COCO wants them; 0 when unknown).
    """
    items = sorted(entries, key=lambda e: e["key"].encode("utf-8", "surrogatepass"))
    names = list(dict.fromkeys(labels))
    for e in items:
        ann = e.get("annotations") or {}
        for name in [*ann.get("labels", []), *(b["label"] for b in ann.get("boxes", []))]:
            if name not in names:
                names.append(name)
    category = {name: i for i, name in enumerate(names, 1)}
    images, annotations = [], []
    for image_id, e in enumerate(items, 1):
        width, height = (sizes or {}).get(e["key"], (0, 0))
        ann = e.get("annotations") or {}
        images.append({
            "id": image_id, "file_name": e["key"], "width": width, "height": height,
            "tz_labels": list(ann.get("labels", [])), "tz_usage": e.get("usage"),
            "tz_sha256": e.get("sha256"),
        })  # fmt: skip
        for box in ann.get("boxes", []):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                "category_id": category[box["label"]],
                "bbox": [box["x"], box["y"], box["w"], box["h"]],
                "area": box["w"] * box["h"], "iscrowd": 0,
            })  # fmt: skip
    return {
        "info": {"description": "exported by Training Zoo"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": ""} for n, i in category.items()],
    }


def _int_id(value: object, what: str) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{what} must be an integer or a string")
    return value


def from_coco(doc: object) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Read a COCO document: ``({file_name: {"annotations", "usage"?}}, category names)``.

    ``usage`` is present only when the image carries ``tz_usage``. Crowd regions (``iscrowd``)
    and segmentation-only annotations are skipped: TZ boxes are plain rectangles.

    Raises
    ------
    ValueError
        When the document is not COCO-shaped (the message says where).
    """
    if not isinstance(doc, dict):
        raise ValueError("a COCO file is a JSON object")
    images, anns, cats = doc.get("images"), doc.get("annotations", []), doc.get("categories", [])
    if not isinstance(images, list) or not isinstance(anns, list) or not isinstance(cats, list):
        raise ValueError("images, annotations and categories must be lists")
    names: dict[int | str, str] = {}
    for i, cat in enumerate(cats):
        if not isinstance(cat, dict) or not isinstance(cat.get("name"), str):
            raise ValueError(f"categories[{i}] needs an id and a name")
        names[_int_id(cat.get("id"), f"categories[{i}].id")] = cat["name"]
    by_id: dict[int | str, str] = {}
    out: dict[str, dict[str, Any]] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
            raise ValueError(f"images[{i}] needs an id and a file_name")
        by_id[_int_id(img.get("id"), f"images[{i}].id")] = img["file_name"]
        labels = img.get("tz_labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"images[{i}].tz_labels must be a list of strings")
        record: dict[str, Any] = {"annotations": {"labels": list(labels), "boxes": []}}
        if "tz_usage" in img:
            if img["tz_usage"] is not None and img["tz_usage"] not in USAGES:
                raise ValueError(f"images[{i}].tz_usage must be train, val, test or null")
            record["usage"] = img["tz_usage"]
        out[img["file_name"]] = record
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise ValueError(f"annotations[{i}] must be an object")
        if ann.get("iscrowd"):
            continue
        bbox = ann.get("bbox")
        if bbox is None:
            continue
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
        ):
            raise ValueError(f"annotations[{i}].bbox must be [x, y, w, h]")
        image = by_id.get(_int_id(ann.get("image_id"), f"annotations[{i}].image_id"))
        label = names.get(_int_id(ann.get("category_id"), f"annotations[{i}].category_id"))
        if image is None or label is None:
            raise ValueError(f"annotations[{i}] names an unknown image or category")
        x, y, w, h = bbox
        out[image]["annotations"]["boxes"].append({"label": label, "x": x, "y": y, "w": w, "h": h})
    return out, list(dict.fromkeys(names.values()))


# ------------------------------------------------------------------------------------ ImageNet


def imagenet_layout(entries: Iterable[dict[str, Any]]) -> tuple[list[tuple[str, dict]], int]:
    """Where each labeled file goes in an ImageNet-style tree, and how many were left out.

    Returns ``([(relative path, entry), ...], unlabeled count)``. A file's class is its first
    label (image classification's label). Two files of one class with the same name get the first
    8 hex digits of their sha256 added before the extension.
    """
    everything = list(entries)
    items = [e for e in everything if (e.get("annotations") or {}).get("labels")]
    skipped = len(everything) - len(items)
    split = any(e.get("usage") for e in items)
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for e in sorted(items, key=lambda e: e["key"].encode("utf-8", "surrogatepass")):
        label = e["annotations"]["labels"][0]
        folder = f"{e.get('usage') or UNASSIGNED}/{label}" if split else label
        name = posixpath.basename(e["key"])
        path = f"{folder}/{name}"
        if path in seen:
            stem, ext = posixpath.splitext(name)
            path = f"{folder}/{stem}-{e['sha256'][:8]}{ext}"
        seen.add(path)
        out.append((path, e))
    return out, skipped


def label_folder(label: str) -> str | None:
    """Why a label cannot be a folder name of a tree (``None`` when it can)."""
    if "/" in label or label in (".", "..") or "\\" in label:
        return f"label {label!r} cannot be a folder name"
    return None


def from_imagenet(paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Labels and splits of the files of a tree: ``{path: {"label", "usage"}}``.

    The label is the parent folder's name (files at the root of the tree get none); the split is
    the top folder when it is train, val, validation or test and the file is two levels below it.
    """
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        parts = path.split("/")
        usage = None
        if len(parts) >= 3 and parts[0].lower() in SPLIT_FOLDERS:
            usage = SPLIT_FOLDERS[parts[0].lower()]
        label = parts[-2] if len(parts) >= 2 else None
        if label is not None and label.lower() in SPLIT_FOLDERS and len(parts) == 2:
            # train/x.jpg: a split with no class folder
            usage, label = SPLIT_FOLDERS[label.lower()], None
        if label == UNASSIGNED:
            label = None
        out[path] = {"label": label, "usage": usage}
    return out


# ------------------------------------------------------------------------------------ matching


def match_keys(names: Iterable[str], keys: Iterable[str]) -> dict[str, str]:
    """Map file names from an annotation file onto draft keys.

    A name matches the key equal to it, else the one key ending in ``/<name>`` or with the same
    base name (COCO files often hold base names only); ambiguous or unknown names are left out.
    """
    keyset = set(keys)
    by_base: dict[str, list[str]] = {}
    for key in keyset:
        by_base.setdefault(posixpath.basename(key), []).append(key)
    out = {}
    for name in names:
        if name in keyset:
            out[name] = name
            continue
        suffix = [k for k in by_base.get(posixpath.basename(name), []) if k.endswith("/" + name)]
        candidates = suffix or by_base.get(posixpath.basename(name), [])
        if len(candidates) == 1:
            out[name] = candidates[0]
    return out
