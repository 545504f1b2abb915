"""Decontamination: which training rows repeat a held-out conversation, by the project's own dedup.

Every cell is scored on the same held-out rows, so no cell may have trained on one of them, or on a copy, or on a
near copy. The test is the curation pipeline itself, used as a black box: the held-out rows and every distinct
training row of every variant go through `tome curate` with only validation, normalization, exact and near (and,
when asked, semantic) dedup switched on; a training row whose duplicate cluster (followed through
``duplicate_of`` in ``removed.parquet``) holds a held-out row is contaminated. So "duplicate" means here exactly
what it means in `tome curate`: the same normalized text key (exact) or MinHash-estimated, Jaccard-verified
similarity at the configured threshold (near).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

HELD_PREFIX = "held:"
TRAIN_PREFIX = "train:"


@dataclass
class Contamination:
    """Per variant: the positions (rows of its train split) to leave out, and why."""

    positions: dict[str, set[int]] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # variant -> reason -> rows
    held_out_rows: int = 0
    checked_rows: int = 0  # distinct training rows checked

    def as_dict(self) -> dict[str, Any]:
        return {"held_out_rows": self.held_out_rows, "checked_rows": self.checked_rows,
                "removed": {name: len(p) for name, p in self.positions.items()}, "reasons": self.reasons}


def content_key(conversations: Sequence[dict[str, Any]]) -> str:
    text = json.dumps([[t.get("from"), t.get("value")] for t in conversations], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dedup_config(near_threshold: float | None = None, semantic: bool = False):
    """`tome curate` with everything but validation, normalization and dedup switched off."""
    from curation.config import load_config

    stages: dict[str, Any] = {
        "filters": {"enabled": False},
        "balance": {"enabled": False},
        "augment": {"enabled": False},
        "semantic_dedup": {"enabled": semantic},
    }
    if near_threshold is not None:
        stages["near_dedup"] = {"threshold": near_threshold}
    return load_config(None, {"report": False, "stages": stages})


class _Groups:
    """Union-find over row ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def find_contamination(held_out: Sequence[dict[str, Any]], trains: dict[str, Sequence[dict[str, Any]]], work: Path,
                       config=None, progress=None) -> Contamination:
    """Which rows of each variant's ``trains`` rows duplicate (exactly or nearly) one of ``held_out``.

    ``work`` receives the dedup run (its input and `tome curate` output, kept for inspection).
    """
    import pyarrow.parquet as pq

    from curation.contract import SPLITS, output_paths
    from curation.pipeline import run_curation

    work.mkdir(parents=True, exist_ok=True)
    distinct: dict[str, int] = {}  # content key -> index among distinct training rows
    where: dict[int, list[tuple[str, int]]] = {}  # distinct index -> (variant, position)
    records = []
    for i, row in enumerate(held_out):
        records.append({"id": f"{HELD_PREFIX}{i}", "conversations": row["conversations"]})
    for name, rows in trains.items():
        for pos, row in enumerate(rows):
            key = content_key(row["conversations"])
            if key not in distinct:
                distinct[key] = len(distinct)
                records.append({"id": f"{TRAIN_PREFIX}{distinct[key]}", "conversations": row["conversations"]})
            where.setdefault(distinct[key], []).append((name, pos))
    source = work / "input.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    out = work / "dedup"
    run_curation(str(source), out, config or dedup_config(), progress=progress)

    paths = output_paths(out)
    groups = _Groups()
    input_of: dict[str, str] = {}
    reason_of: dict[str, str] = {}
    tables = [pq.read_table(paths.split(s)) for s in SPLITS] + [pq.read_table(paths.removed)]
    for table in tables:
        cols = set(table.column_names)
        for row in table.select([c for c in ("id", "input_id", "duplicate_of", "reason") if c in cols]).to_pylist():
            if row.get("input_id") is not None:
                input_of[row["id"]] = str(row["input_id"])
            groups.find(row["id"])
            if row.get("duplicate_of"):
                groups.union(row["id"], row["duplicate_of"])
                reason_of[row["id"]] = row.get("reason") or "duplicate"
    held_roots = {groups.find(cid) for cid, iid in input_of.items() if iid.startswith(HELD_PREFIX)}
    result = Contamination(positions={name: set() for name in trains}, reasons={name: {} for name in trains},
                           held_out_rows=len(held_out), checked_rows=len(distinct))
    # the reason of a contaminated row: its own removal reason, or the reason its held-out twin was removed for
    root_reason: dict[str, str] = {}
    for cid, iid in input_of.items():
        if iid.startswith(HELD_PREFIX) and cid in reason_of:
            root_reason.setdefault(groups.find(cid), reason_of[cid])
    for cid, iid in input_of.items():
        if not iid.startswith(TRAIN_PREFIX) or groups.find(cid) not in held_roots:
            continue
        reason = reason_of.get(cid) or root_reason.get(groups.find(cid), "duplicate")
        for name, pos in where[int(iid[len(TRAIN_PREFIX):])]:
            if pos not in result.positions[name]:
                result.positions[name].add(pos)
                result.reasons[name][reason] = result.reasons[name].get(reason, 0) + 1
    return result
