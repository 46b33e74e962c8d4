"""The ``mdm`` command. Thin: it parses, calls the pipeline and the parts, and prints."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mdm import pipeline, stewardship
from mdm.config import PROJECT_FILE, Project, load_project
from mdm.config.load import ReadOnlyProject, check_export_folder, load_project_for_reading
from mdm.errors import MdmError, Reason, describe_error
from mdm.pipeline import RunSummary
from mdm.pipeline.ingest import allowed_deletes
from mdm.project_files import (
    DEFAULT_RULES,
    existing_demo_entries,
    remove_entries,
    write_new_project,
)
from mdm.publish import ExportFormat, export_store
from mdm.schema import Entity
from mdm.views import (
    explain_records,
    golden_history,
    golden_lineage,
    golden_view,
    recent_runs,
    resolve_id,
    review_queue,
    run_quarantine,
)

app = typer.Typer(
    help="Master data management: golden customer accounts and contacts from many systems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

GoldenId = Annotated[str, typer.Argument(help="A golden id, e.g. A-1f3e... or C-9a0b...")]
ActorOption = Annotated[str, typer.Option("--by", help="Who acts (for the audit log).")]
ReasonOption = Annotated[str | None, typer.Option(help="Why, for the audit log.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="If another run or steward action is writing to the store, wait for it to finish "
        "instead of stopping.",
    ),
]
ProjectOption = Annotated[
    Path,
    typer.Option("--project", "-p", envvar="MDM_PROJECT", help="Project folder or mdm.toml."),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an MdmError into one clear paragraph and exit code 2: no traceback."""
    try:
        yield
    except MdmError as error:
        errors.print(f"[bold red]Error[/] ({error.reason}): {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    except Exception as error:  # a bug of ours: say so plainly, keep the details for a report
        report = _crash_report()
        # Not the error's own text: driver messages quote SQL and customer values.
        errors.print(
            f"[bold red]Internal error[/]: {escape(describe_error(error))}. "
            "Nothing was half-written: a run that fails is rolled back. The details are in "
            f"{report}; please attach that file to a bug report.",
            highlight=False,
        )
        raise typer.Exit(1) from None


def _wait(wait: bool) -> float | None:
    """How long a run waits for the store's writer lock: as long as it takes, or not at all."""
    return None if wait else 0


def _crash_report() -> Path:
    handle, name = tempfile.mkstemp(prefix="mdm-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as report:
        report.write(traceback.format_exc())
    return Path(name)


def _load(project: Path) -> Project:
    return load_project(project)


def _load_for_reading(project: Path) -> ReadOnlyProject:
    """Commands that only read the store work even when the rules have problems: they warn."""
    found = load_project_for_reading(project)
    if found.problems:
        count = len(found.problems)
        errors.print(
            f"[yellow]warning[/]: the project's rules or paths have {count} "
            f"problem{'s' * (count != 1)} ([bold]mdm run[/] lists them); this command only "
            "reads the store, as the last run left it.",
            highlight=False,
            soft_wrap=True,
        )
    return found


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing mdm.toml and rules.")] = False,
) -> None:
    """Write a new project: mdm.toml and the default rules/."""
    with user_errors():
        write_new_project(directory, force=force)
    console.print(
        f"Project written to [bold]{directory}[/]: declare your sources in "
        f"{directory / PROJECT_FILE}, then run [bold]mdm run -p {directory}[/]."
    )


@app.command()
def run(
    project: ProjectOption = Path("."),
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every golden record, not only the delta.")
    ] = False,
    wait: WaitOption = False,
    allow_deletes: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-deletes",
            metavar="SOURCE",
            help="Let this run delete more of SOURCE's records than its max_delete_share "
            "(repeat for several sources).",
        ),
    ] = None,
) -> None:
    """Ingest every source, match, build golden records, and export them.

    A run resolves only what its loads changed; the first run, a run after the rules changed,
    and --full recompute everything.
    """
    with user_errors():
        spec = _load(project)
        allowed = allowed_deletes(spec, allow_deletes or [])
        with _progress() as say:
            summary = pipeline.run(
                spec, full=full, wait_seconds=_wait(wait), progress=say, allow_deletes=allowed
            )
    print_summary(summary)


@app.command()
def ingest(
    project: ProjectOption = Path("."),
    wait: WaitOption = False,
    allow_deletes: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-deletes",
            metavar="SOURCE",
            help="Let this load delete more of SOURCE's records than its max_delete_share "
            "(repeat for several sources).",
        ),
    ] = None,
) -> None:
    """Load every source into the store (insert, update, tombstone, quarantine) only."""
    with user_errors():
        spec = _load(project)
        allowed = allowed_deletes(spec, allow_deletes or [])
        with _progress() as say:
            summary = pipeline.run(
                spec,
                command="ingest",
                resolve=False,
                export=False,
                wait_seconds=_wait(wait),
                progress=say,
                allow_deletes=allowed,
            )
    print_summary(summary)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.CSV,
    project: ProjectOption = Path("."),
) -> None:
    """Write accounts, contacts, xref and lineage as CSV or Parquet files."""
    with user_errors():
        found = _load_for_reading(project)
        check_export_folder(out, found.root, found.spec)
        written = export_store(found.store_url, out, fmt)
    console.print(
        f"Exported accounts, contacts, xref and lineage to [bold]{_text(str(written))}[/]"
    )


@app.command()
def show(
    golden_id: Annotated[str, typer.Argument(help="A golden id, e.g. A-1f3e... or C-9a0b...")],
    project: ProjectOption = Path("."),
) -> None:
    """The 360 view: golden record, its source records by system, contacts, lineage."""
    with user_errors():
        view = golden_view(_load_for_reading(project), golden_id)
    if view.requested != view.golden_id:
        console.print(f"{_text(view.requested)} was merged into [bold]{_text(view.golden_id)}[/]")
    record = {k: v for k, v in view.record.items() if k != "content_hash"}
    console.print(_record_table(f"Golden {view.entity} {view.golden_id}", record))
    for system, records in view.members.groupby("system", sort=True):
        console.print(_records_table(f"{system} records", records.drop(columns=["system"])))
    if not view.related.empty:
        console.print(_frame_table(view.related_title, view.related))
    console.print(_frame_table("Lineage", view.lineage))


@app.command()
def status(
    project: ProjectOption = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs.")] = 10,
) -> None:
    """Recent runs: when, what they did, how they ended."""
    with user_errors():
        runs = recent_runs(_load_for_reading(project), limit)
    if runs.empty:
        console.print("No runs yet: try [bold]mdm run[/].")
        return
    console.print(_frame_table("Recent runs", runs))


@app.command()
def quarantine(
    project: ProjectOption = Path("."),
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: latest).")] = None,
) -> None:
    """Rows a run could not load, with the reasons."""
    with user_errors():
        rows = run_quarantine(_load_for_reading(project), run_id)
    if rows.empty:
        console.print("No quarantined rows.")
        return
    console.print(_frame_table("Quarantined rows", rows))


@app.command()
def history(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Every event and earlier version of a golden record."""
    with user_errors():
        found = golden_history(_load_for_reading(project), golden_id)
    if found.golden_id != found.requested:
        console.print(f"{_text(found.requested)} now answers as [bold]{_text(found.golden_id)}[/]")
    console.print(_frame_table(f"Events of {found.requested}", found.events))
    console.print(_frame_table(f"Versions of {found.requested}", found.versions))


@app.command()
def lineage(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Where each golden value came from, which rule chose it, what it beat."""
    with user_errors():
        rows = golden_lineage(_load_for_reading(project), golden_id)
    console.print(_frame_table(f"Lineage of {golden_id}", rows))


@app.command("resolve")
def resolve_command(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Follow redirects: the golden id that answers for GOLDEN_ID now."""
    with user_errors():
        current, status = resolve_id(_load_for_reading(project), golden_id)
    console.print(f"{_text(current)} ({status})")


# Violations printed one by one; the totals count them all.
CHECK_SHOWN = 50


@app.command()
def check(project: ProjectOption = Path(".")) -> None:
    """Check that the store is consistent: every live record in one golden record, members,
    decisions, lineage, redirects and the record index. Exit code 1 if anything is wrong."""
    from mdm.invariants import check_project

    with user_errors():
        report = check_project(_load(project))
    counts = pd.DataFrame([vars(c) for c in report.counts])
    counts.columns = [str(column).replace("_", " ") for column in counts.columns]
    if report.ok:
        console.print("ok: every invariant holds.")
        console.print(_frame_table("Store", counts))
        return
    totals = pd.Series([str(v.invariant) for v in report.violations]).value_counts(sort=False)
    console.print(_frame_table("Violations", totals.rename_axis("invariant").reset_index()))
    for violation in report.violations[:CHECK_SHOWN]:
        console.print(_text(str(violation)), highlight=False)
    if len(report.violations) > CHECK_SHOWN:
        console.print(f"... and {len(report.violations) - CHECK_SHOWN} more.")
    console.print(
        f"[bold red]{len(report.violations)} violations[/]: the store disagrees with itself. "
        "Please report them with the output of 'mdm status'."
    )
    raise typer.Exit(1)


@app.command()
def unmerge(
    golden_id: Annotated[
        str, typer.Argument(help="The id merged away; with --records, the id to split.")
    ],
    records: Annotated[
        list[str] | None,
        typer.Option(
            "--records",
            "-r",
            help="A record to split out of GOLDEN_ID, as SOURCE:KEY; repeat for several.",
        ),
    ] = None,
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Undo a merge: the merged-away id gets its records back, and they stay apart. With
    --records, split those records out of GOLDEN_ID into a golden record of their own."""
    with user_errors():
        result = stewardship.unmerge(_load(project), golden_id, actor, reason, records or [])
    console.print(escape(result.message))


@app.command()
def pin(
    golden_id: GoldenId,
    attribute: Annotated[str, typer.Argument(help="A golden attribute, e.g. phone.")],
    value: Annotated[str, typer.Argument(help="The value to keep.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    force: Annotated[
        bool, typer.Option(help="Pin the value exactly as given, even if it is not valid.")
    ] = False,
) -> None:
    """Pin a golden value: it wins over survivorship until unpinned. The value is standardized
    and validated like a source value (a phone becomes E.164); --force keeps it as given."""
    with user_errors():
        result = stewardship.pin_value(
            _load(project), golden_id, attribute, value, actor, force=force
        )
    console.print(escape(result.message))


@app.command()
def unpin(
    golden_id: GoldenId,
    attribute: Annotated[str, typer.Argument(help="The pinned attribute.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
) -> None:
    """Remove a pin: the value follows its survivorship rules again."""
    with user_errors():
        result = stewardship.unpin_value(_load(project), golden_id, attribute, actor)
    console.print(escape(result.message))


@app.command()
def decide(
    left: Annotated[str, typer.Argument(help="A record, as SOURCE:KEY.")],
    right: Annotated[str, typer.Argument(help="Another record, as SOURCE:KEY.")],
    same: Annotated[bool, typer.Option("--same/--different", help="Are they the same entity?")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Decide a pair (from the review queue or anywhere): it binds every later run."""
    decision = stewardship.Decision.MUST_LINK if same else stewardship.Decision.CANNOT_LINK
    with user_errors():
        result = stewardship.decide_pair(_load(project), left, right, decision, actor, reason)
    console.print(escape(result.message))


@app.command()
def review(
    project: ProjectOption = Path("."),
    entity: Annotated[Entity | None, typer.Option(help="account or contact.")] = None,
    limit: Annotated[int, typer.Option(help="How many pairs.")] = 50,
) -> None:
    """The pairs waiting for a steward, most likely matches first."""
    with user_errors():
        items = review_queue(_load_for_reading(project), entity, limit)
    if items.empty:
        console.print("The review queue is empty.")
        return
    console.print(_frame_table("Review queue", items))
    console.print("Decide with [bold]mdm decide LEFT RIGHT --same[/] (or --different).")


@app.command()
def explain(
    left: Annotated[str, typer.Argument(help="A record, as SOURCE:KEY.")],
    right: Annotated[str, typer.Argument(help="Another record, as SOURCE:KEY.")],
    project: ProjectOption = Path("."),
) -> None:
    """Why two records match or not: each field's values, level and weight."""
    with user_errors():
        found = explain_records(_load(project), left, right)
    console.print(_frame_table(f"{left} vs {right}", found.fields))
    console.print(_text(found.verdict))


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path("demo"),
    accounts: Annotated[int, typer.Option(help="Organisations to generate.")] = 600,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Start afresh in a folder that holds a project or store: delete its mdm.toml, "
            "store, data, truth, rules and exports first.",
        ),
    ] = False,
) -> None:
    """Generate sample data from four systems, run mdm on it, and say where results are."""
    from mdm.demo import generate_demo

    with user_errors():
        _clear_demo_folder(directory, force=force)
        directory.mkdir(parents=True, exist_ok=True)
        generate_demo(directory, accounts=accounts)
        shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
        project = _load(directory)
        with _progress() as say:
            summary = pipeline.run(project, progress=say)
    print_summary(summary)
    mdm = _invocation()
    console.print(
        f"\nThe demo project is in [bold]{directory}[/] (its store: {directory / 'mdm.db'}).\n"
        f"Try: [bold]{mdm} status -p {directory}[/], [bold]{mdm} quarantine -p {directory}[/], "
        f"and [bold]{mdm} show <golden id> -p {directory}[/] with an id from "
        f"{Path(summary.exports or '') / 'accounts.csv'}."
    )


def _invocation() -> str:
    """How the user called us, so printed hints can be pasted (e.g. .venv/bin/mdm)."""
    called = Path(sys.argv[0])
    return str(called) if called.name == "mdm" and called.parent != Path() else "mdm"


def _clear_demo_folder(directory: Path, *, force: bool) -> None:
    """The demo starts afresh, so that it shows a first load; what it would delete must be
    asked for."""
    existing = existing_demo_entries(directory)
    if existing and not force:
        raise MdmError(
            Reason.USAGE,
            f"{directory} holds an mdm project or its files already, which the demo would "
            f"delete: {', '.join(path.name for path in existing)}. Run 'mdm demo {directory} "
            "--force' to replace them, or give the demo a new or empty folder.",
        )
    remove_entries(existing)


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    with console.status("starting") as spinner:
        yield lambda message: spinner.update(f"{message}…")


SOURCE_COLUMNS = {
    "source": "source",
    "rows_read": "read",
    "inserted": "new",
    "updated": "changed",
    "deleted": "deleted",
    "unchanged": "same",
    "quarantined": "quarantined",
}
ENTITY_COLUMNS = {
    "entity": "entity",
    "records": "records",
    "golden": "golden",
    "candidate_pairs": "pairs",
    "created": "new ids",
    "updated": "updated",
    "merged": "redirects",
    "retired": "retired",
}


def print_summary(summary: RunSummary) -> None:
    sources = pd.DataFrame([vars(s) for s in summary.sources])
    console.print(_frame_table(f"Run {summary.run_id}: sources", _pick(sources, SOURCE_COLUMNS)))
    if summary.entities:
        entities = pd.DataFrame([vars(e) for e in summary.entities])
        console.print(_frame_table("Golden records", _pick(entities, ENTITY_COLUMNS)))
    for entity in summary.entities:
        for warning in entity.warnings:
            console.print(f"[yellow]warning[/] ({entity.entity}): {_text(warning)}")
    if summary.quarantined:
        console.print(
            f"[yellow]{summary.quarantined} rows quarantined[/] (not loaded, kept with reasons): "
            "see [bold]mdm quarantine[/]."
        )
    for source in summary.sources:
        if source.kept:
            whose = "record whose row was" if source.kept == 1 else "records whose rows were"
            console.print(
                f"{_text(source.source)}: {source.kept} {whose} quarantined kept the last "
                "loaded version (neither updated nor deleted)."
            )
        for warning in source.warnings:
            console.print(f"[yellow]warning[/] ({_text(source.source)}): {_text(warning)}")
    if summary.exports:
        console.print(f"Exports: [bold]{summary.exports}[/]")


def _pick(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return frame[list(columns)].rename(columns=columns)


def _record_table(title: str, record: dict[str, Any]) -> Table:
    table = Table(title=_text(title), show_header=False)
    table.add_column("attribute", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, _cell(value))
    return table


def _records_table(title: str, records: pd.DataFrame) -> Table:
    """Source records side by side: one column per record, one row per attribute."""
    table = Table(title=_text(title))
    table.add_column("attribute", style="bold")
    labels = records["source"].astype(str) + ":" + records["source_key"].astype(str)
    for label in labels:
        table.add_column(_text(label))
    for column in records.columns.drop(["source", "source_key"]):
        table.add_row(column, *(_cell(value) for value in records[column]))
    return table


def _frame_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=_text(title))
    for column in frame.columns:
        table.add_column(_text(str(column)))
    for row in frame.itertuples(index=False, name=None):
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    """Data as text for the terminal (see ``_text``)."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, (list, dict)):
        return _text(json.dumps(value))
    return _text(str(value))


# Characters that drive the terminal instead of showing: C0 and C1 controls (ESC starts colour
# and cursor sequences, NUL and BEL are invisible) and the bidirectional overrides that make
# text read differently from what it holds. Other non-ASCII text is shown as it is.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: str) -> str:
    """Source data made safe to print: controls shown escaped (ESC as \\x1b), and markup
    escaped, since a value like '[b]' is data, not markup."""
    return escape(UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], value))


def main() -> None:
    app()


__all__ = ["app", "main"]
