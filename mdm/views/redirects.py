"""Redirects: a merged-away golden id keeps answering for its survivor.

A chain is followed one key lookup at a time (``redirect.from_id`` is the table's key), never
by reading every redirect.
"""

from __future__ import annotations

from sqlalchemy import Connection

from mdm.errors import MdmError, Reason
from mdm.refs import entity_of_golden_id
from mdm.schema import Entity
from mdm.store import golden
from mdm.views.base import ViewModel


class ResolvedId(ViewModel):
    requested: str
    golden_id: str  # the id that answers for ``requested`` now
    entity: Entity
    status: str  # active | retired (a merged id redirects to its survivor)


def current_id(connection: Connection, golden_id: str) -> str:
    """The id that answers for ``golden_id`` now: its redirects followed to the end."""
    seen = {golden_id}
    while (target := golden.redirect_target(connection, golden_id)) is not None:
        golden_id = target
        if golden_id in seen:
            break  # a cycle would be a bug; stop rather than loop
        seen.add(golden_id)
    return golden_id


def resolve_id(connection: Connection, golden_id: str) -> ResolvedId:
    """The id that answers for ``golden_id`` now, and its status."""
    entity = entity_of_golden_id(golden_id)
    current = current_id(connection, golden_id)
    found = golden.golden_record(connection, entity, current)
    if found.empty:
        raise MdmError(Reason.NOT_FOUND, f"No golden {entity} {golden_id}.")
    return ResolvedId(
        requested=golden_id, golden_id=current, entity=entity, status=str(found["status"].iloc[0])
    )
