"""Gopher repetition measures (Rae et al. 2021) and word counts, compiled with numba over UTF-8 buffers.

Words are runs of non-whitespace (Python's ``\\S+``: whitespace as ``str.isspace``); a word is identified by
the xxh64 of its bytes and measured in characters (code points). For each n, the top n-gram characters are the
characters covered by the most repeated n-gram (its characters times its count) and the duplicate ones the
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


_BYTE_KIND = np.array([2 if b >= 0x80 else int(9 <= b <= 13 or 28 <= b <= 32) for b in range(256)], dtype=np.int64)
"""Per byte: 1 an ASCII whitespace character (9-13, 28-32), 0 any other ASCII one, 2 a byte of a longer one."""


@njit(nogil=True, cache=True)
def word_counts(buf, offsets, out):
    """Words per string (Python's ``len(re.findall(r"\\S+", text))``). A word starts where a character that is no
    space follows a space or the start, counted without a branch on it (a branch there, taken or not every few
    bytes, is mispredicted at each word's edges: 3x slower)."""
    kind = _BYTE_KIND
    for i in range(out.shape[0]):
        p, end = offsets[i], offsets[i + 1]
        n = 0
        after_space = np.int64(1)  # the character before was a space (or there was none)
        while p < end:
            k = kind[buf[p]]
            if k == 2:
                cp, size = _decode(buf, p, end)
                space = np.int64(_is_space(cp))
                p += size
            else:
                space = k
                p += 1
            n += (1 - space) & after_space
            after_space = space
        out[i] = n


_START = U64(1469598103934665603)  # an n-gram's hash: each word's folded in turn (:func:`_fold`), from this


@njit(cache=True)
def _fold(h, word):
    return (h ^ (word + U64(0x632BE59BD9B4E019))) * U64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _ngram_hashes(ids, n):
    m = ids.shape[0] - n + 1
    out = np.empty(max(m, 0), dtype=np.uint64)
    for i in range(m):
        h = _START
        for k in range(n):
            h = _fold(h, ids[i + k])
        out[i] = h
    return out


@njit(cache=True)
def _table_size(m):
    """The slots of a hash table for ``m`` keys: a power of two, at least 16 and twice ``m``."""
    size = 16
    while size < 2 * m:
        size <<= 1
    return size


@njit(cache=True)
def _slot(keys, counts, h):
    """The slot of ``h`` in the table: where it is, or the free slot where it goes (linear probing)."""
    mask = keys.shape[0] - 1
    i = np.int64((h ^ (h >> np.uint64(29))) & np.uint64(mask))
    while counts[i] != 0 and keys[i] != h:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def _prefix(lens, nw, prefix):
    """``prefix[i]``: the characters of the first ``i`` words."""
    prefix[0] = 0
    for i in range(nw):
        prefix[i + 1] = prefix[i] + lens[i]


@njit(cache=True)
def _top(hashes, m, prefix, n, keys, counts):
    """Characters covered by the most repeated of the ``m`` n-grams ``hashes[:m]``: max over n-grams seen twice or
    more of chars * count, counted in a hash table (``keys``, ``counts``: room for it, cleared here)."""
    if m <= 1:
        return 0
    size = _table_size(m)
    keys, counts = keys[:size], counts[:size]
    counts[:] = 0
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
def _dup(hashes, m, prefix, n, keys, counts):
    """Characters in the n-grams ``hashes[:m]`` that occurred before, scanning left to right and skipping past
    each repeat."""
    if m <= 1:
        return 0
    size = _table_size(m)
    keys, counts = keys[:size], counts[:size]
    counts[:] = 0
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
def dup_ngram_chars(ids, lens, n):
    """Characters in n-grams that occurred before, scanning left to right and skipping past each repeat."""
    prefix = np.empty(ids.shape[0] + 1, dtype=np.int64)
    _prefix(lens, ids.shape[0], prefix)
    size = _table_size(ids.shape[0])
    return _dup(_ngram_hashes(ids, n), ids.shape[0] - n + 1, prefix, n, np.empty(size, np.uint64),
                np.zeros(size, np.int64))


@njit(cache=True)
def _scan(buf, start, end, words, word_chars, lines, line_chars):
    """One pass over ``buf[start:end]``: each word's hash and characters into ``words`` and ``word_chars``, each
    line's that is not blank into ``lines`` and ``line_chars``. Returns (words, lines not blank, whether the
    text holds a line end)."""
    nw = 0
    nl = 0
    newline = False
    word_start = -1  # -1: between words
    chars = 0  # the word's characters
    line_start = start
    lchars = 0  # the line's characters
    blank = True
    p = start
    while p < end:
        b = buf[p]
        if b < 0x80:  # ASCII: whitespace is 9-13 and 28-32
            size = 1
            space = (9 <= b <= 13) or (28 <= b <= 32)
        else:
            cp, size = _decode(buf, p, end)
            space = _is_space(cp)
        if space:
            if word_start >= 0:
                words[nw] = xxh64(buf, word_start, p, U64(0))
                word_chars[nw] = chars
                nw += 1
                word_start = -1
            if b == 10:  # a line ends (its LF is in neither line)
                newline = True
                if not blank:
                    lines[nl] = xxh64(buf, line_start, p, U64(0))
                    line_chars[nl] = lchars
                    nl += 1
                line_start = p + 1
                lchars = 0
                blank = True
                p += 1
                continue
        else:
            if word_start < 0:
                word_start = p
                chars = 0
            chars += 1
            blank = False
        lchars += 1
        p += size
    if word_start >= 0:
        words[nw] = xxh64(buf, word_start, end, U64(0))
        word_chars[nw] = chars
        nw += 1
    if not blank:
        lines[nl] = xxh64(buf, line_start, end, U64(0))
        line_chars[nl] = lchars
        nl += 1
    return nw, nl, newline


@njit(cache=True)
def _line_fractions(lines, line_chars, nl, keys, counts):
    """(repeated lines / lines, characters in repeated lines / characters in lines) of the ``nl`` lines that are
    not blank, a line repeating when the same line came before."""
    if nl == 0:
        return 0.0, 0.0
    size = _table_size(nl)
    keys, counts = keys[:size], counts[:size]
    counts[:] = 0
    chars = 0
    dup_lines = 0
    dup_chars = 0
    for i in range(nl):
        chars += line_chars[i]
        s = _slot(keys, counts, lines[i])
        if counts[s] != 0:
            dup_lines += 1
            dup_chars += line_chars[i]
        else:
            keys[s] = lines[i]
            counts[s] = 1
    return dup_lines / nl, dup_chars / max(chars, 1)


@njit(nogil=True, cache=True)
def repetition_measures(buf, offsets, rows, top_ns, dup_ns, out):
    """For each string ``rows[t]``: ``out[t] = (repeated line fraction, repeated line char fraction, top n-gram
    fractions for top_ns..., duplicate n-gram fractions for dup_ns...)`` (``top_ns`` and ``dup_ns`` ascending).

    One pass reads a text's words and lines; the n-gram hashes are then built up a word at a time, n = 1, 2, ...
    (the hash of an n-gram is its (n-1)-gram's with one more word folded in). Once no n-gram repeats, no longer
    one does: every measure from there is 0. Buffers are sized once, for the longest text."""
    k = top_ns.shape[0]
    d = dup_ns.shape[0]
    longest = 0
    for t in range(rows.shape[0]):
        i = rows[t]
        longest = max(longest, offsets[i + 1] - offsets[i])
    most = longest // 2 + 2  # words, or lines not blank: each takes a character and a separator but the last
    words = np.empty(most, np.uint64)
    word_chars = np.empty(most, np.int64)
    lines = np.empty(most, np.uint64)
    line_chars = np.empty(most, np.int64)
    grams = np.empty(most, np.uint64)
    prefix = np.empty(most + 1, np.int64)
    keys = np.empty(_table_size(most), np.uint64)
    counts = np.empty(_table_size(most), np.int64)
    largest = 0
    if k:
        largest = top_ns[k - 1]
    if d:
        largest = max(largest, dup_ns[d - 1])
    for t in range(rows.shape[0]):
        i = rows[t]
        nw, nl, newline = _scan(buf, offsets[i], offsets[i + 1], words, word_chars, lines, line_chars)
        out[t, 0] = 0.0
        out[t, 1] = 0.0
        if newline:  # (a text of one line repeats no line)
            out[t, 0], out[t, 1] = _line_fractions(lines, line_chars, nl, keys, counts)
        for j in range(k + d):
            out[t, 2 + j] = 0.0
        _prefix(word_chars, nw, prefix)
        total = max(prefix[nw], 1)
        for w in range(nw):
            grams[w] = _fold(_START, words[w])
        top = 0
        dup = 0
        for n in range(1, largest + 1):
            if n > 1:
                for w in range(nw - n + 1):
                    grams[w] = _fold(grams[w], words[w + n - 1])
            m = nw - n + 1
            repeats = True
            if top < k and top_ns[top] == n:
                best = _top(grams, m, prefix, n, keys, counts)
                out[t, 2 + top] = best / total
                top += 1
                repeats = best > 0
            if dup < d and dup_ns[dup] == n:
                found = _dup(grams, m, prefix, n, keys, counts)
                out[t, 2 + k + dup] = found / total
                dup += 1
                repeats = repeats and found > 0
            if not repeats:  # no n-gram repeats: no longer one does, and every measure left is 0
                break


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
