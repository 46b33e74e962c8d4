"""Nightly deltas: the time of a 1% delta against the time of the full load it follows.

Generates the multi-source demo data at a chosen size, declares every source a delta source
(`mode = "delta"`: the first load brings everything), runs the full load into a fresh SQLite
store, then delivers delta files holding 1% of the records with new phones and newer
timestamps (the other sources deliver empty deltas) and runs again. Prints one JSON line per
size; progress goes to stderr.

    .venv/bin/python benchmarks/bench_nightly.py [--accounts 20000] [--delta 0.01] [--export]

With ``--export`` both runs write the export as a nightly job's runs do (the delta patches the
full load's export); without it neither does.

With ``--delta-records N`` it measures the fixed cost of a small nightly run instead: the full
load exports (as a nightly project's runs do), then exactly N records change and ``mdm run``
runs as its own process, export and run report included. It prints that process's wall time,
the time of a Python that starts and does nothing, and the stage seconds the run recorded.
``--keep DIR`` leaves a copy of the project as the full load left it (store and export), for
measuring or profiling that delta again.

    .venv/bin/python benchmarks/bench_nightly.py --accounts 20000 --delta-records 10
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
from pathlib import Path

import numpy as np
import pandas as pd

from mdm import pipeline
from mdm.config import load_project
from mdm.config.specs import Project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES
from mdm.schema import RunStatus
from mdm.store import open_store, runs

CSV_SOURCES = {"crm_accounts": "data/crm_accounts.csv", "crm_contacts": "data/crm_contacts.csv"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000])
    parser.add_argument("--delta", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--export", action="store_true", help="both runs write the export, as nightly runs do"
    )
    parser.add_argument(
        "--delta-records",
        type=int,
        default=None,
        help="measure a delta of exactly this many changed records, as an `mdm run` process",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="copy the project after the full load here"
    )
    args = parser.parse_args()
    for accounts in args.accounts:
        if args.delta_records is None:
            result = measure(accounts, args.delta, args.seed, export=args.export)
        else:
            keep = args.keep / str(accounts) if args.keep and len(args.accounts) > 1 else args.keep
            result = measure_small(accounts, args.delta_records, args.seed, keep)
        print(json.dumps(result), flush=True)


def delta_project(folder: Path, accounts: int, seed: int) -> tuple[Path, Project]:
    """The demo project in ``folder``, every source a delta source, with mdm's default rules."""
    root = folder / "project"
    generate_demo(root, accounts=accounts, seed=seed, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules")
    as_delta_sources(root)
    return root, load_project(root)


def measure(accounts: int, share: float, seed: int, *, export: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        root, project = delta_project(Path(folder), accounts, seed)
        log(f"{accounts} organisations: full load" + (" with its export" if export else ""))
        started = time.perf_counter()
        full = pipeline.run(project, export=export)
        full_seconds = time.perf_counter() - started
        records = sum(entity.records for entity in full.entities)
        changed = change_records(root, round(records * share), np.random.default_rng(seed))
        log(f"delta of {changed} records")
        started = time.perf_counter()
        delta = pipeline.run(project, export=export)
        delta_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pipeline.run(project, export=export)
        rerun_seconds = time.perf_counter() - started
    return {
        "benchmark": "nightly_delta",
        "accounts": accounts,
        "records": records,
        "delta_records": changed,
        "delta_share": round(changed / records, 4),
        "full_seconds": round(full_seconds, 2),
        "delta_seconds": round(delta_seconds, 2),
        "rerun_seconds": round(rerun_seconds, 2),
        "delta_over_full": round(delta_seconds / full_seconds, 4),
        "delta_scope_records": sum(entity.scope for entity in delta.entities),
        "delta_full_run": delta.full,
        "export": export,
        "stages_full": stage_seconds(full),
        "stages_delta": stage_seconds(delta),
    }


def measure_small(accounts: int, count: int, seed: int, keep: Path | None) -> dict[str, object]:
    """A full load with its export, then a delta of ``count`` records as an `mdm run` process."""
    with tempfile.TemporaryDirectory() as folder:
        root, project = delta_project(Path(folder), accounts, seed)
        log(f"{accounts} organisations: full load with its export")
        started = time.perf_counter()
        full = pipeline.run(project)
        full_seconds = time.perf_counter() - started
        records = sum(entity.records for entity in full.entities)
        if keep is not None:
            shutil.copytree(root, keep)
        changed = change_records(root, count, np.random.default_rng(seed))
        log(f"delta of {changed} records: mdm run")
        delta = run_process(root)
    return {
        "benchmark": "nightly_small_delta",
        "accounts": accounts,
        "records": records,
        "delta_records": changed,
        "full_seconds": round(full_seconds, 2),
        **delta,
    }


def stage_seconds(summary: pipeline.RunSummary) -> dict[str, float]:
    """The seconds of each stage the run recorded."""
    return {stage.stage: round(stage.seconds, 2) for stage in summary.stages}


def run_process(root: Path) -> dict[str, object]:
    """``mdm run`` in a process of its own: its wall time, the time of a Python that starts and
    does nothing, and the stage seconds the run recorded."""
    # Started in the project's folder: ``-m`` puts the working folder first on the module
    # path, and a checkout's would win over PYTHONPATH (how another version is measured).
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=root)
    python_seconds = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mdm", "run", "-p", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120"},
        cwd=root,
    )
    process_seconds = time.perf_counter() - started
    store = open_store(load_project(root).store_url)
    try:
        with store.transaction() as connection:
            run_id = runs.latest_run_id(connection, RunStatus.SUCCEEDED)
            if run_id is None:
                raise RuntimeError(f"no successful run in {root}")
            summary = json.loads(runs.run_record(connection, run_id)["summary"].iloc[0])
    finally:
        store.close()
    stages = {stage["stage"]: round(stage["seconds"], 3) for stage in summary["stages"]}
    return {
        "delta_full_run": summary["full"],
        "delta_scope_records": sum(entity["scope"] for entity in summary["entities"]),
        "process_seconds": round(process_seconds, 2),
        "python_start_seconds": round(python_seconds, 2),
        "stages_seconds": round(sum(stages.values()), 2),
        "stages": stages,
    }


def as_delta_sources(root: Path) -> None:
    text = (root / "mdm.toml").read_text(encoding="utf-8")
    (root / "mdm.toml").write_text(
        text.replace("[[sources]]\n", '[[sources]]\nmode = "delta"\n'), encoding="utf-8"
    )


def change_records(root: Path, total: int, rng: np.random.Generator) -> int:
    """Deliver delta files: ``total`` records of the CSV sources with a new phone and a newer
    timestamp; every other source delivers an empty delta."""
    changed = 0
    for index, path in enumerate(CSV_SOURCES.values()):
        frame = pd.read_csv(root / path, dtype=str, keep_default_na=False)
        # ``total`` in all: the first sources take the remainder of an uneven split.
        share, remainder = divmod(total, len(CSV_SOURCES))
        count = max(1, share + (index < remainder))
        rows = rng.choice(len(frame), count, replace=False)
        numbers = rng.integers(2_000_000, 9_999_999, len(rows))
        delta = frame.iloc[rows].copy()
        delta["Phone"] = [f"+1 415 {n // 10_000:03d} {n % 10_000:04d}" for n in numbers]
        delta["LastModifiedDate"] = "2026-11-23T02:00:00Z"
        delta.to_csv(root / path, index=False, lineterminator="\n")
        changed += len(rows)
    empty_other_sources(root)
    return changed


def empty_other_sources(root: Path) -> None:
    leads = root / "data" / "marketing_leads.jsonl"
    leads.write_text("", encoding="utf-8")
    support = root / "data" / "support_contacts.parquet"
    pd.read_parquet(support).iloc[0:0].to_parquet(support, index=False)
    erp = root / "data" / "erp_customers.csv"
    header = erp.read_text(encoding="latin-1").splitlines()[0]
    erp.write_text(header + "\n", encoding="latin-1")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
