"""Benchmark training script: a tiny DDP job (gloo, CPU) that reports its own timings.

Started either by bare ``torchrun`` or by a Training Zoo job (``entry=train_ddp.py``); it behaves
the same in both. Rank 0 prints machine-readable lines (``TZBENCH <key> <value>``):

- ``start``: ``time.time()`` when the script began (before ``import torch``);
- ``first_step``: ``time.time()`` right after the first ``optimizer.step()`` returned;
- ``samples_per_s``: global samples per second from the end of warm-up step ``--warmup`` to the
  last step (launch, imports and warm-up excluded);
- ``step_ms``: mean wall time of one step in that window;
- ``samples_per_s_median_block``: the median over blocks of 10 steps of that window, which a short
  burst of load from other programs on the machine moves less than the mean;
- ``cpu_ms_per_step``: CPU time of the rank 0 process (all its threads) per step in that window:
  more wall time per step at equal CPU time means the rank waited for a core (or its peer).
"""

from __future__ import annotations

import time

T_START = time.time()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402


def report(key: str, value: float) -> None:
    print(f"TZBENCH {key} {value!r}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=320, help="total optimizer steps")
    parser.add_argument("--warmup", type=int, default=20, help="steps excluded from samples/s")
    parser.add_argument("--batch", type=int, default=64, help="per-rank batch size")
    parser.add_argument("--features", type=int, default=512, help="Linear in/out features")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup")

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(args.features, args.features))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    # One fixed batch: the benchmark measures the launcher, not a data pipeline.
    generator = torch.Generator().manual_seed(rank)
    x = torch.randn(args.batch, args.features, generator=generator)
    y = torch.randn(args.batch, args.features, generator=generator)
    loss_fn = torch.nn.MSELoss()

    marks: list[float] = []  # perf_counter() after each step from the end of warm-up on
    cpu0 = 0.0
    loss = torch.zeros(())
    for step in range(1, args.steps + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if step == 1 and rank == 0:
            report("first_step", time.time())
            report("start", T_START)
        if step >= args.warmup:
            marks.append(time.perf_counter())
            if step == args.warmup:
                cpu0 = time.process_time()
    measured = args.steps - args.warmup
    elapsed = marks[-1] - marks[0]
    if rank == 0:
        per_step = args.batch * world
        report("samples_per_s", measured * per_step / elapsed)
        report("step_ms", 1000 * elapsed / measured)
        report("cpu_ms_per_step", 1000 * (time.process_time() - cpu0) / measured)
        block = 10
        rates = [
            block * per_step / (marks[i + block] - marks[i])
            for i in range(0, len(marks) - block, block)
        ]
        if rates:
            report("samples_per_s_median_block", statistics.median(rates))
        report("world_size", world)
        report("omp_threads", torch.get_num_threads())
    if os.environ.get("TZ_METRICS_DIR"):
        import training_zoo

        training_zoo.log_metrics(step=args.steps, loss=loss.item())
    # Leave together, with DDP's reducer gone first: a rank that tore gloo down while its peer
    # was still printing sometimes died with SIGABRT ("terminate called without an active
    # exception") at exit.
    dist.barrier()
    del model, optimizer
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
