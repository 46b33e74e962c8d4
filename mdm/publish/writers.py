"""Write a stream of row chunks as a CSV or a Parquet file, one chunk in memory at a time.

The CSV is written as ``DataFrame.to_csv(path, index=False)`` writes it (the same ``csv``
module settings: minimal quoting, the platform's line ending, empty cells for None); the
Parquet file with the schema given, in row groups of a bounded number of rows.

Text and integers are written as the database driver gives them. Moments and flags come as each
driver keeps them (SQLite: text and 0 or 1); ``cell_converter`` makes them one form for each
format: ISO 8601 in UTC and ``true``/``false`` in CSV, timestamps and booleans in Parquet.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mdm.publish.tables import Kind

Rows = Sequence[tuple[Any, ...]]
WRITE_BUFFER = 1 << 20
# Rows per Parquet row group: large enough for good compression, small enough that a row
# group of lineage (the widest table) takes a few tens of MB while it is written.
ROW_GROUP_ROWS = 250_000
# Rows between the record offsets a CSV export keeps for its next patch (a few hundred KB).
ANCHOR_ROWS = 1024


def write_csv(
    path: Path,
    header: Sequence[str] | None,
    chunks: Iterable[Rows],
    anchors: list[int] | None = None,
) -> int:
    """Write ``header`` and the rows of ``chunks`` to ``path``; the rows written. A header of
    None: the rows only (a part of a file, ``mdm.publish.split``).

    ``anchors``, if given, receives the byte offset where a record starts every
    ``ANCHOR_ROWS`` rows (the first: the first record's, right after the header): where a
    later patch of the file can start reading it (``mdm.publish.patch``)."""
    written = 0
    with path.open("w", encoding="utf-8", newline="", buffering=WRITE_BUFFER) as handle:
        writer = csv.writer(handle, lineterminator=os.linesep)
        if header is not None:
            writer.writerow(header)
        for rows in chunks:
            if anchors is None:
                writer.writerows(rows)
            else:
                for start in range(0, len(rows), ANCHOR_ROWS):
                    anchors.append(handle.tell())  # a write-only text file: its byte offset
                    writer.writerows(rows[start : start + ANCHOR_ROWS])
            written += len(rows)
        if anchors is not None and not anchors:
            anchors.append(handle.tell())  # no record: the end of the header
    return written


def write_parquet(
    path: Path, schema: pa.Schema, chunks: Iterable[Rows], row_group_rows: int = ROW_GROUP_ROWS
) -> int:
    """Write the rows of ``chunks`` (values in the order of ``schema``'s fields) to ``path``,
    in row groups of ``row_group_rows`` rows (the last one shorter); the rows written."""
    written = 0
    # Arrow converts a row tuple to a struct value in one step (four times faster than
    # transposing the rows in Python and converting column by column).
    row_type = pa.struct(list(schema))
    pending: list[pa.RecordBatch] = []  # Arrow's compact form: a row group's worth at most
    pending_rows = 0
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for rows in chunks:
            batch = pa.RecordBatch.from_struct_array(pa.array(rows, type=row_type))
            pending.append(batch.replace_schema_metadata(schema.metadata))
            pending_rows += len(rows)
            written += len(rows)
            if pending_rows >= row_group_rows:
                _write_row_groups(writer, schema, pending, row_group_rows)
                pending_rows = 0
        _write_row_groups(writer, schema, pending, row_group_rows)
    return written


def _write_row_groups(
    writer: pq.ParquetWriter,
    schema: pa.Schema,
    pending: list[pa.RecordBatch],
    row_group_rows: int,
) -> None:
    if pending:
        table = pa.Table.from_batches(pending, schema=schema)
        writer.write_table(table, row_group_size=row_group_rows)
        pending.clear()


# ---- cells the drivers give in their own forms -----------------------------------------------


def cell_converter(kinds: Sequence[Kind], *, for_csv: bool) -> Callable[[Rows], Rows] | None:
    """A function that puts the moments and flags of rows of columns ``kinds`` in the form the
    CSV (``for_csv``) or the Parquet writer takes; None where there are none."""
    converters: dict[Kind, Callable[[Any], Any]] = (
        {Kind.TIMESTAMP: _timestamp_text, Kind.BOOLEAN: _boolean_text}
        if for_csv
        else {Kind.TIMESTAMP: utc_moment, Kind.BOOLEAN: _boolean}
    )
    changes = [(index, converters[kind]) for index, kind in enumerate(kinds) if kind in converters]
    if not changes:
        return None

    def convert(rows: Rows) -> Rows:
        converted = []
        for row in rows:
            cells = list(row)
            for index, change in changes:
                if cells[index] is not None:
                    cells[index] = change(cells[index])
            converted.append(tuple(cells))
        return converted

    return convert


def utc_moment(value: datetime | str) -> datetime:
    """A moment the store kept in UTC without a zone (SQLite as text), with its zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _timestamp_text(value: datetime | str) -> str:
    return utc_moment(value).isoformat(timespec="microseconds")


def _boolean(value: object) -> bool:
    return bool(value)


def _boolean_text(value: object) -> str:
    return "true" if value else "false"
