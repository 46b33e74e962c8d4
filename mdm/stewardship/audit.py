"""What a steward action changed, for its audit row: each golden record it touched, before the
action and after the golden records were resolved again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.schema import Entity, GoldenStatus, survived_attribute_names
from mdm.store import golden

# Members listed per golden record in an audit row; a larger one lists these and counts the rest.
AUDIT_MEMBERS = 1_000

GoldenState = dict[str, dict[str, Any]]


def golden_state(connection: Connection, entity: Entity, golden_ids: Iterable[str]) -> GoldenState:
    """Each of ``golden_ids`` as it is now: its status; if active its golden values (the
    survived attributes) and its members as SOURCE:KEY; if merged away the id it redirects
    to. An id the store does not know is absent."""
    ids = sorted({str(i) for i in golden_ids})
    if not ids:
        return {}
    found = golden.golden_in(connection, entity, ids)
    xref = golden.xref_of_golden_ids(connection, ids)
    members: dict[str, list[str]] = {}
    for golden_id, source, key in sorted(
        zip(xref["golden_id"], xref["source"], xref["source_key"], strict=True)
    ):
        members.setdefault(str(golden_id), []).append(f"{source}:{key}")
    attributes = survived_attribute_names(entity)
    state: GoldenState = {}
    for row in found.to_dict("records"):
        golden_id = str(row["golden_id"])
        status = str(row["status"])
        entry: dict[str, Any] = {"status": status}
        if status == GoldenStatus.MERGED:
            entry["merged_into"] = _survivor(connection, golden_id)
        if status == GoldenStatus.ACTIVE:
            entry["values"] = {name: _plain(row.get(name)) for name in attributes}
        listed = members.get(golden_id, [])
        entry["members"] = listed[:AUDIT_MEMBERS]
        if len(listed) > AUDIT_MEMBERS:
            entry["more_members"] = len(listed) - AUDIT_MEMBERS
        state[golden_id] = entry
    return state


def member_golden_ids(connection: Connection, entity: Entity, state: GoldenState) -> set[str]:
    """The golden ids the members listed in ``state`` belong to now."""
    refs = [ref for entry in state.values() for ref in entry.get("members", [])]
    if not refs:
        return set()
    keys = pd.DataFrame(
        [ref.split(":", 1) for ref in refs], columns=["source", "source_key"], dtype=object
    )
    return {str(i) for i in golden.xref_of_keys(connection, entity, keys)["golden_id"]}


def _survivor(connection: Connection, golden_id: str) -> str:
    """The id a merged-away id answers as now, following redirects by key."""
    seen = {golden_id}
    current = golden_id
    while (target := golden.redirect_target(connection, current)) is not None:
        if target in seen:
            break  # a cycle would be a bug: stop rather than loop
        seen.add(target)
        current = target
    return current


def _plain(value: Any) -> Any:
    """A golden value as JSON holds it: None for a missing one."""
    if value is None:
        return None
    if not isinstance(value, (list, dict)) and pd.isna(value):
        return None
    return value
