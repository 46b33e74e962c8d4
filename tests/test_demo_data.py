"""The demo generator: its files, project file, encodings, truth, hard cases and determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import phonenumbers
import pytest

from mdm.config.specs import ProjectSpec, SourceFormat, SourceSpec
from mdm.demo import DemoTruth, generate_demo, vocabulary

SOURCE_FILES = (
    "data/crm_accounts.csv",
    "data/crm_contacts.csv",
    "data/erp_customers.csv",
    "data/marketing_leads.jsonl",
    "data/support_contacts.parquet",
)
FILES = (*SOURCE_FILES, "truth/accounts.csv", "truth/contacts.csv", "mdm.toml")
PERSONAL_DOMAINS = {d for c in vocabulary.COUNTRIES for d in c.personal_email_domains}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoTruth]:
    directory = tmp_path_factory.mktemp("demo")
    return directory, generate_demo(directory, faults=False)


@pytest.fixture(scope="module")
def spec(demo: tuple[Path, DemoTruth]) -> ProjectSpec:
    return ProjectSpec.model_validate(tomllib.loads((demo[0] / "mdm.toml").read_text("utf-8")))


@pytest.fixture(scope="module")
def tables(demo: tuple[Path, DemoTruth], spec: ProjectSpec) -> dict[str, pd.DataFrame]:
    return {source.name: read_source(demo[0], source) for source in spec.sources}


def read_source(directory: Path, source: SourceSpec) -> pd.DataFrame:
    """Every value as text ("" for empty), keys included, as the project file says to read."""
    assert source.path is not None
    path = directory / source.path
    if source.format is SourceFormat.CSV:
        return pd.read_csv(
            path,
            sep=source.delimiter,
            encoding=source.encoding,
            dtype=str,
            keep_default_na=False,
        )
    if source.format is SourceFormat.JSONL:
        with path.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        frame = pd.DataFrame(rows)
    else:
        frame = pd.read_parquet(path)
    return frame.astype(str).where(frame.notna(), "")


def truth_of(truth: DemoTruth, source: str) -> pd.DataFrame:
    frame = pd.concat([truth.accounts, truth.contacts], ignore_index=True)
    return frame[frame["source"] == source]


def joined(
    tables: dict[str, pd.DataFrame], spec: ProjectSpec, truth: DemoTruth, source: str
) -> pd.DataFrame:
    """A source's rows with the true entity of each."""
    key = spec.sources[[s.name for s in spec.sources].index(source)].key
    return tables[source].merge(truth_of(truth, source), left_on=key, right_on="source_key")


def digits(phone: str) -> str:
    """The last seven digits of a phone number, its extension dropped."""
    number = re.split(r" ext\.? | x|Ext\. ", phone)[0]
    return re.sub(r"\D", "", number)[-7:]


# ---- files and the project file --------------------------------------------------------------


def test_every_file_is_written(demo: tuple[Path, DemoTruth]) -> None:
    for name in FILES:
        assert (demo[0] / name).stat().st_size > 0, name


def test_project_file_validates_with_five_sources(spec: ProjectSpec) -> None:
    described = {(s.name, s.system, s.entity.value, s.account_source) for s in spec.sources}
    assert described == {
        ("crm_accounts", "CRM", "account", None),
        ("erp_customers", "ERP", "account", None),
        ("crm_contacts", "CRM", "contact", "crm_accounts"),
        ("marketing_leads", "Marketing", "contact", None),
        ("support_contacts", "Support", "contact", "crm_accounts"),
    }
    assert spec.store.url == "sqlite:///mdm.db"
    assert (spec.paths.rules, spec.paths.exports) == (Path("rules"), Path("exports"))
    assert all(source.last_modified for source in spec.sources)


def test_project_file_is_commented_text(demo: tuple[Path, DemoTruth]) -> None:
    text = (demo[0] / "mdm.toml").read_text("utf-8")
    blocks = text.split("[[sources]]")
    # Every source block is introduced by a comment saying what the system is.
    assert all(block.rstrip().splitlines()[-1].startswith("#") for block in blocks[:-1])


def test_mapped_columns_exist_in_each_file(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame]
) -> None:
    for source in spec.sources:
        missing = set(source.source_columns) - set(tables[source.name].columns)
        assert not missing, (source.name, missing)


def test_erp_file_is_latin1_and_semicolon_delimited(demo: tuple[Path, DemoTruth]) -> None:
    raw = (demo[0] / "data/erp_customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    lines = raw.decode("latin-1").splitlines()
    header = lines[0].split(";")
    assert header[:2] == ["KUNNR", "NAME1"]
    assert all(line.count(";") == len(header) - 1 for line in lines)
    # The names are what breaks UTF-8: "MÜLLER", "SOCIÉTÉ" in one byte per letter.
    names = [line.split(";")[1] for line in lines[1:]]
    assert any(not name.isascii() for name in names)
    broken = [line for line in raw.splitlines()[1:] if not _utf8(line)]
    assert any(not line.split(b";")[1].isascii() for line in broken)


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_vocabulary_fits_latin1() -> None:
    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, tuple | list):
            return [s for item in value for s in strings(item)]
        if isinstance(value, dict):
            return [s for pair in value.items() for s in strings(pair)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return [
                s
                for field in dataclasses.fields(value)
                for s in strings(getattr(value, field.name))
            ]
        return []

    data = [getattr(vocabulary, name) for name in dir(vocabulary) if not name.startswith("_")]
    texts = [s for value in data for s in strings(value)]
    assert len(texts) > 1000
    for text in texts:
        text.upper().encode("latin-1")  # the ERP writes names upper-case


# ---- truth ----------------------------------------------------------------------------------


def test_truth_covers_every_record_exactly_once(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    truth = demo[1]
    for frame in (truth.accounts, truth.contacts):
        assert not frame.duplicated(["source", "source_key"]).any()
        assert frame.notna().all().all()
    for source in spec.sources:
        keys = tables[source.name][source.key]
        assert keys.is_unique, source.name
        assert sorted(keys) == sorted(truth_of(truth, source.name)["source_key"]), source.name


def test_truth_files_match_returned_truth(demo: tuple[Path, DemoTruth]) -> None:
    directory, truth = demo
    for name, frame in (("accounts", truth.accounts), ("contacts", truth.contacts)):
        written = pd.read_csv(directory / "truth" / f"{name}.csv", dtype=str)
        pd.testing.assert_frame_equal(written, frame.astype(str), check_dtype=False)


def test_account_keys_point_at_the_true_organisation(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    truth = demo[1]
    accounts = truth_of(truth, "crm_accounts").set_index("source_key")["entity_id"]
    for source, column in (("crm_contacts", "AccountId"), ("support_contacts", "org_key")):
        rows = joined(tables, spec, truth, source)
        linked = rows[rows[column] != ""]
        assert len(linked) > 0.5 * len(rows)
        assert (linked[column].map(accounts) == linked["account_entity_id"]).all(), source


def test_counts_at_the_default_size(demo: tuple[Path, DemoTruth]) -> None:
    truth = demo[1]
    assert truth.accounts["entity_id"].nunique() == 600  # every organisation has a record
    assert 800 <= len(truth.accounts) <= 1100
    assert 2100 <= len(truth.contacts) <= 2900
    assert set(truth.contacts["account_entity_id"]) <= set(truth.accounts["entity_id"])


def test_duplicate_rates_are_within_their_bands(demo: tuple[Path, DemoTruth]) -> None:
    truth = demo[1]

    def duplicate_rate(source: str) -> float:
        rows = truth_of(truth, source)
        return 1 - rows["entity_id"].nunique() / len(rows)

    assert 0.06 <= duplicate_rate("crm_accounts") <= 0.10
    assert 0.01 <= duplicate_rate("erp_customers") <= 0.05
    assert 0.03 <= duplicate_rate("crm_contacts") <= 0.07
    assert 0.04 <= duplicate_rate("marketing_leads") <= 0.10
    organisations = truth.accounts["entity_id"].nunique()
    in_erp = truth_of(truth, "erp_customers")["entity_id"].nunique()
    assert 0.52 <= in_erp / organisations <= 0.68


# ---- the hard cases are there -----------------------------------------------------------------


def test_same_names_in_other_cities_are_other_organisations(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    rows = joined(tables, spec, demo[1], "crm_accounts")
    shared = rows.groupby("Name").filter(lambda group: group["entity_id"].nunique() > 1)
    assert shared["Name"].nunique() >= 3
    assert (shared.groupby("Name")["BillingCity"].nunique() > 1).any()


def test_branches_share_a_domain(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    rows = joined(tables, spec, demo[1], "crm_accounts")
    rows = rows[rows["Website"] != ""]
    domain = rows["Website"].str.replace(r"^(https?://)?(www\.)?", "", regex=True)
    domain = domain.str.split("/").str[0]
    organisations = rows.groupby(domain)["entity_id"].nunique()
    assert (organisations > 1).sum() >= 3


def test_crm_duplicates_vary(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    rows = joined(tables, spec, demo[1], "crm_accounts")
    repeated = rows[rows["entity_id"].duplicated(keep=False)]
    for column in ("Name", "Phone", "Website", "BillingStreet"):
        assert (repeated.groupby("entity_id")[column].nunique() > 1).any(), column
    assert (repeated["Phone"] == "").any() or (repeated["Website"] == "").any()
    assert rows["Name"].str.contains("Incorporated").any()
    assert (rows["IsDeleted"] == "true").sum() >= 3


def test_erp_names_are_upper_case_and_abbreviated(tables: dict[str, pd.DataFrame]) -> None:
    names = tables["erp_customers"]["NAME1"]
    assert (names == names.str.upper()).all()
    assert (names.str.len() <= 35).all()
    assert names.str.contains(r"\b(?:HLDGS|INTL|SVCS|SYS|TECH|GRP|ENGG|MFG)\b").any()
    countries = set(tables["erp_customers"]["COUNTRY"])
    assert {"US", "GB", "DE", "FR", "NL"} <= countries


def test_people_go_by_nicknames_and_lose_accents(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    nicknames = {
        (name.name, nick)
        for country in vocabulary.COUNTRIES
        for name in country.first_names
        for nick in name.nicknames
    }
    crm = joined(tables, spec, demo[1], "crm_contacts")[["entity_id", "FirstName", "LastName"]]
    leads = joined(tables, spec, demo[1], "marketing_leads")[["entity_id", "first", "last"]]
    leads.columns = crm.columns
    both = pd.concat([crm, leads]).drop_duplicates()
    firsts = both.groupby("entity_id")["FirstName"].agg(set)
    assert any(pair <= names for names in firsts for pair in map(set, nicknames))
    assert both["LastName"].str.contains(r"^[^,]+, \w", regex=True).any()  # "Last, First"
    accented = both[~both["LastName"].map(str.isascii)]
    assert len(accented) > 20


def test_emails_personal_missing_and_shared_by_families(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    leads = joined(tables, spec, demo[1], "marketing_leads")
    domains = leads["email"].str.split("@").str[-1].str.lower()
    assert 0.1 <= domains.isin(PERSONAL_DOMAINS).mean() <= 0.4
    assert (leads["email"] == "").any()
    frames = [
        joined(tables, spec, demo[1], source)[["entity_id", column]].set_axis(
            ["entity", "email"], axis=1
        )
        for source, column in (
            ("crm_contacts", "Email"),
            ("marketing_leads", "email"),
            ("support_contacts", "email"),
        )
    ]
    emails = pd.concat(frames)
    emails = emails[emails["email"] != ""]
    people = emails.groupby(emails["email"].str.strip().str.lower())["entity"].nunique()
    assert (people > 1).any()  # a family's mailbox: one address, two people


def test_relatives_share_a_phone(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    crm = joined(tables, spec, demo[1], "crm_contacts")
    crm = crm[crm["Phone"] != ""].assign(line=lambda f: f["Phone"].map(digits))
    people = crm.groupby(["LastName", "line"])["entity_id"].nunique()
    assert (people > 1).any()


def test_a_contact_changed_phone_and_support_is_newer(
    spec: ProjectSpec, tables: dict[str, pd.DataFrame], demo: tuple[Path, DemoTruth]
) -> None:
    crm = joined(tables, spec, demo[1], "crm_contacts")
    support = joined(tables, spec, demo[1], "support_contacts")
    crm = crm[crm["Phone"] != ""]
    crm_time = pd.to_datetime(crm["LastModifiedDate"], utc=True)
    latest = crm.assign(time=crm_time).groupby("entity_id")["time"].max()
    pairs = support.merge(crm[["entity_id", "Phone"]], on="entity_id")
    pairs = pairs[pairs["phone"] != ""]
    changed = pairs[pairs["phone"].map(digits) != pairs["Phone"].map(digits)]
    newer = pd.to_datetime(changed["modified"], utc=True) > changed["entity_id"].map(latest)
    assert newer.sum() >= 3


def test_phones_are_valid_numbers(tables: dict[str, pd.DataFrame]) -> None:
    erp = tables["erp_customers"]
    erp = erp[erp["TEL"] != ""]
    valid = [
        phonenumbers.is_valid_number(phonenumbers.parse(tel, country))
        for tel, country in zip(erp["TEL"], erp["COUNTRY"], strict=True)
    ]
    assert sum(valid) == len(valid)


# ---- determinism and scale ------------------------------------------------------------------


def _hashes(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    generate_demo(tmp_path / "a", accounts=150, seed=11)
    # The second run is another process with other string hashing: nothing may depend on it.
    script = "import sys; from pathlib import Path; from mdm.demo import generate_demo; "
    script += "generate_demo(Path(sys.argv[1]), accounts=150, seed=11)"
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "b")], check=True, env=environment)
    generate_demo(tmp_path / "c", accounts=150, seed=12)
    first, again, other = (_hashes(tmp_path / run) for run in "abc")
    assert first == again
    assert all(first[name] != other[name] for name in SOURCE_FILES)


def test_a_large_run_finishes(tmp_path: Path) -> None:
    truth = generate_demo(tmp_path, accounts=20_000, seed=3)
    assert truth.accounts["entity_id"].nunique() == 20_000
    assert len(truth.contacts) > 60_000


def test_at_least_one_organisation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_demo(tmp_path, accounts=0)
