"""Refining a Fellegi-Sunter model with labelled pairs: the stewards' decisions.

A model learned without labels (``mdm.matching.train``) takes m from expectation-maximisation
over the blocked pairs and u from random record pairs. A steward's must-link shows what one
match looks like, a cannot-link what one non-match looks like. ``refine_from_decisions`` pools
them with the unsupervised estimates, which count as a number of pairs already seen (the
pseudo-counts of a Dirichlet prior centred on them); each level's probability becomes

    m'[level] = (N_m * m[level] + must-links at the level) / (N_m + must-links with a level)
    u'[level] = (N_u * u[level] + cannot-links at the level) / (N_u + cannot-links with a level)

counting only the pairs whose level is not null (no evidence, as in scoring). How much the
unsupervised estimates count differs, on purpose:

* **m**: ``N_m = prior_pairs`` (100 by default): a handful of must-links nudges m, a few hundred
  outweigh it. EM's m is the model's weakest part: it rests on conditional independence, which
  fails most for the pairs near the threshold, so its errors are systematic, not the noise of a
  small sample, and the thousands of pairs it was learned from say little about how sure it is.
  Must-links are chosen pairs too (stewards decide the review queue: matches the model doubted),
  so m moves towards the disagreements of the matches the model underrates; that is the point,
  and ``N_m`` bounds it.
* **u**: ``N_u`` = the random pairs u was measured on (``u_sample_pairs``: 500,000 by default);
  ``u_context`` (a contact's employer): the non-matching pairs that share the context it was
  learned from. A cannot-link counts as one more non-matching pair, no more. Stewards decide the
  pairs that look like matches, so cannot-links agree far more often than non-matches do;
  weighed like must-links they make an agreement on a name or a phone look common among
  non-matches, and recall collapses (measured with 300 contact decisions of the customer
  benchmark, scoring the undecided candidate pairs at the match threshold: F1 0.97 with u as
  measured, 0.19 with ``N_u = 100``). Where u rests on few sample pairs (an agreement random
  pairs almost never show), a few cannot-links still move it.
* **The prior** (the probability that two random records match): unchanged. Decided pairs are
  picked because they look alike; how many of them match says nothing about how often two
  random records do.

A cannot-link that the scorer weighs within the model's context (two contacts of one
employer: ``mdm.matching.score.within_context``) updates ``u_context`` of the comparisons scored
within it, and u of the others, as the scorer would read them.

The refined model keeps the unsupervised estimates in its training record
(``training["decisions"]["base"]``): refining again starts from them (``unsupervised``), so the
same decisions always give the same model and no decision is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mdm.matching.comparisons import NULL, Comparison
from mdm.matching.model import ComparisonModel, FellegiSunterModel
from mdm.matching.score import within_context

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]

DECISIONS: Final = "decisions"  # the key of the training record that says a model is refined
DEFAULT_PRIOR_PAIRS: Final = 100.0
# u's pseudo-pairs when the model does not say how many pairs it was measured on.
DEFAULT_U_PAIRS: Final = 500_000.0
METHOD: Final = (
    "m: the unsupervised m as prior_pairs pseudo-pairs plus the must-link pairs; u (u_context "
    "within the context): the random (context) pairs it was measured on plus the cannot-link "
    "pairs; prior unchanged"
)


@dataclass(frozen=True)
class LevelChange:
    """How one level of one comparison moved: unsupervised (``*_before``) to refined."""

    comparison: str
    level: str
    m_before: float
    m_after: float
    u_before: float
    u_after: float
    weight_before: float  # log2(m / u), bits
    weight_after: float
    u_context_before: float | None = None
    u_context_after: float | None = None

    @property
    def moved(self) -> float:
        """The largest change in bits, of the weight or of the weight within the context."""
        change = abs(self.weight_after - self.weight_before)
        if self.u_context_before is not None and self.u_context_after is not None:
            before = math.log2(self.m_before) - math.log2(self.u_context_before)
            after = math.log2(self.m_after) - math.log2(self.u_context_after)
            change = max(change, abs(after - before))
        return change


def is_refined(model: FellegiSunterModel) -> bool:
    """Whether ``model`` was refined from decisions (its training record keeps the base)."""
    return DECISIONS in model.training


def unsupervised(model: FellegiSunterModel) -> FellegiSunterModel:
    """The model as learned without labels: ``model`` itself, or the base a refined one keeps.

    Raises ``ValueError`` when the kept base does not fit the model's comparisons."""
    if not is_refined(model):
        return model
    record = model.training[DECISIONS]
    base = record.get("base") if isinstance(record, Mapping) else None
    if not isinstance(base, Mapping):
        raise ValueError("the training record 'decisions' keeps no 'base'")
    kept = base.get("comparisons", {})
    comparisons = []
    for comparison in model.comparisons:
        found = kept.get(comparison.name)
        if not isinstance(found, Mapping):
            raise ValueError(f"the base keeps no m and u of comparison {comparison.name!r}")
        u_context = found.get("u_context")
        comparisons.append(
            replace(
                comparison,
                m=tuple(float(x) for x in found["m"]),
                u=tuple(float(x) for x in found["u"]),
                u_context=None if u_context is None else tuple(float(x) for x in u_context),
            )
        )
    training = {key: value for key, value in model.training.items() if key != DECISIONS}
    return FellegiSunterModel(
        model.entity,
        float(base["prior"]),
        tuple(comparisons),
        training,
        context=model.context,
        context_also=model.context_also,
    )


def refine_from_decisions(
    model: FellegiSunterModel,
    comparisons: Sequence[Comparison],
    levels: Int8Array,
    is_match: npt.NDArray[np.bool_],
    *,
    prior_pairs: float = DEFAULT_PRIOR_PAIRS,
    details: Mapping[str, Any] | None = None,
) -> FellegiSunterModel:
    """``model`` (as learned without labels, see ``unsupervised``) refined with decided pairs:
    their ``levels`` (comparisons, pairs; the codes ``compare_pairs`` gives) and whether each is
    a match (must-link) or not (cannot-link). ``details`` are added to the training record.

    With no pairs, the model is returned as it is."""
    if prior_pairs <= 0:
        raise ValueError(f"prior_pairs must be positive, got {prior_pairs}")
    if levels.shape != (len(comparisons), len(is_match)):
        raise ValueError(
            f"levels of shape {levels.shape} for {len(comparisons)} comparisons and "
            f"{len(is_match)} pairs"
        )
    if is_refined(model):
        raise ValueError("refine the unsupervised model (see 'unsupervised'), not a refined one")
    model.check(comparisons, context=model.context, context_also=model.context_also)
    if not len(is_match):
        return model
    u_pairs = _u_pairs(model)
    context_pairs = _context_pairs(model, u_pairs)
    context_by = within_context(levels, model, comparisons)
    refined = []
    for index, fitted in enumerate(model.comparisons):
        column = levels[index]
        known = column != NULL
        in_context = np.zeros(len(column), dtype=bool)
        if context_by is not None and fitted.u_context is not None:
            in_context = (context_by >= 0) & (context_by != index)
        count = len(fitted.labels)
        m = _pooled(fitted.m, prior_pairs, _counts(column, known & is_match, count))
        u = _pooled(fitted.u, u_pairs, _counts(column, known & ~is_match & ~in_context, count))
        u_context = fitted.u_context
        if u_context is not None:
            local = _counts(column, known & ~is_match & in_context, count)
            u_context = _pooled(u_context, context_pairs, local)
        refined.append(replace(fitted, m=m, u=u, u_context=u_context))
    record = {
        "method": METHOD,
        "must_link": int(is_match.sum()),
        "cannot_link": int((~is_match).sum()),
        "prior_pairs": float(prior_pairs),
        "u_pairs": u_pairs,
        **({"u_context_pairs": context_pairs} if model.context is not None else {}),
        **(details or {}),
        "base": _base(model),
    }
    return FellegiSunterModel(
        model.entity,
        model.prior,
        tuple(refined),
        {**model.training, DECISIONS: record},
        context=model.context,
        context_also=model.context_also,
    )


def level_changes(before: FellegiSunterModel, after: FellegiSunterModel) -> list[LevelChange]:
    """Every level of every comparison, strongest level first, as it moved from ``before`` to
    ``after`` (two models of the same comparisons)."""
    changes = []
    for old, new in zip(before.comparisons, after.comparisons, strict=True):
        if old.name != new.name or old.labels != new.labels:
            raise ValueError(f"comparison {old.name!r} differs from {new.name!r}")
        for code in reversed(range(len(old.labels))):
            changes.append(
                LevelChange(
                    comparison=old.name,
                    level=old.labels[code],
                    m_before=old.m[code],
                    m_after=new.m[code],
                    u_before=old.u[code],
                    u_after=new.u[code],
                    weight_before=old.weights[code],
                    weight_after=new.weights[code],
                    u_context_before=None if old.u_context is None else old.u_context[code],
                    u_context_after=None if new.u_context is None else new.u_context[code],
                )
            )
    return changes


def _counts(column: Int8Array, rows: npt.NDArray[np.bool_], count: int) -> FloatArray:
    return np.bincount(column[rows], minlength=count).astype(np.float64)


def _pooled(base: Sequence[float], pseudo: float, counts: FloatArray) -> tuple[float, ...]:
    """The Dirichlet mean: ``base`` counted as ``pseudo`` pairs, plus ``counts`` by level."""
    if not counts.sum():  # no evidence: the estimate as it was, to the last bit
        return tuple(float(x) for x in base)
    pooled = (pseudo * np.asarray(base, dtype=np.float64) + counts) / (pseudo + counts.sum())
    return tuple(float(x) for x in pooled)


def _u_pairs(model: FellegiSunterModel) -> float:
    pairs = float(model.training.get("u_sample_pairs") or 0.0)
    return pairs if pairs > 0 else DEFAULT_U_PAIRS


def _context_pairs(model: FellegiSunterModel, fallback: float) -> float:
    """The non-matching pairs sharing the context that ``u_context`` was learned from."""
    context = model.training.get("context")
    if not isinstance(context, Mapping):
        return fallback
    pairs = float(context.get("pairs") or 0.0) * (1.0 - float(context.get("match_share") or 0.0))
    return pairs if pairs >= 1.0 else fallback


def _base(model: FellegiSunterModel) -> dict[str, Any]:
    """The unsupervised estimates, by comparison name and level code, to refine again from."""
    return {
        "prior": model.prior,
        "comparisons": {c.name: _estimates(c) for c in model.comparisons},
    }


def _estimates(comparison: ComparisonModel) -> dict[str, list[float]]:
    found = {"m": list(comparison.m), "u": list(comparison.u)}
    if comparison.u_context is not None:
        found["u_context"] = list(comparison.u_context)
    return found
