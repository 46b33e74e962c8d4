"""record keys and their counts: the index a nightly delta looks its records up in

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the next run: the pipeline's resolution basis names the index version, so a
    # store upgraded to this revision resolves everything once and builds the index.
    op.create_table(
        "record_key",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "key"),
    )
    with op.batch_alter_table("record_key", schema=None) as batch_op:
        batch_op.create_index("ix_record_key_entity_key", ["entity", "key"], unique=False)
    op.create_table(
        "key_count",
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "key"),
    )


def downgrade() -> None:
    op.drop_table("key_count")
    with op.batch_alter_table("record_key", schema=None) as batch_op:
        batch_op.drop_index("ix_record_key_entity_key")
    op.drop_table("record_key")
