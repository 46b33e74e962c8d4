"""The nightly benchmark's full load, 1% delta and rerun, on a chosen store: SQLite (a fresh
file) or a PostgreSQL server (a fresh database, dropped afterwards). Measures what the store's
bulk reads and writes cost on each. Prints one JSON line; progress goes to stderr. Not part of
``make bench`` (it needs a PostgreSQL server for ``--postgres``).

    .venv/bin/python benchmarks/store_timing.py --accounts 5000
    .venv/bin/python benchmarks/store_timing.py --accounts 5000 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_nightly import as_delta_sources, change_records, log  # noqa: E402
from mdm import pipeline  # noqa: E402
from mdm.config import load_project  # noqa: E402
from mdm.demo import generate_demo  # noqa: E402
from mdm.project_files import DEFAULT_RULES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--delta", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        with store(args.postgres, root) as url:
            print(json.dumps(measure(root, url, args.accounts, args.delta, args.seed)), flush=True)


@contextmanager
def store(server: str | None, root: Path) -> Iterator[str]:
    """The URL of an empty store for one measurement."""
    if server is None:
        yield f"sqlite:///{root / 'mdm.db'}"
        return
    name = f"mdm_timing_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(root: Path, url: str, accounts: int, share: float, seed: int) -> dict[str, object]:
    generate_demo(root, accounts=accounts, seed=seed, faults=False)
    shutil.copytree(DEFAULT_RULES, root / "rules")
    as_delta_sources(root)
    project_file = root / "mdm.toml"
    project_file.write_text(
        project_file.read_text(encoding="utf-8").replace(
            'url = "sqlite:///mdm.db"', f'url = "{url}"'
        ),
        encoding="utf-8",
    )
    project = load_project(root)
    log(f"{accounts} organisations on {make_url(url).get_backend_name()}: full load")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    full = pipeline.run(project, export=False)
    seconds["full"] = time.perf_counter() - started
    records = sum(entity.records for entity in full.entities)
    changed = change_records(root, round(records * share), np.random.default_rng(seed))
    log(f"delta of {changed} records")
    for step in ("delta", "rerun"):
        started = time.perf_counter()
        pipeline.run(project, export=False)
        seconds[step] = time.perf_counter() - started
    return {
        "benchmark": "store_timing",
        "store": make_url(url).get_backend_name(),
        "accounts": accounts,
        "records": records,
        "delta_records": changed,
        **{f"{step}_seconds": round(value, 2) for step, value in seconds.items()},
    }


if __name__ == "__main__":
    main()
