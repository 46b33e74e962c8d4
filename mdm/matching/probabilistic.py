"""The probabilistic method, stage by stage: block -> compare -> train -> score -> decide ->
cluster, each a function of immutable values that returns a new one.

Blocking rules make candidate pairs, comparisons give levels, a Fellegi-Sunter model (trained
here when none is given, refined by labelled pairs) gives match weights and probabilities, the
thresholds decide (match / review / non-match), deterministic rules force matches or
non-matches, steward constraints (must-link, cannot-link) win over everything, and clustering
cuts weak bridges (``mdm.matching.cluster``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import MatchSpec, TrainingSpec
from mdm.matching.cluster import cluster, connected_components
from mdm.matching.compare import compare_pairs
from mdm.matching.comparisons import Comparison
from mdm.matching.decide import Decision, decide
from mdm.matching.encoded import EncodedRecords, Rows
from mdm.matching.model import FellegiSunterModel, log2_odds
from mdm.matching.result import (
    MODEL_RULE,
    MUST_LINK_RULE,
    MatchResult,
    ScoredPairs,
    links_frame,
    pairs_frame,
)
from mdm.matching.score import forced_by_rules, match_weights, probabilities
from mdm.matching.stages import Candidates, Constraints, candidate_pairs, is_pair
from mdm.matching.statistics import MatchStatistics
from mdm.matching.train import (
    context_pairs,
    context_u,
    refine_with_labels,
    sample_pairs,
    train_model,
)
from mdm.matching.values import isin_keys

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class Scores:
    """Each candidate pair's match weight and probability under the model."""

    weights: FloatArray
    probability: FloatArray


@dataclass(frozen=True, eq=False)
class Decisions:
    """Each candidate pair's decision after thresholds, rules and constraints, and what
    clustering needs: the support it weighs and the pairs it must keep apart."""

    decision: Int8Array
    rule: pd.Series  # categorical: a forced rule's name, ``model`` or ``must_link``
    support: FloatArray  # the probability, overruled where a rule or constraint decided
    apart: Rows  # cannot-link pairs and pairs a rule forced apart
    is_must: npt.NDArray[np.bool_]  # the pairs a must-link decided

    def link_scores(self, probability: FloatArray, rows: npt.NDArray[np.bool_]) -> FloatArray:
        """The score of each pair ``rows`` marks: 1.0 for a must-link, else its probability."""
        return np.where(self.is_must[rows], 1.0, probability[rows])


@dataclass(frozen=True, eq=False)
class Clusters:
    labels: npt.NDArray[np.int64]  # per record row, numbered by smallest row
    decision: Int8Array  # the decisions, with the matches clustering cut made reviews


def match_probabilistic(
    records: EncodedRecords,
    spec: MatchSpec,
    comparisons: list[Comparison],
    constraints: Constraints,
    *,
    model: FellegiSunterModel | None,
    labels: pd.DataFrame | None,
    warnings: Sequence[str] = (),
) -> MatchResult:
    """Match ``records`` (encoded with every field ``spec`` reads) with ``model``, or with a
    model trained on them when None; ``labels`` (known pairs) refine it."""
    candidates = candidate_pairs(records, spec, constraints)
    levels = compare_pairs(records, candidates.left, candidates.right, comparisons)
    if model is None:
        used = trained_model(records, spec, comparisons, candidates, levels)
    else:
        model.check(comparisons, context=spec.context, context_also=spec.context_also)
        used = model
    if labels is not None and len(labels):
        used = refined_model(records, used, comparisons, labels)
    scores = scored(records, used, comparisons, candidates, levels)
    decisions = decided(records, spec, comparisons, candidates, levels, scores, constraints)
    apart = kept_apart(records, spec, comparisons, used, candidates, decisions)
    clusters = clustered(records, spec, candidates, decisions, apart)
    judged = ScoredPairs(
        candidates.left,
        candidates.right,
        clusters.decision,
        scores.weights,
        scores.probability,
        decisions.rule,
        levels,
    )
    matched = judged.decision == Decision.MATCH
    return MatchResult(
        record_ids=records.record_ids,
        labels=clusters.labels,
        links=links_frame(
            records.record_ids,
            judged.left[matched],
            judged.right[matched],
            judged.rule[matched],
            decisions.link_scores(scores.probability, matched),
        ),
        blocking=candidates.blocked.reports,
        warnings=[*candidates.blocked.warnings, *warnings],
        candidate_pairs=candidates.blocked_count,
        statistics=MatchStatistics.of(
            candidates.blocked.reports,
            used,
            scores.probability[: candidates.blocked_count],  # the blocked pairs'
            clusters.labels,
        ),
        pairs=pairs_frame(records.record_ids, comparisons, judged),
        model=used,
        trained=model is None,
        term_frequencies=term_frequencies(records, comparisons),
    )


def trained_model(
    records: EncodedRecords,
    spec: MatchSpec,
    comparisons: list[Comparison],
    candidates: Candidates,
    levels: Int8Array,
) -> FellegiSunterModel:
    """The model learned from the blocked pairs' ``levels`` and a random sample of pairs."""
    training = spec.training
    sample_left, sample_right = sample_pairs(
        records.record_ids, training.u_sample_pairs, training.seed, records.groups
    )
    sample_levels = compare_pairs(records, sample_left, sample_right, comparisons)
    blocked_count = candidates.blocked_count
    # Training sees only the blocked pairs (not pairs added by must-link constraints).
    metadata: dict[str, Any] = {
        "method": "u from random pairs, m by expectation-maximisation per blocking rule",
        "records": records.size,
        "candidate_pairs": blocked_count,
        "seed": training.seed,
    }
    model = train_model(
        str(spec.entity),
        comparisons,
        levels[:, :blocked_count],
        candidates.blocked.rule_bits,
        candidates.blocked.rules,
        sample_levels,
        pair_space(records),
        training,
        metadata,
        passive=spec.context_also,
    )
    return with_context_u(model, records, spec, comparisons, training)


def with_context_u(
    model: FellegiSunterModel,
    records: EncodedRecords,
    spec: MatchSpec,
    comparisons: Sequence[Comparison],
    training: TrainingSpec,
) -> FellegiSunterModel:
    """``model`` with the u of pairs that share the context (colleagues), when ``spec`` names
    one: learned from a sample of such pairs of ``records``."""
    if spec.context is None:
        return model
    field = next(c.field for c in comparisons if c.name == spec.context)
    left, right = context_pairs(
        records.values(field).codes, records.record_ids, training.u_sample_pairs, training.seed
    )
    with_context = dataclasses.replace(
        model, context=spec.context, context_also=tuple(spec.context_also)
    )
    return context_u(with_context, compare_pairs(records, left, right, comparisons), training)


def refined_model(
    records: EncodedRecords,
    model: FellegiSunterModel,
    comparisons: list[Comparison],
    labels: pd.DataFrame,
) -> FellegiSunterModel:
    """``model`` with m and u pooled with the labelled pairs that ``records`` hold."""
    ids = labels[["left_record_id", "right_record_id"]].to_numpy(dtype=np.int64)
    rows = pd.Index(records.record_ids).get_indexer(pd.Index(ids.reshape(-1))).reshape(-1, 2)
    found = (rows >= 0).all(axis=1) & (rows[:, 0] != rows[:, 1])
    is_match = labels["is_match"].to_numpy(dtype=bool)[found]
    rows = rows[found].astype(np.int64)
    label_levels = compare_pairs(records, rows[:, 0], rows[:, 1], comparisons)
    return refine_with_labels(model, label_levels, is_match)


def pair_space(records: EncodedRecords) -> float:
    """How many pairs blocking could have made: the prior is a share of these."""
    n = records.size
    if records.groups is not None:
        sizes = np.bincount(records.groups).astype(np.float64)
        return float((n * n - (sizes**2).sum()) / 2)
    if records.new is not None:
        k = float(records.new.sum())
        return k * (n - k) + k * (k - 1) / 2
    return n * (n - 1) / 2


def scored(
    records: EncodedRecords,
    model: FellegiSunterModel,
    comparisons: list[Comparison],
    candidates: Candidates,
    levels: Int8Array,
) -> Scores:
    weights = match_weights(levels, model, comparisons, records, candidates.left)
    return Scores(weights, probabilities(weights))


def decided(
    records: EncodedRecords,
    spec: MatchSpec,
    comparisons: list[Comparison],
    candidates: Candidates,
    levels: Int8Array,
    scores: Scores,
    constraints: Constraints,
) -> Decisions:
    """Thresholds decide; deterministic rules overrule them; constraints overrule both."""
    left, right = candidates.left, candidates.right
    decision = decide(
        pd.Series(scores.weights),
        log2_odds(spec.thresholds.match),
        log2_odds(spec.thresholds.review),
    ).to_numpy(copy=True)
    verdict, forced_rule = forced_by_rules(
        spec.rules, records.fields, left, right, levels, comparisons
    )
    decision[verdict == 1] = Decision.MATCH
    decision[verdict == -1] = Decision.NON_MATCH
    is_must = is_pair(records.size, left, right, constraints.must)
    is_cannot = is_pair(records.size, left, right, constraints.cannot)
    decision[is_must] = Decision.MATCH
    rule = _deciding_rules(forced_rule, is_must)
    decision[is_cannot] = Decision.NON_MATCH
    support = scores.probability.copy()
    support[verdict == 1] = np.maximum(support[verdict == 1], spec.thresholds.match)
    support[verdict == -1] = 0.0
    support[is_must] = 2.0  # above any average: a must-link bridge is never cut
    support[is_cannot] = 0.0
    # A forced non-match (two tax ids) keeps its records apart in clustering too.
    forced_apart = np.flatnonzero((verdict == -1) & ~is_must)
    cannot = constraints.cannot
    apart = (np.r_[cannot[0], left[forced_apart]], np.r_[cannot[1], right[forced_apart]])
    return Decisions(decision, rule, support, apart, is_must)


def kept_apart(
    records: EncodedRecords,
    spec: MatchSpec,
    comparisons: list[Comparison],
    model: FellegiSunterModel,
    candidates: Candidates,
    decisions: Decisions,
) -> Rows:
    """The pairs clustering must keep apart: constraints and forced non-matches, and every
    pair inside a cluster of matches whose own comparison is a confident non-match
    (``clustering.apart_below``), so that two relatives never join through a third record that
    matches both. Pairs inside a cluster that blocking never made are compared here."""
    below = spec.clustering.apart_below
    apart = decisions.apart
    # A delta's partner search (``records.new``) only asks which records pair up: no clusters.
    if below <= 0 or records.new is not None:
        return apart
    left, right = candidates.left, candidates.right
    matched = decisions.decision == Decision.MATCH
    labels = connected_components(records.size, left[matched], right[matched])
    # A steward's must-link joins what it joins: clusters holding one are not second-guessed.
    steward_joined = np.unique(labels[left[decisions.support > 1.0]])
    checked = ~np.isin(labels, steward_joined)
    weak = np.flatnonzero(~matched & (decisions.support < below) & checked[left] & checked[right])
    extra_left, extra_right = unmade_pairs_within(
        np.where(checked, labels, -1), left, right, spec.clustering.apart_check_max_size
    )
    far = np.zeros(0, dtype=np.int64)
    if len(extra_left):
        levels = compare_pairs(records, extra_left, extra_right, comparisons)
        weights = match_weights(levels, model, comparisons, records, extra_left)
        verdict, _ = forced_by_rules(
            spec.rules, records.fields, extra_left, extra_right, levels, comparisons
        )
        is_far = ((probabilities(weights) < below) & (verdict != 1)) | (verdict == -1)
        far = np.flatnonzero(is_far)
    return (
        np.r_[apart[0], left[weak], extra_left[far]].astype(np.int64),
        np.r_[apart[1], right[weak], extra_right[far]].astype(np.int64),
    )


def _deciding_rules(forced_rule: pd.Series, is_must: npt.NDArray[np.bool_]) -> pd.Series:
    """Each pair's deciding rule: ``must_link`` where a must-link decided, else the forced
    rule's name, else ``model``. A categorical: a few names over millions of pairs."""
    found = [str(name) for name in forced_rule.cat.categories]
    names = list(dict.fromkeys([*found, MODEL_RULE, MUST_LINK_RULE]))
    position = {name: at for at, name in enumerate(names)}
    # The last entry is for code -1 (no forced rule): the model decided.
    remap = np.array([*(position[name] for name in found), position[MODEL_RULE]], dtype=np.int16)
    rule_codes = remap[forced_rule.cat.codes.to_numpy()]
    rule_codes[is_must] = position[MUST_LINK_RULE]
    categories = pd.Index(names, dtype="string")
    return pd.Series(pd.Categorical.from_codes(rule_codes, categories=categories))


def unmade_pairs_within(
    labels: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    max_size: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every pair of rows in one cluster of 3 to ``max_size`` rows that is not among the
    pairs ``left``-``right`` (in either order): row pairs, smaller row first. Rows labelled
    -1 are in no cluster that is checked."""
    sizes = np.bincount(labels[labels >= 0])
    checked = np.flatnonzero((sizes >= 3) & (sizes <= max_size))
    if not len(checked):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    rows = np.flatnonzero(np.isin(labels, checked))
    rows = rows[np.argsort(labels[rows], kind="stable")]
    by_size: dict[int, list[npt.NDArray[np.int64]]] = {}
    for members in np.split(rows, np.flatnonzero(np.diff(labels[rows])) + 1):
        by_size.setdefault(len(members), []).append(members)
    found_left, found_right = [], []
    for size in sorted(by_size):
        members = np.stack(by_size[size])
        i, j = np.triu_indices(size, 1)
        found_left.append(members[:, i].ravel())
        found_right.append(members[:, j].ravel())
    a, b = np.concatenate(found_left), np.concatenate(found_right)
    n = np.int64(len(labels))
    made = np.minimum(left, right)  # candidate pairs come as left < right: made sorted, once
    made *= n
    made += np.maximum(left, right)
    unmade = ~isin_keys(a * n + b, made)
    return a[unmade], b[unmade]


def clustered(
    records: EncodedRecords,
    spec: MatchSpec,
    candidates: Candidates,
    decisions: Decisions,
    apart: Rows,
) -> Clusters:
    """Clusters of the matches; a match whose bridge clustering cut becomes a review."""
    labels, cut = cluster(
        records.size,
        candidates.left,
        candidates.right,
        decisions.decision == Decision.MATCH,
        decisions.support,
        cannot_link=apart,
        split_bridges=spec.clustering.split_weak_bridges,
        min_support=spec.thresholds.review,
    )
    decision = decisions.decision.copy()
    decision[cut] = Decision.REVIEW
    return Clusters(labels, decision)


def term_frequencies(
    records: EncodedRecords, comparisons: Sequence[Comparison]
) -> dict[str, pd.Series]:
    """Each term-frequency adjusted comparison's value shares (value -> share), as used."""
    out = {}
    for comparison in comparisons:
        shares = records.shares.get(comparison.field)
        if comparison.tf_adjust and shares is not None:
            uniques = records.values(comparison.field).uniques
            out[comparison.name] = pd.Series(shares, index=pd.Index(uniques, dtype="string"))
    return out
