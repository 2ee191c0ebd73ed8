"""Per-rank wrapper inside a training pod: ``python -m training_zoo.jobs.pod_rank SCRIPT [ARGS]``
or ``... pod_rank --command CMD [ARGS]``.

It runs the user's program with stdout and stderr merged, and copies every line to the pod's
stdout as ``[rank N] line`` with one ``write`` per line (atomic on a pipe), so the lines of all
ranks of a node share one container log yet can be told apart by the TZ service. Metric records
written by :func:`training_zoo.log_metrics` travel the same way. Exits with the program's code
(128 + signal when killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    rank = os.environ.get("RANK", "0")
    cmd = argv[1:] if argv and argv[0] == "--command" else [sys.executable, "-u", *argv]
    prefix = f"[rank {rank}] ".encode()
    try:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        os.write(1, prefix + f"tz: cannot start {cmd[0]}: {e}\n".encode())
        return 127
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda signum, _frame: child.send_signal(signum))
    assert child.stdout is not None
    for line in iter(child.stdout.readline, b""):
        os.write(1, prefix + (line if line.endswith(b"\n") else line + b"\n"))
    code = child.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
