"""The review queue as stewards work it: each pair once, in priority order, closed with a
reason when a run makes it moot; and the queue and pair read models over real runs.

A demo project with a wide review band (0.01 up to the match threshold) runs on SQLite and on
PostgreSQL; its sources are then edited (a record changed, one deleted), its rules (thresholds
moved) and a steward decides, each followed by a real run.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from first_runs import first_run
from sqlalchemy import Connection, event, text

from mdm import pipeline, stewardship
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, LinkDecision, survived_attribute_names
from mdm.store import open_store
from mdm.views import QueueFilters, pair_view, queue_page, reading
from mdm.views.search import display_name

REVIEW_FROM = 0.01  # a wide review band: a queue of a dozen items on 150 organisations


def make_project(directory: Path, store_url: str, accounts: int = 150) -> Project:
    """A demo project on ``store_url`` with a wide review band, after its first run (a copy of
    the one run once per test process)."""

    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=accounts, seed=5, faults=False)
        shutil.copytree(DEFAULT_RULES, folder / "rules")
        for entity in Entity:
            set_threshold(folder, entity, "review", REVIEW_FROM)

    return first_run(directory, store_url, ("wide review band", accounts), prepare)


def set_threshold(directory: Path, entity: Entity, name: str, value: float) -> None:
    rules = directory / "rules" / "match" / f"{entity}.toml"
    lines = rules.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{name} = "))
    lines[at] = f"{name} = {value!r}\n"
    rules.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    return make_project(tmp_path / "shop", store_url)


def query(project: Project, sql: str, **params: Any) -> pd.DataFrame:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            result = connection.execute(text(sql), params)
            return pd.DataFrame(result.all(), columns=list(result.keys()))
    finally:
        store.close()


def execute(project: Project, sql: str, **params: Any) -> None:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            connection.execute(text(sql), params)
    finally:
        store.close()


def review_items(project: Project) -> pd.DataFrame:
    return query(project, "select * from review_item order by id")


def pair_of(item: Any) -> frozenset[str]:
    return frozenset(
        {f"{item.left_source}:{item.left_key}", f"{item.right_source}:{item.right_key}"}
    )


def refs(item: Any) -> list[str]:
    return [f"{item.left_source}:{item.left_key}", f"{item.right_source}:{item.right_key}"]


def golden_of(project: Project) -> dict[str, str]:
    xref = query(project, "select source, source_key, golden_id from xref")
    return {f"{s}:{k}": g for s, k, g in xref.itertuples(index=False)}


def expected_priority(item: Any, golden: dict[str, str], members: dict[str, int]) -> float:
    left, right = (golden[ref] for ref in refs(item))
    impact = members[left] if left == right else members[left] + members[right]
    return (1 - 2 * abs(float(item.probability) - 0.5)) * impact


def members_of(project: Project) -> dict[str, int]:
    counts = query(project, "select golden_id, count(*) as n from xref group by golden_id")
    return dict(zip(counts["golden_id"], counts["n"].astype(int), strict=True))


def edit_csv(path: Path, key_column: str, key: str, **values: str) -> None:
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    fields = list(rows[0])
    [row] = [row for row in rows if row[key_column] == key]
    row.update(values)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def attributes(project: Project, ref: str) -> dict[str, Any]:
    source, _, key = ref.partition(":")
    found = query(
        project,
        "select attributes from source_record where source = :s and source_key = :k and is_current",
        s=source,
        k=key,
    )
    value: dict[str, Any] = json.loads(found["attributes"].iloc[0])
    return value


def queue_order(items: pd.DataFrame) -> list[int]:
    """The open items in queue order, computed here: unskipped first, priority, id."""
    open_items = items[items["status"] == "open"].copy()
    open_items["skipped"] = open_items["skipped_at"].notna()
    ordered = open_items.sort_values(
        ["skipped", "priority", "id"], ascending=[True, False, True], kind="stable"
    )
    return [int(i) for i in ordered["id"]]


# ---- what runs write ---------------------------------------------------------------------------


def test_priority_is_uncertainty_times_impact(project: Project) -> None:
    items = review_items(project)
    assert len(items) >= 10 and set(items["status"]) == {"open"}
    assert set(items["entity"]) == {"account", "contact"}
    golden, members = golden_of(project), members_of(project)
    together = 0
    for item in items.itertuples():
        assert item.priority == pytest.approx(expected_priority(item, golden, members), rel=1e-12)
        together += len({golden[ref] for ref in refs(item)}) == 1
    assert together >= 1  # a pair inside one golden record: its impact is that record's size


def test_runs_keep_each_pair_once_and_close_moot_items_with_reasons(project: Project) -> None:
    root = project.root
    first = review_items(project)
    first_ids = set(first["id"])
    contacts = first[first["entity"] == "contact"]
    # A CRM contact of an item whose other record has no title: retitled, a new version that
    # scores the same (a title compared with none): its item closes, and its pair opens again
    # as one new item.
    changed = next(
        item
        for item in contacts.itertuples()
        if item.left_source == "crm_contacts"
        and attributes(project, refs(item)[1]).get("title") is None
    )
    changed_ref = refs(changed)[0]
    # A CRM contact of another item, with no record in common, deleted in its system.
    deleted = next(
        item
        for item in contacts.itertuples()
        if "crm_contacts" in (item.left_source, item.right_source)
        and not set(refs(item)) & set(refs(changed))
    )
    deleted_ref = next(ref for ref in refs(deleted) if ref.startswith("crm_contacts:"))
    crm = root / "data" / "crm_contacts.csv"
    stamp = "2026-02-01T00:00:00Z"
    edit_csv(crm, "Id", changed_ref.partition(":")[2], Title="Chief Tester", LastModifiedDate=stamp)
    edit_csv(crm, "Id", deleted_ref.partition(":")[2], IsDeleted="true", LastModifiedDate=stamp)

    second = pipeline.run(project)
    assert not second.full and second.run_id == 2
    items = review_items(project).set_index("id")
    assert items.loc[changed.id, "status"] == "gone"
    assert items.loc[changed.id, "closed_reason"] == f"record {changed_ref} changed in run 2"
    assert items.loc[deleted.id, "status"] == "gone"
    assert items.loc[deleted.id, "closed_reason"] == f"record {deleted_ref} deleted in run 2"
    assert items.loc[[changed.id, deleted.id], "closed_at"].notna().all()
    still_open = items[items["status"] == "open"]
    reopened = [i for i in still_open.itertuples() if pair_of(i) == pair_of(changed)]
    assert len(reopened) == 1
    assert reopened[0].Index not in first_ids and reopened[0].run_id == 2
    assert_each_pair_once(items)
    # Every other item of the first run is still open, the same item, or closed with a reason.
    for item in items.loc[sorted(first_ids - {changed.id, deleted.id})].itertuples():
        assert item.run_id == 1
        assert item.status == "open" or item.closed_reason, item

    # A full recompute of the same data finds the same pairs: the same items, nothing closed.
    before = review_items(project)
    assert pipeline.run(project, full=True).full
    after = review_items(project)
    pd.testing.assert_frame_equal(
        after.drop(columns=["weight", "probability", "priority"]),
        before.drop(columns=["weight", "probability", "priority"]),
    )
    assert after["probability"].to_numpy() == pytest.approx(before["probability"].to_numpy())

    # A steward's decision closes its item as decided; later runs leave it so.
    decided = after[after["status"] == "open"].iloc[0]
    left, right = refs(decided)
    stewardship.decide_pair(project, left, right, LinkDecision.CANNOT_LINK, "ana")

    # The thresholds move (a full run): a pair above the new match threshold is matched, one
    # below the new review threshold is no longer a review pair.
    open_now = review_items(project)
    open_now = open_now[open_now["status"] == "open"]
    accounts = open_now[open_now["entity"] == "account"].sort_values("probability")
    joined = accounts.iloc[-1]
    contacts_open = open_now[open_now["entity"] == "contact"].sort_values("probability")
    dropped = contacts_open.iloc[0]
    raised = (dropped["probability"] + contacts_open.iloc[1]["probability"]) / 2
    set_threshold(root, Entity.ACCOUNT, "match", round(float(joined["probability"]) - 1e-6, 9))
    set_threshold(root, Entity.CONTACT, "review", float(raised))
    project = load_project(root)
    last = pipeline.run(project)
    assert last.full
    items = review_items(project).set_index("id")
    golden = golden_of(project)
    joined_golden = golden[f"{joined['left_source']}:{joined['left_key']}"]
    assert golden[f"{joined['right_source']}:{joined['right_key']}"] == joined_golden
    assert items.loc[joined["id"], "closed_reason"] == (
        f"now in the same golden record {joined_golden} after run {last.run_id}"
    )
    assert items.loc[dropped["id"], "status"] == "gone"
    assert items.loc[dropped["id"], "closed_reason"] == (
        f"no longer a review pair after run {last.run_id}"
    )
    assert items.loc[decided["id"], "status"] == "decided"
    assert pd.isna(items.loc[decided["id"], "closed_reason"])
    assert_each_pair_once(items)
    # Those still open are the items they were, with their priority as of this run.
    members = members_of(project)
    for item in items[items["status"] == "open"].itertuples():
        assert item.priority == pytest.approx(expected_priority(item, golden, members), rel=1e-12)


def test_a_second_open_item_of_a_pair_is_closed(project: Project) -> None:
    """An older store may hold a pair twice (the other way round, too): the next run that
    finds the pair keeps the oldest item and closes the other."""
    first = review_items(project).iloc[0]
    execute(
        project,
        "insert into review_item (run_id, entity, left_source, left_key, right_source, "
        "right_key, weight, probability, levels, status, priority) "
        "select run_id, entity, right_source, right_key, left_source, left_key, weight, "
        "probability, levels, status, priority from review_item where id = :id",
        id=int(first["id"]),
    )
    twice = review_items(project).iloc[-1]
    assert pair_of(twice) == pair_of(first) and twice["id"] > first["id"]
    pipeline.run(project, full=True)
    items = review_items(project).set_index("id")
    assert items.loc[first["id"], "status"] == "open"
    assert items.loc[twice["id"], "status"] == "gone"
    assert items.loc[twice["id"], "closed_reason"] == f"shown as item {first['id']}"
    assert_each_pair_once(items)


def assert_each_pair_once(items: pd.DataFrame) -> None:
    pairs = [pair_of(item) for item in items[items["status"] == "open"].itertuples()]
    assert len(pairs) == len(set(pairs))


# ---- the queue read model ---------------------------------------------------------------------


def test_queue_pages_in_priority_order_skipped_last(project: Project) -> None:
    items = review_items(project)
    top = queue_order(items)[:2]
    skipped_at = datetime(2026, 1, 5, tzinfo=UTC)
    for item in top:
        execute(
            project,
            "update review_item set skipped_by = 'ana', skipped_at = :at where id = :id",
            at=skipped_at,
            id=item,
        )
    items = review_items(project)
    order = queue_order(items)
    assert order[-2:] == top  # the skipped ones, last, in their own order
    with reading(project.store_url) as connection:
        whole = queue_page(connection, limit=1000)
        assert [item.id for item in whole.items] == order
        assert (whole.open_count, whole.skipped_count, whole.next_cursor) == (len(order), 2, None)
        assert [item.skipped_by for item in whole.items][-2:] == ["ana", "ana"]
        # Pages by offset and after a cursor give the same order, each item once.
        for limit in (1, 3, 5):
            by_offset = [
                item.id
                for offset in range(0, len(order), limit)
                for item in queue_page(connection, limit=limit, offset=offset).items
            ]
            assert by_offset == order
            assert pages_after(connection, limit) == order
        assert queue_page(connection, limit=5, offset=len(order)).items == []
        with pytest.raises(MdmError, match="not a queue cursor"):
            queue_page(connection, after="nonsense")

    golden = golden_of(project)
    item = whole.items[0]
    row = items.set_index("id").loc[item.id]
    assert (item.left, item.right) == (
        f"{row['left_source']}:{row['left_key']}",
        f"{row['right_source']}:{row['right_key']}",
    )
    assert (item.left_golden_id, item.right_golden_id) == (golden[item.left], golden[item.right])
    assert item.run_id == 1 and item.run_started_at is not None
    assert item.probability == row["probability"] and item.priority == row["priority"]
    assert set(item.levels) >= {"first_name", "last_name"} or set(item.levels) >= {"name"}
    # Each side's display name, from its record's current attributes.
    for each in whole.items:
        for ref, name in ((each.left, each.left_name), (each.right, each.right_name)):
            expected = display_name(each.entity, attributes(project, ref))
            assert name == expected and name, (each.id, ref)


def pages_after(connection: Connection, limit: int) -> list[int]:
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = queue_page(connection, limit=limit, after=cursor)
        seen += [item.id for item in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_queue_filters_count_what_they_select(project: Project) -> None:
    items = review_items(project)
    started = query(project, "select started_at from run where id = 1")["started_at"].iloc[0]
    started = pd.Timestamp(started)
    started = started.tz_localize("UTC") if started.tzinfo is None else started
    cases: list[tuple[QueueFilters, pd.Series, datetime | None]] = [
        (QueueFilters(entity=Entity.CONTACT), items["entity"] == "contact", None),
        (QueueFilters(entity=Entity.ACCOUNT), items["entity"] == "account", None),
        (
            QueueFilters(source="marketing_leads"),
            (items["left_source"] == "marketing_leads")
            | (items["right_source"] == "marketing_leads"),
            None,
        ),
        (
            QueueFilters(min_probability=0.2, max_probability=0.6),
            items["probability"].between(0.2, 0.6),
            None,
        ),
        (
            QueueFilters(entity=Entity.CONTACT, source="crm_contacts", min_probability=0.5),
            (items["entity"] == "contact")
            & ((items["left_source"] == "crm_contacts") | (items["right_source"] == "crm_contacts"))
            & (items["probability"] >= 0.5),
            None,
        ),
        # Ages: the run started 3 days before "now".
        (QueueFilters(min_age_days=2), items["id"] > 0, started + timedelta(days=3)),
        (QueueFilters(min_age_days=4), items["id"] < 0, started + timedelta(days=3)),
        (QueueFilters(max_age_days=4), items["id"] > 0, started + timedelta(days=3)),
        (QueueFilters(max_age_days=2), items["id"] < 0, started + timedelta(days=3)),
    ]
    with reading(project.store_url) as connection:
        for filters, selected, now in cases:
            page = queue_page(connection, filters, limit=1000, now=now)
            expected = queue_order(items[selected.to_numpy()])
            assert [item.id for item in page.items] == expected, filters
            assert page.open_count == len(expected), filters
            assert 0 < len(expected) < len(items) or filters.min_age_days or filters.max_age_days
            assert [
                item.id for item in queue_page(connection, filters, limit=2, now=now).items
            ] == (expected[:2])


def test_pair_view_sets_two_records_side_by_side(project: Project) -> None:
    items = review_items(project)
    order = queue_order(items)
    with reading(project.store_url) as connection:
        views = [pair_view(connection, project, item) for item in order]
        contacts_only = QueueFilters(entity=Entity.CONTACT)
        contact_order = queue_order(items[items["entity"] == "contact"])
        filtered = [pair_view(connection, project, i, contacts_only) for i in contact_order]
        with pytest.raises(MdmError, match="No review item 999999"):
            pair_view(connection, project, 999999)
    # Neighbours in queue order, of the whole queue and of a filtered one.
    assert [view.previous_id for view in views] == [None, *order[:-1]]
    assert [view.next_id for view in views] == [*order[1:], None]
    assert [view.next_id for view in filtered] == [*contact_order[1:], None]
    assert [view.previous_id for view in filtered] == [None, *contact_order[:-1]]

    golden = golden_of(project)
    versions = query(
        project,
        "select source, source_key, version, content_hash from source_record where is_current",
    )
    version_of = {f"{s}:{k}": (int(v), h) for s, k, v, h in versions.itertuples(index=False)}
    for view in views:
        entity = view.entity
        assert [f.name for f in view.fields] == survived_attribute_names(entity)
        for record in (view.left, view.right):
            assert record.live and record.golden_id == golden[record.ref]
            assert (record.version, record.content_hash) == version_of[record.ref]
            assert view.versions[record.ref] == record.version
        # What differs is what the match keys say: a field equal on both sides never does.
        for field in view.fields:
            if field.left is not None and field.left == field.right:
                assert not field.differs
            if (field.left is None) != (field.right is None):
                assert field.differs
        assert view.status == "open" and view.decision is None
        for record, name in ((view.left, view.item.left_name), (view.right, view.item.right_name)):
            assert name and name == display_name(entity, attributes(project, record.ref))
        explained = view.explanation
        assert explained is not None and explained.method == "probabilistic"
        assert (explained.left, explained.right) == (view.item.left, view.item.right)
        # The records have not changed since the run: the explanation is the item's score.
        assert explained.probability == pytest.approx(view.item.probability, rel=1e-9)
        assert explained.total_weight == pytest.approx(view.item.weight, rel=1e-9)
    names = next(view for view in views if view.entity == "contact")
    assert {f.name for f in names.fields if f.left or f.right} >= {"last_name"}


def test_pair_view_of_a_closed_item_with_a_deleted_record(project: Project) -> None:
    items = review_items(project)
    item = next(i for i in items.itertuples() if i.left_source == "crm_contacts")
    left = f"{item.left_source}:{item.left_key}"
    edit_csv(
        project.root / "data" / "crm_contacts.csv",
        "Id",
        item.left_key,
        IsDeleted="true",
        LastModifiedDate="2026-02-01T00:00:00Z",
    )
    pipeline.run(project)
    with reading(project.store_url) as connection:
        view = pair_view(connection, project, item.id)
    assert view.status == "gone" and view.closed_reason == f"record {left} deleted in run 2"
    assert not view.left.live and view.left.version is None and view.left.golden_id is None
    assert view.right.live and view.explanation is None
    assert list(view.versions) == [view.right.ref]
    assert all(field.left is None for field in view.fields)
    # A deleted record has no name; the live one keeps its own. A run closed it: no decision.
    assert view.item.left_name is None and view.item.right_name
    assert view.decision is None


def test_pair_view_of_a_decided_item_names_its_decision(project: Project) -> None:
    items = review_items(project)
    item = items.iloc[0]
    left, right = refs(item)
    # Decided the other way round from the item's sides: the same pair.
    stewardship.decide_pair(
        project, right, left, LinkDecision.CANNOT_LINK, "ana", reason="two different shops"
    )
    with reading(project.store_url) as connection:
        view = pair_view(connection, project, int(item["id"]))
        still_open = pair_view(connection, project, int(items.iloc[1]["id"]))
    assert view.status == "decided"
    decision = view.decision
    assert decision is not None
    assert (decision.decision, decision.decided_by, decision.reason) == (
        LinkDecision.CANNOT_LINK,
        "ana",
        "two different shops",
    )
    stored = query(project, "select id, decided_at from match_decision where active")
    assert decision.id == int(stored["id"].iloc[0]) and decision.decided_at is not None
    assert still_open.decision is None

    # Revoked: the item is open again, with no decision.
    stewardship.undo_decision(project, "ana")
    with reading(project.store_url) as connection:
        reopened = pair_view(connection, project, int(item["id"]))
    assert reopened.status == "open" and reopened.decision is None


# ---- read by index ------------------------------------------------------------------------------


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "shop", f"sqlite:///{tmp_path / 'store.db'}")


def test_queue_reads_by_index(sqlite_project: Project) -> None:
    """Every statement a queue page and a pair page make reads by index (SQLite's plans):
    none scans review_item, xref, source_record or run."""
    project = sqlite_project
    # As a store's queue comes to be: thousands of items decided or gone over the runs, a few
    # open; the statistics saying so.
    execute(
        project,
        "insert into review_item (run_id, entity, left_source, left_key, right_source, "
        "right_key, weight, probability, levels, status, priority) "
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000) "
        "select r.run_id, r.entity, r.left_source, r.left_key || '-' || n.i, r.right_source, "
        "r.right_key, r.weight, r.probability, r.levels, 'gone', r.priority "
        "from review_item r, n",
    )
    execute(project, "analyze")
    first = queue_order(review_items(project))[0]
    execute(
        project,
        "update review_item set skipped_by = 'ana', skipped_at = :at where id = :id",
        at=datetime(2026, 1, 5, tzinfo=UTC),
        id=first,
    )
    order = queue_order(review_items(project))
    with reading(project.store_url) as connection, statements(connection) as made:
        page = queue_page(connection, QueueFilters(entity=Entity.CONTACT), limit=3)
        assert page.next_cursor is not None
        queue_page(connection, QueueFilters(entity=Entity.CONTACT), limit=3, after=page.next_cursor)
        queue_page(connection, limit=3, offset=2)
        last = queue_page(connection, limit=3, offset=len(order) - 2)  # into the skipped ones
        assert [item.id for item in last.items] == order[-2:]
        pair_view(connection, project, order[1])
        pair_view(connection, project, order[-1])
    # The records of a page are read at once for their names: their current versions by key
    # (a statement per source), then those versions by id (one), not reads per item.
    with reading(project.store_url) as connection, statements(connection) as of_page:
        four = queue_page(connection, QueueFilters(entity=Entity.CONTACT), limit=4).items
    sources = {ref.partition(":")[0] for item in four for ref in (item.left, item.right)}
    reads = [sql for sql, _ in of_page if "source_record" in sql]
    assert len(four) == 4 and len(reads) == len(sources) + 1
    plans = assert_no_scans(project, made, {"review_item", "xref", "source_record", "run"})
    assert any("ix_review_item_skipped" in plan for plan in plans)


@contextmanager
def statements(connection: Connection) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) run on ``connection`` meanwhile."""
    made: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        made.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", seen)
    try:
        yield made
    finally:
        event.remove(connection, "before_cursor_execute", seen)


def assert_no_scans(
    project: Project,
    made: list[tuple[str, Any]],
    tables: set[str],
    ordered: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """Each SELECT's plan (EXPLAIN QUERY PLAN) scans none of ``tables``: each is searched by
    an index, or (``ordered``) walked along an index in the order asked, a page's worth."""
    plans = []
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            for statement, parameters in made:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                if "WHERE 0 = 1" in statement:  # no key to read: nothing is read
                    continue
                rows = driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
                plan = [str(row[-1]) for row in rows]
                plans.append("\n".join(plan))
                for line in plan:
                    words = line.split()
                    if words[:1] != ["SCAN"] or words[1] not in tables:
                        continue
                    walk = words[1] in ordered and words[2:4] == ["USING", "INDEX"]
                    assert walk, (statement, plan)
    finally:
        store.close()
    assert plans
    return plans
