"""``mdm status --run N``: one run in full, as it recorded itself: what it loaded, how long each
stage took and the memory it held, and per entity what matching learned.

Its tables are built from plain rows, not frames: like the list of runs, the report starts
without importing pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from rich.table import Table

from mdm.cli.base import console
from mdm.cli.output import (
    ENTITY_COLUMNS,
    SOURCE_COLUMNS,
    model_rows,
    record_table,
    rows_table,
    text,
)

if TYPE_CHECKING:
    from mdm.views import EntityCounts, RunView
    from mdm.views.runs import ScoreHistogram, Thresholds

BAR_WIDTH = 40  # characters of the longest histogram bar
SCORE_COLUMNS = ["probability", "pairs", "", "decided"]


def print_run(run: RunView) -> None:
    console.print(record_table(f"Run {run.id}", _facts(run)))
    if run.error:
        console.print(f"[bold red]Error[/]: {text(run.error)}", highlight=False)
    if run.sources:
        sources = model_rows(run.sources, SOURCE_COLUMNS)
        console.print(report_table("Sources", SOURCE_COLUMNS.values(), sources))
    if run.stages:
        stages = model_rows(run.stages, ["stage", "seconds", "peak_mb"])
        console.print(report_table("Stages", ["stage", "seconds", "peak MB"], stages))
    if run.entities:
        entities = model_rows(run.entities, ENTITY_COLUMNS)
        console.print(report_table("Golden records", ENTITY_COLUMNS.values(), entities))
    for entity in run.entities:
        _print_statistics(entity)
    lacking = _lacking(run)
    if lacking:
        console.print(
            f"Run {run.id} recorded no {' and no '.join(lacking)} (it matched nothing, "
            "or an earlier mdm recorded it)."
        )


def _lacking(run: RunView) -> list[str]:
    """What a run that did its work did not record."""
    lacking = []
    if (run.sources or run.entities) and not run.stages:
        lacking.append("stage timings")
    if any(entity.statistics is None for entity in run.entities):
        lacking.append("match statistics")
    return lacking


def _facts(run: RunView) -> dict[str, object]:
    return {
        "command": run.command,
        "status": run.status,
        "started": str(run.started_at)[:19],
        "finished": None if run.finished_at is None else str(run.finished_at)[:19],
        "seconds": run.seconds,
        "recomputed everything": run.full,
        "exports": run.exports,
    }


def _print_statistics(entity: EntityCounts) -> None:
    statistics = entity.statistics
    if statistics is None:
        return
    name = text(entity.entity)
    if statistics.blocking:
        columns = ["rule", "pairs"]
        rules = model_rows(statistics.blocking, columns)
        console.print(report_table(f"{name}: pairs per blocking rule", columns, rules))
    if statistics.levels:
        columns = ["comparison", "level", "m", "u", "weight"]
        levels = [
            [level.comparison, level.level, *_rounded([level.m, level.u, level.weight])]
            for level in statistics.levels
        ]
        console.print(report_table(f"{name}: comparison levels", columns, levels))
    if sum(statistics.scores.counts):
        histogram = score_rows(statistics.scores, entity.thresholds)
        title = f"{name}: pairs by match probability"
        console.print(report_table(title, SCORE_COLUMNS, histogram))
    if entity.thresholds is not None:
        console.print(
            f"{name}: a pair is a match from probability {entity.thresholds.match:g}, "
            f"goes to review from {entity.thresholds.review:g}."
        )
    clusters = list(zip(statistics.clusters.sizes, statistics.clusters.counts, strict=True))
    if clusters:
        console.print(report_table(f"{name}: cluster sizes", ["size", "clusters"], clusters))


def _rounded(values: list[float]) -> list[float]:
    """m to 4 digits, u to 6, the weight to 2."""
    return [round(float(value), digits) for value, digits in zip(values, (4, 6, 2), strict=True)]


def score_rows(scores: ScoreHistogram, thresholds: Thresholds | None) -> list[list[object]]:
    """One row per probability bin (``SCORE_COLUMNS``): its range, its pairs as a number and a
    bar, and what the thresholds decide for pairs in it."""
    edges, counts = scores.edges, scores.counts
    largest = max(counts) if counts else 0
    return [
        [f"{low:.2f}-{high:.2f}", count, _bar(count, largest), _decided(low, high, thresholds)]
        for (low, high), count in zip(pairwise(edges), counts, strict=True)
    ]


def report_table(title: str, columns: Iterable[object], rows: Iterable[Iterable[Any]]) -> Table:
    return rows_table(title, columns, rows, whole_title=True)


def _bar(count: int, largest: int) -> str:
    """A bar as long as ``count`` is, against the largest bar's ``BAR_WIDTH``; one block at
    least, so that a bin with a pair never looks empty."""
    return "█" * max(1, round(BAR_WIDTH * count / largest)) if count else ""


def _decided(low: float, high: float, thresholds: Thresholds | None) -> str:
    """What the thresholds decide for probabilities in [low, high): one decision, or the
    decisions on each side of a threshold inside the bin."""
    if thresholds is None:
        return ""
    cuts = [(thresholds.review, "review"), (thresholds.match, "match")]
    start = "non-match"
    for cut, label in cuts:
        if cut <= low:
            start = label
    return " | ".join([start, *[label for cut, label in cuts if low < cut < high]])
