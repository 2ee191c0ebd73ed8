"""Annotation formats: COCO and ImageNet-style trees round trip; names match draft keys."""

from __future__ import annotations

import json

import pytest

from training_zoo.datasets import formats
from training_zoo.datasets import manifests as mf


def e(key, labels=(), boxes=(), usage=None, sha="ab" * 32):
    return mf.entry(key, 3, sha, f"blobs/{sha}", usage, {"labels": list(labels),
                                                         "boxes": list(boxes)})  # fmt: skip


def box(label, x=1, y=2, w=3, h=4):
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def test_coco_round_trip_keeps_boxes_labels_and_splits() -> None:
    entries = [
        e("img/a.jpg", [], [box("cat"), box("dog", 5, 6, 7.5, 8)], "train"),
        e("img/b.jpg", ["<b>night</b>"], [], "val"),
        e("img/c.jpg"),
    ]
    doc = json.loads(json.dumps(formats.to_coco(entries, ["dog", "cat", "unused"])))
    assert [c["name"] for c in doc["categories"]] == ["dog", "cat", "unused", "<b>night</b>"]
    assert doc["annotations"][1]["bbox"] == [5, 6, 7.5, 8]
    assert doc["annotations"][1]["area"] == 60.0
    records, cats = formats.from_coco(doc)
    assert cats == ["dog", "cat", "unused", "<b>night</b>"]
    for entry in entries:
        rec = records[entry["key"]]
        assert rec["annotations"] == entry["annotations"]
        assert rec["usage"] == entry["usage"]


def test_coco_from_other_tools() -> None:
    doc = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 10, "height": 10}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, 2, 2], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [0, 0, 9, 9], "iscrowd": 1},
            {"id": 3, "image_id": 7, "category_id": 3, "segmentation": [[0, 0, 1, 1]]},
        ],
        "categories": [{"id": 3, "name": "person"}],
    }
    records, cats = formats.from_coco(doc)
    assert cats == ["person"]
    assert records == {"a.jpg": {"annotations": {
        "labels": [], "boxes": [{"label": "person", "x": 0, "y": 0, "w": 2, "h": 2}]}}}  # fmt: skip


@pytest.mark.parametrize(
    "doc, where",
    [
        ([], "JSON object"),
        ({"images": {}}, "lists"),
        ({"images": [{"id": 1}]}, "images[0]"),
        ({"images": [], "categories": [{"id": 1}]}, "categories[0]"),
        ({"images": [{"id": 1, "file_name": "a"}], "annotations": [
            {"image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}]}, "unknown image or category"),
        ({"images": [{"id": 1, "file_name": "a"}], "categories": [{"id": 1, "name": "x"}],
          "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}]}, "bbox"),
        ({"images": [{"id": 1, "file_name": "a", "tz_usage": "holdout"}]}, "tz_usage"),
    ],
)  # fmt: skip
def test_coco_errors_say_where(doc, where) -> None:
    with pytest.raises(ValueError, match=where.replace("[", r"\[").replace("]", r"\]")):
        formats.from_coco(doc)


def test_imagenet_round_trip() -> None:
    entries = [
        e("x/cat1.jpg", ["cat"], usage="train", sha="1" * 64),
        e("y/cat1.jpg", ["cat"], usage="train", sha="2" * 64),  # same name, same class
        e("dog1.jpg", ["dog"], usage="val", sha="3" * 64),
        e("unsplit.jpg", ["dog"], sha="4" * 64),
        e("unlabeled.jpg", sha="5" * 64),
    ]
    layout, skipped = formats.imagenet_layout(entries)
    assert skipped == 1
    paths = {p: entry["sha256"] for p, entry in layout}
    assert paths == {
        "train/cat/cat1.jpg": "1" * 64,
        "train/cat/cat1-22222222.jpg": "2" * 64,
        "val/dog/dog1.jpg": "3" * 64,
        "unassigned/dog/unsplit.jpg": "4" * 64,
    }
    back = formats.from_imagenet(paths)
    for path, sha in paths.items():
        original = next(x for x in entries if x["sha256"] == sha)
        assert back[path]["label"] == original["annotations"]["labels"][0]
        assert back[path]["usage"] == original["usage"]


def test_imagenet_without_splits_is_label_folders() -> None:
    layout, _ = formats.imagenet_layout([e("a.jpg", ["cat"]), e("b.jpg", ["dog"])])
    assert [p for p, _ in layout] == ["cat/a.jpg", "dog/b.jpg"]


@pytest.mark.parametrize(
    "path, label, usage",
    [
        ("cat/1.jpg", "cat", None),
        ("train/cat/1.jpg", "cat", "train"),
        ("validation/cat/1.jpg", "cat", "val"),
        ("TEST/cat/1.jpg", "cat", "test"),
        ("train/1.jpg", None, "train"),
        ("1.jpg", None, None),
        ("unassigned/cat/1.jpg", "cat", None),
        ("zoo/cats/big/1.jpg", "big", None),
    ],
)
def test_imagenet_reading(path, label, usage) -> None:
    assert formats.from_imagenet([path])[path] == {"label": label, "usage": usage}


def test_match_keys() -> None:
    keys = ["images/a.jpg", "images/b.jpg", "other/b.jpg", "c.jpg"]
    assert formats.match_keys(
        ["images/a.jpg", "a.jpg", "b.jpg", "other/b.jpg", "zzz.jpg", "c.jpg"], keys
    ) == {  # fmt: skip
        "images/a.jpg": "images/a.jpg",
        "a.jpg": "images/a.jpg",
        "other/b.jpg": "other/b.jpg",
        "c.jpg": "c.jpg",
    }
