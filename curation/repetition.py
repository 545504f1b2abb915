"""Gopher repetition measures (Rae et al. 2021) over word ids, compiled with numba.

A text's words become integer ids (one vocabulary per process) and their lengths; n-grams are compared by
a 64-bit polynomial hash of their ids. ``top_ngram_fractions`` gives, for each n, the characters covered
by the most repeated n-gram (its characters times its count) over all characters; ``dup_ngram_fractions``
gives the characters in n-grams seen before (scanning left to right, skipping past a repeat) over all
characters, as datatrove's ``GopherRepetitionFilter`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit, prange

_P = np.uint64(0x9E3779B97F4A7C15)

def word_arrays(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Word ids (equal words, equal ids; within this text only) and word lengths."""
    if not words:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    codes, _ = pd.factorize(np.array(words, dtype=object))
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return codes.astype(np.uint64), lens


@njit(cache=True)
def _ngram_hashes(ids, n):
    m = ids.shape[0] - n + 1
    out = np.empty(max(m, 0), dtype=np.uint64)
    for i in range(m):
        h = np.uint64(1469598103934665603)
        for k in range(n):
            h = (h ^ (ids[i + k] + np.uint64(0x632BE59BD9B4E019))) * np.uint64(0x9E3779B97F4A7C15)
        out[i] = h
    return out


@njit(cache=True)
def _ngram_chars(prefix, n, m):
    out = np.empty(m, dtype=np.int64)
    for i in range(m):
        out[i] = prefix[i + n] - prefix[i]
    return out


@njit(cache=True)
def top_ngram_chars(ids, lens, n):
    """Characters covered by the most repeated n-gram: max over n-grams seen twice or more of chars * count."""
    m = ids.shape[0] - n + 1
    if m <= 1:
        return 0
    prefix = np.zeros(ids.shape[0] + 1, dtype=np.int64)
    for i in range(ids.shape[0]):
        prefix[i + 1] = prefix[i] + lens[i]
    hashes = _ngram_hashes(ids, n)
    chars = _ngram_chars(prefix, n, m)
    order = np.argsort(hashes)
    best = 0
    run = 1
    for j in range(1, m + 1):
        if j < m and hashes[order[j]] == hashes[order[j - 1]]:
            run += 1
        else:
            if run > 1:
                covered = chars[order[j - 1]] * run
                if covered > best:
                    best = covered
            run = 1
    return best


@njit(cache=True)
def dup_ngram_chars(ids, lens, n):
    """Characters in n-grams that occurred before, scanning left to right and skipping past each repeat."""
    m = ids.shape[0] - n + 1
    if m <= 1:
        return 0
    prefix = np.zeros(ids.shape[0] + 1, dtype=np.int64)
    for i in range(ids.shape[0]):
        prefix[i + 1] = prefix[i] + lens[i]
    hashes = _ngram_hashes(ids, n)
    seen = set()
    seen.add(hashes[0])
    seen.discard(hashes[0])
    repeated = 0
    idx = 0
    while idx < m:
        h = hashes[idx]
        if h in seen:
            repeated += prefix[idx + n] - prefix[idx]
            idx += n
        else:
            seen.add(h)
            idx += 1
    return repeated


def top_ngram_fraction(ids: np.ndarray, lens: np.ndarray, n: int, total_chars: int) -> float:
    return top_ngram_chars(ids, lens, n) / max(total_chars, 1)


def dup_ngram_fraction(ids: np.ndarray, lens: np.ndarray, n: int, total_chars: int) -> float:
    return dup_ngram_chars(ids, lens, n) / max(total_chars, 1)


@njit(cache=True, parallel=True)
def _batch_chars(ids, lens, offsets, top_ns, dup_ns):
    k = offsets.shape[0] - 1
    out = np.zeros((k, top_ns.shape[0] + dup_ns.shape[0]), dtype=np.int64)
    for t in prange(k):
        a, b = offsets[t], offsets[t + 1]
        for j in range(top_ns.shape[0]):
            out[t, j] = top_ngram_chars(ids[a:b], lens[a:b], top_ns[j])
        for j in range(dup_ns.shape[0]):
            out[t, top_ns.shape[0] + j] = dup_ngram_chars(ids[a:b], lens[a:b], dup_ns[j])
    return out


def batch_fractions(word_lists: list[list[str]], top_ns: list[int], dup_ns: list[int]) -> np.ndarray:
    """Per text: top-n-gram fractions for ``top_ns`` then duplicate-n-gram fractions for ``dup_ns``."""
    if not word_lists:
        return np.zeros((0, len(top_ns) + len(dup_ns)))
    sizes = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
    offsets = np.zeros(len(word_lists) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat = [w for words in word_lists for w in words]
    if flat:
        codes, _ = pd.factorize(np.array(flat, dtype=object))
        ids = codes.astype(np.uint64)
    else:
        ids = np.zeros(0, dtype=np.uint64)
    lens = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    chars = _batch_chars(ids, lens, offsets, np.array(top_ns, dtype=np.int64), np.array(dup_ns, dtype=np.int64))
    prefix = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=prefix[1:])
    totals = prefix[offsets[1:]] - prefix[offsets[:-1]]
    return chars / np.maximum(totals, 1)[:, None]
