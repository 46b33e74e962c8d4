"""What a run report shows, read from the store as plain values (``RunReport``).

Most of it is the run's own record (``mdm.views.runs``): counts per source, stage seconds
and memory, and per entity what matching learned. The rest is counted by the database in
grouped queries, never by reading the master: the run's quarantined rows (its own, by index),
its golden-record events, the review queue, the systems' overlap (as the dashboard counts it),
and the profile of the records the run loaded (``mdm.reports.profile``). Where the project
holds the demo's ``truth/`` files, the golden records are also scored against them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, case, func, select

from mdm.config.specs import ProjectSpec
from mdm.errors import MdmError, Reason
from mdm.reports.profile import SourceProfile, first_id_of_run, profile_sources
from mdm.schema import Entity, ReviewStatus
from mdm.store.bulk import read_frame, table_of
from mdm.store.tables import GoldenEvent, Quarantine, ReviewItem, Run, Xref
from mdm.views.base import ViewModel
from mdm.views.dashboard import SystemOverlap
from mdm.views.dashboard import _overlap as overlap_of  # the dashboard's grouped query
from mdm.views.quarantine import QuarantineRow
from mdm.views.runs import RunView, run_view

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

QUARANTINE_SHOWN: Final = 50  # quarantined rows listed one by one; all are counted
# The report profiles about this many of the records a run loaded per source (and of the golden
# values it wrote per entity), evenly spread: shares to a percent or so, at a cost that stays
# a few seconds however large the load. ``mdm profile`` reads them all.
PROFILE_SAMPLE: Final = 10_000
EVENTS: Final = ("created", "updated", "merged", "split", "retired", "revived")
TRUTH_FOLDER: Final = "truth"  # <project>/truth/accounts.csv, contacts.csv: the demo's truth


class QuarantineCount(ViewModel):
    source: str
    column: str | None  # the column the reason is about (None: the whole row)
    rows: int


class GoldenChanges(ViewModel):
    """The golden records a run changed, by what happened to them."""

    entity: Entity
    created: int = 0
    updated: int = 0
    merged: int = 0  # merged into another (their ids redirect)
    split: int = 0  # golden records some of whose records left for a new one
    retired: int = 0
    revived: int = 0


class QueueSize(ViewModel):
    entity: Entity
    open: int  # open review items now
    found: int  # of those, found (or found again) by the run


class TruthAgreement(ViewModel):
    """Pairs of source records in one golden record, against the pairs the truth says are one
    entity, over the records both hold."""

    entity: Entity
    records: int
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


class RunReport(ViewModel):
    project: str
    generated_at: datetime
    run: RunView
    systems: dict[str, str]  # source -> its system, from the project file
    quarantined: int
    quarantine_counts: list[QuarantineCount]
    quarantine_rows: list[QuarantineRow]  # the first QUARANTINE_SHOWN
    changes: list[GoldenChanges]
    queue: list[QueueSize]
    overlap: list[SystemOverlap]
    truth: list[TruthAgreement]
    profiles: list[SourceProfile]


def run_report(
    connection: Connection, root: Path, spec: ProjectSpec, run_id: int | None = None
) -> RunReport:
    """The report of run ``run_id`` (default: the latest run) of the project at ``root``."""
    run = run_view(connection, run_id if run_id is not None else _latest_run(connection))
    systems = {source.name: source.system for source in spec.sources}
    counts = _quarantine_counts(connection, run.id)
    return RunReport(
        project=spec.project.name,
        generated_at=datetime.now(UTC),
        run=run,
        systems=systems,
        quarantined=sum(count.rows for count in counts),
        quarantine_counts=counts,
        quarantine_rows=_quarantine_rows(connection, run.id),
        changes=_changes(connection, run.id),
        queue=_queue(connection, run.id),
        overlap=[
            row
            for entity in Entity
            for row in overlap_of(
                connection,
                entity,
                [source.name for source in spec.sources if source.entity is entity],
                systems,
            )
        ]
        if run.full
        else [],
        # What reads the whole master (the systems' overlap, the truth's pairs, each source's
        # duplicates) is
        # reported for runs that recomputed everything: a nightly delta's report costs what
        # its changes cost (``mdm profile`` counts duplicates at any time).
        truth=_truth(connection, root) if run.full else [],
        profiles=profile_sources(
            connection,
            spec,
            run_id=run.id,
            sample=PROFILE_SAMPLE,
            duplicates=bool(run.full),
        )
        if run.sources
        else [],
    )


def _latest_run(connection: Connection) -> int:
    found = connection.execute(select(func.max(table_of(Run).c.id))).scalar()
    if found is None:
        raise MdmError(Reason.NOT_FOUND, "No runs yet: 'mdm run' makes the first one.")
    return int(found)


def _quarantine_counts(connection: Connection, run_id: int) -> list[QuarantineCount]:
    table = table_of(Quarantine)
    statement = (
        select(table.c.source, table.c.column, func.count().label("rows"))
        .where(table.c.run_id == run_id)
        .group_by(table.c.source, table.c.column)
        .order_by(table.c.source, func.count().desc())
    )
    return [
        QuarantineCount(source=row.source, column=row.column, rows=int(row.rows))
        for row in connection.execute(statement)
    ]


def _quarantine_rows(connection: Connection, run_id: int) -> list[QuarantineRow]:
    table = table_of(Quarantine)
    statement = (
        select(
            table.c.source, table.c.row_number, table.c.source_key, table.c.column, table.c.reason
        )
        .where(table.c.run_id == run_id)
        .order_by(table.c.id)
        .limit(QUARANTINE_SHOWN)
    )
    return [
        QuarantineRow.model_validate(dict(row)) for row in connection.execute(statement).mappings()
    ]


def _changes(connection: Connection, run_id: int) -> list[GoldenChanges]:
    """Golden records per entity and event of the run (each golden record once per event).
    The run's events are found from where its ids begin (no index holds their run)."""
    events = table_of(GoldenEvent)
    floor = first_id_of_run(connection, events, run_id)
    statement = (
        select(events.c.entity, events.c.event, func.count(events.c.golden_id.distinct()))
        .where(events.c.run_id == run_id, events.c.id >= floor)
        .group_by(events.c.entity, events.c.event)
    )
    counted: dict[Entity, dict[str, int]] = {entity: {} for entity in Entity}
    for entity, event, golden in connection.execute(statement):
        if event in EVENTS:
            counted[Entity(entity)][str(event)] = int(golden)
    return [GoldenChanges(entity=entity, **counts) for entity, counts in counted.items()]


def _queue(connection: Connection, run_id: int) -> list[QueueSize]:
    items = table_of(ReviewItem)
    found = func.sum(case((items.c.run_id == run_id, 1), else_=0))
    statement = (
        select(items.c.entity, func.count(), found)
        .where(items.c.status == ReviewStatus.OPEN)
        .group_by(items.c.entity)
    )
    sizes = {Entity(e): (int(n), int(f or 0)) for e, n, f in connection.execute(statement)}
    return [
        QueueSize(
            entity=entity, open=sizes.get(entity, (0, 0))[0], found=sizes.get(entity, (0, 0))[1]
        )
        for entity in Entity
    ]


def _truth(connection: Connection, root: Path) -> list[TruthAgreement]:
    """The golden records against ``truth/<entity>s.csv`` (source, source_key, entity_id),
    for each entity that has one; nothing without truth."""
    found = []
    for entity in Entity:
        path = root / TRUTH_FOLDER / f"{entity}s.csv"
        if path.is_file():
            found.append(_agreement(connection, entity, path))
    return found


def _agreement(connection: Connection, entity: Entity, path: Path) -> TruthAgreement:
    import numpy as np
    import pandas as pd

    truth = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=_TRUTH_COLUMNS)
    xref = table_of(Xref)
    statement = select(xref.c.source, xref.c.source_key, xref.c.golden_id).where(
        xref.c.entity == entity
    )
    joined = read_frame(connection, statement).merge(truth, on=["source", "source_key"])
    # Groups counted over integer codes: many times faster than grouping by text.
    golden = pd.factorize(joined["golden_id"])[0]
    true = pd.factorize(joined["entity_id"])[0]
    both = golden.astype(np.int64) * (int(true.max(initial=0)) + 1) + true
    return TruthAgreement(
        entity=entity,
        records=len(joined),
        predicted_pairs=_pairs_within(np.bincount(golden)),
        true_pairs=_pairs_within(np.bincount(true)),
        correct_pairs=_pairs_within(np.unique(both, return_counts=True)[1]),
    )


_TRUTH_COLUMNS: Final = ["source", "source_key", "entity_id"]


def _pairs_within(sizes: npt.NDArray[np.int64]) -> int:
    """Unordered pairs inside groups of these sizes."""
    return int((sizes * (sizes - 1) // 2).sum())
