"""The dashboard's figures and the audit log's pages, on real runs and real steward actions, on
SQLite and PostgreSQL: each figure checked against the store's rows counted here."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_views_queue import assert_no_scans, make_project, query, statements

from mdm import stewardship
from mdm.config.specs import Project
from mdm.errors import MdmError
from mdm.schema import Entity, LinkDecision
from mdm.store import open_store
from mdm.store import stewardship as steward_store
from mdm.views import audit_page, dashboard_view, reading


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    """A demo project after a run, a steward's merge (ana) and a pin (bo)."""
    project = make_project(tmp_path / "shop", store_url, accounts=60)
    xref = query(project, "select source, source_key, golden_id from xref order by 1, 2")
    accounts = xref[xref["golden_id"].str.startswith("A-")].drop_duplicates("golden_id")
    first, second = (f"{s}:{k}" for s, k in accounts[["source", "source_key"]].head(2).values)
    stewardship.decide_pair(project, first, second, LinkDecision.MUST_LINK, "ana", "same VAT")
    contact = str(xref.loc[xref["golden_id"].str.startswith("C-"), "golden_id"].iloc[0])
    stewardship.pin_value(project, contact, "phone", "+12125550123", "bo")
    return project


def test_dashboard_counts_what_the_store_holds(project: Project) -> None:
    with reading(project.store_url) as connection:
        view = dashboard_view(connection, project)
    xref = query(project, "select source, source_key, entity, golden_id from xref")
    entity_of = {source.name: source.entity for source in project.spec.sources}
    system_of = {source.name: source.system for source in project.spec.sources}

    per_source = xref.groupby("source").size()
    assert [(s.source, s.records) for s in view.sources] == sorted(
        per_source.items(), key=lambda item: (str(entity_of[item[0]]), item[0])
    )
    assert all(s.entity is entity_of[s.source] for s in view.sources)
    assert all(s.system == system_of[s.source] for s in view.sources)

    for entity in Entity:
        table = query(project, f"select * from golden_{entity}")
        active = table[table["status"] == "active"]
        [count] = [g.golden for g in view.golden if g.entity is entity]
        assert count == len(active)
        sizes = active["members"].astype(int).value_counts().sort_index()
        assert [(c.members, c.golden) for c in view.cluster_sizes if c.entity is entity] == list(
            sizes.items()
        )
        # Overlap: golden records by the exact set of sources of their members.
        mine = xref[xref["entity"] == entity]
        sets = mine.groupby("golden_id")["source"].agg(lambda s: tuple(sorted(set(s))))
        expected = sorted(
            ((list(combo), n) for combo, n in sets.value_counts().items()),
            key=lambda item: (-item[1], item[0]),
        )
        assert [(o.sources, o.golden) for o in view.overlap if o.entity is entity] == expected
        assert sum(o.golden for o in view.overlap if o.entity is entity) == len(active)
        thresholds = project.rules.match[entity].thresholds
        [shown] = [t for t in view.thresholds if t.entity is entity]
        assert (shown.review, shown.match) == (thresholds.review, thresholds.match)

    items = query(
        project, "select r.*, run.started_at from review_item r join run on run.id = r.run_id"
    )
    open_items = items[items["status"] == "open"]
    for state in view.queue:
        mine = open_items[open_items["entity"] == state.entity]
        assert (state.open, state.skipped) == (len(mine), int(mine["skipped_at"].notna().sum()))
        oldest = mine.sort_values("run_id")["started_at"].iloc[0] if len(mine) else None
        assert as_utc(state.oldest_started_at) == as_utc(oldest)
    bins = (open_items["probability"] * 20).map(math.floor).clip(upper=19)
    expected_bins = open_items.assign(bin=bins).groupby(["entity", "bin"]).size()
    assert [(str(b.entity), round(b.low * 20), b.items) for b in view.scores] == [
        (entity, bin, n) for (entity, bin), n in expected_bins.items()
    ]
    assert all(math.isclose(b.high - b.low, 0.05) for b in view.scores)

    # The stewards: decisions from match_decision, actions from the audit log, per UTC day.
    audit = query(project, "select actor, at from audit_log")
    decisions = query(project, "select decided_by, decided_at from match_decision")
    today = datetime.now(UTC).date()
    actions = audit.groupby("actor").size()
    decided = decisions.groupby("decided_by").size()
    assert [(d.day, d.steward, d.decisions, d.actions) for d in view.stewards] == [
        (today, steward, int(decided.get(steward, 0)), int(actions.get(steward, 0)))
        for steward in sorted(set(actions.index) | set(decided.index))
    ]
    assert {d.steward: d.decisions for d in view.stewards} == {"ana": 1, "bo": 0}
    with reading(project.store_url) as connection:
        later = dashboard_view(
            connection, project, days=7, now=datetime.now(UTC) + timedelta(days=30)
        )
    assert later.stewards == []


def as_utc(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def write_audit(project: Project) -> None:
    """Audit rows as steward actions write them, with before and after."""
    store = open_store(project.store_url, writing=True)
    try:
        with store.transaction() as connection:
            for n in range(7):
                steward_store.audit(
                    connection,
                    ["cy", "dee"][n % 2],
                    ["skip", "merge", "unmerge"][n % 3],
                    f"crm_accounts:K{n} erp_customers:E{n}" if n % 2 else f"A-00000000000{n}",
                    {"reason": f"because {n}", "before": {"n": n}, "after": {"n": n + 1}},
                )
    finally:
        store.close()


def test_audit_pages_newest_first(project: Project) -> None:
    write_audit(project)
    log = query(project, "select * from audit_log")
    log["at"] = log["at"].map(as_utc)
    newest = log.sort_values(["at", "id"], ascending=False)
    with reading(project.store_url) as connection:
        page = audit_page(connection, limit=1000)
        assert [row.id for row in page.rows] == newest["id"].tolist()
        assert page.next_before_id is None
        # Pages from before the last row seen give the same rows, each once.
        seen, before = [], None
        while True:
            part = audit_page(connection, limit=3, before_id=before)
            seen += [row.id for row in part.rows]
            if part.next_before_id is None:
                break
            before = part.next_before_id
        assert seen == newest["id"].tolist()

        cy = audit_page(connection, actor="cy")
        assert [row.id for row in cy.rows] == newest.loc[newest["actor"] == "cy", "id"].tolist()
        merges = audit_page(connection, action="merge", actor="dee")
        wanted = newest[(newest["action"] == "merge") & (newest["actor"] == "dee")]
        assert [row.id for row in merges.rows] == wanted["id"].tolist()
        # A record is found as the target of a pair, on either side, and never by a part of it.
        for target, n in (("crm_accounts:K3", 3), ("erp_customers:E5", 5), ("A-000000000004", 4)):
            [row] = audit_page(connection, target=target).rows
            assert row.reason == f"because {n}"
            assert (row.before, row.after) == ({"n": n}, {"n": n + 1})
            assert row.detail == {
                "reason": f"because {n}",
                "before": {"n": n},
                "after": {"n": n + 1},
            }
        assert audit_page(connection, target="crm_accounts:K").rows == []
        assert audit_page(connection, target="A-00000000000%").rows == []
        steward = audit_page(connection, actor="ana")
        assert [row.reason for row in steward.rows] == ["same VAT"]
        first_at = as_utc(newest["at"].min())
        assert first_at is not None
        window = audit_page(
            connection,
            since=first_at.to_pydatetime(),
            until=first_at.to_pydatetime() + timedelta(microseconds=1),
        )
        assert [row.id for row in window.rows] == newest.loc[
            newest["at"] == first_at, "id"
        ].tolist()
        with pytest.raises(MdmError, match="No audit row 999999"):
            audit_page(connection, before_id=999999)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "shop", f"sqlite:///{tmp_path / 'store.db'}", accounts=40)


def test_audit_reads_by_index(sqlite_project: Project) -> None:
    project = sqlite_project
    write_audit(project)
    with reading(project.store_url) as connection, statements(connection) as made:
        page = audit_page(connection, limit=2)
        audit_page(connection, limit=2, before_id=page.next_before_id)
        audit_page(connection, actor="cy", limit=2)
        audit_page(connection, since=datetime(2020, 1, 1, tzinfo=UTC), limit=2)
    plans = assert_no_scans(project, made, {"audit_log"}, ordered={"audit_log"})
    assert any("ix_audit_log_actor" in plan for plan in plans)
