"""Runs: the recent ones in a line each, and one run in full (``mdm status --run N``): what it
loaded per source, how long each stage took and how much memory it held, and per entity what
matching learned (pairs per blocking rule, m, u and weight per comparison level, the score and
cluster-size histograms), as the run recorded them. A run recorded before an mdm that kept
some of these shows what it has.

Runs are read as plain SQLAlchemy rows of a plain SQLAlchemy table, not as frames nor through
the SQLModel tables: ``mdm status`` imports neither pandas nor SQLModel, which take longer to
import than the rest of its work."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Executable,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from mdm.errors import MdmError, Reason
from mdm.views.base import ViewModel

OUTCOME_WIDTH = 120  # characters of an error's first line in the list of runs

# The store's run table (``mdm.store.tables.Run``; a test checks that they agree), for reading.
RUNS = Table(
    "run",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("command", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("config", Text, nullable=False),
    Column("summary", Text),
    Column("error", Text),
)


class RunRow(ViewModel):
    """A run in the list of recent runs."""

    id: int
    command: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None  # None while it runs
    outcome: str  # its counts, or the first line of its error


class SourceCounts(ViewModel):
    source: str
    entity: str | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    kept: int = 0  # records whose rows were quarantined: their last good version stayed
    held_back: int = 0  # records absent from a full extract, not deleted
    warnings: list[str] = Field(default_factory=list)


class RulePairs(ViewModel):
    rule: str
    pairs: int  # the candidate pairs the blocking rule made on its own


class LevelWeight(ViewModel):
    comparison: str
    level: str
    m: float
    u: float
    weight: float  # log2(m / u)


class ScoreHistogram(ViewModel):
    """Candidate pairs per match-probability bin: bin i is [edges[i], edges[i + 1])."""

    edges: list[float]
    counts: list[int]


class ClusterSizes(ViewModel):
    """How many clusters have each size."""

    sizes: list[int]
    counts: list[int]


class MatchStatistics(ViewModel):
    blocking: list[RulePairs]
    levels: list[LevelWeight]  # empty for deterministic rules
    scores: ScoreHistogram
    clusters: ClusterSizes


class Thresholds(ViewModel):
    """The match probabilities at which a pair is a match, or goes to review."""

    match: float
    review: float


class EntityCounts(ViewModel):
    entity: str
    records: int = 0
    scope: int = 0  # records the run recomputed
    golden: int = 0
    candidate_pairs: int = 0
    matched_pairs: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    retired: int = 0
    revived: int = 0
    warnings: list[str] = Field(default_factory=list)
    statistics: MatchStatistics | None = None  # None: recorded before runs kept them
    thresholds: Thresholds | None = None  # of the rules the run used


class StageTiming(ViewModel):
    stage: str
    seconds: float
    peak_mb: float  # peak resident memory of the process at the end of the stage


class RunView(ViewModel):
    id: int
    command: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    error: str | None
    full: bool | None  # recomputed everything (None: not recorded)
    exports: str | None
    sources: list[SourceCounts]
    entities: list[EntityCounts]
    stages: list[StageTiming]


def recent_runs(connection: Connection, limit: int) -> list[RunRow]:
    """The latest ``limit`` runs, newest first."""
    statement = select(
        RUNS.c.id,
        RUNS.c.command,
        RUNS.c.status,
        RUNS.c.started_at,
        RUNS.c.finished_at,
        RUNS.c.summary,
        RUNS.c.error,
    ).order_by(RUNS.c.id.desc())
    return [
        RunRow(
            id=row["id"],
            command=row["command"],
            status=row["status"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            seconds=_seconds(row),
            outcome=_outcome(_summary(row), row["error"]),
        )
        for row in _rows(connection, statement.limit(limit))
    ]


def run_view(connection: Connection, run_id: int) -> RunView:
    """One run in full, read by its id."""
    found = _rows(connection, select(RUNS).where(RUNS.c.id == run_id))
    if not found:
        raise MdmError(Reason.NOT_FOUND, f"No run {run_id}: 'mdm status' lists the recent runs.")
    row = found[0]
    summary = _summary(row)
    thresholds = _thresholds(row.get("config"))
    return RunView(
        id=row["id"],
        command=row["command"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        seconds=_seconds(row),
        error=row["error"],
        full=summary.get("full"),
        exports=summary.get("exports"),
        sources=[SourceCounts.model_validate(s) for s in summary.get("sources", [])],
        entities=[
            EntityCounts.model_validate(
                {**entity, "thresholds": thresholds.get(str(entity.get("entity")))}
            )
            for entity in summary.get("entities", [])
        ],
        stages=[StageTiming.model_validate(s) for s in summary.get("stages", [])],
    )


def _rows(connection: Connection, statement: Executable) -> list[dict[str, Any]]:
    """Runs as plain values, their times in UTC."""
    return [
        {
            **row,
            "started_at": _utc(row["started_at"]),
            "finished_at": _utc(row["finished_at"]),
        }
        for row in connection.execute(statement).mappings()
    ]


def _utc(value: datetime | None) -> datetime | None:
    """A time as the store's ``UTCDateTime`` reads it: aware, in UTC (a database without time
    zones holds UTC without an offset)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    text = row.get("summary")
    found: dict[str, Any] = json.loads(text) if text else {}
    return found


def _thresholds(config: str | None) -> dict[str, Any]:
    """Entity -> the thresholds of the match rules the run was given."""
    rules = json.loads(config).get("rules", {}) if config else {}
    match = rules.get("match", {}) if isinstance(rules, dict) else {}
    return {
        str(entity): spec["thresholds"]
        for entity, spec in match.items()
        if isinstance(spec, dict) and isinstance(spec.get("thresholds"), dict)
    }


def _seconds(row: dict[str, Any]) -> float | None:
    started: datetime | None = row["started_at"]
    finished: datetime | None = row["finished_at"]
    if started is None or finished is None:
        return None
    return round((finished - started).total_seconds(), 1)


def _outcome(summary: dict[str, Any], error: str | None) -> str:
    if error:
        return error.splitlines()[0][:OUTCOME_WIDTH]
    sources = summary.get("sources", [])
    parts = [
        f"{sum(s[key] for s in sources)} {key}"
        for key in ("inserted", "updated", "deleted", "quarantined")
    ]
    for entity in summary.get("entities", []):
        parts.append(f"{entity['golden']} golden {entity['entity']}s")
    return ", ".join(parts)
