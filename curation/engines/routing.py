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
        out.append({"id": rid, "position": json.loads(position), "raw": scrubbed_value(raw, scrub) if scrub else raw,
                    "error": scrub(error) if scrub and error is not None else error})  # (it may quote the row)
    return out


def scrubbed_raw(table: pa.Table, scrub: Callable[[str], str]) -> pa.Table:
    """Quarantine entries with every string of their raw records scrubbed (as :func:`quarantine_records` writes
    them), for what is kept on disk before the end of the run (a checkpoint). Scrubbing is idempotent: a placeholder
    holds no value to find, so the entries are scrubbed again as they are written."""
    raw = [None if r is None else dumps_utf8(scrubbed_value(json.loads(r), scrub))
           for r in table.column("raw").to_pylist()]
    errors = [None if e is None else scrub(e) for e in table.column("error").to_pylist()]
    for name, values in (("raw", raw), ("error", errors)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))
    return table


def scrubbed_value(value: Any, scrub: Callable[[str], str]) -> Any:
    """``value`` (JSON: a raw record, a stage's stats) with every string scrubbed, an object's keys too (a key can
    be the value: ``{"jane@example.com": 1}``, an error kind that quotes a row's role). Keys that scrub to one
    (two addresses, one placeholder) keep the first value, or the sum of their counts."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrubbed_value(v, scrub) for v in value]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key, v = scrub(k) if isinstance(k, str) else k, scrubbed_value(v, scrub)
            if key not in out:
                out[key] = v
            elif _count(out[key]) and _count(v):
                out[key] += v
        return out
    return value


def scrub_error_kinds(stages: list[dict[str, Any]], scrub: Callable[[str], str] | None) -> None:
    """The manifest's ``stages`` entries with the error kinds their stats count (``stats.errors``) scrubbed, in
    place: a kind can quote a row (``unknown role 'jane@example.com'``), and the manifest and the report show it."""
    if scrub is None:
        return
    for stage in stages:
        stats = stage.get("stats")
        if isinstance(stats, dict) and isinstance(stats.get("errors"), dict):
            stats["errors"] = scrubbed_value(stats["errors"], scrub)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
