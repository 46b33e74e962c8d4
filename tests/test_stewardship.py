"""Steward actions: undo a merge, pin a value, decide a pair; each binds later runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from invariants_helper import assert_store_invariants

from mdm import pipeline, stewardship
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import open_store
from mdm.store.stewardship import active_decisions
from mdm.views import golden_history, golden_lineage, reading, resolve_id

PROJECT = CRM_ACCOUNTS_TOML

RULES = """
method = "rules"

[[rules]]
name = "same_name_and_postcode"
fields = ["name", "postcode"]
"""

HEADER = "Id,Name,Phone,Zip,Modified\n"


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=store_url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    (directory / "rules" / "match" / "account.toml").write_text(RULES)
    return load_project(directory)


def load(project: Project, rows: str) -> pipeline.RunSummary:
    (project.root / "crm.csv").write_text(HEADER + rows)
    return pipeline.run(project)


def golden_of(project: Project) -> dict[str, str]:
    xref = pd.read_csv(project.exports_dir / "xref.csv", dtype=str)
    return dict(zip(xref["source_key"], xref["golden_id"], strict=True))


def accounts(project: Project) -> pd.DataFrame:
    return pd.read_csv(project.exports_dir / "accounts.csv", dtype=str).set_index("golden_id")


def test_an_undone_merge_restores_the_old_id_and_stays_undone(project: Project) -> None:
    load(project, "1,Acme Inc,555-0101,94105,2024-01-01\n2,Acme Inc.,555-0102,10001,2024-01-02\n")
    before = golden_of(project)
    assert before["1"] != before["2"]
    # Record 2 moves to record 1's postcode: the two golden records merge.
    load(project, "1,Acme Inc,555-0101,94105,2024-01-01\n2,Acme Inc.,555-0102,94105,2024-02-01\n")
    merged = golden_of(project)
    survivor = merged["1"]
    assert merged["2"] == survivor
    gone = before["2"] if survivor == before["1"] else before["1"]
    with reading(project.store_url) as connection:
        resolved = resolve_id(connection, gone)
    assert (resolved.golden_id, resolved.status) == (survivor, "active")

    result = stewardship.unmerge(project, gone, actor="ana", reason="two shops")
    assert "separated" in result.message
    after = golden_of(project)
    assert after == before  # the merged-away id is back, with its own record
    with reading(project.store_url) as connection:
        resolved = resolve_id(connection, gone)
        events = [event.event for event in golden_history(connection, gone).events]
    assert (resolved.golden_id, resolved.status) == (gone, "active")
    assert events == ["created", "merged", "revived"]

    # The decision binds: the next nightly run and a full recompute keep them apart.
    load(project, "1,Acme Inc,555-0101,94105,2024-01-01\n2,Acme Inc.,555-0199,94105,2024-03-01\n")
    assert golden_of(project) == before
    pipeline.run(project, full=True)
    assert golden_of(project) == before
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            audit = connection.exec_driver_sql("select actor, action from audit_log").fetchall()
    finally:
        store.close()
    assert [tuple(row) for row in audit] == [("ana", "unmerge")]
    assert_store_invariants(project)


def test_unmerge_of_an_id_never_merged_is_refused(project: Project) -> None:
    load(project, "1,Acme Inc,555-0101,94105,2024-01-01\n")
    [golden_id] = golden_of(project).values()
    with pytest.raises(MdmError) as caught:
        stewardship.unmerge(project, golden_id, actor="ana")
    assert "was not merged into another record" in str(caught.value)


def test_a_pin_wins_until_unpinned(project: Project) -> None:
    load(project, "1,Acme Inc,(415) 555-0101,94105,2024-01-01\n")
    [golden_id] = golden_of(project).values()
    stewardship.pin_value(project, golden_id, "phone", "+14155550000", actor="ana")
    assert accounts(project).loc[golden_id, "phone"] == "+14155550000"
    with reading(project.store_url) as connection:
        lineage = {row.attribute: row for row in golden_lineage(connection, golden_id)}
    assert lineage["phone"].rule == "steward_pin"
    # A newer source value does not override the pin.
    load(project, "1,Acme Inc,(415) 555-0177,94105,2024-05-01\n")
    assert accounts(project).loc[golden_id, "phone"] == "+14155550000"
    stewardship.unpin_value(project, golden_id, "phone", actor="ana")
    assert accounts(project).loc[golden_id, "phone"] == "+14155550177"
    with pytest.raises(MdmError) as caught:
        stewardship.unpin_value(project, golden_id, "phone", actor="ana")
    assert "is not pinned" in str(caught.value)
    assert_store_invariants(project)


def test_pair_decisions_bind_later_runs(project: Project) -> None:
    load(
        project,
        "1,Acme Inc,555-0101,94105,2024-01-01\n2,Acme Inc,555-0102,94105,2024-01-02\n"
        "3,Globex,555-0103,10001,2024-01-03\n",
    )
    first = golden_of(project)
    assert first["1"] == first["2"] != first["3"]
    stewardship.decide_pair(project, "crm:1", "crm:2", stewardship.Decision.CANNOT_LINK, "ana")
    stewardship.decide_pair(project, "crm:2", "crm:3", stewardship.Decision.MUST_LINK, "ana")
    decided = golden_of(project)
    assert decided["1"] != decided["2"] == decided["3"]
    pipeline.run(project, full=True)
    assert golden_of(project) == decided
    with pytest.raises(MdmError) as caught:
        stewardship.decide_pair(project, "crm:1", "crm:99", stewardship.Decision.MUST_LINK, "ana")
    assert "crm:99" in str(caught.value)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            assert active_decisions(connection, Entity.ACCOUNT).shape[0] == 2
    finally:
        store.close()
    assert_store_invariants(project)
