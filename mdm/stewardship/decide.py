"""A steward's decision on a pair of source records: the same entity, or not."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.errors import MdmError, Problem, Reason
from mdm.refs import entity_of_source, parse_record_ref
from mdm.schema import LinkDecision, ReviewStatus
from mdm.stewardship import rows
from mdm.stewardship.common import Acted, StewardResult, run_action
from mdm.store import bulk, golden, open_store
from mdm.store import stewardship as steward_store


def decide_pair(
    project: Project,
    left: str,
    right: str,
    decision: LinkDecision,
    actor: str,
    reason: str | None = None,
    expected: Mapping[str, int] | None = None,
) -> StewardResult:
    """Record that two source records (``source:key``) are, or are not, the same entity.

    ``expected``: the version of each record (SOURCE:KEY -> version, as ``record_versions``
    gives them) the steward decided on. If either record has another version now, the
    decision is refused with ``Reason.CONFLICT`` and nothing is recorded."""
    (left_source, left_key), (right_source, right_key) = (
        parse_record_ref(left),
        parse_record_ref(right),
    )
    entity = entity_of_source(project, left_source)
    if entity_of_source(project, right_source) is not entity:
        raise MdmError(Reason.USAGE, f"{left} and {right} are not of the same entity.")
    seen = _expected_versions(expected, left, right)

    def act(connection: Connection, run_id: int) -> Acted:
        pair = pd.DataFrame(
            {"source": [left_source, right_source], "source_key": [left_key, right_key]}
        )
        if seen:
            _require_unchanged(connection, seen)
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
        decision_id = rows.insert_decision(connection, row)
        items = rows.items_of_pair(
            connection,
            entity,
            (left_source, left_key),
            (right_source, right_key),
            ReviewStatus.OPEN,
        )
        steward_store.close_reviews(connection, entity, pair)
        # The decision's id and the review items it closed: what 'undo' revokes and reopens.
        detail = {
            "reason": reason,
            "decision": decision_id,
            "reviews": [int(i) for i in items["id"]],
        }
        return Acted(set(known["golden_id"]), str(decision), f"{left} {right}", detail)

    run, detail = run_action(project, entity, actor, act)
    verb = "the same" if decision is LinkDecision.MUST_LINK else "different"
    return StewardResult(f"{left} and {right} are recorded as {verb} {entity}s.", run, detail)


def record_versions(store: Project | Connection, *records: str) -> dict[str, int]:
    """SOURCE:KEY -> the current version of each record (a deleted record's too), for a page
    to show and to hand back as ``decide_pair(..., expected=...)``; read in ``store`` (a
    project's store, or an open connection). A record never loaded is absent."""
    keys = [parse_record_ref(record) for record in records]
    if isinstance(store, Connection):
        found = rows.current_versions(store, keys)
    else:
        opened = open_store(store.store_url)
        try:
            with opened.transaction() as connection:
                found = rows.current_versions(connection, keys)
        finally:
            opened.close()
    names = [f"{source}:{key}" for source, key in keys]
    return {
        record: found[name] for record, name in zip(records, names, strict=True) if name in found
    }


def _expected_versions(
    expected: Mapping[str, int] | None, left: str, right: str
) -> dict[tuple[str, str], int]:
    """(source, key) -> the version the steward saw, for the two records of the pair."""
    if not expected:
        return {}
    pair = {parse_record_ref(left), parse_record_ref(right)}
    seen: dict[tuple[str, str], int] = {}
    for text, version in expected.items():
        key = parse_record_ref(text)
        if key not in pair:
            raise MdmError(
                Reason.USAGE,
                f"{text} is not {left} or {right}: expected versions name the pair's records.",
            )
        seen[key] = int(version)
    return seen


def _require_unchanged(connection: Connection, seen: dict[tuple[str, str], int]) -> None:
    """Refuse (``Reason.CONFLICT``) if a record has another version than the one seen."""
    now = rows.current_versions(connection, list(seen))
    problems = [
        Problem(
            f"{source}:{key}",
            f"version {version} was shown, it is version {now[f'{source}:{key}']} now"
            if f"{source}:{key}" in now
            else f"version {version} was shown, the record is gone now",
        )
        for (source, key), version in seen.items()
        if now.get(f"{source}:{key}") != version
    ]
    if problems:
        raise MdmError(
            Reason.CONFLICT,
            "The pair changed since it was shown: nothing was recorded. Look at the records "
            "again, then decide.",
            problems,
        )
