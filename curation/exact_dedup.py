"""Exact duplicates on normalized text, grouped by a 128-bit hash of the configured text key."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation.core.columns import TextKey, text_key
from curation.core.config_base import StrictModel
from curation.core.hashing import group_labels, hash128
from curation.core.keep_policy import keep_decisions, policy_keys, several_inputs
from curation.core.registry import StageSpec, register
from curation.core.stage import POS, Decisions, GlobalStage, ReduceContext


class ExactDedupConfig(StrictModel):
    """Exact duplicates on normalized text; the keep policy (highest score, longest, smallest id) picks the survivor."""

    enabled: bool = True
    text_key: TextKey = "conversation"
    case_sensitive: bool = True


def casefold(texts: pa.Array) -> pa.Array:
    """``str.casefold`` of every string (ASCII ones by Arrow, the others by Python)."""
    ascii_ = np.asarray(pc.string_is_ascii(texts).fill_null(True), dtype=bool)
    out = pc.ascii_lower(texts)
    if ascii_.all():
        return out
    idx = np.flatnonzero(~ascii_)
    folded = pa.array([t.casefold() for t in texts.take(pa.array(idx)).to_pylist()], pa.string())
    mask = np.zeros(len(texts), dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(out, pa.array(mask), folded)


class ExactDedup(GlobalStage):
    name = "exact_dedup"

    def __init__(self, cfg: ExactDedupConfig, labelled: bool = False) -> None:
        self.cfg = cfg
        self.labelled = labelled  # rows carry their input's name (several inputs): the policy's tie-break

    def warm_up(self) -> None:
        from curation.core.warm import sample_rows

        self.keys(sample_rows())

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = text_key(batch.column("conversations"), self.cfg.text_key)
        if not self.cfg.case_sensitive:
            texts = casefold(texts)
        h1, h2 = hash128(texts)
        columns = policy_keys(batch, self.labelled)
        columns["h1"], columns["h2"] = pa.array(h1), pa.array(h2)
        return pa.RecordBatch.from_pydict(columns)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        labels = group_labels(keys.column("h1").to_numpy(), keys.column("h2").to_numpy())
        return keep_decisions(keys, labels, reason="exact_duplicate")


SPEC = register(
    StageSpec(
        name="exact_dedup",
        order=20,
        kind="global",
        config=ExactDedupConfig,
        build=lambda cfg, curation: ExactDedup(cfg, several_inputs(curation)),
        reasons=("exact_duplicate",),
        summary="128-bit hash of the normalized text key",
    )
)
