"""Connectors: read one source extract (CSV, Parquet, JSON Lines, SQL) into records.

Each reader checks the columns the mapping needs before it reads any row, parses what it can
(rows that cannot be parsed are quarantined here), and hands the parsed rows to
``mdm.sources.validate`` for the row checks. Failures of the whole source are ``MdmError``
with the file (or table) and the ``mdm.toml`` key that needs fixing.

One module per format (``csv_files``, ``jsonl_files``, ``parquet_files``, ``sql_tables``)
reads the rows and the column names; ``columns`` checks them against the mapping.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from mdm.config.specs import SourceFormat, SourceSpec, SparkSpec
from mdm.errors import MdmError, Problem
from mdm.sources.columns import missing_columns
from mdm.sources.csv_files import csv_columns, read_csv
from mdm.sources.jsonl_files import jsonl_columns, read_jsonl
from mdm.sources.parquet_files import parquet_columns, read_parquet
from mdm.sources.parsing import Parsed, Rejected
from mdm.sources.sql_tables import read_sql, sql_columns
from mdm.sources.validate import (
    empty_quarantine,
    has_undecodable_bytes,
    quarantine_frame,
    readable,
    validate_rows,
)


@dataclass(frozen=True)
class SourceLoad:
    """One extract, read: its good rows as records and its bad rows in quarantine."""

    spec: SourceSpec
    location: str  # the file path, or the SQL url with its table or query, for messages
    records: pd.DataFrame  # source_key, row_number, last_modified, deleted, then attributes
    quarantine: pd.DataFrame  # row_number, source_key, column, reason, raw; one row per problem
    rows_read: int  # data rows seen: records plus distinct quarantined rows
    # The keys of quarantined rows, as records would carry them: the store keeps the current
    # version of each, untouched, since the row says nothing reliable about it.
    quarantined_keys: frozenset[str] = frozenset()
    # Quarantined rows whose key cannot be read: any key absent from a full extract may be
    # one of them, so such a load deletes no absent key.
    unkeyed_rows: tuple[int, ...] = ()
    # The check each quarantine row failed, row for row (see ``mdm.sources.checks``).
    checks: tuple[str, ...] = ()

    @property
    def rows_quarantined(self) -> int:
        """Distinct rows quarantined (a row with two problems has two quarantine rows)."""
        return int(self.quarantine["row_number"].nunique())


def read_source(spec: SourceSpec, root: Path, spark: SparkSpec | None = None) -> SourceLoad:
    """Read one extract; relative paths resolve against ``root`` (the project folder). With
    ``spark`` (a project on the spark engine), Parquet and CSV extracts are read by Spark
    (``mdm.sources.spark_reading``), folders and URIs too, and SQL tables by Spark's tasks in
    ranges of their key (``mdm.sources.spark_tables``): the same rows as read here.

    Bad rows are quarantined, not raised. A source that cannot be read at all (no file, a
    column the mapping names is missing, a database error) raises ``MdmError``.
    """
    location = source_location(spec)
    if spark is not None and spec.format is SourceFormat.SQL and spec.table:
        from mdm.sources.spark_tables import read_table_on_spark

        return load_of_parsed(spec, location, read_table_on_spark(spec, root, location, spark))
    if spark is not None and reads_on_spark(spec):
        from mdm.sources.spark_reading import read_on_spark

        return load_of_parsed(spec, location, read_on_spark(spec, root, location, spark))
    return load_of_parsed(spec, location, _READERS[spec.format](spec, root, location))


def load_of_parsed(spec: SourceSpec, location: str, parsed: Parsed) -> SourceLoad:
    """Parsed rows validated into records and quarantine: what every reader's rows go
    through, and the inbox's (``mdm.sources.inbox``) too."""
    valid = validate_rows(parsed.frame, spec)
    rejected = _rejected(parsed.rejected, spec.encoding)
    found = [frame for frame in (rejected, valid.quarantine) if not frame.empty]
    quarantine = (
        pd.concat(found, ignore_index=True)
        .sort_values("row_number", kind="stable")
        .reset_index(drop=True)
        if found
        else empty_quarantine().assign(check=pd.Series(dtype=object))
    )
    checks = tuple(str(check) for check in quarantine.pop("check"))
    keys = {row.row_number: _clean_key(row.key) for row in parsed.rejected}
    keys.update({number: _clean_key(key) for number, key in valid.quarantined_keys.items()})
    unkeyed = [number for number, key in keys.items() if key is None]
    if unkeyed:
        raws = quarantine.drop_duplicates("row_number").set_index("row_number")["raw"]
        unkeyed = [number for number in unkeyed if not _says_nothing(raws[number])]
    return SourceLoad(
        spec,
        location,
        valid.records,
        quarantine,
        parsed.rows_read,
        quarantined_keys=frozenset(key for key in keys.values() if key is not None),
        unkeyed_rows=tuple(sorted(unkeyed)),
        checks=checks,
    )


def _clean_key(key: str | None) -> str | None:
    """A key as a record would carry it; None if there is none, or it has undecodable bytes
    (a key a record never has, so the row's record cannot be told)."""
    text = None if key is None else key.strip()
    return text if text and not has_undecodable_bytes(text) else None


def _says_nothing(raw: str) -> bool:
    """A row with no value in any column (",,,,": spreadsheets export them) is no record."""
    values = json.loads(raw).values()
    return all(value is None or not str(value).strip() for value in values)


def check_source(spec: SourceSpec, root: Path, spark: SparkSpec | None = None) -> list[Problem]:
    """The cheap checks, without reading rows: the source is there and has every column.

    JSON Lines has no header, so its columns are the keys seen on any line: that file is read.
    With ``spark``, Parquet and CSV sources are checked as Spark will read them, file by file.
    """
    location = source_location(spec)
    try:
        if spark is not None and reads_on_spark(spec):
            from mdm.sources.spark_reading import columns_on_spark

            found = columns_on_spark(spec, root, location, spark)
            return [
                problem
                for place, columns in found
                for problem in missing_columns(spec, place, columns, "the file")
            ]
        columns, container = _COLUMNS[spec.format](spec, root, location)
    except MdmError as error:
        return list(error.problems) or [Problem(location, error.summary)]
    return missing_columns(spec, location, columns, container)


def reads_on_spark(spec: SourceSpec) -> bool:
    """Spark reads the source's extract on the spark engine (its other formats are read here)."""
    return spec.format in (SourceFormat.PARQUET, SourceFormat.CSV)


def source_location(spec: SourceSpec) -> str:
    if spec.format is SourceFormat.INBOX:
        return f"the inbox of source '{spec.name}' in the store"
    if spec.format is not SourceFormat.SQL:
        return str(spec.path)
    try:
        url = sa.make_url(spec.url or "").render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        url = "(a url SQLAlchemy cannot parse)"  # reported by the connection, with the key
    if spec.table:
        return f"{url} table {spec.table}"
    query = " ".join((spec.query or "").split())
    return f"{url} query '{query if len(query) <= 60 else query[:59] + '…'}'"


def _rejected(rows: list[Rejected], encoding: str) -> pd.DataFrame:
    """Quarantine rows for rows that did not parse."""
    if not rows:
        return empty_quarantine().assign(check=pd.Series(dtype=object))
    return quarantine_frame(
        [row.row_number for row in rows],
        [None if row.key is None else readable(row.key.strip(), encoding) or None for row in rows],
        [row.column for row in rows],
        [row.reason for row in rows],
        [row.raw for row in rows],
    ).assign(check=[str(row.check) for row in rows])


_Reader = Callable[[SourceSpec, Path, str], Parsed]
_ColumnReader = Callable[[SourceSpec, Path, str], tuple[list[str], str]]


def _read_inbox(spec: SourceSpec, root: Path, location: str) -> Parsed:
    from mdm.sources.inbox import unread  # its submissions are read by the run's ingest

    return unread(spec)


_READERS: dict[SourceFormat, _Reader] = {
    SourceFormat.CSV: read_csv,
    SourceFormat.PARQUET: read_parquet,
    SourceFormat.JSONL: read_jsonl,
    SourceFormat.SQL: read_sql,
    SourceFormat.INBOX: _read_inbox,
}

_COLUMNS: dict[SourceFormat, _ColumnReader] = {
    SourceFormat.CSV: csv_columns,
    SourceFormat.PARQUET: parquet_columns,
    SourceFormat.JSONL: jsonl_columns,
    SourceFormat.SQL: sql_columns,
    # An inbox's records are checked field by field when they are submitted.
    SourceFormat.INBOX: lambda spec, root, location: (spec.source_columns, "the inbox"),
}
