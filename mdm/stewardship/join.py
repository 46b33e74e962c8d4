"""Joining for good: merge two golden records, or move a record into another golden record.
Must-link decisions keep the joined records together in every later run.

Which must-links: clustering (``mdm.matching.cluster``) adds a must-link pair as a match edge
that is never cut for a cannot-link (it goes first, its support above any probability), and
a cluster holding one is not second-guessed by the confident non-match check. But a single
must-link is not enough: where the two golden records' other pairs say "different", the weak
bridge test cuts the edges around it (a record of either side falls out), and even a tree of
must-links has bridges, which the test cuts when four or more pairs across say "different".
A cycle through every record has no bridge, and no cycle has fewer edges (each record needs
two): so the records are joined by the must-links of one cycle, in (source, key) order,
those already decided left as they are. Deterministic non-match rules (two different tax
ids) still keep apart two records that are not next to each other in the cycle: the action
then checks the outcome and refuses, saying which records stayed apart, and leaves nothing
behind.
"""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Problem, Reason
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, GoldenStatus, LinkDecision
from mdm.stewardship import rows
from mdm.stewardship.audit import golden_state
from mdm.stewardship.common import KEYS, MEMBERS_SHOWN, Acted, StewardResult, refs, run_action
from mdm.stewardship.separate import take_apart
from mdm.store import bulk, golden
from mdm.store import stewardship as steward_store

# A merge or move binds every record of the joined golden record: bounded, so that a mistaken
# id cannot write millions of decisions.
MAX_JOINED_RECORDS = 50_000


def merge_golden(
    project: Project,
    golden_id: str,
    other_id: str,
    actor: str,
    reason: str | None = None,
) -> StewardResult:
    """Merge two active golden records of one entity for good. The older id survives (the
    identity rules decide, as for a merge the matcher finds); the other redirects to it.

    Refused if a steward decided that two of their records are different (the error names
    each such decision: undo it first), or if the match rules keep some of their records
    apart even with the must-links."""
    entity = entity_of_golden_id(golden_id)
    other_entity = entity_of_golden_id(other_id)
    if other_entity is not entity:
        raise MdmError(
            Reason.USAGE,
            f"{golden_id} is a golden {entity} and {other_id} a golden {other_entity}: only "
            "golden records of one entity merge.",
        )
    if golden_id == other_id:
        raise MdmError(Reason.USAGE, f"{golden_id} and {other_id} are one golden record.")
    joined: list[pd.DataFrame] = []
    survivor: list[str] = []

    def act(connection: Connection, run_id: int) -> Acted:
        require_active(connection, entity, golden_id)
        require_active(connection, entity, other_id)
        members = golden.xref_of_golden_ids(connection, [golden_id, other_id])[KEYS]
        _refuse_cannot_links(
            connection, entity, members, f"{golden_id} and {other_id} cannot be merged"
        )
        added = bind(connection, entity, members, actor, reason or f"merge {golden_id} {other_id}")
        joined.append(members)
        detail = {"golden_ids": [golden_id, other_id], "must_link": added, "reason": reason}
        return Acted({golden_id, other_id}, "merge", f"{golden_id} {other_id}", detail)

    def settle(connection: Connection, run_id: int) -> None:
        what = f"{golden_id} and {other_id} cannot be merged"
        survivor.append(_together(connection, entity, joined[0], what))

    run, detail = run_action(project, entity, actor, act, settle)
    kept = survivor[0]
    gone = sorted({golden_id, other_id} - {kept})
    message = f"{golden_id} and {other_id} are merged for good into {kept}"
    if gone:
        message += f" (the older id survives); {', '.join(gone)} now redirects to {kept}"
    return StewardResult(message + ".", run, detail)


def move_record(
    project: Project,
    record: str,
    golden_id: str,
    actor: str,
    reason: str | None = None,
) -> StewardResult:
    """Move one source record (SOURCE:KEY) out of its golden record into ``golden_id``, for
    good: cannot-links keep it apart from its former fellows (the must-links joining them
    are withdrawn), must-links keep it with the records of ``golden_id`` (cannot-links between
    it and them, an earlier steward's word, are withdrawn: this is the newer one)."""
    source, key = parse_record_ref(record)
    entity = entity_of_golden_id(golden_id)
    record_entity = entity_of_source(project, source)
    if record_entity is not entity:
        raise MdmError(
            Reason.USAGE,
            f"{record} is a {record_entity} record and {golden_id} a golden {entity}: a record "
            "moves only into a golden record of its own entity.",
        )
    reason_text = reason or f"move {record} to {golden_id}"
    joined: list[pd.DataFrame] = []
    origin: list[str] = []

    def act(connection: Connection, run_id: int) -> Acted:
        require_active(connection, entity, golden_id)
        mover = pd.DataFrame({"source": [source], "source_key": [key]}, dtype=object)
        found = golden.xref_of_keys(connection, entity, mover)
        if found.empty:
            raise MdmError(
                Reason.NOT_FOUND,
                f"{record} is not a live record: check the source name and key.",
            )
        current = str(found["golden_id"].iloc[0])
        if current == golden_id:
            raise MdmError(
                Reason.USAGE, f"{record} is a record of {golden_id} already: nothing to move."
            )
        fellows = golden.xref_of_golden_ids(connection, [current])
        fellows = fellows.merge(mover, on=KEYS, how="left", indicator=True)
        fellows = fellows[fellows["_merge"] == "left_only"][KEYS]
        withdrawn = take_apart(connection, run_id, entity, found, fellows, actor, reason_text)
        hosts = golden.xref_of_golden_ids(connection, [golden_id])[KEYS]
        unbound = _withdraw_cannot_links(connection, entity, mover, hosts)
        members = pd.concat([hosts, mover], ignore_index=True)
        added = bind(connection, entity, members, actor, reason_text)
        joined.append(members)
        origin.append(current)
        detail = {
            "from": current,
            "to": golden_id,
            "cannot_link": [f"{record} {other}" for other in refs(fellows)],
            "withdrawn": withdrawn + unbound,
            "must_link": added,
            "reason": reason,
        }
        return Acted({current, golden_id}, "move", record, detail)

    def settle(connection: Connection, run_id: int) -> None:
        what = f"{record} cannot be moved to {golden_id}"
        landed = _together(connection, entity, joined[0], what)
        if landed != golden_id:  # the identity rules keep the id with the records it had
            raise MdmError(
                Reason.USAGE,
                f"{what}: the records of {golden_id} would answer as {landed}. Nothing was "
                "changed.",
            )

    run, detail = run_action(project, entity, actor, act, settle)
    message = f"{record} moved from {origin[0]} to {golden_id}"
    after = detail["after"].get(origin[0], {})
    if after.get("status") == GoldenStatus.RETIRED:
        message += f"; {origin[0]} had no other record and is retired"
    else:
        message += f"; {origin[0]} keeps its other records"
    return StewardResult(message + ".", run, detail)


def require_active(connection: Connection, entity: Entity, golden_id: str) -> None:
    """``golden_id`` is an active golden record of ``entity``; else say what it is."""
    found = golden.golden_in(connection, entity, [golden_id])
    if found.empty:
        raise MdmError(Reason.NOT_FOUND, f"{golden_id} is not a golden {entity} of this store.")
    status = str(found["status"].iloc[0])
    if status == GoldenStatus.MERGED:
        survivor = golden_state(connection, entity, [golden_id])[golden_id]["merged_into"]
        raise MdmError(
            Reason.USAGE,
            f"{golden_id} is not active: it was merged into {survivor}, which answers for it; "
            f"name {survivor} instead.",
        )
    if status != GoldenStatus.ACTIVE:
        raise MdmError(
            Reason.USAGE,
            f"{golden_id} is not active: it is {status}, with no record left in it.",
        )


def bind(
    connection: Connection, entity: Entity, records: pd.DataFrame, actor: str, reason: str
) -> list[str]:
    """Must-link ``records`` (source, source_key) in one cycle, in (source, key) order (see
    the module's docstring); pairs already must-linked are kept, not repeated. Returns the
    must-links added, as "SOURCE:KEY SOURCE:KEY"."""
    ordered = sorted(set(zip(records["source"], records["source_key"], strict=True)))
    if len(ordered) > MAX_JOINED_RECORDS:
        raise MdmError(
            Reason.USAGE,
            f"Joining {len(ordered):,} records would bind each of them by a decision (at "
            f"most {MAX_JOINED_RECORDS:,}).",
        )
    if len(ordered) < 2:
        return []
    pairs = list(pairwise(ordered))
    if len(ordered) > 2:
        pairs.append((ordered[-1], ordered[0]))
    keys = pd.DataFrame(ordered, columns=KEYS, dtype=object)
    decided = rows.decisions_among(connection, entity, keys)
    decided = decided[decided["decision"] == str(LinkDecision.MUST_LINK)]
    linked = {
        frozenset({(ls, lk), (rs, rk)})
        for ls, lk, rs, rk in decided[
            ["left_source", "left_key", "right_source", "right_key"]
        ].itertuples(index=False, name=None)
    }
    new = [(a, b) for a, b in pairs if frozenset({a, b}) not in linked]
    if not new:
        return []
    rows.insert_decisions(
        connection,
        pd.DataFrame(
            {
                "entity": entity,
                "left_source": [a[0] for a, _ in new],
                "left_key": [a[1] for a, _ in new],
                "right_source": [b[0] for _, b in new],
                "right_key": [b[1] for _, b in new],
                "decision": str(LinkDecision.MUST_LINK),
                "reason": reason,
                "decided_by": actor,
                "decided_at": bulk.now(),
                "active": True,
            }
        ),
    )
    return [f"{a[0]}:{a[1]} {b[0]}:{b[1]}" for a, b in new]


def _refuse_cannot_links(
    connection: Connection, entity: Entity, records: pd.DataFrame, summary: str
) -> None:
    """Refuse, naming each, if a cannot-link decision stands between two of ``records``."""
    decided = rows.decisions_among(connection, entity, records[KEYS])
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    if apart.empty:
        return
    problems = [
        Problem(
            f"decision {int(row['id'])}",
            f"{row['left_source']}:{row['left_key']} and {row['right_source']}:"
            f"{row['right_key']} were decided different by {row['decided_by']} on "
            f"{str(row['decided_at'])[:10]}"
            + (f" ({row['reason']})" if isinstance(row["reason"], str) and row["reason"] else ""),
            f"'mdm undo {int(row['id'])}' revokes it",
        )
        for row in apart.to_dict("records")
    ]
    raise MdmError(
        Reason.USAGE,
        f"{summary}: a steward decided that some of their records are different. Revoke "
        "those decisions first if they were mistaken.",
        problems,
    )


def _withdraw_cannot_links(
    connection: Connection, entity: Entity, mover: pd.DataFrame, hosts: pd.DataFrame
) -> list[str]:
    """Deactivate the cannot-links between the moving record and the records it joins.
    Returns them as "SOURCE:KEY SOURCE:KEY"."""
    both = pd.concat([mover, hosts], ignore_index=True)
    decided = rows.decisions_among(connection, entity, both)
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    moving = (str(mover["source"].iloc[0]), str(mover["source_key"].iloc[0]))
    chosen = [
        row
        for row in apart.to_dict("records")
        if moving
        in {(row["left_source"], row["left_key"]), (row["right_source"], row["right_key"])}
    ]
    steward_store.deactivate_decisions(connection, [int(row["id"]) for row in chosen])
    return [
        f"{row['left_source']}:{row['left_key']} {row['right_source']}:{row['right_key']}"
        for row in chosen
    ]


def _together(connection: Connection, entity: Entity, records: pd.DataFrame, what: str) -> str:
    """The one golden id ``records`` all belong to now; else refuse, saying how they fell."""
    found = golden.xref_of_keys(connection, entity, records[KEYS])
    ids = sorted(set(found["golden_id"]))
    if len(ids) == 1 and len(found) == len(records):
        return str(ids[0])
    groups = [
        f"{golden_id}: " + _listed(refs(found[found["golden_id"] == golden_id]))
        for golden_id in ids
    ]
    raise MdmError(
        Reason.USAGE,
        f"{what}: the match rules keep some of their records apart even with a steward's "
        "must-links (a deterministic non-match rule, such as two different tax ids), so they "
        f"would fall into {len(ids)} golden records ({'; '.join(groups)}). Nothing was "
        "changed. Decide the pairs those rules separate with 'mdm decide LEFT RIGHT --same', "
        "then try again.",
    )


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:MEMBERS_SHOWN])
    if len(names) > MEMBERS_SHOWN:
        shown += f" and {len(names) - MEMBERS_SHOWN} more"
    return shown
