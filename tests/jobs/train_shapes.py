"""Train ShapesNet with DDP on a TZ dataset version, then leave the model for the registry.

Run as a TZ job: ``datasets=["shapes:V001"]``, ``procs_per_node=2``. Rank 0 writes
``$TZ_OUTPUT_DIR/model/`` (weights, shapes_model.py, tz-model.json) with ``tz.models.save``: TZ
registers it as ``shapes-cnn`` when the job succeeds, with the job and the dataset as lineage.
"""

import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from shapes_model import ShapesNet
from torch.nn.parallel import DistributedDataParallel

import training_zoo as tz

SIZE, MEAN, STD = 16, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 40


def tensors(files, labels):
    xs = [
        (np.asarray(Image.open(f.path).convert("RGB").resize((SIZE, SIZE)), np.float32) / 255
         - MEAN[0]) / STD[0]
        for f in files
    ]  # fmt: skip
    x = torch.tensor(np.stack(xs)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([labels.index(f.label) for f in files])
    return x, y


dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
torch.set_num_threads(1)
data = tz.datasets.open("shapes:V001")
labels = sorted({f.label for f in data if f.label})
x, y = tensors(data.split("train"), labels)
xs, ys = x[rank::world], y[rank::world]  # each rank its shard
model = DistributedDataParallel(ShapesNet(len(labels)))
opt = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(EPOCHS):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(xs), ys)
    loss.backward()
    opt.step()
    if rank == 0 and epoch % 10 == 0:
        tz.log_metrics(step=epoch, loss=float(loss))
with torch.no_grad():
    accuracy = float((model(x).argmax(1) == y).float().mean())
print(f"rank {rank} world {world} train accuracy {accuracy:.3f}", flush=True)
tz.models.save(
    model, name="shapes-cnn", example_input=x[:1], kwargs={"classes": len(labels)},
    task="image_classification", labels=labels,
    preprocess={"kind": "image", "size": [SIZE, SIZE], "mode": "RGB", "mean": MEAN, "std": STD},
    metrics={"train_accuracy": accuracy}, parameters={"epochs": EPOCHS, "lr": 0.02},
    card="# shapes-cnn\n\nA tiny CNN telling red, green and blue shapes apart.",
)  # fmt: skip
dist.barrier()
dist.destroy_process_group()
# torch 2.13's gloo can abort a rank in its exit-time teardown ("terminate called without an
# active exception", after destroy_process_group has returned; 3 runs in 40 on 2 loaded cores).
# Everything is written and flushed by now, so leave without that teardown.
sys.stdout.flush()
os._exit(0)
