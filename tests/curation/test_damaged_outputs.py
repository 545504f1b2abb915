"""Damaged output folders and output paths that cannot be written: every command says so in one line.

A curation output folder is read by `tome report`, `tome publish`, `tome review export/import` and
`tome curate --against`; each names the folder and the damaged file (and line) instead of a traceback. An
output path that is a file, lies under one or cannot be created is refused the same way. Also here: what
`tome review import` does with answers it must not apply as they are (an annotator answering one record twice,
a corrected answer with control characters or far too long), and `tome publish` leaving the folder as it was
when the hub cannot be reached.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import OutputFolderError, make_output_folder, read_manifest, read_quarantine, read_split
from tests.curation.runs import invoke, one_error_line

USER = "0d9b6a58-1111-4c1e-9a77-000000000001"


@pytest.fixture(scope="module")
def small_input(embedded_sample, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "small.jsonl"
    lines = Path(embedded_sample).read_text(encoding="utf-8").splitlines()[:120]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def curated(small_input, tmp_path_factory) -> Path:
    from curation.config import load_config
    from curation.pipeline import run_curation

    out = tmp_path_factory.mktemp("curated") / "out"
    run_curation(str(small_input), out, load_config(overrides={"checkpoint": False, "report": False}))
    return out


def _garbage(path: Path) -> None:
    path.write_text("garbage\n")


def _no_id(path: Path) -> None:
    pq.write_table(pa.table({"x": [1, 2]}), path)


# damage -> (what to do to the folder, the file the message must name)
DAMAGES = {
    "corrupt_train": (lambda root: _garbage(root / "train.parquet"), "train.parquet"),
    "corrupt_removed": (lambda root: _garbage(root / "removed.parquet"), "removed.parquet"),
    "train_without_id": (lambda root: _no_id(root / "train.parquet"), "train.parquet"),
    "manifest_not_json": (lambda root: (root / "manifest.json").write_text("{bad"), "manifest.json"),
    "manifest_a_list": (lambda root: (root / "manifest.json").write_text("[]"), "manifest.json"),
    "manifest_not_utf8": (lambda root: (root / "manifest.json").write_bytes(b'{"a": "\xff\xfe"}'), "manifest.json"),
    # past Python's JSON reader: a RecursionError, a ValueError (sys.get_int_max_str_digits)
    "manifest_too_deep": (lambda root: (root / "manifest.json").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                          "manifest.json"),
    "manifest_huge_number": (lambda root: (root / "manifest.json").write_text('{"a": ' + "1" * 5000 + "}"),
                             "manifest.json"),
    "quarantine_bad_line": (lambda root: (root / "quarantine.jsonl").open("a").write("{not json\n"), "quarantine.jsonl"),
}


@pytest.fixture(params=sorted(DAMAGES))
def damaged(request, curated, tmp_path) -> tuple[Path, str]:
    damage, file_name = DAMAGES[request.param]
    root = tmp_path / request.param
    shutil.copytree(curated, root)
    damage(root)
    return root, file_name


def _assert_names_the_file(line: str, root: Path, file_name: str) -> None:
    assert f"{root}: cannot read the curation output folder: " in line
    assert str(root / file_name) in line


def test_report_names_the_damaged_file(damaged):
    root, file_name = damaged
    code, output = invoke("report", root)
    assert code == 1  # as publish and review say a damaged folder; a path that is no output folder is 2
    _assert_names_the_file(one_error_line(output), root, file_name)


def _emptied(path: Path) -> None:
    pq.write_table(pq.read_table(path).slice(0, 0), path)


# a file that reads, but does not hold the rows the manifest lists: (the damage, the file, what the line says)
ROWS_GONE = {
    "test_emptied": (lambda root: _emptied(root / "test.parquet"), "test.parquet", "holds 0 rows, the manifest says"),
    "test_a_folder": (lambda root: ((root / "test.parquet").unlink(), (root / "test.parquet").mkdir()), "test.parquet",
                      "holds 0 rows, the manifest says"),
    "removed_deleted": (lambda root: (root / "removed.parquet").unlink(), "removed.parquet",
                        "missing; the manifest lists"),
    "quarantine_deleted": (lambda root: (root / "quarantine.jsonl").unlink(), "quarantine.jsonl",
                           "missing; the manifest lists"),
    "quarantine_line_lost": (lambda root: (root / "quarantine.jsonl").write_text(
        "".join((root / "quarantine.jsonl").read_text().splitlines(keepends=True)[1:])), "quarantine.jsonl",
        "rows, the manifest says"),
}


@pytest.mark.parametrize("damage", sorted(ROWS_GONE))
def test_publish_refuses_a_folder_whose_files_lost_rows_the_manifest_lists(damage, curated, tmp_path):
    """With ``--format`` publish writes the card from the files, so it went up with a test split of 0 rows beside a
    manifest that lists them."""
    change, file_name, says = ROWS_GONE[damage]
    root = tmp_path / damage
    shutil.copytree(curated, root)
    change(root)
    code, output = invoke("publish", root, "--repo", "me/data", "--format", "both")
    assert code == 1, output
    line = one_error_line(output)
    _assert_names_the_file(line, root, file_name)
    assert says in line and not (root / "messages").exists()


@pytest.mark.parametrize("damage", sorted(ROWS_GONE))
def test_report_refuses_a_folder_whose_files_lost_rows_the_manifest_lists(damage, curated, tmp_path):
    """A test split emptied or replaced by a folder, removed.parquet or quarantine.jsonl deleted: the report
    still said "... — nothing lost." of rows no file held (its split counts not adding up to the total)."""
    change, file_name, says = ROWS_GONE[damage]
    root = tmp_path / damage
    shutil.copytree(curated, root)
    assert read_manifest(root)["outputs"]["test"]["rows"] and read_quarantine(root)  # (there are rows to lose)
    change(root)
    code, output = invoke("report", root)
    assert code == 1  # the folder is wrong, not the command line (2: a path that is no output folder)
    line = one_error_line(output)
    _assert_names_the_file(line, root, file_name)
    assert says in line and not (root / "report.md").exists()


def test_publish_names_the_damaged_file(damaged):
    root, file_name = damaged
    code, output = invoke("publish", root, "--repo", "me/data", "--format", "messages")
    assert code == 1
    _assert_names_the_file(one_error_line(output), root, file_name)
    assert not (root / "messages").exists()


def test_review_export_and_import_name_the_damaged_file(damaged, tmp_path):
    root, file_name = damaged
    code, output = invoke("review", "export", root, "--no-vectors", "--to", tmp_path / "rv", "-q")
    assert code == 1
    _assert_names_the_file(one_error_line(output), root, file_name)
    code, output = invoke("review", "import", root, "--from", tmp_path / "rv", "-o", tmp_path / "reviewed", "-q")
    assert code == 1
    _assert_names_the_file(one_error_line(output), root, file_name)


@pytest.mark.parametrize("damage", ["corrupt_train", "train_without_id", "manifest_not_json", "manifest_a_list",
                                    "manifest_too_deep", "manifest_huge_number"])
def test_curate_against_a_damaged_folder_names_the_file(damage, curated, small_input, tmp_path):
    root = tmp_path / damage
    shutil.copytree(curated, root)
    DAMAGES[damage][0](root)
    code, output = invoke("curate", "-q", "-i", small_input, "-o", tmp_path / "new", "--against", root,
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code != 0
    line = one_error_line(output)
    assert line.startswith(f"error: --against {root}: cannot read the curation output folder: ")
    assert str(root / DAMAGES[damage][1]) in line


@pytest.mark.parametrize("manifest, key", [
    ({"stages": 5}, "'stages'"), ({"stages": [1]}, "stages[0]"), ({"input": "x"}, "'input'"),
    ({"stages": [{"name": "a", "stats": 3}]}, "stats"), ({"accounting": {"input_rows": "x"}}, "accounting.input_rows"),
    ({"stages": [{"name": "a", "removed": {"r": "b"}}]}, "stages[0].removed"), ({"inputs": [1]}, "inputs[0]"),
    ({"config": {"stages": 5}}, "config.stages"), ({"input": {"rows": "x"}}, "input.rows"),
])
def test_report_names_a_manifest_value_of_the_wrong_type(manifest, key, curated, tmp_path):
    root = tmp_path / "typed"
    shutil.copytree(curated, root)
    (root / "manifest.json").write_text(json.dumps({**read_manifest(curated), **manifest}))
    code, output = invoke("report", root)
    assert code != 0
    line = one_error_line(output)
    assert str(root / "manifest.json") in line and key in line


@pytest.mark.parametrize("value", [-5, 1.5, True, None, "12", 1e400])
@pytest.mark.parametrize("key", ["accounting.input_rows", "accounting.quarantined", "outputs.train.rows"])
def test_a_row_count_that_is_no_count_of_rows_is_named_by_report_and_publish(key, value, curated, tmp_path):
    """An impossible count (``-5``, ``1.5``, ``true``, a string) was shown as a fact by the report, or broke the
    dataset card; each is a damaged folder (exit 1) named by its key."""
    root = tmp_path / "counted"
    shutil.copytree(curated, root)
    manifest = read_manifest(curated)
    part, *rest = key.split(".")
    target = manifest[part]
    for name in rest[:-1]:
        target = target[name]
    target[rest[-1]] = value
    (root / "manifest.json").write_text(json.dumps(manifest))
    for command in (("report", root), ("publish", root, "--repo", "me/data")):
        code, output = invoke(*command)
        line = one_error_line(output)
        assert code == 1, output
        assert str(root / "manifest.json") in line and f"{key} is " in line and "not a count of rows" in line


def test_an_accounting_that_does_not_add_up_is_named(curated, tmp_path):
    root = tmp_path / "unbalanced"
    shutil.copytree(curated, root)
    manifest = read_manifest(curated)
    manifest["accounting"]["in_splits"] += 1
    (root / "manifest.json").write_text(json.dumps(manifest))
    code, output = invoke("report", root)
    assert code == 1 and "'accounting' does not add up" in one_error_line(output)


@pytest.mark.parametrize("value", [False, None, "yes", 1])
def test_an_accounting_that_says_it_does_not_balance_is_named(value, curated, tmp_path):
    """The report showed "accounting broken" of it and the card and publish took it as a folder to upload: no run
    writes one (a run whose rows do not add up stops), so the manifest was changed after it."""
    root = tmp_path / "says-unbalanced"
    shutil.copytree(curated, root)
    manifest = read_manifest(curated)
    manifest["accounting"]["balanced"] = value
    (root / "manifest.json").write_text(json.dumps(manifest))
    for command in (("report", root), ("publish", root, "--repo", "me/data", "--format", "messages")):
        code, output = invoke(*command)
        assert code == 1 and "accounting.balanced is " in one_error_line(output), output
    assert not (root / "report.md").exists() and not (root / "messages").exists()


def test_readers_raise_one_error_type_naming_file_and_line(curated, tmp_path):
    root = tmp_path / "out"
    shutil.copytree(curated, root)
    lines = (root / "quarantine.jsonl").read_text().splitlines()
    (root / "quarantine.jsonl").write_text("\n".join([*lines, "[1, 2]"]) + "\n")
    with pytest.raises(OutputFolderError, match=rf"quarantine\.jsonl: line {len(lines) + 1}: expected a JSON object"):
        read_quarantine(root)
    _no_id(root / "validation.parquet")
    with pytest.raises(OutputFolderError, match=r"validation\.parquet: no 'id' column"):
        read_split(root, "validation")
    (root / "manifest.json").write_text('"text"')
    with pytest.raises(OutputFolderError, match=r"manifest\.json: expected a JSON object, found str"):
        read_manifest(root)
    assert isinstance(OutputFolderError("x"), ValueError)  # callers that caught the reader's ValueError still do


# -- output paths that cannot be written ------------------------------------------------------------------


def test_make_output_folder_says_why_it_cannot(tmp_path):
    a_file = tmp_path / "a.txt"
    a_file.write_text("x")
    with pytest.raises(OutputFolderError, match=r"a\.txt: cannot write the output folder here \(it is a file\)"):
        make_output_folder(a_file)
    with pytest.raises(OutputFolderError, match=rf"sub: cannot write the output folder here \({a_file} is a file\)"):
        make_output_folder(a_file / "deeper" / "sub")
    assert make_output_folder(tmp_path / "new" / "folder").is_dir()


def _blocked_paths(tmp_path: Path) -> tuple[Path, Path]:
    a_file = tmp_path / "small.jsonl"
    a_file.write_text("{}\n")
    return a_file, a_file / "sub"


def test_curate_out_that_is_a_file_or_under_one(small_input, tmp_path):
    a_file, under = _blocked_paths(tmp_path)
    code, output = invoke("curate", "-q", "-i", small_input, "-o", a_file)
    assert code != 0 and one_error_line(output) == f"error: {a_file}: cannot write the output folder here (it is a file)"
    code, output = invoke("curate", "-q", "-i", small_input, "-o", under)
    assert code != 0
    assert one_error_line(output) == f"error: {under}: cannot write the output folder here ({a_file} is a file)"


def test_curate_out_that_cannot_be_created(small_input):
    code, output = invoke("curate", "-q", "-i", small_input, "-o", "/proc/tome-cannot-be-here")
    assert code != 0
    assert one_error_line(output).startswith("error: /proc/tome-cannot-be-here: cannot write the output folder here (")


@pytest.mark.parametrize("taken, kind, options", [
    ("train.parquet", "folder", []),  # as Spark names its output folders
    ("removed.parquet", "folder", []),
    ("manifest.json", "folder", []),
    ("README.md", "folder", []),
    ("report.html", "folder", []),
    ("messages", "file", ["--format", "both"]),
])
def test_curate_refuses_before_any_work_an_out_whose_paths_are_taken(small_input, tmp_path, monkeypatch, taken, kind,
                                                                      options):
    """A path the run writes, taken by the other kind, was found only when the finished files were moved into
    place (a traceback after all the work); it is the user's, so it is named and left alone."""
    import curation.pipeline as pipeline

    out = tmp_path / "out"
    (out / taken).mkdir(parents=True) if kind == "folder" else (out.mkdir(), (out / taken).write_text("mine"))
    monkeypatch.setattr(pipeline, "run_local", lambda *a, **k: pytest.fail("the run started"))
    code, output = invoke("curate", "-q", "-i", small_input, "-o", out, *options)
    writes = "a file here, and it is a folder" if kind == "folder" else "a folder here, and it is a file"
    assert code == 2 and one_error_line(output) == (f"error: {out / taken}: the run writes {writes}; move it or "
                                                    "choose another --out")
    assert (out / taken).is_dir() == (kind == "folder")


def test_review_targets_under_a_file(curated, tmp_path):
    a_file, under = _blocked_paths(tmp_path)
    for option in ("--to", "--hub-dir"):
        code, output = invoke("review", "export", curated, "--no-vectors", option, under, "-q")
        assert code == 2  # a usage error: the path given
        assert one_error_line(output) == f"error: {option} {under}: cannot write the output folder here ({a_file} is a file)"
    code, output = invoke("review", "export", curated, "--no-vectors", "--to", tmp_path / "rv", "-q")
    assert code == 0, output
    code, output = invoke("review", "import", curated, "--from", tmp_path / "rv", "-o", under, "-q")
    assert code == 2
    assert one_error_line(output) == f"error: --out {under}: cannot write the output folder here ({a_file} is a file)"


def test_eval_compare_out_that_is_a_file(tmp_path):
    a_file, _ = _blocked_paths(tmp_path)
    code, output = invoke("eval", "compare", "--no-loss", "-n", "4", "-o", a_file)
    assert code != 0
    assert one_error_line(output) == f"error: {a_file}: cannot write the output folder here (it is a file)"


# -- review import: answers that are not applied as they are ---------------------------------------------


def _export(curated: Path, target: Path) -> list[dict]:
    code, output = invoke("review", "export", curated, "--no-vectors", "--to", target, "-q")
    assert code == 0, output
    return json.loads((target / "records.json").read_text(encoding="utf-8"))


def _import(curated: Path, records: list[dict], target: Path, out: Path) -> dict:
    (target / "records.json").write_text(json.dumps(records), encoding="utf-8")
    code, output = invoke("review", "import", curated, "--from", target, "-o", out, "-q")
    assert code == 0, output
    return read_manifest(out)["review"]


def _rows(root: Path) -> dict[str, dict]:
    return {r["id"]: r for s in ("train", "validation", "test", "removed")
            for r in pq.read_table(root / f"{s}.parquet").to_pylist()}


def test_one_annotator_answering_a_record_twice_differently_is_a_conflict(curated, tmp_path):
    records = _export(curated, tmp_path / "rv")
    twice = json.loads(json.dumps(records[0]))
    records[0]["responses"] = {"verdict": [{"value": "discard", "user_id": USER}]}
    twice["responses"] = {"verdict": [{"value": "keep", "user_id": USER}]}
    review = _import(curated, [*records, twice], tmp_path / "rv", tmp_path / "reviewed")
    assert [(c["id"], c["kind"], c["applied"]) for c in review["conflicts"]] == [(records[0]["id"], "answered_twice", None)]
    assert review["applied"]["kept"] == 0 and review["applied"]["discarded"] == 0
    assert _rows(tmp_path / "reviewed")[records[0]["id"]]["review_verdict"] is None


def test_the_same_answer_twice_is_no_conflict(curated, tmp_path):
    records = _export(curated, tmp_path / "rv")
    records[0]["responses"] = {"verdict": [{"value": "discard", "user_id": USER}]}
    review = _import(curated, [*records, json.loads(json.dumps(records[0]))], tmp_path / "rv", tmp_path / "reviewed")
    assert review["conflicts"] == [] and review["applied"]["discarded"] == 1


def test_a_fix_is_repaired_and_one_too_long_is_not_applied(curated, tmp_path):
    records = _export(curated, tmp_path / "rv")
    limit = read_manifest(curated)["config"]["stages"]["filters"]["max_chars_per_turn"]
    fixes = {0: "a\x00b\x1b[31m red\tand\nmore", 1: "word " * (limit // 4)}
    for i, text in fixes.items():
        records[i]["responses"] = {"verdict": [{"value": "fix", "user_id": USER}],
                                   "corrected_answer": [{"value": text, "user_id": USER}]}
    before = _rows(curated)
    review = _import(curated, records, tmp_path / "rv", tmp_path / "reviewed")
    rows = _rows(tmp_path / "reviewed")
    repaired, too_long = rows[records[0]["id"]], rows[records[1]["id"]]
    assert repaired["conversations"][-1]["value"] == "ab[31m red and\nmore"  # repaired, then normalized (the tab)
    assert repaired["review_verdict"] == "fix"
    assert too_long["conversations"] == before[records[1]["id"]]["conversations"]
    assert too_long["review_verdict"] is None
    assert json.loads(repaired["repairs"]) == {"control_chars": ["conversations"]}
    kinds = {c["id"]: c for c in review["conflicts"]}
    assert records[0]["id"] not in kinds  # a repair is noted on the row, as curate notes it: no conflict
    assert kinds[records[1]["id"]]["kind"] == "corrected_answer_too_long"
    assert kinds[records[1]["id"]]["max"] == limit
    assert review["applied"]["fixed"] == 1


# -- publish: nothing changes here when nothing can be sent -------------------------------------------------


def test_publish_without_the_hub_leaves_the_folder_as_it_was(curated, tmp_path, monkeypatch):
    import huggingface_hub

    from curation.publish import PublishError, publish

    root = tmp_path / "out"
    shutil.copytree(curated, root)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def unreachable(self, *args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", unreachable)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", unreachable)
    with pytest.raises(PublishError, match="cannot reach the Hugging Face hub .*nothing was uploaded"):
        publish(root, "me/data", token="hf_x", format="both")
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_a_records_file_that_is_not_utf8_is_one_line(tmp_path):
    """A hand-edited records.json saved in another encoding: one line naming it (it was a traceback)."""
    from curation.review.layouts import ReviewError, read_disk_records

    path = tmp_path / "records.json"
    path.write_bytes('[{"id": "caf\u00e9"}]'.encode("latin-1"))
    with pytest.raises(ReviewError, match=r"records\.json: not UTF-8 text \(invalid continuation byte at byte 12\)"):
        read_disk_records(path)


def test_curate_out_that_is_an_object_store_or_holds_a_colon(small_input, tmp_path, monkeypatch):
    """`-o s3://b/x` made a local folder `s3:` and ended in Arrow's traceback; `-o run:1` (a folder whose name holds
    a colon) was taken by Arrow for a URI. The first is one line before any work, the second is written."""
    monkeypatch.chdir(tmp_path)
    code, output = invoke("curate", "-q", "-i", small_input, "-o", "s3://bucket/curated", "--set", "report=false")
    assert code == 2 and one_error_line(output).startswith("error: s3://bucket/curated: --out must be a local folder")
    assert not (tmp_path / "s3:").exists()
    code, output = invoke("curate", "-q", "-i", small_input, "-o", "run:1", "--set", "report=false")
    assert code == 0, output
    assert read_manifest(tmp_path / "run:1")["accounting"]["balanced"]
