"""Manifests: canonical JSON Lines bytes, validation of annotations, statistics and diffs."""

from __future__ import annotations

import hashlib

import pytest

from training_zoo.datasets import manifests as mf
from training_zoo.errors import InvalidRequest


def e(key: str, labels=(), boxes=(), usage=None, sha="a" * 64, size=1) -> dict:
    return mf.entry(key, size, sha, f"blobs/{sha}", usage, {"labels": list(labels),
                                                            "boxes": list(boxes)})  # fmt: skip


BOX = {"label": "cat", "x": 1, "y": 2.5, "w": 10, "h": 20}


def test_encode_is_sorted_canonical_and_round_trips() -> None:
    entries = [
        e("b.jpg", ["dog"]),
        e("a/z.jpg"),
        e("数据/猫.jpg", ["<b>cat</b>"], [BOX]),
        e("B.jpg"),
    ]
    data = mf.encode(entries)
    lines = data.decode().splitlines()
    assert [mf.decode(line)[0]["key"] for line in lines] == [
        "B.jpg",
        "a/z.jpg",
        "b.jpg",
        "数据/猫.jpg",
    ]
    assert "数据" in lines[-1] and "<b>cat</b>" in lines[-1]  # kept verbatim, not escaped
    assert mf.encode(reversed(entries)) == data  # same entries, same bytes, same sha256
    assert sorted(mf.decode(data), key=lambda x: x["key"]) == sorted(
        entries, key=lambda x: x["key"]
    )
    # Draft-only fields never reach the manifest.
    draft = {**entries[0], "revision": 7, "updated_by": "alice", "updated": "now"}
    assert mf.encode([draft]) == mf.encode([entries[0]])


def test_encode_refuses_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        mf.encode([e("a"), e("a")])


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"{not json}\n", "line 1"),
        (b'{"key": "a"}\n[1]\n', "line 2"),
        (b'{"key": 3}\n', "string key"),
        (b'{"key": "a", "size": "big"}\n', "size"),
    ],
)
def test_decode_names_the_bad_line(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        mf.decode(data)


def test_decode_skips_blank_lines() -> None:
    assert [x["key"] for x in mf.decode(b'\n{"key":"a","size":1,"sha256":"x"}\n\n')] == ["a"]


@pytest.mark.parametrize(
    "value, allowed, single, error",
    [
        ({"labels": ["cat"]}, ["cat"], False, None),
        ({"labels": ["cat"], "boxes": [BOX]}, ["cat"], False, None),
        ({}, ["cat"], False, None),
        (None, ["cat"], False, None),
        ({"labels": ["dog"]}, ["cat"], False, "not in the dataset's labels"),
        ({"boxes": [{**BOX, "label": "dog"}]}, ["cat"], False, "not in the dataset's labels"),
        ({"labels": ["cat", "dog"]}, ["cat", "dog"], True, "one label"),
        ({"labels": ["cat", "cat"]}, ["cat"], False, "distinct"),
        ({"labels": "cat"}, None, False, "must be a list"),
        ({"labels": [""]}, None, False, "non-empty"),
        ({"labels": ["a\x00b"]}, None, False, "control"),
        ({"tags": []}, None, False, "unknown fields"),
        ({"boxes": [{**BOX, "w": 0}]}, None, False, "positive"),
        ({"boxes": [{**BOX, "x": -1}]}, None, False, "not negative"),
        ({"boxes": [{**BOX, "x": float("nan")}]}, None, False, "finite"),
        ({"boxes": [{**BOX, "x": True}]}, None, False, "finite"),
        ({"boxes": [{"label": "cat"}]}, None, False, "a box is"),
        ([], None, False, "must be an object"),
    ],
)
def test_check_annotations(value, allowed, single, error) -> None:
    if error is None:
        out = mf.check_annotations(value, allowed, single_label=single)
        assert set(out) == {"labels", "boxes"}
        return
    with pytest.raises(InvalidRequest) as exc:
        mf.check_annotations(value, allowed, single_label=single)
    assert error in exc.value.message
    assert "annotations" in exc.value.errors


def test_labels_with_html_are_kept_verbatim() -> None:
    labels = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a&amp;b"]
    assert mf.check_label_set(labels) == labels


@pytest.mark.parametrize(
    "name, number", [("V001", 1), ("V010", 10), ("V999", 999), ("V1000", 1000)]
)
def test_version_names(name: str, number: int) -> None:
    assert mf.version_number(name) == number
    assert mf.version_name(number) == name


@pytest.mark.parametrize("bad", ["V1", "v001", "V000", "001", "V00a", "V-01", "V١٢٣", None, 3])
def test_bad_version_names(bad) -> None:
    with pytest.raises(InvalidRequest):
        mf.version_number(bad)


def test_stats() -> None:
    entries = [
        e("a", ["cat"], usage="train", size=10),
        e("b", [], [BOX, BOX], usage="train", size=5),
        e("c", ["dog"], [BOX], usage="val", size=1),
        e("d", size=100),
    ]
    assert mf.stats(entries) == {
        "files": 4,
        "bytes": 116,
        "labels": {"cat": 3, "dog": 1},  # a file counts once per label
        "splits": {"train": 2, "val": 1, "test": 0, "unassigned": 1},
        "labeled": 3,
    }


def test_diff_added_removed_relabeled() -> None:
    before = [e("keep"), e("gone"), e("relabel", ["cat"]), e("bytes", sha="1" * 64),
              e("split", usage="train")]  # fmt: skip
    after = [e("keep"), e("new"), e("relabel", ["dog"]), e("bytes", sha="2" * 64),
             e("split", usage="test")]  # fmt: skip
    d = mf.diff(before, after)
    assert d["added"] == ["new"]
    assert d["removed"] == ["gone"]
    assert d["relabeled"] == [{"key": "relabel", "before": {"labels": ["cat"], "boxes": []},
                               "after": {"labels": ["dog"], "boxes": []}}]  # fmt: skip
    assert d["changed"] == ["bytes"] and d["resplit"] == ["split"]
    assert d["counts"] == {"added": 1, "removed": 1, "relabeled": 1, "changed": 1, "resplit": 1,
                           "unchanged": 1}  # fmt: skip


def test_manifest_sha_is_stable_for_unchanged_entries() -> None:
    entries = [e(f"f{i}", ["x"] if i % 2 else []) for i in range(100)]
    one = hashlib.sha256(mf.encode(entries)).hexdigest()
    assert hashlib.sha256(mf.encode(entries[::-1])).hexdigest() == one
