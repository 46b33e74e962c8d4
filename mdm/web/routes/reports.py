"""Run reports in the workbench: ``GET /runs/{run_id}/report`` (viewer) serves a run's report
page, as the run wrote it (``<project>/reports/run-<N>.html``), or made now from its record
when there is no such file (a run before reports were written, a report deleted);
``GET /runs/latest/report`` redirects to the latest run's."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from mdm.errors import MdmError, Reason
from mdm.reports.html import render_report
from mdm.reports.model import run_report
from mdm.reports.write import report_path
from mdm.store.bulk import table_of
from mdm.store.tables import Run
from mdm.web.deps import ProjectDep, Reading, Viewer

router = APIRouter()

# The report loads nothing; the browser is told to refuse anything it might try.
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@router.get("/runs/latest/report", include_in_schema=False)
def latest_report(who: Viewer, connection: Reading) -> Response:
    """The latest run's report."""
    latest = connection.execute(select(func.max(table_of(Run).c.id))).scalar()
    if latest is None:
        raise MdmError(Reason.NOT_FOUND, "No runs yet: 'mdm run' makes the first one.")
    return RedirectResponse(f"/runs/{int(latest)}/report", status_code=303)


@router.get("/runs/{run_id}/report", include_in_schema=False)
def report_page(run_id: int, who: Viewer, connection: Reading, project: ProjectDep) -> Response:
    """Run ``run_id``'s report page."""
    path = report_path(project.root, run_id)
    if path.is_file():
        page = path.read_text(encoding="utf-8")
    else:
        page = render_report(run_report(connection, project.root, project.spec, run_id))
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_POLICY})
