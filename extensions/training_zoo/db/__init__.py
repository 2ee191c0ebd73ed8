"""Metadata store: SQLAlchemy ORM classes (:mod:`.orm`) and sessions with alembic upgrades
(:mod:`.session`)."""
