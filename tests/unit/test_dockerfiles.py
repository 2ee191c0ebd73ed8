"""Every ``images/*/Dockerfile`` parses and keeps the project's rules (``tests/dockerlint.py``) and
hadolint's; the linter itself catches each rule's violation in a small bad Dockerfile.

This is what stands for the CUDA images and the hub, which can't be built here (their bases come
from registries that this machine can't reach); ``tests/integration/test_images.py`` builds and
runs singleuser-cpu.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

sys.path.insert(0, str(Path(__file__).parents[1]))

from dockerlint import RULES, is_gpu_image, lint  # noqa: E402

ROOT = Path(__file__).parents[2]
IMAGES = ROOT / "images"
NAMES = [
    "hub",
    "singleuser-cpu",
    "singleuser-pytorch-cuda",
    "singleuser-tensorflow-cuda",
    "trainer-pytorch",
]
HADOLINT = Path(sys.executable).parent / "hadolint"


def parse(name: str) -> DockerfileParser:
    return DockerfileParser(path=str(IMAGES / name / "Dockerfile"))


def test_the_five_images_have_dockerfiles():
    assert sorted(p.parent.name for p in IMAGES.glob("*/Dockerfile")) == sorted(NAMES)
    assert [n for n in NAMES if is_gpu_image(n)] == [
        "singleuser-pytorch-cuda",
        "singleuser-tensorflow-cuda",
        "trainer-pytorch",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_keeps_the_rules(name):
    text = (IMAGES / name / "Dockerfile").read_text()
    assert [str(f) for f in lint(text, gpu=is_gpu_image(name))] == []


@pytest.mark.parametrize("name", NAMES)
def test_hadolint(name):
    result = subprocess.run(
        [
            HADOLINT,
            "--no-color",
            "--config",
            IMAGES / ".hadolint.yaml",
            IMAGES / name / "Dockerfile",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_context_paths_are_what_build_sh_assembles(name):
    """COPY and bind-mount sources are dist/ (the wheel) or the hub config fragments, the only
    things images/build.sh puts in a context."""
    allowed = {"dist", "jupyterhub_config/jupyterhub_config.d/"}
    sources = set()
    for item in parse(name).structure:
        value = item["value"]
        if item["instruction"] in ("COPY", "ADD"):
            words = [w for w in value.split() if not w.startswith("--")]
            sources.update(words[:-1])
        sources.update(re.findall(r"--mount=type=bind,source=([^,\s]+)", value))
    assert sources and sources <= allowed, sources
    if "jupyterhub_config/jupyterhub_config.d/" in sources:
        assert list((ROOT / "jupyterhub_config" / "jupyterhub_config.d").glob("*.py"))


def test_torch_agrees_across_images_and_the_project():
    """The notebook image and the trainer run the torch that pyproject's [torch] extra pins, for
    the same CUDA release."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["torch"]
    (pin,) = [r.split("==")[1] for r in extra if r.startswith("torch==")]
    notebook = parse("singleuser-pytorch-cuda")
    trainer_base = parse("trainer-pytorch").baseimage
    cuda = re.search(r"pytorch/pytorch:([\d.]+)-cuda(\d+)\.(\d+)-", trainer_base)
    assert cuda and cuda[1] == pin, trainer_base
    args = dict(
        item["value"].split("=", 1)
        for item in notebook.structure
        if item["instruction"] == "ARG" and "=" in item["value"]
    )
    assert args["TORCH_VERSION"] == pin
    assert args["TORCH_INDEX"].endswith(f"/cu{cuda[2]}{cuda[3]}")
    assert f"/cuda:{cuda[2]}.{cuda[3]}." in notebook.baseimage


def test_hub_adds_to_z2jh_and_loads_our_fragments():
    hub = parse("hub")
    assert hub.baseimage.startswith("quay.io/jupyterhub/k8s-hub:")
    copies = [i["value"] for i in hub.structure if i["instruction"] == "COPY"]
    assert copies == [
        "jupyterhub_config/jupyterhub_config.d/ /usr/local/etc/jupyterhub/jupyterhub_config.d/"
    ]


GOOD = """\
ARG BASE=docker.io/nvidia/cuda:12.6.3-base-ubuntu24.04
FROM ${BASE}
LABEL org.opencontainers.image.source="https://example.org/tz" \\
      org.opencontainers.image.title="t" org.opencontainers.image.version="1"
RUN apt-get update && apt-get install -y --no-install-recommends python3 \\
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir x==1
USER 1000
"""

# (rule that must fire, a replacement applied to GOOD). Each bad Dockerfile breaks one rule.
BAD = [
    ("base-arg", ("FROM ${BASE}", "FROM docker.io/nvidia/cuda:12.6.3-base-ubuntu24.04")),
    ("base-arg", ("ARG BASE=docker.io/nvidia/cuda:12.6.3-base-ubuntu24.04", "ARG BASE")),
    ("pinned-base", (":12.6.3-base-ubuntu24.04", ":latest")),
    ("pinned-base", (":12.6.3-base-ubuntu24.04", "")),
    ("cuda-base", ("nvidia/cuda:12.6.3-base-ubuntu24.04", "library/ubuntu:24.04")),
    ("non-root-user", ("USER 1000", "USER root")),
    ("non-root-user", ("USER 1000", "USER 0:0")),
    ("non-root-user", ("USER 1000", "USER jovyan")),
    ("non-root-user", ("USER 1000\n", "")),
    ("no-add-url", ("USER 1000", "ADD https://example.org/x.tgz /opt/\nUSER 1000")),
    ("pip-no-cache", ("pip install --no-cache-dir x==1", "pip install x==1")),
    ("pip-no-cache", ("pip install --no-cache-dir x==1", "python3 -m pip install x==1")),
    ("pip-no-cache", ("pip install --no-cache-dir x==1", "true && /opt/venv/bin/pip3 install x")),
    ("apt", ("--no-install-recommends ", "")),
    ("apt", (" \\\n && rm -rf /var/lib/apt/lists/*", "")),
    (
        "apt",
        (
            "apt-get install",
            "DEBIAN_FRONTEND=noninteractive apt-get -y install python3 &&\\\n apt-get install",
        ),
    ),
    ("oci-labels", ('org.opencontainers.image.version="1"', "")),
    ("oci-labels", ('org.opencontainers.image.source="https://example.org/tz"', "a=b")),
    ("known-instructions", ("USER 1000", "USR 1000\nUSER 1000")),
]


def test_the_good_example_passes():
    assert lint(GOOD, gpu=True) == []


@pytest.mark.parametrize(("rule", "change"), BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD)])
def test_linter_catches(rule, change):
    old, new = change
    assert old in GOOD
    findings = lint(GOOD.replace(old, new, 1), gpu=True)
    assert rule in {f.rule for f in findings}, findings


def test_every_rule_has_a_bad_example():
    assert {rule for rule, _ in BAD} == set(RULES)


def test_cuda_base_is_only_for_gpu_images():
    cpu = GOOD.replace("nvidia/cuda:12.6.3-base-ubuntu24.04", "library/debian:bookworm-20251229")
    assert lint(cpu, gpu=False) == []
    for base in (
        "pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime",
        "tensorflow/tensorflow:2.21.0-gpu",
    ):
        assert lint(GOOD.replace("nvidia/cuda:12.6.3-base-ubuntu24.04", base), gpu=True) == []
