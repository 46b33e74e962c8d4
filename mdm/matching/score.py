"""Scoring: one score per candidate pair from its comparison levels.

The deterministic scorer applies the match rules: a pair scores 1.0 when every field of some
rule agrees exactly, else 0.0, and it is explained by the first such rule in spec order.

The probabilistic scorer sums Fellegi-Sunter weights (``mdm.matching.model``): the prior's and
each comparison's level weight, term-frequency adjusted where the comparison asks for it.
Deterministic rules of a probabilistic spec then force a match or a non-match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import assert_never

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit

from mdm.config.match_spec import MatchMethod, MatchRuleSpec, MatchSpec, RuleAction
from mdm.matching.compare import EXACT, PAIRS_AT_ONCE
from mdm.matching.comparisons import ELSE, NULL, Comparison
from mdm.matching.encoded import EncodedRecords
from mdm.matching.model import ComparisonModel, FellegiSunterModel
from mdm.matching.values import FieldValues, IntArray


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
        case MatchMethod.DIFFERENT | MatchMethod.UNLIKE:  # refused for method "rules"
            raise ValueError(
                f"rule {rule.name!r}: {rule.method.value!r} rules only force non-matches"
            )
        case _:
            assert_never(rule.method)


# ---- probabilistic ---------------------------------------------------------------------------


def match_weights(
    levels: npt.NDArray[np.int8],
    model: FellegiSunterModel,
    comparisons: Sequence[Comparison],
    records: EncodedRecords,
    left: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Each pair's match weight: the prior's plus its levels' (comparisons, pairs), for pairs
    of rows ``left[i]``, ``right[i]`` of ``records`` (only ``left`` is read: a term-frequency
    adjustment applies where the two values are one).

    A term-frequency adjusted comparison weighs an exact match by the value's own frequency
    (``records.shares``; the shares among ``records`` for a field without given shares)
    instead of the average u: ``log2(m / max(frequency, tf_minimum_u))``.

    Pairs are weighed ``PAIRS_AT_ONCE`` at a time: each pair's sum is the same, and the
    temporary arrays stay the size of a slice.
    """
    shares = _tf_shares(model, comparisons, records)
    total = np.empty(levels.shape[1], dtype=np.float64)
    for start in range(0, levels.shape[1], PAIRS_AT_ONCE):
        at = slice(start, start + PAIRS_AT_ONCE)
        total[at] = _weights(levels[:, at], model, comparisons, records, shares, left[at])
    return total


def _tf_shares(
    model: FellegiSunterModel, comparisons: Sequence[Comparison], records: EncodedRecords
) -> dict[str, npt.NDArray[np.float64]]:
    """Each term-frequency adjusted field's value shares, computed once for all slices."""
    shares: dict[str, npt.NDArray[np.float64]] = {}
    for comparison, fitted in zip(comparisons, model.comparisons, strict=True):
        field = comparison.field
        if fitted.tf_adjust and field in records.fields and field not in shares:
            given = records.shares.get(field)
            shares[field] = records.values(field).frequencies() if given is None else given
    return shares


def _weights(
    levels: npt.NDArray[np.int8],
    model: FellegiSunterModel,
    comparisons: Sequence[Comparison],
    records: EncodedRecords,
    shares: Mapping[str, npt.NDArray[np.float64]],
    left: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    total = np.full(levels.shape[1], model.prior_weight, dtype=np.float64)
    context_by = within_context(levels, model, comparisons)
    for index, (comparison, fitted) in enumerate(zip(comparisons, model.comparisons, strict=True)):
        weight = fitted.weight_table()[levels[index]]
        # Within the context, every comparison but the one that makes it weighs as among
        # the context's pairs; u_context is already the context's own frequency (no TF).
        local = None
        if context_by is not None and fitted.u_context is not None:
            local = (context_by >= 0) & (context_by != index)
            weight = np.where(local, fitted.context_weight_table()[levels[index]], weight)
        if comparison.field in shares and fitted.tf_adjust:
            codes = records.values(comparison.field).codes
            adjust = tf_adjustment(
                levels[index], comparison, fitted, codes, shares[comparison.field], left
            )
            if local is not None:
                adjust[local] = 0.0
            weight = weight + adjust
        total += weight
    return total


def within_context(
    levels: npt.NDArray[np.int8], model: FellegiSunterModel, comparisons: Sequence[Comparison]
) -> npt.NDArray[np.int64] | None:
    """Per pair, the comparison that puts it in the model's context, -1 where none (None: the
    model has no context): the context comparison where it agrees exactly; where it is null,
    the first of ``context_also`` in full agreement."""
    index = model.context_index
    if index is None:
        return None
    by = np.where(levels[index] == comparisons[index].exact_code, index, -1).astype(np.int64)
    open_ = levels[index] == NULL
    for also in model.context_also_indexes:
        agrees = open_ & (levels[also] == comparisons[also].exact_code)
        by[agrees] = also
        open_ &= ~agrees
    return by


def tf_adjustment(
    levels: npt.NDArray[np.int8],
    comparison: Comparison,
    fitted: ComparisonModel,
    codes: IntArray,
    shares: npt.NDArray[np.float64],
    left: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Bits to add to each pair's weight: ``log2(u_exact / max(share, floor))`` where the
    pair matches exactly (its two values are one), else 0. ``codes``: each row's value code;
    ``shares``: each value's share."""
    out = np.zeros(len(levels), dtype=np.float64)
    exact = np.flatnonzero(levels == comparison.exact_code)
    if not len(exact):
        return out
    u_tf = np.maximum(shares[codes[left[exact]]], fitted.tf_minimum_u)
    out[exact] = math.log2(fitted.u[comparison.exact_code]) - np.log2(u_tf)
    return out


def probabilities(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``2^w / (1 + 2^w)``, without overflow."""
    return np.asarray(expit(weights * math.log(2.0)), dtype=np.float64)


def forced_by_rules(
    rules: Sequence[MatchRuleSpec],
    values: Mapping[str, FieldValues],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    levels: npt.NDArray[np.int8] | None = None,
    comparisons: Sequence[Comparison] = (),
) -> tuple[npt.NDArray[np.int8], pd.Series]:
    """The deterministic rules' verdict per pair: +1 forced match, -1 forced non-match, 0 none,
    and the name of the deciding rule (a categorical of the rules' names, NA when none). A
    forced non-match beats a forced match; among rules of one action, the first in the file
    names the pair. ``unlike`` rules read the
    pairs' ``levels`` (comparisons, pairs) of ``comparisons``."""
    verdict = np.zeros(len(left), dtype=np.int8)
    names = list(dict.fromkeys(rule.name for rule in rules))
    # A rule's position among the names per pair (-1: none), not a string per pair.
    deciding = np.full(len(left), -1, dtype=np.int16)
    for start in range(0, len(left), PAIRS_AT_ONCE):  # the gathered codes stay a slice's
        at = slice(start, start + PAIRS_AT_ONCE)
        part_levels = None if levels is None else levels[:, at]
        for action, code in ((RuleAction.MATCH, 1), (RuleAction.NON_MATCH, -1)):
            for rule in reversed([r for r in rules if r.action is action]):
                holds = _rule_holds(rule, values, left[at], right[at], part_levels, comparisons)
                verdict[at][holds] = code
                deciding[at][holds] = names.index(rule.name)
    categories = pd.Index(names, dtype="string")
    return verdict, pd.Series(pd.Categorical.from_codes(deciding, categories=categories))


def _rule_holds(
    rule: MatchRuleSpec,
    values: Mapping[str, FieldValues],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    levels: npt.NDArray[np.int8] | None,
    comparisons: Sequence[Comparison],
) -> npt.NDArray[np.bool_]:
    holds = np.ones(len(left), dtype=bool)
    for field in rule.fields:
        holds &= _field_holds(rule, field, values[field], left, right, levels, comparisons)
    for field in rule.unless:
        codes = values[field].codes
        holds &= ~((codes[left] >= 0) & (codes[left] == codes[right]))
    return holds


def _field_holds(
    rule: MatchRuleSpec,
    field: str,
    values: FieldValues,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    levels: npt.NDArray[np.int8] | None,
    comparisons: Sequence[Comparison],
) -> npt.NDArray[np.bool_]:
    a, b = values.codes[left], values.codes[right]
    present: npt.NDArray[np.bool_] = (a >= 0) & (b >= 0)
    match rule.method:
        case MatchMethod.EXACT:
            return present & np.equal(a, b)
        case MatchMethod.DIFFERENT:
            return present & np.not_equal(a, b)
        case MatchMethod.UNLIKE:
            index = next((i for i, c in enumerate(comparisons) if c.field == field), None)
            if levels is None or index is None:
                raise ValueError(f"rule {rule.name!r}: 'unlike' needs the levels of {field!r}")
            initials = values.derived("initial", _initials)
            first_letters = values.derived("first_letter", _first_letters)
            starts = values.derived("start", _starts)
            if not len(initials):  # no record has a value: no pair is unlike
                return np.zeros(len(left), dtype=bool)
            a_, b_ = np.maximum(a, 0), np.maximum(b, 0)
            abbreviated = (initials[a_] | initials[b_]) & (first_letters[a_] == first_letters[b_])
            # A short form the nickname list lacks starts like the name (Andi ~ Andreas).
            abbreviated |= (starts[a_] != "") & (starts[a_] == starts[b_])
            unlike: npt.NDArray[np.bool_] = np.equal(levels[index], ELSE) & ~abbreviated
            return present & unlike
        case _:
            assert_never(rule.method)


def _initials(uniques: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Whether each value is an initial: one letter, perhaps with a dot."""
    return np.array([len(str(v).rstrip(".")) == 1 for v in uniques], dtype=bool)


def _first_letters(uniques: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    return np.array([str(v)[:1] for v in uniques], dtype=object)


def _starts(uniques: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Each value's first three letters ("" when it is shorter)."""
    return np.array([str(v)[:3] if len(str(v)) >= 3 else "" for v in uniques], dtype=object)
