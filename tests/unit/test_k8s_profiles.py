"""User pods on Kubernetes: every profile TZ builds renders (offline, KubeSpawner's mock mode) to a
pod that validates strictly against Kubernetes 1.30 and Pod Security "restricted", with the GPUs,
nodes, image, home and (lack of) credentials the user's flavor and groups call for; and the hub
config fragments wire it all up under Zero-to-JupyterHub and leave the embedded default alone."""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import kubeschema
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from traitlets.config.loader import PyFileConfigLoader

from training_zoo.k8s.catalog import GPU_RESOURCE, TzCluster
from training_zoo.k8s.profiles import (
    NoFlavorAllowed,
    cpu_cores,
    memory_bytes,
    profile_list,
    profiles_for,
)
from training_zoo.k8s.spawner import spawner_settings, tz_service

ROOT = Path(__file__).parents[2]
FRAGMENTS = ROOT / "jupyterhub_config" / "jupyterhub_config.d"
VALUES = yaml.safe_load((ROOT / "helm-values" / "values.yaml").read_text())
TZ_VALUES = VALUES["custom"]["tz"]
CLUSTER_TRAITS = set(TzCluster.class_trait_names(config=True))
# Reviewed exceptions to Pod Security "restricted" for user pods: none.
PSS_EXCEPTIONS: list[str] = []
# The user's own hub token is how a user server talks to the hub and to TZ (by design).
OWN_TOKEN_ENV = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"}
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: never-used}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


def values_cluster(**overrides) -> TzCluster:
    traits = {k: v for k, v in TZ_VALUES.items() if k in CLUSTER_TRAITS}
    return TzCluster(**{**traits, **overrides})


@dataclass
class FakeGroup:
    name: str


@dataclass
class FakeUser:
    """What KubeSpawner and the profile callable read from JupyterHub's User."""

    name: str = "alice"
    groups: list[FakeGroup] = field(default_factory=list)
    id: int = 1
    url: str = "/user/alice/"


def user(*groups: str, name: str = "alice") -> FakeUser:
    return FakeUser(name=name, groups=[FakeGroup(g) for g in groups], url=f"/user/{name}/")


@pytest.fixture(autouse=True)
def offline_kubeconfig(tmp_path, monkeypatch):
    """KubeSpawner loads a kubeconfig at construction; this one is never contacted."""
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    # kubernetes_asyncio reads $KUBECONFIG once, at import.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))


@pytest.fixture
async def serialize():
    async with ApiClient() as api:
        yield api.sanitize_for_serialization


def make_spawner(who: FakeUser, cluster: TzCluster | None = None, **config) -> KubeSpawner:
    settings = spawner_settings(hub_namespace="jupyterhub")
    settings.update(config)
    return KubeSpawner(
        _mock=True,
        user=who,
        namespace="jupyterhub",
        profile_list=profile_list(cluster or values_cluster()),
        **settings,
    )


async def render(spawner: KubeSpawner, serialize, **user_options) -> dict:
    spawner.user_options = user_options
    await spawner.load_user_options()
    return serialize(await spawner.get_pod_manifest())


def container(pod: dict) -> dict:
    (notebook,) = pod["spec"]["containers"]
    return notebook


ALL_GROUPS = ("gpu-large",)
EVERY_PROFILE = [
    (f["slug"], m["slug"])
    for f, m in itertools.product(TZ_VALUES["flavors"], TZ_VALUES["images"])
    if m.get("kind", "notebook") == "notebook"
]


@pytest.mark.parametrize(("flavor", "image"), EVERY_PROFILE)
async def test_every_profile_renders_a_valid_restricted_pod(flavor, image, serialize):
    # Given a user allowed every flavor, when they pick this flavor and image
    spawner = make_spawner(user(*ALL_GROUPS))
    pod = await render(spawner, serialize, profile=flavor, image=image)

    # Then the pod and its home PVC are valid Kubernetes 1.30 objects, and the pod is restricted
    kubeschema.validate(pod)
    kubeschema.validate(serialize(spawner.get_pvc_manifest()))
    assert kubeschema.pss_restricted(pod) == PSS_EXCEPTIONS
    wanted = next(m for m in TZ_VALUES["images"] if m["slug"] == image)
    assert container(pod)["image"] == wanted["image"]


@dataclass
class FlavorCase:
    flavor: str
    gpus: str
    cpu: float
    memory: int
    gpu_nodes: bool


FLAVORS = [
    FlavorCase("cpu", "0", 4.0, 16 * 2**30, False),
    FlavorCase("gpu-1", "1", 8.0, 64 * 2**30, True),
    FlavorCase("gpu-2", "2", 16.0, 128 * 2**30, True),
    FlavorCase("gpu-4", "4", 32.0, 256 * 2**30, True),
    FlavorCase("gpu-8", "8", 64.0, 512 * 2**30, True),
]


@pytest.mark.parametrize("case", FLAVORS, ids=lambda c: c.flavor)
async def test_each_flavor_gets_its_gpus_cpus_memory_and_nodes(case, serialize):
    pod = await render(make_spawner(user(*ALL_GROUPS)), serialize, profile=case.flavor)

    resources = container(pod)["resources"]
    # nvidia.com/gpu is always explicit, "0" included, and requested as much as limited
    assert resources["limits"][GPU_RESOURCE] == case.gpus
    assert resources["requests"][GPU_RESOURCE] == case.gpus
    assert resources["limits"]["cpu"] == resources["requests"]["cpu"] == case.cpu
    assert resources["limits"]["memory"] == resources["requests"]["memory"] == case.memory
    env = {e["name"]: e.get("value") for e in container(pod)["env"]}
    assert float(env["CPU_LIMIT"]) == case.cpu and int(env["MEM_LIMIT"]) == case.memory
    selector = pod["spec"].get("nodeSelector") or {}
    tolerations = pod["spec"].get("tolerations") or []
    gpu_taint = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
    if case.gpu_nodes:
        assert selector == {"nvidia.com/gpu.present": "true"}
        assert gpu_taint in tolerations
    else:
        assert selector == {} and gpu_taint not in tolerations


async def test_a_cpu_spawn_after_a_gpu_spawn_leaves_the_gpu_nodes(serialize):
    # Given one server that last ran on 2 GPUs (KubeSpawner merges dict overrides)
    spawner = make_spawner(user(*ALL_GROUPS))
    gpu_pod = await render(spawner, serialize, profile="gpu-2")
    assert container(gpu_pod)["resources"]["limits"][GPU_RESOURCE] == "2"

    # When it is restarted with the CPU flavor
    cpu_pod = await render(spawner, serialize, profile="cpu")

    # Then it asks for no GPU and is neither pinned to nor tolerated on GPU nodes
    assert container(cpu_pod)["resources"]["limits"][GPU_RESOURCE] == "0"
    assert not cpu_pod["spec"].get("nodeSelector")
    assert not cpu_pod["spec"].get("tolerations")


@pytest.mark.parametrize(
    ("flavor", "image"),
    [("cpu", "cpu"), ("gpu-1", "pytorch-cuda"), ("gpu-8", "pytorch-cuda")],
)
async def test_the_default_image_suits_the_flavor(flavor, image, serialize):
    pod = await render(make_spawner(user(*ALL_GROUPS)), serialize, profile=flavor)

    wanted = next(m for m in TZ_VALUES["images"] if m["slug"] == image)
    assert container(pod)["image"] == wanted["image"]


def test_a_gpu_flavor_defaults_to_a_cpu_image_when_no_cuda_image_is_allowed():
    images = [dict(m, groups=["cuda"]) if m.get("cuda") else m for m in TZ_VALUES["images"]]
    profiles = profiles_for(values_cluster(images=images), set())
    (gpu1,) = [p for p in profiles if p["slug"] == "gpu-1"]

    choices = gpu1["profile_options"]["image"]["choices"]
    assert list(choices) == ["cpu"] and choices["cpu"]["default"]


@dataclass
class GroupCase:
    name: str
    groups: tuple[str, ...]
    flavors: list[str]
    images: list[str]


RESTRICTED_IMAGES = [
    *TZ_VALUES["images"],
    {"slug": "jax-cuda", "image": "registry.example.com/training-zoo/jax:1", "cuda": True,
     "groups": ["research"]},
]  # fmt: skip
GROUP_CASES = [
    GroupCase("no groups", (), ["cpu", "gpu-1", "gpu-2"], ["cpu", "pytorch-cuda",
                                                          "tensorflow-cuda"]),
    GroupCase("gpu-large", ("gpu-large",), ["cpu", "gpu-1", "gpu-2", "gpu-4", "gpu-8"],
              ["cpu", "pytorch-cuda", "tensorflow-cuda"]),
    GroupCase("research", ("research", "other"), ["cpu", "gpu-1", "gpu-2"],
              ["cpu", "pytorch-cuda", "tensorflow-cuda", "jax-cuda"]),
]  # fmt: skip


@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: c.name)
async def test_groups_decide_which_flavors_and_images_a_user_sees(case):
    cluster = values_cluster(images=RESTRICTED_IMAGES)
    spawner = make_spawner(user(*case.groups), cluster)

    # The same callable KubeSpawner calls for the spawn form and at spawn time
    profiles = await spawner.profile_list(spawner)

    assert [p["slug"] for p in profiles] == case.flavors
    for profile in profiles:
        assert list(profile["profile_options"]["image"]["choices"]) == case.images


async def test_a_rest_spawn_cannot_pick_a_flavor_outside_the_users_groups(serialize):
    spawner = make_spawner(user())  # not in gpu-large

    with pytest.raises(ValueError, match="No such profile: gpu-8"):
        await render(spawner, serialize, profile="gpu-8")


async def test_a_rest_spawn_cannot_pick_an_image_outside_the_users_groups(serialize):
    spawner = make_spawner(user(), values_cluster(images=RESTRICTED_IMAGES))

    with pytest.raises(KeyError, match="jax-cuda"):
        await render(spawner, serialize, profile="cpu", image="jax-cuda")
    # ... nor smuggle an image reference in through an unlisted choice
    with pytest.raises(ValueError, match="unlisted_choice"):
        await render(spawner, serialize, profile="cpu", **{"image--unlisted-choice": "evil:1"})


async def test_a_user_in_no_allowed_flavor_is_told_why(serialize):
    flavors = [dict(f, groups=["gpu-large"]) for f in TZ_VALUES["flavors"]]
    spawner = make_spawner(user("interns"), values_cluster(flavors=flavors))

    # The spawn page (options form) and a spawn both stop with the message JupyterHub shows
    with pytest.raises(NoFlavorAllowed) as form:
        await spawner.profile_list(spawner)
    with pytest.raises(NoFlavorAllowed):
        await render(spawner, serialize, profile="cpu")
    assert form.value.status_code == 403
    assert "No server flavor is available to your account (groups interns)" in (
        form.value.jupyterhub_message
    )


async def test_a_user_with_no_allowed_notebook_image_is_told_why():
    images = [dict(m, groups=["staff"]) for m in TZ_VALUES["images"]]
    spawner = make_spawner(user(), values_cluster(images=images))

    with pytest.raises(NoFlavorAllowed, match="No notebook image is available"):
        await spawner.profile_list(spawner)


async def test_user_pods_get_no_kubernetes_api_and_no_platform_secrets(serialize):
    pod = await render(make_spawner(user(*ALL_GROUPS)), serialize, profile="gpu-1")

    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert not spec.get("serviceAccountName") and not spec.get("serviceAccount")
    env = container(pod)["env"]
    suspicious = [
        e["name"]
        for e in env
        if e["name"] not in OWN_TOKEN_ENV
        and (
            e["name"].startswith("AWS_")
            or any(w in e["name"] for w in ("SECRET", "PASSWORD", "TOKEN", "_KEY", "DB_URL"))
            or any(s in str(e.get("value", "")) for s in ("mysql", "postgresql", "s3://"))
            or "valueFrom" in e
        )
    ]
    assert suspicious == []
    values = {e["name"]: e.get("value") for e in env}
    # The TZ API is the way to data and jobs: the in-cluster Service, with the user's own token
    assert values["TZ_SERVICE_URL"] == "http://tz.jupyterhub.svc:10101/services/tz/"


async def test_each_user_server_gets_its_own_pvc_as_home(serialize):
    spawner = make_spawner(user(name="bob"))
    pod = await render(spawner, serialize, profile="cpu")

    assert {"name": "volume-bob", "persistentVolumeClaim": {"claimName": "claim-bob"}} in (
        pod["spec"]["volumes"]
    )
    assert {"name": "volume-bob", "mountPath": "/home/jovyan"} in container(pod)["volumeMounts"]
    assert spawner.storage_pvc_ensure
    pvc = serialize(spawner.get_pvc_manifest())
    assert pvc["metadata"]["name"] == "claim-bob"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize(
    ("quantity", "cores", "size"),
    [("4", 4.0, 4), ("500m", 0.5, None), ("16Gi", None, 16 * 2**30), ("8G", None, 8 * 10**9),
     ("512Mi", None, 512 * 2**20), ("1.5Gi", None, 3 * 2**29)],
)  # fmt: skip
def test_kubernetes_quantities_convert_exactly(quantity, cores, size):
    if cores is not None:
        assert cpu_cores(quantity) == cores
    if size is not None:
        assert memory_bytes(quantity) == size


def test_a_flavor_with_a_memory_size_as_cpu_stops_the_hub_at_start():
    flavors = [dict(TZ_VALUES["flavors"][0], cpu="4Gi")]

    with pytest.raises(ValueError, match=r"flavors\[0\]\.cpu"):
        profile_list(values_cluster(flavors=flavors))


# ---- the hub config fragments under Zero-to-JupyterHub --------------------------------------

Z2JH_CONFIG = '''
# What z2jh's jupyterhub_config.py has done by the time it runs jupyterhub_config.d/*.py.
c.JupyterHub.services = [
    {"name": "jupyterhub-idle-culler", "command": ["python3", "-m", "jupyterhub_idle_culler"]},
    {"name": "tz", "display": False, "oauth_no_confirm": True, "api_token": "chart-made-token"},
]
c.JupyterHub.load_roles = [
    {"name": "jupyterhub-idle-culler", "services": ["jupyterhub-idle-culler"],
     "scopes": ["list:users"]},
]
c.KubeSpawner.environment = {"FROM_EXTRA_ENV": "1"}
c.KubeSpawner.volumes = [
    {"name": "volume-{user_server}", "persistentVolumeClaim": {"claimName": "claim-{user_server}"}},
    {"name": "files", "secret": {"secretName": "singleuser"}},
]
c.KubeSpawner.volume_mounts = [
    {"name": "volume-{user_server}", "mountPath": "/home/jovyan"},
    {"name": "files", "mountPath": "/etc/jupyter/x.json", "subPath": "x.json"},
]
import glob
for path in sorted(glob.glob(FRAGMENTS + "/*.py")):
    exec(compile(open(path).read(), path, "exec"))
'''

FAKE_Z2JH = '''
import json
VALUES = json.loads({values!r})

def get_config(key, default=None):
    value = VALUES
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value
'''


@pytest.fixture
def z2jh(tmp_path, monkeypatch):
    """Load the fragments as z2jh does, with a ``z2jh`` module serving ``values`` merged over
    the chart's defaults."""
    import json

    defaults = kubeschema.load_yaml(kubeschema.Z2JH / "values.yaml")

    def load(values: dict):
        values = kubeschema.helm_merge(defaults, values)  # what the hub pod's z2jh serves
        folder = tmp_path / "z2jh"
        folder.mkdir(exist_ok=True)
        (folder / "z2jh.py").write_text(FAKE_Z2JH.format(values=json.dumps(values)))
        config = Z2JH_CONFIG.replace("FRAGMENTS", repr(str(FRAGMENTS)))
        (folder / "jupyterhub_config.py").write_text(config)
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.delitem(sys.modules, "z2jh", raising=False)
        return PyFileConfigLoader("jupyterhub_config.py", str(folder)).load_config()

    monkeypatch.setenv("POD_NAMESPACE", "jhub")
    monkeypatch.setenv("TZ_ADMIN_USERS", "boss")
    monkeypatch.delenv("TZ_PASSWORD", raising=False)
    yield load
    sys.modules.pop("z2jh", None)


def test_under_z2jh_tz_is_an_external_service_and_z2jh_services_stay(z2jh):
    config = z2jh(VALUES)

    services = {s["name"]: s for s in config.JupyterHub.services}
    assert set(services) == {"jupyterhub-idle-culler", "tz"}
    tz = services["tz"]
    assert "command" not in tz  # its own Deployment, never started by the hub
    assert tz["url"] == "http://tz.jhub.svc:10101"
    assert tz["api_token"] == "chart-made-token"  # the key the TZ Deployment reads too
    roles = {r["name"]: r for r in config.JupyterHub.load_roles}
    assert {"jupyterhub-idle-culler", "user", "tz-admin"} <= set(roles)
    assert roles["tz-admin"]["users"] == ["boss"]


async def test_under_z2jh_user_pods_come_from_custom_tz(z2jh, serialize):
    config = z2jh(VALUES)
    who = user()

    spawner = KubeSpawner(_mock=True, user=who, namespace="jhub", config=config)
    profiles = await spawner.profile_list(spawner)
    pod = await render(spawner, serialize, profile="gpu-1")

    assert [p["slug"] for p in profiles] == ["cpu", "gpu-1", "gpu-2"]
    kubeschema.validate(pod)
    assert kubeschema.pss_restricted(pod) == PSS_EXCEPTIONS
    env = {e["name"]: e.get("value") for e in container(pod)["env"]}
    assert env["TZ_SERVICE_URL"] == "http://tz.jhub.svc:10101/services/tz/"
    assert env["FROM_EXTRA_ENV"] == "1"  # singleuser.extraEnv kept
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["volume-alice", "files"]
    assert container(pod)["resources"]["limits"][GPU_RESOURCE] == "1"
    # z2jh's dedicated-user-node tolerations stay next to the GPU one
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert {"hub.jupyter.org/dedicated", GPU_RESOURCE} <= keys


def test_under_z2jh_a_bad_catalogue_stops_the_hub_naming_the_field(z2jh):
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    values["custom"]["tz"]["flavors"][2]["gpus"] = "two"

    with pytest.raises(ValueError, match=r"flavors\[2\]\.gpus"):
        z2jh(values)


def test_without_z2jh_the_kubernetes_fragment_changes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("TZ_HOME", str(tmp_path))
    config_file = ROOT / "jupyterhub_config" / "jupyterhub_config.py"

    config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()

    assert "KubeSpawner" not in config and "TzCluster" not in config
    (service,) = config.JupyterHub.services
    assert "training_zoo.service" in service["command"]  # hub-managed, as before


@pytest.mark.parametrize(
    ("registered", "env_token", "expected"),
    [
        ([{"name": "tz", "api_token": "from-chart"}], "from-env", "from-chart"),
        ([], "from-env", "from-env"),
        ([{"name": "tz", "api_token": None}], "from-env", "from-env"),
    ],
)
def test_the_service_token_comes_from_the_chart_else_the_environment(
    registered, env_token, expected
):
    (entry,) = tz_service(registered, hub_namespace="jupyterhub", api_token=env_token)
    assert entry["api_token"] == expected and entry["name"] == "tz"


def test_without_any_service_token_the_hub_refuses_to_start():
    with pytest.raises(ValueError, match="hub.services.tz"):
        tz_service([], hub_namespace="jupyterhub", api_token=None)
