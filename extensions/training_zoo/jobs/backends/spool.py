"""Per-rank log and metric files of a job attempt, as both backends keep them.

The local backend's processes write ``logs/rank-N.log`` and ``metrics/rank-N.jsonl`` themselves;
the Kubernetes backend writes the same files from the pod logs it streams. Reading them (with
``follow``, a ``tail`` and metric cursors) is shared here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path


def log_ranks(logs: Path) -> list[int]:
    """Ranks with a ``rank-N.log`` file in ``logs``."""
    ranks = []
    for p in logs.glob("rank-*.log") if logs.exists() else []:
        try:
            ranks.append(int(p.stem.split("-", 1)[1]))
        except ValueError:
            continue
    return sorted(ranks)


async def follow_logs(
    logs: Path,
    rank: int | None,
    follow: bool,
    tail: int | None,
    is_done: Callable[[], Awaitable[bool]],
) -> AsyncIterator[tuple[int, str]]:
    """Yield ``(rank, line)`` from ``rank-N.log`` files; with ``follow``, until ``is_done()``."""
    offsets: dict[int, int] = {}
    partial: dict[int, bytes] = {}
    first = True
    while True:
        done = await is_done() if follow else True
        ranks = [rank] if rank is not None else log_ranks(logs)
        batch: list[tuple[int, str]] = []
        for r in ranks:
            path = logs / f"rank-{r}.log"
            try:
                with open(path, "rb") as f:
                    f.seek(offsets.get(r, 0))
                    data = f.read(1 << 20)
            except OSError:
                continue
            offsets[r] = offsets.get(r, 0) + len(data)
            data = partial.pop(r, b"") + data
            lines = data.split(b"\n")
            if lines[-1]:
                if done and len(data) < (1 << 20):
                    lines.append(b"")  # the job ended: a last line without newline counts
                else:
                    partial[r] = lines[-1]
            batch.extend((r, ln.decode("utf-8", "replace")) for ln in lines[:-1])
        if first and tail:
            batch = batch[-tail:]
        first = False
        for item in batch:
            yield item
        if done and not batch:
            return
        if not batch:
            await asyncio.sleep(0.2)


def read_metrics(metrics: Path, cursor: str | None) -> tuple[list[dict], str]:
    """Points of ``rank-N.jsonl`` after ``cursor`` (``rank:count,...``), and the next cursor."""
    positions: dict[int, int] = {}
    for part in (cursor or "").split(","):
        if ":" in part:
            r, n = part.split(":", 1)
            if r.isdigit() and n.isdigit():
                positions[int(r)] = int(n)
    items = []
    for path in sorted(metrics.glob("rank-*.jsonl")) if metrics.exists() else []:
        try:
            rank = int(path.stem.split("-", 1)[1])
            lines = path.read_text().splitlines()
        except (OSError, ValueError):
            continue
        start = positions.get(rank, 0)
        for seq, line in enumerate(lines[start:], start):
            try:
                point = json.loads(line)
            except ValueError:
                break  # a line still being written; pick it up next time
            items.append({"rank": rank, "seq": seq, **point})
            positions[rank] = seq + 1
    items.sort(key=lambda p: (p["time"], p["rank"]))
    return items, ",".join(f"{r}:{n}" for r, n in sorted(positions.items()))
