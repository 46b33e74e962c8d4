"""Scores of a clustering and of golden records against the realistic benchmark's truth.

* ``pairwise``: precision, recall and F1 over record pairs (``harness.pairwise_scores``) of
  the records both sides know.
* ``majority``: for each true entity, the cluster (golden record) holding most of its records
  (ties: the smallest label), the golden record that answers for it.
* ``golden_accuracy``: per attribute, the share of true entities whose golden value (of their
  majority golden record) equals the truth's current value, both in mdm's match form
  (``mdm.standardize.match_values``), counted only where the true value is attainable: present
  in match form in at least one of the entity's live records.
* ``attachment_accuracy``: the share of true contacts (whose true account has live records)
  whose golden contact's golden account is their true account's majority golden account.
* ``delta_vs_full``: how many records a full recompute puts in another golden record, or in
  another cluster, than the nightly deltas did.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from benchmarks.harness import pairwise_scores

KEYS = ["source", "source_key"]


def pairwise(labels: pd.DataFrame, truth: pd.DataFrame, label: str = "label") -> dict[str, float]:
    """Pairwise scores of ``labels`` (source, source_key, ``label``) against ``truth``
    (source, source_key, entity_id), on the records both hold."""
    joined = labels.merge(truth[[*KEYS, "entity_id"]], on=KEYS, how="inner")
    scores = pairwise_scores(joined[label].to_numpy(), joined["entity_id"].to_numpy())
    return {"records": len(joined), **scores.as_dict()}


def majority(labels: pd.DataFrame, truth: pd.DataFrame, label: str = "label") -> pd.Series:
    """True entity -> the label holding most of its records (ties: the smallest label)."""
    joined = labels.merge(truth[[*KEYS, "entity_id"]], on=KEYS, how="inner")
    counts = joined.groupby(["entity_id", label]).size().rename("n").reset_index()
    counts = counts.sort_values(["entity_id", "n", label], ascending=[True, False, True])
    best = counts.drop_duplicates("entity_id")
    return pd.Series(best[label].to_numpy(), index=best["entity_id"].to_numpy(), name=label)


def unprotect(values: pd.Series) -> pd.Series:
    """A CSV export's value as stored: mdm writes a leading ' before a cell that a
    spreadsheet would run as a formula (=, +, -, @, tab, CR)."""
    text = values.astype("string")
    protected = text.str.match(r"^'[=+\-@\t\r]").fillna(False).astype(bool)
    return text.where(~protected, text.str.slice(1))


def match_form(entity: str, attribute: str, values: pd.Series, region: str = "US") -> pd.Series:
    from mdm.schema import Entity
    from mdm.schema import attribute as schema_attribute
    from mdm.standardize import match_values

    kind = schema_attribute(Entity(entity), attribute).kind
    text = values.astype("string").where(values.astype("string").str.strip() != "")
    return match_values(kind, text.reset_index(drop=True), region).set_axis(values.index)


def golden_accuracy(
    entity: str,
    golden: pd.DataFrame,
    answer: pd.Series,
    truth_values: pd.DataFrame,
    records: pd.DataFrame,
    attributes: Iterable[str],
) -> dict[str, dict[str, float]]:
    """Per attribute: counted (entities whose true value is attainable), correct, accuracy;
    and ``overall`` over all of them.

    golden: golden_id and the attributes (as exported). answer: entity_id -> golden_id
    (``majority``). truth_values: entity_id and the attributes' current values (raw).
    records: entity_id and the attributes of the live records, in match form.
    """
    out: dict[str, dict[str, float]] = {}
    total_counted = total_correct = 0
    truth = truth_values.set_index("entity_id")
    entities = answer.index.intersection(truth.index)
    golden_by_id = golden.set_index("golden_id")
    for attribute in attributes:
        if attribute not in golden.columns or attribute not in truth.columns:
            continue
        true = match_form(entity, attribute, truth.loc[entities, attribute])
        held = records[["entity_id", attribute]].dropna()
        held = held[held["entity_id"].isin(entities)]
        attainable = set(
            map(
                tuple,
                held.assign(value=held[attribute].astype(str))[["entity_id", "value"]].to_numpy(),
            )
        )
        ok = np.array(
            [
                pd.notna(value) and (entity_id, str(value)) in attainable
                for entity_id, value in zip(entities, true.to_numpy(), strict=True)
            ],
            dtype=bool,
        )
        golden_ids = answer.loc[entities].to_numpy()
        values = golden_by_id[attribute].reindex(golden_ids)
        shown = match_form(entity, attribute, unprotect(values).set_axis(entities))
        same = shown.fillna("\x00").to_numpy(dtype=object) == true.fillna("\x01").to_numpy(
            dtype=object
        )
        counted = int(ok.sum())
        correct = int((ok & same).sum())
        out[attribute] = {
            "counted": counted,
            "correct": correct,
            "accuracy": round(correct / counted, 6) if counted else 1.0,
        }
        total_counted += counted
        total_correct += correct
    out["overall"] = {
        "counted": total_counted,
        "correct": total_correct,
        "accuracy": round(total_correct / total_counted, 6) if total_counted else 1.0,
    }
    return out


def attachment_accuracy(
    contact_answer: pd.Series,
    account_answer: pd.Series,
    golden_contacts: pd.DataFrame,
    account_of: pd.Series,
) -> dict[str, float]:
    """contact_answer: contact entity -> golden contact; account_answer: account entity ->
    golden account (only accounts with live records); golden_contacts: golden_id, account_id;
    account_of: contact entity -> its true account entity."""
    contacts = contact_answer.index.intersection(account_of.index)
    true_account = account_of.loc[contacts]
    attachable = true_account.isin(account_answer.index).to_numpy()
    contacts = contacts[attachable]
    expected = account_answer.reindex(account_of.loc[contacts].to_numpy()).to_numpy(dtype=object)
    linked_to = golden_contacts.set_index("golden_id")["account_id"]
    linked_to = linked_to.where(linked_to.astype("string").str.strip() != "")
    got = linked_to.reindex(contact_answer.loc[contacts].to_numpy()).to_numpy(dtype=object)
    correct = int(np.sum([g == e for g, e in zip(got, expected, strict=True)]))
    unlinked = int(pd.isna(pd.Series(got, dtype=object)).sum())
    n = len(contacts)
    return {
        "attachable": n,
        "correct": correct,
        "unlinked": unlinked,
        "wrong_account": n - correct - unlinked,
        "accuracy": round(correct / n, 6) if n else 1.0,
    }


def delta_vs_full(delta: pd.DataFrame, full: pd.DataFrame) -> dict[str, int]:
    """Records of two xrefs (entity, source, source_key, golden_id): how many have another
    golden id, and how many are in a cluster whose members differ."""
    joined = delta.merge(full, on=["entity", *KEYS], how="outer", suffixes=("_delta", "_full"))
    missing = int(joined[["golden_id_delta", "golden_id_full"]].isna().any(axis=1).sum())
    both = joined.dropna(subset=["golden_id_delta", "golden_id_full"])
    changed_id = int((both["golden_id_delta"] != both["golden_id_full"]).sum())
    # A cluster is unchanged when its delta and full labels map one to one.
    per_delta = both.groupby("golden_id_delta")["golden_id_full"].transform("nunique")
    per_full = both.groupby("golden_id_full")["golden_id_delta"].transform("nunique")
    delta_size = both.groupby("golden_id_delta")["source"].transform("size")
    full_size = both.groupby("golden_id_full")["source"].transform("size")
    moved = (per_delta > 1) | (per_full > 1) | (delta_size != full_size)
    return {
        "records": len(joined),
        "records_in_one_only": missing,
        "changed_golden_id": changed_id,
        "changed_cluster": int(moved.sum()),
    }


def golden_differences(delta: pd.DataFrame, full: pd.DataFrame) -> int:
    """Golden records (by id) whose exported values differ between two exports."""
    columns = [c for c in delta.columns if c not in ("created_run", "updated_run")]
    a = delta[columns].set_index("golden_id").sort_index()
    b = full[[c for c in columns if c in full.columns]].set_index("golden_id").sort_index()
    ids = a.index.union(b.index)
    a = a.reindex(ids).astype("string").fillna("")
    b = b.reindex(ids).reindex(columns=a.columns).astype("string").fillna("")
    return int((a != b).any(axis=1).sum())
