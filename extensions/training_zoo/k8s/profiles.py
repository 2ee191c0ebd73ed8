"""KubeSpawner ``profile_list`` built from :class:`~.catalog.TzCluster`: one profile per flavor.

Exports :func:`profile_list` (the callable for ``c.KubeSpawner.profile_list``),
:func:`profiles_for` (the same list for a set of groups, without a spawner), the quantity
converters :func:`cpu_cores` and :func:`memory_bytes`, and :class:`NoFlavorAllowed`.

A profile is a flavor the user's JupyterHub groups allow, with an ``image`` option listing the
notebook images those groups allow. KubeSpawner evaluates the callable twice: to render the
spawn form and again at spawn time (``load_user_options``), so a REST spawn naming a profile or an
image outside the user's groups fails there too.

Every profile sets ``nvidia.com/gpu`` explicitly, ``"0"`` for CPU flavors: KubeSpawner merges dict
overrides into the spawner's current values, so a user switching from a GPU profile to a CPU one
would otherwise keep the GPU. For the same reason node selector keys used by other flavors are
set to ``None`` (which deletes them), and tolerations are always replaced in full.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

from tornado import web

from .catalog import GPU_RESOURCE, Flavor, Image, TzCluster

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _split(quantity: str) -> tuple[Decimal, str]:
    text = str(quantity)
    number = text.rstrip("KMGTPEkmi")
    return Decimal(number), text[len(number) :]


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity (``4``, ``500m``) as cores, for KubeSpawner's float traits."""
    number, suffix = _split(quantity)
    if suffix == "m":
        return float(number / 1000)
    if suffix:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return float(number)


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``16Gi``, ``8G``, ``512Mi``) as bytes.

    KubeSpawner's memory traits read ``G`` as GiB and refuse ``Gi``, so TZ always passes bytes.
    """
    number, suffix = _split(quantity)
    factor = _BINARY.get(suffix) or _DECIMAL.get(suffix) or (1 if not suffix else None)
    if factor is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(number * factor)


class NoFlavorAllowed(web.HTTPError):
    """The user's groups allow no flavor (or no notebook image): nothing can be spawned.

    A 403 whose ``jupyterhub_message`` JupyterHub shows on the spawn page and in spawn errors.
    """

    def __init__(self, message: str) -> None:
        super().__init__(403, "%s", message)
        self.jupyterhub_message = message


def _default_image(flavor: Flavor, images: list[Image]) -> Image:
    """A CUDA image for GPU flavors (a CPU one for CPU flavors) when allowed; defaults first."""
    wants_cuda = flavor.gpus > 0
    return min(images, key=lambda m: (m.cuda != wants_cuda, not m.default))


def _image_option(flavor: Flavor, images: list[Image]) -> dict[str, Any]:
    default = _default_image(flavor, images)
    choices = {
        m.slug: {
            "display_name": m.display_name,
            "default": m is default,
            "kubespawner_override": {"image": m.image},
        }
        for m in images
    }
    return {"display_name": "Image", "choices": choices}


def _profile(
    flavor: Flavor,
    images: list[Image],
    selector_keys: set[str],
    base_selector: dict[str, str],
    base_tolerations: list[dict],
) -> dict[str, Any]:
    cores, memory = cpu_cores(flavor.cpu), memory_bytes(flavor.memory)
    selector: dict[str, str | None] = {k: base_selector.get(k) for k in sorted(selector_keys)}
    selector.update(flavor.node_selector)
    gpus = {GPU_RESOURCE: str(flavor.gpus)}
    return {
        "slug": flavor.slug,
        "display_name": flavor.display_name,
        "description": flavor.description,
        "default": flavor.default,
        "kubespawner_override": {
            # Guarantee = limit: a flavor is what the user gets, and what quotas count.
            "cpu_guarantee": cores,
            "cpu_limit": cores,
            "mem_guarantee": memory,
            "mem_limit": memory,
            "extra_resource_guarantees": dict(gpus),
            "extra_resource_limits": dict(gpus),
            "node_selector": selector,
            "tolerations": [*base_tolerations, *flavor.tolerations],
        },
        "profile_options": {"image": _image_option(flavor, images)},
    }


def profiles_for(
    cluster: TzCluster,
    groups: Iterable[str],
    *,
    base_node_selector: dict[str, str] | None = None,
    base_tolerations: Iterable[dict] = (),
) -> list[dict[str, Any]]:
    """The KubeSpawner profiles for a user in ``groups``.

    Parameters
    ----------
    cluster
        The flavors and images; parsed strictly (a bad entry raises ``ValueError``).
    groups
        The user's JupyterHub group names.
    base_node_selector, base_tolerations
        What the deployment sets for every user pod (z2jh ``singleuser.nodeSelector``,
        ``scheduling.userPods.tolerations``); a profile keeps them and adds its flavor's.

    Raises
    ------
    NoFlavorAllowed
        The groups allow no flavor, or no notebook image.
    """
    groups = set(groups)
    flavors = cluster.flavors_for(groups)
    images = cluster.images_for(groups, "notebook")
    who = f"groups {', '.join(sorted(groups))}" if groups else "no groups"
    if not flavors:
        raise NoFlavorAllowed(
            f"No server flavor is available to your account ({who}). "
            "Ask an administrator to add you to a group that may use one."
        )
    if not images:
        raise NoFlavorAllowed(
            f"No notebook image is available to your account ({who}). "
            "Ask an administrator to add you to a group that may use one."
        )
    base_selector = dict(base_node_selector or {})
    keys = {k for f in cluster.all_flavors() for k in f.node_selector}
    tolerations = [dict(t) for t in base_tolerations]
    return [_profile(f, images, keys, base_selector, tolerations) for f in flavors]


def profile_list(
    cluster: TzCluster,
    *,
    base_node_selector: dict[str, str] | None = None,
    base_tolerations: Iterable[dict] = (),
) -> Callable[[Any], Awaitable[list[dict[str, Any]]]]:
    """The callable for ``c.KubeSpawner.profile_list``: :func:`profiles_for` the spawner's user.

    The catalogue is validated once here, so a bad ``custom.tz`` stops the hub at start rather
    than at a user's spawn.
    """
    cluster.validate()
    for i, flavor in enumerate(cluster.all_flavors()):
        try:
            cpu_cores(flavor.cpu)
        except ValueError:
            raise ValueError(f"flavors[{i}].cpu: must be cores, like 4 or 500m") from None
        memory_bytes(flavor.memory)
    tolerations = [dict(t) for t in base_tolerations]
    selector = dict(base_node_selector or {})

    async def tz_profiles(spawner: Any) -> list[dict[str, Any]]:
        groups = {g.name for g in spawner.user.groups}
        return profiles_for(
            cluster, groups, base_node_selector=selector, base_tolerations=tolerations
        )

    return tz_profiles
