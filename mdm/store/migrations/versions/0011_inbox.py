"""the inbox of records submitted through the REST API to inbox sources: each submission as
it was sent, pending until the run that ingests it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_by", AutoString(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inbox_record_pending", "inbox_record", ["source", "run_id", "id"], unique=False
    )
    op.create_index(
        "ix_inbox_record_key", "inbox_record", ["source", "source_key", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_record_key", table_name="inbox_record")
    op.drop_index("ix_inbox_record_pending", table_name="inbox_record")
    op.drop_table("inbox_record")
