"""Data quality per source (``mdm profile``, and a section of each run report): where a
system is weak, for the people who own it.

Per attribute: how often it is filled, and for the kinds that can be checked (emails, phones,
postcodes, countries, domains, tax ids) how many of the filled values are well formed, by the
same validators that standardize them (``mdm.standardize``). Per source: its duplicates (golden
records holding more than one of its records), and per attribute how often survivorship took
its value and how often one of its values lost to another record's (from lineage).

The values are read in chunks of ``CHUNK_ROWS`` records and checked once per distinct value;
duplicates and survivorship are counted by the database (grouped queries). A run's report
profiles an even sample of what the run loaded (``sample``: every k-th record by id, and as
much of the lineage), so that its cost stays bounded however large the load; ``mdm profile``
reads every record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import pandas as pd
from pydantic import Field
from sqlalchemy import Connection, Table, and_, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from mdm.config.specs import ProjectSpec, SourceSpec
from mdm.errors import MdmError, Reason
from mdm.schema import ATTRIBUTES, Entity, Kind
from mdm.standardize import is_valid, match_values
from mdm.store.bulk import table_of
from mdm.store.tables import Lineage, SourceRecord, Xref
from mdm.views.base import ViewModel

# The kinds whose values have a form to check; a name or a title has none.
CHECKED_KINDS: Final = frozenset(
    {Kind.EMAIL, Kind.PHONE, Kind.POSTCODE, Kind.COUNTRY, Kind.DOMAIN, Kind.IDENTIFIER}
)
# Kinds read in each record's own country (its country's phone numbering, its tax ids), else
# in the source's default region, as loading reads them.
REGIONAL_KINDS: Final = frozenset({Kind.PHONE, Kind.POSTCODE, Kind.IDENTIFIER})
CHUNK_ROWS: Final = 100_000  # records read and checked at once: bounds the memory
EXAMPLES: Final = 3  # invalid values shown per attribute, the first ones found


class AttributeProfile(ViewModel):
    attribute: str
    kind: str
    filled: int  # records with a value (not empty, not only spaces)
    fill_rate: float  # filled / records (0 without records)
    checked: bool  # whether the kind has a form to check
    valid: int | None = None  # filled values that are well formed (None: not checked)
    invalid: int | None = None
    validity: float | None = None  # valid / filled (None: not checked, or nothing filled)
    # The first few invalid values, as the source sent them.
    invalid_examples: list[str] = Field(default_factory=list)


class Duplicates(ViewModel):
    """The source's records that share a golden record with another of its records."""

    golden: int  # golden records holding more than one record of the source
    records: int  # the source's records in those golden records
    surplus: int  # records - golden: records the source holds twice or more


NO_DUPLICATES: Final = Duplicates(golden=0, records=0, surplus=0)


class AttributeSurvival(ViewModel):
    """How the source's values of one attribute fared in survivorship."""

    attribute: str
    won: int  # golden values taken from the source's records
    lost: int  # times a value of the source's records lost to another record's value
    loss_rate: float | None  # lost / (won + lost); None when neither


class SourceProfile(ViewModel):
    source: str
    system: str
    entity: Entity
    scope: str  # which records were profiled: "current records" or "records run N loaded"
    records: int  # records profiled
    of_records: int  # records in the scope: more than ``records`` when a sample was profiled
    attributes: list[AttributeProfile]
    duplicates: Duplicates | None  # None: not counted (a nightly delta's report)
    survivorship: list[AttributeSurvival]  # the attributes that won or lost, most lost first
    survivorship_sampled: bool = False  # counted over an even sample of the golden values

    @property
    def sampled(self) -> bool:
        return self.records < self.of_records


def profile_sources(
    connection: Connection,
    spec: ProjectSpec,
    *,
    sources: Sequence[str] = (),
    run_id: int | None = None,
    sample: int | None = None,
    duplicates: bool = True,
) -> list[SourceProfile]:
    """The profile of each source of the project file (or of ``sources``), in its order.

    ``run_id``: profile the records that run loaded (inserted or changed; a run's report),
    and the golden values it wrote; else every current record and golden value. ``sample``:
    read at most about this many records per source, and lineage rows per entity, evenly
    spread (every k-th by id); else all. ``duplicates``: count each source's duplicates (a
    grouping of the whole xref), else leave them out (None).
    """
    chosen = _chosen_sources(spec, sources)
    survival: dict[Entity, _Survival] = {}
    counted = _duplicates(connection) if duplicates else None
    loaded = None if run_id is None else _loaded_by_run(connection, run_id)
    profiles = []
    for source in chosen:
        if source.entity not in survival:
            survival[source.entity] = _survival_counts(connection, source.entity, run_id, sample)
        found = None if counted is None else counted.get(source.name, NO_DUPLICATES)
        in_scope = None if loaded is None else loaded.get((source.name, source.entity), 0)
        profiles.append(
            _profile_source(
                connection, source, run_id, sample, survival[source.entity], found, in_scope
            )
        )
    return profiles


def _loaded_by_run(connection: Connection, run_id: int) -> dict[tuple[str, Entity], int]:
    """How many live versions run ``run_id`` wrote, per source and entity: one pass over the
    run's versions for every source, instead of one per source."""
    records = table_of(SourceRecord)
    statement = (
        select(records.c.source, records.c.entity, func.count())
        .where(records.c.run_id == run_id, ~records.c.deleted)
        .group_by(records.c.source, records.c.entity)
    )
    return {(str(s), Entity(e)): int(n) for s, e, n in connection.execute(statement)}


def _chosen_sources(spec: ProjectSpec, names: Sequence[str]) -> list[SourceSpec]:
    known = {source.name: source for source in spec.sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise MdmError(
            Reason.NOT_FOUND,
            f"No source {', '.join(repr(n) for n in unknown)} in the project file; its sources "
            f"are: {', '.join(known) or '(none)'}.",
        )
    return [known[name] for name in names] if names else list(spec.sources)


def _profile_source(
    connection: Connection,
    source: SourceSpec,
    run_id: int | None,
    sample: int | None,
    survival: _Survival,
    duplicates: Duplicates | None,
    in_scope: int | None = None,
) -> SourceProfile:
    """``in_scope``: how many records are in scope, when counted already."""
    records = table_of(SourceRecord)
    where = _records_in_scope(source, run_id)
    if in_scope is None:
        in_scope = _count(connection, records, where)
    every = _every(in_scope, sample)
    if every > 1:
        where.append(records.c.id % every == 0)
    tally = _Tally(source)
    for chunk in _attribute_chunks(connection, where, source.entity):
        tally.add(chunk)
    shown = [
        attribute.name
        for attribute in ATTRIBUTES[source.entity]
        if attribute.name in source.mapping or tally.filled.get(attribute.name, 0)
    ]
    scope = "current records" if run_id is None else f"records run {run_id} loaded"
    return SourceProfile(
        source=source.name,
        system=source.system,
        entity=source.entity,
        scope=scope,
        records=tally.records,
        of_records=in_scope if every > 1 else tally.records,
        attributes=[tally.profile(name) for name in shown],
        duplicates=duplicates,
        survivorship=_survival_of(source.name, survival.counts),
        survivorship_sampled=survival.sampled,
    )


def _every(count: int, sample: int | None) -> int:
    """Read every k-th row of ``count`` rows to read about ``sample`` of them (1: all)."""
    if sample is None or count <= sample:
        return 1
    return math.ceil(count / sample)


def _count(connection: Connection, table: Table, where: Sequence[ColumnElement[bool]]) -> int:
    return int(
        connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    )


@dataclass
class _Tally:
    """Counts of one source's values, added chunk by chunk."""

    source: SourceSpec
    records: int = 0
    filled: dict[str, int] = field(default_factory=dict)
    valid: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, chunk: pd.DataFrame) -> None:
        self.records += len(chunk)
        region = _regions(self.source, chunk)
        for attribute in ATTRIBUTES[self.source.entity]:
            values = chunk[attribute.name]
            present = values.notna() & (values.astype("string").str.strip() != "")
            present = present.fillna(False).astype(bool)
            name = attribute.name
            self.filled[name] = self.filled.get(name, 0) + int(present.sum())
            if attribute.kind not in CHECKED_KINDS or not present.any():
                continue
            given = values[present].astype("string")
            where = (
                region[present] if attribute.kind in REGIONAL_KINDS else self.source.default_region
            )
            valid = is_valid(attribute.kind, given, where)
            self.valid[name] = self.valid.get(name, 0) + int(valid.sum())
            found = self.examples.setdefault(name, [])
            for value in given[~valid].drop_duplicates().head(EXAMPLES):
                if len(found) < EXAMPLES and str(value) not in found:
                    found.append(str(value))

    def profile(self, name: str) -> AttributeProfile:
        kind = next(a.kind for a in ATTRIBUTES[self.source.entity] if a.name == name)
        filled = self.filled.get(name, 0)
        checked = kind in CHECKED_KINDS
        valid = self.valid.get(name, 0) if checked else None
        return AttributeProfile(
            attribute=name,
            kind=str(kind),
            filled=filled,
            fill_rate=filled / self.records if self.records else 0.0,
            checked=checked,
            valid=valid,
            invalid=None if valid is None else filled - valid,
            validity=None if valid is None or not filled else valid / filled,
            invalid_examples=self.examples.get(name, []),
        )


def _regions(source: SourceSpec, chunk: pd.DataFrame) -> pd.Series:
    """Each record's country code where it gives one, else the source's default region."""
    default = pd.Series(source.default_region, index=chunk.index, dtype="string")
    if "country" not in chunk.columns:
        return default
    codes = match_values(Kind.COUNTRY, chunk["country"].astype("string"))
    return codes.fillna(default)


def _records_in_scope(source: SourceSpec, run_id: int | None) -> list[ColumnElement[bool]]:
    """The source's current live records, or the live versions run ``run_id`` wrote (found by
    the records' index on run and entity)."""
    records = table_of(SourceRecord)
    where: list[ColumnElement[bool]] = [records.c.source == source.name, ~records.c.deleted]
    if run_id is None:
        where.append(records.c.is_current)
    else:
        where += [records.c.run_id == run_id, records.c.entity == source.entity]
    return where


def _attribute_chunks(
    connection: Connection, where: Sequence[ColumnElement[bool]], entity: Entity
) -> Iterator[pd.DataFrame]:
    """The profiled records' attributes as frames of ``CHUNK_ROWS`` rows, a column per
    attribute of the entity, in record order."""
    records = table_of(SourceRecord)
    statement = select(records.c.attributes).where(and_(*where)).order_by(records.c.id)
    names = [attribute.name for attribute in ATTRIBUTES[entity]]
    result = connection.execution_options(yield_per=CHUNK_ROWS).execute(statement)
    for rows in result.partitions(CHUNK_ROWS):
        parsed = [json.loads(row[0]) for row in rows]
        yield pd.DataFrame.from_records(parsed, columns=names).astype(object)


def _duplicates(connection: Connection) -> dict[str, Duplicates]:
    """Per source: the golden records with several of its live records. One grouping of the
    whole xref by (source, golden id), a single pass over its rows: a grouping per source
    read each source's rows by key, then each row's golden id, seven times slower at a
    million records."""
    xref = table_of(Xref)
    per_golden = (
        select(xref.c.source, func.count().label("records"))
        .group_by(xref.c.source, xref.c.golden_id)
        .having(func.count() > 1)
        .subquery()
    )
    rows = connection.execute(
        select(per_golden.c.source, func.count(), func.sum(per_golden.c.records)).group_by(
            per_golden.c.source
        )
    ).all()
    return {
        str(source): Duplicates(
            golden=int(golden), records=int(records), surplus=int(records - golden)
        )
        for source, golden, records in rows
    }


@dataclass(frozen=True)
class _Survival:
    counts: dict[tuple[str, str], list[int]]  # (source, attribute) -> [won, lost]
    sampled: bool


def _survival_counts(
    connection: Connection, entity: Entity, run_id: int | None, sample: int | None
) -> _Survival:
    """(source, attribute) -> [won, lost] over the entity's lineage (of run ``run_id``'s
    golden values, if given; of every k-th lineage row, to count about ``sample`` of them): a
    win is a golden value taken from the source's record, a loss a value of the source's
    record in the value's ``beaten`` list."""
    lineage, records = table_of(Lineage), table_of(SourceRecord)
    where: list[ColumnElement[bool]] = [lineage.c.entity == entity]
    parameters: dict[str, object] = {"entity": str(entity)}
    of_run = of_sample = ""
    if run_id is not None:
        floor = first_id_of_run(connection, lineage, run_id)
        where += [lineage.c.run_id == run_id, lineage.c.id >= floor]
        parameters.update(run=run_id, floor=floor)
        of_run = "AND l.run_id = :run AND l.id >= :floor"
    every = _every(_count(connection, lineage, where), sample) if sample is not None else 1
    if every > 1:
        where.append(lineage.c.id % every == 0)
        parameters["every"], of_sample = every, "AND l.id % :every = 0"
    won = (
        select(records.c.source, lineage.c.attribute, func.count().label("n"))
        .select_from(lineage.join(records, records.c.id == lineage.c.record_id))
        .where(and_(*where))
        .group_by(records.c.source, lineage.c.attribute)
    )
    counts: dict[tuple[str, str], list[int]] = {}
    for row in connection.execute(won):
        counts.setdefault((str(row.source), str(row.attribute)), [0, 0])[0] += int(row.n)
    lost = text(_LOST_SQL[connection.dialect.name].format(run=of_run, sample=of_sample))
    for row in connection.execute(lost, parameters):
        counts.setdefault((str(row.source), str(row.attribute)), [0, 0])[1] += int(row.n)
    return _Survival(counts, sampled=every > 1)


def first_id_of_run(connection: Connection, table: Table, run_id: int) -> int:
    """The first id of ``table`` (lineage, which has no index on its run) written by run
    ``run_id`` or a later one (past the last id: none).

    Writers take turns (the writer lock), so run ids grow with the ids of the rows they write:
    a binary search over the primary key finds where a run's rows begin in a few dozen
    lookups, where a filter on ``run_id`` alone would read the whole table."""
    low = connection.execute(select(func.min(table.c.id))).scalar()
    high = connection.execute(select(func.max(table.c.id))).scalar()
    if low is None or high is None:
        return 0
    low, high = int(low), int(high) + 1
    while low < high:
        middle = (low + high) // 2
        at = connection.execute(
            select(table.c.run_id).where(table.c.id >= middle).order_by(table.c.id).limit(1)
        ).scalar()
        if at is None or int(at) >= run_id:
            high = middle
        else:
            low = middle + 1
    return low


# The values each golden value beat, one row per beaten value with its record's source: the
# database expands the JSON lists (``[{"value": ..., "record_id": ...}, ...]``) itself. SQLite
# joins in the order written after CROSS JOIN: lineage, its list, then each record by its id
# (left to itself, it scans the records and looks their values up).
_LOST_SQL: Final = {
    "sqlite": """
        SELECT r.source AS source, l.attribute AS attribute, count(*) AS n
        FROM lineage AS l
        CROSS JOIN json_each(l.beaten) AS b
        CROSS JOIN source_record AS r ON r.id = json_extract(b.value, '$.record_id')
        WHERE l.entity = :entity AND l.beaten IS NOT NULL AND l.beaten != '[]' {run} {sample}
        GROUP BY r.source, l.attribute
    """,
    "postgresql": """
        SELECT r.source AS source, l.attribute AS attribute, count(*) AS n
        FROM lineage AS l
        CROSS JOIN LATERAL jsonb_array_elements(l.beaten::jsonb) AS b(value)
        JOIN source_record AS r ON r.id = (b.value ->> 'record_id')::bigint
        WHERE l.entity = :entity AND l.beaten IS NOT NULL AND l.beaten != '[]' {run} {sample}
        GROUP BY r.source, l.attribute
    """,
}


def _survival_of(source: str, counts: dict[tuple[str, str], list[int]]) -> list[AttributeSurvival]:
    rows = [
        AttributeSurvival(
            attribute=attribute,
            won=won,
            lost=lost,
            loss_rate=lost / (won + lost) if won + lost else None,
        )
        for (name, attribute), (won, lost) in counts.items()
        if name == source
    ]
    return sorted(rows, key=lambda r: (-(r.loss_rate or 0.0), -r.lost, r.attribute))
