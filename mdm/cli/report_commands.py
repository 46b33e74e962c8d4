"""Commands that report: ``mdm report`` (a run's report as one HTML page) and ``mdm profile``
(the data quality of each source). Both only read the store.

Each command imports the reports (and pandas) itself, for ``mdm --help`` to start fast: see
``mdm.cli.base``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mdm.cli.base import ProjectOption, console, load_for_reading, read_store, user_errors
from mdm.cli.output import rows_table, text

if TYPE_CHECKING:
    from mdm.reports import SourceProfile


def report(
    run_id: Annotated[
        int | None, typer.Argument(metavar="[RUN]", help="The run (default: the latest).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write it here (default: the project's reports/run-<RUN>.html)."
        ),
    ] = None,
    open_it: Annotated[
        bool, typer.Option("--open", help="Open it in the web browser once written.")
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Write a run's report: one HTML page, its charts inline, that loads nothing.

    What each source loaded and quarantined, seconds and memory per stage, per entity the
    pairs per blocking rule, the match weights, the scores against the thresholds, the
    cluster sizes, how the systems overlap and what happened to golden records, and the data
    quality of what the run loaded. Every 'mdm run' writes its own.
    """
    from mdm.reports import report_path
    from mdm.reports.model import run_report
    from mdm.reports.write import write_report

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            made = run_report(connection, found.root, found.spec, run_id)
        written = write_report(made, out or report_path(found.root, made.run.id))
    # Never wrapped: the path is pasted into a browser or another command.
    console.print(
        f"Report of run {made.run.id} written to [bold]{text(str(written))}[/]", soft_wrap=True
    )
    if open_it:
        import webbrowser

        if not webbrowser.open(written.resolve().as_uri()):
            console.print("No web browser could be started here: open the file yourself.")


def profile(
    sources: Annotated[
        list[str] | None,
        typer.Argument(metavar="[SOURCE]...", help="The sources (default: every source)."),
    ] = None,
    run_id: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="Profile the records this run loaded and the golden values it wrote, "
            "instead of every current record.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not tables.")] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Data quality per source: how often each attribute is filled and well formed (emails,
    phones, postcodes, countries, domains, tax ids), the source's duplicates, and how often
    its values lose survivorship to another system's."""
    from mdm.reports import profile_sources

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            if run_id is not None:
                from mdm.views import run_view

                run_view(connection, run_id)  # a run that does not exist is an error, not empty
            profiles = profile_sources(connection, found.spec, sources=sources or [], run_id=run_id)
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in profiles], indent=2))
        return
    for found_profile in profiles:
        _print_profile(found_profile)


def _print_profile(profile: SourceProfile) -> None:
    title = (
        f"{profile.source} ({profile.system}, {profile.entity}): "
        f"{profile.records:,} {profile.scope}"
    )
    rows = [
        [
            attribute.attribute,
            f"{attribute.filled:,}",
            _percent(attribute.fill_rate),
            "" if attribute.valid is None else f"{attribute.valid:,}",
            "" if attribute.invalid is None else f"{attribute.invalid:,}",
            _percent(attribute.validity),
            ", ".join(attribute.invalid_examples),
        ]
        for attribute in profile.attributes
    ]
    columns = ["attribute", "filled", "fill rate", "valid", "invalid", "validity", "invalid, e.g."]
    console.print(rows_table(title, columns, rows, whole_title=True))
    duplicates = profile.duplicates
    if duplicates is not None:  # mdm profile always counts them
        console.print(
            f"Duplicates: {duplicates.records:,} of its records share {duplicates.golden:,} "
            f"golden records ({duplicates.surplus:,} more records than golden records).",
            highlight=False,
        )
    if profile.survivorship:
        survival = [
            [s.attribute, f"{s.won:,}", f"{s.lost:,}", _percent(s.loss_rate)]
            for s in profile.survivorship
        ]
        console.print(
            rows_table(
                f"{profile.source}: its values in survivorship, most often lost first",
                ["attribute", "won", "lost", "loses"],
                survival,
                whole_title=True,
            )
        )
    console.print()


def _percent(share: float | None) -> str:
    """A share to a tenth of a percent, rounded down: 100% only when it is all."""
    if share is None:
        return ""
    return "100%" if share >= 1 else f"{math.floor(share * 1000) / 10:.1f}%"
