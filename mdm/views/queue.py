"""The review queue as stewards work it, and one pair of it side by side.

The queue's order: items a steward has not skipped first, then the skipped ones; in each,
the highest priority first (uncertainty x impact, see ``mdm.pipeline.stages.review_priority``),
then by id. A page is read along the queue's index, by offset or after a cursor (the position
of the last item seen), never by reading every open item; the count of what the filters
select is one grouped count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import Field
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.match_keys import compute_forms, parse_clean, parse_keys, region_of
from mdm.schema import Entity, LinkDecision, ReviewStatus, survived_attribute_names
from mdm.store import golden, records, stewardship
from mdm.store.stewardship import QueueFilter
from mdm.views.base import ViewModel, plain_rows
from mdm.views.explain import ExplanationView, explain_records
from mdm.views.search import display_name

KEYS = ["source", "source_key"]


class QueueFilters(ViewModel):
    """Which open items the queue shows; None: any."""

    entity: Entity | None = None
    source: str | None = None  # a record of this source on either side
    min_probability: float | None = Field(default=None, ge=0, le=1)
    max_probability: float | None = Field(default=None, ge=0, le=1)
    # Made by a run that started at least (at most) this many days ago.
    min_age_days: float | None = Field(default=None, ge=0)
    max_age_days: float | None = Field(default=None, ge=0)


class QueueItem(ViewModel):
    id: int
    entity: Entity
    left: str  # SOURCE:KEY
    right: str
    probability: float
    weight: float
    levels: dict[str, Any]  # per comparison, the level of the pair (-1: a value missing)
    priority: float
    left_golden_id: str | None  # the golden record each record is in now
    right_golden_id: str | None
    # Each record's display name now (an account's name, a contact's names); None when the
    # record is deleted or has none.
    left_name: str | None
    right_name: str | None
    run_id: int  # the run that found the pair
    run_started_at: datetime | None
    skipped_by: str | None
    skipped_at: datetime | None
    cursor: str  # the item's place in the queue: ``after=`` for the page that follows it


class QueuePage(ViewModel):
    items: list[QueueItem]
    open_count: int  # open items the filters select, skipped ones included
    skipped_count: int  # of which skipped
    next_cursor: str | None  # ``after=`` for the next page; None: this is the last


class PairRecord(ViewModel):
    """One record of a pair as it is now."""

    ref: str  # SOURCE:KEY
    source: str
    source_key: str
    system: str
    live: bool  # False: deleted since the pair was found (then no values)
    record_id: int | None  # the current version's row
    version: int | None  # what a decision names to be refused if the record changed since
    content_hash: str | None
    last_modified: datetime | None
    golden_id: str | None


class PairField(ViewModel):
    """One attribute of the two records, display forms side by side."""

    name: str
    left: str | None
    right: str | None
    # Both have a value and their match forms differ, or only one has a value.
    differs: bool


class PairDecision(ViewModel):
    """The active decision on a pair: what, by whom, when, why."""

    id: int
    decision: LinkDecision
    decided_by: str
    decided_at: datetime
    reason: str | None


class PairView(ViewModel):
    id: int
    entity: Entity
    status: str  # open | decided | gone
    closed_reason: str | None
    closed_at: datetime | None
    decision: PairDecision | None  # the decision that closed a decided item; else None
    item: QueueItem  # the item as the queue shows it (scores as its run found them)
    left: PairRecord
    right: PairRecord
    fields: list[PairField]
    # SOURCE:KEY -> current version, for a decision to name (refused if either changed).
    versions: dict[str, int]
    # The comparisons' levels and weights, total weight and probability, now; None when a
    # record is no longer live.
    explanation: ExplanationView | None
    previous_id: int | None  # the neighbours in queue order (of the same filters)
    next_id: int | None


def queue_page(
    connection: Connection,
    filters: QueueFilters | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    after: str | None = None,
    now: datetime | None = None,
) -> QueuePage:
    """A page of the open review items the ``filters`` select, in queue order: from
    ``offset``, or after the item whose ``cursor`` is ``after`` (which stays right when
    items before it are decided meanwhile). ``now``: the time ages are counted to."""
    if limit < 1 or offset < 0:
        raise MdmError(Reason.USAGE, "A queue page has a limit of 1 or more and an offset >= 0.")
    where = store_filter(filters or QueueFilters(), now)
    unskipped, skipped = stewardship.queue_counts(connection, where)
    wanted = limit + 1  # one more: is there a next page?

    def read(of_skipped: bool, **part: Any) -> list[dict[str, Any]]:
        return plain_rows(stewardship.queue_rows(connection, where, skipped=of_skipped, **part))

    if after is not None:
        part, priority, item = parse_cursor(after)
        rows = read(part == 1, limit=wanted, after=(priority, item))
    elif offset < unskipped:
        part, rows = 0, read(False, limit=wanted, offset=offset)
    else:
        part, rows = 1, read(True, limit=wanted, offset=offset - unskipped)
    if part == 0 and len(rows) < wanted and skipped:  # the page goes on into the skipped ones
        rows += read(True, limit=wanted - len(rows))
    items = _items(connection, rows[:limit])
    return QueuePage(
        items=items,
        open_count=unskipped + skipped,
        skipped_count=skipped,
        next_cursor=items[-1].cursor if len(rows) > limit else None,
    )


def store_filter(filters: QueueFilters, now: datetime | None = None) -> QueueFilter:
    """The store's filter for ``filters``, ages counted back from ``now``."""
    moment = now or datetime.now(UTC)
    return QueueFilter(
        entity=filters.entity,
        source=filters.source,
        min_probability=filters.min_probability,
        max_probability=filters.max_probability,
        started_before=(
            None if filters.min_age_days is None else moment - timedelta(days=filters.min_age_days)
        ),
        started_after=(
            None if filters.max_age_days is None else moment - timedelta(days=filters.max_age_days)
        ),
    )


def cursor_of(skipped: bool, priority: float, item_id: int) -> str:
    """An item's place in the queue as text: part (0, or 1 for skipped), priority (exact, as
    hexadecimal), id."""
    return f"{int(skipped)}_{float(priority).hex()}_{int(item_id)}"


def parse_cursor(text: str) -> tuple[int, float, int]:
    try:
        part, priority, item = text.split("_")
        parsed = (int(part), float.fromhex(priority), int(item))
    except ValueError:
        parsed = (-1, 0.0, 0)
    if parsed[0] not in (0, 1):
        raise MdmError(Reason.USAGE, f"{text!r} is not a queue cursor: use one a page gave.")
    return parsed


def _items(connection: Connection, rows: list[dict[str, Any]]) -> list[QueueItem]:
    """The queue's items of ``rows`` (review items), with their records' golden ids and
    display names now, each read once for all of ``rows``."""
    golden_of = _golden_ids(connection, rows)
    names = _record_names(connection, rows)
    return [_item(row, golden_of, names) for row in rows]


def _item(
    row: dict[str, Any],
    golden_of: dict[tuple[str, str], str],
    names: dict[tuple[str, str], str],
) -> QueueItem:
    left, right = (row["left_source"], row["left_key"]), (row["right_source"], row["right_key"])
    priority = float(row["priority"] or 0.0)
    return QueueItem(
        id=row["id"],
        entity=row["entity"],
        left=f"{left[0]}:{left[1]}",
        right=f"{right[0]}:{right[1]}",
        probability=row["probability"],
        weight=row["weight"],
        levels=json.loads(row["levels"]),
        priority=priority,
        left_golden_id=golden_of.get(left),
        right_golden_id=golden_of.get(right),
        left_name=names.get(left),
        right_name=names.get(right),
        run_id=row["run_id"],
        run_started_at=row["run_started_at"],
        skipped_by=row["skipped_by"],
        skipped_at=row["skipped_at"],
        cursor=cursor_of(row["skipped_at"] is not None, priority, row["id"]),
    )


def _golden_ids(connection: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(source, source_key) -> golden id of the records of ``rows``, read by key."""
    found: dict[tuple[str, str], str] = {}
    for entity, keys in _keys_by_entity(rows).items():
        xref = golden.xref_of_keys(connection, entity, keys)
        for source, key, golden_id in xref[[*KEYS, "golden_id"]].itertuples(index=False):
            found[(str(source), str(key))] = str(golden_id)
    return found


def _keys_by_entity(rows: list[dict[str, Any]]) -> dict[Entity, pd.DataFrame]:
    """Per entity, the records (source, source_key) of both sides of the items ``rows``,
    each once."""
    found: dict[Entity, pd.DataFrame] = {}
    for entity in Entity:
        keys = dict.fromkeys(
            (row[f"{side}_source"], row[f"{side}_key"])
            for row in rows
            if row["entity"] == entity
            for side in ("left", "right")
        )
        if keys:
            found[entity] = pd.DataFrame(list(keys), columns=KEYS)
    return found


def _record_names(connection: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(source, source_key) -> display name of the live records of ``rows``, read by key."""
    found: dict[tuple[str, str], str] = {}
    for entity, keys in _keys_by_entity(rows).items():
        ids = records.current_ids_of_keys(connection, entity, keys)
        live = ids.loc[~ids["deleted"].astype(bool), "record_id"].astype(int).tolist()
        found |= _display_names(entity, plain_rows(records.records_in(connection, live)))
    return found


def _display_names(
    entity: Entity, versions: Iterable[dict[str, Any]]
) -> dict[tuple[str, str], str]:
    """(source, source_key) -> display name of record ``versions`` (rows with attributes)."""
    found: dict[tuple[str, str], str] = {}
    for row in versions:
        attributes = row["attributes"]
        values = json.loads(attributes) if isinstance(attributes, str) else dict(attributes)
        name = display_name(entity, values)
        if name:
            found[(str(row["source"]), str(row["source_key"]))] = name
    return found


# ---- one pair ----------------------------------------------------------------------------------


def pair_view(
    connection: Connection,
    project: Project,
    item_id: int,
    filters: QueueFilters | None = None,
    *,
    now: datetime | None = None,
) -> PairView:
    """Review item ``item_id`` for the pair page: both records' current values side by side,
    which differ, why they match or not (``explain_records``), their golden records and
    versions, the decision that closed it if it was decided, and the items before and after it
    in the queue of ``filters``."""
    found = plain_rows(stewardship.review_item(connection, item_id))
    if not found:
        raise MdmError(Reason.NOT_FOUND, f"No review item {item_id}.")
    row = found[0]
    entity = Entity(row["entity"])
    sides = [(row["left_source"], row["left_key"]), (row["right_source"], row["right_key"])]
    current = _current(connection, entity, sides)
    item = _item(row, _golden_ids(connection, [row]), _display_names(entity, current.values()))
    golden_ids = [item.left_golden_id, item.right_golden_id]
    pair = [
        _record(project, key, current.get(key), golden_id)
        for key, golden_id in zip(sides, golden_ids, strict=True)
    ]
    live = all(key in current for key in sides)
    where = store_filter(filters or QueueFilters(), now)
    previous_id, next_id = _neighbours(connection, where, item)
    return PairView(
        id=item.id,
        entity=entity,
        status=row["status"],
        closed_reason=row["closed_reason"],
        closed_at=row["closed_at"],
        decision=_decision(connection, entity, row["status"], sides),
        item=item,
        left=pair[0],
        right=pair[1],
        fields=_fields(project, entity, [current.get(key) for key in sides]),
        versions={r.ref: r.version for r in pair if r.version is not None},
        explanation=explain_records(connection, project, item.left, item.right) if live else None,
        previous_id=previous_id,
        next_id=next_id,
    )


def _decision(
    connection: Connection, entity: Entity, status: str, sides: list[tuple[str, str]]
) -> PairDecision | None:
    """The active decision on the pair of a decided item, read by the pair's keys."""
    if status != ReviewStatus.DECIDED:
        return None
    found = plain_rows(stewardship.decision_on_pair(connection, entity, sides[0], sides[1]))
    if not found:
        return None
    return PairDecision.model_validate(found[0])


def _current(
    connection: Connection, entity: Entity, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The current live version of each record of ``keys`` (whole rows), by key."""
    ids = records.current_ids_of_keys(connection, entity, pd.DataFrame(keys, columns=KEYS))
    live = ids.loc[~ids["deleted"].astype(bool), "record_id"].astype(int).tolist()
    rows = plain_rows(records.records_by_id(connection, live))
    return {(row["source"], row["source_key"]): row for row in rows}


def _record(
    project: Project,
    key: tuple[str, str],
    row: dict[str, Any] | None,
    golden_id: str | None,
) -> PairRecord:
    systems = {source.name: source.system for source in project.spec.sources}
    return PairRecord(
        ref=f"{key[0]}:{key[1]}",
        source=key[0],
        source_key=key[1],
        system=systems.get(key[0], key[0]),
        live=row is not None,
        record_id=None if row is None else row["id"],
        version=None if row is None else row["version"],
        content_hash=None if row is None else row["content_hash"],
        last_modified=None if row is None else row["last_modified"],
        golden_id=golden_id,
    )


def _fields(project: Project, entity: Entity, rows: list[dict[str, Any] | None]) -> list[PairField]:
    """The survived attributes of the two records: display forms, and whether the match
    forms differ. Forms stored with a version by another mdm are computed here, in memory."""
    names = survived_attribute_names(entity)
    present = {side: row for side, row in enumerate(rows) if row is not None}
    if not present:
        return [PairField(name=name, left=None, right=None, differs=False) for name in names]
    stored = pd.Series([row["match_keys"] for row in present.values()], index=list(present))
    clean, stale_clean = parse_clean(entity, stored)
    keys, stale_keys = parse_keys(entity, stored)
    stale = stale_clean | stale_keys
    if stale.any():
        raw = pd.DataFrame(
            [json.loads(row["attributes"]) for row in present.values()], index=stored.index
        ).loc[stale]
        sources = pd.Series([row["source"] for row in present.values()], index=stored.index)
        fresh_keys, fresh_clean = compute_forms(entity, raw, region_of(project, sources[stale]))
        keys.loc[stale] = fresh_keys
        clean.loc[stale] = fresh_clean

    def value(frame: pd.DataFrame, side: int, name: str) -> str | None:
        found: Any = frame.at[side, name] if side in present else None
        return None if found is None or pd.isna(found) else str(found)

    return [
        PairField(
            name=name,
            left=value(clean, 0, name),
            right=value(clean, 1, name),
            differs=value(keys, 0, name) != value(keys, 1, name),
        )
        for name in names
    ]


def _neighbours(
    connection: Connection, where: QueueFilter, item: QueueItem
) -> tuple[int | None, int | None]:
    """The open items just before and just after ``item`` in the queue of ``where``."""
    skipped = item.skipped_at is not None
    position = (item.priority, item.id)
    after = stewardship.queue_neighbour(connection, where, skipped=skipped, after=position)
    if after is None and not skipped:
        after = stewardship.queue_neighbour(connection, where, skipped=True)
    before = stewardship.queue_neighbour(
        connection, where, skipped=skipped, after=position, backwards=True
    )
    if before is None and skipped:
        before = stewardship.queue_neighbour(connection, where, skipped=False, backwards=True)
    return before, after
