"""Source balancing: an optional cap of rows per ``source``, sampled deterministically by a seeded hash."""

from __future__ import annotations

from collections import defaultdict

import xxhash

from curation.config import BalanceConfig
from curation.stage import Removal, Row, StageContext, StageResult


def seeded_rank(seed: int, key: str) -> int:
    return xxhash.xxh3_64_intdigest(key.encode("utf-8"), seed=seed)


class Balance:
    name = "balance"

    def __init__(self, cfg: BalanceConfig) -> None:
        self.cfg = cfg

    def cap_for(self, source: str | None) -> int | None:
        if source is not None and source in self.cfg.per_source:
            return self.cfg.per_source[source]
        return self.cfg.max_per_source

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        by_source: dict[str | None, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            by_source[row.get("source")].append(i)
        dropped: set[int] = set()
        before = {str(k): len(v) for k, v in sorted(by_source.items(), key=lambda kv: str(kv[0]))}
        for source, idx in by_source.items():
            cap = self.cap_for(source)
            if cap is None or len(idx) <= cap:
                continue
            ranked = sorted(idx, key=lambda i: (seeded_rank(self.cfg.seed, rows[i]["id"]), rows[i]["id"]))
            dropped.update(ranked[cap:])
        kept, removed = [], []
        for i, row in enumerate(rows):
            if i in dropped:
                cap = self.cap_for(row.get("source"))
                removed.append(Removal(row=row, reason="balance:source_cap", details={"source": row.get("source"), "cap": cap}))
            else:
                kept.append(row)
        after: dict[str, int] = defaultdict(int)
        for row in kept:
            after[str(row.get("source"))] += 1
        return StageResult(kept=kept, removed=removed, stats={"per_source_before": before, "per_source_after": dict(sorted(after.items()))})
