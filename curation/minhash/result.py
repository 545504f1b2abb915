"""What a near-duplicate search returns, and union-find over its pairs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class NearDupResult:
    """Pairs ``(i, j)`` with ``i < j`` (indices into the input texts) whose similarity passed."""

    pairs: np.ndarray  # int64, shape (k, 2), sorted lexicographically
    jaccard: np.ndarray  # float64, shape (k,): true Jaccard when verified, else estimated
    candidates: int  # candidate pairs LSH proposed before verification
    stats: dict = field(default_factory=dict)  # deterministic: same input and config, same stats
    seconds: dict = field(default_factory=dict, compare=False)  # wall time per phase (volatile)

    @staticmethod
    def from_pairs(pairs: dict[tuple[int, int], float], candidates: int, stats: dict | None = None) -> "NearDupResult":
        keys = sorted(pairs)
        arr = np.array(keys, dtype=np.int64).reshape(-1, 2)
        sims = np.array([pairs[k] for k in keys], dtype=np.float64)
        return NearDupResult(arr, sims, candidates, stats or {})


def clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph: label per row (the smallest row index in its component)."""
    labels = np.arange(n, dtype=np.int64)
    if len(pairs) == 0:
        return labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    # relabel each component by its smallest member so labels do not depend on scipy's numbering
    smallest = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n, dtype=np.int64))
    return smallest[comp]
