"""The project's rules for ``images/*/Dockerfile``, over dockerfile-parse's reading of the file.

Each rule is a function ``(DockerfileParser, gpu) -> [(line, message)]`` in :data:`RULES`;
:func:`lint` runs them all. They are what a Kubernetes deployment under Pod Security "restricted"
and a reproducible, lean build need; hadolint (``images/.hadolint.yaml``) adds general practice.

``python tests/dockerlint.py images/*/Dockerfile`` prints the findings; it exits 1 if there are any.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

# Bases allowed for the GPU images: NVIDIA's CUDA images and the frameworks' official ones.
CUDA_BASES = ("nvidia/cuda", "pytorch/pytorch", "tensorflow/tensorflow")
OCI_LABELS = (
    "org.opencontainers.image.source",
    "org.opencontainers.image.title",
    "org.opencontainers.image.version",
)
INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "COMMENT",
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}: {self.rule}: {self.message}"


Rule = Callable[[DockerfileParser, bool], list[tuple[int, str]]]


def _items(df: DockerfileParser, instruction: str) -> list[tuple[int, str]]:
    return [
        (i["startline"] + 1, i["value"]) for i in df.structure if i["instruction"] == instruction
    ]


def _commands(run: str) -> list[list[str]]:
    """The simple commands of a RUN (shell or exec form), each as a list of words."""
    if run.lstrip().startswith("["):
        try:
            return [json.loads(run)]
        except ValueError:
            pass
    run = re.sub(r"^(\s*--\S+)+\s", " ", run)  # RUN --mount=... flags
    commands = []
    for part in re.split(r"&&|\|\||[;|\n]", run):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        if words:
            commands.append(words)
    return commands


def _is_pip_install(words: list[str]) -> bool:
    words = [w for w in words if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
    for i, word in enumerate(words):
        name = word.rsplit("/", 1)[-1]
        if re.fullmatch(r"pip3?(\.\d+)?", name) and "install" in words[i + 1 : i + 2]:
            return True
        is_python = re.fullmatch(r"python3?(\.\d+)?", name)
        if is_python and words[i + 1 : i + 4] == ["-m", "pip", "install"]:
            return True
    return False


def _stage_names(df: DockerfileParser) -> set[str]:
    names = set()
    for _, value in _items(df, "FROM"):
        words = value.split()
        if len(words) >= 3 and words[-2].lower() == "as":
            names.add(words[-1])
    return names


def rule_pinned_base(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """Every base has a tag or digest, and the tag is not ``latest``."""
    found = []
    stages = _stage_names(df)
    froms = _items(df, "FROM")
    for (line, _), image in zip(froms, df.parent_images, strict=False):
        if image in stages or image == "scratch":
            continue
        if "@sha256:" in image:
            continue
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag:  # no tag at all (a ":" only in a registry port)
            found.append((line, f"base {image!r} has no tag: pin one"))
        elif tag == "latest" or tag.endswith("-latest"):
            found.append((line, f"base {image!r} uses a moving tag: pin a version"))
    return found


def rule_base_arg(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """The first FROM is ``${BASE}`` with a default, so CI can substitute a locally made base."""
    froms = _items(df, "FROM")
    if not froms:
        return [(1, "no FROM")]
    line, value = froms[0]
    if value.split()[0] not in ("${BASE}", "$BASE"):
        return [(line, "the first FROM must be ${BASE} (with ARG BASE=<pinned image> before it)")]
    global_args = [value for arg_line, value in _items(df, "ARG") if arg_line < line]
    if not any(re.fullmatch(r"BASE=\S+", value.strip()) for value in global_args):
        return [(line, "ARG BASE needs a default before FROM: the pinned production base")]
    return []


def rule_non_root_user(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """The image ends as a numeric non-zero uid: kubelet can only verify ``runAsNonRoot`` (Pod
    Security "restricted") for a numeric USER."""
    users = _items(df, "USER")
    if not users:
        return [(1, "no USER: the image would run as its base's user (often root)")]
    line, value = users[-1]
    uid = value.strip().split(":")[0]
    if not uid.isdigit():
        return [
            (line, f"final USER {value!r} is not numeric: kubelet cannot verify it is non-root")
        ]
    if int(uid) == 0:
        return [(line, "final USER is root")]
    return []


def rule_no_add_url(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """No ``ADD http...``: downloads belong in a RUN that verifies them, or in the context."""
    return [
        (line, "ADD of a URL: download in a RUN with a checksum instead")
        for line, value in _items(df, "ADD")
        if re.search(r"(^|\s)(https?|ftp)://", value)
    ]


def rule_pip_no_cache(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """Every ``pip install`` has ``--no-cache-dir``: the wheel cache is dead weight in a layer."""
    found = []
    for line, value in _items(df, "RUN"):
        for words in _commands(value):
            if _is_pip_install(words) and "--no-cache-dir" not in words:
                found.append((line, f"pip install without --no-cache-dir: {' '.join(words)}"))
    return found


def rule_apt(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """``apt-get install`` has ``--no-install-recommends``, and the same RUN removes the lists."""
    found = []
    for line, value in _items(df, "RUN"):
        installs = []
        for words in _commands(value):  # also "DEBIAN_FRONTEND=... apt-get install"
            tool = next((i for i, w in enumerate(words) if w in ("apt-get", "apt")), None)
            if tool is not None and "install" in words[tool + 1 :]:
                installs.append(words[tool:])
        for words in installs:
            if "--no-install-recommends" not in words:
                found.append((line, "apt-get install without --no-install-recommends"))
        if installs and not re.search(r"rm\s+-(rf|fr|r)\s+[^&;]*/var/lib/apt/lists", value):
            found.append((line, "apt-get install, but no rm -rf /var/lib/apt/lists/* in its RUN"))
    return found


def rule_cuda_base(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """A GPU image starts from NVIDIA's CUDA image or PyTorch's or TensorFlow's official one."""
    if not gpu:
        return []
    froms = _items(df, "FROM")
    image = df.parent_images[0] if df.parent_images else ""
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    repo = re.sub(r"^(docker\.io/|index\.docker\.io/|registry-1\.docker\.io/)", "", repo)
    if repo not in CUDA_BASES:
        line = froms[0][0] if froms else 1
        return [(line, f"GPU image base {image!r} is not one of {CUDA_BASES}")]
    return []


def rule_oci_labels(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """The OCI labels that say where an image comes from and which version it is."""
    labels = df.labels
    missing = [k for k in OCI_LABELS if not str(labels.get(k, "")).strip()]
    return [(1, f"missing label {k}") for k in missing]


def rule_known_instructions(df: DockerfileParser, gpu: bool) -> list[tuple[int, str]]:
    """Every line is a Dockerfile instruction (catches typos and broken line continuations)."""
    return [
        (i["startline"] + 1, f"unknown instruction {i['instruction']!r}")
        for i in df.structure
        if i["instruction"] not in INSTRUCTIONS
    ]


RULES: dict[str, Rule] = {
    "known-instructions": rule_known_instructions,
    "base-arg": rule_base_arg,
    "pinned-base": rule_pinned_base,
    "cuda-base": rule_cuda_base,
    "non-root-user": rule_non_root_user,
    "no-add-url": rule_no_add_url,
    "pip-no-cache": rule_pip_no_cache,
    "apt": rule_apt,
    "oci-labels": rule_oci_labels,
}


def is_gpu_image(name: str) -> bool:
    """Images named ``*-cuda`` and the trainers run on GPUs."""
    return name.endswith("-cuda") or name.startswith("trainer-")


def lint(text: str, *, gpu: bool = False) -> list[Finding]:
    df = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    findings = []
    for name, rule in RULES.items():
        findings += [Finding(name, line, message) for line, message in rule(df, gpu)]
    return findings


def main(paths: list[str]) -> int:
    status = 0
    for path in map(Path, paths):
        for finding in lint(path.read_text(), gpu=is_gpu_image(path.parent.name)):
            print(f"{path}:{finding}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
