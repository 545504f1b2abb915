"""Semantic dedup throughput: first run (embeds every row) vs a re-run on the embedding cache.

    python benchmarks/bench_semantic.py [--rows N] [--text-key conversation|first_human|all_human]

Runs the real stage (:class:`curation.semantic_dedup.SemanticDedup`: its ``keys`` on one Arrow batch of the
rows, then its ``decide``) twice on the same rows and the same cache folder, in one process with the model
already loaded (so the first run measures embedding, not loading). Target (issue "Near-duplicate removal"): the cached re-run is at least 10x faster.
Timings depend on the machine's load (the dev machine is a shared 2-core box).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import pyarrow as pa  # noqa: E402

from curation.config import CurationConfig  # noqa: E402
from curation.core.stage import POS, ReduceContext  # noqa: E402
from curation.embeddings import load_model  # noqa: E402
from curation.semantic_config import SemanticDedupConfig  # noqa: E402
from curation.semantic_dedup import SemanticDedup  # noqa: E402

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "instructions" / "alpaca_en_demo.finetome.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=999)
    ap.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    ap.add_argument("--text-key", default="first_human", choices=["conversation", "first_human", "all_human"])
    ap.add_argument("--threshold", type=float, default=0.95)
    args = ap.parse_args()
    with args.input.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][: args.rows]
    batch = pa.RecordBatch.from_pydict({
        POS: pa.array(range(len(rows)), pa.int64()),
        "id": [f"r{i:06d}" for i in range(len(rows))],
        "conversations": pa.array([row["conversations"] for row in rows], TURNS),
        "score": pa.array([row.get("score") for row in rows], pa.float64()),
        "origin_id": pa.nulls(len(rows), pa.string()),
    })
    cfg = SemanticDedupConfig(enabled=True, text_key=args.text_key, threshold=args.threshold)
    load_model(cfg.model)
    results = []
    with tempfile.TemporaryDirectory() as cache:
        ctx = ReduceContext(config=CurationConfig(), cache_dir=Path(cache), fetch=None)
        for label in ("first run (embeds)", "re-run (cached)"):
            step = SemanticDedup(cfg)
            t0 = time.perf_counter()
            decisions = step.decide(pa.Table.from_batches([step.keys(batch)]), ctx)
            seconds = time.perf_counter() - t0
            reasons = decisions.table.column("reason") if "reason" in decisions.table.column_names else None
            removed = 0 if reasons is None else len(reasons) - reasons.null_count
            results.append((label, seconds, step.last_embedded, removed))
    table = Table(title=f"semantic dedup, {len(rows)} real rows, text_key={args.text_key}, {os.cpu_count()} cores")
    for col in ("run", "seconds", "rows/s", "embedded", "removed"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for label, seconds, embedded, removed in results:
        table.add_row(label, f"{seconds:.2f}", f"{len(rows) / seconds:,.0f}", str(embedded), str(removed))
    Console(width=130).print(table)
    print(f"re-run speed-up: {results[0][1] / results[1][1]:.0f}x (target >= 10x)")


if __name__ == "__main__":
    main()
