"""Write a CSV export by patching the previous one: a nightly delta changes a few golden
records, so their rows are read from the store and every other row is copied from the previous
file as it is, instead of reading the whole master again.

The result is the file a full export would write, byte for byte (the tests hold it to that). It
is used only when that is certain: the previous export is mdm's CSV export of this store, its
files are as mdm wrote them (their sizes are in the marker), and everything that changed since
carries a later run id: golden records by ``updated_run``, xref rows by ``run_id``, and records
that lost their xref row by the run that loaded their new version. Otherwise the file is
written whole.

Each table's rows are in order of a key (``KEYS``): the golden id, (entity, golden id) for
lineage, (entity, source, source key) for xref. The previous file is read line by line and its
rows whose key changed are left out; the changed keys' rows come from the store, merged in by
key. Keys compare as the export sorts them, by code point (UTF-8 bytes sort the same way).
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import os
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, and_, select, union
from sqlalchemy.sql import ColumnElement

from mdm.publish.tables import ExportTable
from mdm.schema import Entity
from mdm.store.bulk import CHUNK, table_of
from mdm.store.golden import golden_table
from mdm.store.stream import stream_rows
from mdm.store.tables import SourceRecord, Xref

Key = tuple[str, ...]

# How many leading columns make each table's key.
KEYS = {"accounts": 1, "contacts": 1, "lineage": 2, "xref": 3}
_BUFFER = 1 << 20
_SCAN = 1 << 24  # bytes of the previous file looked at in one step


def can_patch(table: ExportTable) -> bool:
    """Whether this table's export order is code point order on this store: the xref's is the
    database's own collation, which only SQLite's is known to be."""
    return table.name in KEYS and (table.name != "xref" or table.dialect == "sqlite")


def patch_csv(
    connection: Connection, table: ExportTable, previous: Path, path: Path, since: int
) -> int | None:
    """Write ``path`` as the previous file ``previous`` with the rows of the keys changed after
    run ``since`` read again; the rows written, or None if the previous file is not one this
    export can patch (nothing is then left at ``path``)."""
    changed = changed_keys(connection, table.name, since)
    fresh = _rows_of(connection, table, changed)
    header = _csv_text(table.column_names)
    width = KEYS[table.name]
    try:
        with previous.open("rb") as old, path.open("wb", buffering=_BUFFER) as new:
            if old.readline() != header:
                raise _CannotPatch
            new.write(header)
            written = _merge(_OldFile(old, len(header), width), changed, fresh, new)
    except (_CannotPatch, OSError, UnicodeDecodeError, csv.Error):
        path.unlink(missing_ok=True)
        return None
    return written


class _CannotPatch(Exception):
    """The previous file is not as this export writes it."""


def changed_keys(connection: Connection, name: str, since: int) -> list[Key]:
    """The keys of ``name`` whose rows may differ from the export of run ``since``, sorted."""
    if name in ("accounts", "contacts"):
        entity = Entity.ACCOUNT if name == "accounts" else Entity.CONTACT
        return sorted((golden_id,) for (golden_id,) in _changed_golden(connection, entity, since))
    if name == "lineage":
        return sorted(
            (str(entity), golden_id)
            for entity in Entity
            for (golden_id,) in _changed_golden(connection, entity, since)
        )
    xref, record = table_of(Xref), table_of(SourceRecord)
    statement = union(
        select(xref.c.entity, xref.c.source, xref.c.source_key).where(xref.c.run_id > since),
        select(record.c.entity, record.c.source, record.c.source_key).where(
            record.c.run_id > since
        ),
    )
    return sorted(tuple(str(value) for value in row) for row in connection.execute(statement))


def _changed_golden(connection: Connection, entity: Entity, since: int) -> Sequence[Any]:
    table = golden_table(entity)
    return connection.execute(select(table.c.golden_id).where(table.c.updated_run > since)).all()


def _rows_of(
    connection: Connection, table: ExportTable, keys: list[Key]
) -> list[tuple[Key, bytes]]:
    """The export rows of ``keys`` as CSV text, each with its key, in export order."""
    width = KEYS[table.name]
    key_columns = [column.value for column in table.columns[:width]]
    # The cells as the CSV writes them, then the key as the store holds it (unescaped).
    statement = table.statement(spreadsheet_safe=True).add_columns(*key_columns)
    cells = len(table.columns)
    rows: list[tuple[Key, bytes]] = []
    for condition in _conditions(key_columns, keys):
        with closing(stream_rows(connection, statement.where(condition))) as found:
            for batch in found:
                rows.extend(
                    (tuple(str(value) for value in row[cells:]), _csv_text(row[:cells]))
                    for row in batch
                )
    # Each condition's rows came in export order, and its keys sort before the next one's.
    return rows


def _conditions(columns: list[ColumnElement[Any]], keys: list[Key]) -> list[ColumnElement[bool]]:
    """Conditions that select the rows of the sorted ``keys``, in key order: the leading key
    columns equal, the last one in a list (which the tables' indexes serve)."""
    conditions: list[ColumnElement[bool]] = []
    for prefix, group in itertools.groupby(keys, key=lambda key: key[:-1]):
        last = [key[-1] for key in group]
        equal = [column == value for column, value in zip(columns, prefix, strict=False)]
        conditions.extend(
            and_(*equal, columns[-1].in_(last[start : start + CHUNK]))
            for start in range(0, len(last), CHUNK)
        )
    return conditions


def _csv_text(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=os.linesep).writerow(values)
    return buffer.getvalue().encode("utf-8")


class _OldFile:
    """The previous file, read by record: where each record starts, found in one pass over
    its bytes (a line break ends a record unless it is inside a quoted cell), and the key of
    any record, read when a search asks for it."""

    def __init__(self, handle: IO[bytes], header: int, width: int) -> None:
        self.handle, self.width = handle, width
        self.size = os.fstat(handle.fileno()).st_size
        self.starts = _record_starts(handle, header, self.size)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Key:
        start = int(self.starts[index])
        end = int(self.starts[index + 1]) if index + 1 < len(self.starts) else self.size
        return _key_of(os.pread(self.handle.fileno(), end - start, start), self.width)

    def offset(self, index: int) -> int:
        return int(self.starts[index]) if index < len(self.starts) else self.size


def _record_starts(handle: IO[bytes], header: int, size: int) -> npt.NDArray[np.int64]:
    starts = [np.array([header], dtype=np.int64)]
    handle.seek(header)
    offset, parity = header, 0
    while chunk := handle.read(_SCAN):
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.flatnonzero(data == ord('"'))
        breaks = np.flatnonzero(data == ord("\n"))
        # A break is outside quotes when an even number of quotes came before it.
        outside = ((np.searchsorted(quotes, breaks) + parity) & 1) == 0
        starts.append(breaks[outside].astype(np.int64) + offset + 1)
        parity = (parity + len(quotes)) & 1
        offset += len(chunk)
    if parity:
        raise _CannotPatch  # a quoted cell never closed
    found = np.concatenate(starts)
    return found[found < size]


def _key_of(record: bytes, width: int) -> Key:
    if b'"' in record or b"'" in record:
        text = record.decode("utf-8")
        [cells] = list(csv.reader([text.rstrip("\r\n")]))
        if any(cell.startswith("'") for cell in cells[:width]):
            raise _CannotPatch  # an escaped key: its order is not its text's
        return tuple(cells[:width])
    return tuple(record.decode("utf-8").split(",", width)[:width])


def _merge(
    old: _OldFile, changed: list[Key], fresh: list[tuple[Key, bytes]], out: IO[bytes]
) -> int:
    """Copy the previous records, those of each changed key replaced by its fresh rows (none:
    the key is gone); the rows written. ``changed`` is sorted, ``fresh`` in export order."""
    by_key: dict[Key, list[bytes]] = {}
    for key, text in fresh:
        by_key.setdefault(key, []).append(text)
    written, cursor = 0, 0
    for key in changed:
        low = bisect.bisect_left(old, key, lo=cursor)
        high = low
        while high < len(old) and old[high] == key:  # a key has a few rows: step over them
            high += 1
        _copy(old, cursor, low, out)
        rows = by_key.get(key, [])
        out.writelines(rows)
        written += low - cursor + len(rows)
        cursor = high
    _copy(old, cursor, len(old), out)
    return written + len(old) - cursor


def _copy(old: _OldFile, first: int, stop: int, out: IO[bytes]) -> None:
    """Copy the previous records ``first`` to ``stop`` (excluded) as they are."""
    start, end = old.offset(first), old.offset(stop)
    out.flush()
    while start < end:
        copied = os.copy_file_range(old.handle.fileno(), out.fileno(), end - start, start)
        if copied <= 0:
            raise OSError("the previous export file ended early")
        start += copied
