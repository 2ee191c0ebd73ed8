"""The local backend's per-job supervisor.

Run as ``python -m training_zoo.jobs.backends.supervisor RUN_DIR``.

The TZ service starts one supervisor per job attempt in a new session, so restarting (or killing)
the service leaves the job running. The supervisor reads ``RUN_DIR/launch.json``, starts one
``torchrun`` per node (PyTorch), one process per worker with its ``TF_CONFIG`` (TensorFlow) or the
command once per node (custom), enforces the timeout, obeys cancellation (SIGTERM, with the
canceller's name in ``RUN_DIR/cancel``), and writes everything the service needs to files:

- ``state.json``: ``running`` at start, then the final status, reason, message and exit code
  (written atomically, last, so a present final state means every other file is complete);
- ``events.jsonl``: what happened and why, one JSON object a line;
- ``logs/rank-N.log`` (written by the ranks themselves) and ``logs/node-N.log`` (the launchers).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

RANK_ENTRY = str(Path(__file__).with_name("rank_entry.py"))
POLL = 0.05
PASS_ENV = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR", "PYTHONPATH",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH", "CUDA_HOME", "OMP_NUM_THREADS",
}  # fmt: skip
PASS_PREFIXES = ("LC_", "NCCL_", "OPENBLAS_", "MKL_")


MEMORY_CHECK_SECONDS = 0.5
UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
         "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}  # fmt: skip


def parse_memory(value: str | None) -> int | None:
    """Kubernetes-style quantity (``512Mi``, ``4Gi``, ``1G``) in bytes; None when unset."""
    if not value:
        return None
    number = value.rstrip("KMGTi")
    return int(float(number) * UNITS[value[len(number) :]])


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run = run_dir
        self.spec = json.loads((run_dir / "launch.json").read_text())
        self.events = open(run_dir / "events.jsonl", "a", buffering=1)
        self.procs: list[subprocess.Popen] = []
        self.stopping: str | None = None  # "cancel" | "timeout" | "oom" | "failure"
        self.oom_message = ""
        self.started = time.time()

    def event(self, reason: str, message: str, type_: str = "Normal") -> None:
        record = {"time": time.time(), "type": type_, "reason": reason, "message": message}
        self.events.write(json.dumps(record) + "\n")

    def state(self, **fields: object) -> None:
        me = psutil.Process()
        base = {"pid": me.pid, "create_time": me.create_time(), "started": self.started}
        write_json(self.run / "state.json", {**base, **fields})

    # ---- launching -------------------------------------------------------------------------

    def base_env(self, node: int) -> dict[str, str]:
        s = self.spec
        # Jobs inherit an allow-list only: the service's environment holds its hub token and
        # storage credentials, which a user's code must never see.
        env = {k: v for k, v in os.environ.items() if k in PASS_ENV or k.startswith(PASS_PREFIXES)}
        env.update(s["env"])
        env.update(
            TZ_JOB_ID=s["job_id"],
            TZ_ATTEMPT=str(s["attempt"]),
            TZ_OUTPUT_DIR=s["output_dir"],
            TZ_METRICS_DIR=s["metrics_dir"],
            TZ_LOGS_DIR=s["logs_dir"],
            TZ_RANKS_DIR=s["ranks_dir"],
            TZ_NODE_RANK=str(node),
            TZ_NUM_NODES=str(s["nodes"]),
            TZ_PROCS_PER_NODE=str(s["procs_per_node"]),
            PYTHONUNBUFFERED="1",
        )
        gpus = s.get("gpus")
        # An empty CUDA_VISIBLE_DEVICES hides every GPU from a job that asked for none.
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus[node])) if gpus else ""
        return env

    def commands(self) -> list[tuple[list[str], dict[str, str], str]]:
        """(argv, env, launcher log name) for every process the supervisor starts itself."""
        s = self.spec
        py, program = s["python"], s["program"]
        nodes, ppn = s["nodes"], s["procs_per_node"]
        out = []
        if s["framework"] == "pytorch":
            for node in range(nodes):
                argv = [
                    py, "-m", "torch.distributed.run",
                    f"--nnodes={nodes}", f"--nproc_per_node={ppn}",
                    "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{s['rdzv_port']}",
                    *(["--rdzv_conf=is_host=0"] if nodes > 1 else []),
                    f"--rdzv_id={s['job_id']}-{s['attempt']}", "--local_addr=127.0.0.1",
                    "--max_restarts=0", "--monitor_interval=0.1",
                    RANK_ENTRY, *program,
                ]  # fmt: skip
                out.append((argv, self.base_env(node), f"node-{node}.log"))
        elif s["framework"] == "tensorflow":
            workers = [f"127.0.0.1:{p}" for p in s["tf_ports"]]
            for index in range(nodes * ppn):
                env = self.base_env(index // ppn)
                env.update(
                    TF_CONFIG=json.dumps(
                        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
                    ),
                    RANK=str(index),
                    LOCAL_RANK=str(index % ppn),
                    WORLD_SIZE=str(len(workers)),
                )
                out.append(([py, RANK_ENTRY, *program], env, f"worker-{index}.log"))
        else:
            for node in range(nodes):
                env = self.base_env(node)
                env.update(
                    RANK=str(node),
                    WORLD_SIZE=str(nodes),
                    MASTER_ADDR="127.0.0.1",
                    MASTER_PORT=str(s["rdzv_port"]),
                )
                out.append(([py, RANK_ENTRY, *program], env, f"node-{node}.log"))
        return out

    # ---- stopping --------------------------------------------------------------------------

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process().children(recursive=True)
        except psutil.Error:
            return []

    def kill_all(self) -> None:
        """SIGTERM the whole tree, SIGKILL what is left after the grace period."""
        kill_job_processes(
            self.spec["job_id"],
            grace=float(self.spec.get("kill_grace", 5)),
            extra=self.descendants(),
        )

    def check_memory(self, limit: int) -> None:
        """Enforce ``resources_per_node.memory``: each node's processes together (RSS)."""
        for node, launcher in enumerate(self.procs):
            try:
                root = psutil.Process(launcher.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            used = 0
            for proc in tree:
                try:
                    used += proc.memory_info().rss
                except psutil.Error:
                    continue
            if used > limit:
                self.stopping = "oom"
                self.oom_message = (
                    f"node {node} used {used / 2**20:.0f} MiB, over its memory limit "
                    f"{self.spec['memory']} (resources_per_node.memory)"
                )
                return

    def on_sigterm(self, _signum: int, _frame: object) -> None:
        if self.stopping is None:
            self.stopping = "cancel"

    # ---- main loop -------------------------------------------------------------------------

    def run_(self) -> int:
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.signal(signal.SIGINT, self.on_sigterm)
        self.state(status="running")
        if (self.run / "cancel").exists():
            self.stopping = "cancel"  # cancelled while this process was starting
            return self.finish([])
        s = self.spec
        for d in ("logs_dir", "ranks_dir", "metrics_dir", "output_dir"):
            os.makedirs(s[d], exist_ok=True)
        # Multi-node PyTorch: the supervisor hosts the rendezvous store itself. Left to torchrun,
        # node 0's agent hosts it and takes it along when it exits first, and the other nodes'
        # agents then kill their ranks during teardown (SIGTERM after a successful run).
        store = self.rendezvous_store() if s["framework"] == "pytorch" and s["nodes"] > 1 else None
        for argv, env, log_name in self.commands():
            log = open(os.path.join(s["logs_dir"], log_name), "ab")
            self.procs.append(
                subprocess.Popen(
                    argv,
                    cwd=s["code_dir"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        self.event(
            "Started",
            f"started {s['framework']} job: {s['nodes']} node(s) x {s['procs_per_node']} "
            f"process(es), attempt {s['attempt']}",
        )
        timeout = float(s.get("timeout") or 0)
        memory_limit = parse_memory(s.get("memory"))
        next_memory_check = 0.0
        failed_at: float | None = None
        while True:
            codes = [p.poll() for p in self.procs]
            if all(c is not None for c in codes):
                break
            if self.stopping is None and timeout and time.time() - self.started > timeout:
                self.stopping = "timeout"
            if self.stopping is None and memory_limit and time.monotonic() > next_memory_check:
                next_memory_check = time.monotonic() + MEMORY_CHECK_SECONDS
                self.check_memory(memory_limit)
            if self.stopping is None and any(c not in (None, 0) for c in codes):
                # Peers of a failed node normally stop by themselves; give them a moment.
                failed_at = failed_at or time.time()
                if time.time() - failed_at > float(s.get("kill_grace", 5)) * 2:
                    self.stopping = "failure"
            if self.stopping is not None:
                self.kill_all()
                for p in self.procs:
                    p.wait()
                break
            time.sleep(POLL)
        kill_job_processes(s["job_id"], grace=1.0, extra=self.descendants())
        del store
        return self.finish([p.returncode for p in self.procs])

    def rendezvous_store(self) -> object:
        """A c10d TCPStore on the rendezvous port that lives as long as this supervisor."""
        from torch.distributed import TCPStore

        port = int(self.spec["rdzv_port"])
        return TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False)

    def rank_records(self) -> list[dict]:
        records = []
        for path in sorted(Path(self.spec["ranks_dir"]).glob("rank-*.json")):
            try:
                records.append(json.loads(path.read_text()) | {"mtime": path.stat().st_mtime})
            except (OSError, ValueError):
                continue
        return sorted(records, key=lambda r: r["rank"])

    def finish(self, node_codes: list[int]) -> int:
        records = self.rank_records()
        for r in records:
            if r["exit_code"] != 0:
                how = (
                    f"was killed by signal {r['signal']}"
                    if r["signal"]
                    else f"exited with code {r['exit_code']}"
                )
                self.event(
                    "RankExited", f"rank {r['rank']} (node {r['node_rank']}) {how}", "Warning"
                )
        failures = [r for r in records if r["exit_code"] != 0]
        # The first rank to fail is the cause; later SIGTERMs come from the launcher tearing down.
        cause = min(failures, key=lambda r: r["mtime"]) if failures else None
        exit_code: int | None = cause["exit_code"] if cause else None
        if self.stopping == "cancel":
            who = (
                (self.run / "cancel").read_text().strip() if (self.run / "cancel").exists() else ""
            )
            status, reason = "cancelled", "Cancelled"
            message = f"cancelled by {who}" if who else "cancelled"
        elif self.stopping == "oom":
            status, reason, message = "failed", "OOMKilled", self.oom_message
        elif self.stopping == "timeout":
            status, reason = "failed", "TimedOut"
            message = f"killed after the {self.spec['timeout']:g} s timeout"
        elif all(c == 0 for c in node_codes) and not failures:
            status, reason, exit_code = "succeeded", "Succeeded", 0
            ranks = len(records) or len(node_codes)
            message = f"all {ranks} rank(s) exited with code 0"
        elif cause and cause["signal"] == signal.SIGKILL:
            status, reason = "failed", "OOMKilled"
            message = (
                f"rank {cause['rank']} was killed by SIGKILL, most likely out of memory "
                f"(resources_per_node.memory: {self.spec.get('memory') or 'unset'})"
            )
        elif cause:
            status, reason = "failed", "RankFailed"
            message = f"rank {cause['rank']} exited with code {cause['exit_code']}"
        else:
            bad = next(c for c in node_codes if c != 0)
            status, reason, exit_code = "failed", "LauncherFailed", bad
            message = f"the launcher exited with code {bad} before any rank ran (see node logs)"
        self.event(
            "Succeeded" if status == "succeeded" else reason,
            message,
            "Normal" if status == "succeeded" else "Warning",
        )
        self.events.close()
        self.state(
            status=status, reason=reason, message=message, exit_code=exit_code, finished=time.time()
        )
        return 0


def _matches(proc: psutil.Process, job_id: str) -> bool:
    try:
        return proc.environ().get("TZ_JOB_ID") == job_id
    except (psutil.Error, OSError):
        return False


def kill_job_processes(job_id: str, grace: float, extra: list[psutil.Process] = ()) -> int:
    """Terminate every process of a job: the given ones, plus any carrying ``TZ_JOB_ID=job_id``.

    The environment scan catches processes that left the process tree (daemonised, new
    sessions), so cancel never leaves a rank behind. Returns how many processes were signalled.
    """
    me = os.getpid()
    victims = {p.pid: p for p in extra if p.pid != me}
    for proc in psutil.process_iter():
        if proc.pid != me and proc.pid not in victims and _matches(proc, job_id):
            victims[proc.pid] = proc
    procs = list(victims.values())
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return len(procs)


def main() -> int:
    # Until the supervisor's own handler is in place, a cancel must still stop it cleanly.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    run_dir = Path(sys.argv[1])
    sup = Supervisor(run_dir)
    try:
        return sup.run_()
    except Exception as e:  # noqa: BLE001 - the service must always get a final state
        sup.event("SupervisorError", f"the job supervisor failed: {e}", "Warning")
        sup.kill_all()
        sup.state(
            status="failed",
            reason="SupervisorError",
            message=str(e),
            exit_code=None,
            finished=time.time(),
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
