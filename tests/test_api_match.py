"""Match before create over the REST API: ``POST /api/match/account`` and ``/contact`` find
the golden records a record would join from the record-key index, explain them field by field,
give a contact's account, and write nothing; ``GET /api/records/{source}/{key}``; the API's
schema and its docs, served without a CDN."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel
from web_support import app_client, demo_project, rows

import mdm.store.tables  # noqa: F401  (every table in the metadata)
from mdm.config.specs import Project
from mdm.match_keys import parse_keys
from mdm.model_files import model_path
from mdm.record_keys import account_ids
from mdm.schema import Entity, Kind
from mdm.standardize import match_values
from mdm.store import records
from mdm.views.base import reading
from mdm.views.match import account_evidence
from mdm.web import accounts
from mdm.web.accounts import Role

US = {"United States", "USA", "US"}
CHROMIUM = Path("/usr/bin/chromium")


def table_counts(project: Project) -> dict[str, int]:
    """How many rows every table of the store holds."""
    return {
        name: rows(project, f'select count(*) from "{name}"')[0][0]
        for name in sorted(SQLModel.metadata.tables)
    }


def misspelled(name: str) -> str:
    """The name with two letters of its longest word swapped ("Roberts" -> "Robrets")."""
    words = name.split()
    at = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[at]
    words[at] = word[:2] + word[3] + word[2] + word[4:]
    return " ".join(words)


def reformatted(phone: str) -> str:
    """A North American number written another way: "+1 305 999 3659" -> "(305) 999-3659"."""
    digits = re.sub(r"\D", "", phone)
    digits = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    assert len(digits) == 10, phone
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def crm_rows(project: Project, name: str) -> list[dict[str, str]]:
    with (project.root / "data" / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def us_account(project: Project) -> dict[str, str]:
    """The first live CRM account in the US with a phone and a name word of 5 letters."""
    return next(
        row
        for row in crm_rows(project, "crm_accounts")
        if row["BillingCountry"] in US
        and row["Phone"]
        and row["IsDeleted"] == "false"
        and max(len(word) for word in row["Name"].split()) >= 5
    )


def golden_of(project: Project, source: str, key: str) -> str:
    sql = "select golden_id from xref where source = :s and source_key = :k"
    return str(rows(project, sql, s=source, k=key)[0][0])


def bearer(project: Project, role: Role) -> dict[str, str]:
    token = accounts.create_token(project.store_url, f"{role}-client", role, "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = tmp_path_factory.mktemp("match")
    return demo_project(directory / "shop", f"sqlite:///{directory / 'mdm.db'}", 40)


@pytest.fixture(scope="module")
def client(shop: Project) -> Iterator[TestClient]:
    with app_client(shop) as found:
        found.headers.update(bearer(shop, Role.VIEWER))
        yield found


def test_match_before_create_finds_the_account_and_its_contacts_account_writing_nothing(
    tmp_path: Path, store_url: str
) -> None:
    project = demo_project(tmp_path / "shop", store_url, 40)
    headers = bearer(project, Role.VIEWER)
    account = us_account(project)
    expected = golden_of(project, "crm_accounts", account["Id"])
    contact = next(
        row
        for row in crm_rows(project, "crm_contacts")
        if row["IsDeleted"] == "false" and row["Email"] and row["AccountId"]
    )
    expected_contact = golden_of(project, "crm_contacts", contact["Id"])
    [(contact_account,)] = rows(
        project, "select account_id from golden_contact where golden_id = :g", g=expected_contact
    )
    model = model_path(project, Entity.ACCOUNT).read_bytes()
    before = table_counts(project)

    asked = {"name": misspelled(account["Name"]), "phone": reformatted(account["Phone"])}
    person = {
        "first_name": contact["FirstName"],
        "last_name": contact["LastName"],
        "email": contact["Email"],
    }
    with app_client(project) as client:
        found = client.post("/api/match/account", json=asked, headers=headers)
        person_found = client.post("/api/match/contact", json=person, headers=headers)

    assert found.status_code == 200, found.text
    answer = found.json()
    assert answer["verdict"] == "join"
    best = answer["candidates"][0]
    assert (best["golden_id"], best["decision"]) == (expected, "match")
    assert best["probability"] >= 0.9
    levels = {field["name"]: field for field in best["fields"]}
    assert levels["phone"]["level"] == "exact"
    assert levels["phone"]["asked"] == levels["phone"]["member"]
    assert levels["name"]["level"] not in ("exact", "null")  # a fuzzy level: the misspelling
    assert levels["name"]["weight"] > 0
    weights = sum(field["weight"] for field in best["fields"])
    assert best["match_weight"] == pytest.approx(weights + _prior(project), abs=1e-6)
    assert answer["standardized"]["phone"] == answer["match_keys"]["phone"]
    assert answer["match_keys"]["phone"].startswith("+1")

    assert person_found.status_code == 200, person_found.text
    person_answer = person_found.json()
    assert person_answer["candidates"][0]["golden_id"] == expected_contact
    assert person_answer["candidates"][0]["account_id"] == contact_account
    assert person_answer["account"]["golden_id"] == contact_account
    assert person_answer["account"]["link"] == "joined_contact"

    assert table_counts(project) == before  # nothing written, not even a run
    assert model_path(project, Entity.ACCOUNT).read_bytes() == model


def _prior(project: Project) -> float:
    model = json.loads(model_path(project, Entity.ACCOUNT).read_text())
    return float(model["prior"]["weight"])


def test_a_record_in_a_sources_columns_is_mapped_as_that_source_maps_it(
    client: TestClient, shop: Project
) -> None:
    account = us_account(shop)
    expected = golden_of(shop, "crm_accounts", account["Id"])
    asked = {"Name": misspelled(account["Name"]), "Phone": reformatted(account["Phone"])}
    answer = client.post("/api/match/account?source=crm_accounts", json=asked)
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "crm_accounts"
    assert answer.json()["candidates"][0]["golden_id"] == expected
    # The canonical name is not a column of the CRM extract.
    wrong = client.post("/api/match/account?source=crm_accounts", json={"name": "Acme"})
    assert wrong.status_code == 422
    assert "'name' is not a field of source 'crm_accounts'" in wrong.json()["error"]
    assert "did you mean 'Name'?" in wrong.json()["error"]


def test_a_contact_without_a_match_is_attached_by_its_company_name(
    client: TestClient, shop: Project
) -> None:
    golden_id, name = only_golden_account_of_its_name(shop)
    stranger = {"first_name": "Zebedee", "last_name": "Quillfeather", "company": name.upper()}
    answer = client.post("/api/match/contact", json=stranger)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "create"
    assert answer.json()["candidates"] == []
    assert answer.json()["account"]["golden_id"] == golden_id
    assert answer.json()["account"]["link"] == "company_name"


def test_a_new_contact_in_crm_columns_is_attached_by_its_account_key(
    client: TestClient, shop: Project
) -> None:
    account = us_account(shop)
    expected = golden_of(shop, "crm_accounts", account["Id"])
    asked = {"FirstName": "Zebedee", "LastName": "Quillfeather", "AccountId": account["Id"]}
    answer = client.post("/api/match/contact?source=crm_contacts", json=asked)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["verdict"], answer.json()["source"]) == ("create", "crm_contacts")
    assert answer.json()["account"]["golden_id"] == expected
    assert answer.json()["account"]["link"] == "account_key"


def only_golden_account_of_its_name(project: Project) -> tuple[str, str]:
    """A golden account, and a name of one of its records that no record of another golden
    account has (in match form: "Acme Corp." is "acme")."""
    found = rows(
        project,
        "select x.golden_id, r.attributes from xref x join source_record r on r.id = x.record_id "
        "where x.entity = 'account'",
    )
    names = pd.Series([json.loads(attributes)["name"] for _, attributes in found], dtype="string")
    keys = match_values(Kind.COMPANY_NAME, names)
    owners = pd.DataFrame({"golden_id": [g for g, _ in found], "key": keys, "name": names})
    per_key = owners.groupby("key")["golden_id"].transform("nunique")
    return next(
        (str(row.golden_id), str(row.name))
        for row in owners[per_key == 1].sort_values("golden_id").itertuples()
    )


def test_an_unknown_company_would_be_created(client: TestClient) -> None:
    answer = client.post(
        "/api/match/account", json={"name": "Qwxyz Zzyzx Holdings", "phone": "+1 907 555 0199"}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["verdict"], answer.json()["candidates"]) == ("create", [])


def test_a_bad_record_answers_422_naming_the_field(client: TestClient) -> None:
    typo = client.post("/api/match/account", json={"nmae": "Acme"})
    assert typo.status_code == 422
    assert "nmae: 'nmae' is not a field of an account" in typo.json()["error"]
    assert "did you mean 'name'?" in typo.json()["error"]
    nested = client.post("/api/match/contact", json={"email": {"work": "a@b.com"}})
    assert nested.status_code == 422
    assert "email" in nested.json()["error"]
    empty = client.post("/api/match/contact", json={})
    assert empty.status_code == 422
    assert "no value for any attribute" in empty.json()["error"]
    unknown = client.post("/api/match/account?source=nowhere", json={"name": "Acme"})
    assert unknown.status_code == 404
    assert "No source 'nowhere'" in unknown.json()["error"]


def test_match_needs_a_viewer(shop: Project) -> None:
    with app_client(shop) as anonymous:
        answer = anonymous.post("/api/match/account", json={"name": "Acme"})
    assert answer.status_code == 401


def test_a_source_record_with_its_golden_id_and_history(client: TestClient, shop: Project) -> None:
    account = us_account(shop)
    expected = golden_of(shop, "crm_accounts", account["Id"])
    answer = client.get(f"/api/records/crm_accounts/{account['Id']}")
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert (record["status"], record["golden_id"], record["resolved_from"]) == (
        "live",
        expected,
        None,
    )
    assert record["values"]["name"] == account["Name"]
    assert record["match_keys"]["phone"].startswith("+1")
    assert record["golden_history"] == [
        {"golden_id": expected, "current_id": expected, "from_run": 1, "to_run": None}
    ]
    assert [v["version"] for v in record["versions"]] == [1]
    missing = client.get("/api/records/crm_accounts/no-such-key")
    assert missing.status_code == 404
    assert "No record crm_accounts:no-such-key" in missing.json()["error"]


def test_the_api_is_in_the_schema_and_its_docs_load_without_a_cdn(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    match = paths["/api/match/account"]["post"]
    assert match["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccountValues"
    }
    answer = match["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/MatchAnswer"}
    assert "ContactValues" in json.dumps(paths["/api/match/contact"])
    assert "/api/records/{source}" in paths
    assert "SourceRecordView" in json.dumps(paths["/api/records/{source}/{key}"])
    assert "Submission" in json.dumps(paths["/api/records/{source}"]["post"])
    for name in ("MatchCandidate", "MatchField", "AccountLink", "SubmissionAnswer"):
        assert name in schema["components"]["schemas"]

    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", docs.text)
    assets = re.findall(r"""(?:src|href)=["']?(/api/docs/[^"' >]+)""", docs.text)
    assert len(assets) == 3
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/api/docs/secrets.txt").status_code == 404


def test_a_contacts_account_evidence_is_the_one_the_pipeline_finds(shop: Project) -> None:
    """The match reads each contact's golden account in two queries; the pipeline's
    ``account_ids`` in one per kind of evidence: they agree on every contact of the store."""
    with reading(shop.store_url) as connection:
        live = records.live_match_keys(connection, Entity.CONTACT)
        keys, _ = parse_keys(Entity.CONTACT, live["match_keys"])
        contacts = pd.concat([live[["record_id", "source", "source_key"]], keys], axis=1)
        pipeline_ids = account_ids(connection, shop, contacts).fillna("none").tolist()
        match_ids = account_evidence(connection, shop, contacts).fillna("none").tolist()
    assert match_ids == pipeline_ids
    assert sum(found != "none" for found in match_ids) > len(match_ids) / 2


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (Debian's chromium package)",
)
def test_the_api_docs_render_in_a_browser_with_no_network(shop: Project, tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    command = [sys.executable, "-m", "mdm", "serve", "-p", str(shop.root), "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    elsewhere: list[str] = []

    def only_here(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        wait_for(base + "/openapi.json")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            try:
                page = browser.new_page()
                page.route("**/*", only_here)
                page.goto(base + "/api/docs")
                page.wait_for_selector(".opblock", timeout=30_000)
                shown = page.locator(".opblock-summary-path").all_inner_texts()
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    paths = {" ".join(text.split()).replace("\u200b", "") for text in shown}
    assert {"/api/match/account", "/api/match/contact", "/api/records/{source}"} <= paths
    assert elsewhere == []


def test_mdm_serve_with_two_workers_answers_from_two_processes(
    shop: Project, tmp_path: Path
) -> None:
    """``mdm serve --workers 2``: two worker processes, each with the project's app (the same
    signing key: a token works on both), gone when the server stops."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    command = [sys.executable, "-m", "mdm", "serve", "-p", str(shop.root), "--port", str(port)]
    server = subprocess.Popen([*command, "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    headers = {**bearer(shop, Role.VIEWER), "Content-Type": "application/json"}
    body = json.dumps({"name": "Acme", "country": "US"}).encode()
    try:
        wait_for(base + "/openapi.json")
        workers = _workers_of(server.pid)
        assert len(workers) == 2, workers
        for _ in range(6):
            asked = urllib.request.Request(base + "/api/match/account", body, headers)
            with urllib.request.urlopen(asked, timeout=30) as answer:
                assert answer.status == 200
                assert json.loads(answer.read())["entity"] == "account"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    said = (tmp_path / "serve.log").read_text()
    assert said.count("Application startup complete") == 2, said


def _workers_of(parent: int) -> list[int]:
    """The worker processes uvicorn started under ``parent`` (spawned interpreters)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
        if ppid and int(ppid.group(1)) == parent and "spawn_main" in command:
            found.append(int(status.parent.name))
    return sorted(found)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str) -> None:
    for _ in range(150):
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mdm serve did not answer at {url}")
