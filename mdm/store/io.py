"""Bulk reads and writes between data frames and the store (no row-by-row ORM on hot paths)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, bindparam, delete, select, update
from sqlmodel import SQLModel

from mdm.store.tables import (
    GOLDEN_TABLES,
    Lineage,
    Quarantine,
    Redirect,
    Run,
    SourceRecord,
    Xref,
)

CHUNK = 5_000  # rows per executemany / IN list: bounded memory, few round trips


def table_of(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def now() -> datetime:
    return datetime.now(UTC)


def to_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values for the driver: NA -> None, Timestamps -> aware datetimes."""
    rows: list[dict[str, Any]] = []
    columns = list(frame.columns)
    for values in frame.astype(object).itertuples(index=False, name=None):
        rows.append({c: _plain(v) for c, v in zip(columns, values, strict=True)})
    return rows


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        stamp = value.tz_localize("UTC") if value.tzinfo is None else value
        return stamp.to_pydatetime()
    if isinstance(value, float) and pd.isna(value):
        return None
    if value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def insert_frame(connection: Connection, model: type[SQLModel], frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    table = table_of(model)
    rows = to_rows(frame)
    for start in range(0, len(rows), CHUNK):
        connection.execute(table.insert(), rows[start : start + CHUNK])


def delete_in(
    connection: Connection, model: type[SQLModel], column: str, values: Iterable[Any]
) -> None:
    table = table_of(model)
    keys = list(values)
    for start in range(0, len(keys), CHUNK):
        connection.execute(delete(table).where(table.c[column].in_(keys[start : start + CHUNK])))


def read_frame(connection: Connection, statement: Any) -> pd.DataFrame:
    result = connection.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# ---- runs ----------------------------------------------------------------------------------


def start_run(connection: Connection, command: str, config: dict[str, Any]) -> int:
    table = table_of(Run)
    result = connection.execute(
        table.insert().values(
            command=command,
            status="running",
            started_at=now(),
            config=json.dumps(config, sort_keys=True, default=str),
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the run row got no id")
    return int(key[0])


def finish_run(
    connection: Connection,
    run_id: int,
    status: str,
    summary: dict[str, Any] | None,
    error: str | None = None,
) -> None:
    table = table_of(Run)
    connection.execute(
        update(table)
        .where(table.c.id == run_id)
        .values(
            status=status,
            finished_at=now(),
            summary=json.dumps(summary, sort_keys=True, default=str) if summary else None,
            error=error,
        )
    )


def record_failed_run(
    connection: Connection, command: str, config: dict[str, Any], error: str
) -> int:
    run_id = start_run(connection, command, config)
    finish_run(connection, run_id, "failed", None, error)
    return run_id


def recent_runs(connection: Connection, limit: int) -> pd.DataFrame:
    table = table_of(Run)
    statement = (
        select(
            table.c.id,
            table.c.command,
            table.c.status,
            table.c.started_at,
            table.c.finished_at,
            table.c.summary,
            table.c.error,
        )
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return read_frame(connection, statement)


# ---- source records ------------------------------------------------------------------------


def current_records(connection: Connection, source: str) -> pd.DataFrame:
    """The current version of every key of one source (tombstones included)."""
    table = table_of(SourceRecord)
    statement = select(
        table.c.id,
        table.c.source_key,
        table.c.version,
        table.c.content_hash,
        table.c.deleted,
        table.c.attributes,
    ).where(table.c.source == source, table.c.is_current.is_(True))
    frame = read_frame(connection, statement)
    return frame.astype({"id": "int64", "version": "int64", "deleted": "bool"})


def retire_versions(connection: Connection, record_ids: Sequence[int]) -> None:
    table = table_of(SourceRecord)
    statement = update(table).where(table.c.id == bindparam("rid")).values(is_current=False)
    rows = [{"rid": int(rid)} for rid in record_ids]
    for start in range(0, len(rows), CHUNK):
        connection.execute(statement, rows[start : start + CHUNK])


def live_records(connection: Connection, entity: str) -> pd.DataFrame:
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
    table = table_of(SourceRecord)
    frames = [
        read_frame(
            connection, select(table).where(table.c.id.in_(record_ids[start : start + CHUNK]))
        )
        for start in range(0, len(record_ids), CHUNK)
    ]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else read_frame(connection, select(table).where(table.c.id == -1))
    )


def source_history(connection: Connection, source: str, source_key: str) -> pd.DataFrame:
    table = table_of(SourceRecord)
    statement = (
        select(table)
        .where(table.c.source == source, table.c.source_key == source_key)
        .order_by(table.c.version)
    )
    return read_frame(connection, statement)


# ---- golden records, xref, lineage, redirects -----------------------------------------------


def golden_records(connection: Connection, entity: str) -> pd.DataFrame:
    return read_frame(connection, select(table_of(GOLDEN_TABLES[entity])))


def golden_record(connection: Connection, entity: str, golden_id: str) -> pd.DataFrame:
    table = table_of(GOLDEN_TABLES[entity])
    return read_frame(connection, select(table).where(table.c.golden_id == golden_id))


def xref(connection: Connection, entity: str | None = None) -> pd.DataFrame:
    table = table_of(Xref)
    statement = select(table).order_by(table.c.entity, table.c.source, table.c.source_key)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    return read_frame(connection, statement)


def xref_of_golden(connection: Connection, golden_ids: Sequence[str]) -> pd.DataFrame:
    table = table_of(Xref)
    return read_frame(connection, select(table).where(table.c.golden_id.in_(list(golden_ids))))


def lineage(
    connection: Connection, entity: str | None = None, golden_id: str | None = None
) -> pd.DataFrame:
    table = table_of(Lineage)
    statement = select(table).order_by(table.c.golden_id, table.c.attribute)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    if golden_id is not None:
        statement = statement.where(table.c.golden_id == golden_id)
    return read_frame(connection, statement)


def redirects(connection: Connection, entity: str | None = None) -> pd.DataFrame:
    table = table_of(Redirect)
    statement = select(table)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    return read_frame(connection, statement)


def quarantine(connection: Connection, run_id: int | None = None) -> pd.DataFrame:
    table = table_of(Quarantine)
    statement = select(table).order_by(table.c.id)
    if run_id is not None:
        statement = statement.where(table.c.run_id == run_id)
    return read_frame(connection, statement)


def delete_in_where(
    connection: Connection, table: Table, column: str, values: Iterable[Any], **equal: Any
) -> None:
    """Delete rows whose ``column`` is in ``values`` and whose other columns equal ``equal``."""
    keys = list(values)
    conditions = [table.c[name] == value for name, value in equal.items()]
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        connection.execute(delete(table).where(table.c[column].in_(chunk), *conditions))
