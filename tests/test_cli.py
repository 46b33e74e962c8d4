"""The mdm command as a user runs it: a real process, real files, exit codes and messages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from mdm.project_files import DEFAULT_RULES


def mdm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_demo_then_inspect(tmp_path: Path) -> None:
    demo = mdm("demo", "shop", "--accounts", "60", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Exports:" in demo.stdout
    assert "3 rows quarantined" in demo.stdout

    accounts = pd.read_csv(tmp_path / "shop" / "exports" / "accounts.csv", dtype=str)
    golden_id = accounts.sort_values("members").iloc[-1]["golden_id"]
    show = mdm("show", golden_id, "-p", "shop", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert f"Golden account {golden_id}" in show.stdout
    assert "Lineage" in show.stdout
    assert "records" in show.stdout  # the source records, grouped by system

    lineage = mdm("lineage", golden_id, "-p", "shop", cwd=tmp_path)
    assert lineage.returncode == 0, lineage.stderr
    assert f"Lineage of {golden_id}" in lineage.stdout
    history = mdm("history", golden_id, "-p", "shop", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert "created" in history.stdout
    resolved = mdm("resolve", golden_id, "-p", "shop", cwd=tmp_path)
    assert resolved.stdout.strip() == f"{golden_id} (active)"

    xref = pd.read_csv(tmp_path / "shop" / "exports" / "xref.csv", dtype=str)
    pair = xref[xref["golden_id"] == golden_id].head(2)
    left, right = (f"{s}:{k}" for s, k in zip(pair["source"], pair["source_key"], strict=True))
    explained = mdm("explain", left, right, "-p", "shop", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "match" in explained.stdout
    queue = mdm("review", "-p", "shop", cwd=tmp_path)
    assert queue.returncode == 0, queue.stderr

    status = mdm("status", "-p", "shop", cwd=tmp_path)
    assert status.returncode == 0
    assert re.search(r"│ 1 +│ run +│ succeeded", status.stdout)

    quarantine = mdm("quarantine", "-p", "shop", cwd=tmp_path)
    assert "key column 'Id' is empty" in quarantine.stdout
    assert "not valid JSON" in quarantine.stdout

    out = tmp_path / "parquet"
    export = mdm("export", "--out", str(out), "--format", "parquet", "-p", "shop", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".mdm-export",
        "accounts.parquet",
        "contacts.parquet",
        "lineage.parquet",
        "xref.parquet",
    ]


def test_init_writes_a_project_that_asks_for_sources(tmp_path: Path) -> None:
    created = mdm("init", "new", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "new" / "mdm.toml").exists()
    assert (tmp_path / "new" / "rules" / "match" / "account.toml").exists()
    again = mdm("init", "new", cwd=tmp_path)
    assert again.returncode == 2
    assert "exists already" in again.stderr

    run = mdm("run", "-p", "new", cwd=tmp_path)
    assert run.returncode == 2
    assert "no [[sources]] configured" in run.stderr
    assert "Traceback" not in run.stderr


def test_errors_are_one_paragraph_with_exit_code_2(tmp_path: Path) -> None:
    missing = mdm("run", "-p", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nowhere/mdm.toml: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mdm.toml").write_text('[store]\nurl = "sqlite:///x.db"\nsurl = 1\n')
    bad = mdm("status", "-p", "p", cwd=tmp_path)
    assert bad.returncode == 2
    assert "mdm.toml: store.surl: Extra inputs are not permitted" in bad.stderr

    unknown = mdm("show", "X-1", "-p", "p", cwd=tmp_path)
    assert unknown.returncode == 2

    (tmp_path / "p" / "mdm.toml").write_text('[store]\nurl = "sqlite:///x.db"\n')
    shutil.copytree(DEFAULT_RULES, tmp_path / "p" / "rules")
    (tmp_path / "p" / "x.db").write_bytes(b"this is not a database" * 100)
    corrupt = mdm("status", "-p", "p", cwd=tmp_path)
    assert corrupt.returncode == 2
    assert "Cannot open the store" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr
