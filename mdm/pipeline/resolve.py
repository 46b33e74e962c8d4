"""Resolve one entity: live source records -> clusters -> golden ids -> golden values + lineage.

A run works on a scope. A full run takes every live record. A nightly run takes the records it
changed, their candidate partners, and every member of the golden records they touch: the
work grows with the delta, not with the master, and golden records outside the scope are not
read, recomputed or written. Steward actions (unmerge, pins) resolve their own small scope.
The stages between reading and writing are pure (standardize, match, identity, survivorship,
relate); only what changed is written, so a rerun on the same inputs changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config import MatchSpec
from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.identity import IdentityResult, assign_golden_ids
from mdm.matching.decide import Decision
from mdm.matching.engine import match_records, term_frequencies_of
from mdm.matching.standardize import clean_frame, match_values
from mdm.pipeline import index
from mdm.pipeline.keys import keys_of, live_keys, region_of
from mdm.pipeline.models import RunModels
from mdm.pipeline.write import GoldenChanges, write_resolution
from mdm.relate import relate_contacts
from mdm.schema import Entity, Kind, attribute_names, survived_attribute_names
from mdm.store import io as store_io
from mdm.store import marks
from mdm.survivorship import build_golden


@dataclass
class EntitySummary:
    entity: str
    records: int  # live records of the entity
    scope: int  # records this run recomputed
    golden: int  # golden records in the scope
    candidate_pairs: int
    matched_pairs: int
    created: int
    updated: int
    merged: int
    retired: int
    revived: int = 0
    warnings: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # golden ids written or status changed


@dataclass(frozen=True)
class Scope:
    records: pd.DataFrame  # live records to recompute: record_id, source, source_key, keys
    previous: pd.DataFrame  # their xref before: source, source_key, golden_id, record_id
    total: int  # live records of the entity
    # A delta's: the match input of ``records`` (same rows, same order), computed as it found
    # them, and the record ids it has indexed already.
    match_input: pd.DataFrame | None = None
    indexed: frozenset[int] = frozenset()


def resolve_entity(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    *,
    full: bool = True,
    also_golden: set[str] | None = None,
    models: RunModels | None = None,
) -> EntitySummary:
    """Recompute the entity's golden records in scope; ``also_golden`` widens a delta scope.

    A full run reads every live record; a delta run reads only its scope, found through the
    record-key index (``mdm.pipeline.index``). A delta's changes are every version loaded since
    the entity's resolution mark; the mark then moves to the newest version. ``models`` holds
    the match models this run trained (written beside the rules only once the run commits).
    """
    models = models or RunModels(project)
    summary = _resolve(connection, run_id, project, entity, models, full, also_golden)
    # Whatever was loaded before this point is now reflected in the golden records.
    marks.set_resolution_mark(connection, str(entity), run_id)
    failpoints.reached(f"resolve.{entity}.marked")
    return summary


def _resolve(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    full: bool,
    also_golden: set[str] | None,
) -> EntitySummary:
    loaded = _unresolved(connection, entity)
    if not full and not also_golden and _nothing_changed(connection, run_id, entity, loaded):
        return _nothing(entity, index.live_count(connection, entity))
    if full:
        keys = live_keys(connection, project, entity)
        scope = Scope(keys, store_io.xref(connection, str(entity)), len(keys))
    else:
        scope = _delta_scope(connection, run_id, project, entity, models, loaded, also_golden)
    failpoints.reached(f"resolve.{entity}.scoped")
    if scope.records.empty and scope.previous.empty:
        if full:
            empty = pd.DataFrame({"record_id": [], "key": []})
            store_io.replace_record_keys(connection, str(entity), empty, pd.Series(dtype="int64"))
        return _nothing(entity, scope.total)
    return _resolve_scope(connection, run_id, project, entity, models, scope, full)


def _unresolved(connection: Connection, entity: Entity) -> pd.DataFrame:
    """The versions loaded since the last resolution (by this run or an earlier `mdm ingest`):
    source, source_key, deleted."""
    mark = marks.resolution_mark(connection, str(entity))
    return marks.versions_since(connection, str(entity), mark or 0)


def _nothing_changed(
    connection: Connection, run_id: int, entity: Entity, loaded: pd.DataFrame
) -> bool:
    """No record of the entity changed, and (for contacts) no account record moved."""
    if not loaded.empty:
        return False
    if entity is Entity.CONTACT:
        return store_io.moved_members(connection, str(Entity.ACCOUNT), run_id).empty
    return True


def _nothing(entity: Entity, records: int) -> EntitySummary:
    return EntitySummary(str(entity), records, 0, 0, 0, 0, 0, 0, 0, 0)


def _delta_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    loaded: pd.DataFrame,
    also_golden: set[str] | None,
) -> Scope:
    """The changed records (``loaded``: versions since the mark), their partners and every
    member of the golden records they touch, read by key: nothing here reads the whole master."""
    changed = loaded[["source", "source_key"]]
    if entity is Entity.CONTACT:
        changed = pd.concat([changed, _contacts_of_changed_accounts(connection, run_id)])
    changed = changed.drop_duplicates(ignore_index=True)
    current = store_io.current_ids_of_keys(connection, str(entity), changed)
    live_ids = current.loc[~current["deleted"].astype(bool), "record_id"].astype("int64")
    changed_keys = keys_of(connection, project, entity, live_ids.tolist())
    # The index first sees the changed records as they are now, then finds their partners.
    spec = project.rules.match[entity]
    changed_input = _match_input(connection, project, entity, changed_keys, spec)
    replaced = store_io.ids_of_versions(connection, str(entity), changed)
    blocks = index.reindex(connection, project, entity, changed_input, dropped=replaced)
    partners = _partners(connection, project, entity, models, changed_input, blocks)
    touched = pd.concat(
        [changed, partners.keys[["source", "source_key"]]],
        ignore_index=True,
    )
    before = store_io.xref_of_keys(connection, str(entity), touched)
    golden_ids = sorted(set(before["golden_id"]) | (also_golden or set()))
    previous = store_io.xref_of_golden_ids(connection, golden_ids)
    members = store_io.current_ids_of_keys(
        connection, str(entity), previous[["source", "source_key"]]
    )
    member_ids = members.loc[~members["deleted"].astype(bool), "record_id"].astype("int64")
    # The changed records' and partners' keys and match input are made already: make only the
    # other members'.
    unread = sorted(set(member_ids) - set(live_ids) - set(partners.keys["record_id"]))
    unread_keys = keys_of(connection, project, entity, unread)
    records = pd.concat([changed_keys, partners.keys, unread_keys], ignore_index=True)
    match_input = pd.concat(
        [
            changed_input,
            partners.match_input,
            _match_input(connection, project, entity, unread_keys, spec),
        ],
        ignore_index=True,
    )
    order = np.argsort(records["record_id"].to_numpy(dtype="int64"), kind="stable")
    return Scope(
        records.iloc[order].reset_index(drop=True),
        previous[["source", "source_key", "golden_id", "record_id"]],
        index.live_count(connection, entity),
        match_input=match_input.iloc[order].reset_index(drop=True),
        indexed=frozenset(changed_input["record_id"].tolist()),
    )


@dataclass(frozen=True)
class Partners:
    keys: pd.DataFrame  # keys_of the partners: record_id, source, source_key, match keys
    match_input: pd.DataFrame  # their match input, row for row


def _partners(
    connection: Connection,
    project: Project,
    entity: Entity,
    models: RunModels,
    changed: pd.DataFrame,
    blocks: npt.NDArray[np.int64],
) -> Partners:
    """The records a changed record matches or would be reviewed with. Candidates are the
    records sharing one of the changed records' blocking keys ``blocks`` (found in the index;
    blocks over the size limit left out, as a full run leaves them out); they are scored with
    the saved model and the population's value shares."""
    spec = project.rules.match[entity]
    if changed.empty:
        nobody = keys_of(connection, project, entity, [])
        return Partners(nobody, _match_input(connection, project, entity, nobody, spec))
    sizes = store_io.key_counts(connection, str(entity), blocks.tolist())
    kept = sizes[sizes <= spec.max_block_size].index.tolist()
    candidates = store_io.records_having_keys(connection, str(entity), kept)
    others = sorted(set(candidates) - set(changed["record_id"].astype("int64")))
    other_keys = keys_of(connection, project, entity, others)
    other_input = _match_input(connection, project, entity, other_keys, spec)
    everyone = pd.concat([changed, other_input], ignore_index=True)
    is_changed = np.r_[np.ones(len(changed), dtype=bool), np.zeros(len(other_input), dtype=bool)]
    result = match_records(
        everyone,
        spec,
        model=models.load(entity) if spec.method is Method.PROBABILISTIC else None,
        # Every pair has a changed record, and a value share counts only where a pair's two
        # values are one: the changed records' values are all it needs.
        frequencies=index.frequencies(connection, entity, spec, changed),
        new=is_changed,
    )
    linked = [result.links]
    if not result.pairs.empty:
        linked.append(result.pairs)
    ids = pd.concat(
        [frame[["left_record_id", "right_record_id"]] for frame in linked], ignore_index=True
    )
    partner = other_keys["record_id"].isin(set(ids.to_numpy().ravel().tolist())).to_numpy()
    return Partners(
        other_keys[partner].reset_index(drop=True), other_input[partner].reset_index(drop=True)
    )


def _contacts_of_changed_accounts(connection: Connection, run_id: int) -> pd.DataFrame:
    """Contacts whose account key names an account record that joined or left a golden
    account in this run: their link may change. A changed phone moves nothing."""
    accounts = store_io.moved_members(connection, str(Entity.ACCOUNT), run_id)
    texts = index.reference_texts(accounts["source"], accounts["source_key"])
    ids = index.lookup(connection, Entity.CONTACT, texts)["record_id"].tolist()
    return store_io.keys_of_records(connection, ids)[["source", "source_key"]]


def _resolve_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    scope: Scope,
    full: bool,
) -> EntitySummary:
    records = scope.records
    spec = project.rules.match[entity]
    match_input = scope.match_input
    if match_input is None:
        match_input = _match_input(connection, project, entity, records, spec)
    matched = match_records(
        match_input,
        spec,
        model=models.load(entity) if spec.method is Method.PROBABILISTIC else None,
        # Value shares of the whole population, so that a delta scores as a full run does.
        frequencies=(
            term_frequencies_of(records, spec)
            if full
            else index.frequencies(connection, entity, spec, records)
        ),
        **_constraints(connection, entity, records),
    )
    if matched.trained and matched.model is not None:
        models.keep(entity, matched.model)
    failpoints.reached(f"resolve.{entity}.matched")
    identity = _assign_ids(
        connection, run_id, entity, records, scope.previous, matched.labels, full
    )
    failpoints.reached(f"resolve.{entity}.identified")
    members = _members(connection, project, entity, records, identity)
    golden = build_golden(
        project.rules.survivorship[entity],
        members,
        now=store_io.latest_modified(connection, str(entity)),
        pins=_pins(connection, entity, identity),
    )
    values, lineage = golden.values, golden.lineage
    if entity is Entity.CONTACT:
        values, lineage = _with_accounts(connection, project, records, members, values, lineage)
    failpoints.reached(f"resolve.{entity}.survived")
    changes = write_resolution(
        connection,
        run_id,
        entity,
        GoldenChanges(values, lineage, members, identity, scope.previous),
    )
    failpoints.reached(f"resolve.{entity}.written")
    store_io.replace_reviews(
        connection, str(entity), records, review_items(records, matched.pairs), run_id
    )
    failpoints.reached(f"resolve.{entity}.reviewed")
    if full:
        index.rebuild(connection, project, entity, match_input)
    elif entity is Entity.CONTACT:  # their account ids may have moved with the accounts
        fresh = match_input["record_id"].isin(scope.indexed).to_numpy()
        index.reindex(connection, project, entity, match_input[~fresh])
    return EntitySummary(
        entity=str(entity),
        records=scope.total,
        scope=len(records),
        golden=len(values),
        candidate_pairs=matched.candidate_pairs,
        matched_pairs=len(matched.links),
        created=len(identity.created),
        updated=changes.updated,
        merged=len(identity.redirects),
        retired=len(identity.retired),
        revived=len(identity.revived),
        warnings=list(matched.warnings),
        touched=changes.touched,
    )


def _match_input(
    connection: Connection,
    project: Project,
    entity: Entity,
    records: pd.DataFrame,
    spec: MatchSpec,
) -> pd.DataFrame:
    """The records as the matcher and the index take them: record_id, source, the match keys
    and, for contacts, account_id."""
    frame = records[["source", *attribute_names(entity)]].assign(
        record_id=records["record_id"].astype("int64").to_numpy()
    )
    if entity is Entity.CONTACT:
        frame["account_id"] = account_ids(connection, project, records).to_numpy()
    return frame.reset_index(drop=True)


def account_ids(connection: Connection, project: Project, records: pd.DataFrame) -> pd.Series:
    """Each contact's golden account as matching evidence: the one its own account key points
    to; else, for a contact with only a company name, the one golden account of that name."""
    sources = index.account_sources(project)
    referred = pd.DataFrame(
        {"source": records["source"].map(sources), "source_key": records["account_key"]}
    )
    xref = store_io.xref_of_keys(connection, str(Entity.ACCOUNT), referred.dropna())
    golden = xref.set_index(["source", "source_key"])["golden_id"]
    by_key = golden.reindex(pd.MultiIndex.from_frame(referred.astype(object))).to_numpy()
    found = pd.Series(by_key, index=records.index, dtype="string")
    companies = records["company"].where(found.isna().to_numpy())  # only where the key found none
    by_name = _account_by_name(connection, companies)
    return found.fillna(companies.map(by_name).astype("string"))


def _account_by_name(connection: Connection, companies: pd.Series) -> pd.Series:
    """Company name (match form) -> golden account, for the names only one golden account
    has, among ``companies``."""
    owners = _accounts_with(connection, index.KeyKind.NAME, companies).drop_duplicates()
    unique = owners[~owners["value"].duplicated(keep=False)]
    return pd.Series(unique["golden_id"].to_numpy(), index=unique["value"].to_numpy(), dtype=object)


def _accounts_with(connection: Connection, kind: index.KeyKind, values: pd.Series) -> pd.DataFrame:
    """value, golden_id of the live account records whose name or domain (``kind``) is one of
    ``values`` (match form), found in the index."""
    found = index.lookup_golden(connection, Entity.ACCOUNT, index.value_texts(kind, values))
    prefix = len(index.key_text(kind) + index.SEPARATOR)
    return pd.DataFrame({"value": found["text"].str.slice(prefix), "golden_id": found["golden_id"]})


def _constraints(
    connection: Connection, entity: Entity, records: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Steward decisions between records of the scope, as record id pairs."""
    decisions = store_io.active_decisions(connection, str(entity))
    ids = records.set_index(["source", "source_key"])["record_id"]
    left = pd.MultiIndex.from_frame(decisions[["left_source", "left_key"]].astype(str))
    right = pd.MultiIndex.from_frame(decisions[["right_source", "right_key"]].astype(str))
    pairs = pd.DataFrame(
        {
            "left_record_id": ids.reindex(left).to_numpy(),
            "right_record_id": ids.reindex(right).to_numpy(),
            "decision": decisions["decision"].to_numpy(),
        }
    ).dropna()
    pairs = pairs.astype({"left_record_id": "int64", "right_record_id": "int64"})
    columns = ["left_record_id", "right_record_id"]
    return {
        "must_link": pairs.loc[pairs["decision"] == "must_link", columns],
        "cannot_link": pairs.loc[pairs["decision"] == "cannot_link", columns],
    }


def _pins(connection: Connection, entity: Entity, identity: IdentityResult) -> pd.DataFrame:
    pins = store_io.active_pins(connection, str(entity))
    pins = pins[pins["golden_id"].isin(set(identity.golden_ids))]
    return pins[["golden_id", "attribute", "value", "pinned_by", "pinned_at"]]


def review_items(records: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs the matcher sent to review, named by source and key, with their levels."""
    columns = [
        "left_source",
        "left_key",
        "right_source",
        "right_key",
        "weight",
        "probability",
        "levels",
    ]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    review = pairs[pairs["decision"] == int(Decision.REVIEW)]
    by_id = records.set_index(records["record_id"].astype("int64"))[["source", "source_key"]]
    left = by_id.reindex(review["left_record_id"].to_numpy())
    right = by_id.reindex(review["right_record_id"].to_numpy())
    level_columns = [c for c in review.columns if c.startswith("level_")]
    levels = [
        json.dumps(
            {c.removeprefix("level_"): int(v) for c, v in zip(level_columns, row, strict=True)}
        )
        for row in review[level_columns].itertuples(index=False, name=None)
    ]
    return pd.DataFrame(
        {
            "left_source": left["source"].to_numpy(),
            "left_key": left["source_key"].to_numpy(),
            "right_source": right["source"].to_numpy(),
            "right_key": right["source_key"].to_numpy(),
            "weight": review["weight"].to_numpy(dtype=float),
            "probability": review["probability"].to_numpy(dtype=float),
            "levels": levels,
        }
    )


def _assign_ids(
    connection: Connection,
    run_id: int,
    entity: Entity,
    records: pd.DataFrame,
    previous: pd.DataFrame,
    labels: np.ndarray,
    full: bool,
) -> IdentityResult:
    # A full run reads every former membership at once; a delta only its records'.
    keys = None if full else records[["source", "source_key"]]
    former = store_io.last_other_memberships(connection, str(entity), keys)
    ids = sorted(set(previous["golden_id"]) | set(former["golden_id"]))
    known = store_io.golden_in(connection, str(entity), ids)
    age = pd.Series(
        known["created_run"].to_numpy(), index=known["golden_id"].to_numpy(), dtype="float64"
    )
    status = pd.Series(known["status"].to_numpy(), index=known["golden_id"].to_numpy())
    return assign_golden_ids(
        entity,
        records[["source", "source_key"]].assign(label=labels),
        previous,
        age,
        lambda candidates: store_io.existing_golden_ids(connection, str(entity), candidates),
        former=former.assign(status=former["golden_id"].map(status)),
        # Before this run writes its ids, the memberships it closed are a steward's doing.
        leaving=store_io.memberships_closed_in(connection, str(entity), run_id),
    )


def _members(
    connection: Connection,
    project: Project,
    entity: Entity,
    records: pd.DataFrame,
    identity: IdentityResult,
) -> pd.DataFrame:
    """The scope's records with their display values, system, time and golden id."""
    stored = store_io.records_in(connection, records["record_id"].astype(int).tolist())
    stored = stored.set_index("record_id").loc[records["record_id"].astype(int)]
    raw = pd.DataFrame(
        [json.loads(text) for text in stored["attributes"]], index=records.index
    ).reindex(columns=attribute_names(entity))
    region = region_of(project, records["source"])
    clean = clean_frame(entity, raw.astype("string"), region)
    systems = {source.name: source.system for source in project.spec.sources}
    frame = pd.DataFrame(
        {
            "record_id": records["record_id"].astype("int64"),
            "source": records["source"],
            "source_key": records["source_key"],
            "system": records["source"].map(lambda name: systems.get(name, name)),
            "last_modified": pd.to_datetime(stored["last_modified"].to_numpy(), utc=True),
            "golden_id": identity.golden_ids.to_numpy(),
        },
        index=records.index,
    )
    return pd.concat([frame, clean[survived_attribute_names(entity)]], axis=1)


def _with_accounts(
    connection: Connection,
    project: Project,
    records: pd.DataFrame,
    members: pd.DataFrame,
    values: pd.DataFrame,
    lineage: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach golden contacts to golden accounts; the link gets a lineage row of its own.

    Only the accounts that could be linked are read: those the contacts' account keys name, and
    those whose name or domain is a contact's company name or email domain."""
    account_sources = index.account_sources(project)
    referred = pd.DataFrame(
        {"source": records["source"].map(account_sources), "source_key": records["account_key"]}
    ).dropna()
    account_xref = store_io.xref_of_keys(connection, str(Entity.ACCOUNT), referred)
    email_domains = match_values(Kind.DOMAIN, records["email"])
    names = _accounts_with(connection, index.KeyKind.NAME, records["company"])
    domains = _accounts_with(connection, index.KeyKind.DOMAIN, email_domains)
    links = relate_contacts(
        members[["golden_id", "record_id", "source", "last_modified"]].assign(
            account_key=records["account_key"],
            company_key=records["company"],
            email_domain=email_domains,
        ),
        account_sources,
        account_xref,
        names.rename(columns={"value": "name_key"})[["golden_id", "name_key"]],
        domains.rename(columns={"value": "domain"})[["golden_id", "domain"]],
    )
    values = values.join(links.set_index("golden_id")[["account_id", "account_link"]])
    link_lineage = pd.DataFrame(
        {
            "golden_id": links["golden_id"],
            "attribute": "account_id",
            "value": links["account_id"],
            "record_id": links["record_id"].astype("int64"),
            "rule": links["account_link"],
            "candidates": 1,
        }
    )
    return values, pd.concat([lineage, link_lineage], ignore_index=True)
