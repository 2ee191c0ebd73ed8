"""models: registry, versions, stage history, conversion/evaluation runs; job model inputs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _fk(table: str, column: str = "id", ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.{column}", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "tz_job_models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(80), _fk("tz_jobs"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("model_id", sa.String(16), nullable=False, index=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
    )
    op.create_table(
        "tz_models",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, index=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("team", sa.String(255), nullable=True),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("version_seq", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_tz_models_owner_name"),
    )
    op.create_table(
        "tz_model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(16), _fk("tz_models"), nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("version_name", sa.String(255), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("framework", sa.String(64), nullable=False),
        sa.Column("framework_version", sa.String(64), nullable=False),
        sa.Column("artifact", sa.Text, nullable=False),
        sa.Column("signature", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("preprocess", sa.JSON, nullable=True),
        sa.Column("builder", sa.JSON, nullable=True),
        sa.Column("card", sa.Text, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("production_of", sa.String(16), nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(80), nullable=True, index=True),
        sa.Column(
            "parent_id",
            sa.Integer,
            _fk("tz_model_versions", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("conversion", sa.JSON, nullable=True),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("model_id", "number", name="uq_tz_model_versions_number"),
        sa.UniqueConstraint("production_of", name="uq_tz_model_versions_production"),
    )
    op.create_index(
        "ix_tz_model_versions_stage_model", "tz_model_versions", ["stage", "model_id"]
    )
    op.create_table(
        "tz_model_stage_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(16), _fk("tz_models"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=False),
        sa.Column("to_stage", sa.String(16), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("time", sa.DateTime, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )
    op.create_table(
        "tz_model_runs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_id", sa.String(16), _fk("tz_models"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("job_id", sa.String(80), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("dataset", sa.JSON, nullable=True),
        sa.Column("result_version", sa.Integer, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=True),
        sa.Column("speed", sa.JSON, nullable=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("finished", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("tz_model_runs", "tz_model_stage_events", "tz_model_versions", "tz_models",
                  "tz_job_models"):  # fmt: skip
        op.drop_table(table)
