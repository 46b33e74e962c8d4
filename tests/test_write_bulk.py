"""The golden writer's bulk path: a first run only appends (no deletes or reads by key lists
for ids minted in the run), a rerun of the same inputs writes nothing, and SQLite's page cache
is raised for the write and given back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from crm_project import CRM_ACCOUNTS_TOML
from sqlalchemy import Connection, Engine, event

from mdm import pipeline
from mdm.config import load_project
from mdm.project_files import DEFAULT_RULES
from mdm.store import database, open_store
from mdm.store.bulk import BULK_CACHE_KIB, bulk_writes

PROJECT = CRM_ACCOUNTS_TOML
GOLDEN_WRITES = ("golden_account", "lineage", "search_key", "golden_version")


def project_at(directory: Path, url: str) -> Path:
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    rows = [
        "1,Acme Inc,555-0101,94105,2024-01-01",
        "2,Acme Inc.,555-0101,94105,2024-01-02",
        "3,Globex,555-0102,10001,2024-01-02",
        "4,Initech,555-0103,73301,2024-01-03",
    ]
    (directory / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + "\n".join(rows) + "\n")
    return directory


def test_a_first_run_appends_golden_records_without_deleting_or_reading_them(
    tmp_path: Path, store_url: str, monkeypatch: Any
) -> None:
    project = load_project(project_at(tmp_path / "project", store_url))
    seen: list[str] = []
    original = database._create_engine

    def listened(url: str) -> Engine:
        engine = original(url)
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(str(a[2]).lower()))
        return engine

    monkeypatch.setattr(database, "_create_engine", listened)
    first = pipeline.run(project, export=False)
    assert first.entities[0].created == 3
    for table in GOLDEN_WRITES:
        assert not [s for s in seen if s.startswith(f"delete from {table} ")], table
    # The run checks its minted ids once against the ids ever used (their golden_id only);
    # the writer reads no golden row for them.
    rows_read = [s for s in seen if s.startswith("select golden_account.golden_id, ")]
    assert not [s for s in rows_read if "golden_account.golden_id in (" in s]
    assert not [s for s in seen if s.startswith("select") and "from golden_version" in s]
    # What was appended is all there is: a second run of the same inputs changes nothing.
    seen.clear()
    again = pipeline.run(project, export=False, full=True)
    assert again.entities[0].updated == 0 and again.entities[0].created == 0
    store = open_store(store_url)
    try:
        with store.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT count(*) FROM golden_version").scalar()
            lineage = connection.exec_driver_sql("SELECT count(*) FROM lineage").scalar()
            golden = connection.exec_driver_sql("SELECT count(*) FROM golden_account").scalar()
    finally:
        store.close()
    assert versions == golden == 3
    assert lineage and lineage > 0


def test_bulk_writes_raise_sqlite_page_cache_and_give_it_back(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        with bulk_writes(connection):
            pass  # nothing to change elsewhere
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    with bulk_writes(connection):
        inside = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    after = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    assert inside == -BULK_CACHE_KIB
    assert after == before
