"""Entry point of every training pod on Kubernetes: ``python -m training_zoo.jobs.pod_entry``.

One pod is one node of the job. This fetches the job's code through the presigned URL in the
job's Secret (mounted at ``$TZ_SECRETS_DIR``) and its dataset and model versions through the
input plan there (:mod:`.pod_inputs`), starts the node's processes (``torchrun`` for
PyTorch, which reads the ``PET_*`` variables Kubeflow Trainer injects; plain processes with
``TF_CONFIG`` or ``RANK``/``MASTER_ADDR`` for TensorFlow and custom jobs, derived from the JobSet
index and the headless-service host names), and when they end, each node uploads its output folder
as one archive through its presigned PUT URL. Every rank's output reaches the pod log as
``[rank N] line`` (see :mod:`.pod_rank`), which is how the TZ service streams and archives
per-rank logs and metrics without any volume or credential shared with the pod.

Standard library only, so trainer images need nothing but ``pip install --no-deps training-zoo``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .pod_inputs import InputError, fetch_inputs

CELL_FILE = "__tz_cell__.py"
TF_PORT, TORCH_PORT = 2222, 29500


def say(message: str) -> None:
    sys.stdout.write(f"[tz] {message}\n")
    sys.stdout.flush()


def _secret(name: str) -> str | None:
    path = Path(os.environ.get("TZ_SECRETS_DIR", "/var/run/training-zoo")) / name
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _http(url: str, data: bytes | None = None, tries: int = 5) -> bytes:
    """GET (or PUT ``data``) with retries: object stores answer 503 under load."""
    for attempt in range(tries):
        method = "PUT" if data is not None else "GET"
        # A presigned PUT is signed for this Content-Type (TzStorage.presigned_url).
        headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.read()
        except OSError as e:
            client_error = isinstance(e, urllib.error.HTTPError) and e.code < 500
            if client_error or attempt == tries - 1:
                raise  # an expired or wrong URL does not get better with time
            say(f"storage request failed ({e}); retrying")
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def fetch_code(workspace: Path) -> Path:
    code = workspace / "code"
    code.mkdir(parents=True, exist_ok=True)
    url = _secret("code_url")
    if url:
        data = _http(url)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(code, filter="data")
        say(f"code snapshot fetched ({len(data)} bytes)")
    cell = _secret("cell.py")
    if cell is not None:
        (code / CELL_FILE).write_text(cell + "\n")
    return code


def upload_output(output: Path) -> None:
    url = _secret(f"output_url_{node_rank()}") or _secret("output_url")
    if not url or not output.is_dir() or not any(output.iterdir()):
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(output, arcname=".")
    _http(url, buffer.getvalue())
    say(f"output uploaded ({buffer.tell()} bytes)")


def node_rank() -> int:
    # Trainer v2 (torch policy), any Indexed Job, then Training Operator v1 (RANK = replica).
    for name in ("PET_NODE_RANK", "JOB_COMPLETION_INDEX", "RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def master_addr() -> str:
    jobset = os.environ.get("TZ_JOBSET_NAME")
    default = f"{jobset}-node-0-0.{jobset}" if jobset else "127.0.0.1"
    return os.environ.get("PET_MASTER_ADDR") or os.environ.get("MASTER_ADDR") or default


def tf_config(nodes: int, procs: int, index: int) -> str:
    """``TF_CONFIG`` of worker ``index``: every worker's host name and port, in rank order."""
    jobset = os.environ.get("TZ_JOBSET_NAME", "")
    hosts = [f"{jobset}-node-0-{n}.{jobset}" if jobset else "127.0.0.1" for n in range(nodes)]
    workers = [f"{h}:{TF_PORT + p}" for h in hosts for p in range(procs)]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def run(program: list[str], code: Path) -> int:
    framework = os.environ.get("TZ_FRAMEWORK", "pytorch")
    nodes = int(os.environ.get("TZ_NUM_NODES", "1"))
    procs = int(os.environ.get("TZ_PROCS_PER_NODE", "1"))
    node = node_rank()
    rank_cmd = [sys.executable, "-m", "training_zoo.jobs.pod_rank", *program]
    if framework == "pytorch":
        port = os.environ.get("PET_MASTER_PORT") or os.environ.get("MASTER_PORT") or TORCH_PORT
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nodes}",
               f"--nproc_per_node={procs}", f"--node_rank={node}",
               f"--master_addr={master_addr()}", f"--master_port={port}",
               "--no-python", *rank_cmd]  # fmt: skip
        return subprocess.call(cmd, cwd=code)
    children = []
    for local in range(procs):
        rank = node * procs + local
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(local),
                   WORLD_SIZE=str(nodes * procs), LOCAL_WORLD_SIZE=str(procs),
                   MASTER_ADDR=master_addr(), MASTER_PORT=str(TORCH_PORT))  # fmt: skip
        if framework == "tensorflow":
            env["TF_CONFIG"] = tf_config(nodes, procs, rank)
        children.append(subprocess.Popen(rank_cmd, cwd=code, env=env))
    codes = [child.wait() for child in children]
    return next((c for c in codes if c != 0), 0)


def main() -> int:
    workspace = Path(os.environ.get("TZ_WORKSPACE", "/workspace"))
    output = Path(os.environ.get("TZ_OUTPUT_DIR", workspace / "output"))
    output.mkdir(parents=True, exist_ok=True)
    os.environ["TZ_OUTPUT_DIR"] = str(output)  # the ranks' programs write here
    os.environ["TZ_NODE_RANK"] = str(node_rank())  # as on the local backend
    program = json.loads(os.environ["TZ_PROGRAM"])
    try:
        code = fetch_code(workspace)
    except (OSError, tarfile.TarError) as e:
        say(f"cannot fetch the job's code: {e}")
        return 66
    inputs_url = _secret("inputs_url")
    if inputs_url:
        root = Path(os.environ.get("TZ_INPUTS_DIR", workspace / "inputs"))
        try:
            os.environ.update(fetch_inputs(inputs_url, root, say))
        except (InputError, OSError) as e:
            say(f"cannot fetch the job's datasets and models: {e}")
            return 66
    status = run(program, code)
    try:
        upload_output(output)
    except OSError as e:
        say(f"cannot upload the output: {e}")
        status = status or 74
    return status


if __name__ == "__main__":
    sys.exit(main())
