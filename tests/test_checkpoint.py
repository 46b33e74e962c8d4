"""A run's commit leaves SQLite's write-ahead log to a checkpoint in a thread of its own, which
copies it into the database file beside the export; readers see the committed rows all along,
and the store holds them after it closes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from mdm.store import open_store
from mdm.store.database import Checkpoint, defer_checkpoints

ROWS = 20_000  # about 4 MB: far more than the 1,000 pages after which SQLite checkpoints


def _write_rows(url: str, deferred: bool) -> None:
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            if deferred:
                defer_checkpoints(connection)
            connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT)")
            connection.exec_driver_sql(
                "INSERT INTO t (text) SELECT printf('%.200c', 'x') FROM "
                f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})"
                " SELECT i FROM n)"
            )
        database = Path(url.removeprefix("sqlite:///"))
        wal = database.with_name(database.name + "-wal")
        written_at_commit = database.stat().st_size
        assert wal.stat().st_size > ROWS * 200
        # Another connection reads the committed rows from the log.
        with closing(sqlite3.connect(database)) as reader:
            assert reader.execute("SELECT count(*) FROM t").fetchone() == (ROWS,)
        if deferred:
            assert written_at_commit < ROWS * 200 / 4  # the rows are in the log only
            Checkpoint(store).wait()
        assert database.stat().st_size > ROWS * 200  # copied into the database file
    finally:
        store.close()
    with closing(sqlite3.connect(database)) as reader:
        assert reader.execute("SELECT count(*), min(length(text)) FROM t").fetchone() == (
            ROWS,
            200,
        )
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_deferred_checkpoint_copies_the_log_in_its_own_thread(tmp_path: Path) -> None:
    _write_rows(f"sqlite:///{tmp_path / 'mdm.db'}", deferred=True)


def test_without_deferring_the_commit_copies_the_log_itself(tmp_path: Path) -> None:
    _write_rows(f"sqlite:///{tmp_path / 'mdm.db'}", deferred=False)


def test_a_checkpoint_on_postgresql_does_nothing(postgres_url: str) -> None:
    store = open_store(postgres_url, writing=True)
    try:
        checkpoint = Checkpoint(store)
        checkpoint.wait()
        with store.transaction() as connection:
            defer_checkpoints(connection)  # nothing to defer: no statement is sent
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        store.close()
