"""Resolve one entity: live source records -> clusters -> golden ids -> golden values + lineage.

Reads its inputs from the store in bulk, runs the pure stages (standardize, match, identity,
survivorship, relate), and writes back only what changed, so a rerun on the same inputs
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, update

from mdm.config.specs import Project
from mdm.identity import IdentityResult, assign_golden_ids
from mdm.matching.engine import MatchResult, match_records
from mdm.matching.standardize import clean_frame, match_frame, match_values
from mdm.relate import relate_contacts
from mdm.schema import Entity, Kind, attribute_names, survived_attribute_names
from mdm.store import io as store_io
from mdm.store.tables import GOLDEN_TABLES, Lineage, Redirect, Xref
from mdm.survivorship import Golden, build_golden


@dataclass
class EntitySummary:
    entity: str
    records: int
    golden: int
    multi_member: int
    candidate_pairs: int
    matched_pairs: int
    created: int
    updated: int
    merged: int
    retired: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Members:
    """The live records of one entity, with their values in every form the stages need."""

    frame: pd.DataFrame  # record_id, source, source_key, system, last_modified
    raw: pd.DataFrame  # canonical attributes as read
    clean: pd.DataFrame  # display form (golden values)
    keys: pd.DataFrame  # match form (blocking and comparing)


def resolve_entity(
    connection: Connection, run_id: int, project: Project, entity: Entity
) -> EntitySummary:
    members = load_members(connection, project, entity)
    matched = match_records(
        members.keys.assign(record_id=members.frame["record_id"].to_numpy()),
        project.rules.match[entity],
    )
    identity = _assign_ids(connection, entity, members, matched)
    member_frame = pd.concat(
        [members.frame, members.clean[survived_attribute_names(entity)]], axis=1
    ).assign(golden_id=identity.golden_ids.to_numpy())
    golden = build_golden(project.rules.survivorship[entity], member_frame)
    values, lineage = golden.values, golden.lineage
    if entity is Entity.CONTACT:
        values, lineage = _with_accounts(connection, project, members, member_frame, golden)
    written = _write_golden(connection, run_id, entity, values, lineage, member_frame, identity)
    _write_xref(connection, run_id, entity, member_frame)
    _write_redirects(connection, run_id, entity, identity)
    return EntitySummary(
        entity=str(entity),
        records=len(member_frame),
        golden=len(values),
        multi_member=int((member_frame["golden_id"].value_counts() > 1).sum()),
        candidate_pairs=matched.candidate_pairs,
        matched_pairs=len(matched.links),
        created=len(identity.created),
        updated=written,
        merged=len(identity.redirects),
        retired=len(identity.retired),
        warnings=list(matched.warnings),
    )


def load_members(connection: Connection, project: Project, entity: Entity) -> Members:
    live = store_io.live_records(connection, str(entity))
    names = attribute_names(entity)
    raw = pd.DataFrame(
        [json.loads(text) for text in live["attributes"]], columns=names, index=live.index
    ).astype("string")
    sources = {source.name: source for source in project.spec.sources}
    region = live["source"].map(
        lambda name: sources[name].default_region if name in sources else "US"
    )
    frame = live[["record_id", "source", "source_key", "last_modified"]].assign(
        system=live["source"].map(lambda name: sources[name].system if name in sources else name),
        last_modified=pd.to_datetime(live["last_modified"], utc=True),
    )
    frame["record_id"] = frame["record_id"].astype("int64")
    return Members(
        frame=frame,
        raw=raw,
        clean=clean_frame(entity, raw, region),
        keys=match_frame(entity, raw, region),
    )


def _assign_ids(
    connection: Connection, entity: Entity, members: Members, matched: MatchResult
) -> IdentityResult:
    previous = store_io.xref(connection, str(entity))
    existing = store_io.golden_records(connection, str(entity))
    redirected = store_io.redirects(connection, str(entity))
    age = pd.Series(
        existing["created_run"].to_numpy(), index=existing["golden_id"].to_numpy(), dtype="float64"
    )
    taken = set(existing["golden_id"]) | set(redirected["from_id"])
    return assign_golden_ids(
        entity,
        members.frame[["source", "source_key"]].assign(label=matched.labels),
        previous,
        age,
        taken,
    )


def _with_accounts(
    connection: Connection,
    project: Project,
    members: Members,
    member_frame: pd.DataFrame,
    golden: Golden,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach golden contacts to golden accounts; the link gets a lineage row of its own."""
    account_xref = store_io.xref(connection, str(Entity.ACCOUNT))
    names, domains = _account_keys(connection, project, account_xref)
    links = relate_contacts(
        member_frame[["golden_id", "record_id", "source", "last_modified"]].assign(
            account_key=members.raw["account_key"].str.strip(),
            company_key=members.keys["company"],
            email_domain=match_values(Kind.DOMAIN, members.raw["email"]),
        ),
        {s.name: s.account_source for s in project.spec.sources if s.account_source},
        account_xref,
        names,
        domains,
    )
    values = golden.values.join(links.set_index("golden_id")[["account_id", "account_link"]])
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
    return values, pd.concat([golden.lineage, link_lineage], ignore_index=True)


def _account_keys(
    connection: Connection, project: Project, account_xref: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every member name and domain of every golden account, in match form."""
    accounts = load_members(connection, project, Entity.ACCOUNT)
    golden_of = account_xref.set_index("record_id")["golden_id"]
    golden_ids = accounts.frame["record_id"].map(golden_of)
    names = pd.DataFrame({"golden_id": golden_ids, "name_key": accounts.keys["name"]})
    domains = pd.DataFrame({"golden_id": golden_ids, "domain": accounts.keys["domain"]})
    return names, domains


def _golden_hash(values: pd.DataFrame, lineage: pd.DataFrame, members: pd.Series) -> pd.Series:
    """What makes a golden record different: its values, where they came from, its size."""
    trail = (
        lineage.sort_values(["golden_id", "attribute"])
        .assign(part=lambda f: f["attribute"] + "=" + f["record_id"].astype(str) + ":" + f["rule"])
        .groupby("golden_id")["part"]
        .agg("|".join)
    )
    text = pd.Series("", index=values.index, dtype=object)
    for column in values.columns:
        text = text + values[column].astype(object).where(values[column].notna(), "\x00") + "\x1f"
    combined = text + "\x1e" + trail.reindex(values.index).fillna("") + "\x1e" + members.astype(str)
    return pd.Series(
        [hashlib.sha256(item.encode()).hexdigest() for item in combined],
        index=values.index,
        dtype=object,
    )


def _write_golden(
    connection: Connection,
    run_id: int,
    entity: Entity,
    values: pd.DataFrame,
    lineage: pd.DataFrame,
    member_frame: pd.DataFrame,
    identity: IdentityResult,
) -> int:
    """Insert new and changed golden records, mark merged and retired ones; keep the rest."""
    model = GOLDEN_TABLES[str(entity)]
    existing = store_io.golden_records(connection, str(entity)).set_index("golden_id")
    members = member_frame["golden_id"].value_counts().reindex(values.index).astype("int64")
    hashes = _golden_hash(values, lineage, members)
    was_active = existing["status"].reindex(values.index).astype(object).eq("active")
    same_hash = hashes.astype(object).eq(existing["content_hash"].reindex(values.index))
    unchanged = same_hash.to_numpy(dtype=bool) & was_active.to_numpy(dtype=bool)
    changed = values.index[~unchanged]
    rows = values.loc[changed].assign(
        status="active",
        members=members.loc[changed],
        content_hash=hashes.loc[changed],
        created_run=existing["created_run"].reindex(changed).fillna(run_id).astype("int64"),
        updated_run=run_id,
    )
    store_io.delete_in(connection, model, "golden_id", changed)
    store_io.insert_frame(connection, model, rows.rename_axis("golden_id").reset_index())
    _set_status(connection, entity, run_id, identity.redirects["from_id"].tolist(), "merged")
    _set_status(connection, entity, run_id, identity.retired, "retired")
    gone = [*changed, *identity.redirects["from_id"], *identity.retired]
    store_io.delete_in(connection, Lineage, "golden_id", gone)
    fresh = lineage[lineage["golden_id"].isin(set(changed))]
    store_io.insert_frame(connection, Lineage, fresh.assign(entity=str(entity), run_id=run_id))
    return len(set(changed) - set(identity.created))


def _set_status(
    connection: Connection, entity: Entity, run_id: int, golden_ids: list[str], status: str
) -> None:
    if not golden_ids:
        return
    table = store_io.table_of(GOLDEN_TABLES[str(entity)])
    for start in range(0, len(golden_ids), store_io.CHUNK):
        chunk = golden_ids[start : start + store_io.CHUNK]
        connection.execute(
            update(table)
            .where(table.c.golden_id.in_(chunk), table.c.status != status)
            .values(status=status, updated_run=run_id)
        )


def _write_xref(
    connection: Connection, run_id: int, entity: Entity, member_frame: pd.DataFrame
) -> None:
    """Keep xref rows that did not change (and their run), replace the others."""
    previous = store_io.xref(connection, str(entity))
    current = member_frame[["source", "source_key", "golden_id", "record_id"]].assign(
        entity=str(entity)
    )
    merged = current.merge(
        previous, on=["source", "source_key"], how="outer", suffixes=("", "_old"), indicator=True
    )
    same = (
        (merged["_merge"] == "both")
        & (merged["golden_id"] == merged["golden_id_old"])
        & (merged["record_id"] == merged["record_id_old"])
    )
    stale = merged[~same & (merged["_merge"] != "left_only")]
    _delete_xref(connection, stale[["source", "source_key"]])
    fresh = merged[~same & (merged["_merge"] != "right_only")]
    rows = fresh[["source", "source_key", "entity", "golden_id", "record_id"]].assign(
        run_id=run_id, record_id=fresh["record_id"].astype("int64")
    )
    store_io.insert_frame(connection, Xref, rows)


def _delete_xref(connection: Connection, keys: pd.DataFrame) -> None:
    table = store_io.table_of(Xref)
    for source, group in keys.groupby("source"):
        store_io.delete_in_where(
            connection, table, "source_key", group["source_key"], source=source
        )


def _write_redirects(
    connection: Connection, run_id: int, entity: Entity, identity: IdentityResult
) -> None:
    rows = identity.redirects.assign(entity=str(entity), run_id=run_id)
    store_io.insert_frame(connection, Redirect, rows)
