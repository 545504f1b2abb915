"""Per input, what became of its rows: read back from a finished output folder, so every engine reports alike.

Rows carry their ``input`` (with two inputs or more; one input owns every row, and an ``input`` column of its
rows is its own data, not a label), removal records their
``reason``, quarantine entries their ``position.input``. For each input: rows in, kept in the splits, removed
by reason, quarantined, its share of the final mix and the target share its weight asked for. Rows that
augmentation added (an ``origin_id``) carry their origin's input but were never read from it: they are counted
apart (``augmented``), not as rows in.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pyarrow.parquet as pq

from curation.contract import SPLITS, output_paths, read_quarantine
from curation.mix import target_shares


def _column_counts(path: Path, columns: Sequence[str], files) -> Counter:
    counts: Counter = Counter()
    for f in files:
        schema = pq.read_schema(f)
        have = [c for c in columns if c in schema.names]
        table = pq.read_table(f, columns=have)
        values = [table.column(c).to_pylist() if c in have else [None] * table.num_rows for c in columns]
        counts.update(zip(*values))
    return counts


def input_accounting(root: str | Path, inputs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per input (in list order): the input's description plus rows_in (read from it), augmented
    (rows augmentation added from its rows, kept or removed), kept, removed (by reason), quarantined (so
    ``rows_in + augmented == kept + removed + quarantined``), share (of all kept rows) and target_share: what
    its weight asks of the whole mix (its weight's share among the weighted inputs that still had rows when the
    mix was drawn, as :mod:`curation.mix` shares them, times the weighted inputs' part of the kept rows; inputs
    without a weight take the rest), so share and target compare on one base; null without a weight, or for an
    input with no row left by then."""
    paths = output_paths(root)
    only = inputs[0]["name"] if len(inputs) == 1 else None
    kept: Counter = Counter()
    augmented: Counter = Counter()
    for split in SPLITS:
        path = paths.split(split)
        if path.exists():
            for (name, origin), n in _column_counts(path, ["input", "origin_id"], paths.files(path)).items():
                kept[only or name] += n
                augmented[only or name] += n if origin is not None else 0
    removed: dict[str, Counter] = {}
    if paths.removed.exists():
        columns = ["input", "reason", "origin_id"]
        for (name, reason, origin), n in _column_counts(paths.removed, columns, paths.files(paths.removed)).items():
            removed.setdefault(only or name, Counter())[reason] += n
            augmented[only or name] += n if origin is not None else 0
    quarantined: Counter = Counter()
    for entry in read_quarantine(root):
        position = entry.get("position")
        if isinstance(position, str):
            position = json.loads(position)
        quarantined[only or (position or {}).get("input")] += 1
    total_kept = sum(kept.values())
    # a weighted input reached the mix when some of its rows were kept or drawn out by it
    weights = {i["name"]: i["weight"] for i in inputs if i.get("weight") is not None
               and (kept[i["name"]] or any(r.startswith("mix:") for r in removed.get(i["name"], ())))}
    targets = target_shares(weights, {record["name"]: kept[record["name"]] for record in inputs})
    out = []
    for record in inputs:
        name = record["name"]
        gone = dict(sorted(removed.get(name, Counter()).items()))
        rows_in = kept[name] + sum(gone.values()) + quarantined[name] - augmented[name]
        out.append({**record, "rows_in": rows_in, "augmented": augmented[name], "kept": kept[name], "removed": gone,
                    "quarantined": quarantined[name],
                    "share": round(kept[name] / total_kept, 6) if total_kept else 0.0,
                    "target_share": targets.get(name)})
    return out
