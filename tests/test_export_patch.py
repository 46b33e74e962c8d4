"""A run's export patches the previous one with what changed since, and the files are the ones
a full export of the same store writes, byte for byte; where that cannot be certain (files
edited, another store, an escaped key, anchors that are not records' starts) the export is
written whole. The marker keeps anchors, record starts a patch begins its reading at."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nightly import use_store

from mdm import pipeline
from mdm.config.load import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish import patch, writers
from mdm.publish.export import ExportFormat, export_store
from mdm.publish.patch import thinned
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


# ---- anchors ---------------------------------------------------------------------------------


def _record_starts(path: Path) -> list[int]:
    """Where each record of an export file starts, found by parsing it and writing each row
    again as the export writes it (header first)."""
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    offsets, offset = [], 0
    for row in rows:
        offset += len(patch._csv_text(row))
        offsets.append(offset)
    assert offset == len(text.encode("utf-8"))  # the rows give the file back, byte for byte
    return offsets[:-1]  # the header's end is the first record's start; the last is the end


def _marker(project: Project) -> dict[str, object]:
    return dict(json.loads((project.exports_dir / ".mdm-export").read_text(encoding="utf-8")))


def _assert_anchors_are_record_starts(
    project: Project, spacing: int, files: tuple[str, ...] = FILES
) -> None:
    anchors = _marker(project)["anchors"]
    assert isinstance(anchors, dict)
    assert sorted(anchors) == sorted(files)
    for name in files:
        starts = _record_starts(project.exports_dir / name)
        found = anchors[name]
        assert found[0] == starts[0], name  # right after the header
        assert set(found) <= set(starts), name
        assert all(later - earlier >= spacing for earlier, later in pairwise(found))
        assert len(found) > 1, name  # the small spacing gives every file several


def _edit_more(project: Project, night: int) -> None:
    """Another night: new phones for other contacts, and new contacts."""
    path = project.root / "data" / "crm_contacts.csv"
    contacts = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = list(range(20 + 7 * night, 27 + 7 * night))
    contacts.loc[rows, "Phone"] = [f"+1 415 555 {night:02d}{n:02d}" for n in range(len(rows))]
    contacts.loc[rows, "LastModifiedDate"] = f"2026-11-{24 + night}T02:00:00Z"
    copy = contacts.loc[rows[:2]].copy()
    copy["Id"] = [f"NEW-{night}-{n}" for n in range(2)]
    contacts = pd.concat([contacts, copy], ignore_index=True)
    contacts.to_csv(path, index=False, lineterminator="\n")


def test_nights_of_patches_keep_anchors_that_are_record_starts(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anchors every few records: each patch reads a few stretches, and copies the others; the
    # record at an anchor is read a few bytes at a time (most records are longer).
    monkeypatch.setattr(patch, "ANCHOR_BYTES", 300)
    monkeypatch.setattr(writers, "ANCHOR_ROWS", 2)
    monkeypatch.setattr(patch, "_RECORD", 8)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path)
    _assert_anchors_are_record_starts(project, 300)
    _edit_contacts(project)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path, patched=FILES)
    _assert_anchors_are_record_starts(project, 300)
    for night in range(1, 4):
        _edit_more(project, night)
        pipeline.run(project)
        _assert_as_full_export(project, tmp_path, patched=FILES)
        _assert_anchors_are_record_starts(project, 300)


@pytest.mark.postgres
def test_on_postgresql_the_xref_is_written_whole_and_the_rest_patched_by_anchors(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    # PostgreSQL sorts the xref by its own collation: that file is written whole every time,
    # and the marker keeps no anchors for it.
    use_store(project.root, postgres_url)
    project = load_project(project.root / "mdm.toml")
    monkeypatch.setattr(patch, "ANCHOR_BYTES", 300)
    monkeypatch.setattr(writers, "ANCHOR_ROWS", 2)
    patchable = ("accounts.csv", "contacts.csv", "lineage.csv")
    pipeline.run(project)
    _assert_anchors_are_record_starts(project, 300, patchable)
    for night in range(1, 3):
        _edit_more(project, night)
        pipeline.run(project)
        _assert_as_full_export(project, tmp_path, patched=patchable)
        _assert_anchors_are_record_starts(project, 300, patchable)


def test_an_export_without_anchors_is_patched_and_gets_them(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patch, "ANCHOR_BYTES", 300)
    pipeline.run(project)
    # As an mdm that kept no anchors left it: every record is read to find where each starts.
    marker = _marker(project)
    del marker["anchors"]
    (project.exports_dir / ".mdm-export").write_text(json.dumps(marker), encoding="utf-8")
    _edit_contacts(project)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path, patched=FILES)
    _assert_anchors_are_record_starts(project, 300)


def test_anchors_that_are_not_record_starts_make_that_file_whole(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patch, "ANCHOR_BYTES", 300)
    pipeline.run(project)
    marker = _marker(project)
    anchors = marker["anchors"]
    assert isinstance(anchors, dict)
    lineage = anchors["lineage.csv"]
    anchors["lineage.csv"] = [lineage[0], lineage[1] + 1]  # inside a record
    anchors["xref.csv"] = "not a list"  # ignored: xref is patched as without anchors
    (project.exports_dir / ".mdm-export").write_text(json.dumps(marker), encoding="utf-8")
    _edit_contacts(project)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path, patched=("accounts.csv", "contacts.csv", "xref.csv"))
    _assert_anchors_are_record_starts(project, 300)


def test_a_patch_with_anchors_reads_only_the_stretches_with_a_changed_key(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patch, "ANCHOR_BYTES", 300)
    monkeypatch.setattr(writers, "ANCHOR_ROWS", 2)
    pipeline.run(project)
    read: list[int] = []
    pread = os.pread

    def counting(handle: int, length: int, offset: int) -> bytes:
        read.append(length)
        return pread(handle, length, offset)

    monkeypatch.setattr(patch.os, "pread", counting)
    path = project.root / "data" / "crm_contacts.csv"
    contacts = pd.read_csv(path, dtype=str, keep_default_na=False)
    contacts.loc[5, "Phone"] = "+1 415 555 0142"  # one contact changes
    contacts.loc[5, "LastModifiedDate"] = "2026-11-23T02:00:00Z"
    contacts.to_csv(path, index=False, lineterminator="\n")
    previous = sum((project.exports_dir / name).stat().st_size for name in FILES)
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path, patched=FILES)
    assert 0 < sum(read) < previous / 10


def test_a_file_of_no_rows_is_patched_as_it_is(tmp_path: Path) -> None:
    # Accounts only: the contacts' files hold their header and nothing else, before and after.
    root = tmp_path / "accounts-only"
    root.mkdir()
    (root / "mdm.toml").write_text(CRM_ACCOUNTS_TOML.format(url=f"sqlite:///{root / 'mdm.db'}"))
    shutil.copytree(DEFAULT_RULES, root / "rules")
    rows = "1,Acme Inc,555-0101,94105,2024-01-01\n2,Globex,555-0102,10001,2024-01-02\n"
    (root / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + rows)
    project = load_project(root / "mdm.toml")
    pipeline.run(project)
    (root / "crm.csv").write_text("Id,Name,Phone,Zip,Modified\n" + rows.replace("0102", "0199"))
    pipeline.run(project)
    _assert_as_full_export(project, tmp_path, patched=FILES)
    contacts = (project.exports_dir / "contacts.csv").read_bytes()
    assert contacts.count(b"\n") == 1  # the header
    anchors = _marker(project)["anchors"]
    assert isinstance(anchors, dict)
    assert anchors["contacts.csv"] == [len(contacts)]


def test_thinned_keeps_the_first_anchor_and_those_far_enough_from_the_last_kept() -> None:
    assert thinned([], 256) == []
    assert thinned([10], 256) == [10]
    assert thinned([10, 11, 300, 555, 556, 811, 812], 256) == [10, 300, 556, 812]


# ---- reading a previous file's keys -------------------------------------------------------------

# Without a bare carriage return: the writer leaves it unquoted and no CSV reader reads it back.
cell_texts = st.text(alphabet=st.sampled_from(list("ab ,\"'\n;é{}:")), max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(cell_texts, min_size=1, max_size=6), st.integers(1, 3))
def test_a_records_key_is_its_first_cells_as_the_csv_reader_reads_them(
    cells: list[str], width: int
) -> None:
    """A key read from a previous file's record is the CSV reader's first cells, also when the
    record has no cell after them; a key cell written escaped (a leading apostrophe) stops the
    patch."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=os.linesep).writerow(cells)
    record = buffer.getvalue().encode("utf-8")
    [parsed] = list(csv.reader([buffer.getvalue().rstrip("\r\n")]))
    if any(cell.startswith("'") for cell in parsed[:width]):
        with pytest.raises(patch._CannotPatch):
            patch._key_of(record, width)
    else:
        assert patch._key_of(record, width) == tuple(parsed[:width])
