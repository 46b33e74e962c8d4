"""The store's tables. Every change of schema comes with a migration in ``migrations/versions``.

Source records keep every version (a new row per change, the old one loses ``is_current``);
golden records, xref and lineage describe the master as of the latest run; redirects keep
merged-away golden ids meaningful.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text, text
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel

from mdm.schema import Entity


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
        Index("ix_source_record_run", "run_id", "entity"),
        Index("ix_source_record_modified", "entity", "last_modified"),
        Index("ix_source_record_entity_id", "entity", "id"),
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
    # Canonical attribute values as read (JSON object).
    attributes: str = Field(sa_column=Column(Text, nullable=False))
    # Their match-key form (JSON object), computed once when the version is written, so a
    # nightly delta standardizes only what changed. Null: not computed yet.
    match_keys: str | None = Field(default=None, sa_column=Column(Text))


class GoldenAccount(SQLModel, table=True):
    __tablename__ = "golden_account"
    __table_args__ = (Index("ix_golden_account_updated_run", "updated_run"),)

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
    __table_args__ = (Index("ix_golden_contact_updated_run", "updated_run"),)

    golden_id: str = Field(primary_key=True, max_length=32)
    account_id: str | None = Field(default=None, max_length=32, index=True)
    account_link: str | None = Field(default=None, max_length=32)  # how account_id was found
    first_name: str | None = None
    middle_name: str | None = None
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
    __table_args__ = (
        Index("ix_xref_run", "run_id"),
        # The export's lineage finds a record's source and key here, from the index alone.
        Index("ix_xref_record", "record_id", "source", "source_key"),
    )

    source: str = Field(primary_key=True, max_length=128)
    source_key: str = Field(primary_key=True, max_length=512)
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32, index=True)
    # The current version of the record (``source_record.id``). Not a declared foreign key: a
    # run writes these rows in the transaction that read the versions, and versions are never
    # deleted, so the constraint only cost a probe into the largest table per row written
    # (``mdm check`` verifies that each row names its record's current version).
    record_id: int
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
    # The record version the value came from (``source_record.id``); None for a steward's pin.
    # Not a declared foreign key, as ``Xref.record_id``: lineage is written by the million in
    # the run that read those versions (``mdm check`` verifies each row names a member record).
    record_id: int | None = None
    rule: str = Field(max_length=64)
    candidates: int
    run_id: int = Field(foreign_key="run.id")
    # The other candidate values it won against, with their records (JSON array).
    beaten: str | None = Field(default=None, sa_column=Column(Text))
    # The attribute group it survived in with its siblings (e.g. address), if any.
    group_name: str | None = Field(default=None, max_length=64)


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


# ---- history, stewardship (revision 0002) ---------------------------------------------------


class GoldenEvent(SQLModel, table=True):
    """Every change of a golden record: created, updated, merged, split, retired, revived."""

    __tablename__ = "golden_event"
    __table_args__ = (Index("ix_golden_event_golden", "golden_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32)
    event: str = Field(max_length=16)
    other_id: str | None = Field(default=None, max_length=32)  # merge survivor, split origin
    detail: str | None = Field(default=None, sa_column=Column(Text))


class GoldenVersion(SQLModel, table=True):
    """Each version of a golden record, as it was written by a run."""

    __tablename__ = "golden_version"
    __table_args__ = (Index("ix_golden_version", "golden_id", "version", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32)
    version: int
    status: str = Field(max_length=16)
    members: int
    # The golden values (and a contact's account) as a JSON object.
    record: str = Field(sa_column=Column(Text, nullable=False))


class Membership(SQLModel, table=True):
    """Which golden record a source record belonged to, run by run (the history of xref)."""

    __tablename__ = "membership"
    __table_args__ = (
        Index("ix_membership_record", "source", "source_key", "from_run"),
        Index("ix_membership_golden", "golden_id"),
        Index("ix_membership_from_run", "from_run"),
        Index("ix_membership_to_run", "to_run"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    source: str = Field(max_length=128)
    source_key: str = Field(max_length=512)
    golden_id: str = Field(max_length=32)
    from_run: int = Field(foreign_key="run.id")
    to_run: int | None = Field(default=None, foreign_key="run.id")  # None: still a member


class MatchDecision(SQLModel, table=True):
    """A steward's decision on two source records; it binds every later run until revoked."""

    __tablename__ = "match_decision"
    __table_args__ = (Index("ix_match_decision_active", "entity", "active"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    left_source: str = Field(max_length=128)
    left_key: str = Field(max_length=512)
    right_source: str = Field(max_length=128)
    right_key: str = Field(max_length=512)
    decision: str = Field(max_length=16)  # must_link | cannot_link
    reason: str | None = Field(default=None, sa_column=Column(Text))
    decided_by: str = Field(max_length=128)
    decided_at: datetime
    active: bool = True


class ReviewItem(SQLModel, table=True):
    """A pair of source records the matcher was unsure about, waiting for a steward."""

    __tablename__ = "review_item"
    __table_args__ = (
        Index("ix_review_item_open", "entity", "status"),
        Index("ix_review_item_queue", "status", "priority"),
        # The skipped items only (revision 0009): the back of the queue, read in its order
        # without walking the others.
        Index(
            "ix_review_item_skipped",
            "status",
            "priority",
            sqlite_where=text("skipped_at IS NOT NULL"),
            postgresql_where=text("skipped_at IS NOT NULL"),
        ),
        Index(
            "ix_review_item_pair", "entity", "left_source", "left_key", "right_source", "right_key"
        ),
        Index("ix_review_item_right", "entity", "right_source", "right_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The run that found the pair: a later run that finds it again, its records unchanged,
    # keeps the item (one open item per pair) and brings its scores and priority up to date.
    run_id: int = Field(foreign_key="run.id")
    entity: str = Field(max_length=16)
    left_source: str = Field(max_length=128)
    left_key: str = Field(max_length=512)
    right_source: str = Field(max_length=128)
    right_key: str = Field(max_length=512)
    weight: float
    probability: float
    # Per comparison: its level label and weight (JSON), so the queue explains itself.
    levels: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)  # open | decided | gone (no longer a review pair)
    # Why an item left the queue without a decision (its records merged, split or changed).
    closed_reason: str | None = Field(default=None, sa_column=Column(Text))
    closed_at: datetime | None = None
    # How much deciding it helps: uncertainty (probability near 0.5) times impact (records the
    # decision would join or separate); the queue shows the highest first.
    priority: float | None = None
    # A steward passed over it: it goes to the back of the queue, still open.
    skipped_by: str | None = Field(default=None, max_length=128)
    skipped_at: datetime | None = None


class ValuePin(SQLModel, table=True):
    """A steward's value for one golden attribute; it overrides survivorship until unpinned."""

    __tablename__ = "value_pin"
    __table_args__ = (Index("ix_value_pin_active", "golden_id", "attribute", "active"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=16)
    golden_id: str = Field(max_length=32)
    attribute: str = Field(max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    pinned_by: str = Field(max_length=128)
    pinned_at: datetime
    active: bool = True


class AuditLog(SQLModel, table=True):
    """Every steward action, who did it and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor", "actor", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    target: str = Field(max_length=256)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class WebUser(SQLModel, table=True):
    """A person who signs in to the workbench: viewer, steward or admin."""

    __tablename__ = "web_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    role: str = Field(max_length=16)  # viewer | steward | admin
    password_hash: str = Field(sa_column=Column(Text, nullable=False))  # argon2id
    active: bool = True
    created_at: datetime
    disabled_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A machine's credential for the REST API, sent as ``Authorization: Bearer``. Only a
    hash of the token is kept: it is shown once, when created."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the token
    created_by: str = Field(max_length=128)
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class RecordKey(SQLModel, table=True):
    """The lookup keys of each live record: its blocking keys, the values its term-frequency
    comparisons weigh, and the names, domains and account references the pipeline looks up.

    Each key is a 64-bit hash of its text. A nightly delta finds a changed record's candidate
    partners, a value's frequency and a contact's account here, by index, instead of reading
    every record of the master.
    """

    __tablename__ = "record_key"
    # Two B-trees: the rows in primary-key order (by record), and the index by key (the key
    # first: an index sorted by its integer builds faster after a full load). No rowid.
    __table_args__ = (
        Index("ix_record_key_key_entity", "key", "entity"),
        {"sqlite_with_rowid": False},
    )

    record_id: int = Field(primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    entity: str = Field(max_length=16)


class KeyCount(SQLModel, table=True):
    """How many live records have each record key: a value's frequency and a block's size,
    read by key without counting the records."""

    __tablename__ = "key_count"
    __table_args__ = {"sqlite_with_rowid": False}  # the rows in primary-key order, no rowid

    entity: str = Field(max_length=16, primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    records: int


# Text compared byte by byte: on PostgreSQL in the "C" collation (SQLite compares bytes
# already), so that a range of terms is exactly the terms with a prefix, whatever the database's
# own collation.
BYTEWISE_TEXT: TypeEngine[str] = Text().with_variant(Text(collation="C"), "postgresql")


class SearchKey(SQLModel, table=True):
    """The terms a golden record is found by (revision 0009): its names folded (lower case,
    accents and punctuation out) from each word on, its email address, phones in E.164 and
    domain. Written by the run that writes the golden record; a merged or retired record has
    none. Read by term or by prefix of a term (the primary key), never scanned."""

    __tablename__ = "search_key"
    __table_args__ = (
        Index("ix_search_key_golden", "golden_id"),
        {"sqlite_with_rowid": False},  # the rows in primary-key order, no rowid
    )

    kind: str = Field(primary_key=True, max_length=8)  # name | email | phone | domain
    term: str = Field(sa_column=Column(BYTEWISE_TEXT, primary_key=True))
    golden_id: str = Field(primary_key=True, max_length=32)


GOLDEN_TABLES: dict[Entity, type[SQLModel]] = {
    Entity.ACCOUNT: GoldenAccount,
    Entity.CONTACT: GoldenContact,
}


class ResolutionMark(SQLModel, table=True):
    """How far each entity's loads have been resolved: the highest source-record id whose
    version the golden records reflect. A run resolves every version above it, whichever
    command loaded it (``mdm ingest`` loads without resolving)."""

    __tablename__ = "resolution_mark"

    entity: str = Field(primary_key=True, max_length=16)
    record_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    run_id: int = Field(foreign_key="run.id")


# ---- per-source sync feeds (revision 0010) --------------------------------------------------


class PublishCursor(SQLModel, table=True):
    """How far each source's feed has gone: the last sequence number written to its outbox
    and the last one the source acknowledged as applied."""

    __tablename__ = "publish_cursor"

    source: str = Field(primary_key=True, max_length=128)
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    acked_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    acked_at: datetime | None = None


class PublishBatch(SQLModel, table=True):
    """The changes one publish added to a source's outbox: a range of sequence numbers,
    computed from the master as of a run."""

    __tablename__ = "publish_batch"

    source: str = Field(primary_key=True, max_length=128)
    batch: int = Field(primary_key=True)
    first_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    run_id: int | None = Field(default=None, foreign_key="run.id")
    created_at: datetime


class PublishOutbox(SQLModel, table=True):
    """One change a source must make to agree with the master: its record's golden id
    (``xref``), a golden value it does not hold (``update``, with the value's lineage) or a
    golden contact to create under an account it holds (``create``)."""

    __tablename__ = "publish_outbox"

    source: str = Field(primary_key=True, max_length=128)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    batch: int
    change: str = Field(max_length=8)  # xref | update | create
    action: str = Field(max_length=16)  # new | changed | merged | split | retired | update | create
    entity: str = Field(max_length=16)
    source_key: str | None = Field(default=None, max_length=512)
    golden_id: str | None = Field(default=None, max_length=32)
    previous_id: str | None = Field(default=None, max_length=32)
    other_ids: str | None = Field(default=None, sa_column=Column(Text))  # JSON array
    account_key: str | None = Field(default=None, max_length=512)
    attribute: str | None = Field(default=None, max_length=64)
    value: str | None = Field(default=None, sa_column=Column(Text))
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    lineage_source: str | None = Field(default=None, max_length=128)
    lineage_key: str | None = Field(default=None, max_length=512)
    lineage_rule: str | None = Field(default=None, max_length=64)
    lineage_run: int | None = None
    lineage_modified: datetime | None = None


class PublishState(SQLModel, table=True):
    """What a source is taken to hold for each of its records after the changes published to
    it: the golden id, and its values (JSON) as read from the record version ``record_id``
    with the published updates applied."""

    __tablename__ = "publish_state"

    source: str = Field(primary_key=True, max_length=128)
    entity: str = Field(primary_key=True, max_length=16)
    source_key: str = Field(primary_key=True, max_length=512)
    golden_id: str = Field(max_length=32)
    record_id: int
    held: str = Field(sa_column=Column(Text, nullable=False))


class PublishCreated(SQLModel, table=True):
    """A golden record a source was asked to create, so that it is asked once."""

    __tablename__ = "publish_created"

    source: str = Field(primary_key=True, max_length=128)
    entity: str = Field(primary_key=True, max_length=16)
    golden_id: str = Field(primary_key=True, max_length=32)
    account_key: str | None = Field(default=None, max_length=512)
    batch: int


# ---- the inbox of submitted records (revision 0011) -----------------------------------------


class InboxRecord(SQLModel, table=True):
    """A record submitted to an inbox source through the REST API, as it was sent (its own
    field names), kept for good. The next run ingests the pending ones (``run_id`` null) as
    that source's delta and stamps them with its id in the same transaction, so that a run
    that dies leaves them pending and a run that commits never reads them again."""

    __tablename__ = "inbox_record"
    __table_args__ = (
        Index("ix_inbox_record_pending", "source", "run_id", "id"),
        Index("ix_inbox_record_key", "source", "source_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=128)
    source_key: str = Field(max_length=512)
    # The submitted object (JSON), its key field filled in when the store assigned the key.
    record: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime
    submitted_by: str = Field(max_length=128)
    run_id: int | None = Field(default=None, foreign_key="run.id")  # None: pending
