"""The record-key index: what a nightly delta looks up instead of reading the whole master.

Each live record has keys (``record_key`` rows, a 64-bit hash of each key's text):

* ``l``: one per record, so that every indexed record has a row;
* ``b``: its blocking keys (``mdm.matching.block.block_key_texts``): the records that share one
  with a changed record are that record's candidate partners;
* accounts ``n`` and ``d``: the name and the domain, to attach contacts by company name or
  email domain; contacts ``r``: the account record their account key refers to, ``n`` and
  ``d``: their company name and email domain (an account's name or domain, so the contacts an
  account change may concern are found by the account's own keys), and ``a``: the golden
  account matching took as their evidence (``account_id``), so a delta sees which contacts'
  evidence an account merge or split changed.

* ``t``: the value of each term-frequency adjusted comparison: the records that share a value
  whose share moved are found by it.

``key_count`` holds how many live records have each of those keys (a block's size, a value's
count, read by key) and, per term-frequency adjusted comparison, a ``t`` key for "has a value",
only counted (it has no rows): the counts give the population's value shares, as a full run
computes them (``mdm.record_keys.frequencies``).

A full run rebuilds both tables. A delta run re-indexes the records of its scope (their keys,
account ids included, are computed anyway), drops the keys of versions it replaced, and adjusts
the counts by the difference and by the "has a value" keys of the versions that came and went;
it returns how the counts changed, so the delta can take in the records whose block or value
share that moved (``mdm.pipeline.scope``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from mdm.record_keys import frequencies_of as frequencies_of
from mdm.record_keys import hashed as hashed
from mdm.record_keys import key_text as key_text
from mdm.record_keys import lookup_golden as lookup_golden
from mdm.record_keys import on_grid as on_grid
from mdm.record_keys import term_frequency_comparisons
from mdm.record_keys import value_texts as value_texts
from mdm.schema import Entity, Kind
from mdm.standardize import match_values
from mdm.store import record_index, records

# Part of the resolution basis: a store indexed by another version resolves everything once.
# The match keys of KEYS_VERSION: 2 US ZIP codes, 3 company names; 4: contacts' company name,
# email domain and account, and each record's term-frequency values, as rows.
INDEX_VERSION: Final = 4
# Records whose key texts a whole rebuild makes at a time (``rebuild``).
REBUILD_PART_RECORDS: Final = 100_000

BLOCK_PREFIX: Final = key_text(KeyKind.BLOCK) + SEPARATOR


def index_rows(project: Project, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
    """record_id, key of the lookup keys of the records of ``frame`` (the match input:
    record_id, source, the match keys and, for contacts, account_id): what ``record_key``
    holds, distinct and in its primary-key order. Every record has at least its ``LIVE``
    key."""
    return _lookup_texts(project, entity, frame).rows()


def frequency_rows(project: Project, entity: Entity, frame: pd.DataFrame) -> pd.DataFrame:
    """record_id, key of the "has a value" keys of the term-frequency adjusted comparisons of
    the records of ``frame``: only counted (``key_count``), never looked up, so not kept per
    record."""
    frame = frame.reset_index(drop=True)
    texts = _frequency_texts(frame, project.rules.match[entity], values=False)
    return KeyTexts.joined(texts).rows()


@dataclass(frozen=True)
class KeyTexts:
    """Key texts of records, as plain arrays: record ``record_ids[i]`` has the key
    ``texts[i]``; ``blocks`` marks the blocking keys."""

    record_ids: npt.NDArray[np.int64]
    texts: npt.NDArray[np.object_]
    blocks: npt.NDArray[np.bool_]

    @staticmethod
    def of(record_ids: npt.ArrayLike, texts: npt.ArrayLike, *, blocks: bool = False) -> KeyTexts:
        ids = np.asarray(record_ids, dtype=np.int64)
        return KeyTexts(ids, np.asarray(texts, dtype=object), np.full(len(ids), blocks))

    @staticmethod
    def joined(parts: Sequence[KeyTexts]) -> KeyTexts:
        if not parts:
            return KeyTexts.of([], [])
        return KeyTexts(
            np.concatenate([part.record_ids for part in parts]),
            np.concatenate([part.texts for part in parts]),
            np.concatenate([part.blocks for part in parts]),
        )

    def keys(self) -> npt.NDArray[np.int64]:
        return hashed(self.texts)

    def rows(self, keys: npt.NDArray[np.int64] | None = None) -> pd.DataFrame:
        """The distinct (record_id, key) rows, in primary-key order (``keys``: the hashes of
        the texts, if made already)."""
        keys = self.keys() if keys is None else keys
        order = np.lexsort((keys, self.record_ids))
        record_ids, keys = self.record_ids[order], keys[order]
        distinct = np.ones(len(order), dtype=bool)
        distinct[1:] = (record_ids[1:] != record_ids[:-1]) | (keys[1:] != keys[:-1])
        return pd.DataFrame({"record_id": record_ids[distinct], "key": keys[distinct]})


def _lookup_texts(project: Project, entity: Entity, frame: pd.DataFrame) -> KeyTexts:
    frame = frame.reset_index(drop=True)
    spec = project.rules.match[entity]
    ids = frame["record_id"].to_numpy(dtype="int64")
    live = KeyTexts.of(ids, np.full(len(ids), key_text(KeyKind.LIVE), dtype=object))
    parts = [live, _block_texts(frame, spec, ids), *_frequency_texts(frame, spec, values=True)]
    if entity is Entity.ACCOUNT:
        parts += [
            _value_texts(ids, frame["name"], KeyKind.NAME),
            _value_texts(ids, frame["domain"], KeyKind.DOMAIN),
        ]
    else:
        parts += [
            _reference_texts(project, frame, ids),
            _value_texts(ids, frame["company"], KeyKind.NAME),
            _value_texts(ids, email_domains(frame["email"]), KeyKind.DOMAIN),
            _value_texts(ids, frame["account_id"], KeyKind.ACCOUNT),
        ]
    return KeyTexts.joined(parts)


def _block_texts(frame: pd.DataFrame, spec: MatchSpec, ids: npt.NDArray[np.int64]) -> KeyTexts:
    keys = block_key_texts(frame, spec)
    rows = keys["row"].to_numpy(dtype="int64")
    return KeyTexts.of(ids[rows], _prefixed(BLOCK_PREFIX, keys["key"]), blocks=True)


def _prefixed(prefix: str, values: pd.Series) -> npt.NDArray[np.object_]:
    """``prefix`` + each of ``values`` (none missing) as text, as Python strings (what is
    hashed): joined as Arrow strings, then made Python strings once."""
    return (prefix + values.astype(str)).to_numpy(dtype=object)


def block_texts(frame: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
    """row, text of the blocking keys of the rows of ``frame`` (the match input), as indexed."""
    keys = block_key_texts(frame, spec)
    return pd.DataFrame({"row": keys["row"], "text": BLOCK_PREFIX + keys["key"].astype(object)})


def oversized_blocks(
    connection: Connection, entity: Entity, spec: MatchSpec, frame: pd.DataFrame
) -> frozenset[str]:
    """The blocking keys (``block_key_texts``) of the records of ``frame`` (the match input)
    that more than ``max_block_size`` live records have: a full run skips those blocks, so a
    delta skips them too, however few of their records it holds."""
    texts = pd.unique(block_texts(frame, spec)["text"])
    if not len(texts):
        return frozenset()
    text_of = pd.Series(texts, index=hashed(texts))
    counts = record_index.key_counts(connection, entity, text_of.index.tolist())
    large = text_of.reindex(counts.index[counts.to_numpy() > spec.max_block_size])
    return frozenset(text[len(BLOCK_PREFIX) :] for text in large.tolist())


def _frequency_texts(frame: pd.DataFrame, spec: MatchSpec, *, values: bool) -> list[KeyTexts]:
    """Per term-frequency adjusted comparison, each record's value key (``values``) or its
    "has a value" key."""
    ids = frame["record_id"].to_numpy(dtype="int64")
    out = []
    for comparison in term_frequency_comparisons(spec, frame):
        column = frame[comparison.field]
        present = column.notna().to_numpy(dtype=bool)
        name = key_text(KeyKind.FREQUENCY, comparison.key)
        if values:
            text = _prefixed(name + SEPARATOR, column[present])
        else:
            text = np.full(int(present.sum()), name, dtype=object)
        out.append(KeyTexts.of(ids[present], text))
    return out


def value_keys(project: Project, entity: Entity, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """The term-frequency value keys of the records of ``frame`` (the match keys)."""
    texts = _frequency_texts(frame.reset_index(drop=True), project.rules.match[entity], values=True)
    return np.unique(KeyTexts.joined(texts).keys())


def population_keys(project: Project, entity: Entity) -> npt.NDArray[np.int64]:
    """The "has a value" key of each term-frequency adjusted comparison: its population."""
    spec = project.rules.match[entity]
    names = [key_text(KeyKind.FREQUENCY, c.key) for c in spec.comparisons if c.tf_adjust]
    return hashed(names)


# A plain address (match form): the domain of its host is the domain of the address.
_PLAIN_EMAIL: Final = r"[a-z0-9._%+\-]+@[a-z0-9.\-]+"


def email_domains(emails: pd.Series) -> pd.Series:
    """The domain (match form) of each email (match form): what attaches a contact to the
    account of that domain.

    An email's domain is its host's (``mdm.standardize.domain``): plain addresses give their
    host, far fewer distinct values to standardize than the addresses; any other as it is."""
    plain = emails.str.fullmatch(_PLAIN_EMAIL).fillna(False).to_numpy(dtype=bool)
    hosts = emails.where(~plain, emails.str.replace(r"^[^@]*@", "", regex=True))
    return match_values(Kind.DOMAIN, hosts)


def _value_texts(ids: npt.NDArray[np.int64], values: pd.Series, kind: KeyKind) -> KeyTexts:
    """The ``kind`` key of each record's value (``values``, in the order of ``ids``)."""
    present = values.notna().to_numpy(dtype=bool)
    return KeyTexts.of(ids[present], _prefixed(key_text(kind) + SEPARATOR, values[present]))


def _reference_texts(project: Project, frame: pd.DataFrame, ids: npt.NDArray[np.int64]) -> KeyTexts:
    sources = frame["source"].map(account_sources(project))
    present = (sources.notna() & frame["account_key"].notna()).to_numpy(dtype=bool)
    texts = reference_texts(sources[present], frame.loc[present, "account_key"])
    return KeyTexts.of(ids[present], texts)


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


@dataclass(frozen=True)
class Reindexed:
    """What a delta's re-indexing changed."""

    blocks: npt.NDArray[np.int64]  # the blocking keys of the re-indexed records
    counts: pd.Series  # key -> by how much its count changed (only keys that changed)
    values: npt.NDArray[np.int64]  # the term-frequency value keys among the records' keys,
    # before and after


def reindex(
    connection: Connection,
    project: Project,
    entity: Entity,
    frame: pd.DataFrame,
    dropped: Iterable[int] = (),
) -> Reindexed:
    """Index the records of ``frame`` as they are now, and drop the keys of the ``dropped``
    record ids (versions replaced or deleted): only the difference is written, and the counts
    change by it. The "has a value" counts change by the versions that came and went.

    Returns the blocking keys of ``frame``'s records (their candidate partners share one) and
    how the counts changed."""
    frame_ids = frame["record_id"].astype("int64")
    ids = [*frame_ids.tolist(), *dropped]
    if not ids:
        nothing = np.empty(0, dtype=np.int64)
        return Reindexed(nothing, pd.Series(dtype="int64"), nothing)
    before = record_index.record_keys_of(connection, ids)
    texts = _lookup_texts(project, entity, frame)
    keys = texts.keys()  # once: the rows to index and the blocks to search by
    after = texts.rows(keys)
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
    left = _versions(connection, project, entity, went)
    counted = [
        new,
        frequency_rows(project, entity, came),
        gone.assign(sign=-1),
        frequency_rows(project, entity, left).assign(sign=-1),
    ]
    change = pd.concat(counted, ignore_index=True).fillna({"sign": 1})
    counts = change.groupby("key")["sign"].sum().astype("int64")
    record_index.add_key_counts(connection, entity, counts)
    return Reindexed(
        blocks=np.unique(keys[texts.blocks]),
        counts=counts[counts != 0],
        values=np.union1d(value_keys(project, entity, frame), value_keys(project, entity, left)),
    )


def versions_of(
    connection: Connection, project: Project, entity: Entity, keys: pd.DataFrame
) -> pd.DataFrame:
    """The match keys of every version of the records ``keys`` (source, source_key) but their
    tombstones (which have none)."""
    from mdm.pipeline.keys import parsed_keys

    ids = records.ids_of_versions(connection, entity, keys)
    found = records.match_keys_of_versions(connection, ids)
    found = found[found["match_keys"].notna()].reset_index(drop=True)
    return parsed_keys(connection, project, entity, found)


def _versions(
    connection: Connection, project: Project, entity: Entity, record_ids: list[int]
) -> pd.DataFrame:
    """The match keys of the given record versions, current or not."""
    from mdm.pipeline.keys import parsed_keys

    return parsed_keys(
        connection, project, entity, records.match_keys_of_versions(connection, record_ids)
    )


def rebuild(connection: Connection, project: Project, entity: Entity, frame: pd.DataFrame) -> None:
    """The entity's whole index and counts, from the match input of every live record.

    The key texts are made for ``REBUILD_PART_RECORDS`` records at a time (a million records
    have tens of millions of them, as Python strings); only their int64 keys are kept."""
    by_record = np.argsort(frame["record_id"].to_numpy(dtype=np.int64), kind="stable")
    row_parts, counted_parts = [], []
    for start in range(0, len(frame), REBUILD_PART_RECORDS):
        # Parts of ascending record ids: their rows, one after another, are in key order.
        part = frame.iloc[by_record[start : start + REBUILD_PART_RECORDS]]
        row_parts.append(index_rows(project, entity, part))
        counted_parts.append(frequency_rows(project, entity, part)["key"].to_numpy(np.int64))
    rows = (
        pd.concat(row_parts, ignore_index=True) if row_parts else index_rows(project, entity, frame)
    )
    counted = np.concatenate([rows["key"].to_numpy(np.int64), *counted_parts])
    keys, records = np.unique(counted, return_counts=True)  # by key
    counts = pd.Series(records.astype(np.int64), index=keys)
    record_index.replace_record_keys(connection, entity, rows, counts)
