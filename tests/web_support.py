"""What the web tests share: a demo project after a run, the app over its store, and clients
signed in as each role (by session cookie, the way a browser is, or by API token)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from first_runs import first_run
from sqlalchemy import text

from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.store import open_store
from mdm.web import accounts, create_app

PASSWORD = "correct horse battery"
SECRET = b"test-secret-not-for-production"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def demo_project(directory: Path, store_url: str, accounts_count: int = 40) -> Project:
    """A demo project after its first run, with a review queue (a copy of the one run once per
    test process)."""

    def prepare(folder: Path) -> None:
        generate_demo(folder, accounts=accounts_count, faults=False)
        shutil.copytree(DEFAULT_RULES, folder / "rules")

    return first_run(directory, store_url, ("web demo", accounts_count), prepare)


def add_people(project: Project) -> None:
    """One user of each role, named after it: viewer, steward, admin."""
    for role in accounts.Role:
        accounts.add_user(project.store_url, role.value, role, PASSWORD, "test")


def rows(project: Project, sql: str, **values: Any) -> list[tuple[Any, ...]]:
    """The rows ``sql`` (with bound ``values``) finds in the project's store, as tuples."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            return [tuple(row) for row in connection.execute(text(sql), values)]
    finally:
        store.close()


@contextmanager
def app_client(project: Project, session_hours: float = 12.0) -> Iterator[TestClient]:
    store = open_store(project.store_url)
    try:
        app = create_app(project, store, secret=SECRET, session_hours=session_hours)
        with TestClient(app, follow_redirects=False) as client:
            yield client
    finally:
        store.close()


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """The CSRF token the page at ``path`` gives its forms."""
    page = client.get(path)
    found = CSRF_INPUT.search(page.text)
    assert found, f"no CSRF token on {path}: {page.status_code} {page.text[:200]}"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in as ``name``; the CSRF token of the new session."""
    token = csrf_of(client)
    answer = client.post(
        "/signin", data={"name": name, "password": password, "csrf_token": token, "next": "/"}
    )
    assert answer.status_code == 303, answer.text[:300]
    return csrf_of(client, "/signin")
