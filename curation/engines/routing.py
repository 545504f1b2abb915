"""What a stage's output becomes: kept rows, removal records, quarantine entries, counts.

The rule every engine follows for a :class:`curation.core.stage.StageOutput`: rows with a ``reason`` leave
the stream as removal records (their columns as they were, plus ``stage``, ``reason``, ``duplicate_of``,
``details``, and ``cluster_id`` where the stage names one); rows in ``quarantine`` leave as quarantine
entries; the rest go on.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import StageOutput, set_where_valid
from tomecraft.files import dumps_utf8


@dataclass
class Routed:
    kept: pa.RecordBatch
    removed: pa.RecordBatch | None
    removed_counts: dict[str, int]
    quarantine: pa.Table | None
    quarantined: int
    rows_in: int
    stats: dict[str, Any] = field(default_factory=dict)


def route(stage: str, out: StageOutput, rows_in: int) -> Routed:
    quarantined = out.quarantine.num_rows if out.quarantine is not None else 0
    mask = out.removed_mask()
    if not mask.any():
        return Routed(out.batch, None, {}, out.quarantine, quarantined, rows_in, out.stats)
    keep = pa.array(np.flatnonzero(~mask))
    gone = pa.array(np.flatnonzero(mask))
    removed = out.batch.take(gone)  # take copies less than filter for nested columns
    if out.cluster_id is not None:
        removed = set_where_valid(removed, "cluster_id", out.cluster_id.take(gone))
    n = removed.num_rows
    reasons = out.reason.take(gone)
    extra = {
        "stage": pa.array([stage] * n, pa.string()),
        "reason": reasons,
        "duplicate_of": out.duplicate_of.take(gone) if out.duplicate_of is not None else pa.nulls(n, pa.string()),
        "details": out.details.take(gone) if out.details is not None else pa.nulls(n, pa.string()),
    }
    for name, values in extra.items():
        if name in removed.schema.names:
            removed = removed.set_column(removed.schema.get_field_index(name), name, values)
        else:
            removed = removed.append_column(name, values)
    counts = dict(Counter(reasons.to_pylist()))
    return Routed(out.batch.take(keep), removed, counts, out.quarantine, quarantined, rows_in, out.stats)


def quarantine_records(tables: list[pa.Table], scrub: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Quarantine entries in input order, ids made unique (:func:`curation.contract.suffix_duplicate_ids`);
    ``scrub`` rewrites every string of the raw records (a privacy stage's redaction)."""
    from curation.contract import suffix_duplicate_ids
    from curation.core.stage import POS

    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return []
    table = pa.concat_tables(tables)
    table = table.take(pc.sort_indices(table.column(POS)))
    ids = suffix_duplicate_ids(table.column("id").to_pylist())
    out = []
    for rid, position, raw, error in zip(ids, table.column("position").to_pylist(), table.column("raw").to_pylist(),
                                         table.column("error").to_pylist()):
        raw = json.loads(raw)
        out.append({"id": rid, "position": json.loads(position), "raw": _scrubbed(raw, scrub) if scrub else raw,
                    "error": error})
    return out


def scrubbed_raw(table: pa.Table, scrub: Callable[[str], str]) -> pa.Table:
    """Quarantine entries with every string of their raw records scrubbed (as :func:`quarantine_records` writes
    them), for what is kept on disk before the end of the run (a checkpoint). Scrubbing is idempotent: a placeholder
    holds no value to find, so the entries are scrubbed again as they are written."""
    raw = [None if r is None else dumps_utf8(_scrubbed(json.loads(r), scrub))
           for r in table.column("raw").to_pylist()]
    i = table.schema.get_field_index("raw")
    return table.set_column(i, table.schema.field(i), pa.array(raw, table.schema.field(i).type))


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v, scrub) for k, v in value.items()}
    return value


def scrubber(plan) -> Callable[[str], str] | None:
    """The text scrubbing of every enabled privacy stage of ``plan``, in order (None when there is none)."""
    steps = [(p.stage, p.spec.scrub) for p in plan if p.enabled and p.spec.scrub is not None]
    if not steps:
        return None

    def scrub(text: str) -> str:
        for stage, fn in steps:
            text = fn(stage, text)
        return text

    return scrub
