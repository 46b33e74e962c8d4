"""The review queue's own steward action: skip an item (it goes to the back of the queue).

A skip changes no golden record, so it needs no steward run. It must not be lost to a run,
though: a run replaces the open review items of the records it resolves (the item the
steward saw may be gone when the run ends, a new one in its place), and on SQLite its
transaction holds the database's write lock from its first write to its commit. So a skip
takes the store's writer lock as a steward action does, waiting for a running run (at most
``STEWARD_WAIT_SECONDS``), and is applied after it, to the queue as the run left it: to the
item the steward saw if it is still open, else to the open item the run left for the same
pair. Given an open connection instead of a project, it writes in that transaction: holding
the writer lock is then the caller's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.pipeline import STEWARD_WAIT_SECONDS
from mdm.schema import Entity, ReviewStatus
from mdm.stewardship import rows
from mdm.stewardship.audit import golden_state
from mdm.store import bulk, golden, open_store
from mdm.store import stewardship as steward_store
from mdm.store.migrate import writing


@dataclass(frozen=True)
class SkipResult:
    message: str
    item_id: int  # the item skipped: the one asked for, or the one that replaced it
    detail: dict[str, Any]  # the audit row's detail


def skip_review(store: Project | Connection, item_id: int, actor: str) -> SkipResult:
    """Mark the open review item ``item_id`` skipped by ``actor``: it stays open, and the
    queue shows it after the items nobody skipped. ``store``: a project (the skip takes the
    store's writer lock, see the module's docstring) or an open connection (written in its
    transaction)."""
    if isinstance(store, Connection):
        return _skip(store, item_id, actor)
    opened = open_store(store.store_url, writing=True)
    try:
        with (
            writing(opened, "review --skip", STEWARD_WAIT_SECONDS),
            opened.transaction() as connection,
        ):
            return _skip(connection, item_id, actor)
    finally:
        opened.close()


def _skip(connection: Connection, item_id: int, actor: str) -> SkipResult:
    item = rows.review_item(connection, item_id)
    if item is None:
        raise MdmError(
            Reason.NOT_FOUND, f"There is no review item {item_id}: see 'mdm review' for the queue."
        )
    entity = Entity(item["entity"])
    left = (str(item["left_source"]), str(item["left_key"]))
    right = (str(item["right_source"]), str(item["right_key"]))
    pair = f"{left[0]}:{left[1]} {right[0]}:{right[1]}"
    skipped = int(item["id"])
    if item["status"] != ReviewStatus.OPEN:
        # A run replaced the item (or decided the pair) since the steward saw it.
        current = rows.items_of_pair(connection, entity, left, right, ReviewStatus.OPEN)
        if current.empty:
            raise MdmError(
                Reason.USAGE,
                f"Review item {item_id} ({pair}) is {item['status']}: it is no longer in the "
                "queue, so there is nothing to skip.",
            )
        skipped = int(current["id"].iloc[-1])
    rows.skip_item(connection, skipped, actor, bulk.now())
    keys = pd.DataFrame([left, right], columns=["source", "source_key"], dtype=object)
    state = golden_state(
        connection, entity, set(golden.xref_of_keys(connection, entity, keys)["golden_id"])
    )
    detail: dict[str, Any] = {"item": skipped, "before": state, "after": state}
    if skipped != item_id:
        detail["asked"] = item_id
    steward_store.audit(connection, actor, "skip", pair, detail)
    message = f"Review item {skipped} ({left[0]}:{left[1]} and {right[0]}:{right[1]}) is skipped"
    if skipped != item_id:
        message += f" (it replaced item {item_id} when a run scored the pair again)"
    return SkipResult(
        message + ": the queue shows it after the items nobody skipped.", skipped, detail
    )
