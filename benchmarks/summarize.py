"""Markdown tables from benchmark JSON lines (for benchmarks/README.md).

make -s bench > results.jsonl
.venv/bin/python benchmarks/summarize.py results.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def _number(value: object, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    rows = list(rows)
    if header[-1] == "error" and not any(row[-1] for row in rows):  # no run failed
        header, rows = header[:-1], [row[:-1] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _best(sweep: object) -> str:
    if not isinstance(sweep, dict) or not sweep:
        return ""
    threshold, f1 = max(sweep.items(), key=lambda item: item[1])
    return f"{f1:.4f} @{threshold}"


def febrl(records: list[Record]) -> str:
    rows = [
        [
            r["dataset"],
            r["engine"],
            _number(r.get("precision")),
            _number(r.get("recall")),
            _number(r.get("f1")),
            _best(r.get("f1_by_threshold")),
            _number(r.get("candidate_pairs")),
            _number(r.get("blocking_recall")),
            _number(r.get("seconds"), 1),
            _number(r.get("peak_mb"), 0),
            r.get("error", ""),
        ]
        for r in records
        if r.get("benchmark") == "febrl"
    ]
    header = [
        "dataset",
        "engine",
        "precision",
        "recall",
        "F1",
        "Splink best F1 (oracle)",
        "candidate pairs",
        "blocking recall",
        "seconds",
        "peak MB",
        "error",
    ]
    return _table(header, rows)


def scale(records: list[Record]) -> str:
    engines = [r for r in records if r.get("benchmark") == "scale" and "growth_to" not in r]
    runs = [r for r in engines if r["engine"] in ("mdm", "splink")]
    rows = [
        [
            _number(r["records"]),
            r["engine"],
            _number(r.get("f1")),
            _number(r.get("precision")),
            _number(r.get("recall")),
            _number(r.get("candidate_pairs")),
            _number(r.get("blocking_recall")),
            _number(r.get("seconds"), 1),
            _number(r.get("peak_mb"), 0),
            r.get("error", ""),
        ]
        for r in runs
    ]
    header = [
        "records",
        "engine",
        "F1",
        "precision",
        "recall",
        "candidate pairs",
        "blocking recall",
        "seconds",
        "peak MB",
        "error",
    ]
    out = _table(header, rows)
    comparisons = [r for r in engines if r["engine"] == "comparison"]
    if comparisons:
        out += "\n\n" + _table(
            [
                "records",
                "speedup (Splink s / mdm s)",
                "memory ratio (Splink / mdm)",
                "mdm F1 >= Splink F1",
            ],
            [
                [
                    _number(r["records"]),
                    _number(r.get("speedup"), 2),
                    _number(r.get("memory_ratio"), 2),
                    _number(r.get("f1_not_lower")),
                ]
                for r in comparisons
            ],
        )
    for r in records:
        if r.get("benchmark") == "scale" and "growth_to" in r:
            out += (
                f"\n\nmdm from {r['growth_from']:,} to {r['growth_to']:,} records "
                f"({r['records_factor']:g}x): seconds x{r['seconds_factor']:.2f}, "
                f"peak memory x{r['peak_mb_factor']:.2f}."
            )
    return out


def customers(records: list[Record]) -> str:
    rows = [
        [
            r["engine"],
            _number(r.get("account_precision")),
            _number(r.get("account_recall")),
            _number(r.get("account_f1")),
            _best(r.get("account_f1_by_threshold")),
            _number(r.get("contact_precision")),
            _number(r.get("contact_recall")),
            _number(r.get("contact_f1")),
            _best(r.get("contact_f1_by_threshold")),
            _number(r.get("seconds"), 1),
            _number(r.get("peak_mb"), 0),
            r.get("error", ""),
        ]
        for r in records
        if r.get("benchmark") == "customers"
    ]
    header = [
        "engine",
        "account P",
        "account R",
        "account F1",
        "Splink best (oracle)",
        "contact P",
        "contact R",
        "contact F1",
        "Splink best (oracle)",
        "seconds",
        "peak MB",
        "error",
    ]
    return _table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="files of JSON lines")
    args = parser.parse_args(argv)
    records: list[Record] = []
    for path in args.results:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
    for title, render in (("Febrl", febrl), ("Scale", scale), ("Customers", customers)):
        print(f"### {title}\n\n{render(records)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
