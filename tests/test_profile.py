"""``mdm profile``: fill rate and validity per attribute, duplicates within a source and the
values that lose survivorship, on a small hand-written project whose every figure is known,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from mdm.cli import app
from mdm.config import load_project
from mdm.project_files import DEFAULT_RULES
from mdm.reports import profile_sources
from mdm.views import reading

runner = CliRunner()

PROJECT = """
[project]
name = "profiled"

[store]
url = "{url}"

[[sources]]
name = "crm"
system = "CRM"
entity = "account"
format = "csv"
path = "crm.csv"
key = "Id"
last_modified = "Modified"

[sources.mapping]
name = "Name"
domain = "Website"
phone = "Phone"
postcode = "Zip"
country = "Country"

[[sources]]
name = "erp"
system = "ERP"
entity = "account"
format = "csv"
path = "erp.csv"
key = "KUNNR"
last_modified = "CHANGED"
default_region = "DE"

[sources.mapping]
name = "NAME1"
phone = "TEL"
postcode = "PLZ"
country = "LAND"

[[sources]]
name = "leads"
system = "Marketing"
entity = "contact"
format = "csv"
path = "leads.csv"
key = "Id"
last_modified = "Modified"

[sources.mapping]
first_name = "First"
last_name = "Last"
email = "Email"
phone = "Phone"
"""

# CRM: 1 and 2 are the same company twice; Globex's London number is valid in its own country
# (GB), not in the source's default region (US); Initech's phone, postcode and country are
# malformed; Umbrella's website is only spaces (not filled).
CRM = """Id,Name,Website,Phone,Zip,Country,Modified
1,Acme Corporation,acme.com,+1 415 555 0100,94105,US,2024-01-01
2,Acme Corporation,acme.com,+1 415 555 0100,94105,US,2024-01-02
3,Globex Ltd,not a domain,020 7946 0958,SW1A 1AA,GB,2024-01-03
4,Initech,,12,!!,Narnia,2024-01-04
5,Umbrella,  ,,,,2024-01-05
"""
# ERP: Acme and Globex again, Globex with another phone, older than CRM's: the survivorship
# rules (valid first, then the most recent) take CRM's.
ERP = """KUNNR,NAME1,TEL,PLZ,LAND,CHANGED
E1,ACME CORPORATION,+1 415 555 0100,94105,US,2024-01-01
E2,Globex Ltd,+44 20 7946 0000,SW1A 1AA,GB,2024-01-01
"""
LEADS = """Id,First,Last,Email,Phone,Modified
P1,Ann,Lee,ann@acme.com,+1 415 555 0101,2024-01-01
P2,Bob,Stone,bob@,,2024-01-01
P3,Carol,King,,(415) 555-0199,2024-01-01
P4,Dave,Ray,not an email,555-0101,2024-01-01
"""


def make_project(directory: Path, store_url: str) -> Path:
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=store_url), encoding="utf-8")
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    for name, rows in (("crm", CRM), ("erp", ERP), ("leads", LEADS)):
        (directory / f"{name}.csv").write_text(rows, encoding="utf-8")
    return directory


def mdm(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def profiles(*args: str) -> dict[str, dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(mdm("profile", "--json", *args))
    return {profile["source"]: profile for profile in found}


def attributes(profile: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """attribute -> (filled, valid, invalid, invalid examples)."""
    return {
        a["attribute"]: (a["filled"], a["valid"], a["invalid"], a["invalid_examples"])
        for a in profile["attributes"]
    }


def survival(profile: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """attribute -> (won, lost)."""
    return {s["attribute"]: (s["won"], s["lost"]) for s in profile["survivorship"]}


def test_profile_counts_fill_validity_duplicates_and_survivorship(
    tmp_path: Path, store_url: str
) -> None:
    project = make_project(tmp_path / "p", store_url)
    mdm("run", "-p", str(project))
    found = profiles("-p", str(project))
    assert list(found) == ["crm", "erp", "leads"]

    crm = found["crm"]
    assert (crm["system"], crm["entity"], crm["scope"], crm["records"]) == (
        "CRM",
        "account",
        "current records",
        5,
    )
    assert attributes(crm) == {
        "name": (5, None, None, []),  # a name has no form to check
        "domain": (3, 2, 1, ["not a domain"]),  # "  " is not a value
        "phone": (4, 3, 1, ["12"]),  # 020 7946 0958 is valid in GB, the record's country
        "postcode": (4, 3, 1, ["!!"]),
        "country": (4, 3, 1, ["Narnia"]),
    }
    shares = {a["attribute"]: (a["fill_rate"], a["validity"]) for a in crm["attributes"]}
    assert shares["domain"] == (0.6, 2 / 3)
    assert shares["name"] == (1.0, None)
    # Records 1 and 2 are one golden record: one record more than golden records.
    assert crm["duplicates"] == {"golden": 1, "records": 2, "surplus": 1}

    erp = found["erp"]
    assert erp["records"] == 2
    assert attributes(erp) == {
        "name": (2, None, None, []),
        "phone": (2, 2, 0, []),
        "postcode": (2, 2, 0, []),
        "country": (2, 2, 0, []),
    }
    assert erp["duplicates"] == {"golden": 0, "records": 0, "surplus": 0}
    # ERP's names win (source priority among names of one key); its Globex phone loses to
    # CRM's newer one. Values equal to the winner's (the same match key) are not beaten.
    assert survival(erp) == {"phone": (0, 1), "name": (2, 0)}
    assert [s["attribute"] for s in erp["survivorship"]] == ["phone", "name"]  # most lost first
    assert survival(crm)["phone"] == (3, 0)
    assert all(lost == 0 for _, lost in survival(crm).values())

    leads = found["leads"]
    assert attributes(leads) == {
        "first_name": (4, None, None, []),
        "last_name": (4, None, None, []),
        "email": (3, 1, 2, ["bob@", "not an email"]),
        "phone": (3, 2, 1, ["555-0101"]),  # seven digits are no US number
    }

    # One source, as a table for people.
    table = mdm("profile", "crm", "-p", str(project))
    assert "crm (CRM, account): 5 current records" in table
    assert "│ domain    │ 3      │ 60.0%     │ 2     │ 1       │ 66.6%    │ not a domain" in table
    assert "Duplicates: 2 of its records share 1 golden records" in table
    assert "erp (ERP" not in table


def test_profile_of_a_run_counts_only_the_records_it_loaded(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", f"sqlite:///{tmp_path / 'store.db'}")
    mdm("run", "-p", str(project))
    # The next extract fixes Initech's phone, postcode and country; nothing else changes.
    fixed = CRM.replace("4,Initech,,12,!!,Narnia", "4,Initech,,+1 212 555 0100,10001,US")
    (project / "crm.csv").write_text(fixed, encoding="utf-8")
    mdm("run", "-p", str(project))

    loaded = profiles("crm", "--run", "2", "-p", str(project))["crm"]
    assert (loaded["scope"], loaded["records"]) == ("records run 2 loaded", 1)
    assert attributes(loaded) == {
        "name": (1, None, None, []),
        "domain": (0, 0, 0, []),
        "phone": (1, 1, 0, []),
        "postcode": (1, 1, 0, []),
        "country": (1, 1, 0, []),
    }
    # Every current record: the fix shows.
    current = attributes(profiles("crm", "-p", str(project))["crm"])
    assert current["phone"] == (4, 4, 0, [])
    assert current["country"] == (4, 4, 0, [])
    # The first run's records are still profiled as that run loaded them.
    first = attributes(profiles("crm", "--run", "1", "-p", str(project))["crm"])
    assert first["phone"] == (4, 3, 1, ["12"])


def test_profile_refuses_an_unknown_source_or_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", f"sqlite:///{tmp_path / 'store.db'}")
    mdm("run", "-p", str(project))
    result = runner.invoke(app, ["profile", "crm", "billing", "-p", str(project)])
    assert result.exit_code == 2
    assert "No source 'billing' in the project file; its sources are: crm, erp, leads." in " ".join(
        result.output.split()
    )
    result = runner.invoke(app, ["profile", "--run", "7", "-p", str(project)])
    assert result.exit_code == 2
    assert "No run 7: 'mdm status' lists the recent runs." in " ".join(result.output.split())


def test_a_sample_reads_every_kth_record_and_lineage_row(tmp_path: Path, store_url: str) -> None:
    """A run's report profiles an even sample of what the run loaded: every k-th record by id
    (and lineage row), so its cost stays bounded however large the load."""
    directory = make_project(tmp_path / "p", store_url)
    mdm("run", "-p", str(directory))
    project = load_project(directory)
    with reading(project.store_url) as connection:
        whole = profile_sources(connection, project.spec, sources=["crm"], run_id=1)[0]
        sampled = profile_sources(connection, project.spec, sources=["crm"], run_id=1, sample=2)[0]
        ids = [
            int(i)
            for (i,) in connection.execute(
                text("select id from source_record where source = 'crm' order by id")
            )
        ]
    assert (whole.records, whole.of_records, whole.sampled) == (5, 5, False)
    assert not whole.survivorship_sampled
    # Five records, about two wanted: every third id.
    kept = [i for i in ids if i % 3 == 0]
    assert (sampled.records, sampled.of_records, sampled.sampled) == (len(kept), 5, True)
    assert sum(a.filled for a in sampled.attributes if a.attribute == "name") == len(kept)
    assert sampled.survivorship_sampled
    won = sum(s.won for s in sampled.survivorship)
    assert 0 < won < sum(s.won for s in whole.survivorship)
