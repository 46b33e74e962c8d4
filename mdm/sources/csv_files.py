"""CSV extracts, with rows whose quote is left open cut off and quarantined.

csv.reader asks for another physical line only while a quoted value is open, so a quote left
open (a stray '"' in row 12) would swallow every later line into one value. The lines are fed
through ``_CsvLines``, which looks at each line read into an open value; when a line shows the
quote was never closed, the row is cut off at the line where the quote opened, quarantined,
and reading starts again on the next line with a fresh reader.
"""

from __future__ import annotations

import csv
import itertools
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mdm.config.specs import SourceSpec
from mdm.sources.checks import Check
from mdm.sources.columns import require_columns
from mdm.sources.parsing import (
    Parsed,
    Rejected,
    existing_file,
    fail,
    parsed_frame,
    text_file,
    unique_names,
)
from mdm.sources.validate import raw_object

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
        raise fail(spec, location, "path", message, _QUOTE_HINT) from None
    if not header:
        hint = "a CSV extract starts with a header row naming its columns"
        raise fail(spec, location, "path", "the file is empty", hint)
    return [name.strip() for name in header]


_QUOTE_HINT = 'close the quote, or write a quote that is part of a value twice ("")'


def csv_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    path = existing_file(spec, root, location)
    with _large_fields(), text_file(spec, path, location) as handle:
        return _csv_header(spec, _CsvLines(handle, spec.delimiter), location), "the file's header"


def read_csv(spec: SourceSpec, root: Path, location: str) -> Parsed:
    path = existing_file(spec, root, location)
    with text_file(spec, path, location) as handle:
        return parse_csv(spec, handle, location)


def parse_csv(spec: SourceSpec, handle: TextIO, location: str) -> Parsed:
    """The rows of one CSV text, numbered from 1: its header must hold the columns the mapping
    names (else ``MdmError``); damaged rows are rejected, for the quarantine."""
    with _large_fields():
        lines = _CsvLines(handle, spec.delimiter)
        header = _csv_header(spec, lines, location)
        require_columns(spec, location, header, "the file's header")
        lines.row_delimiters = len(header) - 1
        key_position = header.index(spec.key)
        rows: list[list[Any]] = []
        numbers: list[int] = []
        rejected: list[Rejected] = []
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
    frame = parsed_frame(header, rows, numbers)
    return Parsed(frame, rejected, len(rows) + len(rejected))


def _ragged(
    spec: SourceSpec,
    header: list[str],
    key_position: int,
    fields: list[str],
    number: int,
    first: int,
    last: int,
) -> Rejected:
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    reason = f"row has {len(fields)} fields, the header has {len(header)} ({lines})"
    # The fields before the one that is missing or extra are where they belong: the key is
    # read where the header has it, so the record it names is kept, not deleted.
    key = fields[key_position] if key_position < len(fields) else None
    return Rejected(number, key, None, reason, _raw_fields(spec, header, fields), Check.RAGGED)


def _unclosed(
    spec: SourceSpec,
    header: list[str],
    key_position: int,
    cut: _CutRow,
    damage: _UnclosedQuote,
    number: int,
) -> Rejected:
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
    raw = _raw_fields(spec, header, cut.fields)
    return Rejected(number, key, column, reason, raw, Check.UNCLOSED_QUOTE)


def _raw_fields(spec: SourceSpec, header: list[str], fields: list[str]) -> str:
    names = unique_names(header) + [f"_field_{i}" for i in range(len(header) + 1, len(fields) + 1)]
    return raw_object(dict(zip(names, fields, strict=False)), spec.encoding)
