"""history and stewardship

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 04:39:24.210445
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", AutoString(length=128), nullable=False),
        sa.Column("action", AutoString(length=32), nullable=False),
        sa.Column("target", AutoString(length=256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "match_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("left_source", AutoString(length=128), nullable=False),
        sa.Column("left_key", AutoString(length=512), nullable=False),
        sa.Column("right_source", AutoString(length=128), nullable=False),
        sa.Column("right_key", AutoString(length=512), nullable=False),
        sa.Column("decision", AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", AutoString(length=128), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("match_decision", schema=None) as batch_op:
        batch_op.create_index("ix_match_decision_active", ["entity", "active"], unique=False)

    op.create_table(
        "value_pin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("attribute", AutoString(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("pinned_by", AutoString(length=128), nullable=False),
        sa.Column("pinned_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("value_pin", schema=None) as batch_op:
        batch_op.create_index(
            "ix_value_pin_active", ["golden_id", "attribute", "active"], unique=False
        )

    op.create_table(
        "golden_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("event", AutoString(length=16), nullable=False),
        sa.Column("other_id", AutoString(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("golden_event", schema=None) as batch_op:
        batch_op.create_index("ix_golden_event_golden", ["golden_id", "id"], unique=False)

    op.create_table(
        "golden_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("golden_version", schema=None) as batch_op:
        batch_op.create_index("ix_golden_version", ["golden_id", "version"], unique=True)

    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("from_run", sa.Integer(), nullable=False),
        sa.Column("to_run", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_run"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_run"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index("ix_membership_golden", ["golden_id"], unique=False)
        batch_op.create_index(
            "ix_membership_record", ["source", "source_key", "from_run"], unique=False
        )

    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("left_source", AutoString(length=128), nullable=False),
        sa.Column("left_key", AutoString(length=512), nullable=False),
        sa.Column("right_source", AutoString(length=128), nullable=False),
        sa.Column("right_key", AutoString(length=512), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("levels", sa.Text(), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index("ix_review_item_open", ["entity", "status"], unique=False)
        batch_op.create_index(
            "ix_review_item_pair",
            ["entity", "left_source", "left_key", "right_source", "right_key"],
            unique=False,
        )

    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("beaten", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("group_name", AutoString(length=64), nullable=True))
        batch_op.alter_column("record_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_keys", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.drop_column("match_keys")

    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.alter_column("record_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("group_name")
        batch_op.drop_column("beaten")

    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index("ix_review_item_pair")
        batch_op.drop_index("ix_review_item_open")

    op.drop_table("review_item")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index("ix_membership_record")
        batch_op.drop_index("ix_membership_golden")

    op.drop_table("membership")
    with op.batch_alter_table("golden_version", schema=None) as batch_op:
        batch_op.drop_index("ix_golden_version")

    op.drop_table("golden_version")
    with op.batch_alter_table("golden_event", schema=None) as batch_op:
        batch_op.drop_index("ix_golden_event_golden")

    op.drop_table("golden_event")
    with op.batch_alter_table("value_pin", schema=None) as batch_op:
        batch_op.drop_index("ix_value_pin_active")

    op.drop_table("value_pin")
    with op.batch_alter_table("match_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_match_decision_active")

    op.drop_table("match_decision")
    op.drop_table("audit_log")
