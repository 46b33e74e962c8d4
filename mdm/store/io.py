"""Bulk reads and writes between data frames and the store (no row-by-row ORM on hot paths)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    false,
    select,
    update,
)
from sqlmodel import SQLModel

from mdm.store.tables import (
    GOLDEN_TABLES,
    AuditLog,
    GoldenEvent,
    GoldenVersion,
    KeyCount,
    Lineage,
    MatchDecision,
    Membership,
    Quarantine,
    RecordKey,
    Redirect,
    ReviewItem,
    Run,
    SourceRecord,
    ValuePin,
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
    """Plain Python values for the driver: NA -> None, Timestamps -> aware datetimes.

    Converted column by column: numbers and strings in one vectorized step each, only
    timestamps and mixed object columns value by value."""
    columns = list(frame.columns)
    values = [_plain_column(frame[column]) for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _plain_column(column: pd.Series) -> list[Any]:
    if column.dtype == object or pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [_plain(value) for value in column.tolist()]
    values = column.to_numpy(dtype=object)
    values[column.isna().to_numpy()] = None
    plain: list[Any] = values.tolist()
    return plain


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
    columns = [str(column) for column in frame.columns]
    if _plain_insert(table, columns):
        names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
        statement = (
            f"INSERT INTO {table.name} ({names}) VALUES ({_marks(connection, len(columns))})"
        )
        values = [_plain_column(frame[column]) for column in frame.columns]
        _execute_rows(connection, statement, list(zip(*values, strict=True)))
        return
    rows = to_rows(frame)
    for start in range(0, len(rows), CHUNK):
        connection.execute(table.insert(), rows[start : start + CHUNK])


def _plain_insert(table: Table, columns: list[str]) -> bool:
    """Whether rows of ``columns`` can go to the driver as they are: numbers and text only
    (no type that converts its values, like times), and no column left to a default."""
    plain = all(isinstance(table.c[c].type, Integer | String | Float) for c in columns)
    return plain and all(c.default is None for c in table.columns if c.name not in columns)


def delete_in(
    connection: Connection, model: type[SQLModel], column: str, values: Iterable[Any]
) -> None:
    table = table_of(model)
    keys = list(values)
    for start in range(0, len(keys), CHUNK):
        connection.execute(delete(table).where(table.c[column].in_(keys[start : start + CHUNK])))


def read_frame(connection: Connection, statement: Any) -> pd.DataFrame:
    """A query's rows as a frame, built column by column (Row objects are slow to frame)."""
    result = connection.execute(statement)
    columns = list(result.keys())
    rows = result.all()
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


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
    """Whole source record versions, by id."""
    table = table_of(SourceRecord)
    return read_in(connection, select(table), table.c.id, [int(r) for r in record_ids])


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


# ---- scope of a run, match keys --------------------------------------------------------------


def changed_records(connection: Connection, entity: str, run_id: int) -> pd.DataFrame:
    """The versions a run wrote for an entity: source, source_key, deleted."""
    table = table_of(SourceRecord)
    statement = select(table.c.source, table.c.source_key, table.c.deleted).where(
        table.c.entity == entity, table.c.run_id == run_id
    )
    return read_frame(connection, statement)


def live_match_keys(connection: Connection, entity: str) -> pd.DataFrame:
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
    connection: Connection, entity: str, record_ids: Sequence[int]
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


def current_ids_of_keys(connection: Connection, entity: str, keys: pd.DataFrame) -> pd.DataFrame:
    """record_id, source, source_key, deleted of the current versions of (source, source_key)."""
    table = table_of(SourceRecord)
    frames = []
    for source, group in keys.groupby("source"):
        statement = select(
            table.c.id.label("record_id"), table.c.source, table.c.source_key, table.c.deleted
        ).where(table.c.entity == entity, table.c.source == source, table.c.is_current.is_(True))
        frames.append(read_in(connection, statement, table.c.source_key, group["source_key"]))
    if not frames:
        empty = select(
            table.c.id.label("record_id"), table.c.source, table.c.source_key, table.c.deleted
        )
        return read_frame(connection, empty.where(false()))
    return pd.concat(frames, ignore_index=True)


def ids_of_versions(connection: Connection, entity: str, keys: pd.DataFrame) -> list[int]:
    """Record ids of every version of the given (source, source_key) pairs."""
    table = table_of(SourceRecord)
    ids: list[int] = []
    for source, group in keys.groupby("source"):
        statement = select(table.c.id).where(table.c.entity == entity, table.c.source == source)
        found = read_in(connection, statement, table.c.source_key, group["source_key"])
        ids += [int(i) for i in found["id"]]
    return ids


# ---- record keys (the index of a nightly delta) ---------------------------------------------


def replace_record_keys(
    connection: Connection, entity: str, keys: pd.DataFrame, counts: pd.Series
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
    statement = f"INSERT INTO key_count (entity, key, records) VALUES ({_marks(connection, 3)})"
    _write_counts(connection, statement, entity, counts.sort_index())


def add_key_counts(connection: Connection, entity: str, change: pd.Series) -> None:
    """Add ``change`` (key -> records, negative to subtract) to the key counts; a count that
    reaches zero is dropped."""
    change = change[change != 0]
    if change.empty:
        return
    marks = _marks(connection, 3)
    statement = (
        f"INSERT INTO key_count (entity, key, records) VALUES ({marks}) "
        "ON CONFLICT (entity, key) DO UPDATE SET records = key_count.records + excluded.records"
    )
    _write_counts(connection, statement, entity, change)
    table = table_of(KeyCount)
    fell = change.index[change.to_numpy() < 0].to_numpy(dtype="int64").tolist()
    delete_in_where(connection, table, "key", fell, entity=entity, records=0)


def _write_counts(connection: Connection, statement: str, entity: str, counts: pd.Series) -> None:
    """Run ``statement`` (entity, key, records) over ``counts`` (key -> records)."""
    keys = pd.Series(counts.index, dtype="int64")
    rows = [(entity, key, n) for key, n in _columns(keys, counts)]
    _execute_rows(connection, statement, rows)


def _columns(*columns: pd.Series) -> list[tuple[int, ...]]:
    """Rows of plain ints from int64 columns."""
    lists = [column.to_numpy(dtype="int64").tolist() for column in columns]
    return list(zip(*lists, strict=True))


def _execute_rows(connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``statement`` (in the driver's own parameter style) over plain tuples: executemany
    without a dict per row, for the millions of rows of the record-key index."""
    for start in range(0, len(rows), CHUNK * 10):
        connection.exec_driver_sql(statement, list(rows[start : start + CHUNK * 10]))


def _marks(connection: Connection, count: int) -> str:
    """Positional parameter markers in the driver's own style."""
    style = connection.dialect.paramstyle
    if style == "qmark":
        return ", ".join(["?"] * count)
    if style == "numeric":
        return ", ".join(f":{i}" for i in range(1, count + 1))
    return ", ".join(["%s"] * count)


def insert_record_keys(connection: Connection, entity: str, keys: pd.DataFrame) -> None:
    """Append ``keys`` (record_id, key)."""
    if keys.empty:
        return
    statement = f"INSERT INTO record_key (record_id, key, entity) VALUES ({_marks(connection, 3)})"
    rows = [(record, key, entity) for record, key in _columns(keys["record_id"], keys["key"])]
    _execute_rows(connection, statement, rows)


def delete_record_keys_of(connection: Connection, record_ids: Sequence[int]) -> None:
    """Delete every key of the given records."""
    delete_in(connection, RecordKey, "record_id", [int(r) for r in record_ids])


def delete_record_key_rows(connection: Connection, rows: pd.DataFrame) -> None:
    """Delete the given (record_id, key) rows."""
    if rows.empty:
        return
    marks = _marks(connection, 2).split(", ")
    statement = f"DELETE FROM record_key WHERE record_id = {marks[0]} AND key = {marks[1]}"
    _execute_rows(connection, statement, _columns(rows["record_id"], rows["key"]))


def records_with_keys(connection: Connection, entity: str, keys: Sequence[int]) -> pd.DataFrame:
    """key, record_id of every live record that has one of ``keys``."""
    table = table_of(RecordKey)
    statement = select(table.c.key, table.c.record_id).where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return found.astype({"key": "int64", "record_id": "int64"})


def records_having_keys(connection: Connection, entity: str, keys: Sequence[int]) -> list[int]:
    """The live records that have one of ``keys``, each once, by record id."""
    table = table_of(RecordKey)
    statement = select(table.c.record_id).distinct().where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return sorted(set(found["record_id"].astype("int64").tolist()))


def golden_ids_with_keys(connection: Connection, entity: str, keys: Sequence[int]) -> pd.DataFrame:
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


def key_counts(connection: Connection, entity: str, keys: Sequence[int]) -> pd.Series:
    """How many live records have each of ``keys`` (keys nobody has are left out)."""
    table = table_of(KeyCount)
    statement = select(table.c.key, table.c.records).where(table.c.entity == entity)
    found = read_in(connection, statement, table.c.key, [int(k) for k in keys])
    return pd.Series(
        found["records"].to_numpy(dtype="int64"),
        index=found["key"].to_numpy(dtype="int64"),
        dtype="int64",
    )


def set_match_keys(connection: Connection, record_ids: Sequence[int], keys: Sequence[str]) -> None:
    table = table_of(SourceRecord)
    statement = (
        update(table).where(table.c.id == bindparam("rid")).values(match_keys=bindparam("k"))
    )
    rows = [{"rid": int(rid), "k": text} for rid, text in zip(record_ids, keys, strict=True)]
    for start in range(0, len(rows), CHUNK):
        connection.execute(statement, rows[start : start + CHUNK])


def records_in(connection: Connection, record_ids: Sequence[int]) -> pd.DataFrame:
    """record_id, source, source_key, last_modified, attributes of the given records."""
    columns = ["source", "source_key", "last_modified", "attributes"]
    return _versions_in(connection, record_ids, columns)


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def xref_of_keys(connection: Connection, entity: str, keys: pd.DataFrame) -> pd.DataFrame:
    """The xref rows of the given (source, source_key) pairs."""
    table = table_of(Xref)
    frames = []
    for source, group in keys.groupby("source"):
        # Each key once: a key repeated across chunks would come back twice.
        for chunk in _chunks(sorted(set(group["source_key"].astype(str)))):
            statement = select(table).where(
                table.c.entity == entity, table.c.source == source, table.c.source_key.in_(chunk)
            )
            frames.append(read_frame(connection, statement))
    if not frames:
        return read_frame(connection, select(table).where(false()))
    return pd.concat(frames, ignore_index=True)


def read_in(
    connection: Connection, statement: Any, column: Any, values: Iterable[Any]
) -> pd.DataFrame:
    """``statement`` restricted to rows whose ``column`` is in ``values``: each distinct value
    queried once, in bounded IN lists, the parts concatenated."""
    distinct = list(dict.fromkeys(values))
    frames = [
        read_frame(connection, statement.where(column.in_(chunk))) for chunk in _chunks(distinct)
    ]
    if not frames:
        return read_frame(connection, statement.where(false()))
    return pd.concat(frames, ignore_index=True)


def xref_of_golden_ids(connection: Connection, golden_ids: Sequence[str]) -> pd.DataFrame:
    table = table_of(Xref)
    return read_in(connection, select(table), table.c.golden_id, golden_ids)


def existing_golden_ids(connection: Connection, entity: str, golden_ids: Sequence[str]) -> set[str]:
    """Which of the given ids were ever used (as golden records or redirects)."""
    table, redirect = table_of(GOLDEN_TABLES[entity]), table_of(Redirect)
    found: set[str] = set()
    for chunk in _chunks(list(golden_ids)):
        found |= {
            str(r[0])
            for r in connection.execute(
                select(table.c.golden_id).where(table.c.golden_id.in_(chunk))
            )
        }
        found |= {
            str(r[0])
            for r in connection.execute(
                select(redirect.c.from_id).where(redirect.c.from_id.in_(chunk))
            )
        }
    return found


def golden_in(connection: Connection, entity: str, golden_ids: Sequence[str]) -> pd.DataFrame:
    table = table_of(GOLDEN_TABLES[entity])
    return read_in(connection, select(table), table.c.golden_id, golden_ids)


# ---- history -----------------------------------------------------------------------------


def former_members(
    connection: Connection, entity: str, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """source, source_key, golden_id: the last membership of each record (of ``keys``, source
    and source_key, when given) in an id that was merged away."""
    membership, redirect = table_of(Membership), table_of(Redirect)
    statement = (
        select(membership.c.id, membership.c.source, membership.c.source_key)
        .add_columns(membership.c.golden_id)
        .join(redirect, redirect.c.from_id == membership.c.golden_id)
        .where(membership.c.entity == entity, redirect.c.entity == entity)
    )
    if keys is None:
        found = read_frame(connection, statement)
    else:
        frames = [read_frame(connection, statement.where(false()))]
        for source, group in keys.groupby("source"):
            by_source = statement.where(membership.c.source == source)
            frames.append(
                read_in(connection, by_source, membership.c.source_key, group["source_key"])
            )
        found = pd.concat(frames, ignore_index=True)
    last = found.sort_values("id", kind="stable").drop_duplicates(
        ["source", "source_key"], keep="last"
    )
    return last[["source", "source_key", "golden_id"]].reset_index(drop=True)


def close_memberships(connection: Connection, entity: str, keys: pd.DataFrame, run_id: int) -> None:
    table = table_of(Membership)
    for source, group in keys.groupby("source"):
        for chunk in _chunks(group["source_key"].astype(str).tolist()):
            connection.execute(
                update(table)
                .where(
                    table.c.entity == entity,
                    table.c.source == source,
                    table.c.source_key.in_(chunk),
                    table.c.to_run.is_(None),
                )
                .values(to_run=run_id)
            )


def delete_redirects(connection: Connection, from_ids: Sequence[str]) -> None:
    delete_in(connection, Redirect, "from_id", from_ids)


def golden_history(connection: Connection, golden_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, versions) of one golden id, oldest first."""
    events, versions = table_of(GoldenEvent), table_of(GoldenVersion)
    return (
        read_frame(
            connection,
            select(events).where(events.c.golden_id == golden_id).order_by(events.c.id),
        ),
        read_frame(
            connection,
            select(versions).where(versions.c.golden_id == golden_id).order_by(versions.c.version),
        ),
    )


def latest_versions(connection: Connection, golden_ids: Sequence[str]) -> pd.Series:
    """golden_id -> its latest version number (absent: never written)."""
    table = table_of(GoldenVersion)
    statement = select(table.c.golden_id, table.c.version)
    versions = read_in(connection, statement, table.c.golden_id, golden_ids)
    return versions.groupby("golden_id")["version"].max()


# ---- stewardship -------------------------------------------------------------------------


def active_decisions(connection: Connection, entity: str) -> pd.DataFrame:
    table = table_of(MatchDecision)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def active_pins(connection: Connection, entity: str) -> pd.DataFrame:
    table = table_of(ValuePin)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def deactivate_pins(connection: Connection, golden_id: str, attribute: str) -> int:
    table = table_of(ValuePin)
    result = connection.execute(
        update(table)
        .where(
            table.c.golden_id == golden_id,
            table.c.attribute == attribute,
            table.c.active.is_(True),
        )
        .values(active=False)
    )
    return int(result.rowcount or 0)


def audit(connection: Connection, actor: str, action: str, target: str, detail: Any) -> None:
    connection.execute(
        table_of(AuditLog)
        .insert()
        .values(
            at=now(),
            actor=actor,
            action=action,
            target=target,
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )


def contacts_of_accounts(connection: Connection, account_ids: Sequence[str]) -> list[str]:
    """Golden contacts linked to any of the given golden accounts."""
    table = table_of(GOLDEN_TABLES["contact"])
    found: list[str] = []
    for chunk in _chunks(list(account_ids)):
        statement = select(table.c.golden_id).where(table.c.account_id.in_(chunk))
        found += [str(row[0]) for row in connection.execute(statement)]
    return found


def last_resolution_basis(connection: Connection) -> str | None:
    """The resolution basis recorded by the latest successful run that resolved."""
    table = table_of(Run)
    statement = (
        select(table.c.summary)
        .where(table.c.status == "succeeded", table.c.command.in_(["run", "steward"]))
        .order_by(table.c.id.desc())
        .limit(1)
    )
    summary = connection.execute(statement).scalar()
    if not summary:
        return None
    basis = json.loads(summary).get("basis")
    return str(basis) if basis else None


def golden_of_records(connection: Connection, entity: str) -> pd.DataFrame:
    """source, source_key, golden_id of every live record of an entity."""
    table = table_of(Xref)
    statement = select(table.c.source, table.c.source_key, table.c.golden_id).where(
        table.c.entity == entity
    )
    return read_frame(connection, statement)


def close_reviews(connection: Connection, entity: str, pair: pd.DataFrame) -> None:
    """Mark the open review items between two records decided."""
    table = table_of(ReviewItem)
    (a_source, a_key), (b_source, b_key) = pair[["source", "source_key"]].itertuples(
        index=False, name=None
    )
    for left, right in (
        ((a_source, a_key), (b_source, b_key)),
        ((b_source, b_key), (a_source, a_key)),
    ):
        connection.execute(
            update(table)
            .where(
                table.c.entity == entity,
                table.c.status == "open",
                table.c.left_source == left[0],
                table.c.left_key == left[1],
                table.c.right_source == right[0],
                table.c.right_key == right[1],
            )
            .values(status="decided")
        )


def latest_modified(connection: Connection, entity: str) -> pd.Timestamp | None:
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


def replace_reviews(
    connection: Connection, entity: str, records: pd.DataFrame, reviews: pd.DataFrame, run_id: int
) -> None:
    """The scope's open review items are replaced by what this run found; decided items stay."""
    table = table_of(ReviewItem)
    for side in ("left", "right"):
        source_column, key_column = table.c[f"{side}_source"], table.c[f"{side}_key"]
        for source, group in records.groupby("source"):
            for chunk in _chunks(group["source_key"].astype(str).tolist()):
                connection.execute(
                    update(table)
                    .where(
                        table.c.entity == entity,
                        table.c.status == "open",
                        source_column == source,
                        key_column.in_(chunk),
                    )
                    .values(status="gone")
                )
    rows = reviews.assign(entity=entity, run_id=run_id, status="open")
    insert_frame(connection, ReviewItem, rows)


def open_reviews(connection: Connection, entity: str | None = None) -> pd.DataFrame:
    table = table_of(ReviewItem)
    statement = select(table).where(table.c.status == "open").order_by(table.c.probability.desc())
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    return read_frame(connection, statement)


def moved_members(connection: Connection, entity: str, run_id: int) -> pd.DataFrame:
    """source, source_key, golden_id of the memberships a run opened or closed: the records
    that joined or left a golden record (new, deleted, merged, split, revived)."""
    table = table_of(Membership)
    statement = select(table.c.source, table.c.source_key, table.c.golden_id).where(
        table.c.entity == entity, (table.c.from_run == run_id) | (table.c.to_run == run_id)
    )
    return read_frame(connection, statement)


def refresh_statistics(connection: Connection) -> None:
    """Refresh the statistics the database plans queries by, after a full load has changed
    every table. Without them SQLite looks up a few hundred keys of one source by scanning
    every record of the entity; PostgreSQL's autovacuum would come to it only later."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ANALYZE")
    elif connection.dialect.name == "postgresql":
        loaded: list[type[SQLModel]] = [
            SourceRecord,
            RecordKey,
            KeyCount,
            Xref,
            Membership,
            Lineage,
            *GOLDEN_TABLES.values(),
        ]
        connection.exec_driver_sql(f"ANALYZE {', '.join(table_of(m).name for m in loaded)}")


# ---- identity: former memberships, steward splits ------------------------------------------


def last_other_memberships(
    connection: Connection, entity: str, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """source, source_key, golden_id: each record's (of ``keys``, source and source_key, when
    given) most recent membership of a golden record other than its current one; for a record
    with no current one (deleted), its last. The id a record may go back to when it leaves its
    golden record or comes back."""
    membership, xref_table = table_of(Membership), table_of(Xref)
    joined = membership.outerjoin(
        xref_table,
        (xref_table.c.source == membership.c.source)
        & (xref_table.c.source_key == membership.c.source_key),
    )
    statement = (
        select(membership.c.id, membership.c.source, membership.c.source_key)
        .add_columns(membership.c.golden_id)
        .select_from(joined)
        .where(
            membership.c.entity == entity,
            membership.c.to_run.is_not(None),
            xref_table.c.golden_id.is_(None) | (xref_table.c.golden_id != membership.c.golden_id),
        )
    )
    if keys is None:
        found = read_frame(connection, statement)
    else:
        frames = [read_frame(connection, statement.where(false()))]
        for source, group in keys.groupby("source"):
            by_source = statement.where(membership.c.source == source)
            frames.append(
                read_in(connection, by_source, membership.c.source_key, group["source_key"])
            )
        found = pd.concat(frames, ignore_index=True)
    last = found.sort_values("id", kind="stable").drop_duplicates(
        ["source", "source_key"], keep="last"
    )
    return last[["source", "source_key", "golden_id"]].reset_index(drop=True)


def memberships_closed_in(connection: Connection, entity: str, run_id: int) -> pd.DataFrame:
    """source, source_key, golden_id of the memberships a run has closed so far. Before a run
    writes its golden ids, these are the records a steward action took out of their golden
    record."""
    table = table_of(Membership)
    statement = select(table.c.source, table.c.source_key, table.c.golden_id).where(
        table.c.entity == entity, table.c.to_run == run_id
    )
    return read_frame(connection, statement)


def deactivate_decisions(connection: Connection, decision_ids: Sequence[int]) -> None:
    table = table_of(MatchDecision)
    for chunk in _chunks([int(i) for i in decision_ids]):
        connection.execute(update(table).where(table.c.id.in_(chunk)).values(active=False))
