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
import pandas as pd
from sqlalchemy import Connection

from mdm.config import MatchSpec
from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.identity import IdentityResult, assign_golden_ids
from mdm.matching.block import block
from mdm.matching.decide import Decision
from mdm.matching.engine import match_records, term_frequencies_of
from mdm.matching.standardize import clean_frame, match_values
from mdm.pipeline.keys import live_keys, region_of
from mdm.pipeline.models import load_model, save_model
from mdm.pipeline.write import GoldenChanges, write_resolution
from mdm.relate import relate_contacts
from mdm.schema import Entity, Kind, attribute_names, survived_attribute_names
from mdm.store import io as store_io
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
    previous: pd.DataFrame  # their xref before this run: source, source_key, golden_id
    total: int  # live records of the entity


def resolve_entity(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    *,
    full: bool = True,
    also_golden: set[str] | None = None,
    keys_cache: dict[Entity, pd.DataFrame] | None = None,
) -> EntitySummary:
    """Recompute the entity's golden records in scope; ``also_golden`` widens a delta scope.

    ``keys_cache`` shares the live records' match keys between the entities of one run.
    """
    cache = keys_cache if keys_cache is not None else {}
    if not full and not also_golden and _nothing_changed(connection, run_id, entity):
        return _nothing(entity, store_io.live_count(connection, str(entity)))
    keys = _cached_keys(connection, project, entity, cache)
    if full:
        scope = Scope(keys, store_io.xref(connection, str(entity)), len(keys))
    else:
        scope = _delta_scope(connection, run_id, project, entity, keys, also_golden or set(), cache)
    if scope.records.empty and scope.previous.empty:
        return _nothing(entity, len(keys))
    return _resolve_scope(connection, run_id, project, entity, scope, cache)


def _cached_keys(
    connection: Connection, project: Project, entity: Entity, cache: dict[Entity, pd.DataFrame]
) -> pd.DataFrame:
    if entity not in cache:
        cache[entity] = live_keys(connection, project, entity)
    return cache[entity]


def _nothing_changed(connection: Connection, run_id: int, entity: Entity) -> bool:
    """No record of the entity changed, and (for contacts) no account record moved."""
    if not store_io.changed_records(connection, str(entity), run_id).empty:
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
    keys: pd.DataFrame,
    also_golden: set[str],
    cache: dict[Entity, pd.DataFrame],
) -> Scope:
    changed = store_io.changed_records(connection, str(entity), run_id)
    if entity is Entity.CONTACT:
        changed = pd.concat(
            [changed, _contacts_of_changed_accounts(connection, run_id, project, keys)]
        )
    record_keys = pd.MultiIndex.from_frame(keys[["source", "source_key"]])
    is_changed = record_keys.isin(pd.MultiIndex.from_frame(changed[["source", "source_key"]]))
    partners = _partners(connection, project, entity, keys, is_changed, cache)
    touched = keys.loc[is_changed | partners, ["source", "source_key"]]
    before = store_io.xref_of_keys(
        connection, str(entity), pd.concat([touched, changed[["source", "source_key"]]])
    )
    golden_ids = sorted(set(before["golden_id"]) | also_golden)
    previous = store_io.xref_of_golden_ids(connection, golden_ids)
    members = pd.MultiIndex.from_frame(previous[["source", "source_key"]])
    in_scope = is_changed | partners | record_keys.isin(members)
    return Scope(
        keys[in_scope].reset_index(drop=True),
        previous[["source", "source_key", "golden_id"]],
        len(keys),
    )


def _partners(
    connection: Connection,
    project: Project,
    entity: Entity,
    keys: pd.DataFrame,
    is_changed: np.ndarray,
    cache: dict[Entity, pd.DataFrame],
) -> np.ndarray:
    """Rows a changed record matches or would be reviewed with: only the pairs touching a
    changed record are compared, with the saved model and the population's value shares."""
    flags = np.zeros(len(keys), dtype=bool)
    if not is_changed.any():
        return flags
    spec = project.rules.match[entity]
    everyone = _match_input(connection, project, entity, keys.reset_index(drop=True), spec, cache)
    # Compare only the records that share a block with a changed one.
    pairs = block(everyone, spec, new=is_changed).pairs
    rows = np.unique(np.concatenate([pairs["left"].to_numpy(), pairs["right"].to_numpy()]))
    if len(rows) == 0:
        return flags
    result = match_records(
        everyone.iloc[rows].reset_index(drop=True),
        spec,
        model=load_model(project, entity) if spec.method is Method.PROBABILISTIC else None,
        frequencies=term_frequencies_of(keys, spec),
        new=is_changed[rows],
    )
    linked = [result.links]
    if not result.pairs.empty:
        linked.append(result.pairs)
    ids = pd.concat(
        [frame[["left_record_id", "right_record_id"]] for frame in linked], ignore_index=True
    )
    flags |= keys["record_id"].isin(set(ids.to_numpy().ravel().tolist())).to_numpy()
    return flags


def _contacts_of_changed_accounts(
    connection: Connection, run_id: int, project: Project, contact_keys: pd.DataFrame
) -> pd.DataFrame:
    """Contacts whose account key names an account record that joined or left a golden
    account in this run: their link may change. A changed phone moves nothing."""
    accounts = store_io.moved_members(connection, str(Entity.ACCOUNT), run_id)
    account_source = contact_keys["source"].map(
        {s.name: s.account_source for s in project.spec.sources if s.account_source}
    )
    referred = pd.MultiIndex.from_arrays([account_source, contact_keys["account_key"]])
    hit = referred.isin(pd.MultiIndex.from_frame(accounts[["source", "source_key"]]))
    return contact_keys.loc[hit, ["source", "source_key"]].assign(deleted=False)


def _resolve_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    scope: Scope,
    cache: dict[Entity, pd.DataFrame],
) -> EntitySummary:
    records = scope.records
    spec = project.rules.match[entity]
    matched = match_records(
        _match_input(connection, project, entity, records, spec, cache),
        spec,
        model=load_model(project, entity) if spec.method is Method.PROBABILISTIC else None,
        # Value shares of the whole population, so that a delta scores as a full run does.
        frequencies=term_frequencies_of(_cached_keys(connection, project, entity, cache), spec),
        **_constraints(connection, entity, records),
    )
    if matched.trained and matched.model is not None:
        save_model(project, entity, matched.model)
    identity = _assign_ids(connection, entity, records, scope.previous, matched.labels)
    members = _members(connection, project, entity, records, identity)
    golden = build_golden(
        project.rules.survivorship[entity],
        members,
        now=store_io.latest_modified(connection, str(entity)),
        pins=_pins(connection, entity, identity),
    )
    values, lineage = golden.values, golden.lineage
    if entity is Entity.CONTACT:
        account_keys = _cached_keys(connection, project, Entity.ACCOUNT, cache)
        values, lineage = _with_accounts(
            connection, project, records, members, values, lineage, account_keys
        )
    changes = write_resolution(
        connection,
        run_id,
        entity,
        GoldenChanges(values, lineage, members, identity, scope.previous),
    )
    store_io.replace_reviews(
        connection, str(entity), records, review_items(records, matched.pairs), run_id
    )
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
    cache: dict[Entity, pd.DataFrame],
) -> pd.DataFrame:
    frame = records[attribute_names(entity)].assign(
        record_id=records["record_id"].astype("int64").to_numpy()
    )
    if "account_id" in spec.extra_fields:
        frame["account_id"] = _cached_account_ids(connection, project, records, cache).to_numpy()
    return frame


def _cached_account_ids(
    connection: Connection,
    project: Project,
    records: pd.DataFrame,
    cache: dict[Entity, pd.DataFrame],
) -> pd.Series:
    """Account ids of all live contacts, computed once a run, then taken for ``records``."""
    contacts = _cached_keys(connection, project, Entity.CONTACT, cache)
    if "account_id" not in contacts.columns:
        accounts = _cached_keys(connection, project, Entity.ACCOUNT, cache)
        ids = account_ids(connection, project, contacts, accounts)
        cache[Entity.CONTACT] = contacts = contacts.assign(account_id=ids)
    found = contacts.set_index("record_id")["account_id"]
    return pd.Series(
        found.reindex(records["record_id"].to_numpy()).to_numpy(),
        index=records.index,
        dtype="string",
    )


def account_ids(
    connection: Connection, project: Project, records: pd.DataFrame, account_keys: pd.DataFrame
) -> pd.Series:
    """Each contact's golden account as matching evidence: the one its own account key points
    to; else, for a contact with only a company name, the one golden account of that name."""
    account_sources = {s.name: s.account_source for s in project.spec.sources if s.account_source}
    referred = pd.DataFrame(
        {"source": records["source"].map(account_sources), "source_key": records["account_key"]}
    )
    xref = store_io.xref_of_keys(connection, str(Entity.ACCOUNT), referred.dropna())
    golden = xref.set_index(["source", "source_key"])["golden_id"]
    by_key = golden.reindex(pd.MultiIndex.from_frame(referred.astype(object))).to_numpy()
    found = pd.Series(by_key, index=records.index, dtype="string")
    by_name = _account_by_name(connection, account_keys)
    return found.fillna(records["company"].map(by_name).astype("string"))


def _account_by_name(connection: Connection, account_keys: pd.DataFrame) -> pd.Series:
    """Company name (match form) -> golden account, for names only one golden account has."""
    golden = store_io.golden_of_records(connection, str(Entity.ACCOUNT))
    named = account_keys[["source", "source_key", "name"]].merge(golden, how="inner").dropna()
    owners = named.drop_duplicates(["name", "golden_id"])
    unique = owners[~owners["name"].duplicated(keep=False)]
    return pd.Series(unique["golden_id"].to_numpy(), index=unique["name"].to_numpy(), dtype=object)


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
    entity: Entity,
    records: pd.DataFrame,
    previous: pd.DataFrame,
    labels: np.ndarray,
) -> IdentityResult:
    known = store_io.golden_in(connection, str(entity), sorted(set(previous["golden_id"])))
    age = pd.Series(
        known["created_run"].to_numpy(), index=known["golden_id"].to_numpy(), dtype="float64"
    )
    return assign_golden_ids(
        entity,
        records[["source", "source_key"]].assign(label=labels),
        previous,
        age,
        lambda candidates: store_io.existing_golden_ids(connection, str(entity), candidates),
        former=store_io.former_members(connection, str(entity)),
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
    account_keys: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach golden contacts to golden accounts; the link gets a lineage row of its own."""
    account_sources = {s.name: s.account_source for s in project.spec.sources if s.account_source}
    referred = pd.DataFrame(
        {"source": records["source"].map(account_sources), "source_key": records["account_key"]}
    ).dropna()
    account_xref = store_io.xref_of_keys(connection, str(Entity.ACCOUNT), referred)
    golden_of = account_keys[["source", "source_key"]].merge(
        store_io.golden_of_records(connection, str(Entity.ACCOUNT)), how="left"
    )["golden_id"]
    links = relate_contacts(
        members[["golden_id", "record_id", "source", "last_modified"]].assign(
            account_key=records["account_key"],
            company_key=records["company"],
            email_domain=match_values(Kind.DOMAIN, records["email"]),
        ),
        account_sources,
        account_xref,
        pd.DataFrame({"golden_id": golden_of, "name_key": account_keys["name"]}),
        pd.DataFrame({"golden_id": golden_of, "domain": account_keys["domain"]}),
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
