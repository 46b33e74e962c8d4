"""Matching: block, compare, score, decide and cluster source records.

The public face of the engines; the stages live in the modules beside this one. Pick an engine
with ``engine_named`` (``local``, or ``spark`` with the ``mdm[spark]`` extra) and talk to it
through ``MatchEngine``.
"""

from mdm.matching.block import Blocked, BlockingReport, block
from mdm.matching.cluster import bridges, cluster, connected_components
from mdm.matching.comparisons import Check, Comparison, Level, comparison_from_spec, preset_levels
from mdm.matching.decide import Decision, decide
from mdm.matching.engine import LocalEngine
from mdm.matching.explain import ComparisonExplanation, Explanation, explain_pair
from mdm.matching.model import ComparisonModel, FellegiSunterModel
from mdm.matching.protocol import DEFAULT_ENGINE, ENGINE_NAMES, MatchEngine, engine_named
from mdm.matching.result import MatchResult
from mdm.matching.statistics import MatchStatistics

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINE_NAMES",
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
    "LocalEngine",
    "MatchEngine",
    "MatchResult",
    "MatchStatistics",
    "block",
    "bridges",
    "cluster",
    "comparison_from_spec",
    "connected_components",
    "decide",
    "engine_named",
    "explain_pair",
    "preset_levels",
]
