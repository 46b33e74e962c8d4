"""The resolution watermark: which loaded versions the golden records already reflect.

Source-record ids only grow, so "resolved up to id N" names a point in the store's history.
`mdm ingest` loads versions without resolving them; the next run (or steward action) resolves
every version above the mark, whichever command loaded it, then moves the mark to the newest.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, delete, func, insert, select

from mdm.schema import Entity
from mdm.store.bulk import read_frame, table_of
from mdm.store.tables import ResolutionMark, SourceRecord


def resolution_mark(connection: Connection, entity: Entity) -> int | None:
    """The highest record id resolved for ``entity``; None if no run has set one."""
    table = table_of(ResolutionMark)
    value = connection.execute(select(table.c.record_id).where(table.c.entity == entity)).scalar()
    return None if value is None else int(value)


def newest_record_id(connection: Connection, entity: Entity) -> int:
    table = table_of(SourceRecord)
    value = connection.execute(
        select(func.max(table.c.id)).where(table.c.entity == entity)
    ).scalar()
    return 0 if value is None else int(value)


def set_resolution_mark(connection: Connection, entity: Entity, run_id: int) -> None:
    """Everything loaded so far for ``entity`` is resolved."""
    table = table_of(ResolutionMark)
    newest = newest_record_id(connection, entity)
    connection.execute(delete(table).where(table.c.entity == entity))
    connection.execute(insert(table).values(entity=entity, record_id=newest, run_id=run_id))


def versions_since(connection: Connection, entity: Entity, mark: int) -> pd.DataFrame:
    """source, source_key, deleted of the versions loaded after the mark: the delta to resolve."""
    table = table_of(SourceRecord)
    statement = select(table.c.source, table.c.source_key, table.c.deleted).where(
        table.c.entity == entity, table.c.id > mark
    )
    return read_frame(connection, statement)
