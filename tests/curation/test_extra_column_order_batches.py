"""The output's column order does not follow engine.batch_rows (how the work is cut, never what comes out).

Two inputs (so the run adds the ``input`` column) whose first row needs a repair (a lone surrogate, so the run
adds ``repairs`` and the row goes the record-by-record way through validation): with one row per batch the first
batch held that row alone and listed ``repairs`` before ``input``; with the default batches the row was merged
with columnar rows and ``input`` came first, so every split file, the card and the manifest differed."""
import json

import pyarrow.parquet as pq

from curation.config import config_model
from curation.pipeline import run_curation


def _rows(first: int, n: int, prefix: str) -> list[dict]:
    return [{"conversations": [
        {"from": "human", "value": f"{prefix} question number {first + k} about topic {first + k} please."},
        {"from": "gpt", "value": f"Here is a distinct answer {first + k} for {prefix}: " + " ".join(
            f"w{prefix}{first + k}x{j}" for j in range(12))}]} for k in range(n)]


def test_column_order_does_not_follow_batch_rows(tmp_path):
    one = _rows(0, 6, "alpha")
    one[0]["conversations"][0]["value"] = "Tell me\ud800 about the moon and its phases please."
    (tmp_path / "one.jsonl").write_text("".join(json.dumps(r) + "\n" for r in one))
    (tmp_path / "two.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(100, 6, "beta")))
    inputs = [str(tmp_path / "one.jsonl"), str(tmp_path / "two.jsonl")]
    names = {}
    for rows in (16384, 1):
        config = config_model()()
        config.engine.batch_rows = rows
        config.report = False
        out = tmp_path / f"out{rows}"
        result = run_curation(inputs, out, config)
        assert result.manifest["accounting"]["balanced"]
        names[rows] = (pq.read_schema(out / "train.parquet").names, result.manifest["extra_columns"])
    assert "repairs" in names[1][0] and "input" in names[1][0]
    assert names[1] == names[16384]
