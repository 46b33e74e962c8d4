"""Lineage rows: which record and which rule gave each golden value, and what it beat."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.survivorship.arrays import Bools, Ints, Objects, codes_sorted, first_of, runs

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

# At most this many beaten values are listed per golden value (the best-ranked first).
MAX_BEATEN: Final = 10


@dataclass(frozen=True)
class Lineage:
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
    def concat(cls, parts: Sequence[Lineage]) -> Lineage:
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

    def take(self, rows: Ints | Bools) -> Lineage:
        return Lineage(
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


def lineage_frame(
    lineage: Lineage, golden_ids: pd.Index[str], attributes: Sequence[str]
) -> pd.DataFrame:
    """Lineage by golden_id, attribute in schema order, then value (kept values in order)."""
    rows = lineage.take(_order(lineage))
    record_id = pd.array(rows.record_id, dtype="Int64")
    record_id[rows.pinned] = pd.NA
    return pd.DataFrame(
        {
            "golden_id": _texts(golden_ids).take(rows.g),
            "attribute": _texts(attributes).take(rows.p),
            "value": pd.array(rows.value, dtype="string"),
            "record_id": record_id,
            "rule": pd.array(rows.rule, dtype="string"),
            "candidates": rows.candidates.astype(np.int64),
            "beaten": pd.array(rows.beaten, dtype="string"),
            "group_name": pd.array(rows.group, dtype="string"),
        }
    )


def _texts(names: Sequence[str] | pd.Index[str]) -> pd.api.extensions.ExtensionArray:
    """Names as a string array, to take the rows' names from by position."""
    return pd.array(np.asarray(names, dtype=object), dtype="string")


def _order(lineage: Lineage) -> Ints:
    """Rows by golden position, attribute position, then value. Only the cells of several
    values (``keep_all``) need their values ranked: elsewhere the value breaks no tie."""
    order = np.lexsort((lineage.p, lineage.g))
    g, p = lineage.g[order], lineage.p[order]
    repeated = np.r_[False, (g[1:] == g[:-1]) & (p[1:] == p[:-1])]
    if not repeated.any():
        return order
    several = np.zeros(len(order), dtype=bool)
    several[order[repeated]] = True
    several[order[np.r_[repeated[1:], False]]] = True
    value = np.zeros(len(order), dtype=np.int64)
    value[several] = codes_sorted(lineage.value[several])
    return np.lexsort((value, lineage.p, lineage.g))


def beaten_lists(
    starts: Ints, sizes: Ints, identity: Ints, won: Bools, value: Objects, record_id: Ints
) -> Objects:
    """Per cell: the JSON array of the distinct values (by ``identity``) that did not win, on
    rows already in rank order and grouped by ``starts`` and ``sizes``, each with the
    best-ranked record carrying it; at most ``MAX_BEATEN``."""
    group = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    entry = first_of(group, identity) & ~won
    before: Ints = np.cumsum(entry, dtype=np.int64) - entry
    rank: Ints = before - before[starts][group] if len(starts) else before
    listed = np.flatnonzero(entry & (rank < MAX_BEATEN))
    return json_lists(len(starts), group[listed], value[listed], record_id[listed])


def json_lists(groups: int, group: Ints, value: Objects, record_id: Ints | None) -> Objects:
    """Per group (0..groups-1): a JSON array of its rows (sorted by group), "[]" if none.

    Items are the values, or ``{"value": ..., "record_id": ...}`` objects with ``record_id``.
    """
    text = np.full(groups, "[]", dtype=object)
    if not len(group):
        return text
    found, uniques = pd.factorize(pd.Series(value, dtype=object))
    encoded = np.asarray([json.dumps(str(u), ensure_ascii=False) for u in uniques], dtype=object)
    items = encoded[found]
    if record_id is not None:
        ids = record_id.astype(str).astype(object)
        items = '{"value": ' + items + ', "record_id": ' + ids + "}"
    starts, _ = runs(group)
    lead = np.zeros(len(group), dtype=bool)
    lead[starts] = True
    pieces = np.where(lead, "", ", ").astype(object) + items
    text[group[starts]] = "[" + np.add.reduceat(pieces, starts) + "]"
    return text
