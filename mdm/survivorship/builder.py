"""Build golden values from the member records of each golden record, with lineage.

A golden *cell* is one golden record's attribute, or a group of attributes that survive together
(``[groups]``). Every member with a value in the cell is a candidate. The candidates of all
golden records are stacked into one long frame and sorted once per distinct rule chain: by cell,
the chain's keys, then the lowest ``record_id``; the first row of each cell wins. The total
order makes the result independent of the order of the member rows.

* A ``keep_all`` chain keeps, per cell, every candidate that ties with the first on the rules
  before ``keep_all``, one per match key; the golden value is the JSON array of their values.
* A group's winning record supplies every attribute of the group, its empty ones too.
* A steward pin replaces the value of its cell, whatever the rules chose.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.schema import survived_attribute_names
from mdm.survivorship.arrays import Bools, Ints, Objects, codes, codes_sorted, first_of, pairs, runs
from mdm.survivorship.features import Features
from mdm.survivorship.lineage import Lineage, beaten_lists, json_lists, lineage_frame
from mdm.survivorship.members import Chain, Members, Slot, prepare, slots_of
from mdm.survivorship.pins import apply_pins
from mdm.survivorship.rules import (
    CANDIDATE_COLUMNS,
    DERIVED_COLUMNS,
    TIE_BREAK,
    Rule,
    SortKey,
    compile_rule,
)

_DAY_MICROSECONDS: Final = 86_400_000_000
# Members built at once (``build_golden``): survivorship's arrays hold several times its
# members' values; a golden record's values depend only on its own members and the moment.
PART_MEMBERS: Final = 200_000


@dataclass(frozen=True)
class Golden:
    """Golden values (one row per golden_id, one column per survived attribute) and lineage.

    ``lineage`` has one row per non-NA golden value (one per kept value for ``keep_all``):

    * ``record_id``: the member that gave the value (NA for a steward pin);
    * ``rule``: the first of the chain after which the winner was the only candidate left;
      ``tie_break`` when candidates with different values tie on the whole chain (see
      ``_decide`` for equal values); ``keep_all``; ``steward_pin``;
    * ``candidates``: how many members had a value in the cell (for a group: any of its
      attributes);
    * ``beaten``: a JSON array of the other distinct candidate values, best-ranked first, each
      ``{"value": ..., "record_id": ...}`` with the best-ranked record carrying it, at most
      ``MAX_BEATEN``; for a group the values are the records' group values joined by ", ";
    * ``group_name``: the group the value survived in, NA for an attribute of its own.

    ``now`` is the time trust decay was measured to (None when no time is known).
    """

    values: pd.DataFrame
    lineage: pd.DataFrame
    now: pd.Timestamp | None = None


@dataclass(frozen=True)
class _Candidates:
    """The long frame the rules read, with the arrays the builder works on."""

    frame: pd.DataFrame
    member: Ints  # the member row of each candidate
    slot: Ints
    cell: Ints  # golden position * slots + slot
    record_id: Ints
    value: Objects
    identity: Ints  # equal values, equal codes
    match: Ints  # equal match keys, equal codes (0 where no rule needs match keys)


@dataclass(frozen=True)
class _Winners:
    row: Ints  # position of the winner in the candidate frame
    rule: Objects
    candidates: Ints
    beaten: Objects


def build_golden(
    spec: SurvivorshipSpec,
    members: pd.DataFrame,
    *,
    now: datetime | str | None = None,
    pins: pd.DataFrame | None = None,
) -> Golden:
    """Golden values and lineage of every golden_id in ``members``, by ``spec``'s rule chains.

    ``now``: the time trust decays to (default: the latest last_modified of the members, so a
    result does not depend on when it is computed). ``pins``: steward pins (``PIN_COLUMNS``),
    one per (golden_id, attribute) at most; pins of golden ids not in ``members`` are ignored.

    More than ``PART_MEMBERS`` members are built in parts of whole golden records, by golden
    id: the same result, with a part's arrays in memory at a time.
    """
    if len(members) <= PART_MEMBERS:
        return _build_golden(spec, members, now=now, pins=pins)
    moment = survivorship_now(members, now)  # the one input the parts share
    built = [
        _build_golden(spec, part, now=moment, pins=part_pins)
        for part, part_pins in _parts(members, pins)
    ]
    values = pd.concat([part.values for part in built])
    lineage = pd.concat([part.lineage for part in built], ignore_index=True)
    return Golden(values, lineage, moment)


def _parts(
    members: pd.DataFrame, pins: pd.DataFrame | None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """Members (in their order) and pins of consecutive ranges of golden ids, each range of
    about ``PART_MEMBERS`` members: parts in golden id order give ``build_golden``'s order."""
    golden, ids = pd.factorize(members["golden_id"].astype("string"), sort=True)
    ends = np.cumsum(np.bincount(golden, minlength=len(ids)))
    cuts = np.searchsorted(ends, np.arange(PART_MEMBERS, ends[-1], PART_MEMBERS), side="left")
    bounds = [0, *sorted({int(cut) + 1 for cut in cuts} - {len(ids)}), len(ids)]
    for low, high in itertools.pairwise(bounds):
        part = members.iloc[np.flatnonzero((golden >= low) & (golden < high))]
        if pins is None:
            yield part, None
            continue
        wanted = pins["golden_id"].astype("string").isin(ids[low:high])
        yield part, pins[wanted.to_numpy(dtype=bool)]


def _build_golden(
    spec: SurvivorshipSpec,
    members: pd.DataFrame,
    *,
    now: datetime | str | None = None,
    pins: pd.DataFrame | None = None,
) -> Golden:
    """``build_golden`` of members held at once."""
    attributes = survived_attribute_names(spec.entity)
    slots = slots_of(spec, attributes)
    rules = {name: compile_rule(spec, name) for slot in slots for name in slot.chain}
    needs = _needs(rules.values())
    _check_members(members, attributes, needs)
    prepared = prepare(members, attributes)
    moment = survivorship_now(members, now)
    candidates = _candidates(spec, members, prepared, slots, rules, needs, moment)
    keys = {name: _checked_key(rule, candidates.frame) for name, rule in rules.items()}
    chains: dict[Chain, list[int]] = {}
    for position, slot in enumerate(slots):
        chains.setdefault(slot.chain, []).append(position)
    decided = [
        _decide(chain, np.flatnonzero(np.isin(candidates.slot, positions)), candidates, keys)
        for chain, positions in chains.items()
    ]
    winners = _merge(decided)
    table, lineage = _assemble(prepared, candidates, winners, slots)
    if pins is not None:
        table, lineage = apply_pins(pins, prepared, attributes, table, lineage)
    values = _values(table, prepared.golden_ids, attributes)
    lineage_rows = lineage_frame(lineage, prepared.golden_ids, attributes)
    return Golden(values, lineage_rows, moment)


# ---- inputs --------------------------------------------------------------------------------


def _needs(rules: Iterable[Rule]) -> list[str]:
    return list(dict.fromkeys(column for rule in rules for column in rule.needs))


def _member_needs(needs: Sequence[str]) -> list[str]:
    """The member columns the rules read: carried ones, and last_modified for an age."""
    carried = [c for c in needs if c not in DERIVED_COLUMNS and c not in CANDIDATE_COLUMNS]
    return list(dict.fromkeys([*carried, *(["last_modified"] if "age_days" in needs else [])]))


def _check_members(members: pd.DataFrame, attributes: Sequence[str], needs: Sequence[str]) -> None:
    # The contract between stages, not user input: a programming error, raised plainly.
    required = ["golden_id", "record_id", *attributes, *_member_needs(needs)]
    missing = [column for column in dict.fromkeys(required) if column not in members.columns]
    if missing:
        raise ValueError(f"members lack the columns {', '.join(missing)}")
    if members["golden_id"].isna().any():
        raise ValueError("members have a missing golden_id")
    if members["record_id"].isna().any() or not members["record_id"].is_unique:
        raise ValueError("members' record_id must be present and unique")


def _microseconds(stamps: pd.Series) -> tuple[Ints, Bools]:
    """UTC times as microseconds since the epoch (int64 holds ±290,000 years), and NaT."""
    utc = pd.to_datetime(stamps, utc=True).dt.tz_localize(None)
    unknown = utc.isna().to_numpy()
    ticks = utc.to_numpy().astype("datetime64[us]").view(np.int64)
    return np.where(unknown, 0, ticks), unknown


def survivorship_now(members: pd.DataFrame, now: datetime | str | None) -> pd.Timestamp | None:
    """The moment recency rules measure from: ``now`` in UTC, else the newest member's time (a
    run's members, all of them: an engine that builds golden records in parts fixes it first)."""
    if now is not None:
        stamp = pd.Timestamp(now)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if "last_modified" not in members.columns or members.empty:
        return None
    ticks, unknown = _microseconds(members["last_modified"])
    if unknown.all():
        return None
    return pd.Timestamp(int(ticks[~unknown].max()), unit="us", tz="UTC")


# ---- candidates ----------------------------------------------------------------------------


def _candidates(
    spec: SurvivorshipSpec,
    members: pd.DataFrame,
    prepared: Members,
    slots: Sequence[Slot],
    rules: dict[SurvivorshipRule, Rule],
    needs: Sequence[str],
    now: pd.Timestamp | None,
) -> _Candidates:
    """One row per (member, slot) where the member has a value in the slot."""
    features = Features(spec, prepared, rules)
    member_rows, slot_of, values = [], [], []
    derived: dict[str, list[npt.NDArray[np.generic]]] = {name: [] for name in DERIVED_COLUMNS}
    for position, slot in enumerate(slots):
        rows = np.flatnonzero(prepared.filled[:, list(slot.positions)].any(axis=1))
        member_rows.append(rows)
        slot_of.append(np.full(len(rows), position, dtype=np.int64))
        values.append(_joined(prepared.cells[rows][:, list(slot.positions)], ", "))
        # A lone candidate, or one among candidates of the same value, wins whatever its
        # keys: validity and match keys (the costly features) are computed only where
        # different values compete.
        contested = features.competing(slot, rows) if _costly(needs) else np.zeros(len(rows), bool)
        for name in DERIVED_COLUMNS:
            if name in needs and name != "age_days":
                derived[name].append(features.of(name, slot, rows, contested))
    member = np.concatenate(member_rows).astype(np.int64)
    value = np.concatenate(values).astype(object)
    slot_code = np.concatenate(slot_of)
    cell = prepared.golden_code[member] * len(slots) + slot_code
    carried = [c for c in _member_needs(needs) if c not in ("golden_id", "record_id")]
    frame = members[["golden_id", "record_id", *carried]].iloc[member].reset_index(drop=True)
    names = np.asarray([s.name for s in slots], dtype=object)
    frame["attribute"] = pd.array(names[slot_code], dtype="string")
    frame["value"] = pd.array(value, dtype="string")
    frame["cell"] = cell
    for name, parts in derived.items():
        if parts:
            frame[name] = np.concatenate(parts)
    if "age_days" in needs:
        frame["age_days"] = _age_days(members["last_modified"], now)[member]
    match = codes(frame["match_key"]) if "match_key" in frame else np.zeros(len(frame), np.int64)
    record_id = frame["record_id"].to_numpy(dtype=np.int64)
    identity = codes(frame["value"])
    return _Candidates(frame, member, slot_code, cell, record_id, value, identity, match)


def _costly(needs: Sequence[str]) -> bool:
    return any(name in needs for name in ("valid", "match_key", "personal_mailbox"))


def _joined(parts: Objects, separator: str) -> Objects:
    """Each row's non-empty parts joined by ``separator`` (a single column as it is)."""
    out = parts[:, 0].copy() if parts.shape[1] else np.full(len(parts), "", dtype=object)
    for column in range(1, parts.shape[1]):
        part = parts[:, column]
        both = (out != "") & (part != "")
        out = np.where(both, out + separator, out) + part
    return np.asarray(out, dtype=object)


def _age_days(stamps: pd.Series, now: pd.Timestamp | None) -> npt.NDArray[np.float64]:
    ticks, unknown = _microseconds(stamps)
    if now is None:
        return np.full(len(ticks), np.nan)
    now_ticks = int(now.tz_convert(None).as_unit("us").to_datetime64().astype(np.int64))
    age = (now_ticks - ticks) / _DAY_MICROSECONDS
    return np.where(unknown, np.nan, age)


def _checked_key(rule: Rule, frame: pd.DataFrame) -> SortKey:
    key = rule.sort_key(frame)
    if key.shape != (len(frame),):
        raise ValueError(f"rule {rule.name} gave {key.shape} keys for {len(frame)} candidates")
    if key.dtype.kind == "f" and np.isnan(key).any():
        raise ValueError(f"rule {rule.name} gave a NaN key; NaN would never tie")
    return key


# ---- deciding ------------------------------------------------------------------------------


def _decide(
    chain: Chain, rows: Ints, candidates: _Candidates, keys: dict[SurvivorshipRule, SortKey]
) -> _Winners:
    """The winner of each cell among ``rows`` and the rule that decided it.

    The rule is the first one after which the winner is the only candidate left, found as the
    last rule on which any loser first differs from the winner. Candidates that tie with the
    winner on the whole chain are separated by the lowest record_id; the rule is then
    ``tie_break`` only if one of them carries a different value. If they all carry the winner's
    value the value was not left to chance, so the rule is the last one that narrowed anything
    (the first of the chain if none did, as for a single candidate).
    """
    if chain[-1] is SurvivorshipRule.KEEP_ALL:
        return _keep_all(chain[:-1], rows, candidates, keys)
    order = _sort(chain, rows, candidates, keys)
    starts, sizes = runs(candidates.cell[order])
    winner_of = np.repeat(starts, sizes)
    first_diff = _first_difference([keys[name][order] for name in chain], winner_of)
    tied = first_diff == len(chain)
    identity = candidates.identity[order]
    won = identity == identity[winner_of]
    decided = _deciding_position(tied & ~won, first_diff, tied, starts)
    labels = np.asarray([*(name.value for name in chain), TIE_BREAK], dtype=object)
    beaten = _beaten(candidates, order, starts, sizes, identity, won)
    rule = labels[np.where(decided < 0, len(chain), decided)]
    return _Winners(order[starts], rule, sizes, beaten)


def _keep_all(
    ranking: Chain, rows: Ints, candidates: _Candidates, keys: dict[SurvivorshipRule, SortKey]
) -> _Winners:
    """Per cell: every candidate tied with the first on ``ranking``, one per match key (the
    first in rank order, so the lowest record_id among the tied ones carrying it)."""
    order = _sort(ranking, rows, candidates, keys)
    starts, sizes = runs(candidates.cell[order])
    winner_of = np.repeat(starts, sizes)
    tied = _first_difference([keys[name][order] for name in ranking], winner_of) == len(ranking)
    cell_index = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    match = candidates.match[order]
    kept = tied & first_of(cell_index, match)
    # A candidate whose match key was kept was merged into the kept value, not beaten.
    won = np.isin(pairs(cell_index, match), pairs(cell_index, match)[kept])
    beaten = _beaten(candidates, order, starts, sizes, match, won)
    rule = np.full(int(kept.sum()), SurvivorshipRule.KEEP_ALL.value, dtype=object)
    return _Winners(order[kept], rule, sizes[cell_index[kept]], beaten[cell_index[kept]])


def _sort(
    chain: Chain, rows: Ints, candidates: _Candidates, keys: dict[SurvivorshipRule, SortKey]
) -> Ints:
    """``rows`` by cell, then the chain's keys, then the lowest record_id (unique: total)."""
    chain_keys = [keys[name][rows] for name in chain]
    # lexsort's last key is its primary one.
    sort_keys = (candidates.record_id[rows], *reversed(chain_keys), candidates.cell[rows])
    return rows[np.lexsort(sort_keys)]


def _first_difference(sorted_keys: list[SortKey], winner_of: Ints) -> Ints:
    """Per row: the position of the first rule on which it differs from its cell's winner.

    ``len(sorted_keys)`` for rows that tie with it on every rule, the winner itself included.
    """
    first = np.full(len(winner_of), len(sorted_keys), dtype=np.int64)
    for position in reversed(range(len(sorted_keys))):
        key = sorted_keys[position]
        first[key != key[winner_of]] = position
    return first


def _deciding_position(clash: Bools, first_diff: Ints, tied: Bools, starts: Ints) -> Ints:
    """Per cell: the deciding rule's position in the chain, or -1 for the tie-break.

    A loser that first differs from the winner at rule i was dropped by rule i, so the winner is
    alone after the last such rule (for the runner-up, the closest loser in the sort).
    """
    if not len(starts):
        return starts
    clashed = np.logical_or.reduceat(clash, starts)
    narrowed = np.maximum.reduceat(np.where(tied, -1, first_diff), starts)
    return np.where(clashed, -1, np.maximum(narrowed, 0)).astype(np.int64)


def _beaten(
    candidates: _Candidates, order: Ints, starts: Ints, sizes: Ints, identity: Ints, won: Bools
) -> Objects:
    """Per cell: the JSON array of the distinct values (by ``identity``) that did not win, in
    rank order, each with the best-ranked record carrying it; at most ``MAX_BEATEN``."""
    return beaten_lists(
        starts, sizes, identity, won, candidates.value[order], candidates.record_id[order]
    )


def _merge(decided: list[_Winners]) -> _Winners:
    return _Winners(
        np.concatenate([w.row for w in decided]).astype(np.int64),
        np.concatenate([w.rule for w in decided]).astype(object),
        np.concatenate([w.candidates for w in decided]).astype(np.int64),
        np.concatenate([w.beaten for w in decided]).astype(object),
    )


# ---- output --------------------------------------------------------------------------------


def _assemble(
    prepared: Members, candidates: _Candidates, winners: _Winners, slots: Sequence[Slot]
) -> tuple[Objects, Lineage]:
    """The golden values table (golden position x attribute position) and the lineage rows."""
    table = np.full((len(prepared.golden_ids), prepared.cells.shape[1]), None, dtype=object)
    member = candidates.member[winners.row]
    golden = prepared.golden_code[member]
    slot_of = candidates.slot[winners.row]
    record_id = candidates.record_id[winners.row]
    parts: list[Lineage] = []
    for index, slot in enumerate(slots):
        mine = np.flatnonzero(slot_of == index)
        for position in slot.positions:
            value = prepared.cells[member[mine], position]
            rows = mine
            if slot.grouped:
                # The winning record supplies every attribute of the group, even empty ones.
                table[golden[mine], position] = np.where(value == "", None, value)
                rows, value = mine[value != ""], value[value != ""]
            elif slot.chain[-1] is SurvivorshipRule.KEEP_ALL:
                cells, arrays = _keep_all_arrays(golden[mine], value)
                table[cells, position] = arrays
            else:
                table[golden[mine], position] = value
            parts.append(
                Lineage(
                    golden[rows],
                    np.full(len(rows), position, dtype=np.int64),
                    value,
                    record_id[rows],
                    winners.rule[rows],
                    winners.candidates[rows],
                    winners.beaten[rows],
                    np.full(len(rows), slot.name if slot.grouped else None, dtype=object),
                    np.zeros(len(rows), dtype=bool),
                )
            )
    return table, Lineage.concat(parts)


def _keep_all_arrays(golden: Ints, value: Objects) -> tuple[Ints, Objects]:
    """Per golden record: the JSON array of its kept values, sorted by value."""
    order = np.lexsort((codes_sorted(value), golden))
    starts, sizes = runs(golden[order])
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    return golden[order][starts], json_lists(len(starts), group, value[order], None)


def _values(table: Objects, golden_ids: pd.Index[str], attributes: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(table, index=golden_ids, columns=list(attributes), dtype="string")
