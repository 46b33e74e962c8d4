"""The local matching engine: block, compare, score, decide and cluster one entity's records.

Input: ``records`` with a default RangeIndex (row position is record position), an int64
``record_id`` column (unique) and the standardized match-key columns of the entity's attributes
(string dtype, NA for empty). Each stage is a function of plain data; this module only
composes them.

Two methods (``spec.method``):

* ``rules``: records that agree exactly on every field of a rule match; clusters are the
  connected components (cannot-link constraints still split them).
* ``probabilistic``: blocking rules make candidate pairs, comparisons give levels, a
  Fellegi-Sunter model (trained here when none is given) gives match weights and
  probabilities, the thresholds decide (match / review / non-match), deterministic rules force
  matches or non-matches, steward constraints (must-link, cannot-link) win over everything, and
  clustering cuts weak bridges (``mdm.matching.cluster``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import DERIVED_FIELDS, MatchSpec, Method
from mdm.matching.block import Blocked, BlockingReport, block, field_values
from mdm.matching.cluster import cluster, connected_components
from mdm.matching.compare import compare, compare_levels
from mdm.matching.comparisons import Comparison, comparison_from_spec, comparisons_from_spec
from mdm.matching.decide import Decision, decide
from mdm.matching.model import FellegiSunterModel, log2_odds
from mdm.matching.score import forced_by_rules, match_weights, probabilities, score_rules
from mdm.matching.train import refine_with_labels, sample_pairs, train_model
from mdm.matching.values import FieldValues, sorted_unique

# Deterministic rules score 1.0 or 0.0: no review band.
RULES_UPPER = 1.0
RULES_LOWER = 1.0

LINK_COLUMNS = ["left_record_id", "right_record_id", "rule", "score"]
MODEL_RULE = "model"  # the rule of a link the model decided
MUST_LINK_RULE = "must_link"  # ... that a must-link constraint decided
LEVEL_PREFIX = "level_"  # the level code columns of MatchResult.pairs

Int64Array = npt.NDArray[np.int64]
PairsLike = pd.DataFrame | npt.ArrayLike


# eq=False: a generated __eq__ would compare arrays element-wise and fail on truth value.
@dataclass(frozen=True, eq=False)
class MatchResult:
    labels: npt.NDArray[np.int64]  # cluster label per record row, numbered by smallest row
    links: pd.DataFrame  # MATCH pairs: left_record_id < right_record_id, rule, score
    blocking: list[BlockingReport]
    warnings: list[str]
    candidate_pairs: int
    # MATCH and REVIEW pairs: left_record_id, right_record_id, decision (int8 Decision),
    # weight, probability, rule, and a level code column per comparison (level_<name>).
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    model: FellegiSunterModel | None = None  # the model that scored (probabilistic)
    trained: bool = False  # the model was learned in this call (save it to reuse it)
    # Per term-frequency adjusted comparison: each value's share of the records.
    term_frequencies: Mapping[str, pd.Series] = field(default_factory=dict)


def match_records(
    records: pd.DataFrame,
    spec: MatchSpec,
    *,
    model: FellegiSunterModel | None = None,
    labels: pd.DataFrame | None = None,
    must_link: PairsLike | None = None,
    cannot_link: PairsLike | None = None,
    new: npt.ArrayLike | None = None,
    groups: npt.ArrayLike | None = None,
    frequencies: Mapping[str, pd.Series] | pd.DataFrame | None = None,
) -> MatchResult:
    """Match ``records`` under ``spec``.

    model: a trained model to score with (probabilistic); trained from the records when None.
    labels: known pairs (``left_record_id``, ``right_record_id``, ``is_match``) that refine
      the model's m and u (steward decisions).
    must_link, cannot_link: record id pairs (a frame with ``left_record_id`` and
      ``right_record_id``, or an array of shape (k, 2)) that are, or are not, the same entity,
      whatever the scores; they win over rules and thresholds, and clustering respects them
      (a cannot-link pair never shares a cluster; it wins over a conflicting must-link chain).
      Pairs a rule forces apart (``action = "non_match"``) are kept apart the same way.
    new: a bool per record: only pairs with at least one new record are made (a delta run).
    groups: a label per record: only pairs across different labels are made (linkage).
    frequencies: term frequencies (comparison name -> value -> share; or a frame with a column
      per comparison, indexed by value) for the term-frequency adjusted comparisons, e.g.
      ``term_frequencies_of(all_records, spec)`` when ``records`` is only part of the
      population (a delta run): shares then do not depend on the part.
      Default: the shares among ``records``.
    """
    if spec.method is Method.RULES:
        return _match_by_rules(records, spec, must_link, cannot_link, new, groups)
    return _match_probabilistic(
        records, spec, model, labels, must_link, cannot_link, new, groups, frequencies
    )


# ---- rules -----------------------------------------------------------------------------------


def _match_by_rules(
    records: pd.DataFrame,
    spec: MatchSpec,
    must_link: PairsLike | None,
    cannot_link: PairsLike | None,
    new: npt.ArrayLike | None,
    groups: npt.ArrayLike | None,
) -> MatchResult:
    fields = list(dict.fromkeys(field for rule in spec.rules for field in rule.fields))
    _check_records(records, fields)
    blocked = block(records, spec, new=new, groups=groups)
    must = _positions(records, must_link)
    pairs = _with_pairs(len(records), blocked.pairs, must)
    levels = compare(records, pairs, fields)
    scores = score_rules(levels, spec)
    left = pairs["left"].to_numpy()
    right = pairs["right"].to_numpy()
    matched = (decide(scores["score"], RULES_UPPER, RULES_LOWER) == Decision.MATCH).to_numpy()
    rule = scores["rule"].copy()
    is_must = _is_pair(len(records), left, right, must)
    rule[is_must & ~matched] = MUST_LINK_RULE
    matched = matched | is_must
    cannot = _positions(records, cannot_link)
    matched &= ~_is_pair(len(records), left, right, cannot)
    labels = connected_components(len(records), left[matched], right[matched])
    if len(cannot[0]):
        probability = np.where(is_must, 2.0, matched.astype(np.float64))
        labels, cut = cluster(
            len(records), left, right, matched, probability, cannot_link=cannot,
            split_bridges=False,
        )  # fmt: skip
        matched &= ~cut
    frame = scores[matched].assign(rule=rule[matched])
    return MatchResult(
        labels=labels,
        links=_links(records, left[matched], right[matched], frame),
        blocking=blocked.reports,
        warnings=blocked.warnings,
        candidate_pairs=len(blocked.pairs),
    )


# ---- probabilistic ---------------------------------------------------------------------------


def _match_probabilistic(
    records: pd.DataFrame,
    spec: MatchSpec,
    model: FellegiSunterModel | None,
    labels: pd.DataFrame | None,
    must_link: PairsLike | None,
    cannot_link: PairsLike | None,
    new: npt.ArrayLike | None,
    groups: npt.ArrayLike | None,
    frequencies: Mapping[str, pd.Series] | pd.DataFrame | None,
) -> MatchResult:
    comparisons = comparisons_from_spec(spec)
    if isinstance(frequencies, pd.DataFrame):
        frequencies = {str(c): frequencies[c].dropna() for c in frequencies.columns}
    warnings, absent = _check_probabilistic_records(records, spec, comparisons)
    if absent:  # derived columns the caller did not add: empty, so no evidence either way
        empty = pd.array([pd.NA] * len(records), dtype="string")
        records = records.assign(**dict.fromkeys(absent, empty))
    n = len(records)
    cache: dict[str, FieldValues] = {}
    group_codes = None if groups is None else _codes(groups)
    new_mask = None if new is None else np.asarray(new, dtype=bool)
    blocked = block(records, spec, new=new_mask, groups=group_codes, cache=cache)
    warnings = [*blocked.warnings, *warnings]
    must = _positions(records, must_link)
    cannot = _positions(records, cannot_link)
    pairs = _with_pairs(n, blocked.pairs, must)
    left = pairs["left"].to_numpy(dtype=np.int64)
    right = pairs["right"].to_numpy(dtype=np.int64)
    levels = compare_levels(records, left, right, comparisons, cache)
    trained = model is None
    if model is None:
        model = _train(records, spec, comparisons, blocked, levels, cache, new_mask, group_codes)
    else:
        model.check(comparisons)
    if labels is not None and len(labels):
        model = _refine(records, model, comparisons, labels, cache)
    for comparison in comparisons:
        if comparison.tf_adjust and comparison.field in records.columns:
            values = field_values(records, comparison.field, cache)
            if frequencies is not None and comparison.name in frequencies:
                shares = frequencies[comparison.name]
                given = shares.reindex(pd.Index(values.uniques)).fillna(0.0)
                values.set_derived("frequency", given.to_numpy(dtype=np.float64))
    weights = match_weights(levels, model, comparisons, left, right, cache)
    probability = probabilities(weights)
    decision = decide(
        pd.Series(weights), log2_odds(spec.thresholds.match), log2_odds(spec.thresholds.review)
    ).to_numpy(copy=True)
    for name in {f for r in spec.rules for f in r.fields}:
        field_values(records, name, cache)
    verdict, forced_rule = forced_by_rules(spec.rules, cache, left, right)
    decision[verdict == 1] = Decision.MATCH
    decision[verdict == -1] = Decision.NON_MATCH
    rule = forced_rule.fillna(MODEL_RULE).astype("string")
    is_must = _is_pair(n, left, right, must)
    is_cannot = _is_pair(n, left, right, cannot)
    decision[is_must] = Decision.MATCH
    rule[is_must] = MUST_LINK_RULE
    decision[is_cannot] = Decision.NON_MATCH
    # What clustering weighs: the probability, overruled where a rule or constraint decided.
    support = probability.copy()
    support[verdict == 1] = np.maximum(support[verdict == 1], spec.thresholds.match)
    support[verdict == -1] = 0.0
    support[is_must] = 2.0  # above any average: a must-link bridge is never cut
    support[is_cannot] = 0.0
    matched = decision == Decision.MATCH
    # A forced non-match (two tax ids) keeps its records apart in clustering too.
    forced_apart = np.flatnonzero((verdict == -1) & ~is_must)
    apart = (np.r_[cannot[0], left[forced_apart]], np.r_[cannot[1], right[forced_apart]])
    cluster_labels, cut = cluster(
        n,
        left,
        right,
        matched,
        support,
        cannot_link=apart,
        split_bridges=spec.clustering.split_weak_bridges,
        min_support=spec.thresholds.review,
    )
    decision[cut] = Decision.REVIEW
    matched = decision == Decision.MATCH
    link_scores = pd.DataFrame({"score": np.where(is_must, 1.0, probability), "rule": rule.array})
    return MatchResult(
        labels=cluster_labels,
        links=_links(records, left[matched], right[matched], link_scores[matched]),
        blocking=blocked.reports,
        warnings=warnings,
        candidate_pairs=len(blocked.pairs),
        pairs=_scored_pairs(
            records, comparisons, left, right, decision, weights, probability, rule, levels
        ),
        model=model,
        trained=trained,
        term_frequencies=term_frequencies(comparisons, cache),
    )


def _train(
    records: pd.DataFrame,
    spec: MatchSpec,
    comparisons: list[Comparison],
    blocked: Blocked,
    levels: npt.NDArray[np.int8],
    cache: dict[str, FieldValues],
    new: npt.NDArray[np.bool_] | None,
    groups: Int64Array | None,
) -> FellegiSunterModel:
    n = len(records)
    training = spec.training
    sample_left, sample_right = sample_pairs(
        records["record_id"].to_numpy(), training.u_sample_pairs, training.seed, groups
    )
    sample_levels = compare_levels(records, sample_left, sample_right, comparisons, cache)
    blocked_count = len(blocked.pairs)
    # Training sees only the blocked pairs (not pairs added by must-link constraints).
    metadata: dict[str, Any] = {
        "method": "u from random pairs, m by expectation-maximisation per blocking rule",
        "records": n,
        "candidate_pairs": blocked_count,
        "seed": training.seed,
    }
    return train_model(
        str(spec.entity),
        comparisons,
        levels[:, :blocked_count],
        blocked.rule_bits,
        blocked.rules,
        sample_levels,
        _pair_space(n, new, groups),
        training,
        metadata,
    )


def _refine(
    records: pd.DataFrame,
    model: FellegiSunterModel,
    comparisons: list[Comparison],
    labels: pd.DataFrame,
    cache: dict[str, FieldValues],
) -> FellegiSunterModel:
    ids = labels[["left_record_id", "right_record_id"]].to_numpy(dtype=np.int64)
    rows = pd.Index(records["record_id"]).get_indexer(ids.reshape(-1)).reshape(-1, 2)
    found = (rows >= 0).all(axis=1) & (rows[:, 0] != rows[:, 1])
    is_match = labels["is_match"].to_numpy(dtype=bool)[found]
    rows = rows[found].astype(np.int64)
    label_levels = compare_levels(records, rows[:, 0], rows[:, 1], comparisons, cache)
    return refine_with_labels(model, label_levels, is_match)


def _pair_space(n: int, new: npt.NDArray[np.bool_] | None, groups: Int64Array | None) -> float:
    """How many pairs blocking could have made: the prior is a share of these."""
    if groups is not None:
        sizes = np.bincount(groups).astype(np.float64)
        return float((n * n - (sizes**2).sum()) / 2)
    if new is not None:
        k = float(new.sum())
        return k * (n - k) + k * (k - 1) / 2
    return n * (n - 1) / 2


def term_frequencies(
    comparisons: list[Comparison], cache: Mapping[str, FieldValues]
) -> dict[str, pd.Series]:
    """Each term-frequency adjusted comparison's value shares (value -> share), as used."""
    out = {}
    for comparison in comparisons:
        values = cache.get(comparison.field)
        if comparison.tf_adjust and values is not None:
            shares = values.shares()
            out[comparison.name] = pd.Series(shares, index=pd.Index(values.uniques, dtype="string"))
    return out


def term_frequencies_of(records: pd.DataFrame, spec: MatchSpec) -> dict[str, pd.Series]:
    """The value shares of ``records`` for every term-frequency adjusted comparison of
    ``spec`` (pass them to ``match_records`` to match a part of these records)."""
    comparisons = [comparison_from_spec(c) for c in spec.comparisons if c.tf_adjust]
    cache = {c.field: FieldValues.of(records[c.field]) for c in comparisons if c.field in records}
    return term_frequencies(comparisons, cache)


# ---- shared ----------------------------------------------------------------------------------


def _check_records(records: pd.DataFrame, fields: list[str]) -> None:
    if not records.index.equals(pd.RangeIndex(len(records))):
        raise ValueError("records must have a default RangeIndex 0..n-1 (use reset_index)")
    missing = [column for column in ["record_id", *fields] if column not in records.columns]
    if missing:
        raise ValueError(f"records lack the columns {', '.join(map(repr, missing))}")
    if not records["record_id"].is_unique:
        raise ValueError("records have repeated record_id values")


def _check_probabilistic_records(
    records: pd.DataFrame, spec: MatchSpec, comparisons: list[Comparison]
) -> tuple[list[str], list[str]]:
    """Check the columns; a derived column the caller did not add only earns a warning."""
    derived = set(DERIVED_FIELDS[spec.entity])
    needed = [
        *(f for rule in spec.blocking for key in rule.keys for f in key.inputs),
        *(f for rule in spec.rules for f in rule.fields),
        *(f for c in comparisons for f in c.fields),
    ]
    absent_derived = sorted({f for f in needed if f in derived and f not in records.columns})
    _check_records(records, [f for f in dict.fromkeys(needed) if f not in absent_derived])
    warnings = [
        f"records have no {name!r} column: blocking, comparisons and rules on it give no evidence"
        for name in absent_derived
    ]
    return warnings, absent_derived


def _codes(groups: npt.ArrayLike) -> Int64Array:
    codes, _ = pd.factorize(pd.Series(np.asarray(groups)), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


def _positions(records: pd.DataFrame, pairs: PairsLike | None) -> tuple[Int64Array, Int64Array]:
    """Row positions (smaller first) of record id pairs; pairs naming unknown ids are dropped."""
    if pairs is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if isinstance(pairs, pd.DataFrame):
        array = pairs[["left_record_id", "right_record_id"]].to_numpy(dtype=np.int64)
    else:
        array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    found = pd.Index(records["record_id"]).get_indexer(array.reshape(-1)).reshape(-1, 2)
    found = found[(found >= 0).all(axis=1) & (found[:, 0] != found[:, 1])]
    return found.min(axis=1).astype(np.int64), found.max(axis=1).astype(np.int64)


def _with_pairs(n: int, pairs: pd.DataFrame, extra: tuple[Int64Array, Int64Array]) -> pd.DataFrame:
    """``pairs`` followed by the ``extra`` pairs it lacks (blocked pairs keep their places)."""
    if not len(extra[0]):
        return pairs
    width = max(n, 1)
    have = pairs["left"].to_numpy() * width + pairs["right"].to_numpy()
    wanted = sorted_unique(extra[0] * width + extra[1])
    missing = wanted[~np.isin(wanted, have)]
    more = pd.DataFrame({"left": missing // width, "right": missing % width})
    return pd.concat([pairs, more], ignore_index=True)


def _is_pair(
    n: int, left: Int64Array, right: Int64Array, pairs: tuple[Int64Array, Int64Array]
) -> npt.NDArray[np.bool_]:
    if not len(pairs[0]):
        return np.zeros(len(left), dtype=bool)
    width = max(n, 1)
    return np.isin(left * width + right, pairs[0] * width + pairs[1])


def _links(
    records: pd.DataFrame,
    left: Int64Array,
    right: Int64Array,
    scores: pd.DataFrame,
) -> pd.DataFrame:
    ids = records["record_id"].to_numpy(dtype=np.int64)
    left_ids, right_ids = ids[left], ids[right]
    links = pd.DataFrame(
        {
            "left_record_id": np.minimum(left_ids, right_ids),
            "right_record_id": np.maximum(left_ids, right_ids),
            "rule": pd.array(scores["rule"].array, dtype="string"),
            "score": scores["score"].to_numpy(dtype=np.float64),
        }
    )
    return links.sort_values(["left_record_id", "right_record_id"], ignore_index=True)


def _scored_pairs(
    records: pd.DataFrame,
    comparisons: list[Comparison],
    left: Int64Array,
    right: Int64Array,
    decision: npt.NDArray[np.int8],
    weights: npt.NDArray[np.float64],
    probability: npt.NDArray[np.float64],
    rule: pd.Series,
    levels: npt.NDArray[np.int8],
) -> pd.DataFrame:
    keep = np.flatnonzero(decision != Decision.NON_MATCH)
    ids = records["record_id"].to_numpy(dtype=np.int64)
    left_ids, right_ids = ids[left[keep]], ids[right[keep]]
    frame = pd.DataFrame(
        {
            "left_record_id": np.minimum(left_ids, right_ids),
            "right_record_id": np.maximum(left_ids, right_ids),
            "decision": decision[keep].astype(np.int8),
            "weight": weights[keep],
            "probability": probability[keep],
            "rule": pd.array(rule.array[keep], dtype="string"),
            **{f"{LEVEL_PREFIX}{c.name}": levels[i, keep] for i, c in enumerate(comparisons)},
        }
    )
    return frame.sort_values(["left_record_id", "right_record_id"], ignore_index=True)
