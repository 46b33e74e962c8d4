"""The store: models and migrations agree; readers refuse a store that needs a migration and
writers migrate it under the writer lock; bulk reads by key lists and bulk writes keep every
row and every value exact, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from crm_project import CRM_ACCOUNTS_TOML
from sqlalchemy import Connection, Text, cast, create_engine, inspect, select, text
from typer.testing import CliRunner

from mdm.cli import app
from mdm.errors import MdmError, Reason
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import golden, open_store, record_index, records
from mdm.store.bulk import CHUNK, insert_frame, read_in, table_of, to_rows
from mdm.store.database import SORT_THREADS
from mdm.store.lock import writer_lock
from mdm.store.migrate import migrate_store
from mdm.store.schema_version import alembic_config, current_revision, head_revision, upgrade
from mdm.store.tables import Lineage, RecordKey, SourceRecord, ValuePin, Xref

runner = CliRunner()

TABLES = {
    "run",
    "source_record",
    "golden_account",
    "golden_contact",
    "xref",
    "redirect",
    "lineage",
    "quarantine",
}
OLD_REVISION = "0004"


# ---- schema and migrations -------------------------------------------------------------------


def test_migrations_build_exactly_the_models(store_url: str) -> None:
    assert migrate_store(store_url, 0).before is None
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            assert current_revision(connection) == head_revision()
            assert set(inspect(connection).get_table_names()) >= TABLES
            # Raises if the models hold anything the migrations do not create.
            command.check(alembic_config(connection))
    finally:
        store.close()


def test_a_store_made_at_the_first_revision_migrates_to_head(store_url: str) -> None:
    at_revision(store_url, "0001")
    done = migrate_store(store_url, 0)
    assert (done.before, done.after, done.changed) == ("0001", head_revision(), True)
    assert revision_of(store_url) == head_revision()
    again = migrate_store(store_url, 0)
    assert (again.before, again.changed) == (head_revision(), False)


def test_record_ids_lose_their_foreign_keys_and_keep_their_rows(store_url: str) -> None:
    """0014: xref and lineage keep every row and name their records without a declared
    foreign key (the run's writes no longer probe source_record per row); going back to 0013
    declares them again."""
    at_revision(store_url, "0013")
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            _one_resolved_record(connection)
        done = migrate_store(store_url, 0)
        assert (done.before, done.after) == ("0013", head_revision())
        with engine.begin() as connection:
            assert _record_foreign_keys(connection) == {"lineage": [], "xref": []}
            assert _xref_and_lineage(connection) == (
                [("crm", "A1", "G-1", 1)],
                [("G-1", "name", "Acme", 1), ("G-1", "phone", "+1 415", None)],
            )
            # A row naming no version is what the constraint refused; now ``mdm check`` does.
            if connection.dialect.name == "sqlite":  # as the store's connections enforce them
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.execute(
                text(
                    "INSERT INTO lineage (entity, golden_id, attribute, value, record_id, rule, "
                    "candidates, run_id) VALUES ('account', 'G-1', 'city', 'X', 99, 'r', 1, 1)"
                )
            )
            connection.execute(text("DELETE FROM lineage WHERE record_id = 99"))
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0013")
        with engine.begin() as connection:
            assert _record_foreign_keys(connection) == {
                "lineage": ["source_record"],
                "xref": ["source_record"],
            }
            assert len(_xref_and_lineage(connection)[1]) == 2
    finally:
        engine.dispose()


def _one_resolved_record(connection: Connection) -> None:
    connection.execute(
        text(
            "INSERT INTO run (id, command, status, started_at, config) "
            "VALUES (1, 'run', 'succeeded', '2026-12-01 00:00:00', '{}')"
        )
    )
    connection.execute(
        text(
            "INSERT INTO source_record (id, source, entity, source_key, version, is_current, "
            "deleted, content_hash, run_id, attributes) "
            "VALUES (1, 'crm', 'account', 'A1', 1, TRUE, FALSE, 'h', 1, '{}')"
        )
    )
    connection.execute(
        text(
            "INSERT INTO xref (source, source_key, entity, golden_id, record_id, run_id) "
            "VALUES ('crm', 'A1', 'account', 'G-1', 1, 1)"
        )
    )
    for attribute, value, record in (("name", "Acme", 1), ("phone", "+1 415", None)):
        connection.execute(
            text(
                "INSERT INTO lineage (entity, golden_id, attribute, value, record_id, rule, "
                "candidates, run_id) VALUES ('account', 'G-1', :a, :v, :r, 'most_recent', 1, 1)"
            ),
            {"a": attribute, "v": value, "r": record},
        )


def _record_foreign_keys(connection: Connection) -> dict[str, list[str]]:
    """The tables each of xref's and lineage's record_id refers to by a foreign key."""
    found = inspect(connection)
    return {
        table: [
            key["referred_table"]
            for key in found.get_foreign_keys(table)
            if key["constrained_columns"] == ["record_id"]
        ]
        for table in ("lineage", "xref")
    }


def _xref_and_lineage(connection: Connection) -> tuple[list[Any], list[Any]]:
    xref = connection.execute(
        text("SELECT source, source_key, golden_id, record_id FROM xref")
    ).all()
    lineage = connection.execute(
        text("SELECT golden_id, attribute, value, record_id FROM lineage ORDER BY attribute")
    ).all()
    return [tuple(row) for row in xref], [tuple(row) for row in lineage]


def test_a_store_from_a_newer_mdm_is_refused(store_url: str) -> None:
    migrate_store(store_url, 0)
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    for writing in (False, True):
        with pytest.raises(MdmError) as caught:
            open_store(store_url, writing=writing)
        assert "schema revision 9999_future, made by a newer mdm" in str(caught.value)


def test_sqlite_connections_sort_with_helper_threads(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'mdm.db'}", writing=True)
    try:
        with store.transaction() as connection:
            threads = connection.exec_driver_sql("PRAGMA threads").scalar()
            assert threads == SORT_THREADS >= 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()


def test_an_unusable_store_url_is_a_clear_error() -> None:
    with pytest.raises(MdmError) as caught:
        open_store("nosuchdb://somewhere/x")
    assert "is not usable" in str(caught.value)


READING_COMMANDS = [
    ["status"],
    ["show", "A-1"],
    ["export", "--out", "{root}/out"],
    ["history", "A-1"],
    ["lineage", "A-1"],
    ["resolve", "A-1"],
    ["quarantine"],
    ["review"],
    ["check"],
]


def test_reading_commands_refuse_a_store_that_needs_a_migration(
    tmp_path: Path, store_url: str
) -> None:
    root = small_project(tmp_path / "p", store_url)
    at_revision(store_url, OLD_REVISION)
    for arguments in READING_COMMANDS:
        given = [argument.format(root=root) for argument in arguments]
        result = runner.invoke(app, [*given, "-p", str(root)])
        said = " ".join(result.output.split())
        assert result.exit_code == 2, (given, said)
        assert f"is at schema revision {OLD_REVISION}" in said, (given, said)
        assert f"needs revision {head_revision()}" in said, (given, said)
        assert "Nothing was changed: run 'mdm migrate'" in said, (given, said)
        assert revision_of(store_url) == OLD_REVISION
    assert not (root / "out").exists()


def test_mdm_migrate_upgrades_the_store_then_readers_open_it(
    tmp_path: Path, store_url: str
) -> None:
    root = small_project(tmp_path / "p", store_url)
    at_revision(store_url, OLD_REVISION)
    result = runner.invoke(app, ["migrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert f"from schema revision {OLD_REVISION} to {head_revision()}" in result.output
    assert revision_of(store_url) == head_revision()
    result = runner.invoke(app, ["status", "-p", str(root)])
    assert (result.exit_code, result.output.strip()) == (0, "No runs yet: try mdm run.")
    result = runner.invoke(app, ["migrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert f"up to date (schema revision {head_revision()})" in result.output


def test_a_run_migrates_a_store_that_needs_it(tmp_path: Path, store_url: str) -> None:
    root = small_project(tmp_path / "p", store_url)
    at_revision(store_url, OLD_REVISION)
    result = runner.invoke(app, ["run", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert revision_of(store_url) == head_revision()
    result = runner.invoke(app, ["status", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output


def test_a_new_store_is_created_by_a_writing_command_not_by_a_reader(
    tmp_path: Path, store_url: str
) -> None:
    root = small_project(tmp_path / "p", store_url)
    result = runner.invoke(app, ["status", "-p", str(root)])
    assert result.exit_code == 2, result.output
    assert "is empty: no run has created it yet" in " ".join(result.output.split())
    assert revision_of(store_url) is None
    result = runner.invoke(app, ["ingest", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert revision_of(store_url) == head_revision()


def test_migrate_holds_the_writer_lock(tmp_path: Path, store_url: str) -> None:
    """While another writer holds the lock, a migration is refused and changes nothing."""
    at_revision(store_url, OLD_REVISION)
    engine = create_engine(store_url)
    try:
        with writer_lock(engine, "run", 0), pytest.raises(MdmError) as caught:
            migrate_store(store_url, 0)
    finally:
        engine.dispose()
    assert caught.value.reason == Reason.BUSY
    assert "'mdm run'" in str(caught.value)
    assert revision_of(store_url) == OLD_REVISION


# ---- reads by key lists ------------------------------------------------------------------------


def test_reads_by_key_list_cover_more_keys_than_one_chunk(connection: Connection) -> None:
    count = 2 * CHUNK + 7
    keys = pd.DataFrame({"record_id": range(1, count + 1), "key": range(-count, 0)})
    record_index.insert_record_keys(connection, Entity.ACCOUNT, keys)
    wanted = [*range(-count, 0), -1, -2, 99]  # repeats and one key nobody has
    found = record_index.records_with_keys(connection, Entity.ACCOUNT, wanted)
    assert len(found) == count
    assert sorted(found["key"].tolist()) == list(range(-count, 0))
    assert record_index.records_having_keys(connection, Entity.ACCOUNT, wanted) == list(
        range(1, count + 1)
    )
    table = table_of(RecordKey)
    statement = select(table.c.key).where(table.c.entity == Entity.CONTACT)
    assert read_in(connection, statement, table.c.key, wanted).empty


def test_reads_by_source_key_pairs_cover_more_keys_than_one_chunk(connection: Connection) -> None:
    many = [f"k{i}" for i in range(CHUNK + 3)]
    insert_frame(connection, SourceRecord, first_versions("account", many, "crm"))
    insert_frame(connection, SourceRecord, first_versions("account", ["k1", "x"], "erp"))
    asked = pd.DataFrame(
        {
            "source": ["crm"] * (len(many) + 2) + ["erp", "erp", "web"],
            "source_key": [*many, "k1", "k2", "k1", "nope", "k1"],
        }
    )
    found = records.current_ids_of_keys(connection, Entity.ACCOUNT, asked)
    pairs = sorted(zip(found["source"], found["source_key"], strict=True))
    assert pairs == sorted([("crm", key) for key in many] + [("erp", "k1")])
    assert found["record_id"].is_unique
    ids = records.ids_of_versions(connection, Entity.ACCOUNT, asked)
    assert sorted(ids) == sorted(found["record_id"].tolist())
    assert records.current_ids_of_keys(connection, Entity.CONTACT, asked).empty


def test_xref_lookup_returns_each_row_once_whatever_the_keys_repeat(
    connection: Connection,
) -> None:
    insert_frame(connection, SourceRecord, first_versions("account", ["a", "b"], "crm"))
    ids = records.live_records(connection, Entity.ACCOUNT)["record_id"].tolist()
    xref = pd.DataFrame(
        {
            "source": "crm",
            "source_key": ["a", "b"],
            "entity": "account",
            "golden_id": ["A-1", "A-2"],
            "record_id": ids,
            "run_id": 1,
        }
    )
    insert_frame(connection, Xref, xref)
    # More repeats than one chunk holds: each row still comes back once.
    keys = pd.DataFrame({"source": "crm", "source_key": ["a", "b"] * CHUNK})
    found = golden.xref_of_keys(connection, Entity.ACCOUNT, keys)
    assert sorted(found["golden_id"]) == ["A-1", "A-2"]


# ---- bulk writes --------------------------------------------------------------------------------


def test_rows_of_numbers_and_text_reach_the_store_as_given(connection: Connection) -> None:
    """Missing numbers, missing and non-ASCII text and JSON text come back exactly."""
    insert_frame(connection, SourceRecord, first_versions("contact", ["k"], "crm"))
    [record_id] = records.live_records(connection, Entity.CONTACT)["record_id"].tolist()
    lineage = pd.DataFrame(
        {
            "entity": "contact",
            "golden_id": ["C-1", "C-1"],
            "attribute": ["first_name", "phone"],
            "value": ["Zoë 北京 \\ \t 'quoted' \"x\"", "+14155550100"],
            "record_id": pd.array([record_id, None], dtype="Int64"),
            "rule": ["most_recent", "pin"],
            "candidates": [2, 1],
            "run_id": 1,
            "beaten": ['[{"value": "Zoe\\n", "record_id": 7}]', None],
        }
    )
    insert_frame(connection, Lineage, lineage)
    table = table_of(Lineage)
    rows = connection.execute(
        select(table.c.value, table.c.record_id, table.c.candidates, table.c.beaten).order_by(
            table.c.id
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        ("Zoë 北京 \\ \t 'quoted' \"x\"", record_id, 2, '[{"value": "Zoe\\n", "record_id": 7}]'),
        ("+14155550100", None, 1, None),
    ]


def test_bulk_writes_store_every_column_type_as_the_orm_does(connection: Connection) -> None:
    """Times (naive, UTC, other offsets, missing), booleans, integers with gaps, NULLs,
    non-ASCII and JSON text: written by the bulk path and by SQLAlchemy's own insert, they
    read back the same, and as given."""
    stamps = [
        pd.Timestamp("2024-03-01 10:00:00.123456"),
        pd.Timestamp("2024-03-01 10:00:00", tz="UTC"),
        pd.Timestamp(datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))),
        pd.NaT,
    ]
    frame = pd.DataFrame(
        {
            "entity": "account",
            "source_key": ["1", "Ünïcødé ключ", "3", "4"],
            "version": [1, 2, 3, 4],
            "is_current": [True, False, True, False],
            "deleted": [False, True, False, True],
            "content_hash": "h",
            "last_modified": pd.Series(stamps, dtype=object),
            "run_id": 1,
            "row_number": [7.0, None, 9.0, None],  # whole numbers with gaps, as floats
            "attributes": ['{"name": "Café \\"Zoë\\""}', "{}", '{"a": [1, 2.5, null]}', "{}"],
            "match_keys": [None, '{"name": "cafe zoe"}', None, "{}"],
        }
    )
    table = table_of(SourceRecord)
    insert_frame(connection, SourceRecord, frame.assign(source="bulk"))
    connection.execute(table.insert(), to_rows(frame.assign(source="orm")))
    columns = [c for c in frame.columns if c != "source"]
    ordered = select(*(table.c[c] for c in columns)).order_by(table.c.version)
    bulk = connection.execute(ordered.where(table.c.source == "bulk")).all()
    orm = connection.execute(ordered.where(table.c.source == "orm")).all()
    assert [tuple(row) for row in bulk] == [tuple(row) for row in orm]
    # Stored alike, not only read back alike: the database's own text of every value.
    as_text = select(*(cast(table.c[c], Text) for c in columns)).order_by(table.c.version)
    bulk_text = connection.execute(as_text.where(table.c.source == "bulk")).all()
    orm_text = connection.execute(as_text.where(table.c.source == "orm")).all()
    assert [tuple(row) for row in bulk_text] == [tuple(row) for row in orm_text]
    first = dict(zip(columns, bulk[0], strict=True))
    assert first["last_modified"].replace(tzinfo=None) == datetime(2024, 3, 1, 10, 0, 0, 123456)
    assert pd.Timestamp(bulk[1][columns.index("last_modified")]).tz_localize(None) == (
        pd.Timestamp("2024-03-01 10:00:00")
    )
    assert [row[columns.index("last_modified")] for row in bulk][3] is None
    assert [bool(row[columns.index("is_current")]) for row in bulk] == [True, False, True, False]
    assert [row[columns.index("row_number")] for row in bulk] == [7, None, 9, None]
    assert [row[columns.index("source_key")] for row in bulk] == frame["source_key"].tolist()
    assert [row[columns.index("attributes")] for row in bulk] == frame["attributes"].tolist()
    assert [row[columns.index("match_keys")] for row in bulk] == [
        None,
        '{"name": "cafe zoe"}',
        None,
        "{}",
    ]


def test_bulk_writes_fill_the_columns_left_to_their_defaults(connection: Connection) -> None:
    pins = pd.DataFrame(
        {
            "entity": "account",
            "golden_id": ["A-1", "A-2"],
            "attribute": "phone",
            "value": ["+1 415", "+44 20"],
            "pinned_by": "ana",
            "pinned_at": pd.Timestamp("2024-01-01", tz="UTC"),
        }
    )
    insert_frame(connection, ValuePin, pins)
    table = table_of(ValuePin)
    rows = connection.execute(select(table.c.id, table.c.active).order_by(table.c.id)).all()
    assert [bool(active) for _, active in rows] == [True, True]
    assert len({row_id for row_id, _ in rows}) == 2


# ---- helpers ------------------------------------------------------------------------------------


SMALL_PROJECT = CRM_ACCOUNTS_TOML


def small_project(directory: Path, url: str) -> Path:
    directory.mkdir()
    (directory / "mdm.toml").write_text(SMALL_PROJECT.format(url=url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    rows = "1,Acme Inc,555-0101,94105,2024-01-01\n2,Globex,555-0102,10001,2024-01-02\n"
    (directory / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + rows)
    return directory


def at_revision(url: str, revision: str) -> None:
    """Build an empty store at an older schema revision, as an older mdm left it."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            upgrade(connection, revision)
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def first_versions(entity: str, keys: list[str], source: str) -> pd.DataFrame:
    """Source record rows: the first, live version of each of ``keys``, loaded by run 1."""
    data: dict[str, Any] = {
        "source": source,
        "entity": entity,
        "source_key": keys,
        "version": 1,
        "is_current": True,
        "deleted": False,
        "content_hash": "h",
        "run_id": 1,
        "attributes": "{}",
    }
    return pd.DataFrame(data)


def test_a_server_reads_an_sqlite_store_through_memory_maps(store_url: str) -> None:
    """``mdm serve`` maps an SQLite store for its reads; a run's connections do not map it (its
    peak memory would count the pages), and a PostgreSQL store is left as it is."""
    from mdm.store.database import SERVING_MMAP_BYTES, serve_reads_mapped
    from mdm.store.migrate import open_migrated

    open_migrated(store_url, "test", wait_seconds=5.0).close()
    store = open_store(store_url)
    try:
        sqlite = store.engine.dialect.name == "sqlite"
        if sqlite:
            with store.transaction() as connection:
                assert connection.exec_driver_sql("PRAGMA mmap_size").scalar_one() == 0
        serve_reads_mapped(store)
        with store.transaction() as connection:
            if sqlite:
                mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar_one()
                assert 0 < mapped <= SERVING_MMAP_BYTES  # SQLite caps it at its own limit
            assert connection.execute(text("select count(*) from xref")).scalar_one() == 0
    finally:
        store.close()
