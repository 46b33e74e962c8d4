"""Bulk reads and writes between data frames and the store: no row-by-row ORM on hot paths.

Reads by key lists go through one helper (bounded IN lists, each distinct key once); appends go
through one helper (COPY on PostgreSQL, executemany in large batches on SQLite), both inside the
caller's transaction.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import Enum
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Integer, Table, and_, delete, false, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

CHUNK = 5_000  # keys per IN list, rows per ORM executemany: bounded memory, few round trips
WRITE_BATCH = CHUNK * 10  # rows per raw executemany
# Rows of a frame turned into Python values at a time: a run's millions of lineage rows as
# tuples would hold about 300 bytes each at once.
INSERT_ROWS = WRITE_BATCH * 4


def table_of(model: type[SQLModel] | Table) -> Table:
    table = model if isinstance(model, Table) else model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def now() -> datetime:
    return datetime.now(UTC)


# ---- frames <-> rows ------------------------------------------------------------------------


def to_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values for the driver: NA -> None, Timestamps -> aware datetimes.

    Converted column by column: numbers and strings in one vectorized step each, only
    timestamps and mixed object columns value by value."""
    columns = list(frame.columns)
    values = [plain_column(frame[column]) for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def plain_column(column: pd.Series) -> list[Any]:
    """A column's values as plain Python values (None for missing)."""
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
    if isinstance(value, Enum):  # Entity, statuses: the plain string the drivers bind fastest
        return value.value
    return value


def int_rows(*columns: pd.Series) -> list[tuple[int, ...]]:
    """Rows of plain ints from int64 columns."""
    lists = [column.to_numpy(dtype="int64").tolist() for column in columns]
    return list(zip(*lists, strict=True))


def read_frame(connection: Connection, statement: Any) -> pd.DataFrame:
    """A query's rows as a frame, built column by column (Row objects are slow to frame)."""
    result = connection.execute(statement)
    columns = list(result.keys())
    values = _column_values(result, len(columns))
    if values is None:
        rows = result.all()
        values = _columns_of(rows, len(columns))
    if not values:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    return pd.DataFrame(dict(zip(columns, values, strict=True)))


def _columns_of(rows: Sequence[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    """Rows turned into columns, a list per column: ``zip(*rows)`` makes a tuple per column
    through the cyclic collector, which walks every row meanwhile (0.46 s against 0.06 s for
    719k rows of three values)."""
    if not rows:
        return []
    return [list(map(itemgetter(position), rows)) for position in range(width)]


def _column_values(result: Any, width: int) -> list[Sequence[Any]] | None:
    """The values of each column of a query's result, as SQLAlchemy gives them, read from the
    driver's cursor at once: SQLAlchemy makes a Row of each row first, which takes as long as
    the driver's fetch (about 0.6 s of 1.1 s for 700k rows of three columns on SQLite). Each
    column's result processor (SQLite's text times, integer booleans) is applied as the Rows
    would. None when the result is not a plain cursor of ``width`` columns: read it as Rows."""
    metadata: Any = getattr(result, "_metadata", None)
    cursor: Any = getattr(result, "cursor", None)
    processors: Any = getattr(metadata, "_effective_processors", False)
    description = getattr(cursor, "description", None)
    # Only a result that reads straight from the cursor: a buffering one holds rows already.
    direct = type(getattr(result, "cursor_strategy", None)).__name__ == "CursorFetchStrategy"
    if not direct or processors is False or description is None or len(description) != width:
        return None
    rows = cursor.fetchall()
    result.close()
    if not rows:
        return []
    values = _columns_of(rows, width)
    for position, process in enumerate(processors or ()):
        if process is not None:
            values[position] = [process(value) for value in values[position]]
    return values


# ---- reads and changes by key lists ------------------------------------------------------------


def in_lists(column: Any, values: Iterable[Any]) -> list[ColumnElement[bool]]:
    """``column IN (...)`` conditions over the distinct ``values`` (first occurrence order),
    at most CHUNK values each."""
    distinct = list(dict.fromkeys(values))
    return [column.in_(distinct[start : start + CHUNK]) for start in range(0, len(distinct), CHUNK)]


def source_key_lists(
    source_column: Any, key_column: Any, keys: pd.DataFrame
) -> list[ColumnElement[bool]]:
    """Conditions that together select the (source, source_key) pairs of ``keys``: per source,
    ``source = s AND key IN (...)``, so that the (source, source_key) indexes serve them."""
    return [
        and_(source_column == source, condition)
        for source, group in keys.groupby("source")
        for condition in in_lists(key_column, group["source_key"].astype(str))
    ]


def read_each(
    connection: Connection, statement: Any, conditions: Sequence[ColumnElement[bool]]
) -> pd.DataFrame:
    """The rows of ``statement`` restricted by each condition in turn, concatenated: the one
    way to read by a key list of any length. With no condition, the statement's empty frame."""
    frames = [read_frame(connection, statement.where(condition)) for condition in conditions]
    if not frames:
        return read_frame(connection, statement.where(false()))
    return pd.concat(frames, ignore_index=True)


def read_in(
    connection: Connection, statement: Any, column: Any, values: Iterable[Any]
) -> pd.DataFrame:
    """``statement`` restricted to rows whose ``column`` is in ``values``."""
    return read_each(connection, statement, in_lists(column, values))


def read_in_pairs(
    connection: Connection, statement: Any, source_column: Any, key_column: Any, keys: pd.DataFrame
) -> pd.DataFrame:
    """``statement`` restricted to the (source, source_key) pairs of ``keys``."""
    return read_each(connection, statement, source_key_lists(source_column, key_column, keys))


def execute_each(
    connection: Connection, statement: Any, conditions: Sequence[ColumnElement[bool]]
) -> int:
    """An UPDATE or DELETE restricted by each condition in turn; the rows it changed."""
    changed = 0
    for condition in conditions:
        changed += int(connection.execute(statement.where(condition)).rowcount or 0)
    return changed


def delete_in(
    connection: Connection,
    model: type[SQLModel] | Table,
    column: str,
    values: Iterable[Any],
    **equal: Any,
) -> None:
    """Delete rows whose ``column`` is in ``values`` and whose other columns equal ``equal``."""
    table = table_of(model)
    conditions = [table.c[name] == value for name, value in equal.items()]
    execute_each(connection, delete(table).where(*conditions), in_lists(table.c[column], values))


def chunks(values: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


# ---- bulk writes ------------------------------------------------------------------------------


def insert_frame(
    connection: Connection,
    model: type[SQLModel] | Table,
    frame: pd.DataFrame,
    *,
    indexes_after: bool = False,
) -> None:
    """Append a frame's rows to a table (columns named as the table's; those left out take
    their default). Each value is converted as the column's type converts it for this
    database, so what is stored is what the ORM would store.

    ``indexes_after``: for tables whose indexes the rows reach in random order; on SQLite,
    where the rows are many and at least as many as the table holds, its indexes are built
    again after them (``indexes_built_after``)."""
    if frame.empty:
        return
    table = table_of(model)
    if indexes_after and _rebuild_pays(connection, table, len(frame)):
        with indexes_built_after(connection, table):
            insert_frame(connection, table, frame)
        return
    for start in range(0, len(frame), INSERT_ROWS):
        _insert_rows(connection, table, frame.iloc[start : start + INSERT_ROWS])


def _insert_rows(connection: Connection, table: Table, frame: pd.DataFrame) -> None:
    """One slice of ``insert_frame``: its values as driver values, then the rows."""
    columns = [str(column) for column in frame.columns]
    values = [_column_for_driver(connection, table.c[name], frame[name]) for name in columns]
    for column in table.columns:
        if column.name in columns or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"{table.name}.{column.name} has a default computed per row")
        columns.append(column.name)
        values.append([column.default.arg] * len(frame))  # type: ignore[attr-defined]
    with collector_paused():
        rows = list(zip(*values, strict=True))
    write_rows(connection, table, columns, rows)


# SQLite's page cache while a bulk write runs (KiB). The default, 2 MB, holds a sliver of the
# indexes a run's appends go into (lineage, search keys, xref, membership): every insert then
# reads and writes back pages of them. Pages are only taken as they are used.
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_writes(connection: Connection) -> Iterator[None]:
    """Bulk writes inside: on SQLite the connection's page cache is at least
    ``BULK_CACHE_KIB`` meanwhile, and as it was afterwards (a pooled connection of a server
    does not keep it). Nothing else changes: the transaction is the caller's."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
    # Negative: KiB; positive: pages.
    page = int(connection.exec_driver_sql("PRAGMA page_size").scalar() or 4096)
    size_kib = -before if before < 0 else before * page // 1024
    if size_kib >= BULK_CACHE_KIB:
        yield
        return
    connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    except BaseException:
        with suppress(DBAPIError):  # the error that got here says what went wrong
            connection.exec_driver_sql(f"PRAGMA cache_size = {before}")
        raise
    connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


# Rows of one insert from which building a table's indexes after it may pay: a nightly delta's
# inserts stay below, a first load's are far above.
REBUILD_INDEX_ROWS = 100_000


def _rebuild_pays(connection: Connection, table: Table, rows: int) -> bool:
    if connection.dialect.name != "sqlite" or rows < REBUILD_INDEX_ROWS or not table.indexes:
        return False
    held = connection.execute(select(func.count()).select_from(table)).scalar_one()
    return rows >= held


@contextmanager
def indexes_built_after(connection: Connection, table: Table) -> Iterator[None]:
    """The table's indexes are dropped for the writes inside and built again after them,
    each by one sort, instead of taking every row in its place among the others (random pages
    of a B-tree larger than the cache). SQLite's planner statistics of each index are kept as
    they were. In the caller's transaction: a failure inside undoes the drop too."""
    indexes = sorted(table.indexes, key=lambda index: str(index.name))
    begin_if_idle(connection)
    statistics = _index_statistics(connection, table)
    for index in indexes:
        index.drop(connection)
    yield
    for index in indexes:
        index.create(connection)
    for index_name, stat in statistics:
        connection.exec_driver_sql(
            "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
            (table.name, index_name, stat),
        )


def begin_if_idle(connection: Connection) -> None:
    """On SQLite, open the caller's transaction now if no write has opened it yet: Python's
    sqlite3 begins one only before a write, so a schema change first (dropping an index)
    would be committed at once, and not undone with the rest if a later step fails."""
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")


def _index_statistics(connection: Connection, table: Table) -> list[tuple[str, str]]:
    """The ``sqlite_stat1`` rows of the table's indexes (none before the first ANALYZE, nor
    on another database)."""
    if connection.dialect.name != "sqlite":
        return []
    analyzed = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first()
    if analyzed is None:
        return []
    names = {str(index.name) for index in table.indexes}
    found = connection.exec_driver_sql(
        "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?", (table.name,)
    ).all()
    return [(str(idx), str(stat)) for idx, stat in found if idx in names]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: building a million row tuples would start hundreds
    of collections, each walking every object of the run, while none of them can be garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _column_for_driver(connection: Connection, column: Any, values: pd.Series) -> list[Any]:
    """A frame's column as the driver takes it for ``column`` of its table. The store's time
    type SQLite's dialect writes as text in its default format, moved to UTC."""
    if (
        connection.dialect.name == "sqlite"
        and type(column.type) is UTCDateTime
        and pd.api.types.is_datetime64_any_dtype(values.dtype)
    ):
        return sqlite_time_texts(values)
    return _driver_values(connection, column, values.dtype, plain_column(values))


def sqlite_time_texts(values: pd.Series) -> list[str | None]:
    """Times as SQLite's dialect writes them (``2026-01-02 03:04:05.000006``, in UTC; naive
    times are UTC), None for none: by NumPy over the whole column, instead of a datetime and
    two conversions per value (3 s for the million timestamps of a first load)."""
    times = values.dt.tz_convert(UTC) if values.dt.tz is not None else values
    micro = times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    missing = values.isna().to_numpy().tolist()
    texts = np.datetime_as_string(micro, unit="us").tolist()
    return [
        None if gone else text.replace("T", " ", 1)
        for text, gone in zip(texts, missing, strict=True)
    ]


def _driver_values(connection: Connection, column: Any, dtype: Any, values: list[Any]) -> list[Any]:
    """A column's plain values as this database's driver takes them: through the column
    type's own bind processing (times become aware UTC datetimes, which COPY writes with
    their offset); floats holding whole numbers (an integer column with gaps) as ints for
    COPY, which takes no '7.0' for an integer where a parameter would be cast."""
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    if process is not None:
        return [process(value) for value in values]
    whole_floats = dtype.kind in ("f", "O")
    if (
        connection.dialect.name == "postgresql"
        and isinstance(column.type, Integer)
        and whole_floats
    ):
        return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    return values


def write_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Append ``rows`` (values of ``columns`` as the driver takes them) to ``table``: COPY on
    PostgreSQL, executemany in large batches elsewhere."""
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, f"COPY {quote(table.name)} ({names}) FROM STDIN", rows)
        return
    insert = f"INSERT INTO {quote(table.name)} ({names}) VALUES "
    if connection.dialect.name == "sqlite" and connection.dialect.paramstyle == "qmark":
        _insert_many_per_statement(connection, insert, len(columns), rows)
        return
    marks = positional_marks(connection, len(columns))
    execute_rows(connection, f"{insert}({marks})", rows)


# SQLite: the most parameters one statement may bind in every build (SQLITE_MAX_VARIABLE_NUMBER
# was 999 before 3.32).
SQLITE_PARAMETERS = 999


def _insert_many_per_statement(
    connection: Connection, insert: str, width: int, rows: Sequence[tuple[Any, ...]]
) -> None:
    """SQLite: ``rows`` inserted as many to a statement as its parameters allow. Each statement
    is stepped and reset, and crosses from Python, once for all its rows: about half the time
    of a statement per row for the rows of a first load (lineage, xref, versions)."""
    per = max(1, SQLITE_PARAMETERS // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    whole = len(rows) // per * per
    statement = insert + ", ".join([one] * per)
    step = per * max(1, WRITE_BATCH // per)  # rows per executemany, whole statements
    for start in range(0, whole, step):
        stop = min(start + step, whole)
        batches = [
            tuple(itertools.chain.from_iterable(rows[first : first + per]))
            for first in range(start, stop, per)
        ]
        connection.exec_driver_sql(statement, batches)
    rest = rows[whole:]
    if rest:
        flat = tuple(itertools.chain.from_iterable(rest))
        connection.exec_driver_sql(insert + ", ".join([one] * len(rest)), flat)


def _copy_rows(connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY ``rows`` in the transaction of ``connection`` (psycopg 3)."""
    cursor: Any = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def execute_rows(connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``statement`` (in the driver's own parameter style) over plain tuples: executemany
    without a dict per row, for the millions of rows of the record-key index."""
    for batch in chunks(rows, WRITE_BATCH):
        connection.exec_driver_sql(statement, list(batch))


def positional_marks(connection: Connection, count: int) -> str:
    """Positional parameter markers in the driver's own style."""
    style = connection.dialect.paramstyle
    if style == "qmark":
        return ", ".join(["?"] * count)
    if style == "numeric":
        return ", ".join(f":{i}" for i in range(1, count + 1))
    return ", ".join(["%s"] * count)
