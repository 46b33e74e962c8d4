"""the resolution watermark: how far each entity's loads have been resolved

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No rows: a store without a mark recomputes everything on its next run, which also
    # resolves whatever an earlier `mdm ingest` loaded and no run resolved.
    op.create_table(
        "resolution_mark",
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("entity"),
    )


def downgrade() -> None:
    op.drop_table("resolution_mark")
