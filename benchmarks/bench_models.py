"""Benchmark the model module: ONNX Runtime vs PyTorch, INT8 vs FP32, and the registry's API.

Every figure is a ratio against a baseline measured in the same run. Latency figures alternate
the two sides block by block (A, B, then B, A, ...; 10 blocks, 4 with ``--quick``) after an
untimed warm-up of both (at least 10 calls and 0.3 s each), so drift and other programs' load hit
both alike. A block holds as many calls as about 0.25 s of the slower side takes (0.1 s with
``--quick``; at most 2,000, ended early after 3 times that). p50 and p95 are over every timed
call of a side, and verdicts compare the p50s. ``foreign`` is the CPU other programs used
meanwhile (a lower bound read from ``/proc``, as in ``bench_jobs.py``).

(1) ONNX Runtime vs PyTorch eager at batch 1
    Models: ``ShapesNet`` (``tests/jobs/shapes_model.py``, the registry's example model, input
    1x3x16x16, 3 classes) and ``SmallResNet`` (defined here: a CIFAR-style ResNet, stem conv
    3->32, three residual blocks 32/64/128 channels with BatchNorm, input 1x3x32x32, 10 classes,
    about 0.3 M parameters and 49 M multiply-adds, so the figure is not only call overhead).
    Both are built with ``torch.manual_seed(0)`` and put in eval mode (SmallResNet's BatchNorm
    statistics are first filled by 8 training-mode batches). ONNX: ``conversion.to_onnx`` (dynamo
    exporter, opset 17, dynamic batch), the same call the conversion worker makes. PyTorch side:
    ``model(x)`` under ``torch.inference_mode()`` with a prebuilt tensor and
    ``torch.set_num_threads(T)``. ONNX side: ``InferenceSession.run(None, {"input": x})`` with a
    prebuilt numpy array, ``SessionOptions.intra_op_num_threads = T``,
    ``inter_op_num_threads = 1``, default graph optimisations (as ``runtime.load`` does), CPU
    provider. T = 1 and T = 2 (1 only with ``--quick``). Figure: p50 ONNX / p50 PyTorch, target
    <= 1.0. The outputs of both are compared once (max abs difference printed). Diagnostic (no
    verdict): the same for ShapesNet through ``training_zoo.models.runtime.load(folder,
    threads=1).predict`` of a ``pytorch-state-dict`` folder and of an ``onnx`` folder (what an
    evaluation job times, including ``predict``'s array checks).

(2) INT8 vs FP32 ONNX for a Linear-heavy model
    An MLP 1024-4096-4096-1000 (ReLU between; 25.1 M parameters) exported with
    ``conversion.to_onnx`` and quantized with ``conversion.quantize_int8`` (onnxruntime dynamic
    quantization, int8 weights with ``reduce_range``). Latency: ``run`` of the FP32 session vs the
    INT8 session at batch 1 and batch 32, T = 1 and 2 threads (1 only with ``--quick``); figure
    p50 INT8 / p50 FP32, target <= 0.7. Model sizes: the two ONNX files' bytes.
    Accuracy: a synthetic 1000-class task. Class centres ``c_k ~ N(0, I_1024)`` (seeded); a sample
    of class k is ``c_k + 4 * N(0, I_1024)``. The MLP's hidden layers keep their random PyTorch
    initialisation and act as a fixed feature map ``phi``; the output layer is *constructed*, not
    trained: row k = ``phi(c_k)``, bias k = ``-|phi(c_k)|^2 / 2``, i.e. a nearest-centre
    classifier in feature space (noise 4 puts FP32 accuracy near 84 %, so there is something to
    lose). Figure: top-1 accuracy against the true class on N held-out samples (2,000; 1,000 with
    ``--quick``) for the FP32 and the INT8 ONNX models, run at batch 100; accuracy delta INT8 -
    FP32 in percentage points, target >= -1.0 pp. Also printed: top-1 agreement of INT8 with FP32
    and the INT8 model's max abs logit difference from FP32 (relative to the largest logit).

(3) The registry's REST API at 10,000 versions
    A SQLite database (the service's default store) and a local-folder ``TzStorage`` in a temp
    dir. Through ``TzModelManager``: 100 models are created (``create``) and version 1 of each is
    registered from a workspace folder (``register``, which copies the files). Versions 2..100 of
    each model, their evaluation and conversion runs and stage events are then inserted directly
    with SQLAlchemy Core into the ORM's tables (``ModelVersion``, ``ModelRun``,
    ``ModelStageEvent``), copying the shape of the registered version 1 rows, because registering
    10,000 versions one by one would copy 30,000 files and take most of the run; the rows are what
    the queries read. Shape: owners alice 40 models (private), bob 30 (20 public, 10 team
    ``vision``), carol 30 (private; alice cannot read them). 90 models hold 25 families of 4
    versions (a PyTorch version trained by a job on a dataset version, its ONNX conversion, then
    INT8 and FP16 conversions of the ONNX one); 10 models hold one conversion chain 1 -> 2 -> ...
    -> 100 (the worst case for lineage). Every version has one succeeded evaluation run (accuracy,
    top-5, per-class table, confusion matrix, speed); every converted version its conversion run;
    stages: typical models production 97, staging 98, archived 85, 89, 93; chain models
    production 100, staging 99, archived 98. 10,000 versions and 17,740 runs in all.
    The real handlers (``training_zoo.models.handlers.routes("/api")``) are served by tornado in a
    separate Python process (``--serve-registry``, started by this script, so the client does not
    share a GIL with it), with the stand-in for the hub's token check of
    ``tests/integration/test_datasets.py`` (``Authorization: token alice`` -> alice, group
    ``vision``, the models read/write scopes). Client: one ``requests.Session`` (keep-alive).
    Endpoints, as alice, each called once per round in a rotating order, R rounds (200; 30 with
    ``--quick``) after 3 untimed rounds:
    ``GET /models/{id}`` (the baseline: auth, one model row, its version counts),
    ``GET /models`` (first page, limit 50), ``GET /models?stage=production``,
    ``GET /models/{id}/versions`` (first page, 50 newest, with their evaluations),
    ``GET /models/{id}/versions/98/lineage`` (a family of 4),
    ``GET /models/{chain}/versions/100/lineage`` (version 100 of a 100-long chain),
    ``GET /models/compare?versions=id:97,id:98,id:99``.
    Figure: p95 per endpoint, target <= 100 ms; printed with its p50 as a multiple of the
    baseline's p50 (what the endpoint costs above the floor of HTTP + auth + one lookup). The
    floor is the honest baseline for "stays fast": every endpoint pays it, and the multiple shows
    the work the endpoint adds. Diagnostics: SQL statements each endpoint runs (counted in the
    server with a SQLAlchemy ``before_cursor_execute`` listener), response sizes, the server's CPU
    per request, and the p50 of raw ``sqlite3`` queries fetching the same rows.

Usage: ``.venv/bin/python benchmarks/bench_models.py [--quick] [--json PATH] [--skip
onnx,int8,registry] [--rounds R] [--blocks B]``. The exit status is 0 whether or not the targets
are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import logging
import os
import platform as platform_mod
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "jobs"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_jobs import ForeignLoad  # noqa: E402

ONNX_MAX_RATIO = 1.0
INT8_MAX_RATIO = 0.7
INT8_MIN_ACC_DELTA_PP = -1.0
API_MAX_P95_MS = 100.0
FOREIGN_WARN_SHARE = 0.05

MLP_SIZES = (1024, 4096, 4096, 1000)
TASK_NOISE = 4.0
EVAL_BATCH = 100

MODELS_READ, MODELS_WRITE = "custom:tz:models:read", "custom:tz:models:write"
REG_USERS = {"alice": ("vision",), "bob": ("vision",), "carol": ("other",)}
CHAIN_MODELS = 10
FAMILY = ("pytorch-state-dict", "onnx", "int8", "fp16")


@dataclass
class Verdict:
    name: str
    value: float
    target: str
    met: bool
    line: str
    extra: dict[str, Any] = field(default_factory=dict)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Swallow the exporters' and quantizer's chatter (logging, warnings, prints); on an
    exception the captured text is printed before it propagates."""
    buf = io.StringIO()
    logging.disable(logging.WARNING)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(buf),
            contextlib.redirect_stderr(buf),
        ):
            warnings.simplefilter("ignore")
            yield buf
    except BaseException:
        print(buf.getvalue()[-4000:], file=sys.stderr)
        raise
    finally:
        logging.disable(logging.NOTSET)


# ---- paired latency ---------------------------------------------------------------------------


@dataclass
class Pair:
    """Per-call seconds of two sides timed in alternating blocks."""

    figure: str
    a: str
    b: str
    a_s: list[float] = field(default_factory=list)
    b_s: list[float] = field(default_factory=list)
    block_ratios: list[float] = field(default_factory=list)  # median b / median a per block
    calls_per_block: int = 0
    foreign_share: float = 0.0

    def stats(self) -> dict[str, float]:
        return {
            f"{self.a}_p50_ms": 1e3 * median(self.a_s),
            f"{self.a}_p95_ms": 1e3 * pct(self.a_s, 95),
            f"{self.b}_p50_ms": 1e3 * median(self.b_s),
            f"{self.b}_p95_ms": 1e3 * pct(self.b_s, 95),
            "ratio_p50": median(self.b_s) / median(self.a_s),
            "ratio_p95": pct(self.b_s, 95) / pct(self.a_s, 95),
        }


def time_pair(
    figure: str,
    a: tuple[str, Callable[[], Any]],
    b: tuple[str, Callable[[], Any]],
    blocks: int,
    block_s: float,
    foreign: ForeignLoad,
) -> Pair:
    """Warm both sides up, size blocks to about ``block_s`` seconds of the slower side, then
    time ``blocks`` blocks of each, alternating which side goes first.

    Block size comes from the warm-up's lower quartile, so that a burst of other programs' load
    during the warm-up does not shrink every block to a handful of calls; a side's block also
    ends early once it has run for ``3 * block_s`` (with at least 5 calls), so a burst during
    the timed blocks cannot stretch the run.
    """
    (name_a, fn_a), (name_b, fn_b) = a, b
    warm: dict[str, list[float]] = {name_a: [], name_b: []}
    for name, fn in ((name_a, fn_a), (name_b, fn_b)):
        t_end = time.perf_counter() + 0.3
        while len(warm[name]) < 10 or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            fn()
            warm[name].append(time.perf_counter() - t0)
            if len(warm[name]) >= 500:
                break
    slow = max(pct(warm[name_a], 25), pct(warm[name_b], 25))
    n = max(5, min(2000, int(block_s / max(slow, 1e-6))))
    pair = Pair(figure, name_a, name_b, calls_per_block=n)
    f0, t_start = foreign.now(), time.perf_counter()
    for i in range(blocks):
        order = ((name_a, fn_a), (name_b, fn_b))
        if i % 2:
            order = order[::-1]
        got: dict[str, list[float]] = {}
        for name, fn in order:
            gc.collect()
            times: list[float] = []
            stop = time.perf_counter() + 3 * block_s
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                times.append(t1 - t0)
                if t1 > stop and len(times) >= 5:
                    break
            got[name] = times
        pair.a_s += got[name_a]
        pair.b_s += got[name_b]
        pair.block_ratios.append(median(got[name_b]) / median(got[name_a]))
    wall = time.perf_counter() - t_start
    pair.foreign_share = (foreign.now() - f0) / (wall * (os.cpu_count() or 1))
    return pair


def pair_line(p: Pair, unit: str = "ms") -> str:
    s = p.stats()
    return (
        f"  {p.figure:<34} {p.a} p50 {s[f'{p.a}_p50_ms']:8.3f} p95 {s[f'{p.a}_p95_ms']:8.3f} | "
        f"{p.b} p50 {s[f'{p.b}_p50_ms']:8.3f} p95 {s[f'{p.b}_p95_ms']:8.3f} {unit} | ratio "
        f"{s['ratio_p50']:.3f} (blocks {min(p.block_ratios):.2f}-{max(p.block_ratios):.2f}, "
        f"<={p.calls_per_block}/block) foreign {100 * p.foreign_share:.0f}%"
    )


def ratio_verdict(p: Pair, op: str, limit: float) -> Verdict:
    s = p.stats()
    r = s["ratio_p50"]
    met = r <= limit
    line = (
        f"{p.figure}: {p.a} p50 {s[f'{p.a}_p50_ms']:.3f} ms (p95 {s[f'{p.a}_p95_ms']:.3f}), "
        f"{p.b} p50 {s[f'{p.b}_p50_ms']:.3f} ms (p95 {s[f'{p.b}_p95_ms']:.3f}), ratio "
        f"{p.b}/{p.a} {r:.2f}x (target {op} {limit}x): {'MET' if met else 'MISSED'}"
    )
    return Verdict(
        p.figure,
        r,
        f"{op} {limit}",
        met,
        line,
        {
            **s,
            "block_ratios": p.block_ratios,
            "calls_per_block": p.calls_per_block,
            "foreign_share": p.foreign_share,
        },
    )


# ---- models -----------------------------------------------------------------------------------


def small_resnet() -> Any:
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.short = nn.Sequential()
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )
            self.relu = nn.ReLU()

        def forward(self, x: Any) -> Any:
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + self.short(x))

    class SmallResNet(nn.Module):
        def __init__(self, classes: int = 10) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()
            )
            self.blocks = nn.Sequential(Block(32, 32, 1), Block(32, 64, 2), Block(64, 128, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(128, classes)

        def forward(self, x: Any) -> Any:
            return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))

    return SmallResNet()


def mlp() -> Any:
    from torch import nn

    d, h1, h2, c = MLP_SIZES
    return nn.Sequential(
        nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, c)
    )


def ort_session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export(model: Any, example: Any, path: Path) -> tuple[Path, float]:
    from training_zoo.models.conversion import to_onnx

    t0 = time.perf_counter()
    with quiet():
        out = to_onnx(model, example, path)
    return out, time.perf_counter() - t0


# ---- (1) ONNX Runtime vs PyTorch eager ------------------------------------------------------


def onnx_figures(
    tmp: Path,
    threads: list[int],
    blocks: int,
    block_s: float,
    diagnostic: bool,
    foreign: ForeignLoad,
    extra: dict[str, Any],
) -> tuple[list[Pair], list[Verdict]]:
    import torch
    from shapes_model import ShapesNet

    torch.manual_seed(0)
    shapes = ShapesNet().eval()
    torch.manual_seed(0)
    resnet = small_resnet()
    resnet.train()
    with torch.no_grad():
        for _ in range(8):  # fill BatchNorm's running statistics
            resnet(torch.randn(16, 3, 32, 32))
    resnet.eval()
    pairs, verdicts = [], []
    for name, model, shape in (
        ("ShapesNet", shapes, (1, 3, 16, 16)),
        ("SmallResNet", resnet, (1, 3, 32, 32)),
    ):
        params = sum(p.numel() for p in model.parameters())
        path, secs = export(model, torch.randn(*shape), tmp / f"{name}.onnx")
        print(
            f"  {name}: {params:,} parameters, exported in {secs:.1f} s "
            f"({path.stat().st_size:,} bytes)",
            flush=True,
        )
        extra[f"{name}_params"] = params
        x = torch.randn(*shape)
        xn = x.numpy().copy()
        for t in threads:
            torch.set_num_threads(t)
            sess = ort_session(path, t)
            with torch.inference_mode():
                diff = float(np.abs(model(x).numpy() - sess.run(None, {"input": xn})[0]).max())

                def eager(m: Any = model, inp: Any = x) -> Any:
                    return m(inp)

                def ort_run(s: Any = sess, inp: np.ndarray = xn) -> Any:
                    return s.run(None, {"input": inp})

                p = time_pair(
                    f"onnx_vs_eager_{name}_t{t}",
                    ("eager", eager),
                    ("onnx", ort_run),
                    blocks,
                    block_s,
                    foreign,
                )
            extra[f"{p.figure}_max_abs_diff"] = diff
            pairs.append(p)
            print(pair_line(p) + f" max|diff| {diff:.1e}", flush=True)
            verdicts.append(ratio_verdict(p, "<=", ONNX_MAX_RATIO))
    try:
        if diagnostic:
            p = runtime_pair(shapes, tmp, blocks, block_s, foreign)
            pairs.append(p)
            extra["runtime_load_predict"] = p.stats()
            print(pair_line(p) + "  (diagnostic, no verdict)", flush=True)
    except Exception as e:  # runtime.py was still being finished when this was written
        print(f"  runtime.load diagnostic skipped: {type(e).__name__}: {e}")
        extra["runtime_load_predict"] = f"skipped: {e}"
    torch.set_num_threads(threads[0])
    return pairs, verdicts


def runtime_pair(model: Any, tmp: Path, blocks: int, block_s: float, foreign: ForeignLoad) -> Pair:
    """ShapesNet through ``runtime.load(...).predict``: a state-dict folder vs an ONNX folder."""
    import torch

    from training_zoo.models import runtime

    sig = {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 16, 16]}],
        "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, 3]}],
    }
    pt = tmp / "shapes-pt"
    pt.mkdir()
    shutil.copy(ROOT / "tests" / "jobs" / "shapes_model.py", pt / "model.py")
    torch.save(model.state_dict(), pt / "model.pt")
    (pt / "tz-model.json").write_text(
        json.dumps(
            {
                "format": "pytorch-state-dict",
                "artifact": "model.pt",
                "signature": sig,
                "builder": {"module": "model.py", "class": "ShapesNet", "kwargs": {"classes": 3}},
            }
        )
    )
    ox = tmp / "shapes-onnx"
    ox.mkdir()
    shutil.copy(tmp / "ShapesNet.onnx", ox / "model.onnx")
    (ox / "tz-model.json").write_text(
        json.dumps({"format": "onnx", "artifact": "model.onnx", "signature": sig})
    )
    eager, onnx = runtime.load(pt, threads=1), runtime.load(ox, threads=1)
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    return time_pair(
        "runtime.load().predict_ShapesNet_t1",
        ("eager", lambda: eager.predict(x)),
        ("onnx", lambda: onnx.predict(x)),
        blocks,
        block_s,
        foreign,
    )


# ---- (2) INT8 vs FP32 -------------------------------------------------------------------------


def int8_figures(
    tmp: Path,
    threads: list[int],
    blocks: int,
    block_s: float,
    n_test: int,
    foreign: ForeignLoad,
    extra: dict[str, Any],
) -> tuple[list[Pair], list[Verdict]]:
    import torch

    from training_zoo.models.conversion import quantize_int8

    d, _, _, c = MLP_SIZES
    torch.manual_seed(0)
    model = mlp().eval()
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(c, d, generator=g)
    t0 = time.perf_counter()
    torch.set_num_threads(max(threads))
    with torch.inference_mode():
        feats = model[:4](centres)
        model[4].weight.copy_(feats)
        model[4].bias.copy_(-0.5 * feats.pow(2).sum(1))
    build_s = time.perf_counter() - t0
    labels = torch.randint(0, c, (n_test,), generator=g)
    inputs = (centres[labels] + TASK_NOISE * torch.randn(n_test, d, generator=g)).numpy()
    labels_np = labels.numpy()
    params = sum(p.numel() for p in model.parameters())
    fp32, secs = export(model, torch.randn(1, d), tmp / "mlp.onnx")
    t0 = time.perf_counter()
    with quiet():
        int8 = quantize_int8(fp32, tmp / "mlp-int8.onnx")
    q_s = time.perf_counter() - t0
    size32, size8 = fp32.stat().st_size, int8.stat().st_size
    print(
        f"  MLP {'-'.join(map(str, MLP_SIZES))}: {params:,} parameters; output layer built in "
        f"{build_s:.1f} s; exported in {secs:.1f} s, quantized in {q_s:.1f} s",
        flush=True,
    )
    print(f"  sizes: FP32 {size32:,} bytes, INT8 {size8:,} bytes, ratio {size8 / size32:.3f}")
    extra.update(
        {
            "mlp_params": params,
            "fp32_bytes": size32,
            "int8_bytes": size8,
            "size_ratio": size8 / size32,
        }
    )

    # Accuracy on the held-out samples, both at batch EVAL_BATCH with max(threads) threads.
    s32, s8 = ort_session(fp32, max(threads)), ort_session(int8, max(threads))
    t0 = time.perf_counter()
    out32 = np.concatenate(
        [
            s32.run(None, {"input": inputs[i : i + EVAL_BATCH]})[0]
            for i in range(0, n_test, EVAL_BATCH)
        ]
    )
    out8 = np.concatenate(
        [
            s8.run(None, {"input": inputs[i : i + EVAL_BATCH]})[0]
            for i in range(0, n_test, EVAL_BATCH)
        ]
    )
    acc_s = time.perf_counter() - t0
    acc32 = float((out32.argmax(1) == labels_np).mean())
    acc8 = float((out8.argmax(1) == labels_np).mean())
    agree = float((out8.argmax(1) == out32.argmax(1)).mean())
    max_abs = float(np.abs(out8 - out32).max())
    rel = max_abs / float(np.abs(out32).max())
    delta_pp = 100 * (acc8 - acc32)
    print(
        f"  accuracy on {n_test:,} held-out samples: FP32 {100 * acc32:.2f} %, INT8 "
        f"{100 * acc8:.2f} %, delta {delta_pp:+.2f} pp; INT8 agrees with FP32 on "
        f"{100 * agree:.2f} %; max|logit diff| {max_abs:.3g} ({100 * rel:.2f} % of the largest "
        f"logit) [{acc_s:.1f} s]",
        flush=True,
    )
    met = delta_pp >= INT8_MIN_ACC_DELTA_PP
    acc_verdict = Verdict(
        "int8_accuracy_delta",
        delta_pp,
        f">= {INT8_MIN_ACC_DELTA_PP} pp",
        met,
        f"int8_accuracy_delta: FP32 {100 * acc32:.2f} %, INT8 {100 * acc8:.2f} % on {n_test:,} "
        f"held-out samples, delta {delta_pp:+.2f} pp (target >= {INT8_MIN_ACC_DELTA_PP} pp): "
        f"{'MET' if met else 'MISSED'} [top-1 agreement {100 * agree:.2f} %; size INT8/FP32 "
        f"{size8 / size32:.3f}: {size8 / 1e6:.1f} MB vs {size32 / 1e6:.1f} MB]",
        {
            "fp32_accuracy": acc32,
            "int8_accuracy": acc8,
            "agreement": agree,
            "max_abs_logit_diff": max_abs,
            "max_rel_logit_diff": rel,
            "samples": n_test,
        },
    )

    pairs, verdicts = [], []
    rng = np.random.default_rng(0)
    for t in threads:
        s32, s8 = ort_session(fp32, t), ort_session(int8, t)
        for batch in (1, 32):
            x = rng.standard_normal((batch, d)).astype(np.float32)

            def run32(s: Any = s32, inp: np.ndarray = x) -> Any:
                return s.run(None, {"input": inp})

            def run8(s: Any = s8, inp: np.ndarray = x) -> Any:
                return s.run(None, {"input": inp})

            p = time_pair(
                f"int8_vs_fp32_mlp_b{batch}_t{t}",
                ("fp32", run32),
                ("int8", run8),
                blocks,
                block_s,
                foreign,
            )
            pairs.append(p)
            print(pair_line(p), flush=True)
            verdicts.append(ratio_verdict(p, "<=", INT8_MAX_RATIO))
    return pairs, [*verdicts, acc_verdict]


# ---- (3) the registry -------------------------------------------------------------------------


def model_plan(n_models: int) -> list[dict[str, Any]]:
    """Owner, visibility, team and shape of each model (see the module docstring)."""
    plan = []
    for i in range(n_models):
        share = i / n_models
        if share < 0.4:
            owner, vis, team = "alice", "private", None
        elif share < 0.6:
            owner, vis, team = "bob", "public", None
        elif share < 0.7:
            owner, vis, team = "bob", "team", "vision"
        else:
            owner, vis, team = "carol", "private", None
        # Chain models spread over the owners: the first of every tenth.
        chain = i % (n_models // CHAIN_MODELS or 1) == 1
        plan.append(
            {
                "owner": owner,
                "visibility": vis,
                "team": team,
                "chain": chain,
                "name": f"{'chain' if chain else 'net'}-{i:03d}",
            }
        )
    return plan


def identity(name: str) -> Any:
    from training_zoo.identity import Identity

    return Identity(name, groups=REG_USERS[name], scopes=frozenset({MODELS_READ, MODELS_WRITE}))


def registry_manager(db_url: str, storage_dir: Path) -> Any:
    from training_zoo.datasets.workspace import TzWorkspace
    from training_zoo.db.session import make_session_factory
    from training_zoo.models.manager import TzModelManager
    from training_zoo.storage import TzStorage

    storage = TzStorage(url=str(storage_dir))
    return TzModelManager(
        storage=storage,
        workspace=TzWorkspace(storage=storage),
        session_factory=make_session_factory(db_url),
    )


SEED_DESCRIPTOR = {
    "format": "pytorch-state-dict",
    "framework": "pytorch",
    "framework_version": "2.13.0",
    "artifact": "model.pt",
    "task": "image_classification",
    "builder": {"module": "model.py", "class": "ShapesNet", "kwargs": {"classes": 3}},
    "signature": {
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, 16, 16]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 3]}],
    },
    "preprocess": {
        "kind": "image",
        "size": [16, 16],
        "mode": "RGB",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    },
    "labels": ["circle", "square", "triangle"],
    "metrics": {"val_accuracy": 0.97},
    "parameters": {"lr": 0.01, "epochs": 40},
    "tags": {"team": "vision"},
    "card": "README.md",
}
SEED_FILES = {
    "model.pt": os.urandom(24_000),
    "model.py": b"# ShapesNet\n" * 40,
    "README.md": b"# Shapes CNN\n\nA small CNN for 16x16 shapes.\n" * 20,
}


def populate(db_url: str, storage_dir: Path, n_models: int, per_model: int) -> dict[str, Any]:
    """Create the models and their version 1 through the manager, then insert the rest."""
    from sqlalchemy import insert, select, update

    from training_zoo.db.orm import Model, ModelRun, ModelStageEvent, ModelVersion
    from training_zoo.jobs.manager import utcnow

    mm = registry_manager(db_url, storage_dir)
    plan = model_plan(n_models)

    async def through_manager() -> None:
        for user in REG_USERS:
            for path, data in {
                **SEED_FILES,
                "tz-model.json": json.dumps(SEED_DESCRIPTOR).encode(),
            }.items():
                await mm.workspace.write_bytes(
                    identity(user), f"user:{user}", f"exports/seed/{path}", data
                )
        for m in plan:
            who = identity(m["owner"])
            created = await mm.create(
                who,
                {
                    "name": m["name"],
                    "visibility": m["visibility"],
                    "team": m["team"],
                    "task": "image_classification",
                    "description": f"benchmark model {m['name']}",
                },
            )
            m["id"] = created["id"]
            await mm.register(
                who, m["id"], {"source": {"space": f"user:{m['owner']}", "path": "exports/seed"}}
            )

    t0 = time.perf_counter()
    asyncio.run(through_manager())
    manager_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with mm.sessions() as db:
        seeds = {v.model_id: v for v in db.scalars(select(ModelVersion))}
        next_id = max(v.id for v in seeds.values()) + 1
        start = utcnow() - timedelta(days=60)
        versions: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for mi, m in enumerate(plan):
            seed = seeds[m["id"]]
            ids = {1: seed.id}
            stage = production = staging = None
            archived: list[int] = []
            if m["chain"]:
                production, staging, archived = per_model, per_model - 1, [per_model - 2]
            else:
                roots = [n for n in range(1, per_model + 1) if (n - 1) % 4 == 0]
                production = roots[-1]
                staging = production + 1 if production + 1 <= per_model else None
                archived = roots[-4:-1]
            for n in range(1, per_model + 1):
                when = start + timedelta(minutes=mi * per_model + n)
                if m["chain"]:
                    kind, parent = ("pytorch-state-dict" if n == 1 else "onnx"), n - 1 or None
                else:
                    kind = FAMILY[(n - 1) % 4]
                    root = n - (n - 1) % 4
                    parent = (
                        None
                        if kind == "pytorch-state-dict"
                        else (root if kind == "onnx" else root + 1)
                    )
                stage = (
                    "production"
                    if n == production
                    else "staging"
                    if n == staging
                    else "archived"
                    if n in archived
                    else "none"
                )
                if n > 1:
                    ids[n] = next_id
                    next_id += 1
                    fmt = "onnx" if kind != "pytorch-state-dict" else kind
                    run = None
                    if parent is None:
                        job = f"train-{secrets.token_hex(6)}"
                        source = {"kind": "job", "job_id": job, "path": "model"}
                    else:
                        run = run_row(m, "convert", parent, when, result=n)
                        runs.append(run)
                        job = run["job_id"]
                        source = {"kind": "conversion", "job_id": job, "path": "model",
                                  "run_id": run["id"]}  # fmt: skip
                    lineage = job_lineage(m, n, job, parent)
                    conversion = (
                        None
                        if parent is None
                        else {
                            "kind": kind,
                            "opset": 17,
                            "exporter": "dynamo",
                            "parity": {
                                "max_abs": 2e-6,
                                "max_rel": 1e-5,
                                "samples": 16,
                                "tolerance_abs": 1e-4,
                                "tolerance_rel": 1e-3,
                                "passed": True,
                            },
                        }
                    )
                    versions.append(
                        {
                            "id": ids[n],
                            "model_id": m["id"],
                            "number": n,
                            "prefix": f"models/{m['id']}/versions/{secrets.token_hex(6)}",
                            "version_name": None,
                            "description": seed.description,
                            "format": fmt,
                            "framework": "onnx" if fmt == "onnx" else "pytorch",
                            "framework_version": "1.19" if fmt == "onnx" else "2.13.0",
                            "artifact": "model.onnx" if fmt == "onnx" else "model.pt",
                            "signature": seed.signature,
                            "metrics": {"val_accuracy": 0.9 + n / 1e4},
                            "parameters": seed.parameters,
                            "tags": seed.tags,
                            "labels": seed.labels,
                            "preprocess": seed.preprocess,
                            "builder": seed.builder if fmt != "onnx" else None,
                            "card": seed.card,
                            "stage": stage,
                            "production_of": m["id"] if stage == "production" else None,
                            "size_bytes": seed.size_bytes,
                            "files": seed.files,
                            "source": source,
                            "job_id": job,
                            "parent_id": ids[parent] if parent else None,
                            "conversion": conversion,
                            "lineage": lineage,
                            "created": when,
                            "created_by": m["owner"],
                        }
                    )
                elif stage != "none":
                    seed_stage = (stage, m["id"] if stage == "production" else None)
                    db.execute(
                        update(ModelVersion)
                        .where(ModelVersion.id == seed.id)
                        .values(stage=seed_stage[0], production_of=seed_stage[1])
                    )
                runs.append(run_row(m, "evaluate", n, when + timedelta(seconds=30)))
                if stage != "none":
                    events.append(
                        {
                            "model_id": m["id"],
                            "version": n,
                            "from_stage": "none",
                            "to_stage": stage,
                            "by": m["owner"],
                            "time": when,
                            "comment": "benchmark",
                        }
                    )
            db.execute(
                update(Model)
                .where(Model.id == m["id"])
                .values(
                    version_seq=per_model, updated=start + timedelta(minutes=(mi + 1) * per_model)
                )
            )
        # Core inserts (one executemany each); the ORM's bulk path ran one INSERT per row here.
        db.execute(insert(ModelVersion.__table__), versions)
        db.execute(insert(ModelRun.__table__), runs)
        db.execute(insert(ModelStageEvent.__table__), events)
        db.commit()
    insert_s = time.perf_counter() - t0
    alice = [m for m in plan if m["owner"] == "alice"]
    typical = next(m for m in alice if not m["chain"])
    chain = next(m for m in plan if m["chain"] and m["owner"] == "alice")
    return {
        "manager_s": manager_s,
        "insert_s": insert_s,
        "typical": typical["id"],
        "chain": chain["id"],
        "versions": len(plan) * per_model,
        "runs": len(runs),
        "models": len(plan),
        "readable_by_alice": sum(
            1
            for m in plan
            if m["owner"] == "alice" or m["visibility"] == "public" or m["team"] == "vision"
        ),
    }


def job_lineage(m: dict[str, Any], n: int, job: str, parent: int | None) -> dict[str, Any]:
    """What the manager copies from the producing job (``_job_lineage``): a training job on a
    dataset version for an original, the conversion job (reading the parent) for a conversion."""
    name, owner = m["name"], m["owner"]
    if parent is None:
        datasets = [
            {
                "ref": f"{owner}/shapes:V{n:03d}",
                "dataset_id": "ds-0123456789ab",
                "owner": owner,
                "name": "shapes",
                "version": f"V{n:03d}",
            }
        ]
        models: list[dict[str, Any]] = []
        entry, args, framework = "train.py", ["40"], "pytorch"
    else:
        datasets = []
        models = [
            {
                "ref": f"{owner}/{name}:{parent}",
                "model_id": m["id"],
                "owner": owner,
                "name": name,
                "version": parent,
            }
        ]
        entry, args, framework = None, ["convert", "--model", models[0]["ref"]], "custom"
    return {
        "job": {
            "id": job,
            "name": job,
            "owner": owner,
            "framework": framework,
            "status": "succeeded",
        },
        "datasets": datasets,
        "models": models,
        "code_snapshot": secrets.token_hex(20) if parent is None else None,
        "image": None,
        "parameters": {
            "entry": entry,
            "args": args,
            "env": [],
            "nodes": 1,
            "procs_per_node": 2 if parent is None else 1,
        },
    }


def run_row(
    m: dict[str, Any], kind: str, version: int, when: Any, result: int | None = None
) -> dict[str, Any]:
    labels = ("circle", "square", "triangle")
    metrics = speed = None
    if kind == "evaluate":
        acc = 0.9 + (version % 10) / 100
        metrics = {
            "accuracy": acc,
            "top5": 1.0,
            "per_class": {c: {"precision": acc, "recall": acc, "support": 20} for c in labels},
            "confusion": {"labels": list(labels), "matrix": [[18, 1, 1], [1, 18, 1], [1, 1, 18]]},
        }
        speed = {
            "runtime": "onnxruntime",
            "runtime_version": "1.31.1",
            "latency_ms_p50": 0.21,
            "latency_ms_p95": 0.35,
            "batch_size": 32,
            "throughput_per_s": 5400.0,
            "peak_memory_mb": 35.2,
            "model_size_bytes": 123456,
            "threads": 2,
            "hardware": {"cpu": "AMD EPYC", "cores": 2, "gpu": None},
        }
    dataset = {
        "ref": f"{m['owner']}/shapes:V001",
        "dataset_id": "ds-0123456789ab",
        "owner": m["owner"],
        "name": "shapes",
        "version": "V001",
    }
    return {
        "id": f"run-{secrets.token_hex(6)}",
        "kind": kind,
        "model_id": m["id"],
        "version": version,
        "owner": m["owner"],
        "job_id": f"{kind}-{secrets.token_hex(8)}",
        "status": "succeeded",
        "message": None,
        "params": {"dataset": dataset["ref"], "split": "test"}
        if kind == "evaluate"
        else {"to": "onnx", "opset": 17},
        "dataset": dataset if kind == "evaluate" else None,
        "result_version": result,
        "metrics": metrics,
        "speed": speed,
        "created": when,
        "finished": when + timedelta(seconds=20),
    }


def serve_registry(db_url: str, storage_dir: str) -> int:
    """``--serve-registry``: the models REST handlers in tornado, as the integration tests
    build them (stand-in hub auth), plus a benchmark-only counter of SQL statements."""
    from sqlalchemy import event
    from tornado import web
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop
    from tornado.testing import bind_unused_port

    from training_zoo.models import handlers as model_handlers

    mm = registry_manager(db_url, Path(storage_dir))
    statements = [0]

    @event.listens_for(mm.sessions.kw["bind"], "before_cursor_execute")
    def _count(*_args: Any) -> None:
        statements[0] += 1

    class FakeHubAuth:
        """Resolves ``Authorization: token <name>`` to that user (tests/integration's stand-in)."""

        access_scopes: set[str] = set()

        def get_token(self, handler: web.RequestHandler, in_cookie: bool = False) -> str | None:
            header = handler.request.headers.get("Authorization", "")
            return header.split(" ", 1)[1] if header.startswith("token ") else None

        async def user_for_token(self, token: str, sync: bool = False) -> dict | None:
            if token not in REG_USERS:
                return None
            return {
                "name": token,
                "kind": "user",
                "groups": list(REG_USERS[token]),
                "scopes": sorted({MODELS_READ, MODELS_WRITE}),
            }

    class Statements(web.RequestHandler):
        def get(self) -> None:
            self.write({"statements": statements[0]})

    async def main() -> None:
        app = web.Application(
            [*model_handlers.routes("/api"), (r"/_bench/statements", Statements)],
            hub_auth=FakeHubAuth(),
            tz_models=mm,
            tz_model_runs=None,
            log=logging.getLogger("tz-bench"),
        )
        sock, port = bind_unused_port()
        HTTPServer(app).add_sockets([sock])
        print(f"LISTENING {port}", flush=True)
        await asyncio.Event().wait()

    IOLoop.current().run_sync(main)
    return 0


@dataclass
class Endpoint:
    name: str
    path: str
    times: list[float] = field(default_factory=list)
    statements: int = 0
    bytes: int = 0


def registry_figures(
    tmp: Path,
    rounds: int,
    n_models: int,
    per_model: int,
    foreign: ForeignLoad,
    extra: dict[str, Any],
) -> list[Verdict]:
    db_path = tmp / "registry.sqlite"
    db_url = f"sqlite:///{db_path}"
    storage = tmp / "storage"
    info = populate(db_url, storage, n_models, per_model)
    extra["registry"] = info
    print(
        f"  populated: {info['models']} models, {info['versions']:,} versions, "
        f"{info['runs']:,} runs; {info['models']} models created and their version 1 "
        f"registered through TzModelManager in {info['manager_s']:.1f} s, the rest inserted in "
        f"{info['insert_s']:.1f} s; alice may read {info['readable_by_alice']} models",
        flush=True,
    )
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-registry", db_url, str(storage)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the registry server did not start: {line}{proc.stdout.read()}")
        base = f"http://127.0.0.1:{int(line.split()[1])}"
        return timed_registry(base, proc, db_path, info, rounds, foreign, extra)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def timed_registry(
    base: str,
    proc: subprocess.Popen,
    db_path: Path,
    info: dict[str, Any],
    rounds: int,
    foreign: ForeignLoad,
    extra: dict[str, Any],
) -> list[Verdict]:
    m, c = info["typical"], info["chain"]
    endpoints = [
        Endpoint("GET /models/{id} (baseline)", f"/models/{m}"),
        Endpoint("GET /models", "/models"),
        Endpoint("GET /models?stage=production", "/models?stage=production"),
        Endpoint("GET /models/{id}/versions", f"/models/{m}/versions"),
        Endpoint("GET .../versions/98/lineage (family of 4)", f"/models/{m}/versions/98/lineage"),
        Endpoint(
            "GET .../versions/100/lineage (chain of 100)", f"/models/{c}/versions/100/lineage"
        ),
        Endpoint(
            "GET /models/compare (3 versions)", f"/models/compare?versions={m}:97,{m}:98,{m}:99"
        ),
    ]
    http = requests.Session()
    http.headers["Authorization"] = "token alice"

    def get(path: str) -> requests.Response:
        r = http.get(f"{base}/api{path}", timeout=60)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:500]}")
        return r

    def statements() -> int:
        return int(http.get(f"{base}/_bench/statements", timeout=10).json()["statements"])

    # Untimed: check the answers, count statements and bytes, warm caches and connections.
    for ep in endpoints:
        before = statements()
        r = get(ep.path)
        ep.statements = statements() - before
        ep.bytes = len(r.content)
    body = get(endpoints[1].path).json()
    assert len(body["items"]) == 50 and body["_pagination"]["total"] == info["readable_by_alice"]
    lineage = get(endpoints[5].path).json()
    assert sum(1 for n in lineage["nodes"] if n["kind"] == "version") == 100, "chain lineage"
    for _ in range(3):
        for ep in endpoints:
            get(ep.path)
    server = psutil.Process(proc.pid)
    cpu0, f0, t_start = sum(server.cpu_times()[:2]), foreign.now(), time.perf_counter()
    for i in range(rounds):
        k = i % len(endpoints)
        for ep in endpoints[k:] + endpoints[:k]:
            t0 = time.perf_counter()
            get(ep.path)
            ep.times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - t_start
    server_cpu = sum(server.cpu_times()[:2]) - cpu0
    share = (foreign.now() - f0) / (wall * (os.cpu_count() or 1))
    requests_n = rounds * len(endpoints)
    sql = raw_sql(db_path, m, c)
    base_p50 = median(endpoints[0].times)
    print(
        f"  {rounds} rounds of {len(endpoints)} requests in {wall:.1f} s; server CPU "
        f"{1e3 * server_cpu / requests_n:.1f} ms per request on average; foreign "
        f"{100 * share:.0f}%"
    )
    head = (
        f"  {'endpoint':<46} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'x base':>6} "
        f"{'SQL':>4} {'bytes':>8}"
    )
    print(head)
    verdicts = []
    for ep in endpoints:
        p50, p95 = 1e3 * median(ep.times), 1e3 * pct(ep.times, 95)
        ratio = median(ep.times) / base_p50
        print(
            f"  {ep.name:<46} {p50:7.2f} {p95:7.2f} {1e3 * max(ep.times):7.1f} {ratio:6.1f} "
            f"{ep.statements:4d} {ep.bytes:8,}"
        )
        met = p95 <= API_MAX_P95_MS
        verdicts.append(
            Verdict(
                f"api {ep.name}",
                p95,
                f"p95 <= {API_MAX_P95_MS:.0f} ms",
                met,
                f"api {ep.name}: p50 {p50:.1f} ms ({ratio:.1f}x the baseline's "
                f"{1e3 * base_p50:.1f} ms), p95 {p95:.1f} ms (target <= {API_MAX_P95_MS:.0f} ms): "
                f"{'MET' if met else 'MISSED'}",
                {
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "max_ms": 1e3 * max(ep.times),
                    "ratio_p50": ratio,
                    "sql_statements": ep.statements,
                    "bytes": ep.bytes,
                    "path": ep.path,
                },
            )
        )
    print(
        "  raw sqlite3 (same rows, no ORM/HTTP), p50: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in sql.items())
    )
    extra["registry_http"] = {
        "wall_s": wall,
        "server_cpu_ms_per_request": 1e3 * server_cpu / requests_n,
        "foreign_share": share,
        "raw_sql_p50_ms": sql,
    }
    return verdicts


def raw_sql(db_path: Path, model_id: str, chain_id: str, repeats: int = 30) -> dict[str, float]:
    """p50 milliseconds of plain sqlite3 queries returning the rows the endpoints read."""
    readable = (
        "(owner = 'alice' OR visibility = 'public' OR (visibility = 'team' AND team IN ('vision')))"
    )
    queries = {
        "models page": (
            f"SELECT * FROM tz_models WHERE {readable} ORDER BY updated DESC, id LIMIT 50",
            (),
        ),
        "production models": (
            f"SELECT * FROM tz_models WHERE {readable} AND id IN (SELECT model_id FROM "
            "tz_model_versions WHERE stage = 'production') ORDER BY updated DESC, id LIMIT 50",
            (),
        ),
        "production models via the production_of index": (
            f"SELECT * FROM tz_models WHERE {readable} AND id IN (SELECT production_of FROM "
            "tz_model_versions WHERE production_of IS NOT NULL) ORDER BY updated DESC, id "
            "LIMIT 50",
            (),
        ),
        "versions page + evaluations": (
            "SELECT v.*, r.* FROM (SELECT * FROM tz_model_versions WHERE model_id = ? ORDER BY "
            "number DESC LIMIT 50) v LEFT JOIN tz_model_runs r ON r.model_id = v.model_id AND "
            "r.kind = 'evaluate' AND r.version = v.number",
            (model_id,),
        ),
        "chain lineage (recursive CTE)": (
            "WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM tz_model_versions "
            "WHERE model_id = ? AND number = 100 UNION ALL SELECT v.id, v.parent_id FROM "
            "tz_model_versions v JOIN up ON v.id = up.parent_id), root AS (SELECT id FROM up "
            "WHERE parent_id IS NULL), down(id) AS (SELECT id FROM root UNION SELECT v.id FROM "
            "tz_model_versions v JOIN down ON v.parent_id = down.id) SELECT v.*, r.* FROM "
            "tz_model_versions v JOIN down ON v.id = down.id LEFT JOIN tz_model_runs r ON "
            "r.model_id = v.model_id AND r.kind = 'evaluate' AND r.version = v.number",
            (chain_id,),
        ),
    }
    out = {}
    con = sqlite3.connect(str(db_path))
    try:
        for name, (sql, params) in queries.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                con.execute(sql, params).fetchall()
                times.append(time.perf_counter() - t0)
            out[name] = 1e3 * median(times)
    finally:
        con.close()
    return out


# ---- main -------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("torch", "onnxruntime", "onnx", "onnxscript", "sqlalchemy", "tornado"):
        try:
            module = __import__(mod)
            versions[mod] = getattr(module, "__version__", None) or getattr(module, "version", None)
        except ImportError:
            versions[mod] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform_mod.platform(),
        "python": platform_mod.python_version(),
        "load_avg": os.getloadavg(),
        **versions,
    }


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--serve-registry":
        return serve_registry(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 thread only, 4 short blocks, 1,000 test samples, 30 API rounds",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--skip", default="", help="comma-separated: onnx,int8,registry")
    parser.add_argument("--blocks", type=int, help="alternating blocks per pair (10; 4 quick)")
    parser.add_argument("--rounds", type=int, help="API rounds (200; 30 quick)")
    parser.add_argument("--models", type=int, default=100, help="registry models (100)")
    parser.add_argument(
        "--versions-per-model",
        type=int,
        default=100,
        help="versions of each model (100: 10,000 in all)",
    )
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    threads = [1] if args.quick else [1, 2]
    blocks = args.blocks or (4 if args.quick else 10)
    block_s = 0.1 if args.quick else 0.25
    rounds = args.rounds or (30 if args.quick else 200)
    n_test = 1000 if args.quick else 2000

    info = machine_info()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"{info['os']}, Python {info['python']}; torch {info['torch']}, onnxruntime "
        f"{info['onnxruntime']}, onnx {info['onnx']}, onnxscript {info['onnxscript']}; load "
        f"average {info['load_avg'][0]:.2f}"
    )
    print(
        f"threads {threads}, {blocks} blocks of ~{block_s} s per side, {rounds} API rounds\n",
        flush=True,
    )
    started = time.monotonic()
    pairs: list[Pair] = []
    verdicts: list[Verdict] = []
    extra: dict[str, Any] = {}
    foreign = ForeignLoad().start()
    try:
        with tempfile.TemporaryDirectory(prefix="tz-bench-models-") as tmp_name:
            tmp = Path(tmp_name)
            phase = time.monotonic()

            def done(name: str) -> None:
                nonlocal phase
                extra.setdefault("phase_s", {})[name] = time.monotonic() - phase
                print(f"  ({name}: {time.monotonic() - phase:.0f} s)", flush=True)
                phase = time.monotonic()

            if "onnx" not in skip:
                print("(1) ONNX Runtime vs PyTorch eager, batch 1", flush=True)
                p, v = onnx_figures(tmp, threads, blocks, block_s, not args.quick, foreign, extra)
                pairs += p
                verdicts += v
                done("figure 1")
            if "int8" not in skip:
                print("\n(2) INT8 vs FP32 ONNX, Linear-heavy MLP", flush=True)
                p, v = int8_figures(tmp, threads, blocks, block_s, n_test, foreign, extra)
                pairs += p
                verdicts += v
                done("figure 2")
            if "registry" not in skip:
                print(
                    f"\n(3) registry API at {args.models * args.versions_per_model:,} versions",
                    flush=True,
                )
                verdicts += registry_figures(
                    tmp, rounds, args.models, args.versions_per_model, foreign, extra
                )
                done("figure 3")
    finally:
        foreign.stop()
    total = time.monotonic() - started
    busy = [p for p in pairs if p.foreign_share > FOREIGN_WARN_SHARE]
    if busy:
        print(
            f"\nwarning: other programs used more than {100 * FOREIGN_WARN_SHARE:.0f}% of the "
            f"machine during {len(busy)} of {len(pairs)} latency pairs (up to "
            f"{100 * max(p.foreign_share for p in busy):.0f}%); absolute figures are noisy"
        )
    print(f"\ntotal benchmark time {total:.0f} s\n")
    for v in verdicts:
        print(v.line)
    if args.json:
        result = {
            "machine": info,
            "quick": args.quick,
            "threads": threads,
            "blocks": blocks,
            "rounds": rounds,
            "pairs": [asdict(p) for p in pairs],
            "figures": {
                v.name: {
                    "value": v.value,
                    "target": v.target,
                    "met": v.met,
                    "line": v.line,
                    **v.extra,
                }
                for v in verdicts
            },
            "diagnostics": extra,
            "total_s": total,
        }
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
