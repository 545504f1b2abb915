"""The token-length stage: ``token_count`` per row after the chat template; ``exceeds_max_seq_length`` where
training would cut the row.

It runs after split, so its stats hold tokens, rows and truncated rows per split (``tome train`` can show an
epoch in tokens from ``manifest.json``) and a histogram against ``max_seq_length`` for the report. With
``drop_too_long`` the rows training would truncate are dropped (``filter:too_many_tokens``).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa

from curation.core.registry import StageSpec, register
from curation.core.stage import SPLIT, RowStage, StageOutput
from curation.token_lengths.config import TokenLengthsConfig
from curation.token_lengths.count import TokenCounter

REASON = "filter:too_many_tokens"


def histogram_bins(max_seq_length: int, bins: int) -> np.ndarray:
    """Bin edges: ``bins`` equal bins up to twice ``max_seq_length`` (the last bin takes everything longer)."""
    return np.linspace(0, 2 * max_seq_length, bins + 1).round().astype(np.int64)


def _set(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    if name in batch.schema.names:
        return batch.set_column(batch.schema.get_field_index(name), name, values)
    return batch.append_column(name, values)


class TokenLengthsStage(RowStage):
    name = "token_lengths"

    def __init__(self, cfg: TokenLengthsConfig) -> None:
        self.cfg = cfg
        self.counter = TokenCounter(cfg)

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        tokens, how = self.counter.count(batch.column("conversations"))
        limit = self.cfg.max_seq_length
        too_long = tokens > limit
        batch = _set(batch, "token_count", pa.array(tokens, pa.int32()))
        batch = _set(batch, "exceeds_max_seq_length", pa.array(too_long))
        n = batch.num_rows
        splits = np.asarray(batch.column(SPLIT).to_pylist() if SPLIT in batch.schema.names else ["train"] * n,
                            dtype=object)
        reasons = [None] * n
        details = [None] * n
        if self.cfg.drop_too_long:
            for i in np.flatnonzero(too_long):
                reasons[i] = REASON
                details[i] = json.dumps({"tokens": int(tokens[i]), "max_seq_length": limit})
        kept = ~too_long if self.cfg.drop_too_long else np.ones(n, bool)
        edges = histogram_bins(limit, self.cfg.bins)
        which = np.clip(np.searchsorted(edges, tokens, side="right") - 1, 0, len(edges) - 2)
        stats = {
            "tokens": {s: int(tokens[kept & (splits == s)].sum()) for s in set(splits[kept].tolist())},
            "rows": dict(Counter(splits[kept].tolist())),
            "truncated": {s: int((too_long & (splits == s)).sum()) for s in set(splits.tolist())},
            "histogram": {str(int(edges[b])): int(c) for b, c in zip(*np.unique(which, return_counts=True))},
            "counted": {k: int(v) for k, v in how.items()},
            "backend": self.counter.backend,
        }
        return StageOutput(batch, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()),
                           stats=stats)


SPEC = register(
    StageSpec(
        name="token_lengths",
        order=97,
        kind="row",
        config=TokenLengthsConfig,
        build=lambda cfg, _: TokenLengthsStage(cfg),
        reasons=(REASON,),
        summary="tokens per row after the training chat template; rows over max_seq_length marked (or dropped)",
    )
)


def tokens_per_split(manifest: dict) -> dict[str, int] | None:
    """Tokens per split as a curation run's ``manifest.json`` records them (None: the stage was off), e.g. for
    ``tome train`` to show an epoch in tokens."""
    for stage in manifest.get("stages", []):
        if stage.get("name") == "token_lengths" and stage.get("enabled"):
            return {k: int(v) for k, v in (stage.get("stats") or {}).get("tokens", {}).items()}
    return None
