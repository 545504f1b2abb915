"""Source balancing: an optional cap of rows per ``source``, sampled deterministically by a seeded hash."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation.core.config_base import StrictModel
from curation.core.hashing import seeded_order
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, POS, REASON, Decisions, GlobalStage, ReduceContext

# what the cap's draw keys are prefixed with: the split orders rows by the seeded hash of their bare ids with the
# same default seed, so a cap drawn by the bare ids kept exactly the rows that sort first there, and a capped
# source's rows all landed in train (none in validation or test); salted, the two orders are unrelated
BALANCE_SALT = "balance\x00"


class BalanceConfig(StrictModel):
    """Optional cap of rows per `source`, sampled deterministically."""

    enabled: bool = True
    max_per_source: int | None = Field(None, ge=0, description="null: no cap")
    per_source: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="caps for named sources"
    )
    seed: int = 0


NO_SOURCE = "(none)"  # the stats' key for rows without a source, as the report names them


def _counts(sources: pa.Array) -> dict[str, int]:
    """Rows per source (:data:`NO_SOURCE` for rows without one, added to a source of that name), sorted by name."""
    counts = pc.value_counts(sources)
    out: dict[str, int] = {}
    for value, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
        name = NO_SOURCE if value is None else str(value)
        out[name] = out.get(name, 0) + n
    return dict(sorted(out.items()))


class Balance(GlobalStage):
    name = "balance"

    def __init__(self, cfg: BalanceConfig) -> None:
        self.cfg = cfg

    def cap_for(self, source: str | None) -> int | None:
        if source is not None and source in self.cfg.per_source:
            return self.cfg.per_source[source]
        return self.cfg.max_per_source

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column(POS), batch.column("id"), batch.column("source")],
                                          names=[POS, "id", "source"])

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        sources = keys.column("source").combine_chunks()
        before = _counts(sources)
        drop_pos: list[np.ndarray] = []
        drop_detail: list[str] = []
        if self.cfg.max_per_source is not None or self.cfg.per_source:
            pos = keys.column(POS).to_numpy()
            ids = keys.column("id").combine_chunks()
            for source in pc.unique(sources).to_pylist():
                cap = self.cap_for(source)
                mask = sources.is_null() if source is None else pc.equal(sources, source).fill_null(False)
                idx = np.flatnonzero(np.asarray(mask, dtype=bool))
                if cap is None or len(idx) <= cap:
                    continue
                order = seeded_order(self.cfg.seed, [BALANCE_SALT + i for i in ids.take(pa.array(idx)).to_pylist()])
                dropped = idx[order[cap:]]
                drop_pos.append(pos[dropped])
                drop_detail += [json.dumps({"source": source, "cap": cap}, sort_keys=True)] * len(dropped)
        all_dropped = np.concatenate(drop_pos) if drop_pos else np.zeros(0, dtype=np.int64)
        kept = ~np.isin(keys.column(POS).to_numpy(), all_dropped)
        stats = {"per_source_before": before, "per_source_after": _counts(sources.filter(pa.array(kept)))}
        if not len(all_dropped):
            return Decisions.none(stats)
        order = np.argsort(all_dropped, kind="stable")
        table = pa.table(
            {
                POS: pa.array(all_dropped[order], pa.int64()),
                REASON: pa.array(["balance:source_cap"] * len(order), pa.string()),
                DETAILS: pa.array([drop_detail[k] for k in order], pa.string()),
            }
        )
        return Decisions(table, stats)


SPEC = register(
    StageSpec(
        name="balance",
        order=70,
        kind="global",
        config=BalanceConfig,
        build=lambda cfg, _: Balance(cfg),
        reasons=("balance:source_cap",),
        summary="optional cap per source, deterministic sampling",
    )
)
