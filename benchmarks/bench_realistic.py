"""The realistic multi-source customer benchmark: five systems, eight extracts, nightly deltas.

Data from ``benchmarks.realistic`` (its own generator, sharing nothing with ``mdm.demo``):
``--companies`` organisations (default 20000: about 130,000 live source records) with the hard
cases real customer data has (relatives, colleagues and name twins; full names only; personal
vs work emails; franchise and branch locations; moves; damaged ZIP codes; stale values; ERP
names in upper case, abbreviated and split), ``--nights`` nightly deltas of the CRM contacts
and the support desk. One JSON line per (size, engine, entity) on stdout:

* mdm: the real pipeline on the first load and each night, scored after the last night:
  pairwise precision, recall and F1, golden-value accuracy (per attribute), contact-to-account
  attachment accuracy, blocking recall and candidate pairs, seconds (the first load's run)
  and peak memory; then ``run(full=True)`` and the records it moved (``delta_vs_full``, must
  be 0), and the wrong pairs by kind (``errors``);
* Splink 5: the same live records (after the last night), read and standardized by mdm's
  readers and standardizers, deduplicated by a competent user's Splink model.

    .venv/bin/python benchmarks/bench_realistic.py [--companies 20000] [--seed 11]
        [--engines mdm splink] [--nights 3] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
from benchmarks.realistic.mdm_job import mdm_job  # noqa: E402
from benchmarks.realistic.project import build_project  # noqa: E402
from benchmarks.realistic.splink_job import splink_job  # noqa: E402

ENGINES = ("mdm", "splink")
SHARED = ("seconds", "peak_mb", "input_mb", "load_before")


def _lines(engine: str, result: Record) -> list[Record]:
    """One record per entity from a job's result (entity blocks plus shared figures)."""
    shared = {key: value for key, value in result.items() if key not in ("account", "contact")}
    errors: dict[str, Any] = shared.pop("errors", {})
    lines = []
    for entity in ("account", "contact"):
        line = {**result.get(entity, {}), **shared}
        if errors:
            line["errors"] = errors.get(entity, {})
        lines.append({"entity": entity, **line})
    return lines


def run(
    companies: int, seed: int, engines: list[str], nights: int, keep: Path | None = None
) -> int:
    origin = provenance()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mdm-bench-realistic-") as scratch:
        directory = keep or Path(scratch) / "project"
        started = time.perf_counter()
        project = build_project(directory, companies=companies, seed=seed, nights=nights)
        log(
            f"{companies:,} organisations: {project.records['account']:,} account and "
            f"{project.records['contact']:,} contact records after {nights} nights, generated "
            f"in {time.perf_counter() - started:.1f} s"
            + ("" if project.new_keys else " (without the new mapping keys)")
        )
        for engine in engines:
            log(f"realistic: {engine}")
            try:
                if engine == "mdm":
                    result = run_isolated(mdm_job, str(directory), nights)
                else:
                    result = run_isolated(splink_job, str(directory), nights)
                lines = _lines(engine, result)
            except BenchmarkError as error:
                failures += 1
                log(str(error))
                message = str(error).strip().splitlines()[-1]
                lines = [{"entity": e, "error": message} for e in ("account", "contact")]
            for line in lines:
                record: Record = {
                    "benchmark": "realistic",
                    "companies": companies,
                    "seed": seed,
                    "nights": nights,
                    "engine": engine,
                    **line,
                    "live_records": project.records,
                    "new_mapping_keys": project.new_keys,
                    "hard_cases": project.hard_cases,
                    **origin,
                }
                emit(rounded(record))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=None, help="organisations (20000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--nights", type=int, default=3, help="nightly deltas (3)")
    parser.add_argument("--quick", action="store_true", help="2000 organisations (a smoke run)")
    parser.add_argument("--keep", type=Path, default=None, help="write the project here, keep it")
    args = parser.parse_args(argv)
    companies = args.companies or (2000 if args.quick else 20000)
    return 1 if run(companies, args.seed, args.engines, args.nights, args.keep) else 0


if __name__ == "__main__":
    sys.exit(main())
