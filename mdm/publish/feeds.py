"""Sync feeds: for each source, what that system must change to agree with the master
(``mdm publish``), as an outbox with a sequence number per source.

A publish, per source, in one store transaction under the writer lock: compares the master
now with the source's published state (``mdm.publish.feed_changes``), appends the difference
to the source's outbox as its next batch of sequence numbers, and moves the published state on.
Then it writes every row the source has not acknowledged to the target. A run never needs to
know about feeds; a publish with nothing new adds no batch and writes the same unacknowledged
rows again, byte for byte. Killed before its transaction commits, a publish leaves the store as
it was and the next one computes the same batch; killed after, the next one adds nothing and
writes what the killed one would have.

``mdm publish --ack SOURCE [SEQ]`` records that the source applied its feed up to SEQ: the
rows up to there are not sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection

from mdm import failpoints
from mdm.config.specs import Project, SourceSpec
from mdm.errors import MdmError, Reason
from mdm.publish.feed_changes import (
    FeedSource,
    Moves,
    create_rows,
    feed_changes,
    held_values,
    records_to_read,
    update_rows,
    value_differences,
)
from mdm.publish.feed_store import (
    Cursor,
    append_batch,
    create_candidates,
    cursor_of,
    display_forms,
    golden_values,
    last_batch_run,
    moves_of,
    published_state,
    record_created,
    source_xref,
    unacknowledged,
    value_lineage,
    write_state,
)
from mdm.publish.feed_store import acknowledge as store_acknowledge
from mdm.publish.feed_targets import FeedTarget, Unacknowledged, read_target_ack
from mdm.schema import Entity, RunStatus, survived_attribute_names
from mdm.store import Store, open_store, runs
from mdm.store.bulk import now
from mdm.store.migrate import writing
from mdm.store.schema_version import schema_state

# Attributes a whole-name column fills when it is loaded.
NAME_PARTS = ("first_name", "middle_name", "last_name")


@dataclass(frozen=True)
class Published:
    """One source's publish: the batch it added (0: none) with its rows, and what it wrote."""

    source: str
    batch: int
    added: int
    cursor: Cursor  # after the publish
    written: int  # unacknowledged rows written to the target
    where: str


@dataclass(frozen=True)
class Acknowledged:
    source: str
    before: int
    after: int
    published: int


# ---- the sources ------------------------------------------------------------------------------


def feed_sources(project: Project, names: Sequence[str] | None = None) -> list[FeedSource]:
    """The feeds of the project's sources (of ``names``, if given, in the project's order);
    an MdmError naming each unknown name."""
    known = [source.name for source in project.spec.sources]
    unknown = [name for name in names or [] if name not in known]
    if unknown:
        raise MdmError(
            Reason.NOT_FOUND,
            f"No source named {', '.join(repr(n) for n in unknown)} in "
            f"{project.root / 'mdm.toml'}. Nothing was published: the sources are "
            f"{', '.join(known)}.",
        )
    chosen = [s for s in project.spec.sources if not names or s.name in set(names)]
    return [_feed_source(project, source) for source in chosen]


def _feed_source(project: Project, source: SourceSpec) -> FeedSource:
    mapped = set(source.mapping)
    if "full_name" in mapped:
        mapped |= set(NAME_PARTS)
    return FeedSource(
        name=source.name,
        system=source.system,
        entity=source.entity,
        attributes=tuple(n for n in survived_attribute_names(source.entity) if n in mapped),
        account_source=_own_account_source(project, source),
        region=source.default_region,
    )


def _own_account_source(project: Project, source: SourceSpec) -> str | None:
    """The account source of a contact source when both are the same system's: that system
    holds the accounts, so it can create contacts under them."""
    if source.entity is not Entity.CONTACT or source.account_source is None:
        return None
    accounts = [s for s in project.spec.sources if s.name == source.account_source]
    if accounts and accounts[0].system == source.system and accounts[0].entity is Entity.ACCOUNT:
        return accounts[0].name
    return None


def _systems(project: Project) -> dict[str, str]:
    return {source.name: source.system for source in project.spec.sources}


# ---- publish ----------------------------------------------------------------------------------


def publish(
    project: Project,
    target: FeedTarget,
    names: Sequence[str] | None = None,
    wait_seconds: float | None = 0,
) -> list[Published]:
    """Publish the feed of each source (of ``names``, if given) to ``target``."""
    sources = feed_sources(project, names)
    target.check([source.name for source in sources])
    store = _open_written(project)
    try:
        failpoints.reached("publish.begin")
        with writing(store, "publish", wait_seconds):
            published = [_publish_one(store, project, source, target) for source in sources]
    finally:
        target.close()
        store.close()
    failpoints.reached("publish.done")
    return published


def _publish_one(
    store: Store, project: Project, source: FeedSource, target: FeedTarget
) -> Published:
    with store.transaction() as connection:
        batch, added = add_batch(connection, source, _systems(project))
        cursor = cursor_of(connection, source.name)
        rows, batches = unacknowledged(connection, source.name)
    failpoints.reached("publish.committed")
    where = target.write(Unacknowledged(source.name, rows, batches, cursor))
    failpoints.reached("publish.source.done")
    return Published(source.name, batch, added, cursor, len(rows), where)


def add_batch(
    connection: Connection, source: FeedSource, systems: Mapping[str, str]
) -> tuple[int, int]:
    """Compare the master with the source's published state; append the difference to its
    outbox as a batch and move its state on. The batch's number (0: nothing new) and rows."""
    records = source_xref(connection, source.name)
    state = published_state(connection, source)
    forms = display_forms(connection, source, records_to_read(records, state))
    failpoints.reached("publish.read")
    attributes = list(source.attributes)
    held = held_values(records, state, forms, attributes)
    golden = golden_values(
        connection, source.entity, records["golden_id"].unique().tolist(), attributes
    )
    differences = value_differences(records, held, golden, attributes)
    candidates = create_candidates(connection, source)
    created_values = golden_values(
        connection, source.entity, candidates["golden_id"].tolist(), attributes
    )
    lineage = value_lineage(
        connection,
        source.entity,
        sorted({*differences["golden_id"], *candidates["golden_id"]}),
        systems,
    )
    changes = feed_changes(
        source,
        records,
        state,
        held,
        update_rows(differences, lineage, source.system),
        _moves(connection, source, records, state),
        create_rows(candidates, created_values, lineage, attributes),
    )
    failpoints.reached("publish.computed")
    run_id = runs.latest_run_id(connection, RunStatus.SUCCEEDED)
    batch, _cursor = append_batch(connection, source.name, changes.rows, run_id, now())
    failpoints.reached("publish.outbox.written")
    write_state(connection, source, changes.state, changes.gone)
    record_created(connection, source, changes.created, batch)
    failpoints.reached("publish.state.written")
    return batch, len(changes.rows)


def _moves(
    connection: Connection, source: FeedSource, records: pd.DataFrame, state: pd.DataFrame
) -> Moves:
    """Where the golden ids the source was told went, for its records now in another golden
    record. Every such move happened after the run of the source's last batch: a publish that
    finds a move adds a batch."""
    joined = records.merge(state, on="source_key", suffixes=("", "_told"))
    moved = joined[joined["golden_id"] != joined["golden_id_told"]]
    return moves_of(
        connection,
        source.entity,
        sorted(set(moved["golden_id_told"].astype(str))),
        sorted(set(moved["golden_id"].astype(str))),
        last_batch_run(connection, source.name),
    )


def _open_written(project: Project) -> Store:
    """The project's store, opened to write feeds: refused if no run has made it yet."""
    store = open_store(project.store_url, writing=True)
    with store.transaction() as connection:
        empty = schema_state(connection).empty
    if empty:
        store.close()
        raise MdmError(
            Reason.STORE,
            "The store is empty: there is no master to publish. Load it with 'mdm run' first.",
        )
    return store


# ---- acknowledge ------------------------------------------------------------------------------


def acknowledge(
    project: Project,
    source: str,
    seq: int | None = None,
    target_url: str | None = None,
    wait_seconds: float | None = 0,
) -> Acknowledged:
    """Record that ``source`` applied its feed up to ``seq``: everything published so far when
    None, or what its consumer acknowledged in the target database at ``target_url``."""
    feed_sources(project, [source])
    if seq is not None and target_url is not None:
        raise MdmError(
            Reason.USAGE,
            "Give either a sequence number or --url to read the consumer's acknowledgement "
            "from, not both. Nothing was acknowledged.",
        )
    if target_url is not None:
        seq = read_target_ack(target_url, source)
    store = _open_written(project)
    try:
        with writing(store, "publish --ack", wait_seconds), store.transaction() as connection:
            cursor = cursor_of(connection, source)
            upto = _checked_ack(source, cursor, seq)
            if upto > cursor.acked_seq:
                store_acknowledge(connection, source, upto, now())
            return Acknowledged(
                source, cursor.acked_seq, max(upto, cursor.acked_seq), cursor.last_seq
            )
    finally:
        store.close()


def _checked_ack(source: str, cursor: Cursor, seq: int | None) -> int:
    if cursor.last_seq == 0:
        raise MdmError(
            Reason.NOT_FOUND,
            f"Nothing has been published to {source!r} yet, so there is nothing to "
            "acknowledge. Publish with 'mdm publish' first.",
        )
    if seq is None:
        return cursor.last_seq
    if seq < 1 or seq > cursor.last_seq:
        raise MdmError(
            Reason.USAGE,
            f"Sequence number {seq} was never published to {source!r}: its feed holds 1 to "
            f"{cursor.last_seq}. Nothing was acknowledged.",
        )
    return seq
