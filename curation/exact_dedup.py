"""Exact duplicates on normalized text, grouped by a 128-bit hash of the configured text key."""

from __future__ import annotations

import xxhash

from curation.config import ExactDedupConfig
from curation.keep_policy import resolve_clusters
from curation.stage import Row, StageContext, StageResult
from curation.text_keys import text_for


class ExactDedup:
    name = "exact_dedup"

    def __init__(self, cfg: ExactDedupConfig) -> None:
        self.cfg = cfg

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        first_of: dict[bytes, int] = {}
        labels: list[int] = []
        for i, row in enumerate(ctx.track(rows, len(rows), "exact dedup")):
            text = text_for(row, self.cfg.text_key)
            if not self.cfg.case_sensitive:
                text = text.casefold()
            key = xxhash.xxh3_128_digest(text.encode("utf-8"))
            labels.append(first_of.setdefault(key, i))
        kept, removed, stats = resolve_clusters(rows, labels, reason="exact_duplicate")
        return StageResult(kept=kept, removed=removed, stats=stats)
