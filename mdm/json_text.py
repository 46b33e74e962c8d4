"""JSON objects of text columns, one per row, built by Arrow over whole columns.

A version stores its attributes and its match keys as JSON objects of text values. Encoding
a million of them with ``json.dumps`` costs tens of seconds of Python per row; here each
column is escaped once by Arrow and the members joined element-wise. The text is exactly what
``json.dumps(obj, ensure_ascii=False)`` writes for the same object (same member order, ``": "``
and ``", "`` between), so stored values do not change with the path that wrote them; values
Arrow cannot hold (text that is not Unicode, values that are not text) take that path itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# What ``json.dumps`` escapes with ensure_ascii=False, besides the other control characters
# (written as \u00XX): the backslash first, so that the escapes added after it stay single.
_SHORT_ESCAPES: Final = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
_OTHER_CONTROLS: Final = tuple(chr(code) for code in range(0x20) if chr(code) not in "\n\r\t\b\f")
_OTHER_CONTROL_PATTERN: Final = "[" + "".join(f"\\x{{{ord(c):02x}}}" for c in _OTHER_CONTROLS) + "]"
_ESCAPED_PATTERN: Final = r'[\x{00}-\x{1f}"\\]'
_TEXT: Final = pa.large_string()


@dataclass(frozen=True)
class Nested:
    """A member whose value is itself an object of text columns."""

    columns: pd.DataFrame


@dataclass(frozen=True)
class Literal:
    """A member with the same JSON value in every row (written as given)."""

    json: str


Member: TypeAlias = pd.Series | Nested | Literal


def json_objects(members: Sequence[tuple[str, Member]], rows: int) -> pd.Series:
    """One JSON object per row (text, by position), its members in the order given: a text
    column's value as a JSON string (``null`` when missing), a ``Nested`` frame's row as an
    object, a ``Literal`` as written. Equal to ``json.dumps(row, ensure_ascii=False)`` of the
    row as a dict. Arrow-backed: writing it to the store converts it once."""
    if rows == 0:
        return pd.Series([], dtype="string")
    try:
        built = _object(members, rows)
    except _NotText:
        # Python strings: text that is not Unicode cannot be Arrow's.
        return pd.Series(_dumped(members, rows), dtype=object)
    return pd.Series(pd.arrays.ArrowStringArray(built))


class _NotText(Exception):
    """A column Arrow cannot hold as text: the rows are encoded one by one instead."""


def _object(members: Sequence[tuple[str, Member]], rows: int) -> pa.Array:
    pieces: list[pa.Array | pa.Scalar] = []
    for position, (name, member) in enumerate(members):
        prefix = ("{" if position == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        pieces.append(pa.scalar(prefix, _TEXT))
        pieces.append(_value(member, rows))
    if not pieces:
        return pa.array(["{}"] * rows, _TEXT)
    pieces.append(pa.scalar("}", _TEXT))
    joined = pc.binary_join_element_wise(*pieces, pa.scalar("", _TEXT))
    if isinstance(joined, pa.Scalar):  # literals only: the same object in every row
        return pa.array([joined.as_py()] * rows, _TEXT)
    return joined


def _value(member: Member, rows: int) -> pa.Array | pa.Scalar:
    if isinstance(member, Literal):
        return pa.scalar(member.json, _TEXT)
    if isinstance(member, Nested):
        return _object([(str(name), member.columns[name]) for name in member.columns], rows)
    return _string_literals(_text(member))


def _text(column: pd.Series) -> pa.Array:
    """The column as Arrow text: pandas text as it is, other values only if every one present
    is a Python string."""
    if not isinstance(column.dtype, pd.StringDtype) and pd.api.types.infer_dtype(
        column, skipna=True
    ) not in ("string", "empty"):
        raise _NotText
    try:
        array = pa.array(column, type=_TEXT, from_pandas=True)
    except (pa.ArrowException, UnicodeError) as error:  # a lone surrogate is not UTF-8
        raise _NotText from error
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _string_literals(text: pa.Array) -> pa.Array:
    """Each text as a JSON string, quoted and escaped; ``null`` for a missing one."""
    # Most columns hold nothing to escape: one scan finds that out.
    if pc.any(pc.match_substring_regex(text, _ESCAPED_PATTERN)).as_py():
        for plain, escaped in _SHORT_ESCAPES:
            text = pc.replace_substring(text, plain, escaped)
        if pc.any(pc.match_substring_regex(text, _OTHER_CONTROL_PATTERN)).as_py():
            for control in _OTHER_CONTROLS:
                text = pc.replace_substring(text, control, f"\\u{ord(control):04x}")
    quoted = pc.binary_join_element_wise(
        pa.scalar('"', _TEXT), text, pa.scalar('"', _TEXT), pa.scalar("", _TEXT)
    )
    return pc.fill_null(quoted, pa.scalar("null", _TEXT))


def _dumped(members: Sequence[tuple[str, Member]], rows: int) -> list[str]:
    """The same objects by ``json.dumps``, row by row."""
    columns = [_plain_values(member, rows) for _, member in members]
    names = [name for name, _ in members]
    return (
        [
            json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False)
            for values in zip(*columns, strict=True)
        ]
        if columns
        else ["{}"] * rows
    )


def _plain_values(member: Member, rows: int) -> list[object]:
    """A member's values as Python objects, None for missing ones (nested: dicts)."""
    if isinstance(member, Literal):
        return [json.loads(member.json)] * rows
    if isinstance(member, Nested):
        names = [str(name) for name in member.columns]
        nested = [_plain_values(member.columns[name], rows) for name in member.columns]
        return (
            [dict(zip(names, values, strict=True)) for values in zip(*nested, strict=True)]
            if nested
            else [{} for _ in range(rows)]
        )
    values = member.astype(object)
    return values.where(member.notna(), None).tolist()
