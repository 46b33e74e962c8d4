"""The golden record page (the 360 view), and the steward actions on it.

``GET /golden/{id}`` shows one golden record: its values with their lineage (the source record,
the rule, the record's date, the values it beat), pinned values marked, every source record
behind it by system, its contacts or its account, and its history. A merged-away id answers
with a redirect to its survivor. ``GET /api/golden/{id}`` gives the same as JSON.

Each steward action (undo a merge, split records out, move a record, merge two golden records,
pin or unpin a value) has a preview that changes nothing and says what will happen, then a
confirm form that posts to the action: it takes effect at once through ``mdm.stewardship`` and
the page of the golden record it leaves behind follows, with the action's message. The REST
twins live under ``/api/golden/{id}/...``.

Routes are plain functions (not ``async``): a steward action may wait for a running run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Body, Form, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from mdm import stewardship
from mdm.config.match_spec import MatchMethod, RuleAction
from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, GoldenStatus, LinkDecision, survived_attribute_names
from mdm.stewardship import StewardResult
from mdm.stewardship import rows as steward_rows
from mdm.stewardship.pins import _standardized_pin
from mdm.store import golden as golden_store
from mdm.store.bulk import read_frame, table_of
from mdm.store.tables import Redirect, ValuePin
from mdm.views import (
    AccountSummary,
    AuditRow,
    ContactSummary,
    GoldenView,
    HistoryView,
    LineageRow,
    MemberRecord,
    ViewModel,
    audit_page,
    current_id,
    golden_history,
    golden_view,
    read_only,
    resolve_id,
)
from mdm.views.search import display_name
from mdm.web.accounts import Principal
from mdm.web.app import STATUS_OF_REASON
from mdm.web.deps import ProjectDep, Reading, Steward, Viewer, context_of, session_of
from mdm.web.rendering import render

router = APIRouter()

Action = Literal["unmerge", "split", "move", "merge", "pin", "unpin"]
ACTIONS: tuple[Action, ...] = ("unmerge", "split", "move", "merge", "pin", "unpin")
# The rule lineage names for a value a steward pinned (``mdm.survivorship.STEWARD_PIN``).
STEWARD_PIN = "steward_pin"
# Versions shown on the page, newest first (the API gives them all).
VERSIONS_SHOWN = 30
# Steward actions on the record shown (the audit log has them all).
ACTIONS_SHOWN = 20
# Records listed in a sentence before "and N more".
LISTED = 8
FLASH_COOKIE = "mdm_flash"
FLASH_MAX = 1500  # characters of a message kept in the cookie

TITLES: dict[Action, str] = {
    "unmerge": "Undo a merge",
    "split": "Split records out",
    "move": "Move a record",
    "merge": "Merge two golden records",
    "pin": "Pin a value",
    "unpin": "Unpin a value",
}


# ---- the 360 view -----------------------------------------------------------------------------


class ValueRow(ViewModel):
    """One golden value and where it came from."""

    attribute: str
    value: Any
    record: str | None  # SOURCE:KEY of the record that gave it; None for a pin or no value
    system: str | None
    rule: str | None
    candidates: int | None
    beaten: list[str]  # the values it beat
    modified: datetime | None  # the last change of the record that gave it
    pinned: bool
    pinned_by: str | None = None
    pinned_at: datetime | None = None


class SystemMembers(ViewModel):
    system: str
    members: list[MemberRecord]


class Change(ViewModel):
    attribute: str
    before: Any
    after: Any


class VersionChanges(ViewModel):
    """One version of the golden record and what it changed from the one before."""

    version: int
    run: int
    status: str
    members: int
    changes: list[Change]


class GoldenPage(ViewModel):
    """Everything the golden record page shows."""

    requested: str
    golden_id: str  # the id that answers for ``requested`` now
    resolved_from: str | None  # ``requested`` when it was merged into ``golden_id``
    entity: Entity
    status: str
    record: dict[str, Any]  # the golden record's row: values, status, members, runs
    values: list[ValueRow]  # by attribute, in the entity's attribute order
    systems: list[SystemMembers]  # the source records by system
    contacts: list[ContactSummary]  # an account's active contacts
    account: AccountSummary | None  # a contact's account
    account_link: str | None
    merged_in: list[str]  # ids merged into this one (each may be unmerged)
    actions: list[AuditRow]  # the steward actions that named this golden id, newest first
    history: HistoryView | None
    versions: list[VersionChanges]  # newest first


def golden_page(connection: Connection, project: Project, golden_id: str) -> GoldenPage:
    """The 360 view of the golden record that answers for ``golden_id``."""
    view = golden_view(connection, project.spec, golden_id)
    current = view.golden_id
    try:
        history: HistoryView | None = golden_history(connection, current)
    except MdmError:
        history = None
    return GoldenPage(
        requested=golden_id,
        golden_id=current,
        resolved_from=golden_id if golden_id != current else None,
        entity=view.entity,
        status=str(view.record.get("status", "")),
        record=view.record,
        values=_values(view, _pins(connection, current)),
        systems=_systems(view.members),
        contacts=view.contacts,
        account=view.account,
        account_link=view.account_link,
        merged_in=_merged_in(connection, current),
        actions=audit_page(connection, target=current, limit=ACTIONS_SHOWN).rows,
        history=history,
        versions=_version_changes(history) if history is not None else [],
    )


def _values(view: GoldenView, pins: dict[str, dict[str, Any]]) -> list[ValueRow]:
    lineage: dict[str, LineageRow] = {row.attribute: row for row in view.lineage}
    members = {(m.source, m.source_key): m for m in view.members}
    rows = []
    for attribute in survived_attribute_names(view.entity):
        found = lineage.get(attribute)
        member = members.get((found.source or "", found.source_key or "")) if found else None
        pin = pins.get(attribute)
        pinned = pin is not None or (found is not None and found.rule == STEWARD_PIN)
        rows.append(
            ValueRow(
                attribute=attribute,
                value=view.record.get(attribute),
                record=found.record if found else None,
                system=member.system if member else None,
                rule=found.rule if found else None,
                candidates=found.candidates if found else None,
                beaten=_beaten(found.beaten if found else None),
                modified=member.last_modified if member else None,
                pinned=pinned,
                pinned_by=pin["pinned_by"] if pin else None,
                pinned_at=pin["pinned_at"] if pin else None,
            )
        )
    return rows


def _beaten(values: list[Any] | None) -> list[str]:
    """The values a golden value beat, as text: lineage keeps them as values or as
    ``{"value": ..., "record_id": ...}`` objects."""
    found = []
    for item in values or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value is not None and str(value) not in found:
            found.append(str(value))
    return found


def _systems(members: Sequence[MemberRecord]) -> list[SystemMembers]:
    by_system: dict[str, list[MemberRecord]] = {}
    for member in members:  # sorted by system, source and key already
        by_system.setdefault(member.system, []).append(member)
    return [SystemMembers(system=name, members=found) for name, found in by_system.items()]


def _version_changes(history: HistoryView) -> list[VersionChanges]:
    found = []
    previous: dict[str, Any] = {}
    for version in history.versions:
        names = list(dict.fromkeys([*previous, *version.values]))
        changes = [
            Change(attribute=name, before=previous.get(name), after=version.values.get(name))
            for name in names
            if previous.get(name) != version.values.get(name)
        ]
        found.append(
            VersionChanges(
                version=version.version,
                run=version.run,
                status=version.status,
                members=version.members,
                changes=changes,
            )
        )
        previous = version.values
    return found[::-1]


# Reads the views do not offer (yet): by key, never a whole table.


def _pins(connection: Connection, golden_id: str) -> dict[str, dict[str, Any]]:
    """The active pins of ``golden_id`` by attribute: value, pinned_by, pinned_at."""
    table = table_of(ValuePin)
    statement = select(
        table.c.attribute, table.c.value, table.c.pinned_by, table.c.pinned_at
    ).where(table.c.golden_id == golden_id, table.c.active.is_(True))
    found = read_frame(connection, statement)
    return {
        str(row["attribute"]): {
            "value": row["value"],
            "pinned_by": row["pinned_by"],
            "pinned_at": pd.Timestamp(row["pinned_at"]).to_pydatetime(),
        }
        for row in found.to_dict("records")
    }


def _merged_in(connection: Connection, golden_id: str) -> list[str]:
    """The ids merged directly into ``golden_id`` (the redirects' ``to_id`` index)."""
    table = table_of(Redirect)
    statement = select(table.c.from_id).where(table.c.to_id == golden_id).order_by(table.c.from_id)
    return [str(row[0]) for row in connection.execute(statement)]


def _members_in_merged(
    connection: Connection, entity: Entity, merged_id: str, members: Sequence[MemberRecord]
) -> list[MemberRecord]:
    """The records of ``members`` whose last membership of a merged-away id was ``merged_id``:
    those an unmerge gives back to it."""
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in members], columns=["source", "source_key"], dtype=object
    )
    former = golden_store.former_members(connection, entity, keys)
    former = former[former["golden_id"] == merged_id]
    wanted = set(zip(former["source"], former["source_key"], strict=True))
    return [m for m in members if (m.source, m.source_key) in wanted]


def _golden_of_record(connection: Connection, entity: Entity, record: str) -> str | None:
    """The golden id a live record (SOURCE:KEY) belongs to now."""
    source, key = parse_record_ref(record)
    keys = pd.DataFrame({"source": [source], "source_key": [key]}, dtype=object)
    found = golden_store.xref_of_keys(connection, entity, keys)
    return None if found.empty else str(found["golden_id"].iloc[0])


# ---- pages ------------------------------------------------------------------------------------


@router.get("/golden/{golden_id}", include_in_schema=False)
def golden_record_page(
    request: Request,
    golden_id: str,
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    came_from: Annotated[str | None, Query(alias="from")] = None,
) -> Response:
    """The 360 view; a merged-away id redirects to its survivor."""
    resolved = resolve_id(connection, golden_id)
    if resolved.golden_id != golden_id:
        target = f"/golden/{quote(resolved.golden_id)}?from={quote(golden_id)}"
        return RedirectResponse(target, status_code=303)
    page = golden_page(connection, project, golden_id)
    merged_from = None
    if came_from and came_from != golden_id and _answers_for(connection, came_from, golden_id):
        merged_from = came_from
    flash, kind = _take_flash(request)
    response = render(request, "golden.html", _page_values(page, merged_from, flash, kind))
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _answers_for(connection: Connection, old_id: str, golden_id: str) -> bool:
    try:
        entity_of_golden_id(old_id)
    except MdmError:
        return False
    return current_id(connection, old_id) == golden_id


def _page_values(
    page: GoldenPage, merged_from: str | None, flash: str | None, kind: str | None
) -> dict[str, Any]:
    present = {name for s in page.systems for m in s.members for name, v in m.values.items() if v}
    attributes = [row.attribute for row in page.values]
    shown = [name for name in attributes if name in present or page.record.get(name)]
    extra = sorted(present - set(attributes))  # member values no golden value holds
    chosen = {(row.attribute, row.record) for row in page.values if row.record}
    return {
        "page": page,
        "title": _title(page.entity, page.record),
        "merged_from": merged_from,
        "member_attributes": shown + extra,
        "chosen": chosen,
        "member_count": sum(len(s.members) for s in page.systems),
        "versions_shown": page.versions[:VERSIONS_SHOWN],
        "attributes": attributes,
        "flash": flash,
        "flash_kind": kind,
        "nav": "search",
    }


def _title(entity: Entity, record: dict[str, Any]) -> str:
    return display_name(entity, record) or str(record.get("golden_id", ""))


@router.get("/api/golden/{golden_id}")
def golden_record_api(
    golden_id: str, who: Viewer, connection: Reading, project: ProjectDep
) -> GoldenPage:
    """The 360 view of a golden record: values with lineage, source records by system,
    contacts or account, history. A merged-away id answers as its survivor, with
    ``resolved_from`` set to the id asked for."""
    return golden_page(connection, project, golden_id)


# ---- previews ---------------------------------------------------------------------------------


class RecordMove(ViewModel):
    """A source record that leaves a golden record, joins one, or both."""

    record: str
    system: str
    from_id: str | None
    to_id: str | None  # None: a golden id minted for it


class CompareRow(ViewModel):
    attribute: str
    left: Any
    right: Any


class PinChange(ViewModel):
    attribute: str
    current: Any  # the golden value now
    current_rule: str | None
    given: str | None  # the value as typed
    pinned: str | None  # the value that will be pinned (standardized unless forced)
    forced: bool = False
    candidates: list[str] = Field(default_factory=list)  # what the rules choose from (unpin)


class ActionPreview(ViewModel):
    """What an action will do, read from the store as it is; nothing is written."""

    action: Action
    golden_id: str  # the id the action is about (the path's id, as given)
    title: str
    steps: list[str]  # what will happen, in sentences
    moves: list[RecordMove]  # the records that leave or join a golden record
    survivor: str | None = None  # the id that answers afterwards (a merge, a move)
    retired: list[str] = Field(default_factory=list)  # ids left with no record
    rechosen: list[str] = Field(default_factory=list)  # values chosen again by the rules
    pin: PinChange | None = None
    compare: list[CompareRow] = Field(default_factory=list)
    compare_titles: list[str] = Field(default_factory=list)  # the two compared columns
    warnings: list[str] = Field(default_factory=list)
    refused: str | None = None  # why the action would be refused, as far as the preview sees
    fields: dict[str, list[str]] = Field(default_factory=dict)  # what the confirm form posts
    after: str | None = None  # the golden id whose page shows the outcome


class ActionInput(BaseModel):
    """The fields of every action (each action reads its own)."""

    records: list[str] = Field(default_factory=list)  # split: SOURCE:KEY of the records
    record: str = ""  # move: SOURCE:KEY
    to: str = ""  # move: the golden id it joins (empty: this one)
    other: str = ""  # merge: the other golden id
    attribute: str = ""  # pin, unpin
    value: str = ""  # pin
    force: bool = False  # pin exactly as given
    came_from: str = ""  # move: the golden id the record was in when previewed


def preview_action(
    connection: Connection, project: Project, action: Action, golden_id: str, given: ActionInput
) -> ActionPreview:
    """What ``action`` on ``golden_id`` will do. An action the store would refuse gives a
    preview with ``refused`` set; a golden id that names nothing raises (not found)."""
    resolve_id(connection, golden_id)
    build = PREVIEWS[action]
    try:
        return build(connection, project, golden_id, given)
    except (_Refused, MdmError) as refused:
        # An MdmError here is about what was typed (a record, another id, a value).
        why, after = (
            (refused.why, refused.after)
            if isinstance(refused, _Refused)
            else (str(refused), golden_id)
        )
        return ActionPreview(
            action=action,
            golden_id=golden_id,
            title=f"{TITLES[action]}: {golden_id}",
            steps=[],
            moves=[],
            refused=why,
            after=after,
        )


class _Refused(Exception):
    def __init__(self, why: str, after: str | None = None) -> None:
        self.why = why
        self.after = after


def _active_view(connection: Connection, project: Project, golden_id: str) -> GoldenView:
    """The view of an active golden record named by its own id; else refused."""
    resolved = resolve_id(connection, golden_id)
    if resolved.golden_id != golden_id:
        raise _Refused(
            f"{golden_id} was merged into {resolved.golden_id}, which answers for it now: "
            f"act on {resolved.golden_id}.",
            resolved.golden_id,
        )
    if resolved.status != GoldenStatus.ACTIVE:
        raise _Refused(f"{golden_id} is {resolved.status}: it has no records.", golden_id)
    return golden_view(connection, project.spec, golden_id)


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _decisions(count: int) -> str:
    return _plural(count, "cannot-link decision") + (" keeps" if count == 1 else " keep")


def _others(count: int) -> str:
    return "its other record" if count == 1 else f"its {count:,} other records"


def _rechosen(view: GoldenView, leaving: set[str]) -> list[str]:
    """The golden values of ``view`` that came from the records ``leaving``."""
    taken = {row.attribute for row in view.lineage if row.record in leaving}
    return [name for name in survived_attribute_names(view.entity) if name in taken]


def _refs(members: Sequence[MemberRecord]) -> list[str]:
    return [f"{m.source}:{m.source_key}" for m in members]


def _preview_unmerge(
    connection: Connection, project: Project, merged_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(merged_id)
    resolved = resolve_id(connection, merged_id)
    direct = golden_store.redirect_target(connection, merged_id)
    if direct is None:
        why = f"{merged_id} was not merged into another record: there is no merge to undo."
        absorbed = _merged_in(connection, merged_id)
        if absorbed:
            why += f" Merged into it: {', '.join(absorbed)}; undo one of those merges."
        elif resolved.status == GoldenStatus.ACTIVE:
            why += " To take records out of it, split them out."
        raise _Refused(why, merged_id)
    survivor = resolved.golden_id
    if survivor != direct:
        raise _Refused(
            f"{merged_id} was merged into {direct}, which was itself merged into {survivor}. "
            f"Undo the later merge first ({direct}), then this one.",
            survivor,
        )
    view = golden_view(connection, project.spec, survivor)
    back = _members_in_merged(connection, entity, merged_id, view.members)
    staying = [m for m in view.members if m not in back]
    if not back or not staying:
        raise _Refused(
            f"The records of {merged_id} are no longer together with {survivor}'s; nothing to "
            "separate.",
            survivor,
        )
    leaving = set(_refs(back))
    steps = [
        f"{merged_id} gets its golden record back, with "
        f"{_plural(len(back), 'record')}: {_listed(sorted(leaving))}.",
        f"{survivor} keeps {_others(len(staying))}.",
        f"{_decisions(len(back) * len(staying))} the two apart in every later run; "
        "must-links that joined them are withdrawn.",
    ]
    rechosen = _rechosen(view, leaving)
    if rechosen:
        steps.append(
            f"{survivor}'s {', '.join(rechosen)} came from those records: the survivorship "
            "rules choose them again from the records that stay."
        )
    return ActionPreview(
        action="unmerge",
        golden_id=merged_id,
        title=f"Undo the merge of {merged_id} into {survivor}",
        steps=steps,
        moves=[
            RecordMove(
                record=f"{m.source}:{m.source_key}",
                system=m.system,
                from_id=survivor,
                to_id=merged_id,
            )
            for m in back
        ],
        survivor=survivor,
        rechosen=rechosen,
        fields={},
        after=merged_id,
    )


def _preview_split(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    named = list(dict.fromkeys(r.strip() for r in given.records if r.strip()))
    if not named:
        raise _Refused("Choose the records to split out (tick them in the source records).")
    for text in named:
        source, _ = parse_record_ref(text)
        if entity_of_source(project, source) is not entity:
            raise _Refused(f"{text} is not a record of a golden {entity}.", golden_id)
    by_ref = {f"{m.source}:{m.source_key}": m for m in view.members}
    strangers = [text for text in named if text not in by_ref]
    if strangers:
        raise _Refused(
            f"Only records of {golden_id} can be split out of it; not of it: {_listed(strangers)}.",
            golden_id,
        )
    if len(named) == len(view.members):
        raise _Refused(
            f"Those are every record of {golden_id}: nothing would be left in it. Choose only "
            "the records to split out.",
            golden_id,
        )
    staying = len(view.members) - len(named)
    steps = [
        f"{_listed(named)} "
        + (
            f"leaves {golden_id} and gets a new golden id."
            if len(named) == 1
            else f"leave {golden_id} and get a new golden id (records the matcher does not "
            "hold together get one each)."
        ),
        f"{golden_id} keeps {_others(staying)}.",
        f"{_decisions(len(named) * staying)} them apart in every later run; must-links that "
        "joined them are withdrawn.",
    ]
    rechosen = _rechosen(view, set(named))
    if rechosen:
        steps.append(
            f"{', '.join(rechosen)} came from those records: the survivorship rules choose "
            "them again from the records that stay."
        )
    return ActionPreview(
        action="split",
        golden_id=golden_id,
        title=f"Split records out of {golden_id}",
        steps=steps,
        moves=[
            RecordMove(record=text, system=by_ref[text].system, from_id=golden_id, to_id=None)
            for text in named
        ],
        rechosen=rechosen,
        fields={"records": named},
        after=golden_id,
    )


def _preview_move(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    record = given.record.strip()
    if not record:
        raise _Refused("Name the record to move, as SOURCE:KEY.", golden_id)
    source, _ = parse_record_ref(record)
    if entity_of_source(project, source) is not entity:
        raise _Refused(
            f"{record} is a {entity_of_source(project, source)} record: it moves only into a "
            f"golden {entity_of_source(project, source)}.",
            golden_id,
        )
    target_text = given.to.strip() or golden_id
    if entity_of_golden_id(target_text) is not entity:
        raise _Refused(f"{target_text} is not a golden {entity}.", golden_id)
    target = resolve_id(connection, target_text)
    steps: list[str] = []
    if target.golden_id != target_text:
        steps.append(f"{target_text} was merged into {target.golden_id}, which answers for it.")
    target_view = _active_view(connection, project, target.golden_id)
    origin = _golden_of_record(connection, entity, record)
    if origin is None:
        raise _Refused(f"{record} is not a live record: check the source name and key.")
    if given.to.strip() and origin != golden_id:
        raise _Refused(
            f"{record} is no longer a record of {golden_id}: it belongs to {origin} now.", origin
        )
    if origin == target_view.golden_id:
        raise _Refused(f"{record} is a record of {origin} already: nothing to move.", origin)
    origin_view = golden_view(connection, project.spec, origin)
    mover = next(m for m in origin_view.members if f"{m.source}:{m.source_key}" == record)
    fellows = [m for m in origin_view.members if m is not mover]
    retired = [] if fellows else [origin]
    steps.append(f"{record} leaves {origin} and joins {target_view.golden_id}.")
    if fellows:
        steps.append(
            f"{origin} keeps {_others(len(fellows))}; cannot-link decisions "
            "keep the record apart from them in every later run."
        )
    else:
        steps.append(f"{origin} has no other record: it is retired.")
    steps.append(
        f"Must-link decisions keep {record} with the "
        f"{_plural(len(target_view.members), 'record')} of {target_view.golden_id}."
    )
    rechosen = _rechosen(origin_view, {record}) if fellows else []
    if rechosen:
        steps.append(
            f"{origin}'s {', '.join(rechosen)} came from {record}: the survivorship rules "
            "choose them again from the records that stay."
        )
    warnings = _cannot_links(connection, entity, [mover], target_view.members, record)
    after = origin if fellows and origin == golden_id else target_view.golden_id
    return ActionPreview(
        action="move",
        golden_id=golden_id,
        title=f"Move {record} to {target_view.golden_id}",
        steps=steps,
        moves=[
            RecordMove(
                record=record, system=mover.system, from_id=origin, to_id=target_view.golden_id
            )
        ],
        survivor=target_view.golden_id,
        retired=retired,
        rechosen=rechosen,
        compare=_compare(mover.values, target_view.record, entity),
        compare_titles=[record, f"{target_view.golden_id} (golden)"],
        warnings=warnings,
        fields={"record": [record], "to": [target_view.golden_id], "came_from": [origin]},
        after=after,
    )


def _cannot_links(
    connection: Connection,
    entity: Entity,
    movers: Sequence[MemberRecord],
    hosts: Sequence[MemberRecord],
    record: str,
) -> list[str]:
    """The cannot-link decisions a move withdraws: between the record and those it joins."""
    both = [*movers, *hosts]
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in both], columns=["source", "source_key"], dtype=object
    )
    decided = steward_rows.decisions_among(connection, entity, keys)
    if decided.empty:
        return []
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    found = []
    for row in apart.to_dict("records"):
        left = f"{row['left_source']}:{row['left_key']}"
        right = f"{row['right_source']}:{row['right_key']}"
        if record in (left, right):
            other = right if left == record else left
            found.append(f"{other} (decision {row['id']} by {row['decided_by']})")
    if not found:
        return []
    return [
        f"A steward decided that {record} is a different entity from "
        f"{_listed(found)}: moving it withdraws "
        + ("that decision." if len(found) == 1 else f"those {len(found)} decisions.")
    ]


def _compare(left: dict[str, Any], right: dict[str, Any], entity: Entity) -> list[CompareRow]:
    return [
        CompareRow(attribute=name, left=left.get(name), right=right.get(name))
        for name in survived_attribute_names(entity)
        if left.get(name) or right.get(name)
    ]


def _preview_merge(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    other_text = given.other.strip()
    if not other_text:
        raise _Refused("Name the golden record to merge with.", golden_id)
    if entity_of_golden_id(other_text) is not entity:
        raise _Refused(
            f"{other_text} is not a golden {entity}: only golden records of one entity merge.",
            golden_id,
        )
    other = resolve_id(connection, other_text)
    steps: list[str] = []
    if other.golden_id != other_text:
        steps.append(f"{other_text} was merged into {other.golden_id}, which answers for it.")
    if other.golden_id == golden_id:
        raise _Refused(f"{other_text} answers as {golden_id}: they are one golden record.")
    other_view = _active_view(connection, project, other.golden_id)
    survivor, gone = _older(view, other_view)
    steps += [
        f"{survivor.golden_id} survives (the older id); {gone.golden_id} redirects to it.",
        f"The {_plural(len(gone.members), 'record')} of {gone.golden_id} "
        f"{'joins' if len(gone.members) == 1 else 'join'} the "
        f"{_plural(len(survivor.members), 'record')} of {survivor.golden_id}: "
        f"{_plural(len(gone.members) + len(survivor.members), 'record')} in all.",
        "Must-link decisions keep them together in every later run; the survivorship rules "
        "choose the golden values again from all of them.",
    ]
    members = [*view.members, *other_view.members]
    refused = _decided_apart(connection, entity, members)
    warnings = _kept_apart_by_rules(project, entity, view.record, other_view.record)
    if entity is Entity.ACCOUNT:
        contacts = len(gone.contacts)
        if contacts:
            steps.append(
                f"{gone.golden_id}'s {_plural(contacts, 'contact')} "
                f"{'follows' if contacts == 1 else 'follow'} the merge to {survivor.golden_id}."
            )
    return ActionPreview(
        action="merge",
        golden_id=golden_id,
        title=f"Merge {golden_id} and {other_view.golden_id}",
        steps=steps,
        moves=[
            RecordMove(
                record=f"{m.source}:{m.source_key}",
                system=m.system,
                from_id=gone.golden_id,
                to_id=survivor.golden_id,
            )
            for m in gone.members
        ],
        survivor=survivor.golden_id,
        compare=_compare(view.record, other_view.record, entity),
        compare_titles=[golden_id, other_view.golden_id],
        warnings=warnings,
        refused=refused,
        fields={"other": [other_view.golden_id]},
        after=survivor.golden_id,
    )


def _older(one: GoldenView, other: GoldenView) -> tuple[GoldenView, GoldenView]:
    """(survivor, merged away): the older id survives (the identity rules' order: creation
    run, then id)."""

    def age(view: GoldenView) -> tuple[float, str]:
        run = view.record.get("created_run")
        return (float(run) if run is not None else float("inf"), view.golden_id)

    return (one, other) if age(one) <= age(other) else (other, one)


def _kept_apart_by_rules(
    project: Project, entity: Entity, one: dict[str, Any], other: dict[str, Any]
) -> list[str]:
    """The deterministic non-match rules (method ``different``) the two golden records' values
    meet: the matcher then keeps some of their records apart despite the must-links, and the
    merge is refused with nothing changed. Golden values stand in for every record's: a
    warning, not a verdict."""

    def text(value: Any) -> str | None:
        return None if value is None or str(value).strip() == "" else str(value).strip().lower()

    found = []
    for rule in project.rules.match[entity].rules:
        if rule.action is not RuleAction.NON_MATCH or rule.method is not MatchMethod.DIFFERENT:
            continue
        pairs = [(text(one.get(name)), text(other.get(name))) for name in rule.fields]
        if not all(a is not None and b is not None and a != b for a, b in pairs):
            continue
        if any(
            text(one.get(name)) and text(one.get(name)) == text(other.get(name))
            for name in rule.unless
        ):
            continue
        shown = "; ".join(f"{name} {one.get(name)} and {other.get(name)}" for name in rule.fields)
        found.append(
            f"Their {shown} differ: the match rule '{rule.name}' keeps records like these "
            "apart where no must-link joins them directly, so the merge may be refused "
            "(nothing changes then)."
        )
    return found


def _decided_apart(
    connection: Connection, entity: Entity, members: Sequence[MemberRecord]
) -> str | None:
    """Why a merge would be refused: a steward decided two of its records are different."""
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in members], columns=["source", "source_key"], dtype=object
    )
    decided = steward_rows.decisions_among(connection, entity, keys)
    if decided.empty:
        return None
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    if apart.empty:
        return None
    pairs = [
        f"{row['left_source']}:{row['left_key']} and {row['right_source']}:{row['right_key']} "
        f"(decision {row['id']} by {row['decided_by']})"
        for row in apart.to_dict("records")
    ]
    return (
        "A steward decided that some of their records are different: "
        f"{_listed(pairs)}. Revoke those decisions first if they were mistaken."
    )


def _preview_pin(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    attribute = _attribute(entity, given.attribute)
    row = next((r for r in view.lineage if r.attribute == attribute), None)
    current = view.record.get(attribute)
    pins = _pins(connection, golden_id)
    change = PinChange(
        attribute=attribute,
        current=current,
        current_rule=row.rule if row else None,
        given=given.value,
        pinned=None,
        forced=given.force,
    )
    if not given.value.strip():
        raise _Refused(
            "Type the value to pin (to let the rules choose again, unpin instead).", golden_id
        )
    try:
        pinned = (
            given.value
            if given.force
            else _standardized_pin(project, connection, entity, golden_id, attribute, given.value)
        )
    except MdmError as error:
        return ActionPreview(
            action="pin",
            golden_id=golden_id,
            title=f"Pin {golden_id}.{attribute}",
            steps=[],
            moves=[],
            pin=change,
            refused=str(error).replace("add --force", "tick 'exactly as typed'"),
            after=golden_id,
        )
    change = change.model_copy(update={"pinned": pinned})
    steps = [f"{golden_id}.{attribute} will be pinned to {pinned!r}"]
    if given.force:
        steps[0] += ", exactly as typed (not standardized nor checked)."
    elif pinned != given.value:
        steps[0] += f" (typed as {given.value!r}, standardized as a source value would be)."
    else:
        steps[0] += "."
    if attribute in pins:
        steps.append(
            f"It replaces the pin {pins[attribute]['value']!r} set by "
            f"{pins[attribute]['pinned_by']}."
        )
    steps.append(
        "The pin overrides the survivorship rules in every later run, until it is unpinned."
    )
    if str(current) == pinned and attribute not in pins:
        steps.append("It is the value now: pinning keeps it whatever the sources say later.")
    return ActionPreview(
        action="pin",
        golden_id=golden_id,
        title=f"Pin {golden_id}.{attribute}",
        steps=steps,
        moves=[],
        pin=change,
        fields={
            "attribute": [attribute],
            "value": [given.value],
            **({"force": ["1"]} if given.force else {}),
        },
        after=golden_id,
    )


def _attribute(entity: Entity, name: str) -> str:
    known = survived_attribute_names(entity)
    if name not in known:
        raise _Refused(
            f"{name!r} is not an attribute of a golden {entity}; known: {', '.join(known)}."
            if name
            else "Choose the attribute."
        )
    return name


def _preview_unpin(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    attribute = _attribute(entity, given.attribute)
    pins = _pins(connection, golden_id)
    if attribute not in pins:
        raise _Refused(f"{golden_id}.{attribute} is not pinned.", golden_id)
    row = next((r for r in view.lineage if r.attribute == attribute), None)
    candidates = _beaten(row.beaten if row else None)
    pin = pins[attribute]
    steps = [
        f"The pin of {golden_id}.{attribute} to {pin['value']!r} (by {pin['pinned_by']}, "
        f"{str(pin['pinned_at'])[:10]}) is lifted.",
    ]
    if candidates:
        steps.append(
            f"The survivorship rules choose {attribute} again from the records' values: "
            f"{_listed([repr(c) for c in candidates])}."
        )
    else:
        steps.append(
            f"No record of {golden_id} has a {attribute}: it will be empty unless a source "
            "gives one."
        )
    return ActionPreview(
        action="unpin",
        golden_id=golden_id,
        title=f"Unpin {golden_id}.{attribute}",
        steps=steps,
        moves=[],
        pin=PinChange(
            attribute=attribute,
            current=view.record.get(attribute),
            current_rule=row.rule if row else None,
            given=None,
            pinned=None,
            candidates=candidates,
        ),
        fields={"attribute": [attribute]},
        after=golden_id,
    )


PREVIEWS: dict[Action, Callable[[Connection, Project, str, ActionInput], ActionPreview]] = {
    "unmerge": _preview_unmerge,
    "split": _preview_split,
    "move": _preview_move,
    "merge": _preview_merge,
    "pin": _preview_pin,
    "unpin": _preview_unpin,
}


class PreviewQuery(BaseModel):
    """The fields of an action, as the preview's query string gives them."""

    records: list[str] = Field(default_factory=list)
    record: str = ""
    to: str = ""
    other: str = ""
    attribute: str = ""
    value: str = ""
    force: bool = False

    def given(self) -> ActionInput:
        return ActionInput(**self.model_dump())


def _preview_page_route(action: Action) -> Callable[..., Response]:
    def preview_page(
        request: Request,
        golden_id: str,
        who: Steward,
        connection: Reading,
        project: ProjectDep,
        query: Annotated[PreviewQuery, Query()],
    ) -> Response:
        preview = preview_action(connection, project, action, golden_id, query.given())
        return _render_preview(request, preview, query.given())

    preview_page.__name__ = f"preview_{action}_page"
    return preview_page


def _preview_api_route(action: Action) -> Callable[..., ActionPreview]:
    def preview_api(
        golden_id: str,
        who: Steward,
        connection: Reading,
        project: ProjectDep,
        query: Annotated[PreviewQuery, Query()],
    ) -> ActionPreview:
        return preview_action(connection, project, action, golden_id, query.given())

    preview_api.__name__ = f"preview_{action}"
    preview_api.__doc__ = (
        f"What '{action}' on the golden record will do, changing nothing: the records that "
        "leave or join, the id that survives, the value pinned; ``refused`` says why the "
        "action would be refused."
    )
    return preview_api


for _action in ACTIONS:
    router.add_api_route(
        f"/golden/{{golden_id}}/{_action}/preview",
        _preview_page_route(_action),
        methods=["GET"],
        include_in_schema=False,
    )
    router.add_api_route(
        f"/api/golden/{{golden_id}}/{_action}/preview",
        _preview_api_route(_action),
        methods=["GET"],
        response_model=ActionPreview,
    )


def _render_preview(
    request: Request,
    preview: ActionPreview,
    given: ActionInput,
    reason: str = "",
    flash: str | None = None,
    status: int = 200,
) -> Response:
    values = {
        "preview": preview,
        "given": given,
        "reason": reason,
        "flash": flash,
        "flash_kind": "error" if flash else None,
        "attributes": survived_attribute_names(entity_of_golden_id(preview.golden_id)),
        "reason_recorded": reason_recorded(preview.action),
        "nav": "search",
    }
    return render(request, "golden_action.html", values, status=status)


# ---- actions ----------------------------------------------------------------------------------


class ActionResult(BaseModel):
    action: Action
    message: str
    golden_id: str  # the golden record that shows the outcome
    run_id: int  # the steward run that applied it
    detail: dict[str, Any]  # the audit row's detail: what it recorded, before and after


def perform(
    request: Request, actor: str, action: Action, golden_id: str, given: ActionInput, reason: str
) -> tuple[StewardResult, str]:
    """Apply ``action`` through the stewardship function; its result and the golden id whose
    page shows the outcome."""
    project = context_of(request).project
    entity_of_golden_id(golden_id)
    reason = reason.strip()
    if not reason and reason_recorded(action):
        raise MdmError(Reason.USAGE, "Give a reason: the audit log keeps it with the action.")
    if action == "unmerge":
        return stewardship.unmerge(project, golden_id, actor, reason), golden_id
    if action == "split":
        records = [r.strip() for r in given.records if r.strip()]
        if not records:
            raise MdmError(Reason.USAGE, "Name the records to split out, as SOURCE:KEY.")
        return stewardship.unmerge(project, golden_id, actor, reason, records=records), golden_id
    if action == "move":
        return _move(request, actor, golden_id, given, reason)
    if action == "merge":
        other = given.other.strip()
        if not other:
            raise MdmError(Reason.USAGE, "Name the golden record to merge with.")
        result = stewardship.merge_golden(project, golden_id, other, actor, reason)
        return result, _survivor(result, golden_id, other)
    if not given.attribute:
        raise MdmError(Reason.USAGE, "Name the attribute.")
    because: dict[str, Any] = {"reason": reason} if reason_recorded(action) else {}
    if action == "pin":
        result = stewardship.pin_value(
            project, golden_id, given.attribute, given.value, actor, force=given.force, **because
        )
        return result, golden_id
    result = stewardship.unpin_value(project, golden_id, given.attribute, actor, **because)
    return result, golden_id


def reason_recorded(action: Action) -> bool:
    """Whether the action's stewardship function records a reason (pins may not yet: then
    the reason is optional and not kept)."""
    if action == "pin":
        return "reason" in inspect.signature(stewardship.pin_value).parameters
    if action == "unpin":
        return "reason" in inspect.signature(stewardship.unpin_value).parameters
    return True


def _move(
    request: Request, actor: str, golden_id: str, given: ActionInput, reason: str
) -> tuple[StewardResult, str]:
    context = context_of(request)
    record = given.record.strip()
    if not record:
        raise MdmError(Reason.USAGE, "Name the record to move, as SOURCE:KEY.")
    target = given.to.strip() or golden_id
    if given.came_from:
        # The record is still where the steward saw it in the preview.
        entity = entity_of_golden_id(golden_id)
        with context.store.transaction() as connection, read_only(connection):
            now = _golden_of_record(connection, entity, record)
        if now is not None and now != given.came_from:
            raise MdmError(
                Reason.CONFLICT,
                f"{record} belongs to {now} now, not to {given.came_from} as when you looked: "
                "nothing was moved. Look again.",
            )
    result = stewardship.move_record(context.project, record, target, actor, reason)
    origin = str(result.detail.get("from", golden_id))
    left = result.detail.get("after", {}).get(origin, {})
    if origin == golden_id and left.get("status") == GoldenStatus.ACTIVE:
        return result, golden_id
    return result, str(result.detail.get("to", target))


def _survivor(result: StewardResult, one: str, other: str) -> str:
    after = result.detail.get("after", {})
    for golden_id in (one, other):
        if after.get(golden_id, {}).get("status") == GoldenStatus.ACTIVE:
            return golden_id
    merged = after.get(one, {}).get("merged_into")
    return str(merged) if merged else one


def _act_page(
    request: Request,
    who: Principal,
    action: Action,
    golden_id: str,
    given: ActionInput,
    reason: str,
) -> Response:
    """A confirmed action from a page: applied, then the page of the golden record it leaves
    behind, with its message; refused, the preview again with the reason why."""
    try:
        result, after = perform(request, who.actor, action, golden_id, given, reason)
    except MdmError as error:
        status = STATUS_OF_REASON.get(error.reason, 409 if error.reason == "conflict" else 400)
        context = context_of(request)
        with context.store.transaction() as connection, read_only(connection):
            try:
                preview = preview_action(connection, context.project, action, golden_id, given)
            except MdmError:
                raise error from None  # the id itself is wrong: the error page says so
        return _render_preview(request, preview, given, reason, str(error), status)
    response = RedirectResponse(f"/golden/{quote(after)}", status_code=303)
    _set_flash(request, response, result.message, "ok")
    return response


def _act_api(
    request: Request,
    who: Principal,
    action: Action,
    golden_id: str,
    given: ActionInput,
    reason: str,
) -> ActionResult:
    result, after = perform(request, who.actor, action, golden_id, given, reason)
    return ActionResult(
        action=action,
        message=result.message,
        golden_id=after,
        run_id=result.run.run_id,
        detail=jsonable_encoder(result.detail),
    )


Reason_ = Annotated[str, Form()]


@router.post("/golden/{golden_id}/unmerge", include_in_schema=False)
def unmerge_page(request: Request, golden_id: str, who: Steward, reason: Reason_ = "") -> Response:
    return _act_page(request, who, "unmerge", golden_id, ActionInput(), reason)


@router.post("/golden/{golden_id}/split", include_in_schema=False)
def split_page(
    request: Request,
    golden_id: str,
    who: Steward,
    records: Annotated[list[str] | None, Form()] = None,
    reason: Reason_ = "",
) -> Response:
    given = ActionInput(records=records or [])
    return _act_page(request, who, "split", golden_id, given, reason)


@router.post("/golden/{golden_id}/move", include_in_schema=False)
def move_page(
    request: Request,
    golden_id: str,
    who: Steward,
    record: Annotated[str, Form()] = "",
    to: Annotated[str, Form()] = "",
    came_from: Annotated[str, Form()] = "",
    reason: Reason_ = "",
) -> Response:
    given = ActionInput(record=record, to=to, came_from=came_from)
    return _act_page(request, who, "move", golden_id, given, reason)


@router.post("/golden/{golden_id}/merge", include_in_schema=False)
def merge_page(
    request: Request,
    golden_id: str,
    who: Steward,
    other: Annotated[str, Form()] = "",
    reason: Reason_ = "",
) -> Response:
    return _act_page(request, who, "merge", golden_id, ActionInput(other=other), reason)


@router.post("/golden/{golden_id}/pin", include_in_schema=False)
def pin_page(
    request: Request,
    golden_id: str,
    who: Steward,
    attribute: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
    force: Annotated[bool, Form()] = False,
    reason: Reason_ = "",
) -> Response:
    given = ActionInput(attribute=attribute, value=value, force=force)
    return _act_page(request, who, "pin", golden_id, given, reason)


@router.post("/golden/{golden_id}/unpin", include_in_schema=False)
def unpin_page(
    request: Request,
    golden_id: str,
    who: Steward,
    attribute: Annotated[str, Form()] = "",
    reason: Reason_ = "",
) -> Response:
    return _act_page(request, who, "unpin", golden_id, ActionInput(attribute=attribute), reason)


class Because(BaseModel):
    reason: str = Field(default="", description="Why: the audit log keeps it (required).")


class SplitBody(Because):
    records: list[str] = Field(min_length=1, description="The records to split out: SOURCE:KEY.")


class MoveBody(Because):
    record: str = Field(description="The record to move: SOURCE:KEY.")
    to: str = Field(
        default="",
        description="The golden id it joins; empty: the golden record of the path.",
    )


class MergeBody(Because):
    other: str = Field(description="The golden id to merge with.")


class PinBody(Because):
    attribute: str
    value: str
    force: bool = Field(default=False, description="Pin exactly as given, not standardized.")


class UnpinBody(Because):
    attribute: str


@router.post("/api/golden/{golden_id}/unmerge")
def unmerge_api(
    request: Request, golden_id: str, who: Steward, body: Annotated[Because, Body()]
) -> ActionResult:
    """Undo the merge of ``golden_id`` (merged away) into its survivor."""
    return _act_api(request, who, "unmerge", golden_id, ActionInput(), body.reason)


@router.post("/api/golden/{golden_id}/split")
def split_api(request: Request, golden_id: str, who: Steward, body: SplitBody) -> ActionResult:
    """Split records out of ``golden_id``: they get a golden id of their own."""
    given = ActionInput(records=body.records)
    return _act_api(request, who, "split", golden_id, given, body.reason)


@router.post("/api/golden/{golden_id}/move")
def move_api(request: Request, golden_id: str, who: Steward, body: MoveBody) -> ActionResult:
    """Move a record into another golden record (``to``), or into ``golden_id``."""
    given = ActionInput(record=body.record, to=body.to)
    return _act_api(request, who, "move", golden_id, given, body.reason)


@router.post("/api/golden/{golden_id}/merge")
def merge_api(request: Request, golden_id: str, who: Steward, body: MergeBody) -> ActionResult:
    """Merge ``golden_id`` and ``other`` for good: the older id survives."""
    given = ActionInput(other=body.other)
    return _act_api(request, who, "merge", golden_id, given, body.reason)


@router.post("/api/golden/{golden_id}/pin")
def pin_api(request: Request, golden_id: str, who: Steward, body: PinBody) -> ActionResult:
    """Pin a golden value: standardized like a source value (unless ``force``), it overrides
    the survivorship rules until unpinned."""
    given = ActionInput(attribute=body.attribute, value=body.value, force=body.force)
    return _act_api(request, who, "pin", golden_id, given, body.reason)


@router.post("/api/golden/{golden_id}/unpin")
def unpin_api(request: Request, golden_id: str, who: Steward, body: UnpinBody) -> ActionResult:
    """Unpin a golden value: the survivorship rules choose it again."""
    given = ActionInput(attribute=body.attribute)
    return _act_api(request, who, "unpin", golden_id, given, body.reason)


# ---- the message after an action: a cookie read once ------------------------------------------


def _set_flash(request: Request, response: Response, message: str, kind: str) -> None:
    """Keep ``message`` for the next page this browser shows, signed with the session's CSRF
    token (a page shows only a message this server wrote for this session)."""
    session = session_of(request)
    if session is None:
        return
    text = json.dumps([kind, message[:FLASH_MAX]])
    payload = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_flash_signature(session.csrf, payload)}",
        max_age=300,
        httponly=True,
        samesite="lax",
        secure=context_of(request).secure_cookies,
        path="/",
    )


def _take_flash(request: Request) -> tuple[str | None, str | None]:
    cookie = request.cookies.get(FLASH_COOKIE)
    session = session_of(request)
    if not cookie or session is None or "." not in cookie:
        return None, None
    payload, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, _flash_signature(session.csrf, payload)):
        return None, None
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        kind, message = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    return str(message), str(kind)


def _flash_signature(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]
