"""MinHash near-duplicate detection: shingling, signatures, LSH banding, verification, clustering.

Two backends share one shingling definition (:mod:`curation.minhash.shingles`) and one hash function, so
they find the same pairs: ``datasketch`` (the reference: ``MinHash`` + ``MinHashLSH``) and ``fast``
(the default). Both return a :class:`NearDupResult`; :func:`clusters` turns verified pairs into cluster
labels.

Modules: ``shingles`` (the definition, in plain Python, and its code point tables), ``kernels`` (numba:
tokenizer, xxh32/xxh64, MinHash, band keys, buckets, Jaccard), ``signatures`` (signatures bit-identical
to datasketch's ``MinHash``), ``banding`` (band choice, band table with spill to disk, candidate pairs),
``verify`` (exact Jaccard of candidates), ``fast`` and ``reference`` (the two backends), ``exact`` (brute
force ground truth for tests and the benchmark).
"""

from curation.minhash.result import NearDupResult, clusters

__all__ = ["NearDupResult", "clusters", "find_near_duplicates"]


def find_near_duplicates(texts, cfg, progress=None) -> NearDupResult:
    """Verified near-duplicate pairs among ``texts`` under ``cfg`` (a ``NearDedupConfig``)."""
    if cfg.backend == "datasketch":
        from curation.minhash.reference import find_near_duplicates as run
    else:
        from curation.minhash.fast import find_near_duplicates as run
    return run(texts, cfg, progress=progress)
