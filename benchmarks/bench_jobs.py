"""Benchmark the local job backend against bare ``torchrun`` on the same machine, in one run.

Two figures, both with a baseline measured in the same run, bare and platform runs alternating
(bare, platform, bare, platform, ...) so that drift hits both sides alike:

(a) submit to first training step
    ``benchmarks/ddp_job/train_ddp.py`` (gloo, CPU, 2 processes, ``torch.nn.Linear`` in
    ``DistributedDataParallel``) prints ``time.time()`` on rank 0 right after its first
    ``optimizer.step()``. Bare: the clock starts just before ``Popen`` of ``torchrun --nnodes=1
    --nproc_per_node=2 --rdzv_backend=c10d --rdzv_endpoint=127.0.0.1:PORT``. Platform: the
    snapshot is uploaded (``POST /snapshots``) once, before any clock starts; the clock starts just
    before ``POST /jobs`` and the timestamp is read from ``GET /jobs/{id}/logs?rank=0``.
    Targets: overhead (median platform - median bare) <= 1.5 s and ratio <= 1.2.

(b) steady-state samples/s
    The same runs train a fixed batch for ``--warmup`` + N steps; rank 0 measures samples/s from
    the end of the warm-up to the last step, so launch time is excluded. Target: ratio
    platform/bare >= 0.98 (medians).

The platform (hub + proxy + TZ service) is started once with ``tests/harness.py``'s ``Platform``
and stays up during the bare runs too (it idles then; its CPU use is reported). Untimed warm-up
runs of both kinds come first so that neither side pays for a cold page cache.

Usage: ``.venv/bin/python benchmarks/bench_jobs.py [--repeats N] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as platform_mod
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness import Platform, free_port  # noqa: E402
from training_zoo.snapshot import pack_directory  # noqa: E402

JOB_DIR = Path(__file__).resolve().with_name("ddp_job")
ENTRY = "train_ddp.py"
PROCS = 2
MARKER = "TZBENCH"

FIRST_STEP_MAX_OVERHEAD_S = 1.5
FIRST_STEP_MAX_RATIO = 1.2
THROUGHPUT_MIN_RATIO = 0.98
FOREIGN_WARN_SHARE = 0.05
QUIET_SHARE = 0.05


@dataclass
class Workload:
    """Arguments of the training script (identical for bare and platform runs)."""

    steps: int
    warmup: int
    batch: int
    features: int

    def args(self) -> list[str]:
        return [
            f"--steps={self.steps}", f"--warmup={self.warmup}",
            f"--batch={self.batch}", f"--features={self.features}",
        ]  # fmt: skip


@dataclass
class RunResult:
    """One run of the training script, bare or through the platform."""

    mode: str  # "bare" | "platform"
    index: int  # repeat number, from 1; 0 is an untimed warm-up
    t0: float  # clock start: just before Popen (bare) or POST /jobs (platform)
    first_step: float  # rank 0's time.time() after its first optimizer.step()
    script_start: float  # rank 0's time.time() when the script began (before import torch)
    samples_per_s: float
    step_ms: float
    samples_per_s_median_block: float
    cpu_ms_per_step: float
    omp_threads: int
    # Platform path only (time.time() of each milestone; None for bare runs).
    post_returned: float | None = None
    supervisor_started: float | None = None  # supervisor process up (state.json "started")
    launcher_started: float | None = None  # supervisor has started torchrun ("Started" event)
    job_id: str | None = None
    # CPU seconds used by the idle platform processes (hub, proxy, service) during the run.
    platform_cpu_s: float = 0.0
    # CPU seconds used meanwhile by programs that are not this benchmark's (a lower bound).
    foreign_cpu_s: float = 0.0
    wall_s: float = 0.0  # from t0 until the run was seen finished
    # Platform runs: CPU seconds of the job's supervisor, torchrun and rank wrappers (lower bound).
    job_machinery_cpu_s: dict[str, float] = field(default_factory=dict)
    clean_exit: bool = True  # False: the run failed after it had reported its figures

    @property
    def foreign_share(self) -> float:
        """Foreign CPU as a share of the machine's CPU time during the run."""
        return self.foreign_cpu_s / (self.wall_s * (os.cpu_count() or 1)) if self.wall_s else 0.0

    @property
    def to_first_step(self) -> float:
        return self.first_step - self.t0

    def breakdown(self) -> dict[str, float]:
        """Seconds spent in each stage from the clock start to the first step."""
        marks: list[tuple[str, float | None]] = [("t0", self.t0)]
        if self.mode == "platform":
            marks += [
                ("POST /jobs answered", self.post_returned),
                ("supervisor up", self.supervisor_started),
                ("torchrun started", self.launcher_started),
            ]
        marks += [("script started", self.script_start), ("first step", self.first_step)]
        out: dict[str, float] = {}
        prev_name, prev_t = marks[0]
        for name, t in marks[1:]:
            if t is None:
                continue
            out[f"{prev_name} -> {name}"] = t - prev_t
            prev_name, prev_t = name, t
        return out


@dataclass
class Verdict:
    """A figure, its medians and whether its target was met."""

    name: str
    bare: list[float]
    platform: list[float]
    extra: dict[str, Any] = field(default_factory=dict)
    met: bool = False
    line: str = ""


# ---- parsing ----------------------------------------------------------------------------------


def parse_markers(lines: Iterable[str]) -> dict[str, float]:
    """The ``TZBENCH key value`` lines rank 0 printed."""
    out: dict[str, float] = {}
    for line in lines:
        parts = line.strip().split()
        if len(parts) == 3 and parts[0] == MARKER:
            out[parts[1]] = float(parts[2])
    return out


def require(markers: dict[str, float], where: str, text: str) -> None:
    keys = ("first_step", "start", "samples_per_s", "step_ms", "samples_per_s_median_block")
    missing = [k for k in keys if k not in markers]
    if missing:
        tail = "\n".join(text.splitlines()[-30:])
        raise RuntimeError(f"{where}: the script reported no {missing}; its output ends:\n{tail}")


# ---- the platform's own processes -------------------------------------------------------------


class PlatformCpu:
    """CPU seconds of the hub, the proxy and the TZ service (not of jobs)."""

    def __init__(self, p: Platform) -> None:
        root = psutil.Process(p.proc.pid)  # type: ignore[union-attr]
        # Taken before any job exists, so supervisors and ranks are not among them.
        self.procs = [root, *root.children(recursive=True)]
        self.names = [" ".join(pr.cmdline()[:3])[:80] for pr in self.procs]

    def total(self) -> float:
        total = 0.0
        for pr in self.procs:
            try:
                t = pr.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total


class ForeignLoad:
    """CPU time of processes outside this benchmark's process tree, sampled from ``/proc``.

    The benchmark shares the machine with whatever else runs there; their CPU use moves both
    figures. Each sample reads ``/proc/*/stat`` once (a few ms); processes that start and end
    between two samples are missed, so the figure is a lower bound.
    """

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.me = os.getpid()
        self.total = 0.0  # foreign CPU seconds since start
        self._seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="foreign-load", daemon=True)

    def _sample(self, count: bool = True) -> None:
        stats: dict[int, tuple[int, int, float]] = {}  # pid -> (ppid, start time, CPU seconds)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    raw = f.read()
            except OSError:
                continue
            fields = raw[raw.rfind(b")") + 2 :].split()
            # fields[0] is field 3 of proc(5): ppid is 4, utime 14, stime 15, starttime 22.
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
            stats[int(entry.name)] = (int(fields[1]), int(fields[19]), cpu)
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        ours, todo = set(), [self.me]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(children.get(pid, []))
        seen: dict[tuple[int, int], float] = {}
        for pid, (_, start, cpu) in stats.items():
            if pid in ours:
                continue
            key = (pid, start)
            if count:
                self.total += cpu - self._seen.get(key, 0.0)
            seen[key] = cpu
        self._seen = seen

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.now()

    def start(self) -> ForeignLoad:
        self._sample(count=False)  # baseline: CPU spent before the benchmark does not count
        self._thread.start()
        return self

    def now(self) -> float:
        """Foreign CPU seconds since :meth:`start`, sampled now."""
        with self._lock:
            self._sample()
            return self.total

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def wait_quiet(self, limit: float, max_share: float, window: float = 2.0) -> float:
        """Wait (up to ``limit`` seconds) until other programs use at most ``max_share`` of the
        machine over ``window`` seconds; return the last share seen."""
        deadline = time.monotonic() + limit
        cores = os.cpu_count() or 1
        while True:
            before = self.now()
            time.sleep(window)
            share = (self.now() - before) / (window * cores)
            if share <= max_share or time.monotonic() >= deadline:
                return share


class Meters:
    """CPU of the idle platform and of foreign programs, read at the start and end of a run."""

    def __init__(self, cpu: PlatformCpu, foreign: ForeignLoad) -> None:
        self.cpu, self.foreign = cpu, foreign

    def read(self) -> tuple[float, float]:
        return self.cpu.total(), self.foreign.now()


# ---- runs -------------------------------------------------------------------------------------


def torchrun_argv() -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "torch.distributed.run"]


def run_bare(work: Workload, index: int, logs: Path, meters: Meters, timeout: float) -> RunResult:
    argv = [
        *torchrun_argv(), "--nnodes=1", f"--nproc_per_node={PROCS}", "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{free_port()}", ENTRY, *work.args(),
    ]  # fmt: skip
    log_path = logs / f"bare-{index}.log"
    cpu0, foreign0 = meters.read()
    with open(log_path, "wb") as log:
        t0 = time.time()
        proc = subprocess.Popen(argv, cwd=JOB_DIR, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"bare run {index} took more than {timeout:.0f} s") from None
    wall = time.time() - t0
    cpu1, foreign1 = meters.read()
    text = log_path.read_text(errors="replace")
    m = parse_markers(text.splitlines())
    if code != 0 and "samples_per_s" not in m:
        raise RuntimeError(f"bare run {index}: torchrun exited with {code}:\n{text[-3000:]}")
    require(m, f"bare run {index}", text)
    if code != 0:
        tail = "\n    ".join(text.splitlines()[-12:])
        print(f"  warning: bare run {index} exited with {code} after reporting its figures "
              f"(kept); its output ends:\n    {tail}", flush=True)  # fmt: skip
    return RunResult(
        mode="bare", index=index, t0=t0, first_step=m["first_step"], script_start=m["start"],
        samples_per_s=m["samples_per_s"], step_ms=m["step_ms"],
        samples_per_s_median_block=m["samples_per_s_median_block"],
        cpu_ms_per_step=m.get("cpu_ms_per_step", float("nan")),
        omp_threads=int(m.get("omp_threads", 0)), platform_cpu_s=cpu1 - cpu0,
        foreign_cpu_s=foreign1 - foreign0, wall_s=wall, clean_exit=code == 0,
    )  # fmt: skip


class PlatformRunner:
    """Submits the workload as a TZ job through the REST API."""

    def __init__(self, p: Platform, user: str = "bench") -> None:
        self.p = p
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {p.token(user)}"
        data = pack_directory(JOB_DIR)
        r = self.http.post(f"{p.api}/snapshots", data=data,
                           headers={"Content-Type": "application/gzip"}, timeout=60)  # fmt: skip
        r.raise_for_status()
        self.snapshot = r.json()["id"]
        self.http.get(f"{p.api}/", timeout=30).raise_for_status()  # warm the connection and auth
        service = p.service_pid()
        self.service = psutil.Process(service) if service else None

    def job_cpu(self, into: dict[str, float]) -> None:
        """Raise ``into[kind]`` to the CPU seconds the job's non-rank processes have used so far.

        Kinds: ``supervisor``, ``torchrun`` and ``rank_entry`` (the per-rank wrappers, summed).
        Sampled at each poll, so the last second of a job is missed.
        """
        if self.service is None:
            return
        totals: dict[str, float] = {}
        try:
            procs = self.service.children(recursive=True)
        except psutil.Error:
            return
        for proc in procs:
            try:
                cmd = " ".join(proc.cmdline())
                t = proc.cpu_times()
            except psutil.Error:
                continue
            if "training_zoo.jobs.backends.supervisor" in cmd:
                kind = "supervisor"
            elif "torch.distributed.run" in cmd:
                kind = "torchrun"
            elif "rank_entry.py" in cmd:
                kind = "rank_entry"
            else:
                continue
            totals[kind] = totals.get(kind, 0.0) + t.user + t.system
        for kind, value in totals.items():
            into[kind] = max(into.get(kind, 0.0), value)

    def run(self, work: Workload, index: int, meters: Meters, timeout: float,
            poll: float) -> RunResult:  # fmt: skip
        api = self.p.api
        spec = {
            "name": f"bench-{index}", "framework": "pytorch", "entry": ENTRY,
            "args": work.args(), "snapshot": self.snapshot, "nodes": 1, "procs_per_node": PROCS,
            "resources_per_node": {"cpus": PROCS},
        }  # fmt: skip
        cpu0, foreign0 = meters.read()
        t0 = time.time()
        r = self.http.post(f"{api}/jobs", json=spec, timeout=60)
        post_returned = time.time()
        if r.status_code != 201:
            raise RuntimeError(f"POST /jobs answered {r.status_code}: {r.text}")
        job = r.json()
        job_id = job["id"]
        deadline = time.monotonic() + timeout
        job_cpu: dict[str, float] = {}
        try:
            while job["status"] not in ("succeeded", "failed", "cancelled"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"platform run {index} ({job_id}) took over {timeout:.0f} s")
                time.sleep(poll)
                self.job_cpu(job_cpu)
                job = self.http.get(f"{api}/jobs/{job_id}", timeout=30).json()
        except BaseException:
            # Supervisors are detached from the service: stopping the hub would not stop the job.
            self.http.post(f"{api}/jobs/{job_id}/cancel", timeout=30)
            raise
        wall = time.time() - t0
        cpu1, foreign1 = meters.read()
        logs = self.http.get(f"{api}/jobs/{job_id}/logs", params={"rank": 0}, timeout=60)
        logs.raise_for_status()
        lines = [item["line"] for item in logs.json()["items"]]
        m = parse_markers(lines)
        if job["status"] != "succeeded" and "samples_per_s" not in m:
            raise RuntimeError(f"platform run {index}: job {job_id} {job['status']}: "
                               f"{job['message']}\n" + "\n".join(lines[-30:]))  # fmt: skip
        require(m, f"platform run {index} ({job_id})", "\n".join(lines))
        if job["status"] != "succeeded":
            print(f"  warning: platform run {index} ({job_id}) {job['status']} after reporting "
                  f"its figures (kept): {job['reason']}: {job['message']}", flush=True)  # fmt: skip
        sup_started, launcher_started = self._milestones(job_id)
        return RunResult(
            mode="platform", index=index, t0=t0, first_step=m["first_step"],
            script_start=m["start"], samples_per_s=m["samples_per_s"], step_ms=m["step_ms"],
            samples_per_s_median_block=m["samples_per_s_median_block"],
            cpu_ms_per_step=m.get("cpu_ms_per_step", float("nan")),
            omp_threads=int(m.get("omp_threads", 0)), post_returned=post_returned,
            supervisor_started=sup_started, launcher_started=launcher_started, job_id=job_id,
            platform_cpu_s=cpu1 - cpu0, foreign_cpu_s=foreign1 - foreign0, wall_s=wall,
            job_machinery_cpu_s=job_cpu, clean_exit=job["status"] == "succeeded",
        )  # fmt: skip

    def _milestones(self, job_id: str) -> tuple[float | None, float | None]:
        """Supervisor start and torchrun start, from the job's run folder (full precision)."""
        runs = list(self.p.home.glob(f"**/{job_id}/attempt-1"))
        if not runs:
            return None, None
        run = runs[0]
        started = None
        try:
            started = json.loads((run / "state.json").read_text()).get("started")
        except (OSError, ValueError):
            pass
        launcher = None
        try:
            for line in (run / "events.jsonl").read_text().splitlines():
                event = json.loads(line)
                if event.get("reason") == "Started":
                    launcher = event["time"]
                    break
        except (OSError, ValueError):
            pass
        return started, launcher


# ---- reporting --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def first_step_verdict(bare: list[RunResult], plat: list[RunResult]) -> Verdict:
    b = [r.to_first_step for r in bare]
    p = [r.to_first_step for r in plat]
    mb, mp = median(b), median(p)
    overhead, ratio = mp - mb, mp / mb
    met = overhead <= FIRST_STEP_MAX_OVERHEAD_S and ratio <= FIRST_STEP_MAX_RATIO
    pairs = [pr - br for br, pr in zip(b, p, strict=False)]
    # What the platform adds before torchrun runs: API, queue, snapshot extraction, supervisor.
    preamble = median([r.launcher_started - r.t0 for r in plat if r.launcher_started is not None])
    spread = max(max(b) - min(b), max(p) - min(p))
    noise = ""
    if spread > FIRST_STEP_MAX_OVERHEAD_S:
        noise = (f"submit_to_first_step is noisy: runs of one kind differ by up to {spread:.2f} s, "
                 f"more than the {FIRST_STEP_MAX_OVERHEAD_S} s margin; the verdict is indicative "
                 "only (more --repeats or a quieter machine help)")  # fmt: skip
    line = (
        f"submit_to_first_step: bare {mb:.2f} s, platform {mp:.2f} s, overhead {overhead:.2f} s, "
        f"ratio {ratio:.2f} (target <= {FIRST_STEP_MAX_OVERHEAD_S} s and <= "
        f"{FIRST_STEP_MAX_RATIO}): {'MET' if met else 'MISSED'}"
    )
    return Verdict("submit_to_first_step", b, p, {
        "median_bare_s": mb, "median_platform_s": mp, "overhead_s": overhead, "ratio": ratio,
        "pairwise_overhead_s": pairs, "platform_preamble_s": preamble,
        "target_max_overhead_s": FIRST_STEP_MAX_OVERHEAD_S,
        "target_max_ratio": FIRST_STEP_MAX_RATIO, "spread_s": spread, "noise": noise,
    }, met, line)  # fmt: skip


def throughput_verdict(bare: list[RunResult], plat: list[RunResult]) -> Verdict:
    b = [r.samples_per_s for r in bare]
    p = [r.samples_per_s for r in plat]
    mb, mp = median(b), median(p)
    ratio = mp / mb
    met = ratio >= THROUGHPUT_MIN_RATIO
    # Cross-check with the median over 10-step blocks, which shrugs off short bursts of load.
    bb = [r.samples_per_s_median_block for r in bare]
    pb = [r.samples_per_s_median_block for r in plat]
    block_ratio = median(pb) / median(bb)
    spread = max((max(b) - min(b)) / mb, (max(p) - min(p)) / mp)
    margin = 1 - THROUGHPUT_MIN_RATIO
    noise = ""
    if spread > margin:
        noise = (
            f"steady_state_samples_per_s is noisy: runs of one kind differ by up to "
            f"{100 * spread:.0f}% of their median, more than the {100 * margin:.0f}% margin; "
            "the verdict is indicative only (more --repeats or a quieter machine help)"
        )
    line = (
        f"steady_state_samples_per_s: bare {mb:.0f}, platform {mp:.0f}, ratio {ratio:.3f} "
        f"(target >= {THROUGHPUT_MIN_RATIO}): {'MET' if met else 'MISSED'}"
        f" [median-of-10-step-blocks ratio {block_ratio:.3f}]"
    )
    pairs = [pr / br for br, pr in zip(b, p, strict=False)]
    return Verdict("steady_state_samples_per_s", b, p, {
        "median_bare": mb, "median_platform": mp, "ratio": ratio, "pairwise_ratio": pairs,
        "target_min_ratio": THROUGHPUT_MIN_RATIO, "median_block_bare": bb,
        "median_block_platform": pb, "median_block_ratio": block_ratio, "spread": spread,
        "noise": noise,
    }, met, line)  # fmt: skip


def print_table(runs: list[RunResult]) -> None:
    head = (
        f"{'run':<16} {'submit->step 1':>14} {'->script':>8} {'script->step 1':>14} "
        f"{'samples/s':>9} {'(blocks)':>8} {'ms/step':>7} {'cpu ms':>6} {'hub cpu':>7} "
        f"{'foreign':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        name = f"{r.mode} {r.index}" if r.index else f"{r.mode} warm-up"
        print(f"{name:<16} {r.to_first_step:>12.2f} s {r.script_start - r.t0:>6.2f} s "
              f"{r.first_step - r.script_start:>12.2f} s {r.samples_per_s:>9.0f} "
              f"{r.samples_per_s_median_block:>8.0f} {r.step_ms:>7.2f} {r.cpu_ms_per_step:>6.2f} "
              f"{r.platform_cpu_s:>5.2f} s {100 * r.foreign_share:>6.1f}%")  # fmt: skip
    print(
        "(->script: clock start to the script's first line; (blocks): median over 10-step blocks;\n"
        " cpu ms: rank 0's CPU time per step; hub cpu: CPU seconds of hub, proxy and service;\n"
        " foreign: CPU used meanwhile by other programs on the machine, share of all cores)"
    )


def print_breakdown(runs: list[RunResult]) -> dict[str, dict[str, float]]:
    """Median seconds per stage, per mode."""
    out: dict[str, dict[str, float]] = {}
    for mode in ("bare", "platform"):
        stages: dict[str, list[float]] = {}
        for r in runs:
            if r.mode == mode and r.index:
                for k, v in r.breakdown().items():
                    stages.setdefault(k, []).append(v)
        out[mode] = {k: median(v) for k, v in stages.items()}
        print(f"\n{mode}: median seconds per stage (clock start -> first step)")
        for k, v in out[mode].items():
            print(f"  {k:<45} {v:6.2f}")
    return out


def machine_info() -> dict[str, Any]:
    import torch

    mem = psutil.virtual_memory().total
    return {
        "cpus": os.cpu_count(),
        "cpu_model": platform_mod.processor() or _cpu_model(),
        "memory_gib": round(mem / 2**30, 1),
        "os": platform_mod.platform(),
        "python": platform_mod.python_version(),
        "torch": torch.__version__,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# ---- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs of each kind (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 repeat, short training, no warm-up runs"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="measured steps after warm-up (default 300; 60 with --quick)",
    )
    parser.add_argument("--features", type=int, default=1024, help="Linear in/out features")
    parser.add_argument("--batch", type=int, default=64, help="per-rank batch size")
    parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        help="seconds between GET /jobs/{id} while a job runs (default 1)",
    )
    parser.add_argument("--timeout", type=float, default=240, help="per-run limit in seconds")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other programs to use at most "
        f"{100 * QUIET_SHARE:.0f}%% of the machine (default 0: do not wait)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    warmup_steps = 20
    measured = args.steps if args.steps is not None else (60 if args.quick else 300)
    work = Workload(warmup_steps + measured, warmup_steps, args.batch, args.features)
    short = Workload(warmup_steps + 10, warmup_steps, args.batch, args.features)

    info = machine_info()
    print(f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
          f"{info['os']}, Python {info['python']}, torch {info['torch']}")  # fmt: skip
    print(f"workload: {PROCS} ranks (gloo, CPU), Linear({args.features}, {args.features}), "
          f"batch {args.batch}/rank, {warmup_steps} warm-up + {measured} measured steps; "
          f"{repeats} repeat(s)\n")  # fmt: skip

    started = time.monotonic()
    runs: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="tz-bench-") as tmp, Platform() as p:
        logs = Path(tmp)
        print(f"platform up after {time.monotonic() - started:.1f} s at {p.url}", flush=True)
        foreign = ForeignLoad().start()
        try:
            meters = Meters(PlatformCpu(p), foreign)
            runner = PlatformRunner(p)
            plan: list[tuple[str, int]] = [] if args.quick else [("bare", 0), ("platform", 0)]
            for i in range(1, repeats + 1):
                plan += [("bare", i), ("platform", i)]
            for mode, index in plan:
                w = work if index else short
                if args.quiet > 0:
                    share = foreign.wait_quiet(args.quiet, QUIET_SHARE)
                    if share > QUIET_SHARE:
                        print(f"  (machine still busy: {100 * share:.0f}% used by others)")
                if mode == "bare":
                    r = run_bare(w, index, logs, meters, args.timeout)
                else:
                    r = runner.run(w, index, meters, args.timeout, args.poll)
                runs.append(r)
                label = f"{mode} {index}" if index else f"{mode} warm-up"
                print(f"  {label:<16} first step after {r.to_first_step:5.2f} s, "
                      f"{r.samples_per_s:8.0f} samples/s, foreign load "
                      f"{100 * r.foreign_share:.0f}%", flush=True)  # fmt: skip
        finally:
            foreign.stop()
    total = time.monotonic() - started

    timed = [r for r in runs if r.index]
    bare = [r for r in timed if r.mode == "bare"]
    plat = [r for r in timed if r.mode == "platform"]
    print()
    print_table(runs)
    stages = print_breakdown(runs)
    verdicts = [first_step_verdict(bare, plat), throughput_verdict(bare, plat)]
    if any(r.omp_threads != bare[0].omp_threads for r in timed):
        print("\nwarning: OMP thread counts differ between runs:",
              sorted({(r.mode, r.omp_threads) for r in timed}))  # fmt: skip
    busy = [r for r in timed if r.foreign_share > FOREIGN_WARN_SHARE]
    if busy:
        worst = max(r.foreign_share for r in busy)
        print(f"\nwarning: other programs used more than {100 * FOREIGN_WARN_SHARE:.0f}% of the "
              f"machine during {len(busy)} of {len(timed)} timed runs (up to {100 * worst:.0f}%); "
              "the figures are noisier than on a quiet machine")  # fmt: skip
    print(f"\ntotal benchmark time {total:.0f} s\n")
    preamble = verdicts[0].extra["platform_preamble_s"]
    print(f"platform preamble (POST /jobs -> torchrun started), median: {preamble:.3f} s")
    machinery = {
        kind: median([r.job_machinery_cpu_s.get(kind, 0.0) for r in plat])
        for kind in ("supervisor", "torchrun", "rank_entry")
    }
    print("CPU of a platform job's own processes, median per run (lower bound): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in machinery.items()))  # fmt: skip
    for v in verdicts:
        if v.extra["noise"]:
            print(f"note: {v.extra['noise']}")
    for v in verdicts:
        print(v.line)

    if args.json:
        result = {
            "machine": info,
            "workload": asdict(work)
            | {"procs": PROCS, "repeats": repeats, "quick": args.quick, "quiet_wait_s": args.quiet},
            "runs": [asdict(r) | {"to_first_step_s": r.to_first_step,
                                  "breakdown_s": r.breakdown()} for r in runs],
            "median_stages_s": stages,
            "median_job_machinery_cpu_s": machinery,
            "figures": {v.name: {"bare": v.bare, "platform": v.platform, "met": v.met,
                                 "line": v.line, **v.extra} for v in verdicts},
            "total_s": total,
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
