"""`tome review import` refuses, in one line and before it writes anything, what it cannot apply as asked: an --out
inside the folder it reads or around the annotators' export, a damaged input folder, a --from file that is no
exported review, a --timeout no request can use, verdict records whose parts are of the wrong kind. And a held-out
row that one review discards and a later one keeps goes back to its own split, never into train."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curation.contract import SPLITS  # noqa: E402
from curation.review.apply import DISCARD_REASON, _restore_split  # noqa: E402
from curation.review.errors import ReviewError  # noqa: E402
from curation.review.layouts import read_layout  # noqa: E402
from tests.curation.review.test_review import ALICE, BOB, build_curated_folder, load_records, respond  # noqa: E402
from tests.curation.review.test_review import save_records  # noqa: E402
from tomecraft.cli import app  # noqa: E402

runner = CliRunner()
NO_SERVER = {"ARGILLA_API_URL": "", "ARGILLA_API_KEY": "", "ARGILLA_WORKSPACE": ""}


@pytest.fixture(scope="module")
def curated(alpaca_path, tmp_path_factory) -> Path:
    return build_curated_folder(alpaca_path, tmp_path_factory.mktemp("review_refused"))


@pytest.fixture(scope="module")
def export(curated, tmp_path_factory) -> Path:
    """Every row of the validation and test splits and of removed.parquet, in the to_disk layout, unanswered."""
    target = tmp_path_factory.mktemp("review_refused_export") / "export"
    _ok("export", curated, "--split", "validation", "--split", "test", "--removed", "*", "--no-vectors",
        "--to", target, "-q")
    return target


def _run(*args):
    return runner.invoke(app, ["review", *[str(a) for a in args]], env=NO_SERVER)


def _ok(*args):
    result = _run(*args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def _one_error_line(code: int, *args) -> str:
    result = _run(*args)
    assert result.exit_code == code and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    return result.output[len("error: "):].rstrip("\n")


def _annotated(export: Path, target: Path, verdict: str, ids: set[str] | None = None) -> Path:
    """A copy of the export where one annotator gave ``verdict`` to each record (of ``ids``, when given)."""
    shutil.copytree(export, target)
    records = load_records(target)
    for record in records:
        if ids is None or record["id"] in ids:
            respond(record, ALICE, verdict=verdict)
    save_records(target, records)
    return target


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- where --out may be ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("where, overwrite", [
    pytest.param("input/train.parquet", True, id="a-file-of-the-input-overwritten"),
    pytest.param("input/reviewed", False, id="a-new-folder-inside-the-input"),
    pytest.param("export/reviewed", False, id="a-new-folder-inside-the-export"),
    pytest.param("export/records.json", True, id="the-export-file-overwritten"),
])
def test_an_out_inside_the_input_or_the_export_is_refused(curated, export, tmp_path, where, overwrite):
    """`--out IN/train.parquet --overwrite` replaced the input's train split with the reviewed folder: its rows
    were gone, and the input was no curation folder any more."""
    project = tmp_path / "project"
    shutil.copytree(curated, project / "input")
    _annotated(export, project / "export", "keep")
    before = {name: _files(project / name) for name in ("input", "export")}
    line = _one_error_line(2, "import", project / "input", "--from", project / "export", "--out", project / where,
                           "-q", *(["--overwrite"] if overwrite else []))
    assert line.startswith(f"--out {project / where}: ")
    assert ("inside the input folder" in line) if where.startswith("input") else ("--from" in line)
    assert {name: _files(project / name) for name in ("input", "export")} == before


# -- a held-out row a later review keeps ------------------------------------------------------------------------


def test_a_held_out_row_discarded_then_kept_goes_back_to_its_own_split(curated, export, tmp_path):
    """A validation or test row that one review discarded and a later one kept came back into train
    (--restore-to): a held-out row became a training row."""
    where = {r["id"]: split for split in SPLITS for r in pq.read_table(curated / f"{split}.parquet").to_pylist()}
    held_out = {rid for rid, split in where.items() if split != "train"}
    assert {where[rid] for rid in held_out} == {"validation", "test"}
    _ok("import", curated, "--from", _annotated(export, tmp_path / "discard", "discard", held_out),
        "--out", tmp_path / "first", "-q")
    discarded = [r for r in pq.read_table(tmp_path / "first" / "removed.parquet").to_pylist()
                 if r["reason"] == DISCARD_REASON]
    assert {r["id"] for r in discarded} == held_out
    assert all(json.loads(r["details"])["split"] == where[r["id"]] for r in discarded)

    _ok("import", tmp_path / "first", "--from", _annotated(export, tmp_path / "keep", "keep", held_out),
        "--out", tmp_path / "second", "-q")
    after = {r["id"]: split for split in SPLITS
             for r in pq.read_table(tmp_path / "second" / f"{split}.parquet").to_pylist()}
    assert {rid: after.get(rid) for rid in held_out} == {rid: where[rid] for rid in held_out}
    restored = json.loads((tmp_path / "second" / "manifest.json").read_text())["review"]["restored"]
    assert {r["id"]: r["to"] for r in restored} == {rid: where[rid] for rid in held_out}


def test_a_row_an_older_version_discarded_goes_where_restore_to_says():
    """Details without the split (a folder an earlier version reviewed) keep the old rule: --restore-to."""
    old = {"reason": DISCARD_REASON, "details": json.dumps({"votes": {ALICE: "discard"}, "agreement": 1.0})}
    assert _restore_split(old, {}, "validation") == "validation"
    new = {"reason": DISCARD_REASON, "details": json.dumps({"votes": {}, "agreement": 1.0, "split": "test"})}
    assert _restore_split(new, {}, "train") == "test"
    other = {"reason": "filter:answer_too_short", "details": json.dumps({"split": "test"})}
    assert _restore_split(other, {}, "train") == "train"


# -- --from that is no exported review -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["train.parquet", "quarantine.jsonl"])
def test_a_file_that_is_not_an_exported_review_is_refused(curated, tmp_path, name):
    """A curated split or quarantine.jsonl given as --from was read as records of no answers: a whole reviewed
    folder was written with nothing applied."""
    line = _one_error_line(1, "import", curated, "--from", curated / name, "--out", tmp_path / "reviewed", "-q")
    assert line.startswith(f"{curated / name}: not an exported review (")
    assert not (tmp_path / "reviewed").exists()


# -- a damaged input folder ------------------------------------------------------------------------------------


def _conversations_as_text(root: Path) -> None:
    table = pq.read_table(root / "test.parquet")
    column = table.schema.get_field_index("conversations")
    pq.write_table(table.set_column(column, "conversations", pa.array(["hi"] * table.num_rows)),
                   root / "test.parquet")


def _stages_null(root: Path) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**manifest, "stages": None}))


DAMAGES = {
    "removed_deleted": (lambda root: (root / "removed.parquet").unlink(), "removed.parquet", "missing"),
    "quarantine_deleted": (lambda root: (root / "quarantine.jsonl").unlink(), "quarantine.jsonl", "missing"),
    "conversations_text": (_conversations_as_text, "test.parquet", "column 'conversations' is string"),
    "stages_null": (_stages_null, "manifest.json", "'stages'"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_input_folder_is_refused_before_anything_is_written(curated, export, tmp_path, damage):
    """removed.parquet or quarantine.jsonl deleted ended the import in an AccountingError traceback, and a split
    of text conversations in pyarrow's; each left a half-written --out. Exit code 1, as for a file of the folder that
    does not read: the folder is wrong, not the command line."""
    change, file_name, says = DAMAGES[damage]
    root = tmp_path / "input"
    shutil.copytree(curated, root)
    change(root)
    line = _one_error_line(1, "import", root, "--from", _annotated(export, tmp_path / "v", "discard"),
                           "--out", tmp_path / "reviewed", "-q")
    assert str(root / file_name) in line and says in line
    assert not (tmp_path / "reviewed").exists()


# -- --timeout -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf"])
def test_a_timeout_that_is_no_number_of_seconds_is_a_usage_error(curated, tmp_path, timeout):
    """--timeout -1 or nan was blamed on the server ("does not answer like Argilla 2.x"), exit 1."""
    server = ("--api-url", "http://127.0.0.1:9", "--api-key", "x", "--retries", "0", "--timeout", timeout, "-q")
    expected = f"--timeout {float(timeout):g}: "
    assert _one_error_line(2, "export", curated, "--no-vectors", *server).startswith(expected)
    assert _one_error_line(2, "import", curated, "--out", tmp_path / "reviewed", *server).startswith(expected)
    assert not (tmp_path / "reviewed").exists()


# -- verdict files ---------------------------------------------------------------------------------------------


def test_a_null_user_in_a_to_hub_parquet_is_refused(curated, tmp_path):
    """A null in <question>.responses.users became annotator "None": every null user's answers one ballot."""
    hub = tmp_path / "hub"
    _ok("export", curated, "--split", "test", "--no-vectors", "--hub-dir", hub, "-q")
    (shard,) = sorted((hub / "data").glob("*.parquet"))
    table = pq.read_table(shard)
    n = table.num_rows
    table = table.append_column("verdict.responses", pa.array([["keep"]] * n))
    table = table.append_column("verdict.responses.users", pa.array([[None]] * n, pa.list_(pa.string())))
    pq.write_table(table, shard)
    line = _one_error_line(1, "import", curated, "--from", hub, "--out", tmp_path / "reviewed", "-q")
    assert line.startswith(f"{shard}: row 0 (id ")
    assert line.endswith("verdict.responses.users[0] is null: user_id is required")
    assert not (tmp_path / "reviewed").exists()


@pytest.mark.parametrize("record, says", [
    ({"metadata": "x"}, "'metadata' must be a JSON object, got str"),
    ({"fields": [1]}, "'fields' must be a JSON object, got list"),
    ({"responses": "keep"}, "'responses' must be a JSON object, got str"),
    ({"responses": {"verdict": "keep"}}, "'responses.verdict' must be a list of responses"),
    ({"responses": {"verdict": ["keep"]}}, "'responses.verdict[0]' must be a JSON object ({value, user_id}), got str"),
    ({"suggestions": ["keep"]}, "'suggestions' must be a JSON object, got list"),
    ({"suggestions": {"verdict": "keep"}}, "'suggestions.verdict' must be a JSON object"),
])
def test_a_record_part_of_the_wrong_kind_names_the_record_and_the_part(tmp_path, record, says):
    """`"metadata": "x"` said "ValueError: dictionary update sequence element #0 ...", `"responses": "keep"`
    "AttributeError: 'str' object has no attribute 'items'"."""
    path = tmp_path / "records.json"
    good = {"id": "r0", "fields": {}, "responses": {"verdict": [{"value": "keep", "user_id": BOB}]}}
    path.write_text(json.dumps([good, {"id": "r1", **record}]), encoding="utf-8")
    with pytest.raises(ReviewError) as info:
        read_layout(path)
    assert str(info.value).startswith(f"{path}: record 1 (id r1): {says}")
    assert "Error" not in str(info.value) and "\n" not in str(info.value)


def test_null_record_parts_are_none_of_them(tmp_path):
    """argilla takes a null fields, metadata or vectors for none; suggestions and responses read the same way."""
    path = tmp_path / "records.json"
    record = {"id": "r1", "fields": None, "metadata": None, "vectors": None, "suggestions": None,
              "responses": {"verdict": [{"value": "keep", "user_id": ALICE}]}}
    path.write_text(json.dumps([record, {"id": "r2", "fields": {}, "responses": None}]), encoding="utf-8")
    got = read_layout(path)
    assert got.record_ids == ["r1", "r2"] and [(a.record_id, a.value) for a in got.answers] == [("r1", "keep")]
