"""One writer at a time per store: the run lock.

Runs and steward actions write to the store; two at once would each resolve the same golden
records from the same starting point and one would lose (a pin issued during a run would be
overwritten, or the second run would fail on a unique key). So every writer holds the store's
lock for the whole of its transaction. Readers (`show`, `status`, `export`) never take it and
are never blocked: SQLite runs in WAL mode, PostgreSQL gives readers a snapshot.

The lock cannot outlive its holder, whatever kills it:

- SQLite: an exclusive ``flock`` on a file beside the database (``mdm.db.lock``); the
  operating system releases it when the process ends. The file also says who holds it.
- PostgreSQL: a session advisory lock on a connection of its own; the server releases it when
  that connection closes. The connection's ``application_name`` says who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from mdm.errors import MdmError, Reason

# One advisory lock key for mdm's writers in a database: 'mdm.run' as a signed 64-bit number.
ADVISORY_KEY = int.from_bytes(b"mdm.run\x00", "big", signed=True)
POLL_SECONDS = 0.25
APPLICATION_PREFIX = "mdm "


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as far as the store can tell."""

    command: str
    started_at: str
    pid: int | None
    host: str | None

    def describe(self) -> str:
        where = f" (process {self.pid} on {self.host})" if self.pid and self.host else ""
        return f"'mdm {self.command}' started at {self.started_at}{where}"


class Busy(Exception):
    """The lock is held by another writer."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__(holder.describe() if holder else "another mdm command")
        self.holder = holder


@contextmanager
def writer_lock(engine: Engine, command: str, wait_seconds: float | None) -> Iterator[None]:
    """Hold the store's writer lock while the block runs.

    ``wait_seconds``: 0 refuses at once when another writer holds it; a number waits that
    long; None waits as long as it takes. A refusal is an ``MdmError`` naming the holder.
    """
    acquire = _sqlite_lock if engine.dialect.name == "sqlite" else _postgres_lock
    with acquire(engine, command, wait_seconds):
        yield


def _started() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _refusal(holder: Holder | None, waited: float | None) -> MdmError:
    who = holder.describe() if holder else "another mdm command"
    if waited:
        return MdmError(
            Reason.BUSY,
            f"The store is still being written by {who} after waiting {waited:.0f} s. "
            "Nothing was done: try again when it has finished (see 'mdm status').",
        )
    return MdmError(
        Reason.BUSY,
        f"The store is being written by {who}. Only one run or steward action writes at a "
        "time: wait for it to finish (see 'mdm status'), or pass --wait to queue behind it.",
    )


def _deadline(wait_seconds: float | None) -> float | None:
    return None if wait_seconds is None else time.monotonic() + wait_seconds


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


# ---- SQLite ----------------------------------------------------------------------------------


def lock_file(engine: Engine) -> Path | None:
    """The lock file beside an SQLite database file; None for an in-memory database."""
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".lock")


@contextmanager
def _sqlite_lock(engine: Engine, command: str, wait_seconds: float | None) -> Iterator[None]:
    path = lock_file(engine)
    if path is None:
        yield
        return
    with path.open("a+", encoding="utf-8") as handle:
        deadline = _deadline(wait_seconds)
        while not _try_flock(handle):
            if _expired(deadline):
                raise _refusal(_read_holder(path), wait_seconds)
            time.sleep(POLL_SECONDS)
        try:
            _write_holder(handle, command)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_flock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write_holder(handle: IO[str], command: str) -> None:
    handle.seek(0)
    handle.truncate()
    info = {"command": command, "started_at": _started(), "pid": os.getpid()}
    handle.write(json.dumps({**info, "host": socket.gethostname()}))
    handle.flush()


def _read_holder(path: Path) -> Holder | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Holder(
        str(data.get("command", "?")),
        str(data.get("started_at", "?")),
        data.get("pid"),
        data.get("host"),
    )


# ---- PostgreSQL ------------------------------------------------------------------------------


@contextmanager
def _postgres_lock(engine: Engine, command: str, wait_seconds: float | None) -> Iterator[None]:
    name = f"{APPLICATION_PREFIX}{command} since {_started()}"[:63]
    # A connection of its own, outside the run's transaction and its pool: closing it is what
    # releases the lock, also when the process dies.
    locker = create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"application_name": name},
    )
    try:
        with locker.connect() as connection:
            deadline = _deadline(wait_seconds)
            while not _try_advisory(connection):
                if _expired(deadline):
                    raise _refusal(_postgres_holder(connection), wait_seconds)
                time.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                connection.execute(text("select pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
    finally:
        locker.dispose()


def _try_advisory(connection: Connection) -> bool:
    statement = text("select pg_try_advisory_lock(:key)")
    return bool(connection.execute(statement, {"key": ADVISORY_KEY}).scalar())


def _postgres_holder(connection: Connection) -> Holder | None:
    """The holder's application name and process, from the server's own lock table."""
    statement = text(
        "select a.application_name, a.pid, a.client_addr::text from pg_locks l "
        "join pg_stat_activity a on a.pid = l.pid "
        "where l.locktype = 'advisory' and l.granted and l.database = "
        "(select oid from pg_database where datname = current_database()) "
        "and ((l.classid::bigint << 32) | l.objid::bigint) = :key limit 1"
    )
    row = connection.execute(statement, {"key": ADVISORY_KEY}).first()
    if row is None:
        return None
    label = str(row[0] or "")
    if not label.startswith(APPLICATION_PREFIX):
        return Holder("(unknown command)", "?", None, None)
    command, _, since = label[len(APPLICATION_PREFIX) :].partition(" since ")
    return Holder(command, since or "?", None, None)
