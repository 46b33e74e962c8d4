"""mdm on the realistic project: the first load, the nights, then a full recompute.

``mdm_job`` runs in its own process (``harness.run_isolated``): the real pipeline
(``mdm.pipeline.run(load_project(dir))``: read, ingest into SQLite, standardize, match,
survive, relate, export) on the first load, then each night's deltas (``project.apply_night``
and a run), scored after the last night from ``exports/``; then ``run(full=True)`` and the
records whose golden id or cluster the full recompute changed (must be none).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import Meter, Record, blocking_recall, peak_rss_mb
from benchmarks.realistic import scoring
from benchmarks.realistic.project import apply_night, read_truth
from benchmarks.realistic.records import match_records

ACCOUNT_ATTRIBUTES = (
    "name", "domain", "phone", "street", "city", "region", "postcode", "country", "tax_id",
)  # fmt: skip
CONTACT_ATTRIBUTES = (
    "first_name", "middle_name", "last_name", "email", "phone", "mobile", "title", "company",
)  # fmt: skip


def read_exports(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("xref", "accounts", "contacts")
    }


def contact_account_ids(contacts: pd.DataFrame, accounts: pd.DataFrame) -> pd.Series:
    """Each contact record's golden account as the pipeline gives it to matching: the one its
    account key names, else the one golden account whose records carry its company name.

    contacts: match records with account_source and raw_account_key; accounts: match records
    with golden_id."""
    by_key = accounts.set_index(["source", "source_key"])["golden_id"]
    keys = pd.MultiIndex.from_arrays(
        [
            contacts["account_source"].astype(object).to_numpy(),
            contacts["raw_account_key"].astype(object).to_numpy(),
        ]
    )
    found = pd.Series(by_key.reindex(keys).to_numpy(), index=contacts.index, dtype="string")
    names = accounts.dropna(subset=["name"])[["name", "golden_id"]].drop_duplicates()
    unique = names[~names["name"].duplicated(keep=False)].set_index("name")["golden_id"]
    by_name = contacts["company"].map(unique).astype("string")
    return found.fillna(by_name)


def blocking(records: pd.DataFrame, spec: Any, truth: np.ndarray) -> dict[str, float]:
    from mdm.matching.block import block

    pairs = block(records.reset_index(drop=True), spec).pairs
    left = np.asarray(pairs["left"], dtype=np.int64)
    right = np.asarray(pairs["right"], dtype=np.int64)
    return {
        "candidate_pairs": len(left),
        "blocking_recall": round(blocking_recall(left, right, truth), 6),
    }


def _run(project_dir: Path, **options: Any) -> tuple[Any, float]:
    from mdm.config.load import load_project
    from mdm.pipeline import run

    project = load_project(project_dir)
    started = time.perf_counter()
    summary = run(project, **options)
    return summary, time.perf_counter() - started


def mdm_job(project_dir: str, nights: int) -> Record:
    """The first load, ``nights`` nightly deltas and a full recompute; scores per entity."""
    from mdm.config.load import load_project

    directory = Path(project_dir)
    truth = read_truth(directory)
    meter = Meter()
    summary, first_seconds = _run(directory)
    measured = meter.stop()
    exports = Path(summary.exports or directory / "exports")
    first = read_exports(exports)
    initial: dict[str, dict[str, float]] = {}
    for entity, records in (("account", "accounts"), ("contact", "contacts")):
        labels = first["xref"][first["xref"]["entity"] == entity].rename(
            columns={"golden_id": "label"}
        )
        live = truth[records][truth[records]["live_initial"]]
        initial[entity] = scoring.pairwise(labels, live)
    night_seconds = []
    for night in range(1, nights + 1):
        apply_night(directory, night)
        summary, seconds = _run(directory)
        night_seconds.append(round(seconds, 3))
    peak_after_nights = peak_rss_mb()
    final = read_exports(exports)
    kept = directory / "exports-delta"
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(exports, kept)
    _, full_seconds = _run(directory, full=True)
    recomputed = read_exports(exports)
    shutil.rmtree(exports, ignore_errors=True)
    shutil.copytree(kept, exports)  # the nights' result stays the project's export
    shutil.rmtree(kept, ignore_errors=True)

    project = load_project(directory)
    out: Record = {
        "first_run_seconds": round(first_seconds, 3),
        "night_seconds": night_seconds,
        "full_recompute_seconds": round(full_seconds, 3),
        "peak_mb_with_nights": round(peak_after_nights, 1),
        **measured,
        "delta_vs_full": {
            **scoring.delta_vs_full(final["xref"], recomputed["xref"]),
            "golden_accounts_differing": scoring.golden_differences(
                final["accounts"], recomputed["accounts"]
            ),
            "golden_contacts_differing": scoring.golden_differences(
                final["contacts"], recomputed["contacts"]
            ),
        },
        "method": {
            str(entity): str(getattr(spec, "method", "rules"))
            for entity, spec in project.rules.match.items()
        },
    }
    out.update(score_exports(directory, nights, final, truth))
    for entity in ("account", "contact"):
        out[entity]["initial"] = {
            key: initial[entity][key] for key in ("records", "precision", "recall", "f1")
        }
    return out


def score_exports(
    directory: Path, nights: int, final: dict[str, pd.DataFrame], truth: dict[str, pd.DataFrame]
) -> Record:
    """Scores of exports (xref, accounts, contacts) after night ``nights`` against the truth."""
    from mdm.config.load import load_project
    from mdm.schema import Entity

    project = load_project(directory)
    out: Record = {}
    xref = final["xref"]
    answers: dict[str, pd.Series] = {}
    matched: dict[str, pd.DataFrame] = {}
    for entity, records, values, attributes in (
        ("account", "accounts", "account_entities", ACCOUNT_ATTRIBUTES),
        ("contact", "contacts", "contact_entities", CONTACT_ATTRIBUTES),
    ):
        labels = xref[xref["entity"] == entity].rename(columns={"golden_id": "label"})
        live = truth[records][truth[records]["live"]]
        scores = scoring.pairwise(labels, live)
        answer = scoring.majority(labels, live)
        answers[entity] = answer
        frame = match_records(project, Entity(entity), nights)
        frame = frame.merge(
            live[["source", "source_key", "entity_id"]], on=["source", "source_key"]
        )
        frame = frame.merge(
            labels[["source", "source_key", "label"]], on=["source", "source_key"], how="left"
        ).rename(columns={"label": "golden_id"})
        matched[entity] = frame
        golden = final[records]
        accuracy = scoring.golden_accuracy(entity, golden, answer, truth[values], frame, attributes)
        out[entity] = {
            **scores,
            "golden_accuracy": accuracy["overall"]["accuracy"],
            "golden_accuracy_by_attribute": {
                key: value["accuracy"] for key, value in accuracy.items() if key != "overall"
            },
            "golden_counted": accuracy["overall"]["counted"],
        }
    contacts = matched["contact"]
    contacts["account_id"] = contact_account_ids(contacts, matched["account"]).to_numpy()
    for entity in ("account", "contact"):
        spec = project.rules.match[Entity(entity)]
        frame = matched[entity]
        out[entity].update(blocking(frame, spec, frame["entity_id"].to_numpy()))
    account_of = truth["contact_entities"].set_index("entity_id")["account_entity"]
    out["contact"]["attachment"] = scoring.attachment_accuracy(
        answers["contact"], answers["account"], final["contacts"], account_of
    )
    out["contact"]["attachment_accuracy"] = out["contact"]["attachment"]["accuracy"]
    from benchmarks.realistic.errors import breakdown

    exported = {"account": final["accounts"], "contact": final["contacts"]}
    out["errors"] = breakdown(directory, matched, truth, exported)
    return out
