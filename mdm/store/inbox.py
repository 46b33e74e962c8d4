"""The inbox of submitted records (``inbox_record``): what the REST API appends, and what a run
reads and stamps as ingested. Submissions are never changed otherwise, nor deleted: the table
is also the record of who sent what, when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, bindparam, func, insert, select, update

from mdm.store.bulk import CHUNK, chunks, read_frame, table_of
from mdm.store.tables import InboxRecord


def append_submissions(
    connection: Connection,
    source: str,
    submissions: Sequence[tuple[str, str]],
    received_at: datetime,
    submitted_by: str,
) -> list[int]:
    """Append the submissions (source_key, the submitted object as JSON text), pending;
    their ids, in order."""
    table = table_of(InboxRecord)
    ids = []
    for source_key, record in submissions:
        # One statement per record: a submission is a handful of records, and its ids are
        # what the caller is told.
        statement = insert(table).values(
            source=source,
            source_key=source_key,
            record=record,
            received_at=received_at,
            submitted_by=submitted_by,
        )
        key = connection.execute(statement).inserted_primary_key
        ids.append(int(key[0]) if key else 0)
    return ids


def pending(connection: Connection, source: str) -> pd.DataFrame:
    """id, source_key, record, received_at of the source's submissions no run has ingested,
    in the order they came."""
    table = table_of(InboxRecord)
    statement = (
        select(table.c.id, table.c.source_key, table.c.record, table.c.received_at)
        .where(table.c.source == source, table.c.run_id.is_(None))
        .order_by(table.c.id)
    )
    found = read_frame(connection, statement)
    return found.astype({"id": "int64"}) if not found.empty else found


def mark_ingested(connection: Connection, ids: Sequence[int], run_id: int) -> None:
    """The submissions ``ids`` were ingested by ``run_id`` (in its transaction)."""
    table = table_of(InboxRecord)
    statement = update(table).where(table.c.id == bindparam("sid")).values(run_id=run_id)
    for batch in chunks([{"sid": int(sid)} for sid in ids], CHUNK):
        connection.execute(statement, list(batch))


def submissions_of(connection: Connection, source: str, source_key: str) -> pd.DataFrame:
    """id, record, received_at, submitted_by, run_id of every submission of one record, in
    the order they came."""
    table = table_of(InboxRecord)
    statement = (
        select(
            table.c.id, table.c.record, table.c.received_at, table.c.submitted_by, table.c.run_id
        )
        .where(table.c.source == source, table.c.source_key == source_key)
        .order_by(table.c.id)
    )
    return read_frame(connection, statement)


def pending_count(connection: Connection, source: str) -> int:
    table = table_of(InboxRecord)
    statement = (
        select(func.count())
        .select_from(table)
        .where(table.c.source == source, table.c.run_id.is_(None))
    )
    return int(connection.execute(statement).scalar_one())
