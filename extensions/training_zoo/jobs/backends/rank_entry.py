"""Per-rank wrapper of the local backend: ``python rank_entry.py SCRIPT [ARGS]`` or
``python rank_entry.py --command CMD [ARGS]``.

torchrun (or the supervisor, for TensorFlow and custom jobs) starts this file once per rank.
It runs the user's program as a child with stdout and stderr going to
``$TZ_LOGS_DIR/rank-<RANK>.log``, so every line lands on disk even if the TZ service is down,
and records the child's exit code or signal in ``$TZ_RANKS_DIR/rank-<RANK>.json``: that is how
per-rank exit codes and OOM kills reach the job's events. It imports nothing from TZ to keep the
start cheap.
"""

import json
import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    rank = os.environ.get("RANK", "0")
    logs_dir, ranks_dir = os.environ["TZ_LOGS_DIR"], os.environ["TZ_RANKS_DIR"]
    if argv and argv[0] == "--command":
        cmd = argv[1:]
    else:
        cmd = [sys.executable, "-u", *argv]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(os.path.join(logs_dir, f"rank-{rank}.log"), "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        except OSError as e:
            log.write(f"tz: cannot start {cmd[0]}: {e}\n".encode())
            code, sig = 127, None
        else:

            def forward(signum, _frame):
                child.send_signal(signum)

            for s in (signal.SIGTERM, signal.SIGINT):
                signal.signal(s, forward)
            code = child.wait()
            sig = -code if code < 0 else None
    record = {
        "rank": int(rank),
        "node_rank": int(os.environ.get("TZ_NODE_RANK", "0")),
        "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
        "exit_code": code if sig is None else 128 + sig,
        "signal": sig,
    }
    tmp = os.path.join(ranks_dir, f".rank-{rank}.json.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.replace(tmp, os.path.join(ranks_dir, f"rank-{rank}.json"))
    return record["exit_code"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
