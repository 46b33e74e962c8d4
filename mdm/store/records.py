"""Source records: every version of every record a source sent, and the rows it quarantined.

A record is named by (source, source_key); each load of a changed record adds a version and
takes ``is_current`` from the one before; a deletion is a version with ``deleted`` set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, select, update

from mdm.schema import Entity
from mdm.store.bulk import CHUNK, chunks, read_frame, read_in, read_in_pairs, table_of
from mdm.store.tables import Quarantine, SourceRecord


def current_records(
    connection: Connection, source: str, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """The current version of every key of one source (tombstones included); only of
    ``keys`` when given (a delta load needs no more)."""
    table = table_of(SourceRecord)
    columns = (
        table.c.id,
        table.c.source_key,
        table.c.version,
        table.c.content_hash,
        table.c.deleted,
        table.c.attributes,
    )
    base = select(*columns).where(table.c.source == source, table.c.is_current.is_(True))
    if keys is None:
        frame = read_frame(connection, base)
    else:
        frame = read_in(connection, base, table.c.source_key, keys)
    return frame.astype({"id": "int64", "version": "int64", "deleted": "bool"})


def retire_versions(connection: Connection, record_ids: Sequence[int]) -> None:
    """The given versions stop being current (a newer version of each was written)."""
    table = table_of(SourceRecord)
    statement = update(table).where(table.c.id == bindparam("rid")).values(is_current=False)
    for batch in chunks([{"rid": int(rid)} for rid in record_ids], CHUNK):
        connection.execute(statement, list(batch))


def set_match_keys(connection: Connection, record_ids: Sequence[int], keys: Sequence[str]) -> None:
    """Store each record's match-key form (JSON text)."""
    table = table_of(SourceRecord)
    statement = (
        update(table).where(table.c.id == bindparam("rid")).values(match_keys=bindparam("k"))
    )
    rows = [{"rid": int(rid), "k": text} for rid, text in zip(record_ids, keys, strict=True)]
    for batch in chunks(rows, CHUNK):
        connection.execute(statement, list(batch))


def live_records(connection: Connection, entity: Entity) -> pd.DataFrame:
    """Every live (current, not deleted) source record of an entity, attributes as JSON text."""
    table = table_of(SourceRecord)
    statement = (
        select(
            table.c.id.label("record_id"),
            table.c.source,
            table.c.source_key,
            table.c.last_modified,
            table.c.attributes,
        )
        .where(table.c.entity == entity, table.c.is_current.is_(True), table.c.deleted.is_(False))
        .order_by(table.c.id)
    )
    return read_frame(connection, statement)


def records_by_id(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """Whole source record versions, by id."""
    table = table_of(SourceRecord)
    return read_in(connection, select(table), table.c.id, [int(r) for r in record_ids])


def records_in(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, source, source_key, last_modified, attributes of the given records."""
    columns = ["source", "source_key", "last_modified", "attributes"]
    return _versions_in(connection, record_ids, columns)


def forms_in(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, last_modified and match_keys (the stored match keys and display forms) of
    the given record versions, by record id."""
    return _versions_in(connection, record_ids, ["last_modified", "match_keys"])


def live_forms(connection: Connection, entity: Entity) -> pd.DataFrame:
    """``forms_in`` of every live record of an entity, read at once, by record id."""
    table = table_of(SourceRecord)
    statement = (
        select(table.c.id.label("record_id"), table.c.last_modified, table.c.match_keys)
        .where(table.c.entity == entity, table.c.is_current.is_(True), table.c.deleted.is_(False))
        .order_by(table.c.id)
    )
    return read_frame(connection, statement)


def changed_records(connection: Connection, entity: Entity, run_id: int) -> pd.DataFrame:
    """The versions a run wrote for an entity: source, source_key, deleted."""
    table = table_of(SourceRecord)
    statement = select(table.c.source, table.c.source_key, table.c.deleted).where(
        table.c.entity == entity, table.c.run_id == run_id
    )
    return read_frame(connection, statement)


def live_match_keys(connection: Connection, entity: Entity) -> pd.DataFrame:
    """record_id, source, source_key, match_keys (JSON or None) of every live record."""
    table = table_of(SourceRecord)
    statement = (
        select(
            table.c.id.label("record_id"), table.c.source, table.c.source_key, table.c.match_keys
        )
        .where(table.c.entity == entity, table.c.is_current.is_(True), table.c.deleted.is_(False))
        .order_by(table.c.id)
    )
    return read_frame(connection, statement)


def live_match_keys_of(
    connection: Connection, entity: Entity, record_ids: Sequence[int]
) -> pd.DataFrame:
    """``live_match_keys`` of the given records only (those still live), by record id."""
    table = table_of(SourceRecord)
    return _versions_in(
        connection,
        record_ids,
        ["source", "source_key", "match_keys"],
        table.c.entity == entity,
        table.c.is_current.is_(True),
        table.c.deleted.is_(False),
    )


def keys_of_records(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, source, source_key of the given record versions."""
    return _versions_in(connection, record_ids, ["source", "source_key"])


def match_keys_of_versions(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, source, source_key, match_keys of the given record versions, current or not."""
    return _versions_in(connection, record_ids, ["source", "source_key", "match_keys"])


def _versions_in(
    connection: Connection, record_ids: Sequence[int], columns: list[str], *conditions: Any
) -> pd.DataFrame:
    """record_id and ``columns`` of the source record versions with the given ids (and
    ``conditions``), by record id."""
    table = table_of(SourceRecord)
    statement = select(table.c.id.label("record_id"), *(table.c[c] for c in columns))
    if conditions:
        statement = statement.where(*conditions)
    found = read_in(connection, statement, table.c.id, [int(r) for r in record_ids])
    return found.sort_values("record_id", ignore_index=True)


def current_ids_of_keys(connection: Connection, entity: Entity, keys: pd.DataFrame) -> pd.DataFrame:
    """record_id, source, source_key, deleted of the current versions of (source, source_key)."""
    table = table_of(SourceRecord)
    statement = select(
        table.c.id.label("record_id"), table.c.source, table.c.source_key, table.c.deleted
    ).where(table.c.entity == entity, table.c.is_current.is_(True))
    return read_in_pairs(connection, statement, table.c.source, table.c.source_key, keys)


def ids_of_versions(connection: Connection, entity: Entity, keys: pd.DataFrame) -> list[int]:
    """Record ids of every version of the given (source, source_key) pairs."""
    table = table_of(SourceRecord)
    statement = select(table.c.id).where(table.c.entity == entity)
    found = read_in_pairs(connection, statement, table.c.source, table.c.source_key, keys)
    return [int(i) for i in found["id"]]


def latest_modified(connection: Connection, entity: Entity) -> pd.Timestamp | None:
    """The latest last-modified time of any live record: the 'now' that trust decays to, the
    same for a full run and a delta, so that both give the same golden values."""
    table = table_of(SourceRecord)
    statement = (
        select(table.c.last_modified)
        .where(
            table.c.entity == entity,
            table.c.last_modified.is_not(None),
            table.c.is_current.is_(True),
            table.c.deleted.is_(False),
        )
        .order_by(table.c.last_modified.desc())
        .limit(1)
    )
    value = connection.execute(statement).scalar()
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def quarantine(connection: Connection, run_id: int | None = None) -> pd.DataFrame:
    """The rows sources sent that could not be loaded (of one run, when given)."""
    table = table_of(Quarantine)
    statement = select(table).order_by(table.c.id)
    if run_id is not None:
        statement = statement.where(table.c.run_id == run_id)
    return read_frame(connection, statement)
