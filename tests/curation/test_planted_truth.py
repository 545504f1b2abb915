"""Score `tome curate` on the embedded sample against the truth planted by data/make_sample.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, read_quarantine
from curation.readers import SAMPLE_PATH
from curation.pipeline import run_curation
from curation.contract import line_id, suffix_duplicate_ids

TRUTH = SAMPLE_PATH.with_name("sample_truth.json")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    config = load_config(None, {"report": False, "stages": {"filters": {"min_score": 3.0}}})
    result = run_curation(None, out, config)
    truth = json.loads(TRUTH.read_text())
    with SAMPLE_PATH.open(encoding="utf-8") as fh:
        lines = [(i, line.rstrip("\n")) for i, line in enumerate(fh) if line.strip()]
    ids = suffix_duplicate_ids([line_id(text.encode("utf-8")) for _, text in lines])
    id_of_line = {i: rid for (i, _), rid in zip(lines, ids)}
    removed = {r["id"]: r for r in pq.read_table(out / "removed.parquet").to_pylist()}
    kept = {r["id"] for s in SPLITS for r in pq.read_table(out / f"{s}.parquet", columns=["id"]).to_pylist()}
    quarantined = {q["id"]: q for q in read_quarantine(out)}
    return result, truth, id_of_line, removed, kept, quarantined


def test_planted_duplicates_found_with_high_recall_and_precision(sample_run):
    _, truth, id_of_line, removed, _, _ = sample_run
    group_of: dict[str, int] = {}
    for g, members in enumerate(truth["exact_groups"] + truth["near_groups"]):
        for line in members:
            group_of[id_of_line[line]] = g
    expected = sum(len(g) - 1 for g in truth["exact_groups"] + truth["near_groups"])
    predicted = [r for r in removed.values() if r["reason"] in ("exact_duplicate", "near_duplicate")]
    correct = [r for r in predicted if r["id"] in group_of and group_of.get(r["duplicate_of"]) == group_of[r["id"]]]
    recall = len(correct) / expected
    precision = len(correct) / len(predicted)
    assert recall >= 0.98, f"recall {recall:.4f} ({len(correct)}/{expected})"
    assert precision >= 0.98, f"precision {precision:.4f} ({len(correct)}/{len(predicted)})"


def test_planted_filter_rows_removed_with_their_reason(sample_run):
    _, truth, id_of_line, removed, _, _ = sample_run
    planted = {id_of_line[int(line)]: reason for line, reason in truth["filter_rows"].items()}
    planted.update({id_of_line[int(line)]: "filter:low_score" for line in truth["low_score_rows"]})
    hits = sum(1 for rid, reason in planted.items() if rid in removed and removed[rid]["reason"] == reason)
    misses = Counter(reason for rid, reason in planted.items() if not (rid in removed and removed[rid]["reason"] == reason))
    assert hits / len(planted) >= 0.98, misses
    planted_ids = set(planted)
    dup_ids = {id_of_line[i] for g in truth["exact_groups"] + truth["near_groups"] for i in g}
    stray = [r for r in removed.values() if r["reason"].startswith("filter:") and r["id"] not in planted_ids]
    assert len(stray) <= 0.02 * len(planted_ids), [(r["reason"], r["details"]) for r in stray[:5]]


def test_planted_malformed_rows_are_quarantined(sample_run):
    _, truth, id_of_line, _, kept, quarantined = sample_run
    malformed = {id_of_line[int(line)] for line in truth["malformed_rows"]}
    assert malformed == set(quarantined)
    assert not malformed & kept


def test_sample_accounting_and_sources(sample_run):
    result, truth, id_of_line, removed, kept, quarantined = sample_run
    assert len(kept) + len(removed) + len(quarantined) == truth["rows"] == len(id_of_line)
    assert result.manifest["accounting"]["balanced"]
