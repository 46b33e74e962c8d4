"""The store's side of the sync feeds: what a publish reads of the master and of a source's
published state, and the outbox, batches, cursor and state it writes.

Every function runs in the caller's transaction: a publish reads, computes and writes one
source's batch in one transaction, under the store's writer lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, exists, func, select, update

from mdm.match_keys import forms_of_attributes, parse_clean
from mdm.publish.feed_changes import LINEAGE_FRAME_COLUMNS, STATE_COLUMNS, FeedSource, Moves
from mdm.schema import Entity, GoldenStatus
from mdm.store import records
from mdm.store.bulk import delete_in, insert_frame, read_frame, read_in, table_of
from mdm.store.golden import golden_table
from mdm.store.tables import (
    GoldenEvent,
    Lineage,
    Membership,
    PublishBatch,
    PublishCreated,
    PublishCursor,
    PublishOutbox,
    PublishState,
    Redirect,
    SourceRecord,
    Xref,
)


@dataclass(frozen=True)
class Cursor:
    """How far a source's feed has gone: the last sequence number published and acknowledged."""

    last_seq: int
    acked_seq: int


# ---- reading the master -----------------------------------------------------------------------


def source_xref(connection: Connection, source: str) -> pd.DataFrame:
    """source_key, record_id, golden_id of the source's live records, by source key."""
    table = table_of(Xref)
    statement = select(table.c.source_key, table.c.record_id, table.c.golden_id).where(
        table.c.source == source
    )
    found = read_frame(connection, statement)
    found["source_key"] = found["source_key"].astype(str)
    found["golden_id"] = found["golden_id"].astype(str)
    found["record_id"] = found["record_id"].astype("int64")
    return found.sort_values("source_key", kind="stable", ignore_index=True)


def display_forms(
    connection: Connection, source: FeedSource, record_ids: Sequence[int]
) -> pd.DataFrame:
    """The display forms of record versions (what survivorship chose among), by record id:
    as their versions stored them, or standardized now where stored by an older mdm."""
    read = records.forms_in(connection, list(record_ids))
    if read.empty:
        return pd.DataFrame(columns=list(source.attributes), index=pd.Index([], dtype="int64"))
    ids = read["record_id"].astype("int64")
    forms, stale = parse_clean(source.entity, pd.Series(read["match_keys"].to_numpy(), index=ids))
    if stale.any():
        stale_ids = [int(i) for i in ids[stale.to_numpy()]]
        raw = records.records_in(connection, stale_ids).set_index("record_id").loc[stale_ids]
        regions = pd.Series(source.region, index=raw.index)
        _keys, clean = forms_of_attributes(source.entity, raw["attributes"], regions)
        forms.loc[clean.index] = clean[forms.columns]
    return forms


def golden_values(
    connection: Connection, entity: Entity, golden_ids: Sequence[str], attributes: Sequence[str]
) -> pd.DataFrame:
    """The golden values of ``attributes`` of the given golden records, by golden id."""
    table = golden_table(entity)
    statement = select(table.c.golden_id, *(table.c[name] for name in attributes))
    found = read_in(connection, statement, table.c.golden_id, golden_ids)
    return found.set_index("golden_id").reindex(columns=list(attributes))


def value_lineage(
    connection: Connection,
    entity: Entity,
    golden_ids: Sequence[str],
    systems: Mapping[str, str],
) -> pd.DataFrame:
    """Each golden value's lineage (``LINEAGE_FRAME_COLUMNS``): the source, record key and
    system it came from (none for a steward's pin), its rule, run and the record's time; for
    a value that keeps several, its first."""
    lineage, record = table_of(Lineage), table_of(SourceRecord)
    statement = (
        select(
            lineage.c.id,
            lineage.c.golden_id,
            lineage.c.attribute,
            record.c.source.label("lineage_source"),
            record.c.source_key.label("lineage_key"),
            lineage.c.rule.label("lineage_rule"),
            lineage.c.run_id.label("lineage_run"),
            record.c.last_modified.label("lineage_modified"),
        )
        .select_from(lineage.outerjoin(record, record.c.id == lineage.c.record_id))
        .where(lineage.c.entity == entity)
    )
    found = read_in(connection, statement, lineage.c.golden_id, golden_ids)
    found = found.sort_values(["golden_id", "attribute", "id"], kind="stable")
    found = found.drop_duplicates(["golden_id", "attribute"], ignore_index=True)
    found["lineage_system"] = found["lineage_source"].map(
        lambda name: None if name is None or pd.isna(name) else systems.get(name, name)
    )
    return found.reindex(columns=list(LINEAGE_FRAME_COLUMNS))


def moves_of(
    connection: Connection,
    entity: Entity,
    previous_ids: Sequence[str],
    current_ids: Sequence[str],
    since_run: int | None,
) -> Moves:
    """Where the golden ids ``previous_ids`` went after run ``since_run``: their redirect
    chains, the ids their splits minted, which of ``current_ids`` were revived, and which of
    ``previous_ids`` are still active."""
    redirect = table_of(Redirect)
    steps: dict[str, str] = {}
    frontier = list(dict.fromkeys(previous_ids))
    while frontier:
        found = read_in(
            connection, select(redirect.c.from_id, redirect.c.to_id), redirect.c.from_id, frontier
        )
        new = {str(f): str(t) for f, t in zip(found["from_id"], found["to_id"], strict=True)}
        steps.update(new)
        frontier = [target for target in new.values() if target not in steps]
    events = table_of(GoldenEvent)
    recent = select(events.c.golden_id, events.c.event, events.c.other_id).where(
        events.c.entity == entity, events.c.run_id > (since_run or 0)
    )
    split = read_in(
        connection, recent.where(events.c.event == "split"), events.c.golden_id, previous_ids
    )
    splits: dict[str, list[str]] = {}
    for origin, new_id in zip(split["golden_id"], split["other_id"], strict=True):
        splits.setdefault(str(origin), []).append(str(new_id))
    revived = read_in(
        connection, recent.where(events.c.event == "revived"), events.c.golden_id, current_ids
    )
    table = golden_table(entity)
    active = read_in(
        connection,
        select(table.c.golden_id).where(table.c.status == GoldenStatus.ACTIVE),
        table.c.golden_id,
        previous_ids,
    )
    return Moves(
        redirects=steps,
        splits=splits,
        revived=frozenset(str(i) for i in revived["golden_id"]),
        active=frozenset(str(i) for i in active["golden_id"]),
    )


def last_batch_run(connection: Connection, source: str) -> int | None:
    """The run the source's last batch was computed after: what its published state shows."""
    batches = table_of(PublishBatch)
    found = connection.execute(
        select(batches.c.run_id)
        .where(batches.c.source == source)
        .order_by(batches.c.batch.desc())
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def create_candidates(connection: Connection, source: FeedSource) -> pd.DataFrame:
    """golden_id, account_key: the active golden contacts the source never held and was never
    asked to create, whose golden account it holds (through its account source), with the
    account's key there (the smallest, when it holds the account twice), by golden id."""
    if source.account_source is None or source.entity is not Entity.CONTACT:
        return pd.DataFrame({"golden_id": [], "account_key": []}, dtype=object)
    contact, account_xref = golden_table(Entity.CONTACT), table_of(Xref).alias("account_xref")
    membership, created = table_of(Membership), table_of(PublishCreated)
    held_once = exists().where(
        membership.c.golden_id == contact.c.golden_id, membership.c.source == source.name
    )
    asked = exists().where(
        created.c.source == source.name,
        created.c.entity == Entity.CONTACT,
        created.c.golden_id == contact.c.golden_id,
    )
    statement = (
        select(contact.c.golden_id, func.min(account_xref.c.source_key).label("account_key"))
        .select_from(
            contact.join(
                account_xref,
                and_(
                    account_xref.c.golden_id == contact.c.account_id,
                    account_xref.c.source == source.account_source,
                ),
            )
        )
        .where(contact.c.status == GoldenStatus.ACTIVE, ~held_once, ~asked)
        .group_by(contact.c.golden_id)
    )
    found = read_frame(connection, statement)
    found["golden_id"] = found["golden_id"].astype(str)
    found["account_key"] = found["account_key"].astype(str)
    return found.sort_values("golden_id", kind="stable", ignore_index=True)


# ---- the published state ----------------------------------------------------------------------


def published_state(connection: Connection, source: FeedSource) -> pd.DataFrame:
    """The source's published state (``STATE_COLUMNS``), by source key."""
    table = table_of(PublishState)
    statement = select(*(table.c[name] for name in STATE_COLUMNS)).where(
        table.c.source == source.name, table.c.entity == source.entity
    )
    found = read_frame(connection, statement)
    found["record_id"] = found["record_id"].astype("int64")
    return found.sort_values("source_key", kind="stable", ignore_index=True)


def write_state(
    connection: Connection, source: FeedSource, state: pd.DataFrame, gone: Sequence[str]
) -> None:
    """Replace the state rows of the records in ``state`` and delete those of ``gone``."""
    keys = [*state["source_key"].astype(str), *gone]
    delete_in(
        connection, PublishState, "source_key", keys, source=source.name, entity=source.entity
    )
    rows = state.assign(source=source.name, entity=str(source.entity))
    insert_frame(connection, PublishState, rows)


def record_created(
    connection: Connection, source: FeedSource, created: pd.DataFrame, batch: int
) -> None:
    rows = created.assign(source=source.name, entity=str(source.entity), batch=batch)
    insert_frame(connection, PublishCreated, rows)


# ---- the outbox -------------------------------------------------------------------------------


def cursor_of(connection: Connection, source: str) -> Cursor:
    table = table_of(PublishCursor)
    found = connection.execute(
        select(table.c.last_seq, table.c.acked_seq).where(table.c.source == source)
    ).first()
    return Cursor(0, 0) if found is None else Cursor(int(found[0]), int(found[1]))


def append_batch(
    connection: Connection,
    source: str,
    rows: pd.DataFrame,
    run_id: int | None,
    created_at: datetime,
) -> tuple[int, Cursor]:
    """Add ``rows`` to the source's outbox as its next batch, numbered on from its last
    sequence number; the batch's number (0: nothing to add) and the cursor after it."""
    cursor = cursor_of(connection, source)
    if rows.empty:
        return 0, cursor
    batches = table_of(PublishBatch)
    last_batch = connection.execute(
        select(func.max(batches.c.batch)).where(batches.c.source == source)
    ).scalar()
    batch = int(last_batch or 0) + 1
    first, last = cursor.last_seq + 1, cursor.last_seq + len(rows)
    numbered = rows.assign(source=source, seq=range(first, last + 1), batch=batch)
    insert_frame(connection, PublishOutbox, _plain_outbox(numbered))
    connection.execute(
        batches.insert().values(
            source=source,
            batch=batch,
            first_seq=first,
            last_seq=last,
            run_id=run_id,
            created_at=created_at,
        )
    )
    _set_cursor(connection, source, last, cursor)
    return batch, Cursor(last, cursor.acked_seq)


def _plain_outbox(rows: pd.DataFrame) -> pd.DataFrame:
    """Outbox rows with whole-number runs as integers and times as timestamps (a merge with
    missing lineage leaves them floats and objects)."""
    plain = rows.copy()
    plain["lineage_run"] = pd.array(
        [None if v is None or pd.isna(v) else int(v) for v in plain["lineage_run"]], dtype="Int64"
    )
    plain["lineage_modified"] = pd.to_datetime(plain["lineage_modified"], utc=True)
    return plain


def _set_cursor(connection: Connection, source: str, last_seq: int, before: Cursor) -> None:
    table = table_of(PublishCursor)
    if before == Cursor(0, 0) and _cursor_missing(connection, source):
        connection.execute(table.insert().values(source=source, last_seq=last_seq, acked_seq=0))
        return
    connection.execute(update(table).where(table.c.source == source).values(last_seq=last_seq))


def _cursor_missing(connection: Connection, source: str) -> bool:
    table = table_of(PublishCursor)
    found = connection.execute(select(table.c.source).where(table.c.source == source)).first()
    return found is None


def acknowledge(connection: Connection, source: str, seq: int, at: datetime) -> None:
    table = table_of(PublishCursor)
    connection.execute(
        update(table).where(table.c.source == source).values(acked_seq=seq, acked_at=at)
    )


def unacknowledged(connection: Connection, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The source's outbox rows after its acknowledged sequence number, by sequence number,
    and the batches they belong to (batch, first_seq, last_seq, run_id)."""
    acked = cursor_of(connection, source).acked_seq
    outbox, batches = table_of(PublishOutbox), table_of(PublishBatch)
    rows = read_frame(
        connection,
        select(outbox)
        .where(outbox.c.source == source, outbox.c.seq > acked)
        .order_by(outbox.c.seq),
    )
    held = read_frame(
        connection,
        select(batches.c.batch, batches.c.first_seq, batches.c.last_seq, batches.c.run_id)
        .where(batches.c.source == source, batches.c.last_seq > acked)
        .order_by(batches.c.batch),
    )
    return rows, held


def plain_values(rows: pd.DataFrame, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows of plain Python values (None for missing) in the order of ``columns``."""
    values = [
        [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in rows[c]]
        for c in columns
    ]
    return list(zip(*values, strict=True)) if values else []
