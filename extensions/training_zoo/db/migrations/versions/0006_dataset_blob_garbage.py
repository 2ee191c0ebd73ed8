"""datasets: blob garbage candidates and the collector's epoch on each dataset

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tz_datasets") as batch:
        batch.add_column(sa.Column("blob_epoch", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "tz_dataset_blob_garbage",
        sa.Column(
            "dataset_id",
            sa.String(16),
            sa.ForeignKey("tz_datasets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("deleting_since", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("tz_dataset_blob_garbage")
    with op.batch_alter_table("tz_datasets") as batch:
        batch.drop_column("blob_epoch")
