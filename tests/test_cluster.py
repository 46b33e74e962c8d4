"""Connected components against networkx, on seeded random graphs and with hypothesis."""

from __future__ import annotations

from random import Random

import networkx as nx
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.matching.cluster import connected_components

Edges = list[tuple[int, int]]


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


@pytest.mark.parametrize(
    ("n", "m", "seed"),
    [(1, 0, 0), (2, 1, 1), (10, 4, 2), (100, 60, 3), (1_000, 700, 4), (20_000, 15_000, 5)],
)
def test_matches_networkx_on_random_graphs(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Fewer edges than nodes leaves many nodes isolated; self-loops and repeats are kept.
    left = rng.integers(0, n, m)
    right = rng.integers(0, n, m)
    labels = connected_components(n, left, right)
    edges = list(zip(left.tolist(), right.tolist(), strict=True))
    assert labels.dtype == np.int64
    assert labels.tolist() == networkx_labels(n, edges)


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
