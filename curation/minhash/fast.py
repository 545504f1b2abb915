"""The fast backend: compiled signatures on all cores, numpy banding, exact-Jaccard verification.

Steps (each row's results depend only on the row, so the output is the same for any ``workers``,
``batch_size`` or ``spill_bytes``):

1. Signatures: rows stream through in chunks (at most ``batch_size`` rows in flight); each chunk is UTF-8
   encoded in Python, then lower-cased, tokenized, shingled, hashed (xxh32) and MinHashed by a numba
   kernel with the GIL released, on ``workers`` threads. Only the band keys (8 bytes per band per row) are
   kept; full signatures (``4 * num_perm`` bytes a row) only when ``verify`` is off, since the estimate
   needs them. The signatures are bit-identical to datasketch's ``MinHash``.
2. Banding: per band, rows sorted by band key; rows with equal keys form a bucket; candidate pairs are the
   pairs within buckets (buckets above ``bucket_cap`` rows are linked as a star plus a chain instead of all
   pairs), unique over bands. Band keys spill to disk past ``spill_bytes``.
3. Verification: the true Jaccard of every candidate pair on its shingle sets (rebuilt per block of pairs)
   or, with ``verify`` off, datasketch's estimate (the share of equal signature values); pairs at or above
   ``threshold`` are the result, as in the reference backend.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from curation.minhash.banding import BandTable, candidate_pairs, lsh_params_for
from curation.minhash.result import NearDupResult
from curation.minhash.signatures import SignatureSpec
from curation.minhash.verify import estimated_jaccard, exact_jaccard
from curation.parallel import resolve_workers

log = logging.getLogger(__name__)


def chunk_rows(n: int, batch_size: int, workers: int) -> int:
    """Rows per kernel call: enough chunks to keep every thread busy, ``batch_size`` rows in flight at most."""
    in_flight = 2 * workers
    upper = max(1, batch_size // in_flight)
    want = -(-n // (4 * workers)) if n else 1
    return max(1, min(upper, max(want, 64)))


def _drive(blocks: Iterator[range], total: int, description: str, progress: Callable | None) -> None:
    """Run a generator of finished ``range``s of items to the end, through ``progress`` when given.

    ``progress(iterable, total, description)`` is the pipeline's wrapper (it advances a bar by
    ``len(item)`` for a ``range`` item), so ``total`` counts rows (or pairs), not blocks.
    """
    deque(progress(blocks, total, description) if progress is not None else blocks, maxlen=0)


class _Signatures:
    """Per-row outputs of the signature pass, filled chunk by chunk in row order."""

    def __init__(self, n: int, num_perm: int, table: BandTable, keep_signatures: bool):
        self.nshingles = np.zeros(n, dtype=np.int64)
        self.signatures = np.empty((n, num_perm), dtype=np.uint32) if keep_signatures else None
        self.table = table
        self.text_bytes = 0

    def store(self, start: int, part) -> range:
        stop = start + len(part.nshingles)
        self.table.add(start, part.band_keys)
        self.nshingles[start:stop] = part.nshingles
        if self.signatures is not None:
            self.signatures[start:stop] = part.signatures
        self.text_bytes += part.text_bytes
        return range(start, stop)


def _chunk(spec: SignatureSpec, texts: Sequence[str], start: int, keep: bool):
    try:
        return spec.chunk(texts, keep)
    except (AttributeError, TypeError):
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"near-dedup: the text of row {start + k} is {type(text).__name__}, not str") from None
        raise


def _signature_blocks(texts, spec: SignatureSpec, out: _Signatures, pool, workers: int, step: int) -> Iterator[range]:
    """Submit chunks to the pool (at most ``2 * workers`` in flight); yield each stored chunk's rows."""
    pending: deque = deque()
    keep = out.signatures is not None
    for start in range(0, len(texts), step):
        pending.append((start, pool.submit(_chunk, spec, texts[start : start + step], start, keep)))
        if len(pending) >= 2 * workers:
            start_done, future = pending.popleft()
            yield out.store(start_done, future.result())
    while pending:
        start_done, future = pending.popleft()
        yield out.store(start_done, future.result())


def find_near_duplicates(texts: Sequence[str], cfg, progress=None) -> NearDupResult:
    n = len(texts)
    bands, rows_per_band = lsh_params_for(cfg)
    spec = SignatureSpec(cfg.shingle, cfg.ngram, cfg.num_perm, cfg.seed, bands, rows_per_band)
    workers = resolve_workers(cfg.workers)
    step = chunk_rows(n, cfg.batch_size, workers)
    seconds: dict[str, float] = {}

    with ThreadPoolExecutor(max_workers=workers) as pool, BandTable(n, bands, cfg.spill_bytes) as table:
        t0 = time.perf_counter()
        sig = _Signatures(n, cfg.num_perm, table, keep_signatures=not cfg.verify)
        _drive(_signature_blocks(texts, spec, sig, pool, workers, step), n, "near-dedup: minhash", progress)
        seconds["signatures"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        valid = sig.nshingles > 0
        pairs, capped = candidate_pairs(table, valid, cfg.bucket_cap, pool)
        spilled = table.spilled
        seconds["banding"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        sims = np.empty(len(pairs), dtype=np.float64)
        if cfg.verify:
            blocks = exact_jaccard(
                texts, pairs, cfg.shingle, cfg.ngram, sims, rows_per_block=cfg.batch_size, pool=pool, workers=workers
            )
            _drive(blocks, len(pairs), "near-dedup: verify pairs", progress)
        else:
            sims = estimated_jaccard(sig.signatures, pairs)
        seconds["verify"] = time.perf_counter() - t2

    keep = sims >= cfg.threshold
    log.debug(
        "near-dedup fast: %d rows, %.1f MB text, %d candidates, %d pairs, workers=%d, seconds %s",
        n, sig.text_bytes / 1e6, len(pairs), int(keep.sum()), workers, {k: round(v, 3) for k, v in seconds.items()},
    )  # fmt: skip
    stats = {
        "backend": "fast",
        "bands": bands,
        "rows_per_band": rows_per_band,
        "rows_without_shingles": int(n - valid.sum()),
        "bucket_cap": cfg.bucket_cap,
        "capped_buckets": int(capped),
        "band_table_spilled": bool(spilled),
    }
    return NearDupResult(pairs[keep], sims[keep], int(len(pairs)), stats, seconds)
