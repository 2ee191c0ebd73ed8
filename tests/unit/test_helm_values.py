"""Helm values: ``helm-values/values.yaml`` (and with the dev overlay) is what ``helm`` would accept
for Zero-to-JupyterHub 4.4, keeps the chart's secure defaults, holds no secret, and its
``custom.tz`` passes both our schema and ``TzCluster``; a bad ``custom.tz`` fails both, naming
the field. Also a self-test of ``tests/kubeschema.py``: it must fail on what it claims to catch."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubeschema
import pytest
import yaml

from training_zoo.k8s.catalog import TzCluster
from training_zoo.k8s.profiles import profile_list

ROOT = Path(__file__).parents[2]
VALUES = yaml.safe_load((ROOT / "helm-values" / "values.yaml").read_text())
DEV = yaml.safe_load((ROOT / "helm-values" / "values-dev.yaml").read_text())
CLUSTER_TRAITS = set(TzCluster.class_trait_names(config=True))
Z2JH_DEFAULTS = kubeschema.load_yaml(kubeschema.Z2JH / "values.yaml")
VARIANTS = {
    "values.yaml": VALUES,
    "values.yaml+values-dev.yaml": kubeschema.helm_merge(VALUES, DEV),
}


def cluster_of(values: dict) -> TzCluster:
    tz = values["custom"]["tz"]
    return TzCluster(**{k: v for k, v in tz.items() if k in CLUSTER_TRAITS})


@pytest.mark.parametrize("name", VARIANTS)
def test_values_validate_against_the_z2jh_4_4_schema(name):
    kubeschema.validate_values(VARIANTS[name])


@pytest.mark.parametrize("name", VARIANTS)
def test_custom_tz_validates_against_our_schema_and_parses_as_a_tz_cluster(name):
    values = VARIANTS[name]
    kubeschema.validate_tz_values(values)
    cluster = cluster_of(values)
    cluster.validate()
    profile_list(cluster)  # the hub would start with it


def test_our_schema_is_draft_7_and_strict_about_custom_tz():
    schema = kubeschema.load_yaml(kubeschema.TZ_VALUES_SCHEMA)
    jsonschema.Draft7Validator.check_schema(schema)
    tz = schema["properties"]["custom"]["properties"]["tz"]
    assert tz["additionalProperties"] is False
    # Every TzCluster trait is described, and nothing else but hub_namespace (tz k8s-render)
    assert set(tz["properties"]) == CLUSTER_TRAITS | {"hub_namespace"}
    for definition in ("flavor", "image", "team", "toleration"):
        assert schema["definitions"][definition]["additionalProperties"] is False


@dataclass
class BadValue:
    name: str
    path: tuple[Any, ...]  # under custom.tz
    value: Any
    field: str  # what both error messages must name


BAD = [
    BadValue("negative gpus", ("flavors", 1, "gpus"), -1, "flavors[1].gpus"),
    BadValue("gpus as a string", ("flavors", 1, "gpus"), "2", "flavors[1].gpus"),
    BadValue("cpu not a quantity", ("flavors", 0, "cpu"), "four", "flavors[0].cpu"),
    BadValue("memory in GB", ("flavors", 0, "memory"), "16GB", "flavors[0].memory"),
    BadValue("slug with capitals", ("flavors", 0, "slug"), "CPU_1", "flavors[0].slug"),
    BadValue("unknown flavor key", ("flavors", 0, "colour"), "red", "flavors[0].colour"),
    BadValue("node selector value not a string", ("flavors", 1, "node_selector"),
             {"gpu": True}, "flavors[1].node_selector"),
    BadValue("tolerations not a list", ("flavors", 1, "tolerations"), "gpu",
             "flavors[1].tolerations"),
    BadValue("groups not a list", ("flavors", 3, "groups"), "gpu-large", "flavors[3].groups"),
    BadValue("image reference with spaces", ("images", 0, "image"), "my image", "images[0].image"),
    BadValue("unknown image kind", ("images", 0, "kind"), "server", "images[0].kind"),
    BadValue("unknown framework", ("images", 3, "frameworks"), ["jax"], "images[3].frameworks"),
    BadValue("team without memory", ("teams", "vision", "memory"), None, "teams.vision.memory"),
    BadValue("negative team gpus", ("teams", "vision", "gpus"), -2, "teams.vision.gpus"),
    BadValue("cohort not a slug", ("teams", "vision", "cohort"), "Big Cohort",
             "teams.vision.cohort"),
    BadValue("namespace not a DNS label", ("namespace",), "Training_Zoo", "namespace"),
]  # fmt: skip


def with_bad(case: BadValue) -> dict:
    values = copy.deepcopy(VALUES)
    target = values["custom"]["tz"]
    for part in case.path[:-1]:
        target = target[part]
    if case.value is None:
        del target[case.path[-1]]
    else:
        target[case.path[-1]] = case.value
    return values


def schema_path(case: BadValue) -> str:
    """The field as kubeschema's message spells it (``custom.tz.flavors[1].gpus``)."""
    return "custom.tz." + case.field


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_a_bad_custom_tz_fails_our_schema_and_tz_cluster_naming_the_field(case):
    values = with_bad(case)

    with pytest.raises(AssertionError) as schema_error:
        kubeschema.validate_tz_values(values)
    with pytest.raises(ValueError) as parse_error:
        cluster_of(values).validate()

    # JSON Schema reports an unknown or missing key on its parent, naming the key
    message = str(schema_error.value)
    parent, _, leaf = schema_path(case).rpartition(".")
    parent, leaf = (schema_path(case).rsplit("[", 1)[0], "") if not parent else (parent, leaf)
    assert schema_path(case) in message or (f": {parent}: " in message and repr(leaf) in message)
    assert str(parse_error.value).startswith(case.field)


def test_default_team_must_be_a_team_which_only_tz_cluster_can_check():
    values = copy.deepcopy(VALUES)
    values["custom"]["tz"]["default_team"] = "nobody"

    kubeschema.validate_tz_values(values)  # JSON Schema cannot cross-reference keys
    with pytest.raises(ValueError, match="default_team"):
        cluster_of(values).validate()


@pytest.mark.parametrize("name", VARIANTS)
def test_z2jh_secure_defaults_are_kept(name):
    merged = kubeschema.helm_merge(Z2JH_DEFAULTS, VARIANTS[name])
    hub, proxy, user = merged["hub"], merged["proxy"]["chp"], merged["singleuser"]

    for policy in (hub["networkPolicy"], proxy["networkPolicy"], user["networkPolicy"]):
        assert policy["enabled"] is True
        assert policy["egressAllowRules"]["cloudMetadataServer"] is False
    # Non-root, no privilege escalation: the chart's contexts are not loosened
    assert hub["podSecurityContext"] == Z2JH_DEFAULTS["hub"]["podSecurityContext"]
    assert hub["containerSecurityContext"] == Z2JH_DEFAULTS["hub"]["containerSecurityContext"]
    assert proxy["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert user["allowPrivilegeEscalation"] is False and user["uid"] == 1000
    # User pods: no service account, no privileged iptables init container, no private network
    assert not user.get("serviceAccountName")
    assert user["cloudMetadata"]["blockWithIptables"] is False
    assert user["networkPolicy"]["egressAllowRules"]["privateIPs"] is False
    tz_port = {"port": 10101, "protocol": "TCP"}
    assert any(tz_port in rule["ports"] for rule in user["networkPolicy"]["egress"])
    assert user["storage"]["type"] == "dynamic"
    assert merged["hub"]["config"]["JupyterHub"]["authenticator_class"] != "dummy"


SECRET_WORDS = {"secret", "password", "token", "keys"}


def is_secret_key(key: str) -> bool:
    """``client_secret``, ``apiToken``, ``secretToken``, ``TZ_PASSWORD``: not ``token_url``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower().replace("-", "_").split("_")
    return words[-1] in SECRET_WORDS


def literal_secrets(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if "valueFrom" in node:
            return []
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(value, str) and value and is_secret_key(str(key)):
                found.append(here)
            found += literal_secrets(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += literal_secrets(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("name", ["values.yaml", "values-dev.yaml"])
def test_no_secret_is_written_in_the_values(name):
    values = {"values.yaml": VALUES, "values-dev.yaml": DEV}[name]
    # Secret *names* are fine; secret values come from Secrets by reference
    allowed = {"hub.existingSecret"}
    assert set(literal_secrets(values)) - allowed == set()
    planted = {"x": {"client_secret": "a", "apiToken": "b", "token_url": "https://c"}}
    assert literal_secrets(planted) == ["x.client_secret", "x.apiToken"]


def test_the_default_singleuser_image_is_the_catalogues_default_notebook_image():
    image = VALUES["singleuser"]["image"]
    (default,) = [m for m in VALUES["custom"]["tz"]["images"]
                  if m.get("kind", "notebook") == "notebook" and m.get("default")]  # fmt: skip
    assert f"{image['name']}:{image['tag']}" == default["image"]
    hub = VALUES["hub"]["image"]
    assert hub["name"].rsplit("/", 1)[0] == image["name"].rsplit("/", 1)[0]  # one registry


def test_the_dev_overlay_is_small_cpu_only_and_reachable_on_a_node_port():
    merged = VARIANTS["values.yaml+values-dev.yaml"]
    cluster = cluster_of(merged)
    assert [f.gpus for f in cluster.all_flavors()] == [0]
    assert [t.name for t in cluster.all_teams()] == ["default"]
    assert merged["proxy"]["service"]["type"] == "NodePort"
    assert merged["singleuser"]["image"]["pullPolicy"] == "IfNotPresent"
    assert merged["singleuser"]["storage"]["capacity"] == "1Gi"
    assert "GenericOAuthenticator" not in merged["hub"]["config"]


# ---- kubeschema must catch what it claims to --------------------------------------------------

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "x"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "c", "image": "busybox:1",
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
    },
}  # fmt: skip


def changed(obj: dict, path: tuple, value: Any) -> dict:
    obj = copy.deepcopy(obj)
    target = obj
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return obj


def test_kubeschema_accepts_a_good_pod_and_refuses_an_unknown_kind():
    kubeschema.validate(POD)
    assert kubeschema.pss_restricted(POD) == []
    with pytest.raises(AssertionError, match="no schema for example.com/v1 Widget"):
        kubeschema.validate({"apiVersion": "example.com/v1", "kind": "Widget",
                             "metadata": {"name": "w"}})  # fmt: skip
    with pytest.raises(AssertionError, match="no schema for apps/v1beta1 Deployment"):
        kubeschema.validate(changed(POD, ("apiVersion",), "apps/v1beta1") | {"kind": "Deployment"})


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "containers", 0, "imagePullPolicy2"), "Always", "imagePullPolicy2"),
        (("spec", "containers", 0, "ports"), [{"containerPort": "80"}], "containers[0].ports[0]"),
        (("spec", "restartPolicy"), 3, "spec.restartPolicy"),
        (("metadata", "name"), "Bad_Name", "metadata.name"),
        (("metadata", "labels"), {"app": "no spaces allowed"}, "metadata.labels"),
    ],
)
def test_kubeschema_refuses_a_bad_pod_naming_the_field(path, value, message):
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        kubeschema.validate(changed(POD, path, value))


def test_kubeschema_checks_custom_resources_strictly_against_their_crd():
    queue = {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "LocalQueue",
        "metadata": {"name": "q", "namespace": "jobs"},
        "spec": {"clusterQueue": "cq"},
    }
    kubeschema.validate(queue)
    with pytest.raises(AssertionError, match=r"spec: Additional properties .*'cohort'"):
        kubeschema.validate(changed(queue, ("spec", "cohort"), "x"))
    with pytest.raises(AssertionError, match=r"spec.clusterQueue: 5 is not of type 'string'"):
        kubeschema.validate(changed(queue, ("spec", "clusterQueue"), 5))
    with pytest.raises(AssertionError, match="metadata.namespace"):
        kubeschema.validate(changed(queue, ("metadata", "namespace"), "Jobs!"))


PSS_CASES = [
    ("hostNamespaces", ("spec", "hostNetwork"), True),
    ("privileged", ("spec", "containers", 0, "securityContext", "privileged"), True),
    ("capabilities_baseline", ("spec", "containers", 0, "securityContext", "capabilities"),
     {"drop": ["ALL"], "add": ["NET_RAW"]}),
    ("capabilities_restricted", ("spec", "containers", 0, "securityContext", "capabilities"),
     {"drop": ["CHOWN"]}),
    ("allowPrivilegeEscalation",
     ("spec", "containers", 0, "securityContext", "allowPrivilegeEscalation"), None),
    ("runAsNonRoot", ("spec", "securityContext", "runAsNonRoot"), False),
    ("runAsUser", ("spec", "containers", 0, "securityContext", "runAsUser"), 0),
    ("seccompProfile_restricted", ("spec", "securityContext", "seccompProfile"), None),
    ("seccompProfile_baseline", ("spec", "securityContext", "seccompProfile"),
     {"type": "Unconfined"}),
    ("hostPathVolumes", ("spec", "volumes"), [{"name": "h", "hostPath": {"path": "/"}}]),
    ("restrictedVolumes", ("spec", "volumes"), [{"name": "n", "nfs": {"server": "s",
                                                                      "path": "/"}}]),
    ("hostPorts", ("spec", "containers", 0, "ports"), [{"containerPort": 80, "hostPort": 80}]),
    ("sysctls", ("spec", "securityContext", "sysctls"), [{"name": "kernel.msgmax",
                                                          "value": "1"}]),
    ("appArmorProfile", ("spec", "securityContext", "appArmorProfile"), {"type": "Unconfined"}),
    ("seLinuxOptions", ("spec", "securityContext", "seLinuxOptions"), {"type": "spc_t"}),
    ("procMount_restricted", ("spec", "containers", 0, "securityContext", "procMount"),
     "Unmasked"),
    ("hostProbesAndHostLifecycle", ("spec", "containers", 0, "livenessProbe"),
     {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}),
    ("windowsHostProcess", ("spec", "securityContext", "windowsOptions"), {"hostProcess": True}),
]  # fmt: skip


@pytest.mark.parametrize(("check", "path", "value"), PSS_CASES, ids=[c[0] for c in PSS_CASES])
def test_pss_restricted_reports_each_check_by_id_and_field(check, path, value):
    pod = changed(POD, path, value)
    if value is None:  # the field left out
        target = pod
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    violations = kubeschema.pss_restricted(pod)

    assert any(v.startswith(f"{check}: spec.") or v.startswith(f"{check}: metadata.")
               for v in violations), violations  # fmt: skip


def test_pss_restricted_looks_inside_workload_templates_and_init_containers():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {"spec": copy.deepcopy(POD["spec"])}}}  # fmt: skip
    assert kubeschema.pss_restricted(deployment) == []
    deployment["spec"]["template"]["spec"]["initContainers"] = [{"name": "i", "image": "x"}]
    violations = kubeschema.pss_restricted(deployment)
    assert "allowPrivilegeEscalation: spec.initContainers[0].securityContext" in " ".join(
        violations
    )
