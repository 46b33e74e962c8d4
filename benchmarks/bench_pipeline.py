"""The whole nightly job, end to end: ``mdm run`` on accounts and contacts from four systems.

For each size (in source records) the demo generator (``mdm.demo.generate_demo``, what ``mdm
demo`` and the other customer benchmarks use) writes a project: five extracts of four systems
(CRM accounts and contacts, ERP customers, marketing leads, support contacts), the truth, and
mdm's default rules, as ``mdm demo`` sets them up. For each store a fresh copy of that project
gets a fresh store (a new SQLite file, or a new PostgreSQL database dropped afterwards) and
``mdm run`` runs once, as its own process, as a user would start it.

One JSON line per (size, store) on stdout: ``seconds`` (the wall time of the ``mdm run``
process: interpreter start, imports, reading, the run, the export), ``peak_mb`` (that process's
peak resident memory), ``stage_seconds`` and ``stage_peak_mb`` as the run recorded them in its
own run record (what ``mdm status --run N`` shows; read from the store afterwards, not timed
here), and pairwise precision, recall and F1 of the accounts and contacts in the run's
``xref.csv`` against the generator's truth. At the end a per-stage table (Markdown) on stderr;
``--table results.jsonl`` prints it again from saved lines.

    .venv/bin/python benchmarks/bench_pipeline.py [--records 100000 300000 1000000]
        [--stores sqlite postgresql] [--seed 7] [--quick]

PostgreSQL: the server of ``MDM_TEST_POSTGRES_URL`` (as the tests), by default
postgresql+psycopg://postgres@127.0.0.1:5432/test; each run creates its own database there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    BenchmarkError,
    Record,
    emit,
    log,
    peak_rss_mb,
    provenance,
    rounded,
    run_isolated,
)

SIZES = (100_000, 300_000, 1_000_000)  # source records
QUICK_SIZE = 10_000
STORES = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get(
    "MDM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CALIBRATION_ORGANISATIONS = 20_000  # a sample of the generator, to turn records into organisations
DEMO_STORE_LINE = 'url = "sqlite:///mdm.db"'

# `mdm run` as the `mdm` script runs it, plus one thing: when the command ends, its own peak
# resident memory is written to the file named by argv[1] (VmHWM; not ru_maxrss, which Linux
# carries over from the parent that started the process).
_MDM_RUN = """\
import sys
peak_file, root = sys.argv[1], sys.argv[2]
sys.argv = ["mdm", *sys.argv[3:]]
try:
    from mdm.cli import main
    main()
finally:
    sys.path.insert(0, root)
    from benchmarks.harness import peak_rss_mb
    with open(peak_file, "w", encoding="ascii") as handle:
        handle.write(repr(peak_rss_mb()))
"""


# ---- one size: the project, then one run per store ---------------------------------------------


def measure_size(
    records: int, stores: Sequence[str], *, seed: int = 7, server: str = POSTGRES_URL
) -> Iterator[Record]:
    """Generate a project of about ``records`` source records, then ``mdm run`` it on a fresh
    store of each kind in ``stores``; yields one result per store (with ``error`` if it failed).
    """
    with tempfile.TemporaryDirectory(prefix="mdm-bench-pipeline-") as scratch:
        generated = Path(scratch) / "generated"
        log(f"pipeline: generating about {records:,} source records")
        try:
            # In a child of its own: the generator's memory never raises this process's peak,
            # which every process it starts inherits as its ru_maxrss (the run record's peaks).
            data = run_isolated(generate_job, str(generated), records, seed)
        except BenchmarkError as error:
            log(str(error))
            for store in stores:
                yield _failed(records, store, seed, error)
            return
        data.pop("load_before", None)
        log(
            f"pipeline: {data['records']:,} source records ({data['organisations']:,} "
            f"organisations) in {data['generate_seconds']:.1f} s"
        )
        for store in stores:
            project = Path(scratch) / store
            shutil.copytree(generated, project)
            try:
                with fresh_store(store, project, server) as url:
                    set_store(project, url)
                    log(f"pipeline: mdm run, {data['records']:,} records, {store}")
                    measured = run_mdm(project)
                    log(
                        f"pipeline: {measured['seconds']:.1f} s, {measured['peak_mb']:.0f} MB; "
                        "reading the run record and scoring"
                    )
                    scored = run_isolated(score_job, str(project), url)
                    scored.pop("load_before", None)
                yield {
                    "benchmark": "pipeline",
                    "store": store,
                    "target_records": records,
                    "seed": seed,
                    **data,
                    **measured,
                    **scored,
                }
            except (BenchmarkError, OSError) as error:
                log(str(error))
                yield _failed(records, store, seed, error)
            finally:
                shutil.rmtree(project, ignore_errors=True)


def _failed(records: int, store: str, seed: int, error: Exception) -> Record:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return {
        "benchmark": "pipeline",
        "store": store,
        "target_records": records,
        "seed": seed,
        "error": lines[-1],
    }


def generate_job(directory: str, records: int, seed: int) -> Record:
    """The demo project at about ``records`` source records, with mdm's default rules.

    The generator takes organisations; how many source records one makes comes from a sample
    of the same generator and seed, so the size follows the generator if it changes.
    """
    from mdm.demo import generate_demo
    from mdm.demo.generate import generate_tables
    from mdm.project_files import DEFAULT_RULES

    started = time.perf_counter()
    sample = generate_tables(accounts=CALIBRATION_ORGANISATIONS, seed=seed)
    per_organisation = sum(len(t) for t in sample.tables.values()) / CALIBRATION_ORGANISATIONS
    organisations = max(1, round(records / per_organisation))
    root = Path(directory)
    # faults=False: broken rows are the ingest tests' business (as in bench_customers).
    truth = generate_demo(root, accounts=organisations, seed=seed, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules", dirs_exist_ok=True)  # as `mdm demo` does
    return {
        "organisations": organisations,
        "records": len(truth.accounts) + len(truth.contacts),
        "account_source_records": len(truth.accounts),
        "contact_source_records": len(truth.contacts),
        "generate_seconds": round(time.perf_counter() - started, 2),
    }


# ---- the store --------------------------------------------------------------------------------


def server_url(url: str) -> str:
    """The PostgreSQL server URL with the driver mdm uses (psycopg 3) when none is named."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def fresh_store(store: str, project: Path, server: str = POSTGRES_URL) -> Iterator[str]:
    """The URL of an empty store: a new SQLite file in the project, or a new database on the
    PostgreSQL server, dropped afterwards."""
    if store == "sqlite":
        yield f"sqlite:///{project / 'mdm.db'}"
        return
    if store != "postgresql":
        raise ValueError(f"unknown store {store!r}: {', '.join(STORES)}")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    server = server_url(server)
    name = f"mdm_bench_pipeline_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as error:
            where = make_url(server).render_as_string(hide_password=True)
            raise BenchmarkError(
                f"PostgreSQL not reachable at {where} (set MDM_TEST_POSTGRES_URL): {error.orig}"
            ) from None
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def set_store(project: Path, url: str) -> None:
    """Point the project's ``mdm.toml`` at ``url``."""
    path = project / "mdm.toml"
    text = path.read_text(encoding="utf-8")
    if text.count(DEMO_STORE_LINE) != 1:
        raise BenchmarkError(f"{path} has no line {DEMO_STORE_LINE!r} to point at the store")
    path.write_text(text.replace(DEMO_STORE_LINE, f"url = {json.dumps(url)}"), encoding="utf-8")


# ---- the run ----------------------------------------------------------------------------------


def run_mdm(project: Path) -> Record:
    """``mdm run -p project`` in a new process: its wall seconds and its own peak memory.

    The command's output goes to stderr (stdout carries only the benchmark's JSON lines).
    """
    peak_file = project.parent / f"{project.name}.peak"
    command = [sys.executable, "-c", _MDM_RUN, str(peak_file), str(ROOT), "run", "-p", str(project)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=2, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchmarkError(f"mdm run failed with exit code {done.returncode} (see above)")
    peak = float(peak_file.read_text(encoding="ascii"))
    return {"seconds": round(seconds, 3), "peak_mb": round(peak, 1), "load_before": round(load, 2)}


def score_job(project_dir: str, url: str) -> Record:
    """The last run's record (its stages, seconds and counts) and the scores of its export.

    Stage seconds and peaks are the run's own (``mdm status --run N``): nothing is re-timed.
    """
    import pandas as pd
    from sqlalchemy import create_engine

    from benchmarks.customers import score
    from mdm.views.runs import recent_runs, run_view

    project = Path(project_dir)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            latest = recent_runs(connection, 1)
            if not latest:
                raise BenchmarkError(f"the store at {project} holds no run")
            run = run_view(connection, latest[0].id)
    finally:
        engine.dispose()
    if run.status != "succeeded":
        raise BenchmarkError(f"run {run.id} {run.status}: {run.error}")
    stages = {stage.stage: stage.seconds for stage in run.stages}
    out: Record = {
        "run_id": run.id,
        "run_seconds": run.seconds,  # the run record's start to finish (after reading)
        "stage_seconds": stages,
        "stage_seconds_total": round(sum(stages.values()), 3),
        "stage_peak_mb": {stage.stage: stage.peak_mb for stage in run.stages},
    }
    for counts in run.entities:
        out[f"{counts.entity}_golden"] = counts.golden
        out[f"{counts.entity}_candidate_pairs"] = counts.candidate_pairs
    exports = Path(run.exports) if run.exports else project / "exports"
    xref = pd.read_csv(exports / "xref.csv", dtype=str, keep_default_na=False)
    for entity in ("account", "contact"):
        truth = pd.read_csv(project / "truth" / f"{entity}s.csv", dtype=str, keep_default_na=False)
        scores = score(xref[xref["entity"] == entity], truth, "golden_id", f"{entity}_")
        # Live records (a deleted one is not in the export), not the source's rows.
        scores[f"{entity}_scored_records"] = scores.pop(f"{entity}_records")
        out.update(scores)
    out["scoring_peak_mb"] = round(peak_rss_mb(), 1)
    return out


# ---- the table --------------------------------------------------------------------------------


def stage_table(results: Sequence[Record]) -> str:
    """Seconds per stage (rows) for each run (columns), then the totals, peak memory and F1."""
    runs = [r for r in results if r.get("benchmark") == "pipeline" and "stage_seconds" in r]
    if not runs:
        return "(no pipeline run succeeded)"
    stages: list[str] = []
    for result in runs:
        stages += [name for name in result["stage_seconds"] if name not in stages]
    header = ["stage", *(f"{r['store']} {r['records']:,}" for r in runs)]
    rows = [[name, *(_seconds(r["stage_seconds"].get(name)) for r in runs)] for name in stages]
    rows += [
        ["stages (sum)", *(_seconds(r["stage_seconds_total"]) for r in runs)],
        ["run record (start to finish)", *(_seconds(r.get("run_seconds")) for r in runs)],
        ["end to end", *(_seconds(r["seconds"]) for r in runs)],
        ["peak MB", *(f"{r['peak_mb']:,.0f}" for r in runs)],
        ["account F1", *(f"{r['account_f1']:.4f}" for r in runs)],
        ["contact F1", *(f"{r['contact_f1']:.4f}" for r in runs)],
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _seconds(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else ""


# ---- the command ------------------------------------------------------------------------------


def run(sizes: Sequence[int], stores: Sequence[str], seed: int) -> int:
    origin = provenance()
    results: list[Record] = []
    for records in sizes:
        for result in measure_size(records, stores, seed=seed):
            record = rounded({**result, **origin})
            emit(record)
            results.append(record)
    print("\n" + stage_table(results), file=sys.stderr, flush=True)
    return sum(1 for r in results if "error" in r)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records", type=int, nargs="+", default=None, help="source records (100k 300k 1M)"
    )
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SIZE:,} records (a smoke run)"
    )
    parser.add_argument(
        "--table", type=Path, metavar="RESULTS", help="only print the table of saved JSON lines"
    )
    args = parser.parse_args(argv)
    if args.table:
        lines = args.table.read_text(encoding="utf-8").splitlines()
        print(stage_table([json.loads(line) for line in lines if line.startswith("{")]))
        return 0
    sizes = args.records or ([QUICK_SIZE] if args.quick else list(SIZES))
    return 1 if run(sizes, args.stores, args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
