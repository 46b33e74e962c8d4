"""The deterministic matching stages, each on literal tables, and the engine end to end."""

from __future__ import annotations

import itertools
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mdm.config import MatchSpec
from mdm.errors import MdmError
from mdm.matching.block import BlockingReport, block
from mdm.matching.compare import ELSE, EXACT, NULL, compare
from mdm.matching.decide import Decision, decide
from mdm.matching.protocol import MatchEngine, engine_named
from mdm.matching.score import score_rules

RULES_DIR = Path(__file__).parents[1] / "mdm" / "rules" / "match"
NA = None


def records(columns: Mapping[str, Sequence[str | None]], dtype: str = "string") -> pd.DataFrame:
    """A records frame: record ids 100, 101, ... and string key columns."""
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(
        {
            name: pd.Series(np.array(values, dtype=object), dtype=dtype)
            for name, values in columns.items()
        }
    )
    frame.insert(0, "record_id", np.arange(100, 100 + n, dtype=np.int64))
    return frame


def contact_spec(*rules: tuple[str, list[str]], max_block_size: int = 500) -> MatchSpec:
    return MatchSpec.model_validate(
        {
            "entity": "contact",
            "rules": [{"name": name, "fields": fields} for name, fields in rules],
            "max_block_size": max_block_size,
        }
    )


def blocked(
    frame: pd.DataFrame, spec: MatchSpec
) -> tuple[pd.DataFrame, list[BlockingReport], list[str]]:
    result = block(frame, spec)
    return result.pairs, result.reports, result.warnings


def pair_list(pairs: pd.DataFrame) -> list[tuple[int, int]]:
    return list(zip(pairs["left"].tolist(), pairs["right"].tolist(), strict=True))


EMAIL = ("same_email", ["email"])
NAME_PHONE = ("same_name_and_phone", ["first_name", "last_name", "phone"])


# ---- block -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "columns", "expected_pairs", "pairs_per_rule"),
    [
        pytest.param(
            [EMAIL], {"email": ["a", "b", "a", "b", "c"]}, [(0, 2), (1, 3)], [2], id="two blocks"
        ),
        pytest.param(
            [EMAIL],
            {"email": ["a", "a", "x", "a"]},
            [(0, 1), (0, 3), (1, 3)],
            [3],
            id="three in a block",
        ),
        pytest.param([EMAIL], {"email": [NA, NA, "a", NA]}, [], [0], id="NA never blocks"),
        pytest.param([EMAIL], {"email": ["a"]}, [], [0], id="one record"),
        pytest.param([EMAIL], {"email": ["A", "a", "a "]}, [], [0], id="exact string equality"),
        pytest.param(
            [NAME_PHONE],
            {
                "first_name": ["ann", "ann", "ann", "ann"],
                "last_name": ["lee", "lee", "lee", NA],
                "phone": ["+1", "+1", "+2", "+1"],
            },
            [(0, 1)],
            [1],
            id="every field of the rule must agree, none empty",
        ),
        pytest.param(
            [EMAIL, NAME_PHONE],
            {
                "email": ["e", "e", NA, "f"],
                "first_name": ["ann", "ann", "ann", "bo"],
                "last_name": ["lee", "lee", "lee", "li"],
                "phone": ["+1", "+1", "+1", "+9"],
            },
            [(0, 1), (0, 2), (1, 2)],
            [1, 3],
            id="union across rules gives each pair once",
        ),
    ],
)
def test_block_pairs(
    rules: list[tuple[str, list[str]]],
    columns: dict[str, list[str | None]],
    expected_pairs: list[tuple[int, int]],
    pairs_per_rule: list[int],
) -> None:
    pairs, reports, warnings = blocked(records(columns), contact_spec(*rules))
    assert pair_list(pairs) == expected_pairs
    assert pairs.dtypes.to_dict() == {"left": np.int64, "right": np.int64}
    assert [report.pairs for report in reports] == pairs_per_rule
    assert [report.rule for report in reports] == [name for name, _ in rules]
    assert warnings == []


def test_block_equals_brute_force_on_random_records() -> None:
    rng = np.random.default_rng(7)
    n = 300
    columns = {
        name: [None if v == "-" else v for v in rng.choice(list("abcde-"), n)]
        for name in ["email", "first_name", "last_name", "phone"]
    }
    frame = records(columns)
    pairs, _, _ = blocked(frame, contact_spec(EMAIL, NAME_PHONE))
    expected = [
        (i, j)
        for i, j in itertools.combinations(range(n), 2)
        if any(
            all(columns[f][i] is not None and columns[f][i] == columns[f][j] for f in fields)
            for _, fields in [EMAIL, NAME_PHONE]
        )
    ]
    assert pair_list(pairs) == expected


def test_oversized_block_is_skipped_with_a_warning() -> None:
    frame = records({"email": ["info@x.com", "ann@y.com", "info@x.com", "info@x.com", "ann@y.com"]})
    pairs, reports, warnings = blocked(frame, contact_spec(EMAIL, max_block_size=2))
    assert pair_list(pairs) == [(1, 4)]
    assert reports == [
        BlockingReport("same_email", pairs=1, oversized_keys=1, skipped_pairs=3, new_pairs=1)
    ]
    assert warnings == [
        "rule 'same_email': 3 records share email='info@x.com'; a key this common is not "
        "evidence, its 3 pairs were skipped (raise max_block_size in rules/match/contact.toml "
        "to keep them)"
    ]


def test_oversized_warnings_name_every_field_and_come_largest_first() -> None:
    first = ["ann"] * 1203 + ["bo"] * 4 + ["cy"] * 2
    frame = records(
        {
            "first_name": first,
            "last_name": ["lee"] * len(first),
            "phone": ["+15550100"] * len(first),
        }
    )
    pairs, reports, warnings = blocked(frame, contact_spec(NAME_PHONE, max_block_size=3))
    assert pair_list(pairs) == [(1207, 1208)]
    assert reports == [
        BlockingReport(
            "same_name_and_phone", pairs=1, oversized_keys=2, skipped_pairs=723_009, new_pairs=1
        )
    ]
    key = "last_name='lee', phone='+15550100'"
    tail = "a key this common is not evidence"
    hint = "(raise max_block_size in rules/match/contact.toml to keep them)"
    assert warnings == [
        f"rule 'same_name_and_phone': 1,203 records share first_name='ann', {key}; "
        f"{tail}, its 723,003 pairs were skipped {hint}",
        f"rule 'same_name_and_phone': 4 records share first_name='bo', {key}; "
        f"{tail}, its 6 pairs were skipped {hint}",
    ]


# ---- compare ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["string", "str"])
@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("a@x.com", "a@x.com", EXACT),
        ("a@x.com", "b@x.com", ELSE),
        ("a@x.com", "A@x.com", ELSE),
        ("", "", EXACT),  # an empty string is a value: standardization turns blanks into NA
        ("a@x.com", NA, NULL),
        (NA, "a@x.com", NULL),
        (NA, NA, NULL),
    ],
)
def test_compare_levels(dtype: str, left: str | None, right: str | None, level: int) -> None:
    frame = records({"email": [left, right]}, dtype)
    pairs = pd.DataFrame({"left": [0], "right": [1]}, dtype=np.int64)
    levels = compare(frame, pairs, ["email"])
    assert levels["email"].tolist() == [level]
    assert levels["email"].dtype == np.int8


def test_compare_many_pairs_and_fields() -> None:
    frame = records(
        {"first_name": ["ann", "ann", NA, "ann"], "last_name": ["lee", "li", "lee", "lee"]}
    )
    pairs = pd.DataFrame({"left": [0, 0, 0, 1, 2], "right": [1, 2, 3, 3, 3]}, dtype=np.int64)
    levels = compare(frame, pairs, ["first_name", "last_name", "first_name"])
    assert list(levels.columns) == ["first_name", "last_name"]
    assert levels.to_dict("list") == {
        "first_name": [EXACT, NULL, EXACT, EXACT, NULL],
        "last_name": [ELSE, EXACT, EXACT, ELSE, EXACT],
    }


def test_compare_no_pairs() -> None:
    pairs = pd.DataFrame({"left": [], "right": []}, dtype=np.int64)
    levels = compare(records({"email": ["a"]}), pairs, ["email"])
    assert len(levels) == 0
    assert levels["email"].dtype == np.int8


# ---- score -----------------------------------------------------------------------------------

# The deterministic account rules of the first release, as a rules file would say them.
ACCOUNT_RULES = MatchSpec.model_validate(
    {
        "entity": "account",
        **tomllib.loads(
            """
            [[rules]]
            name = "same_tax_id"
            method = "exact"
            fields = ["tax_id"]

            [[rules]]
            name = "same_name_and_postcode"
            method = "exact"
            fields = ["name", "postcode"]

            [[rules]]
            name = "same_name_and_domain"
            method = "exact"
            fields = ["name", "domain"]
            """
        ),
    }
)


@pytest.mark.parametrize(
    ("tax_id", "name", "postcode", "domain", "score", "rule"),
    [
        (EXACT, EXACT, EXACT, EXACT, 1.0, "same_tax_id"),
        (ELSE, EXACT, EXACT, EXACT, 1.0, "same_name_and_postcode"),
        (NULL, EXACT, NULL, EXACT, 1.0, "same_name_and_domain"),
        (NULL, EXACT, ELSE, ELSE, 0.0, NA),
        (NULL, NULL, EXACT, EXACT, 0.0, NA),
        (NULL, NULL, NULL, NULL, 0.0, NA),
    ],
)
def test_score_rules(
    tax_id: int, name: int, postcode: int, domain: int, score: float, rule: str | None
) -> None:
    levels = pd.DataFrame(
        {"tax_id": [tax_id], "name": [name], "postcode": [postcode], "domain": [domain]},
        dtype=np.int8,
    )
    scores = score_rules(levels, ACCOUNT_RULES)
    assert scores["score"].tolist() == [score]
    assert scores["score"].dtype == np.float64
    assert scores["rule"].dtype == "string"
    assert scores["rule"].isna().tolist() == [rule is None]
    if rule is not None:
        assert scores["rule"].tolist() == [rule]


def test_score_rules_no_pairs() -> None:
    levels = pd.DataFrame({f: [] for f in ["tax_id", "name", "postcode", "domain"]}, dtype=np.int8)
    scores = score_rules(levels, ACCOUNT_RULES)
    assert list(scores.columns) == ["score", "rule"]
    assert len(scores) == 0


# ---- decide ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "upper", "lower", "decision"),
    [
        (1.0, 1.0, 1.0, Decision.MATCH),
        (0.0, 1.0, 1.0, Decision.NON_MATCH),
        (0.99, 1.0, 1.0, Decision.NON_MATCH),
        (9.0, 8.0, 2.0, Decision.MATCH),
        (8.0, 8.0, 2.0, Decision.MATCH),
        (5.0, 8.0, 2.0, Decision.REVIEW),
        (2.0, 8.0, 2.0, Decision.REVIEW),
        (1.9, 8.0, 2.0, Decision.NON_MATCH),
        (-3.0, 8.0, -5.0, Decision.REVIEW),
        (float("nan"), 8.0, 2.0, Decision.NON_MATCH),
    ],
)
def test_decide(score: float, upper: float, lower: float, decision: Decision) -> None:
    decisions = decide(pd.Series([score], index=[7]), upper, lower)
    assert decisions.to_dict() == {7: decision}
    assert decisions.dtype == np.int8


def test_decide_rejects_crossed_thresholds() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        decide(pd.Series([1.0]), upper=1.0, lower=2.0)


# ---- engine ----------------------------------------------------------------------------------


def accounts() -> pd.DataFrame:
    rows: list[dict[str, Any]] = [
        # Acme: tax id links 0-3; name and postcode links 0-1; name and domain links 1-2.
        {"record_id": 50, "name": "acme", "postcode": "10115", "domain": NA, "tax_id": "DE1"},
        {"record_id": 20, "name": "acme", "postcode": "10115", "domain": "acme.com", "tax_id": NA},
        {"record_id": 30, "name": "acme", "postcode": "99999", "domain": "acme.com", "tax_id": NA},
        {"record_id": 40, "name": "acme gmbh", "postcode": NA, "domain": NA, "tax_id": "DE1"},
        # Same name, nothing else shared: not the same organisation.
        {"record_id": 10, "name": "acme", "postcode": "80331", "domain": "acme.de", "tax_id": NA},
        # Globex: name and postcode; the empty domain of 60 never matches 61's.
        {"record_id": 60, "name": "globex", "postcode": "02139", "domain": NA, "tax_id": NA},
        {"record_id": 61, "name": "globex", "postcode": "02139", "domain": NA, "tax_id": NA},
        {"record_id": 62, "name": NA, "postcode": NA, "domain": NA, "tax_id": NA},
    ]
    frame = pd.DataFrame(rows).astype(
        {"record_id": np.int64, **dict.fromkeys(["name", "postcode", "domain", "tax_id"], "string")}
    )
    return frame


def test_match_records_with_the_default_account_rules(engine: MatchEngine) -> None:
    result = engine.match(accounts(), ACCOUNT_RULES)
    assert result.labels.tolist() == [0, 0, 0, 0, 1, 2, 2, 3]
    assert result.labels.dtype == np.int64
    assert result.links.to_dict("list") == {
        "left_record_id": [20, 20, 40, 60],
        "right_record_id": [30, 50, 50, 61],
        "rule": ["same_name_and_domain", "same_name_and_postcode", "same_tax_id",
                 "same_name_and_postcode"],
        "score": [1.0, 1.0, 1.0, 1.0],
    }  # fmt: skip
    assert result.links.dtypes.to_dict() == {
        "left_record_id": np.int64,
        "right_record_id": np.int64,
        "rule": "string",
        "score": np.float64,
    }
    assert result.candidate_pairs == 4
    assert [(r.rule, r.pairs) for r in result.blocking] == [
        ("same_tax_id", 1),
        ("same_name_and_postcode", 2),
        ("same_name_and_domain", 1),
    ]
    assert result.warnings == []


def test_match_records_does_not_depend_on_row_order(engine: MatchEngine) -> None:
    frame = accounts()
    shuffled = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    expected = engine.match(frame, ACCOUNT_RULES)
    result = engine.match(shuffled, ACCOUNT_RULES)
    pd.testing.assert_frame_equal(result.links, expected.links)
    by_id = dict(zip(frame["record_id"], expected.labels, strict=True))
    clusters = pd.Series(result.labels).groupby(shuffled["record_id"].map(by_id)).nunique()
    assert (clusters == 1).all()


@pytest.mark.parametrize("n", [0, 1])
def test_match_records_on_tiny_input(engine: MatchEngine, n: int) -> None:
    result = engine.match(accounts().iloc[:n], ACCOUNT_RULES)
    assert result.labels.tolist() == list(range(n))
    assert result.candidate_pairs == 0
    assert list(result.links.columns) == ["left_record_id", "right_record_id", "rule", "score"]
    assert len(result.links) == 0
    assert [r.pairs for r in result.blocking] == [0, 0, 0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (accounts().set_index("record_id"), "RangeIndex"),
        (accounts().drop(columns="domain"), "lack the columns 'domain'"),
        (accounts().assign(record_id=1), "repeated record_id"),
    ],
)
def test_match_records_rejects_malformed_input(
    engine: MatchEngine, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        engine.match(frame, ACCOUNT_RULES)


# ---- declarative blocking --------------------------------------------------------------------


def blocking_spec(*rules: dict[str, Any], max_block_size: int = 500) -> MatchSpec:
    return MatchSpec.model_validate(
        {
            "entity": "contact",
            "method": "probabilistic",
            "blocking": list(rules),
            "comparisons": [{"field": "last_name"}],
            "max_block_size": max_block_size,
        }
    )


@pytest.mark.parametrize(
    ("key", "values", "expected_pairs"),
    [
        pytest.param("last_name", ["smith", "smith", "smyth", NA], [(0, 1)], id="exact"),
        pytest.param(
            {"field": "last_name", "transform": "prefix", "length": 2},
            ["smith", "smyth", "sa", "jones"],
            [(0, 1)],
            id="prefix",
        ),
        pytest.param(
            {"field": "last_name", "transform": "suffix", "length": 3},
            ["smith", "keith", "smyth", NA],
            [(0, 1)],
            id="suffix",
        ),
        pytest.param(
            {"field": "last_name", "transform": "metaphone"},
            ["smith", "smyth", "schmidt", "jones"],
            [(0, 1)],
            id="metaphone",
        ),
        pytest.param(
            {"field": "last_name", "transform": "soundex"},
            ["robert", "rupert", "rubin", "jones"],
            [(0, 1)],
            id="soundex",
        ),
        pytest.param(
            {"field": "last_name", "transform": "nysiis"},
            ["knight", "night", "nite", "jones"],
            [(0, 1)],
            id="nysiis",
        ),
        pytest.param(
            {"field": "last_name", "transform": "token"},
            ["van der berg", "berg", "van dyke", "jones van"],
            [(0, 1), (0, 2), (0, 3), (2, 3)],
            id="each word is a key",
        ),
        pytest.param(
            {"field": "last_name", "transform": "sorted_tokens"},
            ["lee ann", "ann lee", "ann", NA],
            [(0, 1)],
            id="sorted tokens",
        ),
    ],
)
def test_blocking_transforms(
    key: str | dict[str, Any], values: list[str | None], expected_pairs: list[tuple[int, int]]
) -> None:
    result = block(records({"last_name": values}), blocking_spec({"name": "r", "keys": [key]}))
    assert pair_list(result.pairs) == expected_pairs
    assert result.reports[0].pairs == len(expected_pairs)


def test_token_keys_across_fields_find_swapped_names() -> None:
    frame = records(
        {"first_name": ["ann", "lee", "ann", "bo"], "last_name": ["lee", "ann", "kim", "lee"]}
    )
    rule = {
        "name": "names",
        "keys": [{"fields": ["first_name", "last_name"], "transform": "sorted_tokens"}],
    }
    assert pair_list(block(frame, blocking_spec(rule)).pairs) == [(0, 1)]


def test_union_of_rules_gives_each_pair_once_with_its_rules() -> None:
    rng = np.random.default_rng(3)
    n = 250
    columns = {
        name: [None if v == "-" else v for v in rng.choice(list("abcd-"), n)]
        for name in ["first_name", "last_name", "email"]
    }
    spec = blocking_spec(
        {"name": "email", "keys": ["email"]},
        {"name": "names", "keys": ["first_name", "last_name"]},
        {"name": "first", "keys": [{"field": "first_name", "transform": "prefix", "length": 1}]},
    )
    result = block(records(columns), spec)
    rules = [["email"], ["first_name", "last_name"], ["first_name"]]
    expected: dict[tuple[int, int], int] = {}
    for i, j in itertools.combinations(range(n), 2):
        bits = 0
        for index, fields in enumerate(rules):
            if all(columns[f][i] is not None and columns[f][i] == columns[f][j] for f in fields):
                bits |= 1 << index
        if bits:
            expected[(i, j)] = bits
    assert pair_list(result.pairs) == sorted(expected)
    assert result.rule_bits.tolist() == [expected[pair] for pair in sorted(expected)]
    assert sum(r.new_pairs for r in result.reports) == len(expected)
    assert [r.pairs for r in result.reports] == [
        sum(1 for bits in expected.values() if bits >> index & 1) for index in range(3)
    ]


@pytest.mark.parametrize("mode", ["new", "groups"])
def test_blocking_restricted_to_new_or_cross_group_pairs(mode: str) -> None:
    rng = np.random.default_rng(4)
    n = 200
    columns = {"last_name": [str(v) for v in rng.choice(list("abcdefgh"), n)]}
    flags = rng.random(n) < 0.2
    groups = rng.integers(0, 3, n)
    spec = blocking_spec({"name": "last", "keys": ["last_name"]})
    if mode == "new":
        result = block(records(columns), spec, new=flags)
        allowed = [(i, j) for i, j in itertools.combinations(range(n), 2) if flags[i] or flags[j]]
    else:
        result = block(records(columns), spec, groups=groups)
        allowed = [(i, j) for i, j in itertools.combinations(range(n), 2) if groups[i] != groups[j]]
    expected = [(i, j) for i, j in allowed if columns["last_name"][i] == columns["last_name"][j]]
    assert pair_list(result.pairs) == expected


def test_oversized_transformed_key_warning_names_the_transform() -> None:
    frame = records({"last_name": ["smith", "smyth", "smithe", "jones"]})
    spec = blocking_spec(
        {"name": "sound", "keys": [{"field": "last_name", "transform": "prefix", "length": 2}]},
        max_block_size=2,
    )
    result = block(frame, spec)
    assert result.warnings == [
        "rule 'sound': 3 records share prefix2(last_name)='sm'; a key this common is not "
        "evidence, its 3 pairs were skipped (raise max_block_size in "
        "rules/match/contact.toml to keep them)"
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"comparisons": []}, "needs at least one \\[\\[comparisons\\]\\]"),
        ({"blocking": []}, "needs at least one \\[\\[blocking\\]\\]"),
        ({"comparisons": [{"field": "shoe_size"}]}, "'shoe_size', not a field"),
        ({"comparisons": [{"field": "email", "kind": "jaro_winkler", "thresholds": [0.8, 0.9]}]},
         "descending"),
        ({"comparisons": [{"field": "email", "kind": "email", "thresholds": [0.8]}]},
         "takes no thresholds"),
        ({"thresholds": {"match": 0.5, "review": 0.9}}, "must not exceed"),
        ({"blocking": [{"name": "b", "keys": [{"field": "email", "transform": "prefix"}]}]},
         "needs 'length'"),
        ({"blocking": [{"name": "b", "keys": [{"field": "email", "transform": "soundslike"}]}]},
         "soundslike"),
    ],
)  # fmt: skip
def test_probabilistic_spec_problems_fail_at_load(changes: dict[str, Any], message: str) -> None:
    raw: dict[str, Any] = {
        "entity": "contact",
        "method": "probabilistic",
        "blocking": [{"name": "email", "keys": ["email"]}],
        "comparisons": [{"field": "email", "kind": "email"}],
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        MatchSpec.model_validate(raw)


def test_rules_method_refuses_probabilistic_parts() -> None:
    with pytest.raises(ValueError, match="only used with method = 'probabilistic'"):
        MatchSpec.model_validate(
            {
                "entity": "contact",
                "rules": [{"name": "e", "fields": ["email"]}],
                "comparisons": [{"field": "email"}],
            }
        )


def test_rules_method_honours_constraints(engine: MatchEngine) -> None:
    frame = accounts()
    result = engine.match(frame, ACCOUNT_RULES, cannot_link=[(20, 50)], must_link=[(10, 62)])
    by_id = dict(zip(frame["record_id"], result.labels, strict=True))
    assert by_id[20] != by_id[50]
    assert by_id[10] == by_id[62]
    assert "must_link" in set(result.links["rule"])


def test_block_key_texts_make_exactly_the_blocked_pairs(engine: MatchEngine) -> None:
    """Two rows share a key text exactly when blocking pairs them: the store's index of these
    texts finds a delta's candidates as blocking everything would."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:  # `benchmarks` is not installed: import it from the checkout
        sys.path.insert(0, root)
    from benchmarks.people import generate_people
    from benchmarks.person_engines import load_person_spec, person_records

    spec, _ = load_person_spec()
    records = person_records(generate_people(3_000, seed=4), spec)
    texts = engine.blocking_keys(records, spec)
    assert texts["key"].str.split("\x1f").str[0].isin([r.name for r in spec.blocking]).all()
    sizes = texts.groupby("key")["row"].transform("size")
    shared = texts[sizes <= spec.max_block_size]
    joined = shared.merge(shared, on="key")
    joined = joined[joined["row_x"] < joined["row_y"]]
    from_texts = set(zip(joined["row_x"].tolist(), joined["row_y"].tolist(), strict=True))
    blocked = block(records, spec).pairs
    from_block = set(zip(blocked["left"].tolist(), blocked["right"].tolist(), strict=True))
    assert len(from_block) > 1_000
    assert from_texts == from_block


def test_rules_method_statistics_are_exact(engine: MatchEngine) -> None:
    frame = records(
        {
            "email": ["a", "a", "a", "b", NA],
            "first_name": ["x", "x", "z", "z", "q"],
            "last_name": ["y", "y", "w", "w", "r"],
            "phone": ["1", "1", "2", "2", "3"],
        }
    )
    result = engine.match(frame, contact_spec(EMAIL, NAME_PHONE))
    # email makes 0-1, 0-2, 1-2; name and phone make 0-1 and 2-3: four pairs, all matches
    assert result.candidate_pairs == 4
    assert result.statistics.to_dict() == {
        "blocking": [
            {"rule": "same_email", "pairs": 3},
            {"rule": "same_name_and_phone", "pairs": 2},
        ],
        "levels": [],  # no model: rules score 1.0 or 0.0
        "scores": {"edges": [i / 20 for i in range(21)], "counts": [0] * 19 + [4]},
        "clusters": {"sizes": [1, 4], "counts": [1, 1]},
    }
    assert result.record_ids.tolist() == frame["record_id"].tolist()


def test_engines_are_picked_by_name() -> None:
    assert engine_named("local").name == "local"
    with pytest.raises(MdmError, match="no match engine 'quantum'; engines: local"):
        engine_named("quantum")
