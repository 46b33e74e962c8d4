"""Standardizing and survivorship on Spark (``mdm.pipeline.spark_stages``) give exactly the local
results: the match keys and display forms of ``compute_forms``, the golden values and lineage
of ``build_golden`` (1 and 3 partitions), and, in a whole ``mdm run`` with the spark engine,
the local engine's stored match keys, golden records, xref and lineage.

Spark runs in ``local[2]``, the test process's one session (``conftest``: a JVM start costs
seconds). The tests skip when PySpark or Java is missing, except under CI=true, where they
must run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import spark_settings
from sqlalchemy import text
from test_nightly import snapshot
from test_spark_engine import demo_project, use_engine

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project, SparkSpec
from mdm.demo import generate_demo
from mdm.match_keys import compute_forms, region_of
from mdm.pipeline import resolve, spark_stages
from mdm.pipeline.inputs import ResolutionInputs
from mdm.pipeline.spark_stages import (
    STANDARDIZE_JOBS,
    SURVIVE_JOBS,
    spark_forms,
    spark_golden,
)
from mdm.project_files import DEFAULT_RULES
from mdm.schema import Entity, attribute_names, survived_attribute_names
from mdm.store import open_store, records
from mdm.survivorship import Golden, build_golden

PARTITIONS = (1, 3)
# The test session's Spark (conftest: one local[2] session per test process, its settings).
pytestmark = pytest.mark.spark


def settings(partitions: int) -> SparkSpec:
    return spark_settings(partitions)


def jobs(spark: Any, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


# ---- standardizing -------------------------------------------------------------------------


def loaded_rows(project: Project) -> dict[Entity, tuple[pd.DataFrame, pd.Series]]:
    """Every loaded record's raw attributes and region, by entity, as ingest hands them to
    ``compute_forms``."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            current = {
                source.name: (source.entity, records.current_records(connection, source.name))
                for source in project.spec.sources
            }
    finally:
        store.close()
    found: dict[Entity, tuple[pd.DataFrame, pd.Series]] = {}
    for entity in (Entity.ACCOUNT, Entity.CONTACT):
        parts = [
            (frame, name)
            for name, (kind, frame) in current.items()
            if kind is entity and len(frame)
        ]
        raw = pd.concat(
            [pd.DataFrame([json.loads(t) for t in f["attributes"]]) for f, _ in parts],
            ignore_index=True,
        ).reindex(columns=attribute_names(entity))
        sources = pd.Series(np.concatenate([np.full(len(f), name) for f, name in parts]))
        found[entity] = (raw, sources)
    return {entity: (raw, region_of(project, sources)) for entity, (raw, sources) in found.items()}


def varied(raw: pd.DataFrame, region: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The rows shuffled onto a non-default index, with odd values mixed in: empty texts,
    missing values, spaces, non-Latin letters, another country's region."""
    rng = np.random.default_rng(3)
    order = rng.permutation(len(raw))
    index = pd.Index(1_000_000 - 7 * order.astype(np.int64), name="row")
    raw = raw.iloc[order].set_index(index).astype(object)
    region = pd.Series(region.to_numpy()[order], index=index, dtype=region.dtype)
    odd = ["", None, "  ", "Zoë Ångström-Þórsdóttir", "株式会社 東京", "+44 20 7946 0958", "N/A"]
    for position in range(raw.shape[1]):
        rows = rng.choice(len(raw), size=len(raw) // 20, replace=False)
        raw.iloc[rows, position] = [odd[(position + i) % len(odd)] for i in range(len(rows))]
    region.iloc[::11] = "GB"
    return raw, region


@pytest.mark.spark
def test_standardizing_on_spark_is_compute_forms(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few thousand varied demo records of both entities: Spark's match keys and display
    forms are ``compute_forms``' frames (values, dtypes, index, order) with 1 and 3
    partitions; below the threshold no Spark job runs."""
    project = demo_project(tmp_path / "demo", accounts=400)
    pipeline.run(project, command="ingest", resolve=False, export=False)
    rows = {entity: varied(*found) for entity, found in loaded_rows(project).items()}
    assert sum(len(raw) for raw, _ in rows.values()) > 2_000
    before = jobs(spark, STANDARDIZE_JOBS)
    raw, region = rows[Entity.ACCOUNT]
    small = spark_forms(settings(2), Entity.ACCOUNT, raw.head(50), region.head(50))
    assert jobs(spark, STANDARDIZE_JOBS) == before  # below the threshold: the local call
    local_small = compute_forms(Entity.ACCOUNT, raw.head(50), region.head(50))
    for expected, found in zip(local_small, small, strict=True):
        pd.testing.assert_frame_equal(expected, found, check_exact=True)
    monkeypatch.setattr(spark_stages, "STANDARDIZE_ON_SPARK_FROM", 1)
    for entity, (raw, region) in rows.items():
        local = compute_forms(entity, raw, region)
        for partitions in PARTITIONS:
            found = spark_forms(settings(partitions), entity, raw, region)
            for name, expected, got in zip(("keys", "forms"), local, found, strict=True):
                where = f"{entity} {name}, {partitions} partitions"
                pd.testing.assert_frame_equal(expected, got, check_exact=True, obj=where)
    assert jobs(spark, STANDARDIZE_JOBS) >= before + 2 * len(PARTITIONS)


# ---- survivorship --------------------------------------------------------------------------


def resolved_members(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> dict[Entity, tuple[ResolutionInputs, pd.DataFrame]]:
    """The inputs and members a local run hands survivorship, by entity."""
    seen: dict[Entity, tuple[ResolutionInputs, pd.DataFrame]] = {}
    survive = resolve.survive

    def watched(
        project: Project, inputs: ResolutionInputs, members: pd.DataFrame, identity: Any
    ) -> Golden:
        seen[inputs.entity] = (inputs, members)
        return survive(project, inputs, members, identity)

    with monkeypatch.context() as patch:
        patch.setattr(resolve, "survive", watched)
        pipeline.run(project, export=False)
    return seen


def pins_of(members: pd.DataFrame, entity: Entity) -> pd.DataFrame:
    """Steward pins on some of the golden records: over values the rules chose and over
    empty cells, and one of a golden record that is not among the members."""
    golden_ids = sorted(set(members["golden_id"]))[::9]
    attributes = survived_attribute_names(entity)
    rows = [
        {
            "golden_id": golden_id,
            "attribute": attributes[i % len(attributes)],
            "value": f"pinned {i}",
            "pinned_by": "steward",
            "pinned_at": "2025-06-01T00:00:00",
        }
        for i, golden_id in enumerate([*golden_ids, "G-NOT-HERE"])
    ]
    return pd.DataFrame(rows).astype(object)


def with_odd_times(members: pd.DataFrame) -> pd.DataFrame:
    """Times apart by nanoseconds only (Spark's timestamps would merge them) and unknown ones."""
    stamps = members["last_modified"].astype("datetime64[ns, UTC]")
    stamps = stamps + pd.to_timedelta(np.arange(len(members)) % 3, unit="ns")
    stamps.iloc[::13] = pd.NaT
    return members.assign(last_modified=stamps)


def assert_same_golden(expected: Golden, found: Golden, where: str) -> None:
    pd.testing.assert_frame_equal(expected.values, found.values, check_exact=True, obj=where)
    pd.testing.assert_frame_equal(expected.lineage, found.lineage, check_exact=True, obj=where)
    assert expected.now == found.now, where


@pytest.mark.spark
def test_survivorship_on_spark_is_build_golden(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The members of a demo project's run, with steward pins and with times apart by
    nanoseconds: Spark's golden values and lineage are ``build_golden``'s with 1 and 3
    partitions; without a given ``now`` too (the latest time of all members, not of a
    partition's)."""
    project = demo_project(tmp_path / "demo", accounts=120)
    seen = resolved_members(project, monkeypatch)
    monkeypatch.setattr(spark_stages, "SURVIVE_ON_SPARK_FROM", 1)
    before = jobs(spark, SURVIVE_JOBS)
    for entity, (inputs, members) in seen.items():
        spec = project.rules.survivorship[entity]
        assert members["golden_id"].nunique() > 100
        pins = pins_of(members, entity)
        members = with_odd_times(members)
        expected = build_golden(spec, members, now=inputs.now, pins=pins)
        assert (expected.lineage["rule"] == "steward_pin").sum() == len(pins) - 1
        for partitions in PARTITIONS:
            found = spark_golden(settings(partitions), spec, members, now=inputs.now, pins=pins)
            assert_same_golden(expected, found, f"{entity}, {partitions} partitions")
        expected = build_golden(spec, members)
        assert expected.now is not None
        found = spark_golden(settings(3), spec, members)
        assert_same_golden(expected, found, f"{entity}, no now, no pins")
    assert jobs(spark, SURVIVE_JOBS) >= before + 3 * len(seen)


# ---- a whole run ---------------------------------------------------------------------------


def stored_keys(project: Project) -> pd.DataFrame:
    """Every stored version's match keys and display forms."""
    store = open_store(project.store_url)
    try:
        with store.transaction() as connection:
            result = connection.execute(
                text(
                    "select source, source_key, version, match_keys from source_record "
                    "order by source, source_key, version"
                )
            )
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    finally:
        store.close()


@pytest.mark.spark
def test_a_whole_run_on_spark_stores_the_local_results(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mdm run` of one demo project with the local engine and with the spark engine (the
    thresholds lowered so that standardizing and survivorship run on Spark): the same stored
    match keys, golden records, xref, lineage and review queue."""
    generated = tmp_path / "generated"
    generate_demo(generated, accounts=60, seed=5, faults=False)
    shutil.copytree(DEFAULT_RULES, generated / "rules")

    def copied(name: str, engine: str) -> Project:
        shutil.copytree(generated, tmp_path / name)
        return use_engine(load_project(tmp_path / name), engine, partitions=2)

    local, on_spark = copied("local", "local"), copied("spark", "spark")
    monkeypatch.setattr(spark_stages, "STANDARDIZE_ON_SPARK_FROM", 1)
    monkeypatch.setattr(spark_stages, "SURVIVE_ON_SPARK_FROM", 1)
    before = {group: jobs(spark, group) for group in (STANDARDIZE_JOBS, SURVIVE_JOBS)}
    pipeline.run(local)
    assert {group: jobs(spark, group) for group in before} == before  # local: no Spark
    pipeline.run(on_spark)
    # Every source's load and both entities' survivorship ran on Spark.
    assert jobs(spark, STANDARDIZE_JOBS) >= before[STANDARDIZE_JOBS] + len(local.spec.sources)
    assert jobs(spark, SURVIVE_JOBS) >= before[SURVIVE_JOBS] + 2
    pd.testing.assert_frame_equal(stored_keys(local), stored_keys(on_spark), check_exact=True)
    expected = snapshot(local, tmp_path / "local-out")
    found = snapshot(on_spark, tmp_path / "spark-out")
    assert len(expected["xref"]) > 200 and len(expected["lineage"]) > 1_000
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(frame, found[name], check_exact=True, obj=name)
