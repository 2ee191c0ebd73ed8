"""Prints this worker's TF_CONFIG as one JSON line (what TensorFlow's MultiWorker strategy
reads)."""

import json
import os

print("TF_CONFIG=" + json.dumps(json.loads(os.environ["TF_CONFIG"])), flush=True)
with open(os.path.join(os.environ["TZ_OUTPUT_DIR"], f"tf-{os.environ['RANK']}.json"), "w") as f:
    f.write(os.environ["TF_CONFIG"])
