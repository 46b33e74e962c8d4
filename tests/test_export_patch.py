"""A run's export patches the previous one with what changed since, and the files are the ones
a full export of the same store writes, byte for byte; where that cannot be certain (files
edited, another store, an escaped key) the export is written whole."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from mdm import pipeline
from mdm.config.load import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish.export import ExportFormat, export_store
from mdm.stewardship import pin_value

FILES = ("accounts.csv", "contacts.csv", "xref.csv", "lineage.csv")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    generate_demo(root, accounts=80, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)
    return load_project(root / "mdm.toml")


def _assert_as_full_export(
    project: Project, tmp_path: Path, *, patched: tuple[str, ...] = ()
) -> None:
    """The run's export holds exactly what a full export of the store writes; ``patched``:
    the files it made by patching the previous export."""
    full = tmp_path / f"full-{len(list(tmp_path.iterdir()))}"
    export_store(project.store_url, full, ExportFormat.CSV)
    exports = project.exports_dir
    for name in FILES:
        assert (exports / name).read_bytes() == (full / name).read_bytes(), name
    marker = json.loads((exports / ".mdm-export").read_text(encoding="utf-8"))
    assert sorted((marker["patched"] or {}).get("files", [])) == sorted(patched)


def _edit_contacts(project: Project) -> None:
    """New phones for some contacts, a renamed account, some contacts gone from the extract."""
    path = project.root / "data" / "crm_contacts.csv"
    contacts = pd.read_csv(path, dtype=str, keep_default_na=False)
    contacts.loc[:9, "Phone"] = [f"+1 415 555 01{n:02d}" for n in range(10)]
    contacts.loc[:9, "LastModifiedDate"] = "2026-11-23T02:00:00Z"
    contacts = contacts.drop(index=range(10, 16))
    contacts.to_csv(path, index=False, lineterminator="\n")
    path = project.root / "data" / "crm_accounts.csv"
    accounts = pd.read_csv(path, dtype=str, keep_default_na=False)
    accounts.loc[0, "Name"] = accounts.loc[1, "Name"]  # may merge with another account
    accounts.loc[0, "LastModifiedDate"] = "2026-11-23T02:00:00Z"
    accounts.to_csv(path, index=False, lineterminator="\n")


def test_a_delta_run_patches_the_export_into_what_a_full_export_writes(
    project: Project, tmp_path: Path
) -> None:
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path)  # the first export is whole
    _edit_contacts(project)
    summary = pipeline.run(project)
    assert sum(entity.updated + entity.created for entity in summary.entities) > 0
    _assert_as_full_export(project, tmp_path, patched=FILES)
    # A steward's action between runs is a run of its own: the next export takes it in.
    store = sqlite3.connect(project.root / "mdm.db")
    [(golden_id,)] = store.execute(
        "SELECT golden_id FROM golden_contact WHERE status = 'active' ORDER BY golden_id LIMIT 1"
    ).fetchall()
    store.close()
    pin_value(project, golden_id, "phone", "+14155550199", "ana")
    pipeline.run(project)  # nothing new loaded: only the pin's change since the last export
    _assert_as_full_export(project, tmp_path, patched=FILES)
    contacts = pd.read_csv(project.exports_dir / "contacts.csv", dtype=str)
    assert contacts.set_index("golden_id").loc[golden_id, "phone"] == "+14155550199"


def test_an_edited_export_is_written_whole(project: Project, tmp_path: Path) -> None:
    pipeline.run(project)
    lineage = project.exports_dir / "lineage.csv"
    with lineage.open("a", encoding="utf-8") as handle:
        handle.write("account,A-zzz,name,Edited by hand,,,,,,,,\n")
    _edit_contacts(project)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path)
    assert b"Edited by hand" not in lineage.read_bytes()


def test_another_store_s_export_is_written_whole(project: Project, tmp_path: Path) -> None:
    pipeline.run(project)
    _edit_contacts(project)
    pipeline.run(project)
    # The store made again from the same extracts: its run ids start again at 1.
    for path in project.root.glob("mdm.db*"):
        path.unlink()
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path)


def test_keys_a_spreadsheet_would_run_are_not_patched_but_written_whole(
    project: Project, tmp_path: Path
) -> None:
    path = project.root / "data" / "crm_contacts.csv"
    contacts = pd.read_csv(path, dtype=str, keep_default_na=False)
    contacts.loc[3, "Id"] = "=HYPERLINK(1)"
    contacts.loc[4, "Id"] = "+12"  # a signed number: written as it is
    contacts.to_csv(path, index=False, lineterminator="\n")
    pipeline.run(project)
    _edit_contacts(project)
    pipeline.run(project)
    xref = (project.exports_dir / "xref.csv").read_text(encoding="utf-8")
    assert ",'=HYPERLINK(1)," in xref
    # The other files were patched.
    _assert_as_full_export(
        project, tmp_path, patched=("accounts.csv", "contacts.csv", "lineage.csv")
    )
