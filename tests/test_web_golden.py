"""The golden record page (the 360 view), its JSON, and the steward actions on it through the
web: previews that change nothing, actions that change the store as the stewardship functions
do, refusals shown where they belong, roles enforced; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_support import add_people, app_client, demo_project, rows, sign_in

from mdm import stewardship
from mdm.config.specs import Project
from mdm.store import open_store
from mdm.store.tables import SQLModel
from mdm.views import golden_lineage, golden_view, reading, resolve_id
from mdm.web import accounts
from mdm.web.accounts import Role
from mdm.web.flash import FLASH_COOKIE
from mdm.web.routes.golden import reason_recorded


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=12)
    add_people(found)
    return found


def snapshot(project: Project) -> dict[str, list[str]]:
    """Every row of every table, as text, in order: the whole store (but when a token was
    last used)."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            return {
                table.name: sorted(
                    repr(tuple(row)) for row in connection.execute(table.select()).all()
                )
                for table in SQLModel.metadata.sorted_tables
                if table.name != "api_token"
            }
    finally:
        store.close()


def members(project: Project, golden_id: str) -> list[str]:
    found = rows(project, "select source, source_key from xref where golden_id = :g", g=golden_id)
    return sorted(f"{source}:{key}" for source, key in found)


def golden_of(project: Project, record: str) -> str:
    source, key = record.split(":", 1)
    [(found,)] = rows(
        project, "select golden_id from xref where source = :s and source_key = :k", s=source, k=key
    )
    return str(found)


def status_of(project: Project, golden_id: str) -> str:
    [(status,)] = rows(
        project, "select status from golden_account where golden_id = :g", g=golden_id
    )
    return str(status)


def last_audit(project: Project) -> tuple[str, str, str, dict[str, Any]]:
    [(actor, action, target, detail)] = rows(
        project, "select actor, action, target, detail from audit_log order by id desc limit 1"
    )
    return str(actor), str(action), str(target), json.loads(detail) if detail else {}


def two_accounts(project: Project) -> tuple[str, str]:
    """Two active accounts of two records each, the second without a tax id (so that no
    deterministic rule keeps them apart when merged)."""
    found = rows(
        project,
        "select golden_id, tax_id from golden_account where status = 'active' and members >= 2 "
        "order by golden_id",
    )
    first = next(g for g, tax in found if tax)
    second = next(g for g, tax in found if not tax and g != first)
    return str(first), str(second)


def record_without_tax_id(project: Project, golden_id: str) -> str:
    """A record of ``golden_id`` whose source gives no tax id (it may join any account)."""
    for record in members(project, golden_id):
        source, key = record.split(":", 1)
        [(attributes,)] = rows(
            project,
            "select attributes from source_record where source = :s and source_key = :k "
            "and is_current = :t",
            s=source,
            k=key,
            t=True,
        )
        if not json.loads(attributes).get("tax_id"):
            return record
    raise AssertionError(f"every record of {golden_id} has a tax id")


def post(client: TestClient, csrf: str, path: str, **form: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf, **form})


def follow(client: TestClient, answer: Any) -> Any:
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    return client.get(answer.headers["location"])


def test_the_golden_page_shows_values_lineage_records_and_history(project: Project) -> None:
    account, _ = two_accounts(project)
    with reading(project.store_url) as connection:
        view = golden_view(connection, project.spec, account)
        lineage = golden_lineage(connection, account)
    with app_client(project) as client:
        sign_in(client, "viewer")
        page = client.get(f"/golden/{account}")
        assert page.status_code == 200
        html = page.text
        assert str(view.record["name"]) in html
        for row in lineage:  # every golden value with its record and rule
            assert f">{row.attribute}<" in html
            assert row.rule in html
            assert row.record is None or row.record in html
        systems = {m.system for m in view.members}
        for member in view.members:
            assert f'id="rec-{member.source}:{member.source_key}"' in html
        for system in systems:
            assert f'class="system">{system}<' in html
        assert "History" in html and "created" in html and "first version" in html
        for contact in view.contacts:
            assert f'href="/golden/{contact.golden_id}"' in html
        # A viewer sees no steward action.
        assert "/merge/preview" not in html and "split-form" not in html

        # The JSON twin has the same values, lineage and records.
        data = client.get(f"/api/golden/{account}").json()
        assert data["golden_id"] == account and data["resolved_from"] is None
        by_attribute = {row["attribute"]: row for row in data["values"]}
        for row in lineage:
            assert by_attribute[row.attribute]["record"] == row.record
            assert by_attribute[row.attribute]["rule"] == row.rule
        listed = sorted(
            f"{m['source']}:{m['source_key']}" for s in data["systems"] for m in s["members"]
        )
        assert listed == members(project, account)
        assert [e["event"] for e in data["history"]["events"]] == ["created"]

        # A contact's page links its account.
        contact = next(c for c in view.contacts)
        contact_page = client.get(f"/golden/{contact.golden_id}").text
        assert f'href="/golden/{account}"' in contact_page

        missing = client.get("/golden/A-000000000000")
        assert missing.status_code == 404
        assert client.get("/api/golden/nonsense").json()["status"] == 404


def test_a_merged_away_id_redirects_to_its_survivor(project: Project) -> None:
    one, other = two_accounts(project)
    stewardship.merge_golden(project, one, other, "someone", "test")
    with reading(project.store_url) as connection:
        survivor = resolve_id(connection, other).golden_id
    gone = other if survivor == one else one
    with app_client(project) as client:
        sign_in(client, "steward")
        answer = client.get(f"/golden/{gone}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/golden/{survivor}?from={gone}"
        page = follow(client, answer).text
        assert f"<strong>{gone}</strong> was merged into <strong>{survivor}</strong>" in page
        assert f"/golden/{gone}/unmerge/preview" in page
        assert f"<code>{gone}</code>" in page  # under "Merged into this record"
        # The note is shown only for an id that really answers as this one.
        fake = client.get(f"/golden/{survivor}?from=A-000000000000").text
        assert "was merged into" not in fake

        data = client.get(f"/api/golden/{gone}").json()
        assert (data["golden_id"], data["resolved_from"]) == (survivor, gone)
        assert gone in data["merged_in"]


def test_each_action_through_the_web_changes_the_store(project: Project) -> None:
    one, other = two_accounts(project)
    before = {golden_id: members(project, golden_id) for golden_id in (one, other)}
    with app_client(project) as client:
        csrf = sign_in(client, "steward")

        # Merge: the older id survives, the other redirects to it.
        merged = post(client, csrf, f"/golden/{one}/merge", other=other, reason="one firm")
        survivor = merged.headers["location"].removeprefix("/golden/")
        gone = other if survivor == one else one
        assert survivor in (one, other)
        assert members(project, survivor) == sorted(before[one] + before[other])
        assert status_of(project, gone) == "merged"
        assert last_audit(project)[:3] == ("steward", "merge", f"{one} {other}")
        assert last_audit(project)[3]["reason"] == "one firm"
        page = follow(client, merged)
        assert "are merged for good" in page.text
        assert 'class="flash ok"' in page.text
        assert FLASH_COOKIE not in client.cookies  # shown once
        assert "are merged for good" not in client.get(f"/golden/{survivor}").text

        # Undo the merge: the merged-away id has its records back.
        undone = post(client, csrf, f"/golden/{gone}/unmerge", reason="two firms after all")
        assert undone.headers["location"] == f"/golden/{gone}"
        assert {g: members(project, g) for g in (one, other)} == before
        assert last_audit(project)[:3] == ("steward", "unmerge", gone)
        assert last_audit(project)[3]["reason"] == "two firms after all"
        assert "is separated again" in follow(client, undone).text

        # Split a record out: it gets an id of its own; the golden id stays with the others.
        record = record_without_tax_id(project, one)
        split = post(client, csrf, f"/golden/{one}/split", records=[record], reason="not them")
        assert split.headers["location"] == f"/golden/{one}"
        fresh = golden_of(project, record)
        assert fresh not in (one, other)
        assert members(project, one) == [r for r in before[one] if r != record]
        assert last_audit(project)[:3] == ("steward", "split", one)
        assert last_audit(project)[3]["records"] == [record]

        # Move it on to another golden record: the id it leaves has no record left.
        moved = post(
            client, csrf, f"/golden/{fresh}/move", record=record, to=other, reason="theirs"
        )
        assert moved.headers["location"] == f"/golden/{other}"
        assert golden_of(project, record) == other
        assert status_of(project, fresh) == "retired"
        actor, action, target, detail = last_audit(project)
        assert (actor, action, target) == ("steward", "move", record)
        assert (detail["from"], detail["to"], detail["reason"]) == (fresh, other, "theirs")

        # Pin a value: standardized as a source value would be.
        pinned = post(
            client,
            csrf,
            f"/golden/{one}/pin",
            attribute="domain",
            value="https://www.Example.org/about",
            reason="their new site",
        )
        assert pinned.headers["location"] == f"/golden/{one}"
        pins = rows(
            project,
            "select value, pinned_by from value_pin where golden_id = :g and attribute = 'domain' "
            "and active = :t",
            g=one,
            t=True,
        )
        assert pins == [("example.org", "steward")]
        assert rows(project, "select domain from golden_account where golden_id = :g", g=one) == [
            ("example.org",)
        ]
        assert last_audit(project)[:3] == ("steward", "pin", f"{one}.domain")
        page = follow(client, pinned).text
        assert "pinned by steward" in page
        assert f"/golden/{one}/unpin/preview?attribute=domain" in page

        # Unpin it: the survivorship rules choose again.
        unpinned = post(client, csrf, f"/golden/{one}/unpin", attribute="domain", reason="wrong")
        assert unpinned.headers["location"] == f"/golden/{one}"
        assert rows(
            project,
            "select count(*) from value_pin where golden_id = :g and active = :t",
            g=one,
            t=True,
        ) == [(0,)]
        assert rows(project, "select domain from golden_account where golden_id = :g", g=one) != [
            ("example.org",)
        ]
        assert last_audit(project)[:3] == ("steward", "unpin", f"{one}.domain")
        if reason_recorded("pin"):
            assert last_audit(project)[3]["reason"] == "wrong"


def test_a_preview_says_what_will_happen_and_changes_nothing(project: Project) -> None:
    one, other = two_accounts(project)
    record = record_without_tax_id(project, one)
    stored = snapshot(project)
    with app_client(project) as client:
        sign_in(client, "steward")
        merge = client.get(f"/golden/{one}/merge/preview", params={"other": other})
        assert merge.status_code == 200
        survivor = min(one, other)  # both made by the first run: the smaller id is older
        assert f"{survivor} survives (the older id)" in merge.text
        for member in members(project, max(one, other)):
            assert member in merge.text
        assert f'action="/golden/{one}/merge"' in merge.text
        assert f'name="other" value="{other}"' in merge.text

        split = client.get(f"/golden/{one}/split/preview", params={"records": [record]})
        assert f"{record} leaves {one} and gets a new golden id" in split.text
        assert f'name="records" value="{record}"' in split.text

        move = client.get(f"/golden/{one}/move/preview", params={"record": record, "to": other})
        assert f"{record} leaves {one} and joins {other}." in move.text
        preview = client.get(
            f"/api/golden/{one}/move/preview", params={"record": record, "to": other}
        ).json()
        assert preview["moves"] == [
            {
                "record": record,
                "system": preview["moves"][0]["system"],
                "from_id": one,
                "to_id": other,
            }
        ]
        assert preview["refused"] is None and preview["after"] == one

        pin = client.get(
            f"/golden/{one}/pin/preview", params={"attribute": "domain", "value": "WWW.Example.ORG"}
        )
        assert "will be pinned to &#39;example.org&#39;" in pin.text
        bad = client.get(f"/golden/{one}/pin/preview", params={"attribute": "phone", "value": "12"})
        assert "This would be refused." in bad.text and "not a valid phone number" in bad.text
        assert 'action="/golden/' + one + '/pin"' not in bad.text  # no confirm form

        unmerge = client.get(f"/golden/{one}/unmerge/preview")
        assert "was not merged into another record" in unmerge.text
        unpin = client.get(f"/golden/{one}/unpin/preview", params={"attribute": "domain"})
        assert f"{one}.domain is not pinned" in unpin.text
    assert snapshot(project) == stored


def test_refusals_roles_and_the_api_twins(project: Project) -> None:
    one, other = two_accounts(project)
    steward_token = accounts.create_token(project.store_url, "sync", Role.STEWARD, "test")
    viewer_token = accounts.create_token(project.store_url, "reader", Role.VIEWER, "test")
    stored = snapshot(project)
    with app_client(project) as client:
        # A viewer may look but not act, by session or by token.
        csrf = sign_in(client, "viewer")
        for action, form in [
            ("merge", {"other": other}),
            ("unmerge", {}),
            ("split", {"records": members(project, one)[:1]}),
            ("move", {"record": members(project, one)[0], "to": other}),
            ("pin", {"attribute": "domain", "value": "example.org"}),
            ("unpin", {"attribute": "domain"}),
        ]:
            answer = post(client, csrf, f"/golden/{one}/{action}", reason="why not", **form)
            assert answer.status_code == 403, action
            api = client.post(
                f"/api/golden/{one}/{action}",
                json={"reason": "why not", **form},
                headers={"Authorization": f"Bearer {viewer_token}"},
            )
            assert api.status_code == 403, action
        assert client.get(f"/golden/{one}/merge/preview?other={other}").status_code == 403
        assert snapshot(project) == stored

        # A refused action shows on the preview page, with its status; nothing changes.
        client.cookies.clear()
        csrf = sign_in(client, "steward")
        answer = post(client, csrf, f"/golden/{one}/unpin", attribute="domain", reason="x")
        assert answer.status_code == 404
        assert "is not pinned" in answer.text and 'class="flash error"' in answer.text
        answer = post(client, csrf, f"/golden/{one}/merge", other=other, reason="")
        assert answer.status_code == 400
        assert "Give a reason" in answer.text
        assert f'name="other" value="{other}"' in answer.text  # the form again, to fix it
        assert snapshot(project) == stored

        # The API twins, by token.
        bearer = {"Authorization": f"Bearer {steward_token}"}
        client.cookies.clear()
        refused = client.post(
            f"/api/golden/{one}/pin",
            json={"attribute": "phone", "value": "12", "reason": "x"},
            headers=bearer,
        )
        assert refused.status_code == 400
        assert refused.json()["reason"] == "usage"
        assert "not a valid phone number" in refused.json()["error"]

        joined = sorted(members(project, one) + members(project, other))
        merged = client.post(
            f"/api/golden/{one}/merge", json={"other": other, "reason": "one firm"}, headers=bearer
        ).json()
        survivor = merged["golden_id"]
        assert members(project, survivor) == joined
        gone = other if survivor == one else one
        assert status_of(project, gone) == "merged"
        view = client.get(f"/api/golden/{gone}", headers=bearer).json()
        assert (view["golden_id"], view["resolved_from"]) == (survivor, gone)
        preview = client.get(f"/api/golden/{gone}/unmerge/preview", headers=bearer).json()
        assert preview["refused"] is None and preview["survivor"] == survivor
        back = client.post(
            f"/api/golden/{gone}/unmerge", json={"reason": "no"}, headers=bearer
        ).json()
        assert back["golden_id"] == gone and status_of(project, gone) == "active"
        assert last_audit(project)[:3] == ("token:sync", "unmerge", gone)

        record = record_without_tax_id(project, one)
        done = client.post(
            f"/api/golden/{other}/move", json={"record": record, "reason": "theirs"}, headers=bearer
        )
        assert done.status_code == 200, done.text
        result = done.json()
        assert (result["action"], result["golden_id"]) == ("move", other)
        assert result["detail"]["after"][other]["status"] == "active"
        assert golden_of(project, record) == other
        assert last_audit(project)[:3] == ("token:sync", "move", record)
