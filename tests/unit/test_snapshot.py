"""Tests for training_zoo.snapshot: what a packed working directory contains, and which uploaded
archives the service must refuse."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from training_zoo import snapshot
from training_zoo.snapshot import SnapshotTooLarge, pack_directory, validate_archive


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


@dataclass(frozen=True)
class PackCase:
    name: str
    files: dict[str, str]
    expected_files: set[str]
    exclude: tuple[str, ...] | None = None


PACK_CASES = [
    PackCase(
        name="default excludes at any depth",
        files={
            "train.py": "print('hi')",
            "src/model.py": "",
            "src/__init__.py": "",
            ".gitignore": "*.pyc",
            ".git/HEAD": "ref",
            "src/.git/config": "",
            "__pycache__/train.cpython-311.pyc": "",
            "src/util.pyc": "",
            ".ipynb_checkpoints/nb-checkpoint.ipynb": "{}",
            ".venv/bin/python": "",
            "web/node_modules/x/index.js": "",
        },
        expected_files={"train.py", "src/model.py", "src/__init__.py", ".gitignore"},
    ),
    PackCase(
        name="custom excludes replace the defaults",
        files={"train.py": "", "data/x.txt": "x", "notes.md": "", "w.bin": "", ".git/HEAD": ""},
        expected_files={"train.py", ".git/HEAD"},
        exclude=("data", "*.md", "*.bin"),
    ),
    PackCase(name="empty folder", files={}, expected_files=set()),
]


@pytest.mark.parametrize("case", PACK_CASES, ids=lambda c: c.name)
def test_pack_directory_includes_only_wanted_files(tmp_path: Path, case: PackCase) -> None:
    # Given a working directory with code and clutter
    _write_tree(tmp_path, case.files)
    kwargs = {} if case.exclude is None else {"exclude": case.exclude}

    # When it is packed and checked the way the service checks uploads
    data = pack_directory(tmp_path, **kwargs)
    names = validate_archive(data, max_bytes=10**6)

    # Then exactly the wanted files are in it, with relative names
    assert set(names) == case.expected_files
    assert all(not n.startswith(("/", "./")) for n in _members(data))


@dataclass(frozen=True)
class LinkCase:
    name: str
    target: str  # relative to the project, or absolute
    directory: bool
    included: bool


LINK_CASES = [
    LinkCase("file link inside is packed as a copy", "train.py", False, True),
    LinkCase("file link outside is skipped", "{outside}/secret.txt", False, False),
    LinkCase("dangling link is skipped", "missing.py", False, False),
    LinkCase("folder link outside is skipped", "{outside}", True, False),
    LinkCase("folder link inside is not duplicated", "src", True, False),
]


@pytest.mark.parametrize("case", LINK_CASES, ids=lambda c: c.name)
def test_pack_directory_never_follows_links_out(tmp_path: Path, case: LinkCase) -> None:
    # Given a project with a symlink, and a secret outside the project
    project, outside = tmp_path / "project", tmp_path / "outside"
    _write_tree(project, {"train.py": "print(1)", "src/model.py": ""})
    _write_tree(outside, {"secret.txt": "password"})
    os.symlink(case.target.format(outside=outside), project / "link", case.directory)

    # When the project is packed
    data = pack_directory(project)

    # Then the link is a regular-file copy or absent, and nothing from outside leaks in
    members = _members(data)
    assert ("link" in members) is case.included
    assert all(not (m.issym() or m.islnk()) for m in members.values())
    assert b"password" not in _extract_all(data)


def _extract_all(data: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return b"".join(
            tar.extractfile(m).read()
            for m in tar.getmembers()
            if m.isfile()  # type: ignore[union-attr]
        )


def test_pack_directory_keeps_executable_bit_and_is_deterministic(tmp_path: Path) -> None:
    # Given a project with an executable script
    _write_tree(tmp_path, {"run.sh": "#!/bin/sh\necho hi\n", "train.py": ""})
    (tmp_path / "run.sh").chmod(0o755)

    # When it is packed twice
    first, second = pack_directory(tmp_path), pack_directory(tmp_path)

    # Then the bytes are identical (same snapshot id) and run.sh stays executable
    assert first == second
    assert _members(first)["run.sh"].mode & 0o111


def test_pack_directory_stops_at_the_limit_without_reading_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three 600-byte files and a 1000-byte limit
    _write_tree(tmp_path, {name: "x" * 600 for name in ("a.bin", "b.bin", "c.bin")})
    opened: list[str] = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        opened.append(os.path.basename(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(snapshot, "open", counting_open, raising=False)

    # When the folder is packed
    with pytest.raises(SnapshotTooLarge) as info:
        pack_directory(tmp_path, max_bytes=1000)

    # Then the error names the size and the limit, and only the first file was read
    message = str(info.value)
    assert "too large" in message and "1.2 KiB" in message and "limit 1000 B" in message
    assert isinstance(info.value, ValueError)
    assert (info.value.size, info.value.limit) == (1200, 1000)
    assert opened == ["a.bin"]


def test_pack_directory_refuses_a_file(tmp_path: Path) -> None:
    # Given a path to a file, not a folder
    target = tmp_path / "train.py"
    target.write_text("")

    # When / Then
    with pytest.raises(NotADirectoryError, match="not a directory"):
        pack_directory(target)


@dataclass
class ArchiveCase:
    name: str
    members: list[tarfile.TarInfo] = field(default_factory=list)
    expected_error: str = ""
    raw: bytes | None = None
    max_bytes: int = 10**6


def _info(
    name: str, type_: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, size, link
    return info


def _archive(members: list[tarfile.TarInfo]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return buffer.getvalue()


ARCHIVE_CASES = [
    ArchiveCase("absolute path", [_info("/etc/cron.d/x")], "absolute path"),
    ArchiveCase("parent escape", [_info("../../.bashrc")], "contains '..'"),
    ArchiveCase("nested parent escape", [_info("a/../../x")], "contains '..'"),
    ArchiveCase("symlink", [_info("link", tarfile.SYMTYPE, link="/etc/passwd")], "is a link"),
    ArchiveCase("hard link", [_info("a"), _info("b", tarfile.LNKTYPE, link="a")], "is a link"),
    ArchiveCase("character device", [_info("tty", tarfile.CHRTYPE)], "not a regular file"),
    ArchiveCase("fifo", [_info("pipe", tarfile.FIFOTYPE)], "not a regular file"),
    ArchiveCase("too large", [_info("a", size=600), _info("b", size=600)], "too large", None, 1000),
    ArchiveCase("not gzip", raw=b"PK\x03\x04 a zip file", expected_error="not a valid gzipped"),
    ArchiveCase("truncated", raw=_archive([_info("a", size=5000)])[:40], expected_error="valid"),
]


@pytest.mark.parametrize("case", ARCHIVE_CASES, ids=lambda c: c.name)
def test_validate_archive_rejects_unsafe_uploads(case: ArchiveCase) -> None:
    # Given a hostile or broken upload
    data = case.raw if case.raw is not None else _archive(case.members)

    # When / Then it is refused with a ValueError saying why
    with pytest.raises(ValueError, match=case.expected_error):
        validate_archive(data, max_bytes=case.max_bytes)


def test_validate_archive_limits_member_count() -> None:
    # Given an archive flooded with empty files
    data = _archive([_info(f"f{i}") for i in range(20)])

    # When / Then
    with pytest.raises(ValueError, match="more than 10 members"):
        validate_archive(data, max_bytes=10**6, max_files=10)


def test_validate_archive_lists_files_not_folders() -> None:
    # Given an archive with a folder and two files
    data = _archive([_info("src", tarfile.DIRTYPE), _info("src/a.py", size=3), _info("b.py")])

    # When / Then
    assert validate_archive(data, max_bytes=100) == ["src/a.py", "b.py"]
