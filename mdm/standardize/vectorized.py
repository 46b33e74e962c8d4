"""The kinds' per-value standardizers over whole Series and frames.

Work is done once per distinct value (or per distinct value and region, for the kinds that read
one) and mapped back, so a million rows with repeats cost what their distinct values cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.schema import ATTRIBUTES, Entity, Kind
from mdm.standardize.country import country_code
from mdm.standardize.kinds import BOTH, CLEAN, MATCH, VALID, PerValue, Unregional
from mdm.standardize.parallel import map_values
from mdm.standardize.text import as_text

RegionLike = str | pd.Series
"""The country values are read in (a phone's region, a tax id's country): a name or ISO code
for all values, or one per value (aligned by index)."""

_R = TypeVar("_R")
_ObjectArray = npt.NDArray[np.object_]


def clean_values(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Display forms of ``values`` (a nullable ``string`` Series, NA where missing)."""
    return _string_series(_standardize(CLEAN[kind], values, region), values)


def match_values(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Match keys of ``values`` (a nullable ``string`` Series, NA where no key can be made)."""
    return _string_series(_standardize(MATCH[kind], values, region), values)


def is_valid(kind: Kind, values: pd.Series, region: RegionLike = "US") -> pd.Series:
    """Whether each value is a well-formed value of its kind (bool; missing is not valid)."""
    valid = _standardize(VALID[kind], values, region).astype(bool)  # None (missing) -> False
    return pd.Series(valid, index=values.index, name=values.name, dtype=bool)


def clean_frame(entity: Entity, frame: pd.DataFrame, region: RegionLike = "US") -> pd.DataFrame:
    """``frame`` with every attribute column of ``entity`` in display form; others as given."""
    return _standardize_frame(entity, frame, region, clean_values)


def match_frame(entity: Entity, frame: pd.DataFrame, region: RegionLike = "US") -> pd.DataFrame:
    """``frame`` with every attribute column of ``entity`` as match keys; others as given."""
    return _standardize_frame(entity, frame, region, match_values)


def forms_frame(
    entity: Entity, frame: pd.DataFrame, region: RegionLike = "US"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``clean_frame`` and ``match_frame`` of ``frame`` at once: each distinct value is read
    once for both where its kind allows (a phone number is parsed once)."""
    kinds = {attribute.name: attribute.kind for attribute in ATTRIBUTES[entity]}
    local_region = _frame_local_region(frame, kinds, region)
    clean, keys = frame.copy(), frame.copy()
    for position, name in enumerate(frame.columns):
        kind = kinds.get(name)
        if kind is None:
            continue
        values = frame.iloc[:, position]
        column_region = local_region if kind in _READ_IN_OWN_COUNTRY else region
        shown, key = _forms(kind, values, column_region)
        clean.isetitem(position, _string_series(shown, values).array)
        keys.isetitem(position, _string_series(key, values).array)
    return clean, keys


def _forms(kind: Kind, values: pd.Series, region: RegionLike) -> tuple[_ObjectArray, _ObjectArray]:
    """Display forms and match keys of ``values``."""
    both = BOTH.get(kind)
    if both is None:
        return _standardize(CLEAN[kind], values, region), _standardize(MATCH[kind], values, region)
    codes, arguments = _distinct(values, _regions(region, values) if both.regional else None)
    results = map_values(both.fn, arguments)
    return _spread(codes, [shown for shown, _ in results]), _spread(
        codes, [key for _, key in results]
    )


def record_forms(
    entity: Entity, values: Mapping[str, str | None], region: str | None
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """``forms_frame`` of one record (attribute -> text or None), without a frame: the display
    forms and match keys of each of its attributes, read as ``forms_frame`` reads them (phones
    and postcodes in the record's own country, else ``region``). A match request standardizes
    one record while someone waits: a frame's fixed costs are most of its time."""
    kinds = {attribute.name: attribute.kind for attribute in ATTRIBUTES[entity]}
    code = country_code(region) if region is not None else None
    local = code
    if kinds.get("country") is Kind.COUNTRY and "country" in values:
        country = _one(MATCH[Kind.COUNTRY], values["country"], country_code("US"))
        local = country_code(country) if country is not None else code
    clean: dict[str, str | None] = {}
    keys: dict[str, str | None] = {}
    for name, value in values.items():
        kind = kinds.get(name)
        if kind is None:
            continue
        value_code = local if kind in _READ_IN_OWN_COUNTRY else code
        both = BOTH.get(kind)
        if both is None:
            clean[name] = _one(CLEAN[kind], value, value_code)
            keys[name] = _one(MATCH[kind], value, value_code)
        else:
            shown, key = _one(both, value, value_code) or (None, None)
            clean[name], keys[name] = shown, key
    return clean, keys


def match_value(kind: Kind, value: str | None, region: str | None = "US") -> str | None:
    """``match_values`` of one value, without a Series."""
    return _one(MATCH[kind], value, country_code(region) if region is not None else None)


def _one(per_value: PerValue[_R], value: str | None, code: str | None) -> _R | None:
    """``per_value`` of one value (None where missing), as ``_per_distinct`` calls it."""
    if value is None:
        return None
    return per_value.fn(as_text(value), code if per_value.regional else None)


def _standardize_frame(
    entity: Entity,
    frame: pd.DataFrame,
    region: RegionLike,
    standardize: Callable[[Kind, pd.Series, RegionLike], pd.Series],
) -> pd.DataFrame:
    kinds = {attribute.name: attribute.kind for attribute in ATTRIBUTES[entity]}
    local_region = _frame_local_region(frame, kinds, region)
    out = frame.copy()
    for position, name in enumerate(frame.columns):
        kind = kinds.get(name)
        if kind is not None:
            column_region = local_region if kind in _READ_IN_OWN_COUNTRY else region
            out.isetitem(position, standardize(kind, frame.iloc[:, position], column_region).array)
    return out


# Kinds read in each record's own country: phones are dialled locally, and a postcode is a US
# ZIP (padded to five digits, ZIP+4 restored) only in the US.
_READ_IN_OWN_COUNTRY = frozenset({Kind.PHONE, Kind.POSTCODE})


def _frame_local_region(
    frame: pd.DataFrame, kinds: Mapping[str, Kind], region: RegionLike
) -> RegionLike:
    """Each row's own country where it is known, else ``region`` (the source's default)."""
    if kinds.get("country") is not Kind.COUNTRY or "country" not in frame.columns:
        return region
    countries = match_values(Kind.COUNTRY, frame["country"])
    if isinstance(region, str):
        return countries.fillna(region)
    aligned = region if region.index.equals(frame.index) else region.reindex(frame.index)
    return countries.fillna(aligned.astype(pd.StringDtype()))


def _standardize(per_value: PerValue[_R], values: pd.Series, region: RegionLike) -> _ObjectArray:
    regions = _regions(region, values) if per_value.regional else None
    return _per_distinct(values, regions, per_value.fn)


def _regions(region: RegionLike, values: pd.Series) -> str | _ObjectArray | None:
    """The ISO alpha-2 code of every value's region (None where unknown)."""
    if isinstance(region, str):
        return country_code(region)
    aligned = region if region.index.equals(values.index) else region.reindex(values.index)
    return _per_distinct(aligned, None, Unregional(country_code))


def _per_distinct(
    values: pd.Series, regions: str | _ObjectArray | None, fn: Callable[[str, str | None], _R]
) -> _ObjectArray:
    """``fn`` over each distinct (value, region), spread back over the rows; None where NA."""
    codes, arguments = _distinct(values, regions)
    return _spread(codes, map_values(fn, arguments))


def _distinct(
    values: pd.Series, regions: str | _ObjectArray | None
) -> tuple[npt.NDArray[np.intp], list[tuple[str, str | None]]]:
    """The distinct (value, region) pairs of the rows, and each row's pair (-1 where NA)."""
    codes, texts = _factorize(values)
    if regions is None or isinstance(regions, str):
        return codes, [(text, regions) for text in texts]
    present = codes >= 0
    region_codes, region_values = pd.factorize(regions, use_na_sentinel=True)
    width = len(region_values) + 1  # slot 0: no region
    pairs = codes[present].astype(np.int64) * width + (region_codes[present] + 1)
    distinct_pairs, inverse = np.unique(pairs, return_inverse=True)
    rows = np.full(len(codes), -1, dtype=np.intp)
    rows[present] = inverse
    arguments = [
        (texts[pair // width], str(region_values[pair % width - 1]) if pair % width else None)
        for pair in distinct_pairs.tolist()
    ]
    return rows, arguments


def _spread(codes: npt.NDArray[np.intp], results: list[Any]) -> _ObjectArray:
    """Per-row values from the results of the distinct pairs (None where a row has none)."""
    out = np.full(len(codes), None, dtype=object)
    present = codes >= 0
    out[present] = _object_array(results)[codes[present]]
    return out


def _factorize(values: pd.Series) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Row codes (-1 for missing) and the distinct values as text."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): told apart by their text
        codes, uniques = pd.factorize(values.map(as_text, na_action="ignore"))
    return np.asarray(codes, dtype=np.intp), [as_text(unique) for unique in uniques]


def _object_array(items: list[Any]) -> _ObjectArray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _string_series(data: _ObjectArray, like: pd.Series) -> pd.Series:
    return pd.Series(data, index=like.index, name=like.name, dtype=pd.StringDtype())
