"""The audit log: who did what, to which records, when and why, and what it changed.

``GET /audit`` (viewer) is the page, ``GET /api/audit`` (viewer) the same rows as JSON. Both
are filtered by actor, action, target (a golden id or SOURCE:KEY acted on) and a range of UTC
days, newest first, a page at a time (``before``: the id of the last row of the page before,
as ``next_before_id`` gives it). Each row's ``before`` and ``after`` (the golden records the
action touched, as they were and as it left them) become a compact diff: the values that
changed, the members that left and joined, the records merged away or minted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Connection

from mdm.errors import MdmError, Reason
from mdm.schema import GOLDEN_ID_PREFIX
from mdm.views.audit import AuditPage, AuditRow, audit_page
from mdm.web.deps import Reading, Viewer
from mdm.web.rendering import render

router = APIRouter()

PAGE_SIZE = 50  # rows on a page
API_LIMIT = 500  # the most rows one API page gives
MEMBERS_LISTED = 8  # members that left or joined listed per golden record; the rest counted
# The actions stewards and admins take, as the audit log names them, and what people call them.
ACTIONS = {
    "must_link": "match (same)",
    "cannot_link": "not a match (different)",
    "undo": "undo a decision",
    "skip": "skip a review item",
    "merge": "merge golden records",
    "move": "move a record",
    "unmerge": "undo a merge",
    "split": "split records out",
    "pin": "pin a value",
    "unpin": "unpin a value",
    "user-add": "add a user",
    "user-disable": "disable a user",
    "token-create": "create an API token",
    "token-revoke": "revoke an API token",
}
GOLDEN_ID = re.compile(
    rf"^(?P<id>(?:{'|'.join(map(re.escape, GOLDEN_ID_PREFIX.values()))})-[0-9A-Za-z]+)"
    r"(?P<rest>\.[A-Za-z_][A-Za-z0-9_]*)?$"
)

Text = Annotated[str, Query(max_length=512)]


class ValueChange(BaseModel):
    attribute: str
    before: Any
    after: Any


class GoldenChange(BaseModel):
    """What an action did to one golden record."""

    golden_id: str
    status_before: str | None  # None: the record did not exist (a split or move minted it)
    status_after: str | None
    merged_into: str | None = None  # after: the survivor it redirects to
    values: list[ValueChange]  # the golden values that changed (active before and after)
    left: list[str]  # members (SOURCE:KEY) that left it
    joined: list[str]  # members that joined it
    more_left: int = 0  # beyond those listed
    more_joined: int = 0
    # The audit row listed only the first of its members (a very large golden record): those
    # that left or joined are among the listed ones only.
    members_cut: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.status_before != self.status_after or self.values or self.left or self.joined
        )


class AuditEntry(AuditRow):
    """An audit row with what it changed, golden record by golden record (changed ones only)."""

    changes: list[GoldenChange]
    unchanged: list[str]  # golden ids the action touched that came out as they were


class AuditEntries(BaseModel):
    rows: list[AuditEntry]
    next_before_id: int | None  # ``before`` for the next (older) page; None: the last page


class TargetPart(BaseModel):
    """A word of an audit row's target, and where it links to (a golden record's page)."""

    text: str
    link: str | None


@router.get("/audit", include_in_schema=False)
def audit_log_page(
    request: Request,
    who: Viewer,
    connection: Reading,
    actor: Text = "",
    action: Text = "",
    target: Text = "",
    since: Text = "",
    until: Text = "",
    before: int | None = None,
) -> Response:
    """The audit log, newest first, filtered, a page at a time."""
    query = {"actor": actor, "action": action, "target": target, "since": since, "until": until}
    filters = {name: value.strip() for name, value in query.items() if value.strip()}
    try:
        page = _page(connection, filters, PAGE_SIZE, before)
        problem = None
    except MdmError as error:
        if error.reason is not Reason.USAGE:
            raise
        # A filter that is not one (a day misspelt): the form again, saying what is wrong.
        page, problem = AuditPage(rows=[], next_before_id=None), str(error)
    rows = [_entry(row) for row in page.rows]
    actions = dict(ACTIONS)
    if filters.get("action") and filters["action"] not in actions:
        actions[filters["action"]] = filters["action"]
    values = {
        "nav": "audit",
        "rows": rows,
        "targets": {row.id: _target_parts(row.target) for row in rows},
        "query": filters,
        "filtered": bool(filters),
        "actions": actions,
        "newest_link": _link(filters, None) if before is not None else None,
        "older_link": _link(filters, page.next_before_id) if page.next_before_id else None,
        "paged": before is not None,
        "link": lambda **change: _link({**filters, **change}, None),
        "flash": problem,
        "flash_kind": "error",
    }
    return render(request, "audit.html", values, status=400 if problem else 200)


@router.get("/api/audit")
def audit_log_api(
    who: Viewer,
    connection: Reading,
    actor: Text = "",
    action: Text = "",
    target: Text = "",
    since: Text = "",
    until: Text = "",
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=API_LIMIT)] = PAGE_SIZE,
) -> AuditEntries:
    """Audit rows, newest first: who (``actor``), when (``at``, UTC), what (``action``), the
    ``target`` (golden ids or SOURCE:KEY), why (``reason``), the recorded ``detail`` with
    ``before`` and ``after``, and ``changes``: per golden record touched, its status before
    and after, the values that changed and the members that left or joined.

    Filters: ``actor``, ``action``, ``target`` (a golden id or record acted on), ``since`` and
    ``until`` (UTC days, YYYY-MM-DD, both included). ``before``: the ``next_before_id`` of the
    page before, for the next, older page."""
    query = {"actor": actor, "action": action, "target": target, "since": since, "until": until}
    filters = {name: value.strip() for name, value in query.items() if value.strip()}
    page = _page(connection, filters, limit, before)
    return AuditEntries(rows=[_entry(row) for row in page.rows], next_before_id=page.next_before_id)


def _page(
    connection: Connection, filters: Mapping[str, str], limit: int, before: int | None
) -> AuditPage:
    since = _day(filters.get("since"), "since")
    until = _day(filters.get("until"), "until")
    if since is not None and until is not None and until < since:
        raise MdmError(Reason.USAGE, f"The date range ends ({until}) before it starts ({since}).")
    return audit_page(
        connection,
        actor=filters.get("actor"),
        action=filters.get("action"),
        target=filters.get("target"),
        since=None if since is None else datetime.combine(since, time(), UTC),
        # ``until`` is a whole day, included: rows before the next day's start.
        until=None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC),
        limit=limit,
        before_id=before,
    )


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MdmError(
            Reason.USAGE, f"{name}: {text!r} is not a day; write it as YYYY-MM-DD."
        ) from None


def _link(filters: Mapping[str, str], before: int | None) -> str:
    pairs = [(name, value) for name, value in filters.items() if value]
    if before is not None:
        pairs.append(("before", str(before)))
    return "/audit" + (f"?{urlencode(pairs)}" if pairs else "")


# ---- what a row changed -------------------------------------------------------------------------


def _entry(row: AuditRow) -> AuditEntry:
    changes = golden_changes(row.before, row.after)
    touched = sorted(set(_states(row.before)) | set(_states(row.after)))
    changed = {change.golden_id for change in changes}
    return AuditEntry(
        **row.model_dump(),
        changes=changes,
        unchanged=[golden_id for golden_id in touched if golden_id not in changed],
    )


def golden_changes(before: Any, after: Any) -> list[GoldenChange]:
    """Per golden id in ``before`` or ``after`` (each: golden id -> its ``status``,
    ``values``, ``members``, ``merged_into``, as the audit row recorded them), what changed,
    for those that changed; survivors and records that stayed first, then by id."""
    old, new = _states(before), _states(after)
    found = []
    for golden_id in sorted(set(old) | set(new)):
        was, now = old.get(golden_id), new.get(golden_id)
        was_members = _members(was)
        now_members = _members(now)
        left = [m for m in was_members if m not in set(now_members)]
        joined = [m for m in now_members if m not in set(was_members)]
        change = GoldenChange(
            golden_id=golden_id,
            status_before=_status(was),
            status_after=_status(now),
            merged_into=_text(now.get("merged_into")) if now else None,
            values=_value_changes(was, now),
            left=left[:MEMBERS_LISTED],
            joined=joined[:MEMBERS_LISTED],
            more_left=max(len(left) - MEMBERS_LISTED, 0),
            more_joined=max(len(joined) - MEMBERS_LISTED, 0),
            members_cut=bool(was and was.get("more_members"))
            or bool(now and now.get("more_members")),
        )
        if change.changed:
            found.append(change)
    return sorted(found, key=lambda c: (c.status_after != "active", c.golden_id))


def _states(side: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(side, Mapping):
        return {}
    return {str(k): dict(v) for k, v in side.items() if isinstance(v, Mapping)}


def _members(state: Mapping[str, Any] | None) -> list[str]:
    if not state:
        return []
    members = state.get("members")
    return [str(m) for m in members] if isinstance(members, list) else []


def _status(state: Mapping[str, Any] | None) -> str | None:
    return None if state is None else _text(state.get("status"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _value_changes(
    was: Mapping[str, Any] | None, now: Mapping[str, Any] | None
) -> list[ValueChange]:
    """The values that differ, where the record has values both before and after (an active
    record); a record minted or merged away shows its status, not every value."""
    old = was.get("values") if was else None
    new = now.get("values") if now else None
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return []
    names = [*old, *(name for name in new if name not in old)]
    return [
        ValueChange(attribute=name, before=old.get(name), after=new.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]


def _target_parts(target: str) -> list[TargetPart]:
    """The target's words, a golden id (alone or as ``ID.attribute``) linked to its page."""
    parts = []
    for word in target.split():
        found = GOLDEN_ID.match(word)
        link = f"/golden/{found.group('id')}" if found else None
        parts.append(TargetPart(text=word, link=link))
    return parts
