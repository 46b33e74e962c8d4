"""The run summary names the compared fields a source gives no column for."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mdm.config import MatchSpec
from mdm.config.specs import SourceSpec
from mdm.pipeline.coverage import fields_not_given

RULES = Path(__file__).parents[1] / "mdm" / "rules" / "match"


def contact_rules() -> MatchSpec:
    raw = tomllib.loads((RULES / "contact.toml").read_text(encoding="utf-8"))
    return MatchSpec.model_validate({"entity": "contact", **raw})


def source(**mapping: str) -> SourceSpec:
    return SourceSpec.model_validate(
        {
            "name": "support",
            "system": "Support",
            "entity": "contact",
            "format": "csv",
            "path": "support.csv",
            "key": "id",
            "mapping": mapping,
        }
    )


def test_a_full_name_gives_the_name_parts_and_a_company_the_account() -> None:
    support = source(full_name="Full Name", email="email", phone="phone", company="company")
    assert fields_not_given(support, contact_rules()) == ["mobile", "title"]


def test_a_source_with_names_only_is_matched_without_the_rest() -> None:
    names = source(first_name="first", last_name="last")
    # An email alone would give the account too (its work domain); here there is none.
    assert fields_not_given(names, contact_rules()) == [
        "email",
        "phone",
        "mobile",
        "account_id",
        "company",
        "title",
    ]
