"""The reference backend: datasketch ``MinHash`` per row, ``MinHashLSH`` insert then query."""

from __future__ import annotations

import inspect

import numpy as np
from datasketch import MinHash, MinHashLSH

from curation.minhash.banding import lsh_params_for
from curation.minhash.result import NearDupResult
from curation.minhash.shingles import jaccard, shingle_hash32, shingles


def lsh_for(cfg) -> MinHashLSH:
    """The index both backends band like: ``(bands, rows_per_band)`` from the config or datasketch's optimum."""
    return MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=lsh_params_for(cfg))


def signature(shingle_list: list[bytes], cfg) -> MinHash:
    m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash32)
    m.update_batch(shingle_list)
    return m


def find_near_duplicates(texts, cfg, progress=None, *, bulk: bool = False) -> NearDupResult:
    """``bulk=True`` makes the signatures with ``MinHash.bulk`` (one shared permutation state) instead of
    one ``MinHash`` per row; the output is the same."""
    track = progress or (lambda items, total, desc: items)
    lsh = lsh_for(cfg)
    sets: list[set[bytes]] = []
    sigs: list[MinHash | None] = []
    if bulk:
        shingled = [shingles(t, cfg.shingle, cfg.ngram) for t in track(texts, len(texts), "near-dedup: shingles")]
        sets = [set(sh) for sh in shingled]
        made = MinHash.bulk(shingled, num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash32)
        for i, (sh, m) in enumerate(zip(shingled, made)):
            sigs.append(m if sh else None)
            if sh:
                lsh.insert(i, m)
    else:
        for i, text in enumerate(track(texts, len(texts), "near-dedup: minhash (datasketch)")):
            sh = shingles(text, cfg.shingle, cfg.ngram)
            sets.append(set(sh))
            if not sh:
                sigs.append(None)
                continue
            m = signature(sh, cfg)
            sigs.append(m)
            lsh.insert(i, m)
    found: dict[tuple[int, int], float] = {}
    candidates = 0
    for i, m in enumerate(sigs):
        if m is None:
            continue
        for j in lsh.query(m):
            if j <= i:
                continue
            candidates += 1
            sim = jaccard(sets[i], sets[j]) if cfg.verify else m.jaccard(sigs[j])
            if sim >= cfg.threshold:
                found[(i, j)] = sim
    return NearDupResult.from_pairs(found, candidates, {"backend": "datasketch"})


def signatures_of(texts: list[str], cfg) -> tuple[np.ndarray, np.ndarray]:
    """datasketch signatures ``(rows, num_perm)`` uint32 and shingle counts of ``texts`` (a row without shingles
    keeps an empty ``MinHash``'s values)."""
    sigs = np.full((len(texts), cfg.num_perm), 0xFFFFFFFF, dtype=np.uint32)
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        sh = shingles(text, cfg.shingle, cfg.ngram)
        counts[i] = len(sh)
        if sh:
            sigs[i] = signature(sh, cfg).hashvalues
    return sigs, counts


def lsh_candidates(signatures: np.ndarray, valid: np.ndarray, cfg) -> np.ndarray:
    """Candidate pairs ``(i < j)`` of datasketch's ``MinHashLSH`` (insert every row with shingles, then query)."""
    lsh = lsh_for(cfg)
    rows = np.flatnonzero(valid)
    made = {}
    scheme = {"scheme": "affine32"} if "scheme" in inspect.signature(MinHash.__init__).parameters else {}
    for i in rows.tolist():
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashvalues=signatures[i], **scheme)
        made[i] = m
        lsh.insert(i, m)
    pairs = sorted({(i, j) for i, m in made.items() for j in lsh.query(m) if j > i})
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)
