"""The record-key index: what a nightly delta looks up instead of reading the whole master.

Each live record has keys (``record_key`` rows, a 64-bit hash of each key's text):

* ``l``: one per record, so that every indexed record has a row;
* ``b``: its blocking keys (``mdm.matching.block.block_key_texts``): the records that share one
  with a changed record are that record's candidate partners;
* accounts ``n`` and ``d``: the name and the domain, to attach contacts by company name or
  email domain; contacts ``r``: the account record their account key refers to.

``key_count`` holds how many live records have each of those keys (a block's size, read by key)
and each ``t`` key: the value of each term-frequency adjusted comparison, and one per comparison
for "has a value". ``t`` keys are only counted, never looked up, so they have no rows: their
counts give the population's value shares, as a full run computes them.

A full run rebuilds both tables. A delta run re-indexes the records of its scope (their keys,
account ids included, are computed anyway), drops the keys of versions it replaced, and adjusts
the counts by the difference and by the term-frequency keys of the versions that came and went.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm.config import MatchSpec
from mdm.config.specs import Project
from mdm.matching.block import block_key_texts

# The key texts, their hashes and the reads by key live in mdm.record_keys (the read models
# share them); they are named here too, as the index's vocabulary.
from mdm.record_keys import SEPARATOR as SEPARATOR
from mdm.record_keys import KeyKind as KeyKind
from mdm.record_keys import account_sources as account_sources
from mdm.record_keys import frequencies as frequencies
from mdm.record_keys import hashed as hashed
from mdm.record_keys import key_text as key_text
from mdm.record_keys import lookup_golden as lookup_golden
from mdm.record_keys import term_frequency_comparisons
from mdm.record_keys import value_texts as value_texts
from mdm.schema import Entity
from mdm.store import record_index, records

# Part of the resolution basis: a store indexed by another version resolves everything once.
INDEX_VERSION: Final = 3  # the match keys of KEYS_VERSION: 2 US ZIP codes, 3 company names


BLOCK_PREFIX: Final = key_text(KeyKind.BLOCK) + SEPARATOR


def index_rows(project: Project, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
    """record_id, key of the lookup keys of the records of ``frame`` (the match input:
    record_id, source, the match keys and, for contacts, account_id): what ``record_key``
    holds. Every record has at least its ``LIVE`` key."""
    return _rows(lookup_texts(project, entity, frame))


def frequency_rows(project: Project, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
    """record_id, key of the term-frequency keys of the records of ``frame``: only counted
    (``key_count``), never looked up, so not kept per record."""
    frame = frame.reset_index(drop=True)
    texts = _frequency_texts(frame, project.rules.match[entity])
    if not texts:
        return pd.DataFrame(
            {"record_id": pd.Series(dtype="int64"), "key": pd.Series(dtype="int64")}
        )
    return _rows(pd.concat(texts, ignore_index=True))


def _rows(texts: pd.DataFrame) -> pd.DataFrame:
    rows = pd.DataFrame(
        {"record_id": texts["record_id"].to_numpy(dtype="int64"), "key": hashed(texts["text"])}
    )
    return rows.drop_duplicates(ignore_index=True)


def lookup_texts(project: Project, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    spec = project.rules.match[entity]
    ids = frame["record_id"].to_numpy(dtype="int64")
    live = pd.DataFrame({"record_id": ids, "text": key_text(KeyKind.LIVE)})
    parts = [live, _block_texts(frame, spec, ids)]
    if entity is Entity.ACCOUNT:
        parts += [
            _value_texts(frame, "name", KeyKind.NAME),
            _value_texts(frame, "domain", KeyKind.DOMAIN),
        ]
    else:
        parts.append(_reference_texts(project, frame))
    return pd.concat(parts, ignore_index=True)


def _block_texts(frame: pd.DataFrame, spec: MatchSpec, ids: npt.NDArray[np.int64]) -> pd.DataFrame:
    texts = block_texts(frame, spec)
    return pd.DataFrame(
        {"record_id": ids[texts["row"].to_numpy(dtype="int64")], "text": texts["text"].to_numpy()}
    )


def block_texts(frame: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
    """row, text of the blocking keys of the rows of ``frame`` (the match input), as indexed."""
    keys = block_key_texts(frame, spec)
    return pd.DataFrame({"row": keys["row"], "text": BLOCK_PREFIX + keys["key"].astype(object)})


def _frequency_texts(frame: pd.DataFrame, spec: MatchSpec) -> list[pd.DataFrame]:
    ids = frame["record_id"].to_numpy(dtype="int64")
    out = []
    for comparison in term_frequency_comparisons(spec, frame):
        column = frame[comparison.field]
        present = column.notna().to_numpy(dtype=bool)
        values = column[present].astype(str).to_numpy(dtype=object)
        name = key_text(KeyKind.FREQUENCY, comparison.key)
        out.append(
            pd.DataFrame(
                {
                    "record_id": np.r_[ids[present], ids[present]],
                    "text": np.r_[name + SEPARATOR + values, np.full(len(values), name, object)],
                }
            )
        )
    return out


def _value_texts(frame: pd.DataFrame, column: str, kind: KeyKind) -> pd.DataFrame:
    present = frame.dropna(subset=[column])
    return pd.DataFrame(
        {
            "record_id": present["record_id"].to_numpy(),
            "text": (key_text(kind) + SEPARATOR + present[column].astype(str)).to_numpy(),
        }
    )


def _reference_texts(project: Project, frame: pd.DataFrame) -> pd.DataFrame:
    refers = frame.assign(account_source=frame["source"].map(account_sources(project)))
    refers = refers.dropna(subset=["account_source", "account_key"])
    return pd.DataFrame(
        {
            "record_id": refers["record_id"].to_numpy(),
            "text": reference_texts(refers["account_source"], refers["account_key"]),
        }
    )


def reference_texts(sources: pd.Series, keys: pd.Series) -> npt.NDArray[np.object_]:
    prefix = key_text(KeyKind.REFERENCE) + SEPARATOR
    return (prefix + sources.astype(str) + SEPARATOR + keys.astype(str)).to_numpy(dtype=object)


# ---- lookups ---------------------------------------------------------------------------------


def lookup(
    connection: Connection, entity: Entity, texts: pd.Series | npt.NDArray[np.object_]
) -> pd.DataFrame:
    """text, record_id of every live record that has one of the key ``texts``."""
    distinct = pd.unique(pd.Series(texts, dtype=object).dropna())
    if not len(distinct):
        return pd.DataFrame(
            {"text": pd.Series(dtype=object), "record_id": pd.Series(dtype="int64")}
        )
    text_of = pd.Series(distinct, index=hashed(distinct))
    text_of = text_of[~text_of.index.duplicated()]
    found = record_index.records_with_keys(connection, entity, text_of.index.tolist())
    return pd.DataFrame(
        {
            "text": text_of.reindex(found["key"].to_numpy()).to_numpy(),
            "record_id": found["record_id"].to_numpy(dtype="int64"),
        }
    )


def live_count(connection: Connection, entity: Entity) -> int:
    """The entity's live records: the count of the key every indexed record has."""
    live = hashed([key_text(KeyKind.LIVE)]).tolist()
    return int(record_index.key_counts(connection, entity, live).sum())


def reindex(
    connection: Connection,
    project: Project,
    entity: Entity,
    frame: pd.DataFrame,
    dropped: Iterable[int] = (),
) -> npt.NDArray[np.int64]:
    """Index the records of ``frame`` as they are now, and drop the keys of the ``dropped``
    record ids (versions replaced or deleted): only the difference is written, and the counts
    change by it. The term-frequency counts change by the versions that came and went.

    Returns the blocking keys of ``frame``'s records: their candidate partners share one."""
    frame_ids = frame["record_id"].astype("int64")
    ids = [*frame_ids.tolist(), *dropped]
    if not ids:
        return np.empty(0, dtype=np.int64)
    before = record_index.record_keys_of(connection, ids)
    texts = lookup_texts(project, entity, frame)
    keys = hashed(texts["text"])  # once: the rows to index and the blocks to search by
    after = pd.DataFrame(
        {"record_id": texts["record_id"].to_numpy(dtype="int64"), "key": keys}
    ).drop_duplicates(ignore_index=True)
    both = before.merge(after, how="outer", indicator=True)
    gone = both.loc[both["_merge"] == "left_only", ["record_id", "key"]]
    new = both.loc[both["_merge"] == "right_only", ["record_id", "key"]]
    indexed = set(before["record_id"].tolist())
    went = sorted(indexed - set(frame_ids.tolist()))
    # Records no longer indexed lose every key at once; the others key by key.
    record_index.delete_record_keys_of(connection, went)
    record_index.delete_record_key_rows(connection, gone[~gone["record_id"].isin(went)])
    record_index.insert_record_keys(connection, entity, new)
    came = frame[~frame_ids.isin(indexed).to_numpy()]
    counted = [
        new,
        frequency_rows(project, entity, came),
        gone.assign(sign=-1),
        frequency_rows(project, entity, _versions(connection, project, entity, went)).assign(
            sign=-1
        ),
    ]
    change = pd.concat(counted, ignore_index=True).fillna({"sign": 1})
    record_index.add_key_counts(
        connection, entity, change.groupby("key")["sign"].sum().astype("int64")
    )
    return np.unique(keys[texts["text"].str.startswith(BLOCK_PREFIX).to_numpy(dtype=bool)])


def _versions(
    connection: Connection, project: Project, entity: Entity, record_ids: list[int]
) -> pd.DataFrame:
    """The match keys of the given record versions, current or not."""
    from mdm.pipeline.keys import parsed_keys

    return parsed_keys(
        connection, project, entity, records.match_keys_of_versions(connection, record_ids)
    )


def rebuild(connection: Connection, project: Project, entity: Entity, frame: pd.DataFrame) -> None:
    """The entity's whole index and counts, from the match input of every live record."""
    rows = index_rows(project, entity, frame)
    counted = pd.concat([rows, frequency_rows(project, entity, frame)], ignore_index=True)
    record_index.replace_record_keys(connection, entity, rows, counted.groupby("key").size())
