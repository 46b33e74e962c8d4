"""The read models: typed answers read by key, serializable as JSON, and never a write.

Every view runs on a demo store with merges, pins and a review queue, on SQLite and on
PostgreSQL, through a plain connection (not a read-only one): the store must come out
byte-identical, table by table. ``explain_records`` meets records whose stored match keys are
stale, which it must compute in memory, not write back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from first_runs import first_run
from pydantic import BaseModel
from sqlalchemy import Connection, inspect, text

from mdm import stewardship
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, LinkDecision
from mdm.store import open_store
from mdm.views import (
    explain_records,
    golden_history,
    golden_lineage,
    golden_view,
    read_only,
    reading,
    recent_runs,
    resolve_id,
    review_queue,
    run_quarantine,
    run_view,
)


@pytest.fixture
def demo(tmp_path: Path, store_url: str) -> Project:
    """A demo project after a run, a steward's merge of two golden accounts and a pin."""

    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=40)
        shutil.copytree(DEFAULT_RULES, folder / "rules")

    project = first_run(tmp_path / "shop", store_url, "demo with faults", prepare)
    xref = exported(project, "xref")
    accounts = xref[xref["golden_id"].str.startswith("A-")].drop_duplicates("golden_id")
    first, second = (f"{s}:{k}" for s, k in accounts[["source", "source_key"]].head(2).values)
    stewardship.decide_pair(project, first, second, LinkDecision.MUST_LINK, "ana")
    biggest = largest_golden_id(project, "accounts")
    stewardship.pin_value(project, biggest, "phone", "+12125550123", "ana")
    return project


def exported(project: Project, name: str) -> pd.DataFrame:
    return pd.read_csv(project.exports_dir / f"{name}.csv", dtype=str)


def largest_golden_id(project: Project, name: str) -> str:
    golden = exported(project, name)
    golden["members"] = golden["members"].astype(int)
    return str(golden.sort_values(["members", "golden_id"]).iloc[-1]["golden_id"])


def members_of(project: Project, golden_id: str) -> list[str]:
    xref = exported(project, "xref")
    mine = xref[xref["golden_id"] == golden_id].sort_values(["source", "source_key"])
    return [f"{s}:{k}" for s, k in mine[["source", "source_key"]].values]


def merged_away_id(connection: Connection) -> str:
    return str(connection.execute(text("select from_id from redirect")).scalar_one())


@pytest.fixture
def connection(demo: Project) -> Iterator[Connection]:
    """A plain connection (writes would go through), so that only the views keep it clean."""
    store = open_store(demo.store_url)
    try:
        with store.transaction() as connection:
            yield connection
    finally:
        store.close()


def fingerprint(connection: Connection) -> dict[str, tuple[int, str]]:
    """Per table: its row count and a checksum of its rows, in an order of their own."""
    found = {}
    for table in sorted(inspect(connection).get_table_names()):
        rows = connection.execute(text(f'select * from "{table}"')).all()
        lines = sorted(repr(tuple(row)) for row in rows)
        found[table] = (len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest())
    return found


def every_view(connection: Connection, project: Project) -> dict[str, Any]:
    """Every view, with the arguments that reach all of its paths."""
    account = largest_golden_id(project, "accounts")
    contact = largest_golden_id(project, "contacts")
    merged = merged_away_id(connection)
    left, right = members_of(project, account)[:2]
    contact_left, contact_right = members_of(project, contact)[:2]
    calls: dict[str, Callable[[], Any]] = {
        "account": lambda: golden_view(connection, project.spec, account),
        "contact": lambda: golden_view(connection, project.spec, contact),
        "merged": lambda: golden_view(connection, project.spec, merged),
        "lineage": lambda: golden_lineage(connection, merged),
        "history": lambda: golden_history(connection, merged),
        "resolve": lambda: resolve_id(connection, merged),
        "runs": lambda: recent_runs(connection, 10),
        "run": lambda: run_view(connection, 1),
        "steward run": lambda: run_view(connection, 2),
        "quarantine": lambda: run_quarantine(connection, 1),
        "latest quarantine": lambda: run_quarantine(connection, None),
        "review": lambda: review_queue(connection, None, 50),
        "contact review": lambda: review_queue(connection, Entity.CONTACT, 3),
        "explain accounts": lambda: explain_records(connection, project, left, right),
        "explain contacts": lambda: explain_records(
            connection, project, contact_left, contact_right
        ),
    }
    return {name: call() for name, call in calls.items()}


def as_json(found: Any) -> str:
    if isinstance(found, list):
        return json.dumps([item.model_dump(mode="json") for item in found], sort_keys=True)
    assert isinstance(found, BaseModel)
    return json.dumps(found.model_dump(mode="json"), sort_keys=True)


def test_views_answer_by_key_and_never_write(demo: Project, connection: Connection) -> None:
    before = fingerprint(connection)
    views = every_view(connection, demo)
    assert fingerprint(connection) == before

    account = views["account"]
    assert account.golden_id == largest_golden_id(demo, "accounts")
    assert [f"{m.source}:{m.source_key}" for m in account.members] == members_of(
        demo, account.golden_id
    )
    assert {row.attribute: row.rule for row in account.lineage}["phone"] == "steward_pin"
    assert all(c.golden_id.startswith("C-") for c in account.contacts)
    contact = views["contact"]
    assert contact.account is not None
    assert contact.account.golden_id == contact.record["account_id"]

    merged, resolved = views["merged"], views["resolve"]
    assert merged.requested != merged.golden_id == resolved.golden_id
    assert resolved.status == "active"
    assert [event.event for event in views["history"].events] == ["created", "merged"]
    assert views["lineage"] == merged.lineage

    assert [run.id for run in views["runs"]] == [3, 2, 1]
    assert [run.command for run in views["runs"]] == ["steward", "steward", "run"]
    assert views["run"].sources and views["run"].stages
    assert all(e.statistics is not None for e in views["run"].entities)
    assert {row.reason for row in views["quarantine"]} >= {"key column 'Id' is empty"}
    assert views["latest quarantine"] == []  # the latest run is a steward's: it loads nothing
    probabilities = [item.probability for item in views["review"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert views["contact review"] == [i for i in views["review"] if i.entity == "contact"][:3]
    explained = views["explain accounts"]
    assert explained.method == "probabilistic" and explained.probability is not None
    assert f"probability {explained.probability:.4f}: {explained.decision}" in explained.verdict
    for found in views.values():
        json.loads(as_json(found))


def test_explain_computes_stale_match_keys_in_memory(demo: Project, connection: Connection) -> None:
    contact = largest_golden_id(demo, "contacts")
    left, right = members_of(demo, contact)[:2]
    fresh = explain_records(connection, demo, left, right)
    # Keys stamped by another standardization (or none) are stale: as after an upgrade.
    connection.execute(text("update source_record set match_keys = null"))
    before = fingerprint(connection)
    stale = explain_records(connection, demo, left, right)
    assert fingerprint(connection) == before
    assert stale == fresh
    assert [f.name for f in fresh.fields if f.left is not None]  # values were compared


def test_views_refuse_what_they_cannot_find(demo: Project, connection: Connection) -> None:
    account = largest_golden_id(demo, "accounts")
    [left, *_] = members_of(demo, account)
    with pytest.raises(MdmError, match="No golden account A-000000000000"):
        golden_view(connection, demo.spec, "A-000000000000")
    with pytest.raises(MdmError, match="No run 99"):
        run_view(connection, 99)
    with pytest.raises(MdmError, match="No live record crm_accounts:nope"):
        explain_records(connection, demo, left, "crm_accounts:nope")


def test_reading_refuses_writes(demo: Project) -> None:
    with reading(demo.store_url) as connection:
        assert resolve_id(connection, largest_golden_id(demo, "accounts")).status == "active"
        with pytest.raises(Exception, match=r"(?i)read.only|readonly"):
            connection.execute(text("update run set command = 'x'"))
    # A server keeps its store open: the connection goes back to the pool able to write.
    store = open_store(demo.store_url)
    try:
        with (
            store.transaction() as connection,
            read_only(connection),
            pytest.raises(Exception, match=r"(?i)read.only|readonly"),
        ):
            connection.execute(text("update run set command = 'x'"))
        with store.transaction() as connection:
            connection.execute(text("update run set command = 'x' where id = 1"))
        with store.transaction() as connection:
            assert connection.execute(text("select command from run where id = 1")).scalar() == "x"
    finally:
        store.close()


def test_views_import_nothing_from_the_pipeline() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, mdm.views; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "mdm.views" in loaded
    assert [name for name in loaded if name.startswith("mdm.pipeline")] == []
