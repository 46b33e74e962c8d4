"""the steward workbench's search and queue: search keys of golden records (written for every
active golden record now, then by each run), the skipped review items indexed apart, and the
priority of review items made before runs computed it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GOLDEN = {"account": "golden_account", "contact": "golden_contact"}
BACKFILL_ROWS = 100_000  # golden records read at a time


def upgrade() -> None:
    op.create_table(
        "search_key",
        sa.Column("kind", AutoString(length=8), nullable=False),
        sa.Column(
            "term",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("kind", "term", "golden_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_key_golden", "search_key", ["golden_id"], unique=False)
    op.create_index(
        "ix_review_item_skipped",
        "review_item",
        ["status", "priority"],
        unique=False,
        sqlite_where=sa.text("skipped_at IS NOT NULL"),
        postgresql_where=sa.text("skipped_at IS NOT NULL"),
    )
    _search_keys()
    _priorities()


def downgrade() -> None:
    op.drop_index("ix_review_item_skipped", table_name="review_item")
    op.drop_index("ix_search_key_golden", table_name="search_key")
    op.drop_table("search_key")


def _search_keys() -> None:
    """The search keys of every active golden record, as a run writes them."""
    # The store's own function, so that what is found is what a run writes.
    from mdm.schema import Entity
    from mdm.store.bulk import read_frame
    from mdm.store.search import replace_search_keys

    connection = op.get_bind()
    for entity in Entity:
        table = sa.table(
            GOLDEN[entity],
            sa.column("golden_id"),
            sa.column("status"),
            *(sa.column(name) for name in _searched(entity)),
        )
        after = ""
        while True:
            statement = (
                sa.select(table)
                .where(table.c.status == "active", table.c.golden_id > after)
                .order_by(table.c.golden_id)
                .limit(BACKFILL_ROWS)
            )
            values = read_frame(connection, statement)
            if values.empty:
                break
            after = str(values["golden_id"].iloc[-1])
            replace_search_keys(connection, entity, [], values.set_index("golden_id"))


def _searched(entity: str) -> list[str]:
    if entity == "account":
        return ["name", "domain", "phone"]
    return ["first_name", "middle_name", "last_name", "email", "phone", "mobile"]


def _priorities() -> None:
    """Review items made before runs computed their priority get it: uncertainty times the
    members of the golden records of their two records (of the one, when it holds both),
    from xref as it is; two when a record is no longer in xref."""
    for entity, golden in GOLDEN.items():
        op.execute(
            sa.text(
                "UPDATE review_item SET priority = (1 - 2 * abs(probability - 0.5)) * COALESCE(("
                " SELECT CASE WHEN l.golden_id = r.golden_id THEN gl.members"
                " ELSE gl.members + gr.members END"
                f" FROM xref l, xref r, {golden} gl, {golden} gr"
                " WHERE l.source = review_item.left_source"
                " AND l.source_key = review_item.left_key"
                " AND r.source = review_item.right_source"
                " AND r.source_key = review_item.right_key"
                " AND gl.golden_id = l.golden_id AND gr.golden_id = r.golden_id"
                "), 2) WHERE priority IS NULL AND entity = :entity"
            ).bindparams(entity=entity)
        )
