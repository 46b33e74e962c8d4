"""Golden records and their history: the golden tables, xref (which golden record each live
source record belongs to), lineage, redirects of merged-away ids, and the history kept run by
run (events, versions, memberships)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, select, update

from mdm.schema import Entity, GoldenStatus
from mdm.store.bulk import (
    delete_in,
    execute_each,
    read_each,
    read_frame,
    read_in,
    read_in_pairs,
    source_key_lists,
    table_of,
)
from mdm.store.tables import (
    GOLDEN_TABLES,
    GoldenEvent,
    GoldenVersion,
    Lineage,
    Membership,
    Redirect,
    Xref,
)


def golden_table(entity: Entity) -> Table:
    return table_of(GOLDEN_TABLES[entity])


# ---- golden records -------------------------------------------------------------------------


def golden_records(connection: Connection, entity: Entity) -> pd.DataFrame:
    return read_frame(connection, select(golden_table(entity)))


def golden_record(connection: Connection, entity: Entity, golden_id: str) -> pd.DataFrame:
    table = golden_table(entity)
    return read_frame(connection, select(table).where(table.c.golden_id == golden_id))


def golden_in(connection: Connection, entity: Entity, golden_ids: Sequence[str]) -> pd.DataFrame:
    table = golden_table(entity)
    return read_in(connection, select(table), table.c.golden_id, golden_ids)


def existing_golden_ids(
    connection: Connection, entity: Entity, golden_ids: Sequence[str]
) -> set[str]:
    """Which of the given ids were ever used (as golden records or redirects)."""
    table, redirect = golden_table(entity), table_of(Redirect)
    used = read_in(connection, select(table.c.golden_id), table.c.golden_id, golden_ids)
    redirected = read_in(connection, select(redirect.c.from_id), redirect.c.from_id, golden_ids)
    return {str(i) for i in used["golden_id"]} | {str(i) for i in redirected["from_id"]}


def active_contacts_of_account(connection: Connection, account_id: str) -> pd.DataFrame:
    """The active golden contacts linked to one golden account, read by its id."""
    table = golden_table(Entity.CONTACT)
    statement = select(table).where(
        table.c.account_id == account_id, table.c.status == GoldenStatus.ACTIVE
    )
    return read_frame(connection, statement)


def contacts_of_accounts(connection: Connection, account_ids: Sequence[str]) -> list[str]:
    """Golden contacts linked to any of the given golden accounts."""
    table = golden_table(Entity.CONTACT)
    statement = select(table.c.golden_id)
    found = read_in(connection, statement, table.c.account_id, account_ids)
    return [str(i) for i in found["golden_id"]]


# ---- xref, lineage, redirects -----------------------------------------------------------------


def xref(connection: Connection, entity: Entity | None = None) -> pd.DataFrame:
    table = table_of(Xref)
    statement = select(table).order_by(table.c.entity, table.c.source, table.c.source_key)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    return read_frame(connection, statement)


def xref_of_golden_ids(connection: Connection, golden_ids: Sequence[str]) -> pd.DataFrame:
    table = table_of(Xref)
    return read_in(connection, select(table), table.c.golden_id, golden_ids)


def xref_of_keys(connection: Connection, entity: Entity, keys: pd.DataFrame) -> pd.DataFrame:
    """The xref rows of the given (source, source_key) pairs."""
    table = table_of(Xref)
    statement = select(table).where(table.c.entity == entity)
    ordered = keys[["source", "source_key"]].sort_values(["source", "source_key"])
    return read_in_pairs(connection, statement, table.c.source, table.c.source_key, ordered)


def lineage(
    connection: Connection, entity: Entity | None = None, golden_id: str | None = None
) -> pd.DataFrame:
    table = table_of(Lineage)
    statement = select(table).order_by(table.c.golden_id, table.c.attribute)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    if golden_id is not None:
        statement = statement.where(table.c.golden_id == golden_id)
    return read_frame(connection, statement)


def redirects(connection: Connection, entity: Entity | None = None) -> pd.DataFrame:
    table = table_of(Redirect)
    statement = select(table)
    if entity is not None:
        statement = statement.where(table.c.entity == entity)
    return read_frame(connection, statement)


def redirect_target(connection: Connection, golden_id: str) -> str | None:
    """The id ``golden_id`` was merged into, or None: one step of a redirect chain, by key."""
    table = table_of(Redirect)
    found = connection.execute(select(table.c.to_id).where(table.c.from_id == golden_id))
    target = found.scalar()
    return None if target is None else str(target)


def redirected_into(connection: Connection, golden_id: str) -> list[str]:
    """The ids merged directly into ``golden_id``, in order (by the redirects' ``to_id``)."""
    table = table_of(Redirect)
    statement = select(table.c.from_id).where(table.c.to_id == golden_id).order_by(table.c.from_id)
    return [str(row[0]) for row in connection.execute(statement)]


def delete_redirects(connection: Connection, from_ids: Sequence[str]) -> None:
    delete_in(connection, Redirect, "from_id", from_ids)


# ---- history: events, versions, memberships ---------------------------------------------------


def golden_history(connection: Connection, golden_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, versions) of one golden id, oldest first."""
    events, versions = table_of(GoldenEvent), table_of(GoldenVersion)
    return (
        read_frame(
            connection,
            select(events).where(events.c.golden_id == golden_id).order_by(events.c.id),
        ),
        read_frame(
            connection,
            select(versions).where(versions.c.golden_id == golden_id).order_by(versions.c.version),
        ),
    )


def latest_versions(connection: Connection, golden_ids: Sequence[str]) -> pd.Series:
    """golden_id -> its latest version number (absent: never written)."""
    table = table_of(GoldenVersion)
    statement = select(table.c.golden_id, table.c.version)
    versions = read_in(connection, statement, table.c.golden_id, golden_ids)
    return versions.groupby("golden_id")["version"].max()


def former_members(
    connection: Connection, entity: Entity, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """source, source_key, golden_id: the last membership of each record (of ``keys``, source
    and source_key, when given) in an id that was merged away."""
    membership, redirect = table_of(Membership), table_of(Redirect)
    statement = (
        select(membership.c.id, membership.c.source, membership.c.source_key)
        .add_columns(membership.c.golden_id)
        .join(redirect, redirect.c.from_id == membership.c.golden_id)
        .where(membership.c.entity == entity, redirect.c.entity == entity)
    )
    return _last_membership(_memberships_of(connection, statement, keys))


def last_other_memberships(
    connection: Connection, entity: Entity, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """source, source_key, golden_id: each record's (of ``keys``, source and source_key, when
    given) most recent membership of a golden record other than its current one; for a record
    with no current one (deleted), its last. The id a record may go back to when it leaves its
    golden record or comes back."""
    membership, xref_table = table_of(Membership), table_of(Xref)
    joined = membership.outerjoin(
        xref_table,
        (xref_table.c.source == membership.c.source)
        & (xref_table.c.source_key == membership.c.source_key),
    )
    statement = (
        select(membership.c.id, membership.c.source, membership.c.source_key)
        .add_columns(membership.c.golden_id)
        .select_from(joined)
        .where(
            membership.c.entity == entity,
            membership.c.to_run.is_not(None),
            xref_table.c.golden_id.is_(None) | (xref_table.c.golden_id != membership.c.golden_id),
        )
    )
    return _last_membership(_memberships_of(connection, statement, keys))


def _memberships_of(
    connection: Connection, statement: Any, keys: pd.DataFrame | None
) -> pd.DataFrame:
    """``statement`` over memberships, of the (source, source_key) pairs of ``keys`` if given."""
    if keys is None:
        return read_frame(connection, statement)
    membership = table_of(Membership)
    conditions = source_key_lists(membership.c.source, membership.c.source_key, keys)
    return read_each(connection, statement, conditions)


def _last_membership(found: pd.DataFrame) -> pd.DataFrame:
    """source, source_key, golden_id of each record's membership with the highest id."""
    last = found.sort_values("id", kind="stable").drop_duplicates(
        ["source", "source_key"], keep="last"
    )
    return last[["source", "source_key", "golden_id"]].reset_index(drop=True)


def close_memberships(
    connection: Connection, entity: Entity, keys: pd.DataFrame, run_id: int
) -> None:
    """The open memberships of the (source, source_key) pairs of ``keys`` end at ``run_id``."""
    table = table_of(Membership)
    statement = (
        update(table)
        .where(table.c.entity == entity, table.c.to_run.is_(None))
        .values(to_run=run_id)
    )
    execute_each(connection, statement, source_key_lists(table.c.source, table.c.source_key, keys))


def moved_members(connection: Connection, entity: Entity, run_id: int) -> pd.DataFrame:
    """source, source_key, golden_id of the memberships a run opened or closed: the records
    that joined or left a golden record (new, deleted, merged, split, revived)."""
    table = table_of(Membership)
    statement = select(table.c.source, table.c.source_key, table.c.golden_id).where(
        table.c.entity == entity, (table.c.from_run == run_id) | (table.c.to_run == run_id)
    )
    return read_frame(connection, statement)


def memberships_closed_in(connection: Connection, entity: Entity, run_id: int) -> pd.DataFrame:
    """source, source_key, golden_id of the memberships a run has closed so far. Before a run
    writes its golden ids, these are the records a steward action took out of their golden
    record."""
    table = table_of(Membership)
    statement = select(table.c.source, table.c.source_key, table.c.golden_id).where(
        table.c.entity == entity, table.c.to_run == run_id
    )
    return read_frame(connection, statement)
