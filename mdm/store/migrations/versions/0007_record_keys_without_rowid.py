"""the record-key index in two B-trees: record_key and key_count without a rowid (SQLite), and
record_key's index by key first

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX, OLD_COLUMNS = "ix_record_key_entity_key", ["entity", "key"]
NEW_INDEX, NEW_COLUMNS = "ix_record_key_key_entity", ["key", "entity"]


def upgrade() -> None:
    # The rows are kept (copied in primary-key order on SQLite): the next run needs no rebuild.
    # PostgreSQL tables have no rowid: there only the index changes.
    if op.get_bind().dialect.name == "sqlite":
        _copy_tables(with_rowid=False)
        op.create_index(NEW_INDEX, "record_key", NEW_COLUMNS, unique=False)
    else:
        op.drop_index(OLD_INDEX, table_name="record_key")
        op.create_index(NEW_INDEX, "record_key", NEW_COLUMNS, unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _copy_tables(with_rowid=True)
        op.create_index(OLD_INDEX, "record_key", OLD_COLUMNS, unique=False)
    else:
        op.drop_index(NEW_INDEX, table_name="record_key")
        op.create_index(OLD_INDEX, "record_key", OLD_COLUMNS, unique=False)


def _copy_tables(*, with_rowid: bool) -> None:
    """record_key and key_count made again as SQLite tables with or without a rowid, their
    rows copied (record_key without its secondary index: the caller creates it)."""
    # The driver begins a transaction before a change of rows, not before DDL, which it would
    # commit at once: begun here, the tables are swapped all at once or not at all.
    driver = op.get_bind().connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        op.execute("BEGIN")
    op.create_table(
        "_record_key_new",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "key"),
        sqlite_with_rowid=with_rowid,
    )
    op.create_table(
        "_key_count_new",
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "key"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        "INSERT INTO _record_key_new (record_id, key, entity) "
        "SELECT record_id, key, entity FROM record_key ORDER BY record_id, key"
    )
    op.execute(
        "INSERT INTO _key_count_new (entity, key, records) "
        "SELECT entity, key, records FROM key_count ORDER BY entity, key"
    )
    op.drop_table("record_key")  # and its index
    op.drop_table("key_count")
    op.rename_table("_record_key_new", "record_key")
    op.rename_table("_key_count_new", "key_count")
