"""The "shapes" dataset of the model tests: 16x16 images whose colour is their class.

Small enough to train a CNN on CPU in seconds, real enough to go through every step a user's data
takes: uploaded to the workspace, added to a dataset, labeled, split and published as V001.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = ("blue", "green", "red")
PER_CLASS, TEST_PER_CLASS = 24, 8
JOBS = Path(__file__).parent / "jobs"  # train_shapes.py and shapes_model.py


def image(label: str, i: int) -> bytes:
    rng = np.random.default_rng(hash((label, i)) % 2**32)
    pixels = rng.integers(0, 90, size=(16, 16, 3))
    pixels[..., 2 - LABELS.index(label)] += 150  # red -> channel 0, green 1, blue 2
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def files() -> dict[str, tuple[bytes, str, str]]:
    """``{path: (png bytes, label, usage)}``."""
    return {
        f"{label}/{i:02d}.png": (image(label, i), label, "test" if i < TEST_PER_CLASS else "train")
        for label in LABELS
        for i in range(PER_CLASS)
    }


def publish(client, space: str, folder: str = "shapes-src", name: str = "shapes") -> dict:
    """Upload, label, split and publish the dataset as ``V001`` with an ``ApiClient``."""
    data = files()
    for path, (png, _, _) in data.items():
        s = client.post("/uploads", json={"space": space, "path": f"{folder}/{path}",
                                          "size": len(png)}).json()  # fmt: skip
        assert client.put(f"/uploads/{s['id']}/parts/1", data=png).status_code == 200
        assert client.post(f"/uploads/{s['id']}/complete").status_code == 200
    r = client.post("/datasets", json={"name": name, "type": "image_classification",
                                       "labels": list(LABELS)})  # fmt: skip
    assert r.status_code == 201, r.text
    ds = r.json()
    r = client.post(f"/datasets/{ds['id']}/files",
                    json={"source": "workspace", "space": space, "path": folder})  # fmt: skip
    assert r.status_code == 201, r.text
    rows = client.get(f"/datasets/{ds['id']}/files", params={"limit": 200}).json()["items"]
    for f in rows:
        _, label, usage = data[f["key"]]
        r = client.post(f"/datasets/{ds['id']}/files/annotations", json={
            "key": f["key"], "revision": f["revision"], "annotations": {"labels": [label]},
            "usage": usage})  # fmt: skip
        assert r.status_code == 200, r.text
    r = client.post(f"/datasets/{ds['id']}/publish", json={"note": "shapes"})
    assert r.status_code == 201, r.text
    return ds


def train(client, space: str, work: Path) -> dict:
    """Publish ``shapes:V001`` and train ``shapes-cnn`` on it with a 2-process DDP job.

    Returns the finished job once its model is registered: registration follows the job's
    success (a finish hook), so a client can see "succeeded" a moment before the version.
    """
    publish(client, space)
    for name in ("train_shapes.py", "shapes_model.py"):
        (work / name).write_text((JOBS / name).read_text())
    job = client.submit(name="train-shapes", entry="train_shapes.py", args=["40"],
                        snapshot=client.snapshot(work), procs_per_node=2,
                        datasets=["shapes:V001"])  # fmt: skip
    done = client.wait(job["id"], timeout=300)
    assert done["status"] == "succeeded", client.logs(job["id"])
    deadline = time.monotonic() + 60
    while client.get("/models/resolve", params={"ref": "shapes-cnn:1"}).status_code != 200:
        assert time.monotonic() < deadline, client.events(job["id"])
        time.sleep(0.5)
    return done
