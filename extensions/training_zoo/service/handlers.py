"""Service-wide handlers: ``GET /api/v1/`` (version, backends, caller) and Prometheus
``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .._version import __version__
from ..identity import ADMIN_SCOPE
from .base import TzAPIHandler


class RootHandler(TzAPIHandler):
    # Any valid token may ask who it is; scopes are listed so clients can adapt their UI.
    required_scopes = {"GET": "custom:tz:jobs:read"}

    async def get(self) -> None:
        """``{"version", "backends": {"jobs": ...}, "user": {...}}``."""
        self.write_json({
            "version": __version__,
            "backends": {"jobs": self.settings["tz_jobs"].backend.name},
            "user": self.identity.to_dict(),
        })  # fmt: skip


class PrometheusHandler(TzAPIHandler):
    required_scopes = {"GET": ADMIN_SCOPE}

    async def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self.settings["tz_registry"]))
