"""Write a resolved scope: golden records, their versions and events, lineage, xref,
membership history and redirects — only what changed."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, update

from mdm import failpoints
from mdm.config.specs import Project
from mdm.identity import IdentityResult
from mdm.pipeline import index
from mdm.pipeline.inputs import ResolutionInputs
from mdm.schema import Entity
from mdm.store import golden, stewardship
from mdm.store.bulk import delete_in, execute_each, in_lists, insert_frame, table_of
from mdm.store.tables import (
    GOLDEN_TABLES,
    GoldenEvent,
    GoldenVersion,
    Lineage,
    Membership,
    Redirect,
    Xref,
)


@dataclass(frozen=True)
class GoldenChanges:
    values: pd.DataFrame  # index golden_id: survived values (and a contact's account)
    lineage: pd.DataFrame  # golden_id, attribute, value, record_id, rule, candidates, ...
    members: pd.DataFrame  # record_id, source, source_key, golden_id of the scope
    identity: IdentityResult
    previous: pd.DataFrame  # the scope's xref before the run


@dataclass(frozen=True)
class Written:
    updated: int
    touched: list[str]


def write_scope(
    connection: Connection,
    run_id: int,
    entity: Entity,
    changes: GoldenChanges,
    records: pd.DataFrame,
    reviews: pd.DataFrame,
) -> Written:
    """The writing edge of a resolution: its golden records, then the review items of its
    ``records`` (``reviews``: what the matcher sent to review)."""
    written = write_resolution(connection, run_id, entity, changes)
    failpoints.reached(f"resolve.{entity}.written")
    stewardship.replace_reviews(connection, entity, records, reviews, run_id)
    failpoints.reached(f"resolve.{entity}.reviewed")
    return written


def write_index(
    connection: Connection, project: Project, inputs: ResolutionInputs, full: bool
) -> int:
    """Index the scope's records as they are now (a full run: the whole index); returns how
    many records were indexed. A delta indexed its changed records when it found its scope."""
    entity, frame = inputs.entity, inputs.match_input
    if full:
        index.rebuild(connection, project, entity, frame)
        return len(frame)
    if entity is Entity.CONTACT:  # their account ids may have moved with the accounts
        fresh = frame["record_id"].isin(inputs.indexed).to_numpy()
        index.reindex(connection, project, entity, frame[~fresh])
        return int((~fresh).sum())
    return 0


def write_resolution(
    connection: Connection, run_id: int, entity: Entity, changes: GoldenChanges
) -> Written:
    identity = changes.identity
    counts = changes.members["golden_id"].value_counts()
    counts = counts.reindex(changes.values.index).astype("int64")
    hashes = golden_hash(changes.values, changes.lineage, counts)
    ids = sorted(
        set(changes.values.index) | set(identity.retired) | set(identity.redirects["from_id"])
    )
    existing = golden.golden_in(connection, entity, ids).set_index("golden_id")
    changed = _changed(hashes, existing)
    _write_golden_rows(
        connection, run_id, entity, changes.values, counts, hashes, existing, changed
    )
    merged = identity.redirects["from_id"].tolist()
    _set_status(connection, entity, run_id, merged, "merged")
    _set_status(connection, entity, run_id, identity.retired, "retired")
    delete_in(connection, Lineage, "golden_id", [*changed, *merged, *identity.retired])
    fresh = changes.lineage[changes.lineage["golden_id"].isin(set(changed))]
    insert_frame(connection, Lineage, _lineage_rows(fresh, entity, run_id))
    _write_xref(connection, run_id, entity, changes.members, changes.previous)
    _write_redirects(connection, run_id, entity, identity)
    _write_history(connection, run_id, entity, changes, counts, changed, existing)
    created = set(identity.created) | set(identity.revived)
    return Written(
        updated=len(set(changed) - created),
        touched=sorted({*changed, *merged, *identity.retired}),
    )


def golden_hash(values: pd.DataFrame, lineage: pd.DataFrame, members: pd.Series) -> pd.Series:
    """What makes a golden record different: its values, where they came from, its size."""
    ordered = lineage.sort_values(["golden_id", "attribute"])
    parts = (
        ordered["attribute"].astype(str)
        + "="
        + ordered["record_id"].astype("string").fillna("pin").astype(str)
        + ":"
        + ordered["rule"].astype(str)
    )
    # Joined per golden record in one pass (a grouped string join is slow on Arrow strings).
    joined = {
        golden_id: "|".join(part for _, part in group)
        for golden_id, group in itertools.groupby(
            zip(ordered["golden_id"].tolist(), parts.tolist(), strict=True), key=lambda x: x[0]
        )
    }
    trail = pd.Series(joined, dtype=object)
    text = pd.Series("", index=values.index, dtype=object)
    for column in values.columns:
        text = text + values[column].astype(object).where(values[column].notna(), "\x00") + "\x1f"
    combined = text + "\x1e" + trail.reindex(values.index).fillna("") + "\x1e" + members.astype(str)
    return pd.Series(
        [hashlib.sha256(item.encode()).hexdigest() for item in combined],
        index=values.index,
        dtype=object,
    )


def _changed(hashes: pd.Series, existing: pd.DataFrame) -> list[str]:
    was_active = existing["status"].reindex(hashes.index).astype(object).eq("active")
    same = hashes.astype(object).eq(existing["content_hash"].reindex(hashes.index))
    unchanged = same.to_numpy(dtype=bool) & was_active.to_numpy(dtype=bool)
    return [str(golden_id) for golden_id in hashes.index[~unchanged]]


def _write_golden_rows(
    connection: Connection,
    run_id: int,
    entity: Entity,
    values: pd.DataFrame,
    counts: pd.Series,
    hashes: pd.Series,
    existing: pd.DataFrame,
    changed: list[str],
) -> None:
    model = GOLDEN_TABLES[entity]
    rows = values.loc[changed].assign(
        status="active",
        members=counts.loc[changed],
        content_hash=hashes.loc[changed],
        created_run=existing["created_run"].reindex(changed).fillna(run_id).astype("int64"),
        updated_run=run_id,
    )
    delete_in(connection, model, "golden_id", changed)
    insert_frame(connection, model, rows.rename_axis("golden_id").reset_index())


def _set_status(
    connection: Connection, entity: Entity, run_id: int, golden_ids: list[str], status: str
) -> None:
    table = table_of(GOLDEN_TABLES[entity])
    statement = (
        update(table).where(table.c.status != status).values(status=status, updated_run=run_id)
    )
    execute_each(connection, statement, in_lists(table.c.golden_id, golden_ids))


def _lineage_rows(lineage: pd.DataFrame, entity: Entity, run_id: int) -> pd.DataFrame:
    columns = [column.name for column in table_of(Lineage).columns if column.name != "id"]
    rows = lineage.assign(entity=str(entity), run_id=run_id)
    return rows[[c for c in columns if c in rows.columns]]


def _xref_diff(
    members: pd.DataFrame, previous_xref: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stale rows to remove, fresh rows to add), comparing golden id and record version."""
    current = members[["source", "source_key", "golden_id", "record_id"]]
    merged = current.merge(
        previous_xref,
        on=["source", "source_key"],
        how="outer",
        suffixes=("", "_old"),
        indicator=True,
    )
    same = (
        (merged["_merge"] == "both")
        & (merged["golden_id"] == merged["golden_id_old"])
        & (merged["record_id"] == merged["record_id_old"])
    )
    stale = merged[~same & (merged["_merge"] != "left_only")]
    fresh = merged[~same & (merged["_merge"] != "right_only")]
    return stale, fresh


def _write_xref(
    connection: Connection,
    run_id: int,
    entity: Entity,
    members: pd.DataFrame,
    previous: pd.DataFrame,
) -> None:
    """Keep unchanged xref rows (and their run); replace the others; history in membership.

    ``previous`` holds every xref row of the scope's records: those of its golden records."""
    old = previous[["source", "source_key", "golden_id", "record_id"]]
    stale, fresh = _xref_diff(members, old)
    for source, group in stale.groupby("source"):
        delete_in(connection, Xref, "source_key", group["source_key"], source=source)
    rows = fresh[["source", "source_key", "golden_id", "record_id"]].assign(
        entity=str(entity), run_id=run_id, record_id=fresh["record_id"].astype("int64")
    )
    insert_frame(connection, Xref, rows)
    moved = stale[stale["golden_id"].astype(object) != stale["golden_id_old"].astype(object)]
    golden.close_memberships(connection, entity, moved[["source", "source_key"]], run_id)
    joined = fresh[fresh["golden_id"].astype(object) != fresh["golden_id_old"].astype(object)]
    insert_frame(
        connection,
        Membership,
        joined[["source", "source_key", "golden_id"]].assign(entity=str(entity), from_run=run_id),
    )


def _write_redirects(
    connection: Connection, run_id: int, entity: Entity, identity: IdentityResult
) -> None:
    golden.delete_redirects(connection, identity.revived)
    rows = identity.redirects.assign(entity=str(entity), run_id=run_id)
    insert_frame(connection, Redirect, rows)


def _write_history(
    connection: Connection,
    run_id: int,
    entity: Entity,
    changes: GoldenChanges,
    counts: pd.Series,
    changed: list[str],
    existing: pd.DataFrame,
) -> None:
    identity = changes.identity
    events = _events(identity, changed, existing)
    insert_frame(connection, GoldenEvent, events.assign(run_id=run_id, entity=str(entity)))
    statuses = {golden_id: "active" for golden_id in changed}
    statuses.update({golden_id: "merged" for golden_id in identity.redirects["from_id"]})
    statuses.update({golden_id: "retired" for golden_id in identity.retired})
    ids = sorted(statuses)
    latest = golden.latest_versions(connection, ids)
    records = changes.values.reindex(ids)
    versions = pd.DataFrame(
        {
            "golden_id": ids,
            "version": [int(latest.get(golden_id, 0)) + 1 for golden_id in ids],
            "status": [statuses[golden_id] for golden_id in ids],
            "members": [int(counts.get(golden_id, 0)) for golden_id in ids],
            "record": _records_json(records),
        }
    ).assign(run_id=run_id, entity=str(entity))
    insert_frame(connection, GoldenVersion, versions)


def _records_json(records: pd.DataFrame) -> list[str]:
    values = records.astype(object).where(records.notna(), None)
    columns = list(records.columns)
    return [
        json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, sort_keys=True)
        for row in values.itertuples(index=False, name=None)
    ]


def _events(identity: IdentityResult, changed: list[str], existing: pd.DataFrame) -> pd.DataFrame:
    rows: list[tuple[str, str, str | None]] = []
    new = set(identity.created)
    for golden_id in identity.created:
        origin = identity.split_from.get(golden_id)
        rows.append((golden_id, "created", origin))
        if origin is not None:
            rows.append((origin, "split", golden_id))
    rows += [(golden_id, "revived", None) for golden_id in identity.revived]
    known = set(existing.index)
    rows += [
        (golden_id, "updated", None)
        for golden_id in changed
        if golden_id not in new and golden_id not in identity.revived and golden_id in known
    ]
    rows += [
        (str(f), "merged", str(t))
        for f, t in zip(identity.redirects["from_id"], identity.redirects["to_id"], strict=True)
    ]
    rows += [(golden_id, "retired", None) for golden_id in identity.retired]
    return pd.DataFrame(rows, columns=["golden_id", "event", "other_id"])
