"""The review queue and the pair page of ``mdm serve``, on SQLite and PostgreSQL: the queue's
order, filters and count against the read model; the pair page's records and waterfall; a
steward clearing items (and the store holding the decisions), undo, a stale page refused,
a viewer refused, and the API twins by token."""

from __future__ import annotations

import html
import inspect
import json
import re
import threading
import time
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_support import add_people, app_client, demo_project, rows, sign_in

from mdm.config.specs import Project
from mdm.store import open_store
from mdm.store.lock import writer_lock
from mdm.views import reading
from mdm.views.queue import PairView, QueueFilters, pair_view, queue_page
from mdm.web import accounts
from mdm.web.routes import review

# Enough organisations for open review items of both entities and of several sources.
ACCOUNTS = 150
ROW = re.compile(r'<tr data-item="(\d+)"')
EXPECTED = re.compile(r'name="expected" value="([^"]*)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FLASH = re.compile(r'<p class="flash ([a-z]+)[^"]*" role="status">([^<]*)</p>')


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=ACCOUNTS)
    add_people(found)
    return found


def queue_ids(project: Project, filters: QueueFilters | None = None) -> list[int]:
    """The open items in queue order, as the read model gives them."""
    with reading(project.store_url) as connection:
        return [item.id for item in queue_page(connection, filters, limit=1000).items]


def the_pair(project: Project, item_id: int) -> PairView:
    with reading(project.store_url) as connection:
        return pair_view(connection, project, item_id)


def page_form(client: TestClient, item_id: int) -> tuple[str, str]:
    """The pair page's CSRF token and expected versions, as a browser would post them."""
    page = client.get(f"/review/{item_id}")
    assert page.status_code == 200, page.text[:300]
    expected = EXPECTED.search(page.text)
    csrf = CSRF.search(page.text)
    assert expected and csrf, "the page has no decision form"
    return csrf.group(1), html.unescape(expected.group(1))


def decide(client: TestClient, item_id: int, decision: str, **extra: str) -> tuple[int, str]:
    csrf, expected = page_form(client, item_id)
    form = {"csrf_token": csrf, "decision": decision, "expected": expected, **extra}
    answer = client.post(f"/review/{item_id}/decide", data=form)
    return answer.status_code, answer.headers.get("location", answer.text)


def test_the_queue_is_in_priority_order_with_filters_and_a_count(project: Project) -> None:
    everything = queue_ids(project)
    assert len(everything) >= 6
    # Independently of the read model: open items by priority (highest first), then id.
    by_sql = [
        int(row[0])
        for row in rows(
            project,
            "SELECT id FROM review_item WHERE status = 'open' AND skipped_at IS NULL "
            "ORDER BY priority DESC, id",
        )
    ]
    assert everything == by_sql
    entities = {str(row[0]) for row in rows(project, "SELECT DISTINCT entity FROM review_item")}
    assert entities == {"account", "contact"}

    with app_client(project) as client:
        sign_in(client, "viewer")
        page = client.get("/queue")
        assert page.status_code == 200
        assert [int(i) for i in ROW.findall(page.text)] == everything
        assert f"<strong>{len(everything)}</strong> open items" in page.text
        answer = client.get("/api/review").json()
        assert [item["id"] for item in answer["items"]] == everything
        assert answer["open_count"] == len(everything)
        first = answer["items"][0]
        assert first["left_name"] and first["right_name"]
        # The names the queue page's read model gives, on the page and in the pair's item.
        view = the_pair(project, first["id"])
        assert (first["left_name"], first["right_name"]) == (
            view.item.left_name,
            view.item.right_name,
        )
        for name in (first["left_name"], first["right_name"]):
            assert html.escape(name) in page.text
        pair = client.get(f"/api/review/{first['id']}").json()
        assert pair["item"]["left_name"] == first["left_name"] and pair["decision"] is None
        assert first["left_golden_id"] and first["right_golden_id"]

        contacts = queue_ids(project, QueueFilters(entity="contact"))
        expected_contacts = [
            int(row[0])
            for row in rows(
                project,
                "SELECT id FROM review_item WHERE status = 'open' AND entity = 'contact' "
                "ORDER BY priority DESC, id",
            )
        ]
        assert contacts == expected_contacts
        page = client.get("/queue?entity=contact")
        assert [int(i) for i in ROW.findall(page.text)] == contacts
        assert f"<strong>{len(contacts)}</strong> open item" in page.text
        assert client.get("/api/review?entity=contact").json()["open_count"] == len(contacts)

        source = str(rows(project, "SELECT left_source FROM review_item LIMIT 1")[0][0])
        of_source = queue_ids(project, QueueFilters(source=source))
        assert of_source and set(of_source) < set(everything)
        page = client.get(f"/queue?source={source}")
        assert [int(i) for i in ROW.findall(page.text)] == of_source

        probabilities = sorted(
            float(row[0]) for row in rows(project, "SELECT probability FROM review_item")
        )
        low, high = probabilities[1], probabilities[-2]
        band = queue_ids(project, QueueFilters(min_probability=low, max_probability=high))
        in_band = {
            int(row[0])
            for row in rows(
                project,
                "SELECT id FROM review_item WHERE probability >= :low AND probability <= :high",
                low=low,
                high=high,
            )
        }
        assert set(band) == in_band and 0 < len(band) < len(everything)
        answer = client.get(f"/api/review?min_p={low!r}&max_p={high!r}").json()
        assert [item["id"] for item in answer["items"]] == band
        assert answer["open_count"] == len(band)

        # Age: the items were found by a run that started moments ago.
        assert client.get("/api/review?max_age=1").json()["open_count"] == len(everything)
        older = client.get("/api/review?min_age=1").json()
        assert older == {"items": [], "open_count": 0, "skipped_count": 0, "next_cursor": None}
        page = client.get("/queue?min_age=1")
        assert "No open review item matches these filters" in page.text

        # Paging: by offset, by cursor, and the page's links.
        two = client.get("/api/review?limit=2").json()
        assert [item["id"] for item in two["items"]] == everything[:2]
        rest = client.get("/api/review", params={"limit": 100, "after": two["next_cursor"]}).json()
        assert [item["id"] for item in rest["items"]] == everything[2:]
        assert rest["next_cursor"] is None
        offset = client.get("/api/review?limit=2&offset=2").json()
        assert [item["id"] for item in offset["items"]] == everything[2:4]

        bad = client.get("/api/review?min_p=2")
        assert bad.status_code == 400 and "min_p" in bad.json()["error"]


def test_the_queue_pages(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = queue_ids(project)
    monkeypatch.setattr(review, "PAGE_SIZE", 3)
    with app_client(project) as client:
        sign_in(client, "viewer")
        first = client.get("/queue")
        assert [int(i) for i in ROW.findall(first.text)] == everything[:3]
        assert 'href="/queue?page=2"' in first.text
        second = client.get("/queue?page=2")
        assert [int(i) for i in ROW.findall(second.text)] == everything[3:6]
        assert f"Items 4\u2013{min(6, len(everything))} of {len(everything)}" in second.text


def test_the_pair_page_shows_both_records_and_a_waterfall(project: Project) -> None:
    item_id = queue_ids(project)[0]
    view = the_pair(project, item_id)
    explanation = view.explanation
    assert explanation is not None and explanation.method == "probabilistic"
    with app_client(project) as client:
        sign_in(client, "viewer")
        page = client.get(f"/review/{item_id}")
        assert page.status_code == 200
        body = page.text
        for record in (view.left, view.right):
            assert html.escape(record.ref) in body
            assert f'href="/golden/{record.golden_id}"' in body
        shown = [field for field in view.fields if field.left or field.right]
        for field in shown:
            for value in (field.left, field.right):
                if value:
                    assert html.escape(value) in body
        assert body.count('class="differs"') == 2 * sum(field.differs for field in shown)
        # The waterfall: the prior, one bar per comparison, the total.
        assert body.count('<svg class="waterfall"') == 1
        assert body.count('class="bar step"') == len(explanation.fields)
        assert body.count('class="bar prior"') == 1 and body.count('class="bar total"') == 1
        for compared in explanation.fields:
            assert f'data-field="{compared.name}"' in body
        assert f"{explanation.total_weight:+.2f}".replace("-", "\u2212") in body
        # A viewer sees no buttons.
        assert 'data-key="m"' not in body and "/decide" not in body
        assert 'data-key="j"' in body or view.next_id is None

        pair = client.get(f"/api/review/{item_id}").json()
        assert pair["versions"] == view.versions
        assert pair["left"]["ref"] == view.left.ref and pair["moot"] is None

        sign_in(client, "steward")
        body = client.get(f"/review/{item_id}").text
        for key in ("m", "n", "s", "u"):
            assert f'data-key="{key}"' in body
        assert client.get("/review/999999").status_code == 404


def test_a_steward_clears_items_and_the_store_holds_the_decisions(project: Project) -> None:
    decisions = ["match", "not-match", "match"]
    with app_client(project) as client:
        sign_in(client, "steward")
        done: list[int] = []
        for decision in decisions:
            queue = queue_ids(project)
            item_id = queue[0]
            status, location = decide(client, item_id, decision, reason=f"checked {decision}")
            assert status == 303
            assert location == f"/review/{queue[1]}"  # the next item in queue order
            done.append(item_id)
            shown = FLASH.search(client.get(location).text)
            assert shown and shown.group(1) == "ok" and "are recorded as" in shown.group(2)
        after = client.get("/api/review").json()
    # The decided items left the queue (a steward run may score other pairs of the records
    # it resolved again: those stay, under new ids).
    now = queue_ids(project)
    assert not set(done) & set(now)
    assert after["open_count"] == len(now) and [i["id"] for i in after["items"]] == now
    for item_id, decision in zip(done, decisions, strict=True):
        view = the_pair(project, item_id)
        assert view.status == "decided"
        decided = rows(
            project,
            "SELECT decision, decided_by, reason, active FROM match_decision "
            "WHERE left_source = :ls AND left_key = :lk AND right_source = :rs AND right_key = :rk",
            ls=view.left.source,
            lk=view.left.source_key,
            rs=view.right.source,
            rk=view.right.source_key,
        )
        kind = "must_link" if decision == "match" else "cannot_link"
        assert [(r[0], r[1], r[2], bool(r[3])) for r in decided] == [
            (kind, "steward", f"checked {decision}", True)
        ]
    audit = rows(project, "SELECT actor, action FROM audit_log ORDER BY id")
    assert [a for a in audit if a[1] in ("must_link", "cannot_link")] == [
        ("steward", "must_link"),
        ("steward", "cannot_link"),
        ("steward", "must_link"),
    ]
    # A decided item shows who decided it, not the buttons.
    with app_client(project) as client:
        sign_in(client, "steward")
        body = client.get(f"/review/{done[0]}").text
        assert "This pair was decided by steward" in body and "checked match" in body
        assert 'data-key="m"' not in body


def test_skip_sends_an_item_to_the_back_of_the_queue(project: Project) -> None:
    queue = queue_ids(project)
    with app_client(project) as client:
        sign_in(client, "steward")
        status, location = decide(client, queue[0], "skip")
        assert (status, location) == (303, f"/review/{queue[1]}")
        assert "is skipped" in client.get(location).text
    assert queue_ids(project) == [*queue[1:], queue[0]]
    assert rows(project, "SELECT skipped_by FROM review_item WHERE id = :i", i=queue[0]) == [
        ("steward",)
    ]
    assert rows(project, "SELECT count(*) FROM match_decision") == [(0,)]


def test_undo_puts_the_item_back_in_the_queue(project: Project) -> None:
    queue = queue_ids(project)
    item_id = queue[0]
    with app_client(project) as client:
        csrf = sign_in(client, "steward")
        assert decide(client, item_id, "not-match")[0] == 303
        assert item_id not in queue_ids(project)
        answer = client.post("/review/undo", data={"csrf_token": csrf, "back": "/queue"})
        assert (answer.status_code, answer.headers["location"]) == (303, f"/review/{item_id}")
        shown = FLASH.search(client.get(f"/review/{item_id}").text)
        assert shown and "is revoked" in shown.group(2)
        # Nothing more to undo: back where the steward was, with a warning.
        again = client.post("/review/undo", data={"csrf_token": csrf, "back": "/queue"})
        assert (again.status_code, again.headers["location"]) == (303, "/queue")
        shown = FLASH.search(client.get("/queue").text)
        assert shown and shown.group(1) == "warn" and "no pair decision to undo" in shown.group(2)
    assert queue_ids(project) == queue
    assert the_pair(project, item_id).status == "open"
    assert [bool(row[0]) for row in rows(project, "SELECT active FROM match_decision")] == [False]


def test_a_stale_page_gets_409_and_records_nothing(project: Project) -> None:
    item_id = queue_ids(project)[0]
    view = the_pair(project, item_id)
    with app_client(project) as client:
        sign_in(client, "steward")
        csrf, expected = page_form(client, item_id)
        stale = {ref: version + 1 for ref, version in json.loads(expected).items()}
        answer = client.post(
            f"/review/{item_id}/decide",
            data={"csrf_token": csrf, "decision": "match", "expected": json.dumps(stale)},
        )
        assert answer.status_code == 409
        shown = FLASH.search(answer.text)
        assert shown and shown.group(1) == "warn" and "changed since it was shown" in shown.group(2)
        # The fresh page, with the versions as they are, ready to decide again.
        assert html.escape(view.left.ref) in answer.text and 'data-key="m"' in answer.text
        fresh = EXPECTED.search(answer.text)
        assert fresh and json.loads(html.unescape(fresh.group(1))) == view.versions
    assert rows(project, "SELECT count(*) FROM match_decision") == [(0,)]
    assert the_pair(project, item_id).status == "open"

    # An item decided meanwhile (in another tab): 409, the page says so, nothing more recorded.
    with app_client(project) as client:
        sign_in(client, "steward")
        csrf, expected = page_form(client, item_id)
        form = {"csrf_token": csrf, "decision": "match", "expected": expected}
        assert client.post(f"/review/{item_id}/decide", data=form).status_code == 303
        twice = client.post(f"/review/{item_id}/decide", data=form)
        assert twice.status_code == 409
        assert "This pair was decided by steward" in twice.text
    assert rows(project, "SELECT count(*) FROM match_decision") == [(1,)]


def test_an_item_a_run_closed_shows_why_and_takes_no_decision(project: Project) -> None:
    item_id = queue_ids(project)[0]
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            connection.execute(
                text(
                    "UPDATE review_item SET status = 'gone', closed_reason = 'a record changed' "
                    "WHERE id = :i"
                ),
                {"i": item_id},
            )
    finally:
        store.close()
    with app_client(project) as client:
        sign_in(client, "steward")
        page = client.get(f"/review/{item_id}")
        assert page.status_code == 200
        assert "A run closed this item" in page.text and "a record changed" in page.text
        assert 'data-key="m"' not in page.text and 'data-key="u"' in page.text
        csrf = CSRF.search(page.text)
        assert csrf
        refused = client.post(
            f"/review/{item_id}/decide", data={"csrf_token": csrf.group(1), "decision": "match"}
        )
        assert refused.status_code == 409 and "Nothing was recorded" in refused.text
        assert item_id not in [i["id"] for i in client.get("/api/review").json()["items"]]
    assert rows(project, "SELECT count(*) FROM match_decision") == [(0,)]


def test_a_viewer_cannot_decide(project: Project) -> None:
    item_id = queue_ids(project)[0]
    versions = the_pair(project, item_id).versions
    token = accounts.create_token(project.store_url, "reader", accounts.Role.VIEWER, "test")
    with app_client(project) as client:
        csrf = sign_in(client, "viewer")
        form = {"csrf_token": csrf, "decision": "match", "expected": json.dumps(versions)}
        assert client.post(f"/review/{item_id}/decide", data=form).status_code == 403
        assert client.post("/review/undo", data={"csrf_token": csrf}).status_code == 403
        bearer = {"Authorization": f"Bearer {token}"}
        body = {"decision": "match", "expected": versions}
        assert client.get("/api/review", headers=bearer).status_code == 200
        refused = client.post(f"/api/review/{item_id}/decision", json=body, headers=bearer)
        assert refused.status_code == 403
        assert client.post("/api/review/undo", headers=bearer).status_code == 403
    assert rows(project, "SELECT count(*) FROM match_decision") == [(0,)]
    assert queue_ids(project)[0] == item_id


def test_the_api_twins_by_token(project: Project) -> None:
    token = accounts.create_token(project.store_url, "bot", accounts.Role.STEWARD, "test")
    bearer = {"Authorization": f"Bearer {token}"}
    with app_client(project) as client:
        queue = client.get("/api/review", headers=bearer).json()
        ids = [item["id"] for item in queue["items"]]
        assert ids == queue_ids(project)
        first = client.get(f"/api/review/{ids[0]}", headers=bearer).json()

        stale = {ref: version + 1 for ref, version in first["versions"].items()}
        refused = client.post(
            f"/api/review/{ids[0]}/decision",
            json={"decision": "match", "expected": stale},
            headers=bearer,
        )
        assert refused.status_code == 409
        assert refused.json()["reason"] == "conflict"
        assert refused.json()["pair"]["versions"] == first["versions"]

        answer = client.post(
            f"/api/review/{ids[0]}/decision",
            json={"decision": "not-match", "expected": first["versions"], "reason": "two shops"},
            headers=bearer,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["item_id"] == ids[0] and answer.json()["next_id"] == ids[1]
        assert "are recorded as different" in answer.json()["message"]
        # The decided pair names its decision: who, what, when, why; and why it is moot.
        decided = client.get(f"/api/review/{ids[0]}", headers=bearer).json()
        assert first["decision"] is None and decided["status"] == "decided"
        found = decided["decision"]
        assert (found["decided_by"], found["decision"], found["reason"]) == (
            "token:bot",
            "cannot_link",
            "two shops",
        )
        assert found["decided_at"] and isinstance(found["id"], int)
        assert decided["moot"].startswith("This pair was decided by token:bot on ")
        assert decided["moot"].endswith(f": different {first['entity']}s (two shops).")

        skipped = client.post(
            f"/api/review/{ids[1]}/decision", json={"decision": "skip"}, headers=bearer
        )
        assert skipped.status_code == 200 and skipped.json()["next_id"] == ids[2]

        wrong = client.post(
            f"/api/review/{ids[2]}/decision", json={"decision": "maybe"}, headers=bearer
        )
        assert wrong.status_code == 422

        undone = client.post("/api/review/undo", headers=bearer)
        assert undone.status_code == 200
        assert undone.json()["reopened"] == [ids[0]]
        nothing = client.post("/api/review/undo", headers=bearer)
        assert nothing.status_code == 404 and nothing.json()["reason"] == "not-found"
        assert client.post("/api/review/undo").status_code == 401
    assert rows(project, "SELECT decided_by, decision, reason FROM match_decision") == [
        ("token:bot", "cannot_link", "two shops")
    ]
    assert rows(project, "SELECT skipped_by FROM review_item WHERE id = :i", i=ids[1]) == [
        ("token:bot",)
    ]
    assert queue_ids(project) == [i for i in ids if i != ids[1]] + [ids[1]]


def test_a_decision_waits_for_a_running_run_without_holding_up_other_pages(
    project: Project,
) -> None:
    for route in review.router.routes:
        assert isinstance(route, APIRoute)
        assert not inspect.iscoroutinefunction(route.endpoint), route.path
    item_id = queue_ids(project)[0]
    store = open_store(project.store_url, writing=True)
    answers: list[int] = []
    try:
        with app_client(project) as client:
            sign_in(client, "steward")
            csrf, expected = page_form(client, item_id)
            form = {"csrf_token": csrf, "decision": "match", "expected": expected}
            with writer_lock(store.engine, "nightly run", None):
                waiting = threading.Thread(
                    target=lambda: answers.append(
                        client.post(f"/review/{item_id}/decide", data=form).status_code
                    )
                )
                waiting.start()
                time.sleep(1.5)
                assert waiting.is_alive() and not answers  # waiting for the run
                started = time.monotonic()
                assert client.get("/queue").status_code == 200  # others are served meanwhile
                assert time.monotonic() - started < 5
            waiting.join(60)
    finally:
        store.close()
    assert answers == [303]
    assert the_pair(project, item_id).status == "decided"


def test_the_waterfall_adds_each_weight_to_the_last() -> None:
    steps = review.waterfall_steps(
        -8.0, [("name", "exact", 5.5), ("phone", "null", None), ("city", "else", -2.0)], -4.5
    )
    assert [(s.kind, s.start, s.change) for s in steps] == [
        ("prior", 0.0, -8.0),
        ("step", -8.0, 5.5),
        ("step", -2.5, 0.0),
        ("step", -2.5, -2.0),
        ("total", 0.0, -4.5),
    ]
    chart = str(review.waterfall(steps, probability=0.04))
    assert chart.count('class="bar step"') == 3
    assert "name · exact" in chart and "total · p = 0.040" in chart
    assert review.GOOD in chart and review.BAD in chart
    escaped = str(
        review.waterfall(review.waterfall_steps(0, [("<b>", "x", 1.0)], 1), probability=None)
    )
    assert "<b>" not in escaped and "&lt;b&gt;" in escaped
