"""Evaluation metrics, inputs from dataset files and the speed measurement (issue 4, item 7)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")
PIL = pytest.importorskip("PIL")

from PIL import Image  # noqa: E402

from training_zoo.models.evaluation import (  # noqa: E402
    PeakMemory,
    classification,
    image_batch,
    label_indices,
    measure_speed,
    read_csv,
    regression,
)


def _scores(pred: list[int], classes: int) -> np.ndarray:
    """Scores whose argmax is ``pred`` and whose order below it is the class order."""
    s = -np.tile(np.arange(classes, dtype=np.float32), (len(pred), 1))
    s[np.arange(len(pred)), pred] = 10
    return s


def test_classification_metrics() -> None:
    y = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 1, 1]
    got = classification(y, _scores(pred, 3), ["cat", "dog", "owl"])
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["top5"] == 1.0  # k = 3 classes: every true class is in the top 3
    assert got["confusion"] == {"labels": ["cat", "dog", "owl"],
                                "matrix": [[2, 1, 0], [0, 2, 0], [0, 1, 0]]}  # fmt: skip
    assert got["per_class"] == {
        "cat": {"precision": 1.0, "recall": pytest.approx(2 / 3), "support": 3},
        "dog": {"precision": 0.5, "recall": 1.0, "support": 2},
        "owl": {"precision": 0.0, "recall": 0.0, "support": 1},  # never predicted
    }


def test_top5_counts_the_five_highest_of_many_classes() -> None:
    scores = np.tile(np.arange(10, dtype=np.float32)[::-1], (3, 1))  # class 0 highest
    got = classification([4, 5, 0], scores)
    assert (got["accuracy"], got["top5"]) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert got["confusion"]["labels"] == [str(i) for i in range(10)]


@pytest.mark.parametrize(
    ("y", "scores", "labels", "error"),
    [
        ([], np.zeros((0, 3)), None, "no samples"),
        ([0, 1], np.zeros((3, 3)), None, "2 true labels for 3 rows"),
        ([0, 3], np.zeros((2, 3)), None, r"class indices must be in 0..2; got 0..3"),
        ([0], np.zeros((1, 3)), ["a", "b"], "2 labels for 3 classes"),
        ([0], np.zeros((1, 3, 1)), None, r"scores must be \(samples, classes\)"),
    ],
)
def test_classification_rejects_inconsistent_inputs(
    y: list[int], scores: np.ndarray, labels: Any, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        classification(y, scores, labels)


@pytest.mark.parametrize(
    ("y", "pred", "expected"),
    [
        ([1.0, 2.0, 3.0], [[1.5], [2.0], [2.0]], {"mse": 1.25 / 3, "mae": 0.5, "rmse": 0.6455}),
        ([0.0, 0.0], [0.0, 0.0], {"mse": 0.0, "mae": 0.0, "rmse": 0.0}),
    ],
)
def test_regression_metrics(y: list[float], pred: list, expected: dict[str, float]) -> None:
    got = regression(y, np.asarray(pred))
    assert got == pytest.approx(expected, abs=1e-4)


def test_regression_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"predictions of shape \(2, 2\) for targets of shape"):
        regression([1.0, 2.0], np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("values", "labels", "expected"),
    [
        (["dog", "cat"], ["cat", "dog"], [1, 0]),
        (["1", " 0 ", "2"], None, [1, 0, 2]),
        (["1", "0"], ["1", "0"], [0, 1]),  # a label wins over the index it spells
    ],
)
def test_label_indices(values: list[str], labels: Any, expected: list[int]) -> None:
    assert label_indices(values, labels, 3).tolist() == expected


@pytest.mark.parametrize(("value", "labels"), [("owl", ["cat", "dog"]), ("3", None)])
def test_label_indices_unknown_label_is_named(value: str, labels: Any) -> None:
    with pytest.raises(ValueError, match=f"label '{value}' is not one of the model's labels"):
        label_indices([value], labels, 3)


def test_image_batch_applies_the_preprocess(tmp_path: Path) -> None:
    Image.new("RGB", (8, 4), (255, 0, 51)).save(tmp_path / "a.png")
    Image.new("L", (4, 4), 255).save(tmp_path / "b.png")
    pre = {"kind": "image", "size": [2, 3], "mode": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3}
    batch = image_batch([tmp_path / "a.png", tmp_path / "b.png"], pre)
    assert batch.shape == (2, 3, 2, 3) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0, :, 0, 0], [1.0, -1.0, -0.6], atol=1e-6)
    np.testing.assert_allclose(batch[1], 1.0)  # grey 255 -> RGB white
    grey = image_batch([tmp_path / "a.png"], {**pre, "mode": "L", "mean": [0.0], "std": [1.0]})
    assert grey.shape == (1, 1, 2, 3)
    (tmp_path / "c.png").write_text("not an image")
    with pytest.raises(ValueError, match="c.png: not an image Pillow can read"):
        image_batch([tmp_path / "c.png"], pre)


def test_read_csv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b,y\n1,2,cat\n3,4.5,dog\n")
    (tmp_path / "b.csv").write_text("b,y,a\n6,cat,5\n")
    x, y, names = read_csv([tmp_path / "a.csv", tmp_path / "b.csv"], None, "y")
    assert names == ["a", "b"] and y == ["cat", "dog", "cat"]
    np.testing.assert_array_equal(x, [[1, 2], [3, 4.5], [5, 6]])
    x, y, _ = read_csv([tmp_path / "a.csv"], ["b"], None)
    assert x.tolist() == [[2.0], [4.5]] and y is None


@pytest.mark.parametrize(
    ("text", "features", "target", "error"),
    [
        ("a,b\n1,2\n", ["a", "c"], None, "t.csv: no column 'c' \\(columns: a, b\\)"),
        ("a,b\n1,2\n", ["a"], "y", "t.csv: no column 'y'"),
        ("a,b\n1,2\n3,x\n", ["a", "b"], None, "t.csv line 3: column 'b' is not a number \\('x'\\)"),
    ],
)
def test_read_csv_errors_name_file_line_and_column(
    tmp_path: Path, text: str, features: list[str], target: Any, error: str
) -> None:
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(ValueError, match=error):
        read_csv([tmp_path / "t.csv"], features, target)


class _Sleepy:
    """A stand-in for a loaded model: 1 ms a call plus 0.1 ms a sample."""

    runtime, runtime_version, threads = "onnxruntime", "1.0", 2

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(len(batch))
        time.sleep(0.001 + 0.0001 * len(batch))
        return np.zeros((len(batch), 3), np.float32)


def test_measure_speed_reports_every_field() -> None:
    model = _Sleepy()
    speed = measure_speed(model, lambda n: np.zeros((n, 4)), 16, 20, 1234, min_throughput_s=0.05)
    assert set(speed) == {"runtime", "runtime_version", "latency_ms_p50", "latency_ms_p95",
                          "batch_size", "throughput_per_s", "peak_memory_mb",
                          "model_size_bytes", "threads", "hardware"}  # fmt: skip
    assert 1.0 <= speed["latency_ms_p50"] <= speed["latency_ms_p95"] < 50
    assert 100 < speed["throughput_per_s"] < 16 / 0.0026
    assert (speed["batch_size"], speed["model_size_bytes"], speed["threads"]) == (16, 1234, 2)
    assert speed["peak_memory_mb"] >= 0
    assert speed["hardware"]["cores"] >= 1 and speed["hardware"]["cpu"]
    assert "gpu" in speed["hardware"]
    # warm-up (10 at batch 1, 1 at 16), 20 timed at batch 1, then at least 3 at batch 16
    assert model.batches[:31] == [1] * 10 + [16] + [1] * 20
    assert model.batches[31:] == [16] * len(model.batches[31:]) and len(model.batches) >= 34


def test_peak_memory_sees_an_allocation_freed_before_stop() -> None:
    with PeakMemory(interval=0.001) as memory:
        block = np.ones(64 * 1024 * 1024, np.uint8)  # 64 MB, touched
        time.sleep(0.02)
        del block
    assert memory.growth_mb > 50
