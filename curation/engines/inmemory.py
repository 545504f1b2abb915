"""One stage over a list of rows held in memory: for tests, notebooks and small jobs.

:func:`run_stage` turns Python rows (``{"id", "conversations", "source", "score", ...}``) into one batch,
runs the stage exactly as the engines do (``process``, or ``keys`` -> ``decide`` -> ``apply``), routes the
output with the engines' own rule (:mod:`curation.engines.routing`) and gives back Python rows.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from curation.contract import ROW_SCHEMA, Row
from curation.core.columns import concat_unified
from curation.core.stage import POS, ReduceContext
from curation.engines.routing import route


@dataclass
class Removed:
    row: Row
    reason: str
    duplicate_of: str | None
    cluster_id: str | None
    details: dict[str, Any] | None


@dataclass
class StageRun:
    kept: list[Row]
    removed: list[Removed] = field(default_factory=list)
    added: list[Row] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    quarantine: list[Row] = field(default_factory=list)


def rows_to_batch(rows: Sequence[Row]) -> pa.RecordBatch:
    """Rows as a batch in flight: the core columns typed, ``_pos`` their index, other keys inferred."""
    core = {f.name: f.type for f in ROW_SCHEMA}
    data: dict[str, list[Any]] = {name: [] for name in core}
    data[POS] = list(range(len(rows)))
    extra: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        for name in core:
            if name != POS:
                data[name].append(row.get(name))
        for k, v in row.items():
            if k not in core:
                extra.setdefault(k, [None] * i).append(v)
        for k in extra:
            if len(extra[k]) < i + 1:
                extra[k].append(None)
    arrays = [pa.array(data[name], type=typ) for name, typ in core.items()]
    names = list(core)
    for k, values in extra.items():
        arrays.append(pa.array(values))
        names.append(k)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _rows(batch: pa.RecordBatch | pa.Table | None) -> list[Row]:
    if batch is None:
        return []
    return [{k: v for k, v in r.items() if k != POS} for r in batch.to_pylist()]


def run_stage(stage, rows: Sequence[Row] | pa.RecordBatch, config=None, cache_dir: str | Path | None = None) -> StageRun:
    """Run one stage object over ``rows`` (``cache_dir``: the stage's cache; None: a temporary folder, removed
    after)."""
    if cache_dir is not None:
        return _run_stage(stage, rows, config, Path(cache_dir))
    with tempfile.TemporaryDirectory(prefix="tomecraft-stage-") as cache:
        return _run_stage(stage, rows, config, Path(cache))


def _run_stage(stage, rows: Sequence[Row] | pa.RecordBatch, config, cache: Path) -> StageRun:
    batch = rows if isinstance(rows, pa.RecordBatch) else rows_to_batch(rows)
    if config is None:
        from curation.config import config_model

        config = config_model()()
    stats: dict[str, Any] = {}
    added = None
    if stage.kind == "row":
        out = stage.process(batch)
    else:
        keys = pa.Table.from_batches([stage.keys(batch)])
        table = pa.Table.from_batches([batch])

        def fetch(positions: np.ndarray, columns):
            picked = table.filter(pa.array(np.isin(table.column(POS).to_numpy(), positions)))
            return picked if columns is None else picked.select([POS, *[c for c in columns if c != POS]])

        decisions = stage.decide(keys, ReduceContext(config=config, cache_dir=cache, fetch=fetch))
        stats = decisions.stats
        added = decisions.added
        out = stage.apply(batch, decisions.table)
    routed = route(stage.name, out, batch.num_rows)
    removed = []
    for r in _rows(routed.removed):
        details = r.pop("details")
        removed.append(Removed(
            row={k: v for k, v in r.items() if k not in ("stage", "reason", "duplicate_of")},
            reason=r["reason"], duplicate_of=r["duplicate_of"], cluster_id=r.get("cluster_id"),
            details=json.loads(details) if details else None,
        ))
    quarantine = []
    if routed.quarantine is not None:
        for q in routed.quarantine.to_pylist():
            quarantine.append({"id": q["id"], "position": json.loads(q["position"]), "raw": json.loads(q["raw"]), "error": q["error"]})
    kept = _rows(routed.kept)
    if added is not None:
        added_rows = _rows(concat_unified([added]))
    else:
        added_rows = []
    return StageRun(kept, removed, added_rows, stats or routed.stats, quarantine)
