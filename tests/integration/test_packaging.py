"""The wheel ships the prebuilt labextension and enables the server extension."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def jupyter(*args: str) -> list[str]:
    result = subprocess.run([BIN / "jupyter", *args], capture_output=True, text=True, cwd="/")
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).splitlines()


def test_jupyter_lists_both_extensions_enabled_ok():
    server = jupyter("server", "extension", "list")
    assert any(line.split() == ["training_zoo", "enabled"] for line in server), server
    assert any(line.split()[:1] == ["training_zoo"] and line.endswith("OK") for line in server)
    lab = jupyter("labextension", "list")
    assert any("training-zoo" in line and "enabled" in line and line.endswith("OK")
               for line in lab), lab


def test_wheel_contains_labextension_config_and_hub_config(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)  # fmt: skip
    (wheel,) = tmp_path.glob("training_zoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    assert "share/jupyter/labextensions/training-zoo/package.json" in data
    assert any(n.startswith("share/jupyter/labextensions/training-zoo/static/") for n in data)
    assert "etc/jupyter/jupyter_server_config.d/training_zoo.json" in data
    assert "share/training-zoo/jupyterhub_config/jupyterhub_config.py" in data
    assert "training_zoo/service/openapi.yaml" in names
    assert "training_zoo/db/migrations/versions/0001_jobs.py" in names
