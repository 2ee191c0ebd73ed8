"""A short DDP training (gloo, CPU) that logs a line and a metric every step, slowly enough that
a browser sees both arrive while the job runs."""

import os
import sys
import time

import torch
import torch.distributed as dist

import training_zoo

dist.init_process_group("gloo")
rank = dist.get_rank()
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
for step in range(steps):
    x = torch.randn(32, 4)
    loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    training_zoo.log_metrics(step=step, loss=loss)
    print(f"rank {rank} step {step} loss {loss.item():.4f}", flush=True)
    time.sleep(0.4)
dist.barrier()
dist.destroy_process_group()
# torch 2.13's gloo can abort a rank in its exit-time teardown ("terminate called without an
# active exception", after destroy_process_group has returned; 3 runs in 40 on 2 loaded cores).
# Everything is written and flushed by now, so leave without that teardown.
sys.stdout.flush()
os._exit(0)
