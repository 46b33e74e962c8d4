"""Undo a steward's pair decision: revoke it, put the review item it closed back in the queue,
and resolve the golden records of its two records again."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.schema import Entity, LinkDecision, ReviewStatus
from mdm.stewardship import rows
from mdm.stewardship.common import KEYS, Acted, StewardResult, run_action
from mdm.store import golden, open_store

# How many of an actor's latest pair decisions 'undo' looks through for one still active.
LOOKBACK = 1_000


def undo_decision(
    project: Project,
    actor: str,
    decision_id: int | None = None,
    reason: str | None = None,
) -> StewardResult:
    """Revoke a pair decision (a ``match_decision``): ``decision_id``, or else the most recent
    decision ``actor`` made with ``decide_pair`` that is still active. The review item that
    decision closed is open again, and the golden records of its two records are resolved
    again, as if it had never been made."""
    chosen = _decision_to_undo(project, actor, decision_id)
    number = int(chosen["id"])
    entity = Entity(chosen["entity"])
    left = f"{chosen['left_source']}:{chosen['left_key']}"
    right = f"{chosen['right_source']}:{chosen['right_key']}"
    reviews: list[int] = []
    reopened: list[int] = []
    letting_go: list[tuple[str, pd.DataFrame]] = []

    def act(connection: Connection, run_id: int) -> Acted:
        if not rows.deactivate_decision(connection, number):  # revoked since it was chosen
            raise MdmError(Reason.USAGE, f"Decision {number} was revoked already.")
        pair = pd.DataFrame(
            {
                "source": [chosen["left_source"], chosen["right_source"]],
                "source_key": [chosen["left_key"], chosen["right_key"]],
            },
            dtype=object,
        )
        known = golden.xref_of_keys(connection, entity, pair)
        together = set(known["golden_id"])
        if chosen["decision"] == LinkDecision.MUST_LINK and len(known) == 2 and len(together) == 1:
            (joined,) = together
            letting_go.append((joined, _let_go(connection, run_id, entity, joined, pair)))
        reviews.extend(_reviews_closed_by(connection, chosen))
        detail: dict[str, Any] = {
            "decision": number,
            "revoked": {
                "decision": chosen["decision"],
                "left": left,
                "right": right,
                "decided_by": chosen["decided_by"],
                "decided_at": str(chosen["decided_at"]),
                "reason": chosen["reason"],
            },
            "reopened": reopened,
            "reason": reason,
        }
        return Acted(set(known["golden_id"]), "undo", f"{left} {right}", detail)

    def settle(connection: Connection, run_id: int) -> None:
        # After the resolution: it replaces the open items of its records, so an item opened
        # before it would be replaced by a copy under a new id.
        reopened.extend(i for i in reviews if rows.reopen_item(connection, i, run_id))
        for joined, leaving in letting_go:  # those the matcher still keeps in it stay members
            rows.reopen_memberships(connection, entity, leaving, joined, run_id)

    run, detail = run_action(project, entity, actor, act, settle)
    verb = "the same" if chosen["decision"] == LinkDecision.MUST_LINK else "different"
    message = (
        f"Decision {number} ({left} and {right} are {verb}, by {chosen['decided_by']}) is revoked"
    )
    if reopened:
        items = ", ".join(str(i) for i in reopened)
        message += f"; review item {items} is open again"
    return StewardResult(message + ".", run, detail)


def _decision_to_undo(project: Project, actor: str, decision_id: int | None) -> dict[str, Any]:
    """The decision to revoke, read before the steward run (which re-checks that it is still
    active): the one named, or the actor's latest active ``decide_pair`` decision."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            if decision_id is not None:
                found = rows.decision(connection, decision_id)
                if found is None:
                    raise MdmError(Reason.NOT_FOUND, f"There is no decision {decision_id}.")
                if not found["active"]:
                    raise MdmError(
                        Reason.USAGE,
                        f"Decision {decision_id} was revoked already: nothing to undo.",
                    )
                return found
            for candidate in rows.latest_decisions_by(connection, actor, LOOKBACK):
                found = rows.decision(connection, candidate)
                if found is not None and found["active"]:
                    return found
    finally:
        store.close()
    raise MdmError(
        Reason.NOT_FOUND,
        f"{actor} has no pair decision to undo: none of theirs made with 'mdm decide' is still "
        "active. Name another's decision by its id to revoke it.",
    )


def _let_go(
    connection: Connection, run_id: int, entity: Entity, joined: str, pair: pd.DataFrame
) -> pd.DataFrame:
    """When a must-link being revoked holds a record that came into ``joined`` with an id
    merged into it, the records that came with that id do not hold on to ``joined`` (as for
    an unmerge): if the matcher now separates them, they take their merged-away id back and
    ``joined`` stays with its own records; if it keeps them together, nothing changes.
    Returns them (source, source_key), their memberships of ``joined`` closed."""
    members = golden.xref_of_golden_ids(connection, [joined])[KEYS]
    former = golden.former_members(connection, entity, members)
    merged_in = {
        str(i) for i in set(former["golden_id"]) if golden.redirect_target(connection, i) == joined
    }
    former = former[former["golden_id"].isin(merged_in)]
    came_with_pair = set(former.merge(pair[KEYS], on=KEYS)["golden_id"])
    leaving = former.loc[former["golden_id"].isin(came_with_pair), KEYS].reset_index(drop=True)
    if leaving.empty or len(leaving) >= len(members):  # someone keeps the id
        return leaving.iloc[0:0]
    golden.close_memberships(connection, entity, leaving, run_id)
    return leaving


def _reviews_closed_by(connection: Connection, decision: dict[str, Any]) -> list[int]:
    """The review items a ``decide_pair`` decision closed, as its audit row lists them. For a
    decision audited before the rows listed them, the last decided item of its pair; for a
    decision not made by ``decide_pair`` (an unmerge's, a merge's), none."""
    left = f"{decision['left_source']}:{decision['left_key']}"
    right = f"{decision['right_source']}:{decision['right_key']}"
    details = rows.audit_details(
        connection, str(decision["decided_by"]), str(decision["decision"]), f"{left} {right}"
    )
    legacy = False
    for found in details:
        if not isinstance(found, dict) or "decision" not in found:
            legacy = True
            continue
        if found["decision"] == int(decision["id"]):
            return [int(i) for i in found.get("reviews", [])]
    if not legacy:
        return []
    items = rows.items_of_pair(
        connection,
        Entity(decision["entity"]),
        (str(decision["left_source"]), str(decision["left_key"])),
        (str(decision["right_source"]), str(decision["right_key"])),
        ReviewStatus.DECIDED,
    )
    return [int(items["id"].iloc[-1])] if not items.empty else []
