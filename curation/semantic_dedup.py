"""Opt-in semantic near-duplicate removal: sentence embeddings, cosine threshold, blockwise neighbour search.

Each row's configured text (``text_key``) is embedded (:mod:`curation.embeddings`, cached under
``<cache>/embeddings`` by row id + text hash, so a re-run embeds nothing), every pair with cosine
similarity >= ``threshold`` is found exactly by multiplying blocks of the normalized matrix, pairs become
clusters by union-find (:func:`curation.minhash.clusters`), and the MinHash keep policy picks the survivor
(:func:`curation.core.keep_policy.keep_decisions`): removed rows get reason ``semantic_duplicate``,
``duplicate_of`` and ``details.similarity``.

An augmented row (``origin_id`` set) is never paired with its own origin or a sibling from the same
origin: that likeness is the point of augmentation, not a duplicate. A row whose text has nothing to read
(empty, or only whitespace and invisible characters: zero-width spaces, a BOM, NBSP) is never paired either:
every such text embeds to the same vector, so they would all be "duplicates" of each other at similarity 1.0,
and at a low threshold that vector links unrelated short texts into one cluster.

The model reads a text's first 256 tokens only (all-MiniLM-L6-v2's ``max_seq_length``, some 1,000 to 1,300
characters of English): two long texts that differ only after that are identical to it (similarity 1.0). Truncation is
deterministic, so decisions are too.

Same rows and config, same output bits, whatever the cache held and whatever ``batch_size`` and
``block_size`` are (they set speed and memory only): a text's vector does not depend on its batch nor on
being cached (:mod:`curation.embeddings`), and a pair's similarity, which decides it against ``threshold``
and is written to ``details.similarity``, is the float64 dot product of the two vectors, computed pair by
pair (:func:`curation.embeddings.row_cosines`); the blockwise float32 product only finds the candidates, with
a margin (:data:`SEARCH_MARGIN`) wider than its rounding, so no block shape can lose a pair.
"""

from __future__ import annotations

import time
import unicodedata

import numpy as np

import pyarrow as pa

from curation.core.columns import text_key
from curation.core.keep_policy import keep_decisions, policy_keys, several_inputs
from curation.core.registry import StageSpec, register
from curation.core.stage import Decisions, GlobalStage, ReduceContext
from curation.embeddings import EmbeddingCache, embed, row_cosines
from curation.minhash import clusters
from curation.semantic_config import SemanticDedupConfig

#: How far below ``threshold`` a cosine may fall and still count as meeting it. A unit vector's dot product
#: with itself comes out between 0.9999991 and 1.000001 for all-MiniLM-L6-v2 (384 float32 products summed;
#: measured on 600 real turns; summed in float64, 0.99999987 to 1.0000002 on 255, the float32 vector's own
#: rounding), so without it ``threshold: 1.0`` would not even pair identical texts; the slack is float32
#: rounding, far below any difference in meaning.
COSINE_TOLERANCE = 1e-5

#: How far below the cut the float32 block products look for candidates. A float32 dot product of two unit
#: vectors of d components is off by at most d * 2**-23 (4.6e-5 for 384; measured: about 1e-7), and by how
#: much depends on the block's shape; every candidate is then scored exactly (:func:`row_cosines`), so a pair
#: is kept or not, and written, the same whatever the blocks. Widened for models of more than 838 components.
SEARCH_MARGIN = 1e-4

#: Candidate pairs scored at a time (memory: two float64 matrices of this many rows, some 50 MB at 384).
SCORE_CHUNK = 8192


def has_text(text: str) -> bool:
    """Whether ``text`` holds anything to read: a letter, digit, punctuation mark or symbol (emoji included),
    not only separators, control and format characters (zero-width space, BOM) or lone combining marks."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


def similar_pairs(
    vectors: np.ndarray, threshold: float, block_size: int = 4096, progress=None
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``i < j``, with ``vectors[i] @ vectors[j] >= threshold`` (vectors normalized),
    up to float32 rounding (:data:`COSINE_TOLERANCE`); reported similarities are clipped to at most 1.

    Exact: the upper triangle of the similarity matrix is computed one block of rows at a time against
    every later row, so memory stays at ``block_size * n`` floats; that float32 product only picks candidates
    (:data:`SEARCH_MARGIN` below the cut), and each candidate's similarity is its float64 dot product
    (:func:`curation.embeddings.row_cosines`), so pairs and similarities have the same bits for every
    ``block_size``. Returns ``(pairs int64 (k, 2) sorted, similarities float64 (k,))``.
    """
    if block_size < 1:
        raise ValueError(f"similar_pairs: block_size must be at least 1 (got {block_size})")
    n = len(vectors)
    cut = threshold - COSINE_TOLERANCE
    width = vectors.shape[1] if vectors.ndim == 2 else 0
    margin = max(SEARCH_MARGIN, width * float(np.finfo(np.float32).eps))
    search = np.float32(cut - margin)
    found_pairs: list[np.ndarray] = []
    starts = range(0, n, block_size)
    iterator = starts if progress is None else progress(starts, len(starts), "semantic neighbours")
    for start in iterator:
        stop = min(start + block_size, n)
        sims = vectors[start:stop] @ vectors[start:].T  # (b, n - start)
        # keep only j > i (strict upper triangle of this block)
        rows_idx, cols_idx = np.nonzero(sims >= search)
        keep = cols_idx > rows_idx
        rows_idx, cols_idx = rows_idx[keep], cols_idx[keep]
        if len(rows_idx):
            found_pairs.append(np.stack([rows_idx + start, cols_idx + start], axis=1).astype(np.int64))
    if not found_pairs:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64)
    pairs = np.concatenate(found_pairs)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    exact = np.concatenate(
        [
            row_cosines(vectors[pairs[k : k + SCORE_CHUNK, 0]], vectors[pairs[k : k + SCORE_CHUNK, 1]])
            for k in range(0, len(pairs), SCORE_CHUNK)
        ]
    )
    met = exact >= cut
    return pairs[met], np.minimum(exact[met], 1.0)


class SemanticDedup(GlobalStage):
    name = "semantic_dedup"

    def __init__(self, cfg: SemanticDedupConfig, labelled: bool = False):
        self.cfg = cfg
        self.labelled = labelled  # rows carry their input's name (several inputs): the policy's tie-break
        self.last_embedded = 0

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = policy_keys(batch, self.labelled)
        columns["text"] = text_key(batch.column("conversations"), self.cfg.text_key)
        columns["origin_id"] = batch.column("origin_id")
        return pa.RecordBatch.from_pydict(columns)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        cfg = self.cfg
        started = time.perf_counter()
        ids = [str(i) for i in keys.column("id").to_pylist()]
        cache = EmbeddingCache(ctx.cache_dir / "embeddings")
        cached_before = cache.size(cfg.model)
        t0 = time.perf_counter()
        texts = keys.column("text").to_pylist()
        vectors = embed(
            texts,
            model=cfg.model,
            batch_size=cfg.batch_size,
            cache=cache,
            ids=ids,
            progress=ctx.track,
        )
        embed_seconds = time.perf_counter() - t0
        embedded = cache.size(cfg.model) - cached_before
        pairs, sims = similar_pairs(vectors, cfg.threshold, cfg.block_size, progress=ctx.track)
        readable = np.array([has_text(t) for t in texts], dtype=bool)
        if len(pairs):
            # a text with nothing to read embeds like every other such text: no evidence of a duplicate
            both = readable[pairs[:, 0]] & readable[pairs[:, 1]]
            pairs, sims = pairs[both], sims[both]
        skipped_family = 0
        if len(pairs):
            # rows of one family (an origin and its augmentations) are never each other's duplicates
            origins = keys.column("origin_id").to_pylist()
            families = np.array([o or i for o, i in zip(origins, ids)], dtype=object)
            same_family = families[pairs[:, 0]] == families[pairs[:, 1]]
            skipped_family = int(same_family.sum())
            pairs, sims = pairs[~same_family], sims[~same_family]
        labels = clusters(keys.num_rows, pairs)
        decisions = keep_decisions(keys, labels, "semantic_duplicate", pairs, sims)
        seconds = time.perf_counter() - started
        decisions.stats = {
            "model": cfg.model,
            "text_key": cfg.text_key,
            "threshold": cfg.threshold,
            "pairs": int(len(pairs)),
            "pairs_skipped_same_origin": skipped_family,
            "rows_without_text": int((~readable).sum()),
            **decisions.stats,
            # clock-dependent: "seconds" and "rows_per_s" are volatile keys of the manifest
            "seconds": {"total": round(seconds, 3), "embed": round(embed_seconds, 3)},
            "rows_per_s": round(keys.num_rows / seconds, 1) if seconds > 0 else None,
        }
        # how many rows needed a fresh embedding (0 on a re-run): for callers and benchmarks, not the
        # manifest, since it depends on what an earlier run left in the cache
        self.last_embedded = int(embedded)
        return decisions


SPEC = register(
    StageSpec(
        name="semantic_dedup",
        order=40,
        kind="global",
        config=SemanticDedupConfig,
        build=lambda cfg, curation: SemanticDedup(cfg, several_inputs(curation)),
        reasons=("semantic_duplicate",),
        summary="sentence-embedding cosine (opt-in), same keep policy",
    )
)
