"""The builder's inputs as arrays: the member records' cells and the slots they compete in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.survivorship.arrays import Ints, Objects

Chain = tuple[SurvivorshipRule, ...]


@dataclass(frozen=True)
class Slot:
    """An attribute with its own chain, or a group of attributes ranked as one."""

    name: str
    positions: tuple[int, ...]  # of the attributes, in schema order
    chain: Chain
    grouped: bool


@dataclass(frozen=True)
class Members:
    golden_code: Ints
    golden_ids: pd.Index[str]
    record_id: Ints
    cells: Objects  # (members, attributes) cleaned values, "" where empty
    filled: npt.NDArray[np.bool_]  # cells != ""


def slots_of(spec: SurvivorshipSpec, attributes: Sequence[str]) -> list[Slot]:
    """One slot per ungrouped attribute and per group, in the order of their first attribute."""
    slots: list[Slot] = []
    seen: set[str] = set()
    for position, name in enumerate(attributes):
        group = spec.group_of(name)
        if group is None:
            slots.append(Slot(name, (position,), tuple(spec.chain(name)), grouped=False))
        elif group not in seen:
            seen.add(group)
            members = spec.groups[group].attributes
            positions = tuple(sorted(attributes.index(member) for member in members))
            slots.append(Slot(group, positions, tuple(spec.chain(group)), grouped=True))
    return slots


def prepare(members: pd.DataFrame, attributes: Sequence[str]) -> Members:
    golden_code, uniques = pd.factorize(members["golden_id"].astype("string"), sort=True)
    golden_ids = pd.Index(np.asarray(uniques, dtype=object), dtype="string", name="golden_id")
    cells = members[list(attributes)].astype("string").to_numpy(dtype=object, na_value="")
    record_id = members["record_id"].to_numpy(dtype=np.int64)
    return Members(golden_code.astype(np.int64), golden_ids, record_id, cells, cells != "")
