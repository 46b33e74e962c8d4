"""The local matching engine: block, compare, score, decide and cluster one entity's records.

Input: ``records`` with a default RangeIndex (row position is record position), an int64
``record_id`` column (unique) and the standardized match-key columns of the entity's attributes
(string dtype, NA for empty). Each stage is a function of plain data; this module only
composes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import MatchSpec
from mdm.matching.block import BlockingReport, block
from mdm.matching.cluster import connected_components
from mdm.matching.compare import compare
from mdm.matching.decide import Decision, decide
from mdm.matching.score import score_rules

# Deterministic rules score 1.0 or 0.0: no review band.
RULES_UPPER = 1.0
RULES_LOWER = 1.0

LINK_COLUMNS = ["left_record_id", "right_record_id", "rule", "score"]


# eq=False: a generated __eq__ would compare arrays element-wise and fail on truth value.
@dataclass(frozen=True, eq=False)
class MatchResult:
    labels: npt.NDArray[np.int64]  # cluster label per record row, numbered by smallest row
    links: pd.DataFrame  # MATCH pairs: left_record_id < right_record_id, rule, score
    blocking: list[BlockingReport]
    warnings: list[str]
    candidate_pairs: int


def match_records(records: pd.DataFrame, spec: MatchSpec) -> MatchResult:
    """Match ``records`` with the deterministic rules of ``spec``."""
    fields = list(dict.fromkeys(field for rule in spec.rules for field in rule.fields))
    _check_records(records, fields)
    pairs, reports, warnings = block(records, spec)
    levels = compare(records, pairs, fields)
    scores = score_rules(levels, spec)
    matched = (decide(scores["score"], RULES_UPPER, RULES_LOWER) == Decision.MATCH).to_numpy()
    left = pairs["left"].to_numpy()[matched]
    right = pairs["right"].to_numpy()[matched]
    return MatchResult(
        labels=connected_components(len(records), left, right),
        links=_links(records, left, right, scores[matched]),
        blocking=reports,
        warnings=warnings,
        candidate_pairs=len(pairs),
    )


def _check_records(records: pd.DataFrame, fields: list[str]) -> None:
    if not records.index.equals(pd.RangeIndex(len(records))):
        raise ValueError("records must have a default RangeIndex 0..n-1 (use reset_index)")
    missing = [column for column in ["record_id", *fields] if column not in records.columns]
    if missing:
        raise ValueError(f"records lack the columns {', '.join(map(repr, missing))}")
    if not records["record_id"].is_unique:
        raise ValueError("records have repeated record_id values")


def _links(
    records: pd.DataFrame,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    scores: pd.DataFrame,
) -> pd.DataFrame:
    ids = records["record_id"].to_numpy(dtype=np.int64)
    left_ids, right_ids = ids[left], ids[right]
    links = pd.DataFrame(
        {
            "left_record_id": np.minimum(left_ids, right_ids),
            "right_record_id": np.maximum(left_ids, right_ids),
            "rule": scores["rule"].array,
            "score": scores["score"].to_numpy(dtype=np.float64),
        }
    )
    return links.sort_values(["left_record_id", "right_record_id"], ignore_index=True)
