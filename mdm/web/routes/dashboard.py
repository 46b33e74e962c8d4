"""The dashboard: how big the master is, how the systems overlap, how the review queue stands
and who decided what, in figures and inline SVG charts.

``GET /dashboard`` (viewer) is the page; ``GET /api/dashboard`` (viewer) gives the same
figures as JSON, as ``mdm.views.dashboard`` reads them. Both take ``days``: how far back the
stewards' decisions are counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from mdm.schema import Entity
from mdm.views.dashboard import (
    SCORE_BINS,
    ClusterSize,
    DashboardView,
    QueueState,
    ScoreBin,
    StewardDay,
    SystemOverlap,
    dashboard_view,
)
from mdm.web.charts import PALETTE, bar_chart, histogram, set_overlap, stacked_bars
from mdm.web.deps import ProjectDep, Reading, Viewer
from mdm.web.rendering import render

router = APIRouter()

DEFAULT_DAYS = 30
MIN_DAYS_SHOWN = 7  # the stewards' chart shows at least this many days, so bars stay slim
CLUSTER_SIZES_SHOWN = 12  # larger golden records share the last bar ("13+")
# A colour per entity, the same in every chart of the page.
ENTITY_COLOURS = {Entity.ACCOUNT: PALETTE[0], Entity.CONTACT: PALETTE[1]}
OTHER_COLOUR = "#8a96a8"  # a source no longer in the project file

Days = Annotated[int, Query(ge=1, le=366, description="Count the stewards' work of these days.")]


@dataclass(frozen=True)
class EntityFigures:
    """One entity's row of the summary and its charts."""

    entity: Entity
    records: int  # live source records
    golden: int  # active golden records
    open: int  # open review items
    skipped: int
    oldest_age: str | None  # how long the oldest open item has waited, e.g. "3 days"
    oldest_at: datetime | None
    overlap: Markup
    overlap_rows: list[SystemOverlap]
    scores: Markup
    clusters: Markup
    largest_cluster: int
    review_threshold: float | None
    match_threshold: float | None

    @property
    def records_per_golden(self) -> float | None:
        return self.records / self.golden if self.golden else None

    @property
    def shared(self) -> int:
        """Golden records with records from more than one system."""
        return sum(row.golden for row in self.overlap_rows if len(row.systems) > 1)


@dataclass(frozen=True)
class StewardTotal:
    steward: str
    decisions: int
    actions: int


@router.get("/dashboard", include_in_schema=False)
def dashboard_page(
    request: Request,
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    days: Days = DEFAULT_DAYS,
) -> Response:
    """The dashboard page."""
    now = datetime.now(UTC)
    view = dashboard_view(connection, project, days=days, now=now)
    entities = [_entity_figures(view, entity, now) for entity in Entity]
    days_shown, stewards_chart = _stewards_chart(view.stewards, days, now.date())
    values = {
        "nav": "dashboard",
        "view": view,
        "entities": entities,
        "records_chart": _records_chart(view),
        "colours": {str(entity): colour for entity, colour in ENTITY_COLOURS.items()},
        "stewards_chart": stewards_chart,
        "steward_totals": _steward_totals(view.stewards),
        "days": days,
        "days_shown": days_shown,
        "now": now,
        "total_records": sum(s.records for s in view.sources),
        "total_open": sum(q.open for q in view.queue),
    }
    return render(request, "dashboard.html", values)


@router.get("/api/dashboard")
def dashboard_api(
    who: Viewer, connection: Reading, project: ProjectDep, days: Days = DEFAULT_DAYS
) -> DashboardView:
    """Live records per source, active golden records per entity, golden records per
    combination of sources their members come from, the open review queue (size, skipped,
    when its oldest item was found), the open items' match probabilities in bins with the
    review and match thresholds, golden records per number of members, and per UTC day and
    steward the decisions and audited actions of the last ``days`` days."""
    return dashboard_view(connection, project, days=days)


# ---- figures ----------------------------------------------------------------------------------


def _entity_figures(view: DashboardView, entity: Entity, now: datetime) -> EntityFigures:
    queue = next((q for q in view.queue if q.entity is entity), None) or QueueState(
        entity=entity, open=0, skipped=0, oldest_started_at=None
    )
    overlap = _systems_overlap([o for o in view.overlap if o.entity is entity])
    sizes = [c for c in view.cluster_sizes if c.entity is entity]
    thresholds = next((t for t in view.thresholds if t.entity is entity), None)
    return EntityFigures(
        entity=entity,
        records=sum(s.records for s in view.sources if s.entity is entity),
        golden=sum(g.golden for g in view.golden if g.entity is entity),
        open=queue.open,
        skipped=queue.skipped,
        oldest_age=_age(queue.oldest_started_at, now) if queue.open else None,
        oldest_at=queue.oldest_started_at if queue.open else None,
        overlap=_overlap_chart(view, entity, overlap),
        overlap_rows=overlap,
        scores=_scores_chart(view, entity),
        clusters=_clusters_chart(sizes, entity),
        largest_cluster=max((c.members for c in sizes), default=0),
        review_threshold=thresholds.review if thresholds else None,
        match_threshold=thresholds.match if thresholds else None,
    )


def _records_chart(view: DashboardView) -> Markup:
    bars = [(f"{s.source} ({s.system})", s.records) for s in view.sources]
    colours = [ENTITY_COLOURS[s.entity] if s.entity else OTHER_COLOUR for s in view.sources]
    return bar_chart(bars, label="Live source records per source", colours=colours, bar_height=28)


def _systems_overlap(rows: Sequence[SystemOverlap]) -> list[SystemOverlap]:
    """Golden records per combination of systems (sources of one system counted as one),
    the most first."""
    counted: dict[tuple[str, ...], int] = defaultdict(int)
    sources: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for row in rows:
        counted[tuple(row.systems)] += row.golden
        sources[tuple(row.systems)].update(row.sources)
    merged = [
        SystemOverlap(
            entity=rows[0].entity,
            sources=sorted(sources[systems]),
            systems=list(systems),
            golden=golden,
        )
        for systems, golden in counted.items()
    ]
    return sorted(merged, key=lambda o: (-o.golden, len(o.systems), o.systems))


def _overlap_chart(view: DashboardView, entity: Entity, rows: Sequence[SystemOverlap]) -> Markup:
    systems = sorted(
        {s.system for s in view.sources if s.entity is entity}
        | {system for row in rows for system in row.systems}
    )
    return set_overlap(
        systems,
        [(row.systems, row.golden) for row in rows],
        label=f"Golden {entity}s by the systems that hold their records",
    )


def _scores_chart(view: DashboardView, entity: Entity) -> Markup:
    """The open items' probabilities in the view's bins, from the review threshold (or the
    lowest bin) to 1, the thresholds drawn on it."""
    bins = [b for b in view.scores if b.entity is entity]
    thresholds = next((t for t in view.thresholds if t.entity is entity), None)
    lines = (
        [] if thresholds is None else [(thresholds.review, "review"), (thresholds.match, "match")]
    )
    edges, counts = _score_bins(bins, [x for x, _ in lines])
    return histogram(
        edges,
        counts,
        label=f"Open {entity} review items by match probability",
        lines=lines,
        x_label="match probability",
    )


def _score_bins(bins: Sequence[ScoreBin], marks: Sequence[float]) -> tuple[list[float], list[int]]:
    """Every bin from the lowest one with items, or holding a threshold, to 1: the edges and
    the items of each (0 for the bins the view left out)."""
    width = 1 / SCORE_BINS
    indexes = {round(b.low / width): b.items for b in bins}
    lowest = min([*indexes, *(min(int(m / width), SCORE_BINS - 1) for m in marks)], default=0)
    edges = [round(i * width, 6) for i in range(lowest, SCORE_BINS + 1)]
    counts = [indexes.get(i, 0) for i in range(lowest, SCORE_BINS)]
    return edges, counts


def _clusters_chart(sizes: Sequence[ClusterSize], entity: Entity) -> Markup:
    if not sizes:
        return stacked_bars([], [], label=f"Golden {entity}s by their number of records")
    largest = max(c.members for c in sizes)
    top = min(largest, CLUSTER_SIZES_SHOWN + 1)
    counts = [0] * top
    for size in sizes:
        counts[min(size.members, top) - 1] += size.golden
    names = [str(n) for n in range(1, top + 1)]
    if largest > CLUSTER_SIZES_SHOWN + 1:
        names[-1] = f"{top}+"
    return stacked_bars(
        names,
        [(f"golden {entity}s", counts)],
        label=f"Golden {entity}s by their number of records",
        x_label="source records in the golden record",
        height=200,
    )


def _stewards_chart(rows: Sequence[StewardDay], days: int, today: date) -> tuple[int, Markup]:
    """Decisions per day (oldest first) stacked by steward, from the first day with any (at
    least ``MIN_DAYS_SHOWN`` days) to today; and how many days it shows."""
    first = min((row.day for row in rows), default=today)
    shown = min(max((today - first).days + 1, MIN_DAYS_SHOWN), days)
    day_list = [today - timedelta(days=back) for back in range(shown - 1, -1, -1)]
    stewards = sorted({row.steward for row in rows if row.decisions})
    index = {day: position for position, day in enumerate(day_list)}
    series = []
    for steward in stewards:
        values = [0] * len(day_list)
        for row in rows:
            if row.steward == steward and row.day in index:
                values[index[row.day]] += row.decisions
        series.append((steward, values))
    names = [day.strftime("%d %b") for day in day_list]
    return shown, stacked_bars(names, series, label="Match decisions per day and steward")


def _steward_totals(rows: Sequence[StewardDay]) -> list[StewardTotal]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row.steward][0] += row.decisions
        totals[row.steward][1] += row.actions
    return sorted(
        (StewardTotal(steward, n[0], n[1]) for steward, n in totals.items()),
        key=lambda t: (-t.actions, -t.decisions, t.steward),
    )


def _age(started: datetime | None, now: datetime) -> str | None:
    """How long ago, in the largest whole unit: "3 days", "5 hours", "under a minute"."""
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    seconds = max((now - started).total_seconds(), 0.0)
    for unit, length in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "under a minute"
