"""Fails on the first attempt, succeeds on the next (TZ_ATTEMPT counts attempts)."""

import os
import sys

attempt = int(os.environ["TZ_ATTEMPT"])
print(f"attempt {attempt}", flush=True)
sys.exit(1 if attempt == 1 else 0)
