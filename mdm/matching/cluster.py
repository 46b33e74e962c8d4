"""Clustering: records joined by match links, as deterministic cluster labels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components as _scipy_components


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
    graph = coo_array((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = _scipy_components(graph, directed=False)
    return _first_appearance(np.asarray(labels, dtype=np.int64))


def _first_appearance(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # scipy happens to number components this way today but does not promise it.
    _, first_row, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first_row), dtype=np.int64)
    rank[np.argsort(first_row)] = np.arange(len(first_row), dtype=np.int64)
    return rank[inverse.reshape(-1)]
