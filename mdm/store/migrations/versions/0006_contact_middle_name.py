"""golden contacts get a middle name (split from a source's full name, or mapped)

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for the golden contacts there are: the next run recomputes every golden record
    # (the match keys changed with this version), and fills it where members have one.
    with op.batch_alter_table("golden_contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("middle_name", AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("golden_contact", schema=None) as batch_op:
        batch_op.drop_column("middle_name")
