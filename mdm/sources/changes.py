"""Change detection: what one load inserts, updates and tombstones in the store.

Pure: the store's current version of each key comes in as a frame, the plan goes out as frames.
A version is identified by a content hash of its attribute values and its deleted flag, so a
rerun of the same extract writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.config.specs import LoadMode
from mdm.sources.validate import BOOKKEEPING_COLUMNS, STRING, UTC_NS

HASH_COLUMN = "content_hash"
_NOT_ATTRIBUTES = frozenset({*BOOKKEEPING_COLUMNS, HASH_COLUMN})


def content_hash(records: pd.DataFrame, attributes: list[str]) -> pd.Series[Any]:
    """A 32-hex-digit digest per row of the attribute values and the deleted flag.

    Built only from text, lengths and hashlib, so it is the same on every platform and pandas
    version. Missing and empty values hash the same.
    """
    # Each value is written as "<length>:<value>", so no choice of values can collide by
    # shifting text across the boundary between two attributes.
    parts = []
    for name in attributes:
        text = records[name].astype(STRING).fillna("")
        parts.append(text.str.len().astype(STRING) + ":" + text)
    flags = np.where(records["deleted"].astype(bool).to_numpy(), "deleted", "live")
    parts.append(pd.Series(flags, index=records.index, dtype=STRING))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    digests = [
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        for text in joined.tolist()
    ]
    return pd.Series(digests, index=records.index, dtype=STRING, name=HASH_COLUMN)


@dataclass(frozen=True)
class ChangePlan:
    """The writes of one load. Frames have the incoming columns (records plus content_hash)."""

    inserts: pd.DataFrame  # keys without a live current version: new, or back from a tombstone
    updates: pd.DataFrame  # keys whose live current version has another hash
    deletes: pd.DataFrame  # tombstones (deleted=True); row_number is NA for absent keys
    unchanged: int  # incoming rows that write nothing
    live: int  # live current versions the plan was made against
    live_deleted: int  # of those, how many the deletes tombstone (absent or flagged deleted)
    kept: int  # live keys whose row was quarantined: their current version stays as it is
    held_back: int  # live keys absent from a full extract, left live (``hold_absent``)


def plan_changes(
    incoming: pd.DataFrame,
    current: pd.DataFrame,
    mode: LoadMode,
    *,
    quarantined: Collection[str] = frozenset(),
    hold_absent: bool = False,
) -> ChangePlan:
    """Upsert ``incoming`` (records plus content_hash) over ``current`` (the store's versions).

    ``current`` has one row per key: source_key, content_hash, deleted, and optionally the
    attribute columns, which tombstones for keys absent from a full extract then copy.
    ``quarantined`` are keys of rows that could not be loaded: absent from ``incoming``, but
    not gone, so a full extract does not tombstone them. ``hold_absent`` tombstones no absent
    key at all: a quarantined row without a readable key may be any of them.
    """
    _require_unique(incoming, "incoming")
    _require_unique(current, "current")
    keys = incoming["source_key"].astype(STRING)
    live = current[~current["deleted"].astype(bool).to_numpy()]
    live_keys = live["source_key"].astype(STRING)

    state = pd.DataFrame({"source_key": keys, "hash": incoming[HASH_COLUMN].astype(STRING)})
    known = pd.DataFrame({"source_key": live_keys, "live_hash": live[HASH_COLUMN].astype(STRING)})
    merged = state.merge(known, on="source_key", how="left", indicator=True)
    is_live = (merged["_merge"] == "both").to_numpy()
    changed = (merged["hash"] != merged["live_hash"]).fillna(True).to_numpy(dtype=bool)
    flagged = incoming["deleted"].astype(bool).to_numpy()
    # A key first seen already deleted is recorded as a tombstone: what a source said is kept.
    unseen = ~keys_among(keys, current["source_key"])
    missing = ~keys_among(live_keys, keys)
    kept = missing & keys_among(live_keys, list(quarantined))

    deletes = [_with_nullable_rows(incoming[flagged & (is_live | unseen)])]
    absent = missing & ~kept if mode is LoadMode.FULL else np.zeros(len(live), dtype=bool)
    held_back = int(absent.sum()) if hold_absent else 0
    if absent.any() and not hold_absent:
        deletes.append(_tombstones(live[absent], incoming))
    return ChangePlan(
        inserts=incoming[~flagged & ~is_live].reset_index(drop=True),
        updates=incoming[~flagged & is_live & changed].reset_index(drop=True),
        deletes=_concat(deletes, _with_nullable_rows(incoming.iloc[0:0])),
        unchanged=int((~flagged & is_live & ~changed).sum() + (flagged & ~is_live & ~unseen).sum()),
        live=len(live),
        live_deleted=int((flagged & is_live).sum() + absent.sum()) - held_back,
        kept=int(kept.sum()),
        held_back=held_back,
    )


def keys_among(keys: pd.Series, values: pd.Series | list[str]) -> npt.NDArray[np.bool_]:
    """Whether each key is one of ``values`` (a missing key: whether a value is missing).
    By Arrow over whole columns: pandas' ``isin`` on Arrow-backed text makes a scalar of each
    value first, seconds for the keys of a large extract."""
    needle = pa.array(keys.astype(STRING), from_pandas=True).cast(pa.large_string())
    haystack = pa.array(pd.Series(values, dtype=STRING), from_pandas=True)
    found = pc.is_in(needle, value_set=haystack.cast(pa.large_string()), skip_nulls=False)
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _require_unique(frame: pd.DataFrame, name: str) -> None:
    # A programming error, not a user's: validation quarantines repeated keys before this.
    repeated = frame["source_key"][frame["source_key"].duplicated()]
    if not repeated.empty:
        raise ValueError(f"{name} repeats source keys: {', '.join(map(str, repeated[:5]))}")


def _with_nullable_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"row_number": "Int64"})


def _tombstones(absent: pd.DataFrame, incoming: pd.DataFrame) -> pd.DataFrame:
    """Tombstones for live keys a full extract no longer has: the last values, deleted."""
    attributes = [c for c in incoming.columns if c not in _NOT_ATTRIBUTES]
    count = len(absent)
    columns: dict[str, Any] = {
        "source_key": pd.array(absent["source_key"].tolist(), dtype=STRING),
        "row_number": pd.array([None] * count, dtype="Int64"),
        "last_modified": pd.array([pd.NaT] * count, dtype=UTC_NS),
        "deleted": np.ones(count, dtype=bool),
    }
    for name in attributes:
        values = absent[name].tolist() if name in absent.columns else [None] * count
        columns[name] = pd.array(values, dtype=STRING)
    tombstones = pd.DataFrame(columns)
    tombstones[HASH_COLUMN] = content_hash(tombstones, attributes)
    return tombstones[list(incoming.columns)]


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    found = [frame for frame in frames if not frame.empty]
    if not found:
        return empty.reset_index(drop=True)
    return pd.concat(found, ignore_index=True)
