"""Comparison: one level code per candidate pair and field, over whole arrays at once.

Level codes (int8), shared by every scorer:

* ``NULL = -1``: either side is empty. Not evidence either way; a scorer gives it no weight.
* ``0 .. k-1``: agreement levels, ordered so that a higher code means stronger agreement.
  ``ELSE = 0`` is "different"; the highest level of a field, ``k - 1``, is exact equality.

Today every comparison is exact-only (``k = 2``), so ``EXACT = 1``. Fuzzy levels added later
(a similarity at thresholds) go between ``ELSE`` and exact, and exact moves up to stay the
highest: the codes then index a field's m/u probability arrays directly, and "at least level L"
is a plain ``>=``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

NULL: Final = -1
ELSE: Final = 0
EXACT: Final = 1  # the highest level of an exact-only comparison


def compare(records: pd.DataFrame, pairs: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Level codes of ``pairs`` (row positions ``left``, ``right``) on each of ``fields``.

    Returns one int8 column per field (repeats dropped, order kept), indexed like ``pairs``.
    Values are compared as already standardized: exact string equality, NA equal to nothing.
    """
    left = pairs["left"].to_numpy(dtype=np.int64)
    right = pairs["right"].to_numpy(dtype=np.int64)
    levels = {field: _exact_levels(records[field], left, right) for field in dict.fromkeys(fields)}
    return pd.DataFrame(levels, index=pairs.index)


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
