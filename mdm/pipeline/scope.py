"""What a resolution recomputes: its scope.

A full run takes every live record. A nightly run takes the records loaded since the entity's
resolution mark, their candidate partners and every member of the golden records they touch:
the work grows with the delta, not with the master. A delta finds its partners through the
record-key index, so it first brings the index up to date with the changed records (block
sizes and value shares then count them as they are now, as a full run would), then reads the
candidates by key: nothing here reads the whole master.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection

from mdm.config.match_spec import Method
from mdm.config.specs import Project
from mdm.matching.protocol import DEFAULT_ENGINE, engine_named
from mdm.pipeline import index
from mdm.pipeline.keys import keys_of, live_keys
from mdm.pipeline.match_input import match_input
from mdm.pipeline.models import RunModels
from mdm.schema import Entity
from mdm.store import golden, marks, record_index, records

KEYS = ["source", "source_key"]


@dataclass(frozen=True)
class Scope:
    records: pd.DataFrame  # live records to recompute: record_id, source, source_key, keys
    previous: pd.DataFrame  # their xref before: source, source_key, golden_id, record_id
    total: int  # live records of the entity
    # A delta's: the match input of ``records`` (same rows, same order), computed as it found
    # them, and the record ids it has indexed already.
    match_input: pd.DataFrame | None = None
    indexed: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return self.records.empty and self.previous.empty


def unresolved(connection: Connection, entity: Entity) -> pd.DataFrame:
    """The versions loaded since the last resolution (by this run or an earlier `mdm ingest`):
    source, source_key, deleted."""
    mark = marks.resolution_mark(connection, entity)
    return marks.versions_since(connection, entity, mark or 0)


def nothing_changed(
    connection: Connection, run_id: int, entity: Entity, loaded: pd.DataFrame
) -> bool:
    """No record of the entity changed, and (for contacts) no account record moved."""
    if not loaded.empty:
        return False
    if entity is Entity.CONTACT:
        return golden.moved_members(connection, Entity.ACCOUNT, run_id).empty
    return True


def full_scope(connection: Connection, project: Project, entity: Entity) -> Scope:
    keys = live_keys(connection, project, entity)
    return Scope(keys, golden.xref(connection, entity), len(keys))


def delta_scope(
    connection: Connection,
    run_id: int,
    project: Project,
    entity: Entity,
    models: RunModels,
    loaded: pd.DataFrame,
    also_golden: set[str] | None,
) -> Scope:
    """The changed records (``loaded``: versions since the mark), their partners and every
    member of the golden records they touch (and of ``also_golden``), read by key."""
    changed = loaded[KEYS]
    if entity is Entity.CONTACT:
        changed = pd.concat([changed, _contacts_of_changed_accounts(connection, run_id)])
    changed = changed.drop_duplicates(ignore_index=True)
    current = records.current_ids_of_keys(connection, entity, changed)
    live_ids = current.loc[~current["deleted"].astype(bool), "record_id"].astype("int64")
    changed_keys = keys_of(connection, project, entity, live_ids.tolist())
    # The index first sees the changed records as they are now, then finds their partners.
    changed_input = match_input(connection, project, entity, changed_keys)
    replaced = records.ids_of_versions(connection, entity, changed)
    blocks = index.reindex(connection, project, entity, changed_input, dropped=replaced)
    partners = _partners(connection, project, entity, models, changed_input, blocks)
    touched = pd.concat([changed, partners.keys[KEYS]], ignore_index=True)
    before = golden.xref_of_keys(connection, entity, touched)
    golden_ids = sorted(set(before["golden_id"]) | (also_golden or set()))
    previous = golden.xref_of_golden_ids(connection, golden_ids)
    members = records.current_ids_of_keys(connection, entity, previous[KEYS])
    member_ids = members.loc[~members["deleted"].astype(bool), "record_id"].astype("int64")
    # The changed records' and partners' keys and match input are made already: make only the
    # other members'.
    unread = sorted(set(member_ids) - set(live_ids) - set(partners.keys["record_id"]))
    unread_keys = keys_of(connection, project, entity, unread)
    scoped = pd.concat([changed_keys, partners.keys, unread_keys], ignore_index=True)
    scoped_input = pd.concat(
        [
            changed_input,
            partners.match_input,
            match_input(connection, project, entity, unread_keys),
        ],
        ignore_index=True,
    )
    order = np.argsort(scoped["record_id"].to_numpy(dtype="int64"), kind="stable")
    return Scope(
        scoped.iloc[order].reset_index(drop=True),
        previous[["source", "source_key", "golden_id", "record_id"]],
        index.live_count(connection, entity),
        match_input=scoped_input.iloc[order].reset_index(drop=True),
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
        return Partners(nobody, match_input(connection, project, entity, nobody))
    sizes = record_index.key_counts(connection, entity, blocks.tolist())
    kept = sizes[sizes <= spec.max_block_size].index.tolist()
    candidates = record_index.records_having_keys(connection, entity, kept)
    others = sorted(set(candidates) - set(changed["record_id"].astype("int64")))
    other_keys = keys_of(connection, project, entity, others)
    other_input = match_input(connection, project, entity, other_keys)
    everyone = pd.concat([changed, other_input], ignore_index=True)
    is_changed = np.r_[np.ones(len(changed), dtype=bool), np.zeros(len(other_input), dtype=bool)]
    result = engine_named(DEFAULT_ENGINE).match(
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
    accounts = golden.moved_members(connection, Entity.ACCOUNT, run_id)
    texts = index.reference_texts(accounts["source"], accounts["source_key"])
    ids = index.lookup(connection, Entity.CONTACT, texts)["record_id"].tolist()
    return records.keys_of_records(connection, ids)[KEYS]
