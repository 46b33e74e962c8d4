"""Bringing a store's schema to this version of mdm.

Only under the writer lock: by ``mdm migrate``, or by a writing command (run, ingest, steward
actions) before it writes. Readers never migrate (``open_store`` refuses a store that needs
it), so several processes opening one store never race to change its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mdm.store import schema_version
from mdm.store.database import Store, open_store
from mdm.store.lock import writer_lock


@dataclass(frozen=True)
class Migration:
    """The schema revisions of a store before and after a migration."""

    before: str | None  # None: the store was empty
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def migrate(store: Store) -> Migration:
    """Apply the migrations the store lacks, in one transaction. The caller holds the writer
    lock. A store at this version's schema is left untouched."""
    with store.transaction() as connection:
        state = schema_version.schema_state(connection)
        if not state.at_head:
            schema_version.upgrade(connection)
    return Migration(before=state.current, after=state.head)


@contextmanager
def writing(store: Store, command: str, wait_seconds: float | None) -> Iterator[Migration]:
    """Hold the store's writer lock (see ``writer_lock``) with the schema migrated to this
    version of mdm first; yields what the migration did."""
    with writer_lock(store.engine, command, wait_seconds):
        yield migrate(store)


def migrate_store(url: str, wait_seconds: float | None) -> Migration:
    """Open the store at ``url`` and migrate it under the writer lock (``mdm migrate``)."""
    store = open_store(url, writing=True)
    try:
        with writing(store, "migrate", wait_seconds) as migration:
            return migration
    finally:
        store.close()


def open_migrated(url: str, command: str, wait_seconds: float | None) -> Store:
    """Open the store at ``url`` for a process that writes little and runs long (the web
    server, user management): migrated to this version first if it needs it, under the writer
    lock; a store already current is opened without waiting for a run in progress."""
    store = open_store(url, writing=True)
    try:
        with store.transaction() as connection:
            current = schema_version.schema_state(connection).at_head
        if not current:
            with writing(store, command, wait_seconds):
                pass
    except BaseException:
        store.close()
        raise
    return store
