"""The record index of a nightly delta: each live record's lookup keys (``record_key``) and how
many live records have each key (``key_count``). Keys are 64-bit hashes of their text."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, delete, select

from mdm.schema import Entity
from mdm.store.bulk import (
    delete_in,
    execute_rows,
    int_rows,
    positional_marks,
    read_in,
    table_of,
    write_rows,
)
from mdm.store.tables import KeyCount, RecordKey, SourceRecord, Xref


def replace_record_keys(
    connection: Connection, entity: Entity, keys: pd.DataFrame, counts: pd.Series
) -> None:
    """The entity's record keys become ``keys`` (record_id, key), and its key counts
    ``counts`` (key -> records).

    Millions of rows on a full run: the secondary index is dropped and built again after the
    rows are written in primary-key order, which is several times faster than keeping it."""
    table, count_table = table_of(RecordKey), table_of(KeyCount)
    [index] = list(table.indexes)
    index.drop(connection)
    connection.execute(delete(table).where(table.c.entity == entity))
    connection.execute(delete(count_table).where(count_table.c.entity == entity))
    keys = keys.sort_values(["record_id", "key"], ignore_index=True)
    insert_record_keys(connection, entity, keys)
    index.create(connection)
    counts = counts.sort_index()
    write_rows(connection, count_table, ["entity", "key", "records"], _count_rows(entity, counts))


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
    rows = [(r, k, entity.value) for r, k in int_rows(keys["record_id"], keys["key"])]
    write_rows(connection, table_of(RecordKey), ["record_id", "key", "entity"], rows)


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
    xref in one query."""
    keyed, record, xref = table_of(RecordKey), table_of(SourceRecord), table_of(Xref)
    joined = keyed.join(record, record.c.id == keyed.c.record_id).join(
        xref, (xref.c.source == record.c.source) & (xref.c.source_key == record.c.source_key)
    )
    statement = (
        select(keyed.c.key, xref.c.golden_id).select_from(joined).where(keyed.c.entity == entity)
    )
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
