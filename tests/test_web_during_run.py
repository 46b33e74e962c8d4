"""A steward working in the web while a nightly run holds the store: the pages keep answering,
the steward's actions wait for the run and are then applied to the master as the run left it,
and the next run honours them. A real ``mdm run`` process, stopped at a failpoint while it
holds the writer lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from web_support import add_people, app_client, demo_project, rows

from mdm import pipeline
from mdm.config.specs import Project
from mdm.web import accounts


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    found = demo_project(tmp_path / "shop", store_url, accounts_count=120)
    add_people(found)
    return found


def stopped_run(project: Project, failpoint: str) -> subprocess.Popen[str]:
    """``mdm run --full`` stopped (SIGSTOP) at ``failpoint``, holding the writer lock."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mdm", "run", "--full", "-p", str(project.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MDM_STOP_AT": failpoint},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return process
        time.sleep(0.05)
    raise AssertionError("the run never reached its failpoint")


def test_a_steward_acting_during_a_run_is_applied_after_it_and_kept(project: Project) -> None:
    token = accounts.create_token(project.store_url, "desk", accounts.Role.STEWARD, "test")
    bearer = {"Authorization": f"Bearer {token}"}
    [(item, left_source, left_key, right_source, right_key)] = rows(
        project,
        "select id, left_source, left_key, right_source, right_key from review_item "
        "where status = 'open' and entity = 'contact' order by id limit 1",
    )
    [(account,)] = rows(
        project,
        "select golden_id from golden_account where status = 'active' "
        "order by members desc, golden_id limit 1",
    )
    with app_client(project) as client:
        running = stopped_run(project, "resolve.contact.matched")
        with ThreadPoolExecutor(2) as pool:
            try:
                pin = pool.submit(
                    client.post,
                    f"/api/golden/{account}/pin",
                    json={"attribute": "phone", "value": "+14155550177", "reason": "on the call"},
                    headers=bearer,
                )
                decision = pool.submit(
                    client.post,
                    f"/api/review/{item}/decision",
                    json={"decision": "match", "reason": "same person"},
                    headers=bearer,
                )
                time.sleep(2.0)
                # Both wait for the run; meanwhile the workbench still reads.
                assert not pin.done(), pin.result()
                assert not decision.done(), decision.result()
                assert client.get("/api/review", headers=bearer).status_code == 200
                assert client.get(f"/api/golden/{account}", headers=bearer).status_code == 200
            finally:  # the waiting actions end with the run, whatever happened here
                running.send_signal(signal.SIGCONT)
                _, err = running.communicate(timeout=300)
            pinned, decided = pin.result(timeout=300), decision.result(timeout=300)
        assert running.returncode == 0, err
        assert pinned.status_code == 200, pinned.text
        assert decided.status_code == 200, decided.text

    def together() -> bool:
        found = rows(
            project,
            "select golden_id from xref where (source = :a and source_key = :b) "
            "or (source = :c and source_key = :d)".replace(":a", f"'{left_source}'")
            .replace(":b", f"'{left_key}'")
            .replace(":c", f"'{right_source}'")
            .replace(":d", f"'{right_key}'"),
        )
        return len(found) == 2 and found[0] == found[1]

    def phone() -> object:
        return rows(project, f"select phone from golden_account where golden_id = '{account}'")

    # Applied after the run, to the master as the run left it.
    runs = rows(project, "select command, status from run order by id")
    assert runs[-3:] == [("run", "succeeded"), ("steward", "succeeded"), ("steward", "succeeded")]
    assert phone() == [("+14155550177",)]
    assert together()
    assert rows(project, "select decision, decided_by, active from match_decision order by id") == [
        ("must_link", "token:desk", True)
    ]
    assert rows(project, f"select status from review_item where id = {item}") == [("decided",)]
    # And the next runs, delta and full, honour both.
    pipeline.run(project)
    pipeline.run(project, full=True)
    assert phone() == [("+14155550177",)]
    assert together()
