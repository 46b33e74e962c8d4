"""Write one source load into the store: new versions, tombstones and quarantined rows."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import LoadMode, Project
from mdm.pipeline.keys import compute_keys, keys_json, region_of
from mdm.schema import Entity, attribute_names
from mdm.sources import SourceLoad, content_hash, plan_changes
from mdm.store import io as store_io
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


def ingest_load(
    connection: Connection, run_id: int, load: SourceLoad, project: Project
) -> SourceSummary:
    spec = load.spec
    if load.records.empty and spec.mode is LoadMode.DELTA:  # nothing new: nothing to compare
        _write_quarantine(connection, run_id, load)
        return _summary(load, inserted=0, updated=0, deleted=0, unchanged=0)
    attributes = attribute_names(spec.entity)
    incoming = load.records.assign(content_hash=content_hash(load.records, attributes))
    # A delta load touches only its own keys; a full one must see every key to find absences.
    wanted = None if spec.mode is LoadMode.FULL else incoming["source_key"].astype(str).tolist()
    current = store_io.current_records(connection, spec.name, wanted)
    plan = plan_changes(incoming, current[["source_key", "content_hash", "deleted"]], spec.mode)
    tombstones = _tombstones(plan.deletes, current, attributes)
    # In key order, so that record ids (the last tie-break anywhere) do not follow row order.
    versions = pd.concat([plan.inserts, plan.updates, tombstones], ignore_index=True)
    versions = versions.sort_values("source_key", kind="stable", ignore_index=True)
    keys = _match_keys(project, spec.entity, spec.name, versions)
    _write_versions(
        connection, run_id, spec.name, str(spec.entity), versions, current, attributes, keys
    )
    _write_quarantine(connection, run_id, load)
    return _summary(
        load,
        inserted=len(plan.inserts),
        updated=len(plan.updates),
        deleted=len(tombstones),
        unchanged=plan.unchanged,
    )


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
    keys: list[str | None],
) -> None:
    if versions.empty:
        return
    previous = current.set_index("source_key")
    replaced = versions["source_key"][versions["source_key"].isin(previous.index)]
    store_io.retire_versions(connection, previous.loc[replaced, "id"].tolist())
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
            "attributes": attributes_json(versions, attributes),
            "match_keys": keys,
        }
    )
    store_io.insert_frame(connection, SourceRecord, rows)


def _match_keys(
    project: Project, entity: Entity, source: str, versions: pd.DataFrame
) -> list[str | None]:
    """Standardize each new live version once; tombstones need no keys."""
    result: list[str | None] = [None] * len(versions)
    live = ~versions["deleted"].astype(bool).to_numpy()
    if live.any():
        rows = versions[live]
        region = region_of(project, pd.Series(source, index=rows.index))
        for position, text in zip(
            live.nonzero()[0], keys_json(compute_keys(entity, rows, region)), strict=True
        ):
            result[position] = text
    return result


def attributes_json(frame: pd.DataFrame, attributes: list[str]) -> list[str]:
    values = frame.reindex(columns=attributes).astype(object)
    values = values.where(values.notna(), None)
    return [
        json.dumps(dict(zip(attributes, row, strict=True)), ensure_ascii=False, sort_keys=True)
        for row in values.itertuples(index=False, name=None)
    ]


def _write_quarantine(connection: Connection, run_id: int, load: SourceLoad) -> None:
    if load.quarantine.empty:
        return
    rows = load.quarantine.assign(run_id=run_id, source=load.spec.name, location=load.location)
    store_io.insert_frame(connection, Quarantine, rows)
