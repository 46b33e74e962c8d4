"""Crash safety: each command of a small project's life, killed with SIGKILL at each of its
failpoints (``mdm.failpoints``), on SQLite and on PostgreSQL.

The project: the demo's CRM and ERP accounts and CRM contacts, for 20 organisations (about a
hundred records: each command takes a second). The commands: a first ``mdm run``, a changed
extract and a second ``mdm run`` (a delta with a merge and a retirement), a steward's
``mdm decide A B --same`` (a merge) and ``mdm export``. Each runs once uninterrupted, logging
the failpoints it passes: that gives its points and the states before and after it. Then, for
each point of the plan, the store and the project folder are put back as they were before the
command, the command runs in a process of its own that kills itself at the point, and:

* the process died of SIGKILL;
* ``mdm check`` passes, and the store and the export folder are each as before the command or
  as after it, never half of it;
* the command run again gives exactly the uninterrupted result: the source record versions,
  xref, golden records and their statuses, redirects, decisions, pins, lineage, the export
  files and the match models.

Record and run ids are compared through what they name (source, key and version; the run's
place among the runs that succeeded): PostgreSQL does not give back the ids of a transaction
that was rolled back.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import postgres_or_skip
from invariants_helper import database_url, run_mdm, set_store_url
from sqlalchemy import Connection, create_engine, inspect, text
from typer.testing import CliRunner

from mdm.cli import app
from mdm.config import load_project
from mdm.demo import generate_demo
from mdm.failpoints import KILL_VARIABLE, LOG_VARIABLE
from mdm.invariants import check_project
from mdm.project_files import DEFAULT_RULES
from mdm.store import open_store

STORES = ("sqlite", "postgres")
SOURCES = ("crm_accounts", "erp_customers", "crm_contacts")
PROJECT = "{project}"  # stands for the project folder in a command's arguments
EXPORT_TABLES = ("accounts", "contacts", "xref", "lineage")
KILL_TIMEOUT = 120  # seconds: a command of this small project takes one or two
runner = CliRunner()


# ---- the commands --------------------------------------------------------------------------


def no_change(project: Path, url: str) -> None:
    """The files stay as the previous command left them."""


def night(project: Path, url: str) -> None:
    """A nightly extract: two accounts get a new phone; an account alone in its golden record
    is corrected into a copy of another (the two golden accounts merge); a contact alone in
    its golden record leaves the CRM (it retires)."""
    xref = query(url, "select entity, source, source_key, golden_id from xref")
    alone = xref[~xref["golden_id"].duplicated(keep=False)].sort_values("source_key")
    accounts_path = project / "data" / "crm_accounts.csv"
    accounts = read_csv(accounts_path).set_index("Id", drop=False)
    crm_alone = alone[alone["source"] == "crm_accounts"]["source_key"]
    merging, model = crm_alone.iloc[0], accounts.index[~accounts.index.isin(crm_alone)][0]
    copied = [c for c in accounts.columns if c not in ("Id", "LastModifiedDate", "IsDeleted")]
    accounts.loc[merging, copied] = accounts.loc[model, copied]
    changed = accounts.index[~accounts.index.isin([merging, model])][:2]
    accounts.loc[changed, "Phone"] = ["+1 415 555 0101", "+1 415 555 0102"]
    accounts.loc[[merging, *changed], "LastModifiedDate"] = "2026-01-01T00:00:00Z"
    write_csv(accounts, accounts_path)
    contacts_path = project / "data" / "crm_contacts.csv"
    contacts = read_csv(contacts_path)
    leaving = alone[alone["source"] == "crm_contacts"]["source_key"].iloc[0]
    write_csv(contacts[contacts["Id"] != leaving], contacts_path)


def decide_same(project: Path, url: str) -> list[str]:
    """Two account records of two golden accounts, decided the same: the two merge."""
    xref = query(url, "select source, source_key, golden_id from xref where entity = 'account'")
    xref = xref.sort_values(["source", "source_key"], ignore_index=True)
    first = xref.iloc[0]
    other = xref[xref["golden_id"] != first["golden_id"]].iloc[0]
    return ["decide", ref(first), ref(other), "--same", "-p", PROJECT]


@dataclass(frozen=True)
class Step:
    name: str
    prepare: Callable[[Path, str], None]  # (project, store url): the files' change before it
    arguments: Callable[[Path, str], list[str]]  # (project, store url) -> its arguments


STEPS = (
    Step("first-run", no_change, lambda _project, _url: ["run", "-p", PROJECT]),
    Step("delta-run", night, lambda _project, _url: ["run", "-p", PROJECT]),
    Step("decide", no_change, decide_same),
    Step("export", no_change, lambda _p, _u: ["export", "--out", f"{PROJECT}/out", "-p", PROJECT]),
)

# Where each failpoint is killed, per store. Each store kills 20 and more points spread over
# every stage, and the commit boundaries, the model files, the steward's action and the
# export's swap on both; the points inside a run's transaction (each stage of ingest and
# resolution) are shared out between the stores, each killed on one, in the full first run on
# one store and in the delta on the other: killing all of them twice would take more CPU than
# the test suite can spend, for the same rollback.
PLANS: dict[str, dict[str, tuple[str, ...]]] = {
    "sqlite": {
        "first-run": (
            "run.locked",
            "ingest.versions_written",
            "ingest.crm_accounts",
            "resolve.contact.scoped",
            "resolve.contact.identified",
            "resolve.contact.written",
            "resolve.contact.marked",
            "model.account.written",
            "model.contact.written",
        ),
        "delta-run": (
            "ingest.crm_contacts",
            "resolve.account.matched",
            "resolve.account.survived",
            "resolve.account.reviewed",
            "run.finished",
            "run.committed",
        ),
        "decide": (
            "steward.locked",
            "steward.acted",
            "steward.finished",
            "steward.committed",
            "export.swap.exchanged",  # a steward's export replaces the one the runs wrote
        ),
        "export": (
            "export.wrote.accounts",
            "export.wrote.xref",
            "export.swap.begin",
            "export.swap.done",
        ),
    },
    "postgres": {
        "first-run": (
            "run.locked",
            "ingest.versions_written",
            "ingest.erp_customers",
            "resolve.account.scoped",
            "resolve.account.identified",
            "resolve.account.written",
            "resolve.account.marked",
            "model.account.written",
            "model.contact.written",
        ),
        "delta-run": (
            "ingest.crm_accounts",
            "resolve.contact.matched",
            "resolve.contact.survived",
            "resolve.contact.reviewed",
            "run.finished",
            "run.committed",
        ),
        "decide": (
            "steward.locked",
            "steward.acted",
            "steward.finished",
            "steward.committed",
            "export.swap.exchanged",
        ),
        "export": (
            "export.wrote.contacts",
            "export.wrote.lineage",
            "export.swap.begin",
            "export.swap.done",
        ),
    },
}
# The stages every store's plan kills in.
STAGES = (
    "run.",
    "ingest.",
    "resolve.account.",
    "resolve.contact.",
    "model.",
    "steward.",
    "export.",
)


# ---- files and stores ----------------------------------------------------------------------


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def ref(row: pd.Series) -> str:
    return f"{row['source']}:{row['source_key']}"


def query(url: str, sql: str) -> pd.DataFrame:
    store = open_store(url)
    try:
        with store.engine.connect() as connection:
            return _read(connection, sql)
    finally:
        store.close()


def _read(connection: Connection, sql: str) -> pd.DataFrame:
    result = connection.execute(text(sql))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


class Postgres:
    """Databases on the test server: made from templates, dropped at the end."""

    def __init__(self) -> None:
        self.server = postgres_or_skip()
        self.admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"mdm_kill_{uuid.uuid4().hex[:16]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        self.made.append(name)
        return name

    def url(self, name: str) -> str:
        return database_url(self.server, name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.made.remove(name)

    def wait_for_disconnect(self, name: str) -> None:
        """Until the server has seen the killed process go (and rolled back its work)."""
        statement = text("select count(*) from pg_stat_activity where datname = :name")
        deadline = time.monotonic() + 30
        with self.admin.connect() as connection:
            while connection.execute(statement, {"name": name}).scalar():
                assert time.monotonic() < deadline, f"a killed process stays connected to {name}"
                time.sleep(0.02)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(name)
        self.admin.dispose()


# ---- the state of a project: its master, as ids and values mean it --------------------------


@dataclass(frozen=True)
class State:
    created: bool  # the store has its tables (a command has opened it for writing)
    store: dict[str, Any]
    exports: dict[str, Any]  # per export folder of the project: its tables
    models: dict[str, str]  # the match model files


def state_of(project: Path, url: str) -> State:
    store = open_store(url, writing=True)  # as it is: also a store no command created yet
    try:
        with store.engine.connect() as connection:
            created = inspect(connection).has_table("source_record")
            tables = {
                name: _read(connection, sql) for name, sql in STATE_QUERIES.items() if created
            }
    finally:
        store.close()
    names = _names(tables)
    return State(
        created=created,
        store=_store_state(tables, names) if created else EMPTY_STORE,
        exports={
            folder.name: _export_state(folder, names)
            for folder in (project / "exports", project / "out")
            if folder.exists()
        },
        models={
            path.name: path.read_text(encoding="utf-8")
            for path in sorted((project / "rules" / "match").glob("*.model.json"))
        },
    )


STATE_QUERIES = {
    "records": "select id, source, source_key, version, is_current, deleted, content_hash "
    "from source_record",
    "runs": "select id from run where status = 'succeeded' order by id",
    "xref": "select entity, source, source_key, golden_id from xref",
    "golden_account": "select * from golden_account",
    "golden_contact": "select * from golden_contact",
    "redirects": "select from_id, to_id, entity from redirect",
    "decisions": "select entity, left_source, left_key, right_source, right_key, decision "
    "from match_decision where active = true",
    "pins": "select golden_id, attribute, value from value_pin where active = true",
    "lineage": "select * from lineage",
}


@dataclass(frozen=True)
class _Names:
    """Record ids as source:key:version, run ids as their place among the succeeded runs."""

    records: dict[str, str]
    runs: dict[str, str]

    def record(self, value: Any) -> str:
        return self.records[_id(value)] if _id(value) else ""

    def run(self, value: Any) -> str:
        return self.runs.get(_id(value), f"unfinished run {value}")


def _id(value: Any) -> str:
    """An id as text, however it was read: 12, 12.0 (a column with nulls), "12"; "" for none."""
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(int(float(value)))


def _names(tables: dict[str, pd.DataFrame]) -> _Names:
    if not tables:
        return _Names({}, {})
    records = tables["records"][["id", "source", "source_key", "version"]]
    return _Names(
        records={
            str(i): f"{s}:{k}:v{v}" for i, s, k, v in records.itertuples(index=False, name=None)
        },
        runs={str(run): str(place) for place, run in enumerate(tables["runs"]["id"], start=1)},
    )


def _rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """A table's rows as text, in an order that does not depend on ids."""
    text_frame = frame.astype(object).where(frame.notna(), None).astype(str)
    return sorted(text_frame.itertuples(index=False, name=None))


def _store_state(tables: dict[str, pd.DataFrame], names: _Names) -> dict[str, Any]:
    state: dict[str, Any] = {name: _rows(tables[name]) for name in ("xref", "redirects", "pins")}
    state["records"] = _rows(tables["records"].drop(columns=["id"]))  # every version loaded
    for table in ("golden_account", "golden_contact"):
        golden = tables[table].drop(columns=["content_hash"])
        golden["created_run"] = golden["created_run"].map(names.run)
        golden["updated_run"] = golden["updated_run"].map(names.run)
        state[table] = _rows(golden)
    state["decisions"] = sorted(set(_rows(tables["decisions"])))  # a rerun may record it twice
    lineage = tables["lineage"].drop(columns=["id"])
    state["lineage"] = _rows(_named_lineage(lineage, names))
    return state


# The state of a store that holds nothing (no command has created it, or none has loaded it).
EMPTY_STORE: dict[str, Any] = {
    name: []
    for name in (
        *("xref", "redirects", "pins", "records", "golden_account", "golden_contact"),
        *("decisions", "lineage"),
    )
}


def _named_lineage(lineage: pd.DataFrame, names: _Names) -> pd.DataFrame:
    lineage = lineage.astype(object).where(lineage.notna(), None)
    lineage["record_id"] = lineage["record_id"].map(names.record)
    lineage["run_id"] = lineage["run_id"].map(names.run)
    lineage["beaten"] = lineage["beaten"].map(lambda text: _named_beaten(text, names))
    return lineage


def _named_beaten(beaten: Any, names: _Names) -> str:
    if beaten in (None, ""):
        return ""
    items = json.loads(beaten)
    return json.dumps(
        [{**item, "record_id": names.record(item.get("record_id"))} for item in items]
    )


def _export_state(folder: Path, names: _Names) -> dict[str, Any]:
    """The export's tables (or what a killed export left of them), ids as they are named."""
    found: dict[str, Any] = {"files": sorted(p.name for p in folder.iterdir())}
    for table in EXPORT_TABLES:
        path = folder / f"{table}.csv"
        if not path.exists():
            continue
        frame = read_csv(path)
        for column in ("created_run", "updated_run", "run_id"):
            if column in frame:
                frame[column] = frame[column].map(names.run)
        if table == "lineage":
            frame["record_id"] = frame["record_id"].map(names.record)
            frame["beaten"] = frame["beaten"].map(lambda text: _named_beaten(text, names))
        found[table] = _rows(frame)
    return found


# ---- the life of the project, uninterrupted ---------------------------------------------------


@dataclass
class Stage:
    """One command: its arguments, the failpoints it passes, the states before and after."""

    step: str
    arguments: list[str]
    points: list[str]
    before: Path  # the project folder before the command (with its SQLite store)
    before_database: str | None  # PostgreSQL: the database before the command, a template
    state_before: State
    state_after: State


@dataclass
class Life:
    store: str
    stages: dict[str, Stage] = field(default_factory=dict)


def project_url(store: str, project: Path, postgres: Postgres | None, database: str | None) -> str:
    if store == "sqlite":
        return f"sqlite:///{project / 'mdm.db'}"
    assert postgres is not None and database is not None
    return postgres.url(database)


def live_through(root: Path, store: str, postgres: Postgres | None) -> Life:
    """Run the commands one after the other, keeping what each needs to be killed later."""
    project = root / "work"
    generate_demo(project, accounts=20, seed=3, faults=False)
    keep_sources(project / "mdm.toml", SOURCES)
    shutil.copytree(DEFAULT_RULES, project / "rules")
    database = postgres.create() if postgres else None
    url = project_url(store, project, postgres, database)
    set_store_url(project, "sqlite:///mdm.db" if store == "sqlite" else url)
    life = Life(store)
    for step in STEPS:
        step.prepare(project, url)
        arguments = step.arguments(project, url)
        before = root / f"before-{step.name}"
        shutil.copytree(project, before, symlinks=True)
        before_database = postgres.create(template=database) if postgres and database else None
        state_before = state_of(project, url)
        log = root / f"{step.name}.points"
        invoke(arguments, project, {LOG_VARIABLE: str(log)})
        points = list(dict.fromkeys(log.read_text(encoding="utf-8").split()))
        report = check_project(load_project(project))
        assert report.ok, [str(v) for v in report.violations]
        life.stages[step.name] = Stage(
            step.name,
            arguments,
            points,
            before,
            before_database,
            state_before,
            state_of(project, url),
        )
    return life


def keep_sources(project_file: Path, names: tuple[str, ...]) -> None:
    """Keep only the sources ``names`` in a project file."""
    head, *blocks = project_file.read_text(encoding="utf-8").split("[[sources]]\n")
    kept = [block for block in blocks if any(f'name = "{n}"\n' in block for n in names)]
    assert len(kept) == len(names), f"{project_file} lacks one of {names}"
    project_file.write_text("[[sources]]\n".join([head, *kept]), encoding="utf-8")


def invoke(arguments: list[str], project: Path, environment: dict[str, str]) -> None:
    """Run an mdm command in this process (environment variables set for its duration)."""
    filled = [argument.replace(PROJECT, str(project)) for argument in arguments]
    result = runner.invoke(app, filled, env=environment)
    assert result.exit_code == 0, f"mdm {' '.join(filled)}:\n{result.output}"


@pytest.fixture(scope="module")
def lives(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Life]]:
    """Each store's life, lived once per test process, when a test first needs it."""
    made: dict[str, Life] = {}
    failed: dict[str, str] = {}
    postgres: list[Postgres] = []

    def life_of(store: str) -> Life:
        if store in failed:  # once is enough: the other tests of the store fail at once
            pytest.fail(f"the uninterrupted commands failed on {store}: {failed[store]}")
        if store not in made:
            if store == "postgres" and not postgres:
                postgres.append(Postgres())
            root = tmp_path_factory.mktemp(f"life-{store}")
            try:
                server = postgres[0] if store == "postgres" else None
                made[store] = live_through(root, store, server)
            except AssertionError as error:
                failed[store] = str(error)
                raise
        return made[store]

    yield life_of
    for server in postgres:
        server.close()


# ---- the kills ---------------------------------------------------------------------------------


def store_param(store: str) -> Any:
    return pytest.param(store, marks=pytest.mark.postgres) if store == "postgres" else store


@pytest.mark.parametrize("store", [store_param(store) for store in STORES])
def test_the_plans_kill_every_failpoint(store: str, lives: Callable[[str], Life]) -> None:
    """Every failpoint the commands pass is killed on one store at least; each store kills
    20 points or more, in every stage, each where its command passes it."""
    life = lives(store)
    passed = {point for stage in life.stages.values() for point in stage.points}
    killed = {point for plan in PLANS.values() for points in plan.values() for point in points}
    assert passed - killed == set(), "failpoints no plan kills: add them to PLANS"
    plan = PLANS[store]
    for step, points in plan.items():
        missed = set(points) - set(life.stages[step].points)
        assert missed == set(), f"{step} does not pass {sorted(missed)}"
    mine = [point for points in plan.values() for point in points]
    assert len(set(mine)) >= 20
    assert [stage for stage in STAGES if not any(p.startswith(stage) for p in mine)] == []


KILLS = [
    pytest.param(
        store,
        step,
        point,
        marks=[pytest.mark.postgres] if store == "postgres" else [],
        id=f"{store}-{step}-{point}",
    )
    for store, plan in PLANS.items()
    for step, points in plan.items()
    for point in points
]


@pytest.mark.parametrize(("store", "step", "point"), KILLS)
def test_a_killed_command_leaves_the_store_whole_and_its_rerun_the_same_result(
    store: str, step: str, point: str, lives: Callable[[str], Life], tmp_path: Path
) -> None:
    life = lives(store)
    stage = life.stages[step]
    project = tmp_path / "project"
    shutil.copytree(stage.before, project, symlinks=True)
    postgres = Postgres() if store == "postgres" else None
    try:
        database = postgres.create(template=stage.before_database) if postgres else None
        url = project_url(store, project, postgres, database)
        if postgres:
            set_store_url(project, url)
        killed = run_killed(stage.arguments, project, point)
        assert killed.returncode == -signal.SIGKILL, (
            f"mdm was not killed at {point} (exit {killed.returncode}):\n{killed.output}"
        )
        if postgres and database:
            postgres.wait_for_disconnect(database)

        now = state_of(project, url)
        if now.created:  # else there is nothing to check: killed before it made the store
            report = check_project(load_project(project))
            assert report.violations == [], [str(v) for v in report.violations]
        before, after = stage.state_before, stage.state_after
        assert now.store in (before.store, after.store), (
            f"the store is half-written: {differing(now.store, before.store)} differ from "
            f"before the command, {differing(now.store, after.store)} from after it"
        )
        for name, export in now.exports.items():
            kept = (before.exports.get(name), after.exports.get(name))
            assert export in kept, f"the {name} folder is neither as before nor as after"

        invoke(stage.arguments, project, {})
        again = state_of(project, url)
        assert differing(again.store, after.store) == []
        assert again.exports == after.exports
        assert again.models == after.models
        assert not [p.name for p in project.iterdir() if ".mdm-" in p.name], "leftover folders"
    finally:
        if postgres:
            postgres.close()


def differing(state: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """The parts (tables) in which two states differ."""
    return sorted(key for key in state.keys() | other.keys() if state.get(key) != other.get(key))


def run_killed(arguments: list[str], project: Path, point: str) -> Killed:
    """The command in a process of its own that kills itself at ``point``.

    The process is forked from a server that has imported mdm once (multiprocessing's
    forkserver), so that each kill costs the command's work, not Python's start-up."""
    filled = [argument.replace(PROJECT, str(project)) for argument in arguments]
    output = project.parent / "killed.log"
    process = FORKSERVER.Process(
        target=run_mdm, args=(filled, str(project), {KILL_VARIABLE: point}, str(output))
    )
    process.start()
    process.join(KILL_TIMEOUT)
    if process.exitcode is None:
        process.kill()
        process.join()
    said = output.read_text(encoding="utf-8") if output.exists() else "(no output)"
    return Killed(process.exitcode, said)


@dataclass(frozen=True)
class Killed:
    returncode: int | None  # minus the signal that ended it
    output: str


FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["mdm.cli", "invariants_helper"])
