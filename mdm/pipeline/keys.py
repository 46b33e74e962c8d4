"""Match keys (the standardized form matching compares) stored with each record version.

Computed once when a version is written, so a nightly delta standardizes only what changed.
Stamped with ``KEYS_VERSION``: when standardization changes, stored keys are recomputed and
stored here (the pure part, shared with the read models, is ``mdm.match_keys``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection

from mdm.config.specs import Project
from mdm.match_keys import KEYS_VERSION as KEYS_VERSION
from mdm.match_keys import VERSION_FIELD as VERSION_FIELD
from mdm.match_keys import compute_keys as compute_keys
from mdm.match_keys import forms_json, forms_of_attributes, parse_keys
from mdm.match_keys import region_of as region_of
from mdm.schema import Entity
from mdm.store import records


def live_keys(connection: Connection, project: Project, entity: Entity) -> pd.DataFrame:
    """record_id, source, source_key and the match keys of every live record of an entity.

    Keys missing or stamped by another version are computed now and stored.
    """
    return parsed_keys(connection, project, entity, records.live_match_keys(connection, entity))


def keys_of(
    connection: Connection, project: Project, entity: Entity, record_ids: Sequence[int]
) -> pd.DataFrame:
    """``live_keys`` of the given records only (those that are live), by record id."""
    found = records.live_match_keys_of(connection, entity, record_ids)
    return parsed_keys(connection, project, entity, found)


def parsed_keys(
    connection: Connection, project: Project, entity: Entity, live: pd.DataFrame
) -> pd.DataFrame:
    keys, stale = parse_keys(entity, live["match_keys"])
    if stale.any():
        keys = _refresh(connection, project, entity, live, keys, stale)
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
    stored = records.records_in(connection, ids).set_index("record_id").loc[ids]
    attributes = pd.Series(stored["attributes"].to_numpy(), index=live.index[stale])
    region = region_of(project, live.loc[stale, "source"])
    fresh, clean = forms_of_attributes(entity, attributes, region)
    records.set_match_keys(connection, ids, forms_json(fresh, clean).tolist())
    keys = keys.copy()
    keys.loc[stale] = fresh
    return keys
