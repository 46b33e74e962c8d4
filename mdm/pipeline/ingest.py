"""Write one source load into the store: new versions, tombstones and quarantined rows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import LoadMode, Project, SourceFormat
from mdm.errors import MdmError, Problem, Reason
from mdm.json_text import json_objects
from mdm.match_keys import compute_forms, forms_json, region_of
from mdm.matching.protocol import SPARK
from mdm.pipeline.clock import RunClock, counted
from mdm.schema import Entity, attribute_names
from mdm.sources import (
    ChangePlan,
    SourceLoad,
    check_quarantine_share,
    content_hash,
    plan_changes,
)
from mdm.sources.inbox import pending_load
from mdm.store import bulk, inbox, records
from mdm.store.tables import Quarantine, SourceRecord


@dataclass
class SourceSummary:
    source: str
    entity: str
    location: str
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    quarantined: int
    kept: int = 0  # records whose rows were quarantined: their last good version stays
    held_back: int = 0  # records absent from a full extract, not deleted (see warnings)
    warnings: list[str] = field(default_factory=list)
    # Fields the match rules compare that the source maps no column to (mdm.pipeline.coverage).
    not_compared: list[str] = field(default_factory=list)


def ingest_load(
    connection: Connection,
    run_id: int,
    load: SourceLoad,
    project: Project,
    allow_deletes: frozenset[str] = frozenset(),
    clock: RunClock | None = None,
) -> SourceSummary:
    """Write one load. A full load that would delete more of the source's live records than
    its ``max_delete_share`` raises ``MdmError`` before writing, unless the source is in
    ``allow_deletes``. ``clock`` times the standardization of the new versions. A load
    quarantining more than ``max_quarantine_share`` of its rows for one reason raises too.

    An inbox source's load is read here, in the run's transaction: its pending submissions,
    stamped with the run in the same transaction (``mdm.sources.inbox``)."""
    if load.spec.format is SourceFormat.INBOX:
        taken = pending_load(load.spec, inbox.pending(connection, load.spec.name))
        summary = _ingest(connection, run_id, taken.load, project, allow_deletes, clock)
        inbox.mark_ingested(connection, taken.ids, run_id)
        return summary
    return _ingest(connection, run_id, load, project, allow_deletes, clock)


def _ingest(
    connection: Connection,
    run_id: int,
    load: SourceLoad,
    project: Project,
    allow_deletes: frozenset[str],
    clock: RunClock | None,
) -> SourceSummary:
    spec = load.spec
    check_quarantine_share(load)
    if load.records.empty and not load.quarantined_keys and spec.mode is LoadMode.DELTA:
        _write_quarantine(connection, run_id, load)  # nothing new: nothing to compare
        return _summary(load, inserted=0, updated=0, deleted=0, unchanged=0)
    attributes = attribute_names(spec.entity)
    incoming = load.records.assign(content_hash=content_hash(load.records, attributes))
    # A delta load touches only its own keys; a full one must see every key to find absences.
    wanted = None
    if spec.mode is LoadMode.DELTA:
        wanted = sorted(set(incoming["source_key"].astype(str)) | load.quarantined_keys)
    current = records.current_records(connection, spec.name, wanted)
    plan = plan_changes(
        incoming,
        current[["source_key", "content_hash", "deleted"]],
        spec.mode,
        quarantined=load.quarantined_keys,
        hold_absent=bool(load.unkeyed_rows),
    )
    if spec.name not in allow_deletes:
        _check_deletions(load, plan)
    tombstones = _tombstones(plan.deletes, current, attributes)
    # In key order, so that record ids (the last tie-break anywhere) do not follow row order.
    versions = pd.concat([plan.inserts, plan.updates, tombstones], ignore_index=True)
    versions = versions.sort_values("source_key", kind="stable", ignore_index=True)
    with (clock or RunClock()).stage("standardize", spec.name) as stage:
        keys = _match_keys(project, spec.entity, spec.name, versions)
        stage.counts = counted(int(versions["deleted"].astype(bool).eq(False).sum()), "version")
    _write_versions(
        connection, run_id, spec.name, str(spec.entity), versions, current, attributes, keys
    )
    failpoints.reached("ingest.versions_written")
    _write_quarantine(connection, run_id, load)
    summary = _summary(
        load,
        inserted=len(plan.inserts),
        updated=len(plan.updates),
        deleted=len(tombstones),
        unchanged=plan.unchanged,
    )
    summary.kept, summary.held_back = plan.kept, plan.held_back
    if plan.held_back:
        summary.warnings.append(_held_back_warning(plan.held_back, load.unkeyed_rows))
    return summary


def _summary(
    load: SourceLoad, *, inserted: int, updated: int, deleted: int, unchanged: int
) -> SourceSummary:
    return SourceSummary(
        source=load.spec.name,
        entity=str(load.spec.entity),
        location=load.location,
        rows_read=load.rows_read,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        unchanged=unchanged,
        quarantined=load.rows_quarantined,
    )


def _held_back_warning(held_back: int, unkeyed_rows: tuple[int, ...]) -> str:
    if len(unkeyed_rows) == 1:
        rows = f"row {unkeyed_rows[0]} has"
    else:
        rows = f"rows {_listed(unkeyed_rows)} have"
    if held_back == 1:
        absent = "1 deletion held back: whether the record absent from this full extract is"
    else:
        absent = f"{held_back} deletions held back: whether the {held_back} records absent from "
        absent += "this full extract are"
    return (
        f"{absent} really gone cannot be told, as quarantined {rows} no readable key; nothing "
        "absent is deleted until a load whose rows all have a key (see mdm quarantine)"
    )


def _listed(numbers: tuple[int, ...], shown: int = 10) -> str:
    text = ", ".join(map(str, numbers[:shown]))
    return text + (f", … ({len(numbers)} in all)" if len(numbers) > shown else "")


def _check_deletions(load: SourceLoad, plan: ChangePlan) -> None:
    """Stop a full load that would delete more than ``max_delete_share`` of its live records.

    Every tombstone of a live record counts: keys absent from the extract and rows flagged
    deleted. A cut-off extract, a header-only one, or a deleted flag read from the wrong
    column looks like this; a load that means it is run with --allow-deletes.
    """
    spec = load.spec
    limit = spec.max_delete_share
    if spec.mode is not LoadMode.FULL or plan.live == 0 or plan.live_deleted <= limit * plan.live:
        return
    absent = int(plan.deletes["row_number"].isna().sum())
    flagged = plan.live_deleted - absent
    share = plan.live_deleted / plan.live
    message = (
        f"this full extract would delete {plan.live_deleted} of the source's {plan.live} live "
        f"records ({_percent(share)}: {absent} absent from the extract, {flagged} flagged "
        f"deleted), more than max_delete_share = {limit:g} allows ({_percent(limit)})"
    )
    hint = (
        f"if the extract is cut short or empty, fix it and run again; if these records are "
        f"really gone, run again with --allow-deletes {spec.name}, or raise max_delete_share "
        "for this source in mdm.toml"
    )
    where = f"{load.location} (source '{spec.name}')"
    summary = "The run was stopped before changing the store: a load would delete too much."
    raise MdmError(Reason.SOURCE, summary, [Problem(where, message, hint)])


def _percent(share: float) -> str:
    text = f"{share * 100:.1f}".removesuffix(".0")
    return f"{text}%"


def allowed_deletes(project: Project, names: Iterable[str]) -> frozenset[str]:
    """The sources named by --allow-deletes; every name must be a source of the project."""
    known = [source.name for source in project.spec.sources]
    allowed = frozenset(names)
    unknown = sorted(allowed - set(known))
    if unknown:
        problems = [
            Problem(
                "--allow-deletes",
                f"'{name}' is not a source of this project",
                f"sources: {', '.join(known) or 'none'}",
            )
            for name in unknown
        ]
        raise MdmError(Reason.USAGE, "--allow-deletes names an unknown source.", problems)
    return allowed


def _tombstones(
    deletes: pd.DataFrame, current: pd.DataFrame, attributes: list[str]
) -> pd.DataFrame:
    """A key gone from a full extract keeps the values it had, so history shows what went.

    Rows the source flagged deleted carry their own values; absent keys have no row number.
    """
    absent = deletes["row_number"].isna().to_numpy(dtype=bool)
    if not absent.any():
        return deletes
    previous = current.set_index("source_key")["attributes"]
    keys = deletes.loc[absent, "source_key"]
    values = pd.DataFrame([json.loads(previous[key]) for key in keys], index=keys.index).reindex(
        columns=attributes
    )
    tombstones = deletes.copy()
    tombstones.loc[absent, attributes] = values.astype("string")
    hashes = content_hash(tombstones.loc[absent], attributes)
    tombstones["content_hash"] = tombstones["content_hash"].astype("string")
    tombstones.loc[absent, "content_hash"] = hashes
    return tombstones


def _write_versions(
    connection: Connection,
    run_id: int,
    source: str,
    entity: str,
    versions: pd.DataFrame,
    current: pd.DataFrame,
    attributes: list[str],
    keys: pd.Series,
) -> None:
    if versions.empty:
        return
    previous = current.set_index("source_key")
    replaced = versions["source_key"][versions["source_key"].isin(previous.index)]
    records.retire_versions(connection, previous.loc[replaced, "id"].tolist())
    last_version = versions["source_key"].map(previous["version"]).fillna(0).astype("int64")
    rows = pd.DataFrame(
        {
            "source": source,
            "entity": entity,
            "source_key": versions["source_key"].astype(str),
            "version": last_version + 1,
            "is_current": True,
            "deleted": versions["deleted"].astype(bool),
            "content_hash": versions["content_hash"],
            "last_modified": versions["last_modified"],
            "run_id": run_id,
            "row_number": versions.get("row_number"),
            # Arrow-backed text, aligned by position: converted for the driver once.
            "attributes": attributes_json(versions, attributes).set_axis(versions.index),
            "match_keys": keys.set_axis(versions.index),
        }
    )
    bulk.insert_frame(connection, SourceRecord, rows)


def _match_keys(project: Project, entity: Entity, source: str, versions: pd.DataFrame) -> pd.Series:
    """Standardize each new live version once (its match keys and display forms), by
    position; tombstones need none."""
    live = ~versions["deleted"].astype(bool).to_numpy()
    rows = versions[live]
    region = region_of(project, pd.Series(source, index=rows.index))
    forms = forms_json(*_forms(project, entity, rows, region))
    if live.all():
        return forms
    result = pd.Series(pd.NA, index=range(len(versions)), dtype=forms.dtype)
    result[live] = forms.to_numpy(dtype=object)
    return result


def _forms(
    project: Project, entity: Entity, rows: pd.DataFrame, region: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``compute_forms`` of the rows; on Spark when the project's engine is ``spark``."""
    if project.spec.engine == SPARK:
        # Imported only here: a local run never loads the Spark code.
        from mdm.pipeline.spark_stages import spark_forms

        return spark_forms(project.spec.spark, entity, rows, region)
    return compute_forms(entity, rows, region)


def attributes_json(frame: pd.DataFrame, attributes: list[str]) -> pd.Series:
    """Each row's attributes as a JSON object, by name (a missing column: null), by
    position."""
    values = frame.reindex(columns=attributes)
    return json_objects([(name, values[name]) for name in sorted(attributes)], len(frame))


def _write_quarantine(connection: Connection, run_id: int, load: SourceLoad) -> None:
    if load.quarantine.empty:
        return
    rows = load.quarantine.assign(run_id=run_id, source=load.spec.name, location=load.location)
    bulk.insert_frame(connection, Quarantine, rows)
