"""The reference backend: datasketch ``MinHash`` per row, ``MinHashLSH`` insert then query."""

from __future__ import annotations

from datasketch import MinHash, MinHashLSH

from curation.minhash.result import NearDupResult
from curation.minhash.shingles import jaccard, shingle_hash32, shingles


def lsh_for(cfg) -> MinHashLSH:
    params = None if cfg.bands is None else (cfg.bands, cfg.rows_per_band)
    return MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=params)


def signature(shingle_list: list[bytes], cfg) -> MinHash:
    m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash32)
    m.update_batch(shingle_list)
    return m


def find_near_duplicates(texts, cfg, progress=None) -> NearDupResult:
    track = progress or (lambda items, total, desc: items)
    lsh = lsh_for(cfg)
    sets: list[set[bytes]] = []
    sigs: list[MinHash | None] = []
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
