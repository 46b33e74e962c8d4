"""The spark engine against the local engine: seconds per matching stage, and a projection.

For each size (in source records) the demo generator writes a project with mdm's default rules;
its sources are loaded into a SQLite store (``mdm ingest``), and each entity's records are
matched from scratch (the model trained from them) twice: by the local engine, its stages timed
one by one as ``match_probabilistic`` runs them, and by the spark engine in ``--master`` (by
default ``local[2]``), its stages timed as ``mdm.matching.spark_engine`` runs them. The two
results are checked to be identical (clusters, links, scored pairs, model).

Spark's own measurements of each stage come from its monitoring API (the web UI's REST
endpoint, on for this session only): task seconds (``executorRunTime``) and shuffle bytes
written. From them, a projection of the spark engine at ``--project-records`` source records on
a cluster of ``--workers`` x ``--cores``: each Spark stage's task seconds and shuffle bytes
grow with the records (blocking with a block size limit makes pairs in proportion to records;
the measured pairs per record are printed), spread over the cluster's cores at
``--efficiency`` and its network at ``--network-gbit`` per worker; the driver's stages run on
one machine: the encoding and the clustering grow with the records, the u samples and EM on
the pattern counts do not.

With ``--whole-run SIZES``, each of those sizes is run whole (``mdm run``, engine ``spark``)
on a fresh copy of the project, with the thresholds below which standardizing and
survivorship stay on the driver set to nothing, so that every stage that can run on Spark
does: the run's seconds per stage, and Spark's task seconds of reading (job group
``mdm.read``), standardizing (``mdm.standardize``) and survivorship (``mdm.survivorship``),
which join the projection as Spark stages growing with the records.

One JSON line per (size, entity), one per whole run, and one for the projection on stdout; a
Markdown summary on stderr.

    .venv/bin/python benchmarks/bench_spark.py [--records 100000] [--master local[2]]
        [--partitions 8] [--driver-memory 6g] [--workers 10] [--cores 8]
        [--project-records 100000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import emit, log, provenance  # noqa: E402

RECORDS_PER_ORGANISATION = 5.5  # the demo generator's accounts and contacts per organisation
UI_PORT = 4747
WARM_UP_RECORDS = 5_000
# Spark stages of the engine, by the function that runs them; the rest of a match is driver.
SPARK_STAGES = {
    "_plan": "records to Spark",
    "_block": "blocking",
    "_blocked_patterns": "compare + pattern counts",
    "_histogram": "score + histogram",
    "_pairs_that_cluster": "collect pairs that cluster",
}
# The driver's stages, by the functions the engine calls for them, and how each grows: with
# the records, or not at all (the u samples are at most ``u_sample_pairs``; EM runs on the
# distinct level patterns, which stop growing long before the pairs do).
DRIVER_STAGES = {
    "_encoded_for_model": ("driver: encode", "records"),
    "compare_pairs": ("driver: u samples", "fixed"),
    "train_on_patterns": ("driver: EM", "fixed"),
    "decided": ("driver: clustering", "records"),
    "kept_apart": ("driver: clustering", "records"),
    "clustered": ("driver: clustering", "records"),
}
OTHER_DRIVER = "driver: other (frames to and from Spark)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, nargs="*", default=[100_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--driver-memory", default="6g", help="local mode: the one JVM's heap")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--cores", type=int, default=8)
    parser.add_argument("--efficiency", type=float, default=0.7)
    parser.add_argument("--network-gbit", type=float, default=10.0)
    parser.add_argument("--project-records", type=int, default=100_000_000)
    parser.add_argument(
        "--whole-run",
        type=int,
        nargs="*",
        default=[],
        help="source record counts at which to run mdm run whole on Spark",
    )
    args = parser.parse_args()
    from mdm.config.specs import SparkSpec
    from mdm.matching.spark_session import spark_session

    options = {
        "spark.ui.enabled": "true",
        "spark.ui.port": str(UI_PORT),
        "spark.driver.memory": args.driver_memory,
    }
    session = spark_session(SparkSpec(master=args.master, options=options))
    measure(session, WARM_UP_RECORDS, args.seed, args.partitions)  # JVM and workers warm
    rows = []
    runs = []
    for records in args.records:
        for row in measure(session, records, args.seed, args.partitions):
            emit(row)
            rows.append(row)
    for records in args.whole_run:
        run = whole_run(session, records, args.seed, args.partitions)
        emit(run)
        runs.append(run)
    projection = project(rows, args, runs)
    emit(projection)
    log(summary(rows, projection))
    session.stop()


def measure(session: Any, records: int, seed: int, partitions: int) -> list[dict[str, Any]]:
    """Both engines on each entity of a demo project of about ``records`` source records."""
    from mdm import pipeline
    from mdm.config import load_project
    from mdm.demo import generate_demo
    from mdm.pipeline import index
    from mdm.pipeline.match_input import match_input
    from mdm.pipeline.scope import full_scope
    from mdm.project_files import DEFAULT_RULES
    from mdm.schema import Entity
    from mdm.store import open_store

    root = Path(tempfile.mkdtemp(prefix="mdm-bench-spark-"))
    try:
        started = time.perf_counter()
        generate_demo(root, accounts=round(records / RECORDS_PER_ORGANISATION), seed=seed)
        shutil.copytree(DEFAULT_RULES, root / "rules")
        project = load_project(root)
        pipeline.run(project, command="ingest", resolve=False, export=False)
        took = time.perf_counter() - started
        log(f"spark: {records:,} records generated and ingested in {took:.0f} s")
        store = open_store(project.store_url)
        out = []
        for entity in (Entity.ACCOUNT, Entity.CONTACT):
            with store.transaction() as connection:
                scope = full_scope(connection, project, entity)
                frame = match_input(connection, project, entity, scope.records)
            spec = project.rules.match[entity]
            frequencies = index.frequencies_of(scope.records, spec)
            local_stages, local = local_match(frame, spec, frequencies)
            spark_stages, spark_tasks, on_spark = spark_match(
                session, frame, spec, frequencies, partitions
            )
            same = (
                np.array_equal(local.labels, on_spark.labels)
                and local.links.equals(on_spark.links)
                and local.pairs.equals(on_spark.pairs)
                and local.model is not None
                and on_spark.model is not None
                and local.model.to_dict() == on_spark.model.to_dict()
            )
            out.append(
                {
                    "benchmark": "spark",
                    "source_records": records,
                    "entity": str(entity),
                    "records": len(frame),
                    "candidate_pairs": local.candidate_pairs,
                    "pairs_per_record": local.candidate_pairs / max(len(frame), 1),
                    "identical": bool(same),
                    "partitions": partitions,
                    "local_seconds": local_stages,
                    "spark_seconds": spark_stages,
                    "spark_tasks": spark_tasks,
                    **provenance(),
                }
            )
        store.close()
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def whole_run(session: Any, records: int, seed: int, partitions: int) -> dict[str, Any]:
    """``mdm run`` on the spark engine, every stage that can on Spark: the run's seconds per
    stage and Spark's task seconds per job group."""
    from mdm import pipeline
    from mdm.config import load_project
    from mdm.demo import generate_demo
    from mdm.pipeline import spark_stages
    from mdm.project_files import DEFAULT_RULES

    root = Path(tempfile.mkdtemp(prefix="mdm-bench-spark-run-"))
    thresholds = (spark_stages.STANDARDIZE_ON_SPARK_FROM, spark_stages.SURVIVE_ON_SPARK_FROM)
    try:
        generate_demo(root, accounts=round(records / RECORDS_PER_ORGANISATION), seed=seed)
        shutil.copytree(DEFAULT_RULES, root / "rules")
        toml = root / "mdm.toml"
        settings = f"\n[spark]\npartitions = {partitions}\n"
        toml.write_text('engine = "spark"\n' + toml.read_text(encoding="utf-8") + settings)
        project = load_project(root)
        spark_stages.STANDARDIZE_ON_SPARK_FROM = spark_stages.SURVIVE_ON_SPARK_FROM = 1
        jobs_before = {job["jobId"] for job in _api(session, "jobs")}
        started = time.perf_counter()
        summary = pipeline.run(project)
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # the listener bus reports a finished job a moment later
        groups = _group_tasks(session, jobs_before)
        return {
            "benchmark": "spark_whole_run",
            "source_records": records,
            "partitions": partitions,
            "seconds": round(seconds, 1),
            "stages": {t.stage: t.seconds for t in summary.stages},
            "spark_tasks": groups,
            **provenance(),
        }
    finally:
        spark_stages.STANDARDIZE_ON_SPARK_FROM, spark_stages.SURVIVE_ON_SPARK_FROM = thresholds
        shutil.rmtree(root, ignore_errors=True)


# The job groups of a run's Spark stages beyond matching, and their names in the projection.
RUN_GROUPS = {
    "mdm.read": "read sources",
    "mdm.standardize": "standardize",
    "mdm.survivorship": "survivorship",
}


def _group_tasks(session: Any, jobs_before: set[int]) -> dict[str, dict[str, float]]:
    """Task seconds and shuffle bytes of the jobs run since ``jobs_before``, per job group."""
    stages_of: dict[str, set[int]] = {name: set() for name in RUN_GROUPS.values()}
    for job in _api(session, "jobs"):
        name = RUN_GROUPS.get(job.get("jobGroup", ""))
        if name is not None and job["jobId"] not in jobs_before:
            stages_of[name].update(job["stageIds"])
    finished = _api(session, "stages?status=complete")
    totals = {}
    for name, ids in stages_of.items():
        chosen = [s for s in finished if s["stageId"] in ids]
        totals[name] = {
            "task_seconds": sum(s.get("executorRunTime", 0) for s in chosen) / 1000,
            "shuffle_write_mb": sum(s.get("shuffleWriteBytes", 0) for s in chosen) / 1e6,
            "stages": len(chosen),
        }
    return totals


def local_match(frame: Any, spec: Any, frequencies: Any) -> tuple[dict[str, float], Any]:
    """The local engine's stages, as ``match_probabilistic`` runs them, each timed."""
    from mdm.matching import engine, probabilistic
    from mdm.matching.compare import compare_pairs
    from mdm.matching.comparisons import comparisons_from_spec
    from mdm.matching.stages import Constraints, candidate_pairs

    seconds: dict[str, float] = {}
    timer = _Timer(seconds)
    with timer("encode"):
        comparisons = comparisons_from_spec(spec)
        encoded, _ = engine._encoded_for_model(
            frame, spec, comparisons, None, None, frequencies, ()
        )
        constraints = Constraints.of(encoded, None, None)
    with timer("blocking"):
        candidates = candidate_pairs(encoded, spec, constraints)
    with timer("compare"):
        levels = compare_pairs(encoded, candidates.left, candidates.right, comparisons)
    with timer("train"):
        probabilistic.trained_model(encoded, spec, comparisons, candidates, levels)
    with timer("whole match (again, end to end)"):
        result = engine.LocalEngine().match(frame, spec, frequencies=frequencies)
    return seconds, result


def spark_match(
    session: Any, frame: Any, spec: Any, frequencies: Any, partitions: int
) -> tuple[dict[str, float], dict[str, dict[str, float]], Any]:
    """The spark engine's match, its stages timed on the driver and in Spark's tasks."""
    from mdm.config.specs import SparkSpec
    from mdm.matching import spark_engine

    seconds: dict[str, float] = {}
    tasks: dict[str, dict[str, float]] = {}
    asking = [0.0]  # seconds spent asking Spark's monitoring API: not the engine's
    originals = {name: getattr(spark_engine, name) for name in SPARK_STAGES}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            asked = time.perf_counter()
            before = _stages(session)
            started = time.perf_counter()
            asking[0] += started - asked
            result = function(*args, **kwargs)
            done = time.perf_counter()
            seconds[SPARK_STAGES[name]] = round(done - started, 3)
            tasks[SPARK_STAGES[name]] = _task_totals(session, before)
            asking[0] += time.perf_counter() - done
            return result

        return run

    def on_driver(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        stage = DRIVER_STAGES[name][0]

        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = function(*args, **kwargs)
            seconds[stage] = round(seconds.get(stage, 0.0) + time.perf_counter() - started, 3)
            return result

        return run

    drivers = {name: getattr(spark_engine, name) for name in DRIVER_STAGES}
    for name, function in originals.items():
        setattr(spark_engine, name, timed(name, function))
    for name, function in drivers.items():
        setattr(spark_engine, name, on_driver(name, function))
    try:
        started = time.perf_counter()
        engine = spark_engine.SparkEngine(SparkSpec(partitions=partitions))
        result = engine.match(frame, spec, frequencies=frequencies)
        total = time.perf_counter() - started - asking[0]
    finally:
        for name, function in {**originals, **drivers}.items():
            setattr(spark_engine, name, function)
    # Stages nest (clustering runs inside the collect's caller, not inside a Spark stage), so
    # what no stage timed is the driver's own frame handling.
    seconds[OTHER_DRIVER] = round(total - sum(seconds.values()), 3)
    seconds["whole match"] = round(total, 3)
    return seconds, tasks, result


class _Timer:
    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)


def _api(session: Any, path: str) -> Any:
    app = session.sparkContext.applicationId
    url = f"http://127.0.0.1:{UI_PORT}/api/v1/applications/{app}/{path}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def _stages(session: Any) -> set[tuple[int, int]]:
    return {(s["stageId"], s["attemptId"]) for s in _api(session, "stages?status=complete")}


def _task_totals(session: Any, before: set[tuple[int, int]]) -> dict[str, float]:
    """Task seconds, shuffle bytes written and records read of the stages run since
    ``before``."""
    time.sleep(0.5)  # the listener bus reports a finished stage a moment later
    new = [
        s
        for s in _api(session, "stages?status=complete")
        if (s["stageId"], s["attemptId"]) not in before
    ]
    return {
        "task_seconds": sum(s.get("executorRunTime", 0) for s in new) / 1000,
        "shuffle_write_mb": sum(s.get("shuffleWriteBytes", 0) for s in new) / 1e6,
        "shuffle_read_mb": sum(s.get("shuffleReadBytes", 0) for s in new) / 1e6,
        "stages": len(new),
    }


def project(
    rows: list[dict[str, Any]], args: argparse.Namespace, runs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The spark engine at ``args.project_records`` source records on the cluster.

    Each Spark stage's task seconds and shuffle bytes are fitted as ``fixed + per_record *
    records`` through the two largest measured sizes (a stage has fixed parts: job and task
    start-up); with one size, all of it is taken as growing with the records. Task seconds
    spread over the cluster's cores at the given efficiency, shuffle bytes over its network.
    The driver's stages do not spread: those that grow with the records (``DRIVER_STAGES``)
    are scaled from the largest size, the others kept."""
    sizes = sorted({r["source_records"] for r in rows})[-2:]
    by_size = [[r for r in rows if r["source_records"] == size] for size in sizes]
    cores = args.workers * args.cores
    bandwidth = args.workers * args.network_gbit * 1e9 / 8 * 0.5  # bytes/s, half the wire

    def fitted(values: list[float]) -> tuple[float, float]:
        return _fitted(values, sizes)

    def measured(name: str, key: str) -> list[float]:
        return [sum(r["spark_tasks"].get(name, {}).get(key, 0.0) for r in rs) for rs in by_size]

    stages: dict[str, dict[str, Any]] = {}
    for name in SPARK_STAGES.values() if rows else ():
        task_fixed, task_slope = fitted(measured(name, "task_seconds"))
        _, shuffle_slope = fitted(measured(name, "shuffle_write_mb"))
        tasks = task_fixed + task_slope * args.project_records
        compute = tasks / (cores * args.efficiency)
        network = shuffle_slope * 1e6 * args.project_records / bandwidth
        stages[name] = {
            "measured_task_seconds": [round(v, 2) for v in measured(name, "task_seconds")],
            "measured_shuffle_mb": [round(v, 2) for v in measured(name, "shuffle_write_mb")],
            "task_seconds_per_million_records": round(task_slope * 1e6, 2),
            "shuffle_mb_per_million_records": round(shuffle_slope * 1e6, 2),
            "projected_seconds": round(compute + network, 1),
        }
    largest = by_size[-1] if by_size else []
    growth = {stage: grows for stage, grows in DRIVER_STAGES.values()} | {OTHER_DRIVER: "records"}
    driver_stages: dict[str, dict[str, Any]] = {}
    for stage, grows in growth.items():
        if not largest:
            break
        seconds = sum(r["spark_seconds"].get(stage, 0.0) for r in largest)
        factor = args.project_records / sizes[-1] if grows == "records" else 1.0
        driver_stages[stage] = {
            "measured_seconds": round(seconds, 2),
            "grows_with": grows,
            "projected_seconds": round(seconds * factor, 1),
        }
    if runs:
        run_stages, run_driver = _projected_run(runs, args, cores)
        stages |= run_stages
        driver_stages |= run_driver
    driver = sum(s["projected_seconds"] for s in driver_stages.values())
    spark_total = sum(s["projected_seconds"] for s in stages.values())
    return {
        "benchmark": "spark_projection",
        "measured_source_records": sizes,
        "projected_source_records": args.project_records,
        "cluster": f"{args.workers} workers x {args.cores} cores",
        "efficiency": args.efficiency,
        "network_gbit_per_worker": args.network_gbit,
        "pairs_per_record": {
            f"{r['entity']}@{r['source_records']}": round(r["pairs_per_record"], 3) for r in rows
        },
        "stages": stages,
        "spark_seconds": round(spark_total, 1),
        "driver_stages": driver_stages,
        "driver_seconds_projected": round(driver, 1),
        "total_seconds": round(spark_total + driver, 1),
    }


# A whole run's stages whose work Spark does (its task seconds are in RUN_GROUPS, or in the
# matching measurement); the rest of a run stays on the driver.
SPARK_RUN_STAGES = {"read": "read sources", "standardize": "standardize"}
SPARK_ENTITY_STAGES = {"survivorship": "survivorship", "match": None}


def _projected_run(
    runs: list[dict[str, Any]], args: argparse.Namespace, cores: int
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """A whole run's Spark stages beyond matching (task seconds per record at the largest run,
    spread over the cluster: reading, standardizing and survivorship do the same work for each
    record, and a fit through two small sizes is thrown off by the first run's JVM warm-up)
    and its driver's part, scaled with the records from the largest: the stages that stay on
    the driver, and the driver's share of the Spark stages (their wall seconds less their task
    seconds over the measuring machine's cores)."""
    sizes = sorted({r["source_records"] for r in runs})[-2:]
    local_cores = 2
    stages: dict[str, dict[str, Any]] = {}
    for name in RUN_GROUPS.values():
        values = [
            sum(r["spark_tasks"][name]["task_seconds"] for r in runs if r["source_records"] == n)
            for n in sizes
        ]
        slope = values[-1] / sizes[-1]
        stages[name] = {
            "measured_task_seconds": [round(v, 2) for v in values],
            "measured_at": sizes,
            "task_seconds_per_million_records": round(slope * 1e6, 2),
            "projected_seconds": round(slope * args.project_records / (cores * args.efficiency), 1),
        }
    largest = [r for r in runs if r["source_records"] == sizes[-1]]
    factor = args.project_records / sizes[-1]
    stays, shares = 0.0, 0.0
    for run in largest:
        for stage, seconds in run["stages"].items():
            group = SPARK_RUN_STAGES.get(stage) or SPARK_ENTITY_STAGES.get(
                stage.rsplit(".", 1)[-1], ""
            )
            if group == "":
                stays += seconds
            elif group is not None:
                task = run["spark_tasks"][group]["task_seconds"]
                shares += max(seconds - task / local_cores, 0.0)
    driver = {
        "driver: the run's other stages (ingest, store reads and writes, ids, export)": {
            "measured_seconds": round(stays, 2),
            "grows_with": "records",
            "projected_seconds": round(stays * factor, 1),
        },
        "driver: its share of read, standardize, survivorship": {
            "measured_seconds": round(shares, 2),
            "grows_with": "records",
            "projected_seconds": round(shares * factor, 1),
        },
    }
    return stages, driver


def _fitted(values: list[float], sizes: list[int]) -> tuple[float, float]:
    """``fixed, per_record`` through two sizes; with one, all of it grows with the records."""
    if len(values) == 1:
        return 0.0, values[0] / sizes[0]
    slope = max((values[1] - values[0]) / (sizes[1] - sizes[0]), 0.0)
    return max(values[1] - slope * sizes[1], 0.0), slope


def summary(rows: list[dict[str, Any]], projection: dict[str, Any]) -> str:
    lines = ["", "| records | entity | pairs | identical | local s | spark s |", "|---" * 6 + "|"]
    for r in rows:
        local = r["local_seconds"]["whole match (again, end to end)"]
        lines.append(
            f"| {r['source_records']:,} | {r['entity']} | {r['candidate_pairs']:,} | "
            f"{r['identical']} | {local:.1f} | {r['spark_seconds']['whole match']:.1f} |"
        )
    lines.append("")
    lines.append(json.dumps(projection, indent=2))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
