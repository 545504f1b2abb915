"""MinHash signatures of many texts at once, bit-identical to datasketch's ``MinHash``.

datasketch 2.x (default ``affine32`` scheme) computes, for a set of shingles hashed by ``hashfunc`` to
32-bit values ``hv``: ``fmix32(hv)`` (MurmurHash3 finalizer), then ``a[k] * hv + b[k]`` in wrapping uint32
arithmetic, and keeps the minimum over the set for each of the ``num_perm`` permutations; ``a`` (odd) and
``b`` come from ``np.random.RandomState(seed)``. :func:`permutations` draws them exactly as datasketch
does and :func:`minhash_signatures` runs the rest compiled, with xxh32 of the shingle's UTF-8 bytes as
the hash function (:func:`curation.minhash.shingles.shingle_hash32`).

Texts are prepared in chunks: lower-cased and UTF-8 encoded in Python (C speed), then tokenized,
shingled, hashed and permuted by :func:`curation.minhash.kernels.minhash_rows` with the GIL released, so
chunks run on several threads at once. Each row's output depends only on the row, so the result is the
same for any number of threads and any chunking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curation.minhash import kernels
from curation.minhash.shingles import CONTEXT_LOWER, lower_table, word_table


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 arrays of datasketch ``MinHash(num_perm, seed)`` (scheme ``affine32``)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def shingle_kind_code(kind: str) -> int:
    if kind == "word":
        return kernels.SHINGLE_WORD
    if kind == "char":
        return kernels.SHINGLE_CHAR
    raise ValueError(f"unknown shingle kind {kind!r} (word or char)")


def encode_rows(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``texts`` back to back, and row offsets (``len(texts) + 1``), ready for the kernels.

    The kernels lower-case each code point themselves (:func:`curation.minhash.shingles.lower_table`); a
    text holding a character whose lower case depends on context (:data:`CONTEXT_LOWER`: final sigma, İ)
    is lower-cased here with ``str.lower`` instead.
    """
    sigma, dotted_i = CONTEXT_LOWER
    encoded = [
        t.encode()
        if t.isascii()
        else (t.lower() if sigma in t or dotted_i in t else t).encode("utf-8", "surrogatepass")
        for t in texts
    ]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def encode_arrow(texts) -> tuple[np.ndarray, np.ndarray]:
    """:func:`encode_rows` for a ``pyarrow`` string array, reading its buffers in place (rows holding one of
    :data:`CONTEXT_LOWER` are lower-cased by ``str.lower`` first, as there)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from curation.core.columns import string_buffers

    non_ascii = np.flatnonzero(~np.asarray(pc.string_is_ascii(texts).fill_null(True), dtype=bool))
    if len(non_ascii):
        sigma, dotted_i = CONTEXT_LOWER
        picked = texts.take(pa.array(non_ascii))
        special = np.asarray(pc.match_substring_regex(picked, f"{sigma}|{dotted_i}").fill_null(False), dtype=bool)
        if special.any():
            idx = non_ascii[special]
            lowered = pa.array([t.lower() for t in texts.take(pa.array(idx)).to_pylist()], pa.string())
            mask = np.zeros(len(texts), dtype=bool)
            mask[idx] = True
            texts = pc.replace_with_mask(texts, pa.array(mask), lowered)
    return string_buffers(texts)


@dataclass
class ChunkSignatures:
    """What :func:`chunk_signatures` computes for ``rows`` consecutive texts."""

    band_keys: np.ndarray  # uint64 (rows, bands)
    nshingles: np.ndarray  # int64 (rows,): 0 = no shingles (empty token text)
    signatures: np.ndarray | None  # uint32 (rows, num_perm), when asked for
    text_bytes: int


class SignatureSpec:
    """Everything fixed across chunks: shingling, permutations, banding."""

    def __init__(self, kind: str, ngram: int, num_perm: int, seed: int, bands: int, rows_per_band: int):
        if bands * rows_per_band > num_perm:
            raise ValueError("bands * rows_per_band must not exceed num_perm")
        self.kind = shingle_kind_code(kind)
        self.ngram = int(ngram)
        self.num_perm = int(num_perm)
        self.bands = int(bands)
        self.rows_per_band = int(rows_per_band)
        self.perm_a, self.perm_b = permutations(num_perm, seed)
        self.word = word_table()
        self.lower = lower_table()

    def chunk(self, texts: Sequence[str], keep_signatures: bool) -> ChunkSignatures:
        return self.chunk_encoded(*encode_rows(texts), keep_signatures)

    def chunk_arrow(self, texts, keep_signatures: bool) -> ChunkSignatures:
        """:meth:`chunk` of a ``pyarrow`` string array (no copy of the text)."""
        return self.chunk_encoded(*encode_arrow(texts), keep_signatures)

    def chunk_encoded(self, buf: np.ndarray, offsets: np.ndarray, keep_signatures: bool) -> ChunkSignatures:
        n = len(offsets) - 1
        sigs = np.empty((n if keep_signatures else 0, self.num_perm), dtype=np.uint32)
        keys = np.empty((n, self.bands), dtype=np.uint64)
        nsh = np.empty(n, dtype=np.int64)
        kernels.minhash_rows(
            buf, offsets, self.word, self.lower, self.kind, self.ngram, self.perm_a, self.perm_b,
            self.bands, self.rows_per_band, sigs, keys, nsh,
        )  # fmt: skip
        return ChunkSignatures(keys, nsh, sigs if keep_signatures else None, int(offsets[-1] - offsets[0]))


def minhash_signatures(
    texts: Sequence[str], num_perm: int = 128, seed: int = 1, kind: str = "word", ngram: int = 5
) -> np.ndarray:
    """uint32 ``(len(texts), num_perm)``: row ``i`` equals ``MinHash(num_perm, seed, hashfunc=shingle_hash32)``
    updated with ``shingles(texts[i], kind, ngram)`` (``.hashvalues``); all 0xFFFFFFFF for a text without
    shingles, like an empty ``MinHash``."""
    spec = SignatureSpec(kind, ngram, num_perm, seed, bands=1, rows_per_band=1)
    return spec.chunk(texts, keep_signatures=True).signatures
