"""Training Zoo: an AI training platform delivered as a JupyterHub extension suite.

This module holds the entry points only, and imports lazily so that ``import training_zoo`` inside a
training process stays cheap:

- ``Client``: the REST client (SDK) used by magics, widgets and the ``tz`` CLI;
- ``connect(url=None, token=None)``: set the client that the facades below use;
- ``workspace``: :mod:`training_zoo.sdk_workspace` (``tz.workspace.ls/mkdir/mv/cp/rm/upload/
  download``);
- ``datasets``: the package :mod:`training_zoo.datasets`, whose missing attributes resolve to
  :mod:`training_zoo.sdk_datasets` (``tz.datasets.list/create/upload/publish/versions/open/diff/
  export``);
- ``models``: the package :mod:`training_zoo.models`, forwarding likewise to
  :mod:`training_zoo.sdk_models` (``tz.models.register/load/convert/evaluate/compare...``) and
  offering ``tz.models.save`` inside training jobs;
- ``log_metrics``: record scalars from inside a job;
- ``load_ipython_extension``: ``%load_ext training_zoo``;
- ``_jupyter_server_extension_points`` / ``_jupyter_labextension_paths``: Jupyter discovery hooks.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ._version import __version__

__all__ = ["Client", "__version__", "connect", "datasets", "log_metrics", "models", "workspace"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    if name == "connect":
        return connect
    if name == "log_metrics":
        from .runtime import log_metrics

        return log_metrics
    if name == "workspace":
        # No clash: the service's workspace code is training_zoo.datasets.workspace.
        return importlib.import_module(".sdk_workspace", __name__)
    if name == "datasets":
        return _datasets_package()
    if name == "models":
        # Same shape as datasets: the service's package, forwarding SDK names it lacks.
        return importlib.import_module(".models", __name__)
    raise AttributeError(name)


def _datasets_package() -> ModuleType:
    """``training_zoo.datasets``: the service's package, which is also ``tz.datasets``.

    Python binds a subpackage as an attribute of its parent on import, so ``tz.datasets`` can only
    be that package. It forwards the SDK names it does not define (``list``, ``create``,
    ``publish``...) to :mod:`training_zoo.sdk_datasets` through its module ``__getattr__``, which
    Python consults only for missing names: the facade works in every import order, builtins in
    the package's own code are untouched, and its ``open()`` reads a job's materialised copy
    inside training jobs and goes through the API elsewhere.
    """
    return importlib.import_module(".datasets", __name__)


def connect(url: str | None = None, token: str | None = None, **kwargs: Any) -> Any:
    """Point ``tz.workspace`` and ``tz.datasets`` at a hub (default: from the environment).

    Parameters
    ----------
    url, token : str, optional
        As for :class:`~training_zoo.client.Client`.
    **kwargs
        Other ``Client`` options (``timeout``...).

    Returns
    -------
    Client
        The client now in use.
    """
    from .client import Client, set_default_client

    client = Client(url, token, **kwargs)
    set_default_client(client)
    return client


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%tz_*`` magics (``%load_ext training_zoo``)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "training_zoo.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "training-zoo"}]
