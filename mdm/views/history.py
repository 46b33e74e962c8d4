"""Lineage and history of one golden record: where each value came from, and every event and
earlier version of the record. Read by the golden id."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id
from mdm.store import golden, records
from mdm.views.base import ViewModel, plain_rows
from mdm.views.redirects import current_id


class LineageRow(ViewModel):
    """One golden value: the record it came from (none for a steward's pin), the rule that
    chose it, how many candidates it had and the values it beat."""

    attribute: str
    value: str
    source: str | None
    source_key: str | None
    rule: str
    candidates: int
    # The values it beat, or {"value": ..., "record_id": ...} objects; None: not recorded.
    beaten: list[Any] | None

    @property
    def record(self) -> str | None:
        """The source record as ``SOURCE:KEY``; None for a steward's pin."""
        return None if self.source is None else f"{self.source}:{self.source_key}"


class EventRow(ViewModel):
    run: int
    event: str  # created, updated, merged, split, retired, revived
    other_id: str | None  # the merge survivor, the split origin


class VersionRow(ViewModel):
    version: int
    run: int
    status: str
    members: int
    values: dict[str, Any]  # the golden values as the run wrote them


class HistoryView(ViewModel):
    requested: str
    golden_id: str  # the id that answers for ``requested`` now
    events: list[EventRow]
    versions: list[VersionRow]


def golden_lineage(connection: Connection, golden_id: str) -> list[LineageRow]:
    """Every golden value of the record that answers for ``golden_id``: the record it came
    from, the rule, and the candidates it beat."""
    entity_of_golden_id(golden_id)
    rows = lineage_rows(connection, current_id(connection, golden_id))
    if not rows:
        raise MdmError(Reason.NOT_FOUND, f"No lineage for {golden_id}: is it an active id?")
    return rows


def lineage_rows(connection: Connection, golden_id: str) -> list[LineageRow]:
    """The lineage of one golden id, by attribute."""
    lineage = plain_rows(golden.lineage(connection, golden_id=golden_id))
    record_ids = [int(row["record_id"]) for row in lineage if row["record_id"] is not None]
    keys = plain_rows(records.records_in(connection, record_ids))
    key_of = {int(row["record_id"]): (row["source"], row["source_key"]) for row in keys}
    return [_lineage_row(row, key_of) for row in lineage]


def _lineage_row(row: dict[str, Any], key_of: dict[int, tuple[str, str]]) -> LineageRow:
    # A pinned value comes from a steward, not from a record.
    source, source_key = (None, None)
    if row["record_id"] is not None:
        source, source_key = key_of.get(int(row["record_id"]), (None, None))
    return LineageRow(
        attribute=row["attribute"],
        value=row["value"],
        source=source,
        source_key=source_key,
        rule=row["rule"],
        candidates=row["candidates"],
        beaten=None if row.get("beaten") is None else json.loads(row["beaten"]),
    )


def golden_history(connection: Connection, golden_id: str) -> HistoryView:
    """Every event and version of ``golden_id``, oldest first."""
    entity_of_golden_id(golden_id)
    current = current_id(connection, golden_id)
    events, versions = golden.golden_history(connection, golden_id)
    if events.empty:
        raise MdmError(Reason.NOT_FOUND, f"No history for {golden_id}: no run has made it.")
    return HistoryView(
        requested=golden_id,
        golden_id=current,
        events=[
            EventRow(run=row["run_id"], event=row["event"], other_id=row["other_id"])
            for row in plain_rows(events)
        ],
        versions=[
            VersionRow(
                version=row["version"],
                run=row["run_id"],
                status=row["status"],
                members=row["members"],
                values=json.loads(row["record"]),
            )
            for row in plain_rows(versions)
        ],
    )
