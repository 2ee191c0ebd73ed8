"""job lineage: the exact dataset versions each job was given

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tz_job_datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id",
            sa.String(80),
            sa.ForeignKey("tz_jobs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("dataset_id", sa.String(16), nullable=False, index=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("manifest_key", sa.Text, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tz_job_datasets")
