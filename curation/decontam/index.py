"""Word n-gram index of the eval items, and matching a column of texts against it in one compiled pass.

Words are the lower-cased ``\\w+`` runs of a text (the tokenizer of the near-dedup kernels,
:func:`curation.minhash.kernels.shingle_hashes` with 1-word shingles gives each word's xxh64). An n-gram's
key is a polynomial hash of its word hashes (rolling, so every window costs O(1)), mixed with its length.
An eval item of at least ``ngram`` words contributes its ``ngram``-word windows; a shorter one of at least
``min_words`` words contributes itself whole, and texts are then also scanned with windows of that length
(as NeMo Curator does for short tasks).

Lookup: a bitmap over the keys' low bits (a few MB, so nearly every window of clean text is rejected from
cache), then a binary search of the sorted keys. An n-gram shared by several items counts for each. A text's hits
are its distinct n-grams found, each once however often the text repeats it, and only then one per item holding it:
a long turn repeating an n-gram that many items share (a benchmark's boilerplate instruction, duplicate items)
costs its length plus its distinct hits, not its length times the items.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import string_buffers
from curation.core.jit import njit
from curation.parallel import run_chunks
from curation.minhash import kernels
from curation.minhash.shingles import lower_table, word_table

U64 = np.uint64
BASE = U64(0x9E3779B185EBCA87)
LEN_MIX = U64(0xC2B2AE3D27D4EB4F)
BITMAP_BITS = 24  # 2 MiB


@njit(cache=True)
def _fmix64(h):
    h ^= h >> U64(33)
    h *= U64(0xFF51AFD7ED558CCD)
    h ^= h >> U64(33)
    h *= U64(0xC4CEB9FE1A85EC53)
    h ^= h >> U64(33)
    return h


@njit(cache=True)
def _power(length):
    p = U64(1)
    for _ in range(length - 1):
        p *= BASE
    return p


@njit(cache=True)
def _first(values, start, length):
    h = U64(0)
    for j in range(length):
        h = h * BASE + values[start + j]
    return h


@njit(cache=True)
def _key(h, length):
    return _fmix64(h ^ (U64(length) * LEN_MIX))


@njit(nogil=True, cache=True)
def item_keys(starts, sizes, values, ngram, min_words):
    """(keys, owner item) of every item's n-grams, one key per distinct n-gram of an item; (n-grams per item)."""
    total = 0
    for i in range(sizes.shape[0]):
        k = sizes[i]
        total += k - ngram + 1 if k >= ngram else (1 if k >= min_words else 0)
    keys = np.empty(total, np.uint64)
    owner = np.empty(total, np.int64)
    used = 0
    for i in range(sizes.shape[0]):
        k = sizes[i]
        s = starts[i]
        if k >= ngram:
            length = ngram
        elif k >= min_words:
            length = k
        else:
            continue
        pw = _power(length)
        h = _first(values, s, length)
        keys[used] = _key(h, length)
        owner[used] = i
        used += 1
        for w in range(1, k - length + 1):
            h = (h - values[s + w - 1] * pw) * BASE + values[s + w + length - 1]
            keys[used] = _key(h, length)
            owner[used] = i
            used += 1
    return keys[:used], owner[:used]


@njit(nogil=True, cache=True)
def match_words(starts, sizes, values, lengths, bitmap, mask, keys, out_text, out_pos):
    """Every distinct (text, key) where a window of one of ``lengths`` words of a text is an index key, as (text,
    position of the key's first copy in ``keys``); the items holding the key are ``keys`` from there on.

    Returns the number of hits written, or -1 when ``out_*`` are too small (call again with more room)."""
    cap = out_text.shape[0]
    used = 0
    nkeys = keys.shape[0]
    for t in range(sizes.shape[0]):
        k = sizes[t]
        s = starts[t]
        first_hit = used
        for li in range(lengths.shape[0]):
            length = lengths[li]
            if k < length:
                continue
            pw = _power(length)
            h = _first(values, s, length)
            for w in range(0, k - length + 1):
                if w > 0:
                    h = (h - values[s + w - 1] * pw) * BASE + values[s + w + length - 1]
                g = _key(h, length)
                bit = g & mask
                if (bitmap[bit >> U64(6)] >> (bit & U64(63))) & U64(1) == U64(0):
                    continue
                p = np.searchsorted(keys, g)
                if p < nkeys and keys[p] == g:
                    if used == cap:
                        return -1
                    out_text[used] = t
                    out_pos[used] = p
                    used += 1
        if used - first_hit > 1:  # the text's hits, each key once
            found = np.sort(out_pos[first_hit:used])
            distinct = 0
            for j in range(found.shape[0]):
                if j == 0 or found[j] != found[j - 1]:
                    out_pos[first_hit + distinct] = found[j]
                    distinct += 1
            used = first_hit + distinct
    return used


# what hides an eval item's words from a plain comparison and is dropped before both sides are split into words:
# format characters (zero-width spaces and joiners, the soft hyphen, bidi marks) and combining marks (accents),
# once NFKD has taken full-width and other compatibility forms to their plain letters
_HIDDEN = r"[\p{Cf}\p{Mn}]"
_NBSP_ENTITY = r"&(?:nbsp|#0*160|#[xX]0*[aA]0);"  # a space written as HTML writes it


def folded(texts: pa.Array) -> pa.Array:
    """``texts`` as they are matched: ``&nbsp;`` a space, NFKD (``Ｅｘａｍｐｌｅ`` is ``Example``, ``é`` is ``e`` and an
    accent), then no format character and no combining mark. Eval items and rows are folded alike, so a copy of an
    item with a zero-width space or a soft hyphen inside each word, in full-width letters or with accents on every
    letter, is the item; without this each word split in two (or read as another word) and no n-gram matched."""
    texts = pc.replace_substring_regex(texts, _NBSP_ENTITY, " ")
    return pc.replace_substring_regex(pc.utf8_normalize(texts, "NFKD"), _HIDDEN, "")


# Cyrillic and Greek letters that look like Latin ones (as Unicode's confusables pair them), each with the Latin
# letter it is read as here, lower case: a copy of an item with some of its letters swapped for them is the item.
LOOK_ALIKES = {
    "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h",
    "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "с": "c", "у": "y", "ԝ": "w", "х": "x", "ԁ": "d",
    "А": "a", "В": "b", "Е": "e", "Һ": "h", "І": "i", "Ј": "j", "К": "k", "Ӏ": "l", "М": "m", "Н": "h",
    "О": "o", "Р": "p", "Ԛ": "q", "Ѕ": "s", "Т": "t", "С": "c", "У": "y", "Ԝ": "w", "Х": "x", "Ԁ": "d",
    "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o",
    "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
}


@lru_cache(maxsize=1)
def match_lower_table() -> np.ndarray:
    """The lower-case table words are read with (:func:`curation.minhash.shingles.lower_table`), with each of
    :data:`LOOK_ALIKES` read as its Latin letter: it costs the matching nothing (each code point goes through the
    table anyway), and rows and items go through it alike, so texts in those scripts still match each other."""
    table = lower_table().copy()
    for other, latin in LOOK_ALIKES.items():
        table[ord(other)] = ord(latin)
    table.flags.writeable = False
    return table


def word_hashes(texts: pa.Array, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, sizes, values): the xxh64 of each word of texts ``lo:hi``, in order (read with
    :func:`match_lower_table`)."""
    data, offsets = string_buffers(texts)
    hi = len(offsets) - 1 if hi is None else hi
    return kernels.shingle_hashes(data, offsets[lo: hi + 1], word_table(), match_lower_table(), kernels.SHINGLE_WORD, 1)


@dataclass
class NgramIndex:
    ngram: int
    keys: np.ndarray  # sorted uint64
    owner: np.ndarray  # item index of each key
    item_ngrams: np.ndarray  # distinct n-grams per item (0: too short, never matched)
    lengths: np.ndarray  # window lengths texts are scanned with (ngram, and the short items' lengths)
    bitmap: np.ndarray
    mask: np.uint64
    copies: np.ndarray  # at a key's first position in ``keys``: how many items hold it (the positions after it)

    @classmethod
    def build(cls, texts: list[str], ngram: int = 13, min_words: int = 8) -> "NgramIndex":
        starts, sizes, values = word_hashes(folded(pa.array(texts, pa.string())))
        keys, owner = item_keys(starts, sizes, values, ngram, min_words)
        pairs = np.unique(np.stack([keys, owner.astype(np.uint64)], axis=1), axis=0) if len(keys) else np.zeros(
            (0, 2), np.uint64)
        keys, owner = pairs[:, 0].copy(), pairs[:, 1].astype(np.int64)
        item_ngrams = np.bincount(owner, minlength=len(texts)).astype(np.int64)
        short = sizes[(sizes < ngram) & (sizes >= min_words)]
        lengths = np.unique(np.concatenate([[ngram] if (sizes >= ngram).any() else [], short])).astype(np.int64)
        mask = U64((1 << BITMAP_BITS) - 1)
        bitmap = np.zeros(1 << (BITMAP_BITS - 6), np.uint64)
        bits = keys & mask
        np.bitwise_or.at(bitmap, (bits >> U64(6)).astype(np.int64), U64(1) << (bits & U64(63)))
        copies = np.zeros(len(keys), np.int64)
        if len(keys):
            _, first, count = np.unique(keys, return_index=True, return_counts=True)
            copies[first] = count
        return cls(ngram, keys, owner, item_ngrams, lengths, bitmap, mask, copies)

    def match(self, texts: pa.Array, workers: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text index, item index, key) of every distinct (text, item, n-gram) hit."""
        n = len(texts)
        if not len(self.keys) or not n:
            empty = np.zeros(0, np.int64)
            return empty, empty, np.zeros(0, np.uint64)

        def chunk(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:  # (folded here: on the chunks' threads)
            starts, sizes, values = word_hashes(folded(texts.slice(lo, hi - lo)))
            room = 1024
            while True:
                out_text, out_pos = np.empty(room, np.int64), np.empty(room, np.int64)
                used = match_words(starts, sizes, values, self.lengths, self.bitmap, self.mask, self.keys,
                                   out_text, out_pos)
                if used >= 0:
                    return out_text[:used] + lo, out_pos[:used]
                room *= 8

        parts = run_chunks(n, workers, chunk, min_chunk=512)
        text = np.concatenate([p[0] for p in parts])
        first = np.concatenate([p[1] for p in parts])
        # each (text, key) hit once per item holding the key: the key's copies in ``keys``
        count = self.copies[first]
        text = np.repeat(text, count)
        pos = np.repeat(first - np.cumsum(count) + count, count) + np.arange(len(text))
        triples = np.unique(np.stack([text, pos], axis=1), axis=0) if len(text) else np.zeros((0, 2), np.int64)
        return triples[:, 0], self.owner[triples[:, 1]], self.keys[triples[:, 1]]
