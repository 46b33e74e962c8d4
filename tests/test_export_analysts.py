"""``mdm export`` for analysts: contacts with their accounts, history, filters (entity, changed
since a run or a date, source), CSV cells safe for spreadsheets, Parquet with its types, and
masks of personal data (reversible with the project's key, or keyed hashes).

Each test runs a small real project (three sources, a formula for a company name) on SQLite and
on PostgreSQL, calls the command as a user does and reads the files back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import typing
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from first_runs import first_run
from typer.testing import CliRunner, Result

from mdm import cli
from mdm.cli import run_commands
from mdm.project_files import DEFAULT_RULES
from mdm.publish.mask import KEY_ENV, KEY_FILE, MaskMode
from mdm.publish.tables import FORMULA_STARTS, escape_formula
from mdm.publish.writers import utc_moment
from mdm.schema import Entity
from mdm.store import open_store, runs

PROJECT = """
[store]
url = "{url}"

[[sources]]
name = "crm"
system = "CRM"
entity = "account"
format = "csv"
path = "data/accounts.csv"
key = "Id"
last_modified = "Modified"

[sources.mapping]
name = "Name"
phone = "Phone"
postcode = "Zip"
country = "Country"

[[sources]]
name = "crm_contacts"
system = "CRM"
entity = "contact"
format = "csv"
path = "data/contacts.csv"
key = "Id"
last_modified = "Modified"
account_source = "crm"

[sources.mapping]
first_name = "First"
last_name = "Last"
email = "Email"
title = "Title"
account_key = "AccountId"

[[sources]]
name = "mkt"
system = "Marketing"
entity = "contact"
format = "csv"
path = "data/leads.csv"
key = "Id"
last_modified = "Modified"

[sources.mapping]
full_name = "Name"
email = "Email"
company = "Company"
"""

HYPERLINK = '=HYPERLINK("x")'
ACCOUNTS = [
    ["Id", "Name", "Phone", "Zip", "Country", "Modified"],
    ["1", "Acme Inc", "+14155550101", "94105", "US", "2024-01-01"],
    ["2", "Globex GmbH", "+4989123456", "80331", "DE", "2024-01-02"],
    ["3", HYPERLINK, "+12125550123", "10001", "US", "2024-01-03"],
    ["4", "Acme Incorporated", "+14155550199", "94107", "US", "2024-01-04"],
]
CONTACTS = [
    ["Id", "First", "Last", "Email", "Title", "AccountId", "Modified"],
    ["c1", "Ann", "Lee", "ann@acme.com", "-12.5", "1", "2024-01-01"],
    ["c2", "Bob", "Stone", "bob@globex.de", "+1 212 555 0123", "2", "2024-01-02"],
    ["c3", "Cy", "Park", "cy@hyper.example", "@SUM(A1)", "3", "2024-01-03"],
    ["c4", "Eve", "Moss", "eve@acme.com", "CFO", "4", "2024-01-04"],
]
LEADS = [
    ["Id", "Name", "Email", "Company", "Modified"],
    ["m1", "Ann Lee", "ann@acme.com", "Acme Inc", "2024-02-01"],
    ["m2", "Dee Ray", "dee@initech.example", "Initech", "2024-02-02"],
]

# The golden ids the run gives (derived from each cluster's first record: the same on every
# store and every run).
ACME, GLOBEX, FORMULA_CO, ACME_INC = (
    "A-2f8e12689139",
    "A-e8f5a14d3c56",
    "A-c00775b6c57f",
    "A-6dd128b09ec4",
)
ANN, BOB, CY, EVE, DEE = (
    "C-4316ccad0468",
    "C-0cff38c98a5b",
    "C-372c61e84c71",
    "C-437984416eae",
    "C-825cb8fc8b94",
)
PERSONAL_VALUES = ["Ann", "Lee", "Bob", "Stone", "Eve", "Moss", "Dee", "Ray", "ann@acme.com"]
PERSONAL_VALUES += ["bob@globex.de", "eve@acme.com", "dee@initech.example", "cy@hyper.example"]
PERSONAL_VALUES += ["+14155550101", "+4989123456", "+12125550123", "+14155550199"]
BASE_FILES = ["accounts", "contacts", "lineage", "xref"]
ALL_FILES = sorted([*BASE_FILES, "account_contacts", "history_events", "history_versions"])
EVERYTHING = ["--include", "account_contacts", "--include", "history"]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line each, so that a value is found whole."""
    monkeypatch.setattr(cli.console, "width", 400)
    monkeypatch.setattr(cli.errors, "width", 400)
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Path:
    """The project after its first run."""

    def prepare(folder: Path) -> None:
        folder.mkdir()
        (folder / "mdm.toml").write_text(PROJECT.format(url=store_url), encoding="utf-8")
        shutil.copytree(DEFAULT_RULES, folder / "rules")
        write_csv(folder / "data" / "accounts.csv", ACCOUNTS)
        write_csv(folder / "data" / "contacts.csv", CONTACTS)
        write_csv(folder / "data" / "leads.csv", LEADS)

    def run(folder: Path) -> None:
        ran = mdm("run", "-p", str(folder))
        assert ran.exit_code == 0, ran.output

    return first_run(tmp_path / "p", store_url, "analysts", prepare, run).root


def mdm(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def export(project: Path, out: Path, *args: str) -> Path:
    done = mdm("export", "-p", str(project), "--out", str(out), *args)
    assert done.exit_code == 0, done.output
    return out


def text_of(folder: Path, name: str) -> str:
    return (folder / f"{name}.csv").read_bytes().decode("utf-8").replace(os.linesep, "\n")


def files_of(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.iterdir() if not path.name.startswith("."))


def run_times(project: Path) -> dict[str, str]:
    """<run N> -> when run N started, as the export writes it."""
    url = (project / "mdm.toml").read_text(encoding="utf-8").split('url = "')[1].split('"')[0]
    store = open_store(url)
    try:
        with store.transaction() as connection:
            recent = runs.recent_runs(connection, 10)
    finally:
        store.close()
    return {
        f"<run {run_id}>": utc_moment(started.to_pydatetime()).isoformat(timespec="microseconds")
        for run_id, started in zip(recent["id"], recent["started_at"], strict=True)
    }


def with_times(expected: str, times: dict[str, str]) -> str:
    for placeholder, moment in times.items():
        expected = expected.replace(placeholder, moment)
    return expected


def merge_acme(project: Path) -> None:
    """A steward merges the two Acme accounts: run 2."""
    merged = mdm("merge", ACME, ACME_INC, "-p", str(project))
    assert merged.exit_code == 0, merged.output


# ---- exact contents ---------------------------------------------------------------------------


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


def json_cell(values: dict[str, str | None]) -> str:
    """A JSON object as a CSV cell: quoted, its quotes doubled."""
    text = json.dumps(values, ensure_ascii=False, sort_keys=True)
    return '"' + text.replace('"', '""') + '"'


ACCOUNTS_HEADER = ",".join(
    [
        "golden_id",
        "name",
        "domain",
        "phone",
        "street",
        "city",
        "region",
        "postcode",
        "country",
        "tax_id",
        "members",
        "created_run",
        "updated_run",
    ]
)
CONTACTS_HEADER = ",".join(
    [
        "golden_id",
        "account_id",
        "account_link",
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "title",
        "company",
        "members",
        "created_run",
        "updated_run",
    ]
)
ACCOUNT_CONTACTS_HEADER = ",".join(
    [
        "account_id",
        "account_name",
        "account_domain",
        "account_phone",
        "account_city",
        "account_region",
        "account_country",
        "contact_id",
        "account_link",
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "title",
        "company",
        "members",
        "updated_run",
    ]
)
LINEAGE_HEADER = ",".join(
    [
        "entity",
        "golden_id",
        "attribute",
        "value",
        "source",
        "source_key",
        "record_id",
        "rule",
        "candidates",
        "group_name",
        "beaten",
        "run_id",
    ]
)
EVENTS_HEADER = "entity,golden_id,event,other_id,run_id,run_command,run_started_at"
VERSIONS_HEADER = ",".join(
    [
        "entity",
        "golden_id",
        "version",
        "status",
        "members",
        "latest",
        "record",
        "run_id",
        "run_command",
        "run_started_at",
    ]
)
FORMULA_CELL = '"\'=HYPERLINK(""x"")"'
ACCOUNTS_CSV = lines(
    ACCOUNTS_HEADER,
    f"{ACME},Acme Inc,,+14155550101,,,,94105,US,,1,1,1",
    f"{ACME_INC},Acme Incorporated,,+14155550199,,,,94107,US,,1,1,1",
    f"{FORMULA_CO},{FORMULA_CELL},,+12125550123,,,,10001,US,,1,1,1",
    f"{GLOBEX},Globex GmbH,,+4989123456,,,,80331,DE,,1,1,1",
)
DEE_ROW = f",,,,,,,{DEE},,Dee,,Ray,dee@initech.example,,,,Initech,1,1"
ACCOUNT_CONTACTS_CSV = lines(
    ACCOUNT_CONTACTS_HEADER,
    f"{ACME},Acme Inc,,+14155550101,,,US,{ANN},account_key,Ann,,Lee,ann@acme.com,,,-12.5,"
    "Acme Inc,2,1",
    f"{ACME_INC},Acme Incorporated,,+14155550199,,,US,{EVE},account_key,Eve,,Moss,"
    "eve@acme.com,,,CFO,,1,1",
    f"{FORMULA_CO},{FORMULA_CELL},,+12125550123,,,US,{CY},account_key,Cy,,Park,"
    "cy@hyper.example,,,'@Sum(A1),,1,1",
    f"{GLOBEX},Globex GmbH,,+4989123456,,,DE,{BOB},account_key,Bob,,Stone,bob@globex.de,,,"
    "'+1 212 555 0123,,1,1",
    DEE_ROW,
)
XREF_CSV = lines(
    "entity,source,source_key,golden_id",
    f"account,crm,1,{ACME}",
    f"account,crm,2,{GLOBEX}",
    f"account,crm,3,{FORMULA_CO}",
    f"account,crm,4,{ACME_INC}",
    f"contact,crm_contacts,c1,{ANN}",
    f"contact,crm_contacts,c2,{BOB}",
    f"contact,crm_contacts,c3,{CY}",
    f"contact,crm_contacts,c4,{EVE}",
    f"contact,mkt,m1,{ANN}",
    f"contact,mkt,m2,{DEE}",
)
EVENTS_CSV = lines(
    EVENTS_HEADER,
    *(
        f"account,{golden_id},created,,1,run,<run 1>"
        for golden_id in sorted([ACME, ACME_INC, FORMULA_CO, GLOBEX])
    ),
    *(f"contact,{golden_id},created,,1,run,<run 1>" for golden_id in [BOB, CY, ANN, EVE, DEE]),
)
CONTACT_RECORD: dict[str, str | None] = dict.fromkeys(
    [
        "account_id",
        "account_link",
        "company",
        "email",
        "first_name",
        "last_name",
        "middle_name",
        "mobile",
        "phone",
        "title",
    ]
)
ANN_RECORD = {
    **CONTACT_RECORD,
    **{"account_id": ACME, "account_link": "account_key", "company": "Acme Inc"},
    **{"email": "ann@acme.com", "first_name": "Ann", "last_name": "Lee", "title": "-12.5"},
}
ANN_VERSION = f"contact,{ANN},1,active,2,true,{json_cell(ANN_RECORD)},1,run,<run 1>"
FORMULA_LINEAGE = lines(
    f"account,{FORMULA_CO},country,US,crm,3,3,most_complete,1,address,[],1",
    f"account,{FORMULA_CO},name,{FORMULA_CELL},crm,3,3,most_frequent,1,,[],1",
    f"account,{FORMULA_CO},phone,+12125550123,crm,3,3,valid_first,1,,[],1",
    f"account,{FORMULA_CO},postcode,10001,crm,3,3,most_complete,1,address,[],1",
)


def beaten(value: str, record_id: int) -> str:
    """A lineage row's beaten values as a CSV cell: one value, with the record it came from."""
    return f'"[{{""value"": ""{value}"", ""record_id"": {record_id}}}]"'


ACME_RECORD = {
    **dict.fromkeys(["city", "country", "domain", "name", "phone", "postcode", "region"]),
    **dict.fromkeys(["street", "tax_id"]),
}
EVE_RECORD = {
    **CONTACT_RECORD,
    **{"account_id": ACME, "account_link": "account_key", "email": "eve@acme.com"},
    **{"first_name": "Eve", "last_name": "Moss", "title": "CFO"},
}
# After the steward merged the two Acme accounts (run 2): what changed since run 1.
SINCE_MERGE = {
    "accounts": lines(
        ACCOUNTS_HEADER, f"{ACME},Acme Incorporated,,+14155550199,,,,94107,US,,2,1,2"
    ),
    "contacts": lines(
        CONTACTS_HEADER, f"{EVE},{ACME},account_key,Eve,,Moss,eve@acme.com,,,CFO,,1,1,2"
    ),
    # Ann did not change, her account did: her row shows its new values.
    "account_contacts": lines(
        ACCOUNT_CONTACTS_HEADER,
        f"{ACME},Acme Incorporated,,+14155550199,,,US,{ANN},account_key,Ann,,Lee,ann@acme.com,"
        ",,-12.5,Acme Inc,2,1",
        f"{ACME},Acme Incorporated,,+14155550199,,,US,{EVE},account_key,Eve,,Moss,eve@acme.com,"
        ",,CFO,,1,2",
    ),
    "xref": lines("entity,source,source_key,golden_id", f"account,crm,4,{ACME}"),
    "lineage": lines(
        LINEAGE_HEADER,
        f"account,{ACME},country,US,crm,4,4,most_recent,2,address,{beaten('94105, US', 1)},2",
        f"account,{ACME},name,Acme Incorporated,crm,4,4,longest,2,,{beaten('Acme Inc', 1)},2",
        f"account,{ACME},phone,+14155550199,crm,4,4,most_recent,2,,{beaten('+14155550101', 1)},2",
        f"account,{ACME},postcode,94107,crm,4,4,most_recent,2,address,{beaten('94105, US', 1)},2",
        f"contact,{EVE},account_id,{ACME},crm_contacts,c4,8,account_key,1,,,2",
        f"contact,{EVE},email,eve@acme.com,crm_contacts,c4,8,valid_first,1,,[],2",
        f"contact,{EVE},first_name,Eve,crm_contacts,c4,8,source_priority,1,,[],2",
        f"contact,{EVE},last_name,Moss,crm_contacts,c4,8,source_priority,1,,[],2",
        f"contact,{EVE},title,CFO,crm_contacts,c4,8,most_recent,1,,[],2",
    ),
    "history_events": lines(
        EVENTS_HEADER,
        f"account,{ACME},updated,,2,steward,<run 2>",
        f"account,{ACME_INC},merged,{ACME},2,steward,<run 2>",
        f"contact,{EVE},updated,,2,steward,<run 2>",
    ),
    "history_versions": lines(
        VERSIONS_HEADER,
        f"account,{ACME},2,active,2,true,"
        + json_cell(
            {
                **ACME_RECORD,
                **{"country": "US", "name": "Acme Incorporated", "phone": "+14155550199"},
                "postcode": "94107",
            }
        )
        + ",2,steward,<run 2>",
        f"account,{ACME_INC},2,merged,0,true,{json_cell(ACME_RECORD)},2,steward,<run 2>",
        f"contact,{EVE},2,active,1,true,{json_cell(EVE_RECORD)},2,steward,<run 2>",
    ),
}


def test_after_a_run_the_export_holds_accounts_with_contacts_xref_lineage_and_history(
    project: Path, tmp_path: Path
) -> None:
    out = export(project, tmp_path / "out", *EVERYTHING)
    assert files_of(out) == ALL_FILES
    assert text_of(out, "accounts") == ACCOUNTS_CSV
    assert text_of(out, "account_contacts") == ACCOUNT_CONTACTS_CSV
    assert text_of(out, "xref") == XREF_CSV
    times = run_times(project)
    assert text_of(out, "history_events") == with_times(EVENTS_CSV, times)
    versions = text_of(out, "history_versions").splitlines()
    assert len(versions) == 1 + 9  # a version per golden record
    assert with_times(ANN_VERSION, times) in versions
    lineage = text_of(out, "lineage")
    formula_rows = [row for row in lineage.splitlines() if row.startswith(f"account,{FORMULA_CO}")]
    assert lines(*formula_rows) == FORMULA_LINEAGE
    # Without --include, the four files of every export, as the run wrote them.
    plain = export(project, tmp_path / "plain")
    assert files_of(plain) == BASE_FILES
    for name in BASE_FILES:
        assert (plain / f"{name}.csv").read_bytes() == (
            project / "exports" / f"{name}.csv"
        ).read_bytes()


def test_after_a_merge_the_since_filters_hold_what_changed(project: Path, tmp_path: Path) -> None:
    merge_acme(project)
    times = run_times(project)
    since_run = export(project, tmp_path / "since-run", *EVERYTHING, "--since-run", "1")
    assert files_of(since_run) == ALL_FILES
    for name, expected in SINCE_MERGE.items():
        assert text_of(since_run, name) == with_times(expected, times), name

    # A time: what runs that started then or later changed (run 2's start: the merge).
    moment = times["<run 2>"]
    since_time = export(project, tmp_path / "since-time", *EVERYTHING, "--since", moment)
    for name in ALL_FILES:
        assert text_of(since_time, name) == text_of(since_run, name), name
    # A date before every run: everything; a date to come: nothing but the headers.
    everything = export(project, tmp_path / "all", *EVERYTHING)
    since_old = export(project, tmp_path / "old", *EVERYTHING, "--since", "2000-01-01")
    future = export(project, tmp_path / "future", *EVERYTHING, "--since", "2999-12-31")
    for name in ALL_FILES:
        assert text_of(since_old, name) == text_of(everything, name), name
        assert len(text_of(future, name).splitlines()) == 1, name
    marker = json.loads((since_run / ".mdm-export").read_text(encoding="utf-8"))
    assert marker["selection"] == {
        "include": ["account_contacts", "history"],
        "entity": None,
        "changed_after_run": 1,
        "source": None,
        "mask": None,
    }


def test_source_and_entity_filters(project: Path, tmp_path: Path) -> None:
    by_source = export(project, tmp_path / "mkt", *EVERYTHING, "--source", "mkt")
    assert text_of(by_source, "accounts").splitlines() == [ACCOUNTS_CSV.splitlines()[0]]
    assert [line.split(",")[0] for line in text_of(by_source, "contacts").splitlines()] == [
        "golden_id",
        ANN,
        DEE,
    ]
    assert text_of(by_source, "xref") == (
        f"entity,source,source_key,golden_id\ncontact,mkt,m1,{ANN}\ncontact,mkt,m2,{DEE}\n"
    )
    lineage = csv.DictReader(io.StringIO(text_of(by_source, "lineage")))
    assert sorted({row["golden_id"] for row in lineage}) == sorted([ANN, DEE])
    events = csv.DictReader(io.StringIO(text_of(by_source, "history_events")))
    assert [(row["golden_id"], row["event"]) for row in events] == [
        (ANN, "created"),
        (DEE, "created"),
    ]
    account_contacts = csv.DictReader(io.StringIO(text_of(by_source, "account_contacts")))
    assert [(row["account_id"], row["contact_id"]) for row in account_contacts] == [
        (ACME, ANN),
        ("", DEE),
    ]
    # An account source keeps the contacts of its accounts in account_contacts.
    by_crm = export(project, tmp_path / "crm", *EVERYTHING, "--source", "crm")
    assert text_of(by_crm, "account_contacts") == ACCOUNT_CONTACTS_CSV.replace(DEE_ROW + "\n", "")
    assert text_of(by_crm, "contacts").count("\n") == 1

    accounts_only = export(project, tmp_path / "accounts", *EVERYTHING, "--entity", "account")
    assert files_of(accounts_only) == [
        "accounts",
        "history_events",
        "history_versions",
        "lineage",
        "xref",
    ]
    assert text_of(accounts_only, "accounts") == ACCOUNTS_CSV
    assert text_of(accounts_only, "xref") == "".join(
        line + "\n" for line in XREF_CSV.splitlines() if not line.startswith("contact,")
    )
    for name in ("lineage", "history_events", "history_versions"):
        rows = csv.DictReader(io.StringIO(text_of(accounts_only, name)))
        assert {row["entity"] for row in rows} == {"account"}, name
    contacts_only = export(project, tmp_path / "contacts", *EVERYTHING, "--entity", "contact")
    assert "accounts" not in files_of(contacts_only)
    assert text_of(contacts_only, "account_contacts") == ACCOUNT_CONTACTS_CSV


# ---- cells a spreadsheet would run ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+1 212 555 0123", "'+1 212 555 0123"),  # spaces: not only a number
        ("+12125550123", "+12125550123"),  # an E.164 phone is a number
        ("-12.5", "-12.5"),
        ("a=b", "a=b"),
        (None, None),
    ],
)
def test_cells_masked_exports_escape_themselves_follow_the_rule(
    cell: str | None, written: str | None
) -> None:
    assert escape_formula(cell) == written
    assert all(escape_formula(start + "x") == "'" + start + "x" for start in FORMULA_STARTS)


def test_a_formula_reads_back_as_text_in_every_csv_file(project: Path, tmp_path: Path) -> None:
    for masked in ([], ["--mask", "irreversible"]):
        out = export(project, tmp_path / f"out{len(masked)}", *EVERYTHING, *masked)
        cells = {
            name: [cell for row in csv.reader(io.StringIO(text_of(out, name))) for cell in row]
            for name in ALL_FILES
        }
        for name in ("accounts", "account_contacts", "lineage"):
            # The one company name, as text: a spreadsheet shows it, runs nothing.
            assert cells[name].count("'" + HYPERLINK) == 1, name
        for name, values in cells.items():
            assert not any(
                value.startswith(FORMULA_STARTS)
                for value in values
                if value
                not in ("-12.5", "+12125550123", "+14155550101", "+4989123456", "+14155550199")
            ), name
        frame = pd.read_csv(out / "accounts.csv", dtype=str, keep_default_na=False)
        assert "'" + HYPERLINK in set(frame["name"])
        if not masked:
            contacts = pd.read_csv(out / "contacts.csv", dtype=str, keep_default_na=False)
            titles = dict(zip(contacts["golden_id"], contacts["title"], strict=True))
            assert titles[ANN] == "-12.5"  # a signed number stays a number
            assert titles[BOB] == "'+1 212 555 0123"
            assert titles[CY] == "'@Sum(A1)"
    # Parquet keeps the value as it is.
    parquet = export(project, tmp_path / "parquet", "--format", "parquet")
    assert HYPERLINK in set(pq.read_table(parquet / "accounts.parquet")["name"].to_pylist())


# ---- Parquet types ----------------------------------------------------------------------------

TEXT, INTEGER, MOMENT, FLAG = pa.string(), pa.int64(), pa.timestamp("us", tz="UTC"), pa.bool_()
PARQUET_TYPES = {
    "accounts": {
        "golden_id": TEXT,
        "name": TEXT,
        "domain": TEXT,
        "tax_id": TEXT,
        "members": INTEGER,
        "created_run": INTEGER,
        "updated_run": INTEGER,
    },
    "contacts": {"middle_name": TEXT, "mobile": TEXT, "members": INTEGER},
    "account_contacts": {
        "account_id": TEXT,
        "account_domain": TEXT,
        "members": INTEGER,
        "updated_run": INTEGER,
    },
    "xref": {"entity": TEXT, "source_key": TEXT, "golden_id": TEXT},
    "lineage": {
        "value": TEXT,
        "record_id": INTEGER,
        "candidates": INTEGER,
        "group_name": TEXT,
        "run_id": INTEGER,
    },
    "history_events": {
        "event": TEXT,
        "other_id": TEXT,
        "run_id": INTEGER,
        "run_started_at": MOMENT,
    },
    "history_versions": {
        "version": INTEGER,
        "members": INTEGER,
        "latest": FLAG,
        "record": TEXT,
        "run_started_at": MOMENT,
    },
}


def test_parquet_files_declare_each_columns_type(project: Path, tmp_path: Path) -> None:
    merge_acme(project)
    out = export(project, tmp_path / "out", *EVERYTHING, "--format", "parquet")
    assert files_of(out) == ALL_FILES
    for name, wanted in PARQUET_TYPES.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        for column, kind in wanted.items():
            assert schema.field(column).type == kind, (name, column)
        # Text only where the column holds text: every other column is typed.
        assert {str(field.type) for field in schema} <= {
            "string",
            "int64",
            "bool",
            "timestamp[us, tz=UTC]",
        }
    # Columns that hold no value at all are still typed (middle names, domains, tax ids).
    accounts = pq.read_table(out / "accounts.parquet")
    assert accounts["tax_id"].null_count == accounts.num_rows
    versions = pq.read_table(out / "history_versions.parquet").to_pylist()
    started = utc_moment(run_times(project)["<run 2>"])
    merged = next(row for row in versions if row["golden_id"] == ACME_INC and row["version"] == 2)
    assert merged["latest"] is True and merged["status"] == "merged"
    assert merged["run_started_at"] == started
    first = next(row for row in versions if row["golden_id"] == ACME and row["version"] == 1)
    assert first["latest"] is False
    # The CSV of the same export says the same moments and flags as text.
    csv_out = export(project, tmp_path / "csv", *EVERYTHING)
    rows = list(csv.DictReader(io.StringIO(text_of(csv_out, "history_versions"))))
    row = next(r for r in rows if r["golden_id"] == ACME_INC and r["version"] == "2")
    assert (row["latest"], row["run_started_at"]) == ("true", started.isoformat())


# ---- masks ------------------------------------------------------------------------------------


def tokens_of(folder: Path, name: str, column: str) -> list[str]:
    return [row[column] for row in csv.DictReader(io.StringIO(text_of(folder, name)))]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # not about the store
def test_irreversible_masks_keep_equality_and_hide_the_values(
    project: Path, tmp_path: Path
) -> None:
    out = export(project, tmp_path / "out", *EVERYTHING, "--mask", "irreversible")
    again = export(project, tmp_path / "again", *EVERYTHING, "--mask", "irreversible")
    for name in ALL_FILES:
        assert text_of(out, name) == text_of(again, name), name  # same input, same tokens
        text = text_of(out, name)
        assert not [value for value in PERSONAL_VALUES if value in text], name
    emails = dict(
        zip(
            tokens_of(out, "contacts", "golden_id"),
            tokens_of(out, "contacts", "email"),
            strict=True,
        )
    )
    assert all(token.startswith("hmac:") and len(token) == 5 + 32 for token in emails.values())
    assert len(set(emails.values())) == 5
    # The same email is the same token wherever it is: joins still work.
    in_account_contacts = dict(
        zip(
            tokens_of(out, "account_contacts", "contact_id"),
            tokens_of(out, "account_contacts", "email"),
            strict=True,
        )
    )
    assert in_account_contacts == emails
    lineage = csv.DictReader(io.StringIO(text_of(out, "lineage")))
    assert {
        (row["golden_id"], row["value"]) for row in lineage if row["attribute"] == "email"
    } == set(emails.items())
    # What is not personal stays readable.
    assert tokens_of(out, "accounts", "name") == [
        "Acme Inc",
        "Acme Incorporated",
        "'" + HYPERLINK,
        "Globex GmbH",
    ]
    assert tokens_of(out, "contacts", "title")[0] == "'+1 212 555 0123"
    key = project / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    marker = json.loads((out / ".mdm-export").read_text(encoding="utf-8"))
    assert marker["selection"]["mask"] == "irreversible"
    # Unmasking gives nothing back: a hash has no value to return.
    back = mdm("export", "-p", str(project), "--unmask", str(out), "--out", str(tmp_path / "back"))
    assert back.exit_code == 0, back.output
    assert text_of(tmp_path / "back", "contacts") == text_of(out, "contacts")


def test_reversible_masks_unmask_to_the_plain_export(project: Path, tmp_path: Path) -> None:
    merge_acme(project)
    for fmt in ("csv", "parquet"):
        plain = export(project, tmp_path / f"plain-{fmt}", *EVERYTHING, "-f", fmt)
        masked = export(
            project, tmp_path / f"masked-{fmt}", *EVERYTHING, "-f", fmt, "--mask", "reversible"
        )
        back = tmp_path / f"back-{fmt}"
        unmasked = mdm("export", "-p", str(project), "--unmask", str(masked), "--out", str(back))
        assert unmasked.exit_code == 0, unmasked.output
        assert files_of(back) == ALL_FILES
        for name in ALL_FILES:
            if fmt == "csv":
                assert text_of(masked, name) != text_of(plain, name) or name in (
                    "xref",
                    "history_events",
                )
                assert (back / f"{name}.csv").read_bytes() == (
                    plain / f"{name}.csv"
                ).read_bytes(), name
            else:
                assert pq.read_table(back / f"{name}.parquet").equals(
                    pq.read_table(plain / f"{name}.parquet")
                ), name
    masked_text = "".join(text_of(tmp_path / "masked-csv", name) for name in ALL_FILES)
    assert not [value for value in PERSONAL_VALUES if value in masked_text]
    emails = tokens_of(tmp_path / "masked-csv", "contacts", "email")
    assert all(token.startswith("siv:") for token in emails)
    # One file alone unmasks too, and the unmasked formula is escaped again.
    single = mdm(
        "export",
        "-p",
        str(project),
        "--unmask",
        str(tmp_path / "masked-csv" / "lineage.csv"),
        "--out",
        str(tmp_path / "one"),
    )
    assert single.exit_code == 0, single.output
    assert files_of(tmp_path / "one") == ["lineage"]
    assert text_of(tmp_path / "one", "lineage") == text_of(tmp_path / "plain-csv", "lineage")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # not about the store
def test_the_mask_key_is_the_owners_alone(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    masked = export(project, tmp_path / "masked", "--mask", "reversible")
    key = project / KEY_FILE
    key.chmod(0o644)
    refused = mdm(
        "export", "-p", str(project), "--out", str(tmp_path / "refused"), "--mask", "reversible"
    )
    assert refused.exit_code == 2
    assert f"The mask key {key} can be read by other users (mode 644)" in refused.output
    assert not (tmp_path / "refused").exists()
    key.chmod(0o600)
    # A key in the environment wins over the file: another key cannot unmask these tokens.
    monkeypatch.setenv(KEY_ENV, "ab" * 32)
    wrong = mdm(
        "export", "-p", str(project), "--unmask", str(masked), "--out", str(tmp_path / "back")
    )
    assert wrong.exit_code == 2
    assert (
        f"{masked / 'accounts.csv'}, row 2, column phone: "
        "a token this project's mask key did not make" in wrong.output
    )
    assert not (tmp_path / "back").exists()
    with_env = export(project, tmp_path / "env", "--mask", "irreversible")
    monkeypatch.delenv(KEY_ENV)
    with_file = export(project, tmp_path / "file", "--mask", "irreversible")
    assert text_of(with_env, "contacts") != text_of(with_file, "contacts")
    monkeypatch.setenv(KEY_ENV, "not hex")
    bad = mdm(
        "export", "-p", str(project), "--out", str(tmp_path / "bad"), "--mask", "irreversible"
    )
    assert (
        bad.exit_code == 2
        and f"The mask key in {KEY_ENV} is not 64 hexadecimal digits" in bad.output
    )


# ---- bad input ----------------------------------------------------------------------------------


BAD_FILTERS = [
    (
        ["--source", "erp"],
        "--source erp: no such source: the project declares none of that name and the store "
        "holds no record of it (the project's sources are: crm, crm_contacts, mkt)",
    ),
    (
        ["--since-run", "7"],
        "--since-run 7: the store has no run 7 (its runs are 1 to 1; 'mdm status' lists the "
        "recent ones)",
    ),
    (["--since", "2026-02-30"], "--since 2026-02-30: not a date (give a date as YYYY-MM-DD"),
    (["--since", "yesterday"], "--since yesterday: not a date"),
    (["--since", "2026-01-01", "--since-run", "1"], "--since-run and --since: both given"),
    (
        ["--include", "everything"],
        "--include everything: no such table. Add account_contacts, history or both",
    ),
    (
        ["--unmask", "x", "--entity", "account"],
        "--unmask writes the files of a masked export back as they were",
    ),
]


def test_bad_filters_are_refused_with_the_folder_and_store_as_they_were(
    project: Path, tmp_path: Path
) -> None:
    out = export(project, tmp_path / "out")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    run_export = (project / "exports" / "xref.csv").read_bytes()
    for arguments, message in BAD_FILTERS:
        refused = mdm("export", "-p", str(project), "--out", str(out), *arguments)
        assert refused.exit_code == 2, refused.output
        assert message in refused.output, arguments
        assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert not (project / KEY_FILE).exists()
    assert (project / "exports" / "xref.csv").read_bytes() == run_export
    assert len(run_times(project)) == 1  # no run recorded
    # Every problem is named at once.
    at_once = ["--source", "erp", "--since-run", "9"]
    refused = mdm("export", "-p", str(project), "--out", str(tmp_path / "o"), *at_once)
    assert refused.exit_code == 2
    assert "Cannot export with these filters." in refused.output
    assert "--source erp" in refused.output and "--since-run 9" in refused.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # not about the store
def test_a_narrowed_export_in_the_runs_folder_is_replaced_whole_by_the_next_run(
    project: Path, tmp_path: Path
) -> None:
    exports = project / "exports"
    export(project, exports, "--entity", "account", "--since-run", "1")
    assert files_of(exports) == ["accounts", "lineage", "xref"]
    write_csv(
        project / "data" / "accounts.csv",
        [*ACCOUNTS, ["5", "Initech", "+14155550123", "94110", "US", "2024-03-01"]],
    )
    ran = mdm("run", "-p", str(project))
    assert ran.exit_code == 0, ran.output
    full = export(project, tmp_path / "full")
    assert files_of(exports) == BASE_FILES
    for name in BASE_FILES:
        assert text_of(exports, name) == text_of(full, name), name
    marker = json.loads((exports / ".mdm-export").read_text(encoding="utf-8"))
    assert marker["patched"] is None and "selection" not in marker


def test_the_commands_choices_are_the_exporters_names() -> None:
    assert set(typing.get_args(run_commands.EntityName)) == {str(e) for e in Entity}
    assert set(typing.get_args(run_commands.MaskModeName)) == {str(m) for m in MaskMode}
