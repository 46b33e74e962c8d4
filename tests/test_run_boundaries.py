"""Run boundaries: what `mdm ingest` loaded is resolved by the next run, one writer at a time
(a second writer refused or queued, readers answered, a steward action during a run kept),
failed runs recorded without customer values, and no model file from a run that died."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from crm_project import CRM_ACCOUNTS_TOML
from sqlalchemy import select

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.pipeline.models import model_path
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import golden as golden_store
from mdm.store import open_store
from mdm.store.tables import Run, SourceRecord, ValuePin

PROJECT = CRM_ACCOUNTS_TOML

RULES = """
method = "rules"

[[rules]]
name = "same_name_and_postcode"
fields = ["name", "postcode"]
"""

HEADER = "Id,Name,Phone,Zip,Modified\n"
FIRST = (
    "1,Acme Inc,415-555-0101,94105,2024-01-01\n"
    "2,Globex LLC,415-555-0102,10001,2024-01-02\n"
    "3,Initech,415-555-0103,60601,2024-01-03\n"
)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "mdm.toml").write_text(PROJECT.format(url=store_url))
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    (directory / "rules" / "match" / "account.toml").write_text(RULES)
    (directory / "crm.csv").write_text(HEADER + FIRST)
    return load_project(directory)


def master(project: Project) -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    """The store's xref (key -> golden id) and active golden accounts (id -> values)."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            xref = golden_store.xref(connection, Entity.ACCOUNT)
            golden = golden_store.golden_records(connection, Entity.ACCOUNT)
    finally:
        store.close()
    golden = golden[golden["status"] == "active"].set_index("golden_id")
    values = golden.drop(columns=["updated_run", "created_run"]).to_dict("index")
    return dict(zip(xref["source_key"], xref["golden_id"], strict=True)), values


def mdm(project: Project, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mdm", *args, "-p", str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def wait_until_stopped(process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the process has stopped itself at its failpoint (state T in /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.05)
    raise AssertionError("the run never reached its failpoint")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


# ---- the resolution watermark ----------------------------------------------------------------


def test_what_ingest_loaded_is_resolved_by_the_next_run(project: Project) -> None:
    pipeline.run(project)
    xref_before, golden_before = master(project)
    changed = FIRST.replace("415-555-0102,10001,2024-01-02", "415-555-0199,10001,2024-03-01")
    (project.root / "crm.csv").write_text(HEADER + changed + "4,Umbrella Corp,,73301,2024-03-02\n")
    pipeline.run(project, command="ingest", resolve=False, export=False)
    assert master(project) == (xref_before, golden_before)  # loaded, not resolved yet

    summary = pipeline.run(project)  # loads nothing new itself
    assert not summary.full
    assert [source.inserted + source.updated for source in summary.sources] == [0]
    xref, golden = master(project)
    assert xref["2"] == xref_before["2"]
    assert golden[xref["2"]]["phone"] == "+14155550199"
    assert set(xref) == {"1", "2", "3", "4"}
    assert golden[xref["4"]]["name"] == "Umbrella Corp"
    # Exactly what a full recompute gives.
    pipeline.run(project, full=True)
    assert master(project) == (xref, golden)


def test_two_ingests_then_a_run(project: Project) -> None:
    pipeline.run(project)
    xref_before, _ = master(project)
    (project.root / "crm.csv").write_text(HEADER + FIRST + "4,Umbrella Corp,,73301,2024-03-02\n")
    pipeline.run(project, command="ingest", resolve=False, export=False)
    second = FIRST.replace("Initech", "Initech Systems") + "4,Umbrella Corp,,73301,2024-03-02\n"
    (project.root / "crm.csv").write_text(HEADER + second)
    pipeline.run(project, command="ingest", resolve=False, export=False)
    pipeline.run(project)
    xref, golden = master(project)
    assert golden[xref["3"]]["name"] == "Initech Systems"
    assert xref["3"] == xref_before["3"]
    assert "4" in xref
    pipeline.run(project, full=True)
    assert master(project) == (xref, golden)


# ---- one writer at a time --------------------------------------------------------------------


def test_a_second_writer_is_refused_readers_answer_and_a_pin_waits(project: Project) -> None:
    pipeline.run(project)
    xref, _ = master(project)
    acme = xref["1"]
    (project.root / "crm.csv").write_text(HEADER + FIRST.replace("Initech", "Initech Systems"))

    running = mdm(project, "run", MDM_STOP_AT="resolve.account.matched")
    try:
        wait_until_stopped(running)
        second = mdm(project, "run")
        code, _, err = finish(second)
        assert code == 2, err
        assert "being written by 'mdm run' started at" in " ".join(err.split())
        assert "--wait" in err
        # Readers are not blocked by the writer.
        snapshot = str(project.root.parent / "snapshot")
        for reader in (("status",), ("show", acme), ("export", "--out", snapshot)):
            code, out, err = finish(mdm(project, *reader))
            assert code == 0, (reader, out, err)
        # A steward action and a run that asked to wait queue behind the running run.
        pin = mdm(project, "pin", acme, "phone", "+14155550177", "--by", "ann")
        queued = mdm(project, "run", "--wait")
        time.sleep(1.5)
        assert pin.poll() is None and queued.poll() is None
    finally:
        running.send_signal(signal.SIGCONT)
    assert finish(running)[0] == 0
    code, out, err = finish(pin)
    assert code == 0, err
    code, out, err = finish(queued)
    assert code == 0, err

    xref, golden = master(project)
    assert golden[acme]["phone"] == "+14155550177"
    assert golden[xref["3"]]["name"] == "Initech Systems"
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            pins = connection.execute(select(ValuePin.golden_id, ValuePin.value)).all()  # type: ignore[call-overload]
            statuses = [row[0] for row in connection.execute(select(Run.status)).all()]  # type: ignore[call-overload]
    finally:
        store.close()
    assert [(row[0], row[1]) for row in pins] == [(acme, "+14155550177")]
    assert statuses.count("failed") == 0
    # The next run keeps the pin.
    pipeline.run(project)
    assert master(project)[1][acme]["phone"] == "+14155550177"


def test_a_killed_writer_leaves_no_lock_behind(project: Project) -> None:
    killed = mdm(project, "run", MDM_KILL_AT="resolve.account.matched")
    assert finish(killed)[0] == -signal.SIGKILL
    code, _, err = finish(mdm(project, "run"))
    assert code == 0, err
    assert set(master(project)[0]) == {"1", "2", "3"}


# ---- failures ----------------------------------------------------------------------------------


def test_a_failed_run_records_no_customer_values(project: Project) -> None:
    pipeline.run(project)
    # A damaged store: an old, non-current version of the key the next load brings.
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            run_id = connection.execute(select(Run.id)).scalar()  # type: ignore[call-overload]
            connection.execute(
                SourceRecord.__table__.insert().values(  # type: ignore[attr-defined]
                    source="crm",
                    entity="account",
                    source_key="CUST-SECRET-77",
                    version=1,
                    is_current=False,
                    deleted=False,
                    content_hash="0" * 32,
                    run_id=run_id,
                    attributes="{}",
                )
            )
    finally:
        store.close()
    secret = "CUST-SECRET-77,Zbigniew Secretcorp,415-555-0142,94105,2024-05-05\n"
    (project.root / "crm.csv").write_text(HEADER + FIRST + secret)

    code, out, err = finish(mdm(project, "run"))
    assert code == 1, (out, err)
    message = " ".join(err.split())
    assert "Internal error" in message
    assert "CUST-SECRET-77" not in message and "Secretcorp" not in message
    report = Path(message.split("The details are in ")[1].split(";")[0])
    assert "CUST-SECRET-77" in report.read_text()  # the details stay in the local report
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            failed = connection.execute(select(Run.error).where(Run.status == "failed")).all()  # type: ignore[call-overload, arg-type]
    finally:
        store.close()
    assert len(failed) == 1
    error = str(failed[0][0])
    assert "CUST-SECRET-77" not in error and "Secretcorp" not in error
    assert "source_record" in error.lower() or "unique" in error.lower()  # names what clashed


# ---- the model file --------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["resolve.contact.matched", "run.finished"])
def test_a_run_that_dies_leaves_no_model_file(tmp_path: Path, point: str) -> None:
    directory = tmp_path / "demo"
    generate_demo(directory, accounts=40, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    project = load_project(directory)
    killed = mdm(project, "run", MDM_KILL_AT=point)
    assert finish(killed)[0] == -signal.SIGKILL
    # The account model was trained in that run, which never committed: no file describes it.
    assert not model_path(project, Entity.ACCOUNT).exists()
    assert not model_path(project, Entity.CONTACT).exists()
    code, _, err = finish(mdm(project, "run"))
    assert code == 0, err
    assert model_path(project, Entity.ACCOUNT).exists()
    assert model_path(project, Entity.CONTACT).exists()
    xref = pd.read_csv(directory / "exports" / "xref.csv", dtype=str)
    assert len(xref) > 0
