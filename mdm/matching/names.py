"""Nickname equivalence of first names (Robert ~ Bob ~ Rob), from the ``nicknames`` package.

A canonical name and its nicknames form a group; two names are equivalent when they share a
group (a name can be in several: "bert" is Albert's, Robert's and Herbert's). Groups are looked
up once per distinct value; pairs are checked with array operations.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from nicknames import NickNamer

from mdm.matching.values import IntArray, ObjectArray


@functools.cache
def _groups() -> dict[str, tuple[int, ...]]:
    """Each known name and the groups it belongs to."""
    lookup = NickNamer().nickname_lookup  # canonical name -> its nicknames
    members: dict[str, list[int]] = {}
    for group, (canonical, nicknames) in enumerate(sorted(lookup.items())):
        for name in sorted({canonical, *nicknames}):
            members.setdefault(name, []).append(group)
    return {name: tuple(groups) for name, groups in members.items()}


def group_table(uniques: ObjectArray) -> tuple[IntArray, IntArray]:
    """(value index, group) of every distinct value that is a known name, by value index."""
    groups = _groups()
    owners: list[int] = []
    ids: list[int] = []
    for index, value in enumerate(uniques):
        for group in groups.get(value, ()):
            owners.append(index)
            ids.append(group)
    return np.asarray(owners, dtype=np.int64), np.asarray(ids, dtype=np.int64)


def equivalent(table: tuple[IntArray, IntArray], a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Whether distinct values ``a[i]`` and ``b[i]`` share a nickname group."""
    owners, ids = table
    out = np.zeros(len(a), dtype=bool)
    if not len(owners) or not len(a):
        return out
    width = int(ids.max()) + 1
    known = np.sort(owners * width + ids)  # (value, group) pairs that exist
    counts = np.bincount(owners, minlength=int(max(a.max(), b.max(), owners.max())) + 1)
    starts = np.cumsum(counts) - counts
    per_pair = counts[a]
    pair = np.repeat(np.arange(len(a), dtype=np.int64), per_pair)
    step = np.arange(len(pair), dtype=np.int64) - np.repeat(
        np.cumsum(per_pair) - per_pair, per_pair
    )
    group_of_a = ids[starts[a][pair] + step]  # each group of a[i], one row per group
    wanted = b[pair] * width + group_of_a
    position = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    shared = known[position] == wanted
    out[pair[shared]] = True
    return out
