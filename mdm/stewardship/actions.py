"""The steward actions. Each runs in one transaction with the resolution it causes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import Project
from mdm.errors import MdmError, Problem, Reason
from mdm.identity import resolve
from mdm.matching.standardize import clean_values, is_valid, match_values
from mdm.pipeline import RunSummary, steward_run
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import ATTRIBUTES, Entity, Kind, survived_attribute_names
from mdm.store import io as store_io
from mdm.store import open_store
from mdm.store.tables import MatchDecision, ValuePin

# An unmerge separates every former member from every other member: bounded, so that a
# mistaken id cannot write millions of decisions.
MAX_UNMERGE_PAIRS = 50_000
# Records listed in a message before "and N more".
MEMBERS_SHOWN = 10
KEYS = ["source", "source_key"]


class Decision(StrEnum):
    MUST_LINK = "must_link"
    CANNOT_LINK = "cannot_link"


@dataclass(frozen=True)
class StewardResult:
    message: str
    run: RunSummary


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

    def act(connection: Connection, run_id: int) -> set[str]:
        redirects = store_io.redirects(connection, str(entity))
        target = _survivor_of(connection, entity, merged_id, redirects)
        current = store_io.xref_of_golden_ids(connection, [target])
        former = store_io.former_members(connection, str(entity), current[KEYS])
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
        withdrawn = _take_apart(
            connection, run_id, entity, side_a, side_b, actor, reason or f"unmerge {merged_id}"
        )
        detail = {
            "survivor": target,
            "records": _refs(side_a),
            "withdrawn": withdrawn,
            "reason": reason,
        }
        store_io.audit(connection, actor, "unmerge", merged_id, detail)
        survivor.append(target)
        return {target}

    run = steward_run(project, entity, act)
    return StewardResult(f"{merged_id} is separated again from {survivor[0]}.", run)


def _survivor_of(
    connection: Connection, entity: Entity, merged_id: str, redirects: pd.DataFrame
) -> str:
    """The active id ``merged_id`` was merged into, directly; else say what can be done."""
    direct = redirects.loc[redirects["from_id"] == merged_id, "to_id"].tolist()
    if not direct:
        if store_io.golden_in(connection, str(entity), [merged_id]).empty:
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
    found = store_io.golden_in(connection, str(entity), [golden_id])
    if found["status"].iloc[0] != "active":
        return f"{golden_id} is {found['status'].iloc[0]}: it has no records to separate."
    text = f"{golden_id} was not merged into another record, so there is no merge to undo."
    absorbed = sorted(redirects.loc[redirects["to_id"] == golden_id, "from_id"])
    if absorbed:
        text += (
            f" Merged into it: {', '.join(absorbed)}; to undo one of those merges, name the "
            f"merged-away id ('mdm unmerge {absorbed[0]}')."
        )
    members = _refs(store_io.xref_of_golden_ids(connection, [golden_id]))
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
    def act(connection: Connection, run_id: int) -> set[str]:
        _require_splittable(connection, entity, golden_id)
        current = store_io.xref_of_golden_ids(connection, [golden_id])
        _require_members(connection, entity, golden_id, named, current)
        if len(named) == len(current):
            raise MdmError(
                Reason.USAGE,
                f"{', '.join(_refs(named))} are every record of {golden_id}: nothing would "
                f"be left in it. Name only the records to split out; {golden_id} keeps the "
                "others.",
            )
        side_a = current.merge(named, on=KEYS)
        side_b = current.merge(named, on=KEYS, how="left", indicator=True)
        side_b = side_b[side_b["_merge"] == "left_only"]
        withdrawn = _take_apart(
            connection, run_id, entity, side_a, side_b, actor, reason or f"split from {golden_id}"
        )
        detail = {"records": _refs(side_a), "withdrawn": withdrawn, "reason": reason}
        store_io.audit(connection, actor, "split", golden_id, detail)
        return {golden_id}

    run = steward_run(project, entity, act)
    new_ids = _golden_ids_of(project, entity, named)
    return StewardResult(
        f"{', '.join(_refs(named))} split out of {golden_id} into {', '.join(new_ids)}; "
        f"{golden_id} keeps its other records.",
        run,
    )


def _require_splittable(connection: Connection, entity: Entity, golden_id: str) -> None:
    found = store_io.golden_in(connection, str(entity), [golden_id])
    if found.empty:
        raise MdmError(Reason.NOT_FOUND, f"{golden_id} is not a golden {entity} of this store.")
    status = found["status"].iloc[0]
    if status == "merged":
        survivor = resolve(golden_id, store_io.redirects(connection, str(entity)))
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
    elsewhere = store_io.xref_of_keys(connection, str(entity), strangers)
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
        f"{', '.join(_refs(current)[:MEMBERS_SHOWN])}"
        + (" ..." if len(current) > MEMBERS_SHOWN else "")
        + ".",
        problems,
    )


def _take_apart(
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
    store_io.close_memberships(connection, str(entity), side_a[KEYS], run_id)
    failpoints.reached("steward.unmerge.separated")
    return withdrawn


def _withdraw_must_links(
    connection: Connection, entity: Entity, side_a: pd.DataFrame, side_b: pd.DataFrame
) -> list[str]:
    """Deactivate the must-link decisions between a record of each side: they contradict the
    separation. Returns them as "SOURCE:KEY SOURCE:KEY"."""
    decisions = store_io.active_decisions(connection, str(entity))
    decisions = decisions[decisions["decision"] == str(Decision.MUST_LINK)]
    left = _named(decisions, "left_source", "left_key")
    right = _named(decisions, "right_source", "right_key")
    a, b = set(_named(side_a)), set(_named(side_b))
    crossing = np.array(
        [(x in a and y in b) or (x in b and y in a) for x, y in zip(left, right, strict=True)],
        dtype=bool,
    )
    chosen = decisions[crossing]
    store_io.deactivate_decisions(connection, chosen["id"].tolist())
    return [f"{x} {y}" for x, y, keep in zip(left, right, crossing, strict=True) if keep]


def _named(frame: pd.DataFrame, source: str = "source", key: str = "source_key") -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, row by row."""
    return [f"{s}:{k}" for s, k in zip(frame[source], frame[key], strict=True)]


def _refs(frame: pd.DataFrame) -> list[str]:
    """The records of ``frame`` as SOURCE:KEY, sorted."""
    return sorted(_named(frame))


def _golden_ids_of(project: Project, entity: Entity, keys: pd.DataFrame) -> list[str]:
    """The golden ids the given records belong to now."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            found = store_io.xref_of_keys(connection, str(entity), keys)
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

    def act(connection: Connection, run_id: int) -> set[str]:
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
    project: Project,
    golden_id: str,
    attribute: str,
    value: str,
    actor: str,
    force: bool = False,
) -> StewardResult:
    """Fix a golden value: it overrides survivorship until unpinned.

    The value is standardized and validated like a source value of the attribute (a phone
    becomes E.164; an invalid one is refused); ``force`` pins it exactly as given."""
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)
    pinned: list[str] = []

    def act(connection: Connection, run_id: int) -> set[str]:
        _require_active(connection, entity, golden_id)
        stored = (
            value
            if force
            else _standardized_pin(project, connection, entity, golden_id, attribute, value)
        )
        store_io.deactivate_pins(connection, golden_id, attribute)
        row = {
            "entity": str(entity),
            "golden_id": golden_id,
            "attribute": attribute,
            "value": stored,
            "pinned_by": actor,
            "pinned_at": store_io.now(),
            "active": True,
        }
        store_io.insert_frame(connection, ValuePin, pd.DataFrame([row]))
        detail: dict[str, object] = {"value": stored}
        if force:
            detail["forced"] = True
        elif stored != value:
            detail["given"] = value
        store_io.audit(connection, actor, "pin", f"{golden_id}.{attribute}", detail)
        pinned.append(stored)
        return {golden_id}

    run = steward_run(project, entity, act)
    message = f"{golden_id}.{attribute} is pinned to {pinned[0]!r}"
    if force:
        message += ", exactly as given (forced)"
    elif pinned[0] != value:
        message += f" (given as {value!r})"
    return StewardResult(message + ".", run)


# Why a value of each kind is refused (kinds whose every non-empty value is valid are absent).
INVALID_BECAUSE: dict[Kind, str] = {
    Kind.PHONE: "not a valid phone number",
    Kind.EMAIL: "not a well-formed email address",
    Kind.DOMAIN: "not a website or domain with a registrable domain, such as example.com",
    Kind.POSTCODE: "not a recognisable postal code",
    Kind.COUNTRY: "not a country name or ISO 3166 code",
}


def _standardized_pin(
    project: Project,
    connection: Connection,
    entity: Entity,
    golden_id: str,
    attribute: str,
    value: str,
) -> str:
    """The pin as a source value of the attribute would be shown (its display form), or an
    error naming the attribute, the value and why it is refused."""
    kind = next(a.kind for a in ATTRIBUTES[entity] if a.name == attribute)
    region = _phone_region(project, connection, entity, golden_id) if kind is Kind.PHONE else "US"
    text = pd.Series([value], dtype="string")
    clean = clean_values(kind, text, region).iloc[0]
    if pd.isna(clean):
        raise MdmError(
            Reason.USAGE,
            f"{golden_id}.{attribute}: a pin needs a value; to let the survivorship rules "
            f"choose again, 'mdm unpin {golden_id} {attribute}'.",
        )
    if not bool(is_valid(kind, text, region).iloc[0]):
        why = INVALID_BECAUSE.get(kind, "not a valid value")
        if kind is Kind.PHONE:
            why += f" (a number without a country code is read as a {region} number)"
        raise MdmError(
            Reason.USAGE,
            f"{golden_id}.{attribute}: {value!r} is refused: it is {why}. Pin a valid "
            f"{attribute}, or add --force to pin this value exactly as given.",
        )
    return str(clean)


def _phone_region(project: Project, connection: Connection, entity: Entity, golden_id: str) -> str:
    """The region a pinned phone is dialled from, as for a source record's phone: the golden
    record's own country if it has one, else the default region of the sources most of its
    records come from (``US`` if none says)."""
    if entity is Entity.ACCOUNT:
        country = store_io.golden_in(connection, str(entity), [golden_id])["country"]
        code = match_values(Kind.COUNTRY, country.astype("string")).dropna()
        if not code.empty:
            return str(code.iloc[0])
    sources = store_io.xref_of_golden_ids(connection, [golden_id])["source"]
    regions = {source.name: source.default_region for source in project.spec.sources}
    counts = sources.map(regions).dropna().value_counts()
    if counts.empty:
        return "US"
    # The most common region; among equally common ones the first by name.
    return str(sorted(counts.index, key=lambda r: (-int(counts[r]), str(r)))[0])


def unpin_value(project: Project, golden_id: str, attribute: str, actor: str) -> StewardResult:
    entity = entity_of_golden_id(golden_id)
    _check_attribute(entity, attribute)

    def act(connection: Connection, run_id: int) -> set[str]:
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
