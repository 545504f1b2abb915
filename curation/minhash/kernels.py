"""Compiled (numba) kernels of the fast backend: tokenizing, xxh32/xxh64, MinHash, band keys, pairs, Jaccard.

Every kernel is ``nogil`` so that threads run them side by side, and ``cache=True`` so that the JIT compile
happens once per machine (the cache lives in ``__pycache__`` beside this file, or ``NUMBA_CACHE_DIR``).

The tokenizer reads a text's UTF-8 bytes and writes its *token text* (lower-cased, the ``\\w+`` runs joined
by one space, see :mod:`curation.minhash.shingles`) into a scratch buffer, with two tables over all code
points: ``lower`` (``str.lower`` per code point, :func:`curation.minhash.shingles.lower_table`) and ``word``
(which ones ``\\w`` matches, :func:`curation.minhash.shingles.word_table`); all-ASCII rows take a branch-free
path. Shingles are then contiguous byte slices of the token text, hashed in place. xxh32 and xxh64 here are
checked bit for bit against the ``xxhash`` library (tests/test_minhash_fast.py).

Integer arithmetic: numba widens 32-bit integers to 64 bits, so 32-bit hash arithmetic is done in uint64 and
truncated with ``& M32``; every constant is a ``np.uint64`` so that no expression falls back to float64.
"""

from __future__ import annotations

import numpy as np

from curation.core.jit import njit

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


@njit(cache=True)
def _rotl32(x, r):
    return ((x << U64(r)) | (x >> U64(32 - r))) & M32


@njit(cache=True)
def _rotl64(x, r):
    return (x << U64(r)) | (x >> U64(64 - r))


@njit(cache=True)
def _read32(buf, p):
    # unsigned indices: no negative-index wraparound code, so LLVM fuses the four byte loads into one
    q = U64(p)
    return (
        U64(buf[q])
        | (U64(buf[q + U64(1)]) << U64(8))
        | (U64(buf[q + U64(2)]) << U64(16))
        | (U64(buf[q + U64(3)]) << U64(24))
    )


@njit(cache=True)
def _read64(buf, p):
    return _read32(buf, p) | (_read32(buf, p + 4) << U64(32))


@njit(cache=True)
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


@njit(cache=True)
def _round64(acc, lane):
    acc = acc + lane * P64_2
    return _rotl64(acc, 31) * P64_1


@njit(cache=True)
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


@njit(cache=True)
def _fmix32(h):
    """datasketch's one-shot pre-mix (MurmurHash3 finalizer, 32-bit) of the ``affine32`` scheme."""
    h ^= h >> U64(16)
    h = (h * FMIX32_1) & M32
    h ^= h >> U64(13)
    h = (h * FMIX32_2) & M32
    h ^= h >> U64(16)
    return h


# ------------------------------------------------------------------------------------------ tokenizing


@njit(cache=True)
def _ascii_table(word):
    """256 bytes: the lower-cased byte for ASCII word characters, 0 for everything else."""
    asc = np.zeros(256, np.uint8)
    for b in range(128):
        if word[b]:
            asc[b] = b + 32 if 65 <= b <= 90 else b
    return asc


@njit(cache=True)
def _token_text_ascii(buf, start, end, asc, out, tstart, tend):
    """:func:`_token_text` for an all-ASCII row, without branches on the text: every word byte is written
    (lower-cased) and one space after each token; tokens are then exactly one space apart."""
    n = 0
    ntok = 0
    prev = 0
    for i in range(start, end):
        m = asc[buf[i]]
        c = 1 if m != 0 else 0
        out[n] = m if c else 32
        tstart[ntok] = n  # kept only where a token starts (ntok moves on), overwritten otherwise
        ntok += c & (1 - prev)
        n += c | (prev & (1 - c))
        prev = c
    if ntok == 0:
        return 0, 0
    nbytes = n if prev else n - 1
    for k in range(ntok - 1):
        tend[k] = tstart[k + 1] - 1
    tend[ntok - 1] = nbytes
    return ntok, nbytes


@njit(cache=True)
def _token_text(buf, start, end, word, lower, asc, out, tstart, tend):
    """Write the token text of ``buf[start:end]`` into ``out``; token byte spans into ``tstart``/``tend``.

    Each code point is lower-cased with ``lower`` (``str.lower`` one code point at a time; texts that need
    context were lower-cased by Python already, and ``lower`` leaves lower-case text unchanged), then kept
    when ``word`` says ``\\w`` matches it. Returns (number of tokens, bytes written). ``out`` needs
    ``2 * (end - start)`` bytes (a lower-case letter may take one byte more than its capital),
    ``tstart``/``tend`` ``(end - start + 1) // 2 + 1`` slots. ``asc`` is :func:`_ascii_table` of ``word``.
    """
    high = 0
    for q in range(start, end):
        high |= buf[q]
    if high < 0x80:
        return _token_text_ascii(buf, start, end, asc, out, tstart, tend)
    i = U64(start)
    stop = U64(end)
    n = U64(0)
    ntok = 0
    in_word = False
    while i < stop:
        b0 = np.int64(buf[i])
        if b0 < 0x80:
            if word[b0]:
                if not in_word:
                    if ntok > 0:
                        out[n] = 32
                        n += U64(1)
                    tstart[ntok] = n
                    ntok += 1
                    in_word = True
                out[n] = b0 + 32 if 65 <= b0 <= 90 else b0
                n += U64(1)
                tend[ntok - 1] = n
            else:
                in_word = False
            i += U64(1)
            continue
        if b0 < 0xE0:
            cp = ((b0 & 0x1F) << 6) | (np.int64(buf[i + U64(1)]) & 0x3F)
            width = 2
        elif b0 < 0xF0:
            cp = ((b0 & 0x0F) << 12) | ((np.int64(buf[i + U64(1)]) & 0x3F) << 6) | (np.int64(buf[i + U64(2)]) & 0x3F)
            width = 3
        else:
            cp = (
                ((b0 & 0x07) << 18)
                | ((np.int64(buf[i + U64(1)]) & 0x3F) << 12)
                | ((np.int64(buf[i + U64(2)]) & 0x3F) << 6)
                | (np.int64(buf[i + U64(3)]) & 0x3F)
            )
            width = 4
        i += U64(width)
        lc = np.int64(lower[cp])
        if not word[lc]:
            in_word = False
            continue
        if not in_word:
            if ntok > 0:
                out[n] = 32
                n += U64(1)
            tstart[ntok] = n
            ntok += 1
            in_word = True
        if lc < 0x80:
            out[n] = lc
            n += U64(1)
        elif lc < 0x800:
            out[n] = 0xC0 | (lc >> 6)
            out[n + U64(1)] = 0x80 | (lc & 0x3F)
            n += U64(2)
        elif lc < 0x10000:
            out[n] = 0xE0 | (lc >> 12)
            out[n + U64(1)] = 0x80 | ((lc >> 6) & 0x3F)
            out[n + U64(2)] = 0x80 | (lc & 0x3F)
            n += U64(3)
        else:
            out[n] = 0xF0 | (lc >> 18)
            out[n + U64(1)] = 0x80 | ((lc >> 12) & 0x3F)
            out[n + U64(2)] = 0x80 | ((lc >> 6) & 0x3F)
            out[n + U64(3)] = 0x80 | (lc & 0x3F)
            n += U64(4)
        tend[ntok - 1] = n
    return ntok, np.int64(n)


@njit(cache=True)
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
def minhash_rows(buf, offsets, word, lower, kind, ngram, perm_a, perm_b, bands, rows_per_band, sig_out, keys_out, nshingles_out):
    """MinHash signatures (datasketch ``affine32``) and LSH band keys of each row of a chunk.

    Row ``i`` is ``buf[offsets[i]:offsets[i+1]]`` (UTF-8, from ``signatures.encode_rows``). Writes ``nshingles_out[i]`` (0 for a
    row without shingles, whose signature stays all 0xFFFFFFFF like an empty datasketch ``MinHash``),
    ``keys_out[i, j]`` (a 64-bit hash of band ``j``'s values) and, when ``sig_out`` has rows, the signature.
    """
    nrows = offsets.shape[0] - 1
    num_perm = perm_a.shape[0]
    maxlen = 0
    for i in range(nrows):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    out = np.empty(2 * maxlen + 8, np.uint8)
    asc = _ascii_table(word)
    tstart = np.empty(maxlen // 2 + 2, np.int64)
    tend = np.empty(maxlen // 2 + 2, np.int64)
    cstart = np.empty(2 * maxlen + 8, np.int64)
    sstart = np.empty(2 * maxlen + 8, np.int64)
    send = np.empty(2 * maxlen + 8, np.int64)
    hv = np.empty(2 * maxlen + 8, np.uint32)
    sig = np.empty(num_perm, np.uint32)
    keep_sig = sig_out.shape[0] > 0
    for i in range(nrows):
        ntok, nbytes = _token_text(buf, offsets[i], offsets[i + 1], word, lower, asc, out, tstart, tend)
        ns = _shingle_spans(kind, ngram, ntok, nbytes, out, tstart, tend, cstart, sstart, send)
        nshingles_out[i] = ns
        for s in range(ns):
            hv[s] = np.uint32(_fmix32(xxh32(out, sstart[s], send[s], U64(0))))
        for k in range(num_perm):
            sig[k] = np.uint32(0xFFFFFFFF)
        _permute_min(hv, ns, perm_a, perm_b, sig)
        if keep_sig:
            for k in range(num_perm):
                sig_out[i, k] = sig[k]
        for j in range(bands):
            keys_out[i, j] = _band_key(sig, j, rows_per_band)


@njit(cache=True)
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


@njit(cache=True)
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
def shingle_hashes(buf, offsets, word, lower, kind, ngram):
    """xxh64 of every shingle of each row (repeats included, in text order): ``(starts, sizes, values)``, row
    ``i``'s hashes being ``values[starts[i] : starts[i] + sizes[i]]`` (one pass; ``values`` grows as needed)."""
    nrows = offsets.shape[0] - 1
    maxlen = 0
    for i in range(nrows):
        maxlen = max(maxlen, offsets[i + 1] - offsets[i])
    out = np.empty(2 * maxlen + 8, np.uint8)
    asc = _ascii_table(word)
    tstart = np.empty(maxlen // 2 + 2, np.int64)
    tend = np.empty(maxlen // 2 + 2, np.int64)
    cstart = np.empty(2 * maxlen + 8, np.int64)
    sstart = np.empty(2 * maxlen + 8, np.int64)
    send = np.empty(2 * maxlen + 8, np.int64)
    starts = np.zeros(nrows, np.int64)
    sizes = np.zeros(nrows, np.int64)
    values = np.empty(max(64, (offsets[nrows] - offsets[0]) // 5), np.uint64)
    used = 0
    for i in range(nrows):
        ntok, nbytes = _token_text(buf, offsets[i], offsets[i + 1], word, lower, asc, out, tstart, tend)
        ns = _shingle_spans(kind, ngram, ntok, nbytes, out, tstart, tend, cstart, sstart, send)
        starts[i] = used
        sizes[i] = ns
        if used + ns > values.shape[0]:
            grown = np.empty(max(used + ns, values.shape[0] * 3 // 2), np.uint64)
            grown[:used] = values[:used]
            values = grown
        for s in range(ns):
            values[used + s] = xxh64(out, sstart[s], send[s], U64(0))
        used += ns
    return starts, sizes, values[:used]


@njit(nogil=True, cache=True)
def pair_jaccard(left, right, starts, sizes, values, out):
    """Exact Jaccard of the shingle sets of rows ``left[k]`` and ``right[k]`` (local indices into
    ``starts``/``sizes``; ``values`` holds each row's shingle hashes, repeats allowed).

    Per pair, an open-addressing table takes A's distinct hashes (flag 1); B's hashes are then looked up
    and marked (flag 2, or 3 when also in A): each distinct B hash found with flag 1 is in the intersection.
    """
    cap = 16
    for k in range(left.shape[0]):
        cap = max(cap, sizes[left[k]] + sizes[right[k]])
    size = 1
    while size < 2 * cap:
        size *= 2
    keys = np.empty(size, np.uint64)
    flags = np.zeros(size, np.uint8)
    for k in range(left.shape[0]):
        sa = starts[left[k]]
        na = sizes[left[k]]
        sb = starts[right[k]]
        nb = sizes[right[k]]
        mask = 1
        while mask < 2 * (na + nb):
            mask *= 2
        mask -= 1
        for q in range(mask + 1):
            flags[q] = 0
        da = 0
        db = 0
        inter = 0
        for q in range(na):
            h = values[sa + q]
            slot = np.int64((h ^ (h >> U64(29))) & U64(mask))
            while flags[slot] != 0 and keys[slot] != h:
                slot = (slot + 1) & mask
            if flags[slot] == 0:
                keys[slot] = h
                flags[slot] = 1
                da += 1
        for q in range(nb):
            h = values[sb + q]
            slot = np.int64((h ^ (h >> U64(29))) & U64(mask))
            while flags[slot] != 0 and keys[slot] != h:
                slot = (slot + 1) & mask
            f = flags[slot]
            if f == 0:
                keys[slot] = h
                flags[slot] = 2
                db += 1
            elif f == 1:
                flags[slot] = 3
                db += 1
                inter += 1
        union = da + db - inter
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


# ------------------------------------------------------------------------------------------ union-find


@njit(cache=True)
def _root(parent, i):
    """The root of ``i`` (path halving). Every root is the smallest row of its set (:func:`join_similar`)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(nogil=True, cache=True)
def apart(parent, left, right, out):
    """``out[k]``: are rows ``left[k]`` and ``right[k]`` in different sets?"""
    for k in range(left.shape[0]):
        out[k] = _root(parent, left[k]) != _root(parent, right[k])


@njit(nogil=True, cache=True)
def join_similar(parent, left, right, sims, threshold):
    """Join the sets of ``left[k]`` and ``right[k]`` where ``sims[k] >= threshold`` (the smaller root stays root)."""
    for k in range(left.shape[0]):
        if sims[k] >= threshold:
            a = _root(parent, left[k])
            b = _root(parent, right[k])
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b


@njit(nogil=True, cache=True)
def roots(parent, out):
    for i in range(parent.shape[0]):
        out[i] = _root(parent, i)


@njit(nogil=True, cache=True)
def merge_unique(a, b):
    """The sorted union of sorted int64 arrays ``a`` and ``b``, each value once."""
    out = np.empty(a.shape[0] + b.shape[0], np.int64)
    i = 0
    j = 0
    w = 0
    while i < a.shape[0] or j < b.shape[0]:
        if j >= b.shape[0] or (i < a.shape[0] and a[i] <= b[j]):
            x = a[i]
            i += 1
        else:
            x = b[j]
            j += 1
        if w == 0 or out[w - 1] != x:
            out[w] = x
            w += 1
    return out[:w].copy() if w < out.shape[0] else out
