"""Resolve one entity: live source records -> clusters -> golden ids -> golden values + lineage.

A run works on a scope (``mdm.pipeline.scope``): every live record, or a delta's changed
records, their partners and the golden records they touch. The store is touched at the edges:
one reading step gathers what the scope needs (``mdm.pipeline.inputs``), the pure stages
(``mdm.pipeline.stages``: match, identity, survivorship, relate) work on that value, and one
writing step stores what changed (``mdm.pipeline.write``), so a rerun on the same inputs
changes nothing. Each stage is timed (``RunClock``) and logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import Project
from mdm.identity import IdentityResult
from mdm.matching.protocol import engine_named
from mdm.matching.result import MatchResult
from mdm.pipeline import index
from mdm.pipeline.clock import RunClock, counted
from mdm.pipeline.inputs import ResolutionInputs, ids_in_use, read_inputs
from mdm.pipeline.models import RunModels
from mdm.pipeline.scope import Scope, delta_scope, full_scope, nothing_changed, unresolved
from mdm.pipeline.stages import identify, match_scope, members_of, relate, review_items, survive
from mdm.pipeline.write import GoldenChanges, Written, write_index, write_scope
from mdm.schema import Entity
from mdm.store import marks, record_index


@dataclass
class EntitySummary:
    entity: str
    records: int  # live records of the entity
    scope: int  # records this run recomputed
    golden: int  # golden records in the scope
    candidate_pairs: int
    matched_pairs: int
    created: int
    updated: int
    merged: int
    retired: int
    revived: int = 0
    warnings: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # golden ids written or status changed
    # What the match of the scope learned (``MatchStatistics.to_dict()``); None: no match ran.
    statistics: dict[str, Any] | None = None


def resolve_entity(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    *,
    full: bool = True,
    also_golden: set[str] | None = None,
    also_records: pd.DataFrame | None = None,
    models: RunModels | None = None,
    clock: RunClock | None = None,
) -> EntitySummary:
    """Recompute the entity's golden records in scope; ``also_golden`` (golden ids) and
    ``also_records`` (source, source_key of records whose match input changed without a new
    version: contacts whose golden account changed) widen a delta scope.

    A full run reads every live record; a delta run reads only its scope, found through the
    record-key index (``mdm.pipeline.index``). A delta's changes are every version loaded since
    the entity's resolution mark; the mark then moves to the newest version. ``models`` holds
    the match models this run trained (written beside the rules only once the run commits);
    ``clock`` takes the seconds and memory of each stage.
    """
    models = models or RunModels(project)
    clock = clock or RunClock()
    scope, full = _scope(
        connection, run_id, project, entity, models, full, also_golden, also_records, clock
    )
    if scope is None:
        summary = _nothing(entity, index.live_count(connection, entity))
    elif scope.empty:
        if full:  # nothing live: nothing indexed
            empty = pd.DataFrame({"record_id": [], "key": []})
            record_index.replace_record_keys(connection, entity, empty, pd.Series(dtype="int64"))
        summary = _nothing(entity, scope.total)
    else:
        summary = _resolve_scope(connection, run_id, project, entity, models, scope, full, clock)
    # Whatever was loaded before this point is now reflected in the golden records.
    marks.set_resolution_mark(connection, entity, run_id)
    failpoints.reached(f"resolve.{entity}.marked")
    return summary


def _scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    full: bool,
    also_golden: set[str] | None,
    also_records: pd.DataFrame | None,
    clock: RunClock,
) -> tuple[Scope | None, bool]:
    """The records to recompute (None when a delta has nothing to do), and whether that is
    every record: asked, or a delta whose changes moved every score (see ``delta_scope``)."""
    with clock.stage(f"{entity}.scope") as stage:
        loaded = unresolved(connection, entity)
        also = also_golden or (also_records is not None and not also_records.empty)
        if not full and not also and nothing_changed(connection, run_id, entity, loaded):
            stage.counts = "nothing changed"
            return None, full
        scope = None
        if not full:
            scope = delta_scope(
                connection, run_id, project, entity, models, loaded, also_golden, also_records
            )
        if scope is None:
            full = True
            scope = full_scope(connection, project, entity)
        stage.counts = f"{counted(len(scope.records), 'record')} of {scope.total:,}"
    failpoints.reached(f"resolve.{entity}.scoped")
    return scope, full


def _nothing(entity: Entity, records: int) -> EntitySummary:
    return EntitySummary(str(entity), records, 0, 0, 0, 0, 0, 0, 0, 0)


def _resolve_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    scope: Scope,
    full: bool,
    clock: RunClock,
) -> EntitySummary:
    with clock.stage(f"{entity}.read") as stage:
        inputs = read_inputs(connection, run_id, project, entity, scope, models, full)
        stage.counts = counted(len(inputs.records), "record")
    with clock.stage(f"{entity}.match") as stage:
        engine = engine_named(project.spec.engine, project.spec)
        matched = match_scope(inputs, project.rules.match[entity], engine)
        stage.counts = (
            f"{counted(matched.candidate_pairs, 'candidate pair')}, "
            f"{len(matched.links):,} matched, {counted(len(matched.pairs), 'pair')} scored"
        )
    if matched.trained and matched.model is not None:
        models.keep(entity, matched.model)
    failpoints.reached(f"resolve.{entity}.matched")
    with clock.stage(f"{entity}.identity") as stage:
        identity = _identify(connection, inputs, matched.labels)
        stage.counts = (
            f"{len(identity.created):,} created, {len(identity.redirects):,} merged, "
            f"{len(identity.retired):,} retired, {len(identity.revived):,} revived"
        )
    failpoints.reached(f"resolve.{entity}.identified")
    changes = _golden(project, inputs, identity, clock)
    failpoints.reached(f"resolve.{entity}.survived")
    with clock.stage(f"{entity}.write") as stage:
        reviews = review_items(inputs.records, matched.pairs, identity.golden_ids)
        written = write_scope(connection, run_id, entity, changes, inputs.records, reviews)
        stage.counts = (
            f"{counted(len(written.touched), 'golden record')} changed, "
            f"{counted(len(reviews), 'review item')}"
        )
    with clock.stage(f"{entity}.index") as stage:
        stage.counts = counted(write_index(connection, project, inputs, full), "record")
    return _summary(inputs, matched, identity, changes, written)


def _identify(
    connection: Connection, inputs: ResolutionInputs, labels: npt.NDArray[np.int64]
) -> IdentityResult:
    """Golden ids for the clusters. New ids are minted, then checked in one query against
    every id ever used; on the rare clash they are minted again around the used ones."""
    taken: set[str] = set()
    while True:
        identity = identify(inputs, labels, taken)
        used = ids_in_use(connection, inputs.entity, identity.created) - taken
        if not used:
            return identity
        taken |= used


def _golden(
    project: Project, inputs: ResolutionInputs, identity: IdentityResult, clock: RunClock
) -> GoldenChanges:
    """Survivorship, and for contacts the link to their accounts."""
    entity = inputs.entity
    with clock.stage(f"{entity}.survivorship") as stage:
        members = members_of(project, inputs, identity)
        built = survive(project, inputs, members, identity)
        values, lineage = built.values, built.lineage
        stage.counts = counted(len(values), "golden record")
    if entity is Entity.CONTACT:
        with clock.stage(f"{entity}.relate") as stage:
            values, lineage = relate(project, inputs, members, values, lineage)
            linked = int(values["account_id"].notna().sum())
            stage.counts = f"{linked:,} of {counted(len(values), 'golden contact')} linked"
    return GoldenChanges(values, lineage, members, identity, inputs.previous)


def _summary(
    inputs: ResolutionInputs,
    matched: MatchResult,
    identity: IdentityResult,
    changes: GoldenChanges,
    written: Written,
) -> EntitySummary:
    return EntitySummary(
        entity=str(inputs.entity),
        records=inputs.total,
        scope=len(inputs.records),
        golden=len(changes.values),
        candidate_pairs=matched.candidate_pairs,
        matched_pairs=len(matched.links),
        created=len(identity.created),
        updated=written.updated,
        merged=len(identity.redirects),
        retired=len(identity.retired),
        revived=len(identity.revived),
        warnings=list(matched.warnings),
        touched=written.touched,
        statistics=matched.statistics.to_dict(),
    )
