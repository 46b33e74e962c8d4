"""What a source must change to agree with the master: pure functions from plain frames to the
rows of its feed.

A source's *published state* is what it is taken to hold after every change published to it:
per record, the golden id it was told and its values (read from the record's version, with the
published updates applied). A publish compares the master now with that state:

* ``xref`` rows: a record's golden id, when it is new to the feed (``new``), when its golden
  record merged into another (``merged``, the survivor as ``golden_id``), split (``split``,
  the ids it split into as ``other_ids``) or the record moved (``changed``), and when the
  record left the master (``retired``);
* ``update`` rows: a golden value the record does not hold, with the value it holds and the
  golden value's lineage; never a value that came from the source's own system, never an empty
  golden value (a master without a value does not erase a source's);
* ``create`` rows: a golden contact the source never held, under a golden account it holds, one
  row per value.

When the source sends a record again (a new version), each value it changed is what it holds
now; the values it did not change stay as published (it applied the updates, or will).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from mdm.schema import Entity

# The columns of a feed row, in the order files and tables show them.
FEED_COLUMNS: Final = (
    "source",
    "seq",
    "batch",
    "change",
    "action",
    "entity",
    "source_key",
    "golden_id",
    "previous_id",
    "other_ids",
    "account_key",
    "attribute",
    "value",
    "old_value",
    "lineage_source",
    "lineage_key",
    "lineage_rule",
    "lineage_run",
    "lineage_modified",
)
LINEAGE_COLUMNS: Final = (
    "lineage_source",
    "lineage_key",
    "lineage_rule",
    "lineage_run",
    "lineage_modified",
)
# A golden value's lineage as ``value_lineage`` gives it: one row per golden id and attribute.
LINEAGE_FRAME_COLUMNS: Final = ("golden_id", "attribute", "lineage_system", *LINEAGE_COLUMNS)
STATE_COLUMNS: Final = ("source_key", "golden_id", "record_id", "held")


@dataclass(frozen=True)
class FeedSource:
    """A source as its feed sees it."""

    name: str
    system: str
    entity: Entity
    attributes: tuple[str, ...]  # the golden attributes the source holds (its mapping's)
    # The account source of the same system, whose accounts this contact source holds: new
    # golden contacts of those accounts are sent to it to create. None: no creates.
    account_source: str | None
    region: str  # the default phone region of its values


@dataclass(frozen=True)
class Moves:
    """Where golden ids went since the source's last batch: one redirect step per merged-away
    id, the ids each split origin minted, the ids revived (a record split out of the golden
    record it had been merged into goes back to its own), and which origins are still active."""

    redirects: Mapping[str, str]
    splits: Mapping[str, Sequence[str]]  # origin -> the ids it minted
    revived: frozenset[str]
    active: frozenset[str]


@dataclass(frozen=True)
class Changes:
    """One publish's new feed rows (``FEED_COLUMNS`` but source, seq and batch) and the
    published state after them."""

    rows: pd.DataFrame
    state: pd.DataFrame  # STATE_COLUMNS: the rows that are new or changed
    gone: list[str]  # source keys whose state row is deleted
    created: pd.DataFrame  # golden_id, account_key: the contacts asked to be created


# ---- held values ---------------------------------------------------------------------------


def held_values(
    records: pd.DataFrame, state: pd.DataFrame, forms: pd.DataFrame, attributes: Sequence[str]
) -> pd.DataFrame:
    """What each record holds, by source key: its published values; where the source sent a
    new version since, the new version's value of each attribute it changed; a record never
    published holds its version's values. ``forms``: display forms by record id, of every
    version ``records_to_read`` names."""
    told = {
        key: (int(record_id), held)
        for key, record_id, held in zip(
            state["source_key"], state["record_id"], state["held"], strict=True
        )
    }
    known = forms.reindex(columns=list(attributes)).astype(object)
    known = known.where(known.notna(), None)
    by_id = {int(i): row for i, row in zip(known.index, known.to_numpy().tolist(), strict=True)}
    blank = [None] * len(attributes)
    values = []
    for key, record_id in zip(records["source_key"], records["record_id"], strict=True):
        now = by_id.get(int(record_id), blank)
        if key not in told:
            values.append(now)
            continue
        published_id, text = told[key]
        published = json.loads(text)
        held = [published.get(name) for name in attributes]
        if published_id != int(record_id):
            before = by_id.get(published_id)
            changed = range(len(attributes)) if before is None else _changed(before, now)
            for position in changed:
                held[position] = now[position]
        values.append(held)
    keys = pd.Index(records["source_key"].astype(str).tolist(), name="source_key")
    return pd.DataFrame(values, index=keys, columns=list(attributes), dtype=object)


def _changed(before: Sequence[object], after: Sequence[object]) -> list[int]:
    return [i for i, (old, new) in enumerate(zip(before, after, strict=True)) if old != new]


def records_to_read(records: pd.DataFrame, state: pd.DataFrame) -> list[int]:
    """The record versions whose display forms ``held_values`` needs: each record's version
    not yet published, and the version its values were published for."""
    known = dict(zip(state["source_key"], state["record_id"].astype("int64"), strict=True))
    needed = set()
    for key, record_id in zip(records["source_key"], records["record_id"], strict=True):
        published = known.get(key)
        if published != int(record_id):
            needed.add(int(record_id))
            if published is not None:
                needed.add(int(published))
    return sorted(needed)


# ---- updates --------------------------------------------------------------------------------


def value_differences(
    records: pd.DataFrame, held: pd.DataFrame, golden: pd.DataFrame, attributes: Sequence[str]
) -> pd.DataFrame:
    """source_key, golden_id, attribute, value, old_value: each golden value (not empty) that
    differs from what the record holds, by source key and attribute order."""
    if records.empty or not attributes:
        return _empty(["source_key", "golden_id", "attribute", "value", "old_value"])
    keys = records["source_key"].astype(str)
    wanted = golden.reindex(records["golden_id"].astype(str).tolist()).reindex(
        columns=list(attributes)
    )
    wanted.index = pd.Index(keys.tolist(), name="source_key")
    holding = held.reindex(index=wanted.index, columns=list(attributes))
    golden_ids = dict(zip(keys, records["golden_id"].astype(str), strict=True))
    rows = []
    for position, name in enumerate(attributes):
        new = wanted.iloc[:, position].astype(object)
        old = holding.iloc[:, position].astype(object)
        new = new.where(new.notna(), None)
        old = old.where(old.notna(), None)
        differs = new.notna() & (old.isna() | (new.astype(str) != old.astype(str)))
        for key in new.index[differs.to_numpy()]:
            rows.append((key, golden_ids[key], name, str(new[key]), _text(old[key])))
    frame = pd.DataFrame(
        rows, columns=["source_key", "golden_id", "attribute", "value", "old_value"]
    )
    order = {name: position for position, name in enumerate(attributes)}
    frame["_order"] = frame["attribute"].map(order)
    return frame.sort_values(["source_key", "_order"], kind="stable", ignore_index=True).drop(
        columns="_order"
    )


def update_rows(differences: pd.DataFrame, lineage: pd.DataFrame, system: str) -> pd.DataFrame:
    """The differences worth sending, with their lineage: not those whose golden value came
    from ``system`` (the source's own system caused them; it holds them already)."""
    with_lineage = differences.merge(
        lineage[list(LINEAGE_FRAME_COLUMNS)], on=["golden_id", "attribute"], how="left"
    )
    own = with_lineage["lineage_system"].astype(object).eq(system).to_numpy()
    kept = with_lineage.loc[~own].drop(columns="lineage_system").reset_index(drop=True)
    kept.insert(0, "change", "update")
    kept.insert(1, "action", "update")
    return kept


def sent_values(held: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """``held`` with the updates applied: what the source holds once it applies them."""
    after = held.astype(object).copy()
    for key, name, value in zip(
        updates["source_key"], updates["attribute"], updates["value"], strict=True
    ):
        after.at[key, name] = value
    return after


# ---- xref ---------------------------------------------------------------------------------


def xref_rows(records: pd.DataFrame, state: pd.DataFrame, moves: Moves) -> pd.DataFrame:
    """source_key, golden_id, action, previous_id, other_ids: each record whose golden id the
    source has not been told, and each record gone from the master, by source key."""
    told = dict(zip(state["source_key"], state["golden_id"], strict=True))
    rows: list[tuple[str, str, str, str | None, str | None]] = []
    for key, golden_id in zip(records["source_key"], records["golden_id"], strict=True):
        previous = told.pop(key, None)
        if previous is None:
            rows.append((key, golden_id, "new", None, None))
        elif previous != golden_id:
            action, others = _move(previous, golden_id, moves)
            rows.append((key, golden_id, action, previous, others))
    rows += [(key, previous, "retired", None, None) for key, previous in told.items()]
    frame = pd.DataFrame(
        rows, columns=["source_key", "golden_id", "action", "previous_id", "other_ids"]
    )
    frame = frame.sort_values("source_key", kind="stable", ignore_index=True)
    frame.insert(0, "change", "xref")
    return frame


def _move(previous: str, golden_id: str, moves: Moves) -> tuple[str, str | None]:
    """How a record came from ``previous`` to ``golden_id``: its golden record merged into
    ``golden_id``; split (``previous`` lives on, the record is in an id the split minted or
    revived: with every id it split into); or the record moved."""
    seen, current = {previous}, previous
    while current in moves.redirects:
        current = moves.redirects[current]
        if current == golden_id:
            return "merged", None
        if current in seen:
            break
        seen.add(current)
    minted = set(moves.splits.get(previous, ()))
    if golden_id in minted or (golden_id in moves.revived and previous in moves.active):
        ids = minted | {golden_id} | ({previous} if previous in moves.active else set())
        return "split", json.dumps(sorted(ids))
    return "changed", None


# ---- creates ------------------------------------------------------------------------------


def create_rows(
    candidates: pd.DataFrame,
    golden: pd.DataFrame,
    lineage: pd.DataFrame,
    attributes: Sequence[str],
) -> pd.DataFrame:
    """One row per value of each golden contact to create (``candidates``: golden_id and the
    account's key in the source), by golden id and attribute order, with lineage."""
    rows = []
    for golden_id, account_key in zip(
        candidates["golden_id"], candidates["account_key"], strict=True
    ):
        values = golden.loc[golden_id] if golden_id in golden.index else None
        for name in attributes:
            value = None if values is None else values.get(name)
            if value is not None and not pd.isna(value):
                rows.append((golden_id, account_key, name, str(value)))
    frame = pd.DataFrame(rows, columns=["golden_id", "account_key", "attribute", "value"])
    frame = frame.merge(
        lineage[list(LINEAGE_FRAME_COLUMNS)], on=["golden_id", "attribute"], how="left"
    ).drop(columns="lineage_system")
    frame.insert(0, "change", "create")
    frame.insert(1, "action", "create")
    return frame


# ---- the whole --------------------------------------------------------------------------------


def feed_changes(
    source: FeedSource,
    records: pd.DataFrame,
    state: pd.DataFrame,
    held: pd.DataFrame,
    updates: pd.DataFrame,
    moves: Moves,
    creates: pd.DataFrame,
) -> Changes:
    """The rows of one publish, in feed order (each record's xref row, then its updates, by
    source key; then the creates), and the state they leave."""
    xref = xref_rows(records, state, moves)
    rows = pd.concat(
        [
            frame.assign(_section=section, _position=range(len(frame)))
            for section, frame in ((0, xref), (1, updates), (2, creates))
            if not frame.empty
        ]
        or [_empty([])],
        ignore_index=True,
    )
    if not rows.empty:
        if "source_key" not in rows.columns:  # only creates: records this source lacks
            rows["source_key"] = None
        rows["_key"] = rows["source_key"].where(rows["_section"] < 2, "")
        rows["_record_part"] = rows["_section"].clip(upper=1)
        rows["_block"] = (rows["_section"] == 2).astype(int)
        rows = rows.sort_values(
            ["_block", "_key", "_record_part", "_position"], kind="stable", ignore_index=True
        )
    rows = rows.reindex(columns=[c for c in FEED_COLUMNS if c not in ("source", "seq", "batch")])
    rows["entity"] = str(source.entity)
    new_state, gone = _state_after(records, state, sent_values(held, updates))
    return Changes(
        rows=rows.astype(object).where(rows.notna(), None),
        state=new_state,
        gone=gone,
        created=creates[["golden_id", "account_key"]].drop_duplicates(ignore_index=True)
        if not creates.empty
        else _empty(["golden_id", "account_key"]),
    )


def _state_after(
    records: pd.DataFrame, state: pd.DataFrame, held: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """The state rows that change (new or different), and the keys of records gone."""
    columns = list(held.columns)
    values = held.astype(object).where(held.notna(), None).to_numpy().tolist()
    texts = {
        key: json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
        for key, row in zip(held.index, values, strict=True)
    }
    before = {
        key: (golden_id, int(record_id), text)
        for key, golden_id, record_id, text in zip(
            state["source_key"], state["golden_id"], state["record_id"], state["held"], strict=True
        )
    }
    rows = []
    for key, golden_id, record_id in zip(
        records["source_key"], records["golden_id"], records["record_id"], strict=True
    ):
        after = (str(golden_id), int(record_id), texts[key])
        if before.pop(key, None) != after:
            rows.append((key, *after))
    return pd.DataFrame(rows, columns=list(STATE_COLUMNS)), sorted(before)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    return str(value)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
