"""Read models for people: the 360 view of a golden record, recent runs, quarantined rows.

Shared by the CLI now and the stewards' web UI later; they only read the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.identity import resolve
from mdm.schema import GOLDEN_ID_PREFIX, Entity, attribute_names
from mdm.store import io as store_io
from mdm.store import open_store


@dataclass(frozen=True)
class GoldenView:
    requested: str
    golden_id: str
    entity: Entity
    record: dict[str, Any]
    members: pd.DataFrame  # system, source, source_key, last_modified, attribute values
    related: pd.DataFrame  # an account's contacts, or a contact's account
    related_title: str
    lineage: pd.DataFrame  # attribute, value, source, source_key, rule, candidates


def golden_view(project: Project, golden_id: str) -> GoldenView:
    entity = _entity_of(golden_id)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            return _view(connection, project, entity, golden_id)
    finally:
        store.close()


def _entity_of(golden_id: str) -> Entity:
    for entity, prefix in GOLDEN_ID_PREFIX.items():
        if golden_id.startswith(f"{prefix}-"):
            return entity
    raise MdmError(
        Reason.NOT_FOUND,
        f"{golden_id!r} is not a golden id: account ids start with 'A-', contact ids with 'C-'.",
    )


def _view(connection: Connection, project: Project, entity: Entity, requested: str) -> GoldenView:
    golden_id = resolve(requested, store_io.redirects(connection, str(entity)))
    found = store_io.golden_record(connection, str(entity), golden_id)
    if found.empty:
        raise MdmError(
            Reason.NOT_FOUND,
            f"No golden {entity} {requested}. Find ids in the export's {entity}s file.",
        )
    record = {str(k): _plain(v) for k, v in found.iloc[0].to_dict().items()}
    members = _members(connection, project, entity, golden_id)
    related, title = _related(connection, entity, golden_id, record)
    return GoldenView(
        requested=requested,
        golden_id=golden_id,
        entity=entity,
        record=record,
        members=members,
        related=related,
        related_title=title,
        lineage=_lineage(connection, golden_id),
    )


def _members(
    connection: Connection, project: Project, entity: Entity, golden_id: str
) -> pd.DataFrame:
    xref = store_io.xref_of_golden(connection, [golden_id])
    records = store_io.records_by_id(connection, xref["record_id"].astype(int).tolist())
    systems = {source.name: source.system for source in project.spec.sources}
    values = pd.DataFrame([json.loads(text) for text in records["attributes"]])
    values = values.reindex(columns=attribute_names(entity))
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "system": records["source"].map(lambda name: systems.get(name, name)),
                    "source": records["source"],
                    "source_key": records["source_key"],
                    "version": records["version"],
                    "last_modified": records["last_modified"],
                }
            ),
            values,
        ],
        axis=1,
    )
    return frame.dropna(axis=1, how="all").sort_values(["system", "source", "source_key"])


def _related(
    connection: Connection, entity: Entity, golden_id: str, record: dict[str, Any]
) -> tuple[pd.DataFrame, str]:
    if entity is Entity.ACCOUNT:
        contacts = store_io.golden_records(connection, str(Entity.CONTACT))
        mine = contacts[(contacts["account_id"] == golden_id) & (contacts["status"] == "active")]
        columns = ["golden_id", "first_name", "last_name", "email", "phone", "title"]
        return mine[columns].sort_values(["last_name", "first_name"]), "Contacts"
    account_id = record.get("account_id")
    if not account_id:
        return pd.DataFrame(), "Account"
    account = store_io.golden_record(connection, str(Entity.ACCOUNT), str(account_id))
    columns = ["golden_id", "name", "domain", "city", "country"]
    return account[columns], f"Account (linked by {record.get('account_link')})"


def _lineage(connection: Connection, golden_id: str) -> pd.DataFrame:
    lineage = store_io.lineage(connection, golden_id=golden_id)
    keys = store_io.records_by_id(connection, lineage["record_id"].astype(int).tolist())
    keyed = lineage.merge(
        keys[["id", "source", "source_key"]], left_on="record_id", right_on="id", how="left"
    )
    keyed["record"] = keyed["source"] + ":" + keyed["source_key"]
    return keyed[["attribute", "value", "record", "rule", "candidates"]]


def _plain(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def recent_runs(project: Project, limit: int) -> pd.DataFrame:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            runs = store_io.recent_runs(connection, limit)
    finally:
        store.close()
    return pd.DataFrame(
        {
            "run": runs["id"],
            "command": runs["command"],
            "status": runs["status"],
            "started": runs["started_at"].astype(str).str.slice(0, 19),
            "seconds": _seconds(runs),
            "outcome": [
                _outcome(summary, error)
                for summary, error in zip(runs["summary"], runs["error"], strict=True)
            ],
        }
    )


def _seconds(runs: pd.DataFrame) -> pd.Series:
    started = pd.to_datetime(runs["started_at"], utc=True)
    finished = pd.to_datetime(runs["finished_at"], utc=True)
    return (finished - started).dt.total_seconds().round(1)


def _outcome(summary: str | None, error: str | None) -> str:
    if error:
        return error.splitlines()[0][:120]
    data = json.loads(summary) if summary else {}
    sources = data.get("sources", [])
    parts = [
        f"{sum(s[key] for s in sources)} {key}"
        for key in ("inserted", "updated", "deleted", "quarantined")
    ]
    for entity in data.get("entities", []):
        parts.append(f"{entity['golden']} golden {entity['entity']}s")
    return ", ".join(parts)


def run_quarantine(project: Project, run_id: int | None) -> pd.DataFrame:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            if run_id is None:
                runs = store_io.recent_runs(connection, 50)
                loaded = runs[(runs["status"] == "succeeded")]
                run_id = int(loaded["id"].iloc[0]) if not loaded.empty else -1
            rows = store_io.quarantine(connection, run_id)
    finally:
        store.close()
    return rows[["source", "row_number", "source_key", "column", "reason"]]
