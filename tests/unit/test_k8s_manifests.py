"""The TZ service's Kubernetes objects (``service_manifests``): every object validates strictly,
RBAC is exactly what the job backend needs, the Deployment is Pod Security "restricted" and holds
secrets only by reference, the NetworkPolicies admit only the hub, proxy and user servers, and
training pods talk only to each other, DNS and storage."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import kubeschema
import pytest
import yaml
from tornado.httpserver import HTTPServer
from traitlets.config.loader import PyFileConfigLoader

from training_zoo.k8s.catalog import TzCluster
from training_zoo.k8s.service import PROBE, service_manifests, tz_config
from training_zoo.k8s.spawner import service_url

ROOT = Path(__file__).parents[2]
VALUES = yaml.safe_load((ROOT / "helm-values" / "values.yaml").read_text())
CLUSTER_TRAITS = set(TzCluster.class_trait_names(config=True))
IMAGE = "registry.example.com/training-zoo/hub:0.1.0"
Z2JH_LABELS = {"app": "jupyterhub"}


def values_cluster() -> TzCluster:
    return TzCluster(**{k: v for k, v in VALUES["custom"]["tz"].items() if k in CLUSTER_TRAITS})


def manifests(**kwargs) -> list[dict]:
    return service_manifests(values_cluster(), image=IMAGE, **kwargs)


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


OBJECTS = manifests()


@pytest.mark.parametrize(
    "obj", OBJECTS, ids=lambda o: f"{o['kind']}-{o['metadata'].get('namespace', '')}"
)
def test_every_object_validates_strictly(obj):
    kubeschema.validate(obj)


def test_objects_come_in_apply_order_and_in_the_right_namespaces():
    kinds = [o["kind"] for o in OBJECTS]
    assert kinds[0] == "Namespace"  # before anything that lives in it
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert kinds.index("ConfigMap") < kinds.index("Deployment")
    jobs_ns = values_cluster().namespace
    in_jobs = {o["kind"] for o in OBJECTS if o["metadata"].get("namespace") == jobs_ns}
    in_hub = {o["kind"] for o in OBJECTS if o["metadata"].get("namespace") == "jupyterhub"}
    assert in_jobs == {"Role", "RoleBinding", "NetworkPolicy"}
    assert in_hub == {"ServiceAccount", "ConfigMap", "Deployment", "Service", "NetworkPolicy"}


def test_the_jobs_namespace_enforces_pod_security_restricted():
    labels = one(OBJECTS, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


# What the Kubernetes job backend does in the jobs namespace, and nothing else.
JOBS_RULES = {
    ("trainer.kubeflow.org", "trainjobs"): {"get", "list", "watch", "create", "delete", "patch"},
    ("kubeflow.org", "pytorchjobs"): {"get", "list", "watch", "create", "delete", "patch"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "pods/log"): {"get"},
    ("", "secrets"): {"get", "list", "create", "delete"},
    ("", "events"): {"get", "list", "watch"},
    ("networking.k8s.io", "networkpolicies"): {"get", "create", "delete"},
    ("kueue.x-k8s.io", "workloads"): {"get", "list", "watch"},
    ("kueue.x-k8s.io", "localqueues"): {"get", "list"},
    ("visibility.kueue.x-k8s.io", "localqueues/pendingworkloads"): {"get"},
}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*", "escalate", "bind",
               "impersonate"}  # fmt: skip


def grants(role: dict) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_the_jobs_role_grants_exactly_what_the_backend_uses():
    role = one(OBJECTS, "Role")
    assert role["metadata"]["namespace"] == values_cluster().namespace
    assert grants(role) == JOBS_RULES


def test_cluster_wide_the_service_can_only_read_training_runtimes():
    role = one(OBJECTS, "ClusterRole")
    assert grants(role) == {
        ("trainer.kubeflow.org", "clustertrainingruntimes"): {"get", "list", "watch"}
    }
    assert not set().union(*grants(role).values()) & WRITE_VERBS


@pytest.mark.parametrize(("binding", "role"), [("RoleBinding", "Role"),
                                               ("ClusterRoleBinding", "ClusterRole")])  # fmt: skip
def test_bindings_give_the_roles_to_the_tz_service_account_only(binding, role):
    bound = one(OBJECTS, binding)
    assert bound["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role,
                                "name": one(OBJECTS, role)["metadata"]["name"]}  # fmt: skip
    assert bound["subjects"] == [{"kind": "ServiceAccount", "name": "tz",
                                  "namespace": "jupyterhub"}]  # fmt: skip


def test_two_releases_get_distinct_cluster_roles():
    a = one(manifests(hub_namespace="hub-a"), "ClusterRole")["metadata"]["name"]
    b = one(manifests(hub_namespace="hub-b"), "ClusterRole")["metadata"]["name"]
    assert a != b


def test_the_service_runs_once_non_root_and_restricted():
    deployment = one(OBJECTS, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert kubeschema.pss_restricted(deployment) == []
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "tz" and pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["ports"] == [{"name": "http", "containerPort": 10101, "protocol": "TCP"}]
    # Selected by its Service and its NetworkPolicy
    labels = spec["template"]["metadata"]["labels"]
    selector = one(OBJECTS, "Service")["spec"]["selector"]
    assert selector.items() <= labels.items()
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    policy = one(OBJECTS, "NetworkPolicy", "tz")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    # z2jh's hub NetworkPolicy admits it (it calls the hub API to check tokens)
    assert labels["hub.jupyter.org/network-access-hub"] == "true"


SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "DB_URL")


def test_secrets_reach_the_service_only_by_reference():
    objects = manifests(db_secret="db", storage_secret="s3", config_secret="site")
    assert not [o for o in objects if o["kind"] == "Secret"]
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    secret_env = {n: e for n, e in env.items() if any(w in n for w in SECRET_WORDS)}
    assert set(secret_env) == {"JUPYTERHUB_API_TOKEN", "TZ_DB_URL", "AWS_ACCESS_KEY_ID",
                               "AWS_SECRET_ACCESS_KEY"}  # fmt: skip
    for name, entry in secret_env.items():
        assert "value" not in entry, name
        assert set(entry["valueFrom"]) == {"secretKeyRef"}, name
    refs = {n: e["valueFrom"]["secretKeyRef"] for n, e in secret_env.items()}
    # The token z2jh generated for hub.services.tz, from its own Secret: hub and service agree
    assert refs["JUPYTERHUB_API_TOKEN"] == {"name": "hub", "key": "hub.services.tz.apiToken"}
    assert "tz" in VALUES["hub"]["services"]
    assert refs["TZ_DB_URL"] == {"name": "db", "key": "url"}
    assert refs["AWS_SECRET_ACCESS_KEY"]["name"] == "s3"
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "site", "items": [{"key": "tz_config.py", "path": "tz_config.py"}]} in (
        [v.get("secret") for v in volumes]
    )


def test_the_hub_and_user_servers_find_the_service_where_it_listens():
    service = one(OBJECTS, "Service")
    url = service_url("jupyterhub")
    assert url == f"http://{service['metadata']['name']}.jupyterhub.svc:10101"
    assert service["spec"]["ports"][0]["port"] == 10101
    (container,) = one(OBJECTS, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["JUPYTERHUB_SERVICE_URL"] == "http://0.0.0.0:10101"  # all interfaces
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/services/tz/"
    assert env["JUPYTERHUB_API_URL"] == "http://hub.jupyterhub.svc:8081/hub/api"


def test_the_generated_config_gives_the_service_the_same_catalogue_as_the_hub(tmp_path):
    # Given the ConfigMap's tz_config.py (the site Secret's file is absent here: skipped)
    cluster = values_cluster()
    (tmp_path / "tz_config.py").write_text(tz_config(cluster))

    config = PyFileConfigLoader("tz_config.py", str(tmp_path)).load_config()

    assert config.TzJobManager.backend_class == "kubernetes"
    loaded = TzCluster(config=config)
    for trait in CLUSTER_TRAITS:
        assert getattr(loaded, trait) == getattr(cluster, trait), trait
    assert one(OBJECTS, "ConfigMap")["data"]["tz_config.py"] == tz_config(cluster)


async def test_the_liveness_probe_passes_on_the_real_api_and_fails_without_it(
    tmp_path, monkeypatch
):
    from training_zoo.service.app import TzService

    monkeypatch.setenv("TZ_HOME", str(tmp_path))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = PROBE[2].replace(":10101/", f":{port}/")
    assert PROBE[2] != code  # the probe targets the service's port and API root

    async def probe() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code,
                                                    stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        return await proc.wait()

    assert await probe() != 0  # nothing listening
    app = TzService()
    app.initialize([])
    server = HTTPServer(app.web_app)
    server.listen(port, "127.0.0.1")
    try:
        assert await probe() == 0  # a 401 JSON answer: the service is alive
    finally:
        server.stop()


def _peers(rule: dict) -> list[dict]:
    return rule.get("from") or rule.get("to") or []


def test_only_the_hub_proxy_and_user_servers_may_call_the_service():
    spec = one(OBJECTS, "NetworkPolicy", "tz")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 10101}]
    (peer,) = _peers(ingress)
    assert set(peer) == {"podSelector"}  # this namespace only
    selector = peer["podSelector"]
    assert selector["matchLabels"] == Z2JH_LABELS
    assert selector["matchExpressions"] == [
        {"key": "component", "operator": "In", "values": ["hub", "proxy", "singleuser-server"]}
    ]


def test_the_service_connects_only_to_dns_the_hub_the_api_storage_and_the_database():
    egress = one(OBJECTS, "NetworkPolicy", "tz")["spec"]["egress"]
    ports = {(p["protocol"], p["port"]) for rule in egress for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 8081), ("TCP", 443), ("TCP", 6443),
                     ("TCP", 9000), ("TCP", 7480), ("TCP", 3306), ("TCP", 4000)}  # fmt: skip
    hub = [r for r in egress if {"protocol": "TCP", "port": 8081} in r["ports"]]
    assert _peers(hub[0]) == [{"podSelector": {"matchLabels": {**Z2JH_LABELS,
                                                               "component": "hub"}}}]  # fmt: skip
    for rule in egress:
        for peer in _peers(rule):
            block = peer.get("ipBlock")
            if block and block["cidr"] == "0.0.0.0/0":
                assert "169.254.169.254/32" in block["except"]  # never the cloud metadata


def test_training_pods_accept_nothing_by_default_and_reach_only_dns_peers_and_storage():
    policy = one(OBJECTS, "NetworkPolicy", "tz-training-pods")
    spec = policy["spec"]
    assert policy["metadata"]["namespace"] == values_cluster().namespace
    assert spec["podSelector"] == {}  # every pod of the jobs namespace
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    # Ingress: none; each job's own NetworkPolicy admits its pods' peers (test_k8s_jobs_objects)
    assert spec["ingress"] == []
    dns, peers, storage = spec["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert peers == {"to": [{"podSelector": {}}]}
    assert {p["port"] for p in storage["ports"]} == {443, 9000, 7480}
    assert storage["to"][0]["ipBlock"]["except"] == ["169.254.169.254/32"]


def test_jobs_may_not_share_the_hubs_namespace():
    cluster = values_cluster()
    cluster.namespace = "jupyterhub"
    with pytest.raises(ValueError, match="custom.tz.namespace"):
        service_manifests(cluster, image=IMAGE, hub_namespace="jupyterhub")
