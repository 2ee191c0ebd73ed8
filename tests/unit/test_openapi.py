"""openapi.yaml is the contract: it is valid, every route the service serves is documented, and
every documented route is served."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

from training_zoo.jobs.handlers import routes as job_routes

SPEC = Path(__file__).parents[2] / "extensions/training_zoo/service/openapi.yaml"


def documented() -> set[str]:
    spec = yaml.safe_load(SPEC.read_text())
    out = set()
    for path, item in spec["paths"].items():
        server = (item.get("servers") or [{"url": "/services/tz/api/v1"}])[0]["url"]
        out.add(server.rstrip("/") + ("" if path == "/" else path))
    return out


def served() -> set[str]:
    from training_zoo.service.app import TzService

    app = TzService.__new__(TzService)
    TzService.__init__(app)
    app.prefix = "/services/tz/"
    app.hub_auth = app.jobs = app.registry = None
    app.workspace = app.uploads = app.previews = app.datasets = None
    app.models = app.model_runs = None
    out = set()
    for rule in app.make_app().default_router.rules[0].target.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        if pattern == ".*":
            continue
        # (?P<job_id>...) -> {job_id}; (?P<action>cancel|clone) -> each action
        pattern = re.sub(r"\(\?P<(?!action)(\w+)>[^)]*\)", r"{\1}", pattern).replace("/?", "")
        m = re.search(r"\(\?P<action>([^)]*)\)", pattern)
        actions = m.group(1).split("|") if m else [None]
        for action in actions:
            out.add(re.sub(r"\(\?P<action>[^)]*\)", action, pattern) if action else pattern)
    return out


def test_openapi_is_valid():
    validate(yaml.safe_load(SPEC.read_text()))


def test_every_served_route_is_documented_and_back():
    assert served() == documented()


def test_job_routes_live_under_the_api_prefix():
    assert all(path.startswith("/x/") for path, _ in job_routes("/x"))
