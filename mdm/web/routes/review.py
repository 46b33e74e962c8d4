"""The review queue and the pair page: where stewards decide the pairs the matcher was unsure of.

``GET /queue`` lists the open review items in queue order (uncertainty x impact, the skipped
ones last), filtered by entity, source, score band and age, a page at a time, with how many the
filters leave. ``GET /review/{id}`` shows one pair: both records side by side (differing values
marked), why they match or not as a waterfall of match weights, the golden record each is in,
and, for a steward, the buttons: match, not a match, skip, undo my last decision (keys m, n, s,
u; j and k walk the queue). A decision names the record versions its page showed: if either
record changed since, nothing is recorded and the fresh pair is shown again (409).

The API twins: ``GET /api/review``, ``GET /api/review/{id}``, ``POST /api/review/{id}/decision``,
``POST /api/review/undo``.

Routes are plain functions (not ``async``): a steward action waits for a running run (up to
the steward wait), in FastAPI's thread pool, without holding up other requests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Body, Form, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.schema import Entity, LinkDecision
from mdm.stewardship import decide_pair, skip_review, undo_decision
from mdm.views import (
    ExplanationView,
    PairView,
    QueueFilters,
    QueueItem,
    pair_view,
    queue_page,
    read_only,
)
from mdm.views.search import display_name
from mdm.web.accounts import Role
from mdm.web.deps import (
    ProjectDep,
    Reading,
    Steward,
    Viewer,
    context_of,
    principal_of,
)
from mdm.web.flash import clear_flash, set_flash, take_flash
from mdm.web.rendering import render

router = APIRouter()

PAGE_SIZE = 50  # queue rows on a page
API_LIMIT = 500  # the most items one API page gives

Decision = Literal["match", "not-match", "skip"]
LINKS: dict[str, LinkDecision] = {
    "match": LinkDecision.MUST_LINK,
    "not-match": LinkDecision.CANNOT_LINK,
}
# The query parameters of the queue's filters, and the QueueFilters field each fills.
FILTER_FIELDS = {
    "entity": "entity",
    "source": "source",
    "min_p": "min_probability",
    "max_p": "max_probability",
    "min_age": "min_age_days",
    "max_age": "max_age_days",
}


# ---- the queue ------------------------------------------------------------------------------


@router.get("/queue", include_in_schema=False)
def queue(
    request: Request,
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    page: int = 1,
) -> Response:
    """The open review items, the most helpful first, a page at a time."""
    query = _filter_query(request.query_params)
    filters = _filters(query)
    number = max(page, 1)
    found = queue_page(connection, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    now = datetime.now(UTC)
    flash, kind = take_flash(request)
    values = {
        "nav": "queue",
        "page": found,
        "rows": [_row(item, query, now) for item in found.items],
        "number": number,
        "first": (number - 1) * PAGE_SIZE + 1,
        "last": (number - 1) * PAGE_SIZE + len(found.items),
        "pages": max(math.ceil(found.open_count / PAGE_SIZE), 1),
        "previous_link": _queue_link(query, number - 1) if number > 1 else None,
        "next_link": _queue_link(query, number + 1) if found.next_cursor else None,
        "query": dict(query),
        "filtered": bool(query),
        "sources": sorted(source.name for source in project.spec.sources),
        "entities": [str(entity) for entity in Entity],
        "flash": flash,
        "flash_kind": kind,
    }
    return clear_flash(request, render(request, "queue.html", values))


class QueueRow(BaseModel):
    """One row of the queue page."""

    id: int
    entity: str
    left: str
    right: str
    left_name: str | None
    right_name: str | None
    probability: float
    priority: float
    left_golden_id: str | None
    right_golden_id: str | None
    age: str
    skipped_by: str | None
    link: str


def _row(item: QueueItem, query: Sequence[tuple[str, str]], now: datetime) -> QueueRow:
    return QueueRow(
        id=item.id,
        entity=str(item.entity),
        left=item.left,
        right=item.right,
        left_name=item.left_name,
        right_name=item.right_name,
        probability=item.probability,
        priority=item.priority,
        left_golden_id=item.left_golden_id,
        right_golden_id=item.right_golden_id,
        age=_age(item.run_started_at, now),
        skipped_by=item.skipped_by,
        link=_pair_link(item.id, query),
    )


class QueueAnswer(BaseModel):
    """A page of the queue, for the API."""

    items: list[QueueItem]  # each with its records' display names
    open_count: int  # open items the filters select, skipped ones included
    skipped_count: int
    next_cursor: str | None  # ``after=`` for the next page


@router.get("/api/review")
def queue_api(
    who: Viewer,
    connection: Reading,
    entity: Entity | None = None,
    source: Annotated[str | None, Query(description="A record of this source on a side")] = None,
    min_p: Annotated[float | None, Query(description="Probability at least")] = None,
    max_p: Annotated[float | None, Query(description="Probability at most")] = None,
    min_age: Annotated[float | None, Query(description="Found at least this many days ago")] = None,
    max_age: Annotated[float | None, Query(description="Found at most this many days ago")] = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
    after: str | None = None,
) -> QueueAnswer:
    """The open review items in queue order (priority: uncertainty x impact; skipped items
    last). Filters: ``entity``, ``source``, ``min_p``/``max_p`` (probability band),
    ``min_age``/``max_age`` (days since the run that found the pair). Page with ``offset``
    or with ``after`` (the ``next_cursor`` of the page before). Each item has its records'
    display names."""
    given = (entity, source, min_p, max_p, min_age, max_age)
    filters = _validated(dict(zip(FILTER_FIELDS.values(), given, strict=True)))
    if not 1 <= limit <= API_LIMIT:
        raise MdmError(Reason.USAGE, f"limit must be between 1 and {API_LIMIT}.")
    found = queue_page(connection, filters, limit=limit, offset=offset, after=after)
    return QueueAnswer(
        items=found.items,
        open_count=found.open_count,
        skipped_count=found.skipped_count,
        next_cursor=found.next_cursor,
    )


# ---- one pair -------------------------------------------------------------------------------


@router.get("/review/{item_id}", include_in_schema=False)
def pair_page(
    request: Request, item_id: int, who: Viewer, connection: Reading, project: ProjectDep
) -> Response:
    """One pair side by side, why it matches or not, and (for a steward) the decision."""
    query = _filter_query(request.query_params)
    view = pair_view(connection, project, item_id, _filters(query))
    flash, kind = take_flash(request)
    return clear_flash(request, _render_pair(request, view, query, flash, kind))


@router.get("/api/review/{item_id}")
def pair_api(
    request: Request, item_id: int, who: Viewer, connection: Reading, project: ProjectDep
) -> dict[str, Any]:
    """One review item: both records, their values side by side, the comparisons' levels
    and weights, the golden ids, the record versions a decision names (``expected``), and the
    items before and after it in the queue of the same filters."""
    filters = _filters(_filter_query(request.query_params))
    return _pair_json(pair_view(connection, project, item_id, filters))


def _moot(view: PairView) -> str | None:
    """Why the item is out of the queue, in a sentence; None while it is open."""
    if view.status == "open":
        return None
    if view.status == "decided":
        found = view.decision
        if found is None:
            return "This pair was decided: it is no longer in the queue."
        same = found.decision == LinkDecision.MUST_LINK
        verdict = f"the same {view.entity}" if same else f"different {view.entity}s"
        text = f"This pair was decided by {found.decided_by}{_when(found.decided_at)}: {verdict}"
        return text + (f" ({found.reason})." if found.reason else ".")
    why = f": {view.closed_reason}" if view.closed_reason else ""
    return f"A run closed this item{_when(view.closed_at)}{why}. The pair is no longer in review."


def _when(moment: Any) -> str:
    if not isinstance(moment, datetime):
        return ""
    return f" on {moment:%Y-%m-%d %H:%M}" + (" UTC" if moment.utcoffset() == timedelta(0) else "")


def _render_pair(
    request: Request,
    view: PairView,
    query: Sequence[tuple[str, str]],
    flash: str | None,
    kind: str | None,
    status: int = 200,
) -> Response:
    fields = {field.name: field for field in view.fields}
    left_values = {name: field.left for name, field in fields.items()}
    right_values = {name: field.right for name, field in fields.items()}
    explanation = view.explanation
    who = principal_of(request)
    values = {
        "nav": "queue",
        "can_act": who is not None and who.role.allows(Role.STEWARD),
        "view": view,
        "item": view.item,
        "left_name": display_name(view.entity, left_values),
        "right_name": display_name(view.entity, right_values),
        "explanation": explanation,
        "chart": _chart(explanation),
        "levels": _stored_levels(view.item),
        "open": view.status == "open",
        "moot": _moot(view),
        "expected": json.dumps(view.versions, sort_keys=True),
        "filters": urlencode(list(query)),
        "queue_link": _queue_link(query, 1),
        "previous_link": None if view.previous_id is None else _pair_link(view.previous_id, query),
        "next_link": None if view.next_id is None else _pair_link(view.next_id, query),
        "back": _pair_link(view.id, query),
        "age": _age(view.item.run_started_at, datetime.now(UTC)),
        "flash": flash,
        "flash_kind": kind,
    }
    return render(request, "pair.html", values, status=status)


def _stored_levels(item: QueueItem) -> list[tuple[str, str]]:
    """The levels the run stored, for a pair whose records are gone (no explanation now)."""
    return [(name, "missing" if level == -1 else str(level)) for name, level in item.levels.items()]


def _pair_json(view: PairView) -> dict[str, Any]:
    found: dict[str, Any] = jsonable_encoder({**view.model_dump(mode="json"), "moot": _moot(view)})
    return found


# ---- deciding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a decision did: its message, the item it was recorded on, the next item."""

    message: str
    item_id: int
    next_id: int | None
    detail: dict[str, Any]


class Conflict(Exception):
    """Nothing was recorded: the pair changed since it was shown, or is no longer open."""

    def __init__(self, message: str, view: PairView) -> None:
        super().__init__(message)
        self.message = message
        self.view = view


@router.post("/review/{item_id}/decide", include_in_schema=False)
def decide_form(
    request: Request,
    item_id: int,
    who: Steward,
    project: ProjectDep,
    decision: Annotated[str, Form()],
    expected: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    filters: Annotated[str, Form()] = "",
) -> Response:
    """Record the steward's decision on the pair and go on to the next item in the queue."""
    query = _filter_query(parse_qsl(filters))
    try:
        outcome = _decide(
            request, project, item_id, decision, _parse_expected(expected), reason, who.actor, query
        )
    except Conflict as conflict:
        answer = _render_pair(request, conflict.view, query, conflict.message, "warn", status=409)
        return clear_flash(request, answer)
    if outcome.next_id is None:
        target = _queue_link(query, 1)
        message = (
            outcome.message
            + " Nothing is left in the queue"
            + (" for these filters." if query else ".")
        )
    else:
        target, message = _pair_link(outcome.next_id, query), outcome.message
    response = RedirectResponse(target, status_code=303)
    set_flash(request, response, message, "ok")
    return response


class DecisionBody(BaseModel):
    decision: Decision
    # SOURCE:KEY -> the version of each record the decision was made on (the pair's
    # ``versions``): if either changed since, nothing is recorded (409).
    expected: dict[str, int] | None = None
    reason: str | None = None


@router.post("/api/review/{item_id}/decision")
def decide_api(
    request: Request,
    item_id: int,
    who: Steward,
    project: ProjectDep,
    body: Annotated[DecisionBody, Body()],
) -> Response:
    """Decide review item ``item_id``: ``match``, ``not-match`` or ``skip``. Answers the
    message, the item and the next item in the queue; 409 with the pair as it is now when
    the records changed since ``expected`` or the item is no longer open."""
    query = _filter_query(request.query_params)
    try:
        outcome = _decide(
            request,
            project,
            item_id,
            body.decision,
            body.expected,
            body.reason or "",
            who.actor,
            query,
        )
    except Conflict as conflict:
        return JSONResponse(
            {
                "error": conflict.message,
                "status": 409,
                "reason": str(Reason.CONFLICT),
                "pair": _pair_json(conflict.view),
            },
            status_code=409,
        )
    return JSONResponse(
        jsonable_encoder(
            {
                "message": outcome.message,
                "decision": body.decision,
                "item_id": outcome.item_id,
                "next_id": outcome.next_id,
                "detail": outcome.detail,
            }
        )
    )


def _decide(
    request: Request,
    project: Project,
    item_id: int,
    decision: str,
    expected: Mapping[str, int] | None,
    reason: str,
    actor: str,
    query: Sequence[tuple[str, str]],
) -> Outcome:
    """Record ``decision`` on item ``item_id``: through ``decide_pair`` (which refuses it if a
    record changed since ``expected``) or ``skip_review``. Raises ``Conflict`` when nothing
    was recorded because the pair changed or is no longer open."""
    if decision not in ("match", "not-match", "skip"):
        raise MdmError(Reason.USAGE, f"{decision!r} is not a decision: match, not-match or skip.")
    filters = _filters(query)
    with _reading(request) as connection:
        view = pair_view(connection, project, item_id, filters)
    if view.status != "open":
        raise Conflict(f"Nothing was recorded. {_moot(view)}", view)
    cursor = view.item.cursor
    try:
        if decision == "skip":
            skipped = skip_review(project, item_id, actor)
            done, message, detail = skipped.item_id, skipped.message, skipped.detail
        else:
            result = decide_pair(
                project,
                view.item.left,
                view.item.right,
                LINKS[decision],
                actor,
                reason=reason.strip() or None,
                expected=expected,
            )
            done, message, detail = item_id, result.message, result.detail
    except MdmError as error:
        if error.reason != Reason.CONFLICT:
            raise
        with _reading(request) as connection:
            fresh = pair_view(connection, project, item_id, filters)
        raise Conflict(_sentence(error), fresh) from None
    with _reading(request) as connection:
        next_id = _next_item(connection, filters, cursor, {item_id, done})
    return Outcome(message, done, next_id, detail)


def _sentence(error: MdmError) -> str:
    """An error as one paragraph: its summary, then its problems."""
    if not error.problems:
        return error.summary
    return f"{error.summary} ({'; '.join(str(problem) for problem in error.problems)})"


def _next_item(
    connection: Connection, filters: QueueFilters, cursor: str, leave: set[int]
) -> int | None:
    """The open item after the place ``cursor`` in the queue of ``filters``, else the first
    from the top; none of ``leave`` (the item just decided)."""
    for after in (cursor, None):
        found = queue_page(connection, filters, limit=len(leave) + 1, after=after)
        for item in found.items:
            if item.id not in leave:
                return item.id
    return None


def _parse_expected(text: str) -> dict[str, int] | None:
    """The form's ``expected``: SOURCE:KEY -> version, as JSON; empty: none."""
    if not text.strip():
        return None
    try:
        found = json.loads(text)
        if not isinstance(found, dict):
            raise ValueError
        return {str(record): int(version) for record, version in found.items()}
    except (ValueError, TypeError):
        raise MdmError(
            Reason.USAGE,
            "The form's expected versions are not SOURCE:KEY -> version in JSON: reload the page.",
        ) from None


# ---- undo -----------------------------------------------------------------------------------


@router.post("/review/undo", include_in_schema=False)
def undo_form(
    request: Request,
    who: Steward,
    project: ProjectDep,
    back: Annotated[str, Form()] = "/queue",
) -> Response:
    """Revoke the steward's last decision and show its pair again, back in the queue."""
    try:
        result = undo_decision(project, who.actor)
    except MdmError as error:
        if error.reason not in (Reason.NOT_FOUND, Reason.USAGE):
            raise
        response = RedirectResponse(_local(back), status_code=303)
        set_flash(request, response, str(error), "warn")
        return response
    reopened = [int(i) for i in result.detail.get("reopened", [])]
    target = f"/review/{reopened[0]}" if reopened else _local(back)
    response = RedirectResponse(target, status_code=303)
    set_flash(request, response, result.message, "ok")
    return response


@router.post("/api/review/undo")
def undo_api(who: Steward, project: ProjectDep) -> dict[str, Any]:
    """Revoke the caller's most recent pair decision that is still active: its review item is
    open again (``reopened``) and its records are resolved as if it had never been made."""
    result = undo_decision(project, who.actor)
    found: dict[str, Any] = jsonable_encoder(
        {
            "message": result.message,
            "reopened": [int(i) for i in result.detail.get("reopened", [])],
            "detail": result.detail,
        }
    )
    return found


# ---- the waterfall of match weights ---------------------------------------------------------

WATERFALL_WIDTH = 1000
ROW = 24  # pixels per bar
CHAR = 7.0  # average width of a 12px character
GOOD, BAD, NEUTRAL, TOTAL, INK, MUTED, GRID = (
    "#1d7a46",
    "#b4322a",
    "#8d99ab",
    "#2456c7",
    "#1d2430",
    "#5d6b7e",
    "#d9dee6",
)


@dataclass(frozen=True)
class Step:
    """One bar: its label, where it starts and what it adds (the prior and the total start
    at zero)."""

    label: str
    start: float
    change: float
    kind: Literal["prior", "step", "total"]
    field: str = ""


def waterfall_steps(
    prior: float, fields: Sequence[tuple[str, str, float | None]], total: float
) -> list[Step]:
    """The bars of a waterfall: the prior from 0, each comparison ``(name, level, weight)``
    from where the one before ended (a null level adds nothing), the total from 0."""
    steps = [Step("prior", 0.0, prior, "prior")]
    level = prior
    for name, label, weight in fields:
        change = 0.0 if weight is None or not math.isfinite(weight) else float(weight)
        steps.append(Step(f"{name} · {label}", level, change, "step", name))
        level += change
    steps.append(Step("total", 0.0, total, "total"))
    return steps


def waterfall(
    steps: Sequence[Step], *, probability: float | None, width: int = WATERFALL_WIDTH
) -> Markup:
    """The steps as an inline SVG waterfall: a bar per step, positive weights green to the
    right, negative red to the left, each labelled with its field and level and its weight;
    a dashed line carries each bar's end to the next bar's start."""
    labels = [_clip(step.label, 44) for step in steps]
    if probability is not None and steps and steps[-1].kind == "total":
        labels[-1] = f"total · p = {probability:.3f}"
    left = min(max(len(text) for text in labels) * CHAR + 16, width * 0.4)
    right = 64.0
    top, axis = 8, 34
    height = top + ROW * len(steps) + axis
    ends = [0.0] + [value for step in steps for value in (step.start, step.start + step.change)]
    low, high = min(ends), max(ends)
    span = (high - low) or 1.0
    low, high = low - span * 0.04, high + span * 0.04
    x0, x1 = left, width - right

    def x(value: float) -> float:
        return x0 + (value - low) / (high - low) * (x1 - x0)

    title = "Match weight, field by field: from the prior to the total"
    parts = [
        f'<svg class="waterfall" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in _ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{top + ROW * len(steps)}" '
            f'stroke="{INK if tick == 0 else GRID}" stroke-width="{1.2 if tick == 0 else 1}"/>'
            f'<text x="{tx:.1f}" y="{top + ROW * len(steps) + 14}" font-size="11" '
            f'fill="{MUTED}" text-anchor="middle">{_signed(tick, 0)}</text>'
        )
    parts.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 4}" font-size="11" fill="{MUTED}" '
        'text-anchor="middle">match weight (log₂ Bayes factor)</text>'
    )
    for row, (step, label) in enumerate(zip(steps, labels, strict=True)):
        y = top + row * ROW
        start, end = x(step.start), x(step.start + step.change)
        bar_x, bar_w = min(start, end), max(abs(end - start), 2.0)
        colour = _colour(step)
        value = _signed(step.change, 2)
        css = f"bar {step.kind}"
        field = f' data-field="{escape(step.field)}"' if step.field else ""
        weight = 'font-weight="600" ' if step.kind == "total" else ""
        parts.append(
            f'<g class="{css}"{field}><title>{escape(step.label)}: {value}</title>'
            f'<text x="{left - 8:.1f}" y="{y + ROW / 2 + 4:.1f}" font-size="12" {weight}'
            f'fill="{INK}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{bar_x:.1f}" y="{y + 4}" width="{bar_w:.1f}" height="{ROW - 8}" '
            f'rx="2" fill="{colour}"/>'
            f'<text x="{width - 6}" y="{y + ROW / 2 + 4:.1f}" font-size="12" {weight}'
            f'fill="{colour if step.kind == "step" else INK}" text-anchor="end">{value}</text></g>'
        )
        if row + 1 < len(steps) and steps[row + 1].kind == "step":
            parts.append(
                f'<line x1="{end:.1f}" y1="{y + ROW - 4}" x2="{end:.1f}" y2="{y + ROW + 4}" '
                f'stroke="{MUTED}" stroke-dasharray="2 2"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _chart(explanation: ExplanationView | None) -> Markup | None:
    if explanation is None or explanation.method != "probabilistic":
        return None
    if explanation.prior_weight is None or explanation.total_weight is None:
        return None
    steps = waterfall_steps(
        explanation.prior_weight,
        [(field.name, field.level, field.weight) for field in explanation.fields],
        explanation.total_weight,
    )
    return waterfall(steps, probability=explanation.probability)


def _colour(step: Step) -> str:
    if step.kind == "total":
        return TOTAL
    if step.kind == "prior" or step.change == 0:
        return NEUTRAL
    return GOOD if step.change > 0 else BAD


def _ticks(low: float, high: float) -> list[float]:
    """Round values across [low, high], zero among them when it is inside."""
    span = high - low
    raw = span / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    found = []
    value = first
    while value <= high + 1e-9:
        found.append(round(value, 9) + 0.0)
        value += step
    return found


def _signed(value: float, digits: int) -> str:
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if value > 0 else "\u2212") + text  # a minus sign, as wide as the plus


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- what the pages share -------------------------------------------------------------------


def _filter_query(params: Any) -> list[tuple[str, str]]:
    """The queue's filters among request parameters (a query or form pairs), non-empty ones,
    in a fixed order."""
    pairs = params.multi_items() if hasattr(params, "multi_items") else list(params)
    given = {str(name): str(value).strip() for name, value in pairs}
    return [(name, given[name]) for name in FILTER_FIELDS if given.get(name)]


def _filters(query: Sequence[tuple[str, str]]) -> QueueFilters:
    return _validated({FILTER_FIELDS[name]: value for name, value in query})


def _validated(values: Mapping[str, Any]) -> QueueFilters:
    """The queue's filters, or a usage error naming the query parameters that are wrong."""
    try:
        return QueueFilters.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{_parameter(str(problem['loc'][0]))}: {problem['msg']}" for problem in error.errors()
        )
        raise MdmError(Reason.USAGE, f"The queue's filters are wrong: {problems}.") from None


def _parameter(field: str) -> str:
    return next((name for name, known in FILTER_FIELDS.items() if known == field), field)


def _queue_link(query: Sequence[tuple[str, str]], page: int) -> str:
    pairs = list(query) + ([("page", str(page))] if page > 1 else [])
    return "/queue" + (f"?{urlencode(pairs)}" if pairs else "")


def _pair_link(item_id: int, query: Sequence[tuple[str, str]]) -> str:
    return f"/review/{int(item_id)}" + (f"?{urlencode(list(query))}" if query else "")


def _local(path: str) -> str:
    """Only a path on this server."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/queue"
    return path


def _age(started: datetime | None, now: datetime) -> str:
    """How long ago the run that found the pair started, roughly."""
    if started is None:
        return "\u2013"
    moment = started if started.tzinfo else started.replace(tzinfo=UTC)
    seconds = max((now - moment).total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


@contextmanager
def _reading(request: Request) -> Iterator[Connection]:
    with context_of(request).store.transaction() as connection, read_only(connection):
        yield connection
