"""The golden record page's read model (the 360 view): one golden record's values with their
lineage (the source record, the rule, the record's date, the values it beat), pinned values
marked, its source records by system, its contacts or its account, the ids merged into it, the
steward actions on it and its versions with what each changed. Read by key, never writing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError
from mdm.refs import parse_record_ref
from mdm.schema import Entity, survived_attribute_names
from mdm.store import golden as golden_store
from mdm.store import stewardship as steward_store
from mdm.views.audit import AuditRow, audit_page
from mdm.views.base import ViewModel
from mdm.views.golden import AccountSummary, ContactSummary, GoldenView, MemberRecord, golden_view
from mdm.views.history import HistoryView, LineageRow, golden_history

# The rule lineage names for a value a steward pinned (``mdm.survivorship.STEWARD_PIN``).
STEWARD_PIN = "steward_pin"
# Steward actions on the record shown (the audit log has them all).
ACTIONS_SHOWN = 20


class ValueRow(ViewModel):
    """One golden value and where it came from."""

    attribute: str
    value: Any
    record: str | None  # SOURCE:KEY of the record that gave it; None for a pin or no value
    system: str | None
    rule: str | None
    candidates: int | None
    beaten: list[str]  # the values it beat
    modified: datetime | None  # the last change of the record that gave it
    pinned: bool
    pinned_by: str | None = None
    pinned_at: datetime | None = None


class SystemMembers(ViewModel):
    system: str
    members: list[MemberRecord]


class Change(ViewModel):
    attribute: str
    before: Any
    after: Any


class VersionChanges(ViewModel):
    """One version of the golden record and what it changed from the one before."""

    version: int
    run: int
    status: str
    members: int
    changes: list[Change]


class GoldenPage(ViewModel):
    """Everything the golden record page shows."""

    requested: str
    golden_id: str  # the id that answers for ``requested`` now
    resolved_from: str | None  # ``requested`` when it was merged into ``golden_id``
    entity: Entity
    status: str
    record: dict[str, Any]  # the golden record's row: values, status, members, runs
    values: list[ValueRow]  # by attribute, in the entity's attribute order
    systems: list[SystemMembers]  # the source records by system
    contacts: list[ContactSummary]  # an account's active contacts
    account: AccountSummary | None  # a contact's account
    account_link: str | None
    merged_in: list[str]  # ids merged into this one (each may be unmerged)
    actions: list[AuditRow]  # the steward actions that named this golden id, newest first
    history: HistoryView | None
    versions: list[VersionChanges]  # newest first


def golden_page(connection: Connection, project: Project, golden_id: str) -> GoldenPage:
    """The 360 view of the golden record that answers for ``golden_id``."""
    view = golden_view(connection, project.spec, golden_id)
    current = view.golden_id
    try:
        history: HistoryView | None = golden_history(connection, current)
    except MdmError:
        history = None
    return GoldenPage(
        requested=golden_id,
        golden_id=current,
        resolved_from=golden_id if golden_id != current else None,
        entity=view.entity,
        status=str(view.record.get("status", "")),
        record=view.record,
        values=_value_rows(view, golden_pins(connection, current)),
        systems=_systems(view.members),
        contacts=view.contacts,
        account=view.account,
        account_link=view.account_link,
        merged_in=merged_in(connection, current),
        actions=audit_page(connection, target=current, limit=ACTIONS_SHOWN).rows,
        history=history,
        versions=_version_changes(history) if history is not None else [],
    )


def _value_rows(view: GoldenView, pins: dict[str, dict[str, Any]]) -> list[ValueRow]:
    lineage: dict[str, LineageRow] = {row.attribute: row for row in view.lineage}
    members = {(m.source, m.source_key): m for m in view.members}
    rows = []
    for attribute in survived_attribute_names(view.entity):
        found = lineage.get(attribute)
        member = members.get((found.source or "", found.source_key or "")) if found else None
        pin = pins.get(attribute)
        pinned = pin is not None or (found is not None and found.rule == STEWARD_PIN)
        rows.append(
            ValueRow(
                attribute=attribute,
                value=view.record.get(attribute),
                record=found.record if found else None,
                system=member.system if member else None,
                rule=found.rule if found else None,
                candidates=found.candidates if found else None,
                beaten=beaten_values(found.beaten if found else None),
                modified=member.last_modified if member else None,
                pinned=pinned,
                pinned_by=pin["pinned_by"] if pin else None,
                pinned_at=pin["pinned_at"] if pin else None,
            )
        )
    return rows


def beaten_values(values: list[Any] | None) -> list[str]:
    """The values a golden value beat, as text: lineage keeps them as values or as
    ``{"value": ..., "record_id": ...}`` objects."""
    found = []
    for item in values or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value is not None and str(value) not in found:
            found.append(str(value))
    return found


def _systems(members: Sequence[MemberRecord]) -> list[SystemMembers]:
    by_system: dict[str, list[MemberRecord]] = {}
    for member in members:  # sorted by system, source and key already
        by_system.setdefault(member.system, []).append(member)
    return [SystemMembers(system=name, members=found) for name, found in by_system.items()]


def _version_changes(history: HistoryView) -> list[VersionChanges]:
    found = []
    previous: dict[str, Any] = {}
    for version in history.versions:
        names = list(dict.fromkeys([*previous, *version.values]))
        changes = [
            Change(attribute=name, before=previous.get(name), after=version.values.get(name))
            for name in names
            if previous.get(name) != version.values.get(name)
        ]
        found.append(
            VersionChanges(
                version=version.version,
                run=version.run,
                status=version.status,
                members=version.members,
                changes=changes,
            )
        )
        previous = version.values
    return found[::-1]


def golden_pins(connection: Connection, golden_id: str) -> dict[str, dict[str, Any]]:
    """The active pins of ``golden_id`` by attribute: value, pinned_by, pinned_at."""
    found = steward_store.active_pins_of(connection, golden_id)
    return {
        str(row["attribute"]): {
            "value": row["value"],
            "pinned_by": row["pinned_by"],
            "pinned_at": pd.Timestamp(row["pinned_at"]).to_pydatetime(),
        }
        for row in found.to_dict("records")
    }


def merged_in(connection: Connection, golden_id: str) -> list[str]:
    """The ids merged directly into ``golden_id`` (each may be unmerged)."""
    return golden_store.redirected_into(connection, golden_id)


def members_in_merged(
    connection: Connection, entity: Entity, merged_id: str, members: Sequence[MemberRecord]
) -> list[MemberRecord]:
    """The records of ``members`` whose last membership of a merged-away id was ``merged_id``:
    those an unmerge gives back to it."""
    keys = pd.DataFrame(
        [(m.source, m.source_key) for m in members], columns=["source", "source_key"], dtype=object
    )
    former = golden_store.former_members(connection, entity, keys)
    former = former[former["golden_id"] == merged_id]
    wanted = set(zip(former["source"], former["source_key"], strict=True))
    return [m for m in members if (m.source, m.source_key) in wanted]


def golden_of_record(connection: Connection, entity: Entity, record: str) -> str | None:
    """The golden id a live record (SOURCE:KEY) belongs to now."""
    source, key = parse_record_ref(record)
    keys = pd.DataFrame({"source": [source], "source_key": [key]}, dtype=object)
    found = golden_store.xref_of_keys(connection, entity, keys)
    return None if found.empty else str(found["golden_id"].iloc[0])
