"""Open a store by URL (SQLite file by default, PostgreSQL by URL) at this version's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from mdm.errors import MdmError, Reason
from mdm.store import schema_version


@dataclass
class Store:
    """A store: an engine whose schema is at this version of mdm."""

    url: str
    engine: Engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything in it lands together or not at all."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> Store:
    """Connect, then migrate the schema to this version (a store made by an older mdm opens)."""
    engine = _create_engine(url)
    try:
        with engine.begin() as connection:
            _refuse_newer_store(connection, url)
            schema_version.upgrade(connection)
    except MdmError:
        engine.dispose()
        raise
    except DatabaseError as error:  # also OperationalError: server down, not a database
        engine.dispose()
        raise MdmError(
            Reason.STORE,
            f"Cannot open the store at {_safe_url(url)}: {error.orig}. "
            "Check [store] url in mdm.toml and that the database server is running.",
        ) from error
    return Store(url=url, engine=engine)


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
    cursor.close()


def _refuse_newer_store(connection: Connection, url: str) -> None:
    current = schema_version.current_revision(connection)
    if current is not None and current not in schema_version.known_revisions():
        raise MdmError(
            Reason.STORE,
            f"The store at {_safe_url(url)} has schema revision {current}, made by a newer mdm "
            "than this one. Upgrade mdm to open it.",
        )


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
