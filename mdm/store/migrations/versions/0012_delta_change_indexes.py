"""indexes for what changed since a mark: the versions loaded after the resolution mark, the
golden records and xref rows a run changed (what a nightly export patches), and the review
items by their right-hand record

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

from alembic import op

from mdm.store.database import is_analyzed, run_indexes_selective

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A nightly run reads the versions of an entity loaded after its resolution mark, and its
# export the golden records and xref rows changed after the previous export's run: without
# these indexes each is a scan of the whole master (or of every record after the mark, those
# of the other entity included). A delta also reads the open review items its records are in,
# on either side: the right side was a scan of every open item.
INDEXES = {
    "source_record": {"ix_source_record_entity_id": ["entity", "id"]},
    "golden_account": {"ix_golden_account_updated_run": ["updated_run"]},
    "golden_contact": {"ix_golden_contact_updated_run": ["updated_run"]},
    "xref": {"ix_xref_run": ["run_id"]},
    # The open review items a changed record is in, found by their right side as well.
    "review_item": {"ix_review_item_right": ["entity", "right_source", "right_key"]},
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)
    connection = op.get_bind()
    if connection.dialect.name == "sqlite" and is_analyzed(connection):
        # A store analyzed by an earlier version: SQLite plans badly with an index that has no
        # statistics beside others that have (it took (entity, is_current) over the record's
        # key), so the new ones are analyzed, and the run indexes told as a full run tells them.
        for indexes in INDEXES.values():
            for name in indexes:
                connection.exec_driver_sql(f"ANALYZE {name}")
        run_indexes_selective(connection)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
