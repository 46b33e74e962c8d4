"""What stewards keep in the store: match decisions, value pins, the review queue, the audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, Select, and_, bindparam, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from mdm.schema import Entity, ReviewStatus
from mdm.store.bulk import (
    CHUNK,
    chunks,
    execute_each,
    in_lists,
    insert_frame,
    now,
    read_each,
    read_frame,
    read_in_pairs,
    source_key_lists,
    table_of,
    to_rows,
)
from mdm.store.tables import (
    AuditLog,
    MatchDecision,
    ReviewItem,
    Run,
    SourceRecord,
    ValuePin,
)


def active_decisions(connection: Connection, entity: Entity) -> pd.DataFrame:
    table = table_of(MatchDecision)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def deactivate_decisions(connection: Connection, decision_ids: Sequence[int]) -> None:
    table = table_of(MatchDecision)
    statement = update(table).values(active=False)
    execute_each(connection, statement, in_lists(table.c.id, [int(i) for i in decision_ids]))


def decision_on_pair(
    connection: Connection, entity: Entity, one: tuple[str, str], other: tuple[str, str]
) -> pd.DataFrame:
    """The active decision on the records ``one`` and ``other`` (source, source_key),
    whichever way round it was made: the latest, one row; no row if there is none."""
    table = table_of(MatchDecision)

    def between(left: tuple[str, str], right: tuple[str, str]) -> ColumnElement[bool]:
        return and_(
            table.c.left_source == left[0],
            table.c.left_key == left[1],
            table.c.right_source == right[0],
            table.c.right_key == right[1],
        )

    statement = (
        select(table)
        .where(
            table.c.entity == entity,
            table.c.active.is_(True),
            or_(between(one, other), between(other, one)),
        )
        .order_by(table.c.id.desc())
        .limit(1)
    )
    return read_frame(connection, statement)


def active_pins(connection: Connection, entity: Entity) -> pd.DataFrame:
    table = table_of(ValuePin)
    statement = select(table).where(table.c.entity == entity, table.c.active.is_(True))
    return read_frame(connection, statement)


def active_pins_of(connection: Connection, golden_id: str) -> pd.DataFrame:
    """The active pins of one golden record: attribute, value, pinned_by, pinned_at."""
    table = table_of(ValuePin)
    statement = select(
        table.c.attribute, table.c.value, table.c.pinned_by, table.c.pinned_at
    ).where(table.c.golden_id == golden_id, table.c.active.is_(True))
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


# ---- the queue, in the order stewards work it ------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    """Which open items a queue page shows; None: any."""

    entity: Entity | None = None
    source: str | None = None  # a record of it on either side
    min_probability: float | None = None
    max_probability: float | None = None
    started_before: datetime | None = None  # the item's run started at or before this
    started_after: datetime | None = None  # ... at or after this


def queue_rows(
    connection: Connection,
    where: QueueFilter,
    *,
    skipped: bool,
    limit: int,
    offset: int = 0,
    after: tuple[float, int] | None = None,
    backwards: bool = False,
) -> pd.DataFrame:
    """Open items of one part of the queue (the ``skipped`` ones, or the others), in queue
    order: priority highest first, then by id; ``backwards``: the reverse. ``after``: only
    those after the item of this (priority, id) in that order. Each with its run's start
    (``run_started_at``).

    Read along an index on (status, priority) (the skipped ones have one of their own): the
    first ``offset + limit`` rows that pass the filters, not every open item."""
    table = table_of(ReviewItem)
    statement = _in_queue_order(select(table), where, skipped, after, backwards)
    items = read_frame(connection, statement.limit(limit).offset(offset))
    return _with_run_starts(connection, items)


def queue_neighbour(
    connection: Connection,
    where: QueueFilter,
    *,
    skipped: bool,
    after: tuple[float, int] | None = None,
    backwards: bool = False,
) -> int | None:
    """The id of the first item of ``queue_rows`` (the same arguments); None if none."""
    table = table_of(ReviewItem)
    statement = _in_queue_order(select(table.c.id), where, skipped, after, backwards)
    found = connection.execute(statement.limit(1)).scalar()
    return None if found is None else int(found)


def _in_queue_order(
    statement: Select[Any],
    where: QueueFilter,
    skipped: bool,
    after: tuple[float, int] | None,
    backwards: bool,
) -> Select[Any]:
    table = table_of(ReviewItem)
    statement = statement.where(
        *_queue_conditions(where),
        table.c.skipped_at.is_not(None) if skipped else table.c.skipped_at.is_(None),
    )
    if after is not None:
        priority, item = after
        if backwards:
            later = or_(
                table.c.priority > priority,
                and_(table.c.priority == priority, table.c.id < item),
            )
        else:
            later = or_(
                table.c.priority < priority,
                and_(table.c.priority == priority, table.c.id > item),
            )
        statement = statement.where(later)
    if backwards:
        return statement.order_by(table.c.priority.asc(), table.c.id.desc())
    return statement.order_by(table.c.priority.desc(), table.c.id.asc())


def _with_run_starts(connection: Connection, items: pd.DataFrame) -> pd.DataFrame:
    """``items`` with the start of each one's run (``run_started_at``), read by run id."""
    run = table_of(Run)
    ids = sorted({int(i) for i in items["run_id"]})
    statement = select(run.c.id, run.c.started_at).where(run.c.id.in_(ids))
    started: dict[int, Any] = {int(i): at for i, at in connection.execute(statement)} if ids else {}
    at = pd.Series([started.get(int(i)) for i in items["run_id"]], index=items.index, dtype=object)
    return items.assign(run_started_at=at)


def queue_counts(connection: Connection, where: QueueFilter) -> tuple[int, int]:
    """How many open items the filters select: (not skipped, skipped)."""
    table = table_of(ReviewItem)
    skipped = table.c.skipped_at.is_not(None)
    statement = (
        select(skipped.label("skipped"), func.count().label("items"))
        .where(*_queue_conditions(where))
        .group_by(skipped)
    )
    counts = {bool(row.skipped): int(row.items) for row in connection.execute(statement)}
    return counts.get(False, 0), counts.get(True, 0)


def _queue_conditions(where: QueueFilter) -> list[ColumnElement[bool]]:
    table, run = table_of(ReviewItem), table_of(Run)
    conditions = [table.c.status == ReviewStatus.OPEN]
    if where.entity is not None:
        conditions.append(table.c.entity == where.entity)
    if where.source is not None:
        conditions.append(
            or_(table.c.left_source == where.source, table.c.right_source == where.source)
        )
    if where.min_probability is not None:
        conditions.append(table.c.probability >= where.min_probability)
    if where.max_probability is not None:
        conditions.append(table.c.probability <= where.max_probability)
    if where.started_before is not None or where.started_after is not None:
        runs = select(run.c.id)
        if where.started_before is not None:
            runs = runs.where(run.c.started_at <= where.started_before)
        if where.started_after is not None:
            runs = runs.where(run.c.started_at >= where.started_after)
        conditions.append(table.c.run_id.in_(runs))
    return conditions


def review_item(connection: Connection, item_id: int) -> pd.DataFrame:
    """One review item, whatever its status, with its run's start; no row if there is none."""
    table = table_of(ReviewItem)
    return _with_run_starts(
        connection, read_frame(connection, select(table).where(table.c.id == item_id))
    )


# A scope of more records than this reads the entity's open items whole (one index range)
# rather than by key lists: a full run's scope is every record.
READ_ALL_OPEN_ABOVE = 50_000
_ITEM_COLUMNS = [
    "id",
    "run_id",
    "left_source",
    "left_key",
    "right_source",
    "right_key",
    "weight",
    "probability",
    "levels",
    "priority",
]
_SCORES = ["weight", "probability", "levels", "priority"]


def replace_reviews(
    connection: Connection,
    entity: Entity,
    records: pd.DataFrame,
    reviews: pd.DataFrame,
    run_id: int,
) -> None:
    """Bring the open review items of ``records`` to ``reviews``, what this run found.

    ``records``: source, source_key, golden_id: the records of a run's scope, each with the
    golden record it is in after the run (none for a record that left the scope: deleted).
    ``reviews``: left_source, left_key, right_source, right_key, weight, probability, levels,
    priority.

    A pair is one open item, whichever way round it was found. An open item whose pair the run
    found again, and neither of whose records has a version newer than the item, stays open:
    its scores and priority are brought up to date, its id, run (the run that first found it)
    and skip are kept. Every other open item of ``records`` is closed (status ``gone``) with
    its time and why, the first that holds of: "record S:K deleted in run N", "record(s) ...
    changed in run N" (a new version, loaded in run N), "shown as item K" (a second open item
    of the pair, as older stores may hold), "now in the same golden record G after run N", "no
    longer a review pair after run N". A pair found for the first time, or again after a record
    changed, opens a new item. Decided items stay as they are."""
    table = table_of(ReviewItem)
    found_pairs = _pair_keys(reviews)
    distinct = ~pd.Series(found_pairs).duplicated().to_numpy()
    found, found_pairs = reviews[distinct].reset_index(drop=True), found_pairs[distinct]
    open_items = _open_items_of(connection, entity, records[["source", "source_key"]])
    keep = np.zeros(len(open_items), dtype=bool)
    again = np.full(len(open_items), -1, dtype=np.intp)
    if not open_items.empty:
        versions = _current_versions(connection, entity, open_items)
        sides = {side: _side_state(open_items, side, versions) for side in ("left", "right")}
        stale = sides["left"]["deleted"].to_numpy() | sides["left"]["changed"].to_numpy()
        stale |= sides["right"]["deleted"].to_numpy() | sides["right"]["changed"].to_numpy()
        pairs = _pair_keys(open_items)
        again = pd.Index(found_pairs).get_indexer(pd.Index(pairs))
        refound = (again >= 0) & ~stale
        # One item per pair: the oldest the run found again (an older store may hold two).
        ids = open_items["id"].to_numpy(dtype="int64")
        candidates = pd.Series(np.where(refound, ids, np.iinfo(np.int64).max))
        first = candidates.groupby(pairs).transform("min").to_numpy(dtype="int64")
        duplicate = refound & (ids != first)
        keep = refound & ~duplicate
        reasons = _closing_reasons(open_items, sides, records, run_id, duplicate, first)
        closed_at = now()
        _execute_rows(
            connection,
            update(table)
            .where(table.c.id == bindparam("item_id"))
            .values(
                status=ReviewStatus.GONE, closed_reason=bindparam("reason"), closed_at=closed_at
            ),
            [
                {"item_id": int(item), "reason": str(reason)}
                for item, reason in zip(ids[~keep], reasons[~keep], strict=True)
            ],
        )
    kept = open_items[keep].reset_index(drop=True)
    fresh = found.iloc[again[keep]].reset_index(drop=True)
    moved = _scores_moved(kept, fresh)
    _execute_rows(
        connection,
        update(table)
        .where(table.c.id == bindparam("item_id"))
        .values({name: bindparam(f"new_{name}") for name in _SCORES}),
        [
            {"item_id": int(item), **{f"new_{name}": row[name] for name in _SCORES}}
            for item, row in zip(
                kept["id"].to_numpy()[moved], to_rows(fresh[moved][_SCORES]), strict=True
            )
        ],
    )
    taken = np.zeros(len(found), dtype=bool)
    taken[again[keep]] = True
    rows = found[~taken].assign(entity=entity, run_id=run_id, status=ReviewStatus.OPEN)
    insert_frame(connection, ReviewItem, rows)


def _open_items_of(connection: Connection, entity: Entity, keys: pd.DataFrame) -> pd.DataFrame:
    """The open items (``_ITEM_COLUMNS``) with a record of ``keys`` (source, source_key) on
    either side, each once, by id."""
    table = table_of(ReviewItem)
    is_open = (table.c.entity == entity, table.c.status == ReviewStatus.OPEN)
    statement = select(*(table.c[name] for name in _ITEM_COLUMNS)).where(*is_open)
    # As many open items as keys or fewer (none on a first run): reading them whole, one
    # range of the (entity, status) index, is less than two probes per key.
    count = select(func.count()).select_from(table).where(*is_open)
    if len(keys) > READ_ALL_OPEN_ABOVE or connection.execute(count).scalar_one() <= len(keys):
        items = read_frame(connection, statement)
        wanted = pd.MultiIndex.from_frame(keys.astype(str))
        mine = np.zeros(len(items), dtype=bool)
        for side in ("left", "right"):
            pairs = items[[f"{side}_source", f"{side}_key"]].astype(str)
            mine |= pd.MultiIndex.from_frame(pairs).isin(wanted)
        items = items[mine]
    else:
        items = pd.concat(
            [
                read_each(
                    connection,
                    statement,
                    source_key_lists(table.c[f"{side}_source"], table.c[f"{side}_key"], keys),
                )
                for side in ("left", "right")
            ],
            ignore_index=True,
        )
    items = items.drop_duplicates("id").sort_values("id", ignore_index=True)
    return items.astype({"id": "int64", "run_id": "int64"})


def _pair_keys(items: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Each pair as one text, the same whichever record is on the left."""
    if items.empty:
        return np.empty(0, dtype=object)
    left = items["left_source"].astype(str) + "\x1f" + items["left_key"].astype(str)
    right = items["right_source"].astype(str) + "\x1f" + items["right_key"].astype(str)
    lower = left.where(left <= right, right)
    upper = right.where(left <= right, left)
    return (lower + "\x1e" + upper).to_numpy(dtype=object)


def _current_versions(connection: Connection, entity: Entity, items: pd.DataFrame) -> pd.DataFrame:
    """source, source_key, run_id (the run that loaded it), deleted of the current version of
    each record of ``items``, by the versions' index."""
    table = table_of(SourceRecord)
    keys = pd.concat(
        [
            items[[f"{side}_source", f"{side}_key"]].set_axis(["source", "source_key"], axis=1)
            for side in ("left", "right")
        ],
        ignore_index=True,
    ).drop_duplicates(ignore_index=True)
    statement = select(table.c.source, table.c.source_key, table.c.run_id, table.c.deleted).where(
        table.c.entity == entity, table.c.is_current.is_(True)
    )
    found = read_in_pairs(connection, statement, table.c.source, table.c.source_key, keys)
    return found.astype({"source": str, "source_key": str})


def _side_state(items: pd.DataFrame, side: str, versions: pd.DataFrame) -> pd.DataFrame:
    """Per item, its ``side`` record: ``ref`` (SOURCE:KEY), ``deleted`` (a tombstone, or no
    current version), ``changed`` (a version loaded after the item's run) and ``loaded`` (the
    run that loaded its current version)."""
    source, key = items[f"{side}_source"].astype(str), items[f"{side}_key"].astype(str)
    known = pd.MultiIndex.from_frame(versions[["source", "source_key"]])
    at = known.get_indexer(pd.MultiIndex.from_arrays([source, key]))
    present = at >= 0
    loaded = np.where(present, versions["run_id"].to_numpy()[at], 0).astype("int64")
    tombstone = np.where(present, versions["deleted"].to_numpy(dtype=bool)[at], True)
    return pd.DataFrame(
        {
            "ref": (source + ":" + key).to_numpy(dtype=object),
            "deleted": tombstone,
            "changed": present & (loaded > items["run_id"].to_numpy(dtype="int64")),
            "loaded": loaded,
        }
    )


def _closing_reasons(
    items: pd.DataFrame,
    sides: dict[str, pd.DataFrame],
    records: pd.DataFrame,
    run_id: int,
    duplicate: npt.NDArray[np.bool_],
    first: npt.NDArray[np.int64],
) -> npt.NDArray[np.object_]:
    """Why each open item closes, were it closed (see ``replace_reviews``): whole arrays of
    text, no Python per item."""
    left, right = sides["left"], sides["right"]
    placed = records.dropna(subset=["golden_id"]).astype(str)
    golden_of = placed.drop_duplicates(["source", "source_key"]).set_index(
        ["source", "source_key"]
    )["golden_id"]
    golden = {
        side: golden_of.reindex(
            pd.MultiIndex.from_arrays(
                [items[f"{side}_source"].astype(str), items[f"{side}_key"].astype(str)]
            )
        ).to_numpy(dtype=object)
        for side in ("left", "right")
    }
    together = pd.notna(golden["left"]) & (golden["left"] == golden["right"])
    left_ref, right_ref = _texts(left["ref"]), _texts(right["ref"])
    left_changed, right_changed = _flags(left["changed"]), _flags(right["changed"])
    left_deleted, right_deleted = _flags(left["deleted"]), _flags(right["deleted"])
    loaded = np.maximum(
        np.where(left_changed, left["loaded"].to_numpy(), 0),
        np.where(right_changed, right["loaded"].to_numpy(), 0),
    )
    changed_in = " changed in run " + _texts(loaded)
    changed = np.where(
        left_changed & right_changed,
        "records " + left_ref + " and " + right_ref + changed_in,
        "record " + np.where(left_changed, left_ref, right_ref) + changed_in,
    )
    deleted_ref = np.where(left_deleted, left_ref, right_ref)
    deleted_run = np.where(left_deleted, left["loaded"].to_numpy(), right["loaded"].to_numpy())
    deleted = np.where(
        deleted_run > 0,
        "record " + deleted_ref + " deleted in run " + _texts(deleted_run),
        "record " + deleted_ref + " deleted",
    )
    after = f" after run {run_id}"
    conditions = [
        left_deleted | right_deleted,
        left_changed | right_changed,
        duplicate,
        together,
    ]
    choices = [
        deleted,
        changed,
        "shown as item " + _texts(first),
        "now in the same golden record " + _texts(golden["left"]) + after,
    ]
    reasons = np.select(conditions, choices, default="no longer a review pair" + after)
    return np.asarray(reasons, dtype=object)


def _texts(values: Any) -> npt.NDArray[np.object_]:
    """Values as an array of Python strings, which ``+`` joins element by element."""
    text = pd.Series(values, dtype=object).fillna("").astype(str)
    return np.asarray(text.to_numpy(dtype=object), dtype=object)


def _flags(values: pd.Series) -> npt.NDArray[np.bool_]:
    return values.to_numpy(dtype=bool)


def _scores_moved(kept: pd.DataFrame, fresh: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Which kept items' scores (weight, probability, levels, priority) the run changed."""
    moved = np.zeros(len(kept), dtype=bool)
    for name in _SCORES:
        old, new = kept[name].astype(object), fresh[name].astype(object)
        moved |= ~(old.to_numpy() == new.to_numpy()) | old.isna().to_numpy()
    return moved


def _execute_rows(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """``statement`` once per row of parameters, in batches (executemany)."""
    for batch in chunks(rows, CHUNK):
        connection.execute(statement, list(batch))


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
