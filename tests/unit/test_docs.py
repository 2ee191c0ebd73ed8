"""Docs and versions that must move with the code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from training_zoo import __version__

ROOT = Path(__file__).parents[2]


def test_configuration_reference_is_generated_from_the_current_traits():
    result = subprocess.run([sys.executable, str(ROOT / "docs/gen_config.py"), "--check"])
    assert result.returncode == 0, "docs/configuration.md is stale: run python docs/gen_config.py"


def test_labextension_version_matches_the_python_package():
    package = json.loads((ROOT / "labextension/package.json").read_text())
    assert package["version"] == __version__


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make up" in head and "make test" in head
