"""The record index of a nightly delta: each live record's lookup keys (``record_key``) and how
many live records have each key (``key_count``). Keys are 64-bit hashes of their text."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, Table, delete, func, select

from mdm.schema import Entity
from mdm.store.bulk import (
    delete_in,
    execute_rows,
    indexes_built_after,
    int_rows,
    positional_marks,
    read_in,
    table_of,
    write_rows,
)
from mdm.store.tables import KeyCount, RecordKey, Xref

Ints = npt.NDArray[np.int64]


def replace_record_keys(
    connection: Connection, entity: Entity, keys: pd.DataFrame, counts: pd.Series
) -> None:
    """The entity's record keys become ``keys`` (record_id, key: distinct rows), and its key
    counts ``counts`` (key -> records).

    Millions of rows on a full run: the secondary index is built again after the rows are
    written in primary-key order, which is several times faster than keeping it."""
    table, count_table = table_of(RecordKey), table_of(KeyCount)
    with indexes_built_after(connection, table):
        connection.execute(delete(table).where(table.c.entity == entity))
        connection.execute(delete(count_table).where(count_table.c.entity == entity))
        record_ids, key_values = sorted_keys(keys)
        append_int_rows(
            connection, table, {"record_id": record_ids, "key": key_values}, entity=entity
        )
    if not counts.index.is_monotonic_increasing:
        counts = counts.sort_index()
    append_int_rows(
        connection,
        count_table,
        {"key": counts.index.to_numpy(dtype=np.int64), "records": counts.to_numpy(np.int64)},
        entity=entity,
    )


def sorted_keys(keys: pd.DataFrame) -> tuple[Ints, Ints]:
    """The record_id and key columns of ``keys`` in primary-key order (by record, then key)."""
    record_ids = keys["record_id"].to_numpy(dtype=np.int64)
    key_values = keys["key"].to_numpy(dtype=np.int64)
    before, after = record_ids[:-1], record_ids[1:]
    same = after == before
    # (Compared, not subtracted: keys span the whole int64 range.)
    if (after >= before).all() and (key_values[1:][same] > key_values[:-1][same]).all():
        return record_ids, key_values
    order = np.lexsort((key_values, record_ids))
    return record_ids[order], key_values[order]


# ---- appending many rows of integers ----------------------------------------------------------

# SQLite: rows per INSERT statement. A statement of many rows binds as many values, but is
# stepped and reset, and crosses from Python, once: about three times faster than a statement
# per row. Under 999 values per statement, the lowest limit an SQLite may have been built with.
ROWS_PER_INSERT: Final = 400
# PostgreSQL: rows per COPY buffer.
ROWS_PER_COPY: Final = 200_000


def append_int_rows(
    connection: Connection, table: Table, columns: Mapping[str, Ints], **same: str
) -> None:
    """Append rows to ``table``: ``columns`` (name -> int64 array, all as long) and the
    columns ``same`` (name -> the text every row has). For the millions of rows of a full
    index: multi-row INSERTs on SQLite, COPY of CSV text that Arrow writes on PostgreSQL; no
    tuple per row."""
    names = list(columns)
    arrays = [np.asarray(values, dtype=np.int64) for values in columns.values()]
    shared = {name: str(value) for name, value in same.items()}
    if not arrays or not len(arrays[0]):
        return
    if connection.dialect.name == "postgresql":
        _copy_int_rows(connection, table, names, arrays, shared)
    elif connection.dialect.name == "sqlite":
        _insert_int_rows(connection, table, names, arrays, shared)
    else:
        rows = zip(*[array.tolist() for array in arrays], strict=True)
        fixed = tuple(shared.values())
        write_rows(connection, table, [*names, *shared], [(*row, *fixed) for row in rows])


def _insert_int_rows(
    connection: Connection,
    table: Table,
    names: list[str],
    arrays: list[Ints],
    same: Mapping[str, str],
) -> None:
    """Multi-row INSERTs; the values every row shares are bound once per statement (as ?1,
    ?2, ...), the others after them."""
    quote = connection.dialect.identifier_preparer.quote
    shared, width = list(same.values()), len(arrays)
    columns = ", ".join(quote(name) for name in [*names, *same])
    fixed = [f"?{i + 1}" for i in range(len(shared))]

    def statement(rows: int) -> str:
        first = len(shared) + 1
        values = [
            "(" + ", ".join([*(f"?{first + row * width + i}" for i in range(width)), *fixed]) + ")"
            for row in range(rows)
        ]
        return f"INSERT INTO {quote(table.name)} ({columns}) VALUES {', '.join(values)}"

    flat = np.column_stack(arrays).reshape(-1)
    whole = len(arrays[0]) // ROWS_PER_INSERT * ROWS_PER_INSERT
    cursor: Any = connection.connection.cursor()
    try:
        if whole:
            # A statement's values made as it is stepped: tens of millions of Python ints at
            # once would take about a gigabyte.
            batches = flat[: whole * width].reshape(-1, ROWS_PER_INSERT * width)
            cursor.executemany(
                statement(ROWS_PER_INSERT), (shared + batch.tolist() for batch in batches)
            )
        rest = flat[whole * width :].tolist()
        if rest:
            cursor.execute(statement(len(rest) // width), shared + rest)
    finally:
        cursor.close()


def _copy_int_rows(
    connection: Connection,
    table: Table,
    names: list[str],
    arrays: list[Ints],
    same: Mapping[str, str],
) -> None:
    """COPY in CSV, the text written by Arrow, ROWS_PER_COPY rows at a time (psycopg 3)."""
    import pyarrow as pa
    from pyarrow import csv

    quote = connection.dialect.identifier_preparer.quote
    names = [*names, *same]
    statement = (
        f"COPY {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        "FROM STDIN (FORMAT csv)"
    )
    options = csv.WriteOptions(include_header=False)
    cursor: Any = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for start in range(0, len(arrays[0]), ROWS_PER_COPY):
                part = [array[start : start + ROWS_PER_COPY] for array in arrays]
                rows = len(part[0])
                fixed = [pa.repeat(value, rows) for value in same.values()]
                buffer = io.BytesIO()
                csv.write_csv(pa.table([*part, *fixed], names=names), buffer, options)
                copy.write(buffer.getbuffer())
    finally:
        cursor.close()


def add_key_counts(connection: Connection, entity: Entity, change: pd.Series) -> None:
    """Add ``change`` (key -> records, negative to subtract) to the key counts; a count that
    reaches zero is dropped."""
    change = change[change != 0]
    if change.empty:
        return
    statement = (
        f"INSERT INTO key_count (entity, key, records) VALUES ({positional_marks(connection, 3)}) "
        "ON CONFLICT (entity, key) DO UPDATE SET records = key_count.records + excluded.records"
    )
    execute_rows(connection, statement, _count_rows(entity, change))
    fell = change.index[change.to_numpy() < 0].to_numpy(dtype="int64").tolist()
    delete_in(connection, KeyCount, "key", fell, entity=entity, records=0)


def _count_rows(entity: Entity, counts: pd.Series) -> list[tuple[str, int, int]]:
    """(entity, key, records) rows of ``counts`` (key -> records)."""
    keys = pd.Series(counts.index, dtype="int64")
    return [(entity.value, key, n) for key, n in int_rows(keys, counts)]


def insert_record_keys(connection: Connection, entity: Entity, keys: pd.DataFrame) -> None:
    """Append ``keys`` (record_id, key)."""
    if keys.empty:
        return
    record_ids, key_values = sorted_keys(keys)
    append_int_rows(
        connection, table_of(RecordKey), {"record_id": record_ids, "key": key_values}, entity=entity
    )


def delete_record_keys_of(connection: Connection, record_ids: Sequence[int]) -> None:
    """Delete every key of the given records."""
    delete_in(connection, RecordKey, "record_id", [int(r) for r in record_ids])


def delete_record_key_rows(connection: Connection, rows: pd.DataFrame) -> None:
    """Delete the given (record_id, key) rows."""
    if rows.empty:
        return
    record, key = positional_marks(connection, 2).split(", ")
    statement = f"DELETE FROM record_key WHERE record_id = {record} AND key = {key}"
    execute_rows(connection, statement, int_rows(rows["record_id"], rows["key"]))


def records_with_keys(connection: Connection, entity: Entity, keys: Sequence[int]) -> pd.DataFrame:
    """key, record_id of every live record that has one of ``keys``."""
    table = table_of(RecordKey)
    statement = select(table.c.key, table.c.record_id).where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return found.astype({"key": "int64", "record_id": "int64"})


def records_having_keys(connection: Connection, entity: Entity, keys: Sequence[int]) -> list[int]:
    """The live records that have one of ``keys``, each once, by record id."""
    table = table_of(RecordKey)
    statement = select(table.c.record_id).distinct().where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return sorted(set(found["record_id"].astype("int64").tolist()))


def golden_ids_with_keys(
    connection: Connection, entity: Entity, keys: Sequence[int]
) -> pd.DataFrame:
    """key, golden_id of every live record that has one of ``keys``: the index joined to the
    xref in one query.

    Both name a record by the id of its current version (the index is brought up to date with
    a run's records before their entity is resolved, and their xref rows when it is written;
    no lookup happens in between), so they join on it directly: joining through the record's
    row, which holds its attributes, would read a page of the largest table per key."""
    return _keyed_golden_ids(connection, entity, keys, sole=False)


def sole_golden_ids_with_keys(
    connection: Connection, entity: Entity, keys: Sequence[int]
) -> pd.DataFrame:
    """key, golden_id of each of ``keys`` that the live records of one golden record only
    have (keys of several golden records are left out): ``golden_ids_with_keys`` grouped by
    key in the database, so a name hundreds of records share comes back as one row."""
    return _keyed_golden_ids(connection, entity, keys, sole=True)


def _keyed_golden_ids(
    connection: Connection, entity: Entity, keys: Sequence[int], *, sole: bool
) -> pd.DataFrame:
    keyed, xref = table_of(RecordKey), table_of(Xref)
    joined = keyed.join(xref, xref.c.record_id == keyed.c.record_id)
    golden_id = func.min(xref.c.golden_id) if sole else xref.c.golden_id
    statement = (
        select(keyed.c.key, golden_id.label("golden_id"))
        .select_from(joined)
        .where(keyed.c.entity == entity)
    )
    if sole:
        # Each IN list holds whole keys, so each key's group is whole in one of them.
        statement = statement.group_by(keyed.c.key).having(golden_id == func.max(xref.c.golden_id))
    found = read_in(connection, statement, keyed.c.key, [int(k) for k in keys])
    return found.astype({"key": "int64"})


def record_keys_of(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, key of the given records."""
    table = table_of(RecordKey)
    statement = select(table.c.record_id, table.c.key)
    found = read_in(connection, statement, table.c.record_id, [int(r) for r in record_ids])
    return found.astype({"key": "int64", "record_id": "int64"})


def key_counts(connection: Connection, entity: Entity, keys: Sequence[int]) -> pd.Series:
    """How many live records have each of ``keys`` (keys nobody has are left out)."""
    table = table_of(KeyCount)
    statement = select(table.c.key, table.c.records).where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return pd.Series(
        found["records"].to_numpy(dtype="int64"),
        index=found["key"].to_numpy(dtype="int64"),
        dtype="int64",
    )
