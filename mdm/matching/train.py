"""Learning the Fellegi-Sunter model without labels.

1. **u** from a seeded random sample of record pairs (all pairs when there are few): nearly all
   random pairs are different entities, so a level's share among them is its u.
2. **m** by expectation-maximisation over the blocked pairs. Blocked pairs agree on their
   blocking keys by construction, so the comparisons of a rule's fields say nothing there: EM
   runs once per blocking rule, on that rule's pairs, without the comparisons of the rule's
   fields (as Splink trains per blocking rule). Inside one rule's pairs the non-matches agree
   more often than random pairs (two firms in one city share a postcode area and a dialling
   code), so EM starts from the random-pair u but estimates the non-matches' level shares of
   these pairs too; with u held at the random-pair values instead, the "match" class can
   swallow every pair of a loose rule. That u serves the EM only; scoring uses the random-pair
   u. Each comparison's m is the average of its estimates over the rules that could see it,
   weighted by the expected matches of each.
3. **prior**: each pair's match probability under the EM of the first rule that made it, summed
   over the blocked pairs, is the expected number of matches; divided by the number of pairs
   that could be made, it is the probability that two random records match (blocking that
   misses matches makes it a little low, which errs towards fewer matches).
4. The random sample holds a few matches too, which inflates u for rare agreements (an id
   agrees in a random pair mostly when the pair is a match). So u is estimated again from the
   sample with each pair weighted by its probability of not matching, and m with it: two
   rounds.

Everything runs on the distinct level patterns of the pairs (with their counts), not on pairs:
thousands of patterns stand for millions of pairs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit

from mdm.config.match_spec import BlockingRuleSpec, TrainingSpec
from mdm.matching.comparisons import NULL, Comparison
from mdm.matching.model import ComparisonModel, FellegiSunterModel
from mdm.matching.values import IntArray

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]

M_PSEUDO_COUNT = 1.0  # spread over a comparison's levels: no level is impossible
U_PSEUDO_COUNT = 1.0
PRIOR_LIMITS = (1e-12, 0.5)
ROUNDS = 2
# Inside one rule's EM, u is pulled towards the random-pair u by as many pseudo-pairs as the
# rule has pairs: free enough to absorb a block's correlated agreement, anchored enough that
# the non-match class cannot take the matches' typical disagreements (a move) for its own.
U_PRIOR_SHARE = 1.0


@dataclass(frozen=True)
class Patterns:
    """Distinct rows of a (pairs, comparisons) level matrix, with how many pairs have each."""

    levels: Int8Array  # (patterns, comparisons)
    counts: FloatArray
    inverse: IntArray  # pattern of each pair


def patterns(levels: Int8Array, extra: IntArray | None = None) -> Patterns:
    """The distinct columns of ``levels`` (comparisons, pairs), optionally split by ``extra``
    (a code per pair, e.g. which rules made it): then rows repeat once per extra code."""
    count, pairs = levels.shape
    if pairs == 0:
        return Patterns(np.empty((0, count), np.int8), np.empty(0), np.empty(0, np.int64))
    radix = [int(levels[c].max(initial=0)) + 2 for c in range(count)]
    if float(np.prod(np.array(radix, dtype=np.float64))) < 2.0**62:
        key = np.zeros(pairs, dtype=np.int64)
        for c in range(count):
            key = key * radix[c] + (levels[c].astype(np.int64) + 1)
    else:  # too many comparisons for one int64: number the rows instead
        _, key = np.unique(levels.T, axis=0, return_inverse=True)
        key = key.reshape(-1).astype(np.int64)
    if extra is not None:
        extra_codes, extra_unique = pd.factorize(extra)
        key_codes, _ = pd.factorize(key)
        key = np.asarray(key_codes, np.int64) * len(extra_unique) + np.asarray(extra_codes)
    unique, first, inverse, counts = np.unique(
        key, return_index=True, return_inverse=True, return_counts=True
    )
    del unique
    return Patterns(
        np.ascontiguousarray(levels[:, first].T),
        counts.astype(np.float64),
        inverse.reshape(-1).astype(np.int64),
    )


def log_ratio_tables(m: Sequence[FloatArray], u: Sequence[FloatArray]) -> list[FloatArray]:
    """Natural-log m/u per level, with a trailing 0 so that ``NULL`` (-1) indexes to 0."""
    return [np.append(np.log(mi) - np.log(ui), 0.0) for mi, ui in zip(m, u, strict=True)]


def log_odds(
    levels: Int8Array, tables: Sequence[FloatArray], active: npt.NDArray[np.bool_]
) -> FloatArray:
    """Sum of the active comparisons' log ratios per row of ``levels`` (rows, comparisons)."""
    total = np.zeros(len(levels), dtype=np.float64)
    for c in np.flatnonzero(active).tolist():
        total += tables[c][levels[:, c]]
    return total


@dataclass(frozen=True)
class EmResult:
    m: list[FloatArray]
    prior: float
    posterior: FloatArray  # per pattern
    iterations: int
    converged: bool


def expectation_maximisation(
    pattern_levels: Int8Array,
    counts: FloatArray,
    u: Sequence[FloatArray],
    m_start: Sequence[FloatArray],
    active: npt.NDArray[np.bool_],
    *,
    prior_start: float = 0.1,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    free_u: bool = False,
) -> EmResult:
    """m of the active comparisons and the share of matches among ``pattern_levels`` (rows of
    level codes with ``counts``). Inactive comparisons keep ``m_start``.

    u starts from ``u`` and stays fixed, unless ``free_u``: then it is estimated too, as the
    level shares among these pairs' non-matches (which, inside a block, agree more often than
    random pairs do: same city, same postcode area). The global u is not changed by this.
    """
    m = [np.array(mi, dtype=np.float64) for mi in m_start]
    u_start = [np.array(ui, dtype=np.float64) for ui in u]
    u = list(u_start)
    prior = prior_start
    posterior = np.zeros(len(counts))
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported after the loop)
        tables = log_ratio_tables(m, u)
        logit = np.log(prior) - np.log1p(-prior) + log_odds(pattern_levels, tables, active)
        posterior = expit(logit)
        weighted = counts * posterior
        change = 0.0
        for c in np.flatnonzero(active).tolist():
            column = pattern_levels[:, c]
            valid = column != NULL
            sums = np.bincount(column[valid], weights=weighted[valid], minlength=len(m[c]))
            pseudo = M_PSEUDO_COUNT / len(m[c])
            new = (sums + pseudo) / (sums.sum() + M_PSEUDO_COUNT)
            change = max(change, float(np.abs(new - m[c]).max()))
            m[c] = new
            if free_u:  # the non-matches of these pairs, not of random pairs
                others = np.bincount(
                    column[valid], weights=(counts - weighted)[valid], minlength=len(m[c])
                )
                prior_weight = U_PRIOR_SHARE * float(counts.sum())
                u[c] = (others + prior_weight * u_start[c]) / (others.sum() + prior_weight)
        new_prior = float(np.clip(weighted.sum() / max(counts.sum(), 1.0), 1e-9, 1 - 1e-9))
        change = max(change, abs(new_prior - prior))
        prior = new_prior
        if change < tolerance:
            converged = True
            break
    return EmResult(m, prior, posterior, iterations, converged)


def posterior_m(column: Int8Array, weighted: FloatArray, level_count: int) -> FloatArray | None:
    """A comparison's m as the level shares among the expected matches (``weighted``: pattern
    counts times their match posterior), as an EM step would take it; None without a value."""
    valid = column != NULL
    sums = np.bincount(column[valid], weights=weighted[valid], minlength=level_count)
    if not sums.sum() > 0:
        return None
    pseudo = M_PSEUDO_COUNT / len(sums)
    out: FloatArray = (sums + pseudo) / (sums.sum() + M_PSEUDO_COUNT)
    return out


def starting_m(level_count: int) -> FloatArray:
    """Stronger agreement is likelier among matches: m grows 4-fold per level."""
    raw = np.power(4.0, np.arange(level_count, dtype=np.float64))
    out: FloatArray = raw / raw.sum()
    return out


def estimate_u(
    levels: Int8Array, weights: FloatArray | None, level_counts: Sequence[int]
) -> list[FloatArray]:
    """Each comparison's level shares among sample pairs (rows, comparisons) with ``weights``."""
    w = np.ones(len(levels)) if weights is None else weights
    out = []
    for c, k in enumerate(level_counts):
        column = levels[:, c]
        valid = column != NULL
        sums = np.bincount(column[valid], weights=w[valid], minlength=k)
        out.append((sums + U_PSEUDO_COUNT / k) / (sums.sum() + U_PSEUDO_COUNT))
    return out


def sample_pairs(
    record_ids: npt.ArrayLike,
    size: int,
    seed: int,
    groups: IntArray | None = None,
) -> tuple[IntArray, IntArray]:
    """Random pairs of rows (``left != right``), every pair when there are at most ``size``.

    Rows are drawn in ``record_ids`` order, so the sample does not depend on row order. With
    ``groups``, only pairs across groups.
    """
    order = np.argsort(np.asarray(record_ids), kind="stable").astype(np.int64)
    n = len(order)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if n * (n - 1) // 2 <= size:
        left, right = np.triu_indices(n, 1)
        left, right = order[left], order[right]
    else:
        rng = np.random.default_rng(seed)
        draw = size if groups is None else 3 * size
        i = rng.integers(0, n, draw)
        j = rng.integers(0, n - 1, draw)
        j = j + (j >= i)
        left, right = order[i], order[j]
    if groups is not None:
        across = groups[left] != groups[right]
        left, right = left[across][:size], right[across][:size]
    return left.astype(np.int64), right.astype(np.int64)


def train_model(
    entity: str,
    comparisons: Sequence[Comparison],
    levels: Int8Array,
    rule_bits: npt.NDArray[np.uint64],
    rules: Sequence[BlockingRuleSpec],
    sample_levels: Int8Array,
    pair_space: float,
    training: TrainingSpec,
    metadata: dict[str, Any],
    passive: Collection[str] = (),
) -> FellegiSunterModel:
    """The model learned from the blocked pairs' ``levels`` (comparisons, pairs) with their
    ``rule_bits``, and the random sample's ``sample_levels`` (comparisons, sample pairs).

    ``passive`` comparisons (the employer's stand-ins, ``context_also``) take no part in
    expectation-maximisation: their m is read off the posterior the others give. Evidence of
    a shared employer would otherwise let EM learn "colleagues" instead of "one person"."""
    blocked = patterns(levels, extra=rule_bits.astype(np.int64))
    pattern_bits = rule_bits[_first_index(blocked.inverse, len(blocked.counts))]
    return train_on_patterns(
        entity,
        comparisons,
        blocked,
        pattern_bits,
        rules,
        sample_levels,
        pair_space,
        training,
        metadata,
        passive,
    )


def train_on_patterns(
    entity: str,
    comparisons: Sequence[Comparison],
    blocked: Patterns,
    pattern_bits: npt.NDArray[np.uint64],
    rules: Sequence[BlockingRuleSpec],
    sample_levels: Int8Array,
    pair_space: float,
    training: TrainingSpec,
    metadata: dict[str, Any],
    passive: Collection[str] = (),
) -> FellegiSunterModel:
    """``train_model`` from the blocked pairs' distinct (levels, rule bits) patterns with their
    counts, ordered as ``patterns(levels, extra=rule_bits)`` orders them (sums run in that
    order), and each pattern's rule bits: what an engine that aggregates pairs where they
    live (Spark) hands over instead of the pairs."""
    level_counts = [c.level_count for c in comparisons]
    sample = patterns(sample_levels)
    pattern_first = _first_rule(pattern_bits)
    u = estimate_u(sample.levels, sample.counts, level_counts)
    m = [starting_m(k) for k in level_counts]
    prior = 1e-6
    warnings: list[str] = []
    rounds: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        m, expected, rounds, warnings = _m_by_rule(
            comparisons, blocked, pattern_bits, pattern_first, rules, u, m, training, passive
        )
        prior = float(np.clip(expected / max(pair_space, 1.0), *PRIOR_LIMITS))
        tables = log_ratio_tables(m, u)
        everything = np.ones(len(comparisons), dtype=bool)
        logit = np.log(prior) - np.log1p(-prior) + log_odds(sample.levels, tables, everything)
        u = estimate_u(sample.levels, sample.counts * (1.0 - expit(logit)), level_counts)
    info = {
        **metadata,
        "u_sample_pairs": int(sample.counts.sum()),
        "expected_matches": round(float(expected), 3) if blocked.counts.size else 0.0,
        "rules": rounds,
        "warnings": warnings,
    }
    return FellegiSunterModel(
        entity=entity,
        prior=prior,
        comparisons=tuple(
            ComparisonModel(
                name=c.name,
                field=c.field,
                labels=c.labels,
                m=tuple(float(x) for x in m[i]),
                u=tuple(float(x) for x in u[i]),
                tf_adjust=c.tf_adjust,
                tf_minimum_u=c.tf_minimum_u,
            )
            for i, c in enumerate(comparisons)
        ),
        training=info,
    )


def _m_by_rule(
    comparisons: Sequence[Comparison],
    blocked: Patterns,
    pattern_bits: npt.NDArray[np.uint64],
    pattern_first: IntArray,
    rules: Sequence[BlockingRuleSpec],
    u: list[FloatArray],
    m_start: list[FloatArray],
    training: TrainingSpec,
    passive: Collection[str] = (),
) -> tuple[list[FloatArray], float, list[dict[str, Any]], list[str]]:
    """m averaged over per-rule EM runs; the expected matches among the blocked pairs."""
    count = len(comparisons)
    sums = [np.zeros_like(mi) for mi in m_start]
    support = np.zeros(count)
    expected = 0.0
    reports: list[dict[str, Any]] = []
    for index, rule in enumerate(rules):
        mine = (pattern_bits >> np.uint64(index)) & np.uint64(1) == 1
        fields = {f for key in rule.keys for f in key.inputs}
        usable = np.array([not fields.intersection(c.fields) for c in comparisons], dtype=bool)
        listened = np.array([c.name in passive for c in comparisons], dtype=bool) & usable
        active = usable & ~listened
        first = pattern_first == index
        if not mine.any():
            reports.append({"rule": rule.name, "pairs": 0})
            continue
        if not active.any():  # the rule's keys cover every comparison: its pairs agree fully
            expected += float(blocked.counts[first].sum())
            reports.append({"rule": rule.name, "pairs": int(blocked.counts[mine].sum())})
            continue
        result = expectation_maximisation(
            blocked.levels[mine],
            blocked.counts[mine],
            u,
            m_start,
            active,
            max_iterations=training.max_iterations,
            tolerance=training.tolerance,
            free_u=True,
        )
        matches = float((blocked.counts[mine] * result.posterior).sum())
        for c in np.flatnonzero(active).tolist():
            sums[c] += matches * result.m[c]
            support[c] += matches
        for c in np.flatnonzero(listened).tolist():
            weighted = blocked.counts[mine] * result.posterior
            m_c = posterior_m(blocked.levels[mine][:, c], weighted, len(m_start[c]))
            if m_c is not None:
                sums[c] += matches * m_c
                support[c] += matches
        # The posterior of each pattern of this rule, for the pairs this rule made first.
        first_in_mine = first[mine]
        expected += float((blocked.counts[mine] * result.posterior)[first_in_mine].sum())
        reports.append(
            {
                "rule": rule.name,
                "pairs": int(blocked.counts[mine].sum()),
                "iterations": result.iterations,
                "converged": result.converged,
                "match_share": round(result.prior, 6),
                "excluded": [c.name for c, on in zip(comparisons, usable, strict=True) if not on],
                **(
                    {
                        "from_posterior": [
                            c.name for c, on in zip(comparisons, listened, strict=True) if on
                        ]
                    }
                    if listened.any()
                    else {}
                ),
            }
        )
    warnings = []
    m = []
    for c, comparison in enumerate(comparisons):
        if support[c] > 0:
            m.append(sums[c] / support[c])
        else:
            m.append(m_start[c])
            warnings.append(
                f"m of comparison {comparison.name!r} could not be learned: every blocking "
                "rule uses its field (or no pair was blocked); starting values kept"
            )
    return m, expected, reports, warnings


def _first_rule(bits: npt.NDArray[np.uint64]) -> IntArray:
    """The index of the lowest set bit of each value (0 when none is set)."""
    lowest = bits & (~bits + np.uint64(1))
    out = np.zeros(len(bits), dtype=np.int64)
    nonzero = lowest > 0
    out[nonzero] = np.round(np.log2(lowest[nonzero].astype(np.float64))).astype(np.int64)
    return out


def _first_index(inverse: IntArray, count: int) -> IntArray:
    """For each pattern, the first pair that has it."""
    first = np.full(count, len(inverse), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse), dtype=np.int64))
    return first


def refine_with_labels(
    model: FellegiSunterModel, label_levels: Int8Array, is_match: npt.NDArray[np.bool_]
) -> FellegiSunterModel:
    """m and u pooled with labelled pairs (levels: comparisons, pairs): a labelled match counts
    like one expected match of training, a labelled non-match like one random sample pair."""
    matches = float(model.training.get("expected_matches", 0.0)) or 1.0
    sampled = float(model.training.get("u_sample_pairs", 0.0)) or 1.0
    comparisons = []
    for c, comparison in enumerate(model.comparisons):
        k = len(comparison.labels)
        column = label_levels[c]
        valid = column != NULL
        match_counts = np.bincount(column[valid & is_match], minlength=k).astype(np.float64)
        other_counts = np.bincount(column[valid & ~is_match], minlength=k).astype(np.float64)
        m = (np.array(comparison.m) * matches + match_counts) / (matches + match_counts.sum())
        u = (np.array(comparison.u) * sampled + other_counts) / (sampled + other_counts.sum())
        comparisons.append(
            ComparisonModel(
                name=comparison.name,
                field=comparison.field,
                labels=comparison.labels,
                m=tuple(float(x) for x in m),
                u=tuple(float(x) for x in u),
                tf_adjust=comparison.tf_adjust,
                tf_minimum_u=comparison.tf_minimum_u,
                u_context=comparison.u_context,
            )
        )
    training = {
        **model.training,
        "labels": {"matches": int(is_match.sum()), "non_matches": int((~is_match).sum())},
    }
    return FellegiSunterModel(
        model.entity,
        model.prior,
        tuple(comparisons),
        training,
        context=model.context,
        context_also=model.context_also,
    )


# ---- the context ------------------------------------------------------------------------------


def context_pairs(
    codes: IntArray, record_ids: npt.ArrayLike, size: int, seed: int
) -> tuple[IntArray, IntArray]:
    """Pairs of rows that share a context value (``codes`` >= 0): every such pair when there
    are at most ``size``, else a seeded sample of ``size``, each pair equally likely. Rows are
    taken in ``record_ids`` order, so the pairs do not depend on row order."""
    rows = np.flatnonzero(codes >= 0)
    rows = rows[np.lexsort((np.asarray(record_ids)[rows], codes[rows]))]
    bounds = np.flatnonzero(np.diff(codes[rows])) + 1
    starts = np.r_[0, bounds]
    sizes = np.diff(np.r_[starts, len(rows)])
    pair_counts = sizes * (sizes - 1) // 2
    total = int(pair_counts.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if total <= size:
        lefts, rights = [], []
        for start, k in zip(starts[sizes >= 2].tolist(), sizes[sizes >= 2].tolist(), strict=True):
            i, j = np.triu_indices(k, 1)
            lefts.append(rows[start + i])
            rights.append(rows[start + j])
        return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)
    rng = np.random.default_rng(seed)
    group = rng.choice(len(sizes), size=size, p=pair_counts / total)
    k = sizes[group]
    i = (rng.random(size) * k).astype(np.int64)
    j = (rng.random(size) * (k - 1)).astype(np.int64)
    j = j + (j >= i)
    return rows[starts[group] + i].astype(np.int64), rows[starts[group] + j].astype(np.int64)


def context_u(
    model: FellegiSunterModel,
    context_levels: Int8Array,
    training: TrainingSpec,
) -> FellegiSunterModel:
    """``model`` with each comparison's u among the non-matching pairs that share the context,
    learned from ``context_levels`` (comparisons, pairs sharing the context) by EM with m held
    at the model's: the share of matches among those pairs is learned with it, so duplicates
    of one person inside an employer do not count as colleagues who agree.

    Each comparison's u is weighted by the pairs' posterior *without that comparison*: judged
    with it, colleagues who agree on it (a similar mailbox at the shared domain) would look
    like matches and leave the non-matches, and the agreement would look rare among
    colleagues exactly where it is common.
    """
    index = model.context_index
    if index is None:
        return model
    sample = patterns(context_levels)
    level_counts = [len(c.labels) for c in model.comparisons]
    m = [np.array(c.m, dtype=np.float64) for c in model.comparisons]
    if not sample.counts.sum():  # no two records share a context: nothing to learn from
        u = [np.array(c.u, dtype=np.float64) for c in model.comparisons]
        return _with_context_u(model, u, index, pairs=0, share=0.0)
    u = estimate_u(sample.levels, sample.counts, level_counts)
    others = [c for c in range(len(m)) if c != index]
    prior = 0.1
    for _ in range(training.max_iterations):
        tables = log_ratio_tables(m, u)
        parts = {c: tables[c][sample.levels[:, c]] for c in others}
        total = np.log(prior) - np.log1p(-prior) + sum(parts.values(), np.zeros(len(sample.counts)))
        for c in others:
            apart = sample.counts * (1.0 - expit(total - parts[c]))
            u[c] = estimate_u(sample.levels[:, [c]], apart, [level_counts[c]])[0]
        matched = float((sample.counts * expit(total)).sum() / sample.counts.sum())
        new_prior = float(np.clip(matched, 1e-9, 0.5))
        done = abs(new_prior - prior) < training.tolerance
        prior = new_prior
        if done:
            break
    return _with_context_u(model, u, index, pairs=int(sample.counts.sum()), share=prior)


def _with_context_u(
    model: FellegiSunterModel, u: list[FloatArray], index: int, pairs: int, share: float
) -> FellegiSunterModel:
    comparisons = tuple(
        c.with_u_context(None if i == index else u[i].tolist())
        for i, c in enumerate(model.comparisons)
    )
    training_info = {
        **model.training,
        "context": {"pairs": pairs, "match_share": round(share, 6)},
    }
    return FellegiSunterModel(
        model.entity,
        model.prior,
        comparisons,
        training_info,
        context=model.context,
        context_also=model.context_also,
    )
