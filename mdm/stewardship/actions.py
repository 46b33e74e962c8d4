"""The steward actions. Each runs in one transaction with the resolution it causes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.identity import resolve
from mdm.pipeline import RunSummary, steward_run
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, survived_attribute_names
from mdm.store import io as store_io
from mdm.store.tables import MatchDecision, ValuePin

# An unmerge separates every former member from every other member: bounded, so that a
# mistaken id cannot write millions of decisions.
MAX_UNMERGE_PAIRS = 50_000


class Decision(StrEnum):
    MUST_LINK = "must_link"
    CANNOT_LINK = "cannot_link"


@dataclass(frozen=True)
class StewardResult:
    message: str
    run: RunSummary


def unmerge(
    project: Project, merged_id: str, actor: str, reason: str | None = None
) -> StewardResult:
    """Undo the merge of ``merged_id`` into its survivor: its former members get it back."""
    entity = entity_of_golden_id(merged_id)
    survivor: list[str] = []

    def act(connection: Connection) -> set[str]:
        redirects = store_io.redirects(connection, str(entity))
        target = resolve(merged_id, redirects)
        if target == merged_id:
            raise MdmError(
                Reason.USAGE,
                f"{merged_id} was not merged into another record, so there is nothing to undo. "
                f"Name the id that was merged away: see 'mdm history {merged_id}'.",
            )
        current = store_io.xref_of_golden_ids(connection, [target])
        keys = ["source", "source_key"]
        former = store_io.former_members(connection, str(entity), current[keys])
        former = former[former["golden_id"] == merged_id]
        side_a = current.merge(former[keys], on=keys)
        side_b = current.merge(former[keys], on=keys, how="left", indicator=True)
        side_b = side_b[side_b["_merge"] == "left_only"]
        if side_a.empty or side_b.empty:
            raise MdmError(
                Reason.USAGE,
                f"The records of {merged_id} are no longer together with {target}'s; "
                "nothing to separate.",
            )
        _separate(connection, entity, side_a, side_b, actor, reason or f"unmerge {merged_id}")
        store_io.audit(connection, actor, "unmerge", merged_id, {"survivor": target})
        survivor.append(target)
        return {target}

    run = steward_run(project, entity, act)
    return StewardResult(f"{merged_id} is separated again from {survivor[0]}.", run)


def _separate(
    connection: Connection,
    entity: Entity,
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    actor: str,
    reason: str,
) -> None:
    if len(side_a) * len(side_b) > MAX_UNMERGE_PAIRS:
        raise MdmError(
            Reason.USAGE,
            f"Separating {len(side_a)} records from {len(side_b)} would record "
            f"{len(side_a) * len(side_b):,} decisions (at most {MAX_UNMERGE_PAIRS:,}).",
        )
    pairs = side_a[["source", "source_key"]].merge(
        side_b[["source", "source_key"]], how="cross", suffixes=("_a", "_b")
    )
    rows = pd.DataFrame(
        {
            "entity": str(entity),
            "left_source": pairs["source_a"],
            "left_key": pairs["source_key_a"],
            "right_source": pairs["source_b"],
            "right_key": pairs["source_key_b"],
            "decision": str(Decision.CANNOT_LINK),
            "reason": reason,
            "decided_by": actor,
            "decided_at": store_io.now(),
            "active": True,
        }
    )
    store_io.insert_frame(connection, MatchDecision, rows)


def decide_pair(
    project: Project,
    left: str,
    right: str,
    decision: Decision,
    actor: str,
    reason: str | None = None,
) -> StewardResult:
    """Record that two source records (``source:key``) are, or are not, the same entity."""
    (left_source, left_key), (right_source, right_key) = (
        parse_record_ref(left),
        parse_record_ref(right),
    )
    entity = entity_of_source(project, left_source)
    if entity_of_source(project, right_source) is not entity:
        raise MdmError(Reason.USAGE, f"{left} and {right} are not of the same entity.")

    def act(connection: Connection) -> set[str]:
        pair = pd.DataFrame(
            {"source": [left_source, right_source], "source_key": [left_key, right_key]}
        )
        known = store_io.xref_of_keys(connection, str(entity), pair)
        if len(known) < 2:
            raise MdmError(
                Reason.NOT_FOUND,
                f"{left} or {right} is not a live record: check the source name and key.",
            )
        row = {
            "entity": str(entity),
            "left_source": left_source,
            "left_key": left_key,
            "right_source": right_source,
            "right_key": right_key,
            "decision": str(decision),
            "reason": reason,
            "decided_by": actor,
            "decided_at": store_io.now(),
            "active": True,
        }
        store_io.insert_frame(connection, MatchDecision, pd.DataFrame([row]))
        store_io.close_reviews(connection, str(entity), pair)
        store_io.audit(connection, actor, str(decision), f"{left} {right}", {"reason": reason})
        return set(known["golden_id"])

    run = steward_run(project, entity, act)
    verb = "the same" if decision is Decision.MUST_LINK else "different"
    return StewardResult(f"{left} and {right} are recorded as {verb} {entity}s.", run)


def pin_value(
    project: Project, golden_id: str, attribute: str, value: str, actor: str
) -> StewardResult:
    """Fix a golden value: it overrides survivorship until unpinned."""
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)

    def act(connection: Connection) -> set[str]:
        _require_active(connection, entity, golden_id)
        store_io.deactivate_pins(connection, golden_id, attribute)
        row = {
            "entity": str(entity),
            "golden_id": golden_id,
            "attribute": attribute,
            "value": value,
            "pinned_by": actor,
            "pinned_at": store_io.now(),
            "active": True,
        }
        store_io.insert_frame(connection, ValuePin, pd.DataFrame([row]))
        store_io.audit(connection, actor, "pin", f"{golden_id}.{attribute}", {"value": value})
        return {golden_id}

    run = steward_run(project, entity, act)
    return StewardResult(f"{golden_id}.{attribute} is pinned to {value!r}.", run)


def unpin_value(project: Project, golden_id: str, attribute: str, actor: str) -> StewardResult:
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)

    def act(connection: Connection) -> set[str]:
        if store_io.deactivate_pins(connection, golden_id, attribute) == 0:
            raise MdmError(Reason.NOT_FOUND, f"{golden_id}.{attribute} is not pinned.")
        store_io.audit(connection, actor, "unpin", f"{golden_id}.{attribute}", None)
        return {golden_id}

    run = steward_run(project, entity, act)
    return StewardResult(f"{golden_id}.{attribute} follows its survivorship rules again.", run)


def _require_active(connection: Connection, entity: Entity, golden_id: str) -> None:
    found = store_io.golden_in(connection, str(entity), [golden_id])
    if found.empty or found["status"].iloc[0] != "active":
        raise MdmError(
            Reason.NOT_FOUND,
            f"{golden_id} is not an active golden {entity}: see 'mdm resolve {golden_id}'.",
        )


def _check_attribute(entity: Entity, attribute: str) -> None:
    known = survived_attribute_names(entity)
    if attribute not in known:
        raise MdmError(
            Reason.USAGE,
            f"{attribute!r} is not an attribute of a golden {entity}; known: {', '.join(known)}.",
        )
