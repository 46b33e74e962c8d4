"""End to end: files -> store -> golden records -> exports, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from invariants_helper import assert_store_invariants
from truth_helper import pair_agreement, read_truth

from mdm import pipeline
from mdm.config import load_project
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.project_files import DEFAULT_RULES
from mdm.publish import ExportFormat
from mdm.schema import Entity, survived_attribute_names
from mdm.store import open_store
from mdm.store import records as records_store


def make_demo(directory: Path, store_url: str, accounts: int = 120) -> Path:
    generate_demo(directory, accounts=accounts, seed=11)
    shutil.copytree(DEFAULT_RULES, directory / "rules", dirs_exist_ok=True)
    project_file = directory / "mdm.toml"
    text = project_file.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^url = "sqlite:///mdm.db"', f'url = "{store_url}"', text, count=1)
    project_file.write_text(text, encoding="utf-8")
    return directory


def live_record_count(store_url: str, entity: Entity) -> int:
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            return len(records_store.live_records(connection, entity))
    finally:
        store.close()


def read_exports(directory: Path) -> dict[str, pd.DataFrame]:
    names = ("accounts", "contacts", "xref", "lineage")
    return {name: pd.read_csv(directory / f"{name}.csv", dtype=str) for name in names}


def test_demo_end_to_end_and_rerun_changes_nothing(tmp_path: Path, store_url: str) -> None:
    project = load_project(make_demo(tmp_path / "demo", store_url))
    first = pipeline.run(project)
    exports = read_exports(Path(first.exports or ""))

    # Every live source record appears exactly once in xref.
    xref = exports["xref"]
    assert not xref.duplicated(["source", "source_key"]).any()
    for entity in Entity:
        assert (xref["entity"] == str(entity)).sum() == live_record_count(store_url, entity)

    # Every golden value has one lineage row, pointing to a record in its own cluster.
    lineage = exports["lineage"]
    golden_of = xref.set_index(["source", "source_key"])["golden_id"]
    owners = golden_of.reindex(pd.MultiIndex.from_frame(lineage[["source", "source_key"]]))
    assert (owners.to_numpy() == lineage["golden_id"].to_numpy()).all()
    golden = {Entity.ACCOUNT: exports["accounts"], Entity.CONTACT: exports["contacts"]}
    for entity, frame in golden.items():
        attributes = survived_attribute_names(entity)
        if entity is Entity.CONTACT:
            attributes = [*attributes, "account_id"]
        values = frame.melt(id_vars="golden_id", value_vars=attributes).dropna(subset=["value"])
        mine = lineage[lineage["entity"] == str(entity)]
        joined = values.merge(
            mine,
            left_on=["golden_id", "variable"],
            right_on=["golden_id", "attribute"],
            how="left",
            suffixes=("", "_lineage"),
        )
        assert len(joined) == len(values)
        assert (joined["value"] == joined["value_lineage"]).all()

    # The demo's damaged extract rows are quarantined with their reasons; the rest loaded.
    assert {(s.source, s.quarantined) for s in first.sources if s.quarantined} == {
        ("crm_contacts", 2),
        ("marketing_leads", 1),
    }

    # The golden records agree with the generator's truth, pair by pair. Measured on this
    # demo (120 organisations, seed 11): accounts precision 1.000 and recall 1.000 (69 true
    # pairs); contacts precision 0.955 and recall 0.960 (223 true pairs).
    floors = {Entity.ACCOUNT: (0.97, 0.97), Entity.CONTACT: (0.94, 0.94)}
    for entity, (precision_floor, recall_floor) in floors.items():
        records = xref[xref["entity"] == str(entity)]
        agreement = pair_agreement(records, read_truth(project.root, str(entity)))
        assert agreement.records == len(records)  # every live record has a truth
        assert agreement.true_pairs > 50, agreement
        assert agreement.precision >= precision_floor, (entity, agreement)
        assert agreement.recall >= recall_floor, (entity, agreement)

    second = pipeline.run(project)
    assert sum(s.inserted for s in second.sources) == 0
    assert sum(s.updated for s in second.sources) == 0
    assert sum(s.deleted for s in second.sources) == 0
    assert all(e.created == 0 and e.updated == 0 and e.merged == 0 for e in second.entities)
    again = read_exports(Path(second.exports or ""))
    for name in ("accounts", "contacts", "xref", "lineage"):
        pd.testing.assert_frame_equal(again[name], exports[name])
    assert_store_invariants(project)


def test_parquet_export(tmp_path: Path) -> None:
    project = load_project(make_demo(tmp_path / "demo", f"sqlite:///{tmp_path / 's.db'}", 40))
    pipeline.run(project, export=False)
    out = pipeline.export(project, tmp_path / "out", ExportFormat.PARQUET)
    xref = pd.read_parquet(out / "xref.parquet")
    assert list(xref.columns) == ["entity", "source", "source_key", "golden_id"]
    assert len(xref) == live_record_count(f"sqlite:///{tmp_path / 's.db'}", Entity.CONTACT) + (
        live_record_count(f"sqlite:///{tmp_path / 's.db'}", Entity.ACCOUNT)
    )


SMALL_PROJECT = CRM_ACCOUNTS_TOML + 'country = "Country"\n'


def small_project(directory: Path, url: str, rows: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mdm.toml").write_text(SMALL_PROJECT.format(url=url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    (directory / "crm.csv").write_bytes(rows)
    return directory


GOOD_AND_BAD_ROWS = (
    b"Id,Name,Phone,Zip,Country,Modified\n"
    b"1,Acme Inc,(415) 555-0134,94105,US,2024-01-05\n"
    b"2,ACME INCORPORATED,+1 415 555 0199,94105,USA,2024-03-01\n"
    b"3,Globex GmbH,030 1234567,10115,DE,2024-02-01\n"
    b"4,Ragged Ltd,1,2,GB\n"  # one field short
    b",No Key Corp,555,12345,US,2024-01-01\n"  # missing key
    b"6,Caf\xe9 Lyon SA,0472000000,69001,FR,2024-01-01\n"  # latin-1 byte in a utf-8 file
)


def test_bad_rows_are_quarantined_and_the_run_finishes(tmp_path: Path, store_url: str) -> None:
    project = load_project(small_project(tmp_path / "p", store_url, GOOD_AND_BAD_ROWS))
    summary = pipeline.run(project)
    [source] = summary.sources
    assert (source.rows_read, source.inserted, source.quarantined) == (6, 3, 3)
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            rows = records_store.quarantine(connection, summary.run_id)
    finally:
        store.close()
    reasons = dict(zip(rows["row_number"].astype(int), rows["reason"], strict=True))
    assert sorted(reasons) == [4, 5, 6]
    assert "fields" in reasons[4]
    assert "key" in reasons[5].lower()
    assert "utf-8" in reasons[6].lower()
    accounts = next(e for e in summary.entities if e.entity == "account")
    # Acme Inc and ACME INCORPORATED share a standardized name and postcode.
    assert (accounts.records, accounts.golden) == (3, 2)


def test_missing_mapped_column_stops_before_writing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rows = b"Id,Name,Phone,Zip,Modified\n1,Acme,1,94105,2024-01-01\n"  # no Country column
    project = load_project(small_project(tmp_path / "p", url, rows))
    with pytest.raises(MdmError) as caught:
        pipeline.run(project)
    message = str(caught.value)
    assert "crm.csv" in message
    assert "mapping.country" in message
    assert "'Country'" in message
    assert not (tmp_path / "store.db").exists()


def test_unknown_rule_name_stops_at_load(tmp_path: Path) -> None:
    directory = small_project(tmp_path / "p", "sqlite:///s.db", GOOD_AND_BAD_ROWS)
    rules = directory / "rules" / "survivorship" / "account.toml"
    rules.write_text(rules.read_text().replace('"most_recent"]', '"most_recnet"]', 1))
    with pytest.raises(MdmError) as caught:
        load_project(directory)
    message = str(caught.value)
    assert f"{rules}: default[1]: 'most_recnet': Input should be" in message
    assert not (directory / "s.db").exists()


def test_updates_and_deletes_flow_to_golden_records(tmp_path: Path, store_url: str) -> None:
    first_load = (
        b"Id,Name,Phone,Zip,Country,Modified\n"
        b"1,Acme Inc,(415) 555-0134,94105,US,2024-01-05\n"
        b"2,Acme Incorporated,,94105,US,2024-01-01\n"
        b"3,Globex GmbH,030 1234567,10115,DE,2024-02-01\n"
    )
    directory = small_project(tmp_path / "p", store_url, first_load)
    project = load_project(directory)
    first = pipeline.run(project)
    before = read_exports(Path(first.exports or ""))
    acme = before["xref"].set_index("source_key").loc["1", "golden_id"]
    globex = before["xref"].set_index("source_key").loc["3", "golden_id"]

    # Record 2 gets a newer phone; record 3 disappears from the full extract.
    (directory / "crm.csv").write_bytes(
        b"Id,Name,Phone,Zip,Country,Modified\n"
        b"1,Acme Inc,(415) 555-0134,94105,US,2024-01-05\n"
        b"2,Acme Incorporated,415-555-0199,94105,US,2024-06-01\n"
    )
    # One of three records is a third of the source: more than max_delete_share lets go.
    second = pipeline.run(project, allow_deletes=frozenset({"crm"}))
    [source] = second.sources
    assert (source.inserted, source.updated, source.deleted, source.unchanged) == (0, 1, 1, 1)
    after = read_exports(Path(second.exports or ""))
    accounts = after["accounts"].set_index("golden_id")
    assert list(accounts.index) == [acme]  # same id; Globex retired
    assert accounts.loc[acme, "phone"] == "+14155550199"  # phone: most recent wins
    assert globex not in set(after["xref"]["golden_id"])
    assert_store_invariants(project)
