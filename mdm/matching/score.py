"""Scoring: one score per candidate pair from its comparison levels.

The deterministic scorer applies the match rules: a pair scores 1.0 when every field of some
rule agrees exactly, else 0.0, and it is explained by the first such rule in spec order. A
probabilistic scorer will return the same frame, with a match weight as ``score``.
"""

from __future__ import annotations

from typing import assert_never

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import MatchMethod, MatchRuleSpec, MatchSpec
from mdm.matching.compare import EXACT


def score_rules(levels: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
    """Columns ``score`` (float64) and ``rule`` (string, NA when no rule holds), per pair."""
    names = [rule.name for rule in spec.rules]
    holds = np.column_stack(
        [np.zeros(len(levels), dtype=bool)] + [_holds(levels, rule) for rule in spec.rules]
    )
    # Column 0 never holds, so argmax is 0 exactly when no rule holds: that maps to NA.
    first = holds.argmax(axis=1)
    rule = np.array([None, *names], dtype=object)[first]
    return pd.DataFrame(
        {
            "score": (first > 0).astype(np.float64),
            "rule": pd.array(rule, dtype="string"),
        },
        index=levels.index,
    )


def _holds(levels: pd.DataFrame, rule: MatchRuleSpec) -> npt.NDArray[np.bool_]:
    match rule.method:
        case MatchMethod.EXACT:
            agree = levels[rule.fields].to_numpy(dtype=np.int8) == EXACT
            return np.asarray(agree.all(axis=1), dtype=bool)
        case _:
            assert_never(rule.method)
