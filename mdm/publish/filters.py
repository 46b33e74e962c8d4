"""Which part of the master an export holds: one entity, what changed since a run or a date,
the golden records a source has a record in.

A filter is checked against the store before anything is written: an unknown source, a run the
store never had or a date that is not one is reported, every problem at once, and the export
folder is left as it was. ``--since DATE`` becomes ``--since-run``: the changes after the last
run that started before that moment (runs are numbered in the order they start, one writer at a
time), so both read the same columns, the run that last changed each row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, FromClause, and_, exists, func, or_, select, true
from sqlalchemy.sql import ColumnElement

from mdm.errors import ProblemCollector, Reason
from mdm.schema import Entity
from mdm.store.bulk import table_of
from mdm.store.tables import Membership, Run, SourceRecord, Xref

Condition = ColumnElement[bool]


@dataclass(frozen=True)
class ExportFilter:
    """What the user asked for, as given (``since`` is the text of a date or a time)."""

    entity: Entity | None = None
    since_run: int | None = None
    since: str | None = None
    source: str | None = None

    @property
    def is_empty(self) -> bool:
        return self == ExportFilter()


@dataclass(frozen=True)
class ResolvedFilter:
    """A checked filter: ``changed_after`` is the run after which rows changed (None: all)."""

    entity: Entity | None = None
    changed_after: int | None = None
    source: str | None = None

    @property
    def is_empty(self) -> bool:
        return self == ResolvedFilter()

    def has_entity(self, entity: Entity) -> bool:
        return self.entity is None or self.entity is entity

    def describe(self) -> dict[str, Any]:
        """The filter as the export's marker records it."""
        return {
            "entity": None if self.entity is None else str(self.entity),
            "changed_after_run": self.changed_after,
            "source": self.source,
        }


def resolve_filter(
    connection: Connection, wanted: ExportFilter, project_sources: tuple[str, ...]
) -> ResolvedFilter:
    """``wanted`` checked against the store; raises one error naming every problem.

    A source is known if the project declares it or the store holds records of it (a source
    removed from the project keeps its golden records' history)."""
    problems = ProblemCollector()
    if wanted.since_run is not None and wanted.since is not None:
        problems.add(
            "--since-run and --since",
            "both given",
            "give one: a run number (see 'mdm status') or a date such as 2026-12-01",
        )
    changed_after = None
    if wanted.since_run is not None:
        changed_after = _checked_run(connection, wanted.since_run, problems)
    elif wanted.since is not None:
        moment = _parse_moment(wanted.since, problems)
        if moment is not None:
            changed_after = _last_run_before(connection, moment)
    if wanted.source is not None and not _is_known_source(
        connection, wanted.source, project_sources
    ):
        declared = ", ".join(sorted(project_sources)) or "none"
        problems.add(
            f"--source {wanted.source}",
            "no such source: the project declares none of that name and the store holds no "
            "record of it",
            f"the project's sources are: {declared}",
        )
    problems.raise_if_any(Reason.USAGE, "Cannot export with these filters.")
    return ResolvedFilter(wanted.entity, changed_after, wanted.source)


def _checked_run(connection: Connection, run_id: int, problems: ProblemCollector) -> int | None:
    run = table_of(Run)
    if connection.execute(select(run.c.id).where(run.c.id == run_id)).first() is not None:
        return run_id
    first, last = connection.execute(select(func.min(run.c.id), func.max(run.c.id))).one()
    known = "the store has no run yet" if first is None else f"its runs are {first} to {last}"
    problems.add(
        f"--since-run {run_id}",
        f"the store has no run {run_id}",
        f"{known}; 'mdm status' lists the recent ones",
    )
    return None


def _parse_moment(text: str, problems: ProblemCollector) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.add(
            f"--since {text}",
            "not a date",
            "give a date as YYYY-MM-DD (e.g. 2026-12-01) or a time such as 2026-12-01T08:00:00Z",
        )
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _last_run_before(connection: Connection, moment: datetime) -> int:
    """The last run that started before ``moment`` (0 if none): what changed after it changed
    at or after ``moment``."""
    run = table_of(Run)
    found = connection.execute(select(func.max(run.c.id)).where(run.c.started_at < moment))
    return int(found.scalar() or 0)


def _is_known_source(connection: Connection, name: str, project_sources: tuple[str, ...]) -> bool:
    if name in project_sources:
        return True
    record = table_of(SourceRecord)
    return connection.execute(select(exists().where(record.c.source == name))).scalar() is True


# ---- conditions on the export's tables -------------------------------------------------------


def golden_condition(golden: FromClause, entity: Entity, wanted: ResolvedFilter) -> Condition:
    """Golden records of ``entity`` changed after the run and holding a record of the source."""
    conditions: list[Condition] = []
    if wanted.changed_after is not None:
        conditions.append(golden.c.updated_run > wanted.changed_after)
    if wanted.source is not None:
        conditions.append(_has_record_of(golden.c.golden_id, entity, wanted.source))
    return _all(conditions)


def xref_condition(xref: FromClause, wanted: ResolvedFilter) -> Condition:
    """xref rows of the entity and source, written after the run."""
    conditions: list[Condition] = []
    if wanted.entity is not None:
        conditions.append(xref.c.entity == str(wanted.entity))
    if wanted.changed_after is not None:
        conditions.append(xref.c.run_id > wanted.changed_after)
    if wanted.source is not None:
        conditions.append(xref.c.source == wanted.source)
    return _all(conditions)


def lineage_condition(
    lineage: FromClause, goldens: Mapping[Entity, FromClause], wanted: ResolvedFilter
) -> Condition:
    """The lineage of the golden records ``golden_condition`` keeps, of each entity asked."""
    if wanted.is_empty:
        return true()
    per_entity = []
    for entity, golden in goldens.items():
        if not wanted.has_entity(entity):
            continue
        kept = [lineage.c.entity == str(entity)]
        if wanted.changed_after is not None:
            kept.append(
                exists().where(
                    golden.c.golden_id == lineage.c.golden_id,
                    golden.c.updated_run > wanted.changed_after,
                )
            )
        if wanted.source is not None:
            kept.append(_has_record_of(lineage.c.golden_id, entity, wanted.source))
        per_entity.append(and_(*kept))
    return or_(*per_entity)


def history_condition(history: FromClause, wanted: ResolvedFilter) -> Condition:
    """Events or versions of the entity, written by runs after the run, of golden ids that ever
    held a record of the source (a merged-away id's records are with its survivor now)."""
    conditions: list[Condition] = []
    if wanted.entity is not None:
        conditions.append(history.c.entity == str(wanted.entity))
    if wanted.changed_after is not None:
        conditions.append(history.c.run_id > wanted.changed_after)
    if wanted.source is not None:
        membership = table_of(Membership)
        conditions.append(
            exists().where(
                membership.c.golden_id == history.c.golden_id,
                membership.c.source == wanted.source,
            )
        )
    return _all(conditions)


def _all(conditions: list[Condition]) -> Condition:
    return and_(*conditions) if conditions else true()


def _has_record_of(golden_id: ColumnElement[Any], entity: Entity, source: str) -> Condition:
    """The golden id holds a live record of ``source`` now."""
    xref = table_of(Xref).alias("held")  # apart from the xref a query reads itself
    return exists().where(
        xref.c.golden_id == golden_id, xref.c.source == source, xref.c.entity == str(entity)
    )
