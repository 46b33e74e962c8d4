"""Inbox sources: records submitted to the store (``format = "inbox"``) are ingested by the next
run like any source's delta, once: a key sent again is a new version, the latest submission
before a run wins, and a run killed half way leaves every submission pending for the next."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from web_support import rows

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.failpoints import KILL_VARIABLE
from mdm.project_files import DEFAULT_RULES
from mdm.sources.inbox import check_submission
from mdm.store import inbox, open_store
from mdm.store.bulk import now

INBOX = "web_leads"
ACME = {
    "Id": "0015g00000ACME001",
    "Name": "ACME Corporation",
    "Website": "https://www.acme-corporation.example",
    "Phone": "(212) 555-0142",
    "BillingStreet": "1 Anvil Way",
    "BillingCity": "New York",
    "BillingState": "NY",
    "BillingPostalCode": "10001",
    "BillingCountry": "United States",
    "LastModifiedDate": "2025-02-01T10:00:00Z",
    "IsDeleted": "false",
}
INBOX_SOURCE = f"""
# Leads people enter in the web (business cards): submitted through the REST API.
[[sources]]
name = "{INBOX}"
system = "Marketing"
entity = "contact"
format = "inbox"
key = "lead_id"
last_modified = "updated_at"
default_region = "US"

[sources.mapping]
first_name = "first"
last_name = "last"
email = "email"
phone = "phone"
title = "job_title"
company = "company"
"""


def inbox_project(directory: Path, store_url: str, accounts: int = 12) -> Project:
    """A demo project whose CRM has an account "ACME Corporation", with an inbox source of
    leads, after its first run."""
    generate_demo(directory, accounts=accounts, faults=False)
    crm = directory / "data" / "crm_accounts.csv"
    header = crm.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(ACME), header
    with crm.open("a", encoding="utf-8") as handle:
        handle.write(",".join(ACME.values()) + "\n")
    toml = directory / "mdm.toml"
    text = toml.read_text().replace("sqlite:///mdm.db", store_url)
    toml.write_text(text + INBOX_SOURCE)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    project = load_project(directory)
    pipeline.run(project)
    return project


def submit(
    project: Project, objects: Sequence[Mapping[str, Any]], source: str = INBOX
) -> list[str]:
    """Submit records as the API does: checked, then appended pending; their keys."""
    checked = check_submission(project.source(source), objects)
    assert not checked.problems, checked.problems
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            pairs = [(s.source_key, s.record) for s in checked.submissions]
            inbox.append_submissions(connection, source, pairs, now(), "test")
    finally:
        store.close()
    return [s.source_key for s in checked.submissions]


def stamps(project: Project) -> list[tuple[str, int | None]]:
    """(key, run that ingested it) of every submission, in the order they came."""
    return [
        (str(key), run)
        for key, run in rows(project, "select source_key, run_id from inbox_record order by id")
    ]


def versions(project: Project) -> list[tuple[str, int, bool, str]]:
    """(key, version, current, attributes) of the inbox source's record versions."""
    sql = (
        "select source_key, version, is_current, attributes from source_record "
        "where source = :s order by source_key, version"
    )
    return [(str(k), int(v), bool(c), str(a)) for k, v, c, a in rows(project, sql, s=INBOX)]


def last_run(project: Project) -> int:
    return int(rows(project, "select max(id) from run")[0][0])


def test_a_run_ingests_each_submission_once_and_a_key_sent_again_is_a_new_version(
    tmp_path: Path, store_url: str
) -> None:
    project = inbox_project(tmp_path / "shop", store_url)
    [card, assigned] = submit(
        project,
        [
            {"lead_id": "card-1", "first": "Priya", "last": "Natarajan", "company": "Acme Corp."},
            {"first": "Tomas", "last": "Lindqvist", "email": "tomas@lindqvist.example"},
        ],
    )
    assert card == "card-1" and len(assigned) == 32  # a key from the store

    summary = pipeline.run(project)
    [ingested] = [s for s in summary.sources if s.source == INBOX]
    assert (ingested.rows_read, ingested.inserted, ingested.updated) == (2, 2, 0)
    first = last_run(project)
    assert stamps(project) == [("card-1", first), (assigned, first)]
    assert [(k, v, c) for k, v, c, _ in versions(project)] == sorted(
        [("card-1", 1, True), (assigned, 1, True)]
    )
    golden_ids = rows(project, "select golden_id from xref where source = :s", s=INBOX)
    assert len(golden_ids) == 2

    again = pipeline.run(project)  # nothing pending: nothing read, nothing written
    [quiet] = [s for s in again.sources if s.source == INBOX]
    assert (quiet.rows_read, quiet.inserted, quiet.updated) == (0, 0, 0)
    assert stamps(project) == [("card-1", first), (assigned, first)]

    # The same key twice before a run: the latest submission is the new version.
    base = {"lead_id": "card-1", "first": "Priya", "last": "Natarajan", "company": "Acme Corp."}
    submit(project, [{**base, "phone": "(212) 555-0100"}])
    submit(project, [{**base, "phone": "(212) 555-0199"}])
    pipeline.run(project)
    third = last_run(project)
    assert stamps(project)[2:] == [("card-1", third), ("card-1", third)]
    card_versions = [(v, c, a) for k, v, c, a in versions(project) if k == "card-1"]
    assert [(v, c) for v, c, _ in card_versions] == [(1, False), (2, True)]
    assert '"phone": "(212) 555-0199"' in card_versions[-1][2]


def test_a_record_without_a_date_is_as_recent_as_its_submission(tmp_path: Path) -> None:
    project = inbox_project(tmp_path / "shop", f"sqlite:///{tmp_path / 'mdm.db'}")
    submit(project, [{"lead_id": "dated", "first": "Ann", "updated_at": "2021-06-01T00:00:00Z"}])
    submit(project, [{"lead_id": "undated", "first": "Bo", "last": "Ek"}])
    pipeline.run(project)
    received = dict(rows(project, "select source_key, received_at from inbox_record"))
    modified = dict(
        rows(
            project,
            "select source_key, last_modified from source_record where source = :s",
            s=INBOX,
        )
    )
    assert str(modified["dated"]).startswith("2021-06-01")
    assert str(modified["undated"])[:19] == str(received["undated"])[:19]


def test_a_run_killed_half_way_leaves_the_submissions_pending(
    tmp_path: Path, store_url: str
) -> None:
    project = inbox_project(tmp_path / "shop", store_url)
    keys = submit(
        project,
        [
            {"lead_id": "k-1", "first": "Priya", "last": "Natarajan", "company": "Acme Corp."},
            {"lead_id": "k-2", "first": "Lena", "last": "Okafor", "phone": "(415) 555-0101"},
        ],
    )
    # Killed right after it stamped the submissions, then after it resolved everything: both
    # before the run's transaction commits.
    for point in (f"ingest.{INBOX}", "run.finished"):
        environment = {**os.environ, KILL_VARIABLE: point}
        command = [sys.executable, "-m", "mdm", "run", "-p", str(project.root)]
        killed = subprocess.run(command, env=environment, capture_output=True, check=False)
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        assert stamps(project) == [(key, None) for key in keys], point
        assert versions(project) == [], point

    pipeline.run(project, wait_seconds=60)
    run_id = last_run(project)
    assert stamps(project) == [(key, run_id) for key in keys]
    assert [(k, v, c) for k, v, c, _ in versions(project)] == [("k-1", 1, True), ("k-2", 1, True)]


def test_an_inbox_is_declared_without_a_file_and_is_a_delta(tmp_path: Path) -> None:
    generate_demo(tmp_path, accounts=3, faults=False)
    shutil.copytree(DEFAULT_RULES, tmp_path / "rules")
    toml = tmp_path / "mdm.toml"
    plain = toml.read_text()
    toml.write_text(plain + INBOX_SOURCE)
    [source] = [s for s in load_project(tmp_path).spec.sources if s.name == INBOX]
    assert source.mode == "delta"

    with_file = INBOX_SOURCE.replace('format = "inbox"', 'format = "inbox"\npath = "x.csv"')
    toml.write_text(plain + with_file)
    with pytest.raises(MdmError) as error:
        load_project(tmp_path)
    assert "an inbox source is kept in the store: remove 'path'" in str(error.value)

    full = INBOX_SOURCE.replace('format = "inbox"', 'format = "inbox"\nmode = "full"')
    toml.write_text(plain + full)
    with pytest.raises(MdmError) as error:
        load_project(tmp_path)
    assert 'remove mode = "full"' in str(error.value)


def test_a_submission_is_checked_field_by_field(tmp_path: Path) -> None:
    project = load_project(_declared(tmp_path))
    spec = project.source(INBOX)
    checked = check_submission(
        spec,
        [
            {"lead_id": "a", "frist": "Ann", "last": "Lee"},
            {"lead_id": "b", "first": {"given": "Bo"}},
            {"lead_id": "c", "first": "Cy", "updated_at": "last tuesday"},
            {"lead_id": "a", "first": "Di"},
            {"lead_id": "e", "job_title": None},
        ],
    )
    assert checked.submissions == []
    found = [(p.where, p.message) for p in checked.problems]
    assert ("records[0].frist", "'frist' is not a field of source 'web_leads'") in found
    assert "did you mean 'first'?" in checked.problems[0].hint
    assert ("records[1].first", "a dict is not a field value") in found
    assert ("records[4]", "the record has no value for any field the source maps") in found
    # The checks after the fields: each found once the fields are right.
    later = check_submission(
        spec,
        [
            {"lead_id": "c", "first": "Cy", "updated_at": "last tuesday"},
            {"lead_id": "a", "first": "Di"},
            {"lead_id": "a", "first": "Ed"},
        ],
    )
    messages = [(p.where, p.message) for p in later.problems]
    assert ("records[2].lead_id", "key 'a' is also the key of records[1]") in messages
    ok = check_submission(spec, [{"lead_id": 17, "first": "Flo", "updated_at": "2024-01-02"}])
    assert ok.problems == [] and ok.submissions[0].source_key == "17"
    dates = check_submission(spec, [{"lead_id": "c", "first": "Cy", "updated_at": "last tuesday"}])
    [(where, message)] = [(p.where, p.message) for p in dates.problems]
    assert where == "records[0].updated_at" and "last tuesday" in message


def _declared(directory: Path) -> Path:
    generate_demo(directory, accounts=3, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    toml = directory / "mdm.toml"
    toml.write_text(toml.read_text() + INBOX_SOURCE)
    return directory
