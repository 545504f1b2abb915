"""The raw side of the data-centric experiment: the input as it came, in the shape of a curation output folder.

Its ``train`` split holds every input row that curation read (kept or removed, before normalization, no
augmented rows), except the rows held out for evaluation: the curated ``validation`` and ``test`` rows and
every row removed as a duplicate of one of them (followed through ``duplicate_of``), so that neither model
sees a held-out conversation. ``validation`` and ``test`` are the curated files, byte for byte. Rows that
validation quarantined cannot be trained on by either side and stay out.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from curation.contract import SPLITS, read_manifest, read_removed, read_split, require_output_folder
from curation.writer import sha256_file, write_json, write_jsonl, write_rows


@dataclass(frozen=True)
class RawFolderStats:
    train_rows: int  # rows in the raw train split
    from_curated_train: int
    from_removed: int  # rows curation removed that the raw side trains on
    held_out: int  # curated validation + test rows
    duplicates_of_held_out: int  # removed rows whose duplicate chain ends in a held-out row (left out)
    augmented_left_out: int
    quarantined_left_out: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _raw(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "conversations": row.get("original_conversations") or row["conversations"],
        "source": row.get("source"),
        "score": row.get("score"),
    }


def held_out_root(row_id: str, removed_by_id: dict[str, dict[str, Any]]) -> str:
    """Follow ``duplicate_of`` from a removed row to the row that survived (or was removed for another reason)."""
    seen = set()
    current = row_id
    while current in removed_by_id and removed_by_id[current].get("duplicate_of") and current not in seen:
        seen.add(current)
        current = removed_by_id[current]["duplicate_of"]
    return current


def build_raw_folder(curated_dir: str | Path, out_dir: str | Path) -> RawFolderStats:
    paths = require_output_folder(curated_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = ["id", "conversations", "source", "score", "original_conversations", "origin_id", "duplicate_of"]

    def rows_of(table) -> list[dict[str, Any]]:
        return table.select([c for c in columns if c in table.column_names]).to_pylist()

    train = rows_of(read_split(paths.root, "train"))
    removed = rows_of(read_removed(paths.root))
    held_out = set()
    for split in ("validation", "test"):
        held_out.update(read_split(paths.root, split).column("id").to_pylist())
    removed_by_id = {r["id"]: r for r in removed}

    raw, augmented, dup_held = [], 0, 0
    from_train = from_removed = 0
    for row in train:
        if row.get("origin_id"):
            augmented += 1
            continue
        raw.append(_raw(row))
        from_train += 1
    for row in removed:
        if row.get("origin_id"):
            augmented += 1
            continue
        if row.get("duplicate_of") and held_out_root(row["id"], removed_by_id) in held_out:
            dup_held += 1
            continue
        raw.append(_raw(row))
        from_removed += 1
    raw.sort(key=lambda r: r["id"])  # a fixed order; the trainer shuffles with its own seed

    write_rows(raw, out / "train.parquet", [])
    for split in ("validation", "test"):
        shutil.copyfile(paths.split(split), out / f"{split}.parquet")
    write_rows([], out / "removed.parquet", [], removed=True)
    write_jsonl([], out / "quarantine.jsonl")
    curated_manifest = read_manifest(paths.root)
    stats = RawFolderStats(
        train_rows=len(raw), from_curated_train=from_train, from_removed=from_removed,
        held_out=len(held_out), duplicates_of_held_out=dup_held, augmented_left_out=augmented,
        quarantined_left_out=int(curated_manifest.get("accounting", {}).get("quarantined", 0)),
    )
    outputs = {name: {"path": f"{name}.parquet", "rows": n, "sha256": sha256_file(out / f"{name}.parquet")}
               for name, n in (("train", len(raw)), ("validation", None), ("test", None))}
    for split in ("validation", "test"):
        outputs[split]["rows"] = curated_manifest.get("outputs", {}).get(split, {}).get("rows")
    manifest = {
        "written_by": "evaluation.raw_folder",
        "input": curated_manifest.get("input"),
        "raw_of": str(paths.root.resolve()),
        "raw": stats.as_dict(),
        "outputs": outputs,
        "splits": list(SPLITS),
    }
    write_json(manifest, out / "manifest.json")
    return stats
