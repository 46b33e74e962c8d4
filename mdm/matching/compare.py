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
from mdm.matching.encoded import EncodedRecords, encode

NULL: Final = -1
ELSE: Final = 0
EXACT: Final = 1  # the highest level of an exact-only comparison
# Pairs one comparison works on at a time (``compare_pairs``): its gathered codes, flags and
# texts are a few arrays of this length, not of the run's tens of millions of pairs.
PAIRS_AT_ONCE: Final = 4_000_000


def compare(records: pd.DataFrame, pairs: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Exact-only level codes of ``pairs`` (row positions ``left``, ``right``) on ``fields``.

    Returns one int8 column per field (repeats dropped, order kept), indexed like ``pairs``.
    Values are compared as already standardized: exact string equality, NA equal to nothing.
    """
    left = pairs["left"].to_numpy(dtype=np.int64)
    right = pairs["right"].to_numpy(dtype=np.int64)
    encoded = encode(records, fields)
    return exact_levels(encoded, left, right, fields).set_axis(pairs.index)


def exact_levels(
    records: EncodedRecords,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    fields: Sequence[str],
) -> pd.DataFrame:
    """Exact-only level codes of the pairs of rows ``left[i]``, ``right[i]``: one int8 column
    per field of ``records`` (repeats dropped, order kept)."""
    levels = {
        field: _exact_levels(records.values(field).codes, left, right)
        for field in dict.fromkeys(fields)
    }
    return pd.DataFrame(levels, index=pd.RangeIndex(len(left)))


def compare_levels(
    records: pd.DataFrame,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    comparisons: Sequence[Comparison],
) -> npt.NDArray[np.int8]:
    """``compare_pairs`` on the columns of a frame that the comparisons read."""
    fields = [f for c in comparisons if not c.members for f in c.fields if f in records.columns]
    fields = list(dict.fromkeys(fields))
    swaps = [(c.field, c.swap_with) for c in comparisons if c.swap_with is not None]
    return compare_pairs(encode(records, fields, swaps=swaps), left, right, comparisons)


def compare_pairs(
    records: EncodedRecords,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    comparisons: Sequence[Comparison],
) -> npt.NDArray[np.int8]:
    """Level codes of the pairs of rows ``left[i]``, ``right[i]``: shape (comparisons, pairs).

    A comparison whose field ``records`` do not hold gives ``NULL`` everywhere (no evidence):
    the engine warns about it. A pair's level depends on its two records only: the pairs are
    compared ``PAIRS_AT_ONCE`` at a time, so a comparison's gathered codes and texts stay small
    whatever the number of pairs.
    """
    out = np.full((len(comparisons), len(left)), NULL, dtype=np.int8)
    for index, comparison in enumerate(comparisons):
        if comparison.members or comparison.field not in records.fields:
            continue
        swapped = None
        if comparison.swap_with is not None:  # all missing when there is nothing to swap with
            swapped = records.swap_codes(comparison.field, comparison.swap_with)
        values = records.values(comparison.field)
        against = None
        if comparison.against is not None:
            if comparison.against not in records.fields:
                continue
            against = records.values(comparison.against)
        for start in range(0, len(left), PAIRS_AT_ONCE):
            part = slice(start, start + PAIRS_AT_ONCE)
            out[index, part] = comparison.compute(values, left[part], right[part], swapped, against)
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


def _exact_levels(
    codes: npt.NDArray[np.int64], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int8]:
    # Codes turn string equality into integer equality; NA is code -1.
    left_codes = codes[left]
    right_codes = codes[right]
    levels = np.where(left_codes == right_codes, EXACT, ELSE).astype(np.int8)
    levels[(left_codes < 0) | (right_codes < 0)] = NULL
    return levels
