"""Connectors: read one source extract (CSV, Parquet, JSON Lines, SQL) into records.

Each reader checks the columns the mapping needs before it reads any row, parses what it can
(rows that cannot be parsed are quarantined here), and hands the parsed rows to
``mdm.sources.validate`` for the row checks. Failures of the whole source are ``MdmError``
with the file (or table) and the ``mdm.toml`` key that needs fixing.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import sqlalchemy as sa

from mdm.config.specs import SourceFormat, SourceSpec
from mdm.errors import MdmError, Problem, Reason
from mdm.sources.validate import (
    STRING,
    empty_quarantine,
    quarantine_frame,
    raw_object,
    readable,
    validate_rows,
)

_COLUMN_HINT = "fix the mapping in mdm.toml or the extract"
_LISTED_COLUMNS = 30


@dataclass(frozen=True)
class SourceLoad:
    """One extract, read: its good rows as records and its bad rows in quarantine."""

    spec: SourceSpec
    location: str  # the file path, or the SQL url with its table or query, for messages
    records: pd.DataFrame  # source_key, row_number, last_modified, deleted, then attributes
    quarantine: pd.DataFrame  # row_number, source_key, column, reason, raw; one row per problem
    rows_read: int  # data rows seen: records plus distinct quarantined rows

    @property
    def rows_quarantined(self) -> int:
        """Distinct rows quarantined (a row with two problems has two quarantine rows)."""
        return int(self.quarantine["row_number"].nunique())


@dataclass(frozen=True)
class _Parsed:
    frame: pd.DataFrame  # rows that parsed, values as read, one column per source column
    rejected: pd.DataFrame  # quarantine rows of the rows that did not parse
    rows_read: int


def read_source(spec: SourceSpec, root: Path) -> SourceLoad:
    """Read one extract; relative paths resolve against ``root`` (the project folder).

    Bad rows are quarantined, not raised. A source that cannot be read at all (no file, a
    column the mapping names is missing, a database error) raises ``MdmError``.
    """
    location = source_location(spec)
    parsed = _READERS[spec.format](spec, root, location)
    records, problems = validate_rows(parsed.frame, spec)
    found = [frame for frame in (parsed.rejected, problems) if not frame.empty]
    quarantine = (
        pd.concat(found, ignore_index=True)
        .sort_values("row_number", kind="stable")
        .reset_index(drop=True)
        if found
        else empty_quarantine()
    )
    return SourceLoad(spec, location, records, quarantine, parsed.rows_read)


def check_source(spec: SourceSpec, root: Path) -> list[Problem]:
    """The cheap checks, without reading rows: the source is there and has every column.

    JSON Lines has no header, so its columns are the keys seen on any line: that file is read.
    """
    location = source_location(spec)
    try:
        columns, container = _COLUMNS[spec.format](spec, root, location)
    except MdmError as error:
        return list(error.problems) or [Problem(location, error.summary)]
    return missing_columns(spec, location, columns, container)


def source_location(spec: SourceSpec) -> str:
    if spec.format is not SourceFormat.SQL:
        return str(spec.path)
    try:
        url = sa.make_url(spec.url or "").render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        url = "(a url SQLAlchemy cannot parse)"  # reported by the connection, with the key
    if spec.table:
        return f"{url} table {spec.table}"
    query = " ".join((spec.query or "").split())
    return f"{url} query '{query if len(query) <= 60 else query[:59] + '…'}'"


# ---- columns ---------------------------------------------------------------------------------


def missing_columns(
    spec: SourceSpec, location: str, columns: list[str], container: str
) -> list[Problem]:
    """One problem per column the spec needs that is absent (or ambiguous) in the source."""
    problems = []
    for column, keys in _column_uses(spec).items():
        where = f"{location} (source '{spec.name}', {', '.join(keys)})"
        count = columns.count(column)
        if count == 0:
            message = f"column '{column}' is not in {container}; it has: {_listing(columns)}"
            problems.append(Problem(where, message, _did_you_mean(column, columns)))
        elif count > 1:
            message = f"column '{column}' appears {count} times in {container}"
            problems.append(Problem(where, message, "rename the copies in the extract"))
    return problems


def _column_uses(spec: SourceSpec) -> dict[str, list[str]]:
    """Source column -> the mdm.toml keys that name it."""
    uses: dict[str, list[str]] = {column: [] for column in spec.source_columns}
    uses[spec.key].append("key")
    for attribute, column in spec.mapping.items():
        uses[column].append(f"mapping.{attribute}")
    if spec.last_modified:
        uses[spec.last_modified].append("last_modified")
    if spec.deleted_flag:
        uses[spec.deleted_flag].append("deleted_flag")
    return uses


def _listing(names: list[str]) -> str:
    shown = ", ".join(readable(name, "utf-8") for name in names[:_LISTED_COLUMNS])
    if len(names) > _LISTED_COLUMNS:
        shown += f", … ({len(names)} in all)"
    return shown or "no columns"


def _did_you_mean(column: str, columns: list[str]) -> str:
    folded = {name.casefold(): name for name in columns}
    close = folded.get(column.casefold()) or next(
        iter(difflib.get_close_matches(column, columns, n=1)), None
    )
    return f"did you mean '{close}'? {_COLUMN_HINT}" if close else _COLUMN_HINT


def _require_columns(spec: SourceSpec, location: str, columns: list[str], container: str) -> None:
    problems = missing_columns(spec, location, columns, container)
    if problems:
        summary = f"source '{spec.name}': {location} lacks columns that mdm.toml names"
        raise MdmError(Reason.SOURCE, summary, problems)


def _unique_names(names: list[str]) -> list[str]:
    """Column names made unique ('Notes', 'Notes (2)'), so every raw value keeps its column."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _fail(spec: SourceSpec, location: str, key: str, message: str, hint: str) -> MdmError:
    where = f"{location} (source '{spec.name}', {key})"
    summary = f"source '{spec.name}' cannot be read"
    return MdmError(Reason.SOURCE, summary, [Problem(where, message, hint)])


def _parsed(columns: list[str], rows: list[list[Any]], numbers: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=_unique_names(columns), dtype=object)
    frame.index = pd.Index(numbers, dtype="int64", name="row_number")
    return frame


def _rejected(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    """Quarantine rows for rows that did not parse: (row number, reason, raw JSON)."""
    if not rows:
        return empty_quarantine()
    numbers, reasons, raws = zip(*rows, strict=True)
    return quarantine_frame(numbers, [None] * len(rows), [None] * len(rows), reasons, raws)


# ---- files -----------------------------------------------------------------------------------


def _existing_file(spec: SourceSpec, root: Path, location: str) -> Path:
    path = root / (spec.path or "")  # an absolute spec.path stays as it is
    if spec.path is None or not path.is_file():
        message = f"{path} is a folder, not a file" if path.is_dir() else f"no such file: {path}"
        raise _fail(spec, location, "path", message, "paths are relative to the project folder")
    return path


@contextmanager
def _text_file(spec: SourceSpec, path: Path, location: str) -> Iterator[TextIO]:
    """The file as text; undecodable bytes become lone surrogates, found per value later."""
    try:
        with path.open(encoding=spec.encoding, errors="surrogateescape", newline="") as handle:
            if handle.read(1) != "\ufeff":  # a byte order mark is not part of the header
                handle.seek(0)
            yield handle
    except LookupError as error:
        hint = "use a Python codec name such as utf-8, latin-1 or cp1252"
        raise _fail(spec, location, "encoding", str(error), hint) from error
    except (OSError, UnicodeError) as error:
        raise _fail(spec, location, "path", f"cannot read the file: {error}", "") from error
    except csv.Error as error:
        hint = "is a quote left open? check 'delimiter' and 'encoding' in mdm.toml"
        raise _fail(spec, location, "path", f"cannot parse the file: {error}", hint) from error


# CSV


def _csv_header(spec: SourceSpec, reader: Any, location: str) -> list[str]:
    header = next(reader, None)
    if not header:
        hint = "a CSV extract starts with a header row naming its columns"
        raise _fail(spec, location, "path", "the file is empty", hint)
    return [name.strip() for name in header]


def _csv_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    path = _existing_file(spec, root, location)
    with _text_file(spec, path, location) as handle:
        return _csv_header(
            spec, csv.reader(handle, delimiter=spec.delimiter), location
        ), "the file's header"


def _read_csv(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    path = _existing_file(spec, root, location)
    with _text_file(spec, path, location) as handle:
        reader = csv.reader(handle, delimiter=spec.delimiter)
        header = _csv_header(spec, reader, location)
        _require_columns(spec, location, header, "the file's header")
        rows: list[list[Any]] = []
        numbers: list[int] = []
        rejected: list[tuple[int, str, str]] = []
        last_line = reader.line_num
        for fields in reader:
            # A quoted value may span lines: a row is a record, its lines are named in reasons.
            first_line, last_line = last_line + 1, reader.line_num
            if not fields:
                continue  # a blank line is not a row
            number = len(numbers) + len(rejected) + 1
            if len(fields) == len(header):
                rows.append(fields)
                numbers.append(number)
            else:
                rejected.append(_ragged(spec, header, fields, number, first_line, last_line))
    frame = _parsed(header, rows, numbers)
    return _Parsed(frame, _rejected(rejected), len(rows) + len(rejected))


def _ragged(
    spec: SourceSpec, header: list[str], fields: list[str], number: int, first: int, last: int
) -> tuple[int, str, str]:
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    reason = f"row has {len(fields)} fields, the header has {len(header)} ({lines})"
    names = _unique_names(header) + [f"_field_{i}" for i in range(len(header) + 1, len(fields) + 1)]
    return number, reason, raw_object(dict(zip(names, fields, strict=False)), spec.encoding)


# JSON Lines


@dataclass(frozen=True)
class _JsonLines:
    columns: list[str]  # every key seen on any line, in order of first appearance
    objects: list[dict[str, Any]]
    numbers: list[int]  # the line number of each object: one object per line
    rejected: list[tuple[int, str, str]]


def _parse_jsonl(spec: SourceSpec, root: Path, location: str) -> _JsonLines:
    path = _existing_file(spec, root, location)
    lines = _JsonLines([], [], [], [])
    with _text_file(spec, path, location) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            problem = _json_object(text, number, lines.objects)
            if problem:
                lines.rejected.append((number, problem, raw_object({"_line": text}, spec.encoding)))
            else:
                lines.numbers.append(number)
    lines.columns.extend(dict.fromkeys(key for obj in lines.objects for key in obj))
    if not lines.objects:
        # An empty delta ("nothing changed") has no line to name columns: nothing is missing.
        lines.columns.extend(spec.source_columns)
    return lines


def _json_object(text: str, number: int, objects: list[dict[str, Any]]) -> str:
    """Append the line's object; or say why the line is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"line {number} is not valid JSON ({error.msg} at character {error.colno})"
    if not isinstance(value, dict):
        return f"line {number} is a JSON {type(value).__name__}, not an object"
    objects.append(value)
    return ""


def _jsonl_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    return _parse_jsonl(spec, root, location).columns, "any line of the file"


def _read_jsonl(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    lines = _parse_jsonl(spec, root, location)
    _require_columns(spec, location, lines.columns, "any line of the file")
    rows = [[obj.get(column) for column in lines.columns] for obj in lines.objects]
    frame = _parsed(lines.columns, rows, lines.numbers)
    return _Parsed(frame, _rejected(lines.rejected), len(rows) + len(lines.rejected))


# Parquet


def _parquet_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    import pyarrow.parquet as pq

    path = _existing_file(spec, root, location)
    try:
        return list(pq.read_schema(path).names), "the file"
    except Exception as error:  # pyarrow raises many types; every one means "not readable"
        raise _parquet_error(spec, location, error) from error


def _read_parquet(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    import pyarrow.parquet as pq

    columns, container = _parquet_columns(spec, root, location)
    _require_columns(spec, location, columns, container)
    path = _existing_file(spec, root, location)
    try:
        table = pq.read_table(path)
        # ignore_metadata: a pandas index stored in the file comes back as a plain column.
        frame = table.to_pandas(ignore_metadata=True, types_mapper=_nullable_type)
    except Exception as error:
        raise _parquet_error(spec, location, error) from error
    frame.columns = _unique_names([str(c) for c in frame.columns])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number").astype("int64")
    return _Parsed(frame, empty_quarantine(), len(frame))


def _nullable_type(arrow_type: Any) -> Any:
    """Nullable pandas types, so integers with gaps do not become floats ('1001.0')."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).capitalize().replace("Uint", "UInt"))
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return STRING
    return None


def _parquet_error(spec: SourceSpec, location: str, error: Exception) -> MdmError:
    message = f"not a readable Parquet file: {error}"
    return _fail(spec, location, "path", message, "is 'format' right in mdm.toml?")


# ---- SQL -------------------------------------------------------------------------------------


@contextmanager
def _connection(spec: SourceSpec, location: str) -> Iterator[sa.Connection]:
    try:
        engine = sa.create_engine(spec.url or "")
    except ImportError as error:
        hint = "install the database driver, e.g. pip install 'mdm[postgres]'"
        raise _fail(spec, location, "url", f"no driver: {error}", hint) from error
    except sa.exc.ArgumentError as error:
        hint = "a SQLAlchemy URL such as postgresql+psycopg://user@host/db"
        raise _fail(spec, location, "url", str(error), hint) from error
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.SQLAlchemyError as error:
        message = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        hint = "check 'url', 'table' or 'query' in mdm.toml, and that the database is up"
        raise _fail(spec, location, "table" if spec.table else "query", message, hint) from error
    finally:
        engine.dispose()


def _table_name(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return schema or None, name


def _sql_columns_of(spec: SourceSpec, connection: sa.Connection, location: str) -> list[str]:
    if spec.table:
        schema, name = _table_name(spec.table)
        inspector = sa.inspect(connection)
        if not inspector.has_table(name, schema=schema):
            tables = inspector.get_table_names(schema=schema)
            message = f"table '{spec.table}' does not exist; the database has: {_listing(tables)}"
            raise _fail(spec, location, "table", message, "check 'table' in mdm.toml")
        return [str(column["name"]) for column in inspector.get_columns(name, schema=schema)]
    # Only the result's columns: no row is fetched.
    probe = sa.text(f"SELECT * FROM ({_query(spec)}) AS mdm_source LIMIT 0")
    return list(connection.execute(probe).keys())


def _query(spec: SourceSpec) -> str:
    return (spec.query or "").strip().rstrip(";")


def _container(spec: SourceSpec) -> str:
    return f"table '{spec.table}'" if spec.table else "the query's result"


def _sql_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    with _connection(spec, location) as connection:
        return _sql_columns_of(spec, connection, location), _container(spec)


def _read_sql(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    with _connection(spec, location) as connection:
        columns = _sql_columns_of(spec, connection, location)
        _require_columns(spec, location, columns, _container(spec))
        # The values as the driver returns them. pandas.read_sql would infer types: integers
        # with gaps become floats (losing digits past 2**53) and bytes fail to convert.
        result = connection.execute(_statement(spec, connection))
        names = [str(name) for name in list(result.keys())]
        rows = [list(row) for row in result]
        frame = _parsed(names, rows, list(range(1, len(rows) + 1)))
    return _Parsed(frame, empty_quarantine(), len(frame))


def _statement(spec: SourceSpec, connection: sa.Connection) -> sa.TextClause | sa.Select[Any]:
    if spec.query:
        return sa.text(_query(spec))
    schema, name = _table_name(spec.table or "")
    table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=connection)
    # A table has no order of its own; ordering by key makes row numbers repeatable.
    return sa.select(table).order_by(table.c[spec.key])


_Reader = Callable[[SourceSpec, Path, str], _Parsed]
_ColumnReader = Callable[[SourceSpec, Path, str], tuple[list[str], str]]

_READERS: dict[SourceFormat, _Reader] = {
    SourceFormat.CSV: _read_csv,
    SourceFormat.PARQUET: _read_parquet,
    SourceFormat.JSONL: _read_jsonl,
    SourceFormat.SQL: _read_sql,
}

_COLUMNS: dict[SourceFormat, _ColumnReader] = {
    SourceFormat.CSV: _csv_columns,
    SourceFormat.PARQUET: _parquet_columns,
    SourceFormat.JSONL: _jsonl_columns,
    SourceFormat.SQL: _sql_columns,
}
