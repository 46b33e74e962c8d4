"""Decision: match, review or non-match, by two thresholds on the score."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import pandas as pd


class Decision(IntEnum):
    NON_MATCH = 0
    REVIEW = 1  # for a data steward to decide
    MATCH = 2


def decide(scores: pd.Series, upper: float, lower: float) -> pd.Series:
    """int8 ``Decision`` codes: ``score >= upper`` is a match, ``lower <= score < upper`` review.

    ``lower == upper`` means no review band (the deterministic engine). A NaN score is a
    non-match.
    """
    if not lower <= upper:
        raise ValueError(f"the lower threshold ({lower}) must not exceed the upper ({upper})")
    values = scores.to_numpy(dtype=np.float64)
    codes = np.select(
        [values >= upper, values >= lower],
        [Decision.MATCH, Decision.REVIEW],
        default=Decision.NON_MATCH,
    ).astype(np.int8)
    return pd.Series(codes, index=scores.index, name="decision")
