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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.matching.standardize import is_valid, match_values
from mdm.schema import attribute, survived_attribute_names
from mdm.survivorship.rules import (
    CANDIDATE_COLUMNS,
    DERIVED_COLUMNS,
    TIE_BREAK,
    Rule,
    SortKey,
    compile_rule,
)

Chain = tuple[SurvivorshipRule, ...]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Objects = npt.NDArray[np.object_]

LINEAGE_DTYPES: dict[str, str] = {
    "golden_id": "string",
    "attribute": "string",
    "value": "string",
    "record_id": "Int64",  # NA only for a steward pin: no record gave the value
    "rule": "string",
    "candidates": "int64",
    "beaten": "string",
    "group_name": "string",
}

# The rule named in lineage for a value a steward pinned.
STEWARD_PIN: Final = "steward_pin"
# At most this many beaten values are listed per golden value (the best-ranked first).
MAX_BEATEN: Final = 10
# The columns of the pins table; pinned_by and pinned_at may come along and are not read.
PIN_COLUMNS: Final = ("golden_id", "attribute", "value")
# Phones in cleaned form are E.164 when they could be parsed; the rest are judged as US numbers.
DEFAULT_REGION: Final = "US"
_DAY_MICROSECONDS: Final = 86_400_000_000


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
class _Slot:
    """An attribute with its own chain, or a group of attributes ranked as one."""

    name: str
    positions: tuple[int, ...]  # of the attributes, in schema order
    chain: Chain
    grouped: bool


@dataclass(frozen=True)
class _Members:
    golden_code: Ints
    golden_ids: pd.Index[str]
    record_id: Ints
    cells: Objects  # (members, attributes) cleaned values, "" where empty
    filled: npt.NDArray[np.bool_]  # cells != ""


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
    """
    attributes = survived_attribute_names(spec.entity)
    slots = _slots(spec, attributes)
    rules = {name: compile_rule(spec, name) for slot in slots for name in slot.chain}
    needs = _needs(rules.values())
    _check_members(members, attributes, needs)
    prepared = _prepare(members, attributes)
    moment = _now(members, now)
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
        table, lineage = _pin(pins, prepared, attributes, table, lineage)
    values = _values(table, prepared.golden_ids, attributes)
    return Golden(values, _finish(lineage, prepared, attributes), moment)


# ---- inputs --------------------------------------------------------------------------------


def _slots(spec: SurvivorshipSpec, attributes: Sequence[str]) -> list[_Slot]:
    """One slot per ungrouped attribute and per group, in the order of their first attribute."""
    slots: list[_Slot] = []
    seen: set[str] = set()
    for position, name in enumerate(attributes):
        group = spec.group_of(name)
        if group is None:
            slots.append(_Slot(name, (position,), tuple(spec.chain(name)), grouped=False))
        elif group not in seen:
            seen.add(group)
            members = spec.groups[group].attributes
            positions = tuple(sorted(attributes.index(member) for member in members))
            slots.append(_Slot(group, positions, tuple(spec.chain(group)), grouped=True))
    return slots


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


def _prepare(members: pd.DataFrame, attributes: Sequence[str]) -> _Members:
    golden_code, uniques = pd.factorize(members["golden_id"].astype("string"), sort=True)
    golden_ids = pd.Index(np.asarray(uniques, dtype=object), dtype="string", name="golden_id")
    cells = members[list(attributes)].astype("string").to_numpy(dtype=object, na_value="")
    record_id = members["record_id"].to_numpy(dtype=np.int64)
    return _Members(golden_code.astype(np.int64), golden_ids, record_id, cells, cells != "")


def _microseconds(stamps: pd.Series) -> tuple[Ints, Bools]:
    """UTC times as microseconds since the epoch (int64 holds ±290,000 years), and NaT."""
    utc = pd.to_datetime(stamps, utc=True).dt.tz_localize(None)
    unknown = utc.isna().to_numpy()
    ticks = utc.to_numpy().astype("datetime64[us]").view(np.int64)
    return np.where(unknown, 0, ticks), unknown


def _now(members: pd.DataFrame, now: datetime | str | None) -> pd.Timestamp | None:
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
    prepared: _Members,
    slots: Sequence[_Slot],
    rules: dict[SurvivorshipRule, Rule],
    needs: Sequence[str],
    now: pd.Timestamp | None,
) -> _Candidates:
    """One row per (member, slot) where the member has a value in the slot."""
    features = _Features(spec, prepared, rules)
    member_rows, slot_of, values = [], [], []
    derived: dict[str, list[npt.NDArray[np.generic]]] = {name: [] for name in DERIVED_COLUMNS}
    for position, slot in enumerate(slots):
        rows = np.flatnonzero(prepared.filled[:, list(slot.positions)].any(axis=1))
        member_rows.append(rows)
        slot_of.append(np.full(len(rows), position, dtype=np.int64))
        values.append(_joined(prepared.cells[rows][:, list(slot.positions)], ", "))
        # A lone candidate wins whatever its keys: validity and match keys (the costly
        # features) are computed only where candidates compete.
        golden = prepared.golden_code[rows]
        contested = np.bincount(golden, minlength=len(prepared.golden_ids))[golden] >= 2
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
    match = _codes(frame["match_key"]) if "match_key" in frame else np.zeros(len(frame), np.int64)
    record_id = frame["record_id"].to_numpy(dtype=np.int64)
    identity = _codes(frame["value"])
    return _Candidates(frame, member, slot_code, cell, record_id, value, identity, match)


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


class _Features:
    """The derived columns of one slot's candidates. Validity and match keys are computed only
    for slots whose chain reads them and only for competing candidates; elsewhere a placeholder
    stands in (those keys are computed but never decide anything)."""

    def __init__(
        self, spec: SurvivorshipSpec, prepared: _Members, rules: dict[SurvivorshipRule, Rule]
    ) -> None:
        self.spec = spec
        self.prepared = prepared
        self.rules = rules
        self.kinds = [
            attribute(spec.entity, name).kind for name in survived_attribute_names(spec.entity)
        ]
        self.record_filled = prepared.filled.sum(axis=1).astype(np.int64)

    def of(self, name: str, slot: _Slot, rows: Ints, contested: Bools) -> npt.NDArray[np.generic]:
        positions = list(slot.positions)
        if name == "filled":
            if slot.grouped:
                filled = self.prepared.filled[rows][:, positions].sum(axis=1)
                return np.asarray(filled, dtype=np.int64)
            return np.asarray(self.record_filled[rows], dtype=np.int64)
        reads = any(name in self.rules[rule].needs for rule in slot.chain)
        picked = rows[contested] if reads else rows[:0]
        if name == "valid":
            valid = np.ones(len(rows), dtype=bool)
            if len(picked):
                parts = np.column_stack([self._valid(p, picked) for p in positions])
                empty = ~self.prepared.filled[picked][:, positions]
                valid[contested] = (parts | empty).all(axis=1)
            return valid
        keys = np.full(len(rows), "", dtype=object)  # match_key
        if len(picked):
            columns = np.column_stack([self._keys(p, picked) for p in positions]).astype(object)
            joined = columns[:, 0] if len(positions) == 1 else _joined_all(columns, "\x1f")
            keys[contested] = joined
        return keys

    def _present(self, position: int, rows: Ints) -> tuple[pd.Series, Bools]:
        filled = self.prepared.filled[rows, position]
        values = pd.Series(self.prepared.cells[rows[filled], position], dtype="string")
        return values, filled

    def _valid(self, position: int, rows: Ints) -> Bools:
        values, filled = self._present(position, rows)
        valid = np.zeros(len(rows), dtype=bool)
        valid[filled] = is_valid(self.kinds[position], values, DEFAULT_REGION).to_numpy(bool)
        return valid

    def _keys(self, position: int, rows: Ints) -> Objects:
        """Match keys; where none can be made, the cleaned value, marked so it cannot equal a
        key (a match key never holds a control character); "" where empty."""
        values, filled = self._present(position, rows)
        keys = match_values(self.kinds[position], values, DEFAULT_REGION)
        column = np.full(len(rows), "", dtype=object)
        column[filled] = keys.fillna("\x00" + values).to_numpy(dtype=object)
        return column


def _joined_all(parts: Objects, separator: str) -> Objects:
    """Every part joined by ``separator``, empty ones too (so positions stay apart)."""
    out = parts[:, 0].copy()
    for column in range(1, parts.shape[1]):
        out = out + separator + parts[:, column]
    return np.asarray(out, dtype=object)


def _codes(values: pd.Series) -> Ints:
    codes, _ = pd.factorize(values.astype(object), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


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
    starts, sizes = _groups(candidates.cell[order])
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
    starts, sizes = _groups(candidates.cell[order])
    winner_of = np.repeat(starts, sizes)
    tied = _first_difference([keys[name][order] for name in ranking], winner_of) == len(ranking)
    cell_index = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    match = candidates.match[order]
    kept = tied & _first_of(cell_index, match)
    # A candidate whose match key was kept was merged into the kept value, not beaten.
    won = np.isin(_pairs(cell_index, match), _pairs(cell_index, match)[kept])
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


def _groups(group: Ints) -> tuple[Ints, Ints]:
    """Start and size of each run of equal codes in the sorted ``group``."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    return starts.astype(np.int64), np.diff(np.r_[starts, len(group)]).astype(np.int64)


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


def _pairs(group: Ints, code: Ints) -> Ints:
    return group * (int(code.max(initial=0)) + 1) + code


def _first_of(group: Ints, code: Ints) -> Bools:
    """Whether each row is the first of its (group, code) pair."""
    first = np.zeros(len(group), dtype=bool)
    first[np.unique(_pairs(group, code), return_index=True)[1]] = True
    return first


def _beaten(
    candidates: _Candidates, order: Ints, starts: Ints, sizes: Ints, identity: Ints, won: Bools
) -> Objects:
    """Per cell: the JSON array of the distinct values (by ``identity``) that did not win, in
    rank order, each with the best-ranked record carrying it; at most ``MAX_BEATEN``."""
    return _beaten_lists(
        starts, sizes, identity, won, candidates.value[order], candidates.record_id[order]
    )


def _beaten_lists(
    starts: Ints, sizes: Ints, identity: Ints, won: Bools, value: Objects, record_id: Ints
) -> Objects:
    """``_beaten`` on rows already in rank order, grouped by ``starts`` and ``sizes``."""
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    entry = _first_of(group, identity) & ~won
    before: Ints = np.cumsum(entry, dtype=np.int64) - entry
    rank: Ints = before - before[starts][group] if len(starts) else before
    listed = np.flatnonzero(entry & (rank < MAX_BEATEN))
    return _json_lists(len(starts), group[listed], value[listed], record_id[listed])


def _json_lists(groups: int, group: Ints, value: Objects, record_id: Ints | None) -> Objects:
    """Per group (0..groups-1): a JSON array of its rows (sorted by group), "[]" if none.

    Items are the values, or ``{"value": ..., "record_id": ...}`` objects with ``record_id``.
    """
    text = np.full(groups, "[]", dtype=object)
    if not len(group):
        return text
    codes, uniques = pd.factorize(pd.Series(value, dtype=object))
    encoded = np.asarray([json.dumps(str(u), ensure_ascii=False) for u in uniques], dtype=object)
    items = encoded[codes]
    if record_id is not None:
        ids = record_id.astype(str).astype(object)
        items = '{"value": ' + items + ', "record_id": ' + ids + "}"
    starts, _ = _groups(group)
    lead = np.zeros(len(group), dtype=bool)
    lead[starts] = True
    pieces = np.where(lead, "", ", ").astype(object) + items
    text[group[starts]] = "[" + np.add.reduceat(pieces, starts) + "]"
    return text


def _merge(decided: list[_Winners]) -> _Winners:
    return _Winners(
        np.concatenate([w.row for w in decided]).astype(np.int64),
        np.concatenate([w.rule for w in decided]).astype(object),
        np.concatenate([w.candidates for w in decided]).astype(np.int64),
        np.concatenate([w.beaten for w in decided]).astype(object),
    )


# ---- output --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lineage:
    """Lineage rows as arrays: golden position ``g`` and attribute position ``p``, unsorted.
    ``record_id`` is meaningless where ``pinned``; ``group`` is None for an attribute of its
    own."""

    g: Ints
    p: Ints
    value: Objects
    record_id: Ints
    rule: Objects
    candidates: Ints
    beaten: Objects
    group: Objects
    pinned: Bools

    @classmethod
    def concat(cls, parts: Sequence[_Lineage]) -> _Lineage:
        def joined(name: str) -> npt.NDArray[Any]:
            return np.concatenate([getattr(part, name) for part in parts])

        return cls(
            joined("g"),
            joined("p"),
            joined("value"),
            joined("record_id"),
            joined("rule"),
            joined("candidates"),
            joined("beaten"),
            joined("group"),
            joined("pinned"),
        )

    def take(self, rows: Ints | Bools) -> _Lineage:
        return _Lineage(
            self.g[rows],
            self.p[rows],
            self.value[rows],
            self.record_id[rows],
            self.rule[rows],
            self.candidates[rows],
            self.beaten[rows],
            self.group[rows],
            self.pinned[rows],
        )


def _assemble(
    prepared: _Members, candidates: _Candidates, winners: _Winners, slots: Sequence[_Slot]
) -> tuple[Objects, _Lineage]:
    """The golden values table (golden position x attribute position) and the lineage rows."""
    table = np.full((len(prepared.golden_ids), prepared.cells.shape[1]), None, dtype=object)
    member = candidates.member[winners.row]
    golden = prepared.golden_code[member]
    slot_of = candidates.slot[winners.row]
    record_id = candidates.record_id[winners.row]
    parts: list[_Lineage] = []
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
                _Lineage(
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
    return table, _Lineage.concat(parts)


def _keep_all_arrays(golden: Ints, value: Objects) -> tuple[Ints, Objects]:
    """Per golden record: the JSON array of its kept values, sorted by value."""
    order = np.lexsort((_codes_sorted(value), golden))
    starts, sizes = _groups(golden[order])
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    return golden[order][starts], _json_lists(len(starts), group, value[order], None)


def _codes_sorted(values: Objects) -> Ints:
    """Codes that order like the values (Python string order)."""
    codes, _ = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64)


def _pin(
    pins: pd.DataFrame,
    prepared: _Members,
    attributes: Sequence[str],
    table: Objects,
    lineage: _Lineage,
) -> tuple[Objects, _Lineage]:
    """Pinned values replace the rules' choice; their lineage names no record."""
    missing = [column for column in PIN_COLUMNS if column not in pins.columns]
    if missing:
        raise ValueError(f"pins lack the columns {', '.join(missing)}")
    unknown = sorted(set(pins["attribute"].astype(str)) - set(attributes))
    if unknown:
        raise ValueError(f"pins name attributes that are not survived: {', '.join(unknown)}")
    value = pins["value"].astype("string")
    if (value.isna() | (value == "")).any():
        raise ValueError("a pin needs a value; unpin to return an attribute to its rules")
    if pins.duplicated(["golden_id", "attribute"]).any():
        raise ValueError("pins must name each (golden_id, attribute) at most once")
    golden = prepared.golden_ids.get_indexer(pd.Index(pins["golden_id"].astype("string")))
    known = golden >= 0  # pins of golden records not built here are not ours to apply
    golden = golden[known].astype(np.int64)
    position = pd.Index(attributes).get_indexer(pd.Index(pins["attribute"].astype(str)))
    position = position[known].astype(np.int64)
    pinned_value = value.to_numpy(dtype=object)[known]
    width = len(attributes)
    pinned = golden * width + position
    counts, beaten = _pin_candidates(prepared, pinned, pinned_value, width)
    table[golden, position] = pinned_value
    pin_rows = _Lineage(
        golden,
        position,
        pinned_value,
        np.zeros(len(golden), dtype=np.int64),
        np.full(len(golden), STEWARD_PIN, dtype=object),
        counts,
        beaten,
        np.full(len(golden), None, dtype=object),
        np.ones(len(golden), dtype=bool),
    )
    overridden = np.isin(lineage.g * width + lineage.p, pinned)
    return table, _Lineage.concat([lineage.take(~overridden), pin_rows])


def _pin_candidates(
    prepared: _Members, pinned: Ints, pinned_value: Objects, width: int
) -> tuple[Ints, Objects]:
    """Per pin: how many members have a value for its attribute, and the JSON array of their
    distinct values other than the pinned one (lowest record_id first: no chain ranks them)."""
    member, position = np.nonzero(prepared.filled)
    code = prepared.golden_code[member] * width + position
    pin = pd.Index(pinned).get_indexer(pd.Index(code))
    hit = pin >= 0
    member, position, pin = member[hit], position[hit], pin[hit].astype(np.int64)
    record_id = prepared.record_id[member]
    order = np.lexsort((record_id, pin))
    member, position, pin, record_id = member[order], position[order], pin[order], record_id[order]
    value = prepared.cells[member, position]
    counts = np.bincount(pin, minlength=len(pinned)).astype(np.int64)
    starts, sizes = _groups(pin)
    won = value == pinned_value[pin]
    identity = _codes_sorted(value)
    beaten = np.full(len(pinned), "[]", dtype=object)
    beaten[pin[starts]] = _beaten_lists(starts, sizes, identity, won, value, record_id)
    return counts, beaten


def _values(table: Objects, golden_ids: pd.Index[str], attributes: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(table, index=golden_ids, columns=list(attributes), dtype="string")


def _finish(lineage: _Lineage, prepared: _Members, attributes: Sequence[str]) -> pd.DataFrame:
    """Lineage by golden_id, attribute in schema order, then value (kept values in order)."""
    order = np.lexsort((_codes_sorted(lineage.value), lineage.p, lineage.g))
    rows = lineage.take(order)
    golden_ids = np.asarray(prepared.golden_ids, dtype=object)
    record_id = pd.array(rows.record_id, dtype="Int64")
    record_id[rows.pinned] = pd.NA
    return pd.DataFrame(
        {
            "golden_id": pd.array(golden_ids[rows.g], dtype="string"),
            "attribute": pd.array(np.asarray(attributes, dtype=object)[rows.p], dtype="string"),
            "value": pd.array(rows.value, dtype="string"),
            "record_id": record_id,
            "rule": pd.array(rows.rule, dtype="string"),
            "candidates": rows.candidates.astype(np.int64),
            "beaten": pd.array(rows.beaten, dtype="string"),
            "group_name": pd.array(rows.group, dtype="string"),
        }
    )
