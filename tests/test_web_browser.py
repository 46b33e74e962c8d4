"""The workbench in a real headless Chromium, against a real ``mdm serve``: a steward created
with ``mdm user add`` signs in, clears ten queue items with the keyboard, undoes one, undoes a
wrong merge and pins a value, and signs out; a viewer's attempts are refused; the next
``mdm run`` keeps all of it, and the audit log holds every action with before and after.

Needs Debian's ``chromium`` (``make test`` installs it when it can: scripts/ensure-chromium.sh).
Screenshots go to ``MDM_SCREENSHOTS`` (a folder) when set, else into the test's tmp folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from web_support import PASSWORD, demo_project, rows

from mdm.config.specs import Project

CHROMIUM = Path("/usr/bin/chromium")
VIEWER_PASSWORD = "a viewer's long password"

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "CI=true but /usr/bin/chromium is missing: see scripts/ensure-chromium.sh"
        )
    pytest.skip(
        "Chromium is not installed (Debian's chromium and chromium-driver packages)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mdm(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdm", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    root = tmp_path_factory.mktemp("browser")
    project = demo_project(root / "shop", f"sqlite:///{root / 'mdm.db'}", accounts_count=200)
    for name, role, password in (("ana", "steward", PASSWORD), ("vic", "viewer", VIEWER_PASSWORD)):
        added = mdm(
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "-p",
            str(project.root),
            stdin=password + "\n",
        )
        assert added.returncode == 0, added.stderr
    port = free_port()
    log = (root / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mdm", "serve", "-p", str(project.root), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"mdm serve did not start: {(root / 'serve.log').read_text()}")
        yield project, base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MDM_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sign_in(page: Page, base: str, name: str, password: str) -> None:
    page.goto(base + "/signin")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()


def truth(project: Project) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for name in ("accounts", "contacts"):
        table = pd.read_csv(project.root / "truth" / f"{name}.csv", dtype=str)
        for source, key, entity in table[["source", "source_key", "entity_id"]].itertuples(
            index=False, name=None
        ):
            found[(source, key)] = entity
    return found


def item_of(page: Page) -> int:
    return int(page.url.split("/review/")[1].split("?")[0])


def test_a_steward_clears_the_queue_fixes_the_master_and_the_next_run_keeps_it(
    served: tuple[Project, str], browser: Browser, shots: Path
) -> None:
    project, base = served
    same = truth(project)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "ana", PASSWORD)
    assert page.url == base + "/queue"
    open_before = rows(project, "select count(*) from review_item where status = 'open'")[0][0]
    assert int(str(open_before)) >= 11
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    # The first row is highlighted: Enter opens it; then one key per decision.
    page.keyboard.press("Enter")
    page.wait_for_url("**/review/**")
    page.screenshot(path=str(shots / "pair.png"), full_page=True)
    decided: list[tuple[int, str]] = []
    for _ in range(10):
        item = item_of(page)
        pair = page.request.get(f"{base}/api/review/{item}").json()
        left = (pair["left"]["source"], pair["left"]["source_key"])
        right = (pair["right"]["source"], pair["right"]["source_key"])
        key = "m" if same.get(left) == same.get(right) else "n"
        with page.expect_navigation():
            page.keyboard.press(key)
        assert (
            "recorded" in page.inner_text(".flash").lower() or page.url != f"{base}/review/{item}"
        )
        decided.append((item, key))
    assert len({item for item, _ in decided}) == 10

    active = rows(
        project, "select count(*) from match_decision where decided_by = 'ana' and active"
    )[0][0]
    assert active == 10
    # u: the last decision is revoked and its pair is open again.
    with page.expect_navigation():
        page.keyboard.press("u")
    last_item, _ = decided[-1]
    assert item_of(page) == last_item
    assert rows(project, f"select status from review_item where id = {last_item}") == [("open",)]
    assert (
        rows(project, "select count(*) from match_decision where decided_by = 'ana' and active")[0][
            0
        ]
        == 9
    )

    # A wrong merge: the first match that joined two golden records is undone.
    redirects = rows(project, "select from_id, to_id from redirect")
    assert redirects, "no decision merged two golden records"
    merged_away, survivor = (str(value) for value in redirects[0])
    page.goto(f"{base}/golden/{merged_away}")
    assert f"/golden/{survivor}" in page.url
    page.click(f"a[href='/golden/{merged_away}/unmerge/preview']")
    page.wait_for_url("**/unmerge/preview")
    page.screenshot(path=str(shots / "unmerge-preview.png"), full_page=True)
    page.fill("form[method=post] [name=reason]", "two different companies")
    with page.expect_navigation():
        page.click("form[method=post] button.primary")
    assert rows(
        project, f"select status from golden_account where golden_id = '{merged_away}'"
    ) + rows(project, f"select status from golden_contact where golden_id = '{merged_away}'") == [
        ("active",)
    ]

    # Pin a phone on a golden account: typed as people type it, stored in E.164.
    account = str(
        rows(
            project,
            "select golden_id from golden_account where status = 'active' "
            "order by members desc, golden_id limit 1",
        )[0][0]
    )
    page.goto(f"{base}/golden/{account}")
    page.select_option("#act-pin select[name=attribute]", "phone")
    page.fill("#act-pin input[name=value]", "(212) 555-0123")
    with page.expect_navigation():
        page.click("#act-pin button[type=submit]")
    reason = page.locator("form[method=post] [name=reason]")
    if reason.count():
        reason.fill("confirmed by phone")
    with page.expect_navigation():
        page.click("form[method=post] button.primary")
    assert rows(project, f"select phone from golden_account where golden_id = '{account}'") == [
        ("+12125550123",)
    ]
    page.screenshot(path=str(shots / "golden.png"), full_page=False)

    with page.expect_navigation():
        page.click("header form.who button[type=submit]")
    assert page.url.startswith(base + "/signin")
    assert page.request.get(f"{base}/api/whoami").status == 401

    # The next nightly run keeps every decision, the undo, the unmerge and the pin.
    ran = mdm("run", "-p", str(project.root))
    assert ran.returncode == 0, ran.stderr
    assert (
        rows(project, "select count(*) from match_decision where decided_by = 'ana' and active")[0][
            0
        ]
        == 9
    )
    assert rows(project, f"select phone from golden_account where golden_id = '{account}'") == [
        ("+12125550123",)
    ]
    statuses = rows(project, f"select status from golden_account where golden_id = '{merged_away}'")
    statuses += rows(
        project, f"select status from golden_contact where golden_id = '{merged_away}'"
    )
    assert statuses == [("active",)]

    audit = rows(
        project, "select actor, action, detail from audit_log where actor = 'ana' order by id"
    )
    actions = [str(action) for _, action, _ in audit]
    assert len(actions) == 13 and actions[-3:] == ["undo", "unmerge", "pin"], actions
    for _, action, detail in audit:
        parsed = json.loads(str(detail))
        assert "before" in parsed and "after" in parsed, action


def test_a_viewer_reads_but_cannot_act(served: tuple[Project, str], browser: Browser) -> None:
    project, base = served
    page = browser.new_page()
    sign_in(page, base, "vic", VIEWER_PASSWORD)
    item = int(str(rows(project, "select min(id) from review_item where status = 'open'")[0][0]))
    page.goto(f"{base}/review/{item}")
    assert page.locator("[data-key=m]").count() == 0
    page.keyboard.press("m")  # nothing to press: the page stays
    assert item_of(page) == item
    csrf = page.get_attribute("body", "data-csrf") or ""
    refused = page.request.post(
        f"{base}/review/{item}/decide",
        form={"decision": "match", "csrf_token": csrf},
    )
    assert refused.status == 403
    account = str(
        rows(project, "select golden_id from golden_account where status = 'active' limit 1")[0][0]
    )
    pinned = page.request.post(
        f"{base}/golden/{account}/pin",
        form={"attribute": "phone", "value": "+12125550199", "csrf_token": csrf},
    )
    assert pinned.status == 403
    assert rows(project, "select count(*) from match_decision where decided_by = 'vic'") == [(0,)]
    assert rows(project, "select count(*) from value_pin where pinned_by = 'vic'") == [(0,)]
