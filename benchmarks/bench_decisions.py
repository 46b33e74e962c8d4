"""Steward decisions as labels: F1 before and after ``mdm train --from-decisions``.

The customer benchmark's data (``benchmarks.customers.build_project``: the demo generator's
five extracts of four systems at ``--accounts`` organisations, stale ERP addresses, mdm's
default rules), run by the real pipeline as ``bench_customers.py`` runs it; then a steward's
work, simulated from the truth: per entity up to ``--decisions`` pairs, the review queue first
in its order (most likely matches first, as a steward clears it), then the highest-scoring
wrong matches (links the model made between two different entities), each decided as the
truth says (must-link or cannot-link). Then ``mdm train --from-decisions`` and runs again.

One JSON line per configuration, each a full ``mdm run`` of the same project and store:

* ``baseline``: the first run; the model learned without labels.
* ``decisions``: the decisions recorded (bound as must-link / cannot-link constraints), the
  model still the unsupervised one: what the decisions do by binding their own pairs.
* ``decisions+refined``: after ``mdm train --from-decisions``: the constraints and the refined
  model.
* ``refined``: the refined model with every decision revoked (no constraints): what the
  refined model does alone.

Scores: pairwise precision, recall and F1 of the run's ``exports/xref.csv`` against the truth,
on every live record (``account_*``, ``contact_*``) and on the **held-out** records, those in no
decided pair (``account_heldout_*``, ``contact_heldout_*``): there a constraint binds nothing
directly, so what moves is the model's doing (and, through clusters, a little the
constraints'). ``seconds``: the run's own wall time (``pipeline.run`` in a fresh process, as
``bench_customers.py`` measures mdm); the ``train`` line has the seconds of the
``mdm train --from-decisions`` process (interpreter start included) and its report.

    .venv/bin/python benchmarks/bench_decisions.py [--accounts 5000] [--seed 7]
        [--decisions 300] [--wrong-share 0.25] [--prior-pairs 100] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.customers import build_project, score  # noqa: E402
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

KEYS = ["source", "source_key"]
ENTITIES = ("account", "contact")
CONFIGS = ("baseline", "decisions", "decisions+refined", "refined")


# ---- the jobs (each in a fresh process) -------------------------------------------------------


def run_job(project_dir: str, full: bool) -> Record:
    """One ``mdm run`` of the project (``full``: recompute every golden record)."""
    from mdm.config.load import load_project
    from mdm.pipeline import run

    project = load_project(Path(project_dir))
    meter = Meter()
    summary = run(project, full=full)
    measured = meter.stop()
    return {
        **measured,
        "full": summary.full,
        **{f"{e.entity}_candidate_pairs": e.candidate_pairs for e in summary.entities},
    }


# ---- the steward's decisions ------------------------------------------------------------------


def truth_of(directory: Path, entity: str) -> pd.Series:
    """(source, source_key) -> true entity id."""
    frame = pd.read_csv(directory / "truth" / f"{entity}s.csv", dtype=str, keep_default_na=False)
    return frame.set_index(KEYS)["entity_id"]


def choose_decisions(directory: Path, budget: int, wrong_share: float) -> dict[str, pd.DataFrame]:
    """Per entity, the pairs a steward decides: the open review queue in its order, then the
    model's highest-scoring links between two different true entities; at most ``budget``,
    of which at most ``wrong_share`` wrong links while the queue lasts. Columns: left_source,
    left_key, right_source, right_key, decision (must_link / cannot_link), origin."""
    from mdm.config.load import load_project
    from mdm.schema import Entity
    from mdm.store import stewardship
    from mdm.views import reading

    project = load_project(directory)
    chosen = {}
    with reading(project.store_url) as connection:
        for entity in Entity:
            truth = truth_of(directory, str(entity))
            queue = stewardship.open_reviews(connection, entity)
            queue = queue[["left_source", "left_key", "right_source", "right_key"]].assign(
                origin="review queue"
            )
            wrong = wrong_links(connection, project, entity, truth).assign(origin="wrong link")
            wrong_quota = round(budget * wrong_share)
            take_wrong = min(len(wrong), wrong_quota, budget)
            take_queue = min(len(queue), budget - take_wrong)
            take_wrong = min(len(wrong), budget - take_queue)  # the queue ran short: more links
            pairs = pd.concat([queue.head(take_queue), wrong.head(take_wrong)], ignore_index=True)
            left = truth.reindex(pd.MultiIndex.from_frame(pairs[["left_source", "left_key"]]))
            right = truth.reindex(pd.MultiIndex.from_frame(pairs[["right_source", "right_key"]]))
            same = left.to_numpy() == right.to_numpy()
            known = left.notna().to_numpy() & right.notna().to_numpy()
            pairs = pairs.assign(decision=np.where(same, "must_link", "cannot_link"))[known]
            chosen[str(entity)] = pairs.reset_index(drop=True)
    return chosen


def wrong_links(connection: Any, project: Any, entity: Any, truth: pd.Series) -> pd.DataFrame:
    """The pairs the run's model links (decision match) between two different true entities,
    highest probability first: scored again here with the model file, as a full run scores."""
    from mdm.matching.decide import Decision
    from mdm.matching.protocol import engine_named
    from mdm.model_files import load_model
    from mdm.pipeline import index
    from mdm.pipeline.match_input import match_input
    from mdm.pipeline.scope import full_scope

    spec = project.rules.match[entity]
    scope = full_scope(connection, project, entity)
    frame = match_input(connection, project, entity, scope.records)
    result = engine_named().match(
        frame,
        spec,
        model=load_model(project, entity),
        frequencies=index.frequencies_of(scope.records, spec),
    )
    pairs = result.pairs
    pairs = pairs[pairs["decision"] == int(Decision.MATCH)]
    by_id = scope.records.set_index(scope.records["record_id"].astype("int64"))[KEYS].astype(str)
    left = by_id.reindex(pairs["left_record_id"].to_numpy()).reset_index(drop=True)
    right = by_id.reindex(pairs["right_record_id"].to_numpy()).reset_index(drop=True)
    left_entity = truth.reindex(pd.MultiIndex.from_frame(left)).to_numpy()
    right_entity = truth.reindex(pd.MultiIndex.from_frame(right)).to_numpy()
    out = pd.DataFrame(
        {
            "left_source": left["source"],
            "left_key": left["source_key"],
            "right_source": right["source"],
            "right_key": right["source_key"],
            "probability": pairs["probability"].to_numpy(),
        }
    )
    out = out[left_entity != right_entity].sort_values("probability", ascending=False)
    return out.drop(columns="probability").reset_index(drop=True)


def record_decisions(directory: Path, chosen: dict[str, pd.DataFrame]) -> None:
    """Write the decisions as ``decide_pair`` writes one (active rows of ``match_decision``),
    all at once: the next run, a full one, resolves them (``decide_pair`` would resolve each
    pair's golden records in a steward run of its own, about a second apiece)."""
    from mdm.config.load import load_project
    from mdm.store import bulk, open_store
    from mdm.store.tables import MatchDecision

    project = load_project(directory)
    store = open_store(project.store_url, writing=True)
    try:
        with store.transaction() as connection:
            for entity, pairs in chosen.items():
                rows = pairs[["left_source", "left_key", "right_source", "right_key"]].assign(
                    entity=entity,
                    decision=pairs["decision"],
                    reason="bench_decisions: " + pairs["origin"],
                    decided_by="bench_decisions",
                    decided_at=bulk.now(),
                    active=True,
                )
                bulk.insert_frame(connection, MatchDecision, rows)
    finally:
        store.close()


def revoke_decisions(directory: Path) -> int:
    """Deactivate every active decision (as undoing them would); how many."""
    from mdm.config.load import load_project
    from mdm.schema import Entity
    from mdm.store import open_store, stewardship

    project = load_project(directory)
    store = open_store(project.store_url, writing=True)
    revoked = 0
    try:
        with store.transaction() as connection:
            for entity in Entity:
                ids = stewardship.active_decisions(connection, entity)["id"].astype(int).tolist()
                stewardship.deactivate_decisions(connection, ids)
                revoked += len(ids)
    finally:
        store.close()
    return revoked


def train(directory: Path, prior_pairs: float) -> Record:
    """``mdm train --from-decisions`` as a user runs it: its own process, its report logged."""
    command = [sys.executable, "-m", "mdm", "train", "--from-decisions", "-p", str(directory)]
    command += ["--prior-pairs", str(prior_pairs)]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"}
    )
    seconds = time.perf_counter() - started
    for line in (done.stdout + done.stderr).splitlines():
        log(f"  {line}")
    if done.returncode != 0:
        raise BenchmarkError(f"mdm train failed (exit {done.returncode})")
    return {"seconds": seconds}


# ---- scores -----------------------------------------------------------------------------------


def scores(xref: pd.DataFrame, directory: Path, chosen: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Pairwise P/R/F1 per entity on every record and on the records in no decided pair."""
    out: dict[str, Any] = {}
    for entity in ENTITIES:
        truth = truth_of(directory, entity).rename("entity_id").reset_index()
        rows = xref[xref["entity"] == entity]
        out.update(score(rows, truth, "golden_id", f"{entity}_"))
        pairs = chosen[entity]
        decided = pd.concat(
            [
                pairs[["left_source", "left_key"]].set_axis(KEYS, axis=1),
                pairs[["right_source", "right_key"]].set_axis(KEYS, axis=1),
            ]
        ).drop_duplicates()
        held = truth.merge(decided, on=KEYS, how="left", indicator=True)
        held = held[held["_merge"] == "left_only"].drop(columns="_merge")
        out.update(score(rows, held, "golden_id", f"{entity}_heldout_"))
    return out


def _xref(directory: Path) -> pd.DataFrame:
    return pd.read_csv(directory / "exports" / "xref.csv", dtype=str, keep_default_na=False)


# ---- the benchmark ----------------------------------------------------------------------------


def run(accounts: int, seed: int, budget: int, wrong_share: float, prior_pairs: float) -> int:
    origin = provenance()
    with tempfile.TemporaryDirectory(prefix="mdm-bench-decisions-") as scratch:
        directory = Path(scratch) / "project"
        started = time.perf_counter()
        build_project(directory, accounts=accounts, seed=seed)
        log(f"{accounts:,} organisations generated in {time.perf_counter() - started:.1f} s")
        results: dict[str, Record] = {}
        xrefs: dict[str, pd.DataFrame] = {}
        log("baseline: the first run")
        results["baseline"] = run_isolated(run_job, str(directory), True)
        xrefs["baseline"] = _xref(directory)
        chosen = choose_decisions(directory, budget, wrong_share)
        for entity, pairs in chosen.items():
            counts = pairs.groupby(["origin", "decision"]).size().to_dict()
            log(f"{entity}: {len(pairs)} decisions {counts}")
        record_decisions(directory, chosen)
        log("decisions: a full run with the decisions bound, the model learned without labels")
        results["decisions"] = run_isolated(run_job, str(directory), True)
        xrefs["decisions"] = _xref(directory)
        log("mdm train --from-decisions")
        trained = train(directory, prior_pairs)
        models = {
            entity: (directory / "rules" / "match" / f"{entity}.model.json").read_text()
            for entity in ENTITIES
        }
        log("decisions+refined: a full run with the decisions and the refined model")
        results["decisions+refined"] = run_isolated(run_job, str(directory), True)
        xrefs["decisions+refined"] = _xref(directory)
        kept = all(
            (directory / "rules" / "match" / f"{entity}.model.json").read_text() == text
            for entity, text in models.items()
        )
        revoked = revoke_decisions(directory)
        log(f"refined: {revoked} decisions revoked, a full run with the refined model alone")
        results["refined"] = run_isolated(run_job, str(directory), True)
        xrefs["refined"] = _xref(directory)
        scored = {config: scores(xrefs[config], directory, chosen) for config in CONFIGS}
    decisions = {
        entity: {
            "must_link": int((pairs["decision"] == "must_link").sum()),
            "cannot_link": int((pairs["decision"] == "cannot_link").sum()),
            "from_queue": int((pairs["origin"] == "review queue").sum()),
            "wrong_links": int((pairs["origin"] == "wrong link").sum()),
        }
        for entity, pairs in chosen.items()
    }
    common: Record = {
        "benchmark": "decisions",
        "accounts": accounts,
        "seed": seed,
        "engine": "mdm",
        "decisions": decisions,
        "prior_pairs": prior_pairs,
    }
    for config in CONFIGS:
        emit(
            rounded(
                {
                    **common,
                    "config": config,
                    **results[config],
                    **scored[config],
                    **origin,
                }
            )
        )
    emit(rounded({**common, "config": "train", **trained, "model_kept_by_run": kept, **origin}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=None, help="organisations (5000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--decisions", type=int, default=300, help="per entity (300)")
    parser.add_argument(
        "--wrong-share", type=float, default=0.25, help="of them wrong links at most (0.25)"
    )
    parser.add_argument("--prior-pairs", type=float, default=100.0, help="mdm train's (100)")
    parser.add_argument("--quick", action="store_true", help="1000 organisations (a smoke run)")
    args = parser.parse_args(argv)
    accounts = args.accounts or (1000 if args.quick else 5000)
    return run(accounts, args.seed, args.decisions, args.wrong_share, args.prior_pairs)


if __name__ == "__main__":
    sys.exit(main())
