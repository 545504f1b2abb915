"""`--input` values: a value that is an existing local file or folder is that path, read as given, whatever `=`,
`@` or `:` its name holds; only other values are split into NAME=, @WEIGHT and :split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curation.contract import read_manifest
from curation.inputs import inputs_from_cli
from tests.curation.runs import curate_command as curate


def sample_rows(path: Path, start: int = 0, count: int = 30) -> Path:
    """``count`` rows of the embedded sample from ``start``, written to ``path``."""
    from tomecraft.resources import ensure_sample

    lines = ensure_sample().read_text(encoding="utf-8").splitlines()[start:start + count]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parsed(*specs: str) -> list[tuple]:
    return [(i.name, i.path, i.weight) for i in inputs_from_cli(list(specs))]


def test_an_existing_path_is_taken_whole_whatever_it_holds(in_tmp):
    for name in ("a=b.jsonl", "x@2", "mydata:train:v2.jsonl"):
        sample_rows(in_tmp / name, count=2)
    (in_tmp / "d=ir@3").mkdir()
    assert parsed("a=b.jsonl", "x@2", "mydata:train:v2.jsonl", "d=ir@3") == [
        (None, "a=b.jsonl", None), (None, "x@2", None), (None, "mydata:train:v2.jsonl", None), (None, "d=ir@3", None)]
    assert parsed("web=a=b.jsonl", "mix=x@2") == [("web", "a=b.jsonl", None), ("mix", "x@2", None)]


def test_a_value_that_does_not_exist_is_still_split(in_tmp):
    sample_rows(in_tmp / "b.jsonl", count=2)
    assert parsed("a=b.jsonl", "b.jsonl@2", "web=b.jsonl@0.5", "org/data:test") == [
        ("a", "b.jsonl", None), (None, "b.jsonl", 2.0), ("web", "b.jsonl", 0.5), (None, "org/data:test", None)]
    with pytest.raises(ValueError, match=r"^--input b\.jsonl@0: weight: .*"):
        inputs_from_cli(["b.jsonl@0"])
    # a weight in any way a number is written (it was taken for part of a hub id)
    assert [w for _, _, w in parsed("b.jsonl@1e-3", "b.jsonl@.5", "b.jsonl@2.", "b.jsonl@1E2")] == [0.001, 0.5, 2.0, 100.0]


@pytest.mark.parametrize("name", ["a=b.jsonl", "run@2.jsonl"])
def test_a_file_named_like_a_spec_is_curated(in_tmp, name):
    sample_rows(in_tmp / name)
    result = curate("-i", name, "-o", "out")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(in_tmp / "out")
    assert manifest["input"]["spec"] == name and manifest["accounting"]["input_rows"] == 30


def test_a_folder_named_like_a_weighted_spec_is_one_input_of_a_mix(in_tmp):
    (in_tmp / "shards@2").mkdir()
    sample_rows(in_tmp / "shards@2" / "part-0.jsonl", start=0)
    sample_rows(in_tmp / "other.jsonl", start=30)
    result = curate("-i", "shards@2", "-i", "other.jsonl", "-o", "out")
    assert result.exit_code == 0, result.output
    inputs = {i["spec"]: i for i in read_manifest(in_tmp / "out")["inputs"]}
    assert set(inputs) == {"shards@2", "other.jsonl"}
    assert inputs["shards@2"]["rows_in"] == 30 and inputs["shards@2"]["weight"] is None


@pytest.mark.parametrize("spec", ["x[/].jsonl", "mydata:train:v2.jsonl", "missing[bold]dir/x.jsonl"])
def test_a_missing_input_is_named_as_given_on_one_line(in_tmp, spec):
    result = curate("-i", spec, "-o", "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {spec}: ")


@pytest.mark.parametrize("spec", ["@1", "web=@0.5"])
def test_a_weight_with_no_input_before_it_says_so(in_tmp, spec):
    """Was "@1: file not found"; a file of that name is still read as that file."""
    weight = spec.rpartition("@")[2]
    with pytest.raises(ValueError, match=rf"^--input {spec}: a weight with no input before it; give PATH@{weight}"):
        inputs_from_cli([spec])
    sample_rows(in_tmp / "@1", count=2)
    assert parsed("@1") == [(None, "@1", None)]


@pytest.mark.parametrize("weight", ["nan", "inf", "1_000", "abc", " 3"])
def test_a_weight_that_is_no_number_is_named_as_such(in_tmp, weight):
    sample_rows(in_tmp / "b.jsonl", count=2)
    with pytest.raises(ValueError, match=rf"^--input web=b\.jsonl@{weight}: the weight '{weight}' is not a finite number"):
        inputs_from_cli([f"web=b.jsonl@{weight}"])
    result = curate("-i", f"b.jsonl@{weight}", "-i", "b.jsonl", "-o", "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --input b.jsonl@{weight}: the weight")


@pytest.mark.parametrize("entry, message", [
    ("{path: qa.jsonl, format: messages}", "error: qa.jsonl: format messages needs column(s) messages; the input has q, a"),
    ("{path: qa.jsonl, format: alpaca, columns: {instruction: q}}", "error: qa.jsonl: format alpaca needs column(s) output"),
    ("{path: dialog.jsonl, format: messages, columns: {messages: dialog, role: spaeker, content: text}}",
     "error: dialog.jsonl: columns maps 'role' to 'spaeker', but no turn of its first records has a key 'spaeker' "
     "(their keys: speaker, text)"),
])
def test_a_format_or_mapping_the_input_cannot_have_is_one_error_not_every_row_quarantined(in_tmp, entry, message):
    (in_tmp / "qa.jsonl").write_text("".join(json.dumps({"q": f"Question {i}?", "a": f"Answer {i}."}) + "\n"
                                             for i in range(5)))
    (in_tmp / "dialog.jsonl").write_text("".join(json.dumps({"dialog": [
        {"speaker": "user", "text": f"Question {i} here?"}, {"speaker": "assistant", "text": f"Answer {i}."}]}) + "\n"
        for i in range(5)))
    (in_tmp / "c.yaml").write_text(f"inputs:\n  - {entry}\n")
    result = curate("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    good = "{path: dialog.jsonl, format: messages, columns: {messages: dialog, role: speaker, content: text}}"
    (in_tmp / "c.yaml").write_text(f"inputs:\n  - {good}\n")
    result = curate("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 0 and read_manifest(in_tmp / "out")["accounting"]["in_splits"] == 5


@pytest.mark.parametrize("spec, out, named", [
    ("data", "data/out", "data"),  # the next run would read this run's splits and removed rows back
    ("data", "data", "data"),
    ("out/train.parquet", "out", "out/train.parquet"),  # read, then written over
    ("out/*.parquet", "out", "out/removed.parquet"),
    # a folder named with one slash looks like a hub id, but is read as the folder it is
    ("data/shards", "data/shards/out", "data/shards"),
    ("data/shards", "data/shards", "data/shards"),
])
def test_an_input_that_holds_the_output_folder_or_is_written_by_the_run_is_refused(in_tmp, spec, out, named):
    (in_tmp / "data" / "shards").mkdir(parents=True)
    sample_rows(in_tmp / "data" / "rows.jsonl")
    sample_rows(in_tmp / "data" / "shards" / "part-0.jsonl")
    assert curate("-i", "data/rows.jsonl", "-o", "out").exit_code == 0
    before = {p: p.read_bytes() for p in sorted((in_tmp / "out").glob("*.parquet"))}
    result = curate("-i", spec, "-o", out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {named}: the run would read its own output (the output folder is {out}); write to a "
                     "folder outside the input (--out)"]
    assert {p: p.read_bytes() for p in sorted((in_tmp / "out").glob("*.parquet"))} == before


@pytest.mark.parametrize("out", ["data", "data/.curated"])
def test_other_files_beside_the_output_or_a_hidden_output_inside_the_input_are_fine(in_tmp, out):
    (in_tmp / "data").mkdir()
    sample_rows(in_tmp / "data" / "rows.jsonl")
    spec = "data/rows.jsonl" if out == "data" else "data"
    assert curate("-i", spec, "-o", out).exit_code == 0
    assert curate("-i", spec, "-o", out).exit_code == 0  # (the second run reads only what the first one read)
    assert read_manifest(in_tmp / out)["accounting"]["input_rows"] == 30


def test_a_curated_folder_among_shards_gives_its_splits_only(in_tmp):
    """A folder of shards holding an earlier ``tome curate`` output reads that output's split rows, never its
    removed rows (nor a messages copy or the quarantine)."""
    (in_tmp / "shards").mkdir()
    sample_rows(in_tmp / "shards" / "rows.jsonl", count=60)
    assert curate("-i", "shards/rows.jsonl", "-o", "shards/earlier", "--format", "both").exit_code == 0
    earlier = read_manifest(in_tmp / "shards" / "earlier")["accounting"]
    assert earlier["removed"] > 0
    assert curate("-i", "shards", "-o", "out").exit_code == 0
    assert read_manifest(in_tmp / "out")["accounting"]["input_rows"] == 60 + earlier["in_splits"]


def test_one_command_line_input_replaces_the_configs_inputs_list_without_a_traceback(tmp_path):
    """A config listing two inputs, run with one ``--input`` (the command line replaces the list): that input is
    curated as a run without the list curates it, byte for byte (the config kept its two inputs, so exact dedup
    asked the unlabelled rows for their ``input`` column, and the run ended in a ``KeyError`` traceback)."""
    import pyarrow.parquet as pq

    from curation.config import load_config
    from curation.pipeline import run_curation
    from tests.curation.test_against_existing import rows, write_jsonl

    a = write_jsonl(tmp_path / "a.jsonl", rows(1, 30) + rows(1, 5))  # 5 exact duplicates
    b = write_jsonl(tmp_path / "b.jsonl", rows(2, 10))
    listed = [{"name": "a", "path": str(a)}, {"name": "b", "path": str(b)}]
    for out, inputs in (("listed", listed), ("plain", [])):
        run_curation(str(a), tmp_path / out, load_config(None, {"report": False, "checkpoint": False, "inputs": inputs}))
    for name in ("train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl"):
        assert (tmp_path / "listed" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name
    removed = pq.read_table(tmp_path / "listed" / "removed.parquet")
    assert removed.column("reason").to_pylist().count("exact_duplicate") == 5


def test_the_command_says_when_its_input_replaces_the_configs_list(tmp_path):
    """``-c mix.yaml -i extra.jsonl`` ran extra.jsonl alone, the config's weighted inputs unused, and said nothing."""
    from tests.curation.runs import invoke
    from tests.curation.test_against_existing import rows, write_jsonl

    a = write_jsonl(tmp_path / "a.jsonl", rows(1, 20))
    b = write_jsonl(tmp_path / "b.jsonl", rows(2, 20))
    config = tmp_path / "mix.yaml"
    config.write_text(f"report: false\ncheckpoint: false\ninputs:\n  - {{path: {a}, weight: 1}}\n"
                      f"  - {{path: {b}, weight: 1}}\n", encoding="utf-8")
    code, output = invoke("curate", "-q", "-c", config, "-i", b, "-o", tmp_path / "out")
    assert code == 0 and "note: --input replaces the 2 inputs the config lists under `inputs:`" in output
    code, output = invoke("curate", "-q", "-c", config, "-o", tmp_path / "out2")
    assert code == 0 and "note:" not in output


def test_an_input_of_wide_rows_is_sniffed_in_a_few_blocks_once(tmp_path, monkeypatch):
    """Its first records were read three times (the format's detection and two checks), each time in blocks of
    64 kB joined up to 256 rows: rows of thousands of columns were parsed one at a time, each parse paying for
    every column (200 rows of 2,000 columns: two minutes before the first pass). Now once, in 1 MB blocks (a
    few, parsed side by side ahead of the one the sniff waits for)."""
    from curation.config import load_config
    from curation.pipeline import open_source
    from curation.readers import jsonl

    row = {"conversations": [{"from": "human", "value": "a question"}, {"from": "gpt", "value": "an answer"}]}
    wide = {**row, **{f"meta_{k}": k for k in range(3000)}}  # ~40 kB a line
    path = tmp_path / "wide.jsonl"
    path.write_text("".join(json.dumps(wide) + "\n" for _ in range(80)), encoding="utf-8")
    blocks = []
    real = jsonl.parse_block
    monkeypatch.setattr(jsonl, "parse_block", lambda block, *a, **k: blocks.append(len(block)) or real(block, *a, **k))
    open_source(str(path), load_config(None, {}))
    assert 0 < len(blocks) <= 8, blocks  # (was 240: 80 blocks of one row, three times)


@pytest.mark.parametrize("name", [".net", "~", "~web"])
def test_a_name_that_reads_as_a_path_says_why_the_file_is_not_found(tmp_path, name):
    """`-i .net=/abs/a.jsonl` said only "file not found" (a value starting with '.', '/' or '~' is a path); it now
    says the file after `=` is there and a NAME cannot start so."""
    (tmp_path / "a.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match=rf"a NAME in NAME=PATH cannot start with '\.', '/' or '~'"):
        inputs_from_cli([f"{name}={tmp_path / 'a.jsonl'}"])
