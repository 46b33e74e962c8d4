"""What every format's reader shares: the rows it parsed and rejected, the file it
opens, and the error for a source that cannot be read at all."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import pandas as pd

from mdm.config.specs import SourceSpec
from mdm.errors import MdmError, Problem, Reason
from mdm.sources.checks import Check


@dataclass(frozen=True)
class Rejected:
    """A row that did not parse, for the quarantine."""

    row_number: int
    key: str | None  # the key as read from the damaged row, if it could be
    column: str | None
    reason: str
    raw: str  # the row as read, as a JSON object
    check: Check


@dataclass(frozen=True)
class Parsed:
    """What a format's reader hands on: the rows that parsed and those that did not."""

    frame: pd.DataFrame  # rows that parsed, values as read, one column per source column
    rejected: list[Rejected]  # the rows that did not parse
    rows_read: int


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique ('Notes', 'Notes (2)'), so every raw value keeps its column."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def fail(spec: SourceSpec, location: str, key: str, message: str, hint: str) -> MdmError:
    where = f"{location} (source '{spec.name}', {key})"
    summary = f"source '{spec.name}' cannot be read"
    return MdmError(Reason.SOURCE, summary, [Problem(where, message, hint)])


def parsed_frame(columns: list[str], rows: list[list[Any]], numbers: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=unique_names(columns), dtype=object)
    frame.index = pd.Index(numbers, dtype="int64", name="row_number")
    return frame


def existing_file(spec: SourceSpec, root: Path, location: str) -> Path:
    path = root / (spec.path or "")  # an absolute spec.path stays as it is
    if spec.path_is_uri or path.is_dir():
        what = "a URI" if spec.path_is_uri else f"{path} is a folder, not a file"
        message = f"{what}: the local engine reads one file"
        raise fail(spec, location, "path", message, SPARK_READS_HINT)
    if spec.path is None or not path.is_file():
        message = f"no such file: {path}"
        raise fail(spec, location, "path", message, "paths are relative to the project folder")
    return path


SPARK_READS_HINT = (
    "name the file; a folder of extract files or a URI is read by the spark engine "
    '(engine = "spark" in mdm.toml, or mdm run --engine spark)'
)


@contextmanager
def text_file(spec: SourceSpec, path: Path, location: str) -> Iterator[TextIO]:
    """The file as text; undecodable bytes become lone surrogates, found per value later."""
    with decoded_text(spec, lambda: path.open("rb"), location) as handle:
        yield handle


@contextmanager
def decoded_text(
    spec: SourceSpec, open_bytes: Callable[[], BinaryIO], location: str
) -> Iterator[TextIO]:
    """Bytes (a file, or a file's content read elsewhere) as text, decoded as ``text_file``
    decodes a file: the source's encoding, undecodable bytes as lone surrogates, line ends
    kept for the csv module, a byte order mark skipped."""
    try:
        with (
            open_bytes() as raw,
            io.TextIOWrapper(
                raw, encoding=spec.encoding, errors="surrogateescape", newline=""
            ) as handle,
        ):
            if handle.read(1) != "\ufeff":  # a byte order mark is not part of the header
                handle.seek(0)
            yield handle
    except LookupError as error:
        hint = "use a Python codec name such as utf-8, latin-1 or cp1252"
        raise fail(spec, location, "encoding", str(error), hint) from error
    except (OSError, UnicodeError) as error:
        raise fail(spec, location, "path", f"cannot read the file: {error}", "") from error
    except csv.Error as error:
        hint = "is a quote left open? check 'delimiter' and 'encoding' in mdm.toml"
        raise fail(spec, location, "path", f"cannot parse the file: {error}", hint) from error
