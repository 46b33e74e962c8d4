"""Validation of one source's parsed rows into records and quarantine rows.

Pure functions on data frames, no input or output. A parsed frame holds one column per column of
the source, with the values as read (text for CSV, native values for Parquet, JSON Lines and
SQL), indexed by row number. ``validate_rows`` splits it into the good rows, mapped onto the
canonical attributes, and the bad rows with one quarantine row per problem found.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mdm.config.specs import SourceSpec
from mdm.schema import Entity, attribute_names
from mdm.sources.checks import Check
from mdm.sources.dates import range_reason, read_dates
from mdm.standardize.full_name import NAME_PARTS, split_full_names

STRING = pd.StringDtype()
UTC_NS = pd.DatetimeTZDtype("ns", "UTC")

BOOKKEEPING_COLUMNS: tuple[str, ...] = ("source_key", "row_number", "last_modified", "deleted")
QUARANTINE_COLUMNS: tuple[str, ...] = ("row_number", "source_key", "column", "reason", "raw")

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f", ""})

# Text decoded with errors="surrogateescape" carries each undecodable byte as a lone surrogate.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# Beyond this a float no longer holds every integer exactly; print it as Python does.
_EXACT_FLOAT_INTEGERS = 2.0**53
# The longest value mdm takes from a column it reads (the key, mapped and bookkeeping columns).
# Names, streets, emails, titles and websites are far shorter; a longer value is damage (a
# quote left open, a document exported into the wrong column), and its row is quarantined.
MAX_VALUE_CHARS = 4_000
# The longest key the store holds (source_record.source_key).
MAX_KEY_CHARS = 512


def record_columns(entity: Entity) -> list[str]:
    """The columns of a records frame, in order."""
    return [*BOOKKEEPING_COLUMNS, *attribute_names(entity)]


def empty_records(entity: Entity) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "source_key": pd.Series(dtype=STRING),
        "row_number": pd.Series(dtype="int64"),
        "last_modified": pd.Series(dtype=UTC_NS),
        "deleted": pd.Series(dtype=bool),
    }
    columns.update({name: pd.Series(dtype=STRING) for name in attribute_names(entity)})
    return pd.DataFrame(columns)


def empty_quarantine() -> pd.DataFrame:
    return quarantine_frame([], [], [], [], [])


def quarantine_frame(
    row_numbers: Iterable[int | None],
    source_keys: Iterable[str | None],
    columns: Iterable[str | None],
    reasons: Iterable[str],
    raws: Iterable[str],
) -> pd.DataFrame:
    """A quarantine frame with its exact dtypes."""
    return pd.DataFrame(
        {
            "row_number": pd.array(list(row_numbers), dtype="Int64"),
            "source_key": pd.array(list(source_keys), dtype=STRING),
            "column": pd.array(list(columns), dtype=STRING),
            "reason": pd.array(list(reasons), dtype=STRING),
            "raw": pd.array(list(raws), dtype=STRING),
        }
    )


# ---- values as text --------------------------------------------------------------------------


def as_text(values: pd.Series[Any]) -> pd.Series[Any]:
    """Each value as text, None where missing: an object series, index kept.

    Text read from files stays exactly as read (undecodable bytes included, found later).
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) or (
        pd.api.types.is_object_dtype(dtype)
        and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    ):
        return _none_where_missing(values.astype(object))
    if pd.api.types.is_integer_dtype(dtype):
        return _none_where_missing(values.astype(STRING).astype(object))
    return pd.Series([value_text(v) for v in values], index=values.index, dtype=object)


def _none_where_missing(text: pd.Series[Any]) -> pd.Series[Any]:
    # Text with nothing missing (a CSV extract's: an empty cell is "") is taken as it is.
    missing = text.isna()
    return text.where(~missing, None) if missing.any() else text


def value_text(value: object) -> str | None:
    """One native value as a person would write it in a file."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return _float_text(float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, int | np.integer | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        # Decoded like file text, so undecodable bytes are found and quarantined the same way.
        return bytes(value).decode("utf-8", errors="surrogateescape")
    if isinstance(value, dict | list | tuple | np.ndarray):
        return json.dumps(_jsonable(value), ensure_ascii=False, default=str)
    return str(value)


def _float_text(value: float) -> str | None:
    if np.isnan(value):
        return None
    # A postcode or flag that went through a float column reads "2100", not "2100.0".
    if value.is_integer() and abs(value) < _EXACT_FLOAT_INTEGERS:
        return str(int(value))
    return repr(value)


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def has_undecodable_bytes(text: str) -> bool:
    return bool(_UNDECODABLE.search(text))


def readable(text: str, encoding: str) -> str:
    """Text with undecodable bytes shown as escapes (``\\xe9``), safe to print and store."""
    if not _UNDECODABLE.search(text):
        return text
    raw = text.encode(encoding, errors="surrogateescape")
    return raw.decode(encoding, errors="backslashreplace")


def trimmed(text: pd.Series[Any]) -> pd.Series[Any]:
    """Text without surrounding white space; empty becomes None."""
    stripped = text.str.strip()
    return stripped.where(stripped.notna() & (stripped != ""), None)


# ---- checks ----------------------------------------------------------------------------------
# Each check returns problems: a frame with columns row_number, column, reason, check.


def problems_frame(
    row_numbers: Iterable[Hashable],
    column: str,
    reasons: Iterable[str],
    check: Check | Iterable[Check],
) -> pd.DataFrame:
    numbers = np.asarray(list(row_numbers), dtype="int64")
    reason_list = list(reasons)
    checks = [check] * len(numbers) if isinstance(check, Check) else list(check)
    return pd.DataFrame(
        {
            "row_number": numbers,
            "column": [column] * len(numbers),
            "reason": reason_list,
            "check": [str(c) for c in checks],
        }
    )


def present_values(text: pd.Series[Any]) -> list[str]:
    """The values of ``as_text`` text that are there (not None, not empty), as a list: what the
    checks of every value look at in their common case, in one pass each."""
    return list(filter(None, text.tolist()))


def undecodable_bytes(
    text: pd.Series[Any], column: str, encoding: str, present: list[str] | None = None
) -> pd.DataFrame:
    """Rows whose value holds bytes the configured encoding cannot decode (``present``: the
    column's ``present_values``, if made already)."""
    listed = present_values(text) if present is None else present
    if _is_unicode("".join(listed)):  # the common case: one pass
        return problems_frame([], column, [], [])
    found = text.dropna()
    bad = found[found.str.contains(_UNDECODABLE, regex=True)]
    reasons = [
        f"bytes not valid {encoding} in column '{column}' (read as '{readable(v, encoding)}')"
        for v in bad
    ]
    return problems_frame(bad.index, column, reasons, Check.UNDECODABLE)


def _is_unicode(joined: str) -> bool:
    """No surrogate escape (nor any other lone surrogate) in the text: UTF-8 encodes it. The
    encoder scans far faster than a regular expression."""
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def oversized_values(
    text: pd.Series[Any], column: str, what: str, limit: int, present: list[str] | None = None
) -> pd.DataFrame:
    """Rows whose value (``what``: "value" or "key") is longer than ``limit`` characters
    (``present``: the column's ``present_values``, if made already)."""
    listed = present_values(text) if present is None else present
    if max(map(len, listed), default=0) <= limit:  # the common case
        return problems_frame([], column, [], [])
    lengths = text.dropna().str.len()
    long = lengths[lengths > limit]
    reasons = [
        f"the {what} in column '{column}' has {length:,} characters, more than the {limit:,} "
        f"mdm takes (is a quote left open, or the wrong column mapped?)"
        for length in long
    ]
    return problems_frame(long.index, column, reasons, Check.OVERSIZED)


def empty_keys(keys: pd.Series[Any], column: str) -> pd.DataFrame:
    missing = keys[keys.isna()]
    reasons = [f"key column '{column}' is empty"] * len(missing)
    return problems_frame(missing.index, column, reasons, Check.EMPTY_KEY)


def duplicate_keys(keys: pd.Series[Any], column: str, encoding: str) -> pd.DataFrame:
    """Every row of a key seen more than once: we cannot know which row is right."""
    present = keys.dropna()
    repeated = present[present.duplicated(keep=False)]
    if repeated.empty:
        return problems_frame([], column, [], [])
    numbers = pd.Series(repeated.index, index=repeated.index)
    rows = numbers.groupby(repeated).transform(lambda r: ", ".join(map(str, r)))
    counts = repeated.map(repeated.value_counts())
    reasons = [
        f"key '{readable(key, encoding)}' appears {count} times (rows {where}); "
        + ("both rows" if count == 2 else f"all {count} rows")
        + " quarantined, as mdm cannot tell which is right"
        for key, count, where in zip(repeated, counts, rows, strict=True)
    ]
    return problems_frame(repeated.index, column, reasons, Check.DUPLICATE_KEY)


def parse_last_modified(
    values: pd.Series[Any], column: str, encoding: str, fmt: str | None = None
) -> tuple[pd.Series[Any], pd.DataFrame]:
    """Last-modified times in UTC (naive means UTC), and the values that are not dates:
    ``fmt`` is the source's ``last_modified_format`` (see ``mdm.sources.dates``). Values that
    are times already (Parquet, SQL) are taken as they are."""
    if _is_datetime(values):
        times = values.dt.tz_convert("UTC") if values.dt.tz else values.dt.tz_localize("UTC")
        return _within_range(times, column, None)
    text = trimmed(as_text(values))
    parsed, failures = read_dates(text, column, fmt, lambda value: readable(value, encoding))
    not_dates = problems_frame(
        [row for row, _, _ in failures],
        column,
        [reason for _, _, reason in failures],
        [check for _, check, _ in failures],
    )
    times, outside = _within_range(parsed, column, text)
    return times, _combine([not_dates, outside])


def _within_range(
    times: pd.Series[Any], column: str, text: pd.Series[Any] | None
) -> tuple[pd.Series[Any], pd.DataFrame]:
    """Times as nanoseconds; dates beyond them (a 9999-12-31 "never") are problems."""
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    outside = times.notna() & ((times < low) | (times > high))
    bad = times[outside]
    shown = bad.map(value_text) if text is None else text[outside]
    reasons = [range_reason(str(v)) for v in shown]
    problems = problems_frame(bad.index, column, reasons, Check.DATE_RANGE)
    return times.mask(outside).astype(UTC_NS), problems


def parse_deleted(
    values: pd.Series[Any], column: str, encoding: str
) -> tuple[pd.Series[Any], pd.DataFrame]:
    """Deleted flags as booleans (empty is not deleted), and the values that are not flags."""
    # A flag column holds a handful of distinct values: each is read once.
    codes, distinct = pd.factorize(as_text(values).to_numpy(dtype=object))
    text = trimmed(pd.Series(distinct, dtype=object))
    words = text.str.lower()
    is_true = words.isin(TRUE_WORDS).to_numpy(dtype=bool)
    is_bad = (words.notna() & ~words.isin(TRUE_WORDS | FALSE_WORDS)).to_numpy(dtype=bool)
    present = codes >= 0
    known = np.where(present, codes, 0)
    flags = present & is_true[known] if len(distinct) else present
    bad = present & is_bad[known] if len(distinct) else present
    reasons = [
        f"deleted flag '{readable(text.iloc[code], encoding)}' is not true/false "
        "(accepted: true/false, yes/no, y/n, t/f, 1/0, or empty)"
        for code in codes[bad].tolist()
    ]
    problems = problems_frame(values.index[bad], column, reasons, Check.FLAG)
    return pd.Series(flags, index=values.index, dtype=bool), problems


def parse_operations(values: pd.Series[Any], deletes: frozenset[str]) -> pd.Series[Any]:
    """Whether each row's operation is a deletion: its value, trimmed, in ``deletes`` (folded
    to lower case). Any other value (I, U, insert, upsert, or empty) is a live row."""
    words = trimmed(as_text(values)).str.casefold()
    return words.isin(deletes).astype(bool)


# ---- the whole frame -------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedRows:
    records: pd.DataFrame  # the good rows, mapped onto the canonical attributes
    quarantine: pd.DataFrame  # one row per problem: QUARANTINE_COLUMNS and its check
    quarantined_keys: dict[int, str | None]  # quarantined row number -> its key as read


def validate_rows(frame: pd.DataFrame, spec: SourceSpec) -> ValidatedRows:
    """Split parsed rows into records and quarantine rows (one per problem, by row number)."""
    encoding = spec.encoding
    texts = {column: as_text(frame[column]) for column in spec.source_columns}
    present = {column: present_values(texts[column]) for column in texts}
    checks = [
        undecodable_bytes(texts[column], column, encoding, present[column]) for column in texts
    ]
    checks += [
        oversized_values(texts[column], column, "key", MAX_KEY_CHARS, present[column])
        if column == spec.key
        else oversized_values(texts[column], column, "value", MAX_VALUE_CHARS, present[column])
        for column in texts
    ]
    del present
    # A value already reported (undecodable, too long) is not parsed as a date or flag as well.
    reported: dict[str, list[Any]] = {}
    for problems in checks:
        if not problems.empty:
            column = str(problems["column"].iloc[0])
            reported.setdefault(column, []).extend(problems["row_number"])
    keys = trimmed(texts[spec.key])
    checks += [empty_keys(keys, spec.key), duplicate_keys(keys, spec.key, encoding)]

    last_modified = pd.Series(pd.NaT, index=frame.index, dtype=UTC_NS)
    if spec.last_modified:
        column = spec.last_modified
        values = frame[column] if _is_datetime(frame[column]) else texts[column]
        last_modified, bad = parse_last_modified(
            _skip(values, reported.get(column)), column, encoding, spec.last_modified_format
        )
        checks.append(bad)
    deleted = pd.Series(False, index=frame.index, dtype=bool)
    if spec.deleted_flag:
        column = spec.deleted_flag
        deleted, bad = parse_deleted(_skip(texts[column], reported.get(column)), column, encoding)
        checks.append(bad)
    if spec.op_column:
        # Deleted if either says so, when a source has both a flag and an operation.
        operations = _skip(texts[spec.op_column], reported.get(spec.op_column))
        deleted = deleted | parse_operations(operations, spec.op_delete_values)

    problems = _combine(checks)
    good = ~frame.index.isin(problems["row_number"])
    records = _records(spec, texts, keys[good], last_modified[good], deleted[good])
    bad_rows = problems["row_number"].drop_duplicates().tolist()
    quarantined_keys = {int(number): keys.loc[number] for number in bad_rows}
    return ValidatedRows(records, _quarantine(frame, problems, keys, encoding), quarantined_keys)


def _skip(values: pd.Series[Any], rows: list[Any] | None) -> pd.Series[Any]:
    """Values without those already reported (undecodable, too long): one problem, one report."""
    return values if rows is None else values.mask(values.index.isin(rows))


def _is_datetime(values: pd.Series[Any]) -> bool:
    dtype = values.dtype
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype)


def _combine(checks: list[pd.DataFrame]) -> pd.DataFrame:
    found = [problems for problems in checks if not problems.empty]
    if not found:
        return problems_frame([], "", [], [])
    # Stable sort: by row, then in the order the checks ran.
    return pd.concat(found, ignore_index=True).sort_values("row_number", kind="stable")


def _records(
    spec: SourceSpec,
    texts: dict[str, pd.Series[Any]],
    keys: pd.Series[Any],
    last_modified: pd.Series[Any],
    deleted: pd.Series[Any],
) -> pd.DataFrame:
    index = keys.index
    # Good rows hold no undecodable bytes, so Arrow strings (and their fast strip) take them.
    # Each text column is made a string column at once: a frame of object columns would first
    # infer a type for each, which takes longer than the rest of this together.
    columns: dict[str, Any] = {
        "source_key": _string_column(keys.to_numpy(dtype=object), len(index)),
        "row_number": np.asarray(index, dtype="int64"),
        "last_modified": last_modified.array,
        "deleted": deleted.to_numpy(dtype=bool),
    }
    for name in attribute_names(spec.entity):
        mapped = spec.mapped_columns(name)
        columns[name] = _string_column(
            None
            if not mapped
            else texts[mapped[0]].loc[index].to_numpy()
            if len(mapped) == 1
            else _joined([texts[column].loc[index] for column in mapped]).to_numpy(),
            len(index),
        )
    records = pd.DataFrame(columns)
    if spec.mapped_columns("full_name"):
        _fill_from_full_names(records)
    return records


def _string_column(values: npt.NDArray[np.object_] | None, rows: int) -> pd.Series[Any]:
    """Text values (None where missing; None: a column of ``rows`` missing values) as a string
    column, trimmed, empty as missing. Arrow reads the values: faster than pandas' own check."""
    array = (
        pa.nulls(rows, pa.large_string())
        if values is None
        else pa.array(values, type=pa.large_string(), from_pandas=True)
    )
    return _stripped(pd.Series(pd.array(array, dtype=STRING)))


def _stripped(text: pd.Series[Any]) -> pd.Series[Any]:
    stripped = text.str.strip()
    return stripped.mask(stripped == "")


def _joined(parts: list[pd.Series[Any]]) -> pd.Series[Any]:
    """Several columns as one value: the non-empty values, trimmed, joined by one space."""
    joined: pd.Series[Any] | None = None
    for part in parts:
        text = _stripped(part.astype(STRING))
        if joined is None:
            joined = text
        else:
            both = joined.notna() & text.notna()
            joined = joined.where(~both, joined + " " + text).fillna(text)
    assert joined is not None  # a mapping list is never empty (SourceSpec checks it)
    return joined.astype(object).where(joined.notna(), None)


def _fill_from_full_names(records: pd.DataFrame) -> None:
    """Fill first, middle and last name from the full name where the row has none of its
    own: a source's own first_name is kept beside a full name it also maps."""
    parts = split_full_names(records["full_name"])
    for name in NAME_PARTS:
        records[name] = records[name].fillna(parts[name])


def _quarantine(
    frame: pd.DataFrame, problems: pd.DataFrame, keys: pd.Series[Any], encoding: str
) -> pd.DataFrame:
    """The quarantine rows, with the check each failed as a last column ``check``."""
    if problems.empty:
        return empty_quarantine().assign(check=pd.Series(dtype=object))
    numbers = problems["row_number"].tolist()
    bad = frame.loc[problems["row_number"].drop_duplicates().tolist()]
    raws = raw_json(bad, encoding)
    row_keys = [keys.loc[n] for n in numbers]
    return quarantine_frame(
        numbers,
        [None if key is None else readable(key, encoding) for key in row_keys],
        problems["column"],
        problems["reason"],
        [raws[n] for n in numbers],
    ).assign(check=problems["check"].tolist())


def raw_json(rows: pd.DataFrame, encoding: str) -> dict[Hashable, str]:
    """Each row as read, as a JSON object of column -> text, keyed by row number."""
    texts = {str(column): as_text(rows[column]).tolist() for column in rows.columns}
    return {
        number: raw_object({column: values[i] for column, values in texts.items()}, encoding)
        for i, number in enumerate(rows.index)
    }


def raw_object(values: dict[str, str | None], encoding: str) -> str:
    readable_values = {
        readable(column, encoding): None if text is None else readable(text, encoding)
        for column, text in values.items()
    }
    return json.dumps(readable_values, ensure_ascii=False)
