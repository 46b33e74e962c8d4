"""Steward pins: a pinned value replaces the rules' choice for its cell, with lineage that names
no record and lists the members' other values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from mdm.survivorship.arrays import Ints, Objects, codes_sorted, runs
from mdm.survivorship.lineage import Lineage, beaten_lists
from mdm.survivorship.members import Members

# The rule named in lineage for a value a steward pinned.
STEWARD_PIN: Final = "steward_pin"
# The columns of the pins table; pinned_by and pinned_at may come along and are not read.
PIN_COLUMNS: Final = ("golden_id", "attribute", "value")


def apply_pins(
    pins: pd.DataFrame,
    prepared: Members,
    attributes: Sequence[str],
    table: Objects,
    lineage: Lineage,
) -> tuple[Objects, Lineage]:
    """Pinned values replace the rules' choice; their lineage names no record."""
    _check_pins(pins, attributes)
    value = pins["value"].astype("string")
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
    pin_rows = Lineage(
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
    return table, Lineage.concat([lineage.take(~overridden), pin_rows])


def _check_pins(pins: pd.DataFrame, attributes: Sequence[str]) -> None:
    # The contract between stages, not user input: a programming error, raised plainly.
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


def _pin_candidates(
    prepared: Members, pinned: Ints, pinned_value: Objects, width: int
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
    starts, sizes = runs(pin)
    won = value == pinned_value[pin]
    identity = codes_sorted(value)
    beaten = np.full(len(pinned), "[]", dtype=object)
    beaten[pin[starts]] = beaten_lists(starts, sizes, identity, won, value, record_id)
    return counts, beaten
