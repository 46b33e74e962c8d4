"""The stewards' dashboard: how big the master is, how the systems overlap, how the review
queue stands, and who decided what.

Each figure is one grouped query: the database counts and the view gets a few rows per
figure, never the rows counted. Those over xref and the golden tables read every row of them
(a second or so on a million records: the dashboard only is allowed that); the queue's and
the stewards' read the open items, and the decisions and audit rows of the last ``days``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Integer, case, cast, distinct, func, select
from sqlalchemy.sql.elements import ColumnElement

from mdm.config.specs import Project
from mdm.schema import Entity, GoldenStatus, ReviewStatus
from mdm.store.bulk import table_of
from mdm.store.tables import GOLDEN_TABLES, AuditLog, MatchDecision, ReviewItem, Run, Xref
from mdm.views.base import ViewModel

SCORE_BINS: Final = 20  # the score distribution in bins of 0.05
MAX_OVERLAP_SOURCES: Final = 62  # sources of one entity the overlap tells apart (bits)


class SourceRecordCount(ViewModel):
    source: str
    system: str
    entity: Entity | None  # None: a source no longer in the project file
    records: int  # its live records


class GoldenRecordCount(ViewModel):
    entity: Entity
    golden: int  # active golden records


class SystemOverlap(ViewModel):
    entity: Entity
    sources: list[str]  # exactly these sources hold members of the golden records
    systems: list[str]
    golden: int


class QueueState(ViewModel):
    entity: Entity
    open: int
    skipped: int  # of the open ones
    oldest_started_at: datetime | None  # when the run that found the oldest open item started


class ScoreBin(ViewModel):
    entity: Entity
    low: float  # probability from (inclusive)
    high: float  # to (exclusive; the last bin includes 1)
    items: int  # open review items


class ReviewThresholds(ViewModel):
    entity: Entity
    review: float  # review from here
    match: float  # match from here


class ClusterSize(ViewModel):
    entity: Entity
    members: int  # source records in a golden record
    golden: int  # active golden records of that size


class StewardDay(ViewModel):
    day: date  # UTC
    steward: str
    decisions: int  # match decisions recorded (same or different)
    actions: int  # audited actions of any kind (decisions included)


class DashboardView(ViewModel):
    sources: list[SourceRecordCount]  # by entity, then source
    golden: list[GoldenRecordCount]
    overlap: list[SystemOverlap]  # by entity, then most golden records first
    queue: list[QueueState]
    scores: list[ScoreBin]  # by entity, then bin; empty bins left out
    thresholds: list[ReviewThresholds]
    cluster_sizes: list[ClusterSize]  # by entity, then size
    stewards: list[StewardDay]  # newest day first, then by steward


def dashboard_view(
    connection: Connection, project: Project, *, days: int = 30, now: datetime | None = None
) -> DashboardView:
    """The dashboard's figures; the stewards' of the last ``days`` days up to ``now``."""
    systems = {source.name: source.system for source in project.spec.sources}
    entities = {source.name: source.entity for source in project.spec.sources}
    sources = _sources(connection, systems, entities)
    return DashboardView(
        sources=sources,
        golden=[_golden_count(connection, entity) for entity in Entity],
        overlap=[
            row
            for entity in Entity
            for row in _overlap(
                connection, entity, [s.source for s in sources if s.entity is entity], systems
            )
        ],
        queue=_queue(connection),
        scores=_scores(connection),
        thresholds=[
            ReviewThresholds(
                entity=entity,
                review=project.rules.match[entity].thresholds.review,
                match=project.rules.match[entity].thresholds.match,
            )
            for entity in Entity
        ],
        cluster_sizes=[row for entity in Entity for row in _cluster_sizes(connection, entity)],
        stewards=_stewards(connection, (now or datetime.now(UTC)) - timedelta(days=days)),
    )


def _sources(
    connection: Connection, systems: dict[str, str], entities: dict[str, Entity]
) -> list[SourceRecordCount]:
    """Live records per source: xref by its primary key (source first), counted."""
    xref = table_of(Xref)
    statement = select(xref.c.source, func.count().label("records")).group_by(xref.c.source)
    found = [
        SourceRecordCount(
            source=str(row.source),
            system=systems.get(str(row.source), str(row.source)),
            entity=entities.get(str(row.source)),
            records=int(row.records),
        )
        for row in connection.execute(statement)
    ]
    # By entity (accounts first), sources no longer in the project file last.
    return sorted(found, key=lambda s: (s.entity is None, str(s.entity or ""), s.source))


def _golden_count(connection: Connection, entity: Entity) -> GoldenRecordCount:
    table = table_of(GOLDEN_TABLES[entity])
    statement = select(func.count()).where(table.c.status == GoldenStatus.ACTIVE)
    return GoldenRecordCount(entity=entity, golden=int(connection.execute(statement).scalar_one()))


def _overlap(
    connection: Connection, entity: Entity, sources: list[str], systems: dict[str, str]
) -> list[SystemOverlap]:
    """Golden records by the set of sources their members come from: each source a bit, a
    golden record's set the sum of its sources' distinct bits, counted by set."""
    sources = sorted(sources)[:MAX_OVERLAP_SOURCES]
    if not sources:
        return []
    xref = table_of(Xref)
    bit = case(
        {source: 1 << position for position, source in enumerate(sources)},
        value=xref.c.source,
        else_=0,
    )
    # Grouped by an expression of the golden id, not the column: SQLite then reads xref in a
    # row and sorts, three times faster than a row lookup per record along the golden id's
    # index (PostgreSQL plans a scan either way).
    golden_id = xref.c.golden_id.concat("")
    per_golden = (
        select(func.sum(distinct(bit)).label("mask"))
        .where(xref.c.entity == entity)
        .group_by(golden_id)
        .subquery()
    )
    statement = select(per_golden.c.mask, func.count().label("golden")).group_by(per_golden.c.mask)
    found = []
    for row in connection.execute(statement):
        mask = int(row.mask or 0)
        held = [source for position, source in enumerate(sources) if mask >> position & 1]
        found.append(
            SystemOverlap(
                entity=entity,
                sources=held,
                systems=sorted({systems.get(source, source) for source in held}),
                golden=int(row.golden),
            )
        )
    return sorted(found, key=lambda o: (-o.golden, o.sources))


def _queue(connection: Connection) -> list[QueueState]:
    items, run = table_of(ReviewItem), table_of(Run)
    skipped = func.sum(case((items.c.skipped_at.is_not(None), 1), else_=0))
    statement = (
        select(
            items.c.entity,
            func.count().label("open"),
            skipped.label("skipped"),
            func.min(items.c.run_id).label("oldest_run"),
        )
        .where(items.c.status == ReviewStatus.OPEN)
        .group_by(items.c.entity)
    )
    rows = {Entity(row.entity): row for row in connection.execute(statement)}
    runs = [int(row.oldest_run) for row in rows.values()]
    started = {
        int(row.id): row.started_at
        for row in connection.execute(select(run.c.id, run.c.started_at).where(run.c.id.in_(runs)))
    }
    return [
        QueueState(
            entity=entity,
            open=int(rows[entity].open) if entity in rows else 0,
            skipped=int(rows[entity].skipped or 0) if entity in rows else 0,
            oldest_started_at=started.get(int(rows[entity].oldest_run)) if entity in rows else None,
        )
        for entity in Entity
    ]


def _scores(connection: Connection) -> list[ScoreBin]:
    items = table_of(ReviewItem)
    scaled = items.c.probability * SCORE_BINS
    # The floor: PostgreSQL has it; SQLite's cast truncates, the floor of what is never
    # negative (PostgreSQL's cast would round).
    if connection.dialect.name == "postgresql":
        bin_of = cast(func.floor(scaled), Integer)
    else:
        bin_of = cast(scaled, Integer)
    statement = (
        select(items.c.entity, bin_of.label("bin"), func.count().label("items"))
        .where(items.c.status == ReviewStatus.OPEN)
        .group_by(items.c.entity, bin_of)
    )
    counts: dict[tuple[Entity, int], int] = {}
    for row in connection.execute(statement):
        key = (Entity(row.entity), min(max(int(row.bin), 0), SCORE_BINS - 1))  # 1.0: the last
        counts[key] = counts.get(key, 0) + int(row.items)
    return [
        ScoreBin(entity=entity, low=bin / SCORE_BINS, high=(bin + 1) / SCORE_BINS, items=n)
        for (entity, bin), n in sorted(counts.items())
    ]


def _cluster_sizes(connection: Connection, entity: Entity) -> list[ClusterSize]:
    table = table_of(GOLDEN_TABLES[entity])
    statement = (
        select(table.c.members, func.count().label("golden"))
        .where(table.c.status == GoldenStatus.ACTIVE)
        .group_by(table.c.members)
        .order_by(table.c.members)
    )
    return [
        ClusterSize(entity=entity, members=int(row.members), golden=int(row.golden))
        for row in connection.execute(statement)
    ]


def _stewards(connection: Connection, since: datetime) -> list[StewardDay]:
    decisions, audit = table_of(MatchDecision), table_of(AuditLog)
    counted: dict[tuple[str, str], list[int]] = {}
    for who, when, slot in (
        (decisions.c.decided_by, decisions.c.decided_at, 0),
        (audit.c.actor, audit.c.at, 1),
    ):
        day = _day(connection, when)
        statement = (
            select(day.label("day"), who.label("steward"), func.count().label("n"))
            .where(when >= since)
            .group_by(day, who)
        )
        for row in connection.execute(statement):
            counts = counted.setdefault((str(row.day), str(row.steward)), [0, 0])
            counts[slot] += int(row.n)
    rows = [
        StewardDay(day=date.fromisoformat(day), steward=steward, decisions=n[0], actions=n[1])
        for (day, steward), n in counted.items()
    ]
    return sorted(rows, key=lambda r: (-r.day.toordinal(), r.steward))


def _day(connection: Connection, column: Any) -> ColumnElement[Any]:
    """The UTC day of a time column, as YYYY-MM-DD text."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTC times as ISO text
