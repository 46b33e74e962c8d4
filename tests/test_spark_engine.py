"""The spark engine gives exactly the local engine's answers: the same match results with 1 and
8 partitions and a delta's partner search with 3, and after whole runs (a full run on 8
partitions, then a nightly delta on 3) the same golden records, xref, lineage and review queue.

Spark runs in ``local[2]``, on the test session's one Spark (``spark`` in conftest.py: a JVM
start costs seconds). The tests skip when PySpark or Java is missing, except under CI=true,
where they must run (``make test`` installs both: the ``spark`` extra and
``scripts/ensure-java.sh``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import SPARK_MASTER, spark_settings
from test_nightly import night_2, night_4, snapshot
from typer.testing import CliRunner

from mdm import pipeline
from mdm.cli import app
from mdm.config import load_project
from mdm.config.specs import Project
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

# A full match on one partition and on more than the data needs; a delta's partner search on
# a count between them. Each match on Spark costs seconds: every count of each would double it.
FULL_PARTITIONS = (1, 8)
DELTA_PARTITIONS = 3


def demo_project(directory: Path, accounts: int) -> Project:
    generate_demo(directory, accounts=accounts, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, directory / "rules")
    return load_project(directory)


def use_engine(project: Project, engine: str, partitions: int = 3) -> Project:
    """The project with ``engine`` (and the Spark settings) written into its mdm.toml."""
    path = project.root / "mdm.toml"
    text = path.read_text(encoding="utf-8")
    settings = f'\n[spark]\nmaster = "{SPARK_MASTER}"\npartitions = {partitions}\n'
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


@pytest.mark.spark
def test_match_results_with_1_and_8_partitions_and_a_delta_with_3(
    spark: Any, tmp_path: Path
) -> None:
    """The contacts of a demo project of a few thousand records (the entity with every part:
    a context model, term frequencies, forced rules), trained from the records: the same
    model, pairs, probabilities, links and clusters, however Spark splits the work (1 and 8
    partitions; a delta's partner search on 3). The max
    block size is lowered so that oversized blocks (skipped, with their warning) are part of
    it; steward constraints too. And scoring with the saved model in a delta's partner
    search (pairs touching the new records only). Accounts: in the whole runs below."""
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
    new = np.zeros(len(frame), dtype=bool)
    new[::7] = True
    delta = {"model": local.model, "new": new}
    local_delta = LocalEngine().match(frame, spec, **options, **delta)
    assert 0 < local_delta.candidate_pairs < local.candidate_pairs
    for partitions in FULL_PARTITIONS:
        result = SparkEngine(spark_settings(partitions)).match(frame, spec, **options)
        assert_same_result(local, result, f"{entity}, {partitions} partitions")
    result = SparkEngine(spark_settings(DELTA_PARTITIONS)).match(frame, spec, **options, **delta)
    assert_same_result(
        local_delta, result, f"{entity}, a delta's partners, {DELTA_PARTITIONS} partitions"
    )


@pytest.mark.spark
def test_whole_runs_on_spark_full_then_delta_are_the_local_runs(spark: Any, tmp_path: Path) -> None:
    """Whole runs of one demo project, copied once per engine: after the first (full) run and
    after a night of changes (a delta run), the exported golden records, xref, lineage and
    review queue of the spark project are the local project's, and its matching ran on Spark,
    in its partitions. The full run is `mdm run --engine spark` on a project file that says
    engine = "local" and 8 partitions; the delta is a run of a file that says engine = "spark"
    and 3 partitions. (One partition is the match test's above: a whole run adds nothing a
    partition count changes.)"""
    generated = tmp_path / "generated"
    generate_demo(generated, accounts=150, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, generated / "rules")
    shutil.copytree(generated, tmp_path / "local")
    shutil.copytree(generated, tmp_path / "spark")
    local = use_engine(load_project(tmp_path / "local"), "local", 2)
    tracker = spark.sparkContext.statusTracker()
    for night, changes in enumerate([[], [night_2, night_4]]):
        for change in changes:
            for root in (local.root, tmp_path / "spark"):
                change(root, np.random.default_rng(night))
        assert pipeline.run(local).full == (night == 0)
        expected = snapshot(local, tmp_path / f"local-out-{night}")
        assert len(expected["xref"]) > 500
        jobs = len(tracker.getJobIdsForGroup(None))
        (tmp_path / "spark" / "mdm.toml").write_text(
            (generated / "mdm.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        if night == 0:
            project = use_engine(load_project(tmp_path / "spark"), "local", 8)
            ran = CliRunner().invoke(app, ["run", "-p", str(project.root), "--engine", "spark"])
            assert ran.exit_code == 0, ran.output
        else:
            project = use_engine(load_project(tmp_path / "spark"), "spark", 3)
            assert not pipeline.run(project).full
        partitions = project.spec.spark.partitions
        assert len(tracker.getJobIdsForGroup(None)) > jobs
        assert spark.conf.get("spark.sql.shuffle.partitions") == str(partitions)
        found = snapshot(project, tmp_path / f"spark-out-{night}")
        where = f"{partitions} partitions, night {night}"
        for name, frame in expected.items():
            pd.testing.assert_frame_equal(
                frame, found[name], check_exact=True, obj=f"{name}, {where}"
            )


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
