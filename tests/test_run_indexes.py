"""What a nightly run looks up by run id or since a mark is found through an index: after a
full load, SQLite is told that a run id selects a few rows (its ANALYZE finds every row under
the load's run), so a small delta reads no table of the master whole; a store migrated from an
earlier revision gets the same."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import event
from sqlalchemy.engine import Engine

from mdm import pipeline
from mdm.config.load import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.store import open_store
from mdm.store.database import RUN_INDEX_ROWS, RUN_INDEXES
from mdm.store.migrate import migrate_store
from mdm.store.schema_version import alembic_config, head_revision

# The tables that grow with the master: a delta reads none of them whole.
MASTER_TABLES = {
    "source_record",
    "golden_account",
    "golden_contact",
    "xref",
    "membership",
    "lineage",
    "record_key",
    "key_count",
    "search_key",
    "golden_version",
    "golden_event",
}
NEW_INDEXES = {
    "ix_source_record_entity_id",
    "ix_golden_account_updated_run",
    "ix_golden_contact_updated_run",
    "ix_xref_run",
    "ix_review_item_right",
}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    generate_demo(root, accounts=60, seed=11, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)
    return load_project(root / "mdm.toml")


def _stats(project: Project) -> dict[str, str]:
    with sqlite3.connect(project.root / "mdm.db") as database:
        rows = database.execute("SELECT idx, stat FROM sqlite_stat1").fetchall()
    return {str(index): str(stat) for index, stat in rows}


def _change_two_phones(project: Project) -> None:
    for name, row in (("crm_contacts.csv", 3), ("crm_accounts.csv", 4)):
        path = project.root / "data" / name
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[row, "Phone"] = "+1 415 555 0177"
        frame.loc[row, "LastModifiedDate"] = "2026-11-23T02:00:00Z"
        frame.to_csv(path, index=False, lineterminator="\n")


def test_a_full_run_tells_sqlite_that_a_run_id_selects_few_rows(project: Project) -> None:
    pipeline.run(project)
    stats = _stats(project)
    for index in RUN_INDEXES:
        rows, *columns = stats[index].split(" ")
        assert int(rows) > 0, index
        assert columns and all(column == str(RUN_INDEX_ROWS) for column in columns), index
    # The other indexes keep what ANALYZE found.
    assert stats["ix_source_record_version"].split(" ")[-1] == "1"


def test_a_small_delta_reads_no_table_of_the_master_whole(project: Project) -> None:
    pipeline.run(project)
    _change_two_phones(project)
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        summary = pipeline.run(project)
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    assert not summary.full
    assert sum(entity.scope for entity in summary.entities) > 0
    scans = []
    with sqlite3.connect(project.root / "mdm.db") as database:
        for statement, parameters in statements:
            if "WHERE 0 = 1" in statement:
                continue  # an empty key list: SQLite reads nothing
            plan = database.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            for *_ids, detail in plan:
                words = str(detail).split(" ")
                if words[0] == "SCAN" and words[1] in MASTER_TABLES:
                    scans.append((words[1], " ".join(statement.split())[:160]))
    assert scans == []
    assert any("updated_run >" in statement for statement, _ in statements)  # the export's


def test_migrating_an_analyzed_store_analyzes_the_new_indexes(project: Project) -> None:
    pipeline.run(project)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            command.downgrade(alembic_config(connection), "0011")
    finally:
        store.close()
    with sqlite3.connect(project.root / "mdm.db") as database:
        database.execute("ANALYZE")  # as an mdm of revision 0011 left it after a full run
    before = _stats(project)
    assert not NEW_INDEXES & set(before)
    assert before["ix_membership_from_run"].split(" ")[1] != str(RUN_INDEX_ROWS)
    done = migrate_store(project.store_url, 0)
    assert (done.before, done.after) == ("0011", head_revision())
    after = _stats(project)
    assert set(after) >= NEW_INDEXES
    for index in RUN_INDEXES:
        assert after[index].split(" ")[1] == str(RUN_INDEX_ROWS), index
    _change_two_phones(project)
    assert not pipeline.run(project).full  # the migrated store runs its delta
