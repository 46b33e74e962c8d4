"""The records of one match, encoded once: the value every stage of the local engine reads.

Each field that blocking, comparisons or rules read becomes integer codes over its distinct
values (``FieldValues``); the value shares of term-frequency adjusted fields and the row flags
of a delta (``new``) or a linkage (``groups``) sit beside them. Row ``i`` of every array is the
record ``record_ids[i]``: row positions mean something only together with this value, and
every stage that takes row positions takes the value too.

The value never changes: its arrays are read-only, and stages return new values. (A
``FieldValues`` keeps what it derives from its distinct values, a phonetic code or a prefix,
once computed: a cache of pure functions of what it holds, never a change of it.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.matching.values import FieldValues, IntArray

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
PairsLike = pd.DataFrame | npt.ArrayLike
Rows = tuple[IntArray, IntArray]  # row positions of pairs: left, right
SharedCodes = tuple[IntArray, IntArray]  # per row, two columns' codes in one numbering
_Array = TypeVar("_Array", bound=np.ndarray)


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class EncodedRecords:
    record_ids: IntArray
    fields: Mapping[str, FieldValues]  # field (or "a+b" for a joined key) -> codes
    # (field, swap_with) -> both columns' row codes in one numbering (swapped comparisons)
    swapped: Mapping[tuple[str, str], SharedCodes]
    # term-frequency adjusted field -> share of each distinct value (indexed by its code)
    shares: Mapping[str, FloatArray]
    new: BoolArray | None = None  # a delta: only pairs touching a new record
    groups: IntArray | None = None  # a linkage: only pairs across groups (codes 0..k-1)
    # Blocks to skip whatever their size here (``block_key_texts``): too large in the
    # population these records are part of.
    oversized: frozenset[str] = frozenset()

    @property
    def size(self) -> int:
        return len(self.record_ids)

    def values(self, name: str) -> FieldValues:
        return self.fields[name]

    def swap_codes(self, field: str, swap_with: str) -> SharedCodes:
        """The shared codes of ``field`` and ``swap_with``; all missing when one is absent."""
        found = self.swapped.get((field, swap_with))
        if found is None:
            missing = _read_only(np.full(self.size, -1, dtype=np.int64))
            return missing, missing
        return found

    def rows_of(self, pairs: PairsLike | None) -> Rows:
        """Row positions (smaller first) of record id pairs (a frame with ``left_record_id`` and
        ``right_record_id``, or an array of shape (k, 2)); pairs naming an unknown id, or one
        record twice, are dropped."""
        if pairs is None:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        if isinstance(pairs, pd.DataFrame):
            array = pairs[["left_record_id", "right_record_id"]].to_numpy(dtype=np.int64)
        else:
            array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        rows = pd.Index(self.record_ids).get_indexer(pd.Index(array.reshape(-1)))
        found = rows.reshape(-1, 2)
        found = found[(found >= 0).all(axis=1) & (found[:, 0] != found[:, 1])]
        return found.min(axis=1).astype(np.int64), found.max(axis=1).astype(np.int64)


def encode(
    records: pd.DataFrame,
    fields: Iterable[str],
    *,
    swaps: Iterable[tuple[str, str]] = (),
    term_frequencies: Sequence[tuple[str, pd.Series | None]] = (),
    new: npt.ArrayLike | None = None,
    groups: npt.ArrayLike | None = None,
    oversized: Iterable[str] = (),
) -> EncodedRecords:
    """Encode ``fields`` of ``records`` (columns, or ``"a+b"``: a and b joined by a space).

    swaps: (field, swap_with) column pairs to number together; a pair with a column absent is
      left out (the comparison then never finds the values swapped).
    term_frequencies: (field, shares) in comparison order, shares a value -> share series of a
      larger population or None for the shares among ``records``; when several name one field,
      given shares win over none, and the last given wins.
    new, groups, oversized: a flag or a label per record, blocks to skip (see
      ``EncodedRecords``).
    Records without a ``record_id`` column are numbered by row.
    """
    encoded = {name: column_values(records, name) for name in dict.fromkeys(fields)}
    shares: dict[str, FloatArray] = {}
    for name, given in term_frequencies:
        if name in encoded and given is not None:
            shares[name] = _read_only(_shares_of(given, encoded[name].uniques))
    for name, _ in term_frequencies:
        if name in encoded and name not in shares:
            shares[name] = _read_only(encoded[name].frequencies())
    swapped = {
        (first, second): _shared_codes(records, first, second)
        for first, second in dict.fromkeys(swaps)
        if first in records.columns and second in records.columns
    }
    if "record_id" in records.columns:
        record_ids = records["record_id"].to_numpy(dtype=np.int64, copy=True)
    else:  # comparing alone needs no ids: row numbers stand in
        record_ids = np.arange(len(records), dtype=np.int64)
    return EncodedRecords(
        record_ids=_read_only(record_ids),
        fields=MappingProxyType(encoded),
        swapped=MappingProxyType(swapped),
        shares=MappingProxyType(shares),
        new=None if new is None else _read_only(np.array(new, dtype=bool)),
        groups=None if groups is None else _read_only(group_codes(groups)),
        oversized=frozenset(oversized),
    )


def column_values(records: pd.DataFrame, name: str) -> FieldValues:
    """The codes of column ``name`` (or of columns joined by a space: ``"a+b"``)."""
    values = FieldValues.of(joined_column(records, name))
    _read_only(values.codes)
    _read_only(values.uniques)
    return values


def joined_column(records: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name``, or for ``"a+b"`` the non-empty values of a and b joined by a space."""
    if name in records.columns or "+" not in name:
        return records[name]
    parts = [records[part].astype("string").fillna("") for part in name.split("+")]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + " " + part
    joined = joined.str.strip()  # one space between words: match keys have no runs of spaces
    return joined.mask(joined == "")


def _shares_of(given: pd.Series, uniques: npt.NDArray[np.object_]) -> FloatArray:
    """``given``'s share of each of ``uniques`` (0 where it has none), as
    ``given.reindex(uniques).fillna(0)`` gives them without building a Series."""
    at = given.index.get_indexer(pd.Index(uniques, dtype=object))
    values = given.to_numpy(dtype=np.float64)
    found = np.zeros(len(uniques), dtype=np.float64)
    found[at >= 0] = values[at[at >= 0]]
    found[np.isnan(found)] = 0.0
    return found


def group_codes(groups: npt.ArrayLike) -> IntArray:
    """Group labels as codes 0..k-1 (NA is a group of its own)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(groups)), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


def check_records(records: pd.DataFrame, fields: Iterable[str]) -> None:
    """Raise ``ValueError`` unless ``records`` can be matched on ``fields``."""
    if not records.index.equals(pd.RangeIndex(len(records))):
        raise ValueError("records must have a default RangeIndex 0..n-1 (use reset_index)")
    missing = [column for column in ["record_id", *fields] if column not in records.columns]
    if missing:
        raise ValueError(f"records lack the columns {', '.join(map(repr, missing))}")
    if not records["record_id"].is_unique:
        raise ValueError("records have repeated record_id values")


def _shared_codes(records: pd.DataFrame, first: str, second: str) -> SharedCodes:
    """Row codes of two columns in one numbering: equal values get equal codes across them."""
    both = pd.concat([records[first], records[second]], ignore_index=True).astype("string")
    codes, _ = pd.factorize(both, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    return _read_only(codes[: len(records)].copy()), _read_only(codes[len(records) :].copy())


def _read_only(array: _Array) -> _Array:
    array.flags.writeable = False
    return array
