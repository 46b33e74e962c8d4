"""Clustering: records joined by match links, as deterministic cluster labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mdm.matching.values import sorted_unique

# Graphs of up to this many edges (a nightly delta's few) are joined here; larger ones by scipy,
# imported only then: importing scipy's graph module takes longer than a delta's whole match.
SMALL_GRAPH_EDGES = 20_000


def connected_components(
    n: int, left: npt.NDArray[np.integer], right: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    """Cluster label of each of the ``n`` rows, given undirected edges ``left[i]``-``right[i]``.

    Labels are numbered in order of each cluster's smallest row (row 0 is in cluster 0, the
    first row not in it starts cluster 1, ...), so they depend only on the partition, never on
    edge order or direction. Rows with no edge are clusters of their own.
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    if left.shape != right.shape:
        raise ValueError(f"left and right differ in length: {len(left)} != {len(right)}")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if len(left) <= SMALL_GRAPH_EDGES:
        return _first_appearance(hooked_components(n, left, right))
    return _first_appearance(scipy_components(n, left, right))


def scipy_components(
    n: int, left: npt.NDArray[np.integer[Any]], right: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.int64]:
    """A component number of each row, by scipy."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components as components

    graph = coo_array((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def hooked_components(
    n: int, left: npt.NDArray[np.integer[Any]], right: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.int64]:
    """The smallest row of each row's component, with whole-array steps: each row points at a
    root (a row pointing at itself); every edge whose two ends have different roots hooks the
    larger root onto the smaller, then each row follows pointers to its root, until no edge
    joins two roots. A root only ever points lower, and each round hooks at least one, so the
    rounds end; hooks follow edges, so a root's rows are one component."""
    parent = np.arange(n, dtype=np.int64)
    while True:
        ends = np.stack([parent[left], parent[right]])
        ends = ends[:, ends[0] != ends[1]]
        if not ends.shape[1]:
            return parent
        np.minimum.at(parent, ends.max(axis=0), ends.min(axis=0))
        while True:  # point at the root: halve every path until none is left
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def _first_appearance(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # scipy happens to number components this way today but does not promise it.
    _, first_row, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first_row), dtype=np.int64)
    rank[np.argsort(first_row)] = np.arange(len(first_row), dtype=np.int64)
    return rank[inverse.reshape(-1)]


# ---- clustering that does not chain ----------------------------------------------------------
#
# Connected components chain: A-B and B-C put A and C together even when A and C were compared
# and found different. Two repairs, each confined to the few components that need one:
#
# 1. Cannot-link constraints (a steward's "these two are different"). A component holding a
#    cannot-link pair is rebuilt by adding its match edges strongest first and skipping any
#    edge that would join two records that must stay apart (Kruskal's algorithm with
#    constraints): the result is the strongest clustering that respects every constraint.
# 2. Weak bridges. A bridge is a match edge whose removal splits its component: the two sides
#    are held together by that one judgement only. A bridge is cut when the pairs compared
#    across it (the bridge itself, and every other candidate pair with one record on each
#    side) have an average match probability below ``min_support`` (the review threshold):
#    the evidence between the two sides, taken together, does not say "same". This is
#    average linkage applied only where a single edge decides, so a cluster that is densely
#    matched is never split, and an edge that no compared pair contradicts is never cut.
#    Only components with a contradiction inside (a candidate pair between two of their
#    records that is not a match) are examined; bridges are found with Tarjan's algorithm
#    and cut weakest first, each judged on the sides left by the cuts before it.
#
# Bridges rather than a general minimum cut: a bridge is exactly the "single weak link" that
# chaining is made of, it is cheap to find, and cutting only bridges never splits a record
# group that is connected by two or more independent matches.


def bridges(
    n: int, left: npt.NDArray[np.integer], right: npt.NDArray[np.integer]
) -> npt.NDArray[np.bool_]:
    """Whether each undirected edge ``left[i]``-``right[i]`` is a bridge (Tarjan, iterative).

    Repeated edges are never bridges (either copy keeps the graph connected); self-loops never
    are. Python-level, linear in nodes and edges: meant for the few components examined.
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    m = len(left)
    out = np.zeros(m, dtype=bool)
    if m == 0:
        return out
    heads = np.concatenate([right, left])  # half-edge 2k..: the edge k as (left -> right) ...
    tails = np.concatenate([left, right])
    edge_of = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(tails, kind="stable")
    heads_sorted = heads[order].tolist()
    edges_sorted = edge_of[order].tolist()
    starts = np.searchsorted(tails[order], np.arange(n + 1)).tolist()
    discovery = [-1] * n
    low = [0] * n
    timer = 0
    for root in sorted_unique(np.concatenate([left, right])).tolist():
        if discovery[root] >= 0:
            continue
        discovery[root] = low[root] = timer
        timer += 1
        # Each frame: node, the edge it was reached by, its next adjacency position.
        stack = [(root, -1, starts[root])]
        while stack:
            node, via, position = stack[-1]
            if position < starts[node + 1]:
                stack[-1] = (node, via, position + 1)
                edge = edges_sorted[position]
                if edge == via:
                    continue
                other = heads_sorted[position]
                if discovery[other] < 0:
                    discovery[other] = low[other] = timer
                    timer += 1
                    stack.append((other, edge, starts[other]))
                else:
                    low[node] = min(low[node], discovery[other])
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > discovery[parent]:
                        out[via] = True
    return out


def cluster(
    n: int,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    matched: npt.NDArray[np.bool_],
    probability: npt.NDArray[np.float64],
    *,
    cannot_link: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    split_bridges: bool = True,
    min_support: float = 0.5,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Cluster labels of ``n`` rows from scored candidate pairs, and which matched pairs were
    cut (their two records end in different clusters).

    ``matched`` marks the match edges among the pairs ``left[i]``-``right[i]``; ``probability``
    is every pair's match probability (the bridge test reads the non-matches too).
    ``cannot_link`` pairs (row positions) never end in one cluster.
    """
    matched = np.asarray(matched, dtype=bool)
    labels = connected_components(n, left[matched], right[matched])
    keep = matched.copy()
    if cannot_link is not None and len(cannot_link[0]):
        keep = _respect_cannot_links(n, left, right, keep, probability, labels, cannot_link)
        labels = connected_components(n, left[keep], right[keep])
    if split_bridges:
        keep = _cut_weak_bridges(n, left, right, keep, probability, labels, min_support)
        labels = connected_components(n, left[keep], right[keep])
    return labels, matched & ~keep


def _respect_cannot_links(
    n: int,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    probability: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    cannot_link: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> npt.NDArray[np.bool_]:
    """Drop the match edges that would join cannot-link records, strongest edges first."""
    a, b = (np.asarray(x, dtype=np.int64) for x in cannot_link)
    inside = labels[a] == labels[b]
    if not inside.any():
        return keep
    troubled = np.zeros(n, dtype=bool)
    troubled[labels[a[inside]]] = True
    kept = np.flatnonzero(keep)  # the match edges: a few of the candidate pairs
    edges = kept[troubled[labels[left[kept]]]]
    # Strongest first; ties by record position, so the result does not depend on input order.
    edges = edges[np.lexsort((right[edges], left[edges], -probability[edges]))]
    parent = list(range(n))
    apart: dict[int, set[int]] = {}
    for x, y in zip(a[inside].tolist(), b[inside].tolist(), strict=True):
        apart.setdefault(x, set()).add(y)
        apart.setdefault(y, set()).add(x)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = keep.copy()
    for edge in edges.tolist():
        x, y = find(int(left[edge])), find(int(right[edge]))
        if x == y:
            continue
        if y in apart.get(x, set()):
            out[edge] = False
            continue
        parent[y] = x  # merge y's constraints into x's, re-pointing them to the new root
        for z in apart.pop(y, set()):
            apart.setdefault(x, set()).add(z)
            apart[z].discard(y)
            apart[z].add(x)
    return out


def _cut_weak_bridges(
    n: int,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    probability: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    min_support: float,
) -> npt.NDArray[np.bool_]:
    """Cut bridges whose two sides are, on average over the pairs compared across, apart."""
    left_label = labels[left]
    same = left_label == labels[right]
    contradicted = sorted_unique(left_label[same & ~keep])
    if not len(contradicted):
        return keep
    out = keep.copy()
    is_contradicted = np.zeros(n, dtype=bool)  # labels are row numbers: below n
    is_contradicted[contradicted] = True
    same &= is_contradicted[left_label]
    scope = np.flatnonzero(same)
    del same
    component_of = left_label[scope]
    del left_label
    order = np.argsort(component_of, kind="stable")
    scope = scope[order]
    bounds = np.searchsorted(component_of[order], contradicted)
    ends = np.r_[bounds[1:], len(scope)]
    for start, end in zip(bounds.tolist(), ends.tolist(), strict=True):
        pairs = scope[start:end]  # every candidate pair inside one component
        out[pairs] = _split_component(
            left[pairs], right[pairs], out[pairs], probability[pairs], min_support
        )
    return out


def _split_component(
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    probability: npt.NDArray[np.float64],
    min_support: float,
) -> npt.NDArray[np.bool_]:
    nodes, local = np.unique(np.concatenate([left, right]), return_inverse=True)
    size = len(nodes)
    a, b = local[: len(left)], local[len(left) :]
    keep = keep.copy()
    edges = np.flatnonzero(keep)
    is_bridge = bridges(size, a[edges], b[edges])
    candidates = edges[is_bridge]
    # Weakest first; ties by position, so the result does not depend on input order.
    candidates = candidates[
        np.lexsort((nodes[b[candidates]], nodes[a[candidates]], probability[candidates]))
    ]
    for edge in candidates.tolist():
        keep[edge] = False
        side = connected_components(size, a[keep], b[keep])
        across = side[a] != side[b]
        across &= ((side[a] == side[a[edge]]) & (side[b] == side[b[edge]])) | (
            (side[a] == side[b[edge]]) & (side[b] == side[a[edge]])
        )
        if probability[across].mean() >= min_support:
            keep[edge] = True
    return keep
