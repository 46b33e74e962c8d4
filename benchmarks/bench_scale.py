"""Synthetic Febrl-like people at 100k, 300k and 1M records through mdm and Splink 5.

The records come from ``benchmarks.people.generate_people`` (seeded; 30% of the people have
1-3 duplicates with typos, nicknames, swapped names, date errors, id errors and moves). For
each size both engines get the identical file and run in fresh processes:

* mdm: standardize, then match (block, compare, train, score, cluster);
* Splink: train (probability, u by random sampling, m by EM on two blocking rules),
  predict and cluster at 0.5, on DuckDB.

One JSON line per (size, engine) with seconds, peak_mb, f1 (and precision, recall,
candidate_pairs, blocking_recall); one ``comparison`` line per size with
``speedup`` (splink seconds / mdm seconds) and ``memory_ratio`` (splink peak / mdm peak);
one ``growth`` line with mdm's cost from the smallest to the largest size.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100000 1000000] [--quick]
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

from benchmarks.harness import (  # noqa: E402
    BenchmarkError,
    Record,
    emit,
    log,
    provenance,
    rounded,
    run_isolated,
)
from benchmarks.people import generate_people  # noqa: E402
from benchmarks.person_engines import mdm_person_job, splink_person_job, write_input  # noqa: E402

SIZES = (100_000, 300_000, 1_000_000)
QUICK_SIZES = (20_000,)
SEED = 20_240_917
ENGINES = ("mdm", "splink")


def _ratio(numerator: object, denominator: object) -> float | None:
    if isinstance(numerator, int | float) and isinstance(denominator, int | float) and denominator:
        return numerator / denominator
    return None


def run(sizes: list[int], engines: list[str], seed: int) -> int:
    origin = provenance()
    failures = 0
    mdm_results: dict[int, Record] = {}
    with tempfile.TemporaryDirectory(prefix="mdm-bench-scale-") as scratch:
        for size in sizes:
            started = time.perf_counter()
            frame = generate_people(size, seed=seed)
            log(f"{size:,} records generated in {time.perf_counter() - started:.1f} s")
            path = write_input(frame, Path(scratch) / f"people-{size}.parquet")
            entities = int(frame["entity_id"].nunique())
            del frame
            results: dict[str, Record] = {}
            for engine in engines:
                log(f"{size:,}: {engine}")
                try:
                    if engine == "mdm":
                        result = run_isolated(mdm_person_job, path)
                    else:
                        result = run_isolated(splink_person_job, path, "scale", False)
                except BenchmarkError as error:
                    failures += 1
                    log(str(error))
                    result = {"error": str(error).strip().splitlines()[-1]}
                results[engine] = result
                emit(
                    rounded(
                        {
                            "benchmark": "scale",
                            "records": size,
                            "entities": entities,
                            "seed": seed,
                            "engine": engine,
                            **result,
                            **origin,
                        }
                    )
                )
            if "mdm" in results:
                mdm_results[size] = results["mdm"]
            if {"mdm", "splink"} <= results.keys():
                mdm, splink = results["mdm"], results["splink"]
                mdm_f1, splink_f1 = mdm.get("f1"), splink.get("f1")
                not_lower = (
                    mdm_f1 >= splink_f1
                    if isinstance(mdm_f1, float) and isinstance(splink_f1, float)
                    else None
                )
                emit(
                    rounded(
                        {
                            "benchmark": "scale",
                            "records": size,
                            "engine": "comparison",
                            "speedup": _ratio(splink.get("seconds"), mdm.get("seconds")),
                            "memory_ratio": _ratio(splink.get("peak_mb"), mdm.get("peak_mb")),
                            "mdm_f1": mdm_f1,
                            "splink_f1": splink_f1,
                            "f1_not_lower": not_lower,
                            **origin,
                        },
                        4,
                    )
                )
    measured = sorted(size for size, result in mdm_results.items() if "seconds" in result)
    if len(measured) >= 2:
        small, large = measured[0], measured[-1]
        emit(
            rounded(
                {
                    "benchmark": "scale",
                    "engine": "mdm",
                    "growth_from": small,
                    "growth_to": large,
                    "records_factor": large / small,
                    "seconds_factor": _ratio(
                        mdm_results[large]["seconds"], mdm_results[small]["seconds"]
                    ),
                    "peak_mb_factor": _ratio(
                        mdm_results[large]["peak_mb"], mdm_results[small]["peak_mb"]
                    ),
                    **origin,
                },
                3,
            )
        )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="20k records only (a smoke run)")
    args = parser.parse_args(argv)
    sizes = args.sizes or list(QUICK_SIZES if args.quick else SIZES)
    return 1 if run(sizes, args.engines, args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
