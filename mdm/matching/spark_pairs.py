"""What the spark engine runs on each partition: pandas in, pandas out, the local code inside.

Spark hands these functions (through ``mapInPandas``, over Arrow) a partition in batches:
records, or candidate pairs with both records' values beside them. Each batch is encoded on
its own and given to the very functions the local engine calls (``mdm.matching.block``,
``compare``, ``score``, ``decide``). That gives identical answers because every one of them is
a function of a pair's two values (or of one record's values), never of which other records
sit in the batch: a value's code only stands for the value, and the population's term
frequencies arrive as a column (each row's value's share), not counted from the batch.

Nothing here imports pyspark: the functions run in Spark's Python workers, and are tested as
plain functions of frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import MatchSpec
from mdm.matching.block import _rule_texts, blocking_rules
from mdm.matching.compare import compare_pairs
from mdm.matching.comparisons import Comparison
from mdm.matching.decide import Decision, decide
from mdm.matching.encoded import EncodedRecords, column_values, encode
from mdm.matching.model import FellegiSunterModel, log2_odds
from mdm.matching.score import forced_by_rules, match_weights, probabilities
from mdm.matching.statistics import SCORE_BINS
from mdm.matching.values import FieldValues, IntArray, isin_keys

ROW: Final = "__row"  # a record's position in the records the engine was given
NEW: Final = "__new"
GROUP: Final = "__group"
SHARE_PREFIX: Final = "__share_"  # the population share of the row's value of a field
LEFT_PREFIX: Final = "l_"
RIGHT_PREFIX: Final = "r_"
PAIR_KEYS: Final = ["left", "right", "bits", "first_rule", "blocked"]


def level_column(index: int) -> str:
    return f"level_{index}"


def share_column(index: int) -> str:
    return f"share_{index}"


@dataclass(frozen=True)
class CompareTask:
    """What comparing a batch of pairs needs: the fields encoded as the local engine encodes
    them (``fields``, ``swaps``, the term-frequency adjusted ``tf_fields``), the record
    columns those are made of, and the comparisons and rules."""

    spec: MatchSpec
    comparisons: tuple[Comparison, ...]
    fields: tuple[str, ...]
    swaps: tuple[tuple[str, str], ...]
    tf_fields: tuple[str, ...]
    columns: tuple[str, ...]  # record columns, in the order the records frame holds them

    @property
    def tf_comparisons(self) -> list[int]:
        """The comparisons whose exact level a value's share adjusts (field encoded)."""
        return [
            i
            for i, c in enumerate(self.comparisons)
            if c.tf_adjust and not c.members and c.field in self.tf_fields
        ]


@dataclass(frozen=True)
class ScoreTask:
    """What scoring and deciding a batch of compared pairs needs."""

    spec: MatchSpec
    comparisons: tuple[Comparison, ...]
    model: FellegiSunterModel
    tf_fields: tuple[str | None, ...]  # per comparison: its field where a share adjusts it
    size: int  # records: a pair's key is left * size + right
    must: tuple[int, ...]  # pair keys a steward joined
    cannot: tuple[int, ...]  # ... kept apart


# ---- blocking --------------------------------------------------------------------------------


def block_keys(batches: Iterator[pd.DataFrame], spec: MatchSpec) -> Iterator[pd.DataFrame]:
    """Every blocking key of every record of each batch (columns ``row``, ``rule``, ``key``,
    ``new``, ``grp``): the texts ``block_key_texts`` makes, which two records share exactly
    when they share a block of that rule."""
    rules = blocking_rules(spec)
    for batch in batches:
        records = batch.reset_index(drop=True)
        values = _column_cache(records)
        rows = records[ROW].to_numpy(dtype=np.int64)
        parts = []
        for index, rule in enumerate(rules):
            rule_rows, texts = _rule_texts(values, rule, len(records))
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows[rule_rows],
                        "rule": np.full(len(rule_rows), index, dtype=np.int32),
                        "key": pd.Series(texts, dtype=object),
                        "new": _flags(records, NEW, rule_rows),
                        "grp": _groups(records, rule_rows),
                    }
                )
            )
        if parts:
            yield pd.concat(parts, ignore_index=True).drop_duplicates(["row", "rule", "key"])


def _column_cache(records: pd.DataFrame) -> Callable[[str], FieldValues]:
    """Each column's codes, made once for every rule that reads it."""
    cache: dict[str, FieldValues] = {}

    def values(column: str) -> FieldValues:
        if column not in cache:
            cache[column] = column_values(records, column)
        return cache[column]

    return values


def _flags(records: pd.DataFrame, column: str, rows: IntArray) -> npt.NDArray[np.bool_]:
    if column not in records.columns:
        return np.zeros(len(rows), dtype=bool)
    return records[column].to_numpy(dtype=bool)[rows]


def _groups(records: pd.DataFrame, rows: IntArray) -> IntArray:
    if GROUP not in records.columns:
        return np.zeros(len(rows), dtype=np.int64)
    return records[GROUP].to_numpy(dtype=np.int64)[rows]


# ---- comparing -------------------------------------------------------------------------------


def compare_batches(
    batches: Iterator[pd.DataFrame], task: CompareTask, carry: Sequence[str]
) -> Iterator[pd.DataFrame]:
    """Level codes (``level_<i>``), the forced verdict of the rules (``verdict``) and the
    left record's value share of each term-frequency adjusted comparison (``share_<i>``) of
    each pair of a batch (``l_``/``r_`` columns: the two records); ``carry`` columns pass
    through."""
    tf_comparisons = task.tf_comparisons
    for batch in batches:
        count = len(batch)
        records = _both_sides(batch, task)
        encoded = encode(
            records,
            task.fields,
            swaps=task.swaps,
            term_frequencies=[(field, _given_shares(records, field)) for field in task.tf_fields],
        )
        left = np.arange(count, dtype=np.int64)
        right = left + count
        levels = compare_pairs(encoded, left, right, task.comparisons)
        verdict, _ = forced_by_rules(
            task.spec.rules, encoded.fields, left, right, levels, task.comparisons
        )
        out = {name: batch[name].to_numpy() for name in carry}
        out |= {level_column(i): levels[i] for i in range(len(task.comparisons))}
        for index in tf_comparisons:
            field = task.comparisons[index].field
            codes = encoded.values(field).codes[left]
            shares = encoded.shares[field]
            out[share_column(index)] = (
                np.where(codes >= 0, shares[np.maximum(codes, 0)], np.nan)
                if len(shares)
                else np.full(count, np.nan)
            )
        out["verdict"] = verdict
        yield pd.DataFrame(out)


def _both_sides(batch: pd.DataFrame, task: CompareTask) -> pd.DataFrame:
    """The batch's left records, then its right records, as one frame of record columns."""
    columns = [*task.columns, *(SHARE_PREFIX + f for f in task.tf_fields)]
    left = batch[[LEFT_PREFIX + c for c in columns]].set_axis(columns, axis=1)
    right = batch[[RIGHT_PREFIX + c for c in columns]].set_axis(columns, axis=1)
    both = pd.concat([left, right], ignore_index=True)
    return both.astype(dict.fromkeys(task.columns, "string"))


def _given_shares(records: pd.DataFrame, field: str) -> pd.Series:
    """The population share of each value of ``field`` in ``records`` (value -> share)."""
    values = records[field]
    present = values.notna().to_numpy()
    shares = pd.Series(
        records[SHARE_PREFIX + field].to_numpy(dtype=np.float64)[present],
        index=pd.Index(values[present].astype(object).to_numpy()),
    )
    return shares[~shares.index.duplicated()]


# ---- scoring and deciding --------------------------------------------------------------------


def score_batches(batches: Iterator[pd.DataFrame], task: ScoreTask) -> Iterator[pd.DataFrame]:
    """Each compared pair's match weight, probability and decision before clustering (the
    thresholds, then the rules' verdict, then the steward's constraints, as
    ``mdm.matching.probabilistic.decided`` orders them)."""
    thresholds = task.spec.thresholds
    upper, lower = log2_odds(thresholds.match), log2_odds(thresholds.review)
    must = np.array(task.must, dtype=np.int64)
    cannot = np.array(task.cannot, dtype=np.int64)
    count_of = len(task.comparisons)
    for batch in batches:
        count = len(batch)
        levels = np.vstack(
            [batch[level_column(i)].to_numpy(dtype=np.int8) for i in range(count_of)]
        ).reshape(count_of, count)
        left = np.arange(count, dtype=np.int64)
        weights = match_weights(
            levels, task.model, task.comparisons, _shares_only(batch, task), left
        )
        decision = decide(pd.Series(weights), upper, lower).to_numpy(copy=True)
        verdict = batch["verdict"].to_numpy(dtype=np.int8)
        decision[verdict == 1] = Decision.MATCH
        decision[verdict == -1] = Decision.NON_MATCH
        keys = batch["left"].to_numpy(dtype=np.int64) * max(task.size, 1)
        keys += batch["right"].to_numpy(dtype=np.int64)
        decision[isin_keys(keys, must)] = Decision.MATCH
        decision[isin_keys(keys, cannot)] = Decision.NON_MATCH
        yield batch.assign(
            weight=weights, probability=probabilities(weights), decision=decision.astype(np.int8)
        )


def _shares_only(batch: pd.DataFrame, task: ScoreTask) -> EncodedRecords:
    """Records standing in for the pairs' left records where scoring reads them: row ``i``
    is pair ``i``'s left record, whose value share is its own code's share."""
    count = len(batch)
    codes = np.arange(count, dtype=np.int64)
    fields: dict[str, FieldValues] = {}
    shares: dict[str, npt.NDArray[np.float64]] = {}
    for index, field in enumerate(task.tf_fields):
        if field is not None:
            fields[field] = FieldValues(codes, np.empty(count, dtype=object))
            shares[field] = batch[share_column(index)].to_numpy(dtype=np.float64)
    return EncodedRecords(
        record_ids=codes,
        fields=MappingProxyType(fields),
        swapped=MappingProxyType({}),
        shares=MappingProxyType(shares),
    )


def histogram_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Counts of the batch's probabilities in the run report's bins (``score_histogram``):
    counts add up across batches, so the sum is the histogram of all pairs."""
    for batch in batches:
        counts, _ = np.histogram(
            batch["probability"].to_numpy(dtype=np.float64), bins=SCORE_BINS, range=(0.0, 1.0)
        )
        yield pd.DataFrame({"bin": np.arange(SCORE_BINS, dtype=np.int32), "pairs": counts})
