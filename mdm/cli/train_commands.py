"""``mdm train``: refine the match models with what data stewards decided.

The command imports the pipeline itself, for ``mdm --help`` to start fast: see
``mdm.cli.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mdm.cli.base import ProjectOption, WaitOption, console, load, user_errors, wait_seconds
from mdm.cli.output import rows_table, text
from mdm.errors import MdmError, Reason

if TYPE_CHECKING:
    from mdm.matching.labels import LevelChange
    from mdm.pipeline.models import DecisionTraining

# A level is listed when its weight (or its weight within the context) moved this much, in bits.
SHOWN_CHANGE = 0.05
# The pairs the unsupervised m counts as (``mdm.matching.labels.DEFAULT_PRIOR_PAIRS``), named
# here because importing the matching package brings numpy into ``mdm --help``.
PRIOR_PAIRS = 100.0


def train(
    from_decisions: Annotated[
        bool,
        typer.Option(
            "--from-decisions",
            help="Refine m and u with the active steward decisions: must-links are matches, "
            "cannot-links are not.",
        ),
    ] = False,
    project: ProjectOption = Path("."),
    prior_pairs: Annotated[
        float,
        typer.Option(
            "--prior-pairs",
            min=1.0,
            help="How many pairs the m learned without labels counts as: a handful of "
            "must-links nudges it, many more than this outweigh it.",
        ),
    ] = PRIOR_PAIRS,
    wait: WaitOption = False,
) -> None:
    """Refine the match models with the stewards' decisions; the next run uses them.

    The models are written over rules/match/<entity>.model.json; the next 'mdm run' scores
    every pair with them (and recomputes every golden record) and keeps them. Training again
    starts from the estimates learned without labels, with the decisions active then.
    """
    from mdm.pipeline.models import train_from_decisions

    with user_errors():
        if not from_decisions:
            raise MdmError(
                Reason.USAGE,
                "Say what to train from: --from-decisions (the steward decisions; the model "
                "learned without labels is trained by 'mdm run').",
            )
        trained = train_from_decisions(
            load(project), prior_pairs=prior_pairs, wait_seconds=wait_seconds(wait)
        )
    for entity in trained:
        _report(entity, prior_pairs)
    console.print(
        "The next [bold]mdm run[/] recomputes every golden record with the models as written."
    )


def _report(trained: DecisionTraining, prior_pairs: float) -> None:
    entity = str(trained.entity)
    skipped = (
        f"; {trained.skipped} not used (a record no longer live, one record twice, or a "
        "pair decided again)"
        if trained.skipped
        else ""
    )
    if trained.outcome == "rules":
        console.print(f"{entity}: matched by rules, no model to train.")
        return
    if trained.outcome == "unchanged":
        console.print(f"{entity}: no decision to use{skipped}; the model is unchanged.")
        return
    if trained.outcome == "restored":
        console.print(
            f"{entity}: no decision to use{skipped}; the model is back to its estimates "
            "learned without labels."
        )
        return
    console.print(
        f"{entity}: {trained.must_link} must-link and {trained.cannot_link} cannot-link "
        f"pair{'s' * (trained.cannot_link != 1)} used of {trained.decisions} active "
        f"decision{'s' * (trained.decisions != 1)}{skipped}; m counts the unsupervised "
        f"estimate as {prior_pairs:g} pairs, the prior is unchanged."
    )
    moved = [change for change in trained.changes if change.moved >= SHOWN_CHANGE]
    if not moved:
        console.print(f"{entity}: no level's weight moved by {SHOWN_CHANGE} bits or more.")
        return
    columns = ["comparison", "level", "m", "u", "weight (bits)"]
    context = any(_context_moved(change) for change in moved)
    if context:
        columns.insert(4, "u in context")
    rows = [_row(change, context) for change in moved]
    title = f"{entity}: levels that moved (learned without labels -> refined)"
    console.print(rows_table(title, columns, rows))
    unmoved = len(trained.changes) - len(moved)
    if unmoved:
        console.print(f"{entity}: {unmoved} other levels moved by less than {SHOWN_CHANGE} bits.")


def _context_moved(change: LevelChange) -> bool:
    before, after = change.u_context_before, change.u_context_after
    return before is not None and after is not None and abs(after / before - 1.0) >= 0.001


def _row(change: LevelChange, context: bool) -> list[str]:
    row = [
        text(change.comparison),
        text(change.level),
        f"{change.m_before:.3g} -> {change.m_after:.3g}",
        f"{change.u_before:.3g} -> {change.u_after:.3g}",
    ]
    if context:
        before, after = change.u_context_before, change.u_context_after
        row.append("" if before is None or after is None else f"{before:.3g} -> {after:.3g}")
    row.append(f"{change.weight_before:+.2f} -> {change.weight_after:+.2f}")
    return row
