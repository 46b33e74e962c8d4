"""Where a run report is written, and how: ``<project>/reports/run-<N>.html``, replaced whole
(written beside it, then renamed), so a reader never sees half a report."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from mdm.config.specs import ProjectSpec
from mdm.errors import MdmError, Reason
from mdm.log import logger
from mdm.reports.html import render_report
from mdm.reports.model import RunReport, run_report
from mdm.views.base import reading

REPORTS_FOLDER: Final = "reports"


def report_path(root: Path, run_id: int) -> Path:
    """Where run ``run_id``'s report is kept in the project at ``root``."""
    return root / REPORTS_FOLDER / f"run-{run_id}.html"


def build_report(store_url: str, root: Path, spec: ProjectSpec, run_id: int | None) -> RunReport:
    """Run ``run_id``'s report (default: the latest run), read in one read-only transaction."""
    with reading(store_url) as connection:
        return run_report(connection, root, spec, run_id)


def write_report(report: RunReport, out: Path) -> Path:
    """The report as HTML at ``out``, replacing what was there at once."""
    page = render_report(report)
    name = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # Readable as the user's other files are (the umask applies), unlike a mkstemp file.
        handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise MdmError(
            Reason.USAGE,
            f"The report cannot be written in {out.parent} ({error.strerror or error}): "
            "make it a folder you may write to, or give another file with --out.",
        ) from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
        os.replace(name, out)
    except BaseException:
        name.unlink(missing_ok=True)
        raise
    return out


def write_run_report(
    store_url: str,
    root: Path,
    spec: ProjectSpec,
    run_id: int | None = None,
    out: Path | None = None,
) -> Path:
    """Write run ``run_id``'s report (default: the latest run) to ``out`` (default: its place
    in the project, ``report_path``); the path written."""
    report = build_report(store_url, root, spec, run_id)
    return write_report(report, out or report_path(root, report.run.id))


def report_after_run(store_url: str, root: Path, spec: ProjectSpec, run_id: int) -> Path | None:
    """Write the report of a run that just committed. A report that cannot be written is
    logged and the run stands: the run's work is done and recorded; ``mdm report`` can write
    the report again."""
    try:
        path = write_run_report(store_url, root, spec, run_id)
    except Exception as error:  # any failure: the report is a by-product of the run
        logger.warning(
            "The report of run %s could not be written (%s: %s); 'mdm report %s' writes it.",
            run_id,
            type(error).__name__,
            error,
            run_id,
        )
        return None
    logger.debug("Report of run %s written to %s", run_id, path)
    return path
