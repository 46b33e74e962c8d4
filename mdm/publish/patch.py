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
lineage, (entity, source, source key) for xref. The rows of the previous file whose key changed
are left out; the changed keys' rows come from the store, merged in by key; the rows between
are copied as bytes. Keys compare as the export sorts them, by code point (UTF-8 bytes sort the
same way).

The previous file is not read whole: its marker keeps ``anchors``, the offsets of records a
few hundred KB apart (``thinned``). A changed key is searched among the records at the anchors
first, then inside the one stretch between two anchors that holds it: only the stretches that
hold changed keys are read. Without anchors (an export written before they were kept), every
record is an anchor, found in one pass over the file. The patched file gets anchors of its own:
those of the copied stretches, moved by what was written before them.
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
# The least distance between two anchors a file's marker keeps.
ANCHOR_BYTES = 1 << 18
_RECORD = 1 << 12  # bytes read at first for one record (more if it is longer)


def can_patch(table: ExportTable) -> bool:
    """Whether this table's export order is code point order on this store: the xref's is the
    database's own collation, which only SQLite's is known to be."""
    return table.name in KEYS and (table.name != "xref" or table.dialect == "sqlite")


def patch_csv(
    connection: Connection,
    table: ExportTable,
    previous: Path,
    path: Path,
    since: int,
    anchors: Sequence[int] | None = None,
) -> list[int] | None:
    """Write ``path`` as the previous file ``previous`` with the rows of the keys changed after
    run ``since`` read again. ``anchors``: offsets of records of the previous file (its marker's;
    None: find every record). Returns the anchors of the file written, or None if the previous
    file is not one this export can patch (nothing is then left at ``path``)."""
    changed = changed_keys(connection, table.name, since)
    fresh = _rows_of(connection, table, changed)
    header = _csv_text(table.column_names)
    width = KEYS[table.name]
    try:
        with previous.open("rb") as old, path.open("wb", buffering=_BUFFER) as new:
            if old.readline() != header:
                raise _CannotPatch
            new.write(header)
            return _merge(_OldFile(old, len(header), width, anchors), changed, fresh, new)
    except (_CannotPatch, OSError, UnicodeDecodeError, csv.Error):
        path.unlink(missing_ok=True)
        return None


def thinned(anchors: Sequence[int], spacing: int | None = None) -> list[int]:
    """The first anchor, and each next one at least ``spacing`` bytes (``ANCHOR_BYTES``) after
    the last kept: what a file's marker keeps."""
    spacing = ANCHOR_BYTES if spacing is None else spacing
    kept: list[int] = []
    for anchor in anchors:
        if not kept or anchor - kept[-1] >= spacing:
            kept.append(int(anchor))
    return kept


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


Position = tuple[int, int]  # a record of the previous file: (stretch, record in the stretch)


class _OldFile:
    """The previous file, read by record. Its anchors cut it into stretches (an anchor to the
    next, the last to the end of the file); where the records of a stretch start is found in
    one pass over its bytes (a line break ends a record unless it is inside a quoted cell), for
    the stretches a search enters only, and the key of any record is read when a search asks
    for it."""

    def __init__(
        self, handle: IO[bytes], header: int, width: int, anchors: Sequence[int] | None
    ) -> None:
        self.handle, self.width = handle, width
        self.size = os.fstat(handle.fileno()).st_size
        if anchors is None:
            found = _record_starts(handle, header, self.size)
            self.anchors = found if len(found) else np.array([header], dtype=np.int64)
        else:
            self.anchors = _checked(handle, header, self.size, anchors)
        self._starts: dict[int, npt.NDArray[np.int64]] = {}
        self._anchor_keys: dict[int, Key] = {}
        # The bytes of the stretch last entered (its start, its bytes): a search reads its
        # keys, and the patch copies its records, from memory (changed keys come in order).
        self._entered: tuple[int, bytes] = (0, b"")

    @property
    def stretches(self) -> int:
        return len(self.anchors)

    def end(self, stretch: int) -> int:
        return int(self.anchors[stretch + 1]) if stretch + 1 < len(self.anchors) else self.size

    def starts(self, stretch: int) -> npt.NDArray[np.int64]:
        """Where the records of a stretch start (its anchor first)."""
        found = self._starts.get(stretch)
        if found is None:
            start, end = int(self.anchors[stretch]), self.end(stretch)
            data = os.pread(self.handle.fileno(), end - start, start)
            found = _stretch_starts(data, start, end)
            self._starts[stretch] = found
            self._entered = (start, data)
        return found

    def held(self, start: int, end: int) -> bytes | None:
        """The bytes ``start`` to ``end`` if the stretch last entered holds them."""
        first, data = self._entered
        if first <= start and end <= first + len(data):
            return data[start - first : end - first]
        return None

    def read(self, start: int, end: int) -> bytes:
        held = self.held(start, end)
        return held if held is not None else os.pread(self.handle.fileno(), end - start, start)

    def offset(self, position: Position) -> int:
        stretch, record = self.normal(position)
        return self.size if stretch >= self.stretches else int(self.starts(stretch)[record])

    def key(self, position: Position) -> Key:
        stretch, record = position
        starts = self.starts(stretch)
        start = int(starts[record])
        end = int(starts[record + 1]) if record + 1 < len(starts) else self.end(stretch)
        return _key_of(self.read(start, end), self.width)

    def anchor_key(self, stretch: int) -> Key:
        """The key of a stretch's first record, read without finding where the others start
        (a search by anchors reads a few records, not their stretches)."""
        key = self._anchor_keys.get(stretch)
        if key is None:
            if stretch in self._starts:
                key = self.key((stretch, 0))
            else:
                record = _first_record(self.handle, int(self.anchors[stretch]), self.end(stretch))
                key = _key_of(record, self.width)
            self._anchor_keys[stretch] = key
        return key

    def normal(self, position: Position) -> Position:
        """The same record, or the next stretch's first one past a stretch's last record."""
        stretch, record = position
        while stretch < self.stretches and record >= len(self.starts(stretch)):
            stretch, record = stretch + 1, 0
        return (stretch, record) if stretch < self.stretches else (self.stretches, 0)

    def first_from(self, key: Key, low: Position) -> Position:
        """The first record at or after ``low`` whose key is ``key`` or later."""
        low = self.normal(low)
        if low[0] >= self.stretches:
            return low
        # The last stretch after low's whose first key is before ``key`` holds the record, or
        # (all of its keys before ``key``) the next stretch's first one does.
        later = range(low[0] + 1, self.stretches)
        stretch = low[0] + bisect.bisect_left(later, key, key=self.anchor_key)
        first = low[1] if stretch == low[0] else 0
        records = range(first, len(self.starts(stretch)))
        found = first + bisect.bisect_left(
            records, key, key=lambda record: self.key((stretch, record))
        )
        return self.normal((stretch, found))

    def past(self, key: Key, position: Position) -> Position:
        """The first record at or after ``position`` whose key is not ``key`` (a key has a few
        rows: step over them)."""
        position = self.normal(position)
        while position[0] < self.stretches and self.key(position) == key:
            position = self.normal((position[0], position[1] + 1))
        return position


def _checked(
    handle: IO[bytes], header: int, size: int, anchors: Sequence[int]
) -> npt.NDArray[np.int64]:
    """The marker's anchors, if they can be the starts of records of this file: the first
    right after the header, rising, inside the file, each after a line break."""
    found = np.asarray(anchors, dtype=np.int64)
    if not len(found) or found[0] != header or (len(found) > 1 and (np.diff(found) <= 0).any()):
        raise _CannotPatch
    if found[-1] > size or (found[-1] == size and len(found) > 1):
        raise _CannotPatch
    for anchor in found[1:].tolist():
        if os.pread(handle.fileno(), 1, anchor - 1) != b"\n":
            raise _CannotPatch
    return found


def _first_record(handle: IO[bytes], start: int, end: int) -> bytes:
    """The bytes of the record that starts at ``start`` (a record's start), up to ``end``."""
    length = _RECORD
    while True:
        data = os.pread(handle.fileno(), min(length, end - start), start)
        if len(data) != min(length, end - start):
            raise _CannotPatch  # the file is shorter than its marker says
        parity, at = 0, 0
        while (found := data.find(b"\n", at)) >= 0:
            parity = (parity + data.count(b'"', at, found)) & 1
            if not parity:  # a line break outside quotes ends the record
                return data[: found + 1]
            at = found + 1
        if start + len(data) >= end:
            return data  # the stretch's last (and only) record
        length *= 4


def _stretch_starts(read: bytes, start: int, end: int) -> npt.NDArray[np.int64]:
    """The record starts between ``start`` (a record's) and ``end`` (the next anchor's, or the
    end of the file), in ``read``: the file's bytes from ``start`` to ``end``."""
    data = np.frombuffer(read, dtype=np.uint8)
    if len(data) != end - start:
        raise _CannotPatch  # the file is shorter than its marker says
    quotes = np.flatnonzero(data == ord('"'))
    if len(quotes) & 1:
        raise _CannotPatch  # a quoted cell runs past the next anchor: not a record's start
    if end <= start:
        return np.empty(0, dtype=np.int64)  # a file of no record: its anchor is its end
    breaks = np.flatnonzero(data == ord("\n"))
    outside = (np.searchsorted(quotes, breaks) & 1) == 0
    after = breaks[outside].astype(np.int64) + start + 1
    return np.concatenate([np.array([start], dtype=np.int64), after[after < end]])


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
    return tuple(record.decode("utf-8").rstrip("\r\n").split(",", width)[:width])


def _merge(
    old: _OldFile, changed: list[Key], fresh: list[tuple[Key, bytes]], out: IO[bytes]
) -> list[int]:
    """Copy the previous records, those of each changed key replaced by its fresh rows (none:
    the key is gone); the anchors of the file written. ``changed`` is sorted, ``fresh`` in
    export order."""
    by_key: dict[Key, list[bytes]] = {}
    for key, text in fresh:
        by_key.setdefault(key, []).append(text)
    written = _Written(out, int(old.anchors[0]))
    cursor: Position = (0, 0)
    for key in changed:
        low = old.first_from(key, cursor)
        high = old.past(key, low)
        written.copy(old, old.offset(cursor), old.offset(low))
        for row in by_key.get(key, []):
            written.row(row)
        cursor = high
    written.copy(old, old.offset(cursor), old.size)
    return written.anchors if written.anchors else [int(old.anchors[0])]


class _Written:
    """The patched file as it is written: how long it is, and its anchors (record starts
    ``ANCHOR_BYTES`` or more apart, the first right after the header)."""

    def __init__(self, out: IO[bytes], header: int) -> None:
        self.out, self.length = out, header
        self.anchors: list[int] = []

    def _anchor(self, offset: int) -> None:
        if not self.anchors or offset - self.anchors[-1] >= ANCHOR_BYTES:
            self.anchors.append(offset)

    def row(self, text: bytes) -> None:
        self._anchor(self.length)
        self.out.write(text)
        self.length += len(text)

    def copy(self, old: _OldFile, start: int, end: int) -> None:
        """Copy the previous file's bytes ``start`` to ``end`` (record starts) as they are;
        its anchors in between come along, moved to where they land."""
        if start >= end:
            return
        self._anchor(self.length)
        first, stop = np.searchsorted(old.anchors, [start, end])
        moved = old.anchors[first:stop] - start + self.length
        found = 0
        while True:  # each next anchor far enough from the last (every record may be one)
            found += int(np.searchsorted(moved[found:], self.anchors[-1] + ANCHOR_BYTES))
            if found >= len(moved):
                break
            self.anchors.append(int(moved[found]))
        held = old.held(start, end)
        if held is not None:  # inside the stretch in memory: no call to the system
            self.out.write(held)
            self.length += end - start
            return
        self.out.flush()
        position = start
        while position < end:
            copied = os.copy_file_range(
                old.handle.fileno(), self.out.fileno(), end - position, position
            )
            if copied <= 0:
                raise OSError("the previous export file ended early")
            position += copied
        self.length += end - start
