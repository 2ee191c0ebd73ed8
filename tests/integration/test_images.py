"""The singleuser-cpu image builds from its Dockerfile with buildah and works as a pod would run it.

No container registry is reachable here, so this takes CI's path (``images/build.sh ci``, what
``make image-cpu-ci`` runs): debootstrap a Debian bookworm base, build
``images/singleuser-cpu/Dockerfile`` on it with buildah (the Python packages come from PyPI during
the build, like in production), then start the image once with podman, as uid 1000 with every
capability dropped and no privilege escalation (Pod Security "restricted"), and check what
Zero to JupyterHub needs from it: ``jupyterhub-singleuser`` runs, ``training_zoo`` imports at the
repo's version, both extensions are enabled, and a real Jupyter server in the container serves
the labextension and answers on ``/tz/api/v1``. The CUDA images can't be built here; their
Dockerfiles are linted in ``tests/unit/test_dockerfiles.py``. The trainer's claim that jobs need
no dependencies of training-zoo is checked here in a bare venv.

Without buildah, podman or debootstrap (or as non-root) these tests are skipped, except under
``CI``, where that is a failure: ``make test`` installs them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from training_zoo import __version__

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).parents[2]
BUILD = ROOT / "images" / "build.sh"
IMAGES_DIR = ROOT / ".images"
STORAGE = [
    f"--root={IMAGES_DIR / 'storage'}",
    f"--runroot={IMAGES_DIR / 'run'}",
    "--storage-driver=vfs",
]
TOKEN = "tz-image-check"

# Runs inside the container after the checks: a real Jupyter server, probed over loopback.
PROBE = f"""
import json, time, urllib.error, urllib.request
def get(path):
    request = urllib.request.Request(
        "http://127.0.0.1:8888" + path, headers={{"Authorization": "token {TOKEN}"}}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
for _ in range(240):
    try:
        get("/api/status")
        break
    except OSError:
        time.sleep(0.5)
lab, tz = get("/lab"), get("/tz/api/v1/jobs")
print(json.dumps({{"status": get("/api/status")[0], "lab": lab[0],
                  "lab_has_tz": '"training-zoo"' in lab[1], "tz": tz[0], "tz_body": tz[1]}}))
"""

SCRIPT = f"""
echo "== id"; id -u; id -g; echo "$HOME"; pwd
echo "== singleuser"; jupyterhub-singleuser --version; echo "rc=$?"
echo "== import"; python -c "import training_zoo; print(training_zoo.__version__)"; echo "rc=$?"
echo "== labextensions"; jupyter labextension list 2>&1
echo "== serverextensions"; jupyter server extension list 2>&1
echo "== server"
jupyter server --no-browser --ip=127.0.0.1 --port=8888 --IdentityProvider.token={TOKEN} \
    >/tmp/server.log 2>&1 &
python -c "$PROBE"
echo "== serverlog"; cat /tmp/server.log
"""


def _require_tools() -> None:
    missing = [
        tool for tool in ("buildah", "podman", "runc", "debootstrap") if not shutil.which(tool)
    ]
    reason = ""
    if missing:
        reason = f"{', '.join(missing)} not installed (make test installs them)"
    elif os.geteuid() != 0:
        reason = "buildah and podman run as root here (no rootless user namespaces set up)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the images, but {reason}")
        pytest.skip(reason)


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture(scope="module")
def image() -> str:
    """Build singleuser-cpu once, the way CI does, and return its tag."""
    _require_tools()
    env = {**os.environ, "IMAGE_PYTHON": sys.executable, "IMAGES_DIR": str(IMAGES_DIR)}
    tag = subprocess.run(
        ["bash", BUILD, "tag", "singleuser-cpu"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    build = subprocess.run(
        ["bash", BUILD, "ci", "--no-check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        cwd=ROOT,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-8000:]
    return tag


@pytest.fixture(scope="module")
def run(image: str) -> dict[str, str]:
    """One `podman run` of the image as a restricted pod would run it; its output by section."""
    result = subprocess.run(
        ["podman", *STORAGE, "--runtime", "runc", "run", "--rm", "--network", "none",
         "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
         "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
         "--env", f"PROBE={PROBE}", image, "sh", "-c", SCRIPT],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sections: dict[str, str] = {}
    name = ""
    for line in _plain(result.stdout).splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            sections[name] = ""
        elif name:
            sections[name] += line + "\n"
    return sections


@pytest.fixture(scope="module")
def config(image: str) -> dict:
    out = subprocess.run(
        ["podman", *STORAGE, "image", "inspect", image],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)[0]


def test_runs_as_jovyan_uid_1000(run, config):
    uid, gid, home, cwd = run["id"].split()
    assert (uid, gid, home, cwd) == ("1000", "100", "/home/jovyan", "/home/jovyan")
    assert config["Config"]["User"] == "1000"


def test_jupyterhub_singleuser_runs(run, config):
    lines = run["singleuser"].split()
    assert lines[-1] == "rc=0", run["singleuser"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", lines[0]), run["singleuser"]
    assert config["Config"]["Cmd"] == ["jupyterhub-singleuser"]
    assert config["Config"]["Entrypoint"] == ["tini", "-g", "--"]


def test_training_zoo_imports_at_the_repo_version(run):
    assert run["import"].split() == [__version__, "rc=0"], run["import"]


def test_labextension_enabled_ok(run):
    lines = run["labextensions"].splitlines()
    assert any(
        line.split()[:4] == ["training-zoo", f"v{__version__}", "enabled", "OK"] for line in lines
    ), run["labextensions"]


def test_server_extension_enabled_ok(run):
    lines = [line.split() for line in run["serverextensions"].splitlines()]
    assert ["training_zoo", "enabled"] in lines, run["serverextensions"]
    assert ["training_zoo", __version__, "OK"] in lines, run["serverextensions"]


def test_server_serves_the_labextension_and_the_tz_api(run):
    probe = json.loads(run["server"].strip().splitlines()[-1])
    assert probe["status"] == 200, run["serverlog"]
    assert probe["lab"] == 200 and probe["lab_has_tz"], run["serverlog"]
    # No hub and no TZ service in the container: the extension answers for itself, in JSON.
    assert probe["tz"] == 503, probe
    assert json.loads(probe["tz_body"])["reason"] == "NotConfigured"
    assert "training_zoo | extension was successfully loaded" in run["serverlog"]


def test_labels_say_what_and_which_version(config):
    labels = config["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "training-zoo-singleuser-cpu"
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.source"]


def test_trainer_needs_no_dependencies(tmp_path):
    """trainer-pytorch installs the wheel with --no-deps: its pods import nothing more."""
    wheels = list((IMAGES_DIR / "context" / "dist").glob(f"training_zoo-{__version__}-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
             "-w", str(tmp_path), str(ROOT)],
            check=True, capture_output=True,
        )  # fmt: skip
        wheels = list(tmp_path.glob("training_zoo-*.whl"))
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(bare / "bin" / "python"), "install", "-q",
         "--no-deps", str(wheels[0])],
        check=True, capture_output=True,
    )  # fmt: skip
    out = subprocess.run(
        [bare / "bin" / "python", "-c",
         "import training_zoo.jobs.pod_entry; from training_zoo import log_metrics; print('ok')"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.stdout.strip() == "ok", out.stderr
