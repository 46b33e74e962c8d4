"""Last-modified values as times: ISO 8601, a source's ``last_modified_format``, or detected.

With a format set, every value must fit it. Without one, ISO 8601 is read first, and the
values that are not ISO are read in the one common unambiguous format they all fit, decided
for the whole column: 14 (or 8) digits are compact, ``dd.mm.yyyy`` is European, and
``a/b/yyyy`` is European when some ``a`` is over 12 and American when some ``b`` is; when no
value tells, the dates are ambiguous and quarantined, never guessed. Naive times are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from mdm.config.specs import DateFormat
from mdm.sources.checks import Check

_TIME: Final = r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"
_TIMES: Final = ("", " %H:%M", " %H:%M:%S")
_COMPACT: Final = r"\d{14}|\d{8}"
_SLASHED: Final = re.compile(r"(\d{1,2})/(\d{1,2})/\d{4}" + _TIME)
_DOTTED: Final = r"\d{1,2}\.\d{1,2}\.\d{4}" + _TIME
_EPOCH_SECONDS: Final = r"-?\d{1,12}(?:\.\d+)?"
_EPOCH_MILLISECONDS: Final = r"-?\d{13}"
_ISO_EXAMPLE: Final = "ISO 8601 such as 2024-03-31 or 2024-03-31T14:05:00Z"


@dataclass(frozen=True)
class _Shape:
    """Values of one written shape (a full-match pattern) and the strptime formats they may
    be in, tried in order."""

    pattern: str
    formats: tuple[str, ...]


_SHAPES: Final[dict[DateFormat, tuple[_Shape, ...]]] = {
    DateFormat.COMPACT: (_Shape(r"\d{14}", ("%Y%m%d%H%M%S",)), _Shape(r"\d{8}", ("%Y%m%d",))),
    DateFormat.US: (_Shape(_SLASHED.pattern, tuple("%m/%d/%Y" + t for t in _TIMES)),),
    DateFormat.EU: (
        _Shape(_SLASHED.pattern, tuple("%d/%m/%Y" + t for t in _TIMES)),
        _Shape(_DOTTED, tuple("%d.%m.%Y" + t for t in _TIMES)),
    ),
}

EXPECTED: Final[dict[DateFormat, str]] = {
    DateFormat.ISO: _ISO_EXAMPLE,
    DateFormat.COMPACT: "yyyymmddhhmmss or yyyymmdd, such as 20240331140500",
    DateFormat.US: "mm/dd/yyyy with an optional hh:mm or hh:mm:ss, such as 03/31/2024 14:05",
    DateFormat.EU: "dd/mm/yyyy or dd.mm.yyyy with an optional hh:mm or hh:mm:ss, such as "
    "31.03.2024 14:05",
    DateFormat.EPOCH: "unix seconds such as 1711893900, or milliseconds (13 digits)",
}

Failure = tuple[Hashable, Check, str]  # row, the check it failed, the reason


def read_dates(
    text: pd.Series[Any], column: str, fmt: str | None, show: Callable[[str], str]
) -> tuple[pd.Series[Any], list[Failure]]:
    """Times in UTC for ``text`` (trimmed values, None where missing), NaT where a value is
    missing or fails; and a failure for each value that is not a date as ``fmt`` says
    (``show`` makes a value printable)."""
    present = text.dropna().astype(str)
    times = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if present.empty:
        return times, []
    if fmt is None:
        parsed, failures = _detected(present, column, show)
    else:
        parsed = _in_format(present, fmt)
        expected = EXPECTED.get(DateFormat(fmt), fmt) if fmt in set(DateFormat) else fmt
        failures = [
            (
                row,
                Check.DATE,
                f"last-modified '{show(value)}' in column '{column}' does not fit "
                f'last_modified_format = "{fmt}" (expected {expected})',
            )
            for row, value in present[parsed.isna()].items()
        ]
    times.loc[parsed.index] = parsed
    return times, failures


def _in_format(values: pd.Series[Any], fmt: str) -> pd.Series[Any]:
    """The values that fit ``fmt`` as times; NaT for the others."""
    if fmt == DateFormat.ISO:
        return _to_times(values, "ISO8601")
    if fmt == DateFormat.EPOCH:
        return _epoch(values)
    if fmt in set(DateFormat):
        return _shaped(values, _SHAPES[DateFormat(fmt)])
    return _to_times(values, fmt)


def _to_times(values: pd.Series[Any], fmt: str) -> pd.Series[Any]:
    times = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    return times.astype("datetime64[us, UTC]")


def _shaped(values: pd.Series[Any], shapes: tuple[_Shape, ...]) -> pd.Series[Any]:
    """strptime is lenient about digits ('2024131' is a %Y%m%d): each format only reads the
    values of its exact shape."""
    times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    for shape in shapes:
        for fmt in shape.formats:
            todo = values[times.isna() & values.str.fullmatch(shape.pattern)]
            if todo.empty:
                break
            times.loc[todo.index] = _to_times(todo, fmt)
    return times


def _epoch(values: pd.Series[Any]) -> pd.Series[Any]:
    times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    units: tuple[tuple[str, Literal["s", "ms"]], ...] = (
        (_EPOCH_SECONDS, "s"),
        (_EPOCH_MILLISECONDS, "ms"),
    )
    for pattern, unit in units:
        todo = values[values.str.fullmatch(pattern)]
        if not todo.empty:
            numbers = pd.to_numeric(todo, errors="coerce")
            parsed = pd.to_datetime(numbers, unit=unit, errors="coerce", utc=True)
            times.loc[todo.index] = parsed.astype("datetime64[us, UTC]")
    return times


# ---- detection, without a format -------------------------------------------------------------


def _detected(
    values: pd.Series[Any], column: str, show: Callable[[str], str]
) -> tuple[pd.Series[Any], list[Failure]]:
    times = _to_times(values, "ISO8601")
    other = values[times.isna()]
    if other.empty:
        return times, []
    compact = other[other.str.fullmatch(_COMPACT)]
    dotted = other[other.str.fullmatch(_DOTTED)]
    parts = other.str.extract(rf"^{_SLASHED.pattern}$").dropna().astype(int)
    # a/b/yyyy: a day over 12 tells the order; both over 12 is no date either way.
    first_day, second_day = parts[0] > 12, parts[1] > 12
    slashed = other.loc[parts.index[~(first_day & second_day)]]
    eu_only = slashed.loc[parts.index[first_day & ~second_day]]
    us_only = slashed.loc[parts.index[second_day & ~first_day]]

    failures: list[Failure] = []
    families: list[str] = []
    if not compact.empty:
        families.append(DateFormat.COMPACT)
    ordered = pd.concat([dotted, slashed])
    if not ordered.empty:
        if (not dotted.empty or not eu_only.empty) and not us_only.empty:
            families.append("conflict")
        elif not dotted.empty or not eu_only.empty:
            families.append(DateFormat.EU)
        elif not us_only.empty:
            families.append(DateFormat.US)
        else:
            families.append("ambiguous")
    shaped = pd.concat([compact, ordered])
    if len(families) > 1:
        seen = " and ".join(_family_words(family) for family in families)
        failures += [
            (
                row,
                Check.DATE,
                f"last-modified '{show(value)}' in column '{column}' is not ISO 8601, and the "
                f"column's dates that are not come in more than one format ({seen}); mdm does "
                "not guess: set last_modified_format for this source",
            )
            for row, value in shaped.items()
        ]
    elif families == ["ambiguous"]:
        failures += [
            (
                row,
                Check.AMBIGUOUS_DATE,
                f"last-modified '{show(value)}' in column '{column}' is ambiguous: no date of "
                "the column has a day over 12, so it may be mm/dd/yyyy or dd/mm/yyyy; set "
                'last_modified_format = "us" or "eu" for this source',
            )
            for row, value in slashed.items()
        ]
    elif families == ["conflict"]:
        us_example = show(str(us_only.iloc[0]))
        eu_example = show(str((eu_only if not eu_only.empty else dotted).iloc[0]))
        failures += [
            (
                row,
                Check.DATE,
                f"last-modified '{show(value)}' in column '{column}': the column's dates are "
                f"written both mm/dd/yyyy (such as '{us_example}') and dd/mm/yyyy (such as "
                f"'{eu_example}'); set last_modified_format for this source",
            )
            for row, value in ordered.items()
        ]
    elif families:
        family = DateFormat(families[0])
        found = _in_format(shaped, family)
        times.loc[found.index] = found
        failures += [
            (
                row,
                Check.DATE,
                f"last-modified '{show(value)}' in column '{column}' is not a date in the "
                f"format of the column's other dates that are not ISO 8601, "
                f"{EXPECTED[family]}; set last_modified_format if the column has another",
            )
            for row, value in shaped[found.isna()].items()
        ]
    told = {row for row, _, _ in failures}
    unread = other[times.loc[other.index].isna().to_numpy()]
    failures += [
        (row, *_not_a_date(show(value))) for row, value in unread.items() if row not in told
    ]
    return times, failures


def _family_words(family: str) -> str:
    return {
        DateFormat.COMPACT: "yyyymmdd[hhmmss]",
        DateFormat.EU: "dd/mm/yyyy",
        DateFormat.US: "mm/dd/yyyy",
        "ambiguous": "a/b/yyyy",
        "conflict": "both mm/dd/yyyy and dd/mm/yyyy",
    }[family]


# The times the store holds (pandas' nanoseconds), by their dates.
_FIRST_DAY: Final = dt.date(1677, 9, 22)
_LAST_DAY: Final = dt.date(2262, 4, 11)


def _not_a_date(value: str) -> tuple[Check, str]:
    """Why a value no format read is refused: a date beyond the store's, or no date."""
    try:
        day = dt.datetime.fromisoformat(value).date()
    except ValueError:
        day = None
    if day is not None and not _FIRST_DAY <= day <= _LAST_DAY:
        return Check.DATE_RANGE, range_reason(value)
    return (
        Check.DATE,
        f"last-modified '{value}' is not a date; expected {_ISO_EXAMPLE}, or a format "
        "named by last_modified_format",
    )


def range_reason(value: str) -> str:
    return f"last-modified '{value}' is outside the dates mdm can store (1677-09-22 to 2262-04-11)"
