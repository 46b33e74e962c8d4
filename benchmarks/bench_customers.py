"""The multi-source customer benchmark: accounts and contacts from five extracts of four systems.

The demo generator's world at ``--accounts`` organisations (default 5000) plus stale ERP
addresses (``benchmarks.customers``); the real mdm pipeline against Splink 5 on the same
live records. One JSON line per engine: account_* and contact_* precision, recall and f1
(pairwise, from clusters, on every live record with a truth), seconds and peak_mb (fresh
process each), and ``hard_cases``: how often each hard case of issue 3 occurs in the data.

mdm's seconds are the whole pipeline (read, ingest into SQLite, standardize, match,
survivorship, relate, export); Splink's are training, prediction and clustering of the two
entities on inputs mdm has already read and standardized (``splink_input``).

    .venv/bin/python benchmarks/bench_customers.py [--accounts 5000] [--seed 7] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.customers import build_project, mdm_job, splink_job  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    BenchmarkError,
    Record,
    emit,
    log,
    provenance,
    rounded,
    run_isolated,
)

ENGINES = ("mdm", "splink")


def run(accounts: int, seed: int, engines: list[str]) -> int:
    origin = provenance()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mdm-bench-customers-") as scratch:
        directory = Path(scratch) / "project"
        started = time.perf_counter()
        project = build_project(directory, accounts=accounts, seed=seed)
        log(f"{accounts:,} organisations generated in {time.perf_counter() - started:.1f} s")
        for engine in engines:
            log(f"customers: {engine}")
            try:
                job = mdm_job if engine == "mdm" else splink_job
                result = run_isolated(job, str(directory))
            except BenchmarkError as error:
                failures += 1
                log(str(error))
                result = {"error": str(error).strip().splitlines()[-1]}
            record: Record = {
                "benchmark": "customers",
                "accounts": accounts,
                "seed": seed,
                "engine": engine,
                **result,
                "hard_cases": project.hard_cases,
                **origin,
            }
            emit(rounded(record))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=None, help="organisations (5000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--quick", action="store_true", help="1000 organisations (a smoke run)")
    args = parser.parse_args(argv)
    accounts = args.accounts or (1000 if args.quick else 5000)
    return 1 if run(accounts, args.seed, args.engines) else 0


if __name__ == "__main__":
    sys.exit(main())
