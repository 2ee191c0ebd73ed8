"""``tz.workspace``: the workspace ("network disk") from a notebook, in a few short functions.

Exports
-------
spaces, ls, stat, mkdir, mv, cp, rm, upload, download
    Each takes a ``path`` and an optional ``space`` (default: the caller's own ``user:<name>``)
    and talks to the service through :func:`training_zoo.client.default_client`.

    >>> import training_zoo as tz                          # doctest: +SKIP
    >>> tz.workspace.upload("data/images", "raw/images")   # doctest: +SKIP
    >>> [i["name"] for i in tz.workspace.ls("raw/images")][:3]  # doctest: +SKIP
    ['cat1.jpg', 'cat2.jpg', 'dog1.jpg']

Everything here is a thin layer over :class:`training_zoo.client.Client` (``ws_*`` methods),
which holds the transfer logic; use a ``Client`` directly for another hub or token.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import Client, TransferProgress, default_client

__all__ = ["cp", "download", "ls", "mkdir", "mv", "own_space", "rm", "spaces", "stat", "upload"]

# One lookup per client: the caller's own space does not change while the client lives.
_own_space: weakref.WeakKeyDictionary[Client, str] = weakref.WeakKeyDictionary()


def own_space(client: Client, space: str | None = None) -> str:
    """``space``, else the caller's own ``user:<name>`` space (looked up once per client)."""
    if space:
        return space
    if client not in _own_space:
        _own_space[client] = client.my_space()
    return _own_space[client]


def spaces() -> list[dict[str, Any]]:
    """The spaces you may reach: ``user:<you>`` and ``team:<group>`` for each of your groups."""
    return default_client().ws_spaces()


def ls(
    path: str = "", space: str | None = None, *, sort: str = "name", order: str = "asc"
) -> list[dict[str, Any]]:
    """The items of a folder (all pages), e.g. ``ls("raw")`` or ``ls(space="team:vision")``."""
    client = default_client()
    return list(client.ws_list(own_space(client, space), path, sort=sort, order=order))


def stat(path: str, space: str | None = None) -> dict[str, Any]:
    """One item: ``{"name", "path", "type", "size", "modified"}``."""
    client = default_client()
    return client.ws_stat(own_space(client, space), path)


def mkdir(path: str, space: str | None = None, *, exist_ok: bool = False) -> dict[str, Any]:
    """Create a folder (and its parents)."""
    client = default_client()
    return client.ws_mkdir(own_space(client, space), path, exist_ok=exist_ok)


def mv(
    path: str, target: str, space: str | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Move or rename within a space."""
    client = default_client()
    return client.ws_move(own_space(client, space), path, target, overwrite=overwrite)


def cp(
    path: str, target: str, space: str | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Copy a file or folder within a space."""
    client = default_client()
    return client.ws_copy(own_space(client, space), path, target, overwrite=overwrite)


def rm(path: str, space: str | None = None) -> None:
    """Delete a file, or a folder with its contents (no undo)."""
    client = default_client()
    client.ws_delete(own_space(client, space), path)


def upload(
    local: str | os.PathLike[str],
    path: str = "",
    space: str | None = None,
    *,
    progress: Callable[[TransferProgress], None] | None = None,
    parallel: int = 4,
    resume: bool = True,
    overwrite: bool = False,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Upload a local file or folder (resumable, in parts); see :meth:`Client.ws_upload`."""
    client = default_client()
    return client.ws_upload(
        local, own_space(client, space), path, progress=progress, parallel=parallel,
        resume=resume, overwrite=overwrite,
    )  # fmt: skip


def download(
    path: str,
    dest: str | os.PathLike[str] = ".",
    space: str | None = None,
    *,
    progress: Callable[[TransferProgress], None] | None = None,
) -> Path:
    """Download a file or folder into ``dest``; see :meth:`Client.ws_download`."""
    client = default_client()
    return client.ws_download(own_space(client, space), path, dest, progress=progress)
