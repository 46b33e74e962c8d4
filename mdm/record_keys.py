"""The record-key index read by key: what the pipeline and the read models look up in it.

Each key of a live record is a text (its kind, then its parts, joined by ``SEPARATOR``) kept as
a 64-bit hash (``hashed``) in ``record_key`` and counted in ``key_count``; the pipeline builds
them (``mdm.pipeline.index``). Here are the key texts and hashes, and the reads by key: the
golden ids of the records that have a key, a value's share of the population (term
frequencies), and the golden account a contact names. None of them writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm.config import MatchSpec
from mdm.config.match_spec import ComparisonSpec
from mdm.config.specs import Project
from mdm.schema import Entity, Kind
from mdm.standardize import match_values
from mdm.standardize.email_address import FREE_MAIL_DOMAINS
from mdm.standardize.vectorized import match_value
from mdm.store import golden, record_index

SEPARATOR: Final = "\x1f"
KEYS = ["source", "source_key"]


class KeyKind(StrEnum):
    LIVE = "l"  # every live record: a record indexed once is never taken for a new one
    BLOCK = "b"
    FREQUENCY = "t"
    NAME = "n"
    DOMAIN = "d"
    REFERENCE = "r"
    ACCOUNT = "a"  # contacts: the golden account matching took as evidence (``account_id``)


def key_text(kind: KeyKind, *parts: str) -> str:
    return SEPARATOR.join([kind.value, *parts])


def hashed(texts: Iterable[str]) -> npt.NDArray[np.int64]:
    """64-bit hashes of key texts (pandas' stable hash: the same on every machine and run)."""
    # Whole arrays at once: iterating an Arrow-backed column value by value is slow.
    if isinstance(texts, pd.Series | pd.Index):
        array = texts.to_numpy(dtype=object)
    elif isinstance(texts, np.ndarray):
        array = texts.astype(object)
    else:
        array = np.asarray(list(texts), dtype=object)
    if not len(array):
        return np.empty(0, dtype=np.int64)
    # Each text hashed as it is, not first factorized (``categorize``): the same hashes, several
    # times faster on key texts. Only a missing value hashes otherwise uncategorized.
    categorize = bool(pd.isna(array).any())
    return np.asarray(pd.util.hash_array(array, categorize=categorize), dtype=np.uint64).view(
        np.int64
    )


def value_texts(kind: KeyKind, values: pd.Series) -> npt.NDArray[np.object_]:
    present = values.dropna().astype(str)
    return (key_text(kind) + SEPARATOR + present).to_numpy(dtype=object)


def term_frequency_comparisons(spec: MatchSpec, frame: pd.DataFrame) -> list[ComparisonSpec]:
    """The term-frequency adjusted comparisons of ``spec`` whose field ``frame`` has."""
    return [c for c in spec.comparisons if c.tf_adjust and c.field in frame.columns]


def account_sources(project: Project) -> dict[str, str]:
    """Contact source -> the account source its account keys refer to."""
    return {s.name: s.account_source for s in project.spec.sources if s.account_source}


# ---- reads by key --------------------------------------------------------------------------


def lookup_golden(
    connection: Connection, entity: Entity, texts: pd.Series | npt.NDArray[np.object_]
) -> pd.DataFrame:
    """text, golden_id of every live record that has one of the key ``texts``."""
    text_of = _texts_by_hash(texts)
    found = record_index.golden_ids_with_keys(connection, entity, text_of.index.tolist())
    return pd.DataFrame(
        {
            "text": text_of.reindex(found["key"].to_numpy()).to_numpy(),
            "golden_id": found["golden_id"].to_numpy(dtype=object),
        }
    )


def _texts_by_hash(texts: pd.Series | npt.NDArray[np.object_]) -> pd.Series:
    """The distinct key ``texts`` by their hash (a text whose hash an earlier one has is left
    out)."""
    distinct = pd.unique(pd.Series(texts, dtype=object).dropna())
    text_of = pd.Series(distinct, index=hashed(distinct))
    return text_of[~text_of.index.duplicated()]


# Value shares move in steps of a quarter bit: a value's count and its comparison's population
# (the records with a value) are each rounded to the nearest power of 2 ** (1 / 4). A value's
# weight then changes only when its count or population reaches another step, so a delta knows
# exactly which unchanged records' scores moved (those sharing a value whose count did; when a
# population did, every score of the entity: it is recomputed in full). Below 9 every count is a
# step of its own; the rounding is at most an eighth of a bit.
STEPS_PER_BIT: Final = 4


def on_grid(counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Counts rounded to the nearest step (a power of 2 ** (1 / STEPS_PER_BIT)); 0 stays 0."""
    values = np.asarray(counts, dtype=np.float64)
    out = np.zeros(values.shape, dtype=np.float64)
    positive = values > 0
    out[positive] = np.exp2(np.round(np.log2(values[positive]) * STEPS_PER_BIT) / STEPS_PER_BIT)
    return out


def grid_shares(counts: npt.ArrayLike, population: float) -> npt.NDArray[np.float64]:
    """Value shares from value counts and their population, both on the grid of steps."""
    return on_grid(counts) / max(float(on_grid([population])[0]), 1.0)


def frequencies_of(records: pd.DataFrame, spec: MatchSpec) -> dict[str, pd.Series]:
    """Per term-frequency adjusted comparison, the share of each value among ``records`` (the
    whole population, in match form): value -> share, on the grid of steps."""
    out: dict[str, pd.Series] = {}
    for comparison in term_frequency_comparisons(spec, records):
        values = records[comparison.field].dropna().astype(str)
        counts = values.value_counts(sort=False)
        shares = grid_shares(counts.to_numpy(dtype=np.float64), len(values))
        out[comparison.key] = pd.Series(shares, index=counts.index.astype("string"))
    return out


def frequencies(
    connection: Connection, entity: Entity, spec: MatchSpec, records: pd.DataFrame
) -> dict[str, pd.Series]:
    """Per term-frequency adjusted comparison, the population share of each value ``records``
    hold (value -> share, on the grid of steps), counted in the index: what a full run's value
    shares would be (``frequencies_of`` all records)."""
    asked: dict[str, tuple[pd.Index, npt.NDArray[np.int64], int]] = {}
    for comparison in term_frequency_comparisons(spec, records):
        values = pd.Index(pd.unique(records[comparison.field].dropna().astype(str)))
        name = key_text(KeyKind.FREQUENCY, comparison.key)
        keys = hashed(name + SEPARATOR + values.to_numpy(dtype=object))
        asked[comparison.key] = (values, keys, int(hashed([name])[0]))
    wanted = [key for _, keys, total in asked.values() for key in [*keys.tolist(), total]]
    counts = record_index.key_counts(connection, entity, wanted)
    out: dict[str, pd.Series] = {}
    for name, (values, keys, total) in asked.items():
        population = float(counts.get(total, 0))
        shares = grid_shares(counts.reindex(keys).fillna(0).to_numpy(dtype=np.float64), population)
        out[name] = pd.Series(shares, index=values.astype("string"))
    return out


# ---- the golden account a contact names ----------------------------------------------------


def account_ids(connection: Connection, project: Project, records: pd.DataFrame) -> pd.Series:
    """Each contact's golden account as matching evidence: the one its own account key points
    to; else the one golden account whose name is the contact's company name; else the one
    whose website domain is the contact's work email domain (a lead's business card)."""
    referred = referred_accounts(project, records)
    xref = golden.xref_of_keys(connection, Entity.ACCOUNT, referred.dropna())
    by_key = xref.set_index(KEYS)["golden_id"]
    found_ids = by_key.reindex(pd.MultiIndex.from_frame(referred.astype(object))).to_numpy()
    found = pd.Series(found_ids, index=records.index, dtype="string")
    companies = records["company"].where(found.isna().to_numpy())  # only where the key found none
    by_name = _account_by_name(connection, companies)
    found = found.fillna(companies.map(by_name).astype("string"))
    if "email" not in records.columns:
        return found
    # Standardized only where neither the key nor the name found the account.
    domains = work_email_domains(records["email"].where(found.isna().to_numpy()))
    by_domain = _account_by(connection, KeyKind.DOMAIN, domains)
    return found.fillna(domains.map(by_domain).astype("string"))


def work_email_domains(emails: pd.Series) -> pd.Series:
    """The registrable domain of each email address, NA at a mailbox provider (gmail.com)."""
    domains = match_values(Kind.DOMAIN, emails)
    # Looked up as Python strings: an Arrow string column's isin converts the set on every
    # call (about 20 ms for the mailbox providers), a hash table of objects does not.
    return domains.mask(domains.astype(object).isin(FREE_MAIL_DOMAINS).to_numpy(dtype=bool))


def work_email_domain(email: str | None) -> str | None:
    """``work_email_domains`` of one address."""
    domain = match_value(Kind.DOMAIN, email)
    return None if domain is None or domain in FREE_MAIL_DOMAINS else domain


def referred_accounts(project: Project, records: pd.DataFrame) -> pd.DataFrame:
    """source, source_key of the account record each contact's account key names."""
    sources = account_sources(project)
    return pd.DataFrame(
        {"source": records["source"].map(sources), "source_key": records["account_key"]}
    )


def _account_by_name(connection: Connection, companies: pd.Series) -> pd.Series:
    """Company name (match form) -> golden account, for the names only one golden account
    has, among ``companies``."""
    return _account_by(connection, KeyKind.NAME, companies)


def _account_by(connection: Connection, kind: KeyKind, values: pd.Series) -> pd.Series:
    """Value (match form) -> golden account, for the names or domains (``kind``) that only one
    golden account has, among ``values``."""
    text_of = _texts_by_hash(value_texts(kind, values))
    found = record_index.sole_golden_ids_with_keys(
        connection, Entity.ACCOUNT, text_of.index.tolist()
    )
    prefix = len(key_text(kind) + SEPARATOR)
    owned = text_of.reindex(found["key"].to_numpy()).str.slice(prefix).to_numpy()
    return pd.Series(found["golden_id"].to_numpy(dtype=object), index=owned, dtype=object)


def accounts_with(connection: Connection, kind: KeyKind, values: pd.Series) -> pd.DataFrame:
    """value, golden_id of the live account records whose name or domain (``kind``) is one of
    ``values`` (match form), found in the index."""
    found = lookup_golden(connection, Entity.ACCOUNT, value_texts(kind, values))
    prefix = len(key_text(kind) + SEPARATOR)
    return pd.DataFrame({"value": found["text"].str.slice(prefix), "golden_id": found["golden_id"]})
