"""Source balancing: an optional cap of rows per ``source``, sampled deterministically by a seeded hash."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curation.core.config_base import StrictModel
from curation.core.hashing import seeded_order
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, POS, REASON, Decisions, GlobalStage, ReduceContext
from curation.inputs import as_shown

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

    @model_validator(mode="after")
    def _caps_tell_apart(self) -> "BalanceConfig":
        seen: dict[str, str] = {}
        for name in self.per_source:  # two caps of one source: which would hold?
            other = seen.setdefault(source_key(name), name)
            if other != name:
                raise ValueError(f"per_source: {other!r} and {name!r} name one source (sources are told apart as they "
                                 f"look: {source_key(name)!r}); give it one cap")
        return self


NO_SOURCE = "(none)"  # the key of rows without a source (null, or nothing visible), as the report names them


def source_key(value) -> str:
    """The source a row is counted and capped under, as a reader of the report tells sources apart: its text without
    invisible characters or spaces at its ends, letters composed (``"alpaca "``, ``"alpaca\u200b"`` and ``"alpaca"``
    are one source; so are ``"Å"`` written as one character or as ``A`` and a ring); :data:`NO_SOURCE` for a row
    without one (null, or nothing visible), and for a source of that name, which the report could not tell from it.
    The rows keep their ``source`` as given."""
    if value is None:
        return NO_SOURCE
    return as_shown(str(value)) or NO_SOURCE


def _keys(sources: pa.Array) -> np.ndarray:
    """Each row's :func:`source_key`, worked out once per distinct value."""
    values = pc.unique(sources)
    names = np.asarray([source_key(v) for v in values.to_pylist()] + [NO_SOURCE], dtype=object)
    slot = pc.index_in(sources, value_set=values, skip_nulls=False).fill_null(len(values))
    return names[slot.to_numpy(zero_copy_only=False)]


def _counts(keys: np.ndarray) -> dict[str, int]:
    """Rows per source key, sorted by name."""
    names, counts = np.unique(keys.astype(str), return_counts=True) if len(keys) else ([], [])
    return {str(k): int(n) for k, n in sorted(zip(names, counts))}


class Balance(GlobalStage):
    name = "balance"

    def __init__(self, cfg: BalanceConfig) -> None:
        self.cfg = cfg
        self._caps = {source_key(name): cap for name, cap in cfg.per_source.items()}

    def cap_for(self, source) -> int | None:
        """The cap of the rows of ``source`` (a row's value, or its :func:`source_key`)."""
        return self._caps.get(source_key(source), self.cfg.max_per_source)

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column(POS), batch.column("id"), batch.column("source")],
                                          names=[POS, "id", "source"])

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        row_keys = _keys(keys.column("source").combine_chunks())
        before = _counts(row_keys)
        drop_pos: list[np.ndarray] = []
        drop_detail: list[str] = []
        if self.cfg.max_per_source is not None or self.cfg.per_source:
            pos = keys.column(POS).to_numpy()
            ids = keys.column("id").combine_chunks()
            for source in before:
                cap = self.cap_for(source)
                idx = np.flatnonzero(row_keys == source)
                if cap is None or len(idx) <= cap:
                    continue
                order = seeded_order(self.cfg.seed, [BALANCE_SALT + i for i in ids.take(pa.array(idx)).to_pylist()])
                dropped = idx[order[cap:]]
                drop_pos.append(pos[dropped])
                drop_detail += [json.dumps({"source": source, "cap": cap}, sort_keys=True)] * len(dropped)
        all_dropped = np.concatenate(drop_pos) if drop_pos else np.zeros(0, dtype=np.int64)
        kept = ~np.isin(keys.column(POS).to_numpy(), all_dropped)
        stats = {"per_source_before": before, "per_source_after": _counts(row_keys[kept])}
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
