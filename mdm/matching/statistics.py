"""What a match learned, for a run's report: pairs per blocking rule, the model's m, u and
weight per comparison level, the candidate pairs' match probabilities and the cluster sizes.

``MatchStatistics.to_dict()`` is plain JSON (stored with the run); ``from_dict`` reads it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mdm.matching.block import BlockingReport
from mdm.matching.model import FellegiSunterModel

SCORE_BINS = 20  # equal bins of the match probability from 0 to 1


@dataclass(frozen=True)
class RulePairs:
    """The candidate pairs one blocking rule made on its own (before the union of rules)."""

    rule: str
    pairs: int


@dataclass(frozen=True)
class LevelWeight:
    """One comparison level of the model that scored: m, u and weight (log2(m / u))."""

    comparison: str
    level: str
    m: float
    u: float
    weight: float


@dataclass(frozen=True)
class ScoreHistogram:
    """Counts of pairs per probability bin: bin ``i`` is ``[edges[i], edges[i + 1])``, the
    last bin includes 1.0."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class ClusterSizes:
    """How many clusters have each size (sizes ascending, only sizes that occur)."""

    sizes: tuple[int, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class MatchStatistics:
    blocking: tuple[RulePairs, ...]
    levels: tuple[LevelWeight, ...]
    scores: ScoreHistogram
    clusters: ClusterSizes

    @classmethod
    def of(
        cls,
        reports: Iterable[BlockingReport],
        model: FellegiSunterModel | None,
        probability: npt.ArrayLike,
        labels: npt.ArrayLike,
    ) -> MatchStatistics:
        """The statistics of a match: its blocking ``reports``, the ``model`` that scored
        (None for deterministic rules), the candidate pairs' match ``probability`` and the
        cluster label of each record."""
        return cls(
            blocking=tuple(RulePairs(report.rule, report.pairs) for report in reports),
            levels=level_weights(model),
            scores=score_histogram(probability),
            clusters=cluster_sizes(labels),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocking": [{"rule": r.rule, "pairs": r.pairs} for r in self.blocking],
            "levels": [
                {
                    "comparison": level.comparison,
                    "level": level.level,
                    "m": level.m,
                    "u": level.u,
                    "weight": level.weight,
                }
                for level in self.levels
            ],
            "scores": {"edges": list(self.scores.edges), "counts": list(self.scores.counts)},
            "clusters": {"sizes": list(self.clusters.sizes), "counts": list(self.clusters.counts)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchStatistics:
        return cls(
            blocking=tuple(RulePairs(str(r["rule"]), int(r["pairs"])) for r in data["blocking"]),
            levels=tuple(
                LevelWeight(
                    str(level["comparison"]),
                    str(level["level"]),
                    float(level["m"]),
                    float(level["u"]),
                    float(level["weight"]),
                )
                for level in data["levels"]
            ),
            scores=ScoreHistogram(
                tuple(float(e) for e in data["scores"]["edges"]),
                tuple(int(c) for c in data["scores"]["counts"]),
            ),
            clusters=ClusterSizes(
                tuple(int(s) for s in data["clusters"]["sizes"]),
                tuple(int(c) for c in data["clusters"]["counts"]),
            ),
        )


def level_weights(model: FellegiSunterModel | None) -> tuple[LevelWeight, ...]:
    """Every level of every comparison of ``model``, strongest level first (as in the model
    file)."""
    if model is None:
        return ()
    return tuple(
        LevelWeight(c.name, c.labels[code], c.m[code], c.u[code], c.weights[code])
        for c in model.comparisons
        for code in reversed(range(len(c.labels)))
    )


def score_histogram(probability: npt.ArrayLike) -> ScoreHistogram:
    counts, _ = np.histogram(
        np.asarray(probability, dtype=np.float64), bins=SCORE_BINS, range=(0.0, 1.0)
    )
    # i / bins rather than numpy's edges: 0.15, not 0.15000000000000002, in reports.
    edges = tuple(i / SCORE_BINS for i in range(SCORE_BINS + 1))
    return ScoreHistogram(edges, tuple(int(c) for c in counts))


def cluster_sizes(labels: npt.ArrayLike) -> ClusterSizes:
    per_cluster = np.bincount(np.asarray(labels, dtype=np.int64))
    sizes, counts = np.unique(per_cluster[per_cluster > 0], return_counts=True)
    return ClusterSizes(tuple(int(s) for s in sizes), tuple(int(c) for c in counts))
