"""Every check over one read-only snapshot of the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from mdm.config.specs import Project
from mdm.invariants.decisions import check_decisions
from mdm.invariants.found import ACTIVE, MERGED, Violation
from mdm.invariants.lineage import check_lineage
from mdm.invariants.membership import check_golden_members, check_membership
from mdm.invariants.record_index import check_record_index
from mdm.invariants.redirects import check_redirects
from mdm.invariants.tables import StoreTables, Tables, read_store
from mdm.schema import Entity
from mdm.store import bulk, open_store
from mdm.store.tables import RecordKey


@dataclass(frozen=True)
class EntityCounts:
    entity: str
    live_records: int
    unresolved: int  # live records loaded after the last run that resolved
    golden: int  # active golden records
    merged: int  # golden ids merged away (they redirect)
    lineage: int  # lineage rows
    index_rows: int  # record_key rows


@dataclass(frozen=True)
class CheckReport:
    violations: list[Violation]
    counts: list[EntityCounts]

    @property
    def ok(self) -> bool:
        return not self.violations


def check_project(project: Project) -> CheckReport:
    """Open the project's store and check it, in one read-only snapshot."""
    store = open_store(project.store_url)
    try:
        with read_only(store.engine.connect()) as connection:
            tables = read_store(connection)
            violations = check_all(connection, project, tables)
            counts = [entity_counts(connection, read) for read in tables.entities.values()]
        return CheckReport(violations, counts)
    finally:
        store.close()


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """One transaction that sees one state of the store and cannot write; rolled back."""
    with connection:
        sqlite = connection.dialect.name == "sqlite"
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        elif sqlite:
            connection.exec_driver_sql("BEGIN")  # the driver begins none before a read
            connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA query_only = OFF")
            connection.rollback()


def check_store(connection: Connection, project: Project) -> list[Violation]:
    """Every invariant of the store, as the violations found (none: the store is sound)."""
    return check_all(connection, project, read_store(connection))


def check_all(connection: Connection, project: Project, tables: StoreTables) -> list[Violation]:
    found: list[Violation] = []
    accounts = tables.entities[Entity.ACCOUNT]
    for read in tables.entities.values():
        found += check_membership(read)
        found += check_golden_members(read, tables.redirects)
        found += check_decisions(read)
        found += check_lineage(read, accounts)
        found += check_redirects(read, tables.redirects)
        found += check_record_index(connection, project, read)
    return found


def entity_counts(connection: Connection, read: Tables) -> EntityCounts:
    current = read.current
    live = current[~current["deleted"]]
    table = bulk.table_of(RecordKey)
    statement = select(func.count()).where(table.c.entity == str(read.entity))
    return EntityCounts(
        entity=str(read.entity),
        live_records=len(live),
        unresolved=int(live["pending"].sum()),
        golden=int(read.golden["status"].eq(ACTIVE).sum()),
        merged=int(read.golden["status"].eq(MERGED).sum()),
        lineage=len(read.lineage),
        index_rows=int(connection.execute(statement).scalar() or 0),
    )
