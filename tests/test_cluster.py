"""Connected components against networkx, on seeded random graphs and with hypothesis."""

from __future__ import annotations

import importlib
import subprocess
import sys
from itertools import pairwise
from random import Random

import networkx as nx
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.matching.cluster import (
    bridges,
    cluster,
    connected_components,
    hooked_components,
    scipy_components,
)

Edges = list[tuple[int, int]]
# The module (``mdm.matching.cluster`` as an attribute is the function it exports).
cluster_module = importlib.import_module("mdm.matching.cluster")


def networkx_labels(n: int, edges: Edges) -> list[int]:
    """Labels from networkx, numbered in order of each component's smallest node."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    labels = [-1] * n
    for label, component in enumerate(sorted(nx.connected_components(graph), key=min)):
        for node in component:
            labels[node] = label
    return labels


def partition(labels: npt.NDArray[np.int64] | list[int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in enumerate(labels):
        groups.setdefault(int(label), set()).add(node)
    return {frozenset(group) for group in groups.values()}


def components(n: int, edges: Edges) -> npt.NDArray[np.int64]:
    array = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return connected_components(n, array[:, 0], array[:, 1])


def is_first_appearance_ordered(labels: npt.NDArray[np.int64]) -> bool:
    """Row 0 has label 0 and each new label is one more than the largest seen before it."""
    seen_max = np.maximum.accumulate(np.concatenate([[-1], labels]))[:-1]
    return bool(np.all(labels <= seen_max + 1))


@pytest.fixture(params=["numpy", "scipy"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Components found by whole-array hooking (small graphs) or by scipy (large ones)."""
    limit = 10**9 if request.param == "numpy" else -1
    monkeypatch.setattr(cluster_module, "SMALL_GRAPH_EDGES", limit)
    return str(request.param)


@pytest.mark.parametrize(
    ("n", "m", "seed"),
    [(1, 0, 0), (2, 1, 1), (10, 4, 2), (100, 60, 3), (1_000, 700, 4), (20_000, 15_000, 5)],
)
def test_matches_networkx_on_random_graphs(n: int, m: int, seed: int, way: str) -> None:
    rng = np.random.default_rng(seed)
    # Fewer edges than nodes leaves many nodes isolated; self-loops and repeats are kept.
    left = rng.integers(0, n, m)
    right = rng.integers(0, n, m)
    labels = connected_components(n, left, right)
    edges = list(zip(left.tolist(), right.tolist(), strict=True))
    assert labels.dtype == np.int64
    assert labels.tolist() == networkx_labels(n, edges)


def _path(order: list[int]) -> Edges:
    return list(pairwise(order))


STRUCTURED = {
    "path": (300, _path(list(range(300)))),
    "path numbered backwards": (300, _path(list(range(299, -1, -1)))),
    "path numbered zigzag": (301, _path([*range(0, 301, 2), *range(299, 0, -2)])),
    "path shuffled": (300, _path(Random(3).sample(range(300), 300))),
    "star on the last node": (200, [(199, node) for node in range(199)]),
    "two stars and a bridge": (
        100,
        [(0, node) for node in range(1, 50)] + [(99, node) for node in range(50, 99)] + [(7, 60)],
    ),
    "binary tree": (255, [(node, (node - 1) // 2) for node in range(1, 255)]),
}


@pytest.mark.parametrize("name", sorted(STRUCTURED))
def test_matches_networkx_on_long_chains_stars_and_trees(name: str, way: str) -> None:
    n, edges = STRUCTURED[name]
    assert components(n, edges).tolist() == networkx_labels(n, edges)


def test_a_delta_s_small_graph_does_not_import_scipy() -> None:
    code = (
        "import sys, numpy as np\n"
        "from mdm.matching.cluster import connected_components\n"
        "connected_components(5, np.array([0, 3]), np.array([1, 4]))\n"
        "print('scipy.sparse' in sys.modules)\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def test_isolated_nodes_are_singletons_in_row_order() -> None:
    labels = components(6, [(4, 2)])
    assert labels.tolist() == [0, 1, 2, 3, 2, 4]


def test_no_nodes() -> None:
    labels = connected_components(0, np.empty(0, np.int64), np.empty(0, np.int64))
    assert labels.dtype == np.int64
    assert labels.tolist() == []


def test_accepts_narrow_integer_edges() -> None:
    edges = np.array([3, 1], dtype=np.int32), np.array([0, 2], dtype=np.int32)
    assert connected_components(4, *edges).tolist() == [0, 1, 1, 0]


def test_rejects_edge_arrays_of_different_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        connected_components(3, np.array([0, 1]), np.array([1]))


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, Edges]:
    n = draw(st.integers(min_value=1, max_value=40))
    node = st.integers(min_value=0, max_value=n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=60))
    return n, edges


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_same_partition_as_networkx(graph: tuple[int, Edges]) -> None:
    n, edges = graph
    labels = components(n, edges)
    assert partition(labels) == partition(networkx_labels(n, edges))
    assert labels[0] == 0
    assert is_first_appearance_ordered(labels)


@settings(max_examples=200, deadline=None)
@given(graphs(), st.randoms(use_true_random=False))
def test_labels_do_not_depend_on_edge_order_or_direction(
    graph: tuple[int, Edges], rng: Random
) -> None:
    n, edges = graph
    shuffled = list(edges)
    rng.shuffle(shuffled)
    flipped = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in shuffled]
    assert components(n, flipped).tolist() == components(n, edges).tolist()


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_hooking_and_scipy_give_the_same_labels(graph: tuple[int, Edges]) -> None:
    n, edges = graph
    array = np.array(edges, dtype=np.int64).reshape(-1, 2)
    hooked = hooked_components(n, array[:, 0], array[:, 1])
    assert partition(hooked) == partition(scipy_components(n, array[:, 0], array[:, 1]))
    # Each row points at its component's smallest row.
    assert all(hooked[node] <= node for node in range(n))
    assert hooked[hooked].tolist() == hooked.tolist()


# ---- bridges and clustering that does not chain --------------------------------------------


def simple_edges(edges: Edges) -> Edges:
    """Each undirected edge once, no self-loops (candidate pairs are like that)."""
    return sorted({(min(a, b), max(a, b)) for a, b in edges if a != b})


@pytest.mark.parametrize(("n", "m", "seed"), [(10, 12, 1), (200, 220, 2), (2_000, 2_100, 3)])
def test_bridges_match_networkx_on_random_graphs(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = simple_edges(
        list(zip(rng.integers(0, n, m).tolist(), rng.integers(0, n, m).tolist(), strict=True))
    )
    array = np.array(edges, dtype=np.int64).reshape(-1, 2)
    found = bridges(n, array[:, 0], array[:, 1])
    graph = nx.Graph(edges)
    expected = {(min(a, b), max(a, b)) for a, b in nx.bridges(graph)}
    assert {
        edge for edge, is_bridge in zip(edges, found.tolist(), strict=True) if is_bridge
    } == expected


@settings(max_examples=200, deadline=None)
@given(graphs())
def test_bridges_match_networkx(graph: tuple[int, Edges]) -> None:
    n, edges = graph
    edges = simple_edges(edges)
    array = np.array(edges, dtype=np.int64).reshape(-1, 2)
    found = bridges(n, array[:, 0], array[:, 1])
    expected = {(min(a, b), max(a, b)) for a, b in nx.bridges(nx.Graph(edges))} if edges else set()
    assert {
        edge for edge, is_bridge in zip(edges, found.tolist(), strict=True) if is_bridge
    } == expected


def test_repeated_edges_are_not_bridges() -> None:
    assert bridges(3, np.array([0, 0, 1]), np.array([1, 1, 2])).tolist() == [False, False, True]


def run_cluster(
    n: int,
    pairs: list[tuple[int, int, bool, float]],
    cannot: Edges = (),  # type: ignore[assignment]
    split: bool = True,
) -> tuple[list[int], list[bool]]:
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    matched = np.array([p[2] for p in pairs], dtype=bool)
    probability = np.array([p[3] for p in pairs], dtype=np.float64)
    apart = np.array(list(cannot), dtype=np.int64).reshape(-1, 2)
    labels, cut = cluster(
        n, left, right, matched, probability, cannot_link=(apart[:, 0], apart[:, 1]),
        split_bridges=split,
    )  # fmt: skip
    return labels.tolist(), cut.tolist()


def test_a_weak_bridge_between_two_dense_groups_is_cut() -> None:
    # 0-1-2 and 3-4-5 are triangles of strong matches; 2-3 matches, but 0-3, 1-4 and 2-5
    # were compared and are clearly different.
    strong = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5)]
    pairs = [(a, b, True, 0.99) for a, b in strong]
    pairs += [(2, 3, True, 0.9), (0, 3, False, 0.01), (1, 4, False, 0.02), (2, 5, False, 0.01)]
    labels, cut = run_cluster(6, pairs)
    assert labels == [0, 0, 0, 1, 1, 1]
    assert cut == [False] * 6 + [True, False, False, False]
    # Without the contradicting pairs the same bridge holds.
    labels, cut = run_cluster(6, pairs[:7])
    assert labels == [0] * 6
    assert not any(cut)


def test_a_bridge_without_contradiction_is_kept_and_a_clique_is_never_split() -> None:
    pairs = [(0, 1, True, 0.99), (1, 2, True, 0.6), (0, 2, False, 0.4)]  # average 0.66
    assert run_cluster(3, pairs)[0] == [0, 0, 0]
    clique = [(a, b, True, 0.51) for a in range(4) for b in range(a + 1, 4)]
    assert run_cluster(5, [*clique, (3, 4, False, 0.0)])[0] == [0, 0, 0, 0, 1]


def test_cannot_link_splits_the_weakest_way() -> None:
    # A chain 0-1-2-3 whose ends must stay apart: the weakest edge (1-2) goes.
    pairs = [(0, 1, True, 0.99), (1, 2, True, 0.7), (2, 3, True, 0.95)]
    labels, cut = run_cluster(4, pairs, cannot=[(0, 3)])
    assert labels == [0, 0, 1, 1]
    assert cut == [False, True, False]


@st.composite
def scored_graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, bool, float]], Edges]:
    n, edges = draw(graphs())
    edges = simple_edges(edges)
    pairs = [
        (a, b, draw(st.booleans()), draw(st.floats(min_value=0.0, max_value=1.0))) for a, b in edges
    ]
    node = st.integers(min_value=0, max_value=n - 1)
    cannot = [(a, b) for a, b in draw(st.lists(st.tuples(node, node), max_size=4)) if a != b]
    return n, pairs, cannot


@settings(max_examples=200, deadline=None)
@given(scored_graphs())
def test_clusters_respect_constraints_and_never_add_links(
    graph: tuple[int, list[tuple[int, int, bool, float]], Edges],
) -> None:
    n, pairs, cannot = graph
    labels, cut = run_cluster(n, pairs, cannot)
    for a, b in cannot:
        assert labels[a] != labels[b]
    # Every cluster is connected by the matches that were kept (a subset of the matches).
    kept = [
        (a, b)
        for (a, b, matched, _), was_cut in zip(pairs, cut, strict=True)
        if matched and not was_cut
    ]
    assert partition(labels) == partition(networkx_labels(n, kept))
    assert all(matched for (_, _, matched, _), was_cut in zip(pairs, cut, strict=True) if was_cut)
    # Without constraints and splitting, the clusters are the connected components.
    plain, none_cut = run_cluster(n, pairs, split=False)
    matched_edges = [(a, b) for a, b, matched, _ in pairs if matched]
    assert partition(plain) == partition(networkx_labels(n, matched_edges))
    assert not any(none_cut)
    # Clustering only ever splits components, never joins them.
    assert all(plain[a] == plain[b] for a in range(n) for b in range(n) if labels[a] == labels[b])
