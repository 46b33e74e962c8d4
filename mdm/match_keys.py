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

import pandas as pd

from mdm.config.specs import Project
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


def forms_json(keys: pd.DataFrame, clean: pd.DataFrame) -> list[str]:
    """What a version stores: its match keys, stamped, and its display forms."""
    return [
        json.dumps(
            {VERSION_FIELD: KEYS_VERSION, **key_row, CLEAN_FIELD: clean_row}, ensure_ascii=False
        )
        for key_row, clean_row in zip(_row_dicts(keys), _row_dicts(clean), strict=True)
    ]


def _row_dicts(frame: pd.DataFrame) -> list[dict[str, str | None]]:
    values = frame.astype(object).where(frame.notna(), None)
    columns = list(frame.columns)
    return [
        dict(zip(columns, row, strict=True)) for row in values.itertuples(index=False, name=None)
    ]


def parse_clean(entity: Entity, stored: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The stored display forms (JSON text or None per record) by attribute, and which of them
    are missing (no forms, or stamped by another version), both by the index of ``stored``."""
    parsed = _parsed(stored)
    stale = [
        entry.get(VERSION_FIELD) != KEYS_VERSION or CLEAN_FIELD not in entry for entry in parsed
    ]
    forms = _by_attribute(entity, [entry.get(CLEAN_FIELD) or {} for entry in parsed], stored.index)
    return forms, pd.Series(stale, index=stored.index, dtype=bool)


def parse_keys(entity: Entity, stored: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The stored match keys (JSON text or None per record) by attribute, and which of them
    are stale (missing, or stamped by another version), both by the index of ``stored``."""
    parsed = _parsed(stored)
    stale = [entry.get(VERSION_FIELD) != KEYS_VERSION for entry in parsed]
    return _by_attribute(entity, parsed, stored.index), pd.Series(stale, index=stored.index)


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
