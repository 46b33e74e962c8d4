"""Quarantined rows: what a run could not load from its sources, with the reasons."""

from __future__ import annotations

from sqlalchemy import Connection

from mdm.schema import RunStatus
from mdm.store import records, runs
from mdm.views.base import ViewModel, plain_rows


class QuarantineRow(ViewModel):
    source: str
    row_number: int | None
    source_key: str | None
    column: str | None
    reason: str


def run_quarantine(connection: Connection, run_id: int | None) -> list[QuarantineRow]:
    """The rows run ``run_id`` quarantined (default: the latest run that succeeded)."""
    if run_id is None:
        run_id = runs.latest_run_id(connection, RunStatus.SUCCEEDED)
    if run_id is None:
        return []
    return [
        QuarantineRow.model_validate(row)
        for row in plain_rows(records.quarantine(connection, run_id))
    ]
