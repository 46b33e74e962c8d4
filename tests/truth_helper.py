"""Shared by the tests: how well the golden records agree with the demo generator's truth.

A pair of source records is predicted when both are in one golden record, and true when the
truth gives both the same entity. Precision is the share of predicted pairs that are true;
recall the share of true pairs that were predicted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class PairAgreement:
    records: int  # records in both the golden records' xref and the truth
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int  # predicted and true

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def read_truth(project_root: Path, entity: str) -> pd.DataFrame:
    """``truth/accounts.csv`` or ``truth/contacts.csv``: source, source_key, entity_id."""
    return pd.read_csv(project_root / "truth" / f"{entity}s.csv", dtype=str, keep_default_na=False)


def pair_agreement(xref: pd.DataFrame, truth: pd.DataFrame) -> PairAgreement:
    """Pairwise agreement of ``xref`` (source, source_key, golden_id) with ``truth``
    (source, source_key, entity_id), over the records that both hold."""
    joined = xref[["source", "source_key", "golden_id"]].merge(
        truth[["source", "source_key", "entity_id"]],
        on=["source", "source_key"],
        how="inner",
        validate="one_to_one",
    )
    return PairAgreement(
        records=len(joined),
        predicted_pairs=_pairs_within(joined.groupby("golden_id").size()),
        true_pairs=_pairs_within(joined.groupby("entity_id").size()),
        correct_pairs=_pairs_within(joined.groupby(["golden_id", "entity_id"]).size()),
    )


def _pairs_within(group_sizes: pd.Series) -> int:
    """Unordered pairs inside groups of these sizes."""
    return int((group_sizes * (group_sizes - 1) // 2).sum())
