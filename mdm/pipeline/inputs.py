"""The reading edge of a resolution: everything the pure stages need about one scope, read
from the store at once into one value (``ResolutionInputs``).

The stages (match, identity, survivorship, relate) then run on that value alone; what they
make is written by ``mdm.pipeline.write``. Only minting new golden ids asks the store once
more, to learn which of the ids it derived were ever used (``ids_in_use``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection

from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.match_keys import parse_clean, region_of
from mdm.matching.model import FellegiSunterModel
from mdm.pipeline import index
from mdm.pipeline.match_input import accounts_with, match_input, referred_accounts
from mdm.pipeline.models import RunModels
from mdm.pipeline.scope import Scope
from mdm.schema import Entity, Kind, attribute_names
from mdm.standardize import clean_frame, match_values
from mdm.store import golden, records, stewardship

KEYS = ["source", "source_key"]


@dataclass(frozen=True)
class IdentityHistory:
    """What stable ids depend on besides the clusters (see ``mdm.identity``)."""

    age: pd.Series  # golden id -> creation order, for every previous and former id
    former: pd.DataFrame  # source, source_key, golden_id, status: ids the records had before
    leaving: pd.DataFrame  # source, source_key, golden_id: records a steward took out


@dataclass(frozen=True)
class AccountEvidence:
    """The golden accounts a scope's contacts could be linked to (``mdm.relate``)."""

    xref: pd.DataFrame  # source, source_key, golden_id of the accounts the account keys name
    names: pd.DataFrame  # golden_id, name_key: accounts named as a contact's company
    domains: pd.DataFrame  # golden_id, domain: accounts with a contact's email domain
    email_domains: pd.Series  # each contact's email domain (match form), row for row


@dataclass(frozen=True)
class ResolutionInputs:
    """One scope as the stages take it."""

    entity: Entity
    records: pd.DataFrame  # record_id, source, source_key and the match keys, by record id
    match_input: pd.DataFrame  # the records as the matcher takes them, row for row
    previous: pd.DataFrame  # the scope's xref before: source, source_key, golden_id, record_id
    total: int  # live records of the entity
    indexed: frozenset[int]  # records the delta has indexed already
    model: FellegiSunterModel | None  # the model to score with (None: train one, or rules)
    # Value shares of the population (a delta's, from the index); None: from ``records``.
    frequencies: Mapping[str, pd.Series] | None
    # Blocks over the size limit in the population (a delta's, from the index): skipped.
    oversized: frozenset[str]
    decisions: pd.DataFrame  # active steward decisions of the entity
    history: IdentityHistory
    # last_modified and the display forms (by attribute) per record, row for row
    stored: pd.DataFrame
    now: datetime | None  # the newest record time: survivorship's "now"
    pins: pd.DataFrame  # active value pins of the entity
    accounts: AccountEvidence | None  # contacts only


def read_inputs(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    scope: Scope,
    models: RunModels,
    full: bool,
) -> ResolutionInputs:
    spec = project.rules.match[entity]
    scoped = scope.records
    given = scope.match_input
    frame = match_input(connection, project, entity, scoped) if given is None else given
    stored = _stored(connection, project, entity, scoped, full)
    return ResolutionInputs(
        entity=entity,
        records=scoped,
        match_input=frame,
        previous=scope.previous,
        total=scope.total,
        indexed=scope.indexed,
        model=models.load(entity) if spec.method is Method.PROBABILISTIC else None,
        frequencies=None if full else index.frequencies(connection, entity, spec, scoped),
        oversized=frozenset() if full else index.oversized_blocks(connection, entity, spec, frame),
        decisions=stewardship.active_decisions(connection, entity),
        history=_identity_history(connection, run_id, entity, scope, full),
        stored=stored,
        now=records.latest_modified(connection, entity),
        pins=stewardship.active_pins(connection, entity),
        accounts=(
            _account_evidence(connection, project, scoped) if entity is Entity.CONTACT else None
        ),
    )


def _stored(
    connection: Connection, project: Project, entity: Entity, scoped: pd.DataFrame, full: bool
) -> pd.DataFrame:
    """The scope's records' time and display forms, as their versions stored them when
    written; those written by an older mdm are standardized from their attributes now."""
    ids = scoped["record_id"].astype("int64")
    read = (
        records.live_forms(connection, entity)
        if full
        else records.forms_in(connection, ids.tolist())
    )
    read = read.set_index("record_id").reindex(ids.to_numpy())
    clean, stale = parse_clean(entity, pd.Series(read["match_keys"].to_numpy(), index=scoped.index))
    if stale.any():
        stale_ids = ids[stale].tolist()
        found = records.records_in(connection, stale_ids).set_index("record_id").loc[stale_ids]
        raw = pd.DataFrame(
            [json.loads(text) for text in found["attributes"]], index=scoped.index[stale]
        ).reindex(columns=attribute_names(entity))
        region = region_of(project, scoped.loc[stale, "source"])
        clean.loc[stale] = clean_frame(entity, raw.astype("string"), region)
    clean.insert(0, "last_modified", read["last_modified"].to_numpy())
    return clean


def _identity_history(
    connection: Connection, run_id: int, entity: Entity, scope: Scope, full: bool
) -> IdentityHistory:
    # A full run reads every former membership at once; a delta only its records'.
    keys = None if full else scope.records[KEYS]
    former = golden.last_other_memberships(connection, entity, keys)
    ids = sorted(set(scope.previous["golden_id"]) | set(former["golden_id"]))
    known = golden.golden_in(connection, entity, ids)
    by_id = known["golden_id"].to_numpy()
    age = pd.Series(known["created_run"].to_numpy(), index=by_id, dtype="float64")
    status = pd.Series(known["status"].to_numpy(), index=by_id)
    return IdentityHistory(
        age=age,
        former=former.assign(status=former["golden_id"].map(status)),
        # Read before this run writes its ids: the memberships it closed are a steward's doing.
        leaving=golden.memberships_closed_in(connection, entity, run_id),
    )


def ids_in_use(connection: Connection, entity: Entity, candidates: Sequence[str]) -> set[str]:
    """Which of the ``candidates`` were ever golden ids (active, merged or retired)."""
    return golden.existing_golden_ids(connection, entity, list(candidates))


def _account_evidence(
    connection: Connection, project: Project, contacts: pd.DataFrame
) -> AccountEvidence:
    """Only the accounts that could be linked: those the contacts' account keys name, and
    those whose name or domain is a contact's company name or email domain."""
    referred = referred_accounts(project, contacts).dropna()
    email_domains = match_values(Kind.DOMAIN, contacts["email"])
    names = accounts_with(connection, index.KeyKind.NAME, contacts["company"])
    domains = accounts_with(connection, index.KeyKind.DOMAIN, email_domains)
    return AccountEvidence(
        xref=golden.xref_of_keys(connection, Entity.ACCOUNT, referred),
        names=names.rename(columns={"value": "name_key"})[["golden_id", "name_key"]],
        domains=domains.rename(columns={"value": "domain"})[["golden_id", "domain"]],
        email_domains=email_domains,
    )
