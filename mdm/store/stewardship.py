"""What stewards keep in the store: match decisions, value pins, the review queue, the audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select, update

from mdm.schema import Entity, ReviewStatus
from mdm.store.bulk import (
    execute_each,
    in_lists,
    insert_frame,
    now,
    read_each,
    read_frame,
    source_key_lists,
    table_of,
)
from mdm.store.tables import AuditLog, MatchDecision, ReviewItem, ValuePin


def active_decisions(connection: Connection, entity: Entity) -> pd.DataFrame:
    table = table_of(MatchDecision)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def deactivate_decisions(connection: Connection, decision_ids: Sequence[int]) -> None:
    table = table_of(MatchDecision)
    statement = update(table).values(active=False)
    execute_each(connection, statement, in_lists(table.c.id, [int(i) for i in decision_ids]))


def active_pins(connection: Connection, entity: Entity) -> pd.DataFrame:
    table = table_of(ValuePin)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def deactivate_pins(connection: Connection, golden_id: str, attribute: str) -> int:
    """Unpin one golden attribute; how many pins that took away."""
    table = table_of(ValuePin)
    result = connection.execute(
        update(table)
        .where(
            table.c.golden_id == golden_id,
            table.c.attribute == attribute,
            table.c.active.is_(True),
        )
        .values(active=False)
    )
    return int(result.rowcount or 0)


def open_reviews(
    connection: Connection, entity: Entity | None = None, limit: int | None = None
) -> pd.DataFrame:
    """The open review items, most likely matches first (the first ``limit`` of them)."""
    table = table_of(ReviewItem)
    statement = (
        select(table)
        .where(table.c.status == ReviewStatus.OPEN)
        .order_by(table.c.probability.desc(), table.c.id)
    )
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    if limit is not None:
        statement = statement.limit(limit)
    return read_frame(connection, statement)


def open_review_partners(
    connection: Connection, entity: Entity, keys: pd.DataFrame
) -> pd.DataFrame:
    """source, source_key of the records in an open review item with one of ``keys`` (source,
    source_key), the records of ``keys`` among them when they are paired with each other."""
    table = table_of(ReviewItem)
    found = []
    for side, other in (("left", "right"), ("right", "left")):
        statement = select(
            table.c[f"{other}_source"].label("source"), table.c[f"{other}_key"].label("source_key")
        ).where(table.c.entity == entity, table.c.status == ReviewStatus.OPEN)
        conditions = source_key_lists(table.c[f"{side}_source"], table.c[f"{side}_key"], keys)
        found.append(read_each(connection, statement, conditions))
    return pd.concat(found, ignore_index=True).drop_duplicates(ignore_index=True)


def replace_reviews(
    connection: Connection,
    entity: Entity,
    records: pd.DataFrame,
    reviews: pd.DataFrame,
    run_id: int,
) -> None:
    """The open review items of ``records`` (source, source_key: the scope of a run) are
    replaced by ``reviews``, what this run found; decided items stay."""
    table = table_of(ReviewItem)
    gone = (
        update(table)
        .where(table.c.entity == entity, table.c.status == ReviewStatus.OPEN)
        .values(status=ReviewStatus.GONE)
    )
    for side in ("left", "right"):
        source, key = table.c[f"{side}_source"], table.c[f"{side}_key"]
        execute_each(connection, gone, source_key_lists(source, key, records))
    rows = reviews.assign(entity=entity, run_id=run_id, status=ReviewStatus.OPEN)
    insert_frame(connection, ReviewItem, rows)


def close_reviews(connection: Connection, entity: Entity, pair: pd.DataFrame) -> None:
    """Mark the open review items between two records (``pair``: two rows of source,
    source_key) decided."""
    table = table_of(ReviewItem)
    (a_source, a_key), (b_source, b_key) = pair[["source", "source_key"]].itertuples(
        index=False, name=None
    )
    for left, right in (
        ((a_source, a_key), (b_source, b_key)),
        ((b_source, b_key), (a_source, a_key)),
    ):
        connection.execute(
            update(table)
            .where(
                table.c.entity == entity,
                table.c.status == ReviewStatus.OPEN,
                table.c.left_source == left[0],
                table.c.left_key == left[1],
                table.c.right_source == right[0],
                table.c.right_key == right[1],
            )
            .values(status=ReviewStatus.DECIDED)
        )


def audit(connection: Connection, actor: str, action: str, target: str, detail: Any) -> None:
    """Record a steward action in the audit log."""
    connection.execute(
        table_of(AuditLog)
        .insert()
        .values(
            at=now(),
            actor=actor,
            action=action,
            target=target,
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )
