"""Sources read on Spark, for a project whose engine is ``spark``: the extract is read where it
lives (a file, a folder of extract files, or any URI Spark reads: ``s3a://``, ``hdfs://``,
``abfss://``), by Spark's executors, and arrives on the driver as the local reader's rows.

* Parquet: Spark reads the files (its own readers, every file and row group in parallel); the
  rows come to the driver over Arrow, in the order of the files' paths and, within a file, of
  their rows: one file gives exactly the rows, values and types the local reader gives.
* CSV: each file is parsed on an executor by mdm's own CSV reader (``parse_csv``: the same
  decoding, the same quarantine of damaged rows and quotes left open), in the task that read
  it, the files in parallel; Spark's CSV parser would read damaged rows otherwise. Files are
  numbered in path order: the second file's first row follows the first file's last.

The rows' checks (``validate_rows``: keys, dates, values, duplicates over the whole source)
then run on the driver, as for every source: they need the whole extract at once, and the
store that receives the records is the driver's. SQL tables are read by
``mdm.sources.spark_tables``; SQL queries, JSON Lines and the inbox by the local readers.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from mdm.config.specs import SourceFormat, SourceSpec, SparkSpec
from mdm.errors import MdmError, Problem, Reason
from mdm.sources.columns import require_columns
from mdm.sources.csv_files import parse_csv
from mdm.sources.parquet_files import nullable_type
from mdm.sources.parsing import Parsed, Rejected, decoded_text, fail, unique_names

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The Spark job group of reading (the Spark UI and status tracker show it).
READ_JOBS: Final = "mdm.read"

_FILE = "_mdm_file"  # the file a row was read from
_ROW = "_mdm_row"  # the row's position in its file, from 0
_PAYLOAD = "_mdm_payload"  # a CSV file's parsed rows, or the error that stopped it, pickled
_HIDDEN_PREFIXES = (".", "_")  # files Spark leaves out of a folder (_SUCCESS, .crc)


def spark_location(spec: SourceSpec, root: Path) -> str:
    """Where Spark reads: a URI as written; a path, against the project folder, on the local
    file system (``file://``), whatever file system the cluster defaults to."""
    if spec.path_is_uri:
        return str(spec.path)
    return (root / (spec.path or "")).resolve().as_uri()


def _check_local(spec: SourceSpec, root: Path, location: str) -> None:
    """A path on this machine that is not there fails here, with the path, rather than after
    Spark's log of the missing file."""
    path = root / (spec.path or "")
    if not spec.path_is_uri and not path.exists():
        message = f"no such file or folder: {path}"
        raise fail(spec, location, "path", message, "paths are relative to the project folder")


def read_on_spark(spec: SourceSpec, root: Path, location: str, settings: SparkSpec) -> Parsed:
    """The extract's rows read by Spark: as ``read_source``'s format reader would give them."""
    from mdm.matching.spark_session import job_group, quiet_pyspark, spark_session

    _check_local(spec, root, location)
    spark = spark_session(settings)
    where = spark_location(spec, root)
    with quiet_pyspark(), job_group(spark, READ_JOBS, f"read source {spec.name}"):
        if spec.format is SourceFormat.PARQUET:
            return _read_parquet(spark, spec, where, location)
        return _read_csv(spark, spec, where, location)


def columns_on_spark(
    spec: SourceSpec, root: Path, location: str, settings: SparkSpec
) -> list[tuple[str, list[str]]]:
    """The cheap check before a run, per file: each file and the columns its header or schema
    has. Files on this machine are checked here, as Spark will list them, without a Spark job;
    a URI's Parquet schema is asked of Spark, and a URI's CSV files are left to the read, which
    checks each header before the run writes anything."""
    _check_local(spec, root, location)
    if not spec.path_is_uri:
        files = _local_files(root / (spec.path or ""))
        if spec.format is SourceFormat.PARQUET:
            return [(str(file), _parquet_columns(spec, file)) for file in files]
        return [(str(file), _local_csv_header(spec, file)) for file in files]
    if spec.format is not SourceFormat.PARQUET:
        return []
    from mdm.matching.spark_session import job_group, quiet_pyspark, spark_session

    spark = spark_session(settings)
    where = spark_location(spec, root)
    with quiet_pyspark(), job_group(spark, READ_JOBS, f"check source {spec.name}"):
        frame = _loaded(spec, location, lambda: spark.read.parquet(where))
        return [(location, list(frame.columns))]


def _local_files(path: Path) -> list[Path]:
    """The files Spark reads at a path on this machine: the file, or the folder's files in path
    order, less hidden ones (``_SUCCESS``, ``.crc``) and those of no bytes."""
    if path.is_file():
        return [path] if path.stat().st_size else []
    return sorted(
        child
        for child in path.iterdir()
        if child.is_file() and not child.name.startswith(_HIDDEN_PREFIXES) and child.stat().st_size
    )


def _parquet_columns(spec: SourceSpec, file: Path) -> list[str]:
    from mdm.sources.parquet_files import parquet_columns

    one_file = spec.model_copy(update={"path": file})
    return parquet_columns(one_file, Path("/"), str(file))[0]


# ---- Parquet ---------------------------------------------------------------------------------


def _read_parquet(spark: SparkSession, spec: SourceSpec, where: str, location: str) -> Parsed:
    import pyarrow as pa
    from pyspark.sql import functions as F

    frame = _loaded(spec, location, lambda: spark.read.parquet(where))
    columns = list(frame.columns)
    require_columns(spec, location, columns, _container(spec))
    numbered = frame.select(
        *(F.col(_quoted(name)) for name in columns),
        F.col("_metadata.file_path").alias(_FILE),
        F.col("_metadata.row_index").alias(_ROW),
    )
    table = _collected(spec, location, numbered.toArrow)
    # Sorted here, not by Spark: the rows come to the driver anyway, and a sort on the cluster
    # would shuffle them first.
    table = table.sort_by([(_FILE, "ascending"), (_ROW, "ascending")])
    table = table.drop_columns([_FILE, _ROW])
    # Spark hands times in its session's zone; the local reader has them in UTC.
    table = table.cast(
        pa.schema(
            [
                field.with_type(pa.timestamp(field.type.unit, "UTC"))
                if pa.types.is_timestamp(field.type) and field.type.tz is not None
                else field
                for field in table.schema
            ]
        )
    )
    parsed = table.to_pandas(ignore_metadata=True, types_mapper=nullable_type)
    parsed.columns = unique_names([str(c) for c in columns])
    parsed.index = pd.RangeIndex(1, len(parsed) + 1, name="row_number").astype("int64")
    return Parsed(parsed, [], len(parsed))


def _quoted(name: str) -> str:
    """A column name as Spark's column expressions read it literally (dots, spaces)."""
    return "`" + name.replace("`", "``") + "`"


# ---- CSV -------------------------------------------------------------------------------------


def _read_csv(spark: SparkSession, spec: SourceSpec, where: str, location: str) -> Parsed:
    from pyspark.sql.types import BinaryType, StringType, StructField, StructType

    files = _csv_files(spark, spec, where, location)
    returned = StructType(
        [StructField(_FILE, StringType(), False), StructField(_PAYLOAD, BinaryType(), False)]
    )
    # Spark's scan gives each large file a task of its own and packs small ones together (up
    # to spark.sql.files.maxPartitionBytes): the bytes are parsed where they were read, with
    # no shuffle of the files' contents.
    frame = _loaded(spec, location, lambda: _binary_files(spark, where))
    parsed = _collected(spec, location, frame.mapInPandas(_parse_files(spec), returned).toPandas)
    by_file = dict(zip(parsed[_FILE], parsed[_PAYLOAD], strict=True))
    results = [_unpickled(by_file[file]) for file in files]
    return _joined(results, files)


def _csv_files(spark: SparkSession, spec: SourceSpec, where: str, location: str) -> list[str]:
    """The files of a CSV source, in path order: the file, or a folder's files. Spark leaves
    out files of no bytes (the empty part files a job leaves for its empty partitions)."""
    frame = _loaded(spec, location, lambda: _binary_files(spark, where))
    files = sorted(str(row[0]) for row in _collected(spec, location, frame.select("path").collect))
    if not files:
        hint = "a CSV extract starts with a header row naming its columns; check 'path' in mdm.toml"
        raise fail(spec, location, "path", "no file with any content to read", hint)
    return files


def _binary_files(spark: SparkSession, where: str) -> DataFrame:
    return spark.read.format("binaryFile").load(where)


def _parse_files(
    spec: SourceSpec,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """What each task runs: ``parse_csv`` of each file's bytes, pickled with the file's path;
    an error that stops a file (a header without the mapped columns) travels as its parts."""

    def parse(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for path, content in zip(batch["path"], batch["content"], strict=True):
                yield pd.DataFrame({_FILE: [path], _PAYLOAD: [_parsed_file(spec, path, content)]})

    return parse


def _parsed_file(spec: SourceSpec, path: str, content: bytes) -> bytes:
    import io

    try:
        with decoded_text(spec, lambda: io.BytesIO(content), path) as handle:
            result: Any = parse_csv(spec, handle, path)
    except MdmError as error:
        problems = [(p.where, p.message, p.hint) for p in error.problems]
        result = ("error", str(error.reason), error.summary, problems)
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def _unpickled(payload: bytes) -> Parsed:
    # Made by ``_parsed_file`` in this job, from the files named in mdm.toml.
    result = pickle.loads(payload)
    if isinstance(result, tuple):
        _, reason, summary, problems = result
        raise MdmError(Reason(reason), summary, [Problem(*problem) for problem in problems])
    if not isinstance(result, Parsed):
        raise RuntimeError("Spark's CSV reading returned an unknown result")
    return result


def _joined(results: list[Parsed], files: list[str]) -> Parsed:
    """The files' rows as one extract: numbered on from file to file, in path order; a
    damaged row's reason names its file when there are several."""
    if len(results) == 1:
        return results[0]
    frames: list[pd.DataFrame] = []
    rejected: list[Rejected] = []
    offset = 0
    for file, result in zip(files, results, strict=True):
        frame = result.frame.copy()
        frame.index = pd.Index(frame.index + offset, dtype="int64", name="row_number")
        frames.append(frame)
        name = file.rsplit("/", 1)[-1]
        rejected += [
            dataclasses.replace(
                row, row_number=row.row_number + offset, reason=f"{name}: {row.reason}"
            )
            for row in result.rejected
        ]
        offset += result.rows_read
    joined = pd.concat(frames).astype(object)
    # Files whose headers differ leave gaps; a gap is no value, as an empty cell is.
    joined = joined.where(joined.notna(), None)
    return Parsed(joined, rejected, offset)


def _local_csv_header(spec: SourceSpec, file: Path) -> list[str]:
    from mdm.sources.csv_files import csv_columns

    one_file = spec.model_copy(update={"path": file})
    return csv_columns(one_file, Path("/"), str(file))[0]


# ---- Spark's errors ------------------------------------------------------------------------


def _container(spec: SourceSpec) -> str:
    return "the file" if not spec.path_is_uri else "the extract"


def _loaded(spec: SourceSpec, location: str, load: Callable[[], DataFrame]) -> DataFrame:
    """A Spark data frame of the extract; a path Spark cannot read fails as a source does."""
    try:
        return load()
    except Exception as error:  # Spark's AnalysisException and the JVM's errors
        raise _spark_error(spec, location, error) from error


def _collected(spec: SourceSpec, location: str, collect: Callable[[], Any]) -> Any:
    try:
        return collect()
    except MdmError:
        raise
    except Exception as error:  # a file unreadable only when its rows are read
        raise _spark_error(spec, location, error) from error


def _spark_error(spec: SourceSpec, location: str, error: Exception) -> MdmError:
    first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
    hint = "check 'path' and 'format' in mdm.toml, and that Spark can reach the files"
    return fail(spec, location, "path", f"Spark cannot read it: {first.strip()}", hint)
