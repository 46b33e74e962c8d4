"""The store rows the steward actions read and write beyond ``mdm.store.stewardship``: one
decision, the decisions among a group of records, review items of one pair, record versions,
a skip. Each reads or writes by key (a pair, an id, a list of records), never a whole table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, delete, select, update

from mdm.schema import Entity, LinkDecision, ReviewStatus
from mdm.store import golden
from mdm.store.bulk import (
    execute_each,
    insert_frame,
    read_each,
    read_frame,
    source_key_lists,
    table_of,
)
from mdm.store.tables import AuditLog, MatchDecision, Membership, ReviewItem, SourceRecord

KEYS = ["source", "source_key"]


# ---- decisions -------------------------------------------------------------------------------


def insert_decision(connection: Connection, row: dict[str, Any]) -> int:
    """Record one decision; its id."""
    result = connection.execute(table_of(MatchDecision).insert().values(**row))
    key = result.inserted_primary_key
    if key is None:  # every supported database returns it
        raise RuntimeError("the database did not return the new decision's id")
    return int(key[0])


def insert_decisions(connection: Connection, rows: pd.DataFrame) -> None:
    insert_frame(connection, MatchDecision, rows)


def decision(connection: Connection, decision_id: int) -> dict[str, Any] | None:
    """One decision by id, as a dict; None if there is none."""
    table = table_of(MatchDecision)
    found = connection.execute(select(table).where(table.c.id == int(decision_id))).mappings()
    row = found.first()
    return None if row is None else dict(row)


def decisions_among(connection: Connection, entity: Entity, keys: pd.DataFrame) -> pd.DataFrame:
    """The active decisions whose two records are both among ``keys`` (source, source_key)."""
    table = table_of(MatchDecision)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    conditions = source_key_lists(table.c.left_source, table.c.left_key, keys)
    found = read_each(connection, statement, conditions)
    if found.empty:
        return found
    wanted = set(zip(keys["source"], keys["source_key"], strict=True))
    right = zip(found["right_source"], found["right_key"], strict=True)
    inside = [pair in wanted for pair in right]
    return found[inside].drop_duplicates("id").sort_values("id", ignore_index=True)


def latest_decisions_by(connection: Connection, actor: str, limit: int) -> list[int]:
    """Ids of the decisions ``actor`` made with ``decide_pair``, newest first (at most
    ``limit``), read from the audit rows of those decisions."""
    table = table_of(AuditLog)
    actions = [str(decision) for decision in LinkDecision]
    statement = (
        select(table.c.target, table.c.action, table.c.detail, table.c.at)
        .where(table.c.actor == actor, table.c.action.in_(actions))
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    ids: list[int] = []
    for target, action, detail, at in connection.execute(statement).all():
        found = json.loads(detail) if detail else None
        if isinstance(found, dict) and isinstance(found.get("decision"), int):
            ids.append(int(found["decision"]))
            continue
        # An audit row written before decisions were numbered in it: the actor's decision of
        # that pair and kind, made no later than the row.
        legacy = _decision_of_pair(connection, actor, str(target), str(action), at)
        if legacy is not None:
            ids.append(legacy)
    return ids


def audit_details(connection: Connection, actor: str, action: str, target: str) -> list[Any]:
    """The details of the audit rows of one actor, action and target, newest first."""
    table = table_of(AuditLog)
    statement = (
        select(table.c.detail)
        .where(table.c.actor == actor, table.c.action == action, table.c.target == target)
        .order_by(table.c.id.desc())
    )
    return [json.loads(text) if text else None for (text,) in connection.execute(statement)]


def _decision_of_pair(
    connection: Connection, actor: str, target: str, action: str, at: datetime
) -> int | None:
    parts = target.split(" ")
    if len(parts) != 2 or ":" not in parts[0] or ":" not in parts[1]:
        return None
    (left_source, left_key), (right_source, right_key) = (p.split(":", 1) for p in parts)
    table = table_of(MatchDecision)
    statement = (
        select(table.c.id)
        .where(
            table.c.decided_by == actor,
            table.c.decision == action,
            table.c.left_source == left_source,
            table.c.left_key == left_key,
            table.c.right_source == right_source,
            table.c.right_key == right_key,
            table.c.decided_at <= at,
        )
        .order_by(table.c.id.desc())
        .limit(1)
    )
    found = connection.execute(statement).scalar()
    return None if found is None else int(found)


def deactivate_decision(connection: Connection, decision_id: int) -> bool:
    """Revoke one active decision; whether it was active."""
    table = table_of(MatchDecision)
    result = connection.execute(
        update(table)
        .where(table.c.id == int(decision_id), table.c.active.is_(True))
        .values(active=False)
    )
    return bool(result.rowcount)


# ---- review items ----------------------------------------------------------------------------


def review_item(connection: Connection, item_id: int) -> dict[str, Any] | None:
    table = table_of(ReviewItem)
    found = connection.execute(select(table).where(table.c.id == int(item_id))).mappings()
    row = found.first()
    return None if row is None else dict(row)


def items_of_pair(
    connection: Connection,
    entity: Entity,
    left: tuple[str, str],
    right: tuple[str, str],
    status: str | None = None,
) -> pd.DataFrame:
    """The review items between two records (either way round; of ``status`` if given),
    oldest first."""
    table = table_of(ReviewItem)
    one_way = (
        (table.c.left_source == left[0])
        & (table.c.left_key == left[1])
        & (table.c.right_source == right[0])
        & (table.c.right_key == right[1])
    )
    other_way = (
        (table.c.left_source == right[0])
        & (table.c.left_key == right[1])
        & (table.c.right_source == left[0])
        & (table.c.right_key == left[1])
    )
    statement = select(table).where(table.c.entity == entity, one_way | other_way)
    if status is not None:
        statement = statement.where(table.c.status == status)
    return read_frame(connection, statement.order_by(table.c.id))


# A review item's own columns: a reopened item keeps them (its id, the run that first found it,
# who skipped it) and takes the others (the scores) from the item the steward run opened for
# the same pair, if it opened one.
ITEM_OWN = ("id", "run_id", "status", "closed_reason", "closed_at", "skipped_by", "skipped_at")


def reopen_item(connection: Connection, item_id: int, run_id: int) -> bool:
    """Put a decided review item back in the queue (open, no longer closed). If the steward
    run ``run_id`` sent the same pair to review again, the item takes that run's scores and
    the duplicate is removed (it was written in this same transaction: nobody saw it).
    Whether the item was reopened (it was still decided)."""
    table = table_of(ReviewItem)
    item = review_item(connection, item_id)
    if item is None or item["status"] != ReviewStatus.DECIDED:
        return False
    left = (str(item["left_source"]), str(item["left_key"]))
    right = (str(item["right_source"]), str(item["right_key"]))
    fresh = items_of_pair(connection, Entity(item["entity"]), left, right, ReviewStatus.OPEN)
    fresh = fresh[fresh["run_id"] == run_id]
    values: dict[str, Any] = {"status": ReviewStatus.OPEN, "closed_reason": None, "closed_at": None}
    if not fresh.empty:
        newest = review_item(connection, int(fresh["id"].iloc[-1])) or {}
        values |= {name: value for name, value in newest.items() if name not in ITEM_OWN}
        # The run names the pair in its own order; the item keeps the one the steward saw.
        for side in ("left", "right"):
            values.pop(f"{side}_source", None)
            values.pop(f"{side}_key", None)
        connection.execute(delete(table).where(table.c.id.in_([int(i) for i in fresh["id"]])))
    connection.execute(update(table).where(table.c.id == int(item_id)).values(**values))
    return True


def skip_item(connection: Connection, item_id: int, actor: str, at: datetime) -> None:
    table = table_of(ReviewItem)
    connection.execute(
        update(table).where(table.c.id == int(item_id)).values(skipped_by=actor, skipped_at=at)
    )


# ---- memberships -----------------------------------------------------------------------------


def reopen_memberships(
    connection: Connection, entity: Entity, keys: pd.DataFrame, golden_id: str, run_id: int
) -> None:
    """The memberships of ``golden_id`` that the steward run ``run_id`` closed for records of
    ``keys`` (source, source_key) and that the run left in ``golden_id`` are open again: they
    never left."""
    if keys.empty:
        return
    stayed = golden.xref_of_keys(connection, entity, keys)
    stayed = stayed[stayed["golden_id"] == golden_id]
    table = table_of(Membership)
    statement = (
        update(table)
        .where(
            table.c.entity == entity,
            table.c.golden_id == golden_id,
            table.c.to_run == run_id,
        )
        .values(to_run=None)
    )
    execute_each(
        connection, statement, source_key_lists(table.c.source, table.c.source_key, stayed)
    )


# ---- source records --------------------------------------------------------------------------


def current_versions(connection: Connection, keys: Sequence[tuple[str, str]]) -> dict[str, int]:
    """SOURCE:KEY -> the version number of each record's current version (a deleted record's
    tombstone has one too); records never loaded are absent."""
    if not keys:
        return {}
    frame = pd.DataFrame(list(dict.fromkeys(keys)), columns=KEYS, dtype=object)
    table = table_of(SourceRecord)
    statement = select(table.c.source, table.c.source_key, table.c.version).where(
        table.c.is_current.is_(True)
    )
    found = read_each(
        connection, statement, source_key_lists(table.c.source, table.c.source_key, frame)
    )
    return {
        f"{source}:{key}": int(version)
        for source, key, version in zip(
            found["source"], found["source_key"], found["version"], strict=True
        )
    }
