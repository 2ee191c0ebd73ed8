"""alembic migrations build exactly the schema the ORM declares, on a fresh database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from training_zoo.db.orm import Base
from training_zoo.db.session import make_engine, make_session_factory, upgrade


def test_fresh_database_upgrades_to_the_orm_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'tz.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"tz_jobs", "tz_job_events", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_upgrading_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'tz.sqlite'}"
    make_session_factory(url)
    sessions = make_session_factory(url)
    with sessions() as db:
        assert db.get_bind().dialect.name == "sqlite"
