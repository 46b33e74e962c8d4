"""The probabilistic engine: EM, term frequencies, the model file, explanations, decisions."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mdm.config import MatchSpec
from mdm.errors import MdmError
from mdm.matching import Decision, FellegiSunterModel, MatchEngine, MatchStatistics
from mdm.matching.comparisons import comparisons_from_spec
from mdm.matching.explain import explain_pair, explained_levels
from mdm.matching.model import ComparisonModel
from mdm.matching.result import LEVEL_PREFIX
from mdm.matching.train import expectation_maximisation, starting_m
from mdm.schema import Entity

RULES_DIR = Path(__file__).parents[1] / "mdm" / "rules" / "match"

PEOPLE_SPEC: dict[str, Any] = {
    "entity": "contact",
    "method": "probabilistic",
    "thresholds": {"match": 0.9, "review": 0.2},
    "blocking": [
        {"name": "last_name", "keys": ["last_name"]},
        {"name": "email", "keys": ["email"]},
        {"name": "phone", "keys": ["phone"]},
    ],
    "comparisons": [
        {"field": "first_name", "kind": "first_name"},
        {"field": "last_name", "kind": "last_name", "tf_adjust": True},
        {"field": "email", "kind": "email"},
        {"field": "phone", "kind": "phone"},
    ],
    "training": {"u_sample_pairs": 20_000},
}


def spec(**changes: Any) -> MatchSpec:
    return MatchSpec.model_validate({**PEOPLE_SPEC, **changes})


def people(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """n people, every third with a noisy duplicate (truth in ``person``)."""
    rng = np.random.default_rng(seed)
    firsts = np.array(
        [
            "anna",
            "boris",
            "chloe",
            "dmitri",
            "erin",
            "farid",
            "gita",
            "hugo",
            "ines",
            "jakub",
            "kofi",
            "lena",
            "marco",
            "nadia",
            "oscar",
            "priya",
            "quentin",
            "rosa",
            "sven",
            "tariq",
            "ulla",
            "viktor",
            "wanda",
            "xavier",
            "yusuf",
            "zora",
        ]
    )
    lasts = np.array([f"name{i}" for i in range(150)] + ["smith"] * 10)
    person = np.arange(n)
    first = firsts[rng.integers(0, len(firsts), n)]
    last = lasts[rng.integers(0, len(lasts), n)]
    email = np.array([f"{rng.integers(10**9)}@host{i}.com" for i in range(n)])
    phone = np.array([f"+1555{i:07d}" for i in range(n)])
    dup = person[::3]
    frame = pd.DataFrame(
        {
            "person": np.r_[person, dup],
            "first_name": np.r_[first, first[dup]],
            "last_name": np.r_[last, last[dup]],
            "email": np.r_[email, np.where(rng.random(len(dup)) < 0.5, email[dup], None)],
            "phone": np.r_[phone, np.where(rng.random(len(dup)) < 0.7, phone[dup], None)],
        }
    )
    for column in ["first_name", "last_name", "email", "phone"]:
        frame[column] = frame[column].astype("string")
    frame.insert(0, "record_id", np.arange(1000, 1000 + len(frame), dtype=np.int64))
    return frame


def same_cluster(result_labels: np.ndarray, frame: pd.DataFrame) -> tuple[float, float]:
    """Pairwise precision and recall of the labels against ``person``."""
    truth = frame["person"].to_numpy()
    pairs = {
        (a, b) for a in range(len(frame)) for b in range(a + 1, len(frame)) if truth[a] == truth[b]
    }
    found = {
        (a, b)
        for label in np.unique(result_labels)
        for members in [np.flatnonzero(result_labels == label)]
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }
    tp = len(pairs & found)
    return tp / max(len(found), 1), tp / max(len(pairs), 1)


# ---- EM ------------------------------------------------------------------------------------------


def test_em_recovers_m_and_the_match_share_with_u_known() -> None:
    rng = np.random.default_rng(11)
    m_true = [np.array([0.1, 0.9]), np.array([0.05, 0.15, 0.8]), np.array([0.2, 0.8])]
    u_true = [np.array([0.9, 0.1]), np.array([0.7, 0.25, 0.05]), np.array([0.95, 0.05])]
    n, share = 60_000, 0.3
    is_match = rng.random(n) < share
    levels = np.column_stack(
        [
            np.where(
                is_match,
                rng.choice(len(m), n, p=m),
                rng.choice(len(u), n, p=u),
            )
            for m, u in zip(m_true, u_true, strict=True)
        ]
    ).astype(np.int8)
    levels[rng.random(levels.shape) < 0.05] = -1  # some nulls: no evidence
    result = expectation_maximisation(
        levels,
        np.ones(n),
        u_true,
        [starting_m(len(m)) for m in m_true],
        np.ones(3, dtype=bool),
        tolerance=1e-8,
    )
    assert result.converged
    assert result.prior == pytest.approx(share, abs=0.01)
    for estimated, true in zip(result.m, m_true, strict=True):
        np.testing.assert_allclose(estimated, true, atol=0.02)


def test_training_learns_a_model_that_separates_duplicates(engine: MatchEngine) -> None:
    frame = people()
    result = engine.match(frame.drop(columns="person"), spec())
    assert result.trained
    assert result.model is not None
    precision, recall = same_cluster(result.labels, frame)
    assert precision >= 0.98
    assert recall >= 0.85  # duplicates that kept neither email nor phone have only names
    last = result.model.comparison("last_name")
    assert last.weights[-1] > 3  # an exact last name is evidence for
    assert last.weights[0] < -1  # ... and a different one against
    assert result.model.training["rules"][0]["rule"] == "last_name"


# ---- term frequencies ----------------------------------------------------------------------------


def test_term_frequency_orders_common_below_rare_names(engine: MatchEngine) -> None:
    frame = people()
    result = engine.match(frame.drop(columns="person"), spec())
    assert result.model is not None
    smiths = frame.index[frame["last_name"] == "smith"][:2]
    rare = frame["last_name"].value_counts()
    rare_name = rare[rare == 2].index[0]
    rares = frame.index[frame["last_name"] == rare_name][:2]
    weights = {}
    for name, rows in (("smith", smiths), ("rare", rares)):
        explanation = engine.explain(
            frame.iloc[rows[0]],
            frame.iloc[rows[1]],
            spec(),
            result.model,
            frequencies=result.term_frequencies,
        )
        part = next(c for c in explanation.comparisons if c.name == "last_name")
        assert part.tf_adjusted
        weights[name] = part.weight
    assert weights["smith"] < weights["rare"]
    frequencies = result.term_frequencies["last_name"]
    assert frequencies["smith"] > frequencies[rare_name]


def test_a_pairs_levels_explain_it_as_comparing_it_again(engine: MatchEngine) -> None:
    """The match API explains its candidates from the levels the engine gave each pair
    (``explained_levels``): the same parts as ``explain_pair`` comparing the pair again, and
    with the prior they add up to the pair's weight."""
    records = people().drop(columns="person")
    result = engine.match(records, spec())
    assert result.model is not None and len(result.pairs) > 50
    comparisons = comparisons_from_spec(spec())
    by_id = records.set_index("record_id", drop=False)
    level_columns = [f"{LEVEL_PREFIX}{c.name}" for c in comparisons]
    for pair in result.pairs.itertuples(index=False):
        left, right = by_id.loc[pair.left_record_id], by_id.loc[pair.right_record_id]
        levels = [getattr(pair, column) for column in level_columns]
        parts = explained_levels(
            left, right, levels, comparisons, result.model, result.term_frequencies
        )
        again = explain_pair(left, right, spec(), result.model, frequencies=result.term_frequencies)
        assert tuple(parts) == again.comparisons
        total = result.model.prior_weight + sum(part.weight for part in parts)
        assert math.isclose(total, pair.weight, abs_tol=1e-9)


# ---- the model file ------------------------------------------------------------------------------


def test_model_file_round_trip_scores_identically(engine: MatchEngine, tmp_path: Path) -> None:
    frame = people().drop(columns="person")
    first = engine.match(frame, spec())
    assert first.model is not None
    path = tmp_path / "contact.model.json"
    first.model.save(path)
    loaded = FellegiSunterModel.load(path)
    assert loaded.to_dict() == first.model.to_dict()
    again = engine.match(frame, spec(), model=loaded)
    assert not again.trained
    pd.testing.assert_frame_equal(again.pairs, first.pairs)
    pd.testing.assert_frame_equal(again.links, first.links)
    assert again.labels.tolist() == first.labels.tolist()
    text = path.read_text()
    assert '"label": "nickname"' in text and '"prior"' in text  # readable


def test_a_model_for_other_comparisons_is_refused(engine: MatchEngine, tmp_path: Path) -> None:
    frame = people().drop(columns="person")
    model = engine.match(frame, spec()).model
    assert model is not None
    other = spec(comparisons=[{"field": "first_name", "kind": "exact"}])
    with pytest.raises(MdmError, match="trained for other comparisons"):
        engine.match(frame, other, model=model)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(MdmError, match="Cannot read the match model"):
        FellegiSunterModel.load(tmp_path / "bad.json")


# ---- explain -------------------------------------------------------------------------------------


def test_explanation_adds_up_to_the_scored_weight(engine: MatchEngine) -> None:
    frame = people()
    result = engine.match(frame.drop(columns="person"), spec())
    assert result.model is not None
    assert len(result.pairs)
    by_id = frame.set_index("record_id")
    for row in result.pairs.head(20).itertuples():
        explanation = engine.explain(
            by_id.loc[row.left_record_id],
            by_id.loc[row.right_record_id],
            spec(),
            result.model,
            frequencies=result.term_frequencies,
        )
        parts = sum(c.weight for c in explanation.comparisons)
        assert explanation.total_weight == pytest.approx(explanation.prior_weight + parts)
        assert explanation.total_weight == pytest.approx(row.weight)
        assert explanation.probability == pytest.approx(row.probability)
        levels = {c.name: c.level for c in explanation.comparisons}
        assert levels == {
            name: getattr(row, f"level_{name}")
            for name in ["first_name", "last_name", "email", "phone"]
        }
        expected = 2**explanation.total_weight / (1 + 2**explanation.total_weight)
        assert explanation.probability == pytest.approx(expected)
    assert explanation.to_dict()["decision"] in {"MATCH", "REVIEW"}


# ---- decisions, rules and constraints ------------------------------------------------------------


def test_constraints_win_over_scores(engine: MatchEngine) -> None:
    frame = people()
    records = frame.drop(columns="person")
    plain = engine.match(records, spec())
    ids = frame["record_id"].to_numpy()
    twin = np.flatnonzero(frame["person"].to_numpy() == frame["person"].iloc[0])
    assert plain.labels[twin[0]] == plain.labels[twin[1]]
    stranger = int(np.flatnonzero(plain.labels != plain.labels[twin[0]])[0])
    pair = [(int(ids[twin[0]]), int(ids[twin[1]]))]
    apart = engine.match(records, spec(), model=plain.model, cannot_link=pair)
    assert apart.labels[twin[0]] != apart.labels[twin[1]]
    forced = pd.DataFrame({"left_record_id": [ids[stranger]], "right_record_id": [ids[twin[0]]]})
    together = engine.match(records, spec(), model=plain.model, must_link=forced)
    assert together.labels[stranger] == together.labels[twin[0]]
    key = (min(ids[stranger], ids[twin[0]]), max(ids[stranger], ids[twin[0]]))
    link = together.links.set_index(["left_record_id", "right_record_id"]).loc[key]
    assert link["rule"] == "must_link"
    assert link["score"] == 1.0


def test_rules_force_matches_and_non_matches(engine: MatchEngine) -> None:
    frame = people()
    records = frame.drop(columns="person")
    base = engine.match(records, spec())
    forced = spec(
        rules=[
            {"name": "same_first_name", "fields": ["first_name"], "action": "match"},
            {
                "name": "other_phone",
                "fields": ["phone"],
                "method": "different",
                "action": "non_match",
            },
        ]
    )
    result = engine.match(records, forced, model=base.model)
    links = result.links
    assert "same_first_name" in set(links["rule"])
    by_id = records.set_index("record_id")
    left = by_id.loc[links["left_record_id"], "phone"].to_numpy()
    right = by_id.loc[links["right_record_id"], "phone"].to_numpy()
    present = pd.notna(left) & pd.notna(right)
    assert (left[present] == right[present]).all()  # the non-match beats the forced match
    # ... and keeps the two apart in clustering too
    phones = records["phone"].to_numpy()
    for label in np.unique(result.labels):
        members = phones[result.labels == label]
        assert len(set(members[pd.notna(members)].tolist())) <= 1


def test_thresholds_make_review_pairs(engine: MatchEngine) -> None:
    frame = people().drop(columns="person")
    strict = engine.match(frame, spec(thresholds={"match": 0.999999, "review": 0.01}))
    decisions = strict.pairs["decision"]
    assert set(decisions.unique()) <= {Decision.MATCH, Decision.REVIEW}
    assert (decisions == Decision.REVIEW).any()
    review = strict.pairs[decisions == Decision.REVIEW]
    assert (review["probability"] < 0.999999).all() or (review["rule"] == "model").all()
    matches = strict.pairs[decisions == Decision.MATCH]
    assert len(matches) == len(strict.links)


def test_labels_refine_the_model(engine: MatchEngine) -> None:
    frame = people()
    records = frame.drop(columns="person")
    base = engine.match(records, spec())
    labels = pd.DataFrame(
        {"left_record_id": [1000, 1001], "right_record_id": [1002, 1003], "is_match": [True, False]}
    )
    refined = engine.match(records, spec(), model=base.model, labels=labels)
    assert refined.model is not None and base.model is not None
    assert refined.model.training["labels"] == {"matches": 1, "non_matches": 1}
    assert refined.model.to_dict()["comparisons"] != base.model.to_dict()["comparisons"]


def test_new_records_only_pair_with_at_least_one_new(engine: MatchEngine) -> None:
    frame = people().drop(columns="person")
    new = np.zeros(len(frame), dtype=bool)
    new[-20:] = True
    full = engine.match(frame, spec())
    delta = engine.match(frame, spec(), model=full.model, new=new)
    ids = frame["record_id"].to_numpy()
    new_ids = set(ids[new].tolist())
    assert delta.candidate_pairs < full.candidate_pairs
    assert all(
        a in new_ids or b in new_ids
        for a, b in zip(delta.pairs["left_record_id"], delta.pairs["right_record_id"], strict=True)
    )


def test_missing_account_id_column_is_a_warning(engine: MatchEngine) -> None:
    contact_spec = MatchSpec.model_validate(
        {"entity": Entity.CONTACT, **tomllib.loads((RULES_DIR / "contact.toml").read_text())}
    )
    frame = people().drop(columns="person")
    for column in ["mobile", "company", "title"]:
        frame[column] = pd.array([None] * len(frame), dtype="string")
    result = engine.match(frame, contact_spec)
    assert any("'account_id'" in warning for warning in result.warnings)


def test_default_rules_are_probabilistic_and_load() -> None:
    for entity in Entity:
        raw = tomllib.loads((RULES_DIR / f"{entity}.toml").read_text())
        loaded = MatchSpec.model_validate({"entity": entity, **raw})
        assert loaded.method == "probabilistic"
        assert math.isclose(loaded.thresholds.review, 0.5)


def test_given_term_frequencies_replace_the_records_own(engine: MatchEngine) -> None:
    frame = people().drop(columns="person")
    first = engine.match(frame, spec())
    same = engine.match(
        frame, spec(), model=first.model, frequencies=engine.term_frequencies(frame, spec())
    )
    pd.testing.assert_frame_equal(same.pairs, first.pairs)
    # A part of the records, scored with the whole population's shares, weighs an exact
    # last name as the whole population does.
    part = frame.sample(frac=0.7, random_state=1).reset_index(drop=True)
    whole = engine.term_frequencies(frame, spec())
    alone = engine.match(part, spec(), model=first.model)
    shared = engine.match(part, spec(), model=first.model, frequencies=whole)
    assert shared.term_frequencies["last_name"]["smith"] == whole["last_name"]["smith"]
    assert alone.term_frequencies["last_name"]["smith"] != whole["last_name"]["smith"]
    by_pair = first.pairs.set_index(["left_record_id", "right_record_id"])["weight"]
    mine = shared.pairs.set_index(["left_record_id", "right_record_id"])["weight"]
    common = mine.index.intersection(by_pair.index)
    assert len(common)
    np.testing.assert_allclose(mine.loc[common], by_pair.loc[common])


def test_statistics_are_exact_on_a_hand_made_case(engine: MatchEngine) -> None:
    frame = pd.DataFrame(
        {
            "record_id": np.arange(10, 16, dtype=np.int64),
            "first_name": ["ann", "ann", "bob", "bob", "cat", "dan"],
            "last_name": ["lee", "lee", "lee", "kim", "kim", "ray"],
            "email": ["a@x.com", "a@x.com", "b@x.com", "b@x.com", None, None],
        },
    ).astype({"first_name": "string", "last_name": "string", "email": "string"})
    hand = MatchSpec.model_validate(
        {
            "entity": "contact",
            "method": "probabilistic",
            "thresholds": {"match": 0.5, "review": 0.1},
            "blocking": [
                {"name": "last_name", "keys": ["last_name"]},
                {"name": "email", "keys": ["email"]},
            ],
            "comparisons": [{"field": "first_name"}, {"field": "email"}],
        }
    )
    # Each exact level weighs +2 bits, each else -2, the prior -1 (1 in 3).
    model = FellegiSunterModel(
        entity="contact",
        prior=1 / 3,
        comparisons=tuple(
            ComparisonModel(name, name, labels=("else", "exact"), m=(0.2, 0.8), u=(0.8, 0.2))
            for name in ["first_name", "email"]
        ),
    )
    result = engine.match(frame, hand, model=model)
    # last_name makes 0-1, 0-2, 1-2 and 3-4; email makes 0-1 and 2-3. Weights: 0-1 and 2-3
    # agree on both (-1 + 4 = 3 bits, p = 8/9), 0-2 and 1-2 differ on both (-5, p = 1/33),
    # 3-4 differs on the name and has no email to compare (-3, p = 1/9: a review).
    assert result.candidate_pairs == 5
    counts = [0] * 20
    counts[0], counts[2], counts[17] = 2, 1, 2
    level = {"m": 0.8, "u": 0.2, "weight": 2.0}
    other = {"m": 0.2, "u": 0.8, "weight": -2.0}
    assert result.statistics.to_dict() == {
        "blocking": [{"rule": "last_name", "pairs": 4}, {"rule": "email", "pairs": 2}],
        "levels": [
            {"comparison": "first_name", "level": "exact", **level},
            {"comparison": "first_name", "level": "else", **other},
            {"comparison": "email", "level": "exact", **level},
            {"comparison": "email", "level": "else", **other},
        ],
        "scores": {"edges": [i / 20 for i in range(21)], "counts": counts},
        "clusters": {"sizes": [1, 2], "counts": [2, 2]},  # 10-11, 12-13, 14, 15
    }
    assert result.labels.tolist() == [0, 0, 1, 1, 2, 3]
    assert result.pairs["decision"].tolist() == [Decision.MATCH, Decision.MATCH, Decision.REVIEW]


def test_statistics_add_up_on_a_trained_model(engine: MatchEngine) -> None:
    frame = people().drop(columns="person")
    result = engine.match(frame, spec())
    statistics = result.statistics
    assert result.model is not None
    assert [(r.rule, r.pairs) for r in statistics.blocking] == [
        (report.rule, report.pairs) for report in result.blocking
    ]
    assert sum(statistics.scores.counts) == result.candidate_pairs
    # every pair at or above the review threshold (0.2: a bin edge) is a match or a review
    assert sum(statistics.scores.counts[4:]) == len(result.pairs)
    sizes = np.array(statistics.clusters.sizes)
    assert int((sizes * statistics.clusters.counts).sum()) == len(frame)
    assert len(statistics.levels) == sum(len(c.labels) for c in result.model.comparisons)
    last_name = result.model.comparison("last_name")
    exact = next(s for s in statistics.levels if s.comparison == "last_name")
    assert (exact.level, exact.m, exact.u) == ("exact", last_name.m[-1], last_name.u[-1])
    assert MatchStatistics.from_dict(statistics.to_dict()) == statistics
