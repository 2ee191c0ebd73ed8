"""ORM classes of the TZ metadata store.

Kept apart from the domain packages so ``training_zoo.models`` can mean the model registry.
Timestamps are naive UTC ``datetime`` values (what SQLite and MySQL store alike).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    datasets: Mapped[list[JobDataset]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobDataset.position"
    )
    models: Mapped[list[JobModel]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobModel.position"
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


class JobDataset(Base):
    """Lineage: one exact dataset version a job was given (resolved once, at submit).

    No foreign key to the dataset: deleting a dataset must not rewrite the history of the jobs
    (and models) that used it; owner, name and version are kept as they were.
    """

    __tablename__ = "tz_job_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("tz_jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(255))
    dataset_id: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(16))
    manifest_key: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))

    job: Mapped[Job] = relationship(back_populates="datasets")


class JobModel(Base):
    """Lineage: one exact model version a job was given as input (resolved once, at submit).

    Like :class:`JobDataset`, no foreign key: deleting a model keeps the jobs' history.
    """

    __tablename__ = "tz_job_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("tz_jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(255))
    model_id: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    prefix: Mapped[str] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="models")


class Dataset(Base):
    """A dataset: its metadata, its draft's counters, and the counter that numbers its versions."""

    __tablename__ = "tz_datasets"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_tz_datasets_owner_name"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[str | None] = mapped_column(String(255), nullable=True)
    visibility: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    labels: Mapped[list] = mapped_column(JSON, default=list)
    # Bumped by every change to the draft (files, annotations); copied onto a published version.
    draft_revision: Mapped[int] = mapped_column(Integer, default=0)
    # The last version number handed out. Publishing increments it in place (an atomic UPDATE on
    # this one row), which both numbers the version and serialises publishers of this dataset.
    version_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped whenever the blob collector marks blobs of this dataset for deletion: a request
    # that reused blobs checks it did not change before it commits references to them.
    blob_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


class DatasetBlobGarbage(Base):
    """A blob that lost a draft reference (file removed or replaced): a candidate for deletion
    once it has been unreferenced for the grace period (see ``datasets.garbage``)."""

    __tablename__ = "tz_dataset_blob_garbage"

    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("tz_datasets.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime] = mapped_column(DateTime)
    # Set while the collector deletes the blob; a stale mark is a collector that died.
    deleting_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DatasetFile(Base):
    """One file of a dataset's draft, with its annotations and a revision for optimistic locking."""

    __tablename__ = "tz_dataset_files"
    # Keys are up to 1024 bytes: too long for a MySQL unique index (3072 bytes in utf8mb4), so
    # uniqueness is on the key's sha256.
    __table_args__ = (
        UniqueConstraint("dataset_id", "key_hash", name="uq_tz_dataset_files_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("tz_datasets.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    usage: Mapped[str | None] = mapped_column(String(8), nullable=True)
    annotations: Mapped[dict] = mapped_column(JSON, default=dict)
    labeled: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(255))
    updated: Mapped[datetime] = mapped_column(DateTime)


class DatasetVersion(Base):
    """An immutable published version; its manifest is in storage and its sha256 is here."""

    __tablename__ = "tz_dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "number", name="uq_tz_dataset_versions_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("tz_datasets.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    draft_revision: Mapped[int] = mapped_column(Integer)
    stats: Mapped[dict] = mapped_column(JSON)


class Model(Base):
    """A registered model: its metadata and the counter that numbers its versions."""

    __tablename__ = "tz_models"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_tz_models_owner_name"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    task: Mapped[str] = mapped_column(String(32))
    team: Mapped[str | None] = mapped_column(String(255), nullable=True)
    visibility: Mapped[str] = mapped_column(String(16))
    # The last version number handed out (an atomic UPDATE on this row numbers a new version and
    # serialises registrations and stage moves of this model).
    version_seq: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


class ModelVersion(Base):
    """An immutable model version: files in storage under ``prefix``, and what they are."""

    __tablename__ = "tz_model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "number", name="uq_tz_model_versions_number"),
        # Equal to model_id while the version is in production and NULL otherwise: the database
        # itself refuses a second production version of one model, whatever races above it.
        UniqueConstraint("production_of", name="uq_tz_model_versions_production"),
        # "Models with a version in stage X" (the Models panel's stage filter).
        Index("ix_tz_model_versions_stage_model", "stage", "model_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(
        ForeignKey("tz_models.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    prefix: Mapped[str] = mapped_column(Text)
    version_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(32))
    framework: Mapped[str] = mapped_column(String(64), default="")
    framework_version: Mapped[str] = mapped_column(String(64), default="")
    artifact: Mapped[str] = mapped_column(Text)
    signature: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    labels: Mapped[list] = mapped_column(JSON, default=list)
    preprocess: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    builder: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    card: Mapped[str] = mapped_column(Text, default="")
    stage: Mapped[str] = mapped_column(String(16), default="none")
    production_of: Mapped[str | None] = mapped_column(String(16), nullable=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    files: Mapped[list] = mapped_column(JSON)
    # Where the files came from: {"kind": "job"|"workspace"|"conversion", ...}.
    source: Mapped[dict] = mapped_column(JSON)
    job_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("tz_model_versions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    conversion: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The producing job's lineage copied at registration (job, datasets, code snapshot, image,
    # arguments), so deleting the job later does not erase where the model came from.
    lineage: Mapped[dict] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(255))


class ModelStageEvent(Base):
    """One stage move of a model version (who, when, from, to, why)."""

    __tablename__ = "tz_model_stage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(
        ForeignKey("tz_models.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(255))
    time: Mapped[datetime] = mapped_column(DateTime)
    comment: Mapped[str] = mapped_column(Text, default="")


class ModelRun(Base):
    """A conversion or evaluation of a model version, run as a tracked job."""

    __tablename__ = "tz_model_runs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(
        ForeignKey("tz_models.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    dataset: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    result_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    speed: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
