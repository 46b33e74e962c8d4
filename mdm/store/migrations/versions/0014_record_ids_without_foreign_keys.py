"""xref and lineage name their record versions without a declared foreign key

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mdm.store.database import is_analyzed, run_indexes_selective

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A run writes millions of lineage rows and an xref row per record, each naming a record
# version the same transaction read; versions are never deleted. The declared foreign key made
# the database look each of them up in source_record, the largest table (its rows hold the
# attributes): on SQLite a third of the time of writing lineage at a million records, on
# PostgreSQL a trigger per row. ``mdm check`` verifies what it verified, and more.
TABLES = ("lineage", "xref")
# SQLite's foreign keys have no name: named by this convention, batch mode can drop them.
CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        if connection.dialect.name == "sqlite":
            _begin()
            with op.batch_alter_table(table, naming_convention=CONVENTION) as batch_op:
                batch_op.drop_constraint(_sqlite_name(table), type_="foreignkey")
        else:
            op.drop_constraint(_record_foreign_key(connection, table), table, type_="foreignkey")
    if connection.dialect.name == "sqlite" and is_analyzed(connection):
        # The copied tables' indexes are new: as 0012, they are analyzed, and the run indexes
        # among them told as a full run tells them.
        for table in TABLES:
            connection.exec_driver_sql(f"ANALYZE {table}")
        run_indexes_selective(connection)


def downgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        if connection.dialect.name == "sqlite":
            _begin()
            with op.batch_alter_table(table, naming_convention=CONVENTION) as batch_op:
                batch_op.create_foreign_key(
                    _sqlite_name(table), "source_record", ["record_id"], ["id"]
                )
        else:
            op.create_foreign_key(None, table, "source_record", ["record_id"], ["id"])


def _sqlite_name(table: str) -> str:
    return CONVENTION["fk"] % {
        "table_name": table,
        "column_0_name": "record_id",
        "referred_table_name": "source_record",
    }


def _record_foreign_key(connection: sa.Connection, table: str) -> str:
    """The name PostgreSQL gave the foreign key from ``table.record_id`` to source_record."""
    for found in sa.inspect(connection).get_foreign_keys(table):
        if found["referred_table"] == "source_record" and found["constrained_columns"] == [
            "record_id"
        ]:
            return str(found["name"])
    raise RuntimeError(f"{table} has no foreign key from record_id to source_record")


def _begin() -> None:
    # As 0007: the driver begins a transaction before a change of rows, not before DDL, which
    # it would commit at once; begun here, the table is swapped all at once or not at all.
    driver = op.get_bind().connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        op.execute("BEGIN")
