"""The local engine's matching alone, timed on a realistic project's records.

On a project built by ``bench_realistic.py --keep DIR`` after its run (the contacts' golden
accounts come from its ``exports/xref.csv``), one entity's live records in match form (as
``records.match_records`` reads them, with a contact's ``account_id`` as the pipeline gives it)
go through ``LocalEngine.match`` once, with the shipped rules. Prints one JSON line: records,
candidate pairs, seconds, peak memory, and a digest of the result (labels, links and scored
pairs) that two versions of mdm can be compared by; ``--profile N`` prints the N costliest
functions (cProfile, by cumulative time) to stderr.

    .venv/bin/python -m benchmarks.realistic.match_timing DIR [--entity contact] [--profile 40]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import peak_rss_mb
from benchmarks.realistic.mdm_job import contact_account_ids, read_exports
from benchmarks.realistic.records import match_records


def match_frame(directory: Path, entity: str) -> pd.DataFrame:
    """The live records of ``entity`` as the engine takes them: record_id and match fields."""
    from mdm.config.load import load_project
    from mdm.schema import Entity

    project = load_project(directory)
    records = match_records(project, Entity(entity))
    if entity == "contact":
        xref = read_exports(directory / "exports")["xref"]
        accounts = match_records(project, Entity.ACCOUNT).merge(
            xref[xref["entity"] == "account"][["source", "source_key", "golden_id"]],
            on=["source", "source_key"],
            how="left",
        )
        records["account_id"] = contact_account_ids(records, accounts).to_numpy()
    spec = project.rules.match[Entity(entity)]
    fields = [name for name in dict.fromkeys(spec.known_fields) if name in records.columns]
    frame = records[fields].reset_index(drop=True)
    frame.insert(0, "record_id", np.arange(len(frame), dtype=np.int64))
    return frame


def digest(result: object) -> str:
    """A hash of what matching decided: cluster labels, links and scored pairs."""
    sha = hashlib.sha256()
    sha.update(np.asarray(result.labels, dtype=np.int64).tobytes())  # type: ignore[attr-defined]
    for frame in (result.links, result.pairs):  # type: ignore[attr-defined]
        sha.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return sha.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--entity", choices=("account", "contact"), default="contact")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args(argv)
    from mdm.config.load import load_project
    from mdm.matching.protocol import engine_named
    from mdm.schema import Entity

    frame = match_frame(args.directory, args.entity)
    spec = load_project(args.directory).rules.match[Entity(args.entity)]
    profile = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    result = engine_named("local").match(frame, spec)
    if profile is not None:
        profile.disable()
    seconds = time.perf_counter() - started
    if profile is not None:
        stats = pstats.Stats(profile, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(args.profile)
    line = {
        "benchmark": "realistic_match_timing",
        "entity": args.entity,
        "records": len(frame),
        "candidate_pairs": result.candidate_pairs,
        "seconds": round(seconds, 2),
        "peak_mb": round(peak_rss_mb(), 1),
        "digest": digest(result),
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
