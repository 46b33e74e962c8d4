"""``mdm status --run N``: one run in full, as it recorded itself: what it loaded, how long each
stage took and the memory it held, and per entity what matching learned."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
from rich.table import Table

from mdm.cli.base import console
from mdm.cli.output import (
    ENTITY_COLUMNS,
    SOURCE_COLUMNS,
    frame_table,
    models_frame,
    pick,
    record_table,
    text,
)
from mdm.views import EntityCounts, RunView
from mdm.views.runs import ScoreHistogram, Thresholds

BAR_WIDTH = 40  # characters of the longest histogram bar


def print_run(run: RunView) -> None:
    console.print(record_table(f"Run {run.id}", _facts(run)))
    if run.error:
        console.print(f"[bold red]Error[/]: {text(run.error)}", highlight=False)
    if run.sources:
        sources = models_frame(run.sources, SOURCE_COLUMNS)
        console.print(report_table("Sources", pick(sources, SOURCE_COLUMNS)))
    if run.stages:
        stages = models_frame(run.stages, ["stage", "seconds", "peak_mb"])
        console.print(report_table("Stages", stages.rename(columns={"peak_mb": "peak MB"})))
    if run.entities:
        entities = models_frame(run.entities, ENTITY_COLUMNS)
        console.print(report_table("Golden records", pick(entities, ENTITY_COLUMNS)))
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
        rules = models_frame(statistics.blocking, ["rule", "pairs"])
        console.print(report_table(f"{name}: pairs per blocking rule", rules))
    if statistics.levels:
        levels = models_frame(statistics.levels, ["comparison", "level", "m", "u", "weight"])
        for column, digits in (("m", 4), ("u", 6), ("weight", 2)):
            levels[column] = [round(float(value), digits) for value in levels[column]]
        console.print(report_table(f"{name}: comparison levels", levels))
    if sum(statistics.scores.counts):
        histogram = score_table(statistics.scores, entity.thresholds)
        console.print(report_table(f"{name}: pairs by match probability", histogram))
    if entity.thresholds is not None:
        console.print(
            f"{name}: a pair is a match from probability {entity.thresholds.match:g}, "
            f"goes to review from {entity.thresholds.review:g}."
        )
    clusters = pd.DataFrame(
        {"size": statistics.clusters.sizes, "clusters": statistics.clusters.counts}, dtype=object
    )
    if not clusters.empty:
        console.print(report_table(f"{name}: cluster sizes", clusters))


def score_table(scores: ScoreHistogram, thresholds: Thresholds | None) -> pd.DataFrame:
    """One row per probability bin: its range, its pairs as a number and a bar, and what the
    thresholds decide for pairs in it."""
    edges, counts = scores.edges, scores.counts
    largest = max(counts) if counts else 0
    return pd.DataFrame(
        {
            "probability": [f"{low:.2f}-{high:.2f}" for low, high in pairwise(edges)],
            "pairs": counts,
            "": [_bar(count, largest) for count in counts],
            "decided": [_decided(low, high, thresholds) for low, high in pairwise(edges)],
        },
        dtype=object,
    )


def report_table(title: str, frame: pd.DataFrame) -> Table:
    return frame_table(title, frame, whole_title=True)


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
