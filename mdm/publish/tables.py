"""The export's tables as queries: their rows, columns and order, the CSV escaping of their
cells, which cells are personal data, and the types their Parquet files declare.

The four tables every export writes give exactly the rows the export wrote when it built each
table as a pandas frame (and ``tests/test_export_bulk.py`` holds them to that): active golden
records by golden id, xref in the store's (entity, source, source_key) order, lineage with its
record's source and key by (entity, golden id, attribute). Sorting that pandas did is done by
code point here too: PostgreSQL sorts those columns in the "C" collation, whatever the
database's own. ``mdm export`` can add the contacts with their accounts' main fields and the
golden records' history (events and versions), and narrow every table with a filter
(``mdm.publish.filters``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import (
    Connection,
    FromClause,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import ColumnElement, Select

from mdm.publish.filters import (
    ResolvedFilter,
    golden_condition,
    history_condition,
    lineage_condition,
    xref_condition,
)
from mdm.schema import ATTRIBUTES, Entity, GoldenStatus, survived_attribute_names
from mdm.schema import Kind as AttributeKind
from mdm.store.bulk import table_of
from mdm.store.golden import golden_table
from mdm.store.tables import GoldenEvent, GoldenVersion, Lineage, Run, Xref

# The OWASP rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ... unless the cell is only a signed number (an E.164 phone, a negative amount): a number
# runs nothing, and escaping it would break every program that reads the file.
SIGNED_NUMBER_PATTERN = r"[+-]?[0-9]+(?:\.[0-9]+)?"
# The same as a whole-value match in the databases' regular expressions (Python's on SQLite,
# PostgreSQL's own): \A and \Z anchor at the ends of the value, never at a line break.
_SIGNED_NUMBER_SQL = rf"\A{SIGNED_NUMBER_PATTERN}\Z"
_AFTER_FORMULA_STARTS = "A"  # every one of FORMULA_STARTS sorts before it
_SIGNED_NUMBER = re.compile(SIGNED_NUMBER_PATTERN)

# Personal data: what ``--mask`` replaces by tokens (a person's names, emails, phones).
PERSONAL_KINDS = frozenset({AttributeKind.PERSON_NAME, AttributeKind.EMAIL, AttributeKind.PHONE})


class Extra(StrEnum):
    """Tables ``mdm export --include`` adds to the four every export writes."""

    ACCOUNT_CONTACTS = "account_contacts"  # each contact with its account's main fields
    HISTORY = "history"  # history_events and history_versions


class Kind(Enum):
    """What a column holds (the four tables: as the export's pandas frames held it)."""

    TEXT = "text"
    INTEGER = "integer"
    NULLABLE_INTEGER = "nullable integer"  # a pandas Int64 column: always typed, even empty
    TIMESTAMP = "timestamp"  # a moment in UTC
    BOOLEAN = "boolean"


class Personal(Enum):
    """Which of a column's cells are personal data."""

    NO = "no"
    VALUE = "value"  # every cell
    LINEAGE_VALUE = "lineage value"  # a lineage row's value, if its attribute is personal
    # A lineage row's beaten values (JSON), if its attribute is personal or it is in a group,
    # whose values join those of its attributes.
    LINEAGE_BEATEN = "lineage beaten"
    RECORD = "record"  # a golden version's values (JSON object): those of personal attributes


@dataclass(frozen=True)
class ExportColumn:
    name: str
    value: ColumnElement[Any]
    kind: Kind
    # Whether the frame the export used to build had a typed column here: the source table
    # holds a value in it (a frame's column of nothing but None had no type).
    typed: ColumnElement[bool] = field(default_factory=true)
    personal: Personal = Personal.NO


@dataclass(frozen=True)
class ExportTable:
    name: str
    columns: tuple[ExportColumn, ...]
    source: FromClause
    where: ColumnElement[bool]
    order_by: tuple[ColumnElement[Any], ...]
    dialect: str  # the store's database: "sqlite" or "postgresql"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def statement(
        self, *, spreadsheet_safe: bool = False, raw: frozenset[str] = frozenset()
    ) -> Select[Any]:
        """The table's rows in export order; ``spreadsheet_safe``: text cells escaped as the CSV
        export escapes them (see ``spreadsheet_safe_sql``), except those of the columns named
        in ``raw`` (which the export escapes itself once it has masked them)."""
        values = [
            (
                spreadsheet_safe_sql(column.value, self.dialect)
                if spreadsheet_safe and column.kind is Kind.TEXT and column.name not in raw
                else column.value
            ).label(column.name)
            for column in self.columns
        ]
        return select(*values).select_from(self.source).where(self.where).order_by(*self.order_by)

    def index(self, name: str) -> int:
        """The position of column ``name`` in the table's rows."""
        return self.column_names.index(name)


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet would run ``value`` as a formula: text that starts with one of
    ``FORMULA_STARTS`` and is not only a signed number (the rule ``spreadsheet_safe_sql``
    applies in the database)."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and _SIGNED_NUMBER.fullmatch(value) is None
    )


def escape_formula(value: Any) -> Any:
    """``value`` with a leading single quote if a spreadsheet would run it as a formula."""
    return "'" + value if is_formula_like(value) else value


def personal_attributes(entity: Entity) -> frozenset[str]:
    """The golden attributes of ``entity`` that are personal data."""
    return frozenset(
        attribute.name
        for attribute in ATTRIBUTES[entity]
        if attribute.survived and attribute.kind in PERSONAL_KINDS
    )


def spreadsheet_safe_sql(value: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``value`` with a leading single quote if a spreadsheet would run it as a formula: it
    starts with one of ``FORMULA_STARTS`` and is not only a signed number. The rule of
    ``mdm.publish.export.spreadsheet_safe``, computed by the database as it reads."""
    number = value.regexp_match(_SIGNED_NUMBER_SQL)
    if dialect == "sqlite":
        # SQLite's regular expressions are Python calls: a sign and digits (a phone number,
        # the common case by far) is found without one.
        signed_digits = and_(
            value.op("GLOB")("[+-][0-9]*"),
            not_(func.substr(value, 2).op("GLOB")("*[^0-9]*")),
        )
        number = or_(signed_digits, number)
    risky = and_(func.substr(value, 1, 1).in_(FORMULA_STARTS), not_(number))
    # Every formula start sorts before "A" (byte by byte): most cells pass this one cheap
    # comparison and are never looked at again.
    bytewise = value.collate("C") if dialect == "postgresql" else value
    return case(
        (bytewise >= _AFTER_FORMULA_STARTS, value),
        (risky, literal("'", String) + value),
        else_=value,
    )


def export_tables(
    connection: Connection,
    include: frozenset[Extra] = frozenset(),
    wanted: ResolvedFilter = ResolvedFilter(),
) -> list[ExportTable]:
    """accounts, contacts, xref and lineage, with the ``include``d tables, in the order the
    export writes them; with ``wanted``, the rows it keeps (one entity's tables only)."""
    tables = [_golden(connection, entity, wanted) for entity in Entity if wanted.has_entity(entity)]
    if Extra.ACCOUNT_CONTACTS in include and wanted.has_entity(Entity.CONTACT):
        tables.append(_account_contacts(connection, wanted))
    tables += [_xref(connection, wanted), _lineage(connection, wanted)]
    if Extra.HISTORY in include:
        tables += [_history_events(connection, wanted), _history_versions(connection, wanted)]
    return tables


def _code_point_order(connection: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` to sort by as Python sorts strings (SQLite's default already does)."""
    return column.collate("C") if connection.dialect.name == "postgresql" else column


def _has_value(source: FromClause, column: ColumnElement[Any]) -> ColumnElement[bool]:
    return exists().select_from(source).where(column.is_not(None))


def _kind_of(column: ColumnElement[Any]) -> Kind:
    return Kind.INTEGER if column.type.python_type is int else Kind.TEXT


def _golden(connection: Connection, entity: Entity, wanted: ResolvedFilter) -> ExportTable:
    table = golden_table(entity)
    leading = ["golden_id", *(["account_id", "account_link"] if entity is Entity.CONTACT else [])]
    names = [*leading, *survived_attribute_names(entity), "members", "created_run", "updated_run"]
    personal = personal_attributes(entity)
    columns = tuple(
        ExportColumn(
            name,
            table.c[name],
            _kind_of(table.c[name]),
            _has_value(table, table.c[name]),
            Personal.VALUE if name in personal else Personal.NO,
        )
        for name in names
    )
    return ExportTable(
        name="accounts" if entity is Entity.ACCOUNT else "contacts",
        columns=columns,
        source=table,
        where=and_(
            table.c.status == GoldenStatus.ACTIVE.value, golden_condition(table, entity, wanted)
        ),
        order_by=(_code_point_order(connection, table.c.golden_id),),
        dialect=connection.dialect.name,
    )


# An account's fields each row of account_contacts repeats: enough to group and read by.
ACCOUNT_MAIN_FIELDS = ("name", "domain", "phone", "city", "region", "country")


def _account_contacts(connection: Connection, wanted: ResolvedFilter) -> ExportTable:
    """One row per active golden contact, with its golden account's main fields (empty for a
    contact without an account), by account then contact. A filter keeps a contact if it or
    its account passes."""
    contact, account = golden_table(Entity.CONTACT), golden_table(Entity.ACCOUNT)
    joined = contact.outerjoin(
        account,
        and_(
            account.c.golden_id == contact.c.account_id,
            account.c.status == GoldenStatus.ACTIVE.value,
        ),
    )
    account_personal, contact_personal = (
        personal_attributes(Entity.ACCOUNT),
        personal_attributes(Entity.CONTACT),
    )

    def column(name: str, value: ColumnElement[Any], personal: bool) -> ExportColumn:
        return ExportColumn(
            name, value, _kind_of(value), personal=Personal.VALUE if personal else Personal.NO
        )

    columns = (
        column("account_id", contact.c.account_id, False),
        *(
            column(f"account_{name}", account.c[name], name in account_personal)
            for name in ACCOUNT_MAIN_FIELDS
        ),
        column("contact_id", contact.c.golden_id, False),
        column("account_link", contact.c.account_link, False),
        *(
            column(name, contact.c[name], name in contact_personal)
            for name in survived_attribute_names(Entity.CONTACT)
        ),
        column("members", contact.c.members, False),
        column("updated_run", contact.c.updated_run, False),
    )
    passes = or_(
        golden_condition(contact, Entity.CONTACT, wanted),
        and_(account.c.golden_id.is_not(None), golden_condition(account, Entity.ACCOUNT, wanted)),
    )
    order = (
        case((contact.c.account_id.is_(None), 1), else_=0),  # contacts without account last
        _code_point_order(connection, contact.c.account_id),
        _code_point_order(connection, contact.c.golden_id),
    )
    where = and_(contact.c.status == GoldenStatus.ACTIVE.value, passes)
    return ExportTable("account_contacts", columns, joined, where, order, connection.dialect.name)


def _xref(connection: Connection, wanted: ResolvedFilter) -> ExportTable:
    table = table_of(Xref)
    columns = tuple(
        ExportColumn(name, table.c[name], Kind.TEXT, _has_value(table, table.c[name]))
        for name in ("entity", "source", "source_key", "golden_id")
    )
    # The store's order, as the export always read it.
    order = (table.c.entity, table.c.source, table.c.source_key)
    where = xref_condition(table, wanted)
    return ExportTable("xref", columns, table, where, order, connection.dialect.name)


def _lineage(connection: Connection, wanted: ResolvedFilter) -> ExportTable:
    lineage, xref = table_of(Lineage), table_of(Xref)
    # A steward's pin has no record: its source and key stay empty; so do a superseded
    # version's. A live record's xref row holds its id (a key's xref row names the key's
    # current version, and no other), found by the index on it.
    joined = lineage.outerjoin(xref, xref.c.record_id == lineage.c.record_id)
    xref_rows = exists().select_from(xref)

    def own(name: str, kind: Kind, personal: Personal = Personal.NO) -> ExportColumn:
        return ExportColumn(
            name, lineage.c[name], kind, _has_value(lineage, lineage.c[name]), personal
        )

    columns = (
        own("entity", Kind.TEXT),
        own("golden_id", Kind.TEXT),
        own("attribute", Kind.TEXT),
        own("value", Kind.TEXT, Personal.LINEAGE_VALUE),
        ExportColumn("source", xref.c.source, Kind.TEXT, xref_rows),
        ExportColumn("source_key", xref.c.source_key, Kind.TEXT, xref_rows),
        own("record_id", Kind.NULLABLE_INTEGER),
        own("rule", Kind.TEXT),
        own("candidates", Kind.INTEGER),
        own("group_name", Kind.TEXT),
        own("beaten", Kind.TEXT, Personal.LINEAGE_BEATEN),
        own("run_id", Kind.INTEGER),
    )
    # By entity, golden id and attribute. A golden id's prefix names its entity (A-, C-, in
    # the entities' order), so on SQLite the golden id leads: the rows come in the order of
    # the index on (golden_id, attribute) instead of the whole lineage being sorted first.
    sorted_by = (
        ("golden_id", "attribute")
        if connection.dialect.name == "sqlite"
        else ("entity", "golden_id", "attribute")
    )
    order = (
        *(_code_point_order(connection, lineage.c[name]) for name in sorted_by),
        lineage.c.id,  # equal keys in the order they were written
    )
    goldens = {entity: golden_table(entity) for entity in Entity}
    where = lineage_condition(lineage, goldens, wanted)
    return ExportTable("lineage", columns, joined, where, order, connection.dialect.name)


def _run_columns(run: FromClause) -> tuple[ExportColumn, ...]:
    """The run that wrote a history row: its id, its command (run, steward) and start."""
    return (
        ExportColumn("run_id", run.c.id, Kind.INTEGER),
        ExportColumn("run_command", run.c.command, Kind.TEXT),
        ExportColumn("run_started_at", run.c.started_at, Kind.TIMESTAMP),
    )


def _history_events(connection: Connection, wanted: ResolvedFilter) -> ExportTable:
    """Every change of a golden record (created, updated, merged, split, retired, revived),
    each golden id's in the order they happened."""
    events, run = table_of(GoldenEvent), table_of(Run)
    columns = (
        *(ExportColumn(name, events.c[name], Kind.TEXT) for name in ("entity", "golden_id")),
        ExportColumn("event", events.c.event, Kind.TEXT),
        # The survivor of a merge, the origin of a split, the new id split off.
        ExportColumn("other_id", events.c.other_id, Kind.TEXT),
        *_run_columns(run),
    )
    order = (
        *(_code_point_order(connection, events.c[name]) for name in ("entity", "golden_id")),
        events.c.id,
    )
    return ExportTable(
        "history_events",
        columns,
        events.join(run, run.c.id == events.c.run_id),
        history_condition(events, wanted),
        order,
        connection.dialect.name,
    )


def _history_versions(connection: Connection, wanted: ResolvedFilter) -> ExportTable:
    """Each version of each golden record as a run wrote it, its values as a JSON object;
    ``latest`` marks the golden record's current version."""
    versions, run = table_of(GoldenVersion), table_of(Run)
    later = versions.alias("later")
    latest = not_(
        exists().where(
            later.c.golden_id == versions.c.golden_id, later.c.version > versions.c.version
        )
    )
    columns = (
        *(ExportColumn(name, versions.c[name], Kind.TEXT) for name in ("entity", "golden_id")),
        ExportColumn("version", versions.c.version, Kind.INTEGER),
        ExportColumn("status", versions.c.status, Kind.TEXT),
        ExportColumn("members", versions.c.members, Kind.INTEGER),
        ExportColumn("latest", latest, Kind.BOOLEAN),
        ExportColumn("record", versions.c.record, Kind.TEXT, personal=Personal.RECORD),
        *_run_columns(run),
    )
    order = (
        *(_code_point_order(connection, versions.c[name]) for name in ("entity", "golden_id")),
        versions.c.version,
    )
    return ExportTable(
        "history_versions",
        columns,
        versions.join(run, run.c.id == versions.c.run_id),
        history_condition(versions, wanted),
        order,
        connection.dialect.name,
    )


# ---- Parquet types ---------------------------------------------------------------------------

ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.TEXT: pa.string(),
    Kind.INTEGER: pa.int64(),
    Kind.NULLABLE_INTEGER: pa.int64(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.BOOLEAN: pa.bool_(),
}


def declared_schema(table: ExportTable) -> pa.Schema:
    """Each column's own type, whatever the rows hold: text as strings (also when every cell is
    empty), integers as int64, moments as UTC timestamps, flags as booleans."""
    return pa.schema([pa.field(column.name, ARROW_TYPES[column.kind]) for column in table.columns])


def parquet_schema(connection: Connection, table: ExportTable) -> pa.Schema:
    """The Arrow schema, with its pandas metadata, that ``DataFrame.to_parquet`` wrote for the
    frame the export built of ``table``: typed columns as pandas typed them (text as pandas'
    string type, integers as int64), columns of nothing but None as Arrow's null type."""
    typed = connection.execute(select(*(column.typed for column in table.columns))).one()
    return _schema_of_sample(table.columns, [bool(flag) for flag in typed])


def _schema_of_sample(columns: Sequence[ExportColumn], typed: Sequence[bool]) -> pa.Schema:
    """The schema of a one-row frame built as the store's reads build frames (from tuples of
    plain values), whose columns are typed where the export's frame was."""
    sample = {"text": "x", "integer": 0}
    frame = pd.DataFrame(
        {
            column.name: (
                sample["text" if column.kind is Kind.TEXT else "integer"] if has_type else None,
            )
            for column, has_type in zip(columns, typed, strict=True)
        }
    )
    nullable = [column.name for column in columns if column.kind is Kind.NULLABLE_INTEGER]
    frame = frame.astype(dict.fromkeys(nullable, "Int64"))
    return pa.Schema.from_pandas(frame, preserve_index=False)
