"""Datasets and the workspace: the service's data module, and ``tz.datasets`` for users.

For users (``import training_zoo as tz``)::

    tz.datasets.create("pets", type="image_classification", labels=["cat", "dog"])
    tz.datasets.upload("pets", "data/pets")
    tz.datasets.publish("pets")                   # -> V001
    ds = tz.datasets.open("pets:V001")            # in a notebook or inside a training job

``open`` inside a training job reads the read-only copy its backend materialised (``TZ_DATASETS``,
standard library only, :mod:`.reader`); elsewhere it goes through the REST API
(:mod:`training_zoo.sdk_datasets`, whose other functions this package forwards lazily).

For the service, each module has one job:

- :mod:`.paths`: confines every user-named path to the space its caller may reach.
- :mod:`.workspace`, :mod:`.uploads`, :mod:`.ws_handlers`: the workspace ("network disk") and its
  resumable uploads.
- :mod:`.manager`, :mod:`.manifests`, :mod:`.formats`, :mod:`.handlers`: datasets, drafts,
  versions, annotations.
- :mod:`.previews`: previews and thumbnails; :mod:`.cache`: versions materialised for jobs.

Nothing heavy is imported here, so a training process importing this package stays cheap.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .reader import ENV, DatasetFile, DatasetVersion

__all__ = ["DatasetFile", "DatasetVersion", "TzUploads", "TzWorkspace", "open", "workspace_key"]

_SERVICE_NAMES = {"TzUploads": ".uploads", "TzWorkspace": ".workspace", "workspace_key": ".paths"}


def open(ref: str, **kwargs: Any) -> Any:  # noqa: A001 - the documented name
    """A published dataset version: its files with annotations and splits.

    Inside a TZ training job (``TZ_DATASETS`` is set) this is the local read-only copy the job was
    given (:func:`.reader.open`); elsewhere the version is opened through the REST API and its
    files are fetched on use (:func:`training_zoo.sdk_datasets.open`, which takes ``cache_dir``).
    """
    if os.environ.get(ENV):
        from .reader import open as open_local

        return open_local(ref)
    from ..sdk_datasets import open as open_remote

    return open_remote(ref, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _SERVICE_NAMES:
        return getattr(importlib.import_module(_SERVICE_NAMES[name], __name__), name)
    from ..sdk_datasets import forward

    return forward(name)
