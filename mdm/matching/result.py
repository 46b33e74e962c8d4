"""What an engine returns from a match: clusters, links, scored pairs, the model, statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.matching.block import BlockingReport
from mdm.matching.comparisons import Comparison
from mdm.matching.decide import Decision
from mdm.matching.model import FellegiSunterModel
from mdm.matching.statistics import MatchStatistics

LINK_COLUMNS = ["left_record_id", "right_record_id", "rule", "score"]
MODEL_RULE = "model"  # the rule of a link the model decided
MUST_LINK_RULE = "must_link"  # ... that a must-link constraint decided
LEVEL_PREFIX = "level_"  # the level code columns of MatchResult.pairs

Int64Array = npt.NDArray[np.int64]


# eq=False: a generated __eq__ would compare arrays element-wise and fail on truth value.
@dataclass(frozen=True, eq=False)
class MatchResult:
    record_ids: Int64Array  # the matched records, in the order they were given
    labels: Int64Array  # cluster label of each record (numbered by its first record)
    links: pd.DataFrame  # MATCH pairs: left_record_id < right_record_id, rule, score
    blocking: list[BlockingReport]
    warnings: list[str]
    candidate_pairs: int
    statistics: MatchStatistics
    # MATCH and REVIEW pairs: left_record_id, right_record_id, decision (int8 Decision),
    # weight, probability, rule, and a level code column per comparison (level_<name>).
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    model: FellegiSunterModel | None = None  # the model that scored (probabilistic)
    trained: bool = False  # the model was learned in this call (save it to reuse it)
    # Per term-frequency adjusted comparison: each value's share of the records.
    term_frequencies: Mapping[str, pd.Series] = field(default_factory=dict)


def links_frame(
    record_ids: Int64Array,
    left: Int64Array,
    right: Int64Array,
    rule: pd.Series,
    score: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """The links of rows ``left[i]``-``right[i]`` (positions in ``record_ids``), by record id."""
    left_ids, right_ids = record_ids[left], record_ids[right]
    links = pd.DataFrame(
        {
            "left_record_id": np.minimum(left_ids, right_ids),
            "right_record_id": np.maximum(left_ids, right_ids),
            "rule": pd.array(rule.array, dtype="string"),
            "score": np.asarray(score, dtype=np.float64),
        }
    )
    return links.sort_values(["left_record_id", "right_record_id"], ignore_index=True)


@dataclass(frozen=True, eq=False)
class ScoredPairs:
    """Every candidate pair (rows ``left[i]``, ``right[i]``) as the engine judged it."""

    left: Int64Array
    right: Int64Array
    decision: npt.NDArray[np.int8]
    weights: npt.NDArray[np.float64]
    probability: npt.NDArray[np.float64]
    rule: pd.Series  # the deciding rule's name (text or categorical), ``model`` or ``must_link``
    levels: npt.NDArray[np.int8]  # (comparisons, pairs)


def pairs_frame(
    record_ids: Int64Array, comparisons: list[Comparison], scored: ScoredPairs
) -> pd.DataFrame:
    """The MATCH and REVIEW pairs of ``scored``, by record id (``MatchResult.pairs``)."""
    keep = np.flatnonzero(scored.decision != Decision.NON_MATCH)
    left_ids, right_ids = record_ids[scored.left[keep]], record_ids[scored.right[keep]]
    frame = pd.DataFrame(
        {
            "left_record_id": np.minimum(left_ids, right_ids),
            "right_record_id": np.maximum(left_ids, right_ids),
            "decision": scored.decision[keep].astype(np.int8),
            "weight": scored.weights[keep],
            "probability": scored.probability[keep],
            "rule": pd.array(scored.rule.array[keep], dtype="string"),
            **{
                f"{LEVEL_PREFIX}{c.name}": scored.levels[i, keep] for i, c in enumerate(comparisons)
            },
        }
    )
    return frame.sort_values(["left_record_id", "right_record_id"], ignore_index=True)
