"""Engine and session factory for the metadata store, brought to the latest schema with alembic.

The URL is configuration (``c.TzService.db_url``): ``sqlite:///...`` by default,
``mysql+pymysql://...`` for MySQL or TiDB in production.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # alembic's ini interpolation treats % specially; URLs may contain encoded passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every pending migration to the database at ``url``."""
    command.upgrade(alembic_config(url), "head")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers (log and status requests) proceed while the scheduler writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600)


def make_session_factory(url: str) -> sessionmaker[Session]:
    """Upgrade the schema, then return a session factory bound to ``url``."""
    upgrade(url)
    return sessionmaker(make_engine(url), expire_on_commit=False)
