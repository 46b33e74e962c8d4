"""JSON objects built by Arrow over whole columns are exactly what ``json.dumps`` writes for
the same rows: any text (quotes, backslashes, every control character, other scripts),
missing values, nested objects, constant members; values that are not text, and text that is
not Unicode, take ``json.dumps`` row by row and still come out the same."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.json_text import Literal, Nested, json_objects
from mdm.match_keys import forms_json, parse_clean, parse_keys
from mdm.pipeline.ingest import attributes_json
from mdm.schema import Entity, attribute_names

texts = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.text(alphabet=st.characters(max_codepoint=0x40), max_size=6),  # controls, quotes
)


def _dumped_rows(columns: dict[str, list[str | None]]) -> list[str]:
    rows = len(next(iter(columns.values()))) if columns else 0
    return [
        json.dumps({name: values[row] for name, values in columns.items()}, ensure_ascii=False)
        for row in range(rows)
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda rows: st.dictionaries(
            st.text(min_size=1, max_size=5), st.lists(texts, min_size=rows, max_size=rows)
        )
    ),
    st.sampled_from(["string", "object"]),
)
def test_text_columns_are_written_as_json_dumps_writes_them(
    columns: dict[str, list[str | None]], dtype: str
) -> None:
    if not columns:
        return
    rows = len(next(iter(columns.values())))
    members = [(name, pd.Series(values, dtype=dtype)) for name, values in columns.items()]
    assert json_objects(members, rows).tolist() == _dumped_rows(columns)


def test_every_control_character_is_escaped_as_json_dumps_does() -> None:
    controls = [chr(code) for code in range(0x20)] + ['"', "\\", "\x7f", "\u2028", "é", "😀"]
    values = [f"a{c}b{c}" for c in controls] + [None, ""]
    written = json_objects([("v", pd.Series(values, dtype="string"))], len(values)).tolist()
    assert written == [json.dumps({"v": value}, ensure_ascii=False) for value in values]
    assert [json.loads(text)["v"] for text in written] == values


def test_nested_and_literal_members_keep_their_order() -> None:
    inner = pd.DataFrame({"b": ["x", None], "a": ['q"', "\n"]}, dtype="string")
    members = [
        ("_v", Literal("4")),
        ("name", pd.Series(["Ann", None], dtype="string")),
        ("_clean", Nested(inner)),
        ("empty", Nested(pd.DataFrame(index=range(2)))),
    ]
    assert json_objects(members, 2).tolist() == [
        '{"_v": 4, "name": "Ann", "_clean": {"b": "x", "a": "q\\""}, "empty": {}}',
        '{"_v": 4, "name": null, "_clean": {"b": null, "a": "\\n"}, "empty": {}}',
    ]


def test_literals_only_and_no_rows() -> None:
    assert json_objects([("_v", Literal("4"))], 3).tolist() == ['{"_v": 4}'] * 3
    assert json_objects([], 2).tolist() == ["{}", "{}"]
    assert json_objects([("a", pd.Series([], dtype="string"))], 0).tolist() == []


def test_values_that_are_not_text_are_written_as_json_dumps_writes_them() -> None:
    members = [
        ("n", pd.Series([1, 2], dtype="int64")),
        ("t", pd.Series(["x", None], dtype=object)),
    ]
    assert json_objects(members, 2).tolist() == ['{"n": 1, "t": "x"}', '{"n": 2, "t": null}']
    mixed = pd.Series(["x", 3.5], dtype=object)
    assert json_objects([("m", mixed)], 2).tolist() == ['{"m": "x"}', '{"m": 3.5}']


def test_text_that_is_not_unicode_falls_back_to_json_dumps() -> None:
    lone = "a\udcff"  # what a surrogate-escaped undecodable byte leaves
    written = json_objects([("v", pd.Series([lone, "b"], dtype=object))], 2).tolist()
    assert written == [json.dumps({"v": lone}, ensure_ascii=False), '{"v": "b"}']


def test_attributes_are_sorted_by_name_and_a_missing_column_is_null() -> None:
    frame = pd.DataFrame(
        {"name": pd.Series(["Acme", None], dtype="string"), "city": ["Köln", "x\ty"]}
    )
    written = attributes_json(frame, ["name", "phone", "city"]).tolist()
    assert written == [
        json.dumps({"city": "Köln", "name": "Acme", "phone": None}, ensure_ascii=False),
        json.dumps({"city": "x\ty", "name": None, "phone": None}, ensure_ascii=False),
    ]
    all_missing = pd.DataFrame({"name": [np.nan, np.nan]})
    assert attributes_json(all_missing, ["name"]).tolist() == ['{"name": null}', '{"name": null}']


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=6))
def test_stored_forms_read_back_as_written(rows: list[tuple[str | None, str | None]]) -> None:
    names = attribute_names(Entity.CONTACT)
    keys = pd.DataFrame({name: [key for key, _ in rows] for name in names}, dtype="string")
    clean = pd.DataFrame({name: [form for _, form in rows] for name in names}, dtype="string")
    stored = pd.Series(forms_json(keys, clean), dtype=object)
    read_keys, stale = parse_keys(Entity.CONTACT, stored)
    read_clean, missing = parse_clean(Entity.CONTACT, stored)
    assert not stale.any() and not missing.any()
    pd.testing.assert_frame_equal(
        read_keys.astype(object).where(read_keys.notna(), None),
        keys.astype(object).where(keys.notna(), None),
        check_dtype=False,
        check_index_type=False,
    )
    pd.testing.assert_frame_equal(
        read_clean.astype(object).where(read_clean.notna(), None),
        clean.astype(object).where(clean.notna(), None),
        check_dtype=False,
        check_index_type=False,
    )
