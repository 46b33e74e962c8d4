"""indexes for what a nightly run looks up: its own records and memberships, the latest time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A delta run reads the records it wrote, the memberships it opened or closed, and the latest
# modification time of live records (survivorship's 'now'): without these indexes each is a
# scan of the whole master.
INDEXES = {
    "source_record": {
        "ix_source_record_run": ["run_id", "entity"],
        "ix_source_record_modified": ["entity", "last_modified"],
    },
    "membership": {
        "ix_membership_from_run": ["from_run"],
        "ix_membership_to_run": ["to_run"],
    },
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
