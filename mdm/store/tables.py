"""The store's tables. Every change of schema comes with a migration in ``migrations/versions``.

Source records keep every version (a new row per change, the old one loses ``is_current``);
golden records, xref and lineage describe the master as of the latest run; redirects keep
merged-away golden ids meaningful.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class Run(SQLModel, table=True):
    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=32)
    status: str = Field(max_length=16, index=True)  # running | succeeded | failed
    started_at: datetime
    finished_at: datetime | None = None
    # The project file and rules as they were for this run, so results trace to their rules.
    config: str = Field(sa_column=Column(Text, nullable=False))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))


class SourceRecord(SQLModel, table=True):
    __tablename__ = "source_record"
    __table_args__ = (
        Index("ix_source_record_version", "source", "source_key", "version", unique=True),
        Index("ix_source_record_current", "source", "is_current"),
        Index("ix_source_record_entity_current", "entity", "is_current"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=128)
    entity: str = Field(max_length=16)
    source_key: str = Field(max_length=512)
    version: int
    is_current: bool
    deleted: bool
    content_hash: str = Field(max_length=64)
    last_modified: datetime | None = None
    run_id: int = Field(foreign_key="run.id")
    row_number: int | None = None
    # Canonical attribute values as read (JSON object); standardized forms are derived.
    attributes: str = Field(sa_column=Column(Text, nullable=False))


class GoldenAccount(SQLModel, table=True):
    __tablename__ = "golden_account"

    golden_id: str = Field(primary_key=True, max_length=32)
    name: str | None = None
    domain: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    tax_id: str | None = None
    status: str = Field(max_length=16, index=True)  # active | retired
    members: int
    content_hash: str = Field(max_length=64)
    created_run: int = Field(foreign_key="run.id")
    updated_run: int = Field(foreign_key="run.id")


class GoldenContact(SQLModel, table=True):
    __tablename__ = "golden_contact"

    golden_id: str = Field(primary_key=True, max_length=32)
    account_id: str | None = Field(default=None, max_length=32, index=True)
    account_link: str | None = Field(default=None, max_length=32)  # how account_id was found
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    title: str | None = None
    company: str | None = None
    status: str = Field(max_length=16, index=True)
    members: int
    content_hash: str = Field(max_length=64)
    created_run: int = Field(foreign_key="run.id")
    updated_run: int = Field(foreign_key="run.id")


class Xref(SQLModel, table=True):
    """Which golden record each live source record belongs to."""

    __tablename__ = "xref"

    source: str = Field(primary_key=True, max_length=128)
    source_key: str = Field(primary_key=True, max_length=512)
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32, index=True)
    record_id: int = Field(foreign_key="source_record.id")
    run_id: int = Field(foreign_key="run.id")


class Redirect(SQLModel, table=True):
    """A golden id merged into another keeps answering: it points to its survivor."""

    __tablename__ = "redirect"

    from_id: str = Field(primary_key=True, max_length=32)
    to_id: str = Field(max_length=32, index=True)
    entity: str = Field(max_length=16)
    run_id: int = Field(foreign_key="run.id")


class Lineage(SQLModel, table=True):
    """For each golden value: the source record it came from and the rule that chose it."""

    __tablename__ = "lineage"
    __table_args__ = (Index("ix_lineage_golden", "golden_id", "attribute"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32)
    attribute: str = Field(max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    record_id: int = Field(foreign_key="source_record.id")
    rule: str = Field(max_length=64)
    candidates: int
    run_id: int = Field(foreign_key="run.id")


class Quarantine(SQLModel, table=True):
    """A row a source sent that could not be loaded, with the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_run_source", "run_id", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    source: str = Field(max_length=128)
    location: str = Field(sa_column=Column(Text, nullable=False))
    row_number: int | None = None
    source_key: str | None = None
    column: str | None = Field(default=None, max_length=256)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))


GOLDEN_TABLES: dict[str, type[SQLModel]] = {"account": GoldenAccount, "contact": GoldenContact}
