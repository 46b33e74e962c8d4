"""xref by record id: the lineage export finds each lineage row's source and key through it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:30:00
"""

from collections.abc import Sequence

from alembic import op

from mdm.store.database import is_analyzed

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The export's lineage names the source and key of each row's record while the record is live:
# its xref row, found by the record id. The index holds the source and key too (SQLite reads
# them from the index alone); without it the export looked the record up, then its xref row
# by key: two lookups in wide tables for each of millions of lineage rows.
NAME, COLUMNS = "ix_xref_record", ["record_id", "source", "source_key"]


def upgrade() -> None:
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.create_index(NAME, COLUMNS, unique=False)
    connection = op.get_bind()
    if connection.dialect.name == "sqlite" and is_analyzed(connection):
        connection.exec_driver_sql(f"ANALYZE {NAME}")  # as 0012: no index without statistics


def downgrade() -> None:
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.drop_index(NAME)
