"""datasets, their draft files and published versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tz_datasets",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, index=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("team", sa.String(255), nullable=True),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("draft_revision", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version_seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_tz_datasets_owner_name"),
    )
    op.create_table(
        "tz_dataset_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "dataset_id",
            sa.String(16),
            sa.ForeignKey("tz_datasets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("usage", sa.String(8), nullable=True),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("labeled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
        sa.UniqueConstraint("dataset_id", "key_hash", name="uq_tz_dataset_files_key"),
    )
    op.create_table(
        "tz_dataset_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "dataset_id",
            sa.String(16),
            sa.ForeignKey("tz_datasets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("draft_revision", sa.Integer, nullable=False),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.UniqueConstraint("dataset_id", "number", name="uq_tz_dataset_versions_number"),
    )


def downgrade() -> None:
    op.drop_table("tz_dataset_versions")
    op.drop_table("tz_dataset_files")
    op.drop_table("tz_datasets")
