"""Blocking: candidate pairs from exact blocking keys, never all pairs.

Each match rule blocks on its own fields: records that agree exactly on every field of the rule
(none of them empty) form a block, and every pair inside a block is a candidate. The candidate
pairs of all rules are united, so each pair appears once; which rule holds for a pair is worked
out again from the comparison levels (``mdm.matching.score``), which keeps this contract minimal.

A block larger than ``max_block_size`` is skipped with a warning: a key that many records share
(a placeholder email, a switchboard number) is not evidence, and its pairs grow quadratically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config import MatchRuleSpec, MatchSpec

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BlockingReport:
    """What one rule's blocking produced, before anything is compared."""

    rule: str
    pairs: int  # candidate pairs of this rule alone (before the union with other rules)
    oversized_keys: int  # keys shared by more than max_block_size records
    skipped_pairs: int  # pairs those oversized keys would have produced


@dataclass(frozen=True)
class _Blocks:
    """The keyed rows of one rule: row positions (ascending) and their block codes."""

    positions: IntArray
    codes: IntArray


def block(
    records: pd.DataFrame, spec: MatchSpec
) -> tuple[pd.DataFrame, list[BlockingReport], list[str]]:
    """Candidate pairs of ``records`` (row positions, ``left < right``) under ``spec``'s rules.

    Returns the pairs (int64 columns ``left``, ``right``, sorted, each pair once), one report
    per rule in spec order, and one warning sentence per oversized block.
    """
    n = len(records)
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    reports: list[BlockingReport] = []
    warnings: list[str] = []
    for rule in spec.rules:
        blocks = _blocks(records, rule.fields)
        sizes = np.bincount(blocks.codes).astype(np.int64)
        oversized = np.flatnonzero(sizes > spec.max_block_size)
        warnings += _oversized_warnings(records, spec, rule, blocks, sizes, oversized)
        kept = _drop_blocks(blocks, oversized)
        left, right = _pairs_within_blocks(kept)
        lefts.append(left)
        rights.append(right)
        reports.append(
            BlockingReport(
                rule=rule.name,
                pairs=len(left),
                oversized_keys=len(oversized),
                skipped_pairs=int(_pair_count(sizes[oversized]).sum()),
            )
        )
    return _union(n, lefts, rights), reports, warnings


def _blocks(records: pd.DataFrame, fields: list[str]) -> _Blocks:
    keys = records[fields]
    # A record with any empty key field is in no block: NA never equals anything.
    keyed = keys.notna().all(axis=1).to_numpy()
    positions = np.flatnonzero(keyed).astype(np.int64)
    # Sorted group numbers make block codes, and so warning order, independent of row order.
    codes = keys[keyed].groupby(fields, sort=True).ngroup().to_numpy().astype(np.int64)
    return _Blocks(positions, codes)


def _drop_blocks(blocks: _Blocks, dropped: IntArray) -> _Blocks:
    keep = ~np.isin(blocks.codes, dropped)
    return _Blocks(blocks.positions[keep], blocks.codes[keep])


def _pair_count(sizes: IntArray) -> IntArray:
    return sizes * (sizes - 1) // 2


def _pairs_within_blocks(blocks: _Blocks) -> tuple[IntArray, IntArray]:
    """Every pair inside every block, without materialising anything larger than the pairs.

    Rows are sorted by block (stably, so positions ascend within a block); the row at sorted
    index k pairs with each later row of its block, so ``left < right`` holds by construction.
    """
    order = np.argsort(blocks.codes, kind="stable")
    positions = blocks.positions[order]
    codes = blocks.codes[order]
    block_ends = np.cumsum(np.bincount(codes))[codes]
    index = np.arange(len(positions), dtype=np.int64)
    partners = block_ends - index - 1  # later rows in the same block
    left_index = np.repeat(index, partners)
    first_pair = np.cumsum(partners) - partners  # where each row's run of pairs starts
    step = np.arange(len(left_index), dtype=np.int64) - np.repeat(first_pair, partners)
    right_index = left_index + 1 + step
    return positions[left_index], positions[right_index]


def _union(n: int, lefts: list[IntArray], rights: list[IntArray]) -> pd.DataFrame:
    left = np.concatenate([np.empty(0, np.int64), *lefts])
    right = np.concatenate([np.empty(0, np.int64), *rights])
    # One int64 key per pair (n * n fits in int64 for any n below three billion).
    width = max(n, 1)
    unique = np.unique(left * width + right)
    return _pair_frame(unique // width, unique % width)


def _pair_frame(left: IntArray, right: IntArray) -> pd.DataFrame:
    return pd.DataFrame({"left": left, "right": right})


def _oversized_warnings(
    records: pd.DataFrame,
    spec: MatchSpec,
    rule: MatchRuleSpec,
    blocks: _Blocks,
    sizes: IntArray,
    oversized: IntArray,
) -> list[str]:
    """One sentence per oversized block, largest first (a loop over blocks, not records)."""
    if not len(oversized):
        return []
    _, first_row = np.unique(blocks.codes, return_index=True)
    largest_first = oversized[np.argsort(-sizes[oversized], kind="stable")]
    rules_file = f"rules/match/{spec.entity}.toml"
    warnings = []
    for code in largest_first:
        position = int(blocks.positions[first_row[code]])
        key = ", ".join(f"{field}={records[field].iloc[position]!r}" for field in rule.fields)
        size = int(sizes[code])
        warnings.append(
            f"rule {rule.name!r}: {size:,} records share {key}; a key this common is not "
            f"evidence, its {size * (size - 1) // 2:,} pairs were skipped "
            f"(raise max_block_size in {rules_file} to keep them)"
        )
    return warnings
