"""Several nightly loads in a row: deltas resolve only what changed, and match a full run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import POSTGRES_URL
from invariants_helper import assert_store_invariants
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish import ExportFormat
from mdm.store import open_store

CRM_ACCOUNTS = Path("data/crm_accounts.csv")
CRM_CONTACTS = Path("data/crm_contacts.csv")


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Iterator[Project]:
    directory = tmp_path / "nightly"
    generate_demo(directory, accounts=150, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    if is_postgres(store_url):
        use_store(directory, store_url)
    # On SQLite the demo's store is a file in the project folder, copied along with it.
    yield load_project(directory)
    if is_postgres(store_url):
        drop_database(copy_database_name(store_url))


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def use_store(directory: Path, url: str) -> None:
    project_file = directory / "mdm.toml"
    settings = project_file.read_text(encoding="utf-8")
    settings = re.sub(r'(?m)^url = "[^"]*"', f'url = "{url}"', settings, count=1)
    project_file.write_text(settings, encoding="utf-8")


def copy_database_name(url: str) -> str:
    return f"{make_url(url).database}_copy"


def copy_database(url: str) -> str:
    """A copy of the PostgreSQL database at ``url`` (no one may be connected to it); its url."""
    name = copy_database_name(url)
    drop_database(name)
    with server_connection() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with server_connection() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server_connection() -> Iterator[Connection]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def snapshot(project: Project, out: Path) -> dict[str, pd.DataFrame]:
    pipeline.export(project, out, ExportFormat.CSV)
    names = ("accounts", "contacts", "xref", "lineage")
    frames = {name: read_csv(out / f"{name}.csv") for name in names}
    for name in ("accounts", "contacts"):
        frames[name] = frames[name].drop(columns=["created_run", "updated_run"])
    frames["lineage"] = frames["lineage"].drop(columns=["run_id", "record_id"])
    return frames


def full_recompute(project: Project, tmp: Path) -> dict[str, pd.DataFrame]:
    """The same store, recomputed from scratch by a full run on a copy."""
    copy = tmp / "copy"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project.root, copy)
    if is_postgres(project.store_url):
        use_store(copy, copy_database(project.store_url))
    copied = load_project(copy)
    pipeline.run(copied, full=True, export=False)
    return snapshot(copied, tmp / "copy-out")


def record_keys(project: Project) -> tuple[set[tuple[str, int, int]], set[tuple[str, int, int]]]:
    """The record-key index and its counts, as sets of rows."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            keys = connection.execute(text("SELECT entity, record_id, key FROM record_key"))
            counts = connection.execute(text("SELECT entity, key, records FROM key_count"))
            return (
                {(str(e), int(r), int(k)) for e, r, k in keys},
                {(str(e), int(k), int(n)) for e, k, n in counts},
            )
    finally:
        store.close()


def night_1(root: Path, rng: np.random.Generator) -> None:
    """Three accounts get a new phone, with a newer timestamp."""
    accounts = read_csv(root / CRM_ACCOUNTS)
    rows = rng.choice(len(accounts), 3, replace=False)
    accounts.loc[rows, "Phone"] = ["+1 415 555 0101", "+1 415 555 0102", "+1 415 555 0103"]
    accounts.loc[rows, "LastModifiedDate"] = "2026-01-01T00:00:00Z"
    write_csv(accounts, root / CRM_ACCOUNTS)


def night_2(root: Path, rng: np.random.Generator) -> None:
    """A new CRM account duplicating an existing one (same name and postcode)."""
    accounts = read_csv(root / CRM_ACCOUNTS)
    source = accounts[(accounts["BillingPostalCode"] != "") & (accounts["IsDeleted"] == "false")]
    copy = source.iloc[[int(rng.integers(len(source)))]].copy()
    copy["Id"] = "0015g00000NEW0001"
    copy["Phone"] = ""
    copy["LastModifiedDate"] = "2026-01-02T00:00:00Z"
    write_csv(pd.concat([accounts, copy], ignore_index=True), root / CRM_ACCOUNTS)


def night_3(root: Path, rng: np.random.Generator) -> None:
    """Two contacts leave the CRM extract (deleted there)."""
    contacts = read_csv(root / CRM_CONTACTS)
    gone = rng.choice(len(contacts), 2, replace=False)
    write_csv(contacts.drop(index=gone), root / CRM_CONTACTS)


def night_4(root: Path, rng: np.random.Generator) -> None:
    """A contact's email is corrected to another contact's: the two merge."""
    contacts = read_csv(root / CRM_CONTACTS)
    with_email = contacts[contacts["Email"] != ""].index
    first, second = rng.choice(with_email, 2, replace=False)
    contacts.loc[second, "Email"] = contacts.loc[first, "Email"]
    contacts.loc[second, "LastModifiedDate"] = "2026-01-04T00:00:00Z"
    write_csv(contacts, root / CRM_CONTACTS)


def night_5(root: Path, rng: np.random.Generator) -> None:
    """Nothing changed upstream: the same extracts again."""


NIGHTS = [night_1, night_2, night_3, night_4, night_5]


def test_five_nights_of_deltas(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    first = pipeline.run(project)
    assert first.full
    before = snapshot(project, tmp_path / "before")
    for number, night in enumerate(NIGHTS, start=1):
        night(project.root, rng)
        summary = pipeline.run(project)
        assert not summary.full
        after = snapshot(project, tmp_path / f"night-{number}")
        # A delta resolves to exactly what a full recompute gives, and keeps the record-key
        # index as a full run builds it.
        expected = full_recompute(project, tmp_path)
        for name, frame in after.items():
            pd.testing.assert_frame_equal(frame, expected[name], obj=f"night {number}: {name}")
        indexed = record_keys(project)
        assert len(indexed[0]) > 1000 and len(indexed[1]) > 1000
        assert indexed == record_keys(load_project(tmp_path / "copy")), f"night {number}"
        # Golden ids of records the night did not touch do not change.
        assert_untouched_keep_ids(before["xref"], after["xref"], summary)
        # Rerunning the same delta changes nothing.
        again = pipeline.run(project)
        assert sum(s.inserted + s.updated + s.deleted for s in again.sources) == 0
        assert all(e.scope == 0 and e.created == 0 and e.updated == 0 for e in again.entities)
        pd.testing.assert_frame_equal(
            snapshot(project, tmp_path / f"night-{number}-again")["xref"], after["xref"]
        )
        assert_store_invariants(project)
        before = after


def assert_untouched_keep_ids(
    before: pd.DataFrame, after: pd.DataFrame, summary: pipeline.RunSummary
) -> None:
    touched = {golden_id for entity in summary.entities for golden_id in entity.touched}
    joined = before.merge(after, on=["entity", "source", "source_key"], suffixes=("", "_now"))
    untouched = joined[~joined["golden_id"].isin(touched)]
    assert (untouched["golden_id"] == untouched["golden_id_now"]).all()
    # A delta run recomputes only a small scope.
    for entity in summary.entities:
        assert entity.scope < entity.records / 4, entity
