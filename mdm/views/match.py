"""Match before create: the golden records a new record would join, read from the record-key
index without loading the master, writing nothing.

The record comes in canonical attributes, or in a source's own columns (mapped, joined and
split as that source's rows are), and is standardized as the pipeline standardizes a new
version. Its candidates are the live records that share one of its blocking keys (the keys
the engine gives, as the nightly index holds them: ``mdm.pipeline.index``), blocks over the
size limit left out as a run leaves them out; only those records are read. The pairs are
scored by the engine with the project's saved model and the population's value shares
(``key_count``), as a nightly delta scores a new record; the golden records of the members
that match or would be reviewed are returned best first, each with the per-field explanation
of its best pair. A contact also gets the golden account it would be attached to (by its
account key, its company name, else its work email domain: ``mdm.relate``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, distinct, func, select

from mdm.config import MatchSpec
from mdm.config.match_spec import Method
from mdm.config.specs import Project, SourceFormat, SourceSpec
from mdm.errors import MdmError, Problem, Reason
from mdm.match_keys import keys_of_attributes, parse_keys, region_of
from mdm.matching.block import record_block_key_texts
from mdm.matching.comparisons import Comparison, comparisons_from_spec
from mdm.matching.decide import Decision
from mdm.matching.explain import explained_levels
from mdm.matching.model import FellegiSunterModel
from mdm.matching.protocol import DEFAULT_ENGINE, engine_named
from mdm.matching.result import LEVEL_PREFIX
from mdm.model_files import load_model
from mdm.record_keys import (
    SEPARATOR,
    KeyKind,
    account_sources,
    grid_shares,
    hashed,
    key_text,
    referred_accounts,
    term_frequency_comparisons,
    work_email_domain,
)
from mdm.schema import Entity, attribute_names
from mdm.sources.validate import MAX_VALUE_CHARS, value_text
from mdm.standardize.full_name import NAME_PARTS, split_full_name
from mdm.standardize.vectorized import record_forms
from mdm.store import records
from mdm.store.bulk import chunks, table_of
from mdm.store.tables import GOLDEN_TABLES, KeyCount, RecordKey, SourceRecord, Xref
from mdm.views.base import ViewModel
from mdm.views.search import KEY_VALUES, display_name

KEYS = ["source", "source_key"]
# The record asked about, among the candidates: an id no stored record has.
QUERY_ID: Final = -1
# The source name the record asked about carries when it comes in canonical attributes.
CANONICAL: Final = "api"
_KEY_FIELD: Final = "_key"
# How the index writes a blocking key (``mdm.pipeline.index``): this, then the engine's text.
_BLOCK_PREFIX: Final = key_text(KeyKind.BLOCK) + SEPARATOR

Verdict = Literal["join", "review", "create"]
PairDecision = Literal["match", "review"]


class MatchField(ViewModel):
    """One comparison of the record asked about (``asked``) and a member of the golden record
    (``member``): the level and the weight it adds."""

    name: str
    asked: str | None
    member: str | None
    level: str
    m: float | None = None
    u: float | None = None
    weight: float | None = None
    tf_adjusted: bool = False


class MatchCandidate(ViewModel):
    """A golden record the record would join (``match``) or be reviewed with (``review``)."""

    golden_id: str
    display_name: str | None
    values: dict[str, str | None]  # a few key values of the golden record
    probability: float  # of the best pair: the record and one member
    match_weight: float | None
    decision: PairDecision
    rule: str | None  # a deterministic rule that forced the decision, if one did
    member: str  # SOURCE:KEY of the member that scored best
    fields: list[MatchField]  # the best pair, comparison by comparison
    account_id: str | None = None  # a golden contact's account


AccountEvidence = Literal["joined_contact", "account_key", "company_name", "email_domain"]


class AccountLink(ViewModel):
    """The golden account a contact would be attached to, and by what evidence: the account
    of the golden contact it would join, else its own account key, company name or work
    email domain (``mdm.relate``)."""

    golden_id: str
    name: str | None
    domain: str | None
    city: str | None
    country: str | None
    link: AccountEvidence


class MatchAnswer(ViewModel):
    entity: Entity
    source: str | None  # the source whose columns the record came in
    verdict: Verdict  # join the best match, go to review, or create a new golden record
    standardized: dict[str, str | None]  # the record's values as golden records show them
    match_keys: dict[str, str | None]  # ... and as matching compares them
    candidates: list[MatchCandidate]  # best first
    account: AccountLink | None = None  # contacts
    records_compared: int  # the live records that share a blocking key with it
    blocks_skipped: int  # its blocking keys shared by more than max_block_size records


def match_record(
    connection: Connection,
    project: Project,
    entity: Entity,
    values: Mapping[str, Any],
    *,
    source: str | None = None,
    region: str | None = None,
    limit: int = 10,
) -> MatchAnswer:
    """The golden records ``values`` (canonical attributes, or the columns of ``source``)
    would join, best first, at most ``limit``; ``region``: where a phone without a country
    code is read (default: the source's, else the sources' most common)."""
    spec = _input_spec(project, entity, source, region)
    clean, keys = record_forms(entity, _canonical(spec, values), spec.default_region)
    asked = _one_row(keys).assign(record_id=QUERY_ID, source=spec.name)
    match_spec = project.rules.match[entity]
    if entity is Entity.CONTACT:
        asked["account_id"] = account_evidence(connection, project, asked)
    model = _model(project, entity, match_spec)
    blocks = _blocks(connection, entity, match_spec, asked)
    members = _members(connection, project, entity, blocks.records)
    ranked = _scored(connection, project, entity, match_spec, model, asked, members, blocks, limit)
    account = None
    if entity is Entity.CONTACT:
        account = _account(connection, project, asked, _joined_account(ranked))
    return MatchAnswer(
        entity=entity,
        source=source,
        verdict=_verdict(ranked),
        standardized=clean,
        match_keys=keys,
        candidates=ranked,
        account=account,
        records_compared=len(members),
        blocks_skipped=len(blocks.oversized),
    )


# ---- the record asked about ---------------------------------------------------------------


def _input_spec(
    project: Project, entity: Entity, source: str | None, region: str | None
) -> SourceSpec:
    """The source the record is read as: the named one, or every canonical attribute mapped
    to itself."""
    if source is not None:
        try:
            found = project.source(source)
        except KeyError:
            known = ", ".join(s.name for s in project.spec.sources if s.entity is entity)
            raise MdmError(
                Reason.NOT_FOUND, f"No source {source!r}; {entity} sources: {known or 'none'}."
            ) from None
        if found.entity is not entity:
            raise MdmError(Reason.USAGE, f"Source {source!r} holds {found.entity}s, not {entity}s.")
        return found if region is None else found.model_copy(update={"default_region": region})
    return SourceSpec(
        name=CANONICAL,
        system=CANONICAL,
        entity=entity,
        format=SourceFormat.INBOX,
        key=_KEY_FIELD,
        mapping={name: name for name in attribute_names(entity)},
        default_region=region or _common_region(project),
    )


def _common_region(project: Project) -> str:
    regions = region_of(project, pd.Series([s.name for s in project.spec.sources], dtype=object))
    counts = regions.value_counts()
    if counts.empty:
        return "US"
    return str(sorted(counts.index, key=lambda r: (-int(counts[r]), str(r)))[0])


def _canonical(spec: SourceSpec, values: Mapping[str, Any]) -> dict[str, str | None]:
    """The record's canonical attribute values (one row), mapped as a run maps ``spec``'s rows
    (``mdm.sources.validate``): each value as text, trimmed, several columns joined by a
    space, a whole name split into the parts the record leaves empty."""
    problems = _field_problems(spec, values)
    if problems:
        raise MdmError(Reason.USAGE, "The record cannot be read.", problems)
    texts = {column: _trimmed(value_text(values.get(column))) for column in spec.source_columns}
    row: dict[str, str | None] = {}
    for name in attribute_names(spec.entity):
        parts = [texts[column] for column in spec.mapped_columns(name)]
        row[name] = " ".join(part for part in parts if part) or None
    if row.get("full_name"):
        for name, part in zip(NAME_PARTS, split_full_name(str(row["full_name"])), strict=True):
            row[name] = row[name] or _trimmed(part)
    if not any(row.values()):
        raise MdmError(
            Reason.USAGE,
            f"The record has no value for any attribute of {_what(spec)}.",
            [Problem("record", "every mapped field is empty", f"fill one of: {_fields(spec)}")],
        )
    return row


def _one_row(values: Mapping[str, str | None]) -> pd.DataFrame:
    """The record's match keys as the one-row frame the engine reads (``string`` columns)."""
    return pd.DataFrame({name: pd.array([value], dtype="string") for name, value in values.items()})


def _field_problems(spec: SourceSpec, values: Mapping[str, Any]) -> list[Problem]:
    known = spec.source_columns
    problems = []
    for field, value in values.items():
        if field not in known or field == _KEY_FIELD:
            close = difflib.get_close_matches(field, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            message = f"'{field}' is not a field of {_what(spec)}"
            problems.append(Problem(field, message, f"{hint}fields: {_fields(spec)}"))
        elif isinstance(value, dict | list):
            message = f"a {type(value).__name__} is not a field value"
            problems.append(Problem(field, message, "send text, a number, true/false or null"))
        elif value is not None and len(str(value)) > MAX_VALUE_CHARS:
            message = f"the value has {len(str(value)):,} characters, more than {MAX_VALUE_CHARS:,}"
            problems.append(Problem(field, message, "send the field's value alone"))
    return problems


def _fields(spec: SourceSpec) -> str:
    mapped = [column for name in spec.mapping for column in spec.mapped_columns(name)]
    return ", ".join(dict.fromkeys(mapped))


def _trimmed(text: str | None) -> str | None:
    return (text.strip() or None) if text is not None else None


def _what(spec: SourceSpec) -> str:
    if spec.name != CANONICAL:
        return f"source '{spec.name}'"
    return "an account" if spec.entity is Entity.ACCOUNT else "a contact"


def _model(project: Project, entity: Entity, spec: MatchSpec) -> FellegiSunterModel | None:
    if spec.method is not Method.PROBABILISTIC:
        return None
    model = load_model(project, entity)
    if model is None:
        raise MdmError(Reason.NOT_FOUND, f"No {entity} match model yet: run 'mdm run' first.")
    return model


# ---- candidates, from the index ------------------------------------------------------------


@dataclass(frozen=True)
class _Blocks:
    records: list[int]  # live records sharing a kept block
    oversized: frozenset[str]  # block key texts over the size limit (as the engine names them)


def _blocks(
    connection: Connection, entity: Entity, spec: MatchSpec, asked: pd.DataFrame
) -> _Blocks:
    """The records that share one of the record's blocking keys, blocks over the size limit
    left out (their sizes counted in ``key_count``)."""
    record = {str(name): _text(value) for name, value in asked.iloc[0].items()}
    texts = [_BLOCK_PREFIX + text for text in record_block_key_texts(record, spec)]
    if not texts:
        return _Blocks([], frozenset())
    keys = hashed(texts).tolist()
    sizes = _key_counts(connection, entity, keys)
    limit = spec.max_block_size
    kept = [key for key in keys if sizes.get(key, 0) <= limit]
    found = _records_having(connection, entity, kept)
    oversized = frozenset(
        str(text)[len(_BLOCK_PREFIX) :]
        for text, key in zip(texts, keys, strict=True)
        if sizes.get(key, 0) > limit
    )
    return _Blocks(found, oversized)


def _members(
    connection: Connection, project: Project, entity: Entity, ids: list[int]
) -> pd.DataFrame:
    """The match input of the live records ``ids``: record_id, source, source_key, match
    keys (stale ones computed in memory: storing them is a run's) and a contact's
    account_id."""
    live = _live_match_keys(connection, entity, ids)
    keys, stale = parse_keys(entity, live["match_keys"])
    if stale.any():
        stored = records.records_in(connection, live.loc[stale, "record_id"].astype(int).tolist())
        attributes = pd.Series(stored["attributes"].to_numpy(), index=live.index[stale])
        keys.loc[stale] = keys_of_attributes(
            entity, attributes, region_of(project, live.loc[stale, "source"])
        )
    frame = pd.concat([live[["record_id", *KEYS]], keys], axis=1)
    frame["record_id"] = frame["record_id"].astype("int64")
    if entity is Entity.CONTACT:
        frame["account_id"] = account_evidence(connection, project, frame)
    return frame


# ---- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    """The record asked about and one member, as the engine judged them."""

    row: int  # the member's row in the members frame
    probability: float
    weight: float
    decision: int
    rule: str | None
    member: str  # SOURCE:KEY
    golden_id: str
    levels: tuple[int, ...]  # the engine's level of each comparison (its code)


def _scored(
    connection: Connection,
    project: Project,
    entity: Entity,
    spec: MatchSpec,
    model: FellegiSunterModel | None,
    asked: pd.DataFrame,
    members: pd.DataFrame,
    blocks: _Blocks,
    limit: int,
) -> list[MatchCandidate]:
    """The golden records of the members that match the record or would be reviewed with it,
    best first, at most ``limit``: the engine scores every pair of the record and a member,
    as a delta would; the best pair of each golden record is explained."""
    if members.empty:
        return []
    columns = [c for c in members.columns if c != "source_key"]
    everyone = pd.concat([asked[columns], members[columns]], ignore_index=True)
    shares = _shares(connection, entity, spec, asked)
    result = engine_named(DEFAULT_ENGINE).match(
        everyone,
        spec,
        model=model,
        frequencies=shares,
        new=np.r_[True, np.zeros(len(members), dtype=bool)],
        oversized=blocks.oversized,
    )
    comparisons = comparisons_from_spec(spec)
    best = _best_pairs(connection, entity, result.pairs, members, comparisons)[:limit]
    goldens = _golden_records(connection, entity, [pair.golden_id for pair in best])
    query = asked.iloc[0]
    return [
        _candidate(entity, comparisons, model, shares, query, members.iloc[pair.row], pair, goldens)
        for pair in best
        if pair.golden_id in goldens
    ]


def _best_pairs(
    connection: Connection,
    entity: Entity,
    pairs: pd.DataFrame,
    members: pd.DataFrame,
    comparisons: Sequence[Comparison],
) -> list[_Pair]:
    """The best pair (highest probability, then lowest record id) of each golden record
    among the engine's match and review ``pairs``, best first. Members no run has resolved
    yet belong to no golden record: left out."""
    if pairs.empty:
        return []
    left = pairs["left_record_id"].to_numpy(dtype=np.int64)
    right = pairs["right_record_id"].to_numpy(dtype=np.int64)
    member_ids = np.where(left == QUERY_ID, right, left)
    rows = pd.Index(members["record_id"]).get_indexer(member_ids)
    sources = members["source"].to_numpy(dtype=object)[rows]
    keys = members["source_key"].to_numpy(dtype=object)[rows]
    golden_of = _golden_ids(
        connection, entity, list(zip(sources.tolist(), keys.tolist(), strict=True))
    )
    probability = pairs["probability"].to_numpy(dtype=np.float64)
    order = np.lexsort((member_ids, -probability))
    weight = pairs["weight"].to_numpy(dtype=np.float64)
    decision = pairs["decision"].to_numpy(dtype=np.int64)
    rule = pairs["rule"].to_numpy(dtype=object)
    levels = pairs[[f"{LEVEL_PREFIX}{c.name}" for c in comparisons]].to_numpy(dtype=np.int64)
    best: dict[str, _Pair] = {}
    for at in order.tolist():
        golden_id = golden_of.get((sources[at], keys[at]))
        if golden_id is None or golden_id in best:
            continue
        forced = rule[at]
        best[str(golden_id)] = _Pair(
            row=int(rows[at]),
            probability=float(probability[at]),
            weight=float(weight[at]),
            decision=int(decision[at]),
            rule=None if forced is None or pd.isna(forced) or forced in _NOT_RULES else str(forced),
            member=f"{sources[at]}:{keys[at]}",
            golden_id=str(golden_id),
            levels=tuple(levels[at].tolist()),
        )
    return list(best.values())


# The names the engine gives a pair's decision when no deterministic rule made it.
_NOT_RULES: Final = frozenset({"model", "must_link"})


def _candidate(
    entity: Entity,
    comparisons: Sequence[Comparison],
    model: FellegiSunterModel | None,
    shares: Mapping[str, pd.Series],
    query: pd.Series,
    member: pd.Series,
    pair: _Pair,
    goldens: Mapping[str, dict[str, Any]],
) -> MatchCandidate:
    record = goldens[pair.golden_id]
    fields: list[MatchField] = []
    if model is not None:
        # The engine's levels of the pair: explained without comparing the pair again.
        explained = explained_levels(query, member, pair.levels, comparisons, model, shares)
        fields = [
            MatchField(
                name=c.name,
                asked=c.left,
                member=c.right,
                level=c.label,
                m=c.m,
                u=c.u,
                weight=c.weight,
                tf_adjusted=c.tf_adjusted,
            )
            for c in explained
        ]
    return MatchCandidate(
        golden_id=pair.golden_id,
        display_name=display_name(entity, record),
        values={name: _text(record.get(name)) for name in KEY_VALUES[entity]},
        probability=pair.probability,
        match_weight=pair.weight if model is not None else None,
        decision="match" if pair.decision == Decision.MATCH else "review",
        rule=pair.rule,
        member=pair.member,
        fields=fields,
        account_id=_text(record.get("account_id")) if entity is Entity.CONTACT else None,
    )


def _verdict(candidates: list[MatchCandidate]) -> Verdict:
    if any(c.decision == "match" for c in candidates):
        return "join"
    return "review" if candidates else "create"


# ---- a contact's account ---------------------------------------------------------------------


def account_evidence(connection: Connection, project: Project, frame: pd.DataFrame) -> pd.Series:
    """Each contact's golden account as matching evidence, exactly as
    ``mdm.record_keys.account_ids`` finds it (the account its account key names; else the one
    golden account of its company name; else the one of its work email domain), in two reads
    of the store for all of ``frame``'s contacts (source, account_key, company, email: match
    form), not one per kind of evidence: a match answers while someone waits."""
    targets = account_sources(project)
    referred = [
        (targets.get(str(source)), _text(key))
        for source, key in zip(frame["source"].tolist(), frame["account_key"].tolist(), strict=True)
    ]
    wanted = [(source, key) for source, key in referred if source and key]
    by_key = _golden_ids(connection, Entity.ACCOUNT, wanted) if wanted else {}
    found = [by_key.get((s, k)) if s and k else None for s, k in referred]
    rest = [row for row, account in enumerate(found) if account is None]
    if not rest:
        return pd.Series(found, index=frame.index, dtype="string")
    company_values = frame["company"].tolist()  # once: a column lookup per row costs more
    companies = [_text(company_values[row]) for row in rest]
    email_values = frame["email"].tolist()
    domains = [work_email_domain(_text(email_values[row])) for row in rest]
    texts = {_value_text(KeyKind.NAME, company) for company in companies if company}
    texts |= {_value_text(KeyKind.DOMAIN, domain) for domain in domains if domain}
    owners = _only_owners(connection, sorted(texts))
    for row, company, domain in zip(rest, companies, domains, strict=True):
        if company:
            found[row] = owners.get(_value_text(KeyKind.NAME, company))
        if found[row] is None and domain:
            found[row] = owners.get(_value_text(KeyKind.DOMAIN, domain))
    return pd.Series(found, index=frame.index, dtype="string")


def _value_text(kind: KeyKind, value: str) -> str:
    return key_text(kind) + SEPARATOR + value


def _xref_of(connection: Connection, keys: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(source, source_key) -> golden id of the live account records ``keys`` name."""
    wanted = keys.dropna()
    pairs = list(zip(wanted["source"].tolist(), wanted["source_key"].tolist(), strict=True))
    return _golden_ids(connection, Entity.ACCOUNT, pairs) if pairs else {}


def _only_owners(connection: Connection, texts: list[str]) -> dict[str, str]:
    """Key text -> the golden account, for the name and domain keys that live account records
    of exactly one golden account have: one row per key from the store, however many records
    share a common name."""
    if not texts:
        return {}
    keys = hashed(texts).tolist()
    keyed, record, xref = table_of(RecordKey), table_of(SourceRecord), table_of(Xref)
    joined = keyed.join(record, record.c.id == keyed.c.record_id).join(
        xref, (xref.c.source == record.c.source) & (xref.c.source_key == record.c.source_key)
    )
    only: dict[int, str] = {}
    for part in chunks(sorted(set(keys))):
        statement = (
            select(keyed.c.key, func.min(xref.c.golden_id))
            .select_from(joined)
            .where(keyed.c.entity == Entity.ACCOUNT, keyed.c.key.in_(part))
            .group_by(keyed.c.key)
            .having(func.count(distinct(xref.c.golden_id)) == 1)
        )
        only.update((int(key), str(golden_id)) for key, golden_id in connection.execute(statement))
    return {text: only[key] for text, key in zip(texts, keys, strict=True) if key in only}


def _owners(connection: Connection, texts: list[str]) -> dict[str, set[str]]:
    """Key text -> the golden accounts whose live records have that name or domain key."""
    if not texts:
        return {}
    keys = hashed(texts).tolist()
    owners: dict[int, set[str]] = {}
    for key, golden_id in _golden_ids_with_keys(connection, keys):
        owners.setdefault(key, set()).add(golden_id)
    return {text: owners[key] for text, key in zip(texts, keys, strict=True) if key in owners}


def _joined_account(candidates: list[MatchCandidate]) -> str | None:
    """The account of the golden contact the record would join, if it would join one."""
    joined = [c for c in candidates if c.decision == "match"]
    return joined[0].account_id if joined else None


def _account(
    connection: Connection, project: Project, asked: pd.DataFrame, joined: str | None
) -> AccountLink | None:
    """The golden account the contact would be attached to: the account of the golden
    contact it would join (``joined``); else, as ``mdm.relate`` attaches a new one, the
    account its account key names, else the one golden account of its company name (its
    email domain telling same-name companies apart), else the one of its work email
    domain."""
    if joined is not None:
        return _account_link(connection, joined, "joined_contact")
    by_key = _xref_of(connection, referred_accounts(project, asked))
    if by_key:
        return _account_link(connection, next(iter(by_key.values())), "account_key")
    company = _text(asked["company"].iloc[0])
    domain = work_email_domain(_text(asked["email"].iloc[0]))
    name_text = _value_text(KeyKind.NAME, company) if company else None
    domain_text = _value_text(KeyKind.DOMAIN, domain) if domain else None
    owners = _owners(connection, [text for text in (name_text, domain_text) if text])
    by_name = owners.get(name_text or "", set())
    by_domain = owners.get(domain_text or "", set())
    if len(by_name) > 1:  # same-name companies: the one of the contact's email domain
        by_name = by_name & by_domain
    if len(by_name) == 1:
        return _account_link(connection, next(iter(by_name)), "company_name")
    if len(by_domain) == 1:
        return _account_link(connection, next(iter(by_domain)), "email_domain")
    return None


def _account_link(
    connection: Connection, golden_id: str, link: AccountEvidence
) -> AccountLink | None:
    record = _golden_records(connection, Entity.ACCOUNT, [golden_id]).get(golden_id)
    if record is None:
        return None
    return AccountLink(
        golden_id=golden_id,
        name=_text(record.get("name")),
        domain=_text(record.get("domain")),
        city=_text(record.get("city")),
        country=_text(record.get("country")),
        link=link,
    )


# ---- reads by key, as plain values ---------------------------------------------------------------
# A match answers while someone waits: these read the few rows it needs into dicts and lists,
# with no frame per read. Key lists are a record's keys or its candidates: bounded by the blocks.


def _key_counts(connection: Connection, entity: Entity, keys: list[int]) -> dict[int, int]:
    """How many live records have each of ``keys`` (``key_count``); keys nobody has are left
    out."""
    table = table_of(KeyCount)
    found: dict[int, int] = {}
    for part in chunks(keys):
        statement = select(table.c.key, table.c.records).where(
            table.c.entity == entity, table.c.key.in_(part)
        )
        found.update((int(key), int(count)) for key, count in connection.execute(statement))
    return found


def _records_having(connection: Connection, entity: Entity, keys: list[int]) -> list[int]:
    """The live records that have one of ``keys`` (``record_key``), each once, by id."""
    table = table_of(RecordKey)
    found: set[int] = set()
    for part in chunks(keys):
        statement = select(table.c.record_id).where(table.c.entity == entity, table.c.key.in_(part))
        found.update(int(record_id) for (record_id,) in connection.execute(statement))
    return sorted(found)


def _golden_ids(
    connection: Connection, entity: Entity, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(source, source_key) -> golden id, from the xref, for the live records ``pairs``."""
    table = table_of(Xref)
    by_source: dict[str, set[str]] = {}
    for source, key in pairs:
        by_source.setdefault(source, set()).add(key)
    found: dict[tuple[str, str], str] = {}
    # Per source, its keys in a list: the form the (source, source_key) key serves on both
    # databases (SQLite scans the table for a list of (source, key) rows).
    for source, keys in sorted(by_source.items()):
        for part in chunks(sorted(keys)):
            statement = select(table.c.source_key, table.c.golden_id).where(
                table.c.source == source,
                table.c.source_key.in_(part),
                table.c.entity == entity,
            )
            found.update(
                ((source, str(key)), str(golden_id))
                for key, golden_id in connection.execute(statement)
            )
    return found


def _live_match_keys(connection: Connection, entity: Entity, ids: list[int]) -> pd.DataFrame:
    """record_id, source, source_key, match_keys of the records ``ids`` still live, by id."""
    table = table_of(SourceRecord)
    found: list[tuple[int, str, str, str | None]] = []
    for part in chunks(ids):
        statement = select(
            table.c.id, table.c.source, table.c.source_key, table.c.match_keys
        ).where(
            table.c.id.in_(part),
            table.c.entity == entity,
            table.c.is_current.is_(True),
            table.c.deleted.is_(False),
        )
        found.extend((int(i), str(s), str(k), m) for i, s, k, m in connection.execute(statement))
    found.sort()
    return pd.DataFrame(
        {
            "record_id": np.array([row[0] for row in found], dtype=np.int64),
            "source": pd.Series([row[1] for row in found], dtype=object),
            "source_key": pd.Series([row[2] for row in found], dtype=object),
            "match_keys": pd.Series([row[3] for row in found], dtype=object),
        }
    )


def _golden_records(
    connection: Connection, entity: Entity, golden_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """golden id -> the golden record's row (its values, status and account), by id."""
    if not golden_ids:
        return {}
    table = table_of(GOLDEN_TABLES[entity])
    statement = select(table).where(table.c.golden_id.in_(golden_ids))
    return {str(row.golden_id): dict(row._mapping) for row in connection.execute(statement)}


def _golden_ids_with_keys(connection: Connection, keys: list[int]) -> list[tuple[int, str]]:
    """(key, golden id) of every live account record that has one of ``keys``: the index
    joined to the xref on the record id in one query, as
    ``mdm.store.record_index.golden_ids_with_keys`` joins them."""
    keyed, xref = table_of(RecordKey), table_of(Xref)
    joined = keyed.join(xref, xref.c.record_id == keyed.c.record_id)
    found: list[tuple[int, str]] = []
    for part in chunks(keys):
        statement = (
            select(keyed.c.key, xref.c.golden_id)
            .select_from(joined)
            .where(keyed.c.entity == Entity.ACCOUNT, keyed.c.key.in_(part))
        )
        found.extend((int(key), str(golden_id)) for key, golden_id in connection.execute(statement))
    return found


def _shares(
    connection: Connection, entity: Entity, spec: MatchSpec, asked: pd.DataFrame
) -> dict[str, pd.Series]:
    """The population's share of each value the record holds, per term-frequency adjusted
    comparison (value -> share, on the grid of steps): ``mdm.record_keys.frequencies`` for
    one record, read from ``key_count`` in one query. Every pair has the record in it, and
    a share counts only where a pair's two values are one: its values are all it needs."""
    asked_values: dict[str, tuple[str, int, int]] = {}
    for comparison in term_frequency_comparisons(spec, asked):
        value = _text(asked[comparison.field].iloc[0])
        if value is None:
            continue
        name = key_text(KeyKind.FREQUENCY, comparison.key)
        value_key, population_key = hashed([name + SEPARATOR + value, name]).tolist()
        asked_values[comparison.key] = (value, int(value_key), int(population_key))
    counts = _key_counts(
        connection, entity, [k for _, v, p in asked_values.values() for k in (v, p)]
    )
    out: dict[str, pd.Series] = {}
    for comparison in term_frequency_comparisons(spec, asked):
        if comparison.key not in asked_values:
            out[comparison.key] = pd.Series([], dtype="float64", index=pd.Index([], dtype="string"))
            continue
        value, value_key, population_key = asked_values[comparison.key]
        share = grid_shares([counts.get(value_key, 0)], counts.get(population_key, 0))
        out[comparison.key] = pd.Series(share, index=pd.Index([value], dtype="string"))
    return out


# ---- plain values ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
