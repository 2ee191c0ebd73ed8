"""A pod's dataset and model versions: fetched through the job's input plan before any rank starts.

The service writes the plan (:mod:`training_zoo.jobs.backends.inputs`): for each version its
folder, its files by sha256 and the environment that names it; for each distinct file one
presigned GET URL. Here every file is downloaded once (``parallel`` at a time, retried when the
store answers 5xx or the connection drops), checked against its size and sha256, hard-linked
into its version's folder, and the folders are made read-only and renamed into place whole. The
ranks then find them as on the local backend: ``TZ_DATASET_<NAME>`` / ``TZ_MODEL_<NAME>`` and the
``TZ_DATASETS`` / ``TZ_MODELS`` maps that ``training_zoo.datasets.open`` and
``tz.models.open_input`` read.

Standard library only, like :mod:`.pod_entry`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

CHUNK = 1 << 20
PLAN_VERSION = 1


class InputError(Exception):
    """An input cannot be fetched as recorded: the job must not start on other data."""


def _get(url: str, tries: int = 5) -> bytes:
    return _with_retries(url, lambda response: response.read(), tries)


def _with_retries(url: str, read: Callable[[Any], Any], tries: int) -> Any:
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=300) as response:
                return read(response)
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == tries - 1:
                # An expired or wrong URL does not get better with time.
                raise InputError(f"storage answered {e.code} {e.reason}") from None
        except OSError as e:
            if attempt == tries - 1:
                raise InputError(f"storage unreachable: {e}") from None
        time.sleep(min(2**attempt, 30))
    raise AssertionError("unreachable")


def _download(url: str, sha256: str, size: int, target: Path) -> None:
    """``url`` into ``target``, refused unless it has exactly ``size`` bytes hashing to
    ``sha256``; a partial download never keeps the name."""

    def save(response: Any) -> str:
        digest = hashlib.sha256()
        with open(partial, "wb") as out:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        return digest.hexdigest()

    partial = target.with_name(target.name + ".partial")
    try:
        got = _with_retries(url, save, 5)
        if partial.stat().st_size != size or got != sha256:
            raise InputError("its bytes differ from the ones recorded (size or sha256)")
        os.chmod(partial, 0o444)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _inside(folder: Path, path: str) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InputError(f"refusing the path {path!r}: it would leave its folder")
    return folder.joinpath(*parts)


def _lay_out(entry: dict[str, Any], blobs: Path, root: Path) -> Path:
    """One version's read-only folder, built aside and renamed into place whole."""
    folder = root / entry["folder"]
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in entry["files"]:
        target = _inside(tmp, f["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(blobs / f["sha256"], target)
    for name, text in entry.get("write", {}).items():
        target = _inside(tmp, name)
        target.write_text(text)
        os.chmod(target, 0o444)
    for dirpath, _dirs, _files in os.walk(tmp, topdown=False):
        os.chmod(dirpath, 0o555)
    os.replace(tmp, folder)
    return folder


def fetch_inputs(
    plan_url: str, root: Path, say: Callable[[str], None], parallel: int = 8
) -> dict[str, str]:
    """Fetch the versions of the plan at ``plan_url`` under ``root``; the environment that
    names them.

    Raises
    ------
    InputError
        The plan or a file cannot be fetched, or a file is not what its version recorded.
    """
    try:
        plan = json.loads(_get(plan_url))
    except InputError as e:
        raise InputError(f"the job's input plan: {e}") from None
    if plan.get("version") != PLAN_VERSION:
        raise InputError(f"input plan version {plan.get('version')!r} is not {PLAN_VERSION}")
    started = time.monotonic()
    blobs = root / ".blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    labels: dict[str, str] = {}  # sha256 -> "pets:V001 files/cat.jpg", to name a failure
    for entry in plan["inputs"]:
        for f in entry["files"]:
            labels.setdefault(f["sha256"], f"{entry['label']} {f['path']}")

    def one(sha: str) -> None:
        blob = plan["blobs"][sha]
        try:
            _download(blob["url"], sha, int(blob["size"]), blobs / sha)
        except InputError as e:
            raise InputError(f"{labels.get(sha, sha)}: {e}") from None

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for _ in pool.map(one, list(plan["blobs"])):
            pass
    env: dict[str, str] = {}
    maps: dict[str, dict[str, str]] = {}
    for entry in plan["inputs"]:
        folder = str(_lay_out(entry, blobs, root))
        env[entry["env"]] = folder
        maps.setdefault(entry["map_env"], {}).update(dict.fromkeys(entry["refs"], folder))
    shutil.rmtree(blobs, ignore_errors=True)  # the folders keep their links
    for name, where in maps.items():
        env[name] = json.dumps(where)
    size = sum(int(b["size"]) for b in plan["blobs"].values())
    took = time.monotonic() - started
    names = ", ".join(e["label"] for e in plan["inputs"])
    say(f"inputs ready: {names} ({len(plan['blobs'])} files, {size} bytes, {took:.1f} s)")
    return env
