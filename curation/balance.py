"""Source balancing: an optional cap of rows per ``source``, sampled deterministically by a seeded hash."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation.core.config_base import StrictModel
from curation.core.hashing import seeded_order
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, POS, REASON, Decisions, GlobalStage, ReduceContext


class BalanceConfig(StrictModel):
    """Optional cap of rows per `source`, sampled deterministically."""

    enabled: bool = True
    max_per_source: int | None = Field(None, description="null: no cap")
    per_source: dict[str, int] = Field(default_factory=dict, description="caps for named sources")
    seed: int = 0


def _counts(sources: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sources:
        out[str(s)] = out.get(str(s), 0) + 1
    return out


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
        sources = keys.column("source").to_pylist()
        before = _counts(sources)
        drop_pos: list[int] = []
        drop_detail: list[str] = []
        if self.cfg.max_per_source is not None or self.cfg.per_source:
            ids = keys.column("id").to_pylist()
            pos = keys.column(POS).to_numpy()
            groups: dict[str | None, list[int]] = {}
            for i, s in enumerate(sources):
                groups.setdefault(s, []).append(i)
            for source, idx in groups.items():
                cap = self.cap_for(source)
                if cap is None or len(idx) <= cap:
                    continue
                order = seeded_order(self.cfg.seed, [ids[i] for i in idx])
                detail = json.dumps({"source": source, "cap": cap}, sort_keys=True)
                for k in order[cap:]:
                    drop_pos.append(int(pos[idx[k]]))
                    drop_detail.append(detail)
        dropped = set(drop_pos)
        after = _counts([s for s, p in zip(sources, keys.column(POS).to_pylist()) if p not in dropped])
        stats = {
            "per_source_before": dict(sorted(before.items())),
            "per_source_after": dict(sorted(after.items())),
        }
        if not drop_pos:
            return Decisions.none(stats)
        order = np.argsort(drop_pos)
        table = pa.table(
            {
                POS: pa.array(np.array(drop_pos, dtype=np.int64)[order]),
                REASON: pa.array(["balance:source_cap"] * len(drop_pos), pa.string()),
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
