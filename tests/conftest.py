"""Shared fixtures: stores on SQLite and on the PostgreSQL server, one fresh database each."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from mdm.matching.protocol import ENGINE_NAMES, MatchEngine, engine_named
from mdm.store import open_store, runs
from mdm.store.migrate import migrate

POSTGRES_URL = os.environ.get(
    "MDM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests draw the same examples on every CI run (a failure there is reproducible, not
# luck), with no deadline and no too-slow check: a shared runner's slow moment is not a bug.
# Elsewhere they explore afresh each run. HYPOTHESIS_PROFILE picks a profile by name.
_HYPOTHESIS_DEFAULT = settings.get_profile("default")
settings.register_profile(
    "ci",
    parent=_HYPOTHESIS_DEFAULT,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=_HYPOTHESIS_DEFAULT, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


def postgres_or_skip() -> str:
    """The server URL; skip (never in CI) when no server answers there."""
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as error:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} (set MDM_TEST_POSTGRES_URL): {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped afterwards."""
    server = postgres_or_skip()
    name = f"mdm_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> MatchEngine:
    """Each match engine in turn (as ``store_url`` gives each store)."""
    return engine_named(request.param)


@pytest.fixture
def connection(store_url: str) -> Iterator[Connection]:
    """A transaction on a store at this version's schema, with one run row (id 1); a test
    module may define a ``connection`` of its own."""
    store = open_store(store_url, writing=True)
    try:
        migrate(store)
        with store.transaction() as connection:
            assert runs.start_run(connection, "test", {}) == 1
            yield connection
    finally:
        store.close()
