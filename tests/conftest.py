"""Shared fixtures: stores on SQLite and on the PostgreSQL server, one fresh database each; the
match engines, the spark engine on one Spark session for the whole test session."""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from mdm.config.specs import SparkSpec
from mdm.matching.protocol import ENGINE_NAMES, SPARK, MatchEngine, engine_named
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: runs on Spark (local[2]): needs PySpark and Java; -m 'not spark' skips"
    )


# The modules whose tests take longest (whole runs on Spark, nights of deltas, the kill plans).
# Under xdist the workers take tests in collection order: these go first, so that the suite
# does not end with one worker on a long test while the other idles.
LONG_MODULES = frozenset(
    {
        "test_spark_engine.py",
        "test_spark_stages.py",
        "test_spark_reading.py",
        "test_nightly.py",
        "test_delta_equals_full.py",
        "test_kill.py",
        "test_run_boundaries.py",
        "test_cli.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def later(item: pytest.Item) -> bool:
        return item.path.name not in LONG_MODULES and item.get_closest_marker("spark") is None

    items.sort(key=later)  # stable: the order within each group stays as collected


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


# ---- Spark: one local[2] session per test process (a JVM start costs seconds) ----------------

SPARK_MASTER = "local[2]"
# Settings that cut the fixed cost of each Spark job on the tests' small data (hundreds to a few
# thousand rows), which is most of what the spark engine's tests cost: the JVM compiles with its
# quick compiler only and collects with the serial collector (a test session is too short for
# the optimizing compiler to pay back: a match takes half the time); Spark does not re-plan
# stages from their statistics (adaptive execution: worth it on a cluster, a second a job
# here); no web UI, no progress bars. None changes a result; Spark SQL generates its code as in
# production (interpreting it instead would save another tenth).
SPARK_TEST_OPTIONS = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.adaptive.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_missing() -> str | None:
    """Why the spark engine cannot run here (None: it can)."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'mdm[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is missing (scripts/ensure-java.sh installs Debian's openjdk-17-jre-headless)"
    return None


def spark_settings(partitions: int = 2) -> SparkSpec:
    """``[spark]`` settings for the tests: local[2], ``partitions`` partitions."""
    return SparkSpec(master=SPARK_MASTER, partitions=partitions, options=SPARK_TEST_OPTIONS)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The Spark session every spark engine of this test process runs on; skips the test when
    PySpark or Java is missing, except under CI=true, where it fails."""
    missing = spark_missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"the spark engine's tests must run in CI: {missing}")
        pytest.skip(missing)
    from mdm.matching.spark_session import spark_session

    session = spark_session(spark_settings())
    yield session
    session.stop()


@pytest.fixture(params=[*ENGINE_NAMES, pytest.param(SPARK, marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> MatchEngine:
    """Each match engine in turn (as ``store_url`` gives each store): ``local``, then ``spark``
    on the test session's Spark."""
    if request.param == SPARK:
        request.getfixturevalue("spark")
        from mdm.matching.spark_engine import SparkEngine

        return SparkEngine(spark_settings())
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
