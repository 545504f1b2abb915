"""`tome curate -c configs/quality.yaml` on the embedded sample catches the quality cases planted in it
(data/sample_truth.json: other languages, translation requests, mismatches, contaminated prompts, PII and near
misses) with the right reasons, and leaves the near misses alone."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, line_id, suffix_duplicate_ids
from curation.pipeline import run_curation
from curation.readers import SAMPLE_PATH

REPO = Path(__file__).resolve().parents[2]
TRUTH = SAMPLE_PATH.with_name("sample_truth.json")
SECRET_KINDS = {"api_key", "private_key", "url_credentials", "secret"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quality-sample") / "out"
    # the judge has no planted cases (every sample row has a score); off, so no row can wait on the local model
    overrides = {"report": False, "stages": {"judge": {"enabled": False}}}
    run_curation(None, out, load_config(REPO / "configs" / "quality.yaml", overrides))
    truth = json.loads(TRUTH.read_text())
    if "language_rows" not in truth:
        pytest.skip("the embedded sample has no planted quality cases")
    with SAMPLE_PATH.open(encoding="utf-8") as fh:
        lines = [(i, line.rstrip("\n")) for i, line in enumerate(fh) if line.strip()]
    ids = suffix_duplicate_ids([line_id(text.encode("utf-8")) for _, text in lines])
    id_of = {i: rid for (i, _), rid in zip(lines, ids)}
    removed = {r["id"]: r for r in pq.read_table(out / "removed.parquet").to_pylist()}
    kept = {r["id"]: dict(r, split=s) for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist()}
    stages = {s["name"]: s for s in json.loads((out / "manifest.json").read_text())["stages"]}
    return out, truth, id_of, removed, kept, stages


def reason(run, line) -> str | None:
    _, _, id_of, removed, _, _ = run
    r = removed.get(id_of[int(line)])
    return r["reason"] if r else None


def test_rows_in_other_languages_are_removed(run):
    truth = run[1]
    got = {line: reason(run, line) for line in truth["language_rows"]}
    assert all(r == "filter:language" for r in got.values()), got


def test_answers_in_another_unasked_language_are_mismatches(run):
    truth = run[1]
    got = {line: reason(run, line) for line in truth["language_mismatch_rows"]}
    assert all(r == "filter:language_mismatch" for r in got.values()), got


def test_translation_requests_are_no_mismatch(run):
    truth = run[1]
    for line, (prompt, _answer) in truth["translation_rows"].items():
        r = reason(run, line)
        assert r != "filter:language_mismatch", line
        if prompt == "en":  # an English request for a translation is English data
            assert r is None, (line, r)


def test_every_contaminated_row_is_found_and_near_misses_are_not(run):
    _, truth, id_of, removed, kept, stages = run
    reported = stages["decontaminate"]["stats"]["reported"]
    for line, item in truth["contaminated_rows"].items():
        rid = id_of[int(line)]
        if rid in removed:
            assert removed[rid]["reason"] == "decontaminated", line
            assert json.loads(removed[rid]["details"])["eval_id"] == item
        else:
            assert kept[rid]["split"] != "train" and reported[rid]["eval_id"] == item, line
    for line in truth["contamination_near_miss_rows"]:
        rid = id_of[int(line)]
        assert reason(run, line) != "decontaminated" and rid not in reported, line


def test_planted_pii_is_gone_from_every_output_and_near_misses_stay(run):
    out, truth, id_of, removed, kept, _ = run
    blobs = b"".join(p.read_bytes() for p in Path(out).rglob("*") if p.is_file())
    for line, values in truth["pii_values"].items():
        for kind, value in values:
            assert value.encode() not in blobs, (line, kind, value)
        kinds = {k for k, _ in values}
        r = reason(run, line)
        if kinds & SECRET_KINDS:
            assert r == "pii:secret", (line, r)
        elif "credit_card" in kinds:
            assert r == "pii:credit_card", (line, r)
    for line, values in truth["pii_near_miss_values"].items():
        row = kept.get(id_of[int(line)]) or removed.get(id_of[int(line)])
        text = json.dumps(row["conversations"], ensure_ascii=False)
        for value in values:
            assert value in text, (line, value)
        assert not (reason(run, line) or "").startswith("pii:"), line
