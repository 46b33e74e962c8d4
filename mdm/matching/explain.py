"""Why two records match or not: every comparison's values, level, m, u and weight.

``explain_pair`` compares two records (in match form) exactly as the engine does and returns
the parts of the match weight: they add up to the total, whose probability is the pair's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import MatchSpec
from mdm.matching.compare import NULL, compare_levels
from mdm.matching.comparisons import Comparison, comparisons_from_spec
from mdm.matching.decide import Decision
from mdm.matching.model import FellegiSunterModel, log2_odds
from mdm.matching.score import forced_by_rules, probabilities, within_context
from mdm.matching.values import FieldValues


@dataclass(frozen=True)
class ComparisonExplanation:
    name: str
    field: str
    left: str | None
    right: str | None
    level: int  # the level code (-1: null)
    label: str
    m: float | None  # None for a null level: no evidence
    u: float | None  # the value's own frequency when term-frequency adjusted
    weight: float
    tf_adjusted: bool


@dataclass(frozen=True)
class Explanation:
    comparisons: tuple[ComparisonExplanation, ...]
    prior_weight: float
    total_weight: float  # prior_weight + every comparison's weight
    probability: float
    decision: Decision  # by the thresholds, then by the deterministic rules
    rule: str | None  # the deterministic rule that forced the decision, if any

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decision"] = self.decision.name
        return data


def explain_pair(
    record_a: pd.Series,
    record_b: pd.Series,
    spec: MatchSpec,
    model: FellegiSunterModel,
    *,
    frequencies: Mapping[str, pd.Series] | None = None,
) -> Explanation:
    """Explain the pair ``record_a``, ``record_b`` (match-form values by field name).

    ``frequencies`` (comparison name -> value -> share, as in ``MatchResult.term_frequencies``)
    give term-frequency adjusted comparisons the weight the engine gave; without them those
    comparisons weigh their average exact match.
    """
    comparisons = comparisons_from_spec(spec)
    model.check(comparisons, context=spec.context, context_also=spec.context_also)
    fields = sorted(
        {f for c in comparisons for f in c.fields} | {f for r in spec.rules for f in r.all_fields}
    )
    frame = pd.DataFrame(
        {f: pd.array([_value(record_a, f), _value(record_b, f)], dtype="string") for f in fields}
    )
    columns = {f: FieldValues.of(frame[f]) for f in fields}
    left, right = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    levels = compare_levels(frame, left, right, comparisons)[:, 0]
    parts = explained_levels(record_a, record_b, levels, comparisons, model, frequencies)
    total = model.prior_weight + sum(part.weight for part in parts)
    decision = Decision.NON_MATCH
    if total >= log2_odds(spec.thresholds.match):
        decision = Decision.MATCH
    elif total >= log2_odds(spec.thresholds.review):
        decision = Decision.REVIEW
    verdict, names = forced_by_rules(
        spec.rules, columns, left, right, levels[:, np.newaxis], comparisons
    )
    rule = None if pd.isna(names.iloc[0]) else str(names.iloc[0])
    if verdict[0] == 1:
        decision = Decision.MATCH
    elif verdict[0] == -1:
        decision = Decision.NON_MATCH
    return Explanation(
        comparisons=tuple(parts),
        prior_weight=model.prior_weight,
        total_weight=total,
        probability=float(probabilities(np.array([total]))[0]),
        decision=decision,
        rule=rule,
    )


def explained_levels(
    record_a: pd.Series,
    record_b: pd.Series,
    levels: npt.NDArray[np.int8] | Sequence[int],
    comparisons: Sequence[Comparison],
    model: FellegiSunterModel,
    frequencies: Mapping[str, pd.Series] | None = None,
) -> list[ComparisonExplanation]:
    """Each comparison's part of a pair's match weight, from the pair's ``levels`` (one code
    per comparison, as the engine compared them): ``explain_pair`` without comparing again,
    for a caller that holds the engine's levels of the pair (``MatchResult.pairs``)."""
    levels = np.asarray(levels, dtype=np.int8)
    context_by = within_context(levels[:, np.newaxis], model, comparisons)
    context = -1 if context_by is None else int(context_by[0])
    parts = []
    for index, (comparison, fitted, level) in enumerate(
        zip(comparisons, model.comparisons, levels.tolist(), strict=True)
    ):
        a, b = _values(record_a, comparison), _values(record_b, comparison)
        local = context >= 0 and context != index and fitted.u_context is not None
        tf = (
            fitted.tf_adjust
            and not local
            and level == comparison.exact_code
            and frequencies is not None
            and comparison.name in frequencies
        )
        if level == NULL:
            m = u = None
            weight = 0.0
        else:
            m = fitted.m[level]
            u = fitted.u_context[level] if local and fitted.u_context else fitted.u[level]
            if tf and frequencies is not None:
                share = float(frequencies[comparison.name].get(a, 0.0))
                u = max(share, fitted.tf_minimum_u)
            weight = math.log2(m) - math.log2(u)
        parts.append(
            ComparisonExplanation(
                name=comparison.name,
                field=comparison.field,
                left=a,
                right=b,
                level=int(level),
                label=_label(comparison, int(level), a, b, comparisons),
                m=m,
                u=u,
                weight=weight,
                tf_adjusted=bool(tf),
            )
        )
    return parts


def _values(record: pd.Series, comparison: Comparison) -> str | None:
    """The record's value of the comparison's field; a group's member values joined by " | "."""
    if not comparison.members:
        return _value(record, comparison.field)
    found = [_value(record, field) for field in comparison.member_fields]
    return None if all(v is None for v in found) else " | ".join(v or "" for v in found)


def _label(
    comparison: Comparison, level: int, a: str | None, b: str | None, others: Sequence[Comparison]
) -> str:
    """The level's label; a member whose differing values count in its group's level says so."""
    if level == NULL and a is not None and b is not None:
        for group in others:
            if comparison.name in group.members:
                return f"different (counted in {group.name!r})"
    return comparison.label_of(level)


def _value(record: pd.Series, field: str) -> str | None:
    if field not in record.index:
        return None
    value = record[field]
    return None if value is None or pd.isna(value) else str(value)
