"""Training Zoo: an AI training platform delivered as a JupyterHub extension suite.

This module holds the entry points only, and imports lazily so that ``import training_zoo`` inside a
training process stays cheap:

- ``Client``: the REST client (SDK) used by magics, widgets and the ``tz`` CLI;
- ``log_metrics``: record scalars from inside a job;
- ``load_ipython_extension``: ``%load_ext training_zoo``;
- ``_jupyter_server_extension_points`` / ``_jupyter_labextension_paths``: Jupyter discovery hooks.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["Client", "__version__", "log_metrics"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    if name == "log_metrics":
        from .runtime import log_metrics

        return log_metrics
    raise AttributeError(name)


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%tz_*`` magics (``%load_ext training_zoo``)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "training_zoo.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "training-zoo"}]
