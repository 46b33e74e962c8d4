"""The audit log, newest first: who did what to which records or golden records, when and why.

A page is read along an index of the log by time (by actor and time when an actor is asked
for): the newest rows that pass the filters, then the next page from before the last of them
(``before_id``), never the whole log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from mdm.errors import MdmError, Reason
from mdm.store.bulk import table_of
from mdm.store.tables import AuditLog
from mdm.views.base import ViewModel


class AuditRow(ViewModel):
    id: int
    at: datetime
    actor: str  # who
    action: str  # what
    target: str  # the records (SOURCE:KEY) or golden ids acted on
    reason: str | None  # why, as the steward gave it
    detail: Any  # the detail as recorded (JSON parsed): an object, usually
    before: Any = None  # the detail's ``before`` and ``after``, when it has them
    after: Any = None


class AuditPage(ViewModel):
    rows: list[AuditRow]
    next_before_id: int | None  # ``before_id`` for the next page; None: this is the last


def audit_page(
    connection: Connection,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> AuditPage:
    """The audit rows that pass the filters, newest first, at most ``limit``: from the
    newest, or from the row just older than ``before_id``. ``target``: a record or golden id
    acted on (alone, one of the records of a pair, or the golden id of a pinned value);
    ``since`` inclusive, ``until`` exclusive."""
    if limit < 1:
        raise MdmError(Reason.USAGE, "An audit page has a limit of 1 or more.")
    table = table_of(AuditLog)
    statement = select(table)
    if actor is not None:
        statement = statement.where(table.c.actor == actor)
    if action is not None:
        statement = statement.where(table.c.action == action)
    if target is not None:
        statement = statement.where(
            or_(
                table.c.target == target,
                table.c.target.startswith(f"{target} ", autoescape=True),
                table.c.target.endswith(f" {target}", autoescape=True),
                table.c.target.startswith(f"{target}.", autoescape=True),  # a pinned value
            )
        )
    if since is not None:
        statement = statement.where(table.c.at >= since)
    if until is not None:
        statement = statement.where(table.c.at < until)
    if before_id is not None:
        at = connection.execute(select(table.c.at).where(table.c.id == before_id)).scalar()
        if at is None:
            raise MdmError(Reason.NOT_FOUND, f"No audit row {before_id} to page from.")
        statement = statement.where(
            or_(table.c.at < at, and_(table.c.at == at, table.c.id < before_id))
        )
    statement = statement.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit + 1)
    rows = [_row(row._mapping) for row in connection.execute(statement)]
    return AuditPage(
        rows=rows[:limit], next_before_id=rows[limit - 1].id if len(rows) > limit else None
    )


def _row(row: Any) -> AuditRow:
    detail = json.loads(row["detail"]) if row["detail"] else None
    fields = detail if isinstance(detail, dict) else {}
    reason = fields.get("reason")
    return AuditRow(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        reason=None if reason is None else str(reason),
        detail=detail,
        before=fields.get("before"),
        after=fields.get("after"),
    )
