"""Match keys: the standardized form matching compares, stored with each record version,
beside its display forms (what survivorship chooses among).

Computed once when a version is written, so a nightly delta standardizes only what changed.
Stamped with ``KEYS_VERSION``: keys stamped by another version (or none) are stale, and are
computed again from the record's attributes. Pure functions: writing keys back is the
pipeline's (``mdm.pipeline.keys``); the read models compute stale keys in memory only.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import json as pa_json

from mdm.config.specs import Project
from mdm.json_text import Literal, Member, Nested, json_objects
from mdm.schema import Entity, attribute_names
from mdm.standardize import forms_frame, match_frame

# 2: US ZIP codes, ZIP+4, middle_name; 3: region codes, company abbreviations; 4: display forms
KEYS_VERSION = 4
VERSION_FIELD = "_v"
CLEAN_FIELD = "_clean"  # the display forms, an object of their own


def region_of(project: Project, sources: pd.Series) -> pd.Series:
    """Each record's default phone region: its source's ``default_region``."""
    regions = {source.name: source.default_region for source in project.spec.sources}
    return sources.map(regions).fillna("US").astype(str)


def compute_keys(entity: Entity, raw: pd.DataFrame, region: pd.Series) -> pd.DataFrame:
    names = attribute_names(entity)
    return match_frame(entity, raw.reindex(columns=names).astype("string"), region)[names]


def keys_of_attributes(entity: Entity, attributes: pd.Series, region: pd.Series) -> pd.DataFrame:
    """The match keys of records from their stored attributes (JSON objects), by the index
    of ``attributes``."""
    raw = pd.DataFrame([json.loads(text) for text in attributes], index=attributes.index)
    return compute_keys(entity, raw, region)


def forms_of_attributes(
    entity: Entity, attributes: pd.Series, region: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``compute_forms`` of records from their stored attributes, by the index of
    ``attributes``."""
    raw = pd.DataFrame([json.loads(text) for text in attributes], index=attributes.index)
    return compute_forms(entity, raw, region)


def compute_forms(
    entity: Entity, raw: pd.DataFrame, region: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The match keys and the display forms of records' raw attribute values, in one pass."""
    names = attribute_names(entity)
    clean, keys = forms_frame(entity, raw.reindex(columns=names).astype("string"), region)
    return keys[names], clean[names]


def forms_json(keys: pd.DataFrame, clean: pd.DataFrame) -> pd.Series:
    """What a version stores: its match keys, stamped, and its display forms (``keys`` and
    ``clean`` row for row), by position."""
    members: list[tuple[str, Member]] = [(VERSION_FIELD, Literal(str(KEYS_VERSION)))]
    members += [(str(name), keys[name]) for name in keys.columns]
    members.append((CLEAN_FIELD, Nested(clean)))
    return json_objects(members, len(keys))


def parse_clean(entity: Entity, stored: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The stored display forms (JSON text or None per record) by attribute, and which of them
    are missing (no forms, or stamped by another version), both by the index of ``stored``."""
    names = attribute_names(entity)
    forms_type = pa.struct(_text_fields(names))
    table = _read_columns(stored, pa.schema([_VERSION, (CLEAN_FIELD, forms_type)]))
    if table is not None:
        found = table.column(CLEAN_FIELD)
        # A field of a missing object is missing too (``struct_field`` keeps the child's nulls
        # only): masked by the object's own validity.
        absent = pc.is_null(found)
        columns = {
            name: pc.if_else(absent, pa.scalar(None, pa.string()), pc.struct_field(found, [i]))
            for i, name in enumerate(names)
        }
        stale = _stamped_otherwise(table, stored.index) | absent.to_numpy(zero_copy_only=False)
        return _text_frame(columns, stored.index), stale
    parsed = _parsed(stored)
    stale = [
        entry.get(VERSION_FIELD) != KEYS_VERSION or CLEAN_FIELD not in entry for entry in parsed
    ]
    forms = _by_attribute(entity, [entry.get(CLEAN_FIELD) or {} for entry in parsed], stored.index)
    return forms, pd.Series(stale, index=stored.index, dtype=bool)


def parse_keys(entity: Entity, stored: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The stored match keys (JSON text or None per record) by attribute, and which of them
    are stale (missing, or stamped by another version), both by the index of ``stored``."""
    names = attribute_names(entity)
    table = _read_columns(stored, pa.schema([_VERSION, *_text_fields(names)]))
    if table is not None:
        keys = _text_frame({name: table.column(name) for name in names}, stored.index)
        return keys, _stamped_otherwise(table, stored.index)
    parsed = _parsed(stored)
    stale = [entry.get(VERSION_FIELD) != KEYS_VERSION for entry in parsed]
    return _by_attribute(entity, parsed, stored.index), pd.Series(stale, index=stored.index)


# ---- reading stored JSON objects as columns --------------------------------------------------

_VERSION = pa.field(VERSION_FIELD, pa.int64())


def _text_fields(names: list[str]) -> list[pa.Field]:
    return [pa.field(name, pa.string()) for name in names]


def _read_columns(stored: pd.Series, schema: pa.Schema) -> pa.Table | None:
    """The stored JSON objects (text or None per record; none: an empty object) as the columns
    of ``schema``, one row per record in order, other members left out: read by Arrow's JSON
    reader, on all cores and without a Python object per value, several times faster than
    ``json.loads`` at a few hundred thousand records. None when Arrow cannot read them as
    that schema (a member of another type): the caller parses them one by one."""
    if stored.empty:
        return None
    try:
        lines = _json_lines(stored)
        offsets = np.frombuffer(
            lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=8 * lines.offset
        )
        data = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        longest = int(np.diff(offsets).max())
        table = pa_json.read_json(
            pa.BufferReader(data),
            # A block must hold the longest object whole.
            read_options=pa_json.ReadOptions(block_size=max(1 << 20, 2 * longest)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowException, TypeError):
        return None
    return table if table.num_rows == len(stored) else None


def _json_lines(stored: pd.Series) -> pa.LargeStringArray:
    """Each stored text (an empty object where there is none) and a line break, in Arrow:
    their bytes one after the other are the lines Arrow's reader takes. Stored JSON holds no
    line break of its own (``json.dumps`` escapes them). Texts already in Arrow (pandas' text
    columns) are not copied to Python strings."""
    text = pa.array(stored, type=pa.large_string(), from_pandas=True)
    given = pc.fill_null(pc.greater(pc.binary_length(text), 0), False)
    text = pc.if_else(given, text, pa.scalar("{}", pa.large_string()))
    empty = pa.scalar("", pa.large_string())
    lines = pc.binary_join_element_wise(text, empty, pa.scalar("\n", pa.large_string()))
    return lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines


def _stamped_otherwise(table: pa.Table, index: pd.Index) -> pd.Series:
    """Which rows are not stamped with this ``KEYS_VERSION`` (another version, or none)."""
    stamped = pc.fill_null(pc.equal(table.column(VERSION_FIELD), KEYS_VERSION), False)
    return pd.Series(~stamped.to_numpy(), index=index, dtype=bool)


def _text_frame(columns: dict[str, pa.ChunkedArray], index: pd.Index) -> pd.DataFrame:
    """Arrow text columns as a frame of pandas text columns (Arrow-backed: no copy per value)."""
    return pd.DataFrame(
        {name: pd.arrays.ArrowStringArray(column) for name, column in columns.items()},
        index=index,
    )


def _parsed(stored: pd.Series) -> list[dict[str, Any]]:
    # One parse of one JSON array is much faster than a parse per record.
    texts = (text if isinstance(text, str) and text else "{}" for text in stored)
    parsed: list[dict[str, Any]] = json.loads("[" + ",".join(texts) + "]")
    return parsed


def _by_attribute(entity: Entity, rows: list[dict[str, Any]], index: pd.Index) -> pd.DataFrame:
    """Rows of values by attribute name as a frame of text columns (NA where absent), built
    column by column: much faster than a frame from a list of dicts."""
    return pd.DataFrame(
        {
            name: pd.array([row.get(name) for row in rows], dtype="string")
            for name in attribute_names(entity)
        },
        index=index,
    )
