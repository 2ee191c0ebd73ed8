"""Working-directory snapshots: pack a folder into a gzipped tar, and check one safely.

Exports
-------
pack_directory(path, *, max_bytes=..., exclude=DEFAULT_EXCLUDES) -> bytes
    Pack a folder (client side: SDK, magics, CLI, server extension).
validate_archive(data, max_bytes, *, max_files=...) -> list[str]
    Check an uploaded archive before it is stored or extracted (service side).
SnapshotTooLarge(ValueError)
    Raised by both when the uncompressed content passes the limit.
DEFAULT_EXCLUDES, DEFAULT_MAX_BYTES

The archive format is the one ``POST /snapshots`` accepts: relative member names, regular files and
directories only (no links, no devices), no ``..`` and no absolute paths. Packing is deterministic
for unchanged content (sorted members, fixed owner, gzip header without a timestamp), so the
service, which names snapshots by their sha256, stores an unchanged folder once.

This module is pure: no network, no third-party imports.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

__all__ = [
    "DEFAULT_EXCLUDES",
    "DEFAULT_MAX_BYTES",
    "SnapshotTooLarge",
    "format_bytes",
    "pack_directory",
    "validate_archive",
]

DEFAULT_MAX_BYTES = 100 * 1024 * 1024

#: Glob patterns matched against each path component's name (not the full path), so ``.git``
#: excludes every ``.git`` folder at any depth and ``*.pyc`` every compiled file.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    "__pycache__",
    ".ipynb_checkpoints",
    ".venv",
    "node_modules",
    "*.pyc",
)

_DEFAULT_MAX_FILES = 100_000


class SnapshotTooLarge(ValueError):
    """The uncompressed content of a snapshot passes the size limit.

    Attributes
    ----------
    size : int
        Uncompressed bytes counted when the limit was passed (a lower bound of the total: counting
        stops there).
    limit : int
        The limit in bytes.
    """

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


def format_bytes(n: float) -> str:
    """Format a byte count for people, e.g. ``1.5 MiB``.

    Parameters
    ----------
    n : float
        Number of bytes.

    Returns
    -------
    str
        The count with a binary unit (B, KiB, MiB, GiB, TiB).
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: Path, exclude: tuple[str, ...]) -> Iterator[tuple[str, str, bool]]:
    """Yield ``(full_path, arcname, is_dir)`` in sorted order, skipping excluded and unsafe entries.

    Symlinks are resolved: a link to a file inside ``root`` is packed as a copy of that file (the
    archive may not contain links); a link that leaves ``root``, dangles, or points to a folder is
    skipped. Folder links are skipped even when they stay inside, because their target is packed
    under its own name already and following them could loop.
    """
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        kept_dirs = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if _excluded(name, exclude) or os.path.islink(full):
                continue
            kept_dirs.append(name)
        # os.walk descends into what is left in dirnames, in this order.
        dirnames[:] = kept_dirs
        for name in kept_dirs:
            arcname = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield os.path.join(dirpath, name), arcname.replace(os.sep, "/"), True
        for name in sorted(filenames):
            if _excluded(name, exclude):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not _inside(target, real_root) or not os.path.isfile(target):
                    continue
            elif not os.path.isfile(full):
                # Sockets, FIFOs and devices have no content worth shipping and could block reads.
                continue
            arcname = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield full, arcname.replace(os.sep, "/"), False


def pack_directory(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: Iterable[str] = DEFAULT_EXCLUDES,
) -> bytes:
    """Pack a folder into a gzipped tar suitable for ``POST /snapshots``.

    Parameters
    ----------
    path : str or os.PathLike
        The folder to pack. Member names are relative to it.
    max_bytes : int, optional
        Limit on the uncompressed size of the files (default 100 MiB). Checked before each file is
        read, so an oversized folder fails fast instead of being compressed first.
    exclude : iterable of str, optional
        Glob patterns matched against each file and folder name (not the whole path); a matching
        folder is skipped with everything below it. Default :data:`DEFAULT_EXCLUDES`.

    Returns
    -------
    bytes
        The ``.tar.gz`` content.

    Raises
    ------
    NotADirectoryError
        ``path`` is not a folder.
    SnapshotTooLarge
        The files add up to more than ``max_bytes``; the message names the size and the limit.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"cannot snapshot {str(root)!r}: not a directory")
    patterns = tuple(exclude)
    total = 0
    buffer = io.BytesIO()
    # mtime=0 keeps the gzip header stable, so identical content gives an identical sha256.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for full, arcname, is_dir in _walk(root, patterns):
                st = os.stat(full)
                info = tarfile.TarInfo(arcname)
                info.mtime = int(st.st_mtime)
                # Keep the permission bits (an executable run.sh must stay executable), drop
                # owner names: they mean nothing on the machine that unpacks the snapshot.
                info.mode = stat.S_IMODE(st.st_mode)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if is_dir:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                    continue
                total += st.st_size
                if total > max_bytes:
                    raise SnapshotTooLarge(
                        f"snapshot of {str(root)!r} is too large: more than "
                        f"{format_bytes(total)} uncompressed (reached at {arcname!r}), limit "
                        f"{format_bytes(max_bytes)}; move data and checkpoints out of the "
                        "working directory or exclude them",
                        size=total,
                        limit=max_bytes,
                    )
                info.size = st.st_size
                with open(full, "rb") as fh:
                    tar.addfile(info, fh)
    return buffer.getvalue()


def _check_member_name(name: str) -> None:
    if not name or "\x00" in name:
        raise ValueError(f"invalid archive member name {name!r}")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"archive member {name!r} has an absolute path")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise ValueError(f"archive member {name!r} contains '..'")


def validate_archive(
    data: bytes, max_bytes: int, *, max_files: int = _DEFAULT_MAX_FILES
) -> list[str]:
    """Check an uploaded snapshot without extracting it, and list its files.

    Parameters
    ----------
    data : bytes
        The ``.tar.gz`` content.
    max_bytes : int
        Limit on the sum of the declared file sizes (what extraction would write).
    max_files : int, optional
        Limit on the number of members, so a flood of empty entries is refused too.

    Returns
    -------
    list of str
        Names of the regular files, in archive order (folders are not listed).

    Raises
    ------
    ValueError
        The data is not a gzipped tar, or a member has an absolute name, contains ``..``, is a
        link, a device or a FIFO, or there are more than ``max_files`` members.
    SnapshotTooLarge
        The files add up to more than ``max_bytes``.
    """
    files: list[str] = []
    total = 0
    count = 0
    try:
        # Stream mode ("r|gz") reads headers in order and never seeks, so a crafted archive
        # cannot make us decompress it more than once.
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
            for member in tar:
                count += 1
                if count > max_files:
                    raise ValueError(f"archive has more than {max_files} members")
                _check_member_name(member.name)
                if member.issym() or member.islnk():
                    raise ValueError(f"archive member {member.name!r} is a link")
                if member.isdev() or not (member.isfile() or member.isdir()):
                    raise ValueError(
                        f"archive member {member.name!r} is not a regular file or directory"
                    )
                if member.isfile():
                    total += member.size
                    if total > max_bytes:
                        raise SnapshotTooLarge(
                            f"snapshot is too large: more than {format_bytes(total)} "
                            f"uncompressed, limit {format_bytes(max_bytes)}",
                            size=total,
                            limit=max_bytes,
                        )
                    files.append(member.name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"snapshot is not a valid gzipped tar archive: {exc}") from exc
    return files
