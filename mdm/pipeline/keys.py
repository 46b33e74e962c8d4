"""Match keys (the standardized form matching compares) stored with each record version.

Computed once when a version is written, so a nightly delta standardizes only what changed.
Stamped with ``KEYS_VERSION``: when standardization changes, stored keys are recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.matching.standardize import match_frame
from mdm.schema import Entity, attribute_names
from mdm.store import io as store_io

KEYS_VERSION = 1
VERSION_FIELD = "_v"


def region_of(project: Project, sources: pd.Series) -> pd.Series:
    """Each record's default phone region: its source's ``default_region``."""
    regions = {source.name: source.default_region for source in project.spec.sources}
    return sources.map(regions).fillna("US").astype(str)


def compute_keys(entity: Entity, raw: pd.DataFrame, region: pd.Series) -> pd.DataFrame:
    names = attribute_names(entity)
    return match_frame(entity, raw.reindex(columns=names).astype("string"), region)[names]


def keys_json(keys: pd.DataFrame) -> list[str]:
    values = keys.astype(object).where(keys.notna(), None)
    columns = list(keys.columns)
    return [
        json.dumps({VERSION_FIELD: KEYS_VERSION, **dict(zip(columns, row, strict=True))})
        for row in values.itertuples(index=False, name=None)
    ]


def live_keys(connection: Connection, project: Project, entity: Entity) -> pd.DataFrame:
    """record_id, source, source_key and the match keys of every live record of an entity.

    Keys missing or stamped by another version are computed now and stored.
    """
    return parsed_keys(
        connection, project, entity, store_io.live_match_keys(connection, str(entity))
    )


def keys_of(
    connection: Connection, project: Project, entity: Entity, record_ids: Sequence[int]
) -> pd.DataFrame:
    """``live_keys`` of the given records only (those that are live), by record id."""
    found = store_io.live_match_keys_of(connection, str(entity), record_ids)
    return parsed_keys(connection, project, entity, found)


def parsed_keys(
    connection: Connection, project: Project, entity: Entity, live: pd.DataFrame
) -> pd.DataFrame:
    names = attribute_names(entity)
    # One parse of one JSON array is much faster than a parse per record.
    parsed = json.loads("[" + ",".join(text or "{}" for text in live["match_keys"]) + "]")
    frame = pd.DataFrame.from_records(parsed, index=live.index, columns=[*names, VERSION_FIELD])
    stale = frame[VERSION_FIELD].ne(KEYS_VERSION).to_numpy(dtype=bool)
    keys = frame[names].astype("string")
    if stale.any():
        keys = _refresh(connection, project, entity, live, keys, pd.Series(stale, index=live.index))
    return pd.concat([live[["record_id", "source", "source_key"]], keys], axis=1)


def _refresh(
    connection: Connection,
    project: Project,
    entity: Entity,
    live: pd.DataFrame,
    keys: pd.DataFrame,
    stale: pd.Series,
) -> pd.DataFrame:
    ids = live.loc[stale, "record_id"].astype(int).tolist()
    records = store_io.records_in(connection, ids).set_index("record_id").loc[ids]
    raw = pd.DataFrame(
        [json.loads(text) for text in records["attributes"]], index=live.index[stale]
    )
    fresh = compute_keys(entity, raw, region_of(project, live.loc[stale, "source"]))
    store_io.set_match_keys(connection, ids, keys_json(fresh))
    keys = keys.copy()
    keys.loc[stale] = fresh
    return keys
