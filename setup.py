"""setup.py stays small: metadata lives in pyproject.toml. This file only maps the prebuilt
labextension and the server-extension config into the wheel's data files."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
LABEXT = HERE / "extensions" / "training_zoo" / "labextension"
data_files = [
    (
        "etc/jupyter/jupyter_server_config.d",
        ["extensions/jupyter-config/jupyter_server_config.d/training_zoo.json"],
    ),
]
for path in sorted((HERE / "jupyterhub_config").rglob("*.py")) + sorted(
    (HERE / "jupyterhub_config").rglob("*.json")
):
    target = Path("share/training-zoo") / path.parent.relative_to(HERE)
    data_files.append((str(target), [str(path.relative_to(HERE))]))
for path in sorted(LABEXT.rglob("*")) if LABEXT.exists() else []:
    if path.is_file():
        target = Path("share/jupyter/labextensions/training-zoo") / path.parent.relative_to(LABEXT)
        data_files.append((str(target), [str(path.relative_to(HERE))]))

setup(
    package_dir={"": "extensions"},
    packages=find_packages("extensions"),
    package_data={
        "training_zoo": [
            "service/openapi.yaml",
            "db/migrations/*",
            "db/migrations/versions/*.py",
        ]
    },
    # The built labextension ships once, as data files (below), not inside the package.
    exclude_package_data={"training_zoo": ["labextension/*", "labextension/**/*"]},
    data_files=data_files,
)
