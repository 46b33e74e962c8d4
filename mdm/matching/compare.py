"""Comparison: one level code per candidate pair and comparison, over whole arrays at once.

Level codes (int8), shared by every scorer:

* ``NULL = -1``: either side is empty. Not evidence either way; a scorer gives it no weight.
* ``0 .. k-1``: agreement levels, ordered so that a higher code means stronger agreement.
  ``ELSE = 0`` is "different"; the highest level of a comparison, ``k - 1``, is exact equality.

An exact-only comparison has ``k = 2``, so ``EXACT = 1``. Fuzzy levels (a similarity at
thresholds, a nickname, a shared prefix) go between ``ELSE`` and exact, and exact moves up to
stay the highest: the codes index a comparison's m/u probability arrays directly, and "at least
level L" is a plain ``>=``. The levels themselves are declared in ``mdm.matching.comparisons``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.matching.comparisons import Comparison, group_levels
from mdm.matching.values import FieldValues

NULL: Final = -1
ELSE: Final = 0
EXACT: Final = 1  # the highest level of an exact-only comparison


def compare(records: pd.DataFrame, pairs: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Exact-only level codes of ``pairs`` (row positions ``left``, ``right``) on ``fields``.

    Returns one int8 column per field (repeats dropped, order kept), indexed like ``pairs``.
    Values are compared as already standardized: exact string equality, NA equal to nothing.
    """
    left = pairs["left"].to_numpy(dtype=np.int64)
    right = pairs["right"].to_numpy(dtype=np.int64)
    levels = {field: _exact_levels(records[field], left, right) for field in dict.fromkeys(fields)}
    return pd.DataFrame(levels, index=pairs.index)


def compare_levels(
    records: pd.DataFrame,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    comparisons: Sequence[Comparison],
    cache: dict[str, FieldValues] | None = None,
) -> npt.NDArray[np.int8]:
    """Level codes of the pairs of rows ``left[i]``, ``right[i]``: shape (comparisons, pairs).

    A comparison whose field is not a column of ``records`` gives ``NULL`` everywhere (no
    evidence): the engine warns about it. ``cache`` keeps each column's codes across calls.
    """
    fields = cache if cache is not None else {}
    out = np.full((len(comparisons), len(left)), NULL, dtype=np.int8)
    for index, comparison in enumerate(comparisons):
        if comparison.members or comparison.field not in records.columns:
            continue
        if comparison.field not in fields:
            fields[comparison.field] = FieldValues.of(records[comparison.field])
        swapped = None
        if comparison.swap_with is not None and comparison.swap_with in records.columns:
            swapped = _shared_codes(records, comparison.field, comparison.swap_with)
        elif comparison.swap_with is not None:  # nothing to swap with: never swapped
            missing = np.full(len(records), -1, dtype=np.int64)
            swapped = (missing, missing)
        out[index] = comparison.compute(fields[comparison.field], left, right, swapped)
    _apply_groups(out, comparisons)
    return out


def _apply_groups(out: npt.NDArray[np.int8], comparisons: Sequence[Comparison]) -> None:
    """Fill each comparison group's row from its members' rows; where every member differs,
    the group's level is the evidence and the members' rows become ``NULL``."""
    row = {c.name: index for index, c in enumerate(comparisons)}
    for index, comparison in enumerate(comparisons):
        if not comparison.members:
            continue
        rows = [row[name] for name in comparison.members]
        out[index], all_different = group_levels(out[rows])
        for member in rows:
            out[member, all_different] = NULL


def _shared_codes(
    records: pd.DataFrame, first: str, second: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row codes of two columns in one numbering: equal values get equal codes across them."""
    both = pd.concat([records[first], records[second]], ignore_index=True).astype("string")
    codes, _ = pd.factorize(both, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(records)], codes[len(records) :]


def _exact_levels(
    values: pd.Series, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int8]:
    # Factorizing once turns string equality into integer equality; NA becomes code -1.
    codes, _ = pd.factorize(values)
    left_codes = codes[left]
    right_codes = codes[right]
    levels = np.where(left_codes == right_codes, EXACT, ELSE).astype(np.int8)
    levels[(left_codes < 0) | (right_codes < 0)] = NULL
    return levels
