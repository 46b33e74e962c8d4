"""Taking records apart: undo a merge, or split records out of a golden record. Either way
cannot-link decisions keep the two sides apart in every later run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import Project
from mdm.errors import MdmError, Problem, Reason
from mdm.identity import resolve
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, LinkDecision
from mdm.stewardship import rows
from mdm.stewardship.common import (
    KEYS,
    MEMBERS_SHOWN,
    Acted,
    StewardResult,
    named,
    refs,
    run_action,
)
from mdm.store import bulk, golden, open_store
from mdm.store import stewardship as steward_store
from mdm.store.tables import MatchDecision

# An unmerge separates every former member from every other member: bounded, so that a
# mistaken id cannot write millions of decisions.
MAX_UNMERGE_PAIRS = 50_000


def unmerge(
    project: Project,
    golden_id: str,
    actor: str,
    reason: str | None = None,
    records: Sequence[str] = (),
) -> StewardResult:
    """Undo the merge of ``golden_id`` into its survivor: its former members get it back.

    With ``records`` (``SOURCE:KEY``), split those records out of the active ``golden_id``
    instead: they get a golden id of their own and ``golden_id`` stays with the others. Either
    way cannot-link decisions keep the two sides apart in every later run."""
    entity = entity_of_golden_id(golden_id)
    if records:
        named = _record_keys(project, entity, records)
        return _split(project, entity, golden_id, named, actor, reason)
    return _undo_merge(project, entity, golden_id, actor, reason)


def _undo_merge(
    project: Project, entity: Entity, merged_id: str, actor: str, reason: str | None
) -> StewardResult:
    survivor: list[str] = []

    def act(connection: Connection, run_id: int) -> Acted:
        redirects = golden.redirects(connection, entity)
        target = _survivor_of(connection, entity, merged_id, redirects)
        current = golden.xref_of_golden_ids(connection, [target])
        former = golden.former_members(connection, entity, current[KEYS])
        former = former[former["golden_id"] == merged_id]
        side_a = current.merge(former[KEYS], on=KEYS)
        side_b = current.merge(former[KEYS], on=KEYS, how="left", indicator=True)
        side_b = side_b[side_b["_merge"] == "left_only"]
        if side_a.empty or side_b.empty:
            raise MdmError(
                Reason.USAGE,
                f"The records of {merged_id} are no longer together with {target}'s; "
                "nothing to separate.",
            )
        withdrawn = take_apart(
            connection, run_id, entity, side_a, side_b, actor, reason or f"unmerge {merged_id}"
        )
        detail = {
            "survivor": target,
            "records": refs(side_a),
            "withdrawn": withdrawn,
            "reason": reason,
        }
        survivor.append(target)
        return Acted({target}, "unmerge", merged_id, detail)

    run, audited = run_action(project, entity, actor, act)
    return StewardResult(f"{merged_id} is separated again from {survivor[0]}.", run, audited)


def _survivor_of(
    connection: Connection, entity: Entity, merged_id: str, redirects: pd.DataFrame
) -> str:
    """The active id ``merged_id`` was merged into, directly; else say what can be done."""
    direct = redirects.loc[redirects["from_id"] == merged_id, "to_id"].tolist()
    if not direct:
        if golden.golden_in(connection, entity, [merged_id]).empty:
            raise MdmError(Reason.NOT_FOUND, f"{merged_id} is not a golden {entity} of this store.")
        raise MdmError(Reason.USAGE, _not_merged(connection, entity, merged_id, redirects))
    target = resolve(merged_id, redirects)
    if target != direct[0]:
        raise MdmError(
            Reason.USAGE,
            f"{merged_id} was merged into {direct[0]}, which was itself merged into {target}. "
            f"Undo the later merge first ('mdm unmerge {direct[0]}'), then this one.",
        )
    return target


def _not_merged(
    connection: Connection, entity: Entity, golden_id: str, redirects: pd.DataFrame
) -> str:
    """Why ``golden_id`` has no merge to undo, and how to split it instead."""
    found = golden.golden_in(connection, entity, [golden_id])
    if found["status"].iloc[0] != "active":
        return f"{golden_id} is {found['status'].iloc[0]}: it has no records to separate."
    text = f"{golden_id} was not merged into another record, so there is no merge to undo."
    absorbed = sorted(redirects.loc[redirects["to_id"] == golden_id, "from_id"])
    if absorbed:
        text += (
            f" Merged into it: {', '.join(absorbed)}; to undo one of those merges, name the "
            f"merged-away id ('mdm unmerge {absorbed[0]}')."
        )
    members = refs(golden.xref_of_golden_ids(connection, [golden_id]))
    if len(members) < 2:
        return text + f" It has one record ({', '.join(members)}), so nothing to split."
    shown = ", ".join(members[:MEMBERS_SHOWN])
    if len(members) > MEMBERS_SHOWN:
        shown += f" and {len(members) - MEMBERS_SHOWN} more ('mdm show {golden_id}' lists all)"
    return (
        text + f" To split records out of it, name them: 'mdm unmerge {golden_id} --records "
        f"SOURCE:KEY [--records SOURCE:KEY ...]'; the named records get a new id and "
        f"{golden_id} stays with the others. Its records: {shown}."
    )


def _split(
    project: Project,
    entity: Entity,
    golden_id: str,
    named: pd.DataFrame,
    actor: str,
    reason: str | None,
) -> StewardResult:
    def act(connection: Connection, run_id: int) -> Acted:
        _require_splittable(connection, entity, golden_id)
        current = golden.xref_of_golden_ids(connection, [golden_id])
        _require_members(connection, entity, golden_id, named, current)
        if len(named) == len(current):
            raise MdmError(
                Reason.USAGE,
                f"{', '.join(refs(named))} are every record of {golden_id}: nothing would "
                f"be left in it. Name only the records to split out; {golden_id} keeps the "
                "others.",
            )
        side_a = current.merge(named, on=KEYS)
        side_b = current.merge(named, on=KEYS, how="left", indicator=True)
        side_b = side_b[side_b["_merge"] == "left_only"]
        withdrawn = take_apart(
            connection, run_id, entity, side_a, side_b, actor, reason or f"split from {golden_id}"
        )
        detail = {"records": refs(side_a), "withdrawn": withdrawn, "reason": reason}
        return Acted({golden_id}, "split", golden_id, detail)

    run, audited = run_action(project, entity, actor, act)
    new_ids = _golden_ids_of(project, entity, named)
    return StewardResult(
        f"{', '.join(refs(named))} split out of {golden_id} into {', '.join(new_ids)}; "
        f"{golden_id} keeps its other records.",
        run,
        audited,
    )


def _require_splittable(connection: Connection, entity: Entity, golden_id: str) -> None:
    found = golden.golden_in(connection, entity, [golden_id])
    if found.empty:
        raise MdmError(Reason.NOT_FOUND, f"{golden_id} is not a golden {entity} of this store.")
    status = found["status"].iloc[0]
    if status == "merged":
        survivor = resolve(golden_id, golden.redirects(connection, entity))
        raise MdmError(
            Reason.USAGE,
            f"{golden_id} was merged into {survivor}: split the records out of {survivor}, "
            f"or undo the merge with 'mdm unmerge {golden_id}'.",
        )
    if status != "active":
        raise MdmError(Reason.USAGE, f"{golden_id} is {status}: it has no records to split.")


def _record_keys(project: Project, entity: Entity, records: Sequence[str]) -> pd.DataFrame:
    """source, source_key of the named records (each once), all of ``entity``."""
    keys: list[tuple[str, str]] = []
    for text in records:
        source, key = parse_record_ref(text)
        if entity_of_source(project, source) is not entity:
            raise MdmError(
                Reason.USAGE,
                f"{text} is not a record of a golden {entity}: its source "
                f"{source!r} holds {entity_of_source(project, source)}s.",
            )
        keys.append((source, key))
    return pd.DataFrame(list(dict.fromkeys(keys)), columns=KEYS)


def _require_members(
    connection: Connection,
    entity: Entity,
    golden_id: str,
    named: pd.DataFrame,
    current: pd.DataFrame,
) -> None:
    """Every named record is a record of ``golden_id``; else say where each other one is."""
    strangers = named.merge(current[KEYS], on=KEYS, how="left", indicator=True)
    strangers = strangers[strangers["_merge"] == "left_only"][KEYS]
    if strangers.empty:
        return
    elsewhere = golden.xref_of_keys(connection, entity, strangers)
    where = elsewhere.set_index(KEYS)["golden_id"]
    problems = [
        Problem(
            f"{source}:{key}",
            f"belongs to {where[(source, key)]}"
            if (source, key) in where.index
            else "no live record has this key (deleted, or never loaded)",
        )
        for source, key in strangers.itertuples(index=False, name=None)
    ]
    raise MdmError(
        Reason.USAGE,
        f"Only records of {golden_id} can be split out of it; its records: "
        f"{', '.join(refs(current)[:MEMBERS_SHOWN])}"
        + (" ..." if len(current) > MEMBERS_SHOWN else "")
        + ".",
        problems,
    )


def take_apart(
    connection: Connection,
    run_id: int,
    entity: Entity,
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    actor: str,
    reason: str,
) -> list[str]:
    """Separate ``side_a`` (records leaving their golden record) from ``side_b`` (those
    staying) for good: cannot-link decisions between them, the must-links that joined them
    withdrawn, and the leavers' membership closed, so that the golden id stays with
    ``side_b`` however many records each side has. Returns the withdrawn must-links."""
    _separate(connection, entity, side_a, side_b, actor, reason)
    withdrawn = _withdraw_must_links(connection, entity, side_a, side_b)
    golden.close_memberships(connection, entity, side_a[KEYS], run_id)
    failpoints.reached("steward.unmerge.separated")
    return withdrawn


def _withdraw_must_links(
    connection: Connection, entity: Entity, side_a: pd.DataFrame, side_b: pd.DataFrame
) -> list[str]:
    """Deactivate the must-link decisions between a record of each side: they contradict the
    separation. Returns them as "SOURCE:KEY SOURCE:KEY"."""
    both = pd.concat([side_a[KEYS], side_b[KEYS]], ignore_index=True)
    decisions = rows.decisions_among(connection, entity, both)
    decisions = decisions[decisions["decision"] == str(LinkDecision.MUST_LINK)]
    left = named(decisions, "left_source", "left_key")
    right = named(decisions, "right_source", "right_key")
    a, b = set(named(side_a)), set(named(side_b))
    crossing = np.array(
        [(x in a and y in b) or (x in b and y in a) for x, y in zip(left, right, strict=True)],
        dtype=bool,
    )
    chosen = decisions[crossing]
    steward_store.deactivate_decisions(connection, chosen["id"].tolist())
    return [f"{x} {y}" for x, y, keep in zip(left, right, crossing, strict=True) if keep]


def _golden_ids_of(project: Project, entity: Entity, keys: pd.DataFrame) -> list[str]:
    """The golden ids the given records belong to now."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            found = golden.xref_of_keys(connection, entity, keys)
    finally:
        store.close()
    return sorted(set(found["golden_id"]))


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
            "entity": entity,
            "left_source": pairs["source_a"],
            "left_key": pairs["source_key_a"],
            "right_source": pairs["source_b"],
            "right_key": pairs["source_key_b"],
            "decision": str(LinkDecision.CANNOT_LINK),
            "reason": reason,
            "decided_by": actor,
            "decided_at": bulk.now(),
            "active": True,
        }
    )
    bulk.insert_frame(connection, MatchDecision, rows)
