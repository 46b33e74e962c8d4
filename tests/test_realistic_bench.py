"""The realistic benchmark's generator and scoring (benchmarks/realistic), small and fast.

A project of a few hundred organisations: its truth is consistent (every live record has a true
entity, every contact's true account exists, every hard case is present), mdm loads its
project file, and the scoring functions give exact figures on hand-made inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.realistic import scoring
from benchmarks.realistic.project import (
    RealisticProject,
    build_project,
    project_toml,
    read_truth,
)
from benchmarks.realistic.systems import KeyMaker, _base62, split_name
from benchmarks.realistic.textops import digits_typo, phone_text, typo

COMPANIES = 500
SEED = 7


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> RealisticProject:
    directory = tmp_path_factory.mktemp("realistic") / "project"
    return build_project(directory, companies=COMPANIES, seed=SEED, nights=2)


@pytest.fixture(scope="module")
def truth(project: RealisticProject) -> dict[str, pd.DataFrame]:
    return read_truth(project.directory)


# ---- the generator's truth --------------------------------------------------------------------


def test_project_file_loads(project: RealisticProject) -> None:
    from mdm.config.load import load_project

    loaded = load_project(project.directory)
    names = [source.name for source in loaded.spec.sources]
    assert names == [
        "crm_accounts",
        "erp_customers",
        "acq_accounts",
        "crm_contacts",
        "erp_contacts",
        "marketing_leads",
        "support_requesters",
        "acq_contacts",
    ]


def test_every_live_record_has_a_true_entity(
    project: RealisticProject, truth: dict[str, pd.DataFrame]
) -> None:
    from benchmarks.realistic.records import raw_records
    from mdm.config.load import load_project
    from mdm.schema import Entity

    loaded = load_project(project.directory)
    for entity, name in ((Entity.ACCOUNT, "accounts"), (Entity.CONTACT, "contacts")):
        records = raw_records(loaded, entity, project.nights)
        keyed = truth[name].set_index(["source", "source_key"])
        found = keyed.reindex(pd.MultiIndex.from_frame(records[["source", "source_key"]]))
        assert found["entity_id"].notna().all(), f"{entity} records without a true entity"
        assert (found["entity_id"] != "").all()
        # The live records mdm reads are exactly those the truth calls live.
        assert found["live"].all()
        assert len(records) == int(truth[name]["live"].sum()) == project.records[str(entity)]
        assert not keyed.index.duplicated().any()


def test_true_values_and_accounts(truth: dict[str, pd.DataFrame]) -> None:
    accounts = set(truth["account_entities"]["entity_id"])
    contacts = truth["contact_entities"]
    assert set(truth["accounts"]["entity_id"]) <= accounts
    assert set(truth["contacts"]["entity_id"]) <= set(contacts["entity_id"])
    assert set(contacts["account_entity"]) <= accounts  # every contact's true account exists
    partners = contacts.loc[contacts["partner"] != "", ["entity_id", "partner"]]
    back = contacts.set_index("entity_id")["partner"].reindex(partners["partner"]).to_numpy()
    assert (back == partners["entity_id"].to_numpy()).all()  # pairs name each other
    assert (contacts["first_name"] != "").all() and (contacts["last_name"] != "").all()
    assert truth["account_entities"]["phone"].str.fullmatch(r"\+1\d{10}").all()


def test_every_hard_case_is_present(project: RealisticProject) -> None:
    absent = sorted(name for name, count in project.hard_cases.items() if count <= 0)
    assert not absent, f"hard cases absent from the data: {absent}"
    for name in (
        "relatives_in_family_business",
        "relatives_at_other_companies",
        "colleagues_with_same_first_name",
        "name_twins_same_company",
        "name_twins_other_company",
        "full_name_only_records",
        "people_with_personal_and_work_email",
        "people_missing_email_in_one_source",
        "nickname_records",
        "name_typo_records",
        "upper_case_name_records",
        "brand_locations_sharing_a_city",
        "moved_companies_with_old_address_kept",
        "postcodes_missing",
        "postcodes_leading_zero_lost",
        "postcodes_zip_plus_4",
        "postcodes_typo",
        "stale_titles",
        "stale_phones",
        "stale_emails",
        "crm_duplicate_accounts",
        "erp_names_split_over_two_columns",
        "night_inserts",
        "night_updates",
        "night_deletes",
    ):
        assert project.hard_cases[name] > 0, name


def test_extracts_are_written_as_their_systems_write_them(project: RealisticProject) -> None:
    data = project.directory / "data"
    erp = pd.read_csv(data / "erp_customers.csv", sep=";", encoding="latin-1", dtype=str)
    assert (erp["CUSTNAME"].dropna() == erp["CUSTNAME"].dropna().str.upper()).all()
    assert erp["CUSTNAME"].dropna().str.len().max() <= 35
    assert erp["LASTCHG"].str.fullmatch(r"\d{14}").all()
    zips = erp["ZIP"].dropna()
    assert zips.str.fullmatch(r"\d{4}").any()  # New England ZIPs without their zero
    support = pd.read_csv(data / "support_requesters.csv", dtype=str)
    assert "Full Name" in support and "first_name" not in support
    assert support["Full Name"].str.contains(",").any()
    assert support["updated_at"].str.fullmatch(r"\d{10}").all()
    nights = [pd.read_csv(project.delivery(k) / "crm_contacts.csv", dtype=str) for k in (1, 2)]
    assert set(pd.concat(nights)["op"]) == {"I", "U", "D"}
    leads = pd.read_json(data / "marketing_leads.jsonl", lines=True, dtype=str)
    assert leads["updated"].str.fullmatch(r"\d\d/\d\d/\d{4}").all()


def test_deterministic(tmp_path: Path, project: RealisticProject) -> None:
    again = build_project(tmp_path / "again", companies=COMPANIES, seed=SEED, nights=2)
    for name in (
        "truth/contacts.csv",
        "data/erp_customers.csv",
        "deliveries/night-2/crm_contacts.csv",
    ):
        assert (again.directory / name).read_bytes() == (project.directory / name).read_bytes()
    assert again.hard_cases == project.hard_cases


def test_project_file_without_the_new_keys() -> None:
    text = project_toml(new_keys=False)
    assert "last_modified_format" not in text and "op_column" not in text
    assert "full_name" not in text and "= [" not in text
    assert 'deleted_flag = "_deleted"' in text


def test_generator_helpers() -> None:
    assert split_name("NORTHEAST PRECISION MFG SALES AND SERVICE LLC") == (
        "NORTHEAST PRECISION MFG SALES AND",
        "SERVICE LLC",
    )
    assert split_name("ACME INC") == ("ACME INC", "")
    assert phone_text(
        np.array(["2035550143", "2035550143"], dtype=object),
        np.array([0, 2]),
        np.array(["", "12"], dtype=object),
    ).tolist() == ["(203) 555-0143", "203.555.0143 ext. 12"]
    assert typo("Robert", 0.0, 0.0, 0.0) == "Rbert"
    assert digits_typo("06902", 0.0, 1) == "16902"
    keys = KeyMaker("sf_account", 3).take(4)
    assert len(set(keys)) == 4 and all(k.startswith("0015e0000") and len(k) == 15 for k in keys)
    assert keys[0] == f"0015e0000{_base62((3 * 7919 * 1_000_003 + 17) % 62**6, 6)}"


# ---- scoring on hand-made inputs --------------------------------------------------------------


def _labels(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"source": "s", "source_key": [k for k, _ in pairs], "label": [v for _, v in pairs]}
    )


def _truth(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"source": "s", "source_key": [k for k, _ in pairs], "entity_id": [v for _, v in pairs]}
    )


def test_pairwise_and_majority() -> None:
    # Truth: {1,2,3} {4,5} {6}; predicted: {1,2} {3,4,5} {6}; record 7 has no truth.
    truth = _truth([("1", "A"), ("2", "A"), ("3", "A"), ("4", "B"), ("5", "B"), ("6", "C")])
    labels = _labels(
        [("1", "g1"), ("2", "g1"), ("3", "g2"), ("4", "g2"), ("5", "g2"), ("6", "g3"), ("7", "g9")]
    )
    scores = scoring.pairwise(labels, truth)
    assert scores["records"] == 6
    assert scores["true_pairs"] == 4 and scores["predicted_pairs"] == 4
    assert scores["true_positives"] == 2
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5
    answer = scoring.majority(labels, truth)
    assert answer.to_dict() == {"A": "g1", "B": "g2", "C": "g3"}
    # A tie goes to the smallest label.
    tie = scoring.majority(_labels([("1", "g2"), ("2", "g1")]), _truth([("1", "A"), ("2", "A")]))
    assert tie.to_dict() == {"A": "g1"}


def test_golden_accuracy_counts_attainable_values_in_match_form() -> None:
    golden = pd.DataFrame(
        {
            "golden_id": ["g1", "g2", "g3"],
            "name": ["ACME Inc.", "Globex", "Initech"],
            "phone": ["+12035550143", "'+12035550100 ext. 4", ""],
        }
    )
    answer = pd.Series({"A": "g1", "B": "g2", "C": "g3"})
    truth_values = pd.DataFrame(
        {
            "entity_id": ["A", "B", "C"],
            "name": ["Acme Corporation", "Globex Corp", "Initrode"],
            "phone": ["(203) 555-0143", "203.555.0100", "+12035550199"],
        }
    )
    # Records in match form: C's true name is in none of its records (not attainable).
    records = pd.DataFrame(
        {
            "entity_id": ["A", "B", "C", "C"],
            "name": ["acme", "globex", "initech", "initech"],
            "phone": ["+12035550143", "+12035550100", "+12035550199", None],
        }
    )
    accuracy = scoring.golden_accuracy(
        "account", golden, answer, truth_values, records, ["name", "phone"]
    )
    assert accuracy["name"] == {"counted": 2, "correct": 2, "accuracy": 1.0}
    # C's golden phone is empty though its true phone is in a record: counted, wrong.
    assert accuracy["phone"] == {"counted": 3, "correct": 2, "accuracy": round(2 / 3, 6)}
    assert accuracy["overall"] == {"counted": 5, "correct": 4, "accuracy": 0.8}


def test_attachment_accuracy() -> None:
    contact_answer = pd.Series({"P1": "c1", "P2": "c2", "P3": "c3", "P4": "c4"})
    account_answer = pd.Series({"A1": "a1", "A2": "a2"})  # A3 has no account records
    golden_contacts = pd.DataFrame(
        {"golden_id": ["c1", "c2", "c3", "c4"], "account_id": ["a1", "a1", "", "a9"]}
    )
    account_of = pd.Series({"P1": "A1", "P2": "A2", "P3": "A2", "P4": "A3"})
    result = scoring.attachment_accuracy(
        contact_answer, account_answer, golden_contacts, account_of
    )
    assert result == {
        "attachable": 3,
        "correct": 1,
        "unlinked": 1,
        "wrong_account": 1,
        "accuracy": round(1 / 3, 6),
    }


def test_delta_vs_full() -> None:
    delta = pd.DataFrame(
        {
            "entity": "contact",
            "source": "s",
            "source_key": ["1", "2", "3", "4", "5"],
            "golden_id": ["x", "x", "y", "y", "z"],
        }
    )
    same = scoring.delta_vs_full(delta, delta.copy())
    assert same == {
        "records": 5,
        "records_in_one_only": 0,
        "changed_golden_id": 0,
        "changed_cluster": 0,
    }
    full = delta.assign(golden_id=["x", "x", "y", "w", "z"])  # 4 leaves y for a cluster of its own
    moved = scoring.delta_vs_full(delta, full)
    assert moved["changed_golden_id"] == 1
    assert moved["changed_cluster"] == 2  # 3 and 4: y's members differ
    renamed = delta.assign(golden_id=["q", "q", "y", "y", "z"])  # same clusters, another id
    assert scoring.delta_vs_full(delta, renamed)["changed_cluster"] == 0
    assert scoring.delta_vs_full(delta, renamed)["changed_golden_id"] == 2
    a = pd.DataFrame({"golden_id": ["x", "y"], "name": ["A", "B"], "updated_run": ["1", "2"]})
    b = pd.DataFrame({"golden_id": ["x", "y"], "name": ["A", "C"], "updated_run": ["3", "3"]})
    assert scoring.golden_differences(a, b) == 1
