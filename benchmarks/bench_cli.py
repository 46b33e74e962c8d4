"""Start-up of the ``mdm`` command: the best of N wall seconds of ``mdm --help``,
``mdm run --help`` and ``mdm status`` on a small project.

Each command runs N times in a fresh process, as a user types it (the ``mdm`` script of this
interpreter's environment, else ``python -m mdm``); the wall time includes the interpreter's
start and every import, which is what these commands cost. The best of the N runs is the
figure to compare (the others include what else the machine was doing); the median and the
best ``user`` CPU seconds (of the process and its children) come with it. ``mdm status`` reads
a demo project (``mdm demo --accounts N``) made in a temporary folder first. One JSON line per
command; progress goes to stderr.

    .venv/bin/python benchmarks/bench_cli.py [--runs 5] [--accounts 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import Record, emit, log, provenance, rounded  # noqa: E402

TARGET_SECONDS = 0.5  # what the commands should answer in (issue 14)


def mdm_command() -> list[str]:
    """How a user runs mdm from this environment."""
    script = Path(sys.executable).parent / "mdm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mdm"]


def call(arguments: list[str]) -> None:
    """Run ``arguments``; output is dropped, a failure raises with what it said."""
    done = subprocess.run(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stderr}")


def timed(arguments: list[str]) -> tuple[float, float]:
    """Wall and user CPU seconds of one run of ``arguments`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    started = time.perf_counter()
    call(arguments)
    wall = time.perf_counter() - started
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before


def measure(name: str, arguments: list[str], runs: int) -> Record:
    timed(arguments)  # once untimed: the files are then in the page cache, as for a user
    load = os.getloadavg()[0]
    walls, users = zip(*(timed(arguments) for _ in range(runs)), strict=True)
    return {
        "benchmark": "cli",
        "command": name,
        "runs": runs,
        "best_seconds": min(walls),
        "median_seconds": statistics.median(walls),
        "best_user_seconds": min(users),
        "target_seconds": TARGET_SECONDS,
        "load_before": round(load, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (5)")
    parser.add_argument("--accounts", type=int, default=100, help="demo organisations (100)")
    args = parser.parse_args(argv)
    origin = provenance()
    mdm = mdm_command()
    with tempfile.TemporaryDirectory(prefix="mdm-bench-cli-") as scratch:
        project = Path(scratch) / "demo"
        log(f"cli: a demo project of {args.accounts} organisations")
        call([*mdm, "demo", str(project), "--accounts", str(args.accounts)])
        commands = {
            "mdm --help": [*mdm, "--help"],
            "mdm run --help": [*mdm, "run", "--help"],
            "mdm status": [*mdm, "status", "-p", str(project)],
        }
        for name, arguments in commands.items():
            log(f"cli: {name}, best of {args.runs}")
            emit(rounded({**measure(name, arguments, args.runs), **origin}, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
