"""Comparison groups: fields that change together (an address after a move) count once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mdm.config import MatchSpec
from mdm.matching import MatchEngine
from mdm.matching.compare import NULL, compare_levels
from mdm.matching.comparisons import (
    ALL_DIFFERENT,
    NOT_ALL_DIFFERENT,
    comparisons_from_spec,
    group_levels,
)

ADDRESS = ["street", "city", "postcode"]

SPEC: dict[str, Any] = {
    "entity": "contact",
    "method": "probabilistic",
    "extra_fields": ADDRESS,
    "thresholds": {"match": 0.9, "review": 0.5},
    "blocking": [
        {"name": "names", "keys": ["first_name", "last_name"]},
        {"name": "street_and_city", "keys": ["street", "city"]},
    ],
    "comparisons": [
        {"field": "first_name", "kind": "first_name"},
        {"field": "last_name", "kind": "last_name"},
        {"field": "phone", "kind": "phone"},
        {"field": "street", "kind": "jaro_winkler", "thresholds": [0.9]},
        {"field": "city", "kind": "exact"},
        {"field": "postcode", "kind": "exact"},
    ],
    "training": {"u_sample_pairs": 50_000},
}
GROUP = {"name": "address", "comparisons": ADDRESS}


def spec(grouped: bool = True, **changes: Any) -> MatchSpec:
    groups = [GROUP] if grouped else []
    return MatchSpec.model_validate({**SPEC, "comparison_groups": groups, **changes})


def movers(n: int = 900, seed: int = 3) -> pd.DataFrame:
    """n people; every third has a second record, and half of those moved: street, city and
    postcode all new, phone kept. Names repeat across people (truth in ``person``)."""
    rng = np.random.default_rng(seed)
    firsts = np.array([f"first{i}" for i in range(60)])
    lasts = np.array([f"last{i}" for i in range(300)])
    person = np.arange(n)
    first = firsts[rng.integers(0, len(firsts), n)]
    last = lasts[rng.integers(0, len(lasts), n)]
    street = np.array([f"{rng.integers(1, 400)} road{rng.integers(0, 5000)}" for _ in range(n)])
    city = np.array([f"city{c}" for c in rng.integers(0, 200, n)])
    postcode = np.array([f"{p:05d}" for p in rng.integers(0, 99_999, n)])
    phone = np.array([f"+1555{i:07d}" for i in rng.permutation(n)])
    dup = person[::3]
    moved = np.zeros(len(dup), dtype=bool)
    moved[::2] = True
    new_street = np.array([f"{rng.integers(1, 400)} lane{rng.integers(0, 5000)}" for _ in dup])
    frame = pd.DataFrame(
        {
            "person": np.r_[person, dup],
            "moved": np.r_[np.zeros(n, dtype=bool), moved],
            "first_name": np.r_[first, first[dup]],
            "last_name": np.r_[last, last[dup]],
            "phone": np.r_[phone, phone[dup]],
            "street": np.r_[street, np.where(moved, new_street, street[dup])],
            "city": np.r_[city, np.where(moved, "newtown", city[dup])],
            "postcode": np.r_[postcode, np.where(moved, "99999", postcode[dup])],
        }
    )
    for column in ["first_name", "last_name", "phone", *ADDRESS]:
        frame[column] = frame[column].astype("string")
    frame.insert(0, "record_id", np.arange(len(frame), dtype=np.int64))
    return frame


def found_pairs(labels: np.ndarray, frame: pd.DataFrame) -> tuple[int, int, int]:
    """(true pairs found, of them moved, wrong pairs) of the clusters ``labels``."""
    truth = frame["person"].to_numpy()
    moved_people = set(frame.loc[frame["moved"], "person"])
    right = moved = wrong = 0
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if truth[a] == truth[b]:
                    right += 1
                    moved += int(truth[a] in moved_people)
                else:
                    wrong += 1
    return right, moved, wrong


def test_group_levels_count_all_different_members_once() -> None:
    members = np.array(
        [
            [0, 0, 2, NULL, NULL, 0, NULL],
            [0, 1, 0, 0, NULL, NULL, NULL],
            [0, 0, NULL, 0, 0, NULL, NULL],
        ],
        dtype=np.int8,
    )
    levels, all_different = group_levels(members)
    assert levels.tolist() == [
        ALL_DIFFERENT,
        NOT_ALL_DIFFERENT,
        NOT_ALL_DIFFERENT,
        ALL_DIFFERENT,
        NULL,  # one member compared: it counts alone
        NULL,
        NULL,
    ]
    assert all_different.tolist() == [True, False, False, True, False, False, False]


def test_compare_levels_hand_all_different_members_to_the_group() -> None:
    frame = movers(30)
    comparisons = comparisons_from_spec(spec())
    assert [c.name for c in comparisons][-1] == "address"
    left = np.array([0], dtype=np.int64)
    right = np.array([30], dtype=np.int64)  # person 0 moved
    levels = compare_levels(frame, left, right, comparisons)
    row = {c.name: i for i, c in enumerate(comparisons)}
    assert levels[row["address"]].tolist() == [ALL_DIFFERENT]
    assert levels[[row[name] for name in ADDRESS]].tolist() == [[NULL]] * 3
    # The same person compared with itself: the members keep their exact levels.
    same = compare_levels(frame, left[:1], left[:1], comparisons)
    assert same[row["address"]].tolist() == [NOT_ALL_DIFFERENT]
    assert [int(same[row[name], 0]) for name in ADDRESS] == [2, 1, 1]


def test_moved_people_are_matched_once_the_address_counts_once(engine: MatchEngine) -> None:
    frame = movers()
    records = frame.drop(columns=["person", "moved"])
    moved_pairs = int(frame["moved"].sum())
    assert moved_pairs == 150
    right, moved, wrong = found_pairs(engine.match(records, spec(grouped=False)).labels, frame)
    assert moved < moved_pairs // 2  # three independent disagreements sink most movers
    grouped = engine.match(records, spec())
    right, moved, wrong = found_pairs(grouped.labels, frame)
    assert (right, moved, wrong) == (300, moved_pairs, 0)
    assert grouped.model is not None
    fitted = grouped.model.comparison("address")
    assert fitted.m[ALL_DIFFERENT] == pytest.approx(0.5, abs=0.05)  # half the duplicates moved
    assert fitted.u[ALL_DIFFERENT] > 0.9  # random pairs differ everywhere
    # The rule that blocks on street and city cannot see the group: it learns nothing of it.
    report = {r["rule"]: r for r in grouped.model.training["rules"]}
    assert "address" in report["street_and_city"]["excluded"]
    assert "address" not in report["names"]["excluded"]


def test_explanation_names_the_group_and_adds_up(engine: MatchEngine) -> None:
    frame = movers()
    records = frame.drop(columns=["person", "moved"])
    result = engine.match(records, spec())
    assert result.model is not None
    by_id = records.set_index("record_id")
    explanation = engine.explain(by_id.loc[0], by_id.loc[900], spec(), result.model)
    parts = {c.name: c for c in explanation.comparisons}
    assert parts["address"].label == "all different"
    assert parts["address"].left == f"{by_id.loc[0, 'street']} | {by_id.loc[0, 'city']} | " + str(
        by_id.loc[0, "postcode"]
    )
    assert parts["street"].label == "different (counted in 'address')"
    assert parts["street"].weight == 0.0
    total = explanation.prior_weight + sum(c.weight for c in explanation.comparisons)
    assert explanation.total_weight == pytest.approx(total)
    pair = result.pairs[(result.pairs.left_record_id == 0) & (result.pairs.right_record_id == 900)]
    assert explanation.total_weight == pytest.approx(float(pair["weight"].iloc[0]))


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"name": "address", "comparisons": ["street", "town"]}], "names no comparison 'town'"),
        ([{"name": "street", "comparisons": ["city", "postcode"]}], "already a comparison's"),
        (
            [GROUP, {"name": "place", "comparisons": ["city", "postcode"]}],
            "'city' is already in group 'address'",
        ),
        ([{"name": "address", "comparisons": ["city"]}], "at least 2 items"),
        ([{"name": "address", "comparisons": ["city", "city"]}], "lists a comparison twice"),
    ],
)
def test_bad_groups_fail_at_load(groups: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MatchSpec.model_validate({**SPEC, "comparison_groups": groups})


def test_groups_need_the_probabilistic_method() -> None:
    with pytest.raises(ValidationError, match=r"\[\[comparison_groups\]\] are only used"):
        MatchSpec.model_validate(
            {
                "entity": "contact",
                "method": "rules",
                "rules": [{"name": "email", "fields": ["email"]}],
                "comparison_groups": [GROUP],
            }
        )
