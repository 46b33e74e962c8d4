"""A run report opens in headless Chromium with the network cut off, and shows its charts.

The browser may fetch the report's file and nothing else: every other request is aborted, and
the test fails if the page made any. Needs Debian's ``chromium`` (``make test`` installs it
when it can: scripts/ensure-chromium.sh). The screenshot goes to ``MDM_SCREENSHOTS`` (a
folder) when set, else into the test's tmp folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mdm.cli import app
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES

CHROMIUM = Path("/usr/bin/chromium")

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "CI=true but /usr/bin/chromium is missing: see scripts/ensure-chromium.sh"
        )
    pytest.skip(
        "Chromium is not installed (Debian's chromium and chromium-driver packages)",
        allow_module_level=True,
    )

from playwright.sync_api import Route, sync_playwright  # noqa: E402

runner = CliRunner()


def shots_folder(tmp_path: Path) -> Path:
    folder = os.environ.get("MDM_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_report_opens_offline_and_shows_its_charts(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    generate_demo(directory, accounts=150)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    result = runner.invoke(app, ["run", "-p", str(directory)])
    assert result.exit_code == 0, result.output
    report = directory / "reports" / "run-1.html"
    url = report.resolve().as_uri()

    refused: list[str] = []

    def only_the_file(route: Route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_the_file)
            page.goto(url)
            page.screenshot(path=str(shots_folder(tmp_path) / "run-report.png"), full_page=True)
            title = page.title()
            charts = {
                str(chart.get_attribute("aria-label")): chart.locator(".bar").count()
                for chart in page.locator("svg.chart-svg").all()
            }
            weights = page.locator('svg[aria-label^="Match weight of each account"]')
            for_match = weights.locator("rect.bar.for").count()
            against = weights.locator("rect.bar.against").count()
            thresholds = page.locator(
                'svg[aria-label="Candidate account pairs by match probability"] line.threshold'
            ).count()
            visible = page.locator("svg.chart-svg").first.bounding_box()
            truth = page.locator("#account").inner_text()
            quality = page.locator("#quality").inner_text()
        finally:
            browser.close()

    assert refused == []  # the page asked for nothing but itself
    assert title == "Run 1 · demo · mdm run report"
    # Every chart the report draws, each with marks: sources, stages, and per entity the
    # blocking rules, the match weights, the scores, the clusters and the systems' overlap.
    expected = {
        "What each source's rows did",
        "Seconds per stage",
        "Peak memory of the run when each stage ended",
    }
    for entity in ("account", "contact"):
        expected |= {
            f"Candidate {entity} pairs per blocking rule",
            f"Match weight of each {entity} comparison level",
            f"Candidate {entity} pairs by match probability",
            f"{entity.capitalize()} clusters by their number of records",
            f"Golden {entity}s by the systems that hold their records",
        }
    assert set(charts) == expected
    assert all(marks > 0 for marks in charts.values()), charts
    assert for_match > 0 and against > 0  # evidence both ways, coloured apart
    assert thresholds == 2  # review and match
    assert visible is not None and visible["width"] > 300 and visible["height"] > 100
    # The demo has its truth: the golden records are scored against it.
    assert "Against the truth" in truth
    assert re.search(r"\d+(\.\d)?% pair precision", " ".join(truth.split()))
    assert "crm_contacts" in quality and "invalid" in quality
