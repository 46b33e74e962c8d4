"""Open a store by URL (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, NoSuchModuleError

from mdm.errors import MdmError, Reason
from mdm.log import logger
from mdm.store import schema_version


@dataclass
class Store:
    """A store: the engine of one database."""

    url: str
    engine: Engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything in it lands together or not at all."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, writing: bool = False) -> Store:
    """Connect to the store at ``url``; nothing is changed.

    A store made by a newer mdm is refused. For reading (the default) the schema must be this
    version's: a store that needs a migration, or was never created, is refused with what to
    do. A writer (``writing``) opens it as it is and migrates it under the writer lock
    (``mdm.store.migrate.writing``), so that concurrent processes never race to migrate."""
    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            state = schema_version.schema_state(connection)
    except DatabaseError as error:  # also OperationalError: server down, not a database
        engine.dispose()
        raise MdmError(
            Reason.STORE,
            f"Cannot open the store at {_safe_url(url)}: {error.orig}. "
            "Check [store] url in mdm.toml and that the database server is running.",
        ) from error
    refusal = _refusal(state, url, writing)
    if refusal is not None:
        engine.dispose()
        raise refusal
    return Store(url=url, engine=engine)


def _refusal(state: schema_version.SchemaState, url: str, writing: bool) -> MdmError | None:
    """Why the store cannot be opened as asked; None if it can."""
    if state.newer:
        return MdmError(
            Reason.STORE,
            f"The store at {_safe_url(url)} has schema revision {state.current}, made by a "
            "newer mdm than this one. Upgrade mdm to open it.",
        )
    if writing or state.at_head:
        return None
    if state.empty:
        return MdmError(
            Reason.STORE,
            f"The store at {_safe_url(url)} is empty: no run has created it yet. "
            "Load it with 'mdm run' (or 'mdm ingest') first.",
        )
    return MdmError(
        Reason.STORE,
        f"The store at {_safe_url(url)} is at schema revision {state.current or '(none)'}; "
        f"this version of mdm needs revision {state.head}. Nothing was changed: run "
        "'mdm migrate' to upgrade it (the next run, ingest or steward action also does).",
    )


def _create_engine(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as error:
        raise MdmError(
            Reason.STORE,
            f"The store URL {_safe_url(url)} is not usable: {error}. "
            "Use sqlite:///path/to/mdm.db or postgresql+psycopg://user@host/db "
            "(PostgreSQL needs: pip install 'mdm[postgres]').",
        ) from error
    except ModuleNotFoundError as error:
        raise MdmError(
            Reason.STORE,
            f"The driver for {_safe_url(url)} is not installed ({error.name}). "
            "For PostgreSQL: pip install 'mdm[postgres]'.",
        ) from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# How long an SQLite statement waits for another connection's lock before failing. Writers
# queue behind the run lock first (mdm.store.lock); this covers the short moments left, such as
# a checkpoint of the write-ahead log.
SQLITE_BUSY_MILLISECONDS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging: readers (show, status, export) read the last committed state while
    # a run writes, instead of waiting for it; and a commit is one append, safe on a crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MILLISECONDS}")
    # Large sorts (building an index after a bulk load, ordering an export) sort their runs
    # on the other cores too: an index of 12.7M record keys took 12-14 s alone, 8-10 s so.
    cursor.execute(f"PRAGMA threads={SORT_THREADS}")
    cursor.close()


# Helper threads SQLite may start for one sort: one per core beyond the first, at most four.
SORT_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))


# How much of an SQLite store a server reads through memory maps (SQLite caps it, at 2 GB by
# default). A match request reads a few hundred scattered pages of the record-key index, the
# records and the xref: mapped, a page already in the operating system's cache costs no read
# call. Only for a server: a run's peak memory would count the mapped pages it touched.
SERVING_MMAP_BYTES = 4 * 1024**3


def serve_reads_mapped(store: Store) -> None:
    """On SQLite, the store's connections from now on read it through memory maps; elsewhere
    nothing changes."""
    if store.engine.dialect.name != "sqlite":
        return
    event.listen(store.engine, "connect", _mapped_reads)
    store.engine.dispose()  # pooled connections were made without it


def _mapped_reads(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA mmap_size={SERVING_MMAP_BYTES}")
    cursor.close()


def defer_checkpoints(connection: Connection) -> None:
    """On SQLite, this connection's commits leave the write-ahead log for a ``Checkpoint`` to
    copy into the database file, instead of copying it then and there (about 4 s per GB, in
    the committing thread). A run's store is closed after it: closing the last connection
    copies what is left. Elsewhere nothing changes."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")


class Checkpoint:
    """On SQLite, copying the write-ahead log into the database file, in a thread of its own
    (SQLite does that work without Python's lock): a run's export reads the committed master
    meanwhile. ``wait`` for it before closing the store. Elsewhere nothing is done."""

    def __init__(self, store: Store) -> None:
        self._thread: threading.Thread | None = None
        if store.engine.dialect.name == "sqlite":
            self._thread = threading.Thread(
                target=_checkpoint, args=(store.engine,), name="mdm-checkpoint", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _checkpoint(engine: Engine) -> None:
    # Passive: readers go on, and a writer's commit goes on too; what is not copied now is
    # copied when the store closes.
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except DBAPIError as error:
        logger.debug("the write-ahead log is copied when the store closes: %s", error)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def refresh_statistics(connection: Connection) -> None:
    """Refresh the statistics the database plans queries by, after a full load has changed
    every table. Without them SQLite looks up a few hundred keys of one source by scanning
    every record of the entity; PostgreSQL's autovacuum would come to it only later."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ANALYZE")
        run_indexes_selective(connection)
    elif connection.dialect.name == "postgresql":
        # Here, not at the top: opening a store (mdm status) needs neither pandas nor the models.
        from sqlmodel import SQLModel

        from mdm.store.bulk import table_of
        from mdm.store.tables import (
            GOLDEN_TABLES,
            KeyCount,
            Lineage,
            Membership,
            RecordKey,
            SourceRecord,
            Xref,
        )

        loaded: list[type[SQLModel]] = [
            SourceRecord,
            RecordKey,
            KeyCount,
            Xref,
            Membership,
            Lineage,
        ]
        names = [table_of(model).name for model in [*loaded, *GOLDEN_TABLES.values()]]
        connection.exec_driver_sql(f"ANALYZE {', '.join(names)}")


# The indexes by a run id: a nightly run looks up the rows of one run (its own, or those after
# the previous export's), a few among the table's.
RUN_INDEXES = (
    "ix_source_record_run",
    "ix_membership_from_run",
    "ix_membership_to_run",
    "ix_golden_account_updated_run",
    "ix_golden_contact_updated_run",
    "ix_xref_run",
)
RUN_INDEX_ROWS = 10  # the rows per run id SQLite is told to expect


def is_analyzed(connection: Connection) -> bool:
    """Whether SQLite's planner has statistics (``ANALYZE`` ran on this store): a migration
    that adds an index to such a store analyzes it too, as SQLite plans badly with an index
    that has none beside others that have."""
    found = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    )
    return found.first() is not None


def run_indexes_selective(connection: Connection) -> None:
    """Tell SQLite's planner that a run id selects a few rows (``RUN_INDEX_ROWS``).

    ``ANALYZE`` right after a full load finds every row of these indexes under one run id
    (the load's), and SQLite then scans a whole table for the few rows of a later run instead
    of using the index. SQLite reads ``sqlite_stat1`` when a connection opens; writing to it
    is the documented way to correct what it says."""
    names = ", ".join(f"'{name}'" for name in RUN_INDEXES)
    found = connection.exec_driver_sql(
        f"SELECT idx, stat FROM sqlite_stat1 WHERE idx IN ({names})"
    ).all()
    for index, stat in found:
        rows, *rest = str(stat).split(" ")
        told = " ".join([rows, *(str(RUN_INDEX_ROWS) if t.isdigit() else t for t in rest)])
        connection.exec_driver_sql(
            "UPDATE sqlite_stat1 SET stat = ? WHERE idx = ?", (told, str(index))
        )
