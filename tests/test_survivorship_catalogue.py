"""The survivorship rule catalogue: a literal table per rule, keep_all, groups, pins, beaten
candidates, rule files that fail at load, the issue's acceptance check on generated data, and
properties of the whole builder with every rule type."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.config import SurvivorshipRule, SurvivorshipSpec, load_project
from mdm.config.survivorship_spec import VALUE_RULES
from mdm.errors import MdmError
from mdm.project_files import write_new_project
from mdm.schema import Entity, Kind, survived_attribute_names
from mdm.standardize import clean_values, is_valid
from mdm.survivorship import LINEAGE_DTYPES, MAX_BEATEN, STEWARD_PIN, Golden, build_golden

R = SurvivorshipRule
# A member: (golden_id, record_id, source, system, last_modified, {attribute: value}).
Member = tuple[str, int, str, str, str | None, Mapping[str, str | None]]
Row = tuple[Any, ...]
ROW = ["golden_id", "attribute", "value", "record_id", "rule", "candidates"]


def spec(entity: Entity = Entity.ACCOUNT, **raw: Any) -> SurvivorshipSpec:
    return SurvivorshipSpec.model_validate({"entity": entity, "default": ["most_recent"], **raw})


def members(rows: Sequence[Member], entity: Entity = Entity.ACCOUNT) -> pd.DataFrame:
    stamps = pd.Series([row[4] for row in rows], dtype=object)
    frame = pd.DataFrame(
        {
            "golden_id": pd.array([row[0] for row in rows], dtype="string"),
            "record_id": pd.array([row[1] for row in rows], dtype="int64"),
            "source": pd.array([row[2] for row in rows], dtype="string"),
            "system": pd.array([row[3] for row in rows], dtype="string"),
            "last_modified": pd.to_datetime(stamps, utc=True, format="ISO8601"),
        }
    )
    for attribute in survived_attribute_names(entity):
        frame[attribute] = pd.array([row[5].get(attribute) for row in rows], dtype="string")
    return frame


def rows(golden: Golden, *extra: str) -> list[Row]:
    return list(golden.lineage[[*ROW, *extra]].itertuples(index=False, name=None))


def value(golden: Golden, golden_id: str, attribute: str) -> Any:
    return golden.values.at[golden_id, attribute]


def beaten(golden: Golden, golden_id: str, attribute: str) -> list[Any]:
    lineage = golden.lineage
    mine = lineage[(lineage["golden_id"] == golden_id) & (lineage["attribute"] == attribute)]
    return next(json.loads(text) for text in mine["beaten"])  # type: ignore[no-any-return]


def single(rule: R, attribute: str = "name", **raw: Any) -> SurvivorshipSpec:
    return spec(attributes={attribute: [rule.value, "most_recent"]}, **raw)


# ---- one table per rule --------------------------------------------------------------------


def test_trust_by_attribute_then_source_then_system() -> None:
    phone_trust = {"Support": 0.95, "crm_eu": 0.1}
    trust = {"ERP": 0.9, "CRM": 0.5, "crm_eu": 0.7, "attributes": {"phone": phone_trust}}
    chains = {"name": ["trust"], "phone": ["trust"]}
    golden = build_golden(
        spec(attributes=chains, trust=trust),
        members(
            [
                ("G1", 1, "erp", "ERP", None, {"name": "ERP name", "phone": "+12125550101"}),
                ("G1", 2, "crm_eu", "CRM", None, {"name": "EU name", "phone": "+12125550102"}),
                ("G1", 3, "desk", "Support", None, {"phone": "+12125550103"}),
                # Unlisted: trust 0.
                ("G2", 4, "web", "Web", None, {"name": "Web name"}),
                ("G2", 5, "crm_us", "CRM", None, {"name": "CRM name"}),
            ]
        ),
    )
    assert rows(golden) == [
        # The source name (crm_eu 0.7) before its system (CRM 0.5), but ERP's 0.9 is higher.
        ("G1", "name", "ERP name", 1, "trust", 2),
        # The attribute's own scores first: Support 0.95 for phones, crm_eu only 0.1 there.
        ("G1", "phone", "+12125550103", 3, "trust", 3),
        ("G2", "name", "CRM name", 5, "trust", 2),
    ]


def test_trust_decays_with_age() -> None:
    rules = spec(
        attributes={"name": ["trust", "source_priority"]},
        source_priority=["CRM"],
        trust={"ERP": 0.9, "CRM": 0.5},
        trust_half_life_days=365,
    )
    table = members(
        [
            # ERP two years old (0.9 / 4 = 0.225) loses to CRM half a year old (0.35).
            ("G1", 1, "erp", "ERP", "2023-01-01", {"name": "old ERP"}),
            ("G1", 2, "crm", "CRM", "2024-07-01", {"name": "fresh CRM"}),
            # No time: infinitely old, trust 0; ERP, however old, still has some.
            ("G2", 3, "erp", "ERP", None, {"name": "undated ERP"}),
            ("G2", 4, "crm", "CRM", "1990-01-01", {"name": "ancient CRM"}),
            # Dated after now: not rewarded, counts as age 0 (0.9 > 0.5).
            ("G3", 5, "erp", "ERP", "2030-01-01", {"name": "future ERP"}),
            ("G3", 6, "crm", "CRM", "2024-12-31", {"name": "recent CRM"}),
        ]
    )
    golden = build_golden(rules, table, now="2025-01-01")
    assert golden.now == pd.Timestamp("2025-01-01", tz="UTC")
    assert rows(golden) == [
        ("G1", "name", "fresh CRM", 2, "trust", 2),
        ("G2", "name", "ancient CRM", 4, "trust", 2),
        ("G3", "name", "future ERP", 5, "trust", 2),
    ]
    # Every score decays alike, so a later 'now' changes no order among dated records (the
    # future record ages less than it looks until now passes it, hence G1 and G2 only).
    later = build_golden(rules, table[table["golden_id"] != "G3"], now="2040-06-01")
    assert rows(later) == rows(golden)[:2]
    # By default, now is the latest last_modified: reproducible, whenever it runs.
    assert build_golden(rules, table).now == pd.Timestamp("2030-01-01", tz="UTC")
    # Without a half-life, trust does not decay: ERP 0.9 wins everywhere.
    flat = spec(attributes={"name": ["trust"]}, trust={"ERP": 0.9, "CRM": 0.5})
    assert [row[3] for row in rows(build_golden(flat, table))] == [1, 3, 5]


def test_oldest() -> None:
    golden = build_golden(
        single(R.OLDEST),
        members(
            [
                ("G1", 1, "s", "S", "2024-01-01", {"name": "newer"}),
                ("G1", 2, "s", "S", "2020-01-01", {"name": "first seen"}),
                ("G1", 3, "s", "S", None, {"name": "unknown time ranks last"}),
            ]
        ),
    )
    assert rows(golden) == [("G1", "name", "first seen", 2, "oldest", 3)]


def test_most_frequent_counts_values_in_match_form() -> None:
    golden = build_golden(
        spec(attributes={a: ["most_frequent", "most_recent"] for a in ("name", "phone")}),
        members(
            [
                ("G1", 1, "s", "S", "2024-01-01", {"name": "ACME Inc"}),
                ("G1", 2, "s", "S", "2024-02-01", {"name": "Acme Inc."}),
                ("G1", 3, "s", "S", "2024-03-01", {"name": "Globex GmbH"}),
                # Phones without a match key (impossible numbers) count by their cleaned text.
                ("G2", 4, "s", "S", "2024-01-01", {"phone": "12"}),
                ("G2", 5, "s", "S", "2024-02-01", {"phone": "+12125550123"}),
                ("G2", 6, "s", "S", "2023-01-01", {"phone": "12"}),
            ]
        ),
    )
    assert rows(golden) == [
        # The two spellings of Acme count together; the newer of them wins.
        ("G1", "name", "Acme Inc.", 2, "most_recent", 3),
        # Two records say 12; the newer of them gives it.
        ("G2", "phone", "12", 4, "most_recent", 3),
    ]
    assert beaten(golden, "G1", "name") == [
        {"value": "ACME Inc", "record_id": 1},
        {"value": "Globex GmbH", "record_id": 3},
    ]


def test_most_complete() -> None:
    golden = build_golden(
        single(R.MOST_COMPLETE),
        members(
            [
                ("G1", 1, "s", "S", "2024-05-01", {"name": "Sparse"}),
                ("G1", 2, "s", "S", "2020-01-01", {"name": "Full", "city": "X", "tax_id": "1"}),
                ("G1", 3, "s", "S", "2024-01-01", {"name": "Half", "city": "Y"}),
            ]
        ),
    )
    assert rows(golden)[0] == ("G1", "name", "Full", 2, "most_complete", 3)


def test_longest_and_shortest() -> None:
    table = members(
        [
            ("G1", 1, "s", "S", "2024-01-01", {"name": "Acme"}),
            ("G1", 2, "s", "S", "2023-01-01", {"name": "Acme Corporation"}),
            ("G1", 3, "s", "S", "2022-01-01", {"name": "Acme Corp"}),
            # Characters, not bytes: "Müller" is six long.
            ("G2", 4, "s", "S", "2024-01-01", {"name": "Müller"}),
            ("G2", 5, "s", "S", "2023-01-01", {"name": "Muellr"}),
        ]
    )
    assert rows(build_golden(single(R.LONGEST), table)) == [
        ("G1", "name", "Acme Corporation", 2, "longest", 3),
        ("G2", "name", "Müller", 4, "most_recent", 2),
    ]
    assert rows(build_golden(single(R.SHORTEST), table)) == [
        ("G1", "name", "Acme", 1, "shortest", 3),
        ("G2", "name", "Müller", 4, "most_recent", 2),
    ]


def test_max_and_min_by_numbers_dates_and_text() -> None:
    table = members(
        [
            # Every candidate a number: compared as numbers ("9" < "10", "10" = "10.0").
            ("G1", 1, "s", "S", "2024-01-01", {"tax_id": "9"}),
            ("G1", 2, "s", "S", "2023-01-01", {"tax_id": "10"}),
            ("G1", 3, "s", "S", "2024-02-01", {"tax_id": "10.0"}),
            # Every candidate an ISO date: compared as times, whatever the offset.
            ("G2", 4, "s", "S", "2024-01-01", {"tax_id": "2024-01-02T01:00:00+02:00"}),
            ("G2", 5, "s", "S", "2023-01-01", {"tax_id": "2024-01-01T23:30:00"}),
            # Text: case-insensitive first ("apple" < "Banana"), then by code point.
            ("G3", 6, "s", "S", "2024-01-01", {"tax_id": "Banana"}),
            ("G3", 7, "s", "S", "2023-01-01", {"tax_id": "apple"}),
            ("G3", 8, "s", "S", "2022-01-01", {"tax_id": "Apple"}),
            # One candidate that is not a number makes the cell text.
            ("G4", 9, "s", "S", "2024-01-01", {"tax_id": "9"}),
            ("G4", 10, "s", "S", "2023-01-01", {"tax_id": "10"}),
            ("G4", 11, "s", "S", "2022-01-01", {"tax_id": "n/a"}),
        ]
    )
    assert rows(build_golden(single(R.MAX, "tax_id"), table)) == [
        ("G1", "tax_id", "10.0", 3, "most_recent", 3),
        ("G2", "tax_id", "2024-01-01T23:30:00", 5, "max", 2),
        ("G3", "tax_id", "Banana", 6, "max", 3),
        ("G4", "tax_id", "n/a", 11, "max", 3),
    ]
    assert rows(build_golden(single(R.MIN, "tax_id"), table)) == [
        ("G1", "tax_id", "9", 1, "min", 3),
        ("G2", "tax_id", "2024-01-02T01:00:00+02:00", 4, "min", 2),
        ("G3", "tax_id", "Apple", 8, "min", 3),
        ("G4", "tax_id", "10", 10, "min", 3),
    ]


def test_valid_first() -> None:
    chains = {attribute: ["valid_first", "most_recent"] for attribute in ("email", "phone")}
    golden = build_golden(
        spec(Entity.CONTACT, attributes=chains),
        members(
            [
                ("C1", 1, "s", "S", "2024-06-01", {"email": "ann@@acme.com", "phone": "12"}),
                ("C1", 2, "s", "S", "2020-01-01", {"email": "ann@acme.com"}),
                ("C1", 3, "s", "S", "2021-01-01", {"phone": "+12125550123"}),
                # Nothing valid: the next rule decides among the invalid ones.
                ("C2", 4, "s", "S", "2024-01-01", {"email": "bob@example"}),
                ("C2", 5, "s", "S", "2023-01-01", {"email": "bob.example.com"}),
            ],
            Entity.CONTACT,
        ),
    )
    assert rows(golden) == [
        ("C1", "email", "ann@acme.com", 2, "valid_first", 2),
        ("C1", "phone", "+12125550123", 3, "valid_first", 2),
        ("C2", "email", "bob@example", 4, "most_recent", 2),
    ]
    countries = build_golden(
        single(R.VALID_FIRST, "country"),
        members(
            [
                ("G1", 1, "s", "S", "2024-01-01", {"country": "Narnia"}),
                ("G1", 2, "s", "S", "2020-01-01", {"country": "DE"}),
            ]
        ),
    )
    assert rows(countries) == [("G1", "country", "DE", 2, "valid_first", 2)]


def test_keep_all_keeps_the_distinct_values_as_a_json_array() -> None:
    chains = {"phone": ["valid_first", "keep_all"], "company": ["keep_all"]}
    golden = build_golden(
        spec(Entity.CONTACT, attributes=chains),
        members(
            [
                ("C1", 4, "s", "S", "2024-01-01", {"phone": "+442079460018"}),
                ("C1", 2, "s", "S", "2024-01-01", {"phone": "+12125550123"}),
                ("C1", 3, "s", "S", "2023-01-01", {"phone": "+12125550123"}),
                ("C1", 5, "s", "S", "2025-01-01", {"phone": "12"}),  # invalid: dropped
                # Deduplicated in match form: one Acme, shown as its first record has it.
                ("C1", 7, "s", "S", None, {"company": "Acme Inc."}),
                ("C1", 6, "s", "S", None, {"company": "ACME Inc"}),
                ("C1", 8, "s", "S", None, {"company": "Ünited Widgets"}),
            ],
            Entity.CONTACT,
        ),
    )
    assert value(golden, "C1", "phone") == '["+12125550123", "+442079460018"]'
    assert value(golden, "C1", "company") == '["ACME Inc", "Ünited Widgets"]'
    assert rows(golden) == [
        # One lineage row per kept value, pointing to the first record carrying it.
        ("C1", "phone", "+12125550123", 2, "keep_all", 4),
        ("C1", "phone", "+442079460018", 4, "keep_all", 4),
        ("C1", "company", "ACME Inc", 6, "keep_all", 3),
        ("C1", "company", "Ünited Widgets", 8, "keep_all", 3),
    ]
    assert beaten(golden, "C1", "phone") == [{"value": "12", "record_id": 5}]
    # A variant of a kept value was merged into it, not beaten.
    assert beaten(golden, "C1", "company") == []


def test_a_group_survives_whole_from_one_record() -> None:
    groups = {"address": {"attributes": ["street", "city", "postcode"], "rules": ["most_recent"]}}
    golden = build_golden(
        spec(groups=groups),
        members(
            [
                ("G1", 1, "s", "S", "2024-01-01", {"street": "1 New St", "city": "Newtown"}),
                ("G1", 2, "s", "S", "2020-01-01", {"street": "2 Old Rd", "postcode": "99999"}),
                ("G1", 3, "s", "S", "2020-01-01", {"city": "Oldtown"}),
                # No value in the group: not a candidate, however new.
                ("G1", 4, "s", "S", "2025-01-01", {"name": "Acme"}),
            ]
        ),
    )
    assert rows(golden, "group_name") == [
        ("G1", "name", "Acme", 4, "most_recent", 1, pd.NA),
        ("G1", "street", "1 New St", 1, "most_recent", 3, "address"),
        ("G1", "city", "Newtown", 1, "most_recent", 3, "address"),
    ]
    # The winner's empty postcode is the golden postcode: never record 2's.
    assert pd.isna(value(golden, "G1", "postcode"))
    # What the address won against: whole addresses, best-ranked first.
    assert beaten(golden, "G1", "city") == [
        {"value": "2 Old Rd, 99999", "record_id": 2},
        {"value": "Oldtown", "record_id": 3},
    ]


def test_a_group_ranks_by_its_own_completeness_and_validity() -> None:
    groups = {
        "address": {
            "attributes": ["city", "postcode", "country"],
            "rules": ["valid_first", "most_complete"],
        }
    }
    golden = build_golden(
        spec(groups=groups),
        members(
            [
                # Complete, but the country is unknown.
                ("G1", 1, "s", "S", None, {"city": "A", "postcode": "1", "country": "Narnia"}),
                # The most complete address whose parts are all valid (a record's other
                # attributes do not count for the group).
                ("G1", 2, "s", "S", None, {"city": "B", "country": "DE", "name": "x"}),
                ("G1", 3, "s", "S", None, {"city": "C", "name": "y", "tax_id": "z"}),
            ]
        ),
    )
    assert [row for row in rows(golden, "group_name") if not pd.isna(row[-1])] == [
        ("G1", "city", "B", 2, "most_complete", 3, "address"),
        ("G1", "country", "DE", 2, "most_complete", 3, "address"),
    ]


def test_steward_pins_override_everything() -> None:
    groups = {"address": {"attributes": ["street", "city"], "rules": ["most_recent"]}}
    table = members(
        [
            ("G1", 1, "s", "S", "2024-01-01", {"name": "Acme", "street": "1 Main", "city": "X"}),
            ("G1", 2, "s", "S", "2023-01-01", {"name": "Acme Corp"}),
            ("G2", 3, "s", "S", "2023-01-01", {"name": "Beta"}),
        ]
    )
    pins = pd.DataFrame(
        {
            "golden_id": ["G1", "G1", "G2", "G9"],
            "attribute": ["name", "city", "tax_id", "name"],
            "value": ["Acme Corporation", "Springfield", "DE123", "gone"],
            "pinned_by": ["ann", "ann", "bob", "bob"],
            "pinned_at": pd.to_datetime(["2024-02-01"] * 4, utc=True),
        }
    )
    golden = build_golden(spec(groups=groups), table, pins=pins)
    assert rows(golden, "group_name") == [
        ("G1", "name", "Acme Corporation", pd.NA, STEWARD_PIN, 2, pd.NA),
        # The rest of a group still comes from its winning record.
        ("G1", "street", "1 Main", 1, "most_recent", 1, "address"),
        ("G1", "city", "Springfield", pd.NA, STEWARD_PIN, 1, pd.NA),
        ("G2", "name", "Beta", 3, "most_recent", 1, pd.NA),
        # A pin needs no candidate; a pin of a golden record not built here (G9) is ignored.
        ("G2", "tax_id", "DE123", pd.NA, STEWARD_PIN, 0, pd.NA),
    ]
    assert beaten(golden, "G1", "name") == [
        {"value": "Acme", "record_id": 1},
        {"value": "Acme Corp", "record_id": 2},
    ]
    assert beaten(golden, "G2", "tax_id") == []
    assert golden.lineage.dtypes.astype(str).to_dict() == LINEAGE_DTYPES


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        (pd.DataFrame({"golden_id": ["G1"], "attribute": ["name"]}), "lack the columns value"),
        (
            pd.DataFrame({"golden_id": ["G1"], "attribute": ["nmae"], "value": ["x"]}),
            "not survived: nmae",
        ),
        (pd.DataFrame({"golden_id": ["G1"], "attribute": ["name"], "value": [""]}), "needs a"),
        (
            pd.DataFrame(
                {"golden_id": ["G1", "G1"], "attribute": ["name"] * 2, "value": ["a"] * 2}
            ),
            "at most once",
        ),
    ],
)
def test_bad_pins(pins: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_golden(spec(), members([("G1", 1, "s", "S", None, {"name": "a"})]), pins=pins)


def test_beaten_lists_the_best_ranked_first_and_at_most_ten() -> None:
    table = members(
        [("G1", i, "s", "S", f"2024-01-{i:02d}", {"name": f"name {i:02d}"}) for i in range(1, 16)]
        + [("G1", 16, "s", "S", "2023-01-01", {"name": "name 15"})]
    )
    golden = build_golden(spec(), table)
    assert rows(golden) == [("G1", "name", "name 15", 15, "most_recent", 16)]
    listed = beaten(golden, "G1", "name")
    assert len(listed) == MAX_BEATEN
    assert listed[:2] == [
        {"value": "name 14", "record_id": 14},
        {"value": "name 13", "record_id": 13},
    ]


# ---- rule files that fail at load ----------------------------------------------------------

GOOD_ACCOUNT = """
default = ["source_priority", "most_recent"]
trust_half_life_days = 365
[trust]
ERP = 0.9
[trust.attributes.phone]
Support = 0.9
[attributes]
phone = ["valid_first", "most_recent"]
[groups.address]
attributes = ["street", "city"]
rules = ["most_complete", "most_recent"]
"""


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        (
            '"valid_first", "most_recent"',
            '"valid_first", "most_recnet"',
            "attributes.phone[1]",
            "'most_recnet': Input should be",
        ),
        (
            "phone = [",
            "phnoe = [",
            "attributes.phnoe",
            "'phnoe' is not a survived account attribute",
        ),
        ('["street", "city"]', '["street", "cty"]', "groups", "group 'address' names 'cty'"),
        (
            "[trust.attributes.phone]",
            "[trust.attributes.fax]",
            "trust",
            "trust.attributes names 'fax'",
        ),
        ("ERP = 0.9\n[", "ERP = 1.9\n[", "trust.ERP", "less than or equal to 1"),
        (
            '"valid_first", "most_recent"',
            '"keep_all", "most_recent"',
            "attributes.phone",
            "must come last",
        ),
        (
            '["most_complete", "most_recent"]',
            '["longest"]',
            "groups",
            "use longest, which rank single values",
        ),
        ("phone = [", "city = [", "attributes.city", "survives with its group 'address'"),
        (
            "[groups.address]",
            "[groups.name]",
            "groups.name",
            "may not be named after the attribute",
        ),
        (
            "[groups.address]\n",
            "[groups.address]\nchain = []\n",
            "groups.address.chain",
            "Extra inputs",
        ),
    ],
)
def test_rule_files_fail_at_load_naming_file_and_key(
    tmp_path: Path, old: str, new: str, where: str, says: str
) -> None:
    write_new_project(tmp_path / "p")
    rules = tmp_path / "p" / "rules" / "survivorship" / "account.toml"
    rules.write_text(GOOD_ACCOUNT)
    load_project(tmp_path / "p")  # the good file loads
    assert old in GOOD_ACCOUNT
    rules.write_text(GOOD_ACCOUNT.replace(old, new, 1))
    with pytest.raises(MdmError) as caught:
        load_project(tmp_path / "p")
    message = str(caught.value)
    assert f"{rules}: {where}" in message
    assert says in message


def test_default_rule_files_load_and_use_the_catalogue(tmp_path: Path) -> None:
    write_new_project(tmp_path / "p")
    rules = load_project(tmp_path / "p").rules.survivorship
    account, contact = rules[Entity.ACCOUNT], rules[Entity.CONTACT]
    assert account.groups["address"].attributes == [
        "street",
        "city",
        "region",
        "postcode",
        "country",
    ]
    assert account.chain("postcode") == account.chain("address")
    assert contact.chain("email") == [R.VALID_FIRST, R.WORK_EMAIL_FIRST, R.TRUST, R.MOST_RECENT]
    assert (
        contact.chain("phone")[:2] == contact.chain("mobile")[:2] == [R.VALID_FIRST, R.MOST_RECENT]
    )
    assert account.trust_half_life_days == contact.trust_half_life_days == 365


def test_the_readme_example_is_a_valid_account_spec() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Survivorship rules", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = SurvivorshipSpec.model_validate({"entity": "account", **tomllib.loads(example)})
    assert loaded.chain("city") == [R.MOST_COMPLETE, R.MOST_RECENT]
    assert loaded.trust_scores("phone") == ({"Support": 0.9}, {"ERP": 0.9, "CRM": 0.8})


# ---- acceptance: the newest valid value, on generated data where the truth is known --------


def generated_contacts(seed: int, golden_count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contacts with several records each at distinct random times (a tenth unknown), emails
    and phones a third invalid and a tenth missing; and, per record, which values are valid."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, golden_count)
    golden = np.repeat(np.arange(golden_count), sizes)
    count = len(golden)
    seconds = rng.choice(3 * 365 * 86_400, size=count, replace=False)
    stamps = pd.Series(pd.Timestamp("2022-01-01", tz="UTC") + pd.to_timedelta(seconds, unit="s"))
    stamps[rng.random(count) < 0.1] = pd.NaT
    record_id = rng.permutation(count) + 1
    good_email = np.asarray([f"user{i}@example{i % 7}.com" for i in range(count)], dtype=object)
    bad_email = rng.choice(["u@@example.com", "u.example.com", "u@example", "@example.com"], count)
    area = rng.choice(["212", "415", "617", "312"], count)
    good_phone = np.asarray(
        [
            f"+1 {a} {e} {n:04d}"
            for a, e, n in zip(
                area, rng.integers(200, 999, count), rng.integers(0, 9999, count), strict=True
            )
        ],
        dtype=object,
    )
    bad_phone = rng.choice(["12", "+1 000 000 0000", "555", "+44 12"], count)
    truth: dict[str, Any] = {"golden_id": [f"C{g:04d}" for g in golden], "record_id": record_id}
    frame = pd.DataFrame(truth)
    frame["source"], frame["system"] = "crm", "CRM"
    frame["last_modified"] = stamps.to_numpy()
    for attribute, good, bad in (
        ("email", good_email, bad_email),
        ("phone", good_phone, bad_phone),
    ):
        valid = rng.random(count) >= 1 / 3
        missing = rng.random(count) < 0.1
        raw = pd.Series(np.where(valid, good, bad), dtype="string").mask(missing)
        kind = Kind.EMAIL if attribute == "email" else Kind.PHONE
        frame[attribute] = clean_values(kind, raw)  # as the pipeline passes them: display form
        truth[f"{attribute}_valid"] = valid & ~missing
    for attribute in survived_attribute_names(Entity.CONTACT):
        if attribute not in frame:
            frame[attribute] = pd.array([None] * count, dtype="string")
    return frame, pd.DataFrame(truth)


def newest_valid(frame: pd.DataFrame, truth: pd.DataFrame, attribute: str) -> pd.Series:
    """The truth, computed apart from the rules: per contact, the value of the newest record
    with a valid value (unknown times last, then the lowest record id); else of the newest."""
    known = frame[frame[attribute].notna()].assign(
        invalid=~truth[f"{attribute}_valid"], unknown=frame["last_modified"].isna()
    )
    known = known.assign(newest=known["last_modified"].fillna(pd.Timestamp(0, tz="UTC")))
    ordered = known.sort_values(
        ["golden_id", "invalid", "unknown", "newest", "record_id"],
        ascending=[True, True, True, False, True],
    )
    return ordered.groupby("golden_id")[attribute].first()


def test_golden_value_is_the_newest_valid_value() -> None:
    frame, truth = generated_contacts(seed=20240601, golden_count=400)
    # The generator's own labels agree with validation: the truth does not lean on the rules.
    for attribute, kind in (("email", Kind.EMAIL), ("phone", Kind.PHONE)):
        present = frame[attribute].notna()
        checked = is_valid(kind, frame.loc[present, attribute])
        assert (checked == truth.loc[present, f"{attribute}_valid"]).all()
    chains = {"email": ["valid_first", "most_recent"], "phone": ["valid_first", "most_recent"]}
    rules = spec(Entity.CONTACT, attributes=chains, default=["source_priority"])
    golden = build_golden(rules, frame)
    for attribute in ("email", "phone"):
        expected = newest_valid(frame, truth, attribute)
        actual = golden.values[attribute].dropna()
        assert actual.index.tolist() == expected.index.tolist()
        assert (actual.to_numpy() == expected.to_numpy()).all(), attribute
    # Not a vacuous check: many contacts had a newer invalid value that lost.
    newest_any = frame.dropna(subset=["phone", "last_modified"]).sort_values("last_modified")
    newest_any = newest_any.groupby("golden_id")["phone"].last()
    assert (newest_any != golden.values["phone"].reindex(newest_any.index)).sum() > 20
    # The default contact rules say so for phones too (source_priority only breaks equal times).
    default = build_golden(
        SurvivorshipSpec.model_validate(
            {"entity": "contact", "default": ["source_priority"], **DEFAULT_CONTACT_PHONES}
        ),
        frame,
    )
    assert default.values["phone"].dropna().equals(golden.values["phone"].dropna())


DEFAULT_CONTACT_PHONES = {
    "attributes": {"phone": ["valid_first", "most_recent", "source_priority"]}
}


# ---- properties of the whole builder, every rule type ----------------------------------------

ATTRIBUTES = survived_attribute_names(Entity.ACCOUNT)
GROUP = ["street", "city", "postcode"]
SOURCES = [("erp", "ERP"), ("crm", "CRM"), ("crm_eu", "CRM"), ("web", "Web")]
STAMPS = [None, "2023-01-01", "2024-01-01", "2024-01-01T00:00:00.000001", "2024-03-05"]
VALUES = [None, "", "x", "Acme Inc", "ACME Inc.", "9", "10", "2024-01-02", "+12125550123", "DE"]
RANKING = [rule for rule in R if rule is not R.KEEP_ALL]
GROUP_RULES = [rule for rule in R if rule not in VALUE_RULES]


@st.composite
def catalogue_specs(draw: st.DrawFn) -> SurvivorshipSpec:
    raw: dict[str, Any] = {
        "entity": "account",
        "source_priority": draw(st.lists(st.sampled_from(["ERP", "crm_eu", "Web"]), max_size=3)),
        "default": draw(st.lists(st.sampled_from([R.SOURCE_PRIORITY, R.OLDEST]), min_size=1)),
        "trust": {"ERP": 0.9, "CRM": 0.4, "attributes": {"phone": {"crm_eu": 1.0}}},
        "trust_half_life_days": draw(st.sampled_from([None, 30.0])),
        "attributes": {},
    }
    for attribute in ("name", "phone", "country"):
        chain = draw(st.lists(st.sampled_from(RANKING), max_size=2))
        chain += [R.KEEP_ALL] if draw(st.booleans()) else []
        if chain:
            raw["attributes"][attribute] = chain
    if draw(st.booleans()):
        rules = draw(st.lists(st.sampled_from(GROUP_RULES), min_size=1, max_size=3))
        raw["groups"] = {"address": {"attributes": GROUP, "rules": rules}}
    return SurvivorshipSpec.model_validate(raw)


@st.composite
def member_tables(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(0, 10))
    ids = draw(st.lists(st.integers(-(10**9), 10**9), min_size=count, max_size=count, unique=True))
    table: list[Member] = []
    for record_id in ids:
        source, system = draw(st.sampled_from(SOURCES))
        values = {a: draw(st.sampled_from(VALUES)) for a in ATTRIBUTES}
        golden_id = draw(st.sampled_from(["A1", "A2", "A3"]))
        table.append((golden_id, record_id, source, system, draw(st.sampled_from(STAMPS)), values))
    return members(table)


pin_tables = st.lists(
    st.tuples(
        st.sampled_from(["A1", "A2", "A9"]),
        st.sampled_from(["name", "city", "tax_id"]),
        st.sampled_from(["Pinned", "x"]),
    ),
    max_size=3,
    unique_by=lambda pin: pin[:2],
).map(lambda pins: pd.DataFrame(pins, columns=["golden_id", "attribute", "value"]))


@settings(max_examples=60, deadline=None)
@given(rules=catalogue_specs(), table=member_tables(), pins=pin_tables, data=st.data())
def test_invariant_under_row_order(
    rules: SurvivorshipSpec, table: pd.DataFrame, pins: pd.DataFrame, data: st.DataObject
) -> None:
    expected = build_golden(rules, table, pins=pins)
    order = data.draw(st.permutations(range(len(table))))
    pin_order = data.draw(st.permutations(range(len(pins))))
    actual = build_golden(rules, table.iloc[list(order)], pins=pins.iloc[list(pin_order)])
    pd.testing.assert_frame_equal(actual.values, expected.values)
    pd.testing.assert_frame_equal(actual.lineage, expected.lineage)
    assert actual.now == expected.now


@settings(max_examples=60, deadline=None)
@given(rules=catalogue_specs(), table=member_tables(), pins=pin_tables)
def test_lineage_explains_every_golden_value(
    rules: SurvivorshipSpec, table: pd.DataFrame, pins: pd.DataFrame
) -> None:
    golden = build_golden(rules, table, pins=pins)
    lineage = golden.lineage
    by_record = table.set_index("record_id")
    pinned = {(p.golden_id, p.attribute): p.value for p in pins.itertuples()}
    assert golden.values.index.tolist() == sorted(set(table["golden_id"]))
    for row in lineage.itertuples():
        if row.rule == STEWARD_PIN:
            assert pd.isna(row.record_id)
            assert pinned[(row.golden_id, row.attribute)] == row.value
        else:
            # A member of the same golden record, with that very value.
            assert by_record.at[row.record_id, "golden_id"] == row.golden_id
            assert by_record.at[row.record_id, row.attribute] == row.value
        listed = json.loads(row.beaten)
        assert len(listed) <= MAX_BEATEN
        for item in listed:
            assert by_record.at[item["record_id"], "golden_id"] == row.golden_id
    # Every non-NA golden value is explained: one row with that value, or, for keep_all, one
    # row per value of the array; and no row explains a value that is not there.
    cells = {key: v for key, v in golden.values.stack().items() if not pd.isna(v)}
    explained = lineage.groupby(["golden_id", "attribute"])["value"].agg(list).to_dict()
    assert set(explained) == set(cells)
    for (golden_id, attribute), text in cells.items():
        kept = explained[(golden_id, attribute)]
        keep_all = rules.chain(attribute)[-1] is R.KEEP_ALL
        if keep_all and (golden_id, attribute) not in pinned:
            assert json.loads(text) == sorted(kept)
        else:
            assert kept == [text]


@settings(max_examples=60, deadline=None)
@given(rules=catalogue_specs(), table=member_tables(), pins=pin_tables)
def test_a_group_comes_from_one_record(
    rules: SurvivorshipSpec, table: pd.DataFrame, pins: pd.DataFrame
) -> None:
    golden = build_golden(rules, table, pins=pins)
    if "address" not in rules.groups:
        return
    by_record = table.set_index("record_id")
    grouped = golden.lineage[golden.lineage["group_name"] == "address"]
    pinned = {(p.golden_id, p.attribute) for p in pins.itertuples()}
    for golden_id in golden.values.index:
        sources = set(grouped.loc[grouped["golden_id"] == golden_id, "record_id"])
        assert len(sources) <= 1
        mine = table[table["golden_id"] == golden_id]
        # A pinned attribute's lineage is the pin's, so only the others can name a record.
        unpinned = [a for a in GROUP if (golden_id, a) not in pinned]
        has_address = mine[unpinned].fillna("").ne("").any(axis=1).any()
        assert bool(sources) == has_address
        if not sources:
            continue
        [record] = sources
        for attribute in GROUP:
            if (golden_id, attribute) in pinned:
                continue
            given_value = by_record.at[record, attribute]
            got = golden.values.at[golden_id, attribute]
            assert (pd.isna(got) and (pd.isna(given_value) or given_value == "")) or (
                got == given_value
            )
