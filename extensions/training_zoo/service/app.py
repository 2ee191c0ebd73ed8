"""``TzService``: the hub-managed TZ service (tornado on asyncio).

JupyterHub starts it (``c.JupyterHub.services`` with ``command``) and gives it
``JUPYTERHUB_SERVICE_URL`` (where to listen), ``JUPYTERHUB_SERVICE_PREFIX`` (``/services/tz/``) and
its own API token, with which ``HubAuth`` resolves callers' tokens. Configuration comes from
``tz_config.py`` (``c.TzJobManager...``, ``c.TzStorage...``) and ``TZ_*`` environment variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuth
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Application

from .._version import __version__
from ..datasets import handlers as dataset_handlers
from ..datasets import ws_handlers
from ..datasets.garbage import TzBlobCollector
from ..datasets.manager import TzDatasetManager
from ..datasets.previews import TzPreviews
from ..datasets.uploads import TzUploads
from ..datasets.workspace import TzWorkspace
from ..db.orm import Job
from ..db.session import make_session_factory
from ..jobs import handlers as job_handlers
from ..jobs.backends.kubernetes import TzKubernetesBackend
from ..jobs.backends.local import TzLocalBackend
from ..jobs.manager import TzJobManager
from ..k8s.catalog import TzCluster
from ..models import handlers as model_handlers
from ..models.manager import TzModelManager
from ..models.runner import TzModelRuns
from ..storage import TzStorage
from .base import NotFoundHandler
from .handlers import PrometheusHandler, RootHandler


def tz_home() -> str:
    return os.path.abspath(os.environ.get("TZ_HOME") or ".tz")


class JobCollector:
    """Job counts by status, read from the database at scrape time."""

    def __init__(self, sessions) -> None:  # type: ignore[no-untyped-def]
        self.sessions = sessions

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("tz_jobs", "TZ jobs by status", labels=["status"])
        with self.sessions() as db:
            for status, count in db.execute(select(Job.status, func.count()).group_by(Job.status)):
                family.add_metric([status], count)
        yield family


class TzService(Application):
    """The TZ service."""

    name = "tz-service"
    version = __version__
    description = "Training Zoo service: REST API v1 for jobs, the workspace, datasets and models."
    classes = [TzJobManager, TzLocalBackend, TzKubernetesBackend, TzCluster, TzStorage,
               TzWorkspace, TzUploads, TzPreviews, TzDatasetManager, TzBlobCollector,
               TzModelManager, TzModelRuns]  # fmt: skip

    config_file = Unicode(
        "tz_config.py",
        help="Python config file to load (``c.TzJobManager...``). Default: ``tz_config.py``.",
    ).tag(config=True)

    url = Unicode(
        help="""Where the service listens, e.g. ``http://127.0.0.1:10101``.

        Default: ``$JUPYTERHUB_SERVICE_URL`` (set by JupyterHub), else ``http://127.0.0.1:10101``.
        """,
    ).tag(config=True)

    @default("url")
    def _default_url(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    prefix = Unicode(
        help="URL prefix of the service. "
        "Default: ``$JUPYTERHUB_SERVICE_PREFIX`` or ``/services/tz/``."
    ).tag(config=True)

    @default("prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/tz/")

    db_url = Unicode(
        help="""SQLAlchemy URL of the metadata database.

        SQLite by default; ``mysql+pymysql://user:pass@host/tz`` for MySQL or TiDB. Migrations run
        at start. Default: ``$TZ_DB_URL`` or ``sqlite:///$TZ_HOME/tz.sqlite``.
        """,
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        return os.environ.get("TZ_DB_URL") or f"sqlite:///{os.path.join(tz_home(), 'tz.sqlite')}"

    hub_api_cache_seconds = Integer(
        60, help="Seconds a resolved token is cached before asking the hub again. Default: 60."
    ).tag(config=True)

    debug = Bool(False, help="Tornado debug mode (never in production). Default: False.").tag(
        config=True
    )

    aliases = {"config": "TzService.config_file", "db-url": "TzService.db_url",
               "url": "TzService.url", "log-level": "Application.log_level"}  # fmt: skip

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if os.path.exists(self.config_file):
            self.load_config_file(self.config_file)
        os.makedirs(tz_home(), exist_ok=True)
        self.init_logging()
        self.sessions = make_session_factory(self.db_url)
        self.storage = TzStorage(parent=self)
        self.jobs = TzJobManager(parent=self, storage=self.storage, session_factory=self.sessions)
        self.workspace = TzWorkspace(parent=self, storage=self.storage)
        self.uploads = TzUploads(parent=self, workspace=self.workspace)
        self.previews = TzPreviews(parent=self, storage=self.storage)
        self.datasets = TzDatasetManager(
            parent=self, storage=self.storage, session_factory=self.sessions,
            workspace=self.workspace, previews=self.previews,
        )  # fmt: skip
        self.jobs.datasets = self.datasets  # resolves the datasets=[...] of job specs
        self.models = TzModelManager(
            parent=self, storage=self.storage, session_factory=self.sessions,
            workspace=self.workspace, jobs=self.jobs, datasets=self.datasets,
        )  # fmt: skip
        self.model_runs = TzModelRuns(parent=self, registry=self.models, jobs=self.jobs)
        self.jobs.registry = self.models  # resolves the models=[...] of job specs
        self.jobs.finish_hooks.append(self.model_runs.on_job_finished)
        self.hub_auth = HubAuth(parent=self, cache_max_age=self.hub_api_cache_seconds)
        self.registry = CollectorRegistry()
        self.registry.register(JobCollector(self.sessions))
        self.requests = Counter(
            "tz_http_requests",
            "HTTP requests",
            ["method", "handler", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tz_http_request_seconds", "Request latency", ["handler"], registry=self.registry
        )
        self.web_app = self.make_app()

    def init_logging(self) -> None:
        self.log.propagate = False
        # tornado's access log would otherwise print query strings; tokens never go there
        # because HubAuth refuses tokens in URLs, but keep the access log terse anyway.
        for name in ("tornado.access", "tornado.application", "tornado.general"):
            logger = logging.getLogger(name)
            logger.handlers = self.log.handlers
            logger.setLevel(self.log.level)

    def log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        name = type(handler).__name__
        self.requests.labels(handler.request.method, name, str(status)).inc()
        self.latency.labels(name).observe(handler.request.request_time())
        level = self.log.warning if status >= 400 else self.log.debug
        level(
            "%s %s %s %.1fms",
            status,
            handler.request.method,
            handler.request.path,
            1000 * handler.request.request_time(),
        )

    def make_app(self) -> web.Application:
        prefix = "/" + self.prefix.strip("/") + "/"
        api = prefix + "api/v1"
        routes = [
            (rf"{api}/?", RootHandler),
            *job_handlers.routes(api),
            *ws_handlers.routes(api),
            *dataset_handlers.routes(api),
            *model_handlers.routes(api),
            (rf"{prefix}metrics", PrometheusHandler),
            (r".*", NotFoundHandler),
        ]
        return web.Application(
            routes,
            hub_auth=self.hub_auth,
            tz_jobs=self.jobs,
            tz_workspace=self.workspace,
            tz_uploads=self.uploads,
            tz_previews=self.previews,
            tz_datasets=self.datasets,
            tz_models=self.models,
            tz_model_runs=self.model_runs,
            tz_registry=self.registry,
            log=self.log,
            log_function=self.log_request,
            debug=self.debug,
            serve_traceback=False,
        )

    async def start_async(self) -> None:
        await self.jobs.start()
        await self.model_runs.reconcile()
        sweeper = asyncio.ensure_future(self.uploads.sweep_forever())
        assert self.datasets.collector is not None
        collector = asyncio.ensure_future(self.datasets.collector.run_forever())
        parsed = urlparse(self.url)
        server = HTTPServer(
            self.web_app, xheaders=True, max_body_size=self.jobs.max_snapshot_bytes + (1 << 20),
            # Upload parts arrive in reads of this size: 4x tornado's default means 4x fewer
            # wake-ups per gigabyte, for 256 KiB of buffer per connection.
            chunk_size=256 * 1024,
        )  # fmt: skip
        server.listen(parsed.port or 80, parsed.hostname or "127.0.0.1")
        self.log.info("TZ service %s listening on %s%s", __version__, self.url, self.prefix)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log.info("TZ service stopping; running jobs keep running")
        server.stop()
        sweeper.cancel()
        collector.cancel()
        await self.jobs.stop()

    def start(self) -> None:
        asyncio.run(self.start_async())


def main(argv: list[str] | None = None) -> None:
    app = TzService()
    app.initialize(argv)
    app.start()
