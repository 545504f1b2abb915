"""The columnar core keeps the output contract: on the inputs below, every data file holds exactly the rows,
columns and types, and the manifest exactly the stage counts and stats, that the per-row pipeline before it
wrote. ``fixtures/contract_before_core.json`` was recorded with that pipeline (content digests: schema and
rows of each Parquet file, the bytes of quarantine.jsonl, the manifest without clock-dependent keys).

The embedded sample grew later (rows planted for the quality stages were appended); the part that existed
then is the file's prefix, which is what is curated here.

Re-recorded once since, on purpose: normalization stopped folding a line's indentation and the inside of fenced
code blocks (it had turned `    return x` into ` return x`). Every row that changed then held indented lines or a
code fence; one alpaca row no longer counts as repeated lines (its lines differ by indentation). And the variant's
rows once more: the balance cap's draw is salted (drawn by the split's own order, a capped source kept only rows
bound for train); the same counts, other rows of the capped source kept. And near-dedup's stats once: its
``verified_pairs`` (candidates measured at or above the threshold) became ``measured_pairs`` and ``similar_pairs``,
as a candidate whose rows are in one cluster already is no longer measured; the same rows in every file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.pipeline import run_curation
from curation.readers import SAMPLE_PATH

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "contract_before_core.json").read_text())
VARIANT = {
    "stages": {
        "filters": {"min_score": 3.0},
        "balance": {"max_per_source": 300},
        "exact_dedup": {"text_key": "first_human"},
        "near_dedup": {"threshold": 0.7},
    }
}


def digest(folder: Path) -> dict:
    out = {}
    for name in ["train", "validation", "test", "removed"]:
        t = pq.read_table(folder / f"{name}.parquet")
        blob = json.dumps({"schema": [f"{f.name}: {f.type}" for f in t.schema], "rows": t.to_pylist()},
                          sort_keys=True, default=str)
        out[name] = {"rows": t.num_rows, "sha256": hashlib.sha256(blob.encode()).hexdigest()}
    q = (folder / "quarantine.jsonl").read_text(encoding="utf-8")
    out["quarantine"] = {"rows": q.count("\n"), "sha256": hashlib.sha256(q.encode()).hexdigest()}
    m = json.loads((folder / "manifest.json").read_text())
    stages = []
    for s in m["stages"]:
        s = {k: v for k, v in s.items() if k not in ("seconds", "rows_per_s")}
        s["stats"] = {k: v for k, v in s["stats"].items() if k not in ("seconds", "rows_per_s")}
        stages.append(s)
    out["manifest"] = {"stages": stages, "accounting": m["accounting"], "removed_by_reason": m["removed_by_reason"],
                       "extra_columns": m["extra_columns"]}
    return out


@pytest.fixture(scope="module")
def base_sample(tmp_path_factory) -> Path:
    """The embedded sample as it was when the fixture was recorded (its first lines)."""
    n = RECORDED["sample"]["manifest"]["accounting"]["input_rows"]
    lines = SAMPLE_PATH.read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    path = tmp_path_factory.mktemp("base") / "sample.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _check(name: str, folder: Path) -> None:
    got, want = digest(folder), RECORDED[name]
    # stages registered after the recording, switched off on these inputs, are not part of the recorded contract
    recorded = {s["name"] for s in want["manifest"]["stages"]}
    got["manifest"]["stages"] = [s for s in got["manifest"]["stages"] if s["name"] in recorded or s["enabled"]]
    for part in want:
        assert got[part] == want[part], f"{name}: {part} differs from the recorded output"


@pytest.mark.parametrize("name,overrides", [("sample", {}), ("sample_variant", VARIANT)])
def test_sample_outputs_equal_the_recorded_ones(name, overrides, base_sample, tmp_path):
    config = load_config(None, {"report": False, **overrides})
    run_curation(str(base_sample), tmp_path / "out", config)
    _check(name, tmp_path / "out")


def test_shared_rows_outputs_equal_the_recorded_ones(alpaca_path, tmp_path):
    run_curation(str(alpaca_path), tmp_path / "out", load_config(None, {"report": False}))
    _check("alpaca", tmp_path / "out")


def test_an_incomplete_output_folder_names_each_split_both_ways_and_a_data_file_says_curate_it(tmp_path):
    """A folder missing a split said "missing train.parquet" even where the split would be Ray's train/ folder
    of shards; a data file given where an output folder is expected said only "not a folder"."""
    from curation.contract import require_output_folder

    (tmp_path / "out" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as err:
        require_output_folder(tmp_path / "out")
    assert "missing manifest.json, validation.parquet (or validation/), test.parquet (or test/)" in str(err.value)
    (tmp_path / "rows.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match=r"not a folder .* run `tome curate -i FILE -o OUT` first"):
        require_output_folder(tmp_path / "rows.jsonl")
