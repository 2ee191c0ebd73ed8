"""Exits with code 3 on rank 1 (after rank 0 has printed), 0 elsewhere."""

import os
import sys
import time

rank = int(os.environ["RANK"])
print(f"rank {rank} starting", flush=True)
if rank == 1:
    time.sleep(0.5)
    sys.exit(3)
time.sleep(1)
