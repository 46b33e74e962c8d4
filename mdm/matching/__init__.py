"""Matching: standardize, block, compare, score, decide and cluster source records.

The public face of the engine; the stages live in the modules beside this one.
"""

from mdm.matching.block import Blocked, BlockingReport, block
from mdm.matching.cluster import bridges, cluster, connected_components
from mdm.matching.comparisons import Check, Comparison, Level, comparison_from_spec, preset_levels
from mdm.matching.decide import Decision, decide
from mdm.matching.engine import MatchResult, match_records, term_frequencies, term_frequencies_of
from mdm.matching.explain import ComparisonExplanation, Explanation, explain_pair
from mdm.matching.model import ComparisonModel, FellegiSunterModel

__all__ = [
    "Blocked",
    "BlockingReport",
    "Check",
    "Comparison",
    "ComparisonExplanation",
    "ComparisonModel",
    "Decision",
    "Explanation",
    "FellegiSunterModel",
    "Level",
    "MatchResult",
    "block",
    "bridges",
    "cluster",
    "comparison_from_spec",
    "connected_components",
    "decide",
    "explain_pair",
    "match_records",
    "preset_levels",
    "term_frequencies",
    "term_frequencies_of",
]
