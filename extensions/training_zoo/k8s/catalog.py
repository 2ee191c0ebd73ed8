"""``TzCluster``: what a Kubernetes deployment offers, in one place.

Flavors (resource profiles: CPU, memory, GPUs, where they may be scheduled), the image catalogue
(notebook and trainer images), and teams (a JupyterHub group each, with a Kueue queue and quota).
The hub builds KubeSpawner profiles from it, the TZ service's Kubernetes backend picks images and
queues from it, and ``tz k8s render`` generates the Kueue objects from it. In a Helm deployment the
same data sits under ``custom.tz`` in ``helm-values/values.yaml``.

Parsing is strict: a bad entry raises ``ValueError`` naming it (``flavors[2].gpus: ...``), so a
typo in the values fails at start instead of producing a pod nobody can schedule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from traitlets import Dict, List, Unicode
from traitlets.config import LoggingConfigurable

from ..jobs.types import IMAGE_RE

SLUG_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
IMAGE_KINDS = ("notebook", "trainer")
FRAMEWORKS = ("pytorch", "tensorflow", "custom")
GPU_RESOURCE = "nvidia.com/gpu"


def dns_label(text: str, limit: int = 63) -> str:
    """A collision-free RFC 1035 label for ``text``: a readable slug plus a short hash.

    Two different inputs never map to the same label (the hash covers the raw text), and the
    result always starts with a letter, as Kubernetes names of Services and JobSets must.
    """
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not slug or not slug[0].isalpha():
        slug = "x-" + slug
    slug = slug[: limit - len(digest) - 1].rstrip("-")
    return f"{slug}-{digest}"


def _err(where: str, message: str) -> ValueError:
    return ValueError(f"{where}: {message}")


def _slug(entry: dict, where: str) -> str:
    slug = entry.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise _err(f"{where}.slug", "required: 1-32 lower-case letters, digits or '-'")
    return slug


def _groups(entry: dict, where: str) -> tuple[str, ...]:
    groups = entry.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise _err(f"{where}.groups", "must be a list of JupyterHub group names")
    return tuple(groups)


def _quantity(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not QUANTITY_RE.match(text):
        raise _err(where, "must be a Kubernetes quantity like 4, 500m or 16Gi")
    return text


def _check_keys(entry: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(entry, dict):
        raise _err(where, "must be a mapping")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise _err(f"{where}.{unknown[0]}", "unknown key")
    return entry


@dataclass(frozen=True)
class Flavor:
    """A resource profile: what one notebook pod or one training node gets."""

    slug: str
    display_name: str
    cpu: str
    memory: str
    gpus: int = 0
    description: str = ""
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict, ...] = ()
    groups: tuple[str, ...] = ()
    default: bool = False

    def allowed(self, groups: set[str]) -> bool:
        return not self.groups or bool(groups & set(self.groups))


@dataclass(frozen=True)
class Image:
    """An image of the catalogue: a notebook image users pick, or a trainer image jobs run."""

    slug: str
    display_name: str
    image: str
    kind: str = "notebook"
    frameworks: tuple[str, ...] = FRAMEWORKS
    cuda: bool = False
    description: str = ""
    groups: tuple[str, ...] = ()
    default: bool = False

    def allowed(self, groups: set[str]) -> bool:
        return not self.groups or bool(groups & set(self.groups))


@dataclass(frozen=True)
class Team:
    """A JupyterHub group with its own Kueue LocalQueue/ClusterQueue and quota."""

    name: str
    cpu: str
    memory: str
    gpus: int
    cohort: str = "training-zoo"

    @property
    def queue(self) -> str:
        """Name of the team's LocalQueue and ClusterQueue."""
        return dns_label(f"tz-{self.name}", 40)


FLAVOR_KEYS = {"slug", "display_name", "description", "cpu", "memory", "gpus", "node_selector",
               "tolerations", "groups", "default"}  # fmt: skip
IMAGE_KEYS = {"slug", "display_name", "description", "image", "kind", "frameworks", "cuda",
              "groups", "default"}  # fmt: skip
TEAM_KEYS = {"cpu", "memory", "gpus", "cohort"}


def parse_flavor(entry: Any, where: str) -> Flavor:
    entry = _check_keys(entry, FLAVOR_KEYS, where)
    slug = _slug(entry, where)
    gpus = entry.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or not 0 <= gpus <= 64:
        raise _err(f"{where}.gpus", "must be an integer from 0 to 64")
    selector = entry.get("node_selector", {})
    if not isinstance(selector, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in selector.items()
    ):
        raise _err(f"{where}.node_selector", "must map label names to string values")
    tolerations = entry.get("tolerations", [])
    if not isinstance(tolerations, list) or not all(isinstance(t, dict) for t in tolerations):
        raise _err(f"{where}.tolerations", "must be a list of Kubernetes tolerations")
    return Flavor(
        slug=slug,
        display_name=str(entry.get("display_name") or slug),
        description=str(entry.get("description", "")),
        cpu=_quantity(entry.get("cpu"), f"{where}.cpu"),
        memory=_quantity(entry.get("memory"), f"{where}.memory"),
        gpus=gpus,
        node_selector=dict(selector),
        tolerations=tuple(dict(t) for t in tolerations),
        groups=_groups(entry, where),
        default=bool(entry.get("default", False)),
    )


def parse_image(entry: Any, where: str) -> Image:
    entry = _check_keys(entry, IMAGE_KEYS, where)
    slug = _slug(entry, where)
    ref = entry.get("image")
    if not isinstance(ref, str) or not IMAGE_RE.match(ref):
        raise _err(f"{where}.image", "must be an image reference like registry/name:tag")
    kind = entry.get("kind", "notebook")
    if kind not in IMAGE_KINDS:
        raise _err(f"{where}.kind", f"must be one of {', '.join(IMAGE_KINDS)}")
    frameworks = entry.get("frameworks", list(FRAMEWORKS))
    if not isinstance(frameworks, list) or not set(frameworks) <= set(FRAMEWORKS):
        raise _err(f"{where}.frameworks", f"must be a list drawn from {', '.join(FRAMEWORKS)}")
    return Image(
        slug=slug,
        display_name=str(entry.get("display_name") or slug),
        description=str(entry.get("description", "")),
        image=ref,
        kind=kind,
        frameworks=tuple(frameworks),
        cuda=bool(entry.get("cuda", False)),
        groups=_groups(entry, where),
        default=bool(entry.get("default", False)),
    )


def parse_team(name: Any, entry: Any, where: str) -> Team:
    if not isinstance(name, str) or not name:
        raise _err(where, "team names are JupyterHub group names")
    entry = _check_keys(entry, TEAM_KEYS, where)
    gpus = entry.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise _err(f"{where}.gpus", "must be a non-negative integer")
    cohort = entry.get("cohort", "training-zoo")
    if not isinstance(cohort, str) or not SLUG_RE.match(cohort):
        raise _err(f"{where}.cohort", "must be a lower-case slug")
    return Team(
        name=name,
        cpu=_quantity(entry.get("cpu"), f"{where}.cpu"),
        memory=_quantity(entry.get("memory"), f"{where}.memory"),
        gpus=gpus,
        cohort=cohort,
    )


def _unique(items: list, what: str) -> list:
    seen: set[str] = set()
    for item in items:
        if item.slug in seen:
            raise _err(what, f"slug {item.slug!r} appears twice")
        seen.add(item.slug)
    return items


GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
GPU_SELECTOR = {"nvidia.com/gpu.present": "true"}  # set by the GPU operator's feature discovery


def _gpu_flavor(n: int) -> dict:
    return {
        "slug": f"gpu-{n}",
        "display_name": f"{n} GPU{'s' if n > 1 else ''}",
        "description": f"{n} NVIDIA GPU{'s' if n > 1 else ''}, {8 * n} CPUs, {64 * n} GiB",
        "cpu": 8 * n,
        "memory": f"{64 * n}Gi",
        "gpus": n,
        "node_selector": dict(GPU_SELECTOR),
        "tolerations": [dict(GPU_TOLERATION)],
    }


DEFAULT_FLAVORS = [
    {"slug": "cpu", "display_name": "CPU only", "description": "4 CPUs, 16 GiB, no GPU",
     "cpu": 4, "memory": "16Gi", "gpus": 0, "default": True},
    *(_gpu_flavor(n) for n in (1, 2, 4, 8)),
]  # fmt: skip

REGISTRY = "registry.example.com/training-zoo"
DEFAULT_IMAGES = [
    {"slug": "cpu", "display_name": "Python (CPU)", "image": f"{REGISTRY}/singleuser-cpu:0.1.0",
     "kind": "notebook", "default": True},
    {"slug": "pytorch-cuda", "display_name": "PyTorch (CUDA)", "cuda": True,
     "image": f"{REGISTRY}/singleuser-pytorch-cuda:0.1.0", "kind": "notebook"},
    {"slug": "tensorflow-cuda", "display_name": "TensorFlow (CUDA)", "cuda": True,
     "image": f"{REGISTRY}/singleuser-tensorflow-cuda:0.1.0", "kind": "notebook"},
    {"slug": "trainer-pytorch", "display_name": "PyTorch trainer", "cuda": True,
     "image": f"{REGISTRY}/trainer-pytorch:0.1.0", "kind": "trainer",
     "frameworks": ["pytorch", "custom"], "default": True},
    {"slug": "trainer-tensorflow", "display_name": "TensorFlow trainer", "cuda": True,
     "image": f"{REGISTRY}/singleuser-tensorflow-cuda:0.1.0", "kind": "trainer",
     "frameworks": ["tensorflow"]},
]  # fmt: skip

DEFAULT_TEAMS = {"default": {"cpu": 64, "memory": "256Gi", "gpus": 8}}


class TzCluster(LoggingConfigurable):
    """Flavors, images and teams of a Kubernetes deployment (``custom.tz`` in the Helm values)."""

    namespace = Unicode(
        "training-zoo",
        help="""Namespace where TZ creates TrainJobs, their Secrets and the teams' LocalQueues.

        User notebook pods may live elsewhere (the hub's namespace). Default: ``training-zoo``.
        """,
    ).tag(config=True)

    flavors = List(
        Dict(),
        default_value=DEFAULT_FLAVORS,
        help="""Resource flavors offered to notebooks (as KubeSpawner profiles) and jobs.

        Each: ``slug``, ``display_name``, ``description``, ``cpu`` (cores, a Kubernetes
        quantity), ``memory`` (``16Gi``), ``gpus`` (``nvidia.com/gpu`` count, 0 for CPU only),
        ``node_selector``, ``tolerations``, ``groups`` (JupyterHub groups allowed; empty means
        everyone), ``default``. Default: CPU only plus 1, 2, 4 and 8 GPUs on nodes labelled
        ``nvidia.com/gpu.present=true``.
        """,
    ).tag(config=True)

    images = List(
        Dict(),
        default_value=DEFAULT_IMAGES,
        help="""The image catalogue: notebook images users choose at spawn, trainer images jobs
        run on.

        Each: ``slug``, ``display_name``, ``image`` (reference), ``kind`` (``notebook`` or
        ``trainer``), ``frameworks`` (trainer images: which job frameworks use it), ``cuda``,
        ``groups``, ``default``. Default: the images built from ``images/`` under
        ``registry.example.com/training-zoo``.
        """,
    ).tag(config=True)

    teams = Dict(
        default_value=DEFAULT_TEAMS,
        help="""Teams: JupyterHub group name -> ``{cpu, memory, gpus, cohort}`` quota.

        Each team gets a Kueue ClusterQueue with that nominal quota and a LocalQueue in
        ``namespace``; a user's jobs go to the queue of their first group (sorted) that is a
        team, else to ``default_team``. Teams of one cohort borrow each other's idle quota.
        Default: one ``default`` team with 64 CPUs, 256Gi and 8 GPUs.
        """,
    ).tag(config=True)

    default_team = Unicode(
        "default",
        help="Team of users in no team group; must be a key of ``teams``. Default: ``default``.",
    ).tag(config=True)

    def all_flavors(self) -> list[Flavor]:
        return _unique(
            [parse_flavor(f, f"flavors[{i}]") for i, f in enumerate(self.flavors)], "flavors"
        )

    def all_images(self) -> list[Image]:
        return _unique(
            [parse_image(m, f"images[{i}]") for i, m in enumerate(self.images)], "images"
        )

    def all_teams(self) -> list[Team]:
        teams = [parse_team(n, t, f"teams.{n}") for n, t in sorted(self.teams.items())]
        if self.default_team not in self.teams:
            raise _err("default_team", f"{self.default_team!r} is not one of teams")
        return teams

    def validate(self) -> None:
        """Parse everything once, raising ``ValueError`` on the first bad entry."""
        if len(self.namespace) > 63 or not NAMESPACE_RE.match(self.namespace):
            raise _err("namespace", "must be a DNS label: lower-case letters, digits and '-'")
        self.all_flavors(), self.all_images(), self.all_teams()

    def flavors_for(self, groups: set[str]) -> list[Flavor]:
        return [f for f in self.all_flavors() if f.allowed(groups)]

    def images_for(self, groups: set[str], kind: str) -> list[Image]:
        return [m for m in self.all_images() if m.kind == kind and m.allowed(groups)]

    def team_for(self, groups: set[str] | list[str] | tuple[str, ...]) -> Team:
        teams = {t.name: t for t in self.all_teams()}
        for group in sorted(groups):
            if group in teams:
                return teams[group]
        return teams[self.default_team]

    def trainer_image(self, framework: str, cuda: bool) -> Image:
        """The trainer image for a framework: a CUDA one for GPU jobs when there is one."""
        candidates = [m for m in self.all_images() if m.kind == "trainer"]
        candidates = [m for m in candidates if framework in m.frameworks]
        if not candidates:
            raise _err("images", f"no trainer image for framework {framework!r}")
        candidates.sort(key=lambda m: (m.cuda != cuda, not m.default))
        return candidates[0]
