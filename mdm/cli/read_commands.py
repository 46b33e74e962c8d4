"""Commands that only read the store: show, status, quarantine, history, lineage, resolve,
review, explain. Each opens the store once, read-only, and prints what the views return.

Each command imports its views (and pandas) itself, for ``mdm --help`` to start fast: see
``mdm.cli.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mdm.cli.base import (
    ActorOption,
    GoldenId,
    ProjectOption,
    console,
    load,
    load_for_reading,
    read_store,
    user_errors,
)
from mdm.cli.output import frame_table, models_frame, record_table, records_table, rows_table, text
from mdm.schema import Entity

if TYPE_CHECKING:
    import pandas as pd

    from mdm.views import ExplanationView, GoldenView, HistoryView, LineageRow

CONTACT_COLUMNS = ["golden_id", "first_name", "last_name", "email", "phone", "title"]
ACCOUNT_COLUMNS = ["golden_id", "name", "domain", "city", "country"]
MEMBER_COLUMNS = ["system", "source", "source_key", "version", "last_modified"]


def show(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """The 360 view: golden record, its source records by system, contacts, lineage."""
    from mdm.views import golden_view

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            view = golden_view(connection, found.spec, golden_id)
    if view.requested != view.golden_id:
        console.print(f"{text(view.requested)} was merged into [bold]{text(view.golden_id)}[/]")
    record = {k: v for k, v in view.record.items() if k != "content_hash"}
    console.print(record_table(f"Golden {view.entity} {view.golden_id}", record))
    for system, records in _members(view).groupby("system", sort=True):
        console.print(records_table(f"{system} records", records.drop(columns=["system"])))
    if view.contacts:
        console.print(frame_table("Contacts", models_frame(view.contacts, CONTACT_COLUMNS)))
    if view.account is not None:
        account = models_frame([view.account], ACCOUNT_COLUMNS)
        console.print(frame_table(f"Account (linked by {view.account_link})", account))
    console.print(frame_table("Lineage", _lineage(view.lineage)))


def _members(view: GoldenView) -> pd.DataFrame:
    """The source records as rows: where they come from, then their values; attributes no
    record has are left out."""
    import pandas as pd

    rows = [
        {**{column: getattr(m, column) for column in MEMBER_COLUMNS}, **m.values}
        for m in view.members
    ]
    frame = pd.DataFrame(rows, dtype=object)
    return frame.dropna(axis=1, how="all")


def _lineage(rows: list[LineageRow]) -> pd.DataFrame:
    import pandas as pd

    # A pinned value comes from a steward, not from a record.
    return pd.DataFrame(
        {
            "attribute": [row.attribute for row in rows],
            "value": [row.value for row in rows],
            "record": [row.record or "(steward pin)" for row in rows],
            "rule": [row.rule for row in rows],
            "candidates": [row.candidates for row in rows],
            "beaten": [row.beaten for row in rows],
        },
        dtype=object,
    )


def status(
    project: ProjectOption = Path("."),
    limit: Annotated[int, typer.Option(help="How many runs.")] = 10,
    run_id: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="One run in full: its loads, stage timings and memory, and what matching "
            "learned (pairs per blocking rule, weights per comparison level, histograms).",
        ),
    ] = None,
) -> None:
    """Recent runs: when, what they did, how they ended. With --run N: run N in full."""
    from mdm.views import recent_runs, run_view

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            if run_id is not None:
                run = run_view(connection, run_id)
            else:
                runs = recent_runs(connection, limit)
    if run_id is not None:
        from mdm.cli.run_report import print_run

        print_run(run)
        return
    if not runs:
        console.print("No runs yet: try [bold]mdm run[/].")
        return
    # Plain rows, not a frame: the list of runs is printed without pandas.
    columns = ["run", "command", "status", "started", "seconds", "outcome"]
    rows = [
        [run.id, run.command, run.status, str(run.started_at)[:19], run.seconds, run.outcome]
        for run in runs
    ]
    console.print(rows_table("Recent runs", columns, rows))


def quarantine(
    project: ProjectOption = Path("."),
    run_id: Annotated[int | None, typer.Option("--run", help="Run id (default: latest).")] = None,
) -> None:
    """Rows a run could not load, with the reasons."""
    from mdm.views import run_quarantine

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            rows = run_quarantine(connection, run_id)
    if not rows:
        console.print("No quarantined rows.")
        return
    columns = ["source", "row_number", "source_key", "column", "reason"]
    console.print(frame_table("Quarantined rows", models_frame(rows, columns)))


def history(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Every event and earlier version of a golden record."""
    from mdm.views import golden_history

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            view = golden_history(connection, golden_id)
    if view.golden_id != view.requested:
        console.print(f"{text(view.requested)} now answers as [bold]{text(view.golden_id)}[/]")
    events = models_frame(view.events, ["run", "event", "other_id"])
    console.print(frame_table(f"Events of {view.requested}", events))
    console.print(frame_table(f"Versions of {view.requested}", _versions(view)))


def _versions(view: HistoryView) -> pd.DataFrame:
    """Each version: its number, run, status and members, then the values it held (those
    some version held)."""
    import pandas as pd

    kept = models_frame(view.versions, ["version", "run", "status", "members"])
    values = pd.DataFrame([version.values for version in view.versions], dtype=object)
    return pd.concat([kept, values.dropna(axis=1, how="all")], axis=1)


def lineage(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Where each golden value came from, which rule chose it, what it beat."""
    from mdm.views import golden_lineage

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            rows = golden_lineage(connection, golden_id)
    console.print(frame_table(f"Lineage of {golden_id}", _lineage(rows)))


def resolve(golden_id: GoldenId, project: ProjectOption = Path(".")) -> None:
    """Follow redirects: the golden id that answers for GOLDEN_ID now."""
    from mdm.views import resolve_id

    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            resolved = resolve_id(connection, golden_id)
    console.print(f"{text(resolved.golden_id)} ({resolved.status})")


def review(
    project: ProjectOption = Path("."),
    entity: Annotated[Entity | None, typer.Option(help="account or contact.")] = None,
    limit: Annotated[int, typer.Option(help="How many pairs.")] = 50,
    skip: Annotated[
        int | None,
        typer.Option(
            "--skip",
            metavar="ITEM_ID",
            help="Skip this review item: it stays open, after the items nobody skipped.",
        ),
    ] = None,
    actor: ActorOption = "cli",
) -> None:
    """The pairs waiting for a steward, most likely matches first. --skip ITEM_ID passes
    over one (audited)."""
    import pandas as pd

    from mdm.views import review_queue

    if skip is not None:
        from mdm import stewardship

        with user_errors():
            skipped = stewardship.skip_review(load(project), skip, actor)
        console.print(escape(skipped.message))
        return
    with user_errors():
        found = load_for_reading(project)
        with read_store(found) as connection:
            items = review_queue(connection, entity, limit)
    if not items:
        console.print("The review queue is empty.")
        return
    table = pd.DataFrame(
        {
            "entity": [str(item.entity) for item in items],
            "left": [item.left for item in items],
            "right": [item.right for item in items],
            "probability": pd.Series([item.probability for item in items], dtype=float).round(3),
            "weight": pd.Series([item.weight for item in items], dtype=float).round(2),
        }
    )
    console.print(frame_table("Review queue", table))
    console.print("Decide with [bold]mdm decide LEFT RIGHT --same[/] (or --different).")


def explain(
    left: Annotated[str, typer.Argument(help="A record, as SOURCE:KEY.")],
    right: Annotated[str, typer.Argument(help="Another record, as SOURCE:KEY.")],
    project: ProjectOption = Path("."),
) -> None:
    """Why two records match or not: each field's values, level and weight."""
    from mdm.views import explain_records

    with user_errors():
        found = load(project)
        with read_store(found) as connection:
            view = explain_records(connection, found, left, right)
    console.print(frame_table(f"{left} vs {right}", _explained(view)))
    console.print(text(view.verdict))


def _explained(view: ExplanationView) -> pd.DataFrame:
    import pandas as pd

    fields = view.fields
    if view.method == "rules":
        table = models_frame(fields, ["name", "left", "right", "level"])
        return table.rename(columns={"name": "field"})
    return pd.DataFrame(
        {
            "comparison": [f.name for f in fields],
            "left": [f.left for f in fields],
            "right": [f.right for f in fields],
            "level": [f.level for f in fields],
            "m": [_rounded(f.m, 4) for f in fields],
            "u": [_rounded(f.u, 6) for f in fields],
            "weight": [_rounded(f.weight, 2) for f in fields],
        },
        dtype=object,
    )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
