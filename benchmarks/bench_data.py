"""Benchmark workspace listing and uploads against plain boto3 on the same S3, in one run.

Everything runs against one moto S3 server (``moto_server``, started here as its own process so
that it never shares a GIL with the clients being timed). The platform (hub + proxy + TZ service,
``tests/harness.py``'s ``Platform``) stores its workspace on that S3 (``c.TzStorage.url =
"s3://tz-bench/platform"``). Every figure has its baseline measured in the same run, baseline and
platform runs alternating (boto3, api, boto3, api, ...) so that drift hits both alike; verdicts
compare medians (the upload: the median of the per-pair ratios, see below).

(1) list a big folder, page by page
    alice's folder ``big`` holds N small objects (100,000; 10,000 with ``--quick``), written once
    with boto3 (thread pool) straight under the key prefix the service uses for her space,
    ``platform/workspace/users/alice/big/``. API: ``GET /services/tz/api/v1/workspace/list?
    space=user:alice&path=big&limit=1000`` with alice's token, through the proxy, following
    ``next`` as ``cursor`` until it is null. Baseline: boto3's ``list_objects_v2`` paginator over
    the same prefix with ``Delimiter='/'`` and ``PageSize=1000``. Figure: total time ratio
    api/boto3, target <= 1.2.

(2) first-page latency
    One ``GET .../workspace/list`` (no cursor) with ``limit=200`` (the UI's default) and with
    ``limit=1000``, each against one ``ListObjectsV2`` call with the same ``MaxKeys``. Target:
    ratio <= 1.3 for each.

(3) upload a big file through the browser path
    A file of S bytes (1 GiB; 200 MiB with ``--quick``) of random data. API: the path a browser
    takes, i.e. alice's own Jupyter server (the TZ server extension) -> TZ service -> S3 multipart:
    log in, start her server, ``POST <hub>/user/alice/tz/api/v1/uploads`` (16 MiB parts), ``PUT``
    the parts with up to 4 in flight, each with its CRC32 computed before it waits for one of the
    4 (as the Lab does), with the ``X-XSRFToken`` header, then ``POST .../complete``; timed from
    the session's creation to the completion's answer. Baseline: ``boto3.upload_file`` of the
    same file to another key (default ``TransferConfig``: 8 MiB parts, 10 threads). Figure:
    throughput ratio api/boto3
    of each (boto3, api) pair, run back to back, and its median over the pairs, target >= 0.8
    (moto's speed drifts within a run by up to 2x, which pairs cancel better than the ratio of
    the two medians, also printed). Each part goes with its CRC32, as the Lab sends it
    (``--no-part-crc``: without, as curl would). A third, diagnostic upload per repeat (no
    verdict) is boto3 with the browser's part plan (16 MiB parts, 4 threads). Also: the TZ
    service process's peak RSS growth during each API upload (``psutil`` every 50 ms from a
    thread, peak minus the RSS just before the upload), target <= 64 MB. The uploaded object's
    sha256 is checked against the file's.

Diagnostics printed with the figures: per-run CPU seconds of every process on the path (service,
hub, proxy, alice's server, moto, this benchmark), the latency of ``GET /api/v1/`` (auth + proxy
only, no storage), and the CPU used meanwhile by programs outside the benchmark (``foreign``, a
lower bound, as in ``bench_jobs.py``).

Usage: ``.venv/bin/python benchmarks/bench_data.py [--quick] [--json PATH] [--objects N]
[--size-mb M] [--repeats R] [--skip list,upload] [--layout shared|split] [--no-part-crc]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_jobs import ForeignLoad  # noqa: E402

from harness import Platform, free_port  # noqa: E402

MiB = 1 << 20
MB = 1_000_000
BUCKET = "tz-bench"
STORAGE_PREFIX = "platform"
USER = "alice"
SPACE = f"user:{USER}"
FOLDER = "big"
# Where the service keeps alice's space (training_zoo.datasets.paths.space_prefix).
FOLDER_PREFIX = f"{STORAGE_PREFIX}/workspace/users/{USER}/{FOLDER}/"
PART_SIZE = 16 * MiB
IN_FLIGHT = 4
BOTO3_PLAN = "boto3-16MiBx4"  # diagnostic upload mode: boto3 with the browser's part plan
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip

LIST_MAX_RATIO = 1.2
FIRST_PAGE_MAX_RATIO = 1.3
UPLOAD_MIN_RATIO = 0.8
RSS_MAX_MB = 64.0
FOREIGN_WARN_SHARE = 0.05


# ---- processes on the path --------------------------------------------------------------------


class Procs:
    """CPU seconds of each process on the data path, read at the start and end of a run."""

    def __init__(self, p: Platform, moto: subprocess.Popen) -> None:
        self.p = p
        self.named: dict[str, psutil.Process] = {"bench": psutil.Process(), "moto":
                                                 psutil.Process(moto.pid)}  # fmt: skip
        self.refresh()

    def refresh(self) -> None:
        root = psutil.Process(self.p.proc.pid)  # type: ignore[union-attr]
        self.named["hub"] = root
        for proc in root.children(recursive=True):
            try:
                cmd = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if "training_zoo.service" in cmd:
                self.named["service"] = proc
            elif "configurable-http-proxy" in cmd:
                self.named["proxy"] = proc
            elif "jupyterhub-singleuser" in cmd or "singleuser" in cmd:
                self.named["user_server"] = proc

    def cpu(self) -> dict[str, float]:
        out = {}
        for name, proc in self.named.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                continue
        return out


class Meter:
    """CPU per process and foreign CPU around one timed run."""

    def __init__(self, procs: Procs, foreign: ForeignLoad) -> None:
        self.procs, self.foreign = procs, foreign

    def __enter__(self) -> Meter:
        self.cpu0 = self.procs.cpu()
        self.foreign0 = self.foreign.now()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        cpu1 = self.procs.cpu()
        self.cpu_s = {k: round(cpu1[k] - self.cpu0.get(k, 0.0), 3) for k in cpu1}
        self.foreign_s = self.foreign.now() - self.foreign0
        self.foreign_share = self.foreign_s / (max(self.wall, 1e-9) * (os.cpu_count() or 1))


class RssPoller:
    """Peak RSS of one process, sampled every ``interval`` seconds from a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.baseline = self.proc.memory_info().rss
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
                self.samples += 1
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.peak = max(self.peak, self.proc.memory_info().rss)
        except psutil.Error:
            pass

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


@dataclass
class Run:
    """One timed run."""

    figure: str  # list_all | first_page_200 | first_page_1000 | upload | auth_only
    mode: str  # "boto3" | "api"
    index: int
    seconds: float
    count: int = 0  # entries listed or bytes uploaded
    pages: int = 0
    page_s: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)
    foreign_share: float = 0.0
    rss_growth_mb: float | None = None  # service, api uploads only
    rss_baseline_mb: float | None = None
    user_server_rss_growth_mb: float | None = None
    sha256_ok: bool | None = None


# ---- S3 ---------------------------------------------------------------------------------------


def split_cpus(layout: str) -> tuple[set[int], set[int]] | None:
    """For ``--layout split``: (moto's CPU, everyone else's CPUs), or None to share them all.

    In production S3 is another machine. Here moto, one Python process, runs on the same CPUs as
    the client and the relays; with ``split`` (a diagnostic) it gets one CPU of its own, as a
    remote S3 would, and the client side (boto3's client; or client, proxy, hub, user server and
    service) gets the rest, the same CPUs for both sides of every pair. It tells whether the
    relays lose by taking CPU from S3 or by their own latency.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if layout == "shared" or len(cpus) < 2:
        return None
    return {cpus[-1]}, set(cpus[:-1])


def pin_this_process(cpus: set[int]) -> None:
    """Pin every thread of this process; processes started afterwards inherit it."""
    for task in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(task), cpus)


def start_moto(cpus: set[int] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen([*argv, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **CREDENTIALS}, preexec_fn=pin)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/moto-api/", timeout=2)
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def s3_client(url: str, pool: int = 32) -> Any:
    return boto3.client("s3", endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1",
                        config=Config(max_pool_connections=pool))  # fmt: skip


def fill(s3: Any, n: int, threads: int = 16) -> float:
    """Write ``n`` small objects under alice's ``big`` folder; return the seconds it took."""
    t0 = time.perf_counter()
    done = 0
    lock = threading.Lock()

    def put(i: int) -> None:
        nonlocal done
        s3.put_object(Bucket=BUCKET, Key=f"{FOLDER_PREFIX}f{i:07d}.bin", Body=f"{i}\n".encode())
        with lock:
            done += 1
            if done % 10_000 == 0:
                rate = done / (time.perf_counter() - t0)
                print(f"  filled {done:,} objects ({rate:.0f}/s)", flush=True)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(n), chunksize=64))
    return time.perf_counter() - t0


# ---- the two sides ----------------------------------------------------------------------------


class Boto3Side:
    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def list_all(self) -> tuple[int, list[float]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=FOLDER_PREFIX, Delimiter="/", PaginationConfig={"PageSize": 1000}
        )
        count, page_s = 0, []
        t = time.perf_counter()
        for page in pages:
            count += len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
            now = time.perf_counter()
            page_s.append(now - t)
            t = now
        return count, page_s

    def first_page(self, limit: int) -> int:
        resp = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=FOLDER_PREFIX, Delimiter="/",
                                       MaxKeys=limit)  # fmt: skip
        return len(resp.get("Contents", [])) + len(resp.get("CommonPrefixes", []))


class ApiSide:
    def __init__(self, p: Platform) -> None:
        self.p = p
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {p.token(USER)}"

    def _page(self, limit: int, cursor: str | None) -> dict:
        params = {"space": SPACE, "path": FOLDER, "limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        r = self.http.get(f"{self.p.api}/workspace/list", params=params, timeout=300)
        if r.status_code != 200:
            raise RuntimeError(f"GET /workspace/list answered {r.status_code}: {r.text[:500]}")
        return r.json()

    def list_all(self) -> tuple[int, list[float]]:
        count, cursor, page_s = 0, None, []
        while True:
            t = time.perf_counter()
            page = self._page(1000, cursor)
            page_s.append(time.perf_counter() - t)
            count += len(page["items"])
            if not (cursor := page["next"]):
                return count, page_s

    def first_page(self, limit: int) -> int:
        return len(self._page(limit, None)["items"])

    def auth_only(self) -> None:
        self.http.get(f"{self.p.api}/", timeout=60).raise_for_status()


# ---- the browser path for uploads -------------------------------------------------------------


def start_server(p: Platform, user: str) -> requests.Session:
    """Log in like a browser and start ``user``'s server (as tests/integration does)."""
    s = p.login(user)
    hub_xsrf = s.hub_xsrf  # type: ignore[attr-defined]
    r = s.post(f"{p.url}/hub/api/users/{user}/server", headers={"X-XSRFToken": hub_xsrf},
               timeout=30)  # fmt: skip
    if r.status_code not in (201, 202, 400):
        raise RuntimeError(f"starting {user}'s server answered {r.status_code}: {r.text}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = s.get(f"{p.url}/hub/api/users/{user}", headers={"X-XSRFToken": hub_xsrf},
                      timeout=10).json()  # fmt: skip
        if model["servers"].get("", {}).get("ready"):
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"{user}'s server was not ready within 120 s")
    s.get(f"{p.url}/user/{user}/lab", timeout=60)  # the OAuth dance sets the server's cookies
    r = s.get(f"{p.url}/user/{user}/api/status", timeout=30)
    r.raise_for_status()
    s.user_xsrf = next(c.value for c in s.cookies  # type: ignore[attr-defined]
                       if c.name == "_xsrf" and c.path.startswith(f"/user/{user}"))  # fmt: skip
    return s


class BrowserUploader:
    """Uploads a file as the Lab UI does: session, parts 4 in flight, complete."""

    def __init__(self, p: Platform, browser: requests.Session, checksum: bool = True) -> None:
        self.p = p
        self.browser = browser
        self.checksum = checksum
        self.base = f"{p.url}/user/{USER}/tz/api/v1"
        self.xsrf = {"X-XSRFToken": browser.user_xsrf}  # type: ignore[attr-defined]
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "s", None)
        if s is None:
            s = requests.Session()
            s.cookies.update(self.browser.cookies)
            self._local.s = s
        return s

    def upload(self, path: Path, target: str) -> dict:
        size = path.stat().st_size
        body = {"space": SPACE, "path": target, "size": size, "part_size": PART_SIZE,
                "overwrite": True}  # fmt: skip
        r = self.browser.post(f"{self.base}/uploads", json=body, headers=self.xsrf, timeout=60)
        if r.status_code != 201:
            raise RuntimeError(f"POST /uploads answered {r.status_code}: {r.text[:500]}")
        session = r.json()

        def read(number: int) -> bytes:
            with open(path, "rb") as f:
                f.seek((number - 1) * session["part_size"])
                return f.read(session["part_size"])

        slots = threading.Semaphore(IN_FLIGHT)

        def send(number: int) -> None:
            # As the Lab does: the part's CRC32 goes with it, computed (the browser: in JS)
            # before the part waits for one of the IN_FLIGHT connections, and the part is read
            # again to be sent (the page keeps only the checksum).
            headers = {**self.xsrf, "Content-Type": "application/octet-stream"}
            if self.checksum:
                crc = zlib.crc32(read(number)).to_bytes(4, "big")
                headers["X-TZ-Checksum-CRC32"] = base64.b64encode(crc).decode()
            with slots:
                data = read(number)
                r = self._session().put(
                    f"{self.base}/uploads/{session['id']}/parts/{number}", data=data,
                    headers=headers, timeout=600,
                )  # fmt: skip
            if r.status_code != 200 or r.json()["size"] != len(data):
                raise RuntimeError(f"part {number} answered {r.status_code}: {r.text[:500]}")

        # Twice IN_FLIGHT threads: as many parts again have their CRC32 ready (the Lab's
        # _readySlots) while IN_FLIGHT of them are being sent.
        with ThreadPoolExecutor(2 * IN_FLIGHT) as pool:
            list(pool.map(send, range(1, session["parts"] + 1)))
        r = self.browser.post(f"{self.base}/uploads/{session['id']}/complete", headers=self.xsrf,
                              timeout=600)  # fmt: skip
        if r.status_code != 200:
            raise RuntimeError(f"complete answered {r.status_code}: {r.text[:500]}")
        return r.json()


def make_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MiB))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def s3_sha256(s3: Any, key: str) -> str:
    h = hashlib.sha256()
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    for chunk in iter(lambda: body.read(8 * MiB), b""):
        h.update(chunk)
    return h.hexdigest()


# ---- reporting --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Verdict:
    name: str
    value: float
    target: str
    met: bool
    line: str
    extra: dict[str, Any] = field(default_factory=dict)


def time_ratio_verdict(name: str, runs: list[Run], max_ratio: float) -> Verdict:
    b = [r.seconds for r in runs if r.figure == name and r.mode == "boto3"]
    a = [r.seconds for r in runs if r.figure == name and r.mode == "api"]
    mb, ma = median(b), median(a)
    ratio = ma / mb
    met = ratio <= max_ratio
    line = (f"{name}: boto3 {mb * 1000:.0f} ms, api {ma * 1000:.0f} ms, ratio api/boto3 "
            f"{ratio:.2f}x (target <= {max_ratio}x): {'PASS' if met else 'MISS'}")  # fmt: skip
    pairs = [x / y for y, x in zip(b, a, strict=False)]
    return Verdict(name, ratio, f"<= {max_ratio}", met, line, {
        "boto3_s": b, "api_s": a, "median_boto3_s": mb, "median_api_s": ma,
        "pairwise_ratio": pairs, "overhead_s": ma - mb})  # fmt: skip


def upload_verdicts(runs: list[Run], size: int) -> list[Verdict]:
    b = [size / r.seconds / MB for r in runs if r.figure == "upload" and r.mode == "boto3"]
    a = [size / r.seconds / MB for r in runs if r.figure == "upload" and r.mode == "api"]
    mb, ma = median(b), median(a)
    # Each api upload runs right after a boto3 one, so a pair shares the machine's state of the
    # moment; moto's own speed drifts by up to 2x within a run, which the ratio of two medians
    # taken over different moments does not cancel. The verdict is the median pair's ratio.
    pairs = [x / y for y, x in zip(b, a, strict=False)]
    ratio = median(pairs)
    met = ratio >= UPLOAD_MIN_RATIO
    line = (
        f"upload_throughput: ratio api/boto3 {ratio:.2f}x, median of {len(pairs)} pairs "
        f"({', '.join(f'{x:.2f}' for x in pairs)}) (target >= {UPLOAD_MIN_RATIO}x): "
        f"{'PASS' if met else 'MISS'}; medians boto3 {mb:.0f} MB/s, api {ma:.0f} MB/s "
        f"({ma / mb:.2f}x)"
    )
    tput = Verdict("upload_throughput", ratio, f">= {UPLOAD_MIN_RATIO}", met, line, {
        "boto3_mb_s": b, "api_mb_s": a, "median_boto3_mb_s": mb, "median_api_mb_s": ma,
        "ratio_of_medians": ma / mb, "pairwise_ratio": pairs})  # fmt: skip
    api = [r for r in runs if r.figure == "upload" and r.mode == "api"]
    growth = [r.rss_growth_mb for r in api if r.rss_growth_mb is not None]
    worst = max(growth)
    sha_ok = all(r.sha256_ok for r in api)
    met_rss = worst <= RSS_MAX_MB
    line2 = (f"service_peak_rss_growth: {worst:.0f} MB at worst over {len(growth)} upload(s) "
             f"(median {median(growth):.0f} MB) (target <= {RSS_MAX_MB:.0f} MB): "
             f"{'PASS' if met_rss else 'MISS'}")  # fmt: skip
    rss = Verdict(
        "service_peak_rss_growth_mb",
        worst,
        f"<= {RSS_MAX_MB:.0f} MB",
        met_rss,
        line2,
        {
            "growth_mb": growth,
            "median_mb": median(growth),
            "baseline_mb": [r.rss_baseline_mb for r in api],
            "user_server_growth_mb": [r.user_server_rss_growth_mb for r in api],
        },
    )
    line3 = f"upload_sha256: {'PASS' if sha_ok else 'MISS'} (uploaded object == file, every run)"
    sha = Verdict("upload_sha256", float(sha_ok), "equal", sha_ok, line3)
    return [tput, rss, sha]


def print_runs(runs: list[Run], size: int) -> None:
    head = (f"{'figure':<16} {'run':<16} {'time':>9} {'pages':>5} {'MB/s':>6} {'rss+':>6} "
            f"{'foreign':>7}  cpu s (service/hub/proxy/user/moto/bench)")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in runs:
        mbs = f"{size / r.seconds / MB:6.0f}" if r.figure == "upload" else " " * 6
        rss = f"{r.rss_growth_mb:6.0f}" if r.rss_growth_mb is not None else " " * 6
        cpu = "/".join(f"{r.cpu_s.get(k, 0.0):.2f}" for k in
                       ("service", "hub", "proxy", "user_server", "moto", "bench"))  # fmt: skip
        pages = str(r.pages) if r.pages else ""
        print(f"{r.figure:<16} {r.mode + ' ' + str(r.index):<16} {r.seconds:8.3f}s {pages:>5} "
              f"{mbs} {rss} {100 * r.foreign_share:6.1f}%  {cpu}")  # fmt: skip


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import platform as platform_mod

    return {"nproc": os.cpu_count(), "cpu_model": model,
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform_mod.platform(), "python": platform_mod.python_version()}  # fmt: skip


# ---- main -------------------------------------------------------------------------------------


def timed(figure: str, mode: str, index: int, meter: Meter, fn: Callable[[], Any]) -> Run:
    with meter:
        out = fn()
    run = Run(figure, mode, index, meter.wall, cpu_s=meter.cpu_s,
              foreign_share=meter.foreign_share)  # fmt: skip
    if isinstance(out, tuple):
        run.count, run.page_s = out
        run.pages = len(run.page_s)
    elif isinstance(out, int):
        run.count = out
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10,000 objects, a 200 MiB file, fewer repeats")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--objects", type=int, help="objects in the folder (default 100,000)")
    parser.add_argument("--size-mb", type=int, help="upload file size in MiB (default 1024)")
    parser.add_argument(
        "--repeats",
        type=int,
        help="timed full listings and uploads of each kind (default 3; 2 quick)",
    )
    parser.add_argument(
        "--latency-repeats",
        type=int,
        help="timed first-page calls of each kind and limit (default 9; 5 quick)",
    )
    parser.add_argument("--skip", default="", help="comma-separated: list,upload")
    parser.add_argument("--layout", choices=("shared", "split"), default="shared",
                        help="shared (default): every process on every CPU; split (diagnostic): "
                        "moto on a CPU of its own, as a remote S3 would be")  # fmt: skip
    parser.add_argument("--no-part-crc", action="store_true",
                        help="diagnostic: send parts without X-TZ-Checksum-CRC32, as curl would "
                        "(the service then spools each part)")  # fmt: skip
    args = parser.parse_args(argv)
    n = args.objects or (10_000 if args.quick else 100_000)
    size = (args.size_mb or (200 if args.quick else 1024)) * MiB
    repeats = args.repeats or (2 if args.quick else 3)
    lat_repeats = args.latency_repeats or (5 if args.quick else 9)
    skip = set(filter(None, args.skip.split(",")))

    info = machine_info()
    print(f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
          f"{info['os']}, Python {info['python']}")  # fmt: skip
    print(f"sizes: {n:,} objects, {size // MiB} MiB file ({PART_SIZE // MiB} MiB parts, "
          f"{IN_FLIGHT} in flight); {repeats} full runs and {lat_repeats} first-page calls "
          "of each kind\n", flush=True)  # fmt: skip

    started = time.monotonic()
    runs: list[Run] = []
    extra: dict[str, Any] = {}
    split = split_cpus(args.layout)
    moto, url = start_moto(split[0] if split else None)
    if split:
        pin_this_process(split[1])  # the platform started below inherits it
    layout = (f"split: moto on CPU {sorted(split[0])}, the rest on {sorted(split[1])}"
              if split else "shared: every process on every CPU")  # fmt: skip
    print(f"layout {layout}", flush=True)
    try:
        s3 = s3_client(url)
        s3.create_bucket(Bucket=BUCKET)
        config = f"""
c.TzStorage.url = "s3://{BUCKET}/{STORAGE_PREFIX}"
c.TzStorage.storage_options = {{"key": "testing", "secret": "testing",
                                "client_kwargs": {{"endpoint_url": "{url}"}}}}
"""
        with (
            tempfile.TemporaryDirectory(prefix="tz-bench-data-") as tmp,
            Platform(Path(tmp) / "home", tz_config=config, extra_env=CREDENTIALS) as p,
        ):
            print(f"moto at {url}; platform up after {time.monotonic() - started:.1f} s at "
                  f"{p.url}", flush=True)  # fmt: skip
            foreign = ForeignLoad().start()
            try:
                boto = Boto3Side(s3)
                api = ApiSide(p)
                procs = Procs(p, moto)
                meter = Meter(procs, foreign)
                if "list" not in skip:
                    print(f"filling {FOLDER_PREFIX} with {n:,} objects ...", flush=True)
                    fill_s = fill(s3, n)
                    extra["fill_s"] = fill_s
                    print(f"  filled in {fill_s:.0f} s ({n / fill_s:.0f} puts/s)", flush=True)
                    runs += list_figures(boto, api, meter, n, repeats, lat_repeats)
                if "upload" not in skip:
                    runs += upload_figures(p, s3, boto, meter, procs, Path(tmp), size, repeats,
                                           not args.no_part_crc)  # fmt: skip
            finally:
                foreign.stop()
    finally:
        moto.terminate()
        try:
            moto.wait(10)
        except subprocess.TimeoutExpired:
            moto.kill()
    total = time.monotonic() - started

    print()
    print_runs(runs, size)
    print(
        "(time: wall seconds; rss+: the TZ service's peak RSS growth, MB; foreign: CPU used\n"
        " meanwhile by other programs, share of all cores; cpu s: CPU seconds per process)"
    )
    verdicts: list[Verdict] = []
    if "list" not in skip:
        verdicts.append(time_ratio_verdict("list_all", runs, LIST_MAX_RATIO))
        verdicts.append(time_ratio_verdict("first_page_200", runs, FIRST_PAGE_MAX_RATIO))
        verdicts.append(time_ratio_verdict("first_page_1000", runs, FIRST_PAGE_MAX_RATIO))
        auth = [r.seconds for r in runs if r.figure == "auth_only"]
        extra["auth_only_median_s"] = median(auth)
        api_pages = [s for r in runs if r.figure == "list_all" and r.mode == "api"
                     for s in r.page_s]  # fmt: skip
        boto_pages = [s for r in runs if r.figure == "list_all" and r.mode == "boto3"
                      for s in r.page_s]  # fmt: skip
        extra["list_page_median_s"] = {"api": median(api_pages), "boto3": median(boto_pages)}
        print(
            f"\nGET /api/v1/ (hub auth + proxy + tornado, no storage), median: "
            f"{1000 * median(auth):.1f} ms"
        )
        print(
            f"one 1000-entry page inside the full listings, median: boto3 "
            f"{1000 * median(boto_pages):.0f} ms, api {1000 * median(api_pages):.0f} ms"
        )
    if "upload" not in skip:
        plan_mbs = [size / r.seconds / MB for r in runs if r.mode == BOTO3_PLAN]
        extra["upload_boto3_browser_plan_mb_s"] = plan_mbs
        print(
            f"\ndiagnostic: boto3 upload_file with the browser's plan ({PART_SIZE // MiB} MiB "
            f"parts, {IN_FLIGHT} threads), median {median(plan_mbs):.0f} MB/s"
        )
        verdicts += upload_verdicts(runs, size)
    busy = [r for r in runs if r.foreign_share > FOREIGN_WARN_SHARE]
    if busy:
        print(
            f"\nwarning: other programs used more than {100 * FOREIGN_WARN_SHARE:.0f}% of the "
            f"machine during {len(busy)} of {len(runs)} timed runs (up to "
            f"{100 * max(r.foreign_share for r in busy):.0f}%); absolute figures are noisy"
        )
    print(f"\ntotal benchmark time {total:.0f} s\n")
    for v in verdicts:
        print(v.line)

    if args.json:
        result = {
            "machine": info,
            "layout": layout,
            "sizes": {"objects": n, "file_bytes": size, "part_size": PART_SIZE,
                      "in_flight": IN_FLIGHT, "repeats": repeats,
                      "latency_repeats": lat_repeats, "quick": args.quick},
            "runs": [asdict(r) for r in runs],
            "figures": {v.name: {"value": v.value, "target": v.target, "met": v.met,
                                 "line": v.line, **v.extra} for v in verdicts},
            "diagnostics": extra,
            "total_s": total,
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def list_figures(boto: Boto3Side, api: ApiSide, meter: Meter, n: int, repeats: int,
                 lat_repeats: int) -> list[Run]:  # fmt: skip
    runs: list[Run] = []
    # Untimed warm-up of both sides (connections, the service's token cache, moto's code paths).
    boto.first_page(1000)
    api.first_page(1000)
    for i in range(1, lat_repeats + 1):
        runs.append(timed("auth_only", "api", i, meter, api.auth_only))
    for limit in (200, 1000):
        figure = f"first_page_{limit}"
        for i in range(1, lat_repeats + 1):
            for mode, side in (("boto3", boto), ("api", api)):
                run = timed(figure, mode, i, meter, lambda s=side, k=limit: s.first_page(k))
                if run.count != limit:
                    raise RuntimeError(f"{figure} {mode}: {run.count} entries, not {limit}")
                runs.append(run)
        mb = median([r.seconds for r in runs if r.figure == figure and r.mode == "boto3"])
        ma = median([r.seconds for r in runs if r.figure == figure and r.mode == "api"])
        print(f"  {figure}: boto3 {1000 * mb:.0f} ms, api {1000 * ma:.0f} ms", flush=True)
    for i in range(1, repeats + 1):
        for mode, side in (("boto3", boto), ("api", api)):
            run = timed("list_all", mode, i, meter, side.list_all)
            if run.count != n:
                raise RuntimeError(f"list_all {mode}: {run.count} entries, not {n}")
            runs.append(run)
            print(f"  list_all {mode} {i}: {run.seconds:.2f} s, {run.pages} pages, foreign "
                  f"{100 * run.foreign_share:.0f}%", flush=True)  # fmt: skip
    return runs


def upload_figures(p: Platform, s3: Any, boto: Boto3Side, meter: Meter, procs: Procs, tmp: Path,
                   size: int, repeats: int, part_crc: bool = True) -> list[Run]:  # fmt: skip
    runs: list[Run] = []
    print(f"writing a {size // MiB} MiB file ...", flush=True)
    path = tmp / "upload.bin"
    digest = make_file(path, size)
    small = tmp / "warm.bin"
    make_file(small, 2 * PART_SIZE + 1234)
    print("starting alice's server (browser login) ...", flush=True)
    browser = start_server(p, USER)
    procs.refresh()
    uploader = BrowserUploader(p, browser, checksum=part_crc)
    service_pid = p.service_pid()
    if service_pid is None:
        raise RuntimeError("no TZ service process found")
    user_pid = procs.named["user_server"].pid if "user_server" in procs.named else None
    api_key = f"{STORAGE_PREFIX}/workspace/users/{USER}/upload/api.bin"
    plan_key = f"{STORAGE_PREFIX}/workspace/users/{USER}/upload/boto3-plan.bin"
    plan = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                          max_concurrency=IN_FLIGHT)  # fmt: skip
    boto_key = f"{STORAGE_PREFIX}/workspace/users/{USER}/upload/boto3.bin"
    # Untimed warm-up of both paths (imports, connections, the server's token cache).
    uploader.upload(small, "upload/warm.bin")
    s3.upload_file(str(small), BUCKET, boto_key)
    for i in range(1, repeats + 1):
        run = timed("upload", "boto3", i, meter,
                    lambda: s3.upload_file(str(path), BUCKET, boto_key))  # fmt: skip
        run.count = size
        runs.append(run)
        print(f"  upload boto3 {i}: {run.seconds:.2f} s ({size / run.seconds / MB:.0f} MB/s), "
              f"foreign {100 * run.foreign_share:.0f}%", flush=True)  # fmt: skip
        time.sleep(1.0)  # let the service's RSS settle before its baseline is read
        user_rss = RssPoller(user_pid) if user_pid else None
        with RssPoller(service_pid) as rss:
            if user_rss:
                user_rss.__enter__()
            try:
                run = timed("upload", "api", i, meter,
                            lambda: uploader.upload(path, "upload/api.bin"))  # fmt: skip
            finally:
                if user_rss:
                    user_rss.__exit__()
        run.count = size
        run.rss_growth_mb = rss.growth_mb
        run.rss_baseline_mb = rss.baseline / MB
        run.user_server_rss_growth_mb = user_rss.growth_mb if user_rss else None
        run.sha256_ok = s3_sha256(s3, api_key) == digest
        runs.append(run)
        print(f"  upload api {i}: {run.seconds:.2f} s ({size / run.seconds / MB:.0f} MB/s), "
              f"service RSS +{rss.growth_mb:.0f} MB (from {rss.baseline / MB:.0f} MB, "
              f"{rss.samples} samples), sha256 {'ok' if run.sha256_ok else 'MISMATCH'}, "
              f"foreign {100 * run.foreign_share:.0f}%", flush=True)  # fmt: skip
        # Diagnostic (no verdict): boto3 with the browser's part plan, to tell what the part size
        # and concurrency cost on this S3 from what the extra hops cost.
        run = timed("upload", BOTO3_PLAN, i, meter,
                    lambda: s3.upload_file(str(path), BUCKET, plan_key, Config=plan))  # fmt: skip
        run.count = size
        runs.append(run)
        print(f"  upload {BOTO3_PLAN} {i}: {run.seconds:.2f} s "
              f"({size / run.seconds / MB:.0f} MB/s), foreign {100 * run.foreign_share:.0f}%",
              flush=True)  # fmt: skip
    return runs


if __name__ == "__main__":
    sys.exit(main())
