"""The REST API of source records: read one, match a record before creating it, submit records
to an inbox source.

``GET /api/records/{source}/{key}``: a source record, its standardized values, its golden id
(redirects followed) and the golden ids it had (``mdm.views.source_record``).

``POST /api/match/account`` and ``POST /api/match/contact``: the golden records a record would
join, best first, with probabilities and the per-field explanation, read from the record-key
index and writing nothing (``mdm.views.match``). The record comes in canonical attributes, or
with ``?source=NAME`` in that source's own fields.

``POST /api/records/{source}``: records for an inbox source (``format = "inbox"`` in
``mdm.toml``), checked field by field and kept in the store; the next ``mdm run`` ingests them
like any source's delta (``mdm.sources.inbox``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from mdm.config.specs import Project, SourceSpec
from mdm.errors import MdmError, Reason
from mdm.schema import Entity
from mdm.sources.inbox import MAX_RECORDS, check_submission, is_inbox
from mdm.store import inbox as inbox_store
from mdm.store.bulk import now
from mdm.views.match import MatchAnswer, match_record
from mdm.views.source_record import SourceRecordView, source_record
from mdm.web.deps import ProjectDep, Reading, Steward, Viewer, context_of

router = APIRouter(tags=["records"])

# A value of a field: what a JSON object holds for one column.
Value = str | int | float | bool | None

SOURCE_QUERY = Query(
    description="Read the record in this source's own fields, mapped as its rows are "
    "(default: canonical attributes).",
)
REGION_QUERY = Query(
    pattern=r"^[A-Z]{2}$",
    description="The country a phone number without a country code is read in (default: the "
    "source's default_region, else the sources' most common).",
)
LIMIT_QUERY = Query(ge=1, le=50, description="At most this many golden records.")


@router.get("/api/records/{source}/{key:path}")
def record_api(
    source: str, key: str, who: Viewer, connection: Reading, project: ProjectDep
) -> SourceRecordView:
    """A source record: its current version as loaded, its values standardized, the golden
    record it belongs to (a deleted record: the one it last belonged to; redirects followed,
    ``resolved_from`` naming the merged-away id), the golden ids it had run by run, its
    versions and, for an inbox source, its submissions waiting for the next run."""
    return source_record(connection, project, source, key)


# ---- match before create ----------------------------------------------------------------------


class _RecordValues(BaseModel):
    """Fields of one record. With ``?source=NAME`` the fields are that source's own."""

    model_config = ConfigDict(extra="allow")


class AccountValues(_RecordValues):
    """An account in canonical attributes (or, with ``?source=``, in that source's fields)."""

    name: Value = None
    domain: Value = None
    phone: Value = None
    street: Value = None
    city: Value = None
    region: Value = None
    postcode: Value = None
    country: Value = None
    tax_id: Value = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"name": "Acme Corp.", "phone": "(212) 555-0100"}]},
    )


class ContactValues(_RecordValues):
    """A contact in canonical attributes (or, with ``?source=``, in that source's fields)."""

    first_name: Value = None
    middle_name: Value = None
    last_name: Value = None
    full_name: Value = None
    email: Value = None
    phone: Value = None
    mobile: Value = None
    title: Value = None
    company: Value = None
    account_key: Value = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"first_name": "Ann", "last_name": "Lee", "company": "Acme Corp."}]
        },
    )


@router.post("/api/match/account")
def match_account(
    record: Annotated[AccountValues, Body()],
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    source: Annotated[str | None, SOURCE_QUERY] = None,
    region: Annotated[str | None, REGION_QUERY] = None,
    limit: Annotated[int, LIMIT_QUERY] = 10,
) -> MatchAnswer:
    """Match before create: the golden accounts this account would join (``match``) or be
    reviewed with (``review``), best first, each with the probability of its best pair and
    that pair's explanation field by field. Read from the record-key index; writes nothing."""
    return _match(connection, project, Entity.ACCOUNT, record, source, region, limit)


@router.post("/api/match/contact")
def match_contact(
    record: Annotated[ContactValues, Body()],
    who: Viewer,
    connection: Reading,
    project: ProjectDep,
    source: Annotated[str | None, SOURCE_QUERY] = None,
    region: Annotated[str | None, REGION_QUERY] = None,
    limit: Annotated[int, LIMIT_QUERY] = 10,
) -> MatchAnswer:
    """Match before create: the golden contacts this contact would join or be reviewed with,
    best first, with probabilities and explanations, and the golden account it would be
    attached to (by its account key, company name or work email domain). Writes nothing."""
    return _match(connection, project, Entity.CONTACT, record, source, region, limit)


def _match(
    connection: Connection,
    project: Project,
    entity: Entity,
    record: _RecordValues,
    source: str | None,
    region: str | None,
    limit: int,
) -> MatchAnswer:
    values = record.model_dump(exclude_unset=True)
    try:
        return match_record(
            connection, project, entity, values, source=source, region=region, limit=limit
        )
    except MdmError as error:
        if error.reason is Reason.USAGE:
            raise HTTPException(422, _problems_text(error)) from None
        raise


# ---- the inbox -------------------------------------------------------------------------------


class Submission(BaseModel):
    records: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_RECORDS,
        description="The records, each in the source's own fields (its key, the fields its "
        "mapping names, last_modified, deleted_flag and op_column if it declares them). A "
        "record without a key gets one from the store.",
        examples=[[{"lead_id": "L-1", "first": "Ann", "last": "Lee", "company": "Acme Corp."}]],
    )


class SubmittedRecord(BaseModel):
    key: str
    submission: int  # the submission's id in the inbox


class SubmissionAnswer(BaseModel):
    source: str
    accepted: int
    records: list[SubmittedRecord]  # in the order sent
    pending: int  # submissions to this source waiting for the next run, these included
    message: str


@router.post("/api/records/{source}", status_code=202)
def submit_records(
    request: Request, source: str, body: Submission, who: Steward, project: ProjectDep
) -> SubmissionAnswer:
    """Submit records to an inbox source. Each is checked as a run checks a row, and more: a
    field the source does not declare, a value that is not a scalar, a key sent twice or a
    record with no mapped value refuses the whole submission (422, naming the record and its
    field), and nothing is kept. Accepted records are kept in the store, and the next ``mdm
    run`` ingests them like any source's records: matching, survivorship, lineage. A key sent
    again is a new version of its record; the latest submission before a run wins."""
    spec = _inbox_source(project, source)
    checked = check_submission(spec, body.records)
    if checked.problems:
        error = MdmError(Reason.USAGE, "Nothing was kept.", checked.problems)
        raise HTTPException(422, _problems_text(error))
    submissions = [(s.source_key, s.record) for s in checked.submissions]
    store = context_of(request).store
    try:
        with store.transaction() as connection:
            ids = inbox_store.append_submissions(connection, source, submissions, now(), who.actor)
            waiting = inbox_store.pending_count(connection, source)
    except OperationalError as error:
        if "locked" not in str(error.orig):
            raise
        # SQLite: a run held the store for longer than a statement waits.
        raise MdmError(
            Reason.BUSY, "A run is writing the store: nothing was kept. Send the records again."
        ) from error
    return SubmissionAnswer(
        source=source,
        accepted=len(ids),
        records=[
            SubmittedRecord(key=key, submission=sid)
            for (key, _), sid in zip(submissions, ids, strict=True)
        ],
        pending=waiting,
        message=f"{len(ids)} record{'s' if len(ids) != 1 else ''} kept for the next run.",
    )


def _inbox_source(project: Project, source: str) -> SourceSpec:
    try:
        spec = project.source(source)
    except KeyError:
        inboxes = [s.name for s in project.spec.sources if is_inbox(s)]
        raise MdmError(
            Reason.NOT_FOUND,
            f"No source {source!r}; inbox sources: {', '.join(inboxes) or 'none'} "
            '(declare one in mdm.toml with format = "inbox").',
        ) from None
    if not is_inbox(spec):
        raise MdmError(
            Reason.USAGE,
            f"Source {source!r} is read from {spec.format} ({spec.path or spec.table or 'a query'}"
            '), not kept in an inbox: records go only to sources with format = "inbox".',
        )
    return spec


def _problems_text(error: MdmError) -> str:
    if not error.problems:
        return error.summary
    return f"{error.summary} " + "; ".join(str(problem) for problem in error.problems)


# ---- the API's docs --------------------------------------------------------------------------

# The Swagger UI files the docs page loads, served from the installed package: the docs work
# where no CDN can be reached.
DOCS_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


def api_docs(request: Request) -> HTMLResponse:
    """The API's interactive docs (Swagger UI) over ``/openapi.json``."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — API",
        swagger_js_url="/api/docs/swagger-ui-bundle.js",
        swagger_css_url="/api/docs/swagger-ui.css",
        swagger_favicon_url="/api/docs/favicon-32x32.png",
    )


def docs_asset(request: Request) -> FileResponse:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    name = str(request.path_params["asset"])
    if name not in DOCS_ASSETS:
        raise HTTPException(404, f"No file {name} in the API docs.")
    return FileResponse(Path(str(swagger_ui_path)) / name)


# Plain routes, as FastAPI's own docs route is: public, and not part of the schema.
router.add_route("/api/docs", api_docs, include_in_schema=False)
router.add_route("/api/docs/{asset}", docs_asset, include_in_schema=False)
