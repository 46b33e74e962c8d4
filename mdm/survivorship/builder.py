"""Build golden values from the member records of each golden record, with lineage.

Every non-empty member value is a candidate. The candidates of all golden records are stacked into
one long frame and sorted once per distinct rule chain: by golden record, attribute, the chain's
keys, then the lowest ``record_id``; the first row of each (golden_id, attribute) group wins.
The total order makes the result independent of the order of the member rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.schema import survived_attribute_names
from mdm.survivorship.rules import TIE_BREAK, Rule, SortKey, compile_rule

Chain = tuple[SurvivorshipRule, ...]
Ints = npt.NDArray[np.int64]

LINEAGE_DTYPES: dict[str, str] = {
    "golden_id": "string",
    "attribute": "string",
    "value": "string",
    "record_id": "int64",
    "rule": "string",
    "candidates": "int64",
}


@dataclass(frozen=True)
class Golden:
    """Golden values (one row per golden_id, one column per survived attribute) and lineage.

    ``lineage`` has one row per non-NA golden value: the winning member ``record_id``, the
    ``rule`` that decided it and how many members had a value (``candidates``). The rule is the
    first of the chain after which the winner was the only candidate left; ``tie_break`` when
    candidates with different values tie on the whole chain (see ``_decide`` for equal values).
    """

    values: pd.DataFrame
    lineage: pd.DataFrame


@dataclass(frozen=True)
class _Candidates:
    """The long frame the rules read, and the group code of each row (golden, then attribute)."""

    frame: pd.DataFrame
    group: Ints
    record_id: Ints
    value: npt.NDArray[np.object_]


@dataclass(frozen=True)
class _Winners:
    row: Ints  # position of the winner in the candidate frame
    rule: npt.NDArray[np.object_]
    candidates: Ints


def build_golden(spec: SurvivorshipSpec, members: pd.DataFrame) -> Golden:
    """Golden values and lineage of every golden_id in ``members``, by ``spec``'s rule chains."""
    attributes = survived_attribute_names(spec.entity)
    chains = _chains(spec, attributes)
    rules = {name: compile_rule(spec, name) for chain in chains for name in chain}
    _check_members(members, attributes, rules.values())
    golden_code, uniques = pd.factorize(members["golden_id"].astype("string"), sort=True)
    golden_ids = pd.Index(np.asarray(uniques, dtype=object), dtype="string", name="golden_id")
    candidates = _candidates(members, golden_code, attributes, rules.values())
    keys = {name: _checked_key(rule, candidates.frame) for name, rule in rules.items()}
    attribute_code = candidates.group % len(attributes)
    decided = [
        _decide(chain, np.flatnonzero(np.isin(attribute_code, positions)), candidates, keys)
        for chain, positions in chains.items()
    ]
    winners = _merge(decided, candidates.group)
    lineage = _lineage(candidates, winners)
    cells = divmod(candidates.group[winners.row], len(attributes))
    return Golden(_values(cells, lineage["value"], golden_ids, attributes), lineage)


def _chains(spec: SurvivorshipSpec, attributes: Sequence[str]) -> dict[Chain, list[int]]:
    """The positions of the attributes sharing each distinct chain: one sort per chain."""
    chains: dict[Chain, list[int]] = {}
    for position, attribute in enumerate(attributes):
        chains.setdefault(tuple(spec.chain(attribute)), []).append(position)
    return chains


def _needs(rules: Iterable[Rule]) -> list[str]:
    return list(dict.fromkeys(column for rule in rules for column in rule.needs))


def _check_members(members: pd.DataFrame, attributes: Sequence[str], rules: Iterable[Rule]) -> None:
    # The contract between stages, not user input: a programming error, raised plainly.
    required = ["golden_id", "record_id", *attributes, *_needs(rules)]
    missing = [column for column in dict.fromkeys(required) if column not in members.columns]
    if missing:
        raise ValueError(f"members lack the columns {', '.join(missing)}")
    if members["golden_id"].isna().any():
        raise ValueError("members have a missing golden_id")
    if members["record_id"].isna().any() or not members["record_id"].is_unique:
        raise ValueError("members' record_id must be present and unique")


def _candidates(
    members: pd.DataFrame, golden_code: Ints, attributes: Sequence[str], rules: Iterable[Rule]
) -> _Candidates:
    """One row per non-empty member value: NA and "" are both empty."""
    cells = members[list(attributes)].astype("string").to_numpy(dtype=object, na_value="")
    row, column = np.nonzero(cells != "")
    row, attribute_code = row.astype(np.int64), column.astype(np.int64)
    value = cells[row, attribute_code]
    carried = [c for c in _needs(rules) if c not in ("golden_id", "record_id")]
    frame = members[["golden_id", "record_id", *carried]].iloc[row].reset_index(drop=True)
    frame["attribute"] = pd.array(np.asarray(attributes, dtype=object)[attribute_code], "string")
    frame["value"] = pd.array(value, dtype="string")
    group = golden_code.astype(np.int64)[row] * len(attributes) + attribute_code
    record_id = frame["record_id"].to_numpy(dtype=np.int64)
    return _Candidates(frame, group, record_id, value)


def _checked_key(rule: Rule, frame: pd.DataFrame) -> SortKey:
    key = rule.sort_key(frame)
    if key.shape != (len(frame),):
        raise ValueError(f"rule {rule.name} gave {key.shape} keys for {len(frame)} candidates")
    if key.dtype.kind == "f" and np.isnan(key).any():
        raise ValueError(f"rule {rule.name} gave a NaN key; NaN would never tie")
    return key


def _decide(
    chain: Chain, rows: Ints, candidates: _Candidates, keys: dict[SurvivorshipRule, SortKey]
) -> _Winners:
    """The winner of each group among ``rows`` and the rule that decided it.

    The rule is the first one after which the winner is the only candidate left, found as the
    last rule on which any loser first differs from the winner. Candidates that tie with the
    winner on the whole chain are separated by the lowest record_id; the rule is then
    ``tie_break`` only if one of them carries a different value. If they all carry the winner's
    value the value was not left to chance, so the rule is the last one that narrowed anything
    (the first of the chain if none did, as for a single candidate).
    """
    order = _sort(chain, rows, candidates, keys)
    starts, sizes = _groups(candidates.group[order])
    winner_of = np.repeat(starts, sizes)
    first_diff = _first_difference([keys[name][order] for name in chain], winner_of)
    tied = first_diff == len(chain)
    value = candidates.value[order]
    clash = tied & (value != value[winner_of])
    decided = _deciding_position(clash, first_diff, tied, starts)
    labels = np.asarray([*(name.value for name in chain), TIE_BREAK], dtype=object)
    return _Winners(order[starts], labels[np.where(decided < 0, len(chain), decided)], sizes)


def _sort(
    chain: Chain, rows: Ints, candidates: _Candidates, keys: dict[SurvivorshipRule, SortKey]
) -> Ints:
    """``rows`` by group, then the chain's keys, then the lowest record_id (unique: total)."""
    chain_keys = [keys[name][rows] for name in chain]
    # lexsort's last key is its primary one.
    sort_keys = (candidates.record_id[rows], *reversed(chain_keys), candidates.group[rows])
    return rows[np.lexsort(sort_keys)]


def _groups(group: Ints) -> tuple[Ints, Ints]:
    """Start and size of each run of equal codes in the sorted ``group``."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    return starts, np.diff(np.r_[starts, len(group)]).astype(np.int64)


def _first_difference(sorted_keys: list[SortKey], winner_of: Ints) -> Ints:
    """Per row: the position of the first rule on which it differs from its group's winner.

    ``len(sorted_keys)`` for rows that tie with it on every rule, the winner itself included.
    """
    first = np.full(len(winner_of), len(sorted_keys), dtype=np.int64)
    for position in reversed(range(len(sorted_keys))):
        key = sorted_keys[position]
        first[key != key[winner_of]] = position
    return first


def _deciding_position(
    clash: npt.NDArray[np.bool_], first_diff: Ints, tied: npt.NDArray[np.bool_], starts: Ints
) -> Ints:
    """Per group: the deciding rule's position in the chain, or -1 for the tie-break.

    A loser that first differs from the winner at rule i was dropped by rule i, so the winner is
    alone after the last such rule (for the runner-up, the closest loser in the sort).
    """
    if not len(starts):
        return starts
    clashed = np.logical_or.reduceat(clash, starts)
    narrowed = np.maximum.reduceat(np.where(tied, -1, first_diff), starts)
    return np.where(clashed, -1, np.maximum(narrowed, 0)).astype(np.int64)


def _merge(decided: list[_Winners], group: Ints) -> _Winners:
    """The winners of every chain, by golden_id then attribute in schema order."""
    row = np.concatenate([w.row for w in decided])
    order = np.argsort(group[row], kind="stable")
    rule = np.concatenate([w.rule for w in decided])
    candidates = np.concatenate([w.candidates for w in decided])
    return _Winners(row[order], rule[order], candidates[order])


def _lineage(candidates: _Candidates, winners: _Winners) -> pd.DataFrame:
    lineage = candidates.frame.iloc[winners.row][["golden_id", "attribute", "value", "record_id"]]
    lineage = lineage.assign(rule=winners.rule, candidates=winners.candidates)
    return lineage.reset_index(drop=True).astype(LINEAGE_DTYPES)


def _values(
    cells: tuple[Ints, Ints],
    value: pd.Series[str],
    golden_ids: pd.Index[str],
    attributes: Sequence[str],
) -> pd.DataFrame:
    """The golden values table: ``value`` at each (golden position, attribute position)."""
    table = np.full((len(golden_ids), len(attributes)), None, dtype=object)
    table[cells] = value.to_numpy(dtype=object)
    return pd.DataFrame(table, index=golden_ids, columns=list(attributes), dtype="string")
