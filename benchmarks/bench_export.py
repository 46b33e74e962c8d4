"""The export every run writes: seconds and peak memory of writing the whole master as CSV and
as Parquet.

Builds the realistic multi-source project (``benchmarks.realistic``, no nights) at
``--companies`` organisations (default 2000: about 13,000 live source records; 20000 is about
130,000 and 150000 about 1,000,000), loads it with ``mdm run`` (without its export), then
exports the store once per format, each in a fresh process (``harness.run_isolated``):
``seconds`` (wall) and ``cpu_seconds`` of ``export_store`` alone, ``peak_mb`` of that process
(``input_mb``: its peak before the export, interpreter and libraries), the bytes written
and (Parquet) the rows. ``--project DIR`` measures the store of an existing project instead
of building one. One JSON line per format on stdout; progress on stderr.

    .venv/bin/python benchmarks/bench_export.py [--companies 2000] [--formats csv parquet]
        [--project DIR] [--keep DIR] [--seed 11]
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
    Meter,
    Record,
    emit,
    log,
    provenance,
    rounded,
    run_isolated,
)

FORMATS = ("csv", "parquet")


def export_job(project_dir: str, fmt: str, out: str) -> Record:
    """Export the project's store once in ``fmt`` to ``out``; measured from after the imports."""
    from mdm.config import load_project
    from mdm.publish import ExportFormat, export_store

    project = load_project(Path(project_dir))
    meter = Meter()
    cpu = time.process_time()
    export_store(project.store_url, Path(out), ExportFormat(fmt))
    measured = meter.stop()
    files = sorted(path for path in Path(out).iterdir() if not path.name.startswith("."))
    return {
        **measured,
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "bytes": {path.name: path.stat().st_size for path in files},
        "rows": _rows(files),
    }


def _rows(files: list[Path]) -> dict[str, int]:
    """Rows per Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return {
        path.stem: pq.ParquetFile(path).metadata.num_rows
        for path in files
        if path.suffix == ".parquet"
    }


def build(directory: Path, companies: int, seed: int) -> Record:
    """Generate the project and load it (``mdm run`` without the export)."""
    from benchmarks.realistic.project import build_project
    from mdm import pipeline
    from mdm.config import load_project

    started = time.perf_counter()
    project = build_project(directory, companies=companies, seed=seed, nights=0)
    log(f"{companies:,} organisations: {project.records} live records, generated")
    pipeline.run(load_project(directory), export=False)
    log(f"loaded in {time.perf_counter() - started:.1f} s")
    return {"companies": companies, "seed": seed, "live_records": project.records}


def run(
    companies: int, seed: int, formats: list[str], project: Path | None, keep: Path | None
) -> int:
    origin = provenance()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mdm-bench-export-") as scratch:
        if project is not None:
            directory, built = project, {"project": str(project)}
        else:
            directory = keep or Path(scratch) / "project"
            built = build(directory, companies, seed)
        for fmt in formats:
            log(f"export: {fmt}")
            out = Path(scratch) / f"export-{fmt}"
            try:
                result = run_isolated(export_job, str(directory), fmt, str(out))
            except BenchmarkError as error:
                failures += 1
                log(str(error))
                result = {"error": str(error).strip().splitlines()[-1]}
            emit(rounded({"benchmark": "export", "format": fmt, **built, **result, **origin}))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=2000, help="organisations (2000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--project", type=Path, default=None, help="export this project's store")
    parser.add_argument("--keep", type=Path, default=None, help="write the project here, keep it")
    args = parser.parse_args(argv)
    return 1 if run(args.companies, args.seed, args.formats, args.project, args.keep) else 0


if __name__ == "__main__":
    sys.exit(main())
