"""Near duplicates: MinHash LSH candidates, verified by true Jaccard, clustered by union-find.

Map (``keys``, per batch): each row's MinHash band keys (:mod:`curation.minhash`, compiled and bit-identical
to datasketch's ``MinHash``). Reduce (``decide``): candidate pairs from equal band keys, then the true
Jaccard of each candidate on its shingle sets (the texts of the candidate rows only are fetched again) where
its rows are not in one cluster already (:mod:`curation.minhash.linking`: the connected components of every
similar pair), then the shared keep policy; ``details.similarity`` records the measured Jaccard.
``backend: datasketch`` runs the reference implementation (``MinHash`` + ``MinHashLSH``) instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curation.core.columns import RowTexts, TextKey, contiguous, text_key
from curation.core.config_base import StrictModel
from curation.core.keep_policy import keep_decisions, policy_keys, several_inputs
from curation.core.registry import StageSpec, register
from curation.core.stage import POS, Decisions, GlobalStage, ReduceContext


class NearDedupConfig(StrictModel):
    """MinHash LSH near-duplicates, verified by true Jaccard, clustered by union-find."""

    enabled: bool = True
    backend: Literal["fast", "datasketch"] = Field(
        "fast", description="fast: vectorized/compiled path; datasketch: the reference implementation"
    )
    text_key: TextKey = "conversation"
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(5, ge=1, le=64)
    num_perm: int = Field(128, ge=16, le=1024)
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    bands: int | None = Field(None, ge=1, description="LSH bands; default: datasketch's optimum for the threshold")
    rows_per_band: int | None = Field(None, ge=1)
    lsh_weights: tuple[float, float] = Field(
        (0.05, 0.95),
        description="(false positive, false negative) weights of datasketch's band optimum, used when bands is "
        "null; favouring recall keeps misses at the threshold rare (extra candidates fail verification)",
    )
    verify: bool = Field(True, description="check each candidate pair's true Jaccard before removal")
    seed: int = Field(1, ge=0, le=2**32 - 1, description="MinHash permutation seed (numpy RandomState: 0..2**32-1)")
    workers: int = Field(0, ge=0, le=1024, description="threads for candidate search and verification; 0 = all cores")
    batch_size: int = Field(20_000, ge=1, le=2**31 - 1, description="rows whose shingle sets are rebuilt at once when verifying")
    spill_bytes: int = Field(1 << 30, ge=0, description="band tables larger than this go to disk")
    bucket_cap: int = Field(
        1000, ge=2, le=2**31 - 1, description="fast backend: an LSH bucket with more rows is linked as star + chain, not all pairs"
    )

    @model_validator(mode="after")
    def _bands_pair(self) -> "NearDedupConfig":
        if (self.bands is None) != (self.rows_per_band is None):
            raise ValueError("set both bands and rows_per_band, or neither")
        if self.bands is not None and self.bands * self.rows_per_band > self.num_perm:
            raise ValueError("bands * rows_per_band must not exceed num_perm")
        if min(self.lsh_weights) < 0 or abs(sum(self.lsh_weights) - 1.0) > 1e-9:
            raise ValueError("lsh_weights must be two non-negative numbers summing to 1")
        return self


def minhash_signal(cfg: NearDedupConfig) -> str:
    """The name of the MinHash signal table (``_pos``, ``nshingles``, ``bands``: uint64 band keys,
    ``signature``) for these settings: stages that compute it alike share it (see :mod:`curation.core.stage`)."""
    from curation.minhash.banding import lsh_params_for

    bands, rows = lsh_params_for(cfg)
    return f"minhash:{cfg.text_key}:{cfg.shingle}:{cfg.ngram}:{cfg.num_perm}:{cfg.seed}:{bands}x{rows}"


def _fixed(values: np.ndarray, width: int) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)


def _matrix(column: pa.ChunkedArray | pa.Array, width: int, dtype) -> np.ndarray:
    column = contiguous(column)
    if len(column) == 0:
        return np.zeros((0, width), dtype=dtype)
    return column.flatten().to_numpy().astype(dtype, copy=False).reshape(-1, width)


class NearDedup(GlobalStage):
    name = "near_dedup"

    def __init__(self, cfg: NearDedupConfig) -> None:
        self.cfg = cfg
        self._spec = None
        self._give = False  # a later stage takes the signatures (see offers)

    def __getstate__(self):  # the code point tables are rebuilt where the stage runs
        return {"cfg": self.cfg, "_spec": None, "_give": self._give}

    def offers(self) -> frozenset[str]:
        return frozenset({minhash_signal(self.cfg)}) if self.cfg.backend == "fast" else frozenset()

    def link(self, give: frozenset[str], take: frozenset[str]) -> None:
        self._give = self._give or bool(give & self.offers())

    @property
    def lsh(self) -> tuple[int, int]:
        from curation.minhash.banding import lsh_params_for

        return lsh_params_for(self.cfg)

    def spec(self):
        if self._spec is None:
            from curation.minhash.signatures import SignatureSpec

            bands, rows = self.lsh
            c = self.cfg
            self._spec = SignatureSpec(c.shingle, c.ngram, c.num_perm, c.seed, bands, rows)
        return self._spec

    def warm_up(self) -> None:
        from curation.core.warm import sample_rows

        self.keys(sample_rows())

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        # per row only what banding needs; the keep policy's columns are fetched for cluster members only
        cfg = self.cfg
        texts = text_key(batch.column("conversations"), cfg.text_key)
        columns = {POS: batch.column(POS)}
        if cfg.backend == "datasketch":
            from curation.minhash.reference import signatures_of

            sigs, nsh = signatures_of(texts.to_pylist(), cfg)
            columns["nshingles"] = pa.array(nsh, pa.int64())
            columns["signature"] = _fixed(sigs, cfg.num_perm)
            return pa.RecordBatch.from_pydict(columns)
        part = self.spec().chunk_arrow(texts, keep_signatures=not cfg.verify or self._give)
        columns["nshingles"] = pa.array(part.nshingles.astype(np.int32), pa.int32())
        # 32 bits of each band key are kept (half the memory of the keys): a collision only adds a candidate
        # pair, which verification (or the estimate) then rejects like any other; the stage the signatures go
        # to gets all 64 (decide uses their low 32 bits, the same values)
        band_keys = part.band_keys if self._give else part.band_keys.astype(np.uint32)
        columns["bands"] = _fixed(band_keys, part.band_keys.shape[1])
        if part.signatures is not None:
            columns["signature"] = _fixed(part.signatures, cfg.num_perm)
        return pa.RecordBatch.from_pydict(columns)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        from curation.minhash.banding import BandMatrix, candidate_pairs
        from curation.minhash.linking import Linker, PairFunction
        from curation.minhash.verify import ShingleSets, estimated_jaccard

        cfg = self.cfg
        n = keys.num_rows
        bands, rows_per_band = self.lsh
        workers = ctx.workers if cfg.workers == 0 else cfg.workers
        if self._give:  # (only the fast backend offers them)
            ctx.signals[minhash_signal(cfg)] = keys.select([POS, "nshingles", "bands", "signature"])
        valid = keys.column("nshingles").to_numpy() > 0
        positions = keys.column(POS).to_numpy()
        capped = 0
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            if cfg.backend == "datasketch":
                from curation.minhash.reference import lsh_candidates

                pairs = lsh_candidates(_matrix(keys.column("signature"), cfg.num_perm, np.uint32), valid, cfg)
            else:
                table = BandMatrix([_matrix(chunk, bands, np.uint32) for chunk in keys.column("bands").chunks], bands)
                pairs, capped = candidate_pairs(table, valid, cfg.bucket_cap, pool)
            # the rows of candidate pairs, read again: their text (verification) and the keep policy's columns
            rows = np.unique(pairs)
            wanted = ["conversations", "id", "score"]
            labelled = several_inputs(ctx.config)
            if labelled:  # rows name their input: the policy's tie-break
                wanted.append("input")
            fetched = ctx.fetch(positions[rows], wanted) if len(rows) else None
            measured = similar = 0
            candidates = len(pairs)
            if fetched is None:
                decisions = Decisions.none({"clusters": 0, "cluster_sizes": {}})
            else:
                member_keys = pa.table(policy_keys(fetched, labelled))
                # row k of member_keys: candidate rows[k] (32 bits a row where they fit: the pairs are the largest
                # thing a run on heavily duplicated rows holds)
                local = np.searchsorted(rows, pairs).astype(np.int32 if len(rows) < 2**31 else np.int64)
                pairs = None
                if cfg.verify:  # the text of each block of rows is made as its shingle sets are built
                    measurer = ShingleSets(RowTexts(fetched.column("conversations"), cfg.text_key), cfg.shingle,
                                           cfg.ngram, pool, max(1, workers))
                else:
                    signatures = _matrix(keys.column("signature"), cfg.num_perm, np.uint32)
                    measurer = PairFunction(lambda some: estimated_jaccard(signatures, rows[some]))
                fetched = None
                linker = Linker(len(rows), local, measurer, cfg.threshold, pairs_per_block=max(1, cfg.batch_size // 2),
                                rows_per_block=cfg.batch_size)
                for _ in ctx.track(linker.run(), candidates, "near-dedup: verify pairs"):
                    pass
                # the policy over the candidate rows only (a cluster's members are all candidates)
                decisions = keep_decisions(member_keys, linker.labels(), "near_duplicate",
                                           similarity_of=linker.similarity_of)
                measured, similar = linker.measured, linker.similar
        decisions.stats.update(
            {
                "backend": cfg.backend,
                "candidate_pairs": int(candidates),
                # candidates whose similarity was measured (not those whose rows were in one cluster already),
                # and of those, the ones at or above the threshold
                "measured_pairs": measured,
                "similar_pairs": similar,
                "bands": bands,
                "rows_per_band": rows_per_band,
                "rows_without_shingles": int(n - valid.sum()),
            }
        )
        if cfg.backend == "fast":
            decisions.stats.update({"bucket_cap": cfg.bucket_cap, "capped_buckets": int(capped), "band_table_spilled": False})
        return decisions


SPEC = register(
    StageSpec(
        name="near_dedup",
        order=30,
        kind="global",
        config=NearDedupConfig,
        build=lambda cfg, _: NearDedup(cfg),
        reasons=("near_duplicate",),
        summary="MinHash LSH, candidates verified by true Jaccard, union-find clusters, shared keep policy",
    )
)
