"""What the steward actions share: their result, records named as SOURCE:KEY, and the one way
an action runs: through a steward run, audited with the golden records it touched as they
were before it and as they are after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.pipeline import RunSummary, steward_run
from mdm.schema import Entity
from mdm.stewardship.audit import GoldenState, golden_state, member_golden_ids
from mdm.store import stewardship as steward_store

# Records listed in a message before "and N more".
MEMBERS_SHOWN = 10
KEYS = ["source", "source_key"]


@dataclass(frozen=True)
class StewardResult:
    message: str
    run: RunSummary
    # The audit row's detail: what the action recorded, and ``before`` and ``after``: each
    # golden record it touched as it was before and as the steward run left it.
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Acted:
    """What an action wrote in its steward run: the golden ids to resolve again, and its
    audit row (action, target, detail)."""

    golden_ids: set[str]
    action: str
    target: str
    detail: dict[str, Any] | None = None


def run_action(
    project: Project,
    entity: Entity,
    actor: str,
    act: Callable[[Connection, int], Acted],
    settle: Callable[[Connection, int], None] | None = None,
) -> tuple[RunSummary, dict[str, Any]]:
    """Run a steward action: ``act`` writes its decisions (under the run lock, in one
    transaction), the golden records it touched are resolved again, ``settle`` (if given)
    checks or completes the outcome, and one audit row records the action with ``before``
    and ``after``. Returns the run and the audit row's detail.

    ``before`` is read after ``act``: an action writes decisions, pins and memberships, never
    golden records or xref, so those still show the master as it was before it. ``after``
    holds the ids touched and every id their former members belong to now (an id a split
    minted, the survivor of a merge)."""
    done: list[Acted] = []
    before: list[GoldenState] = []
    written: list[dict[str, Any]] = []

    def acted(connection: Connection, run_id: int) -> set[str]:
        outcome = act(connection, run_id)
        done.append(outcome)
        before.append(golden_state(connection, entity, outcome.golden_ids))
        return outcome.golden_ids

    def settled(connection: Connection, run_id: int) -> None:
        if settle is not None:
            settle(connection, run_id)
        outcome = done[0]
        ids = outcome.golden_ids | member_golden_ids(connection, entity, before[0])
        detail = dict(outcome.detail or {})
        detail["before"] = before[0]
        detail["after"] = golden_state(connection, entity, ids)
        steward_store.audit(connection, actor, outcome.action, outcome.target, detail)
        written.append(detail)

    run = steward_run(project, entity, acted, settle=settled)
    return run, written[0]


def named(frame: pd.DataFrame, source: str = "source", key: str = "source_key") -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, row by row."""
    return [f"{s}:{k}" for s, k in zip(frame[source], frame[key], strict=True)]


def refs(frame: pd.DataFrame) -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, sorted."""
    return sorted(named(frame))
