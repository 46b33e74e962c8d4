"""Run reports: every ``mdm run`` writes one, ``mdm report`` writes any run's again, a report
that cannot be written never fails its run, and the workbench serves them to viewers. The
small project of ``test_profile`` (whose every figure is known) is run on SQLite and on
PostgreSQL."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from test_profile import make_project
from typer.testing import CliRunner
from web_support import add_people, app_client, rows, sign_in

from mdm.cli import app
from mdm.config import load_project
from mdm.reports.model import GoldenChanges, QuarantineCount, QueueSize, run_report
from mdm.schema import Entity
from mdm.views import reading

runner = CliRunner()

# A lead without a key: quarantined, its reason in the report.
KEYLESS_LEAD = ",Eve,Fox,eve@fox.example,,2024-01-01\n"


def mdm(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def one_line(text: str) -> str:
    return " ".join(text.split())


def unwrapped(text: str) -> str:
    """``text`` without whitespace: the terminal may wrap a long path anywhere."""
    return "".join(text.split())


def test_each_run_writes_its_report_and_mdm_report_writes_any_run_again(
    tmp_path: Path, store_url: str
) -> None:
    directory = make_project(tmp_path / "p", store_url)
    with (directory / "leads.csv").open("a", encoding="utf-8") as leads:
        leads.write(KEYLESS_LEAD)
    output = one_line(mdm("run", "-p", str(directory)))
    first = directory / "reports" / "run-1.html"
    assert f"Report: {first}" in output
    page = first.read_text(encoding="utf-8")

    project = load_project(directory)
    with reading(project.store_url) as connection:
        report = run_report(connection, project.root, project.spec, 1)
    assert (report.project, report.run.id, report.run.status) == ("profiled", 1, "succeeded")
    assert [(s.source, s.inserted, s.quarantined) for s in report.run.sources] == [
        ("crm", 5, 0),
        ("erp", 2, 0),
        ("leads", 4, 1),
    ]
    assert report.quarantined == 1
    assert report.quarantine_counts == [QuarantineCount(source="leads", column="Id", rows=1)]
    assert [(q.source, q.row_number, q.reason) for q in report.quarantine_rows] == [
        ("leads", 5, "key column 'Id' is empty")
    ]
    # Acme (three records) and Globex (two) are one golden account each; the rest alone.
    assert report.changes == [
        GoldenChanges(entity=Entity.ACCOUNT, created=4),
        GoldenChanges(entity=Entity.CONTACT, created=4),
    ]
    assert report.queue == [
        QueueSize(entity=Entity.ACCOUNT, open=0, found=0),
        QueueSize(entity=Entity.CONTACT, open=0, found=0),
    ]
    overlap = {(o.entity, tuple(o.systems)): o.golden for o in report.overlap}
    assert overlap == {
        (Entity.ACCOUNT, ("CRM", "ERP")): 2,
        (Entity.ACCOUNT, ("CRM",)): 2,
        (Entity.CONTACT, ("Marketing",)): 4,
    }
    assert report.truth == []  # the project has no truth/: pairs only, no recall
    assert all(profile.duplicates is not None for profile in report.profiles)
    assert [(p.source, p.scope, p.records) for p in report.profiles] == [
        ("crm", "records run 1 loaded", 5),
        ("erp", "records run 1 loaded", 2),
        ("leads", "records run 1 loaded", 4),
    ]
    stages = [stage.stage for stage in report.run.stages]
    assert stages[:3] == ["read", "ingest", "standardize"] and stages[-1] == "export"

    # The page: its sections and figures, and nothing it would fetch.
    assert "<title>Run 1 · profiled · mdm run report</title>" in page
    for section in ("loads", "quarantine", "stages", "account", "contact", "quality"):
        assert f'id="{section}"' in page
    assert "key column &#39;Id&#39; is empty" in page
    assert "Against the truth" not in page
    assert not re.search(r"<script|<link|<img|<iframe|src=|url\(|@import", page)
    assert "default-src 'none'" in page

    # The next extract drops Umbrella: run 2 retires its golden record.
    crm = (directory / "crm.csv").read_text(encoding="utf-8")
    (directory / "crm.csv").write_text(crm.replace("5,Umbrella,  ,,,,2024-01-05\n", ""))
    (directory / "leads.csv").write_text(
        (directory / "leads.csv").read_text().replace(KEYLESS_LEAD, "")
    )
    mdm("run", "--allow-deletes", "crm", "-p", str(directory))
    with reading(project.store_url) as connection:
        second = run_report(connection, project.root, project.spec)  # the latest run
    assert second.run.id == 2
    # A nightly delta's report leaves out what would read the whole master.
    assert second.run.full is False
    assert second.overlap == [] and second.truth == []
    assert [p.duplicates for p in second.profiles] == [None, None, None]
    assert second.changes[0] == GoldenChanges(entity=Entity.ACCOUNT, retired=1)
    with reading(project.store_url) as connection:  # run 1's events, run 2's written since
        assert run_report(connection, project.root, project.spec, 1).changes == report.changes
    assert second.quarantined == 0
    assert [(p.source, p.records) for p in second.profiles] == [
        ("crm", 0),
        ("erp", 0),
        ("leads", 0),
    ]
    assert "This run loaded no new or changed record of crm." in (
        directory / "reports" / "run-2.html"
    ).read_text(encoding="utf-8")

    # Any run's report again, where asked; run 1's still says what run 1 did.
    elsewhere = tmp_path / "out" / "first.html"
    written = one_line(mdm("report", "1", "--out", str(elsewhere), "-p", str(directory)))
    assert written == f"Report of run 1 written to {elsewhere}"
    again = elsewhere.read_text(encoding="utf-8")
    assert "key column &#39;Id&#39; is empty" in again
    assert "Run 1 of profiled" in again
    first.unlink()
    assert one_line(mdm("report", "-p", str(directory))) == (
        f"Report of run 2 written to {directory / 'reports' / 'run-2.html'}"
    )
    assert not first.exists()


def test_a_report_that_cannot_be_written_never_fails_its_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = make_project(tmp_path / "p", f"sqlite:///{tmp_path / 'store.db'}")
    (directory / "reports").write_text("a file where the reports folder would be")
    with caplog.at_level(logging.WARNING, logger="mdm"):
        output = mdm("run", "-p", str(directory))
    assert "Report:" not in output
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        w.startswith("The report of run 1 could not be written (")
        and "'mdm report 1' writes it" in w
        for w in warnings
    ), warnings
    project = load_project(directory)
    assert rows(project, "select id, status from run") == [(1, "succeeded")]
    assert rows(project, "select count(*) from golden_account where status = 'active'") == [(4,)]

    result = runner.invoke(app, ["report", "-p", str(directory)])
    assert result.exit_code == 2
    expected = f"The report cannot be written in {directory / 'reports'} ("
    assert unwrapped(expected) in unwrapped(result.output)
    out = tmp_path / "run-1.html"
    mdm("report", "--out", str(out), "-p", str(directory))
    assert "Run 1 of profiled" in out.read_text(encoding="utf-8")

    result = runner.invoke(app, ["report", "5", "-p", str(directory)])
    assert result.exit_code == 2
    assert "No run 5: 'mdm status' lists the recent runs." in one_line(result.output)


def test_the_workbench_serves_run_reports_to_viewers(tmp_path: Path) -> None:
    directory = make_project(tmp_path / "p", f"sqlite:///{tmp_path / 'store.db'}")
    mdm("run", "-p", str(directory))
    project = load_project(directory)
    add_people(project)
    written = (directory / "reports" / "run-1.html").read_text(encoding="utf-8")
    with app_client(project) as client:
        answer = client.get("/runs/1/report")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin?next=/runs/1/report"

        sign_in(client, "viewer")
        assert 'href="/runs/latest/report"' in client.get("/dashboard").text
        latest = client.get("/runs/latest/report")
        assert (latest.status_code, latest.headers["location"]) == (303, "/runs/1/report")
        page = client.get("/runs/1/report")
        assert page.status_code == 200
        assert page.text == written  # as the run wrote it
        assert page.headers["content-security-policy"].startswith("default-src 'none'")

        # Without its file the page is made from the run's record.
        (directory / "reports" / "run-1.html").unlink()
        made = client.get("/runs/1/report")
        assert made.status_code == 200
        assert "Run 1 of profiled" in made.text

        assert client.get("/runs/9/report").status_code == 404
