"""Ground truth for near-duplicate search: every pair at or above a Jaccard threshold, by brute force.

Shingle sets come from the plain-Python definition (:func:`curation.minhash.shingles.shingles`, the
shingles' bytes themselves, no hashing), become a binary sparse matrix ``X`` (rows x distinct shingles),
and ``X @ X.T`` gives every pair's intersection, block of rows by block of rows. Quadratic, so for samples
(tests, the benchmark's quality check on 10k rows), not for corpora.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.minhash.shingles import shingles


def shingle_matrix(texts: Sequence[str], kind: str = "word", ngram: int = 5):
    """CSR matrix (rows x distinct shingles) of 0/1, int32."""
    from scipy.sparse import csr_matrix

    vocab: dict[bytes, int] = {}
    indptr = [0]
    indices: list[int] = []
    for text in texts:
        ids = {vocab.setdefault(s, len(vocab)) for s in shingles(text, kind, ngram)}
        indices.extend(sorted(ids))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.int32)
    return csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)), shape=(len(texts), max(len(vocab), 1)))


def exact_pairs(
    texts: Sequence[str], threshold: float, kind: str = "word", ngram: int = 5, block: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``i < j``, both with shingles, whose true Jaccard is ``>= threshold``; and those
    Jaccards. Pairs sorted lexicographically."""
    x = shingle_matrix(texts, kind, ngram)
    sizes = np.asarray(x.sum(axis=1)).ravel()
    xt = x.T.tocsr()
    found_i, found_j, found_s = [], [], []
    for lo in range(0, x.shape[0], block):
        hi = min(lo + block, x.shape[0])
        inter = (x[lo:hi] @ xt).tocoo()
        i = inter.row.astype(np.int64) + lo
        j = inter.col.astype(np.int64)
        keep = j > i
        i, j, both = i[keep], j[keep], inter.data[keep].astype(np.int64)
        sim = both / (sizes[i] + sizes[j] - both)
        ok = sim >= threshold
        found_i.append(i[ok])
        found_j.append(j[ok])
        found_s.append(sim[ok])
    if not found_i:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    i, j, s = np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)
    order = np.lexsort((j, i))
    return np.stack([i[order], j[order]], axis=1), s[order]


def recall_precision(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Share of true pairs found, and share of found pairs that are true (1.0 when there is nothing to find
    or nothing found)."""
    f = {tuple(p) for p in found.tolist()}
    t = {tuple(p) for p in truth.tolist()}
    hit = len(f & t)
    return (hit / len(t) if t else 1.0), (hit / len(f) if f else 1.0)
