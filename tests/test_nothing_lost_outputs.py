"""Outputs and commands that must never lose or corrupt what a user has.

A failed run stays readable in ``mdm status``; an export replaces its folder whole (a kill
leaves the previous export, never a mix) and never replaces a folder mdm did not write; CSV
cells a spreadsheet would run are escaped; read-only commands work while the rules have a
typo; store values reach the terminal with their control characters escaped; ``mdm demo``
keeps an existing project unless forced; an export folder cannot be where the project reads.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

from mdm import cli
from mdm.project_files import DEFAULT_RULES
from mdm.publish import spreadsheet_safe
from mdm.schema import Entity
from mdm.store import golden as golden_store
from mdm.store import open_store
from mdm.store import runs as runs_store

FORMULA = "=cmd|' /C calc'!A0"
FORMULA_FIRST_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"
CONTROL_NAME = "Evil\x1b[31mRed\x00Nul\u202eCorp Zoë"

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
account_key = "AccountId"
"""

ACCOUNTS = [
    ["Id", "Name", "Phone", "Zip", "Modified"],
    ["1", "Acme Inc", "555-0101", "94105", "2024-01-01"],
    ["2", "Acme Inc.", "555-0102", "94105", "2024-01-02"],
    ["3", FORMULA, "+12125550123", "10001", "2024-01-03"],
]
CONTACTS = [
    ["Id", "First", "Last", "Email", "AccountId", "Modified"],
    ["c1", "Ann", "Lee", "ann@acme.com", "1", "2024-01-01"],
    ["c2", FORMULA_FIRST_NAME, "-2+3", "bob@example.org", "3", "2024-01-02"],
]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Path:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=store_url), encoding="utf-8")
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    write_csv(directory / "data" / "accounts.csv", ACCOUNTS)
    write_csv(directory / "data" / "contacts.csv", CONTACTS)
    return directory


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and messages on one line each, so that a value is found whole."""
    monkeypatch.setattr(cli.console, "width", 400)
    monkeypatch.setattr(cli.errors, "width", 400)


def mdm(*args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args))


def mdm_process(*args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, killed with SIGKILL at ``kill_at``."""
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    if kill_at:
        env["MDM_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "mdm", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def store_url_of(directory: Path) -> str:
    text = (directory / "mdm.toml").read_text(encoding="utf-8")
    url = text.split('url = "', 1)[1].split('"', 1)[0]
    return url.replace("sqlite:///mdm.db", f"sqlite:///{directory / 'mdm.db'}")


def runs(directory: Path) -> pd.DataFrame:
    """The runs the store recorded; none if no run ever created its tables."""
    store = open_store(store_url_of(directory), writing=True)  # as it is, even empty
    try:
        with store.transaction() as connection:
            if not inspect(connection).has_table("run"):
                return pd.DataFrame()
            return runs_store.recent_runs(connection, 100)
    finally:
        store.close()


def store_tables(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The active golden accounts and the xref the store holds."""
    store = open_store(store_url_of(directory))
    try:
        with store.transaction() as connection:
            accounts = golden_store.golden_records(connection, Entity.ACCOUNT)
            xref = golden_store.xref(connection)
    finally:
        store.close()
    return accounts[accounts["status"] == "active"], xref


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name.startswith(".exports"))


def first_run(directory: Path) -> None:
    result = mdm("run", "-p", str(directory))
    assert result.exit_code == 0, result.output


# ---- item 9: status after a failed run -----------------------------------------------------


def test_status_after_a_failed_run_shows_it_with_its_error(project: Path) -> None:
    first_run(project)
    # A user edits the trained model by hand and breaks it: the next run fails mid-way.
    (project / "rules" / "match" / "account.model.json").write_text("{", encoding="utf-8")
    failed = mdm("run", "-p", str(project))
    assert failed.exit_code == 2, failed.output

    recorded = runs(project)
    assert list(recorded["status"]) == ["failed", "succeeded"]
    error = recorded["error"].iloc[0]
    assert "account.model.json" in error

    status = mdm("status", "-p", str(project))
    assert status.exit_code == 0, status.output
    rows = [line for line in status.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 2
    failed_row, succeeded_row = (row.split("│")[1:-1] for row in rows)
    assert [cell.strip() for cell in failed_row[:3]] == [
        str(recorded["id"].iloc[0]),
        "run",
        "failed",
    ]
    assert failed_row[5].strip() == error.splitlines()[0][:120]
    assert [cell.strip() for cell in succeeded_row[:3]] == ["1", "run", "succeeded"]
    assert succeeded_row[5].strip().startswith("5 inserted, 0 updated, 0 deleted, 0 quarantined")


# ---- item 10: exports replaced whole -------------------------------------------------------


def test_an_export_killed_after_its_second_file_leaves_the_previous_export(project: Path) -> None:
    first_run(project)
    exports = project / "exports"
    before = folder_bytes(exports)
    assert sorted(before) == [
        ".mdm-export",
        "accounts.csv",
        "contacts.csv",
        "lineage.csv",
        "xref.csv",
    ]
    write_csv(
        project / "data" / "accounts.csv",
        [*ACCOUNTS, ["4", "Globex GmbH", "", "80331", "2024-02-01"]],
    )

    killed = mdm_process("run", "-p", str(project), kill_at="export.wrote.contacts")
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    assert folder_bytes(exports) == before
    # The run itself committed before it exported: the store has the new account.
    accounts, xref = store_tables(project)
    assert "Globex GmbH" in set(accounts["name"])

    again = mdm("export", "--out", str(exports), "-p", str(project))
    assert again.exit_code == 0, again.output
    assert leftovers(project) == []
    exported = read_csv(exports / "accounts.csv")
    assert sorted(row["golden_id"] for row in exported) == sorted(accounts["golden_id"])
    assert sorted(
        (r["source"], r["source_key"], r["golden_id"]) for r in read_csv(exports / "xref.csv")
    ) == sorted(zip(xref["source"], xref["source_key"], xref["golden_id"], strict=True))
    marker = json.loads((exports / ".mdm-export").read_text(encoding="utf-8"))
    assert marker["run_id"] == int(runs(project)["id"].iloc[0])
    assert marker["files"] == ["accounts.csv", "contacts.csv", "lineage.csv", "xref.csv"]


def test_an_export_killed_inside_its_swap_is_whole_and_cleaned_up_by_the_next(
    project: Path,
) -> None:
    first_run(project)
    exports = project / "exports"
    write_csv(
        project / "data" / "accounts.csv",
        [*ACCOUNTS, ["4", "Globex GmbH", "", "80331", "2024-02-01"]],
    )
    ingested = mdm("run", "-p", str(project))
    assert ingested.exit_code == 0, ingested.output
    complete = folder_bytes(exports)

    killed = mdm_process(
        "export", "--out", str(exports), "-p", str(project), kill_at="export.swap.exchanged"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The new export is in place, whole; the previous one waits under a staging name.
    after_kill = folder_bytes(exports)
    assert {k: v for k, v in after_kill.items() if k != ".mdm-export"} == {
        k: v for k, v in complete.items() if k != ".mdm-export"
    }
    assert len(leftovers(project)) == 1

    again = mdm("export", "--out", str(exports), "-p", str(project))
    assert again.exit_code == 0, again.output
    assert leftovers(project) == []


def test_an_export_set_aside_by_a_killed_swap_is_put_back_first(project: Path) -> None:
    """Where folders cannot be exchanged in one step, a swap renames the old export aside and
    then the new one into place; a kill between the two leaves this, which the next export
    must repair before it writes."""
    first_run(project)
    exports = project / "exports"
    exports.rename(project / ".exports.mdm-old-0a1b2c3d4e5f")
    half_written = project / ".exports.mdm-new-0a1b2c3d4e5f"
    half_written.mkdir()
    (half_written / "accounts.csv").write_text("golden_id\n", encoding="utf-8")

    again = mdm("export", "--out", str(exports), "-p", str(project))
    assert again.exit_code == 0, again.output
    assert leftovers(project) == []
    accounts, _ = store_tables(project)
    exported = read_csv(exports / "accounts.csv")
    assert sorted(row["golden_id"] for row in exported) == sorted(accounts["golden_id"])


def test_an_export_never_replaces_a_folder_mdm_did_not_write(project: Path) -> None:
    first_run(project)
    mine = project / "my_notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes", encoding="utf-8")
    refused = mdm("export", "--out", str(mine), "-p", str(project))
    assert refused.exit_code == 2
    assert f"The export folder {mine} holds files mdm did not write (notes.txt)" in refused.stderr
    assert folder_bytes(mine) == {"notes.txt": b"my notes"}

    # A file a user adds to an export folder is theirs too.
    exports = project / "exports"
    (exports / "summary.xlsx").write_bytes(b"PK")
    before = folder_bytes(exports)
    refused = mdm("export", "--out", str(exports), "-p", str(project))
    assert refused.exit_code == 2
    assert "holds files mdm did not write (summary.xlsx)" in refused.stderr
    assert folder_bytes(exports) == before

    a_file = project / "out.csv"
    a_file.write_text("x\n", encoding="utf-8")
    refused = mdm("export", "--out", str(a_file), "-p", str(project))
    assert refused.exit_code == 2
    assert f"The export folder {a_file} is a file" in refused.stderr
    assert a_file.read_text(encoding="utf-8") == "x\n"

    # An export written before exports were marked holds only export files: it is replaced.
    legacy = project / "legacy"
    legacy.mkdir()
    (legacy / "accounts.csv").write_text("old\n", encoding="utf-8")
    (legacy / "xref.parquet").write_bytes(b"old")
    replaced = mdm("export", "--out", str(legacy), "-p", str(project))
    assert replaced.exit_code == 0, replaced.output
    assert sorted(folder_bytes(legacy)) == [
        ".mdm-export",
        "accounts.csv",
        "contacts.csv",
        "lineage.csv",
        "xref.csv",
    ]


# ---- item 11: CSV formula injection --------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("+1 212 555 0123", "'+1 212 555 0123"),
        ("+12125550123", "+12125550123"),  # an E.164 phone is a number: left alone
        ("-42", "-42"),
        ("-3.25", "-3.25"),
        ("+\u0661\u0662", "'+\u0661\u0662"),  # digits, but not ASCII ones: escaped
        ("a=b", "a=b"),
        ("Zoë", "Zoë"),
    ],
)
def test_spreadsheet_safe_escapes_formulas_and_keeps_numbers(cell: str, written: str) -> None:
    frame = pd.DataFrame({"value": [cell, None], "count": [1, 2]})
    safe = spreadsheet_safe(frame)
    assert safe["value"].tolist()[0] == written
    assert pd.isna(safe["value"].tolist()[1])
    assert safe["count"].tolist() == [1, 2]


def test_exported_csv_cells_cannot_run_as_formulas(project: Path, tmp_path: Path) -> None:
    first_run(project)
    exports = project / "exports"
    accounts = {row["name"]: row for row in read_csv(exports / "accounts.csv")}
    assert set(accounts) == {"Acme Inc.", "'" + FORMULA}
    assert accounts["'" + FORMULA]["phone"] == "+12125550123"

    contacts = {row["email"]: row for row in read_csv(exports / "contacts.csv")}
    assert contacts["bob@example.org"]["first_name"] == "'" + FORMULA_FIRST_NAME
    assert contacts["bob@example.org"]["last_name"] == "'-2+3"
    assert contacts["ann@acme.com"]["first_name"] == "Ann"

    lineage = {
        (row["golden_id"], row["attribute"]): row["value"]
        for row in read_csv(exports / "lineage.csv")
    }
    formula_id = accounts["'" + FORMULA]["golden_id"]
    assert lineage[(formula_id, "name")] == "'" + FORMULA
    assert lineage[(formula_id, "phone")] == "+12125550123"
    bob = contacts["bob@example.org"]["golden_id"]
    assert lineage[(bob, "first_name")] == "'" + FORMULA_FIRST_NAME

    # The store, and Parquet, keep the value as it is.
    golden, _ = store_tables(project)
    assert FORMULA in set(golden["name"])
    parquet = tmp_path / "parquet"
    written = mdm("export", "--out", str(parquet), "--format", "parquet", "-p", str(project))
    assert written.exit_code == 0, written.output
    assert FORMULA in set(pd.read_parquet(parquet / "accounts.parquet")["name"])


# ---- item 13: read-only commands, terminal output, demo, export folder ---------------------


def test_read_only_commands_work_while_the_rules_have_a_typo(project: Path, tmp_path: Path) -> None:
    first_run(project)
    golden_id = read_csv(project / "exports" / "accounts.csv")[0]["golden_id"]
    rules = project / "rules" / "survivorship" / "account.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("default =", "defualt ="), "utf-8")

    warning = (
        "warning: the project's rules or paths have 2 problems (mdm run lists them); "
        "this command only reads the store, as the last run left it."
    )
    for command in (
        ["status"],
        ["show", golden_id],
        ["lineage", golden_id],
        ["history", golden_id],
        ["resolve", golden_id],
        ["quarantine"],
        ["review"],
        ["export", "--out", str(tmp_path / "out")],
    ):
        result = mdm(*command, "-p", str(project))
        assert result.exit_code == 0, (command, result.output)
        assert result.stderr.strip() == warning, command
    assert read_csv(tmp_path / "out" / "accounts.csv") == read_csv(
        project / "exports" / "accounts.csv"
    )

    for command in (
        ["run"],
        ["ingest"],
        ["explain", "crm:1", "crm:2"],
        ["pin", golden_id, "phone", "+12125550199"],
    ):
        refused = mdm(*command, "-p", str(project))
        assert refused.exit_code == 2, command
        assert f"{rules}: defualt: Extra inputs are not permitted" in refused.stderr, command
    assert len(runs(project)) == 1  # nothing was written

    (project / "mdm.toml").write_text("[store]\nurll = 1\n", encoding="utf-8")
    broken = mdm("status", "-p", str(project))
    assert broken.exit_code == 2
    assert "Commands that only read the store need it too: it names the store." in broken.stderr


def test_store_values_reach_the_terminal_with_control_characters_escaped(project: Path) -> None:
    accounts = [*ACCOUNTS, ["5", CONTROL_NAME, "555-0199", "10002", "2024-02-02"]]
    write_csv(project / "data" / "accounts.csv", accounts)
    first_run(project)
    golden = {
        row["postcode"]: row["golden_id"] for row in read_csv(project / "exports" / "accounts.csv")
    }
    evil = golden["10002"]

    shown = mdm("show", evil, "-p", str(project))
    assert shown.exit_code == 0, shown.output
    # The source record as read: every control escaped, the rest as it is.
    assert "Evil\\x1b[31mRed\\x00Nul\\u202eCorp Zoë" in shown.stdout
    for command in (["show", evil], ["lineage", evil], ["history", evil]):
        result = mdm(*command, "-p", str(project))
        assert result.exit_code == 0, (command, result.output)
        # The golden name: standardizing made ESC and NUL spaces, and kept the override.
        assert "Evil [31mRed Nul\\u202eCorp Zoë" in result.stdout, command
        assert not set("\x1b\x00\u202e") & set(result.stdout), command
    explained = mdm("explain", "crm:5", "crm:3", "-p", str(project))
    assert explained.exit_code == 0, explained.output
    assert not set("\x1b\x00\u202e") & set(explained.stdout)


def test_demo_keeps_an_existing_project_unless_forced(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    first = mdm_process("demo", str(demo), "--accounts", "30")
    assert first.returncode == 0, first.stderr
    store = demo / "mdm.db"
    before = store.read_bytes()
    (demo / "data" / "notes.txt").write_text("mine", encoding="utf-8")

    refused = mdm("demo", str(demo), "--accounts", "30")
    assert refused.exit_code == 2
    assert (
        f"{demo} holds an mdm project or its files already, which the demo would delete: "
        in refused.stderr
    )
    assert "mdm.toml, mdm.db, data, truth, rules, exports" in refused.stderr
    assert "--force" in refused.stderr
    assert store.read_bytes() == before
    assert (demo / "data" / "notes.txt").read_text(encoding="utf-8") == "mine"

    # What `make demo` runs, twice in a row: a fresh demo with a first load each time.
    forced = mdm_process("demo", "--force", str(demo), "--accounts", "30")
    assert forced.returncode == 0, forced.stderr
    assert not (demo / "data" / "notes.txt").exists()
    assert list(runs(demo)["id"]) == [1]

    empty = tmp_path / "empty"
    empty.mkdir()
    fresh = mdm("demo", str(empty), "--accounts", "30")
    assert fresh.exit_code == 0, fresh.output
    assert (empty / "exports" / "accounts.csv").exists()


@pytest.mark.parametrize("exports", ["data", ".", "..", "rules"])
def test_an_export_folder_where_the_project_reads_is_refused(project: Path, exports: str) -> None:
    text = (project / "mdm.toml").read_text(encoding="utf-8")
    (project / "mdm.toml").write_text(f'[paths]\nexports = "{exports}"\n{text}', encoding="utf-8")
    data_before = folder_bytes(project / "data")

    refused = mdm("run", "-p", str(project))
    assert refused.exit_code == 2
    folder = (project / exports).resolve()
    assert f"{project / 'mdm.toml'}: paths.exports: the export folder {folder} is or holds" in (
        refused.stderr
    )
    assert folder_bytes(project / "data") == data_before
    # Refused before it wrote anything: not even the store was created.
    status = mdm("status", "-p", str(project))
    assert "is empty: no run has created it yet" in " ".join(status.stderr.split())


def test_export_out_where_the_project_reads_is_refused(project: Path) -> None:
    first_run(project)
    data_before = folder_bytes(project / "data")
    refused = mdm("export", "--out", str(project / "data"), "-p", str(project))
    assert refused.exit_code == 2
    assert (
        f"--out: the export folder {project / 'data'} is or holds the folder of source 'crm', "
        "the folder of source 'crm_contacts'"
    ) in refused.stderr
    assert folder_bytes(project / "data") == data_before
