"""The deterministic method (``method = "rules"``): records that agree exactly on every field
of a rule match; clusters are the connected components of the matches (cannot-link
constraints still split them)."""

from __future__ import annotations

import numpy as np

from mdm.config.match_spec import MatchSpec
from mdm.matching.cluster import cluster, connected_components
from mdm.matching.compare import exact_levels
from mdm.matching.decide import Decision, decide
from mdm.matching.encoded import EncodedRecords
from mdm.matching.result import MUST_LINK_RULE, MatchResult, links_frame
from mdm.matching.score import score_rules
from mdm.matching.stages import Constraints, candidate_pairs, is_pair
from mdm.matching.statistics import MatchStatistics

# Deterministic rules score 1.0 or 0.0: no review band.
RULES_UPPER = 1.0
RULES_LOWER = 1.0


def rule_fields(spec: MatchSpec) -> list[str]:
    """The fields the rules read, each once, in rule order."""
    return list(dict.fromkeys(field for rule in spec.rules for field in rule.all_fields))


def match_by_rules(
    records: EncodedRecords, spec: MatchSpec, constraints: Constraints
) -> MatchResult:
    """Match ``records`` (encoded with every rule field) by ``spec``'s rules."""
    candidates = candidate_pairs(records, spec, constraints)
    left, right = candidates.left, candidates.right
    scores = score_rules(exact_levels(records, left, right, rule_fields(spec)), spec)
    matched = (decide(scores["score"], RULES_UPPER, RULES_LOWER) == Decision.MATCH).to_numpy()
    rule = scores["rule"].copy()
    is_must = is_pair(records.size, left, right, constraints.must)
    rule[is_must & ~matched] = MUST_LINK_RULE
    matched = matched | is_must
    cannot = constraints.cannot
    matched &= ~is_pair(records.size, left, right, cannot)
    labels = connected_components(records.size, left[matched], right[matched])
    if len(cannot[0]):
        probability = np.where(is_must, 2.0, matched.astype(np.float64))
        labels, cut = cluster(
            records.size, left, right, matched, probability, cannot_link=cannot,
            split_bridges=False,
        )  # fmt: skip
        matched &= ~cut
    score = scores["score"].to_numpy(dtype=np.float64)
    return MatchResult(
        record_ids=records.record_ids,
        labels=labels,
        links=links_frame(
            records.record_ids, left[matched], right[matched], rule[matched], score[matched]
        ),
        blocking=candidates.blocked.reports,
        warnings=candidates.blocked.warnings,
        candidate_pairs=candidates.blocked_count,
        statistics=MatchStatistics.of(
            candidates.blocked.reports, None, score[: candidates.blocked_count], labels
        ),
    )
