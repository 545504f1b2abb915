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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import StageOutput, set_where_valid


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


def quarantine_records(tables: list[pa.Table]) -> list[dict[str, Any]]:
    """Quarantine entries in input order, ids made unique (:func:`curation.contract.suffix_duplicate_ids`)."""
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
        out.append({"id": rid, "position": json.loads(position), "raw": json.loads(raw), "error": error})
    return out


def ordered(batch: pa.RecordBatch) -> bool:
    pos = batch.column("_pos").to_numpy()
    return bool(np.all(pos[1:] > pos[:-1])) if len(pos) > 1 else True
