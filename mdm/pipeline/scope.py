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
from mdm.store import golden, marks, record_index, records, stewardship

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
    also_records: pd.DataFrame | None = None,
) -> Scope | None:
    """The changed records (``loaded``: versions since the mark, and ``also_records``: records
    whose match input changed without a new version), their partners and every member of the
    golden records they touch (and of ``also_golden``) and of the golden records joined to
    those by a pair in the review queue, read by key. The records whose scores moved with the
    changed records' (``_shifted``) count as touched. None: every score of the entity moved
    (a comparison's population reached another step), recompute it in full."""
    changed = loaded[KEYS]
    if also_records is not None:
        changed = pd.concat([changed, also_records[KEYS]])
    changed = changed.drop_duplicates(ignore_index=True)
    current = records.current_ids_of_keys(connection, entity, changed)
    live_ids = current.loc[~current["deleted"].astype(bool), "record_id"].astype("int64")
    changed_keys = keys_of(connection, project, entity, live_ids.tolist())
    # The index first sees the changed records as they are now, then finds their partners.
    changed_input = match_input(connection, project, entity, changed_keys)
    replaced = records.ids_of_versions(connection, entity, changed)
    reindexed = index.reindex(connection, project, entity, changed_input, dropped=replaced)
    shifted = _shifted(connection, project, entity, reindexed)
    if shifted is None:
        return None
    partners = _partners(connection, project, entity, models, changed_input, reindexed.blocks)
    touched = pd.concat([changed, partners.keys[KEYS], shifted], ignore_index=True)
    before = golden.xref_of_keys(connection, entity, touched)
    previous = _components(connection, entity, set(before["golden_id"]) | (also_golden or set()))
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


def _shifted(
    connection: Connection, project: Project, entity: Entity, reindexed: index.Reindexed
) -> pd.DataFrame | None:
    """The records whose scores moved with the counts the changed records changed, though they
    did not change themselves (source, source_key): those with a value whose count reached
    another step (its share, and the weight of every pair agreeing on it, moved), and those in
    a block that grew over the size limit or fell back under it (its pairs are made, or no
    longer). None when the population of a comparison reached another step: every share of it
    moved."""
    change = reindexed.counts
    counts = record_index.key_counts(connection, entity, change.index.tolist())
    after = counts.reindex(change.index, fill_value=0).to_numpy(dtype=np.int64)
    before = after - change.to_numpy(dtype=np.int64)
    stepped = index.on_grid(before) != index.on_grid(after)
    population = change.index.isin(index.population_keys(project, entity))
    if (stepped & population).any():
        return None
    limit = project.rules.match[entity].max_block_size
    crossed = (before > limit) != (after > limit)
    value = change.index.isin(reindexed.values)
    live = change.index.isin(index.hashed([index.key_text(index.KeyKind.LIVE)]))
    keys = change.index[(stepped & value) | (crossed & ~value & ~population & ~live)]
    ids = record_index.records_having_keys(connection, entity, keys.tolist())
    return records.keys_of_records(connection, ids)[KEYS]


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
        # Every pair has a changed record, so only the changed records' blocks can be too
        # large: the others' make no pair whatever their size.
        oversized=index.oversized_blocks(connection, entity, spec, changed),
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


def _components(connection: Connection, entity: Entity, golden_ids: set[str]) -> pd.DataFrame:
    """The xref of the golden records ``golden_ids`` and of every golden record joined to them
    by an open review pair, transitively.

    Clustering cuts a match that bridges two groups of records weakly; the cut match goes to
    the review queue. How a group of matched records is cut depends on every record of it, so a
    scope takes whole groups: the golden records its records are in and those the review queue
    joins to them (a cut match is a review pair; other review pairs widen the scope a little
    more than needed)."""
    found = set(golden_ids)
    previous = golden.xref_of_golden_ids(connection, sorted(found))
    frontier = previous
    while not frontier.empty:
        paired = stewardship.open_review_partners(connection, entity, frontier[KEYS])
        more = sorted(set(golden.xref_of_keys(connection, entity, paired)["golden_id"]) - found)
        found |= set(more)
        frontier = golden.xref_of_golden_ids(connection, more)
        previous = pd.concat([previous, frontier], ignore_index=True)
    return previous


@dataclass(frozen=True)
class AccountDependents:
    """What the accounts resolved in a run change for contacts."""

    records: pd.DataFrame  # source, source_key of contacts whose account evidence changed
    golden: set[str]  # golden contacts whose link to an account may change


def account_dependents(
    connection: Connection, project: Project, run_id: int, loaded: pd.DataFrame
) -> AccountDependents:
    """The contacts that the accounts of this run concern (``loaded``: the account versions it
    resolved, source and source_key).

    A contact's account evidence (``account_id``) and its golden record's link are the golden
    account its account key names, else the one of its company name, else (a link only) the
    one of its email domain. Those change when an account record it names by key joins or
    leaves a golden account, or when an account record that has (or had) its company name or
    email domain does: these contacts are found in the index by the account records' keys.
    Those whose evidence changed are to be matched again; the golden records of all of them
    are linked again. A changed phone concerns nobody."""
    moved = golden.moved_members(connection, Entity.ACCOUNT, run_id)[KEYS]
    texts = _account_texts(connection, project, loaded[KEYS], moved)
    ids = sorted(set(index.lookup(connection, Entity.CONTACT, texts)["record_id"].tolist()))
    keys = keys_of(connection, project, Entity.CONTACT, ids)
    now = index.index_rows(
        project, Entity.CONTACT, match_input(connection, project, Entity.CONTACT, keys)
    )
    stored = record_index.record_keys_of(connection, keys["record_id"].tolist())
    both = now.merge(stored, how="outer", indicator=True)
    differ = set(both.loc[both["_merge"] != "both", "record_id"].tolist())
    return AccountDependents(
        keys.loc[keys["record_id"].isin(differ), KEYS].reset_index(drop=True),
        set(golden.xref_of_keys(connection, Entity.CONTACT, keys[KEYS])["golden_id"]),
    )


def _account_texts(
    connection: Connection, project: Project, loaded: pd.DataFrame, moved: pd.DataFrame
) -> npt.NDArray[np.object_]:
    """The index keys by which contacts name the account records that moved (joined or left a
    golden account: their key, and every name and domain they had) or changed their name or
    domain (every name and domain they had)."""
    keys = pd.concat([loaded, moved]).drop_duplicates(ignore_index=True)
    versions = index.versions_of(connection, project, Entity.ACCOUNT, keys)
    is_moved = pd.MultiIndex.from_frame(versions[KEYS]).isin(pd.MultiIndex.from_frame(moved))
    texts = [index.reference_texts(moved["source"], moved["source_key"])]
    for column, kind in (("name", index.KeyKind.NAME), ("domain", index.KeyKind.DOMAIN)):
        values = versions[column].astype("string").fillna("\x00")
        varies = values.groupby([versions["source"], versions["source_key"]]).transform("nunique")
        concerned = versions.loc[is_moved | (varies > 1).to_numpy(), column]
        texts.append(index.value_texts(kind, concerned))
    return np.concatenate(texts)
