"""Search in the workbench (``/search``) and the REST API (``/api/search``): by email, phone,
name, domain, golden id (redirects followed) and source key; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from web_support import add_people, app_client, demo_project, rows, sign_in

from mdm import stewardship
from mdm.config.specs import Project


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=12)
    add_people(found)
    return found


def found_ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text[:300]
    return [hit["golden_id"] for hit in answer.json()["hits"]]


def test_search_finds_by_email_phone_name_domain_and_key(project: Project) -> None:
    contacts = rows(
        project,
        "select golden_id, email, phone, first_name, last_name from golden_contact "
        "where status = 'active' and email is not null and phone like '+1%' "
        "and phone not like '% %' order by golden_id",
    )
    contact, email, phone, first, last = contacts[0]
    account, name, domain = rows(
        project,
        "select golden_id, name, domain from golden_account where status = 'active' "
        "and domain is not null order by golden_id",
    )[0]
    source, key, keyed = rows(
        project, "select source, source_key, golden_id from xref order by source, source_key"
    )[0]
    national = phonenumbers.format_number(
        phonenumbers.parse(phone), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    with app_client(project) as client:
        sign_in(client, "viewer")

        def search(q: str) -> list[str]:
            return found_ids(client.get("/api/search", params={"q": q}))

        assert contact in search(email.upper())
        assert contact in search(national)  # "(206) 726-3510" finds +12067263510
        assert contact in search(f"{first} {last}")
        assert contact in search(f"{last} {first}".lower())
        assert account in search(name)
        assert account in search(name.split()[0][:3])  # the start of a word of the name
        assert account in search(f"https://www.{domain}/contact")
        assert search(f"{source}:{key}") == [keyed]
        assert keyed in search(key)  # the key alone, in any source
        assert search("zzzz-nothing-like-it") == []

        hit = client.get("/api/search", params={"q": email}).json()["hits"][0]
        assert (hit["golden_id"], hit["matched_by"], hit["entity"]) == (contact, "email", "contact")

        # The page: results link to the golden record pages; a key goes straight there.
        page = client.get("/search", params={"q": name})
        assert page.status_code == 200
        assert f'href="/golden/{account}"' in page.text
        assert page.text.count('href="/golden/') >= 1
        straight = client.get("/search", params={"q": f"{source}:{key}"})
        assert straight.status_code == 303
        assert straight.headers["location"] == f"/golden/{keyed}"
        nothing = client.get("/search", params={"q": "zzzz-nothing-like-it"})
        assert "Nothing found" in nothing.text
        assert 'name="q"' in client.get("/search").text
        # The box in the page header.
        assert 'action="/search"' in client.get(f"/golden/{account}").text


def test_a_merged_away_id_finds_its_survivor(project: Project) -> None:
    ids = [
        golden_id
        for golden_id, tax_id in rows(
            project,
            "select golden_id, tax_id from golden_account where status = 'active' "
            "and members >= 2 order by golden_id",
        )
        if not tax_id
    ]
    result = stewardship.merge_golden(project, ids[0], ids[1], "someone", "one firm")
    survivor = next(g for g in ids[:2] if result.detail["after"][g]["status"] == "active")
    gone = next(g for g in ids[:2] if g != survivor)
    with app_client(project) as client:
        sign_in(client, "viewer")
        answer = client.get("/api/search", params={"q": gone.lower()}).json()
        [hit] = answer["hits"]
        assert (hit["golden_id"], hit["resolved_from"]) == (survivor, gone)
        page = client.get("/search", params={"q": gone})
        assert page.status_code == 303
        assert page.headers["location"] == f"/golden/{survivor}?from={gone}"
        assert "was merged into" in client.get(page.headers["location"]).text
