"""DDP check: trains a tiny model for a few steps and writes each rank's final parameters."""

import json
import os
import sys

import torch
import torch.distributed as dist

import training_zoo

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(1234 + rank)  # different data per rank; DDP must still agree on parameters
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
for step in range(steps):
    loss = model(torch.randn(16, 8)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    training_zoo.log_metrics(step=step, loss=loss)
    print(f"step {step} loss {loss.item():.4f}", flush=True)
flat = torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()
out = os.environ["TZ_OUTPUT_DIR"]
with open(os.path.join(out, f"params-{rank}.json"), "w") as f:
    json.dump({"rank": rank, "world": world, "node": os.environ["TZ_NODE_RANK"], "params": flat}, f)
print(f"rank {rank} of {world} done", flush=True)
dist.barrier()
dist.destroy_process_group()
# torch 2.13's gloo can abort a rank in its exit-time teardown ("terminate called without an
# active exception", after destroy_process_group has returned; 3 runs in 40 on 2 loaded cores).
# Everything is written and flushed by now, so leave without that teardown.
sys.stdout.flush()
os._exit(0)
