"""The shingling definition both backends share (the reference spelling of it).

A text becomes its *token text*: lower-cased (``str.lower``), the ``\\w+`` tokens joined by single spaces.
Word shingles are ``ngram`` consecutive tokens joined by a space; char shingles are ``ngram`` consecutive
characters of the token text. A text with at most ``ngram`` tokens (or characters) is one shingle, itself;
an empty token text has no shingles. A shingle is hashed as its UTF-8 bytes with :func:`shingle_hash32`
(for MinHash) and :func:`shingle_hash64` (set members for the exact Jaccard check).

This module is the plain-Python spelling of that definition (used by the datasketch backend and by tests);
the fast backend runs the same definition compiled (:mod:`curation.minhash.kernels`), with
:func:`word_table` telling it which code points ``\\w`` matches and :func:`lower_table` what ``str.lower``
makes of each code point (texts with one of the two context-dependent ones, :data:`CONTEXT_LOWER`, are
lower-cased by ``str.lower`` first).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import xxhash

from curation.core.table_cache import cached_table

TOKEN_RE = re.compile(r"\w+")


def token_text(text: str) -> str:
    return " ".join(TOKEN_RE.findall(text.lower()))


def shingles(text: str, kind: str = "word", ngram: int = 5) -> list[bytes]:
    canon = token_text(text)
    if not canon:
        return []
    if kind == "word":
        tokens = canon.split(" ")
        if len(tokens) <= ngram:
            return [canon.encode("utf-8")]
        return [" ".join(tokens[i : i + ngram]).encode("utf-8") for i in range(len(tokens) - ngram + 1)]
    if kind == "char":
        if len(canon) <= ngram:
            return [canon.encode("utf-8")]
        return [canon[i : i + ngram].encode("utf-8") for i in range(len(canon) - ngram + 1)]
    raise ValueError(f"unknown shingle kind {kind!r} (word or char)")


@lru_cache(maxsize=1)
def word_table() -> np.ndarray:
    """uint8 over all code points (0..0x10FFFF): 1 where :data:`TOKEN_RE` (``\\w``) matches the character
    (kept on disk between runs: :mod:`curation.core.table_cache`)."""
    return cached_table("word_table", __file__, _build_word_table, (0x110000,), np.uint8)


def _build_word_table() -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    for m in TOKEN_RE.finditer(everything):
        table[m.start() : m.end()] = 1
    return table


# Characters whose lower case ``str.lower`` does not take one code point at a time: U+0130 (İ) becomes
# two code points, U+03A3 (Σ) becomes σ or ς depending on its neighbours (final sigma).
CONTEXT_LOWER = ("\u0130", "\u03a3")


@lru_cache(maxsize=1)
def lower_table() -> np.ndarray:
    """uint32 over all code points: ``ord(chr(c).lower())`` wherever that is one code point and does not depend
    on context (everything but :data:`CONTEXT_LOWER`, which map to themselves here; kept on disk between runs:
    :mod:`curation.core.table_cache`)."""
    return cached_table("lower_table", __file__, _build_lower_table, (0x110000,), np.uint32)


def _build_lower_table() -> np.ndarray:
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    lowered = everything.lower()
    # U+0130 is the only code point whose lower case is two code points (i + U+0307): drop the extra one
    if len(lowered) != 0x110000 + 1 or lowered[0x130:0x132] != "i\u0307":
        raise RuntimeError("unexpected Unicode lower-case data in this Python build")
    table = np.frombuffer(lowered.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    table = np.delete(table, 0x131)
    for ch in CONTEXT_LOWER:
        table[ord(ch)] = ord(ch)
    return table


def shingle_hash32(data: bytes) -> int:
    """The MinHash hash function: xxh32 of the shingle bytes, seed 0."""
    return xxhash.xxh32_intdigest(data)


def shingle_hash64(data: bytes) -> int:
    return xxhash.xxh64_intdigest(data)


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
