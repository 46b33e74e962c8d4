"""Stored match keys and display forms read back: Arrow's JSON reader gives exactly what
parsing each record's JSON gives, for any text, missing members, other versions and records
without keys; JSON Arrow cannot read as text falls back to parsing record by record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.match_keys import CLEAN_FIELD, KEYS_VERSION, VERSION_FIELD, parse_clean, parse_keys
from mdm.schema import Entity, attribute_names

NAMES = attribute_names(Entity.CONTACT)
values = st.one_of(st.none(), st.text(max_size=12))
objects = st.dictionaries(st.sampled_from(NAMES), values)
entries = st.fixed_dictionaries(
    {},
    optional={
        VERSION_FIELD: st.sampled_from([KEYS_VERSION, KEYS_VERSION - 1, 0]),
        CLEAN_FIELD: st.one_of(st.none(), objects),
        **{name: values for name in NAMES},
    },
)
# A record's stored text: an object as the store writes it, or no keys at all.
stored_texts = st.one_of(
    st.none(),
    st.just(""),
    entries.map(lambda entry: json.dumps(entry, ensure_ascii=False)),
)


def expected_keys(texts: list[str | None]) -> tuple[pd.DataFrame, list[bool]]:
    entries = [json.loads(text) if text else {} for text in texts]
    return _frame(entries), [entry.get(VERSION_FIELD) != KEYS_VERSION for entry in entries]


def expected_clean(texts: list[str | None]) -> tuple[pd.DataFrame, list[bool]]:
    entries = [json.loads(text) if text else {} for text in texts]
    forms = [entry.get(CLEAN_FIELD) or {} for entry in entries]
    stale = [
        entry.get(VERSION_FIELD) != KEYS_VERSION or not isinstance(entry.get(CLEAN_FIELD), dict)
        for entry in entries
    ]
    return _frame(forms), stale


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.array([row.get(name) for row in rows], dtype="string") for name in NAMES}
    )


@pytest.mark.parametrize(
    ("parse", "expected"),
    [(parse_keys, expected_keys), (parse_clean, expected_clean)],
    ids=["keys", "display forms"],
)
@settings(max_examples=300, deadline=None)
@given(texts=st.lists(stored_texts, max_size=30))
def test_stored_objects_read_as_columns_are_the_parsed_objects(
    parse: Callable[[Entity, pd.Series], tuple[pd.DataFrame, pd.Series]],
    expected: Callable[[list[str | None]], tuple[pd.DataFrame, list[bool]]],
    texts: list[str | None],
) -> None:
    found, stale = parse(Entity.CONTACT, pd.Series(texts, dtype=object))
    want, want_stale = expected(texts)
    pd.testing.assert_frame_equal(found, want)
    assert stale.tolist() == want_stale


@settings(max_examples=100, deadline=None)
@given(st.lists(stored_texts, max_size=30))
def test_texts_read_from_the_store_into_arrow_backed_columns_read_the_same(
    texts: list[str | None],
) -> None:
    """pandas keeps text read from the store in Arrow (``str``: NaN where there is none)."""
    keys, stale = parse_keys(Entity.CONTACT, pd.Series(texts, dtype="str"))
    want, want_stale = expected_keys(texts)
    pd.testing.assert_frame_equal(keys, want)
    assert stale.tolist() == want_stale


def test_the_index_of_the_stored_texts_is_kept() -> None:
    stored = pd.Series(
        [json.dumps({VERSION_FIELD: KEYS_VERSION, "last_name": "núñez"}), None],
        index=[17, 4],
        dtype=object,
    )
    keys, stale = parse_keys(Entity.CONTACT, stored)
    assert keys.index.tolist() == [17, 4]
    assert keys["last_name"].tolist() == ["núñez", pd.NA]
    assert stale.to_dict() == {17: False, 4: True}


def test_a_member_arrow_cannot_read_as_text_falls_back_to_parsing_each_record() -> None:
    texts = [
        json.dumps({VERSION_FIELD: KEYS_VERSION, "phone": 4155550100, "last_name": "Lee"}),
        json.dumps({VERSION_FIELD: KEYS_VERSION, "phone": "+14155550101"}),
    ]
    keys, stale = parse_keys(Entity.CONTACT, pd.Series(texts, dtype=object))
    assert keys["phone"].tolist() == ["4155550100", "+14155550101"]
    assert keys["last_name"].tolist() == ["Lee", pd.NA]
    assert stale.tolist() == [False, False]


def test_one_long_record_is_read_whole() -> None:
    long = "x" * 3_000_000  # longer than Arrow's default block
    texts = [
        json.dumps({VERSION_FIELD: KEYS_VERSION, "title": long}),
        json.dumps({VERSION_FIELD: KEYS_VERSION, "title": "ceo"}),
    ]
    keys, _ = parse_keys(Entity.CONTACT, pd.Series(texts, dtype=object))
    assert keys["title"].tolist() == [long, "ceo"]
