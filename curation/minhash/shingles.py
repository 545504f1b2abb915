"""The shingling definition both backends share (the reference spelling of it).

A text becomes its *token text*: lower-cased (``str.lower``), the ``\\w+`` tokens joined by single spaces.
Word shingles are ``ngram`` consecutive tokens joined by a space; char shingles are ``ngram`` consecutive
characters of the token text. A text with at most ``ngram`` tokens (or characters) is one shingle, itself;
an empty token text has no shingles. A shingle is hashed as its UTF-8 bytes with :func:`shingle_hash32`
(for MinHash) and :func:`shingle_hash64` (set members for the exact Jaccard check).

This module is the plain-Python spelling of that definition (used by the datasketch backend and by tests);
the fast backend runs the same definition compiled (:mod:`curation.minhash.kernels`), with
:func:`word_table` telling it which code points ``\\w`` matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import xxhash

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
    """uint8 over all code points (0..0x10FFFF): 1 where :data:`TOKEN_RE` (``\\w``) matches the character."""
    table = np.zeros(0x110000, dtype=np.uint8)
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    for m in TOKEN_RE.finditer(everything):
        table[m.start() : m.end()] = 1
    table.flags.writeable = False
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
