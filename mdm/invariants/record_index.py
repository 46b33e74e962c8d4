"""6. Record index: ``record_key`` and ``key_count`` hold what a full rebuild would write."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.invariants.found import EXAMPLES, REBUILD_HINT, Found, Invariant, Violation, record_ref
from mdm.invariants.tables import Tables, rows_of
from mdm.pipeline import index
from mdm.pipeline.keys import KEYS_VERSION, VERSION_FIELD, compute_keys, region_of
from mdm.pipeline.match_input import account_ids
from mdm.schema import Entity, attribute_names
from mdm.store import records
from mdm.store.tables import KeyCount, RecordKey


def check_record_index(connection: Connection, project: Project, read: Tables) -> list[Violation]:
    """The rows and counts a full rebuild would write, computed here without writing, against
    those in the store."""
    found = Found(Invariant.RECORD_INDEX, read.entity)
    frame = _match_input(connection, project, read)
    rows = index.index_rows(project, read.entity, frame)
    frequency = index.frequency_rows(project, read.entity, frame)
    expected = pd.concat([rows, frequency], ignore_index=True).groupby("key").size()
    stored = rows_of(connection, RecordKey, read.entity, "record_id", "key")
    counts = rows_of(connection, KeyCount, read.entity, "key")
    names = read.records.set_index("id")[["source", "source_key"]]
    _row_differences(found, rows, stored[["record_id", "key"]].astype("int64"), names)
    _count_differences(found, expected, counts.set_index("key")["records"])
    return found.violations


def _match_input(connection: Connection, project: Project, read: Tables) -> pd.DataFrame:
    """The match input of the records the index holds: the live ones, and for keys loaded
    since the last resolution, the version that resolution indexed."""
    current = read.current
    settled = current[~current["pending"] & ~current["deleted"]]
    waiting = read.xref.merge(current.loc[current["pending"], ["source", "source_key"]])
    ids = sorted({*settled["id"].tolist(), *waiting["record_id"].tolist()})
    keys = _match_keys(connection, project, read.entity, ids)
    frame = keys[["source", *attribute_names(read.entity)]].assign(
        record_id=keys["record_id"].astype("int64").to_numpy()
    )
    if read.entity is Entity.CONTACT:
        frame["account_id"] = account_ids(connection, project, keys).to_numpy()
    return frame.reset_index(drop=True)


def _match_keys(
    connection: Connection, project: Project, entity: Entity, record_ids: list[int]
) -> pd.DataFrame:
    """record_id, source, source_key and match keys of the given versions; keys stored by an
    older standardization are computed again here (and not stored: a check does not write)."""
    found = records.match_keys_of_versions(connection, record_ids)
    names = attribute_names(entity)
    parsed = [json.loads(text) if text else {} for text in found["match_keys"]]
    keys = pd.DataFrame.from_records(parsed, index=found.index, columns=[*names, VERSION_FIELD])
    stale = keys[VERSION_FIELD].ne(KEYS_VERSION).to_numpy(dtype=bool)
    keys = keys[names].astype("string")
    if stale.any():
        ids = found.loc[stale, "record_id"].astype("int64").tolist()
        stored = records.records_in(connection, ids).set_index("record_id").loc[ids]
        raw = pd.DataFrame(
            [json.loads(text) for text in stored["attributes"]], index=found.index[stale]
        )
        keys.loc[stale] = compute_keys(entity, raw, region_of(project, found.loc[stale, "source"]))
    return pd.concat([found[["record_id", "source", "source_key"]], keys], axis=1)


def _row_differences(
    found: Found, expected: pd.DataFrame, stored: pd.DataFrame, names: pd.DataFrame
) -> None:
    both = expected.merge(stored, how="outer", indicator=True)
    differ = both[both["_merge"].astype(str) != "both"]
    for record_id, rows in differ.groupby("record_id", sort=True):
        side = rows["_merge"].astype(str)
        missing, extra = int(side.eq("left_only").sum()), int(side.eq("right_only").sum())
        name = (
            record_ref(*names.loc[record_id, ["source", "source_key"]])
            if record_id in names.index
            else "an unknown record"
        )
        wrong = [
            *([f"lacks {missing} of its keys"] if missing else []),
            *([f"holds {extra} keys a rebuild would not write"] if extra else []),
        ]
        found.add(
            [name],
            f"The {found.entity} index {' and '.join(wrong)} for {name} (record {record_id}); "
            f"{REBUILD_HINT}.",
        )


def _count_differences(found: Found, expected: pd.Series, stored: pd.Series) -> None:
    stored = pd.Series(stored.to_numpy(dtype="int64"), index=stored.index.astype("int64"))
    keys = expected.index.union(stored.index)
    want = expected.reindex(keys).fillna(0).astype("int64")
    have = stored.reindex(keys).fillna(0).astype("int64")
    wrong = keys[want.to_numpy() != have.to_numpy()].tolist()
    if wrong:
        examples = ", ".join(
            f"key {key}: {have[key]}, a rebuild counts {want[key]}" for key in wrong[:EXAMPLES]
        )
        found.add(
            wrong,
            f"The {found.entity} key counts differ from a rebuild's for {len(wrong)} keys "
            f"({examples}); {REBUILD_HINT}.",
        )
