"""Per-input accounting of a mixed run: rows augmentation added are not rows read from an input, and rows
without a source are counted before and after balancing under the name the report shows them by."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyarrow as pa
import pyarrow.parquet as pq

from curation.mix_report import input_accounting

WORDS = [f"word{i}" for i in range(400)]


def write_folder(root: Path, kept: dict[str, list], removed: list[tuple], quarantined: list[str]) -> Path:
    """An output folder as ``tome curate`` leaves it, of the columns the accounting reads: per split its rows'
    ``(input, origin_id)``; removed ``(input, reason, origin_id)``; quarantined rows' inputs."""
    root.mkdir()
    for split, rows in kept.items():
        pq.write_table(pa.table({"id": [f"{split}{i}" for i in range(len(rows))],
                                 "input": pa.array([r[0] for r in rows], pa.string()),
                                 "origin_id": pa.array([r[1] for r in rows], pa.string())}), root / f"{split}.parquet")
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(removed))],
                             "input": pa.array([r[0] for r in removed], pa.string()),
                             "reason": pa.array([r[1] for r in removed], pa.string()),
                             "origin_id": pa.array([r[2] for r in removed], pa.string())}), root / "removed.parquet")
    (root / "quarantine.jsonl").write_text("".join(json.dumps({"position": {"input": name}, "raw": "x", "error": "e"}) + "\n"
                                                   for name in quarantined), encoding="utf-8")
    return root


def test_augmented_rows_are_not_counted_as_rows_in(tmp_path):
    # input a: 6 rows read (4 kept, 1 removed, 1 quarantined), and 3 rows augmented from them (2 kept, 1 removed)
    # input b: 3 rows read, 1 augmented row kept
    kept = {"train": [("a", None)] * 3 + [("a", "a0"), ("a", "a1"), ("b", None), ("b", None), ("b", "b0")],
            "validation": [("a", None)], "test": [("b", None)]}
    removed = [("a", "filter:answer_too_short", None), ("a", "augment:origin_not_in_train", "a2")]
    root = write_folder(tmp_path / "out", kept, removed, ["a"])
    records = {r["name"]: r for r in input_accounting(root, [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 1.0}])}
    assert records["a"]["rows_in"] == 6 and records["a"]["augmented"] == 3
    assert records["b"]["rows_in"] == 3 and records["b"]["augmented"] == 1
    for r in records.values():  # every row in one place: read or added, it is kept, removed or quarantined
        assert r["rows_in"] + r["augmented"] == r["kept"] + sum(r["removed"].values()) + r["quarantined"]


def test_a_mixed_run_without_augmentation_counts_every_row_read(tmp_path):
    kept = {"train": [("a", None)] * 2 + [("b", None)], "validation": [], "test": []}
    root = write_folder(tmp_path / "out", kept, [("b", "mix:over_share", None)], [])
    records = input_accounting(root, [{"name": "a", "weight": 2.0}, {"name": "b", "weight": 1.0}])
    assert [(r["rows_in"], r["augmented"]) for r in records] == [(2, 0), (2, 0)]


def conversation(rng: np.random.Generator, i: int) -> list[dict]:
    return [{"from": "human", "value": f"Question {i}: explain the topic in detail."},
            {"from": "gpt", "value": " ".join(rng.choice(WORDS, size=60).tolist())}]


def test_rows_without_a_source_are_counted_by_balance_as_the_report_shows_them(tmp_path):
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation
    from curation.report.facts import gather

    rng = np.random.default_rng(0)
    with_source = tmp_path / "with.jsonl"
    with_source.write_text("".join(json.dumps({"conversations": conversation(rng, i), "source": "web"}) + "\n"
                                   for i in range(12)), encoding="utf-8")
    without = tmp_path / "without.jsonl"
    without.write_text("".join(json.dumps({"conversations": conversation(rng, 100 + i)}) + "\n" for i in range(8)),
                       encoding="utf-8")
    out = tmp_path / "out"
    run_curation([str(with_source), str(without)], out, load_config(None, {"checkpoint": False, "report": False,
                                                                          "stages": {"balance": {"max_per_source": 5}}}))
    balance = next(s for s in read_manifest(out)["stages"] if s["name"] == "balance")["stats"]
    assert balance["per_source_before"] == {"(none)": 8, "web": 12}
    assert balance["per_source_after"] == {"(none)": 5, "web": 5}
    sources = {s.source: s for s in gather(out).sources}
    assert (sources["(none)"].before_balance, sources["(none)"].after_balance, sources["(none)"].final) == (8, 5, 5)


@pytest.mark.slow
def test_the_report_and_the_command_show_augmented_rows_apart_per_input(tmp_path):
    """With augmentation, an input's rows in the splits can outnumber its rows in: the inputs tables (report.md,
    report.html, the command's summary) show what augmentation added to each, so the row adds up."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"conversations": conversation(rng, i)}) + "\n"
                                                        for i in range(30)), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "curate", "-q", "-i", f"a={tmp_path / 'a.jsonl'}", "-i", f"b={tmp_path / 'b.jsonl'}", "-o", str(out),
        "--set", "stages.augment.enabled=true", "--set", "stages.augment.budget.fraction=0.5",
        "--set", "stages.augment.methods.back_translation.enabled=false",
        "--set", "stages.augment.guard.min_cosine=-1", "--set", "stages.augment.guard.max_jaccard=1.0"])
    assert result.exit_code == 0, result.output
    records = json.loads((out / "manifest.json").read_text())["inputs"]
    assert sum(r["augmented"] for r in records) > 0
    section = (out / "report.md").read_text().split("## Inputs and mix", 1)[1].split("## ", 1)[0]
    assert "| rows in | augmented | in splits |" in section
    for r in records:
        assert f"| {r['rows_in']:,} | +{r['augmented']:,} | {r['kept']:,} |" in section
    assert '<th class="num">augmented</th>' in (out / "report.html").read_text().split('id="inputs"', 1)[1]
    assert "augme" in result.output.split("inputs", 1)[1]
