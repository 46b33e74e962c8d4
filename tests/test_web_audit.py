"""The audit log (``GET /audit``, ``GET /api/audit``) on a demo project, on SQLite and
PostgreSQL: the actions taken through ``mdm.stewardship`` in the test, newest first, with who,
why and what they changed; the filters give exactly the rows SQL finds; pages follow on."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from web_support import add_people, app_client, demo_project, rows, sign_in

from mdm.config.specs import Project
from mdm.schema import LinkDecision
from mdm.stewardship import decide_pair, pin_value, unmerge, unpin_value
from mdm.store import open_store
from mdm.store.bulk import table_of
from mdm.store.tables import AuditLog
from mdm.web.routes import audit as audit_routes


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=20)
    add_people(found)
    return found


def newest_first(project: Project, where: str = "1 = 1", **values: Any) -> list[int]:
    """The ids of the audit rows that pass ``where``, as the log lists them."""
    sql = f"select id from audit_log where {where} order by at desc, id desc"
    return [int(row[0]) for row in rows(project, sql, **values)]


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-audit="(\d+)">', page)]


def row_html(page: str, audit_id: int) -> str:
    found = re.search(rf'<tr data-audit="{audit_id}">(.*?)</tr>', page, flags=re.DOTALL)
    assert found, audit_id
    return found.group(1)


def golden_change(row: str, golden_id: str) -> str:
    """What the row's diff says of one golden record."""
    blocks = re.split(r'(?=<div class="golden-change)', row)
    found = [block for block in blocks if f'data-golden="{golden_id}"' in block.split(">", 1)[0]]
    assert len(found) == 1, golden_id
    return found[0]


def two_member_accounts(project: Project) -> list[str]:
    return [
        str(row[0])
        for row in rows(
            project,
            "select golden_id from golden_account where status = 'active' and members >= 2 "
            "order by golden_id limit 2",
        )
    ]


def test_the_log_shows_who_did_what_why_and_what_changed(project: Project) -> None:
    pinned, split = two_member_accounts(project)
    [(phone_before,)] = rows(
        project, f"select phone from golden_account where golden_id = '{pinned}'"
    )
    pin_value(project, pinned, "phone", "+1 415 555 0100", "steward")
    [(phone_after,)] = rows(
        project, f"select phone from golden_account where golden_id = '{pinned}'"
    )
    assert phone_after == "+14155550100" != phone_before

    [(left, right)] = rows(
        project,
        "select left_source || ':' || left_key, right_source || ':' || right_key "
        "from review_item where status = 'open' and entity = 'contact' order by id limit 1",
    )
    decide_pair(
        project, str(left), str(right), LinkDecision.CANNOT_LINK, "admin", "<b>not</b> them"
    )

    [(out_source, out_key)] = rows(
        project,
        f"select source, source_key from xref where golden_id = '{split}' "
        "order by source, source_key limit 1",
    )
    unmerge(project, split, "steward", "two shops", records=[f"{out_source}:{out_key}"])
    [(minted,)] = rows(
        project,
        "select golden_id from xref where source = :s and source_key = :k",
        s=out_source,
        k=out_key,
    )
    assert minted != split

    with app_client(project) as client:
        assert client.get("/audit").status_code == 303
        assert client.get("/api/audit").status_code == 401
        sign_in(client, "viewer")
        answer = client.get("/audit")
        assert answer.status_code == 200
        page = answer.text
        api = client.get("/api/audit").json()

    every = newest_first(project)
    assert listed(page) == every
    assert [row["id"] for row in api["rows"]] == every
    assert api["next_before_id"] is None
    [(pin_id,)] = rows(project, "select id from audit_log where action = 'pin'")
    [(decision_id,)] = rows(project, "select id from audit_log where action = 'cannot_link'")
    [(split_id,)] = rows(project, "select id from audit_log where action = 'split'")
    assert every[:3] == [split_id, decision_id, pin_id]

    # The pin: who, what, the target linked to its golden record, the phone before and after.
    row = row_html(page, pin_id)
    assert ">steward</a>" in row and "pin a value" in row
    assert f'<a href="/golden/{pinned}">{pinned}.phone</a>' in row
    change = golden_change(row, pinned)
    shown = re.sub(r"\s+", " ", change)
    assert (
        f'data-attribute="phone"><span class="attr">phone</span> '
        f"<del>{phone_before}</del> → <ins>+14155550100</ins>"
    ) in shown, shown
    [api_pin] = [r for r in api["rows"] if r["id"] == pin_id]
    assert api_pin["actor"] == "steward" and api_pin["target"] == f"{pinned}.phone"
    assert api_pin["changes"] == [
        {
            "golden_id": pinned,
            "status_before": "active",
            "status_after": "active",
            "merged_into": None,
            "values": [{"attribute": "phone", "before": phone_before, "after": "+14155550100"}],
            "left": [],
            "joined": [],
            "more_left": 0,
            "more_joined": 0,
            "members_cut": False,
        }
    ]

    # The decision: its pair as the target, its reason escaped.
    row = row_html(page, decision_id)
    assert ">admin</a>" in row and "not a match (different)" in row
    assert f"<code>{html.escape(str(left))}</code>" in row
    assert "&lt;b&gt;not&lt;/b&gt; them" in row and "<b>not</b>" not in row

    # The split: the record left the old golden record and joined a new one.
    row = row_html(page, split_id)
    assert f'<a href="/golden/{split}">{split}</a>' in row and "two shops" in row
    ref = f"<code>{html.escape(f'{out_source}:{out_key}')}</code>"
    old, new = golden_change(row, split), golden_change(row, minted)
    assert re.search(r'class="left">[^<]*left</span> ' + re.escape(ref), old), old
    assert re.search(r'class="joined">[^<]*joined</span> ' + re.escape(ref), new), new
    assert re.search(r'<span class="status">\s*new\s*</span>', new), new
    [api_split] = [r for r in api["rows"] if r["id"] == split_id]
    changes = {c["golden_id"]: c for c in api_split["changes"]}
    assert changes[minted]["status_before"] is None
    assert changes[minted]["joined"] == [f"{out_source}:{out_key}"]
    assert changes[split]["left"] == [f"{out_source}:{out_key}"]


def test_the_filters_give_exactly_the_rows_and_pages_follow_on(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_member_accounts(project)
    pin_value(project, first, "city", "Springfield", "steward")
    unpin_value(project, first, "city", "steward")
    pin_value(project, second, "city", "Shelbyville", "admin")
    pin_value(project, first, "city", "Ogdenville", "steward")
    # Two rows moved back in time, for the date range.
    old = {
        int(i): when
        for i, when in zip(
            newest_first(project, "action = 'user-add'")[:2],
            (datetime(2024, 3, 1, 23, 30, tzinfo=UTC), datetime(2024, 3, 3, 0, 15, tzinfo=UTC)),
            strict=True,
        )
    }
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            table = table_of(AuditLog)
            for audit_id, when in old.items():
                connection.execute(update(table).where(table.c.id == audit_id).values(at=when))
    finally:
        store.close()
    march_first, march_third = sorted(old, key=lambda i: old[i])

    cases: list[tuple[dict[str, str], list[int]]] = [
        ({"actor": "steward"}, newest_first(project, "actor = 'steward'")),
        ({"action": "pin"}, newest_first(project, "action = 'pin'")),
        (
            {"actor": "steward", "action": "pin"},
            newest_first(project, "actor = 'steward' and action = 'pin'"),
        ),
        ({"target": f"{first}.city"}, newest_first(project, "target = :t", t=f"{first}.city")),
        ({"since": "2024-03-01", "until": "2024-03-02"}, [march_first]),
        ({"since": "2024-03-02", "until": "2024-03-03"}, [march_third]),
        ({"until": "2024-03-31"}, [march_third, march_first]),
        ({"since": "2024-04-01"}, [i for i in newest_first(project) if i not in old]),
        ({"actor": "nobody"}, []),
    ]
    assert len(cases[0][1]) == 3 and len(cases[1][1]) == 3
    with app_client(project) as client:
        sign_in(client, "viewer")
        for filters, want in cases:
            page = client.get("/audit", params=filters)
            assert page.status_code == 200, (filters, page.text[:300])
            assert listed(page.text) == want, filters
            api = client.get("/api/audit", params=filters).json()
            assert [row["id"] for row in api["rows"]] == want, filters
        # The filter form keeps what was asked.
        form = client.get("/audit", params={"actor": "steward", "action": "pin"}).text
        assert 'name="actor" value="steward"' in form
        assert '<option value="pin" selected>' in form
        assert "No action matches these filters." in client.get("/audit?actor=nobody").text

        # Paging, by the API: two rows a page, each page from before the last.
        every = newest_first(project)
        seen: list[int] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if before is not None:
                params["before"] = before
            api = client.get("/api/audit", params=params).json()
            seen += [row["id"] for row in api["rows"]]
            before = api["next_before_id"]
            if before is None:
                break
        assert seen == every
        # And by the page's "Older" link, filters kept.
        monkeypatch.setattr(audit_routes, "PAGE_SIZE", 2)
        seen = []
        link: str | None = "/audit?actor=steward"
        while link:
            text_of_page = client.get(link).text
            seen += listed(text_of_page)
            older = re.search(r'<a class="button" href="([^"]+)" id="older"', text_of_page)
            link = html.unescape(older.group(1)) if older else None
            if link:
                assert "actor=steward" in link and "before=" in link
        assert seen == newest_first(project, "actor = 'steward'")

        # A day that is not a day is refused, with what to write instead.
        wrong = client.get("/audit?since=March")
        assert wrong.status_code == 400 and "YYYY-MM-DD" in wrong.text
        wrong_api = client.get("/api/audit?until=2024-13-01").json()
        assert wrong_api["status"] == 400 and wrong_api["reason"] == "usage"
        backwards = client.get("/api/audit?since=2024-03-02&until=2024-03-01").json()
        assert backwards["status"] == 400
