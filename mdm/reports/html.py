"""A run report as one self-contained HTML page: its style inline, its charts inline SVG, no
script and nothing fetched (the page forbids itself any request), so it opens from a disk, a
mail or a ticket as it is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from mdm.reports.charts import (
    PALETTE,
    bar_chart,
    histogram,
    set_overlap,
    stacked_bars,
    weights_chart,
)
from mdm.reports.model import GoldenChanges, QueueSize, RunReport, TruthAgreement
from mdm.schema import Entity
from mdm.views.dashboard import SystemOverlap
from mdm.views.runs import EntityCounts, SourceCounts

NOTHING: Final = "\N{EN DASH}"  # shown for a figure that does not apply
CLUSTER_SIZES_SHOWN: Final = 12  # larger golden records share the last bar ("13+")
# How each source's rows went, in the order they are stacked.
LOAD_SERIES: Final = ("inserted", "updated", "unchanged", "deleted", "quarantined")
LOAD_COLOURS: Final = ("#2456c7", "#e08a1e", "#9aa5b5", "#8a3ab9", "#b4322a")

_environment = Environment(
    loader=PackageLoader("mdm.reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class EntitySection:
    """One entity's part of the report: its figures and charts."""

    entity: Entity
    counts: EntityCounts | None
    changes: GoldenChanges
    queue: QueueSize
    truth: TruthAgreement | None
    blocking: Markup | None
    weights: Markup | None
    scores: Markup | None
    clusters: Markup | None
    overlap_chart: Markup | None


def render_report(report: RunReport) -> str:
    """The report as a whole HTML page."""
    template = _environment.get_template("report.html")
    run = report.run
    return template.render(
        report=report,
        run=run,
        entities=[_entity_section(report, entity) for entity in Entity],
        loads_chart=_loads_chart(run.sources),
        seconds_chart=_stage_chart(report, "seconds"),
        memory_chart=_stage_chart(report, "peak_mb"),
        totals=_totals(run.sources),
        percent=_percent,
        number=_number,
    )


def _entity_section(report: RunReport, entity: Entity) -> EntitySection:
    counts = next((e for e in report.run.entities if e.entity == entity), None)
    statistics = counts.statistics if counts else None
    overlap = _by_systems([row for row in report.overlap if row.entity is entity])
    systems = sorted(
        {report.systems.get(s.source, s.source) for s in report.run.sources if s.entity == entity}
        | {system for row in overlap for system in row[0]}
    )
    return EntitySection(
        entity=entity,
        counts=counts,
        changes=next(c for c in report.changes if c.entity is entity),
        queue=next(q for q in report.queue if q.entity is entity),
        truth=next((t for t in report.truth if t.entity is entity), None),
        blocking=bar_chart(
            [(rule.rule, rule.pairs) for rule in statistics.blocking],
            label=f"Candidate {entity} pairs per blocking rule",
        )
        if statistics and statistics.blocking
        else None,
        weights=_weights_chart(counts) if statistics and statistics.levels else None,
        scores=_scores_chart(counts) if statistics and sum(statistics.scores.counts) else None,
        clusters=_clusters_chart(counts) if statistics and statistics.clusters.sizes else None,
        overlap_chart=set_overlap(
            systems, overlap, label=f"Golden {entity}s by the systems that hold their records"
        )
        if overlap
        else None,
    )


def _by_systems(rows: list[SystemOverlap]) -> list[tuple[list[str], int]]:
    """Golden records per combination of systems (two sources of one system count as one),
    the most first."""
    counted: dict[tuple[str, ...], int] = defaultdict(int)
    for row in rows:
        counted[tuple(row.systems)] += row.golden
    ordered = sorted(counted.items(), key=lambda item: (-item[1], len(item[0]), item[0]))
    return [(list(systems), golden) for systems, golden in ordered]


def _weights_chart(counts: EntityCounts | None) -> Markup | None:
    if counts is None or counts.statistics is None:
        return None
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for level in counts.statistics.levels:
        groups[level.comparison].append((level.level, level.weight))
    return weights_chart(
        list(groups.items()),
        label=f"Match weight of each {counts.entity} comparison level",
        width=900,
    )


def _scores_chart(counts: EntityCounts | None) -> Markup | None:
    if counts is None or counts.statistics is None:
        return None
    scores = counts.statistics.scores
    thresholds = counts.thresholds
    lines = (
        [] if thresholds is None else [(thresholds.review, "review"), (thresholds.match, "match")]
    )
    return histogram(
        scores.edges,
        scores.counts,
        label=f"Candidate {counts.entity} pairs by match probability",
        lines=lines,
        x_label="match probability",
        width=640,
    )


def _clusters_chart(counts: EntityCounts | None) -> Markup | None:
    if counts is None or counts.statistics is None:
        return None
    sizes = counts.statistics.clusters
    largest = max(sizes.sizes)
    top = min(largest, CLUSTER_SIZES_SHOWN + 1)
    bars = [0] * top
    for size, number in zip(sizes.sizes, sizes.counts, strict=True):
        bars[min(size, top) - 1] += number
    names = [str(n) for n in range(1, top + 1)]
    if largest > CLUSTER_SIZES_SHOWN + 1:
        names[-1] = f"{top}+"
    return stacked_bars(
        names,
        [("clusters", bars)],
        label=f"{counts.entity.capitalize()} clusters by their number of records",
        x_label="source records in the cluster",
        height=200,
    )


def _loads_chart(sources: list[SourceCounts]) -> Markup | None:
    if not sources:
        return None
    names = [source.source for source in sources]
    series = [(name, [getattr(source, name) for source in sources]) for name in LOAD_SERIES]
    shown = [(name, values) for name, values in series if any(values)]
    colours = dict(zip(LOAD_SERIES, LOAD_COLOURS, strict=True))
    return stacked_bars(
        names,
        shown,
        label="What each source's rows did",
        width=900,
        colours=[colours[name] for name, _ in shown],
    )


def _stage_chart(report: RunReport, measure: str) -> Markup | None:
    stages = report.run.stages
    if not stages:
        return None
    if measure == "seconds":
        bars = [(stage.stage, stage.seconds) for stage in stages]
        return bar_chart(bars, label="Seconds per stage", unit=" s", bar_height=16, width=460)
    bars = [(stage.stage, stage.peak_mb) for stage in stages]
    return bar_chart(
        bars,
        label="Peak memory of the run when each stage ended",
        unit=" MB",
        bar_height=16,
        width=460,
        colours=[PALETTE[1]],
    )


def _totals(sources: list[SourceCounts]) -> dict[str, int]:
    names = ("rows_read", "inserted", "updated", "deleted", "unchanged", "quarantined")
    return {name: sum(getattr(source, name) for source in sources) for name in names}


def _percent(share: float | None) -> str:
    """A share to a tenth of a percent, rounded down: 100% only when it is all."""
    if share is None:
        return NOTHING
    return "100%" if share >= 1 else f"{math.floor(share * 1000) / 10:.1f}%"


def _number(value: float | None) -> str:
    if value is None:
        return NOTHING
    return f"{value:,}" if float(value).is_integer() else f"{value:,.2f}"
