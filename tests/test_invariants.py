"""The store invariants (``mdm check``): a store made by real runs and steward actions holds
them all; each corruption a crash or a bug could leave is named exactly."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from invariants_helper import assert_store_invariants, postgres_database, set_store_url
from sqlalchemy import Connection, text
from typer.testing import CliRunner

from mdm.cli import app
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.invariants import Invariant, check_project, check_store
from mdm.pipeline import index
from mdm.pipeline.keys import live_keys
from mdm.pipeline.match_input import account_ids
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, survived_attribute_names
from mdm.store import open_store

runner = CliRunner()

# Contact phones keep every distinct valid number: golden values that are JSON arrays.
CONTACT_SURVIVORSHIP_PHONE = (
    'phone = ["valid_first", "most_recent", "source_priority"]',
    'phone = ["valid_first", "keep_all"]',
)


def mdm(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def query(url: str, sql: str, **params: Any) -> pd.DataFrame:
    store = open_store(url)
    try:
        with store.engine.connect() as connection:
            result = connection.execute(text(sql), params)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    finally:
        store.close()


@dataclass(frozen=True)
class Scenario:
    """A store after two runs and steward actions, and what they made."""

    project: Project
    url: str
    merged: str  # a golden account merged away by a must-link decision
    survivor: str
    retired: str  # a golden account whose only record was deleted
    pinned: str  # a golden account with a pinned phone
    updated: tuple[str, str]  # a record with two versions (source, key)


def build_scenario(directory: Path, url: str) -> Scenario:
    generate_demo(directory, accounts=30, seed=4, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    rules = directory / "rules" / "survivorship" / "contact.toml"
    rules.write_text(rules.read_text().replace(*CONTACT_SURVIVORSHIP_PHONE))
    set_store_url(directory, url)
    mdm("run", "-p", str(directory))
    xref = query(url, "select * from xref")
    accounts = xref[xref["entity"] == "account"]
    sizes = accounts["golden_id"].map(accounts["golden_id"].value_counts())
    crm = accounts[accounts["source"] == "crm_accounts"]
    alone = crm[sizes[crm.index] == 1].sort_values("source_key")
    gone, changed = alone.iloc[0], alone.iloc[1]
    # Night 2: one account leaves the CRM extract, another gets a new phone.
    path = directory / "data" / "crm_accounts.csv"
    extract = pd.read_csv(path, dtype=str, keep_default_na=False)
    extract = extract[extract["Id"] != gone["source_key"]]
    extract.loc[extract["Id"] == changed["source_key"], ["Phone", "LastModifiedDate"]] = [
        "+1 415 555 0199",
        "2026-01-01T00:00:00Z",
    ]
    extract.to_csv(path, index=False, lineterminator="\n")
    mdm("run", "-p", str(directory))
    # A steward joins two golden accounts and separates two records of a golden contact.
    xref = query(url, "select * from xref")
    accounts = xref[xref["entity"] == "account"].sort_values(["source", "source_key"])
    first = accounts.iloc[0]
    other = accounts[accounts["golden_id"] != first["golden_id"]].iloc[0]
    mdm("decide", _ref(first), _ref(other), "--same", "-p", str(directory))
    contacts = xref[xref["entity"] == "contact"].sort_values(["source", "source_key"])
    shared = contacts[contacts["golden_id"].duplicated(keep=False)]
    pair = shared[shared["golden_id"] == shared["golden_id"].iloc[0]].iloc[:2]
    mdm("decide", _ref(pair.iloc[0]), _ref(pair.iloc[1]), "--different", "-p", str(directory))
    [redirect] = query(url, "select from_id, to_id from redirect").itertuples(index=False)
    survivor = str(redirect.to_id)
    mdm("pin", survivor, "phone", "+14155550100", "-p", str(directory))
    return Scenario(
        project=load_project(directory),
        url=url,
        merged=str(redirect.from_id),
        survivor=survivor,
        retired=str(gone["golden_id"]),
        pinned=survivor,
        updated=(str(changed["source"]), str(changed["source_key"])),
    )


def _ref(row: pd.Series) -> str:
    return f"{row['source']}:{row['source_key']}"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp("invariants") / "project"
    if request.param == "sqlite":
        yield build_scenario(directory, f"sqlite:///{directory.parent / 'store.db'}")
        return
    with postgres_database() as url:
        yield build_scenario(directory, url)


def test_a_store_made_by_runs_and_steward_actions_holds_every_invariant(scenario: Scenario) -> None:
    report = check_project(scenario.project)
    assert report.violations == []
    counts = {c.entity: c for c in report.counts}
    assert counts["account"].merged == 1
    assert counts["account"].unresolved == counts["contact"].unresolved == 0
    golden = query(scenario.url, "select golden_id, status from golden_account")
    statuses = dict(zip(golden["golden_id"], golden["status"], strict=True))
    assert statuses[scenario.merged] == "merged"
    assert statuses[scenario.retired] == "retired"
    lineage = query(
        scenario.url, "select rule from lineage where golden_id = :g", g=scenario.pinned
    )
    assert "steward_pin" in set(lineage["rule"])
    kept = query(scenario.url, "select value from lineage where rule = 'keep_all'")
    assert len(kept) > 0  # contact phones as JSON arrays were checked


@contextmanager
def corrupted(scenario: Scenario) -> Iterator[Connection]:
    """A connection whose changes are rolled back: the scenario's store stays clean."""
    store = open_store(scenario.url)
    try:
        with store.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            finally:
                transaction.rollback()
    finally:
        store.close()


KEY_COUNTS = "key counts"


def found(connection: Connection, scenario: Scenario) -> list[tuple[str, str]]:
    """(invariant, first subject) of each violation; key counts name hashes: one subject."""
    return sorted(
        (str(v.invariant), KEY_COUNTS if KEY_COUNTS in v.message else v.subjects[0])
        for v in check_store(connection, scenario.project)
    )


def one(connection: Connection, sql: str, **params: Any) -> Any:
    return connection.execute(text(sql), params).one()


def sql(connection: Connection, statement: str, **params: Any) -> int:
    """Run ``statement``; its first column's value if it returns rows (a count), else 0."""
    result = connection.execute(text(statement), params)
    return int(result.scalar() or 0) if result.returns_rows else 0


def lone_contact_record(connection: Connection) -> Any:
    """A contact record in a golden record of several, that gave none of its values."""
    return one(
        connection,
        "select x.source, x.source_key, x.golden_id, x.record_id from xref x "
        "where x.entity = 'contact' "
        "and (select count(*) from xref y where y.golden_id = x.golden_id) > 1 "
        "and not exists (select 1 from lineage l where l.record_id = x.record_id) "
        "order by x.source, x.source_key limit 1",
    )


Expected = list[tuple[Invariant, str]]
Corruption = Callable[[Connection, Scenario], Expected]


def xref_row_deleted(connection: Connection, scenario: Scenario) -> Expected:
    row = lone_contact_record(connection)
    sql(connection, "delete from xref where record_id = :r", r=row.record_id)
    return [
        (Invariant.MEMBERSHIP, f"{row.source}:{row.source_key}"),
        (Invariant.GOLDEN_MEMBERS, row.golden_id),  # one member fewer than it says
    ]


def xref_left_on_a_deleted_record(connection: Connection, scenario: Scenario) -> Expected:
    row = lone_contact_record(connection)
    # Deleted (as by a tombstone) but left in its golden record and in the index.
    sql(connection, "update source_record set deleted = :d where id = :r", d=True, r=row.record_id)
    ref = f"{row.source}:{row.source_key}"
    return [
        (Invariant.MEMBERSHIP, ref),
        (Invariant.RECORD_INDEX, ref),
        (Invariant.RECORD_INDEX, KEY_COUNTS),
    ]


def xref_on_an_old_version(connection: Connection, scenario: Scenario) -> Expected:
    source, key = scenario.updated
    versions = connection.execute(
        text("select id from source_record where source = :s and source_key = :k order by id"),
        {"s": source, "k": key},
    )
    old, new = versions.scalars().all()
    golden_id = one(connection, "select golden_id from xref where record_id = :r", r=new)[0]
    before = contact_accounts(connection, scenario.project)
    sql(connection, "update xref set record_id = :old where record_id = :new", old=old, new=new)
    gave = sql(connection, "select count(*) from lineage where record_id = :r", r=new)
    # Accounts are found by name and domain through the xref by record id: a row on an old
    # version hides its account, so the contacts that found it that way are indexed as they
    # no longer would be.
    after = contact_accounts(connection, scenario.project)
    lost = sorted(before.index[before.ne(after).to_numpy()])
    return [
        (Invariant.MEMBERSHIP, f"{source}:{key}"),
        *[(Invariant.LINEAGE, golden_id)] * gave,
        *[(Invariant.RECORD_INDEX, ref) for ref in lost],
        *([(Invariant.RECORD_INDEX, KEY_COUNTS)] if lost else []),
    ]


def contact_accounts(connection: Connection, project: Project) -> pd.Series:
    """Each live contact's account evidence (``source:key`` -> golden account or "")."""
    keys = live_keys(connection, project, Entity.CONTACT)
    found = account_ids(connection, project, keys).fillna("").to_numpy()
    return pd.Series(found, index=(keys["source"] + ":" + keys["source_key"]).to_numpy())


def redirect_to_a_retired_id(connection: Connection, scenario: Scenario) -> Expected:
    sql(
        connection,
        "update redirect set to_id = :retired where from_id = :merged",
        retired=scenario.retired,
        merged=scenario.merged,
    )
    return [(Invariant.REDIRECTS, scenario.merged)]


def redirect_cycle(connection: Connection, scenario: Scenario) -> Expected:
    sql(
        connection,
        "insert into redirect (from_id, to_id, entity, run_id) "
        "select to_id, from_id, entity, run_id from redirect where from_id = :merged",
        merged=scenario.merged,
    )
    return [
        (Invariant.GOLDEN_MEMBERS, scenario.survivor),  # active, and redirected
        (Invariant.REDIRECTS, scenario.merged),
        (Invariant.REDIRECTS, scenario.survivor),
    ]


def merged_id_active_again(connection: Connection, scenario: Scenario) -> Expected:
    sql(
        connection,
        "update golden_account set status = 'active' where golden_id = :merged",
        merged=scenario.merged,
    )
    record = one(connection, "select * from golden_account where golden_id = :g", g=scenario.merged)
    values = [getattr(record, name) for name in survived_attribute_names(Entity.ACCOUNT)]
    return [
        (Invariant.GOLDEN_MEMBERS, scenario.merged),  # no members
        (Invariant.GOLDEN_MEMBERS, scenario.merged),  # active, and redirected
        # Its values have no lineage: a merge drops it.
        *[(Invariant.LINEAGE, scenario.merged) for value in values if value is not None],
    ]


def golden_value_changed(connection: Connection, scenario: Scenario) -> Expected:
    golden_id = one(
        connection,
        "select golden_id from golden_account where status = 'active' and golden_id <> :pinned "
        "order by golden_id limit 1",
        pinned=scenario.pinned,
    )[0]
    sql(connection, "update golden_account set name = 'Initech' where golden_id = :g", g=golden_id)
    return [(Invariant.LINEAGE, golden_id)]


def keep_all_value_changed(connection: Connection, scenario: Scenario) -> Expected:
    row = one(
        connection,
        "select golden_id, value from lineage where rule = 'keep_all' order by golden_id limit 1",
    )
    # One of its kept phones instead of the JSON array of them all.
    sql(
        connection,
        "update golden_contact set phone = :v where golden_id = :g",
        v=row.value,
        g=row.golden_id,
    )
    return [(Invariant.LINEAGE, row.golden_id)]


def lineage_from_another_golden_record(connection: Connection, scenario: Scenario) -> Expected:
    row = one(
        connection,
        "select id, golden_id from lineage where entity = 'account' and record_id is not null "
        "order by id limit 1",
    )
    stranger = one(
        connection,
        "select record_id from xref where entity = 'account' and golden_id <> :g "
        "order by record_id limit 1",
        g=row.golden_id,
    )[0]
    sql(connection, "update lineage set record_id = :r where id = :i", r=stranger, i=row.id)
    return [(Invariant.LINEAGE, row.golden_id)]


def pin_lost(connection: Connection, scenario: Scenario) -> Expected:
    sql(connection, "update value_pin set active = :active", active=False)
    return [(Invariant.LINEAGE, scenario.pinned)]


def contact_on_a_merged_account(connection: Connection, scenario: Scenario) -> Expected:
    golden_id = one(
        connection,
        "select golden_id from golden_contact where account_id is not null "
        "order by golden_id limit 1",
    )[0]
    sql(
        connection,
        "update golden_contact set account_id = :merged where golden_id = :g",
        merged=scenario.merged,
        g=golden_id,
    )
    return [
        (Invariant.LINEAGE, golden_id),  # the value is not its lineage's
        (Invariant.LINEAGE, golden_id),  # the account is not active
    ]


def cannot_link_put_together(connection: Connection, scenario: Scenario) -> Expected:
    decision = one(
        connection,
        "select left_source, left_key, right_source, right_key from match_decision "
        "where decision = 'cannot_link'",
    )
    of = "select golden_id, record_id from xref where source = :s and source_key = :k"
    left = one(connection, of, s=decision.left_source, k=decision.left_key)
    right = one(connection, of, s=decision.right_source, k=decision.right_key)
    # The right record back in the left one's golden record, as before the decision.
    sql(
        connection,
        "update xref set golden_id = :g where record_id = :r",
        g=left.golden_id,
        r=right.record_id,
    )
    gave = sql(connection, "select count(*) from lineage where record_id = :r", r=right.record_id)
    return [
        (Invariant.DECISIONS, f"{decision.left_source}:{decision.left_key}"),
        (Invariant.GOLDEN_MEMBERS, left.golden_id),  # one member more than it says
        (Invariant.GOLDEN_MEMBERS, right.golden_id),  # one fewer
        *[(Invariant.LINEAGE, right.golden_id)] * gave,  # its values came from a leaver
    ]


def must_link_not_applied(connection: Connection, scenario: Scenario) -> Expected:
    first = "select source, source_key, golden_id from xref where entity = 'contact' "
    a = one(connection, first + "order by source, source_key limit 1")
    b = one(
        connection,
        first + "and golden_id <> :g order by source, source_key limit 1",
        g=a.golden_id,
    )
    sql(
        connection,
        "insert into match_decision (entity, left_source, left_key, right_source, right_key, "
        "decision, decided_by, decided_at, active) "
        "values ('contact', :ls, :lk, :rs, :rk, 'must_link', 'ana', :at, :active)",
        ls=a.source,
        lk=a.source_key,
        rs=b.source,
        rk=b.source_key,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        active=True,
    )
    return [(Invariant.DECISIONS, f"{a.source}:{a.source_key}")]


def record_key_row_deleted(connection: Connection, scenario: Scenario) -> Expected:
    row = lone_contact_record(connection)
    live = int(index.hashed([index.key_text(index.KeyKind.LIVE)])[0])
    sql(
        connection,
        "delete from record_key where record_id = :r and key = :k",
        r=row.record_id,
        k=live,
    )
    return [(Invariant.RECORD_INDEX, f"{row.source}:{row.source_key}")]


def key_count_off_by_one(connection: Connection, scenario: Scenario) -> Expected:
    sql(
        connection,
        "update key_count set records = records + 1 where entity = 'account' "
        "and key = (select min(key) from key_count where entity = 'account')",
    )
    return [(Invariant.RECORD_INDEX, KEY_COUNTS)]


CORRUPTIONS: list[Corruption] = [
    xref_row_deleted,
    xref_left_on_a_deleted_record,
    xref_on_an_old_version,
    redirect_to_a_retired_id,
    redirect_cycle,
    merged_id_active_again,
    golden_value_changed,
    keep_all_value_changed,
    lineage_from_another_golden_record,
    pin_lost,
    contact_on_a_merged_account,
    cannot_link_put_together,
    must_link_not_applied,
    record_key_row_deleted,
    key_count_off_by_one,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda corrupt: corrupt.__name__)
def test_each_corruption_is_named_exactly(scenario: Scenario, corrupt: Corruption) -> None:
    with corrupted(scenario) as connection:
        assert found(connection, scenario) == []
        expected = corrupt(connection, scenario)
        assert found(connection, scenario) == sorted((str(i), s) for i, s in expected)


SMALL_PROJECT = CRM_ACCOUNTS_TOML

HEADER = "Id,Name,Phone,Zip,Modified\n"


def small_project(directory: Path, url: str, rows: str) -> Path:
    directory.mkdir()
    (directory / "mdm.toml").write_text(SMALL_PROJECT.format(url=url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    (directory / "crm.csv").write_text(HEADER + rows)
    return directory


def test_mdm_check_says_ok_or_names_each_violation(tmp_path: Path, store_url: str) -> None:
    rows = "1,Acme Inc,555-0101,94105,2024-01-01\n2,Globex,555-0102,10001,2024-01-02\n"
    directory = small_project(tmp_path / "p", store_url, rows)
    mdm("run", "-p", str(directory))
    result = runner.invoke(app, ["check", "-p", str(directory)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: every invariant holds.")
    assert "│ account │ 2            │ 0          │ 2      │" in result.output

    lost = query(store_url, "select golden_id, record_id from xref where source_key = '2'")
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            connection.execute(text("delete from xref where source_key = '2'"))
    finally:
        store.close()
    result = runner.invoke(app, ["check", "-p", str(directory)])
    assert result.exit_code == 1, result.output
    golden_id, record_id = lost.iloc[0]
    assert (
        f"[membership] crm:2 is a live record (record {record_id}) in no golden record."
    ) in result.output
    assert f"[golden-members] {golden_id} is an active golden record without members." in (
        result.output
    )
    # Its values now come from a record that is no member: name, phone and postcode.
    printed = " ".join(result.output.split())
    for value, rule in (
        ("name = 'Globex'", "most_frequent"),
        ("phone = '+15550102'", "valid_first"),
        ("postcode = '10001'", "most_complete"),
    ):
        assert (
            f"[lineage] {golden_id}.{value} comes from record {record_id} (rule {rule}), "
            f"which is not a member of {golden_id}."
        ) in printed
    assert "5 violations: the store disagrees with itself." in result.output

    result = runner.invoke(app, ["check", "-p", str(tmp_path / "nowhere")])
    assert result.exit_code == 2


def test_records_loaded_by_ingest_wait_for_the_next_run(tmp_path: Path, store_url: str) -> None:
    rows = "1,Acme Inc,555-0101,94105,2024-01-01\n2,Globex,555-0102,10001,2024-01-02\n"
    directory = small_project(tmp_path / "p", store_url, rows)
    mdm("run", "-p", str(directory))
    # Record 1 changes, 2 is deleted, 3 is new: loaded, not resolved yet.
    (directory / "crm.csv").write_text(
        HEADER + "1,Acme Inc,555-0199,94105,2024-02-01\n3,Initech,555-0103,73301,2024-02-01\n"
    )
    mdm("ingest", "--allow-deletes", "crm", "-p", str(directory))
    project = load_project(directory)
    report = check_project(project)
    assert report.violations == []
    assert [c.unresolved for c in report.counts] == [2, 0]
    # The next run resolves them, whichever command loaded them.
    mdm("run", "-p", str(directory))
    report = check_project(project)
    assert report.violations == []
    assert [c.unresolved for c in report.counts] == [0, 0]
    xref = query(store_url, "select source_key from xref order by source_key")
    assert xref["source_key"].tolist() == ["1", "3"]
    assert_store_invariants(project)
