"""`tome review import` on files people make by hand: the records of a to_disk export as a `.jsonl` file (what
`jq -c '.[]' records.json > records.jsonl` writes), and a large review (its import stays linear in the records)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.review.errors import ReviewError  # noqa: E402
from curation.review.layouts import Answer, read_layout  # noqa: E402
from curation.review.verdicts import decide  # noqa: E402

ALICE = "0d9b6a58-1111-4c1e-9a77-000000000001"


def _record(rid: str, **answers) -> dict:
    return {"id": rid, "fields": {}, "responses": {q: [{"value": v, "user_id": ALICE}] for q, v in answers.items()}}


RECORDS = [_record("r1", verdict="keep", quality=4), _record("<b>r2</b>|`x`", verdict="discard")]


@pytest.mark.parametrize("name", ["records.jsonl", "annotated.JSONL", "records.JSON"])
def test_records_as_a_jsonl_file_are_read(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n", encoding="utf-8")
    got = read_layout(path)
    assert got.record_ids == ["r1", "<b>r2</b>|`x`"]
    assert [(a.record_id, a.question, a.value) for a in got.answers] == [
        ("r1", "verdict", "keep"), ("r1", "quality", 4), ("<b>r2</b>|`x`", "verdict", "discard")]


def test_a_file_of_another_kind_is_still_one_line_naming_it(tmp_path: Path):
    path = tmp_path / "records.txt"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    with pytest.raises(ReviewError, match="records.txt: not an exported review") as info:
        read_layout(path)
    assert "\n" not in str(info.value)


class CountedId(str):
    """A record id that counts how often it is hashed (a set or dict built of it, a lookup)."""

    hashed = 0

    def __hash__(self) -> int:
        CountedId.hashed += 1
        return str.__hash__(self)


def test_deciding_a_large_review_hashes_each_id_a_bounded_number_of_times():
    n = 3000
    ids = [CountedId(f"r{i}") for i in range(n)]
    answers = [Answer(rid, ALICE, "verdict", "keep", "submitted") for rid in ids]
    CountedId.hashed = 0
    tally = decide(ids, answers)
    assert len(tally.decisions) == n and tally.counts()["keep"] == n
    # linear: a few hashes per id (the answers grouped, the ids deduplicated, the export's ids looked up); building
    # the set of exported ids once per answered record hashed every id once per record (n * n = 9,000,000)
    assert CountedId.hashed < 20 * n, CountedId.hashed


def test_a_hub_parquet_row_with_a_multiline_id_is_named_on_one_line(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "annotated.parquet"
    pq.write_table(pa.table({"id": ["evil\nid\u202e"], "verdict.responses": [["keep"]],
                             "verdict.responses.users": [[ALICE, ALICE]]}), path)
    with pytest.raises(ReviewError, match="differ in length") as info:
        read_layout(path)
    assert "\n" not in str(info.value) and "\u202e" not in str(info.value), str(info.value)


@pytest.mark.parametrize("name, message", [
    ("", "the dataset name is blank"),
    ("  ", "the dataset name is blank"),
    ("review\n---\nx: y", r"holds the control character '\n'"),
    ("rev\u202eiew", r"holds the bidirectional control character '\u202e'"),
])
def test_export_refuses_a_dataset_name_that_is_not_one_visible_line(tmp_path: Path, name: str, message: str):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, ["review", "export", str(tmp_path / "no-folder"), "--no-vectors", "--name", name,
                                      "--hub-dir", str(tmp_path / "hub")])
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --name ") and message in lines[0], result.output
    assert not (tmp_path / "hub").exists()


class CountedRatings(dict):
    """One record's ``{annotator: label}``, counting how often a rating is looked up."""

    looked_up = 0

    def __contains__(self, key) -> bool:
        CountedRatings.looked_up += 1
        return dict.__contains__(self, key)

    def __getitem__(self, key):
        CountedRatings.looked_up += 1
        return dict.__getitem__(self, key)


def test_agreement_of_many_annotators_looks_up_each_record_a_bounded_number_of_times():
    import random

    from curation.review.agreement import agreement_report

    rng = random.Random(0)
    annotators = [f"annotator-{k:03d}" for k in range(60)]
    items = {f"r{i}": CountedRatings({a: rng.choice("kfd") for a in rng.sample(annotators, 2)}) for i in range(300)}
    CountedRatings.looked_up = 0
    report = agreement_report(items)
    assert report["records_with_2plus_annotators"] == 300
    assert sum(p["items"] for p in report["cohen_kappa_pairs"]) == 300  # every record in the pair that rated it
    # each record's two ratings are read for its one pair; scanning every record for each of the 1,770 pairs of 60
    # annotators looked ratings up over 500,000 times
    assert CountedRatings.looked_up < 20 * len(items), CountedRatings.looked_up


def test_the_reviewed_folders_card_describes_the_review_columns_its_rows_hold(tmp_path: Path):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from curation.config import load_config
    from curation.pipeline import run_curation
    from tomecraft.cli import app

    rows = [{"conversations": [{"from": "human", "value": f"Question {i}: how does step {i * 7919} go, <b>|`x`?"},
                               {"from": "gpt", "value": f"Answer {i}: do step {i * 104729}, then finish it well."}],
             "source": "s", "score": 4.0} for i in range(8)]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    curated, exported, reviewed = tmp_path / "curated", tmp_path / "export", tmp_path / "reviewed"
    run_curation(str(data), curated, load_config(overrides={"checkpoint": False, "report": False}))
    runner = CliRunner()
    result = runner.invoke(app, ["review", "export", str(curated), "--no-vectors", "--to", str(exported), "-q"])
    assert result.exit_code == 0, result.output
    records = json.loads((exported / "records.json").read_text(encoding="utf-8"))
    for k, record in enumerate(records):
        record["responses"] = {"verdict": [{"value": ["keep", "fix"][k % 2], "user_id": ALICE}],
                               "quality": [{"value": 4, "user_id": ALICE}],
                               "corrected_answer": [{"value": "A fixed answer, <i>|`y`, long enough.", "user_id": ALICE}]}
    (exported / "records.json").write_text(json.dumps(records), encoding="utf-8")
    result = runner.invoke(app, ["review", "import", str(curated), "--from", str(exported), "--out", str(reviewed), "-q"])
    assert result.exit_code == 0, result.output
    held = set(pq.read_schema(reviewed / "train.parquet").names)
    review_columns = {"quality", "review_verdict", "review_agreement", "review_annotators", "review_original_answer",
                      "review_fixed_by"}
    assert review_columns <= held
    card = (reviewed / "README.md").read_text(encoding="utf-8")
    columns = card.split("## Columns", 1)[1]
    for name in sorted(review_columns):
        assert f"`{name}`" in columns, name


@pytest.mark.parametrize("option", ["--score-high", "--score-low"])
def test_export_refuses_a_nan_score_threshold(tmp_path: Path, option: str):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, ["review", "export", str(tmp_path / "no-folder"), "--no-vectors", "--disagree",
                                      option, "nan", "--to", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert lines == [f"error: {option} nan: give a number (a score threshold)"], result.output
