"""Commands that write: init, run, ingest, export, check, migrate, demo.

Each command imports the pipeline, the rules and pandas itself, for ``mdm --help`` to start
fast: see ``mdm.cli.base``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from mdm.cli.base import (
    ProjectOption,
    VerboseOption,
    WaitOption,
    console,
    load,
    load_for_reading,
    more_verbose,
    user_errors,
    wait_seconds,
)
from mdm.cli.output import frame_table, print_summary, text
from mdm.errors import MdmError, Reason

if TYPE_CHECKING:
    from mdm.config.specs import Project

# Violations printed one by one; the totals count them all.
CHECK_SHOWN = 50
# The values of mdm.publish.ExportFormat (a test checks that they agree), named here because
# importing the exporter brings pandas and the store into ``mdm --help``.
ExportFormatName = Literal["csv", "parquet"]
# The values of mdm.config.specs.EngineName, named here for the same reason.
EngineOption = Literal["local", "spark"]
# Likewise mdm.schema.Entity and mdm.publish.mask.MaskMode.
EntityName = Literal["account", "contact"]
MaskModeName = Literal["reversible", "irreversible"]


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing mdm.toml and rules.")] = False,
) -> None:
    """Write a new project: mdm.toml and the default rules/."""
    from mdm.config import PROJECT_FILE
    from mdm.project_files import write_new_project

    with user_errors():
        write_new_project(directory, force=force)
    console.print(
        f"Project written to [bold]{directory}[/]: declare your sources in "
        f"{directory / PROJECT_FILE}, then run [bold]mdm run -p {directory}[/]."
    )


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
    verbose: VerboseOption = 0,
    engine: Annotated[
        EngineOption | None,
        typer.Option(
            "--engine",
            help="The match engine: local, or spark (needs mdm[spark]; settings in [spark] "
            "of mdm.toml). Default: engine in mdm.toml, else local.",
        ),
    ] = None,
) -> None:
    """Ingest every source, match, build golden records, and export them.

    A run resolves only what its loads changed; the first run, a run after the rules changed,
    and --full recompute everything.
    """
    from mdm import pipeline
    from mdm.matching.protocol import engine_named
    from mdm.pipeline.ingest import allowed_deletes

    more_verbose(verbose)
    with user_errors():
        spec = load(project)
        if engine is not None:  # the option wins over mdm.toml's engine
            settings = spec.spec.model_copy(update={"engine": engine})
            spec = spec.model_copy(update={"spec": settings})
        engine_named(spec.spec.engine, spec.spec)  # a missing engine fails before any write
        allowed = allowed_deletes(spec, allow_deletes or [])
        with progress() as say:
            summary = pipeline.run(
                spec,
                full=full,
                wait_seconds=wait_seconds(wait),
                progress=say,
                allow_deletes=allowed,
            )
    print_summary(summary)
    _write_report(spec, summary.run_id)


def _write_report(project: Project, run_id: int) -> None:
    """The run's HTML report, after the run committed; one that fails is logged, and the run
    stands (``mdm report`` writes it again)."""
    from mdm.reports import report_after_run

    written = report_after_run(project.store_url, project.root, project.spec, run_id)
    if written is not None:
        console.print(f"Report: [bold]{text(str(written))}[/]", soft_wrap=True)


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
    verbose: VerboseOption = 0,
) -> None:
    """Load every source into the store (insert, update, tombstone, quarantine) only."""
    from mdm import pipeline
    from mdm.pipeline.ingest import allowed_deletes

    more_verbose(verbose)
    with user_errors():
        spec = load(project)
        allowed = allowed_deletes(spec, allow_deletes or [])
        with progress() as say:
            summary = pipeline.run(
                spec,
                command="ingest",
                resolve=False,
                export=False,
                wait_seconds=wait_seconds(wait),
                progress=say,
                allow_deletes=allowed,
            )
    print_summary(summary)


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")],
    fmt: Annotated[ExportFormatName, typer.Option("--format", "-f")] = "csv",
    project: ProjectOption = Path("."),
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="TABLES",
            help="Add account_contacts (each contact with its account's main fields) or "
            "history (history_events, history_versions); repeat for both.",
        ),
    ] = None,
    entity: Annotated[
        EntityName | None,
        typer.Option(help="Only this entity's golden records, xref, lineage and history."),
    ] = None,
    since_run: Annotated[
        int | None,
        typer.Option("--since-run", metavar="RUN", help="Only what runs after run RUN changed."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Only what changed on or after DATE (YYYY-MM-DD, UTC; or an ISO 8601 time).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Only golden records holding a record of source NAME, and its xref rows.",
        ),
    ] = None,
    mask: Annotated[
        MaskModeName | None,
        typer.Option(
            help="Replace names, emails and phones by tokens: reversible (the project's mask "
            "key gets them back with --unmask) or irreversible (keyed hashes).",
        ),
    ] = None,
    unmask: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Instead of exporting: write the files of the masked export PATH (its folder "
            "or one file) into --out with their values back.",
        ),
    ] = None,
) -> None:
    """Write accounts, contacts, xref and lineage as CSV or Parquet files; on request the
    contacts with their accounts and the history, narrowed by filters, personal data masked."""
    from mdm.config.load import check_export_folder
    from mdm.publish.export import ExportFormat, ExportOptions, export_store, unmask_export
    from mdm.publish.filters import ExportFilter
    from mdm.publish.mask import Masker, MaskMode, Unmasker, project_key
    from mdm.publish.tables import Extra
    from mdm.schema import Entity

    asked = ExportFilter(
        entity=None if entity is None else Entity(entity),
        since_run=since_run,
        since=since,
        source=source,
    )
    with user_errors():
        extras = {str(extra) for extra in Extra}
        for name in include or []:
            if name not in extras:
                raise MdmError(
                    Reason.USAGE,
                    f"--include {name}: no such table. Add account_contacts, history or both "
                    "(--include account_contacts --include history).",
                )
        found = load_for_reading(project)
        check_export_folder(out, found.root, found.spec)
        if unmask is not None:
            if include or mask or not asked.is_empty:
                raise MdmError(
                    Reason.USAGE,
                    "--unmask writes the files of a masked export back as they were: give it "
                    "alone with --out, without --include, filters or --mask.",
                )
            unmasker = Unmasker(project_key(found.root, create=False))
            written = unmask_export(unmask, out, unmasker)
            console.print(f"Unmasked {text(str(unmask))} into [bold]{text(str(written))}[/]")
            return
        options = ExportOptions(
            include=frozenset(Extra(name) for name in include or []),
            filter=asked,
            project_sources=tuple(source.name for source in found.spec.sources),
            masker=None
            if mask is None
            else Masker(project_key(found.root, create=True), MaskMode(mask)),
            declared_types=True,
        )
        written = export_store(found.store_url, out, ExportFormat(fmt), options)
    names = sorted(path.stem for path in written.iterdir() if not path.name.startswith("."))
    masked = "" if mask is None else f", names, emails and phones masked ({mask})"
    console.print(f"Exported {', '.join(names)}{masked} to [bold]{text(str(written))}[/]")


def check(project: ProjectOption = Path(".")) -> None:
    """Check that the store is consistent: every live record in one golden record, members,
    decisions, lineage, redirects and the record index. Exit code 1 if anything is wrong."""
    import pandas as pd

    from mdm.invariants import check_project

    with user_errors():
        report = check_project(load(project))
    counts = pd.DataFrame([vars(c) for c in report.counts])
    counts.columns = [str(column).replace("_", " ") for column in counts.columns]
    if report.ok:
        console.print("ok: every invariant holds.")
        console.print(frame_table("Store", counts))
        return
    totals = pd.Series([str(v.invariant) for v in report.violations]).value_counts(sort=False)
    console.print(frame_table("Violations", totals.rename_axis("invariant").reset_index()))
    for violation in report.violations[:CHECK_SHOWN]:
        console.print(text(str(violation)), highlight=False)
    if len(report.violations) > CHECK_SHOWN:
        console.print(f"... and {len(report.violations) - CHECK_SHOWN} more.")
    console.print(
        f"[bold red]{len(report.violations)} violations[/]: the store disagrees with itself. "
        "Please report them with the output of 'mdm status'."
    )
    raise typer.Exit(1)


def migrate(project: ProjectOption = Path("."), wait: WaitOption = False) -> None:
    """Bring the store's schema to this version of mdm. Commands that only read refuse a
    store that needs it; runs and steward actions migrate it themselves."""
    from mdm.config.load import load_project_for_reading
    from mdm.store.migrate import migrate_store

    with user_errors():
        done = migrate_store(load_project_for_reading(project).store_url, wait_seconds(wait))
    if done.changed:
        before = done.before or "(empty store)"
        console.print(f"Migrated the store from schema revision {before} to {done.after}.")
    else:
        console.print(f"The store is up to date (schema revision {done.after}).")


def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo project.")] = Path("demo"),
    accounts: Annotated[int, typer.Option(help="Organisations to generate.")] = 600,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Start afresh in a folder that holds a project or store: delete its mdm.toml, "
            "store, data, truth, rules, exports and reports first.",
        ),
    ] = False,
    verbose: VerboseOption = 0,
) -> None:
    """Generate sample data from four systems, run mdm on it, and say where results are."""
    from mdm import pipeline
    from mdm.demo import generate_demo
    from mdm.project_files import DEFAULT_RULES

    more_verbose(verbose)
    with user_errors():
        _clear_demo_folder(directory, force=force)
        directory.mkdir(parents=True, exist_ok=True)
        generate_demo(directory, accounts=accounts)
        shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
        project = load(directory)
        with progress() as say:
            summary = pipeline.run(project, progress=say)
    print_summary(summary)
    _write_report(project, summary.run_id)
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
    from mdm.project_files import existing_demo_entries, remove_entries

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
def progress() -> Iterator[Callable[[str], None]]:
    """A spinner that says which stage runs (shown on a terminal only)."""
    with console.status("starting") as spinner:
        yield lambda message: spinner.update(f"{message}…")
