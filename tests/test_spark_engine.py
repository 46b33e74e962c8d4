"""The spark engine gives exactly the local engine's answers: the same match results, and after
whole runs (full, then a nightly delta) the same golden records, xref, lineage and review queue.

Spark runs in ``local[2]``, one session for the module (a JVM start costs seconds). The tests
skip when PySpark or Java is missing, except under CI=true, where they must run (``make test``
installs both: the ``spark`` extra and ``scripts/ensure-java.sh``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import IN_CI
from test_nightly import night_2, night_4, snapshot

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project, SparkSpec
from mdm.demo import generate_demo
from mdm.errors import MdmError
from mdm.matching.engine import LocalEngine
from mdm.matching.result import MatchResult
from mdm.pipeline import index
from mdm.pipeline.match_input import match_input
from mdm.pipeline.scope import full_scope
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity
from mdm.store import open_store

MASTER = "local[2]"


def _missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'mdm[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is missing (scripts/ensure-java.sh installs Debian's openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One Spark session for the module's tests."""
    missing = _missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"the spark engine's tests must run in CI: {missing}")
        pytest.skip(missing)
    from mdm.matching.spark_session import spark_session

    # Adaptive query execution re-plans each stage from its statistics: worth it on a
    # cluster, a second per job on data this small.
    options = {"spark.sql.adaptive.enabled": "false"}
    session = spark_session(SparkSpec(master=MASTER, partitions=2, options=options))
    yield session
    session.stop()


def demo_project(directory: Path, accounts: int) -> Project:
    generate_demo(directory, accounts=accounts, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    return load_project(directory)


def use_engine(project: Project, engine: str, partitions: int = 3) -> Project:
    """The project with ``engine`` (and the Spark settings) written into its mdm.toml."""
    path = project.root / "mdm.toml"
    text = path.read_text(encoding="utf-8")
    settings = f'\n[spark]\nmaster = "{MASTER}"\npartitions = {partitions}\n'
    path.write_text(f'engine = "{engine}"\n' + text + settings, encoding="utf-8")
    return load_project(project.root)


def assert_same_result(local: MatchResult, spark: MatchResult, where: str) -> None:
    """Equal in every part, floats bit for bit."""
    assert np.array_equal(local.record_ids, spark.record_ids), where
    assert np.array_equal(local.labels, spark.labels), where
    pd.testing.assert_frame_equal(local.links, spark.links, check_exact=True, obj=where)
    pd.testing.assert_frame_equal(local.pairs, spark.pairs, check_exact=True, obj=where)
    assert local.blocking == spark.blocking, where
    assert local.warnings == spark.warnings, where
    assert local.candidate_pairs == spark.candidate_pairs, where
    assert local.statistics == spark.statistics, where
    assert local.model is not None and spark.model is not None, where
    assert local.model.to_dict() == spark.model.to_dict(), where
    assert local.trained == spark.trained, where
    assert local.term_frequencies.keys() == spark.term_frequencies.keys(), where
    for name, shares in local.term_frequencies.items():
        pd.testing.assert_series_equal(shares, spark.term_frequencies[name], check_exact=True)


def test_spark_engine_gives_the_local_engines_answers(spark: Any, tmp_path: Path) -> None:
    """Match results with 1, 3 and 8 partitions, then whole runs, full and delta. One test,
    so that pytest-xdist never starts a second Spark for the second half."""
    match_results_with_1_3_and_8_partitions(tmp_path / "matches")
    whole_runs_full_and_delta(spark, tmp_path / "runs")


def match_results_with_1_3_and_8_partitions(tmp_path: Path) -> None:
    """The contacts of a demo project of a few thousand records (the entity with every part:
    a context model, term frequencies, forced rules), trained from the records: the same
    model, pairs, probabilities, links and clusters, however Spark splits the work. The max
    block size is lowered so that oversized blocks (skipped, with their warning) are part of
    it; steward constraints too. Then scoring with the saved model in a delta's partner
    search (pairs touching the new records only). Accounts: in the whole run below."""
    from mdm.matching.spark_engine import SparkEngine

    project = demo_project(tmp_path / "demo", accounts=400)
    pipeline.run(project, command="ingest", resolve=False, export=False)
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            inputs = {
                entity: match_input(
                    connection, project, entity, full_scope(connection, project, entity).records
                )
                for entity in (Entity.ACCOUNT, Entity.CONTACT)
            }
            records = {entity: full_scope(connection, project, entity).records for entity in inputs}
    finally:
        store.close()
    contact_spec = project.rules.match[Entity.CONTACT].model_copy(update={"max_block_size": 6})
    specs = {Entity.ACCOUNT: project.rules.match[Entity.ACCOUNT], Entity.CONTACT: contact_spec}
    contacts = inputs[Entity.CONTACT]["record_id"].to_numpy()
    constraints = {
        "must_link": np.array([[contacts[0], contacts[-1]], [contacts[5], contacts[7]]]),
        "cannot_link": np.array([[contacts[1], contacts[2]]]),
    }
    assert sum(len(frame) for frame in inputs.values()) > 2_000
    entity = Entity.CONTACT
    frame, spec = inputs[entity], specs[entity]
    options: dict[str, Any] = {
        "frequencies": index.frequencies_of(records[entity], spec),
        **constraints,
    }
    local = LocalEngine().match(frame, spec, **options)
    assert any("were skipped" in warning for warning in local.warnings)
    assert len(local.links) > 200
    for partitions in (1, 3, 8):
        engine = SparkEngine(SparkSpec(master=MASTER, partitions=partitions))
        result = engine.match(frame, spec, **options)
        assert_same_result(local, result, f"{entity}, {partitions} partitions")
    new = np.zeros(len(frame), dtype=bool)
    new[::7] = True
    delta = {"model": local.model, "new": new}
    local_delta = LocalEngine().match(frame, spec, **options, **delta)
    spark_delta = SparkEngine(SparkSpec(master=MASTER, partitions=3)).match(
        frame, spec, **options, **delta
    )
    assert_same_result(local_delta, spark_delta, f"{entity}, a delta's partners")


def whole_runs_full_and_delta(spark: Any, tmp_path: Path) -> None:
    """Whole runs, one project on each engine: after the first (full) run and after a night of
    changes (a delta run), the exported golden records, xref, lineage and review queue are
    the same on both; the spark project's matching ran on Spark."""
    local = use_engine(demo_project(tmp_path / "local", accounts=150), "local")
    on_spark = use_engine(demo_project(tmp_path / "spark", accounts=150), "spark", partitions=3)
    assert on_spark.spec.engine == "spark" and on_spark.spec.spark.partitions == 3
    for night, changes in enumerate([[], [night_2, night_4]]):
        for change in changes:
            for project in (local, on_spark):
                change(project.root, np.random.default_rng(night))
        jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))
        summaries = [pipeline.run(project) for project in (local, on_spark)]
        assert len(spark.sparkContext.statusTracker().getJobIdsForGroup(None)) > jobs
        assert summaries[0].full == summaries[1].full == (night == 0)
        expected = snapshot(local, tmp_path / f"local-out-{night}")
        found = snapshot(on_spark, tmp_path / f"spark-out-{night}")
        for name, frame in expected.items():
            pd.testing.assert_frame_equal(frame, found[name], check_exact=True, obj=name)
        assert len(expected["xref"]) > 500


def without_pyspark(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python where importing pyspark fails, as where it is not installed."""
    blocked = "import sys; sys.modules['pyspark'] = None; "
    return subprocess.run(
        [sys.executable, "-c", blocked + code],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_spark_engine_without_pyspark_names_the_extra(tmp_path: Path) -> None:
    """Asked for without PySpark, the engine says which extra to install; `mdm run --engine
    spark` exits with that message and leaves the store as it was."""
    found = without_pyspark(
        "from mdm.errors import MdmError\n"
        "from mdm.matching.protocol import engine_named\n"
        "try:\n    engine_named('spark')\nexcept MdmError as error:\n    print(error)\n"
    )
    assert found.returncode == 0, found.stderr
    assert "pip install 'mdm[spark]'" in found.stdout
    project = demo_project(tmp_path / "demo", accounts=20)
    pipeline.run(project, command="ingest", resolve=False, export=False)
    before = (project.root / "mdm.db").read_bytes()
    ran = without_pyspark(
        "from mdm.cli import main; sys.argv = ['mdm', 'run', '--engine', 'spark']; main()",
        cwd=project.root,
    )
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "mdm[spark]" in ran.stdout + ran.stderr
    assert (project.root / "mdm.db").read_bytes() == before


def test_unknown_engine_in_the_project_file_is_refused(tmp_path: Path) -> None:
    project = demo_project(tmp_path / "demo", accounts=20)
    path = project.root / "mdm.toml"
    path.write_text('engine = "quantum"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(MdmError, match="engine"):
        load_project(project.root)
