"""Blocking: candidate pairs from declarative blocking rules, never all pairs.

A blocking rule is a list of keys combined with AND: records whose keys all agree form a block,
and every pair inside a block is a candidate. A key is a field's standardized value, or a
transform of it: a prefix or suffix, a phonetic code (metaphone, NYSIIS, soundex), the words in
sorted order, or each word (``token``: a record has one key per word, so it can sit in several
blocks of one rule). A record with no key for some key of a rule (an empty field) is in no
block of that rule: NA never equals anything.

The candidate pairs of all rules are united, each pair once, and each pair remembers which
rules made it (a bit per rule), which training uses. Pairs can be restricted to those touching
at least one record flagged ``new`` (a nightly delta against the master), or to those across
different ``groups`` (linking sources instead of deduplicating within them).

A block larger than ``max_block_size`` is skipped with a warning: a key that many records share
(a placeholder email, a switchboard number) is not evidence, and its pairs grow quadratically.
Records that are part of a larger population (a delta) can name blocks to skip whatever their
size among them (``EncodedRecords.oversized``): those too large in the population.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import (
    DERIVED_FIELDS,
    BlockingKeySpec,
    BlockingRuleSpec,
    KeyTransform,
    MatchSpec,
    Method,
    RuleAction,
)
from mdm.matching import values as V
from mdm.matching.encoded import EncodedRecords, column_values, encode
from mdm.matching.values import FieldValues, IntArray

BoolArray = npt.NDArray[np.bool_]
MAX_RULES = 63  # rule membership is a bit per rule in a uint64
_RULE_BITS = 6  # a rule's number (below 64) packed beside a pair key for one sort
KEY_SEPARATOR = "\x1f"  # between a block key text's rule name and its parts


@dataclass(frozen=True)
class BlockingReport:
    """What one rule's blocking produced, before anything is compared."""

    rule: str
    pairs: int  # candidate pairs of this rule alone (before the union with other rules)
    oversized_keys: int  # keys shared by more than max_block_size records
    skipped_pairs: int  # pairs those oversized keys would have produced
    new_pairs: int = 0  # pairs of this rule that no earlier rule made


# eq=False: a generated __eq__ would compare arrays element-wise and fail on truth value.
@dataclass(frozen=True, eq=False)
class Blocked:
    """The candidate pairs (row positions ``left < right``, sorted, each once) and, per pair,
    a bit per rule that made it (bit ``i``: ``rules[i]``)."""

    pairs: pd.DataFrame
    rule_bits: npt.NDArray[np.uint64]
    rules: list[BlockingRuleSpec]
    reports: list[BlockingReport]
    warnings: list[str]


@dataclass(frozen=True)
class _Keys:
    """The keyed rows of one rule: row positions and block codes (a row may repeat)."""

    rows: IntArray
    codes: IntArray


def blocking_rules(spec: MatchSpec) -> list[BlockingRuleSpec]:
    """The rules that make candidate pairs: a rules spec blocks on each rule's fields; a
    probabilistic one on its ``[[blocking]]`` rules and the fields of its forced matches."""
    exact_rules = [
        BlockingRuleSpec(name=rule.name, keys=[BlockingKeySpec(field=f) for f in rule.fields])
        for rule in spec.rules
        if rule.action is RuleAction.MATCH
    ]
    if spec.method is Method.RULES:
        return exact_rules
    return [*spec.blocking, *exact_rules]


def blocking_columns(spec: MatchSpec) -> list[str]:
    """The columns (or ``"a+b"`` joined columns) the blocking rules read, in rule order."""
    rules = blocking_rules(spec)
    return list(dict.fromkeys(key.column for rule in rules for key in rule.keys))


def block(
    records: pd.DataFrame,
    spec: MatchSpec,
    *,
    new: npt.ArrayLike | None = None,
    groups: npt.ArrayLike | None = None,
) -> Blocked:
    """Candidate pairs of ``records`` under ``spec``'s blocking rules (``block_records`` on
    the blocking columns of a frame).

    ``new`` (bool per row): only pairs with at least one new record. ``groups`` (a label per
    row): only pairs whose labels differ.
    """
    absent = sorted(
        {f for rule in blocking_rules(spec) for key in rule.keys for f in key.inputs}
        & (set(DERIVED_FIELDS[spec.entity]) - set(records.columns))
    )
    if absent:  # a derived column the caller did not add (account_id): no keys from it
        empty = pd.array([pd.NA] * len(records), dtype="string")
        records = records.assign(**dict.fromkeys(absent, empty))
    encoded = encode(records, blocking_columns(spec), new=new, groups=groups)
    return block_records(encoded, spec)


def block_records(records: EncodedRecords, spec: MatchSpec) -> Blocked:
    """Candidate pairs of ``records`` (which hold every blocking column) under ``spec``'s
    blocking rules, restricted to pairs touching a new record or across groups when
    ``records`` carry those."""
    rules = blocking_rules(spec)
    if len(rules) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} blocking rules, got {len(rules)}")
    n = records.size
    keys: list[IntArray] = []
    reports: list[BlockingReport] = []
    warnings: list[str] = []
    for rule in rules:
        blocks, skipped = _rule_blocks(records, rule)
        sizes = np.bincount(blocks.codes).astype(np.int64)
        oversized = np.flatnonzero(sizes > spec.max_block_size)
        warnings += _oversized_warnings(records, spec, rule, blocks, sizes, oversized)
        kept = _keep_blocks(blocks, (sizes <= spec.max_block_size) & ~skipped)
        kept = _restrict_blocks(kept, records.new, records.groups)
        left, right = _pairs_within_blocks(kept)
        if records.new is not None:
            touching = records.new[left] | records.new[right]
            left, right = left[touching], right[touching]
        if records.groups is not None:
            across = records.groups[left] != records.groups[right]
            left, right = left[across], right[across]
        left *= max(n, 1)
        left += right
        del right
        pair_keys = _unique_in_place(left)  # a rule can make a pair twice
        del left
        keys.append(pair_keys)
        reports.append(
            BlockingReport(
                rule=rule.name,
                pairs=len(pair_keys),
                oversized_keys=len(oversized),
                skipped_pairs=int(_pair_count(sizes[oversized]).sum()),
            )
        )
    pairs, bits, first_rule = _union(n, keys)
    new_pairs = np.bincount(first_rule, minlength=len(rules))
    reports = [
        BlockingReport(r.rule, r.pairs, r.oversized_keys, r.skipped_pairs, int(new_pairs[i]))
        for i, r in enumerate(reports)
    ]
    return Blocked(pairs, bits, rules, reports, warnings)


# Keys -----------------------------------------------------------------------------------------


def _rule_blocks(records: EncodedRecords, rule: BlockingRuleSpec) -> tuple[_Keys, BoolArray]:
    """The keyed rows of one rule, and per block code whether ``records.oversized`` names it.
    With blocks to skip, blocks are numbered by their texts (``block_key_texts``): two rows
    share a text exactly when they share a block, so the blocks are the same."""
    if not records.oversized:
        blocks = _rule_keys(records, rule)
        return blocks, np.zeros(int(blocks.codes.max(initial=-1)) + 1, dtype=bool)
    rows, texts = _rule_texts(records.values, rule, records.size)
    unique = pd.DataFrame({"row": rows, "text": texts}).drop_duplicates(ignore_index=True)
    codes, names = pd.factorize(unique["text"])
    keys = _Keys(unique["row"].to_numpy(dtype=np.int64), np.asarray(codes, dtype=np.int64))
    return keys, np.isin(np.asarray(names, dtype=object), list(records.oversized))


def _rule_keys(records: EncodedRecords, rule: BlockingRuleSpec) -> _Keys:
    """Rows and block codes of one rule: the AND of its keys (a join on the row)."""
    combined: _Keys | None = None
    for key in rule.keys:
        keyed = _key(records.values(key.column), key)
        combined = keyed if combined is None else _and(combined, keyed, records.size)
    assert combined is not None  # a rule has at least one key (validated)
    # One entry per (row, block): a token repeated in a value is one key.
    width = int(combined.codes.max(initial=-1)) + 1
    unique = V.sorted_unique(combined.rows * max(width, 1) + combined.codes)
    return _Keys(unique // max(width, 1), unique % max(width, 1))


def _key(values: FieldValues, key: BlockingKeySpec) -> _Keys:
    if key.transform is KeyTransform.TOKEN:
        return _token_keys(values)
    per_unique = _derived_codes(values, key)
    rows = np.flatnonzero(values.codes >= 0).astype(np.int64)
    codes = per_unique[values.codes[rows]]
    keyed = codes >= 0
    return _Keys(rows[keyed], codes[keyed])


def _derived_codes(values: FieldValues, key: BlockingKeySpec) -> IntArray:
    transform = key.transform
    length = key.length or 0
    if transform is KeyTransform.EXACT:
        return np.arange(len(values.uniques), dtype=np.int64)
    if transform is KeyTransform.PREFIX:
        return values.derived(f"prefix{length}", lambda u: V.mapped(u, V.prefix(length)))
    if transform is KeyTransform.SUFFIX:
        return values.derived(f"suffix{length}", lambda u: V.mapped(u, V.suffix(length)))
    if transform is KeyTransform.METAPHONE:
        return values.derived("metaphone", lambda u: V.mapped(u, V.metaphone))
    if transform is KeyTransform.NYSIIS:
        return values.derived("nysiis", lambda u: V.mapped(u, V.nysiis))
    if transform is KeyTransform.SOUNDEX:
        return values.derived("soundex", lambda u: V.mapped(u, V.soundex))
    if transform is KeyTransform.SORTED_TOKENS:
        return values.derived("sorted_tokens", lambda u: V.mapped(u, V.sorted_tokens))
    raise AssertionError(f"unhandled transform {transform}")  # TOKEN is handled by the caller


def _token_keys(values: FieldValues) -> _Keys:
    """One key per word of each value: rows repeat, once per distinct word."""
    owners, tokens = values.derived("tokens", _tokens_of)
    counts = np.bincount(owners, minlength=len(values.uniques))
    present = np.flatnonzero(values.codes >= 0)
    row_counts = counts[values.codes[present]]
    rows = np.repeat(present.astype(np.int64), row_counts)
    starts = np.cumsum(counts) - counts
    first = np.repeat(starts[values.codes[present]], row_counts)
    step = np.arange(len(rows), dtype=np.int64) - np.repeat(
        np.cumsum(row_counts) - row_counts, row_counts
    )
    return _Keys(rows, tokens[first + step])


def _tokens_of(uniques: V.ObjectArray) -> tuple[IntArray, IntArray]:
    """Per distinct value, its distinct words: (value index, word code), by value index."""
    owners: list[int] = []
    words: list[str] = []
    for index, value in enumerate(uniques):
        for word in dict.fromkeys(value.split()):
            owners.append(index)
            words.append(word)
    codes, _ = pd.factorize(pd.Series(words, dtype=object))
    return np.asarray(owners, dtype=np.int64), np.asarray(codes, dtype=np.int64)


def _and(a: _Keys, b: _Keys, n: int) -> _Keys:
    """Keys of rows keyed by both: every (a entry, b entry) of the same row, as one code."""
    order = np.argsort(b.rows, kind="stable")
    b_rows, b_codes = b.rows[order], b.codes[order]
    counts = np.bincount(b_rows, minlength=n)
    starts = np.cumsum(counts) - counts
    per_a = counts[a.rows]
    index_a = np.repeat(np.arange(len(a.rows), dtype=np.int64), per_a)
    step = np.arange(len(index_a), dtype=np.int64) - np.repeat(np.cumsum(per_a) - per_a, per_a)
    index_b = starts[a.rows][index_a] + step
    width = int(b_codes.max(initial=-1)) + 1
    joint = a.codes[index_a] * max(width, 1) + b_codes[index_b]
    codes, _ = pd.factorize(joint)
    return _Keys(a.rows[index_a], np.asarray(codes, dtype=np.int64))


# Blocks -> pairs ------------------------------------------------------------------------------


def _keep_blocks(blocks: _Keys, keep: BoolArray) -> _Keys:
    mask = keep[blocks.codes]
    return _Keys(blocks.rows[mask], blocks.codes[mask])


def _restrict_blocks(blocks: _Keys, new: BoolArray | None, groups: IntArray | None) -> _Keys:
    """Drop blocks that cannot make an allowed pair: no new record, or a single group."""
    if not len(blocks.codes):
        return blocks
    keep = np.ones(int(blocks.codes.max()) + 1, dtype=bool)
    if new is not None:
        keep &= np.bincount(blocks.codes, weights=new[blocks.rows], minlength=len(keep)) > 0
    if groups is not None:
        labels = groups[blocks.rows]
        low = np.full(len(keep), np.iinfo(np.int64).max, dtype=np.int64)
        high = np.full(len(keep), -1, dtype=np.int64)
        np.minimum.at(low, blocks.codes, labels)
        np.maximum.at(high, blocks.codes, labels)
        keep &= low != high
    return _keep_blocks(blocks, keep)


def _pair_count(sizes: IntArray) -> IntArray:
    return sizes * (sizes - 1) // 2


def _pairs_within_blocks(blocks: _Keys) -> tuple[IntArray, IntArray]:
    """Every pair inside every block, without materialising anything larger than the pairs.

    Entries are sorted by block, then row; the entry at sorted index k pairs with each later
    entry of its block, so ``left < right`` holds by construction.
    """
    order = np.lexsort((blocks.rows, blocks.codes))
    rows = blocks.rows[order]
    codes = blocks.codes[order]
    block_ends = np.cumsum(np.bincount(codes))[codes]
    index = np.arange(len(rows), dtype=np.int64)
    partners = block_ends - index - 1  # later entries in the same block
    first_pair = np.cumsum(partners) - partners  # where each entry's run of pairs starts
    # Pair k of entry e pairs it with entry e + 1 + (k - first_pair[e]). Built in place: the
    # pairs are the largest arrays of a run, three of them at most exist at once.
    right_index = np.repeat(index + 1 - first_pair, partners)
    right_index += np.arange(len(right_index), dtype=np.int64)
    left = rows[np.repeat(index, partners)]
    right = rows[right_index]
    return left, right


def _unique_in_place(keys: IntArray) -> IntArray:
    """``V.sorted_unique`` of an array this call may reorder: sorted where it is, one copy."""
    keys.sort()
    if not len(keys):
        return keys
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def _union(n: int, keys: list[IntArray]) -> tuple[pd.DataFrame, npt.NDArray[np.uint64], IntArray]:
    """The pairs of every rule, each once, sorted; each with its rule bits and first rule.
    ``keys`` (a rule's pair keys each) is emptied: each is let go once it is taken in."""
    width = max(n, 1)  # one int64 key per pair: n * n fits for any n below three billion
    if not sum(len(k) for k in keys):
        empty = np.empty(0, np.int64)
        return _pair_frame(empty, empty), np.empty(0, np.uint64), empty
    sorted_keys, sorted_rule = _sorted_by_key_then_rule(keys, width)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    unique = sorted_keys[starts]
    del sorted_keys
    bits = _RULE_BIT[sorted_rule]
    rule_bits = np.bitwise_or.reduceat(bits, starts).astype(np.uint64)
    first_rule = sorted_rule[starts].astype(np.int64)
    return _pair_frame(unique // width, unique % width), rule_bits, first_rule


_RULE_BIT = np.left_shift(np.uint64(1), np.arange(MAX_RULES + 1, dtype=np.uint64))


def _sorted_by_key_then_rule(
    keys: list[IntArray], width: int
) -> tuple[IntArray, npt.NDArray[np.uint8]]:
    """Every rule's pair keys with their rule numbers, sorted by key, then rule; ``keys`` is
    emptied. Where the rule fits beside the key in one int64 (below 2**57 pair keys: any master
    under 379 million records), one array packs both and is sorted where it is; else a stable
    argsort and two gathers, slower and larger."""
    counts = [len(k) for k in keys]
    if width * width < 1 << (63 - _RULE_BITS):
        packed = np.empty(sum(counts), dtype=np.int64)
        at = 0
        for rule, count in enumerate(counts):
            part = packed[at : at + count]
            np.left_shift(keys[rule], _RULE_BITS, out=part)
            part |= rule  # (key, rule) is unique
            keys[rule] = np.empty(0, dtype=np.int64)  # let the rule's own array go
            at += count
        packed.sort()
        rule_of = np.empty(len(packed), dtype=np.uint8)
        np.bitwise_and(packed, (1 << _RULE_BITS) - 1, out=rule_of, casting="unsafe")
        sorted_keys: IntArray = np.right_shift(packed, _RULE_BITS, out=packed)
        return sorted_keys, rule_of
    all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.int64)
    keys.clear()
    rule_of = np.repeat(np.arange(len(counts), dtype=np.uint8), counts)
    order = np.argsort(all_keys, kind="stable")  # stable: within a key, rules ascend
    return all_keys[order], rule_of[order]


def _pair_frame(left: IntArray, right: IntArray) -> pd.DataFrame:
    # copy=False: the frame holds the two arrays as they are, not a copy of both side by side.
    return pd.DataFrame(
        {"left": left.astype(np.int64, copy=False), "right": right.astype(np.int64, copy=False)},
        copy=False,
    )


# Warnings -------------------------------------------------------------------------------------


def _oversized_warnings(
    records: EncodedRecords,
    spec: MatchSpec,
    rule: BlockingRuleSpec,
    blocks: _Keys,
    sizes: IntArray,
    oversized: IntArray,
) -> list[str]:
    """One sentence per oversized block, largest first (a loop over blocks, not records)."""
    if not len(oversized):
        return []
    order = np.lexsort((blocks.rows, blocks.codes))
    first = np.searchsorted(blocks.codes[order], oversized)
    described = [
        (int(sizes[code]), _describe(records, rule, blocks.rows[order[[at, at + 1]]].tolist()))
        for code, at in zip(oversized.tolist(), first.tolist(), strict=True)
    ]
    rules_file = f"rules/match/{spec.entity}.toml"
    warnings = []
    for size, key in sorted(described, key=lambda item: (-item[0], item[1])):
        warnings.append(
            f"rule {rule.name!r}: {size:,} records share {key}; a key this common is not "
            f"evidence, its {size * (size - 1) // 2:,} pairs were skipped "
            f"(raise max_block_size in {rules_file} to keep them)"
        )
    return warnings


def _describe(records: EncodedRecords, rule: BlockingRuleSpec, rows: list[int]) -> str:
    """The key two records of a block share, as ``field='value'`` (transforms applied)."""
    parts = []
    for key in rule.keys:
        values = records.values(key.column)
        first, second = (str(values.uniques[values.codes[row]]) for row in rows)
        parts.append(f"{key.label}={_shown_key(first, second, key)!r}")
    return ", ".join(parts)


def _shown_key(value: str, other: str, key: BlockingKeySpec) -> str:
    transform = key.transform
    if transform is KeyTransform.TOKEN:
        shared = [word for word in value.split() if word in set(other.split())]
        return shared[0] if shared else value
    if transform is KeyTransform.PREFIX:
        return value[: key.length]
    if transform is KeyTransform.SUFFIX:
        return value[-(key.length or 1) :]
    if transform is KeyTransform.METAPHONE:
        return V.metaphone(value) or ""
    if transform is KeyTransform.NYSIIS:
        return V.nysiis(value) or ""
    if transform is KeyTransform.SOUNDEX:
        return V.soundex(value) or ""
    if transform is KeyTransform.SORTED_TOKENS:
        return V.sorted_tokens(value) or ""
    return value


# Stable keys, for an index kept between runs ---------------------------------------------------


def block_key_texts(records: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
    """Every blocking key of every row as text, stable across runs and record sets: columns
    ``row`` (position) and ``key`` (the rule's name and its key values, joined by ``\x1f``).

    Two rows share a block of a rule exactly when they share one of these texts, so a store
    can index them and find a new record's candidates without blocking every record again.
    Arrays throughout: a nightly delta makes these for a few records many times.
    """
    columns: dict[str, FieldValues] = {}  # each column encoded once, for every rule using it

    def values(column: str) -> FieldValues:
        if column not in columns:
            columns[column] = column_values(records, column)
        return columns[column]

    rows: list[IntArray] = []
    texts: list[V.ObjectArray] = []
    for rule in blocking_rules(spec):
        if any(k.column not in records.columns and "+" not in k.column for k in rule.keys):
            continue  # a field the records lack: no keys from this rule
        rule_rows, rule_texts = _rule_texts(values, rule, len(records))
        rows.append(rule_rows)
        texts.append(rule_texts)
    out = pd.DataFrame(
        {
            "row": np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
            "key": np.concatenate(texts) if texts else np.empty(0, dtype=object),
        }
    )
    return out.drop_duplicates(ignore_index=True)


def record_block_key_texts(record: Mapping[str, str | None], spec: MatchSpec) -> list[str]:
    """``block_key_texts`` of one record (field -> value, None where missing) without a frame:
    its distinct key texts. A match request blocks one record while someone waits."""
    found: dict[str, None] = {}
    for rule in blocking_rules(spec):
        if any(k.column not in record and "+" not in k.column for k in rule.keys):
            continue  # a field the record lacks: no keys from this rule
        texts = [rule.name]
        for key in rule.keys:
            parts = _value_key_parts(_joined_value(record, key.column), key)
            texts = [text + KEY_SEPARATOR + part for text in texts for part in parts]
        found.update(dict.fromkeys(texts))
    return list(found)


def _joined_value(record: Mapping[str, str | None], name: str) -> str | None:
    """``joined_column`` of one record: field ``name``, or for ``"a+b"`` the non-empty values of
    a and b joined by a space."""
    if name in record or "+" not in name:
        return record[name]
    joined = " ".join(record[part] or "" for part in name.split("+")).strip()
    return joined or None


def _value_key_parts(value: str | None, key: BlockingKeySpec) -> list[str]:
    """``_key_texts`` of one value: its key part, or its distinct words for a token key."""
    if value is None:
        return []
    if key.transform is KeyTransform.TOKEN:
        return list(dict.fromkeys(value.split()))
    part = _text_transform(key)(value)
    return [] if part is None else [part]


def _rule_texts(
    values: Callable[[str], FieldValues], rule: BlockingRuleSpec, n: int
) -> tuple[IntArray, V.ObjectArray]:
    """Rows and key texts of one rule over ``n`` rows, whose columns ``values`` gives."""
    rule_rows, rule_texts = np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    for position, key in enumerate(rule.keys):
        key_rows, key_texts = _key_texts(values(key.column), key)
        if position == 0:
            rule_rows, rule_texts = key_rows, rule.name + KEY_SEPARATOR + key_texts
        else:  # AND: every part of the row with every earlier combination
            rule_rows, rule_texts = _and_texts((rule_rows, rule_texts), (key_rows, key_texts), n)
    return rule_rows, rule_texts


def _key_texts(values: FieldValues, key: BlockingKeySpec) -> tuple[IntArray, V.ObjectArray]:
    """Rows and key parts: the key's value(s) of each row that has one (a row repeats once per
    word for a token key)."""
    if key.transform is KeyTransform.TOKEN:
        parts = [list(dict.fromkeys(value.split())) for value in values.uniques]
    else:
        derive = _text_transform(key)
        parts = [[part] if (part := derive(value)) is not None else [] for value in values.uniques]
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    flat = np.empty(int(counts.sum()), dtype=object)
    flat[:] = [part for each in parts for part in each]
    present = np.flatnonzero(values.codes >= 0).astype(np.int64)
    row_counts = counts[values.codes[present]]
    rows = np.repeat(present, row_counts)
    starts = np.cumsum(counts) - counts
    first = np.repeat(starts[values.codes[present]], row_counts)
    step = np.arange(len(rows), dtype=np.int64) - np.repeat(
        np.cumsum(row_counts) - row_counts, row_counts
    )
    return rows, flat[first + step]


def _and_texts(
    a: tuple[IntArray, V.ObjectArray], b: tuple[IntArray, V.ObjectArray], n: int
) -> tuple[IntArray, V.ObjectArray]:
    """Every (a entry, b entry) of the same row, their texts joined (as ``_and`` joins codes)."""
    a_rows, a_texts = a
    order = np.argsort(b[0], kind="stable")
    b_rows, b_texts = b[0][order], b[1][order]
    counts = np.bincount(b_rows, minlength=n)
    starts = np.cumsum(counts) - counts
    per_a = counts[a_rows]
    index_a = np.repeat(np.arange(len(a_rows), dtype=np.int64), per_a)
    step = np.arange(len(index_a), dtype=np.int64) - np.repeat(np.cumsum(per_a) - per_a, per_a)
    index_b = starts[a_rows][index_a] + step
    return a_rows[index_a], a_texts[index_a] + KEY_SEPARATOR + b_texts[index_b]


def _text_transform(key: BlockingKeySpec) -> Callable[[str], str | None]:
    length = key.length or 0
    transforms: dict[KeyTransform, Callable[[str], str | None]] = {
        KeyTransform.EXACT: lambda value: value,
        KeyTransform.PREFIX: V.prefix(length),
        KeyTransform.SUFFIX: V.suffix(length),
        KeyTransform.METAPHONE: V.metaphone,
        KeyTransform.NYSIIS: V.nysiis,
        KeyTransform.SOUNDEX: V.soundex,
        KeyTransform.SORTED_TOKENS: V.sorted_tokens,
    }
    return transforms[key.transform]
