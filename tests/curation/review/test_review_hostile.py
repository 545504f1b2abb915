"""`tome review import` on what real files and annotators produce: records files saved by other tools (a
byte-order mark, UTF-16, JSON Lines), odd answer values, corrected answers that are hostile text, and an input
whose own columns are named like the review's. Every case ends in a one-line error or in a folder that holds
every row and loads with `datasets`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.contract import SPLITS  # noqa: E402
from curation.review.errors import ReviewError  # noqa: E402
from curation.review.layouts import Answer, read_layout  # noqa: E402
from curation.review.verdicts import decide  # noqa: E402
from tomecraft.cli import app  # noqa: E402

ALICE = "0d9b6a58-1111-4c1e-9a77-000000000001"
runner = CliRunner()


def _record(rid: str, **answers) -> dict:
    return {"id": rid, "fields": {}, "responses": {q: [{"value": v, "user_id": ALICE}] for q, v in answers.items()}}


RECORDS = [_record("r1", verdict="keep", quality=4), _record("r2", verdict="discard")]


def _answers(path: Path) -> list[tuple[str, str, object]]:
    got = read_layout(path)
    return [(a.record_id, a.question, a.value) for a in got.answers]


@pytest.mark.parametrize("encode", [
    pytest.param(lambda rs: b"\xef\xbb\xbf" + json.dumps(rs).encode(), id="utf8-bom"),
    pytest.param(lambda rs: json.dumps(rs).encode("utf-16"), id="utf16-bom"),
    pytest.param(lambda rs: "\r\n".join(json.dumps(r) for r in rs).encode() + b"\r\n", id="json-lines-crlf"),
    pytest.param(lambda rs: ("\n".join(json.dumps(r, ensure_ascii=False) for r in rs)).encode(), id="json-lines"),
])
def test_records_saved_by_other_tools_read_as_the_to_disk_list(tmp_path, encode):
    expected = tmp_path / "list.json"
    expected.write_text(json.dumps(RECORDS), encoding="utf-8")
    given = tmp_path / "records.json"
    given.write_bytes(encode(RECORDS))
    assert _answers(given) == _answers(expected) == [("r1", "verdict", "keep"), ("r1", "quality", 4),
                                                     ("r2", "verdict", "discard")]


def test_json_lines_keep_a_line_separator_inside_a_string(tmp_path):
    record = _record("r1", verdict="fix", corrected_answer="one\u2028two\u0085three")
    path = tmp_path / "records.json"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n" + json.dumps(RECORDS[1]) + "\n", encoding="utf-8")
    assert _answers(path)[1] == ("r1", "corrected_answer", "one\u2028two\u0085three")


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b'[{"id": "r1"}, 5]', "record 1 is not a JSON object (got int)"),
    (b'[{"id": "r1"}, null]', "record 1 is not a JSON object (got null)"),
    (b'{"id": "r1"}\n{"id": ', "line 2: cannot read the record (JSON Lines)"),
    (b'{"records": []}', "expected a JSON list of records"),
    (json.dumps([{"id": "r1", "suggestions": {"verdict": {"value": "keep", "score": "x"}}}]).encode(),
     "record 0 (id r1): SuggestionModel: score.float: Input should be a valid number"),
    (json.dumps([{"id": "r1", "fields": {}, "responses": {"verdict": [{"value": "keep", "user_id": ALICE}] * 2}}]).encode(),
     f"record 0 (id r1): ArgillaError: Argilla SDK error: ArgillaError: Response for question with name 'verdict' "
     f"and user id '{ALICE}' already found"),
])
def test_records_that_cannot_be_read_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "records.json"
    path.write_bytes(content)
    with pytest.raises(ReviewError, match="records.json") as info:
        read_layout(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_answer_values_of_the_wrong_kind_are_named_with_the_file_and_cut_short():
    def one(**values):
        return [Answer("r1", ALICE, q, v, "submitted") for q, v in values.items()]

    with pytest.raises(ReviewError, match=r"^review/records.json: record r1, annotator .*: quality True is not a rating"):
        decide(["r1"], one(verdict="keep", quality=True), origin="review/records.json")
    with pytest.raises(ReviewError, match="verdict \\['keep'\\] is not one of"):
        decide(["r1"], one(verdict=["keep"]))
    with pytest.raises(ReviewError) as info:
        decide(["r1"], one(verdict="keep", quality=10**400))
    assert len(str(info.value)) < 300
    with pytest.raises(ReviewError) as info:
        decide(["r1"], one(verdict="x" * 5_000_000))
    assert len(str(info.value)) < 300
    with pytest.raises(ReviewError) as info:
        decide(["a\nb"], [Answer("a\nb", "eve\n", "verdict", "maybe", "submitted")])
    assert "\n" not in str(info.value)
    assert decide(["r1"], one(verdict="keep", quality=3.0)).decisions["r1"].quality == 3


# -- a curated folder whose input has a column named like the review's -----------------------------------


@pytest.fixture(scope="module")
def curated_with_quality(alpaca_path, tmp_path_factory) -> Path:
    """Shared rows with an input column ``quality`` of mixed kinds (text and numbers: JSON text in the folder)."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    root = tmp_path_factory.mktemp("review_hostile")
    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:40]]
    for i, row in enumerate(rows):
        row["source"] = "alpaca"
        row["score"] = 4.0
        row["quality"] = ["high", 3, None, "low"][i % 4]
    source = root / "input.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = root / "curated"
    run_curation(str(source), out, load_config(overrides={"checkpoint": False, "report": False}))
    return out


def _export(curated: Path, target: Path) -> list[dict]:
    result = runner.invoke(app, ["review", "export", str(curated), "--no-vectors", "--to", str(target), "-q"])
    assert result.exit_code == 0, result.output
    return json.loads((target / "records.json").read_text(encoding="utf-8"))


def _import(curated: Path, review: Path, out: Path, records: list[dict]) -> dict:
    (review / "records.json").write_text(json.dumps(records), encoding="utf-8")
    result = runner.invoke(app, ["review", "import", str(curated), "--from", str(review), "--out", str(out), "-q"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_an_input_column_named_quality_is_kept_apart_and_every_file_shares_one_schema(curated_with_quality, tmp_path):
    from datasets import load_dataset

    records = _export(curated_with_quality, tmp_path / "review")
    answers = {"verdict": "fix", "quality": 2, "corrected_answer": "Fixed \ud800 answer\x00 with\r\nCRLF.  "}
    records[0]["responses"] = {q: [{"value": v, "user_id": ALICE}] for q, v in answers.items()}
    records[1]["responses"] = {"verdict": [{"value": "discard", "user_id": ALICE}]}
    out = tmp_path / "reviewed"
    manifest = _import(curated_with_quality, tmp_path / "review", out, records)

    assert manifest["extra_columns"] == ["input_quality"]
    assert manifest["review"]["columns_kept_apart"] == {"quality": "input_quality"}
    schemas = {name: pq.read_schema(out / f"{name}.parquet") for name in (*SPLITS, "removed")}
    split_schemas = {str(schemas[s]) for s in SPLITS}
    assert len(split_schemas) == 1, "every split has the same columns and types"
    assert schemas["removed"].names[:5] == ["id", "stage", "reason", "duplicate_of", "details"]
    assert schemas["removed"].names[5:] == schemas["train"].names[1:]
    field = schemas["train"].field("input_quality")
    assert field.metadata == {b"tomecraft.encoding": b"json"}, "the input's column keeps its type and metadata"
    assert schemas["train"].field("quality").type == "double"

    rows = {r["id"]: r for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist()}
    original = {r["id"]: r for s in SPLITS for r in pq.read_table(curated_with_quality / f"{s}.parquet").to_pylist()}
    fixed = rows[records[0]["id"]]
    assert fixed["conversations"][-1]["value"] == "Fixed \ufffd answer with\nCRLF."  # repaired, then normalized
    assert fixed["quality"] == 2.0 and fixed["input_quality"] == original[records[0]["id"]]["quality"]
    assert records[1]["id"] not in rows
    assert (out / "README.md").exists(), "the reviewed folder has its dataset card"
    ds = load_dataset(str(out), cache_dir=str(tmp_path / "hf"))
    assert {s: ds[s].num_rows for s in ds} == {s: manifest["outputs"][s]["rows"] for s in SPLITS}

    again = tmp_path / "reviewed-again"  # the reviewed folder reviewed again: nothing left to rename
    records2 = _export(out, tmp_path / "review2")
    manifest2 = _import(out, tmp_path / "review2", again, records2)
    assert manifest2["extra_columns"] == ["input_quality"] and "columns_kept_apart" not in manifest2["review"]


def test_a_corrected_answer_that_is_nothing_once_repaired_is_not_applied(curated_with_quality, tmp_path):
    records = _export(curated_with_quality, tmp_path / "review")
    records[0]["responses"] = {"verdict": [{"value": "fix", "user_id": ALICE}],
                               "corrected_answer": [{"value": "\x00\x01\x02", "user_id": ALICE}]}
    out = tmp_path / "reviewed"
    manifest = _import(curated_with_quality, tmp_path / "review", out, records)
    assert [c["kind"] for c in manifest["review"]["conflicts"]] == ["corrected_answer_empty"]
    assert manifest["review"]["applied"]["fixed"] == 0
    rows = {r["id"]: r for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist()}
    assert rows[records[0]["id"]]["conversations"][-1]["value"].strip()


def test_a_card_that_cannot_be_written_is_one_error_line(curated_with_quality, tmp_path, monkeypatch):
    """A card the folder cannot take (a full disk, a path taken by a folder: the card module's one-line
    InputError) ends the import with that line, not a traceback."""
    import curation.review.apply as apply
    from curation.card import _unwritable

    def unwritable(root, format="finetome", title=None):
        raise _unwritable(Path(root) / "README.md", "the dataset card", OSError(28, "No space left on device"))

    monkeypatch.setattr(apply, "write_card", unwritable)
    records = _export(curated_with_quality, tmp_path / "review")
    (tmp_path / "review" / "records.json").write_text(json.dumps(records), encoding="utf-8")
    result = runner.invoke(app, ["review", "import", str(curated_with_quality), "--from", str(tmp_path / "review"),
                                 "--out", str(tmp_path / "reviewed"), "-q"])
    assert result.exit_code == 1, f"{result.output}\n{result.exception!r}"
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {tmp_path / 'reviewed' / 'README.md'}: cannot write the dataset card here "
                     "(no space left on device)"], result.output
