"""Prints a line a second for N seconds (default 600): a long-running job for cancel and timeout."""

import os
import sys
import time

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
for i in range(seconds):
    print(f"rank {os.environ.get('RANK')} tick {i}", flush=True)
    time.sleep(1)
print("finished sleeping", flush=True)
