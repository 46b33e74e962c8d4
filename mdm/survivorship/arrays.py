"""Integer codes and runs over arrays: the vocabulary the builder and the rules share."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Objects = npt.NDArray[np.object_]


def codes(values: pd.Series) -> Ints:
    """Integer codes of ``values``: equal values, equal codes (NA is a value of its own)."""
    found, _ = pd.factorize(values.astype(object), use_na_sentinel=False)
    return np.asarray(found, dtype=np.int64)


def codes_sorted(values: pd.Series | Objects) -> Ints:
    """Codes that order like the values (Python string order); NA as ""."""
    series = pd.Series(values, dtype=object) if isinstance(values, np.ndarray) else values
    found, _ = pd.factorize(series.fillna("").astype(object), sort=True)
    return np.asarray(found, dtype=np.int64)


def runs(group: Ints) -> tuple[Ints, Ints]:
    """Start and size of each run of equal codes in the sorted ``group``."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else group
    return starts.astype(np.int64), np.diff(np.r_[starts, len(group)]).astype(np.int64)


def pairs(group: Ints, code: Ints) -> Ints:
    """One integer per (group, code) pair."""
    return group * (int(code.max(initial=0)) + 1) + code


def first_of(group: Ints, code: Ints) -> Bools:
    """Whether each row is the first of its (group, code) pair."""
    first = np.zeros(len(group), dtype=bool)
    first[np.unique(pairs(group, code), return_index=True)[1]] = True
    return first
