"""One source record by (source, key): its current version as loaded, its values standardized
(as golden records show them and as matching compares them), the golden record it belongs to
(redirects followed), the golden records it belonged to run by run, its versions and, for an
inbox source, its submissions no run has ingested yet. Read by key, never writing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, select

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.match_keys import compute_forms, parse_clean, parse_keys, region_of
from mdm.refs import entity_of_source
from mdm.schema import attribute_names
from mdm.store import golden, records
from mdm.store import inbox as inbox_store
from mdm.store.bulk import read_frame, table_of
from mdm.store.tables import Membership
from mdm.views.base import ViewModel, plain_rows
from mdm.views.redirects import current_id

RecordStatus = Literal["live", "deleted", "pending"]


class GoldenMembership(ViewModel):
    """A golden record the record belonged to, from one run to another."""

    golden_id: str
    current_id: str  # the id that answers for it now (redirects followed)
    from_run: int
    to_run: int | None  # None: it still belongs to it


class RecordVersion(ViewModel):
    version: int
    run: int
    deleted: bool
    last_modified: datetime | None


class PendingSubmission(ViewModel):
    """A submission to an inbox source that the next run will ingest."""

    id: int
    received_at: datetime
    submitted_by: str
    values: dict[str, Any]  # as submitted, in the source's own fields


class SourceRecordView(ViewModel):
    source: str
    source_key: str
    system: str
    entity: str
    status: RecordStatus  # pending: submitted to an inbox, not ingested yet
    version: int | None
    last_modified: datetime | None
    run: int | None  # the run that loaded the current version
    values: dict[str, Any]  # canonical attributes as loaded
    standardized: dict[str, str | None]  # display forms, as golden records show them
    match_keys: dict[str, str | None]  # match forms, as matching compares them
    golden_id: str | None  # the golden record it belongs to (or last belonged to) now
    resolved_from: str | None  # the id it belonged to, when that was merged into golden_id
    golden_history: list[GoldenMembership]  # oldest first
    versions: list[RecordVersion]  # oldest first
    pending: list[PendingSubmission]


def source_record(
    connection: Connection, project: Project, source: str, key: str
) -> SourceRecordView:
    """The record ``key`` of ``source``."""
    entity = entity_of_source(project, source)
    spec = project.source(source)
    pending = _pending(connection, source, key)
    versions = _versions(connection, source, key, entity)
    if versions.empty and not pending:
        raise MdmError(Reason.NOT_FOUND, f"No record {source}:{key}.")
    history = _memberships(connection, source, key)
    base: dict[str, Any] = {
        "source": source,
        "source_key": key,
        "system": spec.system,
        "entity": str(entity),
        "golden_history": history,
        "pending": pending,
    }
    if versions.empty:  # submitted, not ingested yet
        empty = dict.fromkeys(attribute_names(entity))
        return SourceRecordView(
            **base,
            status="pending",
            version=None,
            last_modified=None,
            run=None,
            values=empty,
            standardized=empty,
            match_keys=empty,
            golden_id=None,
            resolved_from=None,
            versions=[],
        )
    current = plain_rows(versions.tail(1))[0]
    keys, clean = _forms(project, entity, source, current)
    member, resolved_from = _golden_id(connection, entity, source, key, history)
    return SourceRecordView(
        **base,
        status="deleted" if current["deleted"] else "live",
        version=int(current["version"]),
        last_modified=current["last_modified"],
        run=int(current["run_id"]),
        values=_ordered(json.loads(current["attributes"]), attribute_names(entity)),
        standardized=clean,
        match_keys=keys,
        golden_id=member,
        resolved_from=resolved_from,
        versions=[
            RecordVersion(
                version=int(row["version"]),
                run=int(row["run_id"]),
                deleted=bool(row["deleted"]),
                last_modified=row["last_modified"],
            )
            for row in plain_rows(versions)
        ],
    )


def _versions(connection: Connection, source: str, key: str, entity: Any) -> pd.DataFrame:
    keys = pd.DataFrame({"source": [source], "source_key": [key]}, dtype=object)
    ids = records.ids_of_versions(connection, entity, keys)
    found = records.records_by_id(connection, ids)
    if found.empty:
        return found
    return found.sort_values("version", kind="stable", ignore_index=True)


def _forms(
    project: Project, entity: Any, source: str, current: dict[str, Any]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The stored match keys and display forms; computed here, in memory, where stale."""
    stored = pd.Series([current["match_keys"]], dtype=object)
    keys, stale = parse_keys(entity, stored)
    clean, clean_stale = parse_clean(entity, stored)
    if bool(stale.iloc[0]) or bool(clean_stale.iloc[0]):
        raw = pd.DataFrame([json.loads(current["attributes"])])
        keys, clean = compute_forms(entity, raw, region_of(project, pd.Series([source])))
    return _first(keys), _first(clean)


def _golden_id(
    connection: Connection,
    entity: Any,
    source: str,
    key: str,
    history: list[GoldenMembership],
) -> tuple[str | None, str | None]:
    """The golden id the record belongs to now; a deleted record's last, redirects followed."""
    keys = pd.DataFrame({"source": [source], "source_key": [key]}, dtype=object)
    found = golden.xref_of_keys(connection, entity, keys)
    if not found.empty:
        return str(found["golden_id"].iloc[0]), None
    if not history:
        return None, None
    last = history[-1]
    moved = last.golden_id if last.current_id != last.golden_id else None
    return last.current_id, moved


def _memberships(connection: Connection, source: str, key: str) -> list[GoldenMembership]:
    table = table_of(Membership)
    statement = (
        select(table.c.golden_id, table.c.from_run, table.c.to_run)
        .where(table.c.source == source, table.c.source_key == key)
        .order_by(table.c.from_run, table.c.id)
    )
    return [
        GoldenMembership(
            golden_id=str(row["golden_id"]),
            current_id=current_id(connection, str(row["golden_id"])),
            from_run=int(row["from_run"]),
            to_run=None if row["to_run"] is None else int(row["to_run"]),
        )
        for row in plain_rows(read_frame(connection, statement))
    ]


def _pending(connection: Connection, source: str, key: str) -> list[PendingSubmission]:
    found = inbox_store.submissions_of(connection, source, key)
    return [
        PendingSubmission(
            id=int(row["id"]),
            received_at=row["received_at"],
            submitted_by=str(row["submitted_by"]),
            values=json.loads(row["record"]),
        )
        for row in plain_rows(found)
        if row["run_id"] is None
    ]


def _first(frame: pd.DataFrame) -> dict[str, str | None]:
    row = frame.iloc[0]
    return {str(name): None if pd.isna(value) else str(value) for name, value in row.items()}


def _ordered(values: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {name: values.get(name) for name in names}
