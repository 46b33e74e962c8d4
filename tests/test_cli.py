"""The mdm command as a user runs it: a real process, real files, exit codes and messages."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mdm.cli import app
from mdm.cli.logs import log_level
from mdm.log import logger
from mdm.project_files import DEFAULT_RULES


def mdm(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, without a terminal (as cron runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "mdm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})},
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

    # A record and its exact copy under another key are a match; two organisations in
    # different countries with nothing in common are not.
    crm = tmp_path / "shop" / "data" / "crm_accounts.csv"
    accounts = pd.read_csv(crm, dtype=str, keep_default_na=False)
    original = accounts[accounts["IsDeleted"] == "false"].iloc[0]
    copy = original.to_frame().T.assign(Id="0015g00000COPY001")
    copy.to_csv(crm, mode="a", header=False, index=False, lineterminator="\n")
    unlike = accounts[
        (accounts["BillingCountry"] != original["BillingCountry"])
        & (accounts["Name"] != original["Name"])
        & (accounts["Website"] != original["Website"])
        & (accounts["BillingPostalCode"] != original["BillingPostalCode"])
    ].iloc[0]
    rerun = mdm("run", "-p", "shop", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    original_ref, copy_ref = f"crm_accounts:{original['Id']}", "crm_accounts:0015g00000COPY001"
    same = mdm("explain", original_ref, copy_ref, "-p", "shop", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert verdict(same.stdout) == ("1.0000", "match")
    unlike_ref = f"crm_accounts:{unlike['Id']}"
    different = mdm("explain", original_ref, unlike_ref, "-p", "shop", cwd=tmp_path)
    assert different.returncode == 0, different.stderr
    assert verdict(different.stdout) == ("0.0000", "non-match")


# The last line of `mdm explain` for a probabilistic model, e.g.
# "prior -6.78 + fields = total weight 44.50, probability 1.0000: match (rule same_name)".
VERDICT = re.compile(
    r"^prior -?\d+\.\d\d \+ fields = total weight -?\d+\.\d\d, "
    r"probability (?P<probability>[01]\.\d{4}): (?P<decision>match|review|non-match)"
    r"(?: \(rule \w+\))?$",
    re.MULTILINE,
)


def verdict(output: str) -> tuple[str, str]:
    """The probability and the decision, as `mdm explain` prints them; fails without one."""
    [found] = VERDICT.findall(output)
    return found


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


# A log line of the `mdm` logger, as the command writes it to stderr.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?P<level>[A-Z]+) (?P<message>.*)$")


def log_lines(stderr: str, level: str = "INFO") -> list[str]:
    found = (LOG_LINE.match(line) for line in stderr.splitlines())
    return [m["message"] for m in found if m is not None and m["level"] == level]


def test_a_run_without_a_terminal_logs_each_stage_and_status_shows_the_run(
    tmp_path: Path,
) -> None:
    demo = mdm("demo", "shop", "--accounts", "30", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert not LOG_LINE.match(demo.stdout.splitlines()[0])  # log lines stay off stdout

    shown = mdm("status", "--run", "1", "-p", "shop", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    stages = re.findall(r"^│ (\S+) +│ \d+\.\d+ +│ \d+\.\d+ +│$", shown.stdout, re.MULTILINE)
    assert {"ingest", "account.match", "contact.match", "export"} <= set(stages)
    logged = log_lines(demo.stderr)
    for stage in stages:  # a line per stage, with its seconds
        assert [line for line in logged if re.match(rf"{re.escape(stage)}\b.* s$", line)], stage
    for entity in ("account", "contact"):
        for title in (
            "pairs per blocking rule",
            "comparison levels",
            "pairs by match probability",
            "cluster sizes",
        ):
            assert f"{entity}: {title}" in shown.stdout
        assert re.search(rf"{entity}: a pair is a match from probability 0\.\d+", shown.stdout)
    assert re.search(r"│ 0\.95-1\.00 +│ \d+ +│ █+ +│ [a-z |-]*match +│", shown.stdout)

    quiet = mdm("run", "-p", "shop", cwd=tmp_path, env={"MDM_LOG_LEVEL": "WARNING"})
    assert quiet.returncode == 0, quiet.stderr
    assert log_lines(quiet.stderr) == []
    verbose = mdm("-v", "run", "-p", "shop", cwd=tmp_path, env={"MDM_LOG_LEVEL": "WARNING"})
    assert log_lines(verbose.stderr)  # --verbose is more detailed than the level asked
    wrong = mdm("status", "-p", "shop", cwd=tmp_path, env={"MDM_LOG_LEVEL": "LOUD"})
    assert wrong.returncode == 2
    assert "MDM_LOG_LEVEL='LOUD' is not a log level" in wrong.stderr
    missing = mdm("status", "--run", "99", "-p", "shop", cwd=tmp_path)
    assert missing.returncode == 2
    assert "No run 99" in missing.stderr


def test_status_of_a_run_recorded_before_statistics_shows_what_it_has(tmp_path: Path) -> None:
    demo = mdm("demo", "shop", "--accounts", "20", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    # As an mdm before run statistics recorded it: no stages, no match statistics.
    store = sqlite3.connect(tmp_path / "shop" / "mdm.db")
    with store:
        [summary] = store.execute("select summary from run where id = 1").fetchone()
        older = json.loads(summary)
        del older["stages"]
        for entity in older["entities"]:
            del entity["statistics"]
        store.execute("update run set summary = ? where id = 1", (json.dumps(older),))
    store.close()

    shown = mdm("status", "--run", "1", "-p", "shop", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Sources" in shown.stdout
    assert "Golden records" in shown.stdout
    assert "Stages" not in shown.stdout
    assert "pairs per blocking rule" not in shown.stdout
    assert "Run 1 recorded no stage timings and no match statistics" in shown.stdout


def test_the_log_level_on_a_terminal_and_off_it() -> None:
    assert log_level(0, {}, terminal=True) == logging.WARNING  # the spinner shows progress
    assert log_level(0, {}, terminal=False) == logging.INFO  # cron: a line per stage
    assert log_level(1, {}, terminal=True) == logging.INFO
    assert log_level(2, {}, terminal=True) == logging.DEBUG
    assert log_level(0, {"MDM_LOG_LEVEL": "debug"}, terminal=True) == logging.DEBUG
    assert log_level(0, {"MDM_LOG_LEVEL": "ERROR"}, terminal=False) == logging.ERROR
    assert log_level(1, {"MDM_LOG_LEVEL": "ERROR"}, terminal=False) == logging.INFO
    assert log_level(1, {"MDM_LOG_LEVEL": "DEBUG"}, terminal=False) == logging.DEBUG


def test_a_command_leaves_the_mdm_logger_as_it_found_it(tmp_path: Path) -> None:
    """A process that goes on after a command (a test, a program running commands) gets the
    ``mdm`` logger back without the command's handler, at its own level."""
    before = (list(logger.handlers), logger.level)
    for args in (["-v", "status", "-p", "nowhere"], ["init", str(tmp_path / "new")]):
        CliRunner().invoke(app, args)
        assert (logger.handlers, logger.level) == before
