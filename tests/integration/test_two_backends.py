"""One API, two backends, switched by configuration only.

The same job spec, unchanged, goes through the REST API of two embedded platforms: the default
one (local backend) runs it as local processes; one whose ``tz_config.py`` selects the Kubernetes
backend and S3 storage turns it into a TrainJob (validated against the Trainer v2.3 CRD) whose
pods, run by the test kubelet from the TrainJob alone, train the same DDP model. Both answer the
same API with the same ranks, logs, metrics and output.
"""

from __future__ import annotations

import json
import time

import kubeschema
import pytest
from s3server import CREDENTIALS, moto_s3

from apiclient import ApiClient
from fakes.kubeapi import TRAINJOBS, FakeKubeAPI
from fakes.kubelet import Kubelet, trainjob_names
from harness import Platform
from training_zoo.storage import TzStorage

pytestmark = pytest.mark.integration

SPEC = {"name": "ddp-4", "entry": "ddp_params.py", "args": ["3"], "nodes": 2,
        "procs_per_node": 2}  # fmt: skip
NS = "training-zoo"


def summary(client: ApiClient, job: dict) -> dict:
    logs = client.get(f"/jobs/{job['id']}/logs").json()
    metrics = client.get(f"/jobs/{job['id']}/metrics").json()["items"]
    return {
        "status": job["status"],
        "world_size": job["world_size"],
        "ranks": logs["ranks"],
        "done": sorted(i["line"] for i in logs["items"] if "done" in i["line"]),
        "steps": sorted({(m["rank"], m["step"]) for m in metrics}),
    }


def test_the_same_spec_runs_on_both_backends_through_the_same_api(
    platform, api, workdir, tmp_path
):
    alice = api("alice")
    local = alice.wait(alice.submit(snapshot=alice.snapshot(workdir), **SPEC)["id"])
    assert local["status"] == "succeeded", alice.events(local["id"])

    with moto_s3("tz-two") as s3, FakeKubeAPI() as kube:
        config = f"""
c.TzJobManager.backend_class = "kubernetes"
c.TzKubernetesBackend.api_url = "{kube.url}"
c.TzCluster.namespace = "{NS}"
c.TzStorage.url = "s3://tz-two/platform"
c.TzStorage.storage_options = {{"key": "testing", "secret": "testing",
                                "client_kwargs": {{"endpoint_url": "{s3}"}}}}
"""
        with Platform(tmp_path / "k8s", tz_config=config, extra_env=CREDENTIALS) as k8s:
            remote = ApiClient(k8s.api, k8s.token("alice"))
            job = remote.submit(snapshot=remote.snapshot(workdir), **SPEC)
            deadline = time.monotonic() + 30
            while not trainjob_names(kube, NS) and time.monotonic() < deadline:
                time.sleep(0.1)
            (name,) = trainjob_names(kube, NS)
            trainjob = kube.get(*TRAINJOBS, NS, name)
            kubeschema.validate(trainjob)
            assert trainjob["spec"]["trainer"]["numNodes"] == 2
            assert trainjob["spec"]["trainer"]["numProcPerNode"] == 2
            kubelet = Kubelet(kube, NS)
            try:
                kubelet.run(name)
                done = remote.wait(job["id"], timeout=120)
                assert done["status"] == "succeeded", remote.events(job["id"])
                assert summary(remote, done) == summary(alice, local)
            finally:
                kubelet.wait(30)
                kubelet.close()
            options = {"client_kwargs": {"endpoint_url": s3}}
            storage = TzStorage(url="s3://tz-two/platform", storage_options=options)
            output = f"jobs/alice/{job['id']}/output"
            params = [json.loads(storage.get_bytes(f"{output}/params-{r}.json")) for r in range(4)]
            assert all(p["params"] == params[0]["params"] for p in params)
            assert {p["node"] for p in params} == {"0", "1"}
