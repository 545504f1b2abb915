"""Exact Jaccard of candidate pairs, on sets of 64-bit shingle hashes (xxh64 of the UTF-8 bytes).

Shingle sets are not kept from the signature pass (that would be ~8 bytes per shingle for every row);
they are rebuilt for the rows of each block of candidate pairs, at most ``rows_per_block`` rows at a
time, so memory stays bounded whatever the corpus size. Two sets share a member only when the shingles'
64-bit hashes are equal, so a pair's Jaccard can be off only through a 64-bit collision between its own
shingles (odds about ``|A|·|B| / 2**64``, below 1e-13 for FineTome-sized rows). Pairs are processed in
sorted order, so the result does not depend on blocking or threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor

import numpy as np
import pyarrow as pa

from curation.minhash import kernels
from curation.minhash.signatures import encode_rows, shingle_kind_code
from curation.minhash.shingles import lower_table, word_table


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def shingle_hashes(texts: Sequence[str], kind: str, ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, sizes, values)``: row ``i``'s shingle hashes (repeats included) are
    ``values[starts[i] : starts[i] + sizes[i]]``."""
    buf, offsets = encode_rows(texts)
    return kernels.shingle_hashes(buf, offsets, word_table(), lower_table(), shingle_kind_code(kind), ngram)


def arrow_shingle_hashes(texts, kind: str, ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`shingle_hashes` of a ``pyarrow`` string array, from its buffers."""
    from curation.minhash.signatures import encode_arrow

    buf, offsets = encode_arrow(texts)
    return kernels.shingle_hashes(buf, offsets, word_table(), lower_table(), shingle_kind_code(kind), ngram)


def exact_jaccard(
    texts,
    pairs: np.ndarray,
    kind: str,
    ngram: int,
    out: np.ndarray,
    rows_per_block: int = 20_000,
    pool: Executor | None = None,
    workers: int = 1,
) -> Iterator[range]:
    """Fill ``out[k]`` with the Jaccard of pair ``k`` (rows of ``texts``: a sequence of str, or anything whose
    ``take`` gives a ``pyarrow`` string array: such an array, read in place, or
    :class:`curation.core.columns.RowTexts`, which makes each block's text as it is taken); yields each finished
    block of pairs as a ``range`` (for a progress bar). Iterate it to the end."""
    sets = ShingleSets(texts, kind, ngram, pool, workers)
    pairs_per_block = max(1, rows_per_block // 2)
    for lo in range(0, len(pairs), pairs_per_block):
        hi = min(lo + pairs_per_block, len(pairs))
        sets.prepare(np.unique(pairs[lo:hi]))
        out[lo:hi] = sets.measure(pairs[lo:hi])
        yield range(lo, hi)


class ShingleSets:
    """Exact Jaccard of pairs, from the shingle sets of the rows :meth:`prepare` last built (a
    :class:`curation.minhash.linking.Measurer`): ``texts`` as :func:`exact_jaccard` takes them; the sets are
    built, and the pairs measured, on ``workers`` threads of ``pool``."""

    def __init__(self, texts, kind: str, ngram: int, pool: Executor | None = None, workers: int = 1) -> None:
        self.texts = texts
        self.kind = kind
        self.ngram = ngram
        self.pool = pool
        self.workers = workers if pool is not None else 1
        self.rows = np.empty(0, dtype=np.int64)
        self.sets: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _map(self, fn, spans):
        return list(self.pool.map(fn, spans)) if self.pool is not None and len(spans) > 1 else [fn(s) for s in spans]

    def prepare(self, rows: np.ndarray) -> None:
        self.sets = None  # (the last rows' sets go first)
        self.rows = np.asarray(rows, dtype=np.int64)

        def build(span):
            a, b = span
            if isinstance(self.texts, (list, tuple, dict)):
                return shingle_hashes([self.texts[int(r)] for r in self.rows[a:b]], self.kind, self.ngram)
            return arrow_shingle_hashes(self.texts.take(pa.array(self.rows[a:b])), self.kind, self.ngram)

        self.sets = _concat_sets(self._map(build, _split(len(self.rows), self.workers)))

    def measure(self, pairs: np.ndarray) -> np.ndarray:
        left = np.searchsorted(self.rows, pairs[:, 0])
        right = np.searchsorted(self.rows, pairs[:, 1])
        out = np.empty(len(pairs), dtype=np.float64)
        starts, sizes, values = self.sets

        def one(span):
            a, b = span
            kernels.pair_jaccard(left[a:b], right[a:b], starts, sizes, values, out[a:b])

        self._map(one, _split(len(pairs), self.workers))
        return out


def _concat_sets(parts):
    if len(parts) == 1:
        return parts[0]
    starts, sizes, values = [], [], []
    base = 0
    for s, z, v in parts:
        starts.append(s + base)
        sizes.append(z)
        values.append(v)
        base += len(v)
    return np.concatenate(starts), np.concatenate(sizes), np.concatenate(values)


def estimated_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """datasketch's estimate for each pair (the share of equal signature values), for ``verify: false``."""
    out = np.empty(len(pairs), dtype=np.float64)
    if len(pairs):
        kernels.signature_agreement(signatures, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), out)
    return out
