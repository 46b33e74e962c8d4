"""per-source sync feeds: an outbox of changes per source with a sequence number, the batches
each publish wrote, how far each source has acknowledged, and the state each source was last
published (the golden id and values it is taken to hold per record, the contacts it was asked
to create)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publish_cursor",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("acked_seq", sa.BigInteger(), nullable=False),
        sa.Column("acked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "publish_batch",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("source", "batch"),
    )
    op.create_table(
        "publish_outbox",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("change", AutoString(length=8), nullable=False),
        sa.Column("action", AutoString(length=16), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=True),
        sa.Column("golden_id", AutoString(length=32), nullable=True),
        sa.Column("previous_id", AutoString(length=32), nullable=True),
        sa.Column("other_ids", sa.Text(), nullable=True),
        sa.Column("account_key", AutoString(length=512), nullable=True),
        sa.Column("attribute", AutoString(length=64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("lineage_source", AutoString(length=128), nullable=True),
        sa.Column("lineage_key", AutoString(length=512), nullable=True),
        sa.Column("lineage_rule", AutoString(length=64), nullable=True),
        sa.Column("lineage_run", sa.Integer(), nullable=True),
        sa.Column("lineage_modified", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", "seq"),
    )
    op.create_table(
        "publish_state",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("held", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("source", "entity", "source_key"),
    )
    op.create_table(
        "publish_created",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("account_key", AutoString(length=512), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "entity", "golden_id"),
    )


def downgrade() -> None:
    op.drop_table("publish_created")
    op.drop_table("publish_state")
    op.drop_table("publish_outbox")
    op.drop_table("publish_batch")
    op.drop_table("publish_cursor")
