"""``tz.datasets`` for notebooks: datasets in a few short functions.

Exports
-------
list, get, create, upload, add, files, annotate, publish, versions, manifest, open, diff, export,
import_annotations
    Each takes a dataset reference ``[owner/]name[:Vnnn]`` (or an id ``ds-…``) and talks to the
    service through :func:`training_zoo.client.default_client`.
SDK_NAMES
    The names above, for packages that forward them (see below).

    >>> import training_zoo as tz                                      # doctest: +SKIP
    >>> tz.datasets.create("pets", type="image_classification", labels=["cat", "dog"])
    >>> tz.datasets.upload("pets", "data/pets")                        # doctest: +SKIP
    >>> tz.datasets.publish("pets", note="first cut")["version"]       # doctest: +SKIP
    'V001'
    >>> ds = tz.datasets.open("pets:V001")                              # doctest: +SKIP
    >>> ds.splits["train"][0].path                                      # doctest: +SKIP

Why a module of its own: ``training_zoo.datasets`` is the service's package (workspace,
uploads, manifests, and a stdlib-only ``open()`` for training processes). One package attribute
cannot be two modules, so this facade lives here and ``training_zoo.datasets`` forwards the SDK
names it does not define itself to it with a module ``__getattr__`` (:func:`forward`, for the
names in :data:`SDK_NAMES`): ``tz.datasets.list()`` works, nothing of the SDK (httpx) is imported
inside a training job unless it is used, and a name the package defines (its job-side
``open``) wins. A module ``__getattr__`` is consulted only for attributes the module lacks, so it
never shadows builtins inside the package's own code.

Here ``list`` and ``open`` are public names of the facade; the code below uses
``builtins.list`` where it needs the type.
"""

from __future__ import annotations

import builtins
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .client import OpenedDataset, TransferProgress, default_client, facade_forward
from .sdk_workspace import own_space

__all__ = [
    "SDK_NAMES",
    "add",
    "annotate",
    "create",
    "diff",
    "export",
    "files",
    "forward",
    "get",
    "import_annotations",
    "list",
    "manifest",
    "open",
    "publish",
    "upload",
    "versions",
]

#: Where :func:`upload` stages local files in the caller's workspace before adding them.
STAGING_FOLDER = "dataset-uploads"

Ref = str | Mapping[str, Any]


def list(  # noqa: A001 - the facade's public name, as in tz.datasets.list()
    q: str | None = None,
    *,
    type: str | None = None,
    owner: str | None = None,
    visibility: str | None = None,
) -> builtins.list[dict[str, Any]]:
    """Datasets you may read, optionally filtered by text, type, owner or visibility."""
    return default_client().list_datasets(q, type=type, owner=owner, visibility=visibility)


def get(ref: Ref) -> dict[str, Any]:
    """One dataset (``name``, ``owner/name`` or ``ds-…``)."""
    return default_client().get_dataset(ref)


def create(
    name: str,
    *,
    type: str = "generic",
    description: str = "",
    visibility: str = "private",
    team: str | None = None,
    labels: Sequence[str] = (),
) -> dict[str, Any]:
    """Create a dataset; see :meth:`Client.create_dataset`."""
    return default_client().create_dataset(
        name, type=type, description=description, visibility=visibility, team=team,
        labels=labels,
    )  # fmt: skip


def add(
    ref: Ref,
    path: str | None = None,
    space: str | None = None,
    *,
    uri: str | None = None,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Add a workspace file or folder (default space: yours), or an ``s3://`` prefix."""
    client = default_client()
    if uri is not None:
        return client.add_dataset_files(ref, uri=uri, prefix=prefix)
    if path is None:
        raise ValueError("path: give a workspace path, or uri='s3://...'")
    return client.add_dataset_files(ref, own_space(client, space), path, prefix=prefix)


def upload(
    ref: Ref,
    local: str | os.PathLike[str],
    *,
    prefix: str | None = None,
    space: str | None = None,
    via: str | None = None,
    progress: Callable[[TransferProgress], None] | None = None,
    parallel: int = 4,
) -> dict[str, Any]:
    """Upload local files into a dataset's draft.

    The files are uploaded (resumably, in parts) into your workspace first, at ``via``
    (default ``dataset-uploads/<dataset name>/<local name>``), then added to the draft, where
    they are stored by content (the workspace copy can be deleted afterwards).

    Parameters
    ----------
    ref : str or dict
        The dataset.
    local : str or os.PathLike
        A file or a folder (uploaded recursively).
    prefix : str, optional
        Folder inside the dataset (default: the dataset's root for a folder's contents).
    space : str, optional
        The workspace space to stage in (default: yours).
    via : str, optional
        The staging path in that space.
    progress : callable, optional
        Upload progress, as for :meth:`Client.ws_upload`.
    parallel : int
        Parts or files in flight.

    Returns
    -------
    dict
        ``{"added", "bytes", "files", "skipped"}`` from adding the files.
    """
    client = default_client()
    space = own_space(client, space)
    name = ref.split(":", 1)[0].split("/")[-1] if isinstance(ref, str) else str(ref["name"])
    staging = via or posixpath.join(STAGING_FOLDER, name, Path(local).name)
    client.ws_upload(local, space, staging, progress=progress, parallel=parallel)
    return client.add_dataset_files(ref, space, staging, prefix=prefix)


def files(
    ref: Ref,
    *,
    version: str | None = None,
    q: str | None = None,
    usage: str | None = None,
    labeled: bool | None = None,
) -> builtins.list[dict[str, Any]]:
    """File entries of the draft (default) or of a version."""
    return builtins.list(
        default_client().dataset_files(ref, version=version, q=q, usage=usage, labeled=labeled)
    )


def annotate(
    ref: Ref,
    key: str,
    *,
    labels: Sequence[str] | None = None,
    boxes: Sequence[Mapping[str, Any]] | None = None,
    usage: str | None = None,
    revision: int | None = None,
) -> dict[str, Any]:
    """Label one draft file; see :meth:`Client.annotate` (a concurrent edit answers 409)."""
    return default_client().annotate(
        ref, key, labels=labels, boxes=boxes, usage=usage, revision=revision
    )


def publish(ref: Ref, note: str | None = None) -> dict[str, Any]:
    """Freeze the draft as the next version; returns it (``{"version": "V001", ...}``)."""
    return default_client().publish_dataset(ref, note)


def versions(ref: Ref) -> builtins.list[dict[str, Any]]:
    """Published versions, newest first."""
    return default_client().dataset_versions(ref)


def manifest(ref: Ref, version: str | None = None) -> Iterator[dict[str, Any]]:
    """A version's manifest entries, streamed (``name:V002`` or ``version=``; default latest)."""
    return default_client().dataset_manifest(ref, version)


def open(  # noqa: A001 - tz.datasets.open("name:V001"), as inside training jobs
    ref: str, *, cache_dir: str | os.PathLike[str] | None = None
) -> OpenedDataset:
    """Open a published version: files with annotations and splits, bytes fetched on use."""
    return default_client().open_dataset(ref, cache_dir=cache_dir)


def diff(ref: Ref, version: str, against: str) -> dict[str, Any]:
    """``added``, ``removed`` and ``relabeled`` keys from ``against`` to ``version``."""
    return default_client().diff_versions(ref, version, against)


def export(
    ref: Ref,
    path: str,
    *,
    format: str = "manifest",
    space: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Write a version (``name:V001`` or ``version=``; default the draft) into the workspace as
    ``coco``, ``imagenet`` or ``manifest``."""
    client = default_client()
    return client.export_dataset(ref, format, own_space(client, space), path, version=version)


def import_annotations(
    ref: Ref, path: str, *, format: str = "coco", space: str | None = None
) -> dict[str, Any]:
    """Read ``coco``, ``imagenet`` or ``manifest`` annotations from the workspace into the
    draft."""
    client = default_client()
    return client.import_annotations(ref, format, own_space(client, space), path)


#: Names ``training_zoo.datasets`` forwards here: the facade's functions.
SDK_NAMES: frozenset[str] = frozenset(__all__) - {"SDK_NAMES", "forward"}

#: The facade function of a name in :data:`SDK_NAMES`, else ``AttributeError``.
forward = facade_forward("training_zoo.datasets", SDK_NAMES, globals())
