"""What every read model shares: frozen pydantic models, plain values, a read-only connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection

from mdm.store import open_store

if TYPE_CHECKING:
    import pandas as pd


class ViewModel(BaseModel):
    """A read model: immutable, and serializable as JSON (``model_dump(mode="json")``)."""

    model_config = ConfigDict(frozen=True)


def plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain Python values (None for missing), ready for a model."""
    from mdm.store.bulk import to_rows  # here: a view that reads no frame imports no pandas

    return to_rows(frame)


@contextmanager
def reading(store_url: str) -> Iterator[Connection]:
    """One read-only transaction on the store at ``store_url``, for one command: the views
    read through it, and the database itself refuses any write in it."""
    store = open_store(store_url)
    try:
        with store.transaction() as connection, read_only(connection):
            yield connection
    finally:
        store.close()


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """The rest of ``connection``'s transaction refuses writes (enter it first thing in the
    transaction: a server that keeps its store open enters it per request)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")  # ends with the transaction
        yield connection
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield connection
        finally:  # the connection goes back to the pool able to write
            connection.exec_driver_sql("PRAGMA query_only = OFF")
    else:
        yield connection
