"""Gopher repetition measures (Rae et al. 2021) and word counts, compiled with numba over UTF-8 buffers.

Words are runs of non-whitespace (Python's ``\\S+``: whitespace as ``str.isspace``); a word is identified by
the xxh64 of its bytes and measured in characters (code points). For each n, ``top_ngram_chars`` is the
characters covered by the most repeated n-gram (its characters times its count) and ``dup_ngram_chars`` the
characters in n-grams seen before (scanning left to right, skipping past a repeat), as datatrove's
``GopherRepetitionFilter`` does; both over all the words' characters. Lines are split on ``\\n``; blank lines
(only whitespace) do not count; a line repeats when the same line (whitespace included) came before.
"""

from __future__ import annotations

import numpy as np

from curation.core.jit import njit
from curation.core.utf8 import decode as _decode, is_space as _is_space
from curation.minhash.kernels import xxh64

U64 = np.uint64


@njit(cache=True)
def _words(buf, start, end, hashes, lens):
    """Fill ``hashes``/``lens`` with the words of ``buf[start:end]``; returns how many."""
    n = 0
    p = start
    while p < end:
        cp, size = _decode(buf, p, end)
        if _is_space(cp):
            p += size
            continue
        ws = p
        clen = 0
        while p < end:
            cp, size = _decode(buf, p, end)
            if _is_space(cp):
                break
            p += size
            clen += 1
        hashes[n] = xxh64(buf, ws, p, U64(0))
        lens[n] = clen
        n += 1
    return n


@njit(nogil=True, cache=True)
def word_counts(buf, offsets, out):
    """Words per string (Python's ``len(re.findall(r"\\S+", text))``)."""
    for i in range(out.shape[0]):
        p, end = offsets[i], offsets[i + 1]
        n = 0
        inword = False
        while p < end:
            b = buf[p]
            if b < 0x80:  # ASCII: whitespace is 9-13 and 28-32
                space = (9 <= b <= 13) or (28 <= b <= 32)
                p += 1
            else:
                cp, size = _decode(buf, p, end)
                space = _is_space(cp)
                p += size
            if not space and not inword:
                n += 1
            inword = not space
        out[i] = n


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
def _table(m):
    """An empty hash table for ``m`` keys: (keys, counts), counts 0 where a slot is free; a power of two long."""
    size = 16
    while size < 2 * m:
        size <<= 1
    return np.empty(size, dtype=np.uint64), np.zeros(size, dtype=np.int64)


@njit(cache=True)
def _slot(keys, counts, h):
    """The slot of ``h`` in the table: where it is, or the free slot where it goes (linear probing)."""
    mask = keys.shape[0] - 1
    i = np.int64((h ^ (h >> np.uint64(29))) & np.uint64(mask))
    while counts[i] != 0 and keys[i] != h:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def top_ngram_chars(ids, lens, n):
    """Characters covered by the most repeated n-gram: max over n-grams seen twice or more of chars * count.
    (The n-grams are counted in a hash table: one pass, where a sort took m log m.)"""
    m = ids.shape[0] - n + 1
    if m <= 1:
        return 0
    prefix = np.zeros(ids.shape[0] + 1, dtype=np.int64)
    for i in range(ids.shape[0]):
        prefix[i + 1] = prefix[i] + lens[i]
    hashes = _ngram_hashes(ids, n)
    keys, counts = _table(m)
    best = 0
    for i in range(m):
        s = _slot(keys, counts, hashes[i])
        keys[s] = hashes[i]
        counts[s] += 1
        if counts[s] > 1:  # every occurrence of an n-gram has its characters: the last count is its best
            covered = (prefix[i + n] - prefix[i]) * counts[s]
            if covered > best:
                best = covered
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
    keys, counts = _table(m)
    repeated = 0
    idx = 0
    while idx < m:
        s = _slot(keys, counts, hashes[idx])
        if counts[s] != 0:  # seen before
            repeated += prefix[idx + n] - prefix[idx]
            idx += n
        else:
            keys[s] = hashes[idx]
            counts[s] = 1
            idx += 1
    return repeated


@njit(cache=True)
def _line_fractions(buf, start, end):
    """(repeated lines / lines, characters in repeated lines / characters in lines), blank lines left out."""
    p = start
    while p < end and buf[p] != 10:
        p += 1
    if p == end:  # one line: nothing repeats
        return 0.0, 0.0
    seen = set()
    seen.add(U64(0))
    seen.discard(U64(0))
    lines = 0
    dup_lines = 0
    chars = 0
    dup_chars = 0
    ls = start
    while ls <= end:
        le = ls
        while le < end and buf[le] != 10:
            le += 1
        blank = True
        clen = 0
        p = ls
        while p < le:
            cp, size = _decode(buf, p, le)
            if not _is_space(cp):
                blank = False
            clen += 1
            p += size
        if not blank:
            lines += 1
            chars += clen
            h = xxh64(buf, ls, le, U64(0))
            if h in seen:
                dup_lines += 1
                dup_chars += clen
            else:
                seen.add(h)
        ls = le + 1
    if lines == 0:
        return 0.0, 0.0
    return dup_lines / lines, dup_chars / max(chars, 1)


@njit(cache=True)
def _any_repeat(ids, n):
    """Does some n-gram occur twice? (If not, no longer n-gram does either.)"""
    m = ids.shape[0] - n + 1
    if m <= 1:
        return False
    hashes = _ngram_hashes(ids, n)
    keys, counts = _table(m)
    for i in range(m):
        s = _slot(keys, counts, hashes[i])
        if counts[s] != 0:
            return True
        keys[s] = hashes[i]
        counts[s] = 1
    return False


@njit(nogil=True, cache=True)
def repetition_measures(buf, offsets, rows, top_ns, dup_ns, out):
    """For each string ``rows[t]``: ``out[t] = (repeated line fraction, repeated line char fraction, top n-gram
    fractions for top_ns..., duplicate n-gram fractions for dup_ns...)``."""
    k = top_ns.shape[0]
    for t in range(rows.shape[0]):
        i = rows[t]
        start, end = offsets[i], offsets[i + 1]
        size = end - start + 1
        hashes = np.empty(size, dtype=np.uint64)
        lens = np.empty(size, dtype=np.int64)
        nw = _words(buf, start, end, hashes, lens)
        ids, wl = hashes[:nw], lens[:nw]
        total = 0
        for w in range(nw):
            total += wl[w]
        total = max(total, 1)
        lf, lcf = _line_fractions(buf, start, end)
        out[t, 0] = lf
        out[t, 1] = lcf
        # n-gram sizes in ascending order (sorted by the caller): once no n-gram repeats, none longer does
        repeats = True
        for j in range(k):
            if repeats:
                best = top_ngram_chars(ids, wl, top_ns[j])
                repeats = best > 0
                out[t, 2 + j] = best / total
            else:
                out[t, 2 + j] = 0.0
        repeats = dup_ns.shape[0] > 0 and _any_repeat(ids, dup_ns[0])
        for j in range(dup_ns.shape[0]):
            out[t, 2 + k + j] = dup_ngram_chars(ids, wl, dup_ns[j]) / total if repeats else 0.0


def measure(texts_buf: np.ndarray, offsets: np.ndarray, rows: np.ndarray, top_ns: list[int], dup_ns: list[int]) -> np.ndarray:
    """:func:`repetition_measures` with a fresh output array (``top_ns`` and ``dup_ns`` ascending)."""
    out = np.zeros((len(rows), 2 + len(top_ns) + len(dup_ns)), dtype=np.float64)
    if len(rows):
        repetition_measures(texts_buf, offsets, np.asarray(rows, dtype=np.int64), np.array(top_ns, dtype=np.int64),
                            np.array(dup_ns, dtype=np.int64), out)
    return out


def text_measures(text: str, top_ns: list[int], dup_ns: list[int]) -> np.ndarray:
    """:func:`measure` of one Python string."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    return measure(data, np.array([0, len(data)], dtype=np.int64), np.array([0]), top_ns, dup_ns)[0]
