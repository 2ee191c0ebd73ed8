"""``Kubelet``: runs the pods of a TrainJob stored in a :class:`~fakes.kubeapi.FakeKubeAPI` as real
local processes, the way Kubeflow Trainer, JobSet and the kubelet would on a cluster.

For each node it starts the TrainJob's own container command (``python -m
training_zoo.jobs.pod_entry``) with the TrainJob's env, the ``PET_*`` variables Trainer's torch
runtime injects (or ``JOB_COMPLETION_INDEX`` for the plain runtime), and the job's Secret written as
files (what the Secret volume mount gives). Output lines go to the fake's pod log; exit codes end
the pods (OOMKilled for 137) and the TrainJob, as the controllers would. Only the cluster is a
stand-in: the code fetch through presigned URLs, torchrun, the ranks, the output upload and
the backend's log streaming are all real.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from fakes.kubeapi import SECRETS, TRAINJOBS, FakeKubeAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kubelet:
    def __init__(self, api: FakeKubeAPI, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.threads: list[threading.Thread] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="tz-kubelet-")
        self.root = Path(self._tmp.name)

    def run(self, name: str) -> threading.Thread:
        """Admit the TrainJob, start its pods and run them in the background."""
        api, ns = self.api, self.namespace
        api.admit_workload(name, ns, admitted=True)
        pods = api.start_pods(name, ns)
        trainjob = api.get(*TRAINJOBS, ns, name)
        thread = threading.Thread(target=self._run, args=(trainjob, pods), daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def _env(self, trainjob: dict, index: int, port: int) -> dict[str, str]:
        trainer = trainjob["spec"]["trainer"]
        secret = self.api.get(*SECRETS, self.namespace, f"{trainjob['metadata']['name']}-tz")
        secrets = self.root / trainjob["metadata"]["name"] / f"secret-{index}"
        secrets.mkdir(parents=True)
        # The API server stores stringData as base64 data; a volume mount shows decoded files.
        for key, value in (secret or {}).get("data", {}).items():
            (secrets / key).write_bytes(base64.b64decode(value))
        for key, value in (secret or {}).get("stringData", {}).items():
            (secrets / key).write_text(value)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TZ_", "PET_"))}
        env.update({e["name"]: e["value"] for e in trainer.get("env") or []})
        env.update(TZ_SECRETS_DIR=str(secrets),
                   TZ_WORKSPACE=str(self.root / trainjob["metadata"]["name"] / f"ws-{index}"),
                   JOB_COMPLETION_INDEX=str(index))  # fmt: skip
        env.pop("TZ_OUTPUT_DIR", None)  # the pod's default, inside its workspace
        # The image's `python` on PATH: here, the interpreter running the tests.
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        if trainjob["spec"]["runtimeRef"]["name"] == "tz-pytorch":
            env.update(PET_NNODES=str(trainer["numNodes"]),
                       PET_NPROC_PER_NODE=str(trainer["numProcPerNode"]),
                       PET_NODE_RANK=str(index), PET_MASTER_ADDR="127.0.0.1",
                       PET_MASTER_PORT=str(port))  # fmt: skip
        return env

    def _run(self, trainjob: dict, pods: list[dict]) -> None:
        port = free_port()
        procs = []
        for pod in pods:
            index = int(pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])
            proc = subprocess.Popen(
                [sys.executable, *trainjob["spec"]["trainer"]["command"][1:]],
                env=self._env(trainjob, index, port), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            reader = threading.Thread(target=self._pump, args=(pod, proc), daemon=True)
            reader.start()
            procs.append((pod, proc, reader))
        codes = []
        for pod, proc, reader in procs:
            code = proc.wait()
            reader.join()
            reason = "OOMKilled" if code == 137 else ("Completed" if code == 0 else "Error")
            self.api.finish_pod(pod["metadata"]["name"], code, reason, namespace=self.namespace)
            codes.append(code)
        self.api.finish_trainjob(trainjob["metadata"]["name"], self.namespace,
                                 succeeded=not any(codes))  # fmt: skip

    def _pump(self, pod: dict, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            self.api.append_log(self.namespace, pod["metadata"]["name"], "node",
                                line.decode("utf-8", "replace"))  # fmt: skip

    def wait(self, timeout: float = 120) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def close(self) -> None:
        self._tmp.cleanup()


def trainjob_names(api: FakeKubeAPI, namespace: str) -> list[str]:
    return [o["metadata"]["name"] for o in api.list(*TRAINJOBS, namespace)]


__all__ = ["Kubelet", "free_port", "json", "trainjob_names"]
