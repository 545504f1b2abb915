"""Near duplicates: MinHash LSH candidates, verified by true Jaccard, clustered by union-find.

The search itself lives in :mod:`curation.minhash` (``fast`` backend by default, ``datasketch`` as the
reference); this step picks the text, applies the shared keep policy and records ``duplicate_of``.
"""

from __future__ import annotations

from curation.config import NearDedupConfig
from curation.keep_policy import resolve_clusters
from curation.minhash import clusters, find_near_duplicates
from curation.stage import Row, StageContext, StageResult
from curation.text_keys import text_for


class NearDedup:
    name = "near_dedup"

    def __init__(self, cfg: NearDedupConfig) -> None:
        self.cfg = cfg

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        texts = [text_for(row, self.cfg.text_key) for row in rows]
        result = find_near_duplicates(texts, self.cfg, progress=ctx.progress)
        labels = clusters(len(rows), result.pairs)
        similarity = {(int(i), int(j)): float(s) for (i, j), s in zip(result.pairs, result.jaccard)}
        kept, removed, stats = resolve_clusters(rows, labels, reason="near_duplicate", similarity=similarity)
        stats.update(
            {
                "backend": self.cfg.backend,
                "candidate_pairs": int(result.candidates),
                "verified_pairs": int(len(result.pairs)),
            }
        )
        stats.update({k: v for k, v in result.stats.items() if k != "backend"})
        return StageResult(kept=kept, removed=removed, stats=stats)
