"""Run records: each command that writes starts one, and finishes it succeeded or failed."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select, update

from mdm.schema import RunStatus
from mdm.store.bulk import now, read_frame, table_of
from mdm.store.tables import Run

# The commands whose runs resolve source records into golden records.
RESOLVING_COMMANDS = ("run", "steward")


def start_run(connection: Connection, command: str, config: dict[str, Any]) -> int:
    table = table_of(Run)
    result = connection.execute(
        table.insert().values(
            command=command,
            status=RunStatus.RUNNING,
            started_at=now(),
            config=json.dumps(config, sort_keys=True, default=str),
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the run row got no id")
    return int(key[0])


def finish_run(
    connection: Connection,
    run_id: int,
    status: RunStatus,
    summary: dict[str, Any] | None,
    error: str | None = None,
) -> None:
    table = table_of(Run)
    connection.execute(
        update(table)
        .where(table.c.id == run_id)
        .values(
            status=status,
            finished_at=now(),
            summary=json.dumps(summary, sort_keys=True, default=str) if summary else None,
            error=error,
        )
    )


def record_failed_run(
    connection: Connection, command: str, config: dict[str, Any], error: str
) -> int:
    run_id = start_run(connection, command, config)
    finish_run(connection, run_id, RunStatus.FAILED, None, error)
    return run_id


def recent_runs(connection: Connection, limit: int) -> pd.DataFrame:
    table = table_of(Run)
    statement = (
        select(
            table.c.id,
            table.c.command,
            table.c.status,
            table.c.started_at,
            table.c.finished_at,
            table.c.summary,
            table.c.error,
        )
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return read_frame(connection, statement)


def run_record(connection: Connection, run_id: int) -> pd.DataFrame:
    """One run, read by its id, with the rules it ran with (``config``); no row if none."""
    table = table_of(Run)
    return read_frame(connection, select(table).where(table.c.id == run_id))


def started_at(connection: Connection, run_id: int) -> str | None:
    """When a run started, as text (None if there is no such run)."""
    table = table_of(Run)
    found = connection.execute(select(table.c.started_at).where(table.c.id == run_id)).scalar()
    return None if found is None else str(found)


def latest_run_id(connection: Connection, status: RunStatus) -> int | None:
    """The id of the latest run that ended (or is) in ``status``, if any."""
    table = table_of(Run)
    statement = select(table.c.id).where(table.c.status == status).order_by(table.c.id.desc())
    found = connection.execute(statement.limit(1)).scalar()
    return None if found is None else int(found)


def last_resolution_basis(connection: Connection) -> str | None:
    """The resolution basis recorded by the latest successful run that resolved."""
    table = table_of(Run)
    statement = (
        select(table.c.summary)
        .where(
            table.c.status == RunStatus.SUCCEEDED,
            table.c.command.in_(RESOLVING_COMMANDS),
        )
        .order_by(table.c.id.desc())
        .limit(1)
    )
    summary = connection.execute(statement).scalar()
    if not summary:
        return None
    basis = json.loads(summary).get("basis")
    return str(basis) if basis else None
