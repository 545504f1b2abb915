"""Hashes of many strings at once, straight from Arrow's buffers (compiled; xxh64 as the xxhash library),
and the seeded ranks balance and split draw by.

The kernels here and in the stages are single-threaded and release the GIL (``nogil``): the engines run
batches side by side, so no kernel starts threads of its own (which, with numba's fallback threading
layer, must never be entered from two threads at once)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curation.core.columns import string_buffers
from curation.core.jit import njit
from curation.minhash.kernels import xxh64


@njit(nogil=True, cache=True)
def _hash_pairs(data, offsets, seed_a, seed_b, out_a, out_b):
    for i in range(out_a.shape[0]):
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


def seeded_ranks(seed: int, keys: list[str] | pa.Array) -> np.ndarray:
    """:func:`seeded_rank` of many keys (uint64); an Arrow array is read a slice at a time, as the bytes of its
    text (a string array read as binary: its UTF-8, no ``str`` made or encoded)."""
    import itertools

    import xxhash

    digest = xxhash.xxh3_64_intdigest
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        as_bytes = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}.get(keys.type)
        out = np.empty(len(keys), dtype=np.uint64)
        for a in range(0, len(keys), 65_536):
            part = keys.slice(a, 65_536)
            if as_bytes is not None:
                texts = part.cast(as_bytes).to_pylist()
            else:  # (a dictionary array, or another type)
                texts = [k.encode("utf-8") for k in part.to_pylist()]
            out[a : a + len(texts)] = np.fromiter(map(digest, texts, itertools.repeat(seed)), dtype=np.uint64,
                                                  count=len(texts))
        return out
    return np.fromiter(map(digest, (k.encode("utf-8") for k in keys), itertools.repeat(seed)), dtype=np.uint64,
                       count=len(keys))


def seeded_order(seed: int, keys: list[str] | pa.Array) -> np.ndarray:
    """Indices of ``keys`` sorted by (seeded rank, key)."""
    ranks = seeded_ranks(seed, keys)
    order = np.argsort(ranks, kind="stable")
    r = ranks[order]
    ties = np.flatnonzero(r[1:] == r[:-1])
    if len(ties):  # equal ranks (practically never): the key decides, as in sorted((rank, key))
        values = keys.to_pylist() if isinstance(keys, (pa.Array, pa.ChunkedArray)) else keys
        out = sorted(range(len(values)), key=lambda i: (int(ranks[i]), values[i]))
        return np.array(out, dtype=np.int64)
    return order
