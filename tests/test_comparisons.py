"""Comparison levels: literal tables of value pairs and the level each preset gives them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mdm.config.match_spec import ComparisonKind, ComparisonSpec
from mdm.matching.compare import compare_levels
from mdm.matching.comparisons import (
    ELSE,
    NULL,
    Check,
    Comparison,
    Level,
    comparison_from_spec,
    preset_levels,
)

NA = None


def comparison(kind: ComparisonKind, **options: object) -> Comparison:
    return comparison_from_spec(
        ComparisonSpec.model_validate({"field": "x", "kind": kind, **options})
    )


def label(kind: ComparisonKind, left: str | None, right: str | None, **options: object) -> str:
    """The label of the level ``kind`` gives the pair (left, right)."""
    compared = comparison(kind, **options)
    frame = pd.DataFrame({"x": pd.array([left, right], dtype="string")})
    one = np.array([0], dtype=np.int64)
    code = int(compare_levels(frame, one, one + 1, [compared])[0, 0])
    return compared.label_of(code)


CASES: list[tuple[ComparisonKind, str | None, str | None, str]] = [
    # generic
    (ComparisonKind.EXACT, "a", "a", "exact"),
    (ComparisonKind.EXACT, "a", "b", "else"),
    (ComparisonKind.EXACT, "a", NA, "null"),
    (ComparisonKind.EXACT, NA, NA, "null"),
    (ComparisonKind.LEVENSHTEIN, "kitten", "kitten", "exact"),
    (ComparisonKind.LEVENSHTEIN, "kitten", "sitten", "levenshtein <= 1"),
    (ComparisonKind.LEVENSHTEIN, "kitten", "sittin", "levenshtein <= 2"),
    (ComparisonKind.LEVENSHTEIN, "kitten", "sitting", "else"),
    (ComparisonKind.DAMERAU_LEVENSHTEIN, "abcd", "abdc", "one edit"),
    (ComparisonKind.JARO_WINKLER, "martha", "marhta", "jaro_winkler >= 0.92"),
    (ComparisonKind.JARO_WINKLER, "dixon", "dicksonx", "jaro_winkler >= 0.8"),
    (ComparisonKind.JARO_WINKLER, "abc", "xyz", "else"),
    (ComparisonKind.TOKEN_SET, "acme widget", "widget acme", "token_set >= 0.9"),
    # person names
    (ComparisonKind.FIRST_NAME, "robert", "robert", "exact"),
    (ComparisonKind.FIRST_NAME, "robert", "bob", "nickname"),
    (ComparisonKind.FIRST_NAME, "bob", "robert", "nickname"),
    (ComparisonKind.FIRST_NAME, "william", "bill", "nickname"),
    (ComparisonKind.FIRST_NAME, "jonathan", "jonathon", "nickname"),  # listed as one
    (ComparisonKind.FIRST_NAME, "zbigniew", "zbignew", "jaro_winkler >= 0.92"),
    (ComparisonKind.FIRST_NAME, "franziska", "franzi", "jaro_winkler >= 0.92"),
    (ComparisonKind.FIRST_NAME, "wolfgang", "wolf", "jaro_winkler >= 0.8"),
    (ComparisonKind.FIRST_NAME, "anna", "zbigniew", "else"),
    (ComparisonKind.LAST_NAME, "smith", "smith", "exact"),
    (ComparisonKind.LAST_NAME, "johnson", "jonson", "jaro_winkler >= 0.92"),
    (ComparisonKind.LAST_NAME, "catherine", "kathryn", "same sound"),
    (ComparisonKind.LAST_NAME, "stephens", "stevens", "same sound"),
    (ComparisonKind.LAST_NAME, "dixon", "dicksonx", "jaro_winkler >= 0.8"),
    (ComparisonKind.LAST_NAME, "smith", "jones", "else"),
    # organisations, addresses
    (ComparisonKind.COMPANY_NAME, "acme", "acme", "exact"),
    (ComparisonKind.COMPANY_NAME, "acme widgets", "acme", "token_set >= 0.9"),
    (ComparisonKind.COMPANY_NAME, "acme widget works", "acme widgets works", "token_set >= 0.9"),
    (ComparisonKind.COMPANY_NAME, "orion industries", "orion industry", "token_set >= 0.75"),
    (ComparisonKind.COMPANY_NAME, "orion industries", "orion ind", "else"),
    (ComparisonKind.COMPANY_NAME, "acme", "globex", "else"),
    (ComparisonKind.STREET, "12 main st", "12 main st", "exact"),
    (ComparisonKind.STREET, "12 main st ste 4", "12 main st", "token_set >= 0.9"),
    (ComparisonKind.STREET, "12 main st", "12 maine street", "token_set >= 0.7"),
    (ComparisonKind.STREET, "12 main st", "7 oak ave", "else"),
    (ComparisonKind.CITY, "london", "london", "exact"),
    (ComparisonKind.CITY, "manchester", "manchster", "jaro_winkler >= 0.9"),
    (ComparisonKind.CITY, "london", "paris", "else"),
    (ComparisonKind.POSTCODE, "10115", "10115", "exact"),
    (ComparisonKind.POSTCODE, "10115", "10117", "first 3 characters"),
    (ComparisonKind.POSTCODE, "10115", "80331", "else"),
    # contact details
    (ComparisonKind.EMAIL, "ann@x.com", "ann@x.com", "exact"),
    # The same mailbox at another domain is no level of its own: mailboxes are made of names.
    (
        ComparisonKind.EMAIL,
        "ann.lee@x.com",
        "ann.lee@gmail.com",
        "one personal mailbox, one at an employer",
    ),
    (
        ComparisonKind.EMAIL,
        "lee@gmail.com",
        "ann@x.com",
        "one personal mailbox, one at an employer",
    ),
    (ComparisonKind.EMAIL, "ann.lee@gmail.com", "ann.lee@yahoo.com", "else"),  # two personal
    (
        ComparisonKind.EMAIL,
        "ann.lee@x.com",
        "ann.lea@x.com",
        "same domain, similar mailbox (jaro_winkler >= 0.88)",
    ),
    (ComparisonKind.EMAIL, "a.lehmann@x.com", "j.lehmann@x.com", "else"),  # colleagues
    # Namesakes' mailboxes told apart by a number are two mailboxes, not a typo.
    (ComparisonKind.EMAIL, "heather.morgan@x.com", "heather.morgan2@x.com", "else"),
    (ComparisonKind.EMAIL, "ismith200@gmail.com", "ismith205@gmail.com", "else"),
    (ComparisonKind.EMAIL, "lisamartin612@icloud.com", "lisa.martin@icloud.com", "else"),
    (
        ComparisonKind.EMAIL,
        "ann.lee7@x.com",
        "ann_lee7@x.com",
        "same domain, similar mailbox (jaro_winkler >= 0.88)",
    ),
    (ComparisonKind.EMAIL, "ann@x.com", "bob@y.com", "else"),
    (ComparisonKind.PHONE, "+15550100123", "+15550100123", "exact"),
    (ComparisonKind.PHONE, "+15550100123", "+335550100123", "last 7 digits"),
    (ComparisonKind.PHONE, "+15550100123", "+15550100999", "else"),
    # dates and ids
    (ComparisonKind.DATE, "1980-03-04", "1980-03-04", "exact"),
    (ComparisonKind.DATE, "1980-03-04", "1980-03-05", "one edit"),
    (ComparisonKind.DATE, "1980-03-04", "1980-04-03", "day and month swapped"),
    (ComparisonKind.DATE, "1980-03-04", "1980-03-20", "within 31 days"),
    (ComparisonKind.DATE, "1980-03-04", "1980-11-28", "within 366 days"),
    (ComparisonKind.DATE, "1980-03-04", "1990-07-14", "else"),
    (ComparisonKind.DATE, "1980-03-04", "not a date", "else"),
    (ComparisonKind.ID, "DE123456", "DE123456", "exact"),
    (ComparisonKind.ID, "DE123456", "DE124356", "one edit"),
    (ComparisonKind.ID, "DE123456", "DE654321", "else"),
]


@pytest.mark.parametrize(("kind", "left", "right", "expected"), CASES)
def test_preset_levels(
    kind: ComparisonKind, left: str | None, right: str | None, expected: str
) -> None:
    assert label(kind, left, right) == expected
    assert label(kind, right, left) == expected  # every level is symmetric


def test_level_codes_are_ordered_with_exact_highest() -> None:
    compared = comparison(ComparisonKind.FIRST_NAME)
    assert compared.labels == (
        "else",
        "jaro_winkler >= 0.8",
        "jaro_winkler >= 0.92",
        "nickname",
        "exact",
    )
    assert compared.exact_code == 4
    assert compared.level_count == 5
    assert compared.label_of(NULL) == "null"


def test_thresholds_override_the_defaults() -> None:
    assert label(ComparisonKind.JARO_WINKLER, "martha", "marhta", thresholds=[0.99, 0.95]) == (
        "jaro_winkler >= 0.95"
    )
    assert label(ComparisonKind.DATE, "1980-03-04", "1980-03-11", thresholds=[7]) == "within 7 days"
    assert label(ComparisonKind.POSTCODE, "SW1A1AA", "SW1B1AA", thresholds=[4, 2]) == (
        "first 2 characters"
    )


def test_date_format() -> None:
    assert label(ComparisonKind.DATE, "19800304", "19800403", date_format="%Y%m%d") == (
        "day and month swapped"
    )


def test_swapped_level() -> None:
    compared = comparison_from_spec(
        ComparisonSpec(field="first", kind=ComparisonKind.FIRST_NAME, swap_with="last")
    )
    frame = pd.DataFrame(
        {
            "first": pd.array(["ann", "lee", "ann", "lee"], dtype="string"),
            "last": pd.array(["lee", "ann", "lee", NA], dtype="string"),
        }
    )
    left = np.array([0, 0, 0], dtype=np.int64)
    right = np.array([1, 2, 3], dtype=np.int64)
    codes = compare_levels(frame, left, right, [compared])[0]
    assert [compared.label_of(int(c)) for c in codes] == ["swapped", "exact", "else"]


def test_many_pairs_are_computed_once_per_distinct_value_pair() -> None:
    """A large, repetitive input takes the distinct-pair path; results equal the pair path."""
    rng = np.random.default_rng(1)
    words = np.array(["martha", "marhta", "mark", "maria", "zed", NA], dtype=object)
    frame = pd.DataFrame({"x": pd.array(words[rng.integers(0, 6, 60_000)], dtype="string")})
    left = rng.integers(0, 60_000, 50_000)
    right = rng.integers(0, 60_000, 50_000)
    compared = comparison(ComparisonKind.FIRST_NAME)
    many = compare_levels(frame, left, right, [compared])[0]
    for i in range(0, 50_000, 997):
        one = compare_levels(frame, left[i : i + 1], right[i : i + 1], [compared])[0, 0]
        assert many[i] == one


def test_missing_column_gives_null_levels() -> None:
    frame = pd.DataFrame({"y": pd.array(["a", "a"], dtype="string")})
    one = np.array([0], dtype=np.int64)
    assert compare_levels(frame, one, one + 1, [comparison(ComparisonKind.EXACT)]).tolist() == [
        [NULL]
    ]


def test_levels_must_start_with_exact() -> None:
    with pytest.raises(ValueError, match="must be exact"):
        Comparison("x", "x", ComparisonKind.EXACT, (Level(Check.NICKNAME),))
    assert preset_levels(ComparisonKind.EXACT) == (Level(Check.EXACT),)
    assert ELSE == 0


def test_a_company_name_against_the_other_records_work_mail_domain() -> None:
    compared = comparison_from_spec(
        ComparisonSpec(
            name="company_mail_domain",
            field="company",
            kind=ComparisonKind.COMPANY_MAIL_DOMAIN,
            against="email",
        )
    )
    assert compared.fields == ("company", "email")
    rows = [
        ("frontier dental associates", "e.jordan@gmail.com"),  # 0: a lead: company, own mail
        (NA, "eric.jordan@frontierdentalassociates2.com"),  # 1: CRM: the work address only
        (NA, "eric.jordan@acme-tools.com"),  # 2: another employer
        (NA, "eric.jordan@gmail.com"),  # 3: a personal address names no employer
        ("acme tools", "x@acmetools.com"),  # 4: two company names: not this comparison's
        (NA, NA),  # 5: nothing to compare
    ]
    frame = pd.DataFrame(
        {
            "company": pd.array([r[0] for r in rows], dtype="string"),
            "email": pd.array([r[1] for r in rows], dtype="string"),
        }
    )
    left = np.array([0, 1, 0, 0, 0, 0, 2], dtype=np.int64)
    right = np.array([1, 0, 2, 3, 4, 5, 4], dtype=np.int64)
    codes = compare_levels(frame, left, right, [compared])[0]
    names = "the company names the other's mail domain (>= 0.85)"
    assert [compared.label_of(int(c)) for c in codes] == [
        names,
        names,  # either way round
        "else",
        "null",
        "null",
        "null",
        names,  # "acme-tools.com" against "acme tools": letters only
    ]


def test_company_mail_domain_of_records_without_any_email_is_null() -> None:
    compared = comparison_from_spec(
        ComparisonSpec(
            name="company_mail_domain",
            field="company",
            kind=ComparisonKind.COMPANY_MAIL_DOMAIN,
            against="email",
        )
    )
    frame = pd.DataFrame(
        {
            "company": pd.array(["frontier dental", NA], dtype="string"),
            "email": pd.array([NA, NA], dtype="string"),
        }
    )
    one, other = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    assert compare_levels(frame, one, other, [compared]).tolist() == [[NULL]]


def test_company_mail_domain_needs_its_email_field() -> None:
    with pytest.raises(ValueError, match="needs against"):
        ComparisonSpec(field="company", kind=ComparisonKind.COMPANY_MAIL_DOMAIN)
    with pytest.raises(ValueError, match="against is for kind company_mail_domain only"):
        ComparisonSpec(field="company", kind=ComparisonKind.COMPANY_NAME, against="email")


def test_at_mail_provider() -> None:
    from mdm.standardize.email_address import at_mail_provider

    assert at_mail_provider("ann77@gmail.com") is True
    assert at_mail_provider("Ann@Comcast.NET") is True
    assert at_mail_provider("ann.lee@acme.com") is False
    assert at_mail_provider("ann.lee") is None
