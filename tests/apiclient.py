"""``ApiClient``: a requests session on the TZ REST API that checks every answer's shape.

Every response is checked for a JSON body and, on errors, for the ``{"message", "reason"}`` shape
with no traceback (after JupyterHub's ``tests/utils.api_request``).
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

FINAL = {"succeeded", "failed", "cancelled"}
# Successful answers that are bytes, not JSON (downloads, thumbnails, manifests).
BINARY_TYPES = ("application/octet-stream", "application/zip", "image/", "application/jsonl",
                "text/csv")


class ApiClient:
    def __init__(self, base: str, token: str | None) -> None:
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        r = self.session.request(method, self.base + path, timeout=60, **kwargs)
        binary = r.headers.get("Content-Type", "").startswith(BINARY_TYPES) and r.ok
        if "event-stream" not in r.headers.get("Content-Type", "") and r.status_code != 204 \
                and not binary:  # fmt: skip
            if r.headers.get("Content-Type", "").startswith("application/json"):
                body = r.json()
                if r.status_code >= 400:
                    assert set(body) <= {"message", "reason", "errors"}, body
                    assert "Traceback" not in body["message"], body
            elif not path.endswith("/metrics") or "api/v1" in self.base + path:
                raise AssertionError(
                    f"{method} {path}: non-JSON answer {r.status_code} {r.text[:200]}"
                )
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def snapshot(self, folder: Path) -> str:
        from training_zoo.snapshot import pack_directory

        r = self.post(
            "/snapshots", data=pack_directory(folder), headers={"Content-Type": "application/gzip"}
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def submit(self, **spec) -> dict:
        r = self.post("/jobs", json=spec)
        assert r.status_code == 201, r.text
        return r.json()

    def wait(self, job_id: str, statuses=FINAL, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")

    def logs(self, job_id: str, rank: int | None = None) -> list[str]:
        params = {} if rank is None else {"rank": rank}
        return [i["line"] for i in self.get(f"/jobs/{job_id}/logs", params=params).json()["items"]]

    def events(self, job_id: str) -> list[dict]:
        return self.get(f"/jobs/{job_id}/events").json()["items"]
