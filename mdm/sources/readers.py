"""Connectors: read one source extract (CSV, Parquet, JSON Lines, SQL) into records.

Each reader checks the columns the mapping needs before it reads any row, parses what it can
(rows that cannot be parsed are quarantined here), and hands the parsed rows to
``mdm.sources.validate`` for the row checks. Failures of the whole source are ``MdmError``
with the file (or table) and the ``mdm.toml`` key that needs fixing.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import json
import re
import sys
from collections import deque
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
    has_undecodable_bytes,
    quarantine_frame,
    raw_object,
    readable,
    validate_rows,
    value_text,
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
    # The keys of quarantined rows, as records would carry them: the store keeps the current
    # version of each, untouched, since the row says nothing reliable about it.
    quarantined_keys: frozenset[str] = frozenset()
    # Quarantined rows whose key cannot be read: any key absent from a full extract may be
    # one of them, so such a load deletes no absent key.
    unkeyed_rows: tuple[int, ...] = ()

    @property
    def rows_quarantined(self) -> int:
        """Distinct rows quarantined (a row with two problems has two quarantine rows)."""
        return int(self.quarantine["row_number"].nunique())


@dataclass(frozen=True)
class _Rejected:
    """A row that did not parse, for the quarantine."""

    row_number: int
    key: str | None  # the key as read from the damaged row, if it could be
    column: str | None
    reason: str
    raw: str  # the row as read, as a JSON object


@dataclass(frozen=True)
class _Parsed:
    frame: pd.DataFrame  # rows that parsed, values as read, one column per source column
    rejected: list[_Rejected]  # the rows that did not parse
    rows_read: int


def read_source(spec: SourceSpec, root: Path) -> SourceLoad:
    """Read one extract; relative paths resolve against ``root`` (the project folder).

    Bad rows are quarantined, not raised. A source that cannot be read at all (no file, a
    column the mapping names is missing, a database error) raises ``MdmError``.
    """
    location = source_location(spec)
    parsed = _READERS[spec.format](spec, root, location)
    valid = validate_rows(parsed.frame, spec)
    rejected = _rejected(parsed.rejected, spec.encoding)
    found = [frame for frame in (rejected, valid.quarantine) if not frame.empty]
    quarantine = (
        pd.concat(found, ignore_index=True)
        .sort_values("row_number", kind="stable")
        .reset_index(drop=True)
        if found
        else empty_quarantine()
    )
    keys = {row.row_number: _clean_key(row.key) for row in parsed.rejected}
    keys.update({number: _clean_key(key) for number, key in valid.quarantined_keys.items()})
    unkeyed = [number for number, key in keys.items() if key is None]
    if unkeyed:
        raws = quarantine.drop_duplicates("row_number").set_index("row_number")["raw"]
        unkeyed = [number for number in unkeyed if not _says_nothing(raws[number])]
    return SourceLoad(
        spec,
        location,
        valid.records,
        quarantine,
        parsed.rows_read,
        quarantined_keys=frozenset(key for key in keys.values() if key is not None),
        unkeyed_rows=tuple(sorted(unkeyed)),
    )


def _clean_key(key: str | None) -> str | None:
    """A key as a record would carry it; None if there is none, or it has undecodable bytes
    (a key a record never has, so the row's record cannot be told)."""
    text = None if key is None else key.strip()
    return text if text and not has_undecodable_bytes(text) else None


def _says_nothing(raw: str) -> bool:
    """A row with no value in any column (",,,,": spreadsheets export them) is no record."""
    values = json.loads(raw).values()
    return all(value is None or not str(value).strip() for value in values)


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


def _rejected(rows: list[_Rejected], encoding: str) -> pd.DataFrame:
    """Quarantine rows for rows that did not parse."""
    if not rows:
        return empty_quarantine()
    return quarantine_frame(
        [row.row_number for row in rows],
        [None if row.key is None else readable(row.key.strip(), encoding) or None for row in rows],
        [row.column for row in rows],
        [row.reason for row in rows],
        [row.raw for row in rows],
    )


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
#
# csv.reader asks for another physical line only while a quoted value is open, so a quote left
# open (a stray '"' in row 12) would swallow every later line into one value. The lines are fed
# through ``_CsvLines``, which looks at each line read into an open value; when a line shows the
# quote was never closed, the row is cut off at the line where the quote opened, quarantined,
# and reading starts again on the next line with a fresh reader.

# Values of any size are read (the csv module stops at 128 KB); mdm bounds what it keeps itself.
_FIELD_SIZE_LIMIT = min(sys.maxsize, 2**31 - 1)
# A quoted value may run over lines (an address, a note), but not over more than this many.
MAX_VALUE_LINES = 1_000
# Lines read into one open value that look like rows of their own (no quote, exactly a row's
# delimiters): two of them show a quote left open. Files of one or two columns are not judged
# so, as a line of prose in a note often holds one or two commas.
_ROW_LIKE_LINES = 2
_ROW_LIKE_MIN_DELIMITERS = 2
_QUOTE = '"'
_LINE_ENDS = "\r\n"


class _UnclosedQuote(Exception):
    """Raised through csv.reader: the open quoted value of the current row is not a value."""

    def __init__(self, evidence: str) -> None:
        super().__init__(evidence)
        self.evidence = evidence  # what showed it, naming lines: "line 14 reads like a row"


class _CsvLines:
    """The physical lines of a CSV file for csv.reader, watching values that run over lines.

    ``start_row`` is called before each row is read; the lines the reader takes for that row
    are kept in ``row_lines`` until the next one, so that a damaged row can be cut off and its
    later lines read again (``resume``).
    """

    def __init__(self, handle: TextIO, delimiter: str) -> None:
        self._handle = handle
        self._delimiter = delimiter
        self._pending: deque[str] = deque()  # lines to read again before the file's next
        self.row_lines: list[str] = []
        self.first_line = 1  # the line number of row_lines[0]
        self.row_delimiters = 0  # delimiters in a whole row; 0 until the header is known
        self._row_like: list[int] = []  # line numbers of lines that read like rows, in one value

    def reader(self) -> Iterator[list[str]]:
        return csv.reader(self._feed(), delimiter=self._delimiter)

    def start_row(self) -> None:
        self.first_line += len(self.row_lines)
        self.row_lines.clear()

    def _drain(self) -> Iterator[str]:
        while self._pending:
            yield self._pending.popleft()

    def _feed(self) -> Iterator[str]:
        row_lines = self.row_lines
        for line in itertools.chain(self._drain(), self._handle):
            if row_lines:  # the reader wants more: a quoted value is open
                self._check_continued(line)
            row_lines.append(line)
            yield line
        if row_lines:
            raise _UnclosedQuote("it would run to the end of the file")

    def _check_continued(self, line: str) -> None:
        number = self.first_line + len(self.row_lines)
        if len(self.row_lines) == 1:  # the row's first line read into a value
            self._row_like.clear()
        if len(self.row_lines) > MAX_VALUE_LINES:
            self._pending.appendleft(line)
            raise _UnclosedQuote(f"the value would run over more than {MAX_VALUE_LINES:,} lines")
        close = _closing_quote(line)
        if close >= 0:
            after = line[close + 1 :].lstrip(" \t")
            if after and after[0] != self._delimiter and after[0] not in _LINE_ENDS:
                self._pending.appendleft(line)
                raise _UnclosedQuote(
                    f"on line {number} a quote ends the value but '{after[0]}' follows it, "
                    "as where a quoted value of the next row starts"
                )
            self._row_like.clear()  # closed; a quote opened later on the line starts afresh
            return
        delimiters = self.row_delimiters
        if delimiters >= _ROW_LIKE_MIN_DELIMITERS and line.count(self._delimiter) == delimiters:
            self._row_like.append(number)
            if len(self._row_like) >= _ROW_LIKE_LINES:
                self._pending.appendleft(line)
                listed = " and ".join(map(str, self._row_like))
                raise _UnclosedQuote(
                    f"lines {listed}, read into the value, each hold a row's {delimiters} "
                    "delimiters and no quote, as rows of their own do"
                )

    def resume(self) -> _CutRow:
        """Cut the current row off after the line where its open quote opened; the lines
        after that one are read again, as rows of their own."""
        opened = _opening_line(self.row_lines, self._delimiter)
        kept = self.row_lines[: opened + 1]
        self._pending.extendleft(reversed(self.row_lines[opened + 1 :]))
        fields = next(csv.reader(kept, delimiter=self._delimiter), [])
        fields[-1:] = [field.rstrip(_LINE_ENDS) for field in fields[-1:]]  # ends with its line
        cut = _CutRow(
            fields=fields,
            first_line=self.first_line,
            quote_line=self.first_line + opened,
        )
        self.row_lines[opened + 1 :] = []  # start_row then counts only the lines kept
        return cut


@dataclass(frozen=True)
class _CutRow:
    fields: list[str]  # as csv parses the row's lines up to the quote's: the last one is open
    first_line: int
    quote_line: int  # where the quote that was never closed opened


def _closing_quote(line: str) -> int:
    """Inside a quoted value: the position of the quote that ends it on this line, or -1.

    A doubled quote is a quote inside the value."""
    position = line.find(_QUOTE)
    while position >= 0 and line.startswith(_QUOTE, position + 1):
        position = line.find(_QUOTE, position + 2)
    return position


def _opening_line(lines: list[str], delimiter: str) -> int:
    """The index of the line on which the quote still open after ``lines`` opened.

    The states of the csv module's reader (not strict): only a quote that starts a field opens
    a value; a quote after a closing quote is a doubled one. Runs only on a damaged row."""
    opened, state = 0, "start"
    for index, line in enumerate(lines):
        for char in line:
            if state == "quoted":
                state = "quote" if char == _QUOTE else "quoted"
            elif state == "quote" and char == _QUOTE:
                state = "quoted"
            elif char == delimiter or char in _LINE_ENDS:
                state = "start"
            elif state == "start" and char == _QUOTE:
                opened, state = index, "quoted"
            else:
                state = "field"
    return opened


@contextmanager
def _large_fields() -> Iterator[None]:
    previous = csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_header(spec: SourceSpec, lines: _CsvLines, location: str) -> list[str]:
    lines.start_row()
    try:
        header = next(lines.reader(), None)
    except _UnclosedQuote as damage:
        message = f"the header row opens a quote that is not closed: {damage.evidence}"
        raise _fail(spec, location, "path", message, _QUOTE_HINT) from None
    if not header:
        hint = "a CSV extract starts with a header row naming its columns"
        raise _fail(spec, location, "path", "the file is empty", hint)
    return [name.strip() for name in header]


_QUOTE_HINT = 'close the quote, or write a quote that is part of a value twice ("")'


def _csv_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    path = _existing_file(spec, root, location)
    with _large_fields(), _text_file(spec, path, location) as handle:
        return _csv_header(spec, _CsvLines(handle, spec.delimiter), location), "the file's header"


def _read_csv(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    path = _existing_file(spec, root, location)
    with _large_fields(), _text_file(spec, path, location) as handle:
        lines = _CsvLines(handle, spec.delimiter)
        header = _csv_header(spec, lines, location)
        _require_columns(spec, location, header, "the file's header")
        lines.row_delimiters = len(header) - 1
        key_position = header.index(spec.key)
        rows: list[list[Any]] = []
        numbers: list[int] = []
        rejected: list[_Rejected] = []
        reader = lines.reader()
        row_lines = lines.row_lines
        while True:
            lines.first_line += len(row_lines)  # start_row, inline: it runs once a row
            row_lines.clear()
            number = len(numbers) + len(rejected) + 1
            try:
                fields = next(reader, None)
            except _UnclosedQuote as damage:
                cut = lines.resume()
                rejected.append(_unclosed(spec, header, key_position, cut, damage, number))
                reader = lines.reader()
                continue
            if fields is None:
                break
            if not fields:
                continue  # a blank line is not a row
            if len(fields) == len(header):
                rows.append(fields)
                numbers.append(number)
            else:
                first, last = lines.first_line, lines.first_line + len(row_lines) - 1
                rejected.append(_ragged(spec, header, key_position, fields, number, first, last))
    frame = _parsed(header, rows, numbers)
    return _Parsed(frame, rejected, len(rows) + len(rejected))


def _ragged(
    spec: SourceSpec,
    header: list[str],
    key_position: int,
    fields: list[str],
    number: int,
    first: int,
    last: int,
) -> _Rejected:
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    reason = f"row has {len(fields)} fields, the header has {len(header)} ({lines})"
    # The fields before the one that is missing or extra are where they belong: the key is
    # read where the header has it, so the record it names is kept, not deleted.
    key = fields[key_position] if key_position < len(fields) else None
    return _Rejected(number, key, None, reason, _raw_fields(spec, header, fields))


def _unclosed(
    spec: SourceSpec,
    header: list[str],
    key_position: int,
    cut: _CutRow,
    damage: _UnclosedQuote,
    number: int,
) -> _Rejected:
    # A row may have run over lines legitimately (a quoted address) before the quote that
    # never closes opened.
    where = f"line {cut.quote_line}"
    if cut.first_line < cut.quote_line:
        where += f" (in the row of lines {cut.first_line}-{cut.quote_line})"
    reason = (
        f"a quote opens on {where} and is not closed: {damage.evidence}; the row is "
        f"quarantined and reading goes on at line {cut.quote_line + 1} ({_QUOTE_HINT})"
    )
    open_field = len(cut.fields) - 1  # the value the quote opened, cut off at its line's end
    column = header[open_field] if open_field < len(header) else None
    key = cut.fields[key_position] if key_position < open_field else None
    return _Rejected(number, key, column, reason, _raw_fields(spec, header, cut.fields))


def _raw_fields(spec: SourceSpec, header: list[str], fields: list[str]) -> str:
    names = _unique_names(header) + [f"_field_{i}" for i in range(len(header) + 1, len(fields) + 1)]
    return raw_object(dict(zip(names, fields, strict=False)), spec.encoding)


# JSON Lines


@dataclass(frozen=True)
class _JsonLines:
    columns: list[str]  # every key seen on any line, in order of first appearance
    objects: list[dict[str, Any]]
    numbers: list[int]  # the line number of each object: one object per line
    rejected: list[_Rejected]


def _parse_jsonl(spec: SourceSpec, root: Path, location: str) -> _JsonLines:
    path = _existing_file(spec, root, location)
    lines = _JsonLines([], [], [], [])
    key_pattern = _json_key_pattern(spec.key)
    with _text_file(spec, path, location) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            problem = _json_object(text, number, lines.objects)
            if problem:
                raw = raw_object({"_line": text}, spec.encoding)
                key = _key_in_text(text, key_pattern)
                lines.rejected.append(_Rejected(number, key, None, problem, raw))
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


def _json_key_pattern(key: str) -> re.Pattern[str]:
    """``"<key>": "value"`` or ``"<key>": 123`` as a member of an object.

    A string counts once its closing quote is there; a number only when a ',' or '}' follows
    it, since a line cut off inside a number ("id": 12|34) would give another key."""
    name = re.escape(json.dumps(key, ensure_ascii=False))
    string = r'"(?:[^"\\]|\\.)*"'
    number = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*[,}])"
    return re.compile(rf"(?:^|[{{,])\s*{name}\s*:\s*({string}|{number})")


def _key_in_text(text: str, pattern: re.Pattern[str]) -> str | None:
    """The key of a line that is not a JSON object, when the line shows exactly one."""
    found = {match.group(1) for match in pattern.finditer(text)}
    if len(found) != 1:
        return None
    try:
        return value_text(json.loads(found.pop()))
    except json.JSONDecodeError:
        return None


def _jsonl_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    return _parse_jsonl(spec, root, location).columns, "any line of the file"


def _read_jsonl(spec: SourceSpec, root: Path, location: str) -> _Parsed:
    lines = _parse_jsonl(spec, root, location)
    _require_columns(spec, location, lines.columns, "any line of the file")
    rows = [[obj.get(column) for column in lines.columns] for obj in lines.objects]
    frame = _parsed(lines.columns, rows, lines.numbers)
    return _Parsed(frame, lines.rejected, len(rows) + len(lines.rejected))


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
    return _Parsed(frame, [], len(frame))


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
    return _Parsed(frame, [], len(frame))


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
