"""Projects after their first run, made once per test process and copied for each test.

Many tests start from the same demo project after its first `mdm run` (the web workbench's, the
read models', the steward's): the run is the same every time, and it was most of what those
tests cost. Here the first test that asks for a project of a kind (its key, and SQLite or
PostgreSQL) makes it in a folder of its own and runs it; every test then gets a copy: the
project folder (extracts, rules, models, exports) and the store, a copy of the database file
on SQLite, a database made from the template database on PostgreSQL. The copy is the store the
run left, byte for byte on SQLite.

What a copy does not carry is where it was made: a run record names the folder its export was
written to, which is the template's folder.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path

from conftest import POSTGRES_URL
from invariants_helper import set_store_url
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project

Prepare = Callable[[Path], None]  # writes a project into an empty folder
Run = Callable[[Path], None]  # runs the project in a folder


def run_pipeline(folder: Path) -> None:
    pipeline.run(load_project(folder))  # its store is closed after it


_templates: dict[tuple[Hashable, str], tuple[Path, str]] = {}


def first_run(
    directory: Path, store_url: str, key: Hashable, prepare: Prepare, run: Run = run_pipeline
) -> Project:
    """The project ``prepare`` writes, in ``directory`` on the store ``store_url`` (an SQLite
    file not there yet, or an empty PostgreSQL database), after its first run (``run``: the
    pipeline's, or a command's). ``key`` names what ``prepare`` and ``run`` make: projects of
    one key are one project."""
    kind = _kind(store_url)
    template = _templates.get((key, kind))
    if template is None:
        template = _make(directory.name, store_url, prepare, run)
        _templates[(key, kind)] = template
    folder, template_url = template
    shutil.copytree(folder, directory, symlinks=True)
    _copy_store(template_url, store_url)
    set_store_url(directory, store_url)
    return load_project(directory)


def _kind(url: str) -> str:
    return "postgres" if url.startswith("postgresql") else "sqlite"


def _make(name: str, like: str, prepare: Prepare, run: Run) -> tuple[Path, str]:
    """A template: the project in a folder of its own, run once on a store of its own (on the
    server of ``like``, on PostgreSQL)."""
    base = Path(tempfile.mkdtemp(prefix="mdm-first-run-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    folder = base / name
    prepare(folder)
    if _kind(like) == "sqlite":
        url = f"sqlite:///{base / 'store.db'}"
    else:
        url = (
            make_url(like)
            .set(database=f"mdm_template_{uuid.uuid4().hex[:16]}")
            .render_as_string(hide_password=False)
        )
        _admin(url, f'CREATE DATABASE "{make_url(url).database}"')
        atexit.register(_admin, url, f'DROP DATABASE IF EXISTS "{make_url(url).database}"')
    set_store_url(folder, url)
    run(folder)
    return folder, url


def _copy_store(template: str, url: str) -> None:
    if _kind(url) == "sqlite":
        source = Path(make_url(template).database or "")
        target = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):  # the log is empty or gone once the store closed
            if source.with_name(source.name + suffix).exists():
                shutil.copyfile(
                    source.with_name(source.name + suffix), target.with_name(target.name + suffix)
                )
        return
    name, template_name = make_url(url).database, make_url(template).database
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')


def _admin(url: str, statement: str) -> None:
    """A statement outside any transaction, on the server of ``url`` (through the database the
    tests' fixtures make theirs from)."""
    server = make_url(url).set(database=make_url(POSTGRES_URL).database)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
