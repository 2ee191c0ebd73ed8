"""``fakes.kubeapi.FakeKubeAPI`` answers like the real Kubernetes API, as the real
``kubernetes_asyncio`` client sees it: objects, errors, selectors, watches and their 410s, garbage
collection, pod logs, Kueue's visibility API, faults and outages."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from fakes.kubeapi import JOBS, JOBSETS, PODS, TRAINJOBS, WORKLOADS, FakeKubeAPI

NS = "team-a"
GROUP, VERSION = "trainer.kubeflow.org", "v1alpha1"
MERGE = "application/merge-patch+json"
QUEUE = "kueue.x-k8s.io/queue-name"


def trainjob(name: str, *, queue: str | None = "team-a-queue", nodes: int = 2, **labels) -> dict:
    meta: dict = {"name": name, "labels": {**({QUEUE: queue} if queue else {}), **labels}}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainJob",
        "metadata": meta,
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {
                "image": "pytorch/pytorch:2.5.1",
                "numNodes": nodes,
                "resourcesPerNode": {"requests": {"cpu": "4", "nvidia.com/gpu": "1"}},
            },
        },
    }


def status_of(e: ApiException) -> dict:
    return json.loads(e.body)


@pytest.fixture
def kube():
    with FakeKubeAPI() as api:
        api.allow_fractional_timeouts = True  # sub-second watches keep these tests fast
        yield api


@pytest.fixture
async def k8s(kube):
    async with client.ApiClient(client.Configuration(host=kube.url)) as c:
        yield c


async def create_tj(k8s, name: str, **kw) -> dict:
    return await client.CustomObjectsApi(k8s).create_namespaced_custom_object(
        GROUP, VERSION, NS, "trainjobs", trainjob(name, **kw)
    )


# ---- objects and errors ----------------------------------------------------------------------


async def test_create_get_list_and_status_errors(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    body = trainjob("resnet")
    body["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    created = await custom.create_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", body)
    meta = created["metadata"]
    assert (created["apiVersion"], created["kind"]) == (f"{GROUP}/{VERSION}", "TrainJob")
    assert meta["namespace"] == NS and meta["generation"] == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"] == kube.resource_version and meta["resourceVersion"].isdigit()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert "status" not in created  # the status subresource: a create cannot set it
    assert created["spec"]["suspend"] is True  # Kueue's webhook suspends queued jobs

    got = await custom.get_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "resnet")
    assert got == created

    with pytest.raises(ApiException) as e:
        await custom.create_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", body)
    assert e.value.status == 409
    assert status_of(e.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'trainjobs.trainer.kubeflow.org "resnet" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "resnet", "group": GROUP, "kind": "trainjobs"},
        "code": 409,
    }

    with pytest.raises(ApiException) as e:
        await custom.get_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "nope")
    assert e.value.status == 404
    assert status_of(e.value)["reason"] == "NotFound"
    assert status_of(e.value)["message"] == 'trainjobs.trainer.kubeflow.org "nope" not found'

    with pytest.raises(ApiException) as e:
        await client.CoreV1Api(k8s).read_namespaced_pod("nope", NS)
    assert status_of(e.value)["message"] == 'pods "nope" not found'
    assert status_of(e.value)["details"] == {"name": "nope", "kind": "pods"}

    nameless = trainjob("x")
    del nameless["metadata"]["name"]
    with pytest.raises(ApiException) as e:
        await custom.create_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", nameless)
    assert e.value.status == 422
    st = status_of(e.value)
    assert st["reason"] == "Invalid"
    assert st["message"] == (
        'TrainJob.trainer.kubeflow.org "" is invalid: metadata.name: Required value: '
        "name or generateName is required"
    )
    assert st["details"]["causes"][0]["field"] == "metadata.name"

    with pytest.raises(ApiException) as e:
        await custom.create_namespaced_custom_object(
            GROUP, VERSION, NS, "trainjobs", trainjob("y", **{"tz/owner": "alice@example.com"})
        )
    assert e.value.status == 422
    assert 'metadata.labels: Invalid value: "alice@example.com"' in status_of(e.value)["message"]

    listed = await custom.list_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs")
    assert listed["kind"] == "TrainJobList" and listed["apiVersion"] == f"{GROUP}/{VERSION}"
    assert listed["metadata"]["resourceVersion"] == kube.resource_version
    assert [o["metadata"]["name"] for o in listed["items"]] == ["resnet"]
    other = await custom.list_namespaced_custom_object(GROUP, VERSION, "other", "trainjobs")
    assert other["items"] == []

    with pytest.raises(ApiException) as e:  # a CRD that is not installed
        await custom.list_namespaced_custom_object("kueue.x-k8s.io", "v1beta1", NS, "workloads")
    assert e.value.status == 404
    assert status_of(e.value)["message"] == "the server could not find the requested resource"


async def test_label_and_field_selectors(kube, k8s):
    for name, labels in [
        ("a", {"app": "tz", "tier": "gpu"}),
        ("b", {"app": "tz", "tier": "cpu"}),
        ("c", {"app": "other"}),
        ("d", {}),
    ]:
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": NS, "labels": labels},
                "spec": {"containers": [{"name": "node", "image": "x"}]},
            }
        )
    core = client.CoreV1Api(k8s)

    async def names(**kw) -> list[str]:
        pods = await core.list_namespaced_pod(NS, **kw)
        return [p.metadata.name for p in pods.items]

    assert await names() == ["a", "b", "c", "d"]
    assert await names(label_selector="app=tz") == ["a", "b"]
    assert await names(label_selector="app==tz,tier!=gpu") == ["b"]
    assert await names(label_selector="tier in (gpu, cpu)") == ["a", "b"]
    assert await names(label_selector="app notin (tz)") == ["c", "d"]
    assert await names(label_selector="tier") == ["a", "b"]
    assert await names(label_selector="!tier") == ["c", "d"]
    assert await names(field_selector="metadata.name=c") == ["c"]
    assert await names(field_selector="metadata.name!=c", label_selector="app") == ["a", "b"]
    page = await core.list_namespaced_pod(NS, limit=3)
    assert len(page.items) == 3 and page.metadata._continue
    rest = await core.list_namespaced_pod(NS, limit=3, _continue=page.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["d"] and not rest.metadata._continue

    raw = await core.list_namespaced_pod(NS, _preload_content=False)
    data = json.loads(await raw.read())
    assert data["kind"] == "PodList" and data["apiVersion"] == "v1"
    assert "kind" not in data["items"][0]  # typed lists carry no kind on their items

    with pytest.raises(ApiException) as e:
        await core.list_namespaced_pod(NS, field_selector="spec.bogus=1")
    assert e.value.status == 400 and status_of(e.value)["reason"] == "BadRequest"
    assert kube.list(*PODS, NS, label_selector="tier=cpu")[0]["metadata"]["name"] == "b"


# ---- watches ---------------------------------------------------------------------------------


async def test_watch_from_a_resource_version_sees_later_events(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    first = await create_tj(k8s, "one")
    rv = first["metadata"]["resourceVersion"]
    kube.patch_status(*TRAINJOBS, NS, "one", {"status": {"jobsStatus": []}})
    kube.delete(*TRAINJOBS, NS, "one")

    async def later() -> None:
        await asyncio.sleep(0.2)
        await create_tj(k8s, "two", team="x")
        kube.patch(*TRAINJOBS, NS, "two", {"metadata": {"labels": {"team": "y"}}})

    task = asyncio.create_task(later())
    seen = []
    async with watch.Watch() as w:
        async for ev in w.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            "trainjobs",
            resource_version=rv,
            label_selector="team!=y",
            timeout_seconds=1,
        ):
            obj = ev["object"]
            seen.append((ev["type"], obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
    await task
    # "two" stops matching the selector when relabelled: the watch sees it DELETED
    assert [s[:2] for s in seen] == [
        ("MODIFIED", "one"),
        ("DELETED", "one"),
        ("ADDED", "two"),
        ("DELETED", "two"),
    ]
    rvs = [int(s[2]) for s in seen]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert seen[-1][2] == kube.resource_version

    # no resourceVersion: ADDED for everything there, then changes
    async with watch.Watch() as w:
        events = [
            (ev["type"], ev["object"]["metadata"]["name"])
            async for ev in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                timeout_seconds=0.3,
            )
        ]
    assert events == [("ADDED", "two")]


async def test_watch_on_compacted_history_raises_410(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    old = (await create_tj(k8s, "one"))["metadata"]["resourceVersion"]
    kube.patch(*TRAINJOBS, NS, "one", {"spec": {"suspend": False}})
    kube.compact()

    # On the wire: one ERROR event with an Expired Status, then the stream closes cleanly.
    url = f"{kube.url}/apis/{GROUP}/{VERSION}/namespaces/{NS}/trainjobs"
    async with aiohttp.ClientSession() as s:
        async with s.get(url, params={"watch": "true", "resourceVersion": old}) as r:
            assert r.status == 200
            lines = (await r.read()).decode().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {old} ({kube.resource_version})",
            "reason": "Expired",
            "code": 410,
        },
    }

    for kw in ({"timeout_seconds": 5}, {}):  # without a timeout the Watch retries once first
        with pytest.raises(ApiException) as e:
            async with watch.Watch() as w:
                async for _ in w.stream(
                    custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    NS,
                    "trainjobs",
                    resource_version=old,
                    **kw,
                ):
                    pass
        assert e.value.status == 410
        assert e.value.reason.startswith("Expired: too old resource version")

    # the current resourceVersion is still fine
    async with watch.Watch() as w:
        events = [
            ev
            async for ev in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                resource_version=kube.resource_version,
                timeout_seconds=0.2,
            )
        ]
    assert events == []


async def test_bookmarks(kube, k8s):
    kube.bookmark_interval = 0.1
    await create_tj(k8s, "one")
    rv = kube.resource_version
    async with watch.Watch() as w:
        events = [
            ev
            async for ev in w.stream(
                client.CustomObjectsApi(k8s).list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=0.35,
            )
        ]
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["raw_object"] == {
        "kind": "TrainJob",
        "apiVersion": f"{GROUP}/{VERSION}",
        "metadata": {"resourceVersion": rv},
    }


# ---- deletion and garbage collection ---------------------------------------------------------


async def test_delete_propagation_collects_owned_objects(kube, k8s):
    custom, core = client.CustomObjectsApi(k8s), client.CoreV1Api(k8s)
    await create_tj(k8s, "fg")
    kube.add_local_queue(NS, "team-a-queue")
    kube.admit_workload("fg", NS, admitted=True)
    pods = kube.start_pods("fg", NS)
    assert [p["metadata"]["name"] for p in pods] == ["fg-node-0-0", "fg-node-0-1"]
    rv = kube.resource_version

    answer = await custom.delete_namespaced_custom_object(
        GROUP, VERSION, NS, "trainjobs", "fg", body={"propagationPolicy": "Foreground"}
    )
    assert answer["kind"] == "TrainJob"
    assert answer["metadata"]["deletionTimestamp"]
    assert answer["metadata"]["finalizers"] == ["foregroundDeletion"]
    for res, name in [
        (TRAINJOBS, "fg"),
        (JOBSETS, "fg"),
        (JOBS, "fg-node-0"),
        (PODS, "fg-node-0-0"),
        (PODS, "fg-node-0-1"),
    ]:
        assert kube.get(*res, NS, name) is None, name
    assert kube.list(*WORKLOADS, NS) == []

    async with watch.Watch() as w:
        events = [
            (ev["type"], ev["object"].metadata.name)
            async for ev in w.stream(
                core.list_namespaced_pod,
                NS,
                resource_version=rv,
                label_selector="jobset.sigs.k8s.io/jobset-name=fg",
                timeout_seconds=0.2,
            )
        ]
    assert sorted(events) == [("DELETED", "fg-node-0-0"), ("DELETED", "fg-node-0-1")]

    # Background (the default): a Status answer, dependents collected too
    await create_tj(k8s, "bg")
    kube.start_pods("bg", NS, 1)
    answer = await custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "bg")
    assert answer["kind"] == "Status" and answer["status"] == "Success"
    assert answer["details"]["name"] == "bg" and answer["details"]["kind"] == "trainjobs"
    assert kube.list(*PODS, NS) == []

    # Orphan: dependents stay, without the owner reference
    await create_tj(k8s, "or")
    kube.start_pods("or", NS, 1)
    await custom.delete_namespaced_custom_object(
        GROUP, VERSION, NS, "trainjobs", "or", propagation_policy="Orphan"
    )
    jobset = kube.get(*JOBSETS, NS, "or")
    assert jobset is not None and "ownerReferences" not in jobset["metadata"]
    assert kube.get(*PODS, NS, "or-node-0-0") is not None

    with pytest.raises(ApiException) as e:
        await custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "bg")
    assert e.value.status == 404


async def test_finalizers_keep_a_deleted_object_until_removed(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    body = trainjob("held")
    body["metadata"]["finalizers"] = ["tz.example.com/spool"]
    await custom.create_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", body)
    answer = await custom.delete_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "held")
    assert answer["metadata"]["deletionTimestamp"]
    assert kube.get(*TRAINJOBS, NS, "held") is not None
    await custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "trainjobs",
        "held",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )
    assert kube.get(*TRAINJOBS, NS, "held") is None


# ---- patch and update ------------------------------------------------------------------------


async def test_patch_content_types_status_subresource_and_conflicts(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    created = await create_tj(k8s, "p")

    # kubernetes_asyncio sends a dict as application/json-patch+json: the API server refuses it
    with pytest.raises(ApiException) as e:
        await custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "trainjobs", "p", {"spec": {"suspend": False}}
        )
    assert e.value.status == 400
    assert status_of(e.value)["message"] == (
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    )

    patched = await custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "trainjobs",
        "p",
        {"spec": {"suspend": False}, "status": {"conditions": []}},
        _content_type=MERGE,
    )
    assert patched["spec"]["suspend"] is False
    assert patched["metadata"]["generation"] == 2  # spec changed
    assert "status" not in patched  # status changes go through /status only
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    labelled = await custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "trainjobs",
        "p",
        [{"op": "add", "path": "/metadata/labels/stage", "value": "two"}],
    )
    assert labelled["metadata"]["labels"]["stage"] == "two"
    assert labelled["metadata"]["generation"] == 2  # metadata only

    status = await custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        NS,
        "trainjobs",
        "p",
        {"status": {"jobsStatus": [{"name": "node", "active": 1}]}, "spec": {"suspend": True}},
        _content_type=MERGE,
    )
    assert status["status"]["jobsStatus"][0]["active"] == 1
    assert status["spec"]["suspend"] is False  # spec changes through /status are ignored

    stale = created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as e:
        await custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "trainjobs",
            "p",
            {"metadata": {"resourceVersion": stale}, "spec": {"suspend": True}},
            _content_type=MERGE,
        )
    assert e.value.status == 409
    assert status_of(e.value)["reason"] == "Conflict"
    assert status_of(e.value)["message"].startswith(
        'Operation cannot be fulfilled on trainjobs.trainer.kubeflow.org "p": the object has been'
    )

    created["spec"]["suspend"] = True
    with pytest.raises(ApiException) as e:  # PUT with a stale resourceVersion
        await custom.replace_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "p", created)
    assert e.value.status == 409
    current = kube.get(*TRAINJOBS, NS, "p")
    current["spec"]["suspend"] = True
    replaced = await custom.replace_namespaced_custom_object(
        GROUP, VERSION, NS, "trainjobs", "p", current
    )
    assert replaced["spec"]["suspend"] is True

    with pytest.raises(ApiException) as e:
        await custom.patch_namespaced_custom_object(
            GROUP, VERSION, NS, "trainjobs", "gone", {"a": 1}, _content_type=MERGE
        )
    assert e.value.status == 404


# ---- pod logs --------------------------------------------------------------------------------


async def test_pod_log_follow_streams_appended_text_until_terminated(kube, k8s):
    core = client.CoreV1Api(k8s)
    await create_tj(k8s, "logs")
    kube.start_pods("logs", NS, 1)
    pod = "logs-node-0-0"
    kube.append_log(NS, pod, "node", "epoch 1\nepoch 2\n")

    assert await core.read_namespaced_pod_log(pod, NS, container="node") == "epoch 1\nepoch 2\n"
    assert await core.read_namespaced_pod_log(pod, NS, container="node", tail_lines=1) == (
        "epoch 2\n"
    )
    stamped = await core.read_namespaced_pod_log(pod, NS, timestamps=True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z epoch 1", stamped.splitlines()[0])

    response = await core.read_namespaced_pod_log(
        pod, NS, container="node", follow=True, _preload_content=False
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert await response.content.readline() == b"epoch 1\n"
    assert await response.content.readline() == b"epoch 2\n"

    async def later() -> None:
        await asyncio.sleep(0.1)
        kube.append_log(NS, pod, "node", "epo")
        await asyncio.sleep(0.1)
        kube.append_log(NS, pod, "node", "ch 3\ndone\n")
        await asyncio.sleep(0.1)
        kube.finish_pod(pod, 0)

    task = asyncio.create_task(later())
    rest = [line async for line in response.content]
    await task
    assert rest == [b"epoch 3\n", b"done\n"]
    response.release()

    finished = kube.get(*PODS, NS, pod)
    term = finished["status"]["containerStatuses"][0]["state"]["terminated"]
    assert finished["status"]["phase"] == "Succeeded"
    assert term["exitCode"] == 0 and term["reason"] == "Completed" and term["finishedAt"]

    # following a terminated container returns what there is and ends
    response = await core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    assert await response.read() == b"epoch 1\nepoch 2\nepoch 3\ndone\n"


async def test_pod_log_errors_as_the_kubelet_answers(kube, k8s):
    core = client.CoreV1Api(k8s)
    await create_tj(k8s, "wait")
    kube.start_pods("wait", NS, 2, running=False)

    with pytest.raises(ApiException) as e:
        await core.read_namespaced_pod_log("wait-node-0-0", NS, container="node")
    assert e.value.status == 400
    st = status_of(e.value)
    assert st["reason"] == "BadRequest"
    assert st["message"] == (
        'container "node" in pod "wait-node-0-0" is waiting to start: ContainerCreating'
    )

    kube.pod_waiting("wait-node-0-1", "ImagePullBackOff", 'Back-off pulling image "nope:1"')
    pod = kube.get(*PODS, NS, "wait-node-0-1")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == (
        "ImagePullBackOff"
    )
    with pytest.raises(ApiException) as e:
        await core.read_namespaced_pod_log("wait-node-0-1", NS, follow=True)
    assert status_of(e.value)["message"] == (
        'container "node" in pod "wait-node-0-1" is waiting to start: trying and failing to '
        "pull image"
    )

    # with _preload_content=False nothing is raised: the Status JSON is the body
    raw = await core.read_namespaced_pod_log(
        "wait-node-0-0", NS, follow=True, _preload_content=False
    )
    assert raw.status == 400 and json.loads(await raw.read())["code"] == 400

    with pytest.raises(ApiException) as e:
        await core.read_namespaced_pod_log("missing", NS, container="node")
    assert e.value.status == 404 and status_of(e.value)["message"] == 'pods "missing" not found'

    with pytest.raises(ApiException) as e:
        await core.read_namespaced_pod_log("wait-node-0-0", NS, container="sidecar")
    assert status_of(e.value)["message"] == "container sidecar is not valid for pod wait-node-0-0"

    kube.finish_pod("wait-node-0-0", 137, "OOMKilled")
    pod = kube.get(*PODS, NS, "wait-node-0-0")
    assert pod["status"]["phase"] == "Failed"
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "OOMKilled")
    assert await core.read_namespaced_pod_log("wait-node-0-0", NS) == ""


# ---- faults, outages, inspection -------------------------------------------------------------


async def test_fail_answers_status_errors_and_apply_stores_the_object(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    quota = (
        'trainjobs.trainer.kubeflow.org "q" is forbidden: exceeded quota: team-a, requested: '
        "requests.nvidia.com/gpu=8, used: requests.nvidia.com/gpu=8, limited: "
        "requests.nvidia.com/gpu=8"
    )
    kube.fail("POST", r"/namespaces/team-a/trainjobs$", 403, "Forbidden", quota)
    with pytest.raises(ApiException) as e:
        await create_tj(k8s, "q")
    assert e.value.status == 403
    st = status_of(e.value)
    assert (st["reason"], st["message"], st["code"]) == ("Forbidden", quota, 403)
    assert st["details"]["group"] == GROUP and st["details"]["kind"] == "trainjobs"
    assert kube.get(*TRAINJOBS, NS, "q") is None
    await create_tj(k8s, "q")  # times=1: the next one passes

    # a create that succeeded server-side while the client saw a 504: the retry meets 409
    kube.fail("POST", r"/trainjobs$", 504, "Timeout", "request timed out", apply=True)
    with pytest.raises(ApiException) as e:
        await create_tj(k8s, "r")
    assert e.value.status == 504
    assert kube.get(*TRAINJOBS, NS, "r") is not None
    with pytest.raises(ApiException) as e:
        await create_tj(k8s, "r")
    assert e.value.status == 409

    posts = [r for r in kube.requests if r[0] == "POST" and r[1].endswith("/trainjobs")]
    assert len(posts) == 4
    assert posts[0] == ("POST", f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/trainjobs", {})
    assert kube.calls[-1]["body"]["metadata"]["name"] == "r"

    # a fault on watch requests only; times=None until cleared
    kube.fail("GET", r"/trainjobs$", 500, "InternalError", "boom", None, query={"watch": True})
    await custom.list_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs")
    with pytest.raises(ApiException) as e:
        async with watch.Watch() as w:
            async for _ in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                timeout_seconds=1,
            ):
                pass
    assert e.value.status == 500
    kube.clear_faults()

    kube.slow("GET", r"/trainjobs/q$", 0.5)
    with pytest.raises(asyncio.TimeoutError):
        await custom.get_namespaced_custom_object(
            GROUP, VERSION, NS, "trainjobs", "q", _request_timeout=0.1
        )


async def test_outage_refuses_connections_and_state_survives(kube, k8s):
    custom = client.CustomObjectsApi(k8s)
    await create_tj(k8s, "o")
    rv = kube.resource_version
    port = kube.port

    # a watch that is open when the API goes down is cut
    stream_errors: list[BaseException] = []

    async def watching() -> None:
        try:
            async with watch.Watch() as w:
                async for _ in w.stream(
                    custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    NS,
                    "trainjobs",
                    resource_version=rv,
                ):
                    pass
        except aiohttp.ClientError as e:
            stream_errors.append(e)

    task = asyncio.create_task(watching())
    await asyncio.sleep(0.2)
    with kube.outage():
        await asyncio.wait_for(task, 5)
        assert stream_errors, "the open watch should fail when the API goes down"
        async with client.ApiClient(client.Configuration(host=kube.url)) as fresh:
            with pytest.raises(aiohttp.ClientConnectorError):
                await client.CustomObjectsApi(fresh).list_namespaced_custom_object(
                    GROUP, VERSION, NS, "trainjobs"
                )
        kube.admit_workload("o", NS, admitted=True)  # controllers go on meanwhile
    assert kube.port == port

    got = await custom.get_namespaced_custom_object(GROUP, VERSION, NS, "trainjobs", "o")
    assert got["spec"]["suspend"] is False
    async with watch.Watch() as w:
        events = [
            (ev["type"], ev["object"]["metadata"]["name"])
            async for ev in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                resource_version=rv,
                timeout_seconds=0.2,
            )
        ]
    assert events == [("MODIFIED", "o")]

    # history compacted during an outage: resuming watchers get 410
    with kube.outage():
        kube.patch(*TRAINJOBS, NS, "o", {"metadata": {"labels": {"x": "y"}}})
        kube.compact()
    with pytest.raises(ApiException) as e:
        async with watch.Watch() as w:
            async for _ in w.stream(
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "trainjobs",
                resource_version=rv,
                timeout_seconds=1,
            ):
                pass
    assert e.value.status == 410


def test_sync_use_from_a_plain_thread(kube):
    obj = trainjob("s")
    obj["metadata"]["namespace"] = NS
    kube.create(obj)
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/trainjobs"
    with urllib.request.urlopen(f"{kube.url}{path}?labelSelector=a%3Db&limit=5") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        assert json.loads(r.read())["items"] == []
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{kube.url}{path}/nope")
    assert e.value.code == 404
    assert json.loads(e.value.read())["reason"] == "NotFound"
    assert kube.requests == [
        ("GET", path, {"labelSelector": "a=b", "limit": "5"}),
        ("GET", f"{path}/nope", {}),
    ]
    kube.clear_requests()
    assert kube.requests == []
    with urllib.request.urlopen(f"{kube.url}/apis/{GROUP}/{VERSION}") as r:
        names = [x["name"] for x in json.loads(r.read())["resources"]]
    assert "trainjobs" in names and "trainjobs/status" in names
    with urllib.request.urlopen(f"{kube.url}/readyz") as r:
        assert r.read() == b"ok"

    kube.allow_fractional_timeouts = False  # as the real server: timeoutSeconds is an integer
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{kube.url}{path}?watch=true&timeoutSeconds=0.5")
    assert e.value.code == 400
    with urllib.request.urlopen(f"{kube.url}{path}?watch=1&timeoutSeconds=1") as r:
        [line] = r.read().decode().splitlines()  # ADDED "s", then the stream ends after 1 s
    assert json.loads(line)["type"] == "ADDED"


# ---- Kueue and Trainer shapes ----------------------------------------------------------------


async def test_visibility_pending_workloads(kube, k8s):
    kube.add_local_queue(NS, "team-a-queue", "shared")
    kube.add_local_queue("team-b", "team-b-queue", "shared")
    for name, prio in [("low", 0), ("high", 10), ("later", 0), ("running", 5)]:
        await create_tj(k8s, name)
        kube.admit_workload(name, NS, admitted=name == "running", priority=prio)
    other = trainjob("b1", queue="team-b-queue")
    other["metadata"]["namespace"] = "team-b"
    kube.create(other)
    kube.admit_workload("b1", "team-b", admitted=False, priority=20)

    path = (
        f"/apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/{NS}"
        "/localqueues/team-a-queue/pendingworkloads"
    )
    summary = await k8s.call_api(
        path,
        "GET",
        response_types_map={200: "object"},
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )
    assert summary["kind"] == "PendingWorkloadsSummary"
    assert summary["apiVersion"] == "visibility.kueue.x-k8s.io/v1beta2"
    rows = [
        (
            i["metadata"]["ownerReferences"][0]["name"],
            i["priority"],
            i["positionInLocalQueue"],
            i["positionInClusterQueue"],
            i["localQueueName"],
        )
        for i in summary["items"]
    ]
    assert rows == [
        ("high", 10, 0, 1, "team-a-queue"),
        ("low", 0, 1, 2, "team-a-queue"),
        ("later", 0, 2, 3, "team-a-queue"),
    ]
    item = summary["items"][0]
    assert re.fullmatch(r"trainjob-high-[0-9a-f]{5}", item["metadata"]["name"])
    assert item["metadata"]["namespace"] == NS
    assert set(item["metadata"]["ownerReferences"][0]) == {"apiVersion", "kind", "name", "uid"}

    limited = await k8s.call_api(
        path,
        "GET",
        query_params=[("limit", 1), ("offset", 1)],
        response_types_map={200: "object"},
        _return_http_data_only=True,
    )
    assert [i["positionInLocalQueue"] for i in limited["items"]] == [1]

    cq = await k8s.call_api(
        "/apis/visibility.kueue.x-k8s.io/v1beta2/clusterqueues/shared/pendingworkloads",
        "GET",
        response_types_map={200: "object"},
        _return_http_data_only=True,
    )
    assert [i["localQueueName"] for i in cq["items"]][:1] == ["team-b-queue"]

    with pytest.raises(ApiException) as e:
        await k8s.call_api(path.replace("team-a-queue", "nope"), "GET")
    assert e.value.status == 404
    assert status_of(e.value)["message"] == 'localqueue.visibility.kueue.x-k8s.io "nope" not found'


async def test_scenario_helpers_write_real_shapes(kube, k8s):
    await create_tj(k8s, "shape", nodes=2)
    kube.add_local_queue(NS, "team-a-queue")
    wl = kube.admit_workload("shape", NS, admitted=False, message="insufficient quota")
    tj = kube.get(*TRAINJOBS, NS, "shape")
    uid = tj["metadata"]["uid"]
    assert re.fullmatch(r"trainjob-shape-[0-9a-f]{5}", wl["metadata"]["name"])
    assert wl["metadata"]["labels"] == {"kueue.x-k8s.io/job-uid": uid}
    assert wl["metadata"]["ownerReferences"][0]["uid"] == uid
    assert wl["spec"]["queueName"] == "team-a-queue" and wl["spec"]["podSets"][0]["count"] == 2
    [reserved] = wl["status"]["conditions"]
    assert (reserved["type"], reserved["status"], reserved["reason"]) == (
        "QuotaReserved",
        "False",
        "Pending",
    )
    assert reserved["message"] == "insufficient quota" and reserved["lastTransitionTime"]
    assert tj["spec"]["suspend"] is True
    suspended = tj["status"]["conditions"][0]
    assert (suspended["type"], suspended["status"], suspended["reason"]) == (
        "Suspended",
        "True",
        "Suspended",
    )

    wl = kube.admit_workload("shape", NS, admitted=True)
    conds = {c["type"]: c for c in wl["status"]["conditions"]}
    assert conds["QuotaReserved"]["status"] == "True" and conds["Admitted"]["status"] == "True"
    assert conds["QuotaReserved"]["message"] == "Quota reserved in ClusterQueue cluster-queue"
    assert wl["status"]["admission"]["clusterQueue"] == "cluster-queue"
    tj = kube.get(*TRAINJOBS, NS, "shape")
    assert tj["spec"]["suspend"] is False
    assert tj["status"]["conditions"][0]["reason"] == "Resumed"

    kube.start_pods("shape", NS)
    core = client.CoreV1Api(k8s)
    pods = await core.list_namespaced_pod(
        NS,
        label_selector="jobset.sigs.k8s.io/jobset-name=shape,"
        "jobset.sigs.k8s.io/replicatedjob-name in (node)",
    )
    assert [p.metadata.labels["batch.kubernetes.io/job-completion-index"] for p in pods.items] == [
        "0",
        "1",
    ]
    pod = pods.items[1]
    assert pod.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "1"
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].name == "node"
    assert pod.status.container_statuses[0].state.running.started_at
    tj = kube.get(*TRAINJOBS, NS, "shape")
    assert tj["status"]["jobsStatus"] == [
        {"name": "node", "ready": 1, "succeeded": 0, "failed": 0, "active": 1, "suspended": 0}
    ]

    done = kube.finish_trainjob("shape", NS, succeeded=False)
    failed = done["status"]["conditions"][-1]
    assert (failed["type"], failed["status"], failed["reason"], failed["message"]) == (
        "Failed",
        "True",
        "FailedJobs",
        "jobset failed due to one or more job failures",
    )
    assert failed["observedGeneration"] == done["metadata"]["generation"]
    assert done["status"]["jobsStatus"][0]["failed"] == 1
    wl = kube.list(*WORKLOADS, NS)[0]
    assert {c["type"]: c["reason"] for c in wl["status"]["conditions"]}["Finished"] == "Failed"

    kube.add_event(kube.get(*PODS, NS, "shape-node-0-1"), "BackOff", "Back-off restarting")
    events = await core.list_namespaced_event(
        NS, field_selector="involvedObject.kind=Pod,involvedObject.name=shape-node-0-1"
    )
    assert [(e.reason, e.type, e.message) for e in events.items] == [
        ("BackOff", "Warning", "Back-off restarting")
    ]

    secret = await core.create_namespaced_secret(
        NS,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"k": "v"}),
    )
    assert secret.data == {"k": "dg=="} and secret.string_data is None

    kube.create(
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": {"name": "legacy", "namespace": NS},
            "spec": {"pytorchReplicaSpecs": {}},
        }
    )
    kube.run_pytorchjob("legacy", NS)
    job = kube.finish_pytorchjob("legacy", NS, succeeded=True)
    conds = {c["type"]: c for c in job["status"]["conditions"]}
    assert conds["Succeeded"]["reason"] == "PyTorchJobSucceeded"
    assert conds["Running"]["status"] == "False"
    assert conds["Created"]["lastUpdateTime"] and job["status"]["completionTime"]
