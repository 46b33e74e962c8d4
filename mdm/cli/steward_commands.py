"""Steward commands: unmerge, pin, unpin, decide, merge, move, undo. Each binds later runs
and is audited.

Each command imports the stewardship actions itself, for ``mdm --help`` to start fast: see
``mdm.cli.base``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mdm.cli.base import (
    ActorOption,
    GoldenId,
    ProjectOption,
    ReasonOption,
    console,
    load,
    user_errors,
)
from mdm.schema import LinkDecision


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
    from mdm import stewardship

    with user_errors():
        result = stewardship.unmerge(load(project), golden_id, actor, reason, records or [])
    console.print(escape(result.message))


def pin(
    golden_id: GoldenId,
    attribute: Annotated[str, typer.Argument(help="A golden attribute, e.g. phone.")],
    value: Annotated[str, typer.Argument(help="The value to keep.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    force: Annotated[
        bool, typer.Option(help="Pin the value exactly as given, even if it is not valid.")
    ] = False,
    reason: ReasonOption = None,
) -> None:
    """Pin a golden value: it wins over survivorship until unpinned. The value is standardized
    and validated like a source value (a phone becomes E.164); --force keeps it as given."""
    from mdm import stewardship

    with user_errors():
        result = stewardship.pin_value(
            load(project), golden_id, attribute, value, actor, force=force, reason=reason
        )
    console.print(escape(result.message))


def unpin(
    golden_id: GoldenId,
    attribute: Annotated[str, typer.Argument(help="The pinned attribute.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Remove a pin: the value follows its survivorship rules again."""
    from mdm import stewardship

    with user_errors():
        result = stewardship.unpin_value(load(project), golden_id, attribute, actor, reason)
    console.print(escape(result.message))


def decide(
    left: Annotated[str, typer.Argument(help="A record, as SOURCE:KEY.")],
    right: Annotated[str, typer.Argument(help="Another record, as SOURCE:KEY.")],
    same: Annotated[bool, typer.Option("--same/--different", help="Are they the same entity?")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Decide a pair (from the review queue or anywhere): it binds every later run."""
    from mdm import stewardship

    decision = LinkDecision.MUST_LINK if same else LinkDecision.CANNOT_LINK
    with user_errors():
        result = stewardship.decide_pair(load(project), left, right, decision, actor, reason)
    console.print(escape(result.message))


def merge(
    golden_id: GoldenId,
    other_id: Annotated[str, typer.Argument(help="Another golden id of the same entity.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Merge two golden records for good: the older id survives, the other redirects to it.
    Refused while a steward's decision keeps two of their records apart."""
    from mdm import stewardship

    with user_errors():
        result = stewardship.merge_golden(load(project), golden_id, other_id, actor, reason)
    console.print(escape(result.message))


def move(
    record: Annotated[str, typer.Argument(help="The record to move, as SOURCE:KEY.")],
    golden_id: Annotated[str, typer.Argument(help="The golden id it moves into.")],
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Move a record out of its golden record into GOLDEN_ID, for good."""
    from mdm import stewardship

    with user_errors():
        result = stewardship.move_record(load(project), record, golden_id, actor, reason)
    console.print(escape(result.message))


def undo(
    decision_id: Annotated[
        int | None,
        typer.Argument(
            help="The decision to revoke (default: your latest active one made by 'mdm decide')."
        ),
    ] = None,
    project: ProjectOption = Path("."),
    actor: ActorOption = "cli",
    reason: ReasonOption = None,
) -> None:
    """Revoke a pair decision: its review item is open again, its records are resolved again."""
    from mdm import stewardship

    with user_errors():
        result = stewardship.undo_decision(load(project), actor, decision_id, reason)
    console.print(escape(result.message))
