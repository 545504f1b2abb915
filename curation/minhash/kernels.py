"""Compiled (numba) kernels of the fast backend: tokenizing, xxh32/xxh64, MinHash, band keys, pairs, Jaccard.

Every kernel is ``nogil`` so that threads run them side by side, and ``cache=True`` so that the JIT compile
happens once per machine (the cache lives in ``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``).

The tokenizer reads the UTF-8 bytes of an already lower-cased text and writes its *token text* (the
``\\w+`` runs joined by one space, see :mod:`curation.minhash.shingles`) into a scratch buffer; ``word`` is a
table over all code points that says which ones ``\\w`` matches (:func:`curation.minhash.shingles.word_table`).
Shingles are then contiguous byte slices of the token text, hashed in place. xxh32 and xxh64 here are checked
bit for bit against the ``xxhash`` library (tests/test_minhash_fast.py).

Integer arithmetic: numba widens 32-bit integers to 64 bits, so 32-bit hash arithmetic is done in uint64 and
truncated with ``& M32``; every constant is a ``np.uint64`` so that no expression falls back to float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

U64 = np.uint64
M32 = U64(0xFFFFFFFF)

P32_1 = U64(0x9E3779B1)
P32_2 = U64(0x85EBCA77)
P32_3 = U64(0xC2B2AE3D)
P32_4 = U64(0x27D4EB2F)
P32_5 = U64(0x165667B1)

P64_1 = U64(0x9E3779B185EBCA87)
P64_2 = U64(0xC2B2AE3D27D4EB4F)
P64_3 = U64(0x165667B19E3779F9)
P64_4 = U64(0x85EBCA77C2B2AE63)
P64_5 = U64(0x27D4EB2F165667C5)

FMIX32_1 = U64(0x85EBCA6B)
FMIX32_2 = U64(0xC2B2AE35)

SHINGLE_WORD = 0
SHINGLE_CHAR = 1


# --------------------------------------------------------------------------------------------- hashing


@njit(inline="always")
def _rotl32(x, r):
    return ((x << U64(r)) | (x >> U64(32 - r))) & M32


@njit(inline="always")
def _rotl64(x, r):
    return (x << U64(r)) | (x >> U64(64 - r))


@njit(inline="always")
def _read32(buf, p):
    return U64(buf[p]) | (U64(buf[p + 1]) << U64(8)) | (U64(buf[p + 2]) << U64(16)) | (U64(buf[p + 3]) << U64(24))


@njit(inline="always")
def _read64(buf, p):
    return _read32(buf, p) | (_read32(buf, p + 4) << U64(32))


@njit(inline="always")
def _round32(acc, lane):
    acc = (acc + lane * P32_2) & M32
    return (_rotl32(acc, 13) * P32_1) & M32


@njit(nogil=True, cache=True)
def xxh32(buf, start, end, seed):
    """xxh32 of ``buf[start:end]`` (uint8 array), as ``xxhash.xxh32_intdigest(bytes, seed)``."""
    seed = U64(seed) & M32
    p = start
    length = end - start
    if length >= 16:
        v1 = (seed + P32_1 + P32_2) & M32
        v2 = (seed + P32_2) & M32
        v3 = seed
        v4 = (seed - P32_1) & M32
        limit = end - 16
        while p <= limit:
            v1 = _round32(v1, _read32(buf, p))
            v2 = _round32(v2, _read32(buf, p + 4))
            v3 = _round32(v3, _read32(buf, p + 8))
            v4 = _round32(v4, _read32(buf, p + 12))
            p += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & M32
    else:
        h = (seed + P32_5) & M32
    h = (h + (U64(length) & M32)) & M32
    while p + 4 <= end:
        h = (h + _read32(buf, p) * P32_3) & M32
        h = (_rotl32(h, 17) * P32_4) & M32
        p += 4
    while p < end:
        h = (h + U64(buf[p]) * P32_5) & M32
        h = (_rotl32(h, 11) * P32_1) & M32
        p += 1
    h ^= h >> U64(15)
    h = (h * P32_2) & M32
    h ^= h >> U64(13)
    h = (h * P32_3) & M32
    h ^= h >> U64(16)
    return h


@njit(inline="always")
def _round64(acc, lane):
    acc = acc + lane * P64_2
    return _rotl64(acc, 31) * P64_1


@njit(inline="always")
def _merge64(acc, val):
    acc ^= _round64(U64(0), val)
    return acc * P64_1 + P64_4


@njit(nogil=True, cache=True)
def xxh64(buf, start, end, seed):
    """xxh64 of ``buf[start:end]`` (uint8 array), as ``xxhash.xxh64_intdigest(bytes, seed)``."""
    seed = U64(seed)
    p = start
    length = end - start
    if length >= 32:
        v1 = seed + P64_1 + P64_2
        v2 = seed + P64_2
        v3 = seed
        v4 = seed - P64_1
        limit = end - 32
        while p <= limit:
            v1 = _round64(v1, _read64(buf, p))
            v2 = _round64(v2, _read64(buf, p + 8))
            v3 = _round64(v3, _read64(buf, p + 16))
            v4 = _round64(v4, _read64(buf, p + 24))
            p += 32
        h = _rotl64(v1, 1) + _rotl64(v2, 7) + _rotl64(v3, 12) + _rotl64(v4, 18)
        h = _merge64(h, v1)
        h = _merge64(h, v2)
        h = _merge64(h, v3)
        h = _merge64(h, v4)
    else:
        h = seed + P64_5
    h += U64(length)
    while p + 8 <= end:
        h ^= _round64(U64(0), _read64(buf, p))
        h = _rotl64(h, 27) * P64_1 + P64_4
        p += 8
    if p + 4 <= end:
        h ^= _read32(buf, p) * P64_1
        h = _rotl64(h, 23) * P64_2 + P64_3
        p += 4
    while p < end:
        h ^= U64(buf[p]) * P64_5
        h = _rotl64(h, 11) * P64_1
        p += 1
    h ^= h >> U64(33)
    h *= P64_2
    h ^= h >> U64(29)
    h *= P64_3
    h ^= h >> U64(32)
    return h


@njit(inline="always")
def _fmix32(h):
    """datasketch's one-shot pre-mix (MurmurHash3 finalizer, 32-bit) of the ``affine32`` scheme."""
    h ^= h >> U64(16)
    h = (h * FMIX32_1) & M32
    h ^= h >> U64(13)
    h = (h * FMIX32_2) & M32
    h ^= h >> U64(16)
    return h


# ------------------------------------------------------------------------------------------ tokenizing


@njit(inline="always")
def _token_text(buf, start, end, word, out, tstart, tend):
    """Write the token text of ``buf[start:end]`` into ``out``; token byte spans into ``tstart``/``tend``.

    Returns (number of tokens, bytes written). ``out`` needs ``end - start`` bytes, ``tstart``/``tend``
    ``(end - start + 1) // 2 + 1`` slots.
    """
    i = start
    n = 0
    ntok = 0
    in_word = False
    while i < end:
        b0 = np.int64(buf[i])
        if b0 < 0x80:
            cp = b0
            width = 1
        elif b0 < 0xE0:
            cp = ((b0 & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F)
            width = 2
        elif b0 < 0xF0:
            cp = ((b0 & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F)
            width = 3
        else:
            cp = (
                ((b0 & 0x07) << 18)
                | ((np.int64(buf[i + 1]) & 0x3F) << 12)
                | ((np.int64(buf[i + 2]) & 0x3F) << 6)
                | (np.int64(buf[i + 3]) & 0x3F)
            )
            width = 4
        if word[cp]:
            if not in_word:
                if ntok > 0:
                    out[n] = 32
                    n += 1
                tstart[ntok] = n
                ntok += 1
                in_word = True
            for q in range(width):
                out[n] = buf[i + q]
                n += 1
            tend[ntok - 1] = n
        else:
            in_word = False
        i += width
    return ntok, n


@njit(inline="always")
def _shingle_spans(kind, ngram, ntok, nbytes, out, tstart, tend, cstart, sstart, send):
    """Byte spans (into the token text ``out``) of a row's shingles; returns how many."""
    if nbytes == 0:
        return 0
    if kind == SHINGLE_WORD:
        if ntok <= ngram:
            sstart[0] = 0
            send[0] = nbytes
            return 1
        ns = ntok - ngram + 1
        for k in range(ns):
            sstart[k] = tstart[k]
            send[k] = tend[k + ngram - 1]
        return ns
    # char shingles: code point boundaries of the token text
    nch = 0
    for i in range(nbytes):
        if (out[i] & 0xC0) != 0x80:
            cstart[nch] = i
            nch += 1
    cstart[nch] = nbytes
    if nch <= ngram:
        sstart[0] = 0
        send[0] = nbytes
        return 1
    ns = nch - ngram + 1
    for k in range(ns):
        sstart[k] = cstart[k]
        send[k] = cstart[k + ngram]
    return ns


# ------------------------------------------------------------------------------------------- MinHash


@njit(nogil=True, cache=True)
def minhash_rows(buf, offsets, word, kind, ngram, perm_a, perm_b, bands, rows_per_band, sig_out, keys_out, nshingles_out):
    """MinHash signatures (datasketch ``affine32``) and LSH band keys of each row of a chunk.

    Row ``i`` is ``buf[offsets[i]:offsets[i+1]]`` (lower-cased UTF-8). Writes ``nshingles_out[i]`` (0 for a
    row without shingles, whose signature stays all 0xFFFFFFFF like an empty datasketch ``MinHash``),
    ``keys_out[i, j]`` (a 64-bit hash of band ``j``'s values) and, when ``sig_out`` has rows, the signature.
    """
    nrows = offsets.shape[0] - 1
    num_perm = perm_a.shape[0]
    maxlen = 0
    for i in range(nrows):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    out = np.empty(maxlen + 1, np.uint8)
    tstart = np.empty(maxlen // 2 + 2, np.int64)
    tend = np.empty(maxlen // 2 + 2, np.int64)
    cstart = np.empty(maxlen + 2, np.int64)
    sstart = np.empty(maxlen + 2, np.int64)
    send = np.empty(maxlen + 2, np.int64)
    hv = np.empty(maxlen + 2, np.uint32)
    sig = np.empty(num_perm, np.uint32)
    a = perm_a.astype(np.uint32)
    b = perm_b.astype(np.uint32)
    keep_sig = sig_out.shape[0] > 0
    for i in range(nrows):
        ntok, nbytes = _token_text(buf, offsets[i], offsets[i + 1], word, out, tstart, tend)
        ns = _shingle_spans(kind, ngram, ntok, nbytes, out, tstart, tend, cstart, sstart, send)
        nshingles_out[i] = ns
        for s in range(ns):
            hv[s] = np.uint32(_fmix32(xxh32(out, sstart[s], send[s], 0)))
        sig[:] = np.uint32(0xFFFFFFFF)
        _permute_min(hv, ns, a, b, sig)
        if keep_sig:
            sig_out[i, :] = sig
        for j in range(bands):
            keys_out[i, j] = _band_key(sig, j, rows_per_band)


@njit(inline="always")
def _permute_min(hv, ns, a, b, sig):
    """``sig[k] = min(sig[k], min_s(a[k] * hv[s] + b[k]))`` in wrapping uint32 arithmetic.

    The loop over shingles is innermost (a min-reduction), which LLVM turns into AVX2 ``vpmulld``/``vpminud``.
    """
    for k in range(sig.shape[0]):
        ak = a[k]
        bk = b[k]
        m = sig[k]
        for s in range(ns):
            m = min(m, np.uint32(ak * hv[s] + bk))
        sig[k] = m


@njit(inline="always")
def _band_key(sig, band, r):
    """A 64-bit hash of ``sig[band*r:(band+1)*r]`` (xxh64-style lanes and finalizer)."""
    h = P64_5 + U64(band) * P64_1
    base = band * r
    for q in range(r):
        h ^= U64(sig[base + q]) * P64_1
        h = _rotl64(h, 23) * P64_2 + P64_3
    h ^= h >> U64(33)
    h *= P64_2
    h ^= h >> U64(29)
    h *= P64_3
    h ^= h >> U64(32)
    return h


# ----------------------------------------------------------------------------------- exact verification


@njit(nogil=True, cache=True)
def shingle_counts(buf, offsets, word, kind, ngram):
    """Number of shingles (with repeats) of each row: sizes for :func:`shingle_sets`."""
    nrows = offsets.shape[0] - 1
    maxlen = 0
    for i in range(nrows):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    out = np.empty(maxlen + 1, np.uint8)
    tstart = np.empty(maxlen // 2 + 2, np.int64)
    tend = np.empty(maxlen // 2 + 2, np.int64)
    counts = np.zeros(nrows, np.int64)
    for i in range(nrows):
        ntok, nbytes = _token_text(buf, offsets[i], offsets[i + 1], word, out, tstart, tend)
        if nbytes == 0:
            continue
        if kind == SHINGLE_WORD:
            counts[i] = max(ntok - ngram + 1, 1)
        else:
            nch = 0
            for q in range(nbytes):
                if (out[q] & 0xC0) != 0x80:
                    nch += 1
            counts[i] = max(nch - ngram + 1, 1)
    return counts


@njit(nogil=True, cache=True)
def shingle_sets(buf, offsets, word, kind, ngram, starts, values, sizes):
    """Sorted unique xxh64 shingle hashes of each row into ``values[starts[i]:starts[i]+sizes[i]]``."""
    nrows = offsets.shape[0] - 1
    maxlen = 0
    for i in range(nrows):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    out = np.empty(maxlen + 1, np.uint8)
    tstart = np.empty(maxlen // 2 + 2, np.int64)
    tend = np.empty(maxlen // 2 + 2, np.int64)
    cstart = np.empty(maxlen + 2, np.int64)
    sstart = np.empty(maxlen + 2, np.int64)
    send = np.empty(maxlen + 2, np.int64)
    for i in range(nrows):
        ntok, nbytes = _token_text(buf, offsets[i], offsets[i + 1], word, out, tstart, tend)
        ns = _shingle_spans(kind, ngram, ntok, nbytes, out, tstart, tend, cstart, sstart, send)
        base = starts[i]
        for s in range(ns):
            values[base + s] = xxh64(out, sstart[s], send[s], 0)
        if ns == 0:
            sizes[i] = 0
            continue
        row = values[base : base + ns]
        row.sort()
        m = 1
        for s in range(1, ns):
            if row[s] != row[m - 1]:
                row[m] = row[s]
                m += 1
        sizes[i] = m


@njit(nogil=True, cache=True)
def pair_jaccard(left, right, starts, sizes, values, out):
    """Exact Jaccard of the sorted unique sets of rows ``left[k]`` and ``right[k]`` (local indices)."""
    for k in range(left.shape[0]):
        sa = starts[left[k]]
        na = sizes[left[k]]
        sb = starts[right[k]]
        nb = sizes[right[k]]
        i = 0
        j = 0
        inter = 0
        while i < na and j < nb:
            x = values[sa + i]
            y = values[sb + j]
            if x == y:
                inter += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        union = na + nb - inter
        out[k] = inter / union if union > 0 else 1.0


@njit(nogil=True, cache=True)
def signature_agreement(sigs, left, right, out):
    """Fraction of equal signature values of rows ``left[k]`` and ``right[k]`` (datasketch ``jaccard``)."""
    num_perm = sigs.shape[1]
    for k in range(left.shape[0]):
        same = 0
        for q in range(num_perm):
            if sigs[left[k], q] == sigs[right[k], q]:
                same += 1
        out[k] = same / num_perm


# ------------------------------------------------------------------------------------------ LSH buckets


@njit(nogil=True, cache=True)
def bucket_pairs(rows, keys_sorted, n, cap):
    """Candidate pairs of one band, packed as ``lo * n + hi``, from rows sorted by band key (stable).

    A bucket of ``m <= cap`` rows gives all ``m*(m-1)/2`` pairs. A bigger bucket gives each member paired
    with the bucket's first (smallest) row and with its predecessor: ``2m-3`` pairs that still connect the
    bucket, so a giant bucket cannot make the search quadratic. Returns (pairs, number of capped buckets).
    """
    total = 0
    capped = 0
    m = rows.shape[0]
    s = 0
    while s < m:
        e = s + 1
        while e < m and keys_sorted[e] == keys_sorted[s]:
            e += 1
        size = e - s
        if size > 1:
            if size <= cap:
                total += size * (size - 1) // 2
            else:
                total += 2 * size - 3
                capped += 1
        s = e
    pairs = np.empty(total, np.int64)
    w = 0
    s = 0
    while s < m:
        e = s + 1
        while e < m and keys_sorted[e] == keys_sorted[s]:
            e += 1
        size = e - s
        if size > 1:
            if size <= cap:
                for x in range(s, e):
                    for y in range(x + 1, e):
                        pairs[w] = rows[x] * n + rows[y]
                        w += 1
            else:
                first = rows[s]
                for x in range(s + 1, e):
                    pairs[w] = first * n + rows[x]
                    w += 1
                for x in range(s + 2, e):
                    pairs[w] = rows[x - 1] * n + rows[x]
                    w += 1
        s = e
    return pairs, capped
