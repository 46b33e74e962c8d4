"""Write a resolved scope: golden records, their versions and events, lineage, xref,
membership history and redirects — only what changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, update

from mdm import failpoints
from mdm.config.specs import Project
from mdm.identity import IdentityResult
from mdm.pipeline import index
from mdm.pipeline.inputs import ResolutionInputs
from mdm.schema import Entity
from mdm.store import golden, search, stewardship
from mdm.store.bulk import (
    bulk_writes,
    delete_in,
    execute_each,
    in_lists,
    insert_frame,
    table_of,
)
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
    with bulk_writes(connection):
        written = write_resolution(connection, run_id, entity, changes)
        failpoints.reached(f"resolve.{entity}.written")
        reviewed = _reviewed(changes, records)
        stewardship.replace_reviews(connection, entity, reviewed, reviews, run_id)
        failpoints.reached(f"resolve.{entity}.reviewed")
    return written


def _reviewed(changes: GoldenChanges, records: pd.DataFrame) -> pd.DataFrame:
    """source, source_key, golden_id: the scope's records with the golden record each is in
    after the run (``changes.members`` is ``records`` row for row), and the records that were
    in its golden records before and are no longer live, with none."""
    after = records[["source", "source_key"]].assign(
        golden_id=changes.members["golden_id"].to_numpy(dtype=object)
    )
    before = changes.previous[["source", "source_key"]]
    known = pd.MultiIndex.from_frame(after[["source", "source_key"]].astype(str))
    left = before[~pd.MultiIndex.from_frame(before.astype(str)).isin(known)]
    return pd.concat([after, left.assign(golden_id=None)], ignore_index=True)


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
    # A minted id was checked against every id ever used (``ids_in_use``): it has no golden
    # row, lineage, search key or version yet, so nothing of it is read or deleted. On a first
    # run that is every id: the writes below are appends only.
    minted = set(identity.created)
    known = [str(i) for i in changes.values.index.astype(object) if i not in minted]
    ids = sorted({*known, *identity.retired, *identity.redirects["from_id"]})
    existing = golden.golden_in(connection, entity, ids).set_index("golden_id")
    changed = _changed(hashes, existing)
    gone = [
        *(golden_id for golden_id in changed if golden_id not in minted),
        *identity.redirects["from_id"],
        *identity.retired,
    ]
    _write_golden_rows(
        connection, run_id, entity, changes.values, counts, hashes, existing, changed
    )
    merged = identity.redirects["from_id"].tolist()
    _set_status(connection, entity, run_id, merged, "merged")
    _set_status(connection, entity, run_id, identity.retired, "retired")
    delete_in(connection, Lineage, "golden_id", gone)
    insert_frame(connection, Lineage, _lineage_rows(changes.lineage, changed, entity, run_id))
    search.replace_search_keys(connection, entity, gone, changes.values.loc[changed])
    _write_xref(connection, run_id, entity, changes.members, changes.previous)
    _write_redirects(connection, run_id, entity, identity)
    _write_history(connection, run_id, entity, changes, counts, changed, existing)
    created = set(identity.created) | set(identity.revived)
    return Written(
        updated=len(set(changed) - created),
        touched=sorted({*changed, *merged, *identity.retired}),
    )


def golden_hash(values: pd.DataFrame, lineage: pd.DataFrame, members: pd.Series) -> pd.Series:
    """What makes a golden record different: its values, where they came from, its size.

    The sha256 of, per golden record: each value ("" for none) followed by ``\\x1f``;
    ``\\x1e``; its lineage rows as ``attribute=record_id:rule`` (``pin`` for no record) joined
    by ``|``, by attribute name and then in lineage order; ``\\x1e``; its member count.
    Stored hashes were made by this formula: changing it changes every golden record once."""
    # "" for none: the first formula meant "\\x00", which numpy's where() cut to "".
    cells = [_arrow_text(values[column]).fill_null("") for column in values.columns]
    text = (
        _join(*cells, "", separator="\x1f")
        if cells
        else pa.array([""] * len(values), type=pa.large_string())
    )
    count = _arrow_text(members.reindex(values.index).astype(str))
    combined = _join(text, _lineage_trails(lineage, values.index), count, separator="\x1e")
    return pd.Series(
        [hashlib.sha256(item.encode()).hexdigest() for item in combined.to_pylist()],
        index=values.index,
        dtype=object,
    )


def _lineage_trails(lineage: pd.DataFrame, golden_ids: pd.Index) -> pa.Array:
    """Per golden id of ``golden_ids``: its lineage rows as ``attribute=record_id:rule``
    joined by ``|``, ordered by attribute name, then as in ``lineage``; "" for none."""
    if lineage.empty:
        return pa.array([""] * len(golden_ids), type=pa.large_string())
    golden, ids = pd.factorize(lineage["golden_id"])
    attribute = lineage["attribute"].astype(str)
    # lexsort is stable: rows of one (golden_id, attribute) keep their lineage order.
    order = np.lexsort((pd.factorize(attribute, sort=True)[0], golden))
    parts = _join(
        _arrow_text(attribute),
        "=",
        _arrow_text(lineage["record_id"].astype("string").fillna("pin")),
        ":",
        _arrow_text(lineage["rule"].astype(str)),
        separator="",
    ).take(pa.array(order))
    group = golden[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    offsets = pa.array(np.r_[starts, len(group)], type=pa.int64())
    joined = pc.binary_join(
        pa.LargeListArray.from_arrays(offsets, parts), pa.scalar("|", pa.large_string())
    )
    position = pd.Index(ids[group[starts]]).get_indexer(golden_ids)
    taken = joined.take(pa.array(position, mask=position < 0))
    return taken.fill_null("")


def _join(*parts: pa.Array | str, separator: str) -> pa.Array:
    """Row by row, the parts (arrays, or text for every row) joined by ``separator``."""
    arguments = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arguments, pa.scalar(separator, pa.large_string()))


def _is_text(column: pd.Series) -> bool:
    """Whether every value of ``column`` is text or missing."""
    if column.dtype == object:
        return pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")
    return pd.api.types.is_string_dtype(column.dtype)


def _arrow_text(column: pd.Series) -> pa.Array:
    """A text column as one Arrow string array (NA as null)."""
    text = pa.array(column.astype("string"), type=pa.large_string())
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


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
    """The ``changed`` golden rows, written again: those that have a row (``existing``) lose
    it first."""
    model = GOLDEN_TABLES[entity]
    rows = values.loc[changed].assign(
        status="active",
        members=counts.loc[changed],
        content_hash=hashes.loc[changed],
        created_run=existing["created_run"].reindex(changed).fillna(run_id).astype("int64"),
        updated_run=run_id,
    )
    had_rows = existing.index
    delete_in(connection, model, "golden_id", [i for i in changed if i in had_rows])
    insert_frame(connection, model, rows.rename_axis("golden_id").reset_index())


def _set_status(
    connection: Connection, entity: Entity, run_id: int, golden_ids: list[str], status: str
) -> None:
    table = table_of(GOLDEN_TABLES[entity])
    statement = (
        update(table).where(table.c.status != status).values(status=status, updated_run=run_id)
    )
    execute_each(connection, statement, in_lists(table.c.golden_id, golden_ids))


def _lineage_rows(
    lineage: pd.DataFrame, changed: list[str], entity: Entity, run_id: int
) -> pd.DataFrame:
    """The lineage rows of the ``changed`` golden ids, as the lineage table holds them. On a
    first run that is every row: the frame is then not copied (millions of rows at 1M)."""
    wanted = pc.is_in(
        _arrow_text(lineage["golden_id"]), value_set=pa.array(changed, type=pa.large_string())
    ).to_numpy(zero_copy_only=False)
    fresh = lineage if wanted.all() else lineage[wanted]
    columns = [column.name for column in table_of(Lineage).columns if column.name != "id"]
    rows = fresh.assign(entity=str(entity), run_id=run_id)
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
    insert_frame(connection, Xref, rows, indexes_after=True)
    moved = stale[stale["golden_id"].astype(object) != stale["golden_id_old"].astype(object)]
    golden.close_memberships(connection, entity, moved[["source", "source_key"]], run_id)
    joined = fresh[fresh["golden_id"].astype(object) != fresh["golden_id_old"].astype(object)]
    insert_frame(
        connection,
        Membership,
        joined[["source", "source_key", "golden_id"]].assign(entity=str(entity), from_run=run_id),
        indexes_after=True,
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
    minted = set(identity.created)  # never written: no version yet
    known = [golden_id for golden_id in ids if golden_id not in minted]
    latest = golden.latest_versions(connection, known) if known else pd.Series(dtype="int64")
    records = changes.values.reindex(ids)
    versions = pd.DataFrame(
        {
            "golden_id": ids,
            "version": latest.reindex(ids).fillna(0).to_numpy(dtype="int64") + 1,
            "status": [statuses[golden_id] for golden_id in ids],
            "members": counts.reindex(ids).fillna(0).to_numpy(dtype="int64"),
            "record": _records_json(records),
        }
    ).assign(run_id=run_id, entity=str(entity))
    insert_frame(connection, GoldenVersion, versions)


def _records_json(records: pd.DataFrame) -> list[str]:
    """Each row as a JSON object, exactly as ``json.dumps(row, ensure_ascii=False,
    sort_keys=True)`` writes it (missing values null), built column by column."""
    if not len(records.columns):
        return ["{}"] * len(records)
    pieces: list[pa.Array | str] = []
    for position, column in enumerate(sorted(records.columns)):
        key = json.dumps(column, ensure_ascii=False)
        pieces += [f"{', ' if position else '{'}{key}: ", _json_values(records[column])]
    out: list[str] = _join(*pieces, "}", separator="").to_pylist()
    return out


# The characters json.dumps escapes in a string when it keeps non-ASCII ones.
_JSON_ESCAPED: Final = r'[\x00-\x1f"\\]'


def _json_values(column: pd.Series) -> pa.Array:
    """Each value of ``column`` as JSON text (``null`` where missing)."""
    if not _is_text(column):
        values = column.astype(object).where(column.notna(), None)
        return pa.array([json.dumps(v, ensure_ascii=False) for v in values], pa.large_string())
    text = _arrow_text(column)
    quoted = _join('"', text, '"', separator="")
    escaped = pc.match_substring_regex(text, _JSON_ESCAPED).fill_null(False)
    if pc.any(escaped).as_py():
        # Rare: quotes, backslashes or control characters; json.dumps escapes those.
        rows = np.flatnonzero(escaped.to_numpy(zero_copy_only=False))
        fixed = [json.dumps(v, ensure_ascii=False) for v in text.take(rows).to_pylist()]
        quoted = pc.replace_with_mask(quoted, escaped, pa.array(fixed, pa.large_string()))
    return quoted.fill_null("null")


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
