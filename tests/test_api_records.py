"""``POST /api/records/{source}``: records for an inbox source, checked field by field and kept
in the store, then taken by the next run through matching, survivorship and lineage; and
``GET /api/records/{source}/{key}`` before and after that run."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_inbox_source import ACME, INBOX, inbox_project
from typer.testing import CliRunner, Result
from web_support import app_client, rows

from mdm import pipeline
from mdm.cli import app
from mdm.config.specs import Project
from mdm.web import accounts
from mdm.web.accounts import Role


def token(project: Project, role: Role) -> dict[str, str]:
    made = accounts.create_token(project.store_url, f"{role}-client", role, "test")
    return {"Authorization": f"Bearer {made}"}


def golden_of(project: Project, source: str, key: str) -> str:
    sql = "select golden_id from xref where source = :s and source_key = :k"
    return str(rows(project, sql, s=source, k=key)[0][0])


def test_a_lead_with_only_a_company_name_joins_the_right_account_at_the_next_run(
    tmp_path: Path, store_url: str
) -> None:
    project = inbox_project(tmp_path / "shop", store_url)
    acme = golden_of(project, "crm_accounts", ACME["Id"])
    lead = {"first": "Priya", "last": "Natarajan", "company": "Acme Corp."}
    with app_client(project) as client:
        sent = client.post(
            f"/api/records/{INBOX}", json={"records": [lead]}, headers=token(project, Role.STEWARD)
        )
    assert sent.status_code == 202, sent.text
    [record] = sent.json()["records"]
    assert (sent.json()["accepted"], sent.json()["pending"]) == (1, 1)
    [(by, run_id)] = rows(project, "select submitted_by, run_id from inbox_record")
    assert (by, run_id) == ("token:steward-client", None)

    pipeline.run(project)

    contact = golden_of(project, INBOX, record["key"])
    [(account_id, link, company, first_name)] = rows(
        project,
        "select account_id, account_link, company, first_name from golden_contact "
        "where golden_id = :g",
        g=contact,
    )
    assert (account_id, link) == (acme, "company_name")
    assert (company, first_name) == ("Acme Corp.", "Priya")
    [(lineage_record,)] = rows(
        project,
        "select r.source from lineage l join source_record r on r.id = l.record_id "
        "where l.golden_id = :g and l.attribute = 'first_name'",
        g=contact,
    )
    assert lineage_record == INBOX
    [(stamped,)] = rows(project, "select run_id from inbox_record")
    assert stamped == rows(project, "select max(id) from run")[0][0]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = tmp_path_factory.mktemp("records")
    return inbox_project(directory / "shop", f"sqlite:///{directory / 'mdm.db'}")


@pytest.fixture(scope="module")
def steward(shop: Project) -> Iterator[TestClient]:
    with app_client(shop) as client:
        client.headers.update(token(shop, Role.STEWARD))
        yield client


def submissions(project: Project) -> int:
    return int(rows(project, "select count(*) from inbox_record")[0][0])


@pytest.mark.parametrize(
    ("records", "named"),
    [
        ([{"first": "Ann", "compnay": "Acme"}], "records[0].compnay: 'compnay' is not a field"),
        ([{"first": "Ann"}, {"first": ["Bo"]}], "records[1].first: a list is not a field value"),
        (
            [{"lead_id": "x", "first": "Ann"}, {"lead_id": "x", "first": "Bo"}],
            "records[1].lead_id: key 'x' is also the key of records[0]",
        ),
        ([{"first": "Cy", "updated_at": "someday"}], "records[0].updated_at:"),
        ([{"lead_id": "y", "job_title": None}], "records[0]: the record has no value"),
        ([], "records: List should have at least 1 item"),
    ],
)
def test_a_bad_submission_answers_422_naming_the_field_and_keeps_nothing(
    steward: TestClient, shop: Project, records: list[dict[str, object]], named: str
) -> None:
    before = submissions(shop)
    answer = steward.post(f"/api/records/{INBOX}", json={"records": records})
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"]
    assert submissions(shop) == before


def test_only_stewards_submit_and_only_to_an_inbox(steward: TestClient, shop: Project) -> None:
    lead = {"records": [{"first": "Ann", "last": "Lee"}]}
    with app_client(shop) as viewer:
        refused = viewer.post(f"/api/records/{INBOX}", json=lead, headers=token(shop, Role.VIEWER))
    assert refused.status_code == 403
    not_inbox = steward.post("/api/records/crm_contacts", json=lead)
    assert not_inbox.status_code == 400
    assert 'records go only to sources with format = "inbox"' in not_inbox.json()["error"]
    unknown = steward.post("/api/records/nowhere", json=lead)
    assert unknown.status_code == 404
    assert f"inbox sources: {INBOX}" in unknown.json()["error"]


def test_a_submitted_record_is_pending_until_the_run_that_takes_it(
    steward: TestClient, shop: Project
) -> None:
    lead = {"lead_id": "card-7", "first": "Lena", "last": "Okafor", "email": "lena@okafor.example"}
    sent = steward.post(f"/api/records/{INBOX}", json={"records": [lead]})
    assert sent.status_code == 202, sent.text
    pending = steward.get(f"/api/records/{INBOX}/card-7").json()
    assert (pending["status"], pending["golden_id"], pending["version"]) == ("pending", None, None)
    assert [p["values"] for p in pending["pending"]] == [lead]

    pipeline.run(shop)
    taken = steward.get(f"/api/records/{INBOX}/card-7").json()
    assert (taken["status"], taken["pending"], taken["version"]) == ("live", [], 1)
    assert taken["golden_id"] == golden_of(shop, INBOX, "card-7")
    assert taken["values"]["email"] == "lena@okafor.example"
    assert taken["standardized"]["first_name"] == "Lena"


def test_a_submitted_lead_reaches_the_crm_feed_as_a_new_contact_of_its_account(
    tmp_path: Path, store_url: str
) -> None:
    """A business card entered through the API: the next run attaches the person to the
    account the CRM holds, and the CRM's feed asks it to create the contact under that
    account's CRM key, and nothing else."""
    project = inbox_project(tmp_path / "shop", store_url)
    feeds = tmp_path / "feeds"
    assert publish(project, "--out", str(feeds)).exit_code == 0
    assert publish(project, "--ack", "crm_contacts").exit_code == 0
    lead = {"first": "Priya", "last": "Natarajan", "company": "Acme Corp."}
    with app_client(project) as client:
        sent = client.post(
            f"/api/records/{INBOX}", json={"records": [lead]}, headers=token(project, Role.STEWARD)
        )
    assert sent.status_code == 202, sent.text
    [record] = sent.json()["records"]

    pipeline.run(project)
    published = publish(project, "--source", "crm_contacts", "--out", str(feeds))
    assert published.exit_code == 0, published.output

    contact = golden_of(project, INBOX, record["key"])
    with (feeds / "crm_contacts" / "changes.csv").open(encoding="utf-8", newline="") as handle:
        changes = list(csv.DictReader(handle))
    assert {(row["change"], row["golden_id"], row["account_key"]) for row in changes} == {
        ("create", contact, ACME["Id"])
    }
    values = {row["attribute"]: row["value"] for row in changes}
    assert (values["first_name"], values["last_name"]) == ("Priya", "Natarajan")


def publish(project: Project, *arguments: str) -> Result:
    return CliRunner().invoke(app, ["publish", "-p", str(project.root), *arguments])
