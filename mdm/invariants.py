"""What must hold in every store, whatever ran before, crashed or was killed: the checks behind
``mdm check`` and the tests.

1. Membership: every live source record (its current version, not deleted) is in exactly one
   golden record: one xref row, naming that version and an active golden record of its entity;
   deleted records have none.
2. Golden members: every active golden record has member records, as many as its ``members``
   says, and is not also merged away (the source of a redirect).
3. Decisions: an active must-link decision between two live records holds (one golden
   record), unless a cannot-link between the two golden records overrules it; a cannot-link
   always holds (two golden records).
4. Lineage: every golden value comes from a member record or an active steward pin, and has
   the lineage row that says so, with the same value (a ``keep_all`` value: the JSON array of
   its lineage rows' values); no lineage row without its golden value. A golden contact's
   account is an active golden account.
5. Redirects: every chain of redirects ends at an active golden record of its entity, without
   a cycle; a golden record marked merged redirects.
6. Record index: ``record_key`` and ``key_count`` hold what a full rebuild would write.

Versions loaded after the resolution watermark (by ``mdm ingest``) are not resolved yet: their
records are checked as the last resolution left them.

The checks only read, whole tables at a time: they are a consistency check, not a hot path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlmodel import SQLModel

from mdm.config.specs import Project
from mdm.pipeline import index
from mdm.pipeline.keys import KEYS_VERSION, VERSION_FIELD, compute_keys, region_of
from mdm.pipeline.resolve import account_ids
from mdm.schema import Entity, attribute_names, survived_attribute_names
from mdm.store import io as store_io
from mdm.store import open_store
from mdm.store.marks import resolution_mark
from mdm.store.tables import (
    KeyCount,
    Lineage,
    MatchDecision,
    RecordKey,
    Redirect,
    Run,
    SourceRecord,
    ValuePin,
    Xref,
)
from mdm.survivorship.builder import STEWARD_PIN

ACTIVE: Final = "active"
MERGED: Final = "merged"
KEEP_ALL: Final = "keep_all"
REBUILD_HINT: Final = "'mdm run --full' rebuilds the index"
EXAMPLES: Final = 5  # examples named in a message that sums up many keys


class Invariant(StrEnum):
    MEMBERSHIP = "membership"
    GOLDEN_MEMBERS = "golden-members"
    DECISIONS = "decisions"
    LINEAGE = "lineage"
    REDIRECTS = "redirects"
    RECORD_INDEX = "record-index"


@dataclass(frozen=True)
class Violation:
    """One thing wrong in a store: the invariant, what it concerns (golden ids, records as
    ``SOURCE:KEY``, index keys) and what is wrong, for a person to read."""

    invariant: Invariant
    entity: str
    subjects: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.message}"


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
            tables = _read_store(connection)
            violations = _check(connection, project, tables)
            counts = [_counts(connection, read) for read in tables.entities.values()]
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
    return _check(connection, project, _read_store(connection))


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """One entity's part of the store."""

    entity: Entity
    records: pd.DataFrame  # id, source, source_key, is_current, deleted, run_id: every version
    xref: pd.DataFrame
    golden: pd.DataFrame  # the golden table, indexed by golden_id
    lineage: pd.DataFrame
    decisions: pd.DataFrame  # active ones
    pins: pd.DataFrame  # active ones
    mark: int  # the resolution watermark: versions above it wait for the next resolution

    @property
    def current(self) -> pd.DataFrame:
        """The current version of each key; ``pending``: loaded after the last resolution."""
        current = self.records[self.records["is_current"]]
        return current.assign(pending=current["id"] > self.mark)


@dataclass(frozen=True)
class _Store:
    entities: dict[Entity, _Tables]
    redirects: pd.DataFrame


def _read_store(connection: Connection) -> _Store:
    redirects = store_io.read_frame(connection, select(store_io.table_of(Redirect)))
    return _Store({entity: _read(connection, entity) for entity in Entity}, redirects)


def _read(connection: Connection, entity: Entity) -> _Tables:
    records = _rows_of(connection, SourceRecord, entity, "id")
    records = records[["id", "source", "source_key", "is_current", "deleted", "run_id"]].astype(
        {"id": "int64", "is_current": "bool", "deleted": "bool", "run_id": "int64"}
    )
    decisions = _rows_of(connection, MatchDecision, entity, "id")
    pins = _rows_of(connection, ValuePin, entity, "id")
    return _Tables(
        entity=entity,
        records=records,
        xref=_rows_of(connection, Xref, entity, "source", "source_key").astype(
            {"record_id": "int64"}
        ),
        golden=store_io.golden_records(connection, str(entity)).set_index("golden_id"),
        lineage=_rows_of(connection, Lineage, entity, "id"),
        decisions=decisions[decisions["active"].astype(bool)],
        pins=pins[pins["active"].astype(bool)],
        mark=_mark(connection, entity),
    )


def _rows_of(
    connection: Connection, model: type[SQLModel], entity: Entity, *order: str
) -> pd.DataFrame:
    table = store_io.table_of(model)
    statement = select(table).where(table.c.entity == str(entity))
    return store_io.read_frame(connection, statement.order_by(*(table.c[c] for c in order)))


def _mark(connection: Connection, entity: Entity) -> int:
    """The entity's resolution watermark (a record id). A store that has none yet (made
    before there were marks) is taken as resolved up to its last successful ``run``."""
    mark = resolution_mark(connection, str(entity))
    if mark is not None:
        return mark
    runs, records = store_io.table_of(Run), store_io.table_of(SourceRecord)
    last_run = (
        select(func.max(runs.c.id))
        .where(runs.c.status == "succeeded", runs.c.command == "run")
        .scalar_subquery()
    )
    statement = select(func.max(records.c.id)).where(
        records.c.entity == str(entity), records.c.run_id <= last_run
    )
    return int(connection.execute(statement).scalar() or 0)


def _ref(source: Any, key: Any) -> str:
    return f"{source}:{key}"


def _status(read: _Tables, golden_ids: pd.Series) -> pd.Series:
    """Each golden id's status; "missing" for an id the golden table does not have."""
    statuses = read.golden["status"].reindex(golden_ids.astype(object).to_numpy())
    return pd.Series(statuses.fillna("missing").to_numpy(dtype=object), index=golden_ids.index)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


@dataclass
class _Found:
    """The violations of one invariant for one entity, as they are found."""

    invariant: Invariant
    entity: Entity
    violations: list[Violation] = field(default_factory=list)

    def add(self, subjects: list[Any], message: str) -> None:
        names = tuple(str(subject) for subject in subjects)
        self.violations.append(Violation(self.invariant, str(self.entity), names, message))


def _check(connection: Connection, project: Project, tables: _Store) -> list[Violation]:
    found: list[Violation] = []
    accounts = tables.entities[Entity.ACCOUNT]
    for read in tables.entities.values():
        found += _membership(read)
        found += _golden_members(read, tables.redirects)
        found += _decisions(read)
        found += _lineage(read, accounts)
        found += _redirects(read, tables.redirects)
        found += _record_index(connection, project, read)
    return found


# ---- 1. membership ---------------------------------------------------------------------------


def _membership(read: _Tables) -> list[Violation]:
    found = _Found(Invariant.MEMBERSHIP, read.entity)
    joined = read.current.merge(read.xref, on=["source", "source_key"], how="outer", indicator=True)
    # Keys loaded since the last resolution are as that resolution left them.
    settled = ~joined["pending"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    deleted = joined["deleted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    side = joined["_merge"].astype(str)
    for row in _rows(joined[settled & ~deleted & side.eq("left_only").to_numpy()]):
        ref = _ref(row["source"], row["source_key"])
        found.add([ref], f"{ref} is a live record (record {row['id']}) in no golden record.")
    for row in _rows(joined[side.eq("right_only").to_numpy()]):
        ref = _ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]], f"The xref puts {ref} in {row['golden_id']}: no such record."
        )
    both = settled & side.eq("both").to_numpy()
    for row in _rows(joined[both & deleted]):
        ref = _ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]], f"{ref} is deleted but still a member of {row['golden_id']}."
        )
    stale = both & ~deleted & joined["record_id"].ne(joined["id"]).to_numpy()
    for row in _rows(joined[stale]):
        ref = _ref(row["source"], row["source_key"])
        found.add(
            [ref, row["golden_id"]],
            f"{ref} is in {row['golden_id']} as record {int(row['record_id'])}, which is not "
            f"its current version {int(row['id'])}.",
        )
    statuses = _status(read, read.xref["golden_id"])
    for row in _rows(read.xref.assign(status=statuses)[statuses.ne(ACTIVE).to_numpy()]):
        ref = _ref(row["source"], row["source_key"])
        what = "no golden record" if row["status"] == "missing" else row["status"]
        found.add(
            [ref, row["golden_id"]],
            f"{ref} is in {row['golden_id']}, which is {what}, not an active golden {read.entity}.",
        )
    return found.violations


# ---- 2. golden members -----------------------------------------------------------------------


def _golden_members(read: _Tables, redirects: pd.DataFrame) -> list[Violation]:
    found = _Found(Invariant.GOLDEN_MEMBERS, read.entity)
    active = read.golden[read.golden["status"].eq(ACTIVE)]
    counted = read.xref.groupby("golden_id").size().reindex(active.index).fillna(0)
    redirected = redirects.set_index("from_id")["to_id"]
    for golden_id, members, said in zip(
        active.index, counted.astype("int64"), active["members"].astype("int64"), strict=True
    ):
        if members == 0:
            found.add([golden_id], f"{golden_id} is an active golden record without members.")
        elif members != said:
            found.add(
                [golden_id], f"{golden_id} says it has {said} members; the xref has {members}."
            )
        if golden_id in redirected.index:
            found.add(
                [golden_id],
                f"{golden_id} is active and also merged away: it redirects to "
                f"{redirected[golden_id]}.",
            )
    return found.violations


# ---- 3. decisions ----------------------------------------------------------------------------


def _decisions(read: _Tables) -> list[Violation]:
    found = _Found(Invariant.DECISIONS, read.entity)
    current = read.current
    live = read.xref.merge(current.loc[~current["deleted"], ["source", "source_key"]])
    golden_of = {
        (str(s), str(k)): str(g)
        for s, k, g in zip(live["source"], live["source_key"], live["golden_id"], strict=True)
    }
    decided = []
    for row in _rows(read.decisions):
        left = golden_of.get((str(row["left_source"]), str(row["left_key"])))
        right = golden_of.get((str(row["right_source"]), str(row["right_key"])))
        if left is not None and right is not None:  # decisions about live records
            decided.append((row, left, right))
    # A cannot-link between two golden records overrules a must-link that would join them.
    apart = {frozenset(pair) for row, *pair in decided if row["decision"] == "cannot_link"}
    for row, left, right in decided:
        a = _ref(row["left_source"], row["left_key"])
        b = _ref(row["right_source"], row["right_key"])
        if row["decision"] == "cannot_link" and left == right:
            found.add(
                [a, b, left],
                f"{a} and {b} were decided different (decision {row['id']}) but are both in "
                f"{left}.",
            )
        if (
            row["decision"] == "must_link"
            and left != right
            and frozenset((left, right)) not in apart
        ):
            found.add(
                [a, b, left, right],
                f"{a} and {b} were decided the same (decision {row['id']}) but are in {left} "
                f"and {right}.",
            )
    return found.violations


# ---- 4. lineage ------------------------------------------------------------------------------


def _lineage(read: _Tables, accounts: _Tables) -> list[Violation]:
    found = _Found(Invariant.LINEAGE, read.entity)
    active = read.golden[read.golden["status"].eq(ACTIVE)]
    _values_and_lineage(found, read, active)
    _lineage_sources(found, read)
    if read.entity is Entity.CONTACT:
        _account_links(found, active, accounts)
    return found.violations


def _values_and_lineage(found: _Found, read: _Tables, active: pd.DataFrame) -> None:
    """Each golden value against its lineage rows, and each lineage row against its value."""
    attributes = survived_attribute_names(read.entity)
    if read.entity is Entity.CONTACT:
        attributes = [*attributes, "account_id"]
    values = (
        active[attributes]
        .rename_axis("golden_id")
        .reset_index()
        .melt(id_vars="golden_id", var_name="attribute", value_name="golden")
        .dropna(subset=["golden"])
    )
    lineage = read.lineage.assign(kept=read.lineage["rule"].eq(KEEP_ALL))
    cells: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for golden_id, attribute, value, kept in zip(
        lineage["golden_id"], lineage["attribute"], lineage["value"], lineage["kept"], strict=True
    ):
        listed, all_kept = cells.get((str(golden_id), str(attribute)), ([], True))
        cells[(str(golden_id), str(attribute))] = ([*listed, str(value)], all_kept and bool(kept))
    for golden_id, attribute, golden in zip(
        values["golden_id"], values["attribute"], values["golden"], strict=True
    ):
        listed, kept = cells.pop((str(golden_id), str(attribute)), ([], False))
        problem = _cell_problem(str(golden), sorted(listed), kept)
        if problem:
            found.add([golden_id], f"{golden_id}.{attribute} {problem}.")
    for (golden_id, attribute), (listed, _) in sorted(cells.items()):
        found.add(
            [golden_id],
            f"{golden_id}.{attribute} has {len(listed)} lineage rows ({json.dumps(listed)}) but "
            "no golden value, or its golden record is not active.",
        )


def _cell_problem(golden: str, listed: list[str], kept: bool) -> str | None:
    """What is wrong with one golden value and its lineage values, if anything."""
    if not listed:
        return f"is {golden!r}, with no lineage row saying where it came from"
    if kept:  # keep_all: the JSON array of the kept values
        try:
            array = json.loads(golden)
        except ValueError:
            array = None
        if not isinstance(array, list) or sorted(str(v) for v in array) != listed:
            return f"is {golden!r}, but its keep_all lineage keeps {json.dumps(listed)}"
        return None
    if len(listed) != 1:
        return f"is {golden!r}, with {len(listed)} lineage rows instead of one"
    if listed[0] != golden:
        return f"is {golden!r}, but its lineage says {listed[0]!r}"
    return None


def _lineage_sources(found: _Found, read: _Tables) -> None:
    """Each lineage row names a member record of its golden record, or is an active pin's."""
    members = set(zip(read.xref["golden_id"], read.xref["record_id"].astype("int64"), strict=True))
    pins = {
        (str(g), str(a)): str(v)
        for g, a, v in zip(
            read.pins["golden_id"], read.pins["attribute"], read.pins["value"], strict=True
        )
    }
    for row in _rows(read.lineage):
        golden_id, record_id = row["golden_id"], row["record_id"]
        cell = (str(golden_id), str(row["attribute"]))
        named = record_id is not None and not pd.isna(record_id)
        problem = None
        if row["rule"] == STEWARD_PIN:
            if named:
                problem = f"names record {int(record_id)}, but a steward pin has no record"
            elif cell not in pins:
                problem = "comes from a steward pin that is not active"
            elif pins[cell] != str(row["value"]):
                problem = f"differs from its active pin's value {pins[cell]!r}"
        elif not named:
            problem = f"(rule {row['rule']}) names no record"
        elif (golden_id, int(record_id)) not in members:
            problem = (
                f"comes from record {int(record_id)} (rule {row['rule']}), which is not a "
                f"member of {golden_id}"
            )
        if problem:
            found.add([golden_id], f"{'.'.join(cell)} = {row['value']!r} {problem}.")


def _account_links(found: _Found, contacts: pd.DataFrame, accounts: _Tables) -> None:
    linked = contacts["account_id"].dropna()
    statuses = _status(accounts, linked)
    for golden_id, account, status in zip(linked.index, linked, statuses, strict=True):
        if status != ACTIVE:
            what = "no golden account" if status == "missing" else status
            found.add(
                [golden_id, account],
                f"{golden_id} belongs to account {account}, which is {what}, not an active "
                "golden account.",
            )


# ---- 5. redirects ----------------------------------------------------------------------------


def _redirects(read: _Tables, redirects: pd.DataFrame) -> list[Violation]:
    found = _Found(Invariant.REDIRECTS, read.entity)
    mine = redirects[redirects["entity"].eq(str(read.entity))]
    table = dict(zip(mine["from_id"].astype(str), mine["to_id"].astype(str), strict=True))
    for start in sorted(table):
        chain = [start]
        while chain[-1] in table and table[chain[-1]] not in chain:
            chain.append(table[chain[-1]])
        end, path = chain[-1], " -> ".join(chain)
        if end in table:
            found.add(chain, f"The redirects from {start} go round: {path} -> {table[end]}.")
            continue
        status = read.golden["status"].get(end, "missing")
        if status != ACTIVE:
            what = f"no golden {read.entity}" if status == "missing" else status
            found.add(
                chain,
                f"{start} redirects to {end} ({path}), which is {what}, not an active golden "
                f"{read.entity}.",
            )
    merged = read.golden.index[read.golden["status"].eq(MERGED)]
    for golden_id in merged[~merged.isin(list(table))]:
        found.add([golden_id], f"{golden_id} is marked merged but redirects nowhere.")
    return found.violations


# ---- 6. record index -------------------------------------------------------------------------


def _record_index(connection: Connection, project: Project, read: _Tables) -> list[Violation]:
    """The rows and counts a full rebuild would write, computed here without writing, against
    those in the store."""
    found = _Found(Invariant.RECORD_INDEX, read.entity)
    frame = _match_input(connection, project, read)
    rows = index.index_rows(project, read.entity, frame)
    frequency = index.frequency_rows(project, read.entity, frame)
    expected = pd.concat([rows, frequency], ignore_index=True).groupby("key").size()
    stored = _rows_of(connection, RecordKey, read.entity, "record_id", "key")
    counts = _rows_of(connection, KeyCount, read.entity, "key")
    names = read.records.set_index("id")[["source", "source_key"]]
    _row_differences(found, rows, stored[["record_id", "key"]].astype("int64"), names)
    _count_differences(found, expected, counts.set_index("key")["records"])
    return found.violations


def _match_input(connection: Connection, project: Project, read: _Tables) -> pd.DataFrame:
    """The match input of the records the index holds: the live ones, and for keys loaded
    since the last resolution, the version that resolution indexed."""
    current = read.current
    settled = current[~current["pending"] & ~current["deleted"]]
    waiting = read.xref.merge(current.loc[current["pending"], ["source", "source_key"]])
    ids = sorted({*settled["id"].tolist(), *waiting["record_id"].tolist()})
    keys = _match_keys(connection, project, read.entity, ids)
    frame = keys[["source", *attribute_names(read.entity)]].assign(
        record_id=keys["record_id"].astype("int64").to_numpy()
    )
    if read.entity is Entity.CONTACT:
        frame["account_id"] = account_ids(connection, project, keys).to_numpy()
    return frame.reset_index(drop=True)


def _match_keys(
    connection: Connection, project: Project, entity: Entity, record_ids: list[int]
) -> pd.DataFrame:
    """record_id, source, source_key and match keys of the given versions; keys stored by an
    older standardization are computed again here (and not stored: a check does not write)."""
    found = store_io.match_keys_of_versions(connection, record_ids)
    names = attribute_names(entity)
    parsed = [json.loads(text) if text else {} for text in found["match_keys"]]
    keys = pd.DataFrame.from_records(parsed, index=found.index, columns=[*names, VERSION_FIELD])
    stale = keys[VERSION_FIELD].ne(KEYS_VERSION).to_numpy(dtype=bool)
    keys = keys[names].astype("string")
    if stale.any():
        ids = found.loc[stale, "record_id"].astype("int64").tolist()
        stored = store_io.records_in(connection, ids).set_index("record_id").loc[ids]
        raw = pd.DataFrame(
            [json.loads(text) for text in stored["attributes"]], index=found.index[stale]
        )
        keys.loc[stale] = compute_keys(entity, raw, region_of(project, found.loc[stale, "source"]))
    return pd.concat([found[["record_id", "source", "source_key"]], keys], axis=1)


def _row_differences(
    found: _Found, expected: pd.DataFrame, stored: pd.DataFrame, names: pd.DataFrame
) -> None:
    both = expected.merge(stored, how="outer", indicator=True)
    differ = both[both["_merge"].astype(str) != "both"]
    for record_id, rows in differ.groupby("record_id", sort=True):
        side = rows["_merge"].astype(str)
        missing, extra = int(side.eq("left_only").sum()), int(side.eq("right_only").sum())
        name = (
            _ref(*names.loc[record_id, ["source", "source_key"]])
            if record_id in names.index
            else "an unknown record"
        )
        wrong = [
            *([f"lacks {missing} of its keys"] if missing else []),
            *([f"holds {extra} keys a rebuild would not write"] if extra else []),
        ]
        found.add(
            [name],
            f"The {found.entity} index {' and '.join(wrong)} for {name} (record {record_id}); "
            f"{REBUILD_HINT}.",
        )


def _count_differences(found: _Found, expected: pd.Series, stored: pd.Series) -> None:
    stored = pd.Series(stored.to_numpy(dtype="int64"), index=stored.index.astype("int64"))
    keys = expected.index.union(stored.index)
    want = expected.reindex(keys).fillna(0).astype("int64")
    have = stored.reindex(keys).fillna(0).astype("int64")
    wrong = keys[want.to_numpy() != have.to_numpy()].tolist()
    if wrong:
        examples = ", ".join(
            f"key {key}: {have[key]}, a rebuild counts {want[key]}" for key in wrong[:EXAMPLES]
        )
        found.add(
            wrong,
            f"The {found.entity} key counts differ from a rebuild's for {len(wrong)} keys "
            f"({examples}); {REBUILD_HINT}.",
        )


# ---- counts ----------------------------------------------------------------------------------


def _counts(connection: Connection, read: _Tables) -> EntityCounts:
    current = read.current
    live = current[~current["deleted"]]
    table = store_io.table_of(RecordKey)
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
