"""The first stage of both methods, and the values every later stage shares.

``candidate_pairs`` blocks (``mdm.matching.block``) and adds the pairs only a must-link
constraint makes. Its ``Candidates`` and the ``Constraints`` are rows of one
``EncodedRecords``: stages take that value with them and return new values, never change one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mdm.config.match_spec import MatchSpec
from mdm.matching.block import Blocked, block_records
from mdm.matching.encoded import EncodedRecords, PairsLike, Rows
from mdm.matching.values import IntArray, isin_keys, sorted_unique

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class Constraints:
    """A steward's pairs, as rows (smaller first): ``must`` be one entity, ``cannot`` be."""

    must: Rows
    cannot: Rows

    @classmethod
    def of(
        cls, records: EncodedRecords, must_link: PairsLike | None, cannot_link: PairsLike | None
    ) -> Constraints:
        """The record id pairs that ``records`` hold both records of."""
        return cls(records.rows_of(must_link), records.rows_of(cannot_link))


@dataclass(frozen=True, eq=False)
class Candidates:
    """The pairs to judge, as rows ``left[i] < right[i]``: the pairs blocking made, in its
    order (``blocked``, the first ``blocked_count``), then the pairs only a must-link makes."""

    left: IntArray
    right: IntArray
    blocked: Blocked

    @property
    def blocked_count(self) -> int:
        return len(self.blocked.pairs)

    @property
    def count(self) -> int:
        return len(self.left)


def candidate_pairs(
    records: EncodedRecords, spec: MatchSpec, constraints: Constraints
) -> Candidates:
    """Block ``records`` under ``spec``, then add the must-link pairs blocking did not make."""
    blocked = block_records(records, spec)
    left = blocked.pairs["left"].to_numpy(dtype=np.int64)
    right = blocked.pairs["right"].to_numpy(dtype=np.int64)
    more_left, more_right = _missing_pairs(records.size, left, right, constraints.must)
    if not len(more_left):  # the blocked pairs themselves, not a copy beside them
        return Candidates(left, right, blocked)
    return Candidates(np.r_[left, more_left], np.r_[right, more_right], blocked)


def is_pair(size: int, left: IntArray, right: IntArray, pairs: Rows) -> BoolArray:
    """Whether each pair of rows ``left[i]``, ``right[i]`` is one of ``pairs`` (of ``size``
    rows; both smaller first)."""
    if not len(pairs[0]):
        return np.zeros(len(left), dtype=bool)
    width = max(size, 1)
    return isin_keys(left * width + right, pairs[0] * width + pairs[1])


def _missing_pairs(size: int, left: IntArray, right: IntArray, extra: Rows) -> Rows:
    """The ``extra`` pairs not among ``left``, ``right``: each once, in row order."""
    if not len(extra[0]):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    width = max(size, 1)
    wanted = sorted_unique(extra[0] * width + extra[1])
    missing = wanted[~isin_keys(wanted, left * width + right)]
    return missing // width, missing % width
