"""Write a folder in the shape of a `tome curate` output from plain rows (the contract of
:mod:`curation.contract`), for tests, benchmarks and experiments that train on data which did not go through
the curation pipeline (e.g. the raw side of a raw-vs-curated comparison)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from curation.contract import MANIFEST_FILE, SPLITS, output_paths


def row_id(conversations: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(conversations, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def write_curated_folder(
    rows: Sequence[dict[str, Any]], out: str | Path, fractions: tuple[float, float] = (0.8, 0.1),
    shard_rows: int | None = None,
) -> Path:
    """Split ``rows`` (each with ``conversations``; ``source`` and ``score`` optional) in order into
    train / validation / test by ``fractions`` (train, validation; the rest is test) and write the folder.

    ``shard_rows``: write each split as ``tome curate --engine ray`` does, a folder ``train/`` of
    ``part-*.parquet`` shards of at most that many rows (a split without rows: one empty shard)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = output_paths(out)
    paths.root.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    parts = {"train": rows[:n_train], "validation": rows[n_train : n_train + n_val], "test": rows[n_train + n_val :]}
    turn = pa.struct([("from", pa.string()), ("value", pa.string())])
    schema = pa.schema([("id", pa.string()), ("conversations", pa.list_(turn)), ("source", pa.string()), ("score", pa.float64())])
    outputs = {}
    for name in SPLITS:
        part = parts[name]
        table = pa.table(
            {
                "id": [r.get("id") or row_id(r["conversations"]) for r in part],
                "conversations": [[{"from": t["from"], "value": t["value"]} for t in r["conversations"]] for r in part],
                "source": [r.get("source") for r in part],
                "score": [r.get("score") for r in part],
            },
            schema=schema,
        )
        if shard_rows is None:
            path = paths.split(name)
            pq.write_table(table, path)
            outputs[name] = {"path": path.name, "rows": len(part), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            continue
        folder = paths.root / name
        folder.mkdir(exist_ok=True)
        shards = [table.slice(start, shard_rows) for start in range(0, max(len(part), 1), shard_rows)]
        files = [folder / f"part-{number:05d}.parquet" for number in range(len(shards))]
        for shard, file in zip(shards, files):
            pq.write_table(shard, file)
        outputs[name] = {"path": f"{name}/", "rows": len(part), "files": [f.name for f in files],
                         "sha256": [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]}
    manifest = {"input": {"kind": "rows", "rows": n}, "outputs": outputs, "written_by": "training.curated_folder"}
    (paths.root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return paths.root

