"""Output bytes depend on the rows, never on how the engine cut them into batches (``engine.batch_rows``).

Parquet's writer cuts data pages, and gives up dictionary encoding once a column's dictionary passes its
limit (1 MiB), at the edges of the chunks it is handed too: texts in ``conversations`` with more than a
megabyte of distinct values came out as different bytes for different batch sizes, the same rows inside.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pyarrow as pa

from curation.config import load_config
from curation.contract import SPLITS
from curation.pipeline import run_curation
from curation.writer import ParquetStream

OUTPUT_FILES = [f"{s}.parquet" for s in SPLITS] + ["removed.parquet", "quarantine.jsonl"]


def _words(rng: random.Random, n: int = 3000) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 9))) for _ in range(n)]


def _conversations(n: int, seed: int = 0) -> list[list[dict]]:
    """Turns whose distinct texts add up to well over the dictionary limit."""
    rng = random.Random(seed)
    words = _words(rng)
    return [[{"from": "human", "value": " ".join(rng.choices(words, k=rng.randint(3, 30))) + "?"},
             {"from": "gpt", "value": " ".join(rng.choices(words, k=rng.randint(20, 120))) + "."}] for _ in range(n)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_parquet_stream_writes_the_same_bytes_however_its_rows_come(tmp_path):
    table = pa.table({"conversations": _conversations(5000)})
    digests = set()
    for cut in (100_000, 1000, 7):
        path = tmp_path / f"cut{cut}.parquet"
        stream = ParquetStream(path, table.schema)
        for batch in table.to_batches(max_chunksize=cut):
            stream.write(batch)
        assert stream.close() == table.num_rows
        digests.add(_digest(path))
    assert len(digests) == 1


def test_a_run_writes_the_same_bytes_for_every_batch_size(tmp_path):
    rows = [{"conversations": c, "source": f"s{i % 3}"} for i, c in enumerate(_conversations(2500, seed=1))]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    digests = {}
    for batch_rows in (16_384, 61):
        out = tmp_path / f"out{batch_rows}"
        run_curation(str(data), out, load_config(None, {"report": False, "checkpoint": False,
                                                         "engine": {"batch_rows": batch_rows}}))
        digests[batch_rows] = {name: _digest(out / name) for name in OUTPUT_FILES}
    assert digests[16_384] == digests[61]
