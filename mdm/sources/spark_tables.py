"""SQL tables read by Spark's executors, for a project whose engine is ``spark``: the table is
split into ranges of its key, and each task reads its range through the same SQLAlchemy driver
the local reader uses (``mdm.sources.sql_tables``), so values arrive exactly as they do
locally (Spark's JDBC types would turn ``numeric`` into 18-digit decimals and move times into
the session's zone). Executors need the database driver (``mdm[postgres]``) and a route to the
database, as Spark's JDBC reader would need its jar.

Ranges, for identical row numbers: the driver picks ``partitions`` boundaries among the keys
(``ORDER BY key OFFSET k``); a task reads ``lower <= key < upper ORDER BY key``, so every row
is in one range, rows sharing a key stay together, and the ranges in order are the table in
key order, as the local reader numbers it. Rows without a key are one more range, placed where
the database sorts them. A query (``query =``) is read by the local reader: its rows have no
order but its own, which ranges would not keep.
Below ``SQL_ROWS_PER_TASK`` rows a range is not worth a task: small tables are one range.
"""

from __future__ import annotations

import itertools
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from mdm.config.specs import SourceSpec, SparkSpec
from mdm.sources.parsing import Parsed, fail, parsed_frame
from mdm.sources.spark_reading import READ_JOBS
from mdm.sources.sql_tables import connection_to, table_statement

# The fewest rows a task reads: smaller ranges cost more in round trips than they share out.
SQL_ROWS_PER_TASK: Final = 100_000


@dataclass(frozen=True)
class KeyRange:
    """Rows with ``lower <= key < upper`` (None: unbounded), or the rows without a key."""

    lower: Any = None
    upper: Any = None
    null_keys: bool = False


def read_table_on_spark(spec: SourceSpec, root: Path, location: str, settings: SparkSpec) -> Parsed:
    """The source's rows, read by Spark's tasks range by range: as ``read_sql`` gives them."""
    from mdm.matching.spark_session import job_group, quiet_pyspark, spark_session

    with connection_to(spec, location) as connection:
        table_statement(spec, connection, location)  # the table and its columns are there
        ranges = key_ranges(spec, connection, settings.partitions)
    spark = spark_session(settings)
    with quiet_pyspark(), job_group(spark, READ_JOBS, f"read source {spec.name}"):
        tasks = spark.sparkContext.parallelize(list(enumerate(ranges)), len(ranges))
        read = tasks.map(lambda task: (task[0], _rows_of(spec, location, task[1])))
        try:
            results = dict(read.collect())
        except Exception as error:  # a task's error, raised on the driver as Spark's
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            message = next((line for line in lines if "MdmError" in line), lines[0])
            hint = "Spark's executors must reach the database and have its driver installed"
            raise fail(spec, location, "url", message, hint) from error
    names: list[str] = []
    rows: list[list[Any]] = []
    for position in range(len(ranges)):
        names, part = pickle.loads(results[position])  # made by _rows_of, in this job
        rows += part
    frame = parsed_frame(names, rows, list(range(1, len(rows) + 1)))
    return Parsed(frame, [], len(frame))


def key_ranges(spec: SourceSpec, connection: sa.Connection, partitions: int) -> list[KeyRange]:
    """The key ranges of a table, in key order: at most ``partitions`` of at least
    ``SQL_ROWS_PER_TASK`` rows, and the rows without a key where the database sorts them."""
    table = _table(spec, connection)
    key = table.c[spec.key]
    keyed = connection.execute(sa.select(sa.func.count()).where(key.is_not(None))).scalar_one()
    slices = max(1, min(partitions, keyed // SQL_ROWS_PER_TASK))
    boundaries: list[Any] = []
    for index in range(1, slices):
        offset = keyed * index // slices
        query = sa.select(key).where(key.is_not(None)).order_by(key).offset(offset).limit(1)
        value = connection.execute(query).scalar_one()
        if not boundaries or value != boundaries[-1]:
            boundaries.append(value)
    bounds = [None, *boundaries, None]
    ranges = [KeyRange(lower, upper) for lower, upper in itertools.pairwise(bounds)]
    has_null = connection.execute(sa.select(sa.exists().where(key.is_(None)))).scalar_one()
    if not has_null:
        return ranges
    first = connection.execute(sa.select(key).order_by(key).limit(1)).scalar_one()
    return (
        [KeyRange(null_keys=True), *ranges]
        if first is None
        else [*ranges, KeyRange(null_keys=True)]
    )


def _table(spec: SourceSpec, connection: sa.Connection) -> sa.Table:
    schema, _, name = (spec.table or "").rpartition(".")
    return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=connection)


def _rows_of(spec: SourceSpec, location: str, key_range: KeyRange) -> bytes:
    """What a task runs: the rows of one range, in key order, as the driver returns them."""
    with connection_to(spec, location) as connection:
        result = connection.execute(_in_range(spec, connection, key_range))
        names = [str(name) for name in list(result.keys())]
        rows = [list(row) for row in result]
    return pickle.dumps((names, rows), protocol=pickle.HIGHEST_PROTOCOL)


def _in_range(spec: SourceSpec, connection: sa.Connection, key_range: KeyRange) -> sa.Select[Any]:
    table = _table(spec, connection)
    key = table.c[spec.key]
    statement = sa.select(table).order_by(key)
    if key_range.null_keys:
        return statement.where(key.is_(None))
    statement = statement.where(key.is_not(None))
    if key_range.lower is not None:
        statement = statement.where(key >= key_range.lower)
    if key_range.upper is not None:
        statement = statement.where(key < key_range.upper)
    return statement
