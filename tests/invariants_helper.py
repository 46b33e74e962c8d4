"""Shared by the tests: the store invariants after a scenario, PostgreSQL databases that live
as long as a module's fixture, and the command line in a child process."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import postgres_or_skip
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mdm.config.specs import Project
from mdm.invariants import check_project

SHOWN = 40


def assert_store_invariants(project: Project) -> None:
    """Fail with the violations if the project's store breaks any invariant (``mdm check``)."""
    report = check_project(project)
    shown = "\n".join(str(violation) for violation in report.violations[:SHOWN])
    assert report.ok, f"{len(report.violations)} store invariants broken:\n{shown}"


@contextmanager
def postgres_database(prefix: str = "mdm_test") -> Iterator[str]:
    """A fresh database on the PostgreSQL server (skips without one), dropped afterwards."""
    server = postgres_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield database_url(server, name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def set_store_url(directory: Path, url: str) -> None:
    """Point the project in ``directory`` at the store ``url``."""
    project_file = directory / "mdm.toml"
    content = project_file.read_text(encoding="utf-8")
    content, count = re.subn(r'(?m)^url = ".*"$', f'url = "{url}"', content, count=1)
    assert count == 1, f"no store url in {project_file}"
    project_file.write_text(content, encoding="utf-8")


def run_mdm(arguments: list[str], directory: str, environment: dict[str, str], output: str) -> None:
    """The ``mdm`` command line, as a child process runs it: in ``directory``, with
    ``environment`` added, its output written to the file ``output``."""
    os.chdir(directory)
    os.environ.update(environment)
    with open(output, "w", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    sys.argv = ["mdm", *arguments]
    from mdm.cli import main

    main()
