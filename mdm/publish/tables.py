"""The export's four tables as queries: their rows, columns and order, the CSV escaping of
their cells, and the types their Parquet files declare.

The queries give exactly the rows the export wrote when it built each table as a pandas frame
(and ``tests/test_export_bulk.py`` holds them to that): active golden records by golden id,
xref in the store's (entity, source, source_key) order, lineage with its record's source and
key by (entity, golden id, attribute). Sorting that pandas did is done by code point here too:
PostgreSQL sorts those columns in the "C" collation, whatever the database's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
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

from mdm.schema import Entity, GoldenStatus, survived_attribute_names
from mdm.store.bulk import table_of
from mdm.store.golden import golden_table
from mdm.store.tables import Lineage, Xref

# The OWASP rule: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ... unless the cell is only a signed number (an E.164 phone, a negative amount): a number
# runs nothing, and escaping it would break every program that reads the file.
SIGNED_NUMBER_PATTERN = r"[+-]?[0-9]+(?:\.[0-9]+)?"
# The same as a whole-value match in the databases' regular expressions (Python's on SQLite,
# PostgreSQL's own): \A and \Z anchor at the ends of the value, never at a line break.
_SIGNED_NUMBER_SQL = rf"\A{SIGNED_NUMBER_PATTERN}\Z"
_AFTER_FORMULA_STARTS = "A"  # every one of FORMULA_STARTS sorts before it


class Kind(Enum):
    """What a column holds, as the export's pandas frames held it."""

    TEXT = "text"
    INTEGER = "integer"
    NULLABLE_INTEGER = "nullable integer"  # a pandas Int64 column: always typed, even empty


@dataclass(frozen=True)
class ExportColumn:
    name: str
    value: ColumnElement[Any]
    kind: Kind
    # Whether the frame the export used to build had a typed column here: the source table
    # holds a value in it (a frame's column of nothing but None had no type).
    typed: ColumnElement[bool]


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

    def statement(self, *, spreadsheet_safe: bool = False) -> Select[Any]:
        """The table's rows in export order; ``spreadsheet_safe``: text cells escaped as the CSV
        export escapes them (see ``spreadsheet_safe_sql``)."""
        values = [
            (
                spreadsheet_safe_sql(column.value, self.dialect)
                if spreadsheet_safe and column.kind is Kind.TEXT
                else column.value
            ).label(column.name)
            for column in self.columns
        ]
        return select(*values).select_from(self.source).where(self.where).order_by(*self.order_by)


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


def export_tables(connection: Connection) -> list[ExportTable]:
    """accounts, contacts, xref and lineage, in the order the export writes them."""
    return [
        _golden(connection, Entity.ACCOUNT),
        _golden(connection, Entity.CONTACT),
        _xref(connection),
        _lineage(connection),
    ]


def _code_point_order(connection: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` to sort by as Python sorts strings (SQLite's default already does)."""
    return column.collate("C") if connection.dialect.name == "postgresql" else column


def _has_value(source: FromClause, column: ColumnElement[Any]) -> ColumnElement[bool]:
    return exists().select_from(source).where(column.is_not(None))


def _golden(connection: Connection, entity: Entity) -> ExportTable:
    table = golden_table(entity)
    leading = ["golden_id", *(["account_id", "account_link"] if entity is Entity.CONTACT else [])]
    names = [*leading, *survived_attribute_names(entity), "members", "created_run", "updated_run"]
    columns = tuple(
        ExportColumn(
            name,
            table.c[name],
            Kind.INTEGER if table.c[name].type.python_type is int else Kind.TEXT,
            _has_value(table, table.c[name]),
        )
        for name in names
    )
    return ExportTable(
        name="accounts" if entity is Entity.ACCOUNT else "contacts",
        columns=columns,
        source=table,
        where=table.c.status == GoldenStatus.ACTIVE.value,
        order_by=(_code_point_order(connection, table.c.golden_id),),
        dialect=connection.dialect.name,
    )


def _xref(connection: Connection) -> ExportTable:
    table = table_of(Xref)
    columns = tuple(
        ExportColumn(name, table.c[name], Kind.TEXT, _has_value(table, table.c[name]))
        for name in ("entity", "source", "source_key", "golden_id")
    )
    # The store's order, as the export always read it.
    order = (table.c.entity, table.c.source, table.c.source_key)
    return ExportTable("xref", columns, table, true(), order, connection.dialect.name)


def _lineage(connection: Connection) -> ExportTable:
    lineage, xref = table_of(Lineage), table_of(Xref)
    # A steward's pin has no record: its source and key stay empty.
    joined = lineage.outerjoin(xref, xref.c.record_id == lineage.c.record_id)
    xref_rows = exists().select_from(xref)

    def own(name: str, kind: Kind) -> ExportColumn:
        return ExportColumn(name, lineage.c[name], kind, _has_value(lineage, lineage.c[name]))

    columns = (
        own("entity", Kind.TEXT),
        own("golden_id", Kind.TEXT),
        own("attribute", Kind.TEXT),
        own("value", Kind.TEXT),
        ExportColumn("source", xref.c.source, Kind.TEXT, xref_rows),
        ExportColumn("source_key", xref.c.source_key, Kind.TEXT, xref_rows),
        own("record_id", Kind.NULLABLE_INTEGER),
        own("rule", Kind.TEXT),
        own("candidates", Kind.INTEGER),
        own("group_name", Kind.TEXT),
        own("beaten", Kind.TEXT),
        own("run_id", Kind.INTEGER),
    )
    order = (
        *(
            _code_point_order(connection, lineage.c[name])
            for name in ("entity", "golden_id", "attribute")
        ),
        lineage.c.id,  # equal keys in the order they were written
    )
    return ExportTable("lineage", columns, joined, true(), order, connection.dialect.name)


# ---- Parquet types ---------------------------------------------------------------------------


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
