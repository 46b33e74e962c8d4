"""initial store

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:34:28.524081
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command", AutoString(length=32), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_status"), ["status"], unique=False)

    op.create_table(
        "golden_account",
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("name", AutoString(), nullable=True),
        sa.Column("domain", AutoString(), nullable=True),
        sa.Column("phone", AutoString(), nullable=True),
        sa.Column("street", AutoString(), nullable=True),
        sa.Column("city", AutoString(), nullable=True),
        sa.Column("region", AutoString(), nullable=True),
        sa.Column("postcode", AutoString(), nullable=True),
        sa.Column("country", AutoString(), nullable=True),
        sa.Column("tax_id", AutoString(), nullable=True),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("created_run", sa.Integer(), nullable=False),
        sa.Column("updated_run", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_run"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_run"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("golden_id"),
    )
    with op.batch_alter_table("golden_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_golden_account_status"), ["status"], unique=False)

    op.create_table(
        "golden_contact",
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("account_id", AutoString(length=32), nullable=True),
        sa.Column("account_link", AutoString(length=32), nullable=True),
        sa.Column("first_name", AutoString(), nullable=True),
        sa.Column("last_name", AutoString(), nullable=True),
        sa.Column("email", AutoString(), nullable=True),
        sa.Column("phone", AutoString(), nullable=True),
        sa.Column("mobile", AutoString(), nullable=True),
        sa.Column("title", AutoString(), nullable=True),
        sa.Column("company", AutoString(), nullable=True),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("created_run", sa.Integer(), nullable=False),
        sa.Column("updated_run", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_run"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_run"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("golden_id"),
    )
    with op.batch_alter_table("golden_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_golden_contact_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_golden_contact_status"), ["status"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("source_key", AutoString(), nullable=True),
        sa.Column("column", AutoString(length=256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_quarantine_run_source", ["run_id", "source"], unique=False)

    op.create_table(
        "redirect",
        sa.Column("from_id", AutoString(length=32), nullable=False),
        sa.Column("to_id", AutoString(length=32), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("from_id"),
    )
    with op.batch_alter_table("redirect", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redirect_to_id"), ["to_id"], unique=False)

    op.create_table(
        "source_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("last_modified", UTCDateTime(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.create_index("ix_source_record_current", ["source", "is_current"], unique=False)
        batch_op.create_index(
            "ix_source_record_entity_current", ["entity", "is_current"], unique=False
        )
        batch_op.create_index(
            "ix_source_record_version", ["source", "source_key", "version"], unique=True
        )

    op.create_table(
        "lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("attribute", AutoString(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("rule", AutoString(length=64), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.create_index("ix_lineage_golden", ["golden_id", "attribute"], unique=False)

    op.create_table(
        "xref",
        sa.Column("source", AutoString(length=128), nullable=False),
        sa.Column("source_key", AutoString(length=512), nullable=False),
        sa.Column("entity", AutoString(length=16), nullable=False),
        sa.Column("golden_id", AutoString(length=32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["source_record.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("source", "source_key"),
    )
    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xref_golden_id"), ["golden_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("xref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xref_golden_id"))

    op.drop_table("xref")
    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.drop_index("ix_lineage_golden")

    op.drop_table("lineage")
    with op.batch_alter_table("source_record", schema=None) as batch_op:
        batch_op.drop_index("ix_source_record_version")
        batch_op.drop_index("ix_source_record_entity_current")
        batch_op.drop_index("ix_source_record_current")

    op.drop_table("source_record")
    with op.batch_alter_table("redirect", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redirect_to_id"))

    op.drop_table("redirect")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_run_source")

    op.drop_table("quarantine")
    with op.batch_alter_table("golden_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_golden_contact_status"))
        batch_op.drop_index(batch_op.f("ix_golden_contact_account_id"))

    op.drop_table("golden_contact")
    with op.batch_alter_table("golden_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_golden_account_status"))

    op.drop_table("golden_account")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_status"))

    op.drop_table("run")
