"""Crash safety of ``mdm publish``: killed with SIGKILL at each of its failpoints
(``mdm.failpoints``), in a process of its own, then run again, it writes exactly the feeds and
leaves exactly the outbox that one uninterrupted publish does: the same batch, never a gap and
never another one.

The project: the demo's five systems for 20 organisations on SQLite, run and published once,
CRM contacts acknowledged in part and marketing in whole, then a nightly delta (the support
desk's newer phone for a contact) run. The publish killed is the next one: it adds a batch to
every feed and writes, per source, the rows not acknowledged (CRM's from both batches).
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from invariants_helper import run_mdm
from sqlalchemy import create_engine, text
from test_publish_feeds import (
    feed_bytes,
    mdm,
    nightly_delta,
    publish_state,
    shared_support_contact,
)

from mdm.demo import generate_demo
from mdm.failpoints import KILL_VARIABLE, LOG_VARIABLE
from mdm.project_files import DEFAULT_RULES

# The points a publish to a folder passes, in order: each source passes all but the first
# and the last, and a kill stops at the first source's.
FOLDER_POINTS = (
    "publish.begin",
    "publish.read",
    "publish.computed",
    "publish.outbox.written",
    "publish.state.written",
    "publish.committed",
    "publish.feed.written",
    "export.swap.begin",
    "export.swap.exchanged",
    "export.swap.done",
    "publish.source.done",
    "publish.done",
)
# The ten killed: the last two add nothing the one before them does not show.
KILLED = FOLDER_POINTS[:10]
SOURCES = ("crm_accounts", "crm_contacts", "erp_customers", "marketing_leads", "support_contacts")
DATABASE_POINTS = ("publish.target.written", "publish.source.done")
KILL_TIMEOUT = 120


def publish_process(project: Path, arguments: list[str], environment: dict[str, str]) -> Ended:
    """``mdm publish`` in a process of its own, forked from a server that has imported mdm
    once (multiprocessing's forkserver), so that each kill costs the publish, not Python's
    start-up."""
    output = project.parent / f"publish-{uuid.uuid4().hex[:8]}.log"
    command = ["publish", "--project", str(project), *arguments]
    process = FORKSERVER.Process(
        target=run_mdm, args=(command, str(project), environment, str(output))
    )
    process.start()
    process.join(KILL_TIMEOUT)
    if process.exitcode is None:
        process.kill()
        process.join()
    said = output.read_text(encoding="utf-8") if output.exists() else "(no output)"
    return Ended(process.exitcode, said)


@dataclass(frozen=True)
class Ended:
    returncode: int | None  # minus the signal that ended it
    output: str


FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["mdm.cli", "invariants_helper"])


def target_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: [
                    tuple(str(v) for v in row)
                    for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
                ]
                for table, order in (
                    ("mdm_feed", "source, seq"),
                    ("mdm_feed_batch", "source, batch"),
                )
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project just before the publish that is killed."""
    project = tmp_path_factory.mktemp("publish-kill") / "project"
    generate_demo(project, accounts=20, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, project / "rules")
    mdm(project, "run")
    mdm(project, "publish")
    mdm(project, "publish", "--ack", "crm_contacts", "10")
    mdm(project, "publish", "--ack", "marketing_leads")
    support_key, _contact = shared_support_contact(project)
    nightly_delta(project, support_key)
    mdm(project, "run")
    return project


@pytest.fixture(scope="module")
def uninterrupted(before: Path) -> dict[str, Any]:
    """What one publish does, uninterrupted: the points it passed, its files and outbox."""
    project = before.parent / "uninterrupted"
    shutil.copytree(before, project)
    log = before.parent / "points.log"
    done = publish_process(project, [], {LOG_VARIABLE: str(log)})
    assert done.returncode == 0, done.output
    target = f"sqlite:///{before.parent / 'uninterrupted-target.db'}"
    database = before.parent / "uninterrupted-database"
    shutil.copytree(before, database)
    assert publish_process(database, ["--url", target], {}).returncode == 0
    return {
        "points": log.read_text(encoding="utf-8").split(),
        "files": feed_bytes(project),
        "store": publish_state(project),
        "target": target_rows(target),
        "database_store": publish_state(database),
    }


def test_a_publish_passes_every_planned_point(uninterrupted: dict[str, Any]) -> None:
    passed = list(dict.fromkeys(uninterrupted["points"]))
    assert passed == list(FOLDER_POINTS)
    assert uninterrupted["points"].count("publish.committed") == 5  # once per source
    # The publish adds a batch to each contact feed the delta changed, and writes CRM's
    # unacknowledged rows of both batches.
    batches = [row[:2] for row in uninterrupted["store"]["publish_batch"]]
    changed = ("crm_contacts", "marketing_leads", "support_contacts")
    assert sorted(batches) == sorted(
        [(source, "1") for source in SOURCES] + [(source, "2") for source in changed]
    )
    crm = json.loads(uninterrupted["files"]["crm_contacts/batch.json"])
    assert (crm["first_seq"], crm["acked_seq"]) == (11, 10)
    assert [batch["batch"] for batch in crm["batches"]] == [1, 2]


@pytest.mark.parametrize("point", KILLED)
def test_a_publish_killed_and_run_again_writes_the_same_batches(
    point: str, before: Path, uninterrupted: dict[str, Any], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(before, project)
    killed = publish_process(project, [], {KILL_VARIABLE: point})
    assert killed.returncode == -signal.SIGKILL, f"not killed at {point}: {killed.output}"

    mdm(project, "publish")
    assert publish_state(project) == uninterrupted["store"]
    assert feed_bytes(project) == uninterrupted["files"]
    leftovers = [p.name for p in (project / "feeds").iterdir() if ".mdm-" in p.name]
    assert leftovers == []


@pytest.mark.parametrize("point", DATABASE_POINTS)
def test_a_publish_to_a_database_killed_and_run_again_writes_the_same_rows(
    point: str, before: Path, uninterrupted: dict[str, Any], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(before, project)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    killed = publish_process(project, ["--url", target], {KILL_VARIABLE: point})
    assert killed.returncode == -signal.SIGKILL, f"not killed at {point}: {killed.output}"
    mdm(project, "publish", "--url", target)
    assert target_rows(target) == uninterrupted["target"]
    assert publish_state(project) == uninterrupted["database_store"]
