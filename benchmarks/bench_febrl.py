"""Febrl 1-4 through mdm and through Splink 5 on DuckDB: one JSON line per (dataset, engine).

febrl1-3 are deduplication tasks, febrl4 links file A to file B. Truth comes from the record
ids ("rec-12-org" and "rec-12-dup-0" are one person); no engine sees it. Fields per line:
precision, recall, f1 (pairwise, from clusters), true_pairs, predicted_pairs,
true_positives, candidate_pairs, blocking_recall (share of true pairs among the candidate
pairs), seconds and peak_mb (measured in a fresh process per run), and where the figures
came from (commit, engine digest, rules file and method).

    .venv/bin/python benchmarks/bench_febrl.py [--datasets febrl1 febrl4] [--engines mdm]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    BenchmarkError,
    Record,
    emit,
    log,
    provenance,
    rounded,
    run_isolated,
)
from benchmarks.people import FEBRL_DATASETS, load_febrl  # noqa: E402
from benchmarks.person_engines import mdm_person_job, splink_person_job, write_input  # noqa: E402

ENGINES = ("mdm", "splink")


def run(datasets: list[str], engines: list[str]) -> int:
    """Measure each engine on each dataset; the number of runs that failed."""
    origin = provenance()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mdm-bench-febrl-") as scratch:
        for dataset in datasets:
            frame = load_febrl(dataset)  # type: ignore[arg-type]
            link = dataset == "febrl4"
            path = write_input(frame, Path(scratch) / f"{dataset}.parquet")
            for engine in engines:
                log(f"{dataset}: {engine}")
                base: Record = {
                    "benchmark": "febrl",
                    "dataset": dataset,
                    "task": "linkage" if link else "deduplication",
                    "engine": engine,
                    "records": len(frame),
                }
                try:
                    if engine == "mdm":
                        result = run_isolated(mdm_person_job, path, link)
                    else:
                        result = run_isolated(splink_person_job, path, "febrl", link)
                except BenchmarkError as error:
                    failures += 1
                    log(str(error))
                    result = {"error": str(error).strip().splitlines()[-1]}
                emit(rounded({**base, **result, **origin}))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=FEBRL_DATASETS, default=None)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--quick", action="store_true", help="febrl1 only (a smoke run)")
    args = parser.parse_args(argv)
    datasets = args.datasets or (["febrl1"] if args.quick else list(FEBRL_DATASETS))
    return 1 if run(datasets, args.engines) else 0


if __name__ == "__main__":
    sys.exit(main())
