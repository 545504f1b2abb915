"""LSH banding: band keys per row, kept in memory or spilled to disk, turned into candidate pairs.

Band ``j`` of a signature is its values ``[j*r, (j+1)*r)`` (datasketch's ``hashranges``). Two rows are
candidates when some band is equal in both; the fast backend compares a 64-bit hash of each band (a false
match needs a 64-bit collision, and is then rejected by verification like any other candidate).

:class:`BandTable` holds the keys band by band. When ``rows * bands * 8`` bytes would pass ``spill_bytes``
it appends each band to its own file instead, and candidate search then reads one band at a time, so the
memory for banding is one band (8 bytes a row) rather than the whole table.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Executor
from functools import lru_cache

import numpy as np

from curation.minhash import kernels
from curation.parallel import ordered_map


@lru_cache(maxsize=64)
def lsh_params(
    threshold: float,
    num_perm: int,
    bands: int | None = None,
    rows_per_band: int | None = None,
    weights: tuple[float, float] = (0.5, 0.5),
) -> tuple[int, int]:
    """``(bands, rows_per_band)``: the configured pair, or datasketch's optimum for the threshold.

    The optimum is what ``MinHashLSH(threshold, num_perm, weights)`` picks (``datasketch.lsh._optimal_param``):
    the ``(b, r)`` with the least weighted sum of the false positive area ``∫_0^t 1-(1-s^r)^b ds`` and the
    false negative area ``∫_t^1 (1-s^r)^b ds``. datasketch integrates each of its ~``num_perm·ln(num_perm)``
    pairs with ``scipy.integrate.quad`` (seconds); the integrands are polynomials of degree ``b·r <= num_perm``,
    so Gauss-Legendre with ``num_perm/2 + 1`` nodes integrates all pairs exactly in one numpy pass. Should
    several pairs lie within rounding of the best, they are re-scored with datasketch's own functions, in its
    order, so the choice is datasketch's.
    """
    if bands is not None and rows_per_band is not None:
        return int(bands), int(rows_per_band)
    fp_w, fn_w = float(weights[0]), float(weights[1])
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, :1], pairs[:, 1:]
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(lo: float, hi: float, miss: bool) -> np.ndarray:
        s = (hi - lo) / 2 * x + (hi + lo) / 2
        with np.errstate(under="ignore"):
            keep = (1 - s[None, :] ** r) ** b
        f = keep if miss else 1 - keep
        return (f * w[None, :]).sum(axis=1) * (hi - lo) / 2

    error = fp_w * area(0.0, threshold, miss=False) + fn_w * area(threshold, 1.0, miss=True)
    close = np.flatnonzero(error <= error.min() + 1e-9 * max(1.0, abs(error.min())) + 1e-12)
    if len(close) == 1:  # the usual case: no near-tie, no need for datasketch (whose import takes seconds)
        return int(pairs[close[0], 0]), int(pairs[close[0], 1])
    from datasketch.lsh import _false_negative_probability, _false_positive_probability

    best, best_err = (0, 0), float("inf")
    for k in close:  # ascending (b, r): datasketch's loop order, first strict minimum wins
        bb, rr = int(pairs[k, 0]), int(pairs[k, 1])
        err = fp_w * _false_positive_probability(threshold, bb, rr) + fn_w * _false_negative_probability(threshold, bb, rr)
        if err < best_err:
            best, best_err = (bb, rr), err
    return best


def lsh_params_for(cfg) -> tuple[int, int]:
    return lsh_params(cfg.threshold, cfg.num_perm, cfg.bands, cfg.rows_per_band, tuple(cfg.lsh_weights))


class BandMatrix:
    """Band keys already in memory as ``(rows, bands)`` matrices, one per chunk of rows (views of the
    near-dedup keys, not copies): :func:`candidate_pairs` gathers one band at a time, in the keys' own type
    (near dedup keeps 32 bits: :func:`band_candidates` then orders a band by one plain sort, 4.7x quicker than
    the stable argsort 64-bit keys take)."""

    spilled = False

    def __init__(self, chunks: list[np.ndarray], bands: int) -> None:
        self.chunks = [c for c in chunks if len(c)]
        self.n = sum(len(c) for c in self.chunks)
        self.bands = bands

    def band(self, j: int) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.uint32)
        return np.concatenate([c[:, j] for c in self.chunks])


class BandTable:
    """uint64 band keys of ``n`` rows, written chunk by chunk in row order."""

    def __init__(self, n: int, bands: int, spill_bytes: int, spill_dir: str | None = None):
        self.n = n
        self.bands = bands
        self.spilled = n * bands * 8 > spill_bytes
        self._filled = 0
        self._dir: str | None = None
        if self.spilled:
            self._dir = tempfile.mkdtemp(prefix="tomecraft-bands-", dir=spill_dir)
            self._files = [open(os.path.join(self._dir, f"band{j:03d}.u64"), "wb") for j in range(bands)]
        else:
            self._keys = np.empty((bands, n), dtype=np.uint64)

    def add(self, start: int, keys: np.ndarray) -> None:
        """Keys ``(rows, bands)`` of rows ``start .. start + rows`` (chunks arrive in order)."""
        if start != self._filled:
            raise ValueError(f"band keys out of order: got rows from {start}, expected {self._filled}")
        stop = start + keys.shape[0]
        if self.spilled:
            for j, f in enumerate(self._files):
                f.write(np.ascontiguousarray(keys[:, j]).tobytes())
        else:
            self._keys[:, start:stop] = keys.T
        self._filled = stop

    def band(self, j: int) -> np.ndarray:
        if self._filled != self.n:
            raise ValueError(f"band table incomplete: {self._filled} of {self.n} rows")
        if not self.spilled:
            return self._keys[j]
        self._files[j].flush()
        return np.fromfile(os.path.join(self._dir, f"band{j:03d}.u64"), dtype=np.uint64)

    def close(self) -> None:
        if self._dir is not None:
            for f in self._files:
                f.close()
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        else:
            self._keys = None

    def __enter__(self) -> "BandTable":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def band_candidates(keys: np.ndarray, rows: np.ndarray, n: int, bucket_cap: int) -> tuple[np.ndarray, int]:
    """Packed candidate pairs (``lo * n + hi``) of one band over ``rows`` (ascending), and capped buckets.

    The rows are ordered by key, rows ascending within a key (a capped bucket links its first rows). For keys
    of 32 bits or less and fewer than 2**32 rows that order is one plain sort of ``key << 32 | row`` (NumPy's
    default sort: several times faster than its stable argsort, same order)."""
    if keys.dtype.itemsize <= 4 and n < (1 << 32) and np.issubdtype(keys.dtype, np.unsignedinteger):
        packed = (keys.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64)
        packed.sort()
        low = np.uint64(0xFFFFFFFF)
        return kernels.bucket_pairs((packed & low).astype(np.int64), (packed >> np.uint64(32)).astype(keys.dtype), n,
                                    bucket_cap)
    order = np.argsort(keys, kind="stable")
    return kernels.bucket_pairs(rows[order], keys[order], n, bucket_cap)


BANDS_AHEAD = 2  # bands whose pairs are made at once, while the one before them is merged (each held until it is)


def candidate_pairs(table: BandTable, valid: np.ndarray, bucket_cap: int, pool: Executor | None = None) -> tuple[np.ndarray, int]:
    """Unique candidate pairs ``(k, 2)`` int64 (``i < j``, sorted) over all bands, and capped buckets.

    Only rows with ``valid`` (rows that have shingles) take part, as only they enter datasketch's index.
    Each band's pairs are sorted (on the pool, :data:`BANDS_AHEAD` bands at a time) and merged into the pairs of
    the bands before, so that memory holds the union and a few bands' pairs, not every band's.
    """
    n = table.n
    rows = np.flatnonzero(valid).astype(np.int64)

    def one(j: int) -> tuple[np.ndarray, int]:
        keys = table.band(j)
        packed, capped = band_candidates(keys[rows] if len(rows) != n else keys, rows, n, bucket_cap)
        packed.sort()
        return packed, capped

    if pool is None or table.spilled:
        # spilled: one band in memory at a time
        results: Iterator[tuple[np.ndarray, int]] = (one(j) for j in range(table.bands))
    else:
        results = ordered_map(pool, one, range(table.bands), BANDS_AHEAD)
    union = np.empty(0, np.int64)
    capped = 0
    for packed, c in results:
        capped += c
        union = kernels.merge_unique(union, packed)
        del packed
    pairs = np.empty((len(union), 2), dtype=np.int64)
    if len(union):
        np.divmod(union, n, out=(pairs[:, 0], pairs[:, 1]))
    return pairs, capped

