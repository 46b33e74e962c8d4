"""Pair keys and character filters of the match hot path: the same answers as the plain forms
(``np.isin``, a loop over characters)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mdm.matching.block import _sorted_by_key_then_rule
from mdm.matching.probabilistic import unmade_pairs_within
from mdm.matching.values import digit_characters, isin_keys, letters

KEYS = st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=60)
SMALL_KEYS = st.lists(st.integers(min_value=0, max_value=40), max_size=60)


@given(values=st.one_of(KEYS, SMALL_KEYS), keys=st.one_of(KEYS, SMALL_KEYS))
def test_isin_keys_answers_as_numpy_isin(values: list[int], keys: list[int]) -> None:
    found = isin_keys(np.array(values, dtype=np.int64), np.array(keys, dtype=np.int64))
    expected = np.isin(np.array(values, dtype=np.int64), np.array(keys, dtype=np.int64))
    assert found.dtype == np.bool_
    assert found.tolist() == expected.tolist()


def test_isin_keys_with_sorted_unsorted_and_repeated_keys() -> None:
    values = np.array([5, 0, 99, 7, 7, -3], dtype=np.int64)
    assert isin_keys(values, np.array([0, 5, 7], dtype=np.int64)).tolist() == [
        True, True, False, True, True, False,
    ]  # fmt: skip
    assert isin_keys(values, np.array([7, 99, 7, 0], dtype=np.int64)).tolist() == [
        False, True, True, True, True, False,
    ]  # fmt: skip
    assert isin_keys(values, np.array([], dtype=np.int64)).tolist() == [False] * 6
    assert isin_keys(np.array([], dtype=np.int64), np.array([1], dtype=np.int64)).tolist() == []


def test_unmade_pairs_within_clusters_are_every_pair_not_compared() -> None:
    # Clusters: rows 0-3 (four rows), 4-5 (two rows: not checked), 6-8 (three rows); row 9
    # in no checked cluster; rows 10-14 (five rows: over the size limit of 4).
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, -1, 3, 3, 3, 3, 3], dtype=np.int64)
    left = np.array([0, 1, 2, 8, 4, 10], dtype=np.int64)
    right = np.array([1, 2, 3, 6, 5, 11], dtype=np.int64)  # (8, 6) given larger row first
    a, b = unmade_pairs_within(labels, left, right, max_size=4)
    made = {(min(x, y), max(x, y)) for x, y in zip(left.tolist(), right.tolist(), strict=True)}
    expected = sorted(
        pair
        for rows in ([0, 1, 2, 3], [6, 7, 8])
        for pair in itertools.combinations(rows, 2)
        if pair not in made
    )
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == expected
    assert expected == [(0, 2), (0, 3), (1, 3), (6, 7), (7, 8)]


@given(st.text(max_size=40) | st.text(alphabet="aZ09.-_+@ éß٣²ⅷ", max_size=40))
def test_letters_and_digits_are_those_of_the_character_tests(value: str) -> None:
    assert letters(value) == "".join(c for c in value if c.isalpha())
    assert digit_characters(value) == "".join(c for c in value if c.isdigit())


def test_letters_and_digits_of_addresses_and_names() -> None:
    assert letters("o'brien-smith2@acme.co") == "obriensmithacmeco"
    assert letters("Müller & Söhne") == "MüllerSöhne"
    assert digit_characters("+1 (415) 555-0100 x12") == "1415555010012"
    assert digit_characters("no digits") == ""


@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=399), max_size=30), max_size=5),
    st.sampled_from([20, 2**40]),
)
def test_pair_keys_sort_by_key_then_rule_packed_or_not(rules: list[list[int]], width: int) -> None:
    # Each rule's keys once (as blocking makes them); width 2**40 takes the unpacked path.
    keys = [np.unique(np.array(k, dtype=np.int64)) for k in rules]
    all_keys = np.concatenate(keys) if keys else np.empty(0, np.int64)
    rule = np.repeat(np.arange(len(keys), dtype=np.int64), [len(k) for k in keys])
    found_keys, found_rules = _sorted_by_key_then_rule([k.copy() for k in keys], width)
    order = np.argsort(all_keys, kind="stable")
    assert found_keys.tolist() == all_keys[order].tolist()
    assert found_rules.tolist() == rule[order].tolist()
