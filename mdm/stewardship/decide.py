"""A steward's decision on a pair of source records: the same entity, or not."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Reason
from mdm.pipeline import steward_run
from mdm.refs import entity_of_source, parse_record_ref
from mdm.schema import LinkDecision
from mdm.stewardship.common import StewardResult
from mdm.store import bulk, golden
from mdm.store import stewardship as steward_store
from mdm.store.tables import MatchDecision


def decide_pair(
    project: Project,
    left: str,
    right: str,
    decision: LinkDecision,
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
        known = golden.xref_of_keys(connection, entity, pair)
        if len(known) < 2:
            raise MdmError(
                Reason.NOT_FOUND,
                f"{left} or {right} is not a live record: check the source name and key.",
            )
        row = {
            "entity": entity,
            "left_source": left_source,
            "left_key": left_key,
            "right_source": right_source,
            "right_key": right_key,
            "decision": str(decision),
            "reason": reason,
            "decided_by": actor,
            "decided_at": bulk.now(),
            "active": True,
        }
        bulk.insert_frame(connection, MatchDecision, pd.DataFrame([row]))
        steward_store.close_reviews(connection, entity, pair)
        steward_store.audit(connection, actor, str(decision), f"{left} {right}", {"reason": reason})
        return set(known["golden_id"])

    run = steward_run(project, entity, act)
    verb = "the same" if decision is LinkDecision.MUST_LINK else "different"
    return StewardResult(f"{left} and {right} are recorded as {verb} {entity}s.", run)
