"""Clusters of candidate pairs, measuring only the pairs that can still join two clusters.

A near-duplicate cluster is a connected component of the graph whose edges are the candidate pairs whose
similarity is at or above the threshold. A pair whose rows are in one component already cannot change the
components, whatever its similarity. So :class:`Linker` takes the pairs in order, a block at a time, measures
only those whose rows are still apart, and joins the similar ones (union-find). The components are exactly those
of measuring every pair, in any order. Where LSH proposes every pair of a large cluster (up to ``k(k-1)/2`` for
``k`` rows, ``bucket_cap`` rows to a bucket), about ``k`` of them are measured.

Measuring a pair exactly needs both rows' shingle sets, rebuilt from their text (keeping every candidate row's
set would cost ~8 bytes per shingle of the corpus). The rows are cut into blocks of ``rows_per_block``, and the
pairs are taken a pair of row blocks at a time: each rebuilds at most two blocks' sets (only the rows of pairs
still apart), however many pairs it holds, so memory stays bounded by the block, and a row is rebuilt once per
block pair, not once per pair block it appears in.

A removed row's ``details.similarity`` is its similarity to the row kept in its place when that pair is a
candidate at or above the threshold: :meth:`Linker.similarity_of` measures those pairs that were skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from curation.minhash import kernels


class Measurer(Protocol):
    """How pairs of rows are measured: :meth:`prepare` the rows (sorted, unique) the next pairs use, then
    :meth:`measure` pairs of those rows."""

    def prepare(self, rows: np.ndarray) -> None: ...

    def measure(self, pairs: np.ndarray) -> np.ndarray: ...


class PairFunction:
    """A :class:`Measurer` that needs no preparing: ``measure(pairs) -> similarities``."""

    def __init__(self, measure: Callable[[np.ndarray], np.ndarray]) -> None:
        self.measure = measure  # type: ignore[method-assign]

    def prepare(self, rows: np.ndarray) -> None:
        pass


class Linker:
    """Union-find over ``n`` rows, fed the candidate ``pairs`` (``(k, 2)`` integers, ``i < j``, sorted, unique)."""

    def __init__(self, n: int, pairs: np.ndarray, measurer: Measurer, threshold: float, pairs_per_block: int,
                 rows_per_block: int) -> None:
        self.n = n
        self.pairs = pairs
        self.measurer = measurer
        self.threshold = float(threshold)
        self.pairs_per_block = max(1, int(pairs_per_block))
        self.rows_per_block = max(2, int(rows_per_block))
        self.parent = np.arange(n, dtype=np.int64)
        self.sims = np.full(len(pairs), np.nan)  # NaN: not measured

    def _groups(self) -> Iterator[np.ndarray]:
        """Indices of the pairs, a pair of row blocks at a time (in pair order within each)."""
        half = self.rows_per_block // 2
        if self.n <= half or not len(self.pairs):
            yield np.arange(len(self.pairs))
            return
        blocks = -(-self.n // half)
        key = (self.pairs[:, 0] // half).astype(np.int64) * blocks + self.pairs[:, 1] // half
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        del key
        yield from np.split(order, bounds)

    def _apart(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty(len(idx), dtype=np.bool_)
        kernels.apart(self.parent, np.ascontiguousarray(self.pairs[idx, 0]), np.ascontiguousarray(self.pairs[idx, 1]), out)
        return out

    def run(self) -> Iterator[range]:
        """Link every pair; yields a ``range`` as long as each step's pairs (for a progress bar)."""
        for group in self._groups():
            apart = group[self._apart(group)]
            if len(apart):
                self.measurer.prepare(np.unique(self.pairs[apart]))
            for lo in range(0, len(apart), self.pairs_per_block):
                idx = apart[lo : lo + self.pairs_per_block]
                todo = idx[self._apart(idx)]
                if len(todo):
                    measured = self.measurer.measure(self.pairs[todo])
                    self.sims[todo] = measured
                    kernels.join_similar(self.parent, np.ascontiguousarray(self.pairs[todo, 0]),
                                         np.ascontiguousarray(self.pairs[todo, 1]), measured, self.threshold)
            yield range(len(group))

    def labels(self) -> np.ndarray:
        """Each row's cluster: the smallest row of its component."""
        out = np.empty(self.n, dtype=np.int64)
        kernels.roots(self.parent, out)
        return out

    @property
    def measured(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.sims)))

    @property
    def similar(self) -> int:
        """Measured pairs at or above the threshold."""
        return int(np.count_nonzero(self.sims >= self.threshold))

    def similarity_of(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows ``a[k]``, ``b[k]``: (is the pair a candidate at or above the threshold, its similarity);
        candidates not measured yet are measured now."""
        values = np.full(len(a), np.nan)
        if not len(self.pairs) or not len(a):
            return np.zeros(len(a), dtype=bool), values
        codes = self.pairs[:, 0].astype(np.int64) * self.n + self.pairs[:, 1]
        wanted = np.minimum(a, b).astype(np.int64) * self.n + np.maximum(a, b)
        at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
        candidate = codes[at] == wanted
        late = np.unique(at[candidate & np.isnan(self.sims[at])])
        step = max(1, self.rows_per_block // 2)  # (each pair brings at most two rows)
        for lo in range(0, len(late), step):
            some = late[lo : lo + step]
            self.measurer.prepare(np.unique(self.pairs[some]))
            self.sims[some] = self.measurer.measure(self.pairs[some])
        values[candidate] = self.sims[at[candidate]]
        return candidate & (values >= self.threshold), values
