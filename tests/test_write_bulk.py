"""The golden writer's bulk path: a first run only appends (no deletes or reads by key lists
for ids minted in the run), a rerun of the same inputs writes nothing, and SQLite's page cache
is raised for the write and given back."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from mdm import pipeline
from mdm.config import load_project
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import bulk, database, open_store, record_index
from mdm.store.bulk import BULK_CACHE_KIB, bulk_writes, insert_frame, table_of
from mdm.store.migrate import migrate_store
from mdm.store.tables import SearchKey, SourceRecord

PROJECT = CRM_ACCOUNTS_TOML
GOLDEN_WRITES = ("golden_account", "lineage", "search_key", "golden_version")


def project_at(directory: Path, url: str) -> Path:
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    rows = [
        "1,Acme Inc,555-0101,94105,2024-01-01",
        "2,Acme Inc.,555-0101,94105,2024-01-02",
        "3,Globex,555-0102,10001,2024-01-02",
        "4,Initech,555-0103,73301,2024-01-03",
    ]
    (directory / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + "\n".join(rows) + "\n")
    return directory


def test_a_first_run_appends_golden_records_without_deleting_or_reading_them(
    tmp_path: Path, store_url: str, monkeypatch: Any
) -> None:
    project = load_project(project_at(tmp_path / "project", store_url))
    seen: list[str] = []
    original = database._create_engine

    def listened(url: str) -> Engine:
        engine = original(url)
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(str(a[2]).lower()))
        return engine

    monkeypatch.setattr(database, "_create_engine", listened)
    first = pipeline.run(project, export=False)
    assert first.entities[0].created == 3
    for table in GOLDEN_WRITES:
        assert not [s for s in seen if s.startswith(f"delete from {table} ")], table
    # The run checks its minted ids once against the ids ever used (their golden_id only);
    # the writer reads no golden row for them.
    rows_read = [s for s in seen if s.startswith("select golden_account.golden_id, ")]
    assert not [s for s in rows_read if "golden_account.golden_id in (" in s]
    assert not [s for s in seen if s.startswith("select") and "from golden_version" in s]
    # What was appended is all there is: a second run of the same inputs changes nothing.
    seen.clear()
    again = pipeline.run(project, export=False, full=True)
    assert again.entities[0].updated == 0 and again.entities[0].created == 0
    store = open_store(store_url)
    try:
        with store.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT count(*) FROM golden_version").scalar()
            lineage = connection.exec_driver_sql("SELECT count(*) FROM lineage").scalar()
            golden = connection.exec_driver_sql("SELECT count(*) FROM golden_account").scalar()
    finally:
        store.close()
    assert versions == golden == 3
    assert lineage and lineage > 0


def test_bulk_writes_raise_sqlite_page_cache_and_give_it_back(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        with bulk_writes(connection):
            pass  # nothing to change elsewhere
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    with bulk_writes(connection):
        inside = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    after = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    assert inside == -BULK_CACHE_KIB
    assert after == before


# ---- indexes built after a large insert ------------------------------------------------------


def _search_rows(count: int, start: int = 0) -> pd.DataFrame:
    numbers = range(start, start + count)
    return pd.DataFrame(
        {
            "kind": "name",
            "term": [f"term {n:07d}" for n in numbers],
            "golden_id": [f"G{(n * 7919) % 1_000_003:07d}" for n in numbers],  # random order
        }
    )


def _indexes(connection: Connection, table: str) -> dict[str, tuple[int, str]]:
    """Name -> (root page, SQL) of the table's indexes: a rebuilt index has a new root."""
    found = connection.exec_driver_sql(
        "SELECT name, rootpage, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        (table,),
    ).all()
    return {str(name): (int(root), str(sql)) for name, root, sql in found}


@pytest.fixture
def sqlite_connection(tmp_path: Path) -> Iterator[Connection]:
    url = f"sqlite:///{tmp_path / 'mdm.db'}"
    migrate_store(url, 0)
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            yield connection
    finally:
        store.close()


def test_a_large_insert_into_a_small_table_builds_its_indexes_after_and_keeps_their_statistics(
    sqlite_connection: Connection, monkeypatch: Any
) -> None:
    connection = sqlite_connection
    monkeypatch.setattr(bulk, "REBUILD_INDEX_ROWS", 1_000)
    insert_frame(connection, SearchKey, _search_rows(500))
    connection.exec_driver_sql("ANALYZE")
    statistics = connection.exec_driver_sql(
        "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'search_key' ORDER BY idx"
    ).all()
    assert any(idx == "ix_search_key_golden" for idx, _ in statistics)
    before = _indexes(connection, "search_key")

    # 499 rows: fewer than the table holds, the indexes take them as they come.
    insert_frame(connection, SearchKey, _search_rows(499, start=500), indexes_after=True)
    assert _indexes(connection, "search_key") == before
    # 2,000 rows: more than the 999 held, the index by golden id is built again after them.
    insert_frame(connection, SearchKey, _search_rows(2_000, start=999), indexes_after=True)
    after = _indexes(connection, "search_key")
    assert after.keys() == before.keys()
    assert {name: sql for name, (_, sql) in after.items()} == {
        name: sql for name, (_, sql) in before.items()
    }
    assert after["ix_search_key_golden"][0] != before["ix_search_key_golden"][0]
    assert (
        connection.exec_driver_sql(
            "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'search_key' ORDER BY idx"
        ).all()
        == statistics
    )
    assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    by_golden = connection.exec_driver_sql(
        "SELECT count(*) FROM search_key INDEXED BY ix_search_key_golden WHERE golden_id >= ''"
    ).scalar()
    assert by_golden == 2_999


def test_a_failed_insert_with_indexes_after_leaves_the_table_and_its_indexes_as_they_were(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "REBUILD_INDEX_ROWS", 10)
    url = f"sqlite:///{tmp_path / 'mdm.db'}"
    migrate_store(url, 0)
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            insert_frame(connection, SearchKey, _search_rows(5))
            before = _indexes(connection, "search_key")
        duplicated = pd.concat([_search_rows(20, start=100), _search_rows(1, start=100)])
        with pytest.raises(IntegrityError), store.transaction() as connection:
            insert_frame(connection, SearchKey, duplicated, indexes_after=True)
        with store.transaction() as connection:
            assert _indexes(connection, "search_key") == before
            assert connection.exec_driver_sql("SELECT count(*) FROM search_key").scalar() == 5
    finally:
        store.close()


def test_indexes_after_on_postgresql_appends_as_usual(postgres_url: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk, "REBUILD_INDEX_ROWS", 10)
    migrate_store(postgres_url, 0)
    store = open_store(postgres_url, writing=True)
    try:
        with store.transaction() as connection:
            insert_frame(connection, SearchKey, _search_rows(50), indexes_after=True)
            assert connection.exec_driver_sql("SELECT count(*) FROM search_key").scalar() == 50
    finally:
        store.close()


def test_a_failed_rebuild_of_the_record_keys_leaves_their_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mdm.db'}"
    migrate_store(url, 0)
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            before = _indexes(connection, "record_key")
        keys = pd.DataFrame({"record_id": [1, 1], "key": [5, 5]})  # one row twice
        # Written through the driver's own cursor: its error, not SQLAlchemy's.
        with pytest.raises(sqlite3.IntegrityError), store.transaction() as connection:
            record_index.replace_record_keys(
                connection, Entity.ACCOUNT, keys, pd.Series([1], index=[5])
            )
        with store.transaction() as connection:
            assert _indexes(connection, "record_key") == before
    finally:
        store.close()


# ---- large frames go in slices ---------------------------------------------------------------


def _stored_search_rows(connection: Connection) -> pd.DataFrame:
    found = connection.exec_driver_sql(
        "SELECT kind, term, golden_id FROM search_key ORDER BY term"
    ).all()
    return pd.DataFrame(found, columns=["kind", "term", "golden_id"])


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_a_frame_larger_than_a_slice_is_stored_whole(
    store_kind: str, tmp_path: Path, postgres_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "INSERT_ROWS", 7)
    url = f"sqlite:///{tmp_path / 'mdm.db'}" if store_kind == "sqlite" else postgres_url
    assert_search_rows_stored_whole(url, _search_rows(50))


@pytest.mark.parametrize("parameters", [1, 10, 999])
def test_sqlite_inserts_many_rows_per_statement_and_stores_each_row_once(
    parameters: int, tmp_path: Path, monkeypatch: Any
) -> None:
    """SQLite takes as many rows per INSERT as its parameters allow (here 1, 3 or 333 rows of
    three values), several such statements per executemany, then the rows left over: each row
    of the frame is stored once, whatever the sizes. A row stored twice would break the search
    keys' unique constraint; a row left out would be missing below."""
    monkeypatch.setattr(bulk, "SQLITE_PARAMETERS", parameters)
    monkeypatch.setattr(bulk, "WRITE_BATCH", 7)
    assert_search_rows_stored_whole(f"sqlite:///{tmp_path / 'many.db'}", _search_rows(50))


def assert_search_rows_stored_whole(url: str, rows: pd.DataFrame) -> None:
    """``rows`` inserted in one transaction into a new store's emptied search keys are
    exactly what the table then holds."""
    migrate_store(url, 0)
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            connection.exec_driver_sql("DELETE FROM search_key")
            insert_frame(connection, SearchKey, rows)
        with store.transaction() as connection:
            pd.testing.assert_frame_equal(_stored_search_rows(connection), rows)
    finally:
        store.close()


def test_a_failure_in_a_later_slice_stores_none_of_the_frame(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "INSERT_ROWS", 7)
    url = f"sqlite:///{tmp_path / 'slices.db'}"
    migrate_store(url, 0)
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            insert_frame(connection, SearchKey, _search_rows(3, start=900))
        # Row 46 repeats row 40: the first six slices went in before the seventh fails.
        duplicated = pd.concat([_search_rows(46), _search_rows(1, start=40)], ignore_index=True)
        with pytest.raises(IntegrityError), store.transaction() as connection:
            insert_frame(connection, SearchKey, duplicated)
        with store.transaction() as connection:
            pd.testing.assert_frame_equal(
                _stored_search_rows(connection), _search_rows(3, start=900)
            )
    finally:
        store.close()


# ---- reading a query's rows as a frame ----------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("streamed", [False, True])
def test_read_frame_gives_the_values_rows_give(
    store_kind: str, streamed: bool, tmp_path: Path, postgres_url: str
) -> None:
    """read_frame reads the driver's cursor whole and applies each column's result processing
    itself (SQLite stores times as text and booleans as integers); a streamed result is read
    as rows. Either way each value is what SQLAlchemy's rows hold: the same types, the same
    nulls, the same order."""
    url = f"sqlite:///{tmp_path / 'frame.db'}" if store_kind == "sqlite" else postgres_url
    metadata = MetaData()
    table = Table(
        "typed",
        metadata,
        Column("number", Integer, primary_key=True),
        Column("label", String, nullable=True),
        Column("flag", Boolean, nullable=True),
        Column("at", DateTime, nullable=True),
        Column("share", Float, nullable=True),
    )
    rows = [
        {
            "number": n,
            "label": None if n % 5 == 0 else f"label {n}",
            "flag": [True, False, None][n % 3],
            "at": None if n % 4 == 0 else datetime(2026, 1, 1 + n % 28, n % 24, 30, 15, 250),
            "share": None if n % 6 == 0 else n / 7,
        }
        for n in range(200)
    ]
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(insert(table), rows)
        statement = select(table).order_by(table.c.number)
        if streamed:
            statement = statement.execution_options(stream_results=True, max_row_buffer=16)
        with engine.connect() as connection:
            frame = bulk.read_frame(connection, statement)
            expected = [tuple(row) for row in connection.execute(statement).all()]
            empty = bulk.read_frame(connection, select(table).where(table.c.number < 0))
    finally:
        engine.dispose()
    columns = ["number", "label", "flag", "at", "share"]
    as_rows = pd.DataFrame(dict(zip(columns, zip(*expected, strict=True), strict=True)))
    pd.testing.assert_frame_equal(frame, as_rows)
    assert frame["at"].dtype.kind == "M" and frame["flag"].dtype == object
    assert frame.loc[1, "flag"] is False and frame.loc[0, "flag"] is True
    assert pd.isna(frame.loc[2, "flag"]) and frame.loc[1, "label"] == "label 1"
    assert frame.loc[1, "at"] == datetime(2026, 1, 2, 1, 30, 15, 250)
    assert list(empty.columns) == columns and empty.empty


# ---- times written to SQLite ---------------------------------------------------------------------

MOMENTS = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2261, 12, 31)),
)


@settings(max_examples=60, deadline=None)
@given(
    moments=st.lists(MOMENTS, max_size=8),
    nanoseconds=st.integers(0, 999),
    zone=st.sampled_from([None, "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]),
)
def test_times_for_sqlite_are_the_texts_the_dialect_writes(
    moments: list[datetime | None], nanoseconds: int, zone: str | None
) -> None:
    """A frame's time column goes to SQLite as the dialect's own bind processing of each value
    would write it for the store's time type: naive times as UTC, aware ones moved to UTC,
    nanoseconds cut, none as None."""
    series = pd.Series(pd.to_datetime(moments)) + pd.Timedelta(nanoseconds, unit="ns")
    if zone is not None:
        series = series.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            column = table_of(SourceRecord).c.last_modified  # the store's UTCDateTime
            with warnings.catch_warnings():  # pandas warns of the nanoseconds a datetime drops
                warnings.simplefilter("ignore", UserWarning)
                plain = bulk.plain_column(series)
            slow = bulk._driver_values(connection, column, series.dtype, plain)
            assert bulk.sqlite_time_texts(series) == slow
    finally:
        engine.dispose()
