"""ORM classes of the TZ metadata store.

Kept apart from the domain packages so ``training_zoo.models`` can mean the model registry.
Timestamps are naive UTC ``datetime`` values (what SQLite and MySQL store alike).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One training job: its spec, where it is in its lifecycle, and the backend's handle on it."""

    __tablename__ = "tz_jobs"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(63))
    framework: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    spec: Mapped[dict] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backend: Mapped[str] = mapped_column(String(32))
    # Whatever the backend needs to find the job again after a restart (pids, object names).
    backend_state: Mapped[dict] = mapped_column(JSON, default=dict)
    cloned_from: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The owner's JupyterHub groups when submitted: they decide the team queue on Kubernetes, and
    # a retry or a restart must not move the job to another team.
    groups: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    events: Mapped[list[JobEvent]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobEvent.id"
    )


class JobEvent(Base):
    """Something that happened to a job, and why (Kubernetes-event style)."""

    __tablename__ = "tz_job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("tz_jobs.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime)
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)

    job: Mapped[Job] = relationship(back_populates="events")
