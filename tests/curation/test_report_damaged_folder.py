"""A damaged or odd output folder given to `tome report`, `tome publish` or the dataset card builder: one line
naming the file (and the manifest's key, or the data file's column), exit code 1, never a traceback, no temporary
file left behind.

Before, a count the manifest holds was taken as a fact wherever the accounting did not check it (a stage's
``rows_in`` of ``-5`` shown, ``10**30`` a traceback from the chart), the card broke on values the report had let
through (``removed_by_reason`` of ``"y"``), a manifest nested too deeply or holding a number of thousands of digits
was a traceback, a data column of another type was Arrow's message naming no file (or blamed on manifest.json), and
the card left ``README.md.tmp`` or ``messages/train.parquet.tmp`` behind when it could not be written.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.card import build_card, write_card
from curation.contract import OutputFolderError, read_manifest
from curation.readers.errors import InputError
from tests.curation.runs import invoke, one_error_line


@pytest.fixture(scope="module")
def curated(embedded_sample, tmp_path_factory) -> Path:
    from curation.config import load_config
    from curation.pipeline import run_curation

    small = tmp_path_factory.mktemp("input") / "small.jsonl"
    small.write_text("\n".join(Path(embedded_sample).read_text(encoding="utf-8").splitlines()[:80]) + "\n",
                     encoding="utf-8")
    out = tmp_path_factory.mktemp("curated") / "out"
    run_curation(str(small), out, load_config(overrides={"checkpoint": False, "report": False}))
    return out


def _copy(curated: Path, tmp_path: Path) -> Path:
    root = tmp_path / "out"
    shutil.copytree(curated, root)
    return root


def _stage(manifest: dict, name: str) -> dict:
    return next(s for s in manifest["stages"] if s["name"] == name)


def _index(manifest: dict, name: str) -> int:
    return [s["name"] for s in manifest["stages"]].index(name)


def _more_than_the_run(m: dict) -> str:
    _stage(m, "normalize")["kept"] = 10**30  # (a traceback from the funnel chart)
    return f"stages[{_index(m, 'normalize')}].kept is 1,000,000,000,000,000,000,000,000,000,000, more than the"


def _unbalanced_outputs(m: dict) -> str:
    m["accounting"]["input_rows"] += 7  # adds up, but no file holds those rows
    m["accounting"]["in_splits"] += 7
    return "accounting.in_splits is"


# what to do to the manifest -> what the one line must say (the key, and what is wrong)
MANIFEST_DAMAGES = {
    "stage_rows_negative": (lambda m: m["stages"][0].update(rows_in=-5), "stages[0].rows_in is -5, not a count of rows"),
    "stage_count_huge": (_more_than_the_run, None),
    "stage_count_a_string": (lambda m: m["stages"][1].update(kept="12"), 'stages[1].kept is "12", not a count of rows'),
    "stage_enabled_a_string": (lambda m: m["stages"][0].update(enabled="no"), 'stages[0].enabled is "no", not true or'),
    "stage_name_a_number": (lambda m: m["stages"][0].update(name=3), "stages[0].name is 3, not a string"),
    "input_rows_negative": (lambda m: m["input"].update(rows=-5), "input.rows is -5, not a count of rows"),
    "input_rows_nan": (lambda m: m["input"].update(rows=float("nan")), "input.rows is NaN, not a count of rows"),
    "removed_by_reason_a_string": (lambda m: m.update(removed_by_reason={"exact_duplicate": "y"}),
                                   'removed_by_reason.exact_duplicate is "y", not a count of rows'),
    "removed_by_reason_a_list": (lambda m: m.update(removed_by_reason=[1]), "'removed_by_reason' is [1], not a JSON"),
    "inputs_rows_a_string": (lambda m: m.update(inputs=[{"name": "a", "rows_in": "x"}]),
                             'inputs[0].rows_in is "x", not a count of rows'),
    "mix_share_past_one": (lambda m: m.update(mix=[{"input": "a", "rows_in": 1, "kept": 1, "share": 7}]),
                           "mix[0].share is 7, not a share from 0 to 1"),
    "extra_columns_a_string": (lambda m: m.update(extra_columns="abc"), "'extra_columns' is \"abc\", not a JSON array"),
    "accounting_a_list": (lambda m: m.update(accounting=[1]), "'accounting' is [1], not a JSON object"),
    "accounting_against_outputs": (_unbalanced_outputs, None),
    "validate_errors_a_string": (lambda m: _stage(m, "validate")["stats"].update(errors={"bad": "y"}), None),
    "cluster_sizes_a_list": (lambda m: _stage(m, "near_dedup")["stats"].update(cluster_sizes=[1]), None),
    "review_verdicts_a_string": (lambda m: m.update(review={"verdicts": {"keep": "x"}}),
                                 'review.verdicts.keep is "x", not a count of rows'),
}
KEYS = {"validate_errors_a_string": ("validate", 'stats.errors.bad is "y", not a count of rows'),
        "cluster_sizes_a_list": ("near_dedup", "stats.cluster_sizes is [1], not a JSON object")}


@pytest.mark.parametrize("damage", sorted(MANIFEST_DAMAGES))
def test_a_manifest_value_curate_never_writes_is_one_line_naming_its_key(damage, curated, tmp_path):
    root = _copy(curated, tmp_path)
    manifest = read_manifest(root)
    change, says = MANIFEST_DAMAGES[damage]
    said = change(manifest)
    says = says or said
    if damage in KEYS:
        stage, rest = KEYS[damage]
        says = f"stages[{_index(manifest, stage)}].{rest}"
    (root / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(p.name for p in root.iterdir())
    for command in (("report", root), ("publish", root, "--repo", "me/data")):
        code, output = invoke(*command)
        line = one_error_line(output)
        assert code == 1, output
        assert f"{root / 'manifest.json'}: {says}" in line, line
    with pytest.raises(OutputFolderError, match="manifest.json: ") as caught:
        build_card(root)
    assert says in str(caught.value)
    with pytest.raises(OutputFolderError):
        write_card(root, "both")  # refused before the messages splits or the card are written
    assert sorted(p.name for p in root.iterdir()) == before


@pytest.mark.parametrize("text,says", [("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
                                       ('{"accounting": {"input_rows": ' + "9" * 5000 + "}}",
                                        "not valid JSON (a number of too many digits)")], ids=["deep", "long_number"])
def test_a_manifest_json_cannot_read_is_one_line(text, says, curated, tmp_path):
    root = _copy(curated, tmp_path)
    (root / "manifest.json").write_text(text)
    for command in (("report", root), ("publish", root, "--repo", "me/data")):
        code, output = invoke(*command)
        assert code == 1 and f"manifest.json: {says}" in one_error_line(output)
    with pytest.raises(OutputFolderError, match=says.replace("(", r"\(").replace(")", r"\)")):
        build_card(root)


def _column(name: str, value):
    def change(path: Path) -> None:
        table = pq.read_table(path)
        at = table.schema.get_field_index(name)
        pq.write_table(table.set_column(at, name, value(table)), path)
    return change


def _drop(name: str):
    return lambda path: pq.write_table(pq.read_table(path).drop_columns([name]), path)


def _as_text(name: str):
    return _column(name, lambda t: pa.array([json.dumps(v) for v in t.column(name).to_pylist()]))


# a data file whose columns are not of the types curate writes -> (the file, what the line says)
COLUMN_DAMAGES = {
    "conversations_as_text": ("validation.parquet", _as_text("conversations"),
                              "column 'conversations' is string, not a list of {from, value} turns"),
    "score_as_text": ("train.parquet", _as_text("score"), "column 'score' is string, not a number"),
    "source_a_number": ("test.parquet", _column("source", lambda t: pa.array(range(t.num_rows))),
                        "column 'source' is int64, not text"),
    "id_a_number": ("removed.parquet", _column("id", lambda t: pa.array(range(t.num_rows))),
                    "column 'id' is int64, not text"),
    "reason_a_number": ("removed.parquet", _column("reason", lambda t: pa.array(range(t.num_rows))),
                        "column 'reason' is int64, not text"),
    "turn_values_all_null": ("train.parquet", _column("conversations", lambda t: pa.array(
        [[{"from": "human", "value": None}]] * t.num_rows)), "column 'conversations' is list<element: struct<from: "
        "string, value: null>>, not a list of {from, value} turns"),  # (was "Invalid null value", no file named)
    "no_conversations": ("train.parquet", _drop("conversations"), "no 'conversations' column"),
    "no_reason": ("removed.parquet", _drop("reason"), "no 'reason' column"),
}


@pytest.mark.parametrize("damage", sorted(COLUMN_DAMAGES))
def test_a_data_column_of_another_type_is_named_by_file_and_column(damage, curated, tmp_path):
    """Arrow's message naming no file ("Function 'list_value_length' has no kernel...", "Array chunks must all be
    same type"), or one blaming manifest.json for a KeyError of a data file's column."""
    root = _copy(curated, tmp_path)
    file_name, change, says = COLUMN_DAMAGES[damage]
    change(root / file_name)
    for command in (("report", root), ("publish", root, "--repo", "me/data")):
        code, output = invoke(*command)
        line = one_error_line(output)
        assert code == 1 and f"{root / file_name}: {says}" in line, line


def _corrupt_pages(path: Path) -> None:
    """Bytes flipped in the data pages (the middle of the file), the footer left whole: only reading rows shows it."""
    data = bytearray(path.read_bytes())
    for at in range(len(data) // 4, len(data) // 2, 7):
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("file_name", ["train.parquet", "removed.parquet"])
def test_a_row_group_that_does_not_read_is_named_by_its_file(file_name, curated, tmp_path):
    root = _copy(curated, tmp_path)
    _corrupt_pages(root / file_name)
    code, output = invoke("report", root)
    assert code == 1 and f"{root}: cannot read the curation output folder: {root / file_name}: " in one_error_line(output)
    assert not list(root.glob("*.tmp"))


def test_messages_splits_of_a_damaged_split_name_it_and_leave_no_temporary_file(curated, tmp_path):
    root = _copy(curated, tmp_path)
    _corrupt_pages(root / "train.parquet")
    with pytest.raises(OutputFolderError, match="train.parquet: "):
        write_card(root, "messages")
    assert not list((root / "messages").glob("*.tmp"))
    assert not (root / "README.md.tmp").exists()


def test_quarantine_records_and_removed_ids_written_by_hand_are_shown(curated, tmp_path):
    """A quarantine record whose position is not an object, and removed rows without ids: shown as they are (they
    were "a value the report cannot show" blamed on manifest.json, and an Arrow error)."""
    root = _copy(curated, tmp_path)
    lines = (root / "quarantine.jsonl").read_text().splitlines()
    record = {"position": 5, "raw": 3, "error": None}
    (root / "quarantine.jsonl").write_text("".join(json.dumps(record) + "\n" for _ in lines))
    _column("id", lambda t: pa.nulls(t.num_rows, pa.string()))(root / "removed.parquet")
    code, output = invoke("report", root)
    assert code == 0, output
    from curation.report.facts import gather

    assert gather(root).quarantine_examples[0].position == "5"


@pytest.mark.parametrize("folder", ["README.md", "README.md.tmp"])
def test_a_folder_where_the_card_goes_is_one_line_and_nothing_is_written(folder, curated, tmp_path):
    root = _copy(curated, tmp_path)
    (root / "README.md").unlink()
    (root / folder).mkdir()
    (root / folder / "x").write_text("x")
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    with pytest.raises(InputError) as caught:
        write_card(root, "both")
    assert str(caught.value) == f"{root / folder}: cannot write the dataset card here (is a directory)"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before  # no messages/, no .tmp


def test_a_card_that_cannot_be_written_leaves_no_temporary_file(curated, tmp_path, monkeypatch):
    """The disk full half-way through README.md.tmp: one line naming the card, and the half-written file gone (it
    was left in the folder, and `tome publish` would have found it)."""
    root = _copy(curated, tmp_path)
    real = Path.write_text

    def write_text(self, text, *args, **kwargs):
        if self.name == "README.md.tmp":
            real(self, text[:10], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(InputError, match="README.md: cannot write the dataset card here"):
        write_card(root, "finetome")
    assert not (root / "README.md.tmp").exists()


def test_a_read_only_folder_is_one_line_for_the_report(curated, tmp_path, monkeypatch):
    """No permission to write the page (a read-only folder, as a user other than root sees it): one line naming the
    file, exit 1, nothing left behind."""
    root = _copy(curated, tmp_path)
    real = Path.write_text

    def write_text(self, text, *args, **kwargs):
        if self.parent == root and self.name.endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code, output = invoke("report", root)
    assert code == 1 and "cannot write report.html: Permission denied" in one_error_line(output)
    assert not list(root.glob("*.tmp"))


def test_an_against_stage_without_a_count_of_existing_rows_is_shown(curated, tmp_path):
    """``existing_rows`` null (no row came to be compared): the sentence broke on it (a traceback in the card)."""
    from curation.report.facts import against_summary

    stage = {"enabled": True, "removed": {"duplicate_of_existing": 0}, "stats": {"existing_rows": None}}
    summary = against_summary({"stages": {"against": {"path": "old/"}}}, stage)
    assert summary is not None and summary[1].startswith("(its existing rows;")
