"""One run: read every source, upsert, match, assign golden ids, survive, relate, publish.

Everything a run writes lands in one transaction: a run that fails leaves the store as it was,
and only a row recording the failure is added. Sources are read and checked before the
transaction begins, so a missing column or file stops the run before it writes anything.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import Project, SparkSpec
from mdm.errors import ProblemCollector, Reason, describe_error
from mdm.matching.protocol import SPARK
from mdm.pipeline.clock import RunClock, StageTiming, counted
from mdm.pipeline.coverage import fields_not_given
from mdm.pipeline.index import INDEX_VERSION
from mdm.pipeline.ingest import SourceSummary, ingest_load
from mdm.pipeline.models import RunModels
from mdm.pipeline.resolve import EntitySummary, resolve_entity
from mdm.pipeline.scope import AccountDependents, account_dependents, unresolved
from mdm.publish.export import ExportFormat, export_master, export_store
from mdm.publish.split import SecondProcess
from mdm.schema import Entity, RunStatus
from mdm.sources import SourceLoad, check_source, read_source
from mdm.store import Store, database, golden, marks, open_store, runs
from mdm.store.bulk import bulk_writes
from mdm.store.migrate import writing

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    run_id: int
    command: str
    sources: list[SourceSummary] = field(default_factory=list)
    entities: list[EntitySummary] = field(default_factory=list)
    exports: str | None = None
    full: bool = False  # recomputed everything (first run, rules changed, or asked)
    basis: str | None = None  # resolution_basis() of the run
    stages: list[StageTiming] = field(default_factory=list)  # seconds and peak memory

    @property
    def quarantined(self) -> int:
        return sum(source.quarantined for source in self.sources)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for entity in data["entities"]:
            entity.pop("touched", None)  # every id of a full run: not for the run's record
        return data


def run(
    project: Project,
    *,
    command: str = "run",
    resolve: bool = True,
    export: bool = True,
    full: bool = False,
    wait_seconds: float | None = 0,
    progress: Progress | None = None,
    allow_deletes: frozenset[str] = frozenset(),
) -> RunSummary:
    """Ingest every source; then (``resolve``) match and build the master; then export it.

    A run resolves everything loaded since the last resolution (by this run or an earlier
    ``mdm ingest``), unless ``full`` is asked, this is the first run, or the rules changed
    since the last one: then it recomputes every golden record. It holds the store's writer
    lock throughout; ``wait_seconds`` says how long to wait for another writer (None: as
    long as it takes; 0: refuse at once).
    """
    with few_collections():
        return _run(project, command, resolve, export, full, wait_seconds, progress, allow_deletes)


@contextmanager
def few_collections() -> Iterator[None]:
    """Collect reference cycles less often while a run allocates millions of small objects
    (rows, values): each collection of the older generations walks every object alive, and
    at the default thresholds a large run spends a tenth of its time doing that."""
    before = gc.get_threshold()
    gc.set_threshold(*RUN_COLLECTION_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


RUN_COLLECTION_THRESHOLDS = (100_000, 50, 100)  # Python's defaults: (700, 10, 10)


def _run(
    project: Project,
    command: str,
    resolve: bool,
    export: bool,
    full: bool,
    wait_seconds: float | None,
    progress: Progress | None,
    allow_deletes: frozenset[str],
) -> RunSummary:
    say = progress or (lambda _message: None)
    say("checking sources")
    preflight(project)
    clock = RunClock()
    loads = [_read(project, source.name, say, clock) for source in project.spec.sources]
    store = open_store(project.store_url, writing=True)
    try:
        with writing(store, command, wait_seconds):
            failpoints.reached("run.locked")
            models = RunModels(project)
            summary = _run_in_transaction(
                store, project, loads, command, resolve, full, models, say, clock, allow_deletes
            )
            failpoints.reached("run.committed")
            checkpoint = database.Checkpoint(store)  # beside the export
            try:
                models.write()
                # Still under the lock: the next writer's export comes after this one, so
                # the folder never goes back to an older master.
                if export and resolve:
                    say("exporting")
                    _export(store, project, summary, clock)
            finally:
                checkpoint.wait()
        return summary
    finally:
        store.close()


def _export(store: Store, project: Project, summary: RunSummary, clock: RunClock) -> None:
    """Export the master the run committed, then add the export to the run's record."""
    with clock.stage("export") as stage:
        with store.transaction() as connection:
            # A run's export patches the previous one with what changed (a delta: a few rows).
            # Under the writer lock: a second process reads the same master as this one.
            exported = export_master(
                connection,
                project.exports_dir,
                ExportFormat.CSV,
                patch=True,
                second_process=SecondProcess(project.store_url),
            )
            summary.exports = str(exported)
        stage.counts = summary.exports
    summary.stages = clock.timings
    with store.transaction() as connection:
        runs.finish_run(connection, summary.run_id, RunStatus.SUCCEEDED, summary.to_dict())


def preflight(project: Project) -> None:
    """Check every source before anything is written; report all problems at once."""
    problems = ProblemCollector()
    for source in project.spec.sources:
        problems.problems.extend(check_source(source, project.root, _reads_on(project)))
    if not project.spec.sources:
        problems.add(str(project.root / "mdm.toml"), "no [[sources]] configured", "add a source")
    problems.raise_if_any(Reason.SOURCE, "The run was stopped before writing anything.")


def _read(project: Project, name: str, say: Progress, clock: RunClock) -> SourceLoad:
    say(f"reading {name}")
    with clock.stage("read", name) as stage:
        load = read_source(project.source(name), project.root, _reads_on(project))
        stage.counts = f"{counted(load.rows_read, 'row')}, {len(load.records):,} good"
    return load


def _reads_on(project: Project) -> SparkSpec | None:
    """Spark's settings when the project's engine reads its extracts on Spark."""
    return project.spec.spark if project.spec.engine == SPARK else None


def _run_in_transaction(
    store: Store,
    project: Project,
    loads: list[SourceLoad],
    command: str,
    resolve: bool,
    full: bool,
    models: RunModels,
    say: Progress,
    clock: RunClock,
    allow_deletes: frozenset[str] = frozenset(),
) -> RunSummary:
    config = config_snapshot(project)
    try:
        with store.transaction() as connection:
            database.defer_checkpoints(connection)  # the store closes after the run
            run_id = runs.start_run(connection, command, config)
            summary = RunSummary(run_id=run_id, command=command)
            for load in loads:
                say(f"loading {load.spec.name}")
                with clock.stage("ingest", load.spec.name) as stage, bulk_writes(connection):
                    ingested = ingest_load(connection, run_id, load, project, allow_deletes, clock)
                    stage.counts = _ingested(ingested)
                rules = project.rules.match[load.spec.entity]
                ingested.not_compared = fields_not_given(load.spec, rules)
                summary.sources.append(ingested)
                failpoints.reached(f"ingest.{load.spec.name}")
            if resolve:
                basis = resolution_basis(project)
                full = full or _needs_full(connection, basis)
                summary.full = full
                say("matching accounts")
                summary.entities = _resolve_all(
                    connection, run_id, project, full, models, say, clock
                )
                if full:
                    with clock.stage("analyze"):
                        database.refresh_statistics(connection)
                # After the run: a model it trained is part of what the next uses.
                summary.basis = resolution_basis(project, models)
            summary.stages = clock.timings
            runs.finish_run(connection, run_id, RunStatus.SUCCEEDED, summary.to_dict())
            failpoints.reached("run.finished")
            return summary
    except Exception as error:
        with store.transaction() as connection:
            runs.record_failed_run(connection, command, config, describe_error(error))
        raise


def _ingested(source: SourceSummary) -> str:
    return (
        f"{source.inserted:,} inserted, {source.updated:,} updated, {source.deleted:,} deleted, "
        f"{source.unchanged:,} unchanged, {source.quarantined:,} quarantined"
    )


def _needs_full(connection: Connection, basis: str) -> bool:
    """Recompute everything: the rules or models changed, or no resolution mark says how far
    the loads were resolved (a new store, or one made before marks were kept)."""
    if runs.last_resolution_basis(connection) != basis:
        return True
    return any(marks.resolution_mark(connection, entity) is None for entity in Entity)


def _resolve_all(
    connection: Connection,
    run_id: int,
    project: Project,
    full: bool,
    models: RunModels,
    say: Progress,
    clock: RunClock,
) -> list[EntitySummary]:
    loaded = unresolved(connection, Entity.ACCOUNT)
    accounts = resolve_entity(
        connection, run_id, project, Entity.ACCOUNT, full=full, models=models, clock=clock
    )
    say("matching contacts")
    dependents = _account_dependents(connection, project, run_id, loaded, full)
    contacts = resolve_entity(
        connection,
        run_id,
        project,
        Entity.CONTACT,
        full=full,
        also_golden=dependents.golden,
        also_records=dependents.records,
        models=models,
        clock=clock,
    )
    return [accounts, contacts]


def _account_dependents(
    connection: Connection, project: Project, run_id: int, loaded: pd.DataFrame, full: bool
) -> AccountDependents:
    """What the accounts just resolved (``loaded``: the versions they resolved) change for
    contacts: contacts whose golden account, the evidence they are matched with, changed are
    matched again; contacts linked to, or that may now link to, an account that changed are
    linked again."""
    if full:  # every contact is recomputed anyway
        return AccountDependents(pd.DataFrame(columns=["source", "source_key"]), set())
    found = account_dependents(connection, project, run_id, loaded)
    moved = golden.moved_members(connection, Entity.ACCOUNT, run_id)
    linked = golden.contacts_of_accounts(connection, sorted(set(moved["golden_id"])))
    return AccountDependents(found.records, found.golden | set(linked))


def resolution_basis(project: Project, models: RunModels | None = None) -> str:
    """What golden records depend on besides the data: rules and how sources are read.

    When it changes, a run recomputes everything; otherwise it resolves only the delta.
    ``models``: the models as a run leaves them (trained ones before their files are written).
    """
    sources = [
        source.model_dump(
            mode="json", include={"name", "system", "entity", "default_region", "account_source"}
        )
        for source in project.spec.sources
    ]
    texts = (models or RunModels(project)).texts()
    model_hashes = {
        str(entity): hashlib.sha256(text.encode("utf-8")).hexdigest()
        for entity, text in texts.items()
    }
    text = json.dumps(
        {
            "rules": project.rules.model_dump(mode="json"),
            "sources": sources,
            "models": model_hashes,
            "index": INDEX_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


# A steward action queues behind a running run this long, then gives up (and says so).
STEWARD_WAIT_SECONDS = 600.0


def steward_run(
    project: Project,
    entity: Entity,
    act: Callable[[Connection, int], set[str]],
    wait_seconds: float | None = STEWARD_WAIT_SECONDS,
    settle: Callable[[Connection, int], None] | None = None,
) -> RunSummary:
    """Apply a steward action and resolve the golden records it touches, in one transaction.

    ``act`` writes the decision in the steward run it is given, and returns the golden ids
    to recompute. ``settle``, if given, runs after that resolution in the same transaction:
    it sees the master as the action left it (to check the outcome, raising to undo it all,
    and to audit the action with the golden records before and after:
    ``mdm.stewardship.common.run_action``). The action waits for a running run (at most
    ``wait_seconds``), so it is applied after that run, to the master as that run left it,
    and never lost.
    """
    store = open_store(project.store_url, writing=True)
    config = config_snapshot(project)
    clock = RunClock()
    try:
        with writing(store, "steward", wait_seconds):
            failpoints.reached("steward.locked")
            models = RunModels(project)
            with store.transaction() as connection:
                run_id = runs.start_run(connection, "steward", config)
                with clock.stage("act") as stage:
                    golden_ids = act(connection, run_id)
                    stage.counts = counted(len(golden_ids), "golden record")
                failpoints.reached("steward.acted")
                summary = RunSummary(run_id=run_id, command="steward")
                summary.entities = _resolve_steward_scope(
                    connection, run_id, project, entity, golden_ids, models, clock
                )
                if settle is not None:
                    with clock.stage("settle"):
                        settle(connection, run_id)
                summary.basis = resolution_basis(project, models)
                summary.stages = clock.timings
                runs.finish_run(connection, run_id, RunStatus.SUCCEEDED, summary.to_dict())
                failpoints.reached("steward.finished")
            failpoints.reached("steward.committed")
            models.write()
            _export(store, project, summary, clock)
        return summary
    finally:
        store.close()


def _resolve_steward_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    golden_ids: set[str],
    models: RunModels,
    clock: RunClock,
) -> list[EntitySummary]:
    """The golden records the action touched, the contacts of accounts that moved, and (as in
    any run) whatever was loaded since the last resolution; accounts first."""
    touched = {entity: golden_ids}
    loaded = unresolved(connection, Entity.ACCOUNT)
    accounts = resolve_entity(
        connection,
        run_id,
        project,
        Entity.ACCOUNT,
        full=False,
        also_golden=touched.get(Entity.ACCOUNT, set()),
        models=models,
        clock=clock,
    )
    dependents = _account_dependents(connection, project, run_id, loaded, full=False)
    contacts = resolve_entity(
        connection,
        run_id,
        project,
        Entity.CONTACT,
        full=False,
        also_golden=dependents.golden | touched.get(Entity.CONTACT, set()),
        also_records=dependents.records,
        models=models,
        clock=clock,
    )
    return [accounts, contacts]


def config_snapshot(project: Project) -> dict[str, Any]:
    """The project file and rules as used by a run, recorded with it."""
    return {
        "project": project.spec.model_dump(mode="json"),
        "rules": project.rules.model_dump(mode="json"),
    }


def export(project: Project, out: Path, fmt: ExportFormat) -> Path:
    return export_store(project.store_url, out, fmt)
