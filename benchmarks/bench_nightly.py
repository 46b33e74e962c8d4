"""Nightly deltas: the time of a 1% delta against the time of the full load it follows.

Generates the multi-source demo data at a chosen size, declares every source a delta source
(`mode = "delta"`: the first load brings everything), runs the full load into a fresh SQLite
store, then delivers delta files holding 1% of the records with new phones and newer
timestamps (the other sources deliver empty deltas) and runs again. Prints one JSON line per
size; progress goes to stderr.

    .venv/bin/python benchmarks/bench_nightly.py [--accounts 20000] [--delta 0.01]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mdm import pipeline
from mdm.config import load_project
from mdm.demo import generate_demo
from mdm.project_files import DEFAULT_RULES

CSV_SOURCES = {"crm_accounts": "data/crm_accounts.csv", "crm_contacts": "data/crm_contacts.csv"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000])
    parser.add_argument("--delta", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for accounts in args.accounts:
        print(json.dumps(measure(accounts, args.delta, args.seed)), flush=True)


def measure(accounts: int, share: float, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        generate_demo(root, accounts=accounts, seed=seed, faults=False)
        shutil.copytree(DEFAULT_RULES, root / "rules")
        as_delta_sources(root)
        project = load_project(root)
        log(f"{accounts} organisations: full load")
        started = time.perf_counter()
        full = pipeline.run(project, export=False)
        full_seconds = time.perf_counter() - started
        records = sum(entity.records for entity in full.entities)
        changed = change_records(root, round(records * share), np.random.default_rng(seed))
        log(f"delta of {changed} records")
        started = time.perf_counter()
        delta = pipeline.run(project, export=False)
        delta_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pipeline.run(project, export=False)
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
    for path in CSV_SOURCES.values():
        frame = pd.read_csv(root / path, dtype=str, keep_default_na=False)
        count = max(1, total // len(CSV_SOURCES))
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
