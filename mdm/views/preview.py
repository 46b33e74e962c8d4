"""What a steward action on a golden record will do, read from the store as it is: the records
that leave or join, the id that survives, the values chosen again, the value pinned, and why the
action would be refused. Nothing is written; the action itself is ``mdm.stewardship``'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from mdm.config.match_spec import MatchMethod, RuleAction
from mdm.config.specs import Project
from mdm.errors import MdmError
from mdm.refs import entity_of_golden_id, entity_of_source, parse_record_ref
from mdm.schema import Entity, GoldenStatus, LinkDecision, survived_attribute_names
from mdm.stewardship import rows as steward_rows
from mdm.stewardship.pins import standardized_pin
from mdm.store import golden as golden_store
from mdm.views.base import ViewModel
from mdm.views.golden import GoldenView, MemberRecord, golden_view
from mdm.views.golden_record import (
    beaten_values,
    golden_of_record,
    golden_pins,
    members_in_merged,
    merged_in,
)
from mdm.views.redirects import resolve_id

Action = Literal["unmerge", "split", "move", "merge", "pin", "unpin"]
ACTIONS: tuple[Action, ...] = ("unmerge", "split", "move", "merge", "pin", "unpin")
# Records listed in a sentence before "and N more".
LISTED = 8

TITLES: dict[Action, str] = {
    "unmerge": "Undo a merge",
    "split": "Split records out",
    "move": "Move a record",
    "merge": "Merge two golden records",
    "pin": "Pin a value",
    "unpin": "Unpin a value",
}


class RecordMove(ViewModel):
    """A source record that leaves a golden record, joins one, or both."""

    record: str
    system: str
    from_id: str | None
    to_id: str | None  # None: a golden id minted for it


class CompareRow(ViewModel):
    attribute: str
    left: Any
    right: Any


class PinChange(ViewModel):
    attribute: str
    current: Any  # the golden value now
    current_rule: str | None
    given: str | None  # the value as typed
    pinned: str | None  # the value that will be pinned (standardized unless forced)
    forced: bool = False
    candidates: list[str] = Field(default_factory=list)  # what the rules choose from (unpin)


class ActionPreview(ViewModel):
    """What an action will do, read from the store as it is; nothing is written."""

    action: Action
    golden_id: str  # the id the action is about (the path's id, as given)
    title: str
    steps: list[str]  # what will happen, in sentences
    moves: list[RecordMove]  # the records that leave or join a golden record
    survivor: str | None = None  # the id that answers afterwards (a merge, a move)
    retired: list[str] = Field(default_factory=list)  # ids left with no record
    rechosen: list[str] = Field(default_factory=list)  # values chosen again by the rules
    pin: PinChange | None = None
    compare: list[CompareRow] = Field(default_factory=list)
    compare_titles: list[str] = Field(default_factory=list)  # the two compared columns
    warnings: list[str] = Field(default_factory=list)
    refused: str | None = None  # why the action would be refused, as far as the preview sees
    fields: dict[str, list[str]] = Field(default_factory=dict)  # what the confirm form posts
    after: str | None = None  # the golden id whose page shows the outcome


class ActionInput(BaseModel):
    """The fields of every action (each action reads its own)."""

    records: list[str] = Field(default_factory=list)  # split: SOURCE:KEY of the records
    record: str = ""  # move: SOURCE:KEY
    to: str = ""  # move: the golden id it joins (empty: this one)
    other: str = ""  # merge: the other golden id
    attribute: str = ""  # pin, unpin
    value: str = ""  # pin
    force: bool = False  # pin exactly as given
    came_from: str = ""  # move: the golden id the record was in when previewed


def preview_action(
    connection: Connection, project: Project, action: Action, golden_id: str, given: ActionInput
) -> ActionPreview:
    """What ``action`` on ``golden_id`` will do. An action the store would refuse gives a
    preview with ``refused`` set; a golden id that names nothing raises (not found)."""
    resolve_id(connection, golden_id)
    build = PREVIEWS[action]
    try:
        return build(connection, project, golden_id, given)
    except (_Refused, MdmError) as refused:
        # An MdmError here is about what was typed (a record, another id, a value).
        why, after = (
            (refused.why, refused.after)
            if isinstance(refused, _Refused)
            else (str(refused), golden_id)
        )
        return ActionPreview(
            action=action,
            golden_id=golden_id,
            title=f"{TITLES[action]}: {golden_id}",
            steps=[],
            moves=[],
            refused=why,
            after=after,
        )


class _Refused(Exception):
    def __init__(self, why: str, after: str | None = None) -> None:
        self.why = why
        self.after = after


def _active_view(connection: Connection, project: Project, golden_id: str) -> GoldenView:
    """The view of an active golden record named by its own id; else refused."""
    resolved = resolve_id(connection, golden_id)
    if resolved.golden_id != golden_id:
        raise _Refused(
            f"{golden_id} was merged into {resolved.golden_id}, which answers for it now: "
            f"act on {resolved.golden_id}.",
            resolved.golden_id,
        )
    if resolved.status != GoldenStatus.ACTIVE:
        raise _Refused(f"{golden_id} is {resolved.status}: it has no records.", golden_id)
    return golden_view(connection, project.spec, golden_id)


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _decisions(count: int) -> str:
    return _plural(count, "cannot-link decision") + (" keeps" if count == 1 else " keep")


def _others(count: int) -> str:
    return "its other record" if count == 1 else f"its {count:,} other records"


def _rechosen(view: GoldenView, leaving: set[str]) -> list[str]:
    """The golden values of ``view`` that came from the records ``leaving``."""
    taken = {row.attribute for row in view.lineage if row.record in leaving}
    return [name for name in survived_attribute_names(view.entity) if name in taken]


def _refs(members: Sequence[MemberRecord]) -> list[str]:
    return [f"{m.source}:{m.source_key}" for m in members]


def _preview_unmerge(
    connection: Connection, project: Project, merged_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(merged_id)
    resolved = resolve_id(connection, merged_id)
    direct = golden_store.redirect_target(connection, merged_id)
    if direct is None:
        why = f"{merged_id} was not merged into another record: there is no merge to undo."
        absorbed = merged_in(connection, merged_id)
        if absorbed:
            why += f" Merged into it: {', '.join(absorbed)}; undo one of those merges."
        elif resolved.status == GoldenStatus.ACTIVE:
            why += " To take records out of it, split them out."
        raise _Refused(why, merged_id)
    survivor = resolved.golden_id
    if survivor != direct:
        raise _Refused(
            f"{merged_id} was merged into {direct}, which was itself merged into {survivor}. "
            f"Undo the later merge first ({direct}), then this one.",
            survivor,
        )
    view = golden_view(connection, project.spec, survivor)
    back = members_in_merged(connection, entity, merged_id, view.members)
    staying = [m for m in view.members if m not in back]
    if not back or not staying:
        raise _Refused(
            f"The records of {merged_id} are no longer together with {survivor}'s; nothing to "
            "separate.",
            survivor,
        )
    leaving = set(_refs(back))
    steps = [
        f"{merged_id} gets its golden record back, with "
        f"{_plural(len(back), 'record')}: {_listed(sorted(leaving))}.",
        f"{survivor} keeps {_others(len(staying))}.",
        f"{_decisions(len(back) * len(staying))} the two apart in every later run; "
        "must-links that joined them are withdrawn.",
    ]
    rechosen = _rechosen(view, leaving)
    if rechosen:
        steps.append(
            f"{survivor}'s {', '.join(rechosen)} came from those records: the survivorship "
            "rules choose them again from the records that stay."
        )
    return ActionPreview(
        action="unmerge",
        golden_id=merged_id,
        title=f"Undo the merge of {merged_id} into {survivor}",
        steps=steps,
        moves=[
            RecordMove(
                record=f"{m.source}:{m.source_key}",
                system=m.system,
                from_id=survivor,
                to_id=merged_id,
            )
            for m in back
        ],
        survivor=survivor,
        rechosen=rechosen,
        fields={},
        after=merged_id,
    )


def _preview_split(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    named = list(dict.fromkeys(r.strip() for r in given.records if r.strip()))
    if not named:
        raise _Refused("Choose the records to split out (tick them in the source records).")
    for text in named:
        source, _ = parse_record_ref(text)
        if entity_of_source(project, source) is not entity:
            raise _Refused(f"{text} is not a record of a golden {entity}.", golden_id)
    by_ref = {f"{m.source}:{m.source_key}": m for m in view.members}
    strangers = [text for text in named if text not in by_ref]
    if strangers:
        raise _Refused(
            f"Only records of {golden_id} can be split out of it; not of it: {_listed(strangers)}.",
            golden_id,
        )
    if len(named) == len(view.members):
        raise _Refused(
            f"Those are every record of {golden_id}: nothing would be left in it. Choose only "
            "the records to split out.",
            golden_id,
        )
    staying = len(view.members) - len(named)
    steps = [
        f"{_listed(named)} "
        + (
            f"leaves {golden_id} and gets a new golden id."
            if len(named) == 1
            else f"leave {golden_id} and get a new golden id (records the matcher does not "
            "hold together get one each)."
        ),
        f"{golden_id} keeps {_others(staying)}.",
        f"{_decisions(len(named) * staying)} them apart in every later run; must-links that "
        "joined them are withdrawn.",
    ]
    rechosen = _rechosen(view, set(named))
    if rechosen:
        steps.append(
            f"{', '.join(rechosen)} came from those records: the survivorship rules choose "
            "them again from the records that stay."
        )
    return ActionPreview(
        action="split",
        golden_id=golden_id,
        title=f"Split records out of {golden_id}",
        steps=steps,
        moves=[
            RecordMove(record=text, system=by_ref[text].system, from_id=golden_id, to_id=None)
            for text in named
        ],
        rechosen=rechosen,
        fields={"records": named},
        after=golden_id,
    )


def _preview_move(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    record = given.record.strip()
    if not record:
        raise _Refused("Name the record to move, as SOURCE:KEY.", golden_id)
    source, _ = parse_record_ref(record)
    if entity_of_source(project, source) is not entity:
        raise _Refused(
            f"{record} is a {entity_of_source(project, source)} record: it moves only into a "
            f"golden {entity_of_source(project, source)}.",
            golden_id,
        )
    target_text = given.to.strip() or golden_id
    if entity_of_golden_id(target_text) is not entity:
        raise _Refused(f"{target_text} is not a golden {entity}.", golden_id)
    target = resolve_id(connection, target_text)
    steps: list[str] = []
    if target.golden_id != target_text:
        steps.append(f"{target_text} was merged into {target.golden_id}, which answers for it.")
    target_view = _active_view(connection, project, target.golden_id)
    origin = golden_of_record(connection, entity, record)
    if origin is None:
        raise _Refused(f"{record} is not a live record: check the source name and key.")
    if given.to.strip() and origin != golden_id:
        raise _Refused(
            f"{record} is no longer a record of {golden_id}: it belongs to {origin} now.", origin
        )
    if origin == target_view.golden_id:
        raise _Refused(f"{record} is a record of {origin} already: nothing to move.", origin)
    origin_view = golden_view(connection, project.spec, origin)
    mover = next(m for m in origin_view.members if f"{m.source}:{m.source_key}" == record)
    fellows = [m for m in origin_view.members if m is not mover]
    retired = [] if fellows else [origin]
    steps.append(f"{record} leaves {origin} and joins {target_view.golden_id}.")
    if fellows:
        steps.append(
            f"{origin} keeps {_others(len(fellows))}; cannot-link decisions "
            "keep the record apart from them in every later run."
        )
    else:
        steps.append(f"{origin} has no other record: it is retired.")
    steps.append(
        f"Must-link decisions keep {record} with the "
        f"{_plural(len(target_view.members), 'record')} of {target_view.golden_id}."
    )
    rechosen = _rechosen(origin_view, {record}) if fellows else []
    if rechosen:
        steps.append(
            f"{origin}'s {', '.join(rechosen)} came from {record}: the survivorship rules "
            "choose them again from the records that stay."
        )
    warnings = _cannot_links(connection, entity, [mover], target_view.members, record)
    after = origin if fellows and origin == golden_id else target_view.golden_id
    return ActionPreview(
        action="move",
        golden_id=golden_id,
        title=f"Move {record} to {target_view.golden_id}",
        steps=steps,
        moves=[
            RecordMove(
                record=record, system=mover.system, from_id=origin, to_id=target_view.golden_id
            )
        ],
        survivor=target_view.golden_id,
        retired=retired,
        rechosen=rechosen,
        compare=_compare(mover.values, target_view.record, entity),
        compare_titles=[record, f"{target_view.golden_id} (golden)"],
        warnings=warnings,
        fields={"record": [record], "to": [target_view.golden_id], "came_from": [origin]},
        after=after,
    )


def _cannot_links(
    connection: Connection,
    entity: Entity,
    movers: Sequence[MemberRecord],
    hosts: Sequence[MemberRecord],
    record: str,
) -> list[str]:
    """The cannot-link decisions a move withdraws: between the record and those it joins."""
    both = [*movers, *hosts]
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in both], columns=["source", "source_key"], dtype=object
    )
    decided = steward_rows.decisions_among(connection, entity, keys)
    if decided.empty:
        return []
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    found = []
    for row in apart.to_dict("records"):
        left = f"{row['left_source']}:{row['left_key']}"
        right = f"{row['right_source']}:{row['right_key']}"
        if record in (left, right):
            other = right if left == record else left
            found.append(f"{other} (decision {row['id']} by {row['decided_by']})")
    if not found:
        return []
    return [
        f"A steward decided that {record} is a different entity from "
        f"{_listed(found)}: moving it withdraws "
        + ("that decision." if len(found) == 1 else f"those {len(found)} decisions.")
    ]


def _compare(left: dict[str, Any], right: dict[str, Any], entity: Entity) -> list[CompareRow]:
    return [
        CompareRow(attribute=name, left=left.get(name), right=right.get(name))
        for name in survived_attribute_names(entity)
        if left.get(name) or right.get(name)
    ]


def _preview_merge(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    other_text = given.other.strip()
    if not other_text:
        raise _Refused("Name the golden record to merge with.", golden_id)
    if entity_of_golden_id(other_text) is not entity:
        raise _Refused(
            f"{other_text} is not a golden {entity}: only golden records of one entity merge.",
            golden_id,
        )
    other = resolve_id(connection, other_text)
    steps: list[str] = []
    if other.golden_id != other_text:
        steps.append(f"{other_text} was merged into {other.golden_id}, which answers for it.")
    if other.golden_id == golden_id:
        raise _Refused(f"{other_text} answers as {golden_id}: they are one golden record.")
    other_view = _active_view(connection, project, other.golden_id)
    survivor, gone = _older(view, other_view)
    steps += [
        f"{survivor.golden_id} survives (the older id); {gone.golden_id} redirects to it.",
        f"The {_plural(len(gone.members), 'record')} of {gone.golden_id} "
        f"{'joins' if len(gone.members) == 1 else 'join'} the "
        f"{_plural(len(survivor.members), 'record')} of {survivor.golden_id}: "
        f"{_plural(len(gone.members) + len(survivor.members), 'record')} in all.",
        "Must-link decisions keep them together in every later run; the survivorship rules "
        "choose the golden values again from all of them.",
    ]
    members = [*view.members, *other_view.members]
    refused = _decided_apart(connection, entity, members)
    warnings = _kept_apart_by_rules(project, entity, view.record, other_view.record)
    if entity is Entity.ACCOUNT:
        contacts = len(gone.contacts)
        if contacts:
            steps.append(
                f"{gone.golden_id}'s {_plural(contacts, 'contact')} "
                f"{'follows' if contacts == 1 else 'follow'} the merge to {survivor.golden_id}."
            )
    return ActionPreview(
        action="merge",
        golden_id=golden_id,
        title=f"Merge {golden_id} and {other_view.golden_id}",
        steps=steps,
        moves=[
            RecordMove(
                record=f"{m.source}:{m.source_key}",
                system=m.system,
                from_id=gone.golden_id,
                to_id=survivor.golden_id,
            )
            for m in gone.members
        ],
        survivor=survivor.golden_id,
        compare=_compare(view.record, other_view.record, entity),
        compare_titles=[golden_id, other_view.golden_id],
        warnings=warnings,
        refused=refused,
        fields={"other": [other_view.golden_id]},
        after=survivor.golden_id,
    )


def _older(one: GoldenView, other: GoldenView) -> tuple[GoldenView, GoldenView]:
    """(survivor, merged away): the older id survives (the identity rules' order: creation
    run, then id)."""

    def age(view: GoldenView) -> tuple[float, str]:
        run = view.record.get("created_run")
        return (float(run) if run is not None else float("inf"), view.golden_id)

    return (one, other) if age(one) <= age(other) else (other, one)


def _kept_apart_by_rules(
    project: Project, entity: Entity, one: dict[str, Any], other: dict[str, Any]
) -> list[str]:
    """The deterministic non-match rules (method ``different``) the two golden records' values
    meet: the matcher then keeps some of their records apart despite the must-links, and the
    merge is refused with nothing changed. Golden values stand in for every record's: a
    warning, not a verdict."""

    def text(value: Any) -> str | None:
        return None if value is None or str(value).strip() == "" else str(value).strip().lower()

    found = []
    for rule in project.rules.match[entity].rules:
        if rule.action is not RuleAction.NON_MATCH or rule.method is not MatchMethod.DIFFERENT:
            continue
        pairs = [(text(one.get(name)), text(other.get(name))) for name in rule.fields]
        if not all(a is not None and b is not None and a != b for a, b in pairs):
            continue
        if any(
            text(one.get(name)) and text(one.get(name)) == text(other.get(name))
            for name in rule.unless
        ):
            continue
        shown = "; ".join(f"{name} {one.get(name)} and {other.get(name)}" for name in rule.fields)
        found.append(
            f"Their {shown} differ: the match rule '{rule.name}' keeps records like these "
            "apart where no must-link joins them directly, so the merge may be refused "
            "(nothing changes then)."
        )
    return found


def _decided_apart(
    connection: Connection, entity: Entity, members: Sequence[MemberRecord]
) -> str | None:
    """Why a merge would be refused: a steward decided two of its records are different."""
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in members], columns=["source", "source_key"], dtype=object
    )
    decided = steward_rows.decisions_among(connection, entity, keys)
    if decided.empty:
        return None
    apart = decided[decided["decision"] == str(LinkDecision.CANNOT_LINK)]
    if apart.empty:
        return None
    pairs = [
        f"{row['left_source']}:{row['left_key']} and {row['right_source']}:{row['right_key']} "
        f"(decision {row['id']} by {row['decided_by']})"
        for row in apart.to_dict("records")
    ]
    return (
        "A steward decided that some of their records are different: "
        f"{_listed(pairs)}. Revoke those decisions first if they were mistaken."
    )


def _preview_pin(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    attribute = _attribute(entity, given.attribute)
    row = next((r for r in view.lineage if r.attribute == attribute), None)
    current = view.record.get(attribute)
    pins = golden_pins(connection, golden_id)
    change = PinChange(
        attribute=attribute,
        current=current,
        current_rule=row.rule if row else None,
        given=given.value,
        pinned=None,
        forced=given.force,
    )
    if not given.value.strip():
        raise _Refused(
            "Type the value to pin (to let the rules choose again, unpin instead).", golden_id
        )
    try:
        pinned = (
            given.value
            if given.force
            else standardized_pin(project, connection, entity, golden_id, attribute, given.value)
        )
    except MdmError as error:
        return ActionPreview(
            action="pin",
            golden_id=golden_id,
            title=f"Pin {golden_id}.{attribute}",
            steps=[],
            moves=[],
            pin=change,
            refused=str(error).replace("add --force", "tick 'exactly as typed'"),
            after=golden_id,
        )
    change = change.model_copy(update={"pinned": pinned})
    steps = [f"{golden_id}.{attribute} will be pinned to {pinned!r}"]
    if given.force:
        steps[0] += ", exactly as typed (not standardized nor checked)."
    elif pinned != given.value:
        steps[0] += f" (typed as {given.value!r}, standardized as a source value would be)."
    else:
        steps[0] += "."
    if attribute in pins:
        steps.append(
            f"It replaces the pin {pins[attribute]['value']!r} set by "
            f"{pins[attribute]['pinned_by']}."
        )
    steps.append(
        "The pin overrides the survivorship rules in every later run, until it is unpinned."
    )
    if str(current) == pinned and attribute not in pins:
        steps.append("It is the value now: pinning keeps it whatever the sources say later.")
    return ActionPreview(
        action="pin",
        golden_id=golden_id,
        title=f"Pin {golden_id}.{attribute}",
        steps=steps,
        moves=[],
        pin=change,
        fields={
            "attribute": [attribute],
            "value": [given.value],
            **({"force": ["1"]} if given.force else {}),
        },
        after=golden_id,
    )


def _attribute(entity: Entity, name: str) -> str:
    known = survived_attribute_names(entity)
    if name not in known:
        raise _Refused(
            f"{name!r} is not an attribute of a golden {entity}; known: {', '.join(known)}."
            if name
            else "Choose the attribute."
        )
    return name


def _preview_unpin(
    connection: Connection, project: Project, golden_id: str, given: ActionInput
) -> ActionPreview:
    entity = entity_of_golden_id(golden_id)
    view = _active_view(connection, project, golden_id)
    attribute = _attribute(entity, given.attribute)
    pins = golden_pins(connection, golden_id)
    if attribute not in pins:
        raise _Refused(f"{golden_id}.{attribute} is not pinned.", golden_id)
    row = next((r for r in view.lineage if r.attribute == attribute), None)
    candidates = beaten_values(row.beaten if row else None)
    pin = pins[attribute]
    steps = [
        f"The pin of {golden_id}.{attribute} to {pin['value']!r} (by {pin['pinned_by']}, "
        f"{str(pin['pinned_at'])[:10]}) is lifted.",
    ]
    if candidates:
        steps.append(
            f"The survivorship rules choose {attribute} again from the records' values: "
            f"{_listed([repr(c) for c in candidates])}."
        )
    else:
        steps.append(
            f"No record of {golden_id} has a {attribute}: it will be empty unless a source "
            "gives one."
        )
    return ActionPreview(
        action="unpin",
        golden_id=golden_id,
        title=f"Unpin {golden_id}.{attribute}",
        steps=steps,
        moves=[],
        pin=PinChange(
            attribute=attribute,
            current=view.record.get(attribute),
            current_rule=row.rule if row else None,
            given=None,
            pinned=None,
            candidates=candidates,
        ),
        fields={"attribute": [attribute]},
        after=golden_id,
    )


PREVIEWS: dict[Action, Callable[[Connection, Project, str, ActionInput], ActionPreview]] = {
    "unmerge": _preview_unmerge,
    "split": _preview_split,
    "move": _preview_move,
    "merge": _preview_merge,
    "pin": _preview_pin,
    "unpin": _preview_unpin,
}
