"""People at one employer: the employer as context, and clusters that do not chain.

Colleagues share a switchboard number, a mail domain and the account; relatives share a
surname and a phone line. Neither may turn two people into one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mdm.config import MatchSpec
from mdm.matching import Decision, FellegiSunterModel
from mdm.matching.compare import compare_levels
from mdm.matching.comparisons import NULL as NULL_LEVEL
from mdm.matching.comparisons import comparisons_from_spec
from mdm.matching.model import ComparisonModel
from mdm.matching.probabilistic import unmade_pairs_within
from mdm.matching.protocol import engine_named
from mdm.matching.score import forced_by_rules
from mdm.matching.train import M_PSEUDO_COUNT, posterior_m
from mdm.matching.values import FieldValues

FIRST = ["anna", "ben", "carla", "david", "emma", "felix", "greta", "hans", "ida", "jonas"]
FIRST += ["karin", "lars", "mona", "nils", "olga", "paul", "rita", "sven", "tina", "uwe"]
LAST = ["meyer", "schulz", "koch", "wolf", "berg", "lang", "roth", "frank", "vogel", "kraus"]
LAST += ["jung", "hahn", "beck", "horn", "busch", "lorenz", "kuhn", "sauer", "otto", "pohl"]

SPEC: dict[str, Any] = {
    "entity": "contact",
    "method": "probabilistic",
    "thresholds": {"match": 0.9, "review": 0.5},
    "blocking": [
        {"name": "email", "keys": ["email"]},
        {"name": "phone", "keys": ["phone"]},
        {"name": "names", "keys": ["first_name", "last_name"]},
    ],
    "comparisons": [
        {"field": "first_name", "kind": "first_name"},
        {"field": "last_name", "kind": "last_name"},
        {"field": "email", "kind": "email"},
        {"field": "phone", "kind": "phone", "tf_adjust": True},
        {"field": "account_id", "kind": "exact"},
    ],
    "training": {"u_sample_pairs": 50_000},
}


def spec(**changes: Any) -> MatchSpec:
    return MatchSpec.model_validate({**SPEC, **changes})


def colleagues(accounts: int = 150, staff: int = 8, seed: int = 3) -> pd.DataFrame:
    """``staff`` people per account sharing its switchboard and mail domain; every other
    person has a second record (another system: same name, the work email or none)."""
    rng = np.random.default_rng(seed)
    rows = []
    for account in range(accounts):
        switchboard = f"+4930{account:07d}"
        # Colleagues may share a first name or a surname, never both (no namesakes here).
        names = rng.choice(len(FIRST) * len(LAST), size=staff, replace=False)
        for person, name in enumerate(names.tolist()):
            first, last = FIRST[name // len(LAST)], LAST[name % len(LAST)]
            email = f"{first}.{last}{person}@firm{account}.example"
            truth = f"{account}-{person}"
            rows.append((truth, first, last, email, switchboard, f"a{account}"))
            if person % 2 == 0:
                second_email = email if rng.random() < 0.5 else None
                rows.append((truth, first, last, second_email, switchboard, f"a{account}"))
    frame = pd.DataFrame(
        rows, columns=["person", "first_name", "last_name", "email", "phone", "account_id"]
    )
    frame.insert(0, "record_id", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame.astype({c: "string" for c in frame.columns[2:]})


def wrong_pairs(labels: np.ndarray, truth: pd.Series) -> int:
    """Pairs of records in one cluster that are two people."""
    frame = pd.DataFrame({"cluster": labels, "person": truth.to_numpy()})
    together = frame.groupby("cluster").size()
    same = frame.groupby(["cluster", "person"]).size()
    return int((together * (together - 1) // 2).sum() - (same * (same - 1) // 2).sum())


def test_the_context_learns_that_colleagues_share_a_switchboard() -> None:
    frame = colleagues()
    result = engine_named("local").match(frame.drop(columns="person"), spec(context="account_id"))
    model = result.model
    assert model is not None and model.context == "account_id"
    phone = model.comparison("phone")
    assert phone.u_context is not None and phone.context_weights is not None
    exact = len(phone.labels) - 1
    # Among all pairs a shared number is rare; among colleagues it is the rule.
    assert phone.u_context[exact] > 0.5 > 50 * phone.u[exact]
    assert phone.context_weights[exact] < 1.0 < 5 < phone.weights[exact]
    assert model.comparison("account_id").u_context is None
    # Saved and loaded, the model scores the same.
    assert FellegiSunterModel.from_dict(model.to_dict()).to_dict() == model.to_dict()


def test_colleagues_who_share_a_first_name_stay_apart_with_the_context() -> None:
    frame = colleagues()
    records = frame.drop(columns="person")
    truth = frame["person"]
    without = engine_named("local").match(records, spec())
    with_context = engine_named("local").match(records, spec(context="account_id"))
    # Counted as independent evidence, the switchboard and the account join colleagues who
    # share a first name; as context they do not.
    assert wrong_pairs(without.labels, truth) > 0
    assert wrong_pairs(with_context.labels, truth) == 0
    # Every person's second record still joins the first.
    labels = pd.Series(with_context.labels)
    assert (labels.groupby(truth.to_numpy()).nunique() == 1).all()


def test_a_context_naming_no_comparison_is_refused() -> None:
    with pytest.raises(ValueError, match="context 'employer' names no comparison"):
        spec(context="employer")


def test_a_model_trained_without_the_context_is_refused_with_it() -> None:
    frame = colleagues(accounts=20)
    plain = engine_named("local").match(frame.drop(columns="person"), spec()).model
    assert plain is not None
    with pytest.raises(Exception, match="trained with context None"):
        engine_named("local").match(
            frame.drop(columns="person"), spec(context="account_id"), model=plain
        )


WORDS = ["alder", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "iris", "juno"]
TRADES = ["works", "dental", "plastics", "freight", "signs", "roofing", "legal", "bakery"]


def leads_and_contacts(accounts: int = 80, staff: int = 6, seed: int = 5) -> pd.DataFrame:
    """CRM contacts (account, work address, the switchboard) and, for every other person, a
    lead without an account: the company as text, a personal address, the same switchboard.
    Colleagues share first names often (three names for six people)."""
    rng = np.random.default_rng(seed)
    rows = []
    for account in range(accounts):
        word, trade = WORDS[account % len(WORDS)], TRADES[account // len(WORDS)]
        company, domain = f"{word} {trade}", f"{word}{trade}.example"
        switchboard = f"+4930{account:07d}"
        lasts = rng.choice(len(LAST), size=staff, replace=False)
        for person in range(staff):
            first, last = FIRST[person % 3 + 3 * (account % 5)], LAST[lasts[person]]
            truth = f"{account}-{person}"
            work = f"{first}.{last}@{domain}"
            rows.append((truth, first, last, work, switchboard, f"a{account}", None))
            if person % 2 == 0:
                personal = f"{first}{last}{rng.integers(10, 99)}@gmail.com"
                rows.append((truth, first, last, personal, switchboard, None, company))
    columns = ["person", "first_name", "last_name", "email", "phone", "account_id", "company"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(0, "record_id", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame.astype({c: "string" for c in frame.columns[2:]})


def employer_model(also: tuple[str, ...]) -> FellegiSunterModel:
    """A fixed model (m, u, u among colleagues): the switchboard and the employer are strong
    evidence among random pairs, none among colleagues."""

    def level(
        name: str, labels: tuple[str, ...], m: tuple[float, ...], u: tuple[float, ...], *ctx: float
    ) -> ComparisonModel:
        return ComparisonModel(name, name, labels, m, u, u_context=ctx or None)

    field = "company_mail_domain"
    comparisons = (
        level(
            "first_name",
            ("else", "jaro_winkler >= 0.8", "jaro_winkler >= 0.92", "nickname", "exact"),
            (0.02, 0.01, 0.02, 0.05, 0.9),
            (0.97, 0.005, 0.005, 0.005, 0.015),
            *(0.8, 0.02, 0.02, 0.02, 0.14),
        ),
        level(
            "last_name",
            ("else", "jaro_winkler >= 0.8", "same sound", "jaro_winkler >= 0.92", "exact"),
            (0.02, 0.01, 0.01, 0.01, 0.95),
            (0.98, 0.005, 0.005, 0.005, 0.005),
            *(0.94, 0.01, 0.01, 0.01, 0.03),
        ),
        level(
            "email",
            (
                "else",
                "one personal mailbox, one at an employer",
                "same domain, similar mailbox (jaro_winkler >= 0.88)",
                "exact",
            ),
            (0.2, 0.3, 0.05, 0.45),
            (0.7, 0.3, 1e-6, 1e-6),
            *(0.8, 0.2, 0.002, 0.001),
        ),
        level(
            "phone",
            ("else", "last 7 digits", "exact"),
            (0.3, 1e-4, 0.7),
            (0.9999, 1e-6, 1e-4),
            *(0.3, 1e-4, 0.7),
        ),
        level("account_id", ("else", "exact"), (0.01, 0.99), (0.9999, 1e-4)),
        level(
            "company",
            ("else", "token_set >= 0.75", "token_set >= 0.9", "exact"),
            (0.05, 0.01, 0.1, 0.84),
            (0.995, 0.005, 1e-4, 1e-4),
            *(0.05, 0.01, 0.1, 0.84),
        ),
        ComparisonModel(
            field,
            "company",
            ("else", "the company names the other's mail domain (>= 0.85)"),
            (0.05, 0.95),
            (0.9999, 1e-4),
            u_context=(0.05, 0.95),
        ),
    )
    return FellegiSunterModel("contact", 1e-4, comparisons, context="account_id", context_also=also)


def test_a_company_naming_the_mail_domain_stands_for_the_account() -> None:
    frame = leads_and_contacts()
    records, truth = frame.drop(columns="person"), frame["person"]
    comparisons = [
        *SPEC["comparisons"],
        {"field": "company", "kind": "company_name"},
        {
            "name": "company_mail_domain",
            "field": "company",
            "kind": "company_mail_domain",
            "against": "email",
        },
    ]
    blocking = [*SPEC["blocking"], {"name": "first_and_phone", "keys": ["first_name", "phone"]}]
    base = {"comparisons": comparisons, "blocking": blocking, "context": "account_id"}
    also = ("company", "company_mail_domain")
    engine = engine_named("local")
    plain = engine.match(records, spec(**base), model=employer_model(()))
    standing_in = engine.match(
        records, spec(**base, context_also=list(also)), model=employer_model(also)
    )
    # A lead has no account: with the account as the only context, the switchboard and the
    # employer count as independent evidence and join colleagues who share a first name.
    assert wrong_pairs(plain.labels, truth) > 0
    assert wrong_pairs(standing_in.labels, truth) == 0
    # Every lead still joins its own CRM contact.
    labels = pd.Series(standing_in.labels)
    assert (labels.groupby(truth.to_numpy()).nunique() == 1).all()
    model = employer_model(also)
    assert FellegiSunterModel.from_dict(model.to_dict()).to_dict() == model.to_dict()
    with pytest.raises(Exception, match=r"trained with context 'account_id', the rules"):
        engine.match(records, spec(**base, context_also=list(also)), model=employer_model(()))


def test_context_also_names_other_comparisons() -> None:
    with pytest.raises(ValueError, match="context_also 'employer' names no other comparison"):
        spec(context="account_id", context_also=["employer"])
    with pytest.raises(ValueError, match="context_also needs a context"):
        spec(context_also=["phone"])


# ---- clusters do not chain through a third record ------------------------------------------


def test_unmade_pairs_within_clusters() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2], dtype=np.int64)
    left = np.array([0, 1, 5, 6, 7], dtype=np.int64)
    right = np.array([1, 2, 6, 7, 8], dtype=np.int64)
    a, b = unmade_pairs_within(labels, left, right, max_size=200)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [
        (0, 2),
        (5, 7),
        (5, 8),
        (6, 8),
    ]
    # Clusters over the size limit are not checked; clusters of two have no third record.
    a, b = unmade_pairs_within(labels, left, right, max_size=3)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 2)]


def relatives_model() -> FellegiSunterModel:
    """A fixed model: a first-name disagreement weighs heavily against, a shared line for."""
    first = ("else", "jaro_winkler >= 0.8", "jaro_winkler >= 0.92", "nickname", "exact")
    last = ("else", "jaro_winkler >= 0.8", "same sound", "jaro_winkler >= 0.92", "exact")
    return FellegiSunterModel(
        entity="contact",
        prior=1e-4,
        comparisons=(
            ComparisonModel(
                "first_name",
                "first_name",
                first,
                (2e-5, 0.02, 0.06, 0.1, 0.8),
                (0.9, 0.05, 0.02, 0.01, 0.02),
            ),
            ComparisonModel(
                "last_name",
                "last_name",
                last,
                (0.05, 0.01, 0.01, 0.03, 0.9),
                (0.9, 0.04, 0.02, 0.02, 0.02),
            ),
            ComparisonModel(
                "phone",
                "phone",
                ("else", "last 7 digits", "exact"),
                (0.2, 0.1, 0.7),
                (0.98, 0.01, 1e-4),
            ),
        ),
    )


RELATIVES_SPEC: dict[str, Any] = {
    "entity": "contact",
    "method": "probabilistic",
    "thresholds": {"match": 0.9, "review": 0.5},
    "blocking": [{"name": "phone", "keys": ["phone"]}],
    "comparisons": [
        {"field": "first_name", "kind": "first_name"},
        {"field": "last_name", "kind": "last_name"},
        {"field": "phone", "kind": "phone"},
    ],
}


@pytest.mark.parametrize("split_weak_bridges", [True, False])
def test_relatives_do_not_join_through_a_record_without_a_first_name(
    split_weak_bridges: bool,
) -> None:
    """A support record "Smith" on the family's line matches John and Jane Smith; John and
    Jane, compared directly, are two people: the three must not become one."""
    frame = pd.DataFrame(
        {
            "record_id": [1, 2, 3],
            "first_name": ["john", None, "jane"],
            "last_name": ["smith", "smith", "smith"],
            "phone": ["+15550100", "+15550100", "+15550100"],
        }
    ).astype({"first_name": "string", "last_name": "string", "phone": "string"})
    clustering = {"split_weak_bridges": split_weak_bridges}
    checked = MatchSpec.model_validate({**RELATIVES_SPEC, "clustering": clustering})
    unchecked = MatchSpec.model_validate(
        {**RELATIVES_SPEC, "clustering": {**clustering, "apart_below": 0.0}}
    )
    engine = engine_named("local")
    chained = engine.match(frame, unchecked, model=relatives_model())
    result = engine.match(frame, checked, model=relatives_model())
    if not split_weak_bridges:
        assert len(set(chained.labels.tolist())) == 1  # without the check: one cluster
    labels = result.labels.tolist()
    assert labels[0] != labels[2]
    assert len(set(labels)) == 2
    # The link that gave way is left for a steward, not dropped silently.
    assert (result.pairs["decision"] == Decision.REVIEW).sum() == 1
    assert (result.pairs["decision"] == Decision.MATCH).sum() == 1


# ---- first names that are not alike -------------------------------------------------------

UNLIKE_RULE = {
    "name": "different_first_names",
    "method": "unlike",
    "fields": ["first_name"],
    "unless": ["mobile"],
    "action": "non_match",
}


def verdicts(first_names: list[str | None], mobiles: list[str | None]) -> list[int]:
    """The rule's verdict on each record against the first: -1 a forced non-match, else 0."""
    spec_ = MatchSpec.model_validate(
        {
            **RELATIVES_SPEC,
            "comparisons": [*RELATIVES_SPEC["comparisons"], {"field": "mobile", "kind": "phone"}],
            "rules": [UNLIKE_RULE],
        }
    )
    comparisons = comparisons_from_spec(spec_)
    frame = pd.DataFrame({"first_name": first_names, "mobile": mobiles}, dtype="string")
    frame["last_name"] = frame["phone"] = pd.array(["x"] * len(frame), dtype="string")
    right = np.arange(1, len(frame), dtype=np.int64)
    left = np.zeros_like(right)
    levels = compare_levels(frame, left, right, comparisons)
    values = {f: FieldValues.of(frame[f]) for f in ("first_name", "mobile")}
    verdict, _ = forced_by_rules(spec_.rules, values, left, right, levels, comparisons)
    return verdict.tolist()


def test_an_unlike_first_name_is_a_non_match_unless_the_mobile_agrees() -> None:
    # Against "john": jane (another person); j (an initial), johnny (a nickname), jonathan
    # (starts alike), jon (a similar spelling); jane with john's mobile; no first name.
    assert verdicts(
        ["john", "jane", "j", "johnny", "jonathan", "jon", "jane", None],
        ["+15559999", None, None, None, None, None, "+15559999", None],
    ) == [-1, 0, 0, 0, 0, 0, 0]


def test_unlike_needs_a_comparison_of_its_field() -> None:
    raw = {**RELATIVES_SPEC, "rules": [{**UNLIKE_RULE, "fields": ["email"], "unless": []}]}
    with pytest.raises(ValueError, match="method 'unlike' needs a comparison of 'email'"):
        MatchSpec.model_validate(raw)
    rules_only = {
        "entity": "contact",
        "method": "rules",
        "rules": [{**UNLIKE_RULE, "unless": []}],
    }
    with pytest.raises(ValueError, match="method 'rules' only takes exact rules"):
        MatchSpec.model_validate(rules_only)


def test_a_passive_comparisons_m_is_read_off_the_posterior() -> None:
    # Three patterns: level 1 twice as likely a match as level 0; NULL carries no weight.
    column = np.array([1, 0, NULL_LEVEL, 1], dtype=np.int8)
    weighted = np.array([30.0, 10.0, 50.0, 10.0])  # pattern counts times their posterior
    m = posterior_m(column, weighted, level_count=3)
    assert m is not None and m.shape == (3,)
    pseudo = M_PSEUDO_COUNT / 3
    expected = (np.array([10.0, 40.0, 0.0]) + pseudo) / (50.0 + M_PSEUDO_COUNT)
    np.testing.assert_allclose(m, expected)
    assert posterior_m(np.array([NULL_LEVEL], dtype=np.int8), np.array([5.0]), 2) is None
