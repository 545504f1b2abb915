"""Hashes of many strings at once, straight from Arrow's buffers (compiled; xxh64 as the xxhash library)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

from curation.core.columns import string_buffers
from curation.minhash.kernels import xxh64


@njit(nogil=True, cache=True, parallel=True)
def _hash_all(data, offsets, seed, out):
    for i in prange(out.shape[0]):
        out[i] = xxh64(data, offsets[i], offsets[i + 1], seed)


def hash64(strings: pa.Array, seed: int = 0) -> np.ndarray:
    """uint64 xxh64 of every string's UTF-8 bytes (null hashes as the empty string)."""
    data, offsets = string_buffers(strings)
    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    if len(out):
        _hash_all(data, offsets, np.uint64(seed), out)
    return out


@njit(nogil=True, cache=True, parallel=True)
def _hash_pairs(data, offsets, seed_a, seed_b, out_a, out_b):
    for i in prange(out_a.shape[0]):
        out_a[i] = xxh64(data, offsets[i], offsets[i + 1], seed_a)
        out_b[i] = xxh64(data, offsets[i], offsets[i + 1], seed_b)


def hash128(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes per string (a 128-bit key: collisions need both to collide)."""
    data, offsets = string_buffers(strings)
    a = np.empty(len(offsets) - 1, dtype=np.uint64)
    b = np.empty_like(a)
    if len(a):
        _hash_pairs(data, offsets, np.uint64(0), np.uint64(0x9E3779B97F4A7C15), a, b)
    return a, b


def group_labels(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Per row, the index of the first row with the same ``(h1, h2)`` key."""
    n = len(h1)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(n), h2, h1))
    a, b = h1[order], h2[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    group = np.cumsum(starts) - 1
    first = order[starts]  # the smallest index of each group (order is by index within a key)
    labels = np.empty(n, dtype=np.int64)
    labels[order] = first[group]
    return labels


def seeded_rank(seed: int, key: str) -> int:
    """A key's place in a seeded, order-independent shuffle (balance and split draw by it)."""
    import xxhash

    return xxhash.xxh3_64_intdigest(key.encode("utf-8"), seed=seed)


def seeded_ranks(seed: int, keys: list[str]) -> np.ndarray:
    """:func:`seeded_rank` of many keys (uint64)."""
    import xxhash

    digest = xxhash.xxh3_64_intdigest
    return np.fromiter((digest(k.encode("utf-8"), seed=seed) for k in keys), dtype=np.uint64, count=len(keys))


def seeded_order(seed: int, keys: list[str]) -> np.ndarray:
    """Indices of ``keys`` sorted by (seeded rank, key)."""
    ranks = seeded_ranks(seed, keys)
    order = np.argsort(ranks, kind="stable")
    r = ranks[order]
    ties = np.flatnonzero(r[1:] == r[:-1])
    if len(ties):  # equal ranks (practically never): the key decides, as in sorted((rank, key))
        out = sorted(range(len(keys)), key=lambda i: (int(ranks[i]), keys[i]))
        return np.array(out, dtype=np.int64)
    return order
