"""The store as the checks read it: whole tables, one entity at a time."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlmodel import SQLModel

from mdm.schema import Entity
from mdm.store import bulk, golden
from mdm.store.marks import resolution_mark
from mdm.store.tables import Lineage, MatchDecision, Redirect, Run, SourceRecord, ValuePin, Xref


@dataclass(frozen=True)
class Tables:
    """One entity's part of the store."""

    entity: Entity
    records: pd.DataFrame  # id, source, source_key, is_current, deleted, run_id: every version
    xref: pd.DataFrame
    golden: pd.DataFrame  # the golden table, indexed by golden_id
    lineage: pd.DataFrame
    decisions: pd.DataFrame  # active ones
    pins: pd.DataFrame  # active ones
    mark: int  # the resolution watermark: versions above it wait for the next resolution

    @property
    def current(self) -> pd.DataFrame:
        """The current version of each key; ``pending``: loaded after the last resolution."""
        current = self.records[self.records["is_current"]]
        return current.assign(pending=current["id"] > self.mark)


@dataclass(frozen=True)
class StoreTables:
    entities: dict[Entity, Tables]
    redirects: pd.DataFrame


def read_store(connection: Connection) -> StoreTables:
    redirects = bulk.read_frame(connection, select(bulk.table_of(Redirect)))
    return StoreTables({entity: read_entity(connection, entity) for entity in Entity}, redirects)


def read_entity(connection: Connection, entity: Entity) -> Tables:
    records = rows_of(connection, SourceRecord, entity, "id")
    records = records[["id", "source", "source_key", "is_current", "deleted", "run_id"]].astype(
        {"id": "int64", "is_current": "bool", "deleted": "bool", "run_id": "int64"}
    )
    decisions = rows_of(connection, MatchDecision, entity, "id")
    pins = rows_of(connection, ValuePin, entity, "id")
    return Tables(
        entity=entity,
        records=records,
        xref=rows_of(connection, Xref, entity, "source", "source_key").astype(
            {"record_id": "int64"}
        ),
        golden=golden.golden_records(connection, entity).set_index("golden_id"),
        lineage=rows_of(connection, Lineage, entity, "id"),
        decisions=decisions[decisions["active"].astype(bool)],
        pins=pins[pins["active"].astype(bool)],
        mark=watermark(connection, entity),
    )


def rows_of(
    connection: Connection, model: type[SQLModel], entity: Entity, *order: str
) -> pd.DataFrame:
    table = bulk.table_of(model)
    statement = select(table).where(table.c.entity == str(entity))
    return bulk.read_frame(connection, statement.order_by(*(table.c[c] for c in order)))


def watermark(connection: Connection, entity: Entity) -> int:
    """The entity's resolution watermark (a record id). A store that has none yet (made
    before there were marks) is taken as resolved up to its last successful ``run``."""
    mark = resolution_mark(connection, entity)
    if mark is not None:
        return mark
    runs, records = bulk.table_of(Run), bulk.table_of(SourceRecord)
    last_run = (
        select(func.max(runs.c.id))
        .where(runs.c.status == "succeeded", runs.c.command == "run")
        .scalar_subquery()
    )
    statement = select(func.max(records.c.id)).where(
        records.c.entity == str(entity), records.c.run_id <= last_run
    )
    return int(connection.execute(statement).scalar() or 0)


def status_of(read: Tables, golden_ids: pd.Series) -> pd.Series:
    """Each golden id's status; "missing" for an id the golden table does not have."""
    statuses = read.golden["status"].reindex(golden_ids.astype(object).to_numpy())
    return pd.Series(statuses.fillna("missing").to_numpy(dtype=object), index=golden_ids.index)
