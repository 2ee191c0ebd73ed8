"""Writes TensorBoard scalars into TZ_OUTPUT_DIR, the folder users point TensorBoard at."""

import os

from torch.utils.tensorboard import SummaryWriter

writer = SummaryWriter(os.environ["TZ_OUTPUT_DIR"])
for step in range(5):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
writer.close()
print("wrote events", flush=True)
