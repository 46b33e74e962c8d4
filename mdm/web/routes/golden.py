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

import inspect
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Form, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from mdm import stewardship
from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id
from mdm.schema import Entity, GoldenStatus, survived_attribute_names
from mdm.stewardship import StewardResult
from mdm.views import (
    ActionInput,
    ActionPreview,
    GoldenPage,
    current_id,
    golden_of_record,
    golden_page,
    preview_action,
    read_only,
    resolve_id,
)
from mdm.views.preview import ACTIONS, Action
from mdm.views.search import display_name
from mdm.web.accounts import Principal
from mdm.web.app import STATUS_OF_REASON
from mdm.web.deps import ProjectDep, Reading, Steward, Viewer, context_of
from mdm.web.flash import clear_flash, set_flash, take_flash
from mdm.web.rendering import render

router = APIRouter()

# Versions shown on the page, newest first (the API gives them all).
VERSIONS_SHOWN = 30


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
    flash, kind = take_flash(request)
    response = render(request, "golden.html", _page_values(page, merged_from, flash, kind))
    return clear_flash(request, response)


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
            now = golden_of_record(connection, entity, record)
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
    set_flash(request, response, result.message, "ok")
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
