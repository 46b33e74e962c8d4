"""A large CSV export on SQLite is split over two processes: a second one writes lineage from a
golden id on while the first writes the rest; the files are those one process writes, byte
for byte, and a next run patches them as any export. The store here is small: the tests ask
for the split from one row of lineage on (``SecondProcess.from_rows``, ``SPLIT_FROM_ROWS``)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_export_patch import FILES, _edit_contacts, _record_starts
from test_nightly import use_store

from mdm import pipeline
from mdm.config.load import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.publish import split
from mdm.publish.export import ExportFormat, export_master, export_store
from mdm.publish.split import SecondProcess, later_anchors, start_part
from mdm.publish.tables import export_tables
from mdm.store import open_store


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    generate_demo(root, accounts=80, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)
    project = load_project(root / "mdm.toml")
    pipeline.run(project, export=False)
    return project


def _export_split(project: Project, out: Path, store_url: str | None = None) -> None:
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            second = SecondProcess(store_url or project.store_url, from_rows=1)
            export_master(connection, out, ExportFormat.CSV, second_process=second)
    finally:
        store.close()


def _assert_files_as_one_process_writes(project: Project, out: Path, tmp_path: Path) -> None:
    one = tmp_path / "one-process"
    export_store(project.store_url, one, ExportFormat.CSV)
    for name in FILES:
        assert (out / name).read_bytes() == (one / name).read_bytes(), name
    assert sorted(path.name for path in out.iterdir()) == sorted([".mdm-export", *FILES])
    marker = json.loads((out / ".mdm-export").read_text(encoding="utf-8"))
    assert marker["files"] == sorted(FILES)
    anchors = marker["anchors"]["lineage.csv"]
    starts = _record_starts(out / "lineage.csv")
    assert anchors[0] == starts[0]
    assert set(anchors) <= set(starts)


def test_the_second_process_writes_lineage_from_a_golden_id_on(
    project: Project, tmp_path: Path
) -> None:
    one = tmp_path / "one-process"
    export_store(project.store_url, one, ExportFormat.CSV)
    whole = (one / "lineage.csv").read_bytes()
    folder = tmp_path / "parts"
    folder.mkdir()
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            part = start_part(
                connection,
                export_tables(connection),
                folder,
                1000,
                SecondProcess(project.store_url, from_rows=1),
            )
            assert part is not None
            anchors = later_anchors(part)
    finally:
        store.close()
    assert anchors is not None and anchors[0] == 0
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8"), newline="")))[1:]
    starts = _record_starts(one / "lineage.csv")
    first_later = next(i for i, row in enumerate(rows) if row[1] >= part.boundary)
    # Both processes have rows to write, and the part is the file's tail from the boundary.
    assert 0 < first_later < len(rows) - 1
    assert rows[first_later][1] == part.boundary
    assert part.path.read_bytes() == whole[starts[first_later] :]


def test_an_export_split_over_two_processes_is_the_one_process_export(
    project: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "split"
    with caplog.at_level(logging.DEBUG, logger="mdm"):
        _export_split(project, out)
    assert "lineage.csv: rows from C-" in caplog.text
    _assert_files_as_one_process_writes(project, out, tmp_path)


def test_if_the_second_process_fails_this_one_writes_its_rows(
    project: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "split"
    missing = f"sqlite:///{tmp_path / 'no-such-folder' / 'mdm.db'}"
    with caplog.at_level(logging.DEBUG, logger="mdm"):
        _export_split(project, out, store_url=missing)
    assert "the second export process failed" in caplog.text
    assert "written by a second process" not in caplog.text
    _assert_files_as_one_process_writes(project, out, tmp_path)


def test_a_run_splits_its_export_and_the_next_run_patches_it(
    project: Project,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(split, "SPLIT_FROM_ROWS", 1)
    with caplog.at_level(logging.DEBUG, logger="mdm"):
        pipeline.run(project, full=True)
    assert "lineage.csv: rows from C-" in caplog.text
    _assert_files_as_one_process_writes(project, project.exports_dir, tmp_path / "first")
    _edit_contacts(project)
    pipeline.run(project)
    marker = json.loads((project.exports_dir / ".mdm-export").read_text(encoding="utf-8"))
    assert "lineage.csv" in marker["patched"]["files"]
    _assert_files_as_one_process_writes(project, project.exports_dir, tmp_path / "second")


def _part_writers(folder: Path) -> list[int]:
    """The processes writing a part into a staging folder beside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mdm.publish.part_writer" in command and any(
            str(folder.parent).encode() in part for part in command
        ):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent's death signal")
def test_a_killed_split_export_leaves_no_process_and_the_next_export_is_whole(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "split"
    script = (
        "import sys; from pathlib import Path\n"
        "from mdm.publish import split\n"
        "from mdm.publish.export import ExportFormat, export_master\n"
        "from mdm.store import open_store\n"
        "split.SPLIT_FROM_ROWS = 1\n"
        "store = open_store(sys.argv[1])\n"
        "with store.transaction() as connection:\n"
        "    export_master(connection, Path(sys.argv[2]), ExportFormat.CSV,\n"
        "                  second_process=split.SecondProcess(sys.argv[1]))\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, project.store_url, str(out)],
        env={**os.environ, "MDM_KILL_AT": "export.wrote.accounts"},
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    deadline = time.monotonic() + 10
    while _part_writers(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _part_writers(out) == []
    assert not out.exists()  # the killed export never got to its swap
    [staging] = [path for path in tmp_path.iterdir() if ".mdm-new-" in path.name]
    # The second process died with the first, before it wrote a row (it was still starting).
    assert not (staging / ".lineage.part").exists()
    _export_split(project, out)
    _assert_files_as_one_process_writes(project, out, tmp_path)
    assert sorted(path.name for path in out.parent.iterdir() if path.name.startswith(".")) == []


@pytest.mark.postgres
def test_on_postgresql_a_run_s_export_is_written_by_one_process(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
) -> None:
    # Lineage is sorted by entity first there, not in golden id order: no split.
    root = tmp_path / "project"
    generate_demo(root, accounts=40, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)
    use_store(root, postgres_url)
    project = load_project(root / "mdm.toml")
    monkeypatch.setattr(split, "SPLIT_FROM_ROWS", 1)
    with caplog.at_level(logging.DEBUG, logger="mdm"):
        pipeline.run(project)
    assert "written by a second process" not in caplog.text
    one = tmp_path / "one-process"
    export_store(project.store_url, one, ExportFormat.CSV)
    for name in FILES:
        assert (project.exports_dir / name).read_bytes() == (one / name).read_bytes(), name
