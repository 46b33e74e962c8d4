"""Steward actions on a real store, each through a steward run and each kept by the runs after
it: merge two golden records, move a record, undo a decision, skip a review item, refuse a
decision made on a stale page; every action's audit row with the golden records it touched
before and after. On SQLite and PostgreSQL, asserting what the store holds afterwards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from crm_project import CRM_ACCOUNTS_TOML
from first_runs import first_run
from invariants_helper import assert_store_invariants
from typer.testing import CliRunner, Result

from mdm import cli, pipeline, stewardship
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.errors import MdmError, Reason
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, LinkDecision
from mdm.store import open_store
from mdm.store import stewardship as steward_store

PROJECT = CRM_ACCOUNTS_TOML

RULES = """
method = "rules"

[[rules]]
name = "same_name_and_postcode"
fields = ["name", "postcode"]
"""

HEADER = "Id,Name,Phone,Zip,Modified\n"
ACME = ["1,Acme Inc,555-0101,94105,2024-01-01", "2,Acme Inc,555-0102,94105,2024-01-02"]
GLOBEX = ["3,Globex,555-0103,10001,2024-01-03", "4,Globex,555-0104,10001,2024-01-04"]
# The survived attributes of a golden account, as an audit row lists them.
ATTRIBUTES = [
    "name",
    "domain",
    "phone",
    "street",
    "city",
    "region",
    "postcode",
    "country",
    "tax_id",
]
# Every table a steward action could write to: compared whole to show that a refused action
# left the store as it was.
TABLES = (
    "run",
    "golden_account",
    "xref",
    "redirect",
    "lineage",
    "golden_event",
    "golden_version",
    "membership",
    "match_decision",
    "review_item",
    "value_pin",
    "audit_log",
)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line each, so that a phrase is found whole."""
    monkeypatch.setattr(cli.console, "width", 400)
    monkeypatch.setattr(cli.errors, "width", 400)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=store_url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    (directory / "rules" / "match" / "account.toml").write_text(RULES)
    return load_project(directory)


@pytest.fixture
def two(project: Project) -> tuple[str, str]:
    """Acme (crm:1, crm:2), then a run later Globex (crm:3, crm:4): Acme's id is the older."""
    load(project, *ACME)
    load(project, *ACME, *GLOBEX)
    ids = xref(project)
    assert ids["crm:1"] == ids["crm:2"] != ids["crm:3"] == ids["crm:4"]
    return ids["crm:1"], ids["crm:3"]


@pytest.fixture
def demo(tmp_path: Path, store_url: str) -> Project:
    """The demo's 40 organisations (probabilistic matching), run once: its review queue holds
    an account pair and two contact pairs."""

    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=40, seed=3, faults=False)
        shutil.copytree(DEFAULT_RULES, folder / "rules")

    return first_run(tmp_path / "demo", store_url, "steward demo", prepare)


# ---- reading the store -----------------------------------------------------------------------


def load(project: Project, *rows: str) -> pipeline.RunSummary:
    (project.root / "crm.csv").write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return pipeline.run(project)


def query(project: Project, sql: str) -> list[tuple[Any, ...]]:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql).fetchall()]
    finally:
        store.close()


def xref(project: Project, entity: str = "account") -> dict[str, str]:
    """SOURCE:KEY -> golden id of every live record."""
    found = query(
        project, f"select source, source_key, golden_id from xref where entity = '{entity}'"
    )
    return {f"{source}:{key}": golden_id for source, key, golden_id in found}


def statuses(project: Project) -> dict[str, str]:
    return dict(query(project, "select golden_id, status from golden_account"))


def redirects(project: Project) -> dict[str, str]:
    return dict(query(project, "select from_id, to_id from redirect"))


def decisions(project: Project, active: bool = True) -> set[str]:
    """The decisions (active ones, or revoked ones) as "SOURCE:KEY SOURCE:KEY decision"."""
    found = query(
        project,
        "select left_source, left_key, right_source, right_key, decision, active "
        "from match_decision",
    )
    return {
        f"{ls}:{lk} {rs}:{rk} {decision}"
        for ls, lk, rs, rk, decision, is_active in found
        if bool(is_active) is active
    }


def audit(project: Project) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = query(project, "select actor, action, target, detail from audit_log order by id")
    return [(actor, action, target, json.loads(detail)) for actor, action, target, detail in found]


def golden_values(project: Project, golden_id: str) -> dict[str, Any]:
    columns = ", ".join(ATTRIBUTES)
    found = query(project, f"select {columns} from golden_account where golden_id = '{golden_id}'")
    return dict(zip(ATTRIBUTES, found[0], strict=True))


def state(project: Project, golden_id: str) -> dict[str, Any]:
    """An active golden record as an audit row shows it: status, values, members."""
    values = golden_values(project, golden_id)
    members = sorted(ref for ref, owner in xref(project).items() if owner == golden_id)
    return {"status": "active", "values": values, "members": members}


def dump(project: Project) -> dict[str, list[str]]:
    """Every row of every table a steward action writes, as text: the store's whole state."""
    return {table: sorted(map(repr, query(project, f"select * from {table}"))) for table in TABLES}


def review_items(project: Project) -> dict[int, tuple[str, str, str, str | None]]:
    """id -> (left, right, status, skipped_by) of every review item."""
    found = query(
        project,
        "select id, left_source, left_key, right_source, right_key, status, skipped_by "
        "from review_item",
    )
    return {
        int(i): (f"{ls}:{lk}", f"{rs}:{rk}", status, skipped)
        for i, ls, lk, rs, rk, status, skipped in found
    }


def queue(project: Project) -> list[int]:
    """The open review items' ids in the order the queue shows them: those nobody skipped,
    then the skipped ones."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            parts = [
                steward_store.queue_rows(
                    connection, steward_store.QueueFilter(), skipped=skipped, limit=1_000
                )
                for skipped in (False, True)
            ]
    finally:
        store.close()
    return [int(i) for part in parts for i in part["id"]]


def mdm(*args: str | Path) -> Result:
    return CliRunner().invoke(cli.app, [str(arg) for arg in args])


def one_line(result: Result) -> str:
    """What a command printed on stdout (its stage log lines go to stderr), or its error
    message, on one line."""
    if result.exit_code == 0:
        return " ".join(result.stdout.split())
    return " ".join(result.stderr[result.stderr.index("Error (") :].split())


# ---- merge -----------------------------------------------------------------------------------


def test_a_merge_binds_both_golden_records_for_good_and_an_unmerge_undoes_it(
    project: Project, two: tuple[str, str]
) -> None:
    acme, globex = two
    before = {acme: state(project, acme), globex: state(project, globex)}
    result = stewardship.merge_golden(project, globex, acme, "ana", reason="one firm")
    assert result.message == (
        f"{globex} and {acme} are merged for good into {acme} (the older id survives); "
        f"{globex} now redirects to {acme}."
    )
    merged = {key: acme for key in ("crm:1", "crm:2", "crm:3", "crm:4")}
    assert xref(project) == merged
    assert statuses(project) == {acme: "active", globex: "merged"}
    assert redirects(project) == {globex: acme}
    # One cycle of must-links through the four records, in (source, key) order.
    cycle = {
        "crm:1 crm:2 must_link",
        "crm:2 crm:3 must_link",
        "crm:3 crm:4 must_link",
        "crm:4 crm:1 must_link",
    }
    assert decisions(project) == cycle
    assert audit(project) == [
        (
            "ana",
            "merge",
            f"{globex} {acme}",
            {
                "golden_ids": [globex, acme],
                "must_link": sorted(d.removesuffix(" must_link") for d in cycle),
                "reason": "one firm",
                "before": before,
                "after": {
                    acme: state(project, acme),
                    globex: {"status": "merged", "merged_into": acme, "members": []},
                },
            },
        )
    ]
    assert result.detail == audit(project)[-1][3]

    # The next runs keep it: a delta with a changed record, and a full recompute.
    load(project, *ACME, "3,Globex,555-0133,10001,2024-03-01", GLOBEX[1])
    assert xref(project) == merged
    pipeline.run(project, full=True)
    assert xref(project) == merged
    assert_store_invariants(project)

    undone = stewardship.unmerge(project, globex, "ana", reason="two firms after all")
    assert undone.message == f"{globex} is separated again from {acme}."
    apart = {"crm:1": acme, "crm:2": acme, "crm:3": globex, "crm:4": globex}
    assert xref(project) == apart
    assert statuses(project) == {acme: "active", globex: "active"}
    assert redirects(project) == {}
    assert decisions(project) == {
        "crm:1 crm:2 must_link",
        "crm:3 crm:4 must_link",
        "crm:3 crm:1 cannot_link",
        "crm:3 crm:2 cannot_link",
        "crm:4 crm:1 cannot_link",
        "crm:4 crm:2 cannot_link",
    }
    assert decisions(project, active=False) == {"crm:2 crm:3 must_link", "crm:4 crm:1 must_link"}
    actor, action, target, detail = audit(project)[-1]
    assert (actor, action, target) == ("ana", "unmerge", globex)
    assert detail["withdrawn"] == ["crm:2 crm:3", "crm:4 crm:1"]
    assert list(detail["before"]) == [acme]
    assert detail["before"][acme]["members"] == sorted(merged)
    assert detail["after"] == {acme: state(project, acme), globex: state(project, globex)}
    pipeline.run(project, full=True)
    assert xref(project) == apart
    assert_store_invariants(project)


def test_a_merge_is_refused_while_a_cannot_link_keeps_two_of_their_records_apart(
    project: Project, two: tuple[str, str]
) -> None:
    acme, globex = two
    stewardship.decide_pair(
        project, "crm:2", "crm:3", LinkDecision.CANNOT_LINK, "bob", reason="two firms"
    )
    (decision_id,) = query(project, "select id from match_decision")[0]
    (day,) = query(project, "select decided_at from match_decision")[0]
    kept = dump(project)
    with pytest.raises(MdmError) as caught:
        stewardship.merge_golden(project, acme, globex, "ana")
    assert caught.value.reason is Reason.USAGE
    assert " ".join(str(caught.value).split()) == (
        f"{acme} and {globex} cannot be merged: a steward decided that some of their records "
        "are different. Revoke those decisions first if they were mistaken. "
        f"- decision {decision_id}: crm:2 and crm:3 were decided different by bob on "
        f"{str(day)[:10]} (two firms) ('mdm undo {decision_id}' revokes it)"
    )
    assert dump(project) == kept

    # Revoked, the merge goes through.
    stewardship.undo_decision(project, "bob")
    stewardship.merge_golden(project, acme, globex, "ana")
    assert set(xref(project).values()) == {acme}
    assert_store_invariants(project)


def test_a_merge_names_what_it_cannot_merge(project: Project, two: tuple[str, str]) -> None:
    acme, globex = two
    refusals = {
        (acme, acme): (Reason.USAGE, f"{acme} and {acme} are one golden record."),
        (acme, "A-000000000000"): (
            Reason.NOT_FOUND,
            "A-000000000000 is not a golden account of this store.",
        ),
        (acme, "C-000000000000"): (
            Reason.USAGE,
            f"{acme} is a golden account and C-000000000000 a golden contact: only golden "
            "records of one entity merge.",
        ),
    }
    for (first, second), (reason, message) in refusals.items():
        with pytest.raises(MdmError) as caught:
            stewardship.merge_golden(project, first, second, "ana")
        assert (caught.value.reason, str(caught.value)) == (reason, message)
    stewardship.merge_golden(project, acme, globex, "ana")
    with pytest.raises(MdmError) as caught:
        stewardship.merge_golden(project, acme, globex, "ana")
    assert str(caught.value) == (
        f"{globex} is not active: it was merged into {acme}, which answers for it; name "
        f"{acme} instead."
    )


# ---- move ------------------------------------------------------------------------------------


def test_a_moved_record_stays_where_it_was_moved_and_can_be_moved_back(
    project: Project, two: tuple[str, str]
) -> None:
    acme, globex = two
    before = {acme: state(project, acme), globex: state(project, globex)}
    result = stewardship.move_record(project, "crm:2", globex, "ana", reason="wrong shop")
    assert result.message == f"crm:2 moved from {acme} to {globex}; {acme} keeps its other records."
    moved = {"crm:1": acme, "crm:2": globex, "crm:3": globex, "crm:4": globex}
    assert xref(project) == moved
    assert statuses(project) == {acme: "active", globex: "active"}
    must = {"crm:2 crm:3 must_link", "crm:3 crm:4 must_link", "crm:4 crm:2 must_link"}
    assert decisions(project) == {"crm:2 crm:1 cannot_link"} | must
    assert audit(project) == [
        (
            "ana",
            "move",
            "crm:2",
            {
                "from": acme,
                "to": globex,
                "cannot_link": ["crm:2 crm:1"],
                "withdrawn": [],
                "must_link": ["crm:2 crm:3", "crm:3 crm:4", "crm:4 crm:2"],
                "reason": "wrong shop",
                "before": before,
                "after": {acme: state(project, acme), globex: state(project, globex)},
            },
        )
    ]
    # The next run keeps it, crm:2 changed or not, and so does a full recompute.
    load(project, *ACME[:1], "2,Acme Inc,555-0122,94105,2024-04-01", *GLOBEX)
    assert xref(project) == moved
    pipeline.run(project, full=True)
    assert xref(project) == moved
    assert_store_invariants(project)

    back = stewardship.move_record(project, "crm:2", acme, "ana")
    assert back.message == f"crm:2 moved from {globex} to {acme}; {globex} keeps its other records."
    assert xref(project) == {"crm:1": acme, "crm:2": acme, "crm:3": globex, "crm:4": globex}
    assert decisions(project) == {
        "crm:3 crm:4 must_link",
        "crm:2 crm:3 cannot_link",
        "crm:2 crm:4 cannot_link",
        "crm:1 crm:2 must_link",
    }
    detail = audit(project)[-1][3]
    # Its must-links to Globex withdrawn, and the cannot-link to Acme's record: the newer word.
    assert detail["withdrawn"] == ["crm:2 crm:3", "crm:4 crm:2", "crm:2 crm:1"]
    pipeline.run(project, full=True)
    assert xref(project)["crm:2"] == acme
    assert_store_invariants(project)


def test_moving_the_last_record_of_a_golden_record_retires_it(project: Project) -> None:
    load(project, ACME[0], GLOBEX[0])
    ids = xref(project)
    acme, globex = ids["crm:1"], ids["crm:3"]
    result = stewardship.move_record(project, "crm:1", globex, "ana")
    assert result.message == (
        f"crm:1 moved from {acme} to {globex}; {acme} had no other record and is retired."
    )
    assert xref(project) == {"crm:1": globex, "crm:3": globex}
    assert statuses(project) == {acme: "retired", globex: "active"}
    assert result.detail["after"][acme] == {"status": "retired", "members": []}
    pipeline.run(project, full=True)
    assert xref(project) == {"crm:1": globex, "crm:3": globex}
    assert_store_invariants(project)


def test_a_move_names_what_it_cannot_move(project: Project, two: tuple[str, str]) -> None:
    acme, globex = two
    stewardship.merge_golden(project, acme, globex, "ana")
    load(project, *ACME, *GLOBEX, "5,Initech,555-0105,30301,2024-01-05")
    kept = dump(project)
    refusals = {
        ("crm:1", acme): (Reason.USAGE, f"crm:1 is a record of {acme} already: nothing to move."),
        ("crm:5", globex): (
            Reason.USAGE,
            f"{globex} is not active: it was merged into {acme}, which answers for it; name "
            f"{acme} instead.",
        ),
        ("crm:5", "A-000000000000"): (
            Reason.NOT_FOUND,
            "A-000000000000 is not a golden account of this store.",
        ),
        ("crm:99", acme): (
            Reason.NOT_FOUND,
            "crm:99 is not a live record: check the source name and key.",
        ),
        ("crm:5", "C-000000000000"): (
            Reason.USAGE,
            "crm:5 is a account record and C-000000000000 a golden contact: a record moves only "
            "into a golden record of its own entity.",
        ),
        ("nowhere:5", acme): (Reason.NOT_FOUND, "No source 'nowhere'; sources: crm."),
    }
    for (record, target), (reason, message) in refusals.items():
        with pytest.raises(MdmError) as caught:
            stewardship.move_record(project, record, target, "ana")
        assert (caught.value.reason, str(caught.value)) == (reason, message)
    assert dump(project) == kept


# ---- decide on a stale page ------------------------------------------------------------------


def test_a_decision_on_a_stale_page_is_a_conflict_and_records_nothing(
    project: Project, two: tuple[str, str]
) -> None:
    acme, globex = two
    seen = stewardship.record_versions(project, "crm:1", "crm:3")
    assert seen == {"crm:1": 1, "crm:3": 1}
    # crm:3 changes after the page was shown.
    load(project, *ACME, "3,Globex,555-0133,10001,2024-03-01", GLOBEX[1])
    kept = dump(project)
    with pytest.raises(MdmError) as caught:
        stewardship.decide_pair(
            project, "crm:1", "crm:3", LinkDecision.MUST_LINK, "ana", expected=seen
        )
    assert caught.value.reason is Reason.CONFLICT
    assert str(caught.value) == (
        "The pair changed since it was shown: nothing was recorded. Look at the records "
        "again, then decide.\n  - crm:3: version 1 was shown, it is version 2 now"
    )
    assert dump(project) == kept
    with pytest.raises(MdmError) as caught:
        stewardship.decide_pair(
            project, "crm:1", "crm:3", LinkDecision.MUST_LINK, "ana", expected={"crm:4": 1}
        )
    assert caught.value.reason is Reason.USAGE
    assert dump(project) == kept

    fresh = stewardship.record_versions(project, "crm:1", "crm:3")
    assert fresh == {"crm:1": 1, "crm:3": 2}
    stewardship.decide_pair(
        project, "crm:1", "crm:3", LinkDecision.MUST_LINK, "ana", expected=fresh
    )
    assert decisions(project) == {"crm:1 crm:3 must_link"}
    assert set(xref(project).values()) == {acme}
    assert statuses(project)[globex] == "merged"


# ---- undo ------------------------------------------------------------------------------------


def test_undo_revokes_the_actors_last_decision_and_reopens_its_review_item(demo: Project) -> None:
    items = review_items(demo)
    (account_item,) = [i for i, (left, *_) in items.items() if left.startswith("crm_accounts:")]
    left, right, status, _ = items[account_item]
    assert status == "open"
    contact_item = min(i for i in items if i != account_item)
    start = xref(demo)
    assert start[left] != start[right]
    stewardship.decide_pair(demo, left, right, LinkDecision.MUST_LINK, "ana")
    assert xref(demo)[left] == xref(demo)[right]
    assert review_items(demo)[account_item][2] == "decided"
    contact_left, contact_right, *_ = items[contact_item]
    stewardship.decide_pair(demo, contact_left, contact_right, LinkDecision.CANNOT_LINK, "bob")
    (ana_decision,) = query(demo, "select id from match_decision where decided_by = 'ana'")[0]
    contacts = xref(demo, "contact")

    result = stewardship.undo_decision(demo, "ana", reason="too quick")
    assert result.message == (
        f"Decision {ana_decision} ({left} and {right} are the same, by ana) is revoked; review "
        f"item {account_item} is open again."
    )
    # The decision revoked, bob's left alone; the item back in the queue, under its own id;
    # the golden records as they were before the decision, ids and all.
    assert decisions(demo, active=False) == {f"{left} {right} must_link"}
    assert decisions(demo) == {f"{contact_left} {contact_right} cannot_link"}
    assert review_items(demo)[account_item][2] == "open"
    assert account_item in queue(demo)
    assert xref(demo) == start
    assert xref(demo, "contact") == contacts
    actor, action, target, detail = audit(demo)[-1]
    assert (actor, action, target) == ("ana", "undo", f"{left} {right}")
    joined = start[left] if start[left] in detail["before"] else start[right]
    assert detail["decision"] == ana_decision
    assert detail["revoked"]["decision"] == "must_link"
    assert (detail["revoked"]["left"], detail["revoked"]["right"]) == (left, right)
    assert detail["reopened"] == [account_item]
    assert detail["reason"] == "too quick"
    assert list(detail["before"]) == [joined]
    assert sorted(detail["before"][joined]["members"]) == sorted(
        ref for ref, owner in start.items() if owner in {start[left], start[right]}
    )
    assert sorted(detail["after"]) == sorted({start[left], start[right]})
    for golden_id, after in detail["after"].items():
        assert after["members"] == sorted(ref for ref, owner in start.items() if owner == golden_id)

    with pytest.raises(MdmError) as caught:
        stewardship.undo_decision(demo, "ana")
    assert caught.value.reason is Reason.NOT_FOUND
    assert str(caught.value).startswith("ana has no pair decision to undo")
    with pytest.raises(MdmError) as caught:
        stewardship.undo_decision(demo, "bob", decision_id=ana_decision)
    assert str(caught.value) == f"Decision {ana_decision} was revoked already: nothing to undo."

    # The next run leaves it so.
    pipeline.run(demo)
    assert xref(demo) == start
    assert review_items(demo)[account_item][2] == "open"
    assert_store_invariants(demo)


# ---- skip ------------------------------------------------------------------------------------


def test_a_skipped_item_goes_to_the_back_of_the_queue_and_stays_there(demo: Project) -> None:
    first, *others = queue(demo)
    assert others
    left, right, *_ = review_items(demo)[first]
    result = stewardship.skip_review(demo, first, "ana")
    assert result.message == (
        f"Review item {first} ({left} and {right}) is skipped: the queue shows it after the "
        "items nobody skipped."
    )
    assert review_items(demo)[first][2:] == ("open", "ana")
    assert queue(demo) == [*others, first]
    actor, action, target, detail = audit(demo)[-1]
    assert (actor, action, target) == ("ana", "skip", f"{left} {right}")
    everyone = xref(demo) | xref(demo, "contact")
    owners = {everyone[left], everyone[right]}
    assert detail["item"] == first
    assert sorted(detail["before"]) == sorted(owners)
    assert detail["after"] == detail["before"]

    # In the caller's transaction, for the web.
    store = open_store(demo.store_url, writing=True)
    try:
        with store.transaction() as connection:
            stewardship.skip_review(connection, others[0], "bob")
    finally:
        store.close()
    assert review_items(demo)[others[0]][3] == "bob"
    assert queue(demo)[-2:] == [first, others[0]]

    # A run that finds the pairs again keeps the skips.
    pipeline.run(demo, full=True)
    skipped = {
        (left, right): by
        for left, right, status, by in review_items(demo).values()
        if status == "open"
    }
    assert skipped[review_items(demo)[first][:2]] == "ana"

    stewardship.decide_pair(demo, left, right, LinkDecision.CANNOT_LINK, "ana")
    with pytest.raises(MdmError) as caught:
        stewardship.skip_review(demo, first, "ana")
    assert str(caught.value) == (
        f"Review item {first} ({left} {right}) is decided: it is no longer in the queue, so "
        "there is nothing to skip."
    )
    with pytest.raises(MdmError) as caught:
        stewardship.skip_review(demo, 10_000, "ana")
    assert caught.value.reason is Reason.NOT_FOUND


# ---- the audit log ---------------------------------------------------------------------------


def test_every_steward_action_audits_the_golden_records_before_and_after(
    project: Project, two: tuple[str, str]
) -> None:
    acme, globex = two
    stewardship.pin_value(project, acme, "phone", "+14155550000", "ana", reason="called them")
    stewardship.unpin_value(project, acme, "phone", "ana", reason="moved")
    stewardship.decide_pair(project, "crm:1", "crm:2", LinkDecision.CANNOT_LINK, "ana")
    stewardship.undo_decision(project, "ana")
    stewardship.unmerge(project, acme, "ana", records=["crm:2"])
    split_to = xref(project)["crm:2"]
    stewardship.move_record(project, "crm:2", acme, "ana")
    stewardship.merge_golden(project, acme, globex, "ana")
    rows = audit(project)
    assert [action for _, action, _, _ in rows] == [
        "pin",
        "unpin",
        "cannot_link",
        "undo",
        "split",
        "move",
        "merge",
    ]
    for _, action, _, detail in rows:
        assert set(detail) >= {"before", "after"}, action
        for golden_id, entry in {**detail["before"], **detail["after"]}.items():
            assert entry["status"] in {"active", "merged", "retired"}, (action, golden_id)
            if entry["status"] == "active":
                assert set(entry["values"]) == set(ATTRIBUTES), action
    pin, unpin, decide, undo, split, move, merge = (detail for *_, detail in rows)
    assert (pin["value"], pin["reason"]) == ("+14155550000", "called them")  # kept as written
    assert unpin["reason"] == "moved"
    assert pin["before"][acme]["values"]["phone"] == "+15550102"
    assert pin["after"][acme]["values"]["phone"] == "+14155550000"
    assert unpin["after"][acme]["values"]["phone"] == "+15550102"
    assert decide["reviews"] == [] and isinstance(decide["decision"], int)
    assert decide["before"][acme]["members"] == ["crm:1", "crm:2"]
    assert sorted(decide["after"]) == sorted({acme, *decide["after"]})
    assert len([e for e in decide["after"].values() if e["status"] == "active"]) == 2
    assert undo["after"][acme]["members"] == ["crm:1", "crm:2"]
    assert split["before"] == {acme: split["before"][acme]}
    assert split["after"][split_to]["members"] == ["crm:2"]
    assert split["after"][acme]["members"] == ["crm:1"]
    assert move["after"][acme]["members"] == ["crm:1", "crm:2"]
    assert merge["after"][globex] == {"status": "merged", "merged_into": acme, "members": []}
    assert_store_invariants(project)


# ---- the command line ------------------------------------------------------------------------


def test_the_commands_merge_move_and_undo(project: Project, two: tuple[str, str]) -> None:
    acme, globex = two
    root = project.root
    merged = mdm("merge", globex, acme, "-p", root, "--by", "ana", "--reason", "one firm")
    assert merged.exit_code == 0, merged.output
    assert one_line(merged) == (
        f"{globex} and {acme} are merged for good into {acme} (the older id survives); {globex} "
        f"now redirects to {acme}."
    )
    assert set(xref(project).values()) == {acme}
    assert audit(project)[-1][:3] == ("ana", "merge", f"{globex} {acme}")
    again = mdm("merge", globex, acme, "-p", root)
    assert again.exit_code == 2
    assert one_line(again) == (
        f"Error (usage): {globex} is not active: it was merged into {acme}, which answers for "
        f"it; name {acme} instead."
    )
    assert mdm("unmerge", globex, "-p", root, "--by", "ana").exit_code == 0

    moved = mdm("move", "crm:2", globex, "-p", root, "--by", "ana", "--reason", "wrong shop")
    assert moved.exit_code == 0, moved.output
    assert one_line(moved) == (
        f"crm:2 moved from {acme} to {globex}; {acme} keeps its other records."
    )
    assert audit(project)[-1][:3] == ("ana", "move", "crm:2")
    assert audit(project)[-1][3]["reason"] == "wrong shop"
    twice = mdm("move", "crm:2", globex, "-p", root)
    assert twice.exit_code == 2
    assert one_line(twice) == (
        f"Error (usage): crm:2 is a record of {globex} already: nothing to move."
    )
    # The move keeps crm:2 apart from crm:1, the unmerge crm:3 and crm:4: merging the two is
    # refused, naming each decision.
    apart = query(
        project,
        "select id, left_source, left_key, right_source, right_key, reason, decided_at "
        "from match_decision where decision = 'cannot_link' and active and right_key = '1' "
        "order by id",
    )
    assert [(ls, lk, rk) for _, ls, lk, _, rk, _, _ in apart] == [
        ("crm", "3", "1"),
        ("crm", "4", "1"),
        ("crm", "2", "1"),
    ]
    blocked = mdm("merge", acme, globex, "-p", root)
    assert blocked.exit_code == 2
    assert one_line(blocked) == (
        f"Error (usage): {acme} and {globex} cannot be merged: a steward decided that some of "
        "their records are different. Revoke those decisions first if they were mistaken. "
        + " ".join(
            f"- decision {i}: {ls}:{lk} and {rs}:{rk} were decided different by ana on "
            f"{str(day)[:10]} ({why}) ('mdm undo {i}' revokes it)"
            for i, ls, lk, rs, rk, why, day in apart
        )
    )
    move_decision = apart[-1][0]

    decided = mdm("decide", "crm:1", "crm:3", "--different", "-p", root, "--by", "bob")
    assert decided.exit_code == 0, decided.output
    (decision_id,) = query(project, "select max(id) from match_decision")[0]
    undone = mdm("undo", "-p", root, "--by", "bob", "--reason", "not sure")
    assert undone.exit_code == 0, undone.output
    assert one_line(undone) == (
        f"Decision {decision_id} (crm:1 and crm:3 are different, by bob) is revoked."
    )
    assert audit(project)[-1][3]["reason"] == "not sure"
    nothing = mdm("undo", "-p", root, "--by", "bob")
    assert nothing.exit_code == 2
    assert one_line(nothing) == (
        "Error (not-found): bob has no pair decision to undo: none of theirs made with 'mdm "
        "decide' is still active. Name another's decision by its id to revoke it."
    )
    by_id = mdm("undo", str(decision_id), "-p", root)
    assert by_id.exit_code == 2
    assert one_line(by_id) == (
        f"Error (usage): Decision {decision_id} was revoked already: nothing to undo."
    )
    # Another's decision, named by its id: the move's cannot-link.
    revoked = mdm("undo", str(move_decision), "-p", root, "--by", "bob")
    assert revoked.exit_code == 0, revoked.output
    assert one_line(revoked) == (
        f"Decision {move_decision} (crm:2 and crm:1 are different, by ana) is revoked."
    )
    assert_store_invariants(project)


def test_the_review_command_skips_an_item(demo: Project) -> None:
    first, *others = queue(demo)
    skipped = mdm("review", "--skip", str(first), "-p", demo.root, "--by", "ana")
    assert skipped.exit_code == 0, skipped.output
    assert one_line(skipped).startswith(f"Review item {first} (")
    assert queue(demo) == [*others, first]
    assert audit(demo)[-1][:2] == ("ana", "skip")
    missing = mdm("review", "--skip", "10000", "-p", demo.root)
    assert missing.exit_code == 2
    assert one_line(missing) == (
        "Error (not-found): There is no review item 10000: see 'mdm review' for the queue."
    )
    listed = mdm("review", "-p", demo.root, "--entity", str(Entity.ACCOUNT))
    assert listed.exit_code == 0, listed.output
