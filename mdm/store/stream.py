"""Stream a query's rows in chunks, straight from the driver's cursor: for reads too large to
hold (an export of the whole master).

Rows come as the driver's plain tuples, without SQLAlchemy's Row objects or a data frame in
between, a bounded number at a time: PostgreSQL reads through a server-side cursor, SQLite's
cursor steps through the result as it is fetched. The statement runs in the caller's
transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Select

STREAM_CHUNK = 50_000  # rows per fetch: a few tens of MB of Python objects at most


def stream_rows(
    connection: Connection, statement: Select[Any], chunk_rows: int = STREAM_CHUNK
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The rows of ``statement``, in lists of at most ``chunk_rows`` tuples (none empty).

    Values are as the driver returns them (no type's result processing is applied): meant for
    text and integer columns, which every driver returns as ``str`` and ``int``."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    values = compiled.params
    parameters: Sequence[Any] | dict[str, Any] = (
        tuple(values[name] for name in compiled.positiontup or ())
        if compiled.positional
        else values
    )
    driver: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        # A server-side cursor: the server keeps the result, each fetch brings one chunk.
        cursor = driver.cursor(name=f"mdm_stream_{secrets.token_hex(6)}")
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(compiled.string, parameters)
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    finally:
        cursor.close()
