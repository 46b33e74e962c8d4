"""The benchmark harness: pairwise metrics on literal clusterings, the person generator.

Only numpy, pandas and rapidfuzz: no benchmark-only dependency (splink, recordlinkage).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rapidfuzz.distance import OSA

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is not installed: import it from the checkout
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    baseline_job,
    blocking_recall,
    label_codes,
    labels_from_edges,
    pair_count,
    pairwise_scores,
    peak_rss_mb,
    run_isolated,
)
from benchmarks.people import (  # noqa: E402
    DIGITS,
    FEBRL_COLUMNS,
    LETTERS,
    Noise,
    generate_people,
    read_febrl_csv,
    typos,
)

# ---- pairwise metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicted", "truth", "expected"),
    [
        # pred pairs {0,1} {2,3}; true pairs {0,1} {0,2} {1,2} {3,4}; only {0,1} is right.
        ([0, 0, 1, 1, 2], ["a", "a", "a", "b", "b"], (4, 2, 1, 1 / 2, 1 / 4, 1 / 3)),
        # The same partition under other names is perfect.
        (["x", "x", "y", "z", "z"], [7, 7, 8, 9, 9], (2, 2, 2, 1.0, 1.0, 1.0)),
        # Everything in one cluster: 6 pairs claimed, the 2 true ones among them.
        ([1, 1, 1, 1], ["p", "p", "q", "q"], (2, 6, 2, 1 / 3, 1.0, 1 / 2)),
        # Nothing claimed: precision is 1 by convention, recall 0, F1 0.
        ([0, 1, 2, 3], ["p", "p", "q", "q"], (2, 0, 0, 1.0, 0.0, 0.0)),
        # No duplicates and none claimed: perfect.
        ([0, 1, 2], [0, 1, 2], (0, 0, 0, 1.0, 1.0, 1.0)),
        # A cluster of 3 split 2 + 1 and one false merge of a singleton.
        ([0, 0, 1, 2, 2], [5, 5, 5, 6, 7], (3, 2, 1, 1 / 2, 1 / 3, 2 / 5)),
    ],
)
def test_pairwise_scores_on_literal_clusters(
    predicted: list[object], truth: list[object], expected: tuple[float, ...]
) -> None:
    scores = pairwise_scores(predicted, truth)
    true_pairs, predicted_pairs, true_positives, precision, recall, f1 = expected
    assert (scores.true_pairs, scores.predicted_pairs, scores.true_positives) == (
        true_pairs,
        predicted_pairs,
        true_positives,
    )
    assert scores.precision == pytest.approx(precision)
    assert scores.recall == pytest.approx(recall)
    assert scores.f1 == pytest.approx(f1)


def _pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    return {
        (i, j) for i, j in itertools.combinations(range(len(labels)), 2) if labels[i] == labels[j]
    }


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_scores_agree_with_enumerating_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 12, size=60)
    predicted = np.where(rng.random(60) < 0.7, truth, rng.integers(0, 12, size=60))
    true, claimed = _pairs(truth), _pairs(predicted)
    scores = pairwise_scores(predicted, truth)
    assert scores.true_pairs == len(true)
    assert scores.predicted_pairs == len(claimed)
    assert scores.true_positives == len(true & claimed)


def test_pair_count_and_label_codes() -> None:
    assert pair_count([1, 2, 3, 4]) == 0 + 1 + 3 + 6
    assert pair_count([]) == 0
    assert label_codes(["b", "a", "b"]).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="missing"):
        label_codes(["a", None])
    with pytest.raises(ValueError, match="3 predicted labels for 2"):
        pairwise_scores([0, 1, 2], [0, 1])


def test_blocking_recall_counts_true_pairs_among_candidates() -> None:
    truth = ["a", "a", "a", "b"]  # true pairs: (0,1) (0,2) (1,2)
    assert blocking_recall([0, 2, 1], [1, 3, 2], truth) == pytest.approx(2 / 3)
    assert blocking_recall([], [], truth) == 0.0
    assert blocking_recall([0], [1], ["x", "y"]) == 1.0  # no true pairs to find


def test_labels_from_edges_are_connected_components() -> None:
    labels = labels_from_edges(6, [0, 1, 4], [1, 2, 5])
    assert pairwise_scores(labels, [0, 0, 0, 1, 2, 2]).f1 == 1.0


# ---- measuring in a child process --------------------------------------------------------------


def test_a_child_does_not_inherit_its_parents_peak_memory() -> None:
    ballast = np.ones(400 * 2**20 // 8)  # 400 MiB resident in this (the parent) process
    assert peak_rss_mb() > 400
    measured = run_isolated(baseline_job)
    del ballast
    assert 0 < measured["peak_mb"] < 350
    assert measured["seconds"] >= 0
    assert "load_before" in measured


# ---- the person generator -----------------------------------------------------------------------


def test_generator_is_deterministic_for_a_seed() -> None:
    first = generate_people(3000, seed=11)
    again = generate_people(3000, seed=11)
    other = generate_people(3000, seed=12)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_generator_truth_covers_each_record_once() -> None:
    frame = generate_people(5000, seed=3)
    assert len(frame) == 5000
    assert list(frame.columns) == ["rec_id", "source", "entity_id", *FEBRL_COLUMNS]
    assert frame["entity_id"].notna().all()
    assert frame["rec_id"].is_unique
    # rec-<entity>-org / rec-<entity>-dup-<k>: the id names the entity of its record.
    named = frame["rec_id"].str.extract(r"^rec-(\d+)-(?:org|dup-\d+)$", expand=False)
    assert (named.astype("int64") == frame["entity_id"]).all()
    # Every person has exactly one original; some have 1 to 3 duplicates.
    originals = frame["rec_id"].str.endswith("-org").groupby(frame["entity_id"]).sum()
    assert (originals == 1).all()
    sizes = frame["entity_id"].value_counts()
    assert sizes.max() <= 1 + Noise().max_duplicates
    assert 0.2 < (sizes > 1).mean() < 0.4  # about 30% of people have duplicates


def test_duplicates_differ_from_their_original() -> None:
    frame = generate_people(4000, seed=5).set_index("rec_id")
    duplicates = frame[frame.index.str.contains("-dup-")]
    originals = frame.reindex("rec-" + duplicates["entity_id"].astype(str) + "-org")
    same = (
        duplicates[FEBRL_COLUMNS].fillna("").to_numpy()
        == originals[FEBRL_COLUMNS].fillna("").to_numpy()
    )
    assert not same.all(axis=1).any()  # every duplicate has at least one damaged field


def test_typos_are_one_edit() -> None:
    rng = np.random.default_rng(0)
    words = np.array([b"smith", b"jo", b"x", b"", b"catherine"] * 40)
    typed = typos(rng, words, LETTERS)
    for before, after in zip(words.astype(str), typed.astype(str), strict=True):
        assert OSA.distance(before, after) <= 1
        assert (after == "") == (before == "")
    digits = typos(rng, np.array([b"19561231"] * 50), DIGITS).astype(str)
    assert all(text.isdigit() for text in digits)


def test_febrl_csv_is_read_with_its_truth(tmp_path: Path) -> None:
    path = tmp_path / "dataset.csv"
    path.write_text(
        "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, "
        "state, date_of_birth, soc_sec_id\n"
        "rec-12-org, john, smith, 7, main street, , ryde, 2112, nsw, 19700101, 1234567\n"
        "rec-12-dup-0, jon, smith, , main st, , ryde, 2112, nsw, 19700101, 1234567\n",
        encoding="utf-8",
    )
    frame = read_febrl_csv(path, "A")
    assert frame["entity_id"].tolist() == [12, 12]
    assert frame["given_name"].tolist() == ["john", "jon"]
    assert frame["street_number"].isna().tolist() == [False, True]
    assert frame["postcode"].tolist() == ["2112", "2112"]
