"""Derived candidate columns that need standardization: validity and match keys."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import SurvivorshipRule, SurvivorshipSpec
from mdm.schema import Kind, attribute, survived_attribute_names
from mdm.standardize import RegionLike, is_valid, match_values
from mdm.standardize.email_address import at_mail_provider
from mdm.survivorship.arrays import Bools, Ints, Objects
from mdm.survivorship.members import Members, Slot
from mdm.survivorship.rules import Rule

# Phones in cleaned form are E.164 when they could be parsed; the rest are judged as US numbers.
# A tax id is judged in its record's country, in this one when the record has none.
DEFAULT_REGION: Final = "US"


class Features:
    """The derived columns of one slot's candidates. Validity and match keys are computed only
    for slots whose chain reads them and only for competing candidates (``competing``);
    elsewhere a placeholder stands in (those keys are computed but never decide anything)."""

    def __init__(
        self, spec: SurvivorshipSpec, prepared: Members, rules: dict[SurvivorshipRule, Rule]
    ) -> None:
        self.prepared = prepared
        self.rules = rules
        self.kinds = [
            attribute(spec.entity, name).kind for name in survived_attribute_names(spec.entity)
        ]
        self.country = self.kinds.index(Kind.COUNTRY) if Kind.COUNTRY in self.kinds else None
        self.record_filled = prepared.filled.sum(axis=1).astype(np.int64)

    def competing(self, slot: Slot, rows: Ints) -> Bools:
        """Which of a slot's candidates ``rows`` meet another value in their golden cell.

        Validity and match keys are functions of the value (a tax id's validity of the value
        and its record's country), so candidates of a cell that all carry the same values get
        the same keys: those keys cannot rank them, and a placeholder does as well."""
        positions = list(slot.positions)
        regional = any(self.kinds[p] is Kind.IDENTIFIER for p in positions)
        if regional and self.country is not None and self.country not in positions:
            positions.append(self.country)
        code = np.zeros(len(rows), dtype=np.int64)
        for position in positions:
            part, _ = pd.factorize(self.prepared.cells[rows, position])
            code, _ = pd.factorize(code * (int(part.max(initial=0)) + 1) + part)
        golden = self.prepared.golden_code[rows]
        width = int(code.max(initial=0)) + 1
        distinct = np.unique(golden * width + code) // width
        values = np.bincount(distinct, minlength=len(self.prepared.golden_ids))
        return np.asarray(values[golden] >= 2, dtype=bool)

    def of(self, name: str, slot: Slot, rows: Ints, contested: Bools) -> npt.NDArray[np.generic]:
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
        if name == "personal_mailbox":
            personal = np.zeros(len(rows), dtype=bool)
            if len(picked):
                parts = np.column_stack([self._personal(p, picked) for p in positions])
                personal[contested] = parts.any(axis=1)
            return personal
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
        kind = self.kinds[position]
        valid = np.zeros(len(rows), dtype=bool)
        valid[filled] = is_valid(kind, values, self._region(kind, rows[filled])).to_numpy(bool)
        return valid

    def _personal(self, position: int, rows: Ints) -> Bools:
        """Whether each value is an email address at a mail provider."""
        values, filled = self._present(position, rows)
        personal = np.zeros(len(rows), dtype=bool)
        personal[filled] = personal_addresses(values)
        return personal

    def _region(self, kind: Kind, rows: Ints) -> RegionLike:
        """Where the values of ``rows`` are judged: a tax id in its record's country."""
        if kind is not Kind.IDENTIFIER or self.country is None:
            return DEFAULT_REGION
        country = self.prepared.cells[rows, self.country]
        return pd.Series(np.where(country == "", DEFAULT_REGION, country), dtype="string")

    def _keys(self, position: int, rows: Ints) -> Objects:
        """Match keys; where none can be made, the cleaned value, marked so it cannot equal a
        key (a match key never holds a control character); "" where empty."""
        values, filled = self._present(position, rows)
        keys = match_values(self.kinds[position], values, DEFAULT_REGION)
        column = np.full(len(rows), "", dtype=object)
        column[filled] = keys.fillna("\x00" + values).to_numpy(dtype=object)
        return column


def personal_addresses(values: pd.Series) -> Bools:
    """Whether each text is an email address whose domain is a mail provider's."""
    return np.array([at_mail_provider(str(value)) is True for value in values], dtype=bool)


def _joined_all(parts: Objects, separator: str) -> Objects:
    """Every part joined by ``separator``, empty ones too (so positions stay apart)."""
    out = parts[:, 0].copy()
    for column in range(1, parts.shape[1]):
        out = out + separator + parts[:, column]
    return np.asarray(out, dtype=object)
