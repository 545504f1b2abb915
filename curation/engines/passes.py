"""One batch through one pass: what both engines run on every batch (:mod:`curation.engines.plan`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa

from curation.core.stage import StageOutput
from curation.engines.plan import Pass, PlannedStage
from curation.engines.routing import Routed, route


@dataclass
class BatchResult:
    kept: pa.RecordBatch
    keys: pa.RecordBatch | None
    routed: list[tuple[PlannedStage, Routed, float]] = field(default_factory=list)
    keys_seconds: float = 0.0


def run_pass_on_batch(p: Pass, decisions: pa.Table | None, batch: pa.RecordBatch) -> BatchResult:
    """One batch through one pass: the decisions of the global stage before it (rows a stage added are never
    named by them), the row stages, then the keys of the global stage after it."""
    result = BatchResult(batch, None)
    steps: list[tuple[PlannedStage, Callable[[pa.RecordBatch], StageOutput]]] = []
    if p.apply is not None:
        steps.append((p.apply, lambda b: p.apply.stage.apply(b, decisions)))
    steps += [(s, s.stage.process) for s in p.rows]
    for planned, fn in steps:
        t = time.perf_counter()
        rows_in = batch.num_rows
        routed = route(planned.name, fn(batch), rows_in)
        result.routed.append((planned, routed, time.perf_counter() - t))
        batch = routed.kept
    result.kept = batch
    if p.collect is not None:
        t = time.perf_counter()
        result.keys = own_buffers(p.collect.stage.keys(batch), batch) if batch.num_rows else None
        result.keys_seconds = time.perf_counter() - t
    return result


def own_buffers(keys: pa.RecordBatch, rows: pa.RecordBatch) -> pa.RecordBatch:
    """``keys`` with each column that shares memory with ``rows`` copied into buffers of its own. Keys are kept
    until the whole pass is over; a column taken straight from a row batch (``_pos``, ``id``) shares that batch's
    memory (a batch read back from a spill file is one block), and would keep its text alive with it. Arrow's size
    counters do not show that. A column the stage computed (hashes, signatures) is kept as it is: copying it
    would cost as much as the column, for nothing."""
    spans = _spans(rows.columns)
    columns = [column.take(pa.array(np.arange(len(column), dtype=np.int64))) if _overlaps(_spans([column]), spans)
               else column for column in keys.columns]
    return pa.RecordBatch.from_arrays(columns, schema=keys.schema)


def _spans(arrays) -> list[tuple[int, int]]:
    """The memory of ``arrays``' buffers (their children's included), as ``(start, end)`` addresses."""
    return [(b.address, b.address + b.size) for a in arrays for b in a.buffers() if b is not None and b.size]


def _overlaps(spans: list[tuple[int, int]], others: list[tuple[int, int]]) -> bool:
    return any(start < end_ and start_ < end for start, end in spans for start_, end_ in others)


def summarize(result: BatchResult) -> dict:
    """What a batch's pass did, as JSON-ready numbers (the engines add these up in the run's ledger)."""
    from curation.engines.output import input_extras

    stages = []
    extras: dict[str, list[int]] = {}
    for planned, routed, seconds in result.routed:
        stages.append({
            "name": planned.name,
            "rows_in": routed.rows_in,
            "kept": routed.kept.num_rows,
            "removed": routed.removed_counts,
            "quarantined": routed.quarantined,
            "stats": routed.stats,
            "seconds": seconds,
        })
        if planned.name == "validate":
            extras = input_extras(routed.kept)
    return {"stages": stages, "keys_seconds": result.keys_seconds, "extras": extras}


def count_into(ledger, summary: dict, extras: dict[str, list[int]]) -> int:
    """Add a batch's summary to the ledger (and its extra input columns to ``extras``, see
    :func:`curation.engines.output.add_extras`); returns the input rows it read (what validation saw)."""
    from curation.engines.output import add_extras

    input_rows = 0
    for st in summary["stages"]:
        name = st["name"]
        if ledger.hidden(name):
            ledger.report(name).seconds += st["seconds"]
            continue
        ledger.report(name).count(st["rows_in"], st["kept"], st["removed"], st["quarantined"], st["stats"], st["seconds"])
        if name == "validate":
            input_rows += st["rows_in"]
    add_extras(extras, summary["extras"])
    return input_rows
