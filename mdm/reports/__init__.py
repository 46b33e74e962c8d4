"""Run reports and data-quality profiles: what a run did, and where each source is weak.

* ``write_run_report`` writes a run's report as one self-contained HTML page (``mdm report``;
  every ``mdm run`` writes its own to ``<project>/reports/run-<N>.html``);
* ``profile_sources`` profiles the sources (``mdm profile``): fill rate and validity per
  attribute, duplicates, the values that lose survivorship;
* ``mdm.reports.charts`` draws the charts as inline SVG, for the reports and the workbench.

Names are imported when first used, so that the workbench's charts do not bring pandas in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdm.reports.html import render_report
    from mdm.reports.model import RunReport, run_report
    from mdm.reports.profile import SourceProfile, profile_sources
    from mdm.reports.write import report_after_run, report_path, write_run_report

_HOMES = {
    "render_report": "mdm.reports.html",
    "RunReport": "mdm.reports.model",
    "run_report": "mdm.reports.model",
    "SourceProfile": "mdm.reports.profile",
    "profile_sources": "mdm.reports.profile",
    "report_after_run": "mdm.reports.write",
    "report_path": "mdm.reports.write",
    "write_run_report": "mdm.reports.write",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mdm.reports' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "RunReport",
    "SourceProfile",
    "profile_sources",
    "render_report",
    "report_after_run",
    "report_path",
    "run_report",
    "write_run_report",
]
