"""Mixing as a careless or hostile user writes ``inputs:`` and ``--input``: globs or folders that overlap (one file
read by two inputs: its second copy was removed whole as duplicates, and that input's weight silently got
nothing), names that hide or look alike (bidirectional controls reorder the report's lines; ``x`` and ``" x"``
label two inputs as one), an empty path (was blamed on the output folder), a weighted file whose name holds
``=`` (its name was cut at the ``=``), a chat column mapped to a text column (every row quarantined, one by
one), a mix switched off (the manifest claimed target shares nothing drew to), and a weighted input that dedup
emptied (the mix's stats now name it as left out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.contract import read_manifest
from curation.inputs import InputConfig, default_name, inputs_from_cli, name_inputs
from tests.curation.runs import curate_command, one_error_line
from tests.curation.test_mix_edges import rows, write_jsonl


def write_config(folder: Path, *entries: str) -> Path:
    path = folder / "c.yaml"
    path.write_text("inputs:\n" + "".join(f"  - {entry}\n" for entry in entries), encoding="utf-8")
    return path


def run_local(folder: Path, inputs: list[dict], **stages) -> dict:
    """A local run of ``inputs`` (report and checkpoints off): its manifest, every row accounted for."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    out = folder / "out"
    run_curation(None, out, load_config(None, {"report": False, "checkpoint": False, "inputs": inputs,
                                               "stages": stages}))
    manifest = read_manifest(out)
    assert manifest["accounting"]["balanced"]
    return manifest


# -- one file, two inputs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first, second, shared", [
    ("'shards/*.jsonl'", "'shards/a*.jsonl'", "a1.jsonl"),  # overlapping globs
    ("shards", "shards/b1.jsonl", "b1.jsonl"),  # a folder and a file in it
])
def test_a_file_two_inputs_read_is_refused_before_the_run(in_tmp, first, second, shared):
    (in_tmp / "shards").mkdir()
    write_jsonl(in_tmp / "shards" / "a1.jsonl", rows(12, 0))
    write_jsonl(in_tmp / "shards" / "b1.jsonl", rows(12, 100))
    write_config(in_tmp, f"{{path: {first}, weight: 1}}", f"{{path: {second}, weight: 1}}")
    result = curate_command("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert line.startswith(f"error: inputs: {in_tmp / 'shards' / shared} is read by inputs 1 ({first.strip(chr(39))}) "
                           f"and 2 ({second.strip(chr(39))}); a file may be in one input only"), line
    assert not (in_tmp / "out").exists()


# -- names ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_name_with_a_bidirectional_control_is_refused_and_a_file_name_with_one_is_cleaned(char):
    with pytest.raises(ValueError, match="bidirectional control character"):
        InputConfig(path="a.jsonl", name=f"web{char}txt.a")
    assert default_name(f"data/we{char}b.jsonl") == "we_b"
    # a mark only leans the characters beside it (Arabic names keep it), and a joiner inside an emoji is no control
    for name in ("\u200fرسالة", "\U0001F468\u200d\U0001F469"):
        assert InputConfig(path="a.jsonl", name=name).name == name


def test_the_command_names_the_input_whose_name_holds_a_bidirectional_control(in_tmp):
    write_jsonl(in_tmp / "a.jsonl", rows(12))
    write_jsonl(in_tmp / "b.jsonl", rows(12, 100))
    write_config(in_tmp, "{path: a.jsonl, weight: 1}", '{path: b.jsonl, name: "\\u202eevil", weight: 1}')
    result = curate_command("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 2
    assert one_error_line(result.output) == ("error: c.yaml: inputs.1.name: the name holds the bidirectional control "
                                             "character '\\u202e'; a name is one line of visible text")


@pytest.mark.parametrize("a, b", [("x", " x"), ("x", "x "), ("\u00e9t\u00e9", "e\u0301te\u0301"), ("a", "a\u200b"),
                                  ("ab", "a\u00adb"), ("a", "\ufeffa")])
def test_names_that_look_the_same_are_one_name_used_twice(a, b):
    with pytest.raises(ValueError, match=r"^inputs: the names .* look the same"):
        name_inputs([InputConfig(path="a.jsonl", name=a), InputConfig(path="b.jsonl", name=b)])


def test_a_default_name_steps_past_a_given_name_that_looks_like_it():
    named = name_inputs([InputConfig(path="b.jsonl"), InputConfig(path="c.jsonl", name=" b ")])
    assert [i.name for i in named] == ["b-2", " b "]


# -- paths on the command line and in the file ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [("-i", ""), ("-i", "", "-i", "b.jsonl")])
def test_an_empty_input_path_is_named_as_such(in_tmp, args):
    write_jsonl(in_tmp / "b.jsonl", rows(5))
    result = curate_command(*args, "-o", "out")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert line.startswith("error: --input ") and line.endswith(
        "path: the input path is empty: give a file, glob, folder or dataset id"), line


def test_an_empty_path_in_the_inputs_list_is_named_at_its_key(in_tmp):
    write_jsonl(in_tmp / "b.jsonl", rows(5))
    write_config(in_tmp, "{path: '', weight: 1}", "{path: b.jsonl, weight: 1}")
    result = curate_command("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 2
    assert one_error_line(result.output) == ("error: c.yaml: inputs.0.path: the input path is empty: give a file, "
                                             "glob, folder or dataset id")


def test_a_weighted_file_whose_name_holds_an_equals_sign_is_that_file(in_tmp):
    """``we=ird:x.jsonl@3``, the file ``we=ird:x.jsonl`` exists: it is that file at weight 3 (its name was cut
    at the ``=``: the input ``we`` of a file ``ird:x.jsonl`` that does not exist)."""
    write_jsonl(in_tmp / "we=ird:x.jsonl", rows(10))
    write_jsonl(in_tmp / "a.jsonl", rows(40, 100))
    assert [(i.name, i.path, i.weight) for i in inputs_from_cli(["we=ird:x.jsonl@3", "n=we=ird:x.jsonl@2"])] == [
        (None, "we=ird:x.jsonl", 3.0), ("n", "we=ird:x.jsonl", 2.0)]
    with pytest.raises(ValueError, match=r"^--input we=ird:x\.jsonl@nan: the weight 'nan' is not a finite number"):
        inputs_from_cli(["we=ird:x.jsonl@nan"])
    result = curate_command("-i", "we=ird:x.jsonl@3", "-i", "a.jsonl@1", "-o", "out")
    assert result.exit_code == 0, result.output
    shares = {i["spec"]: (i["kept"], i["target_share"]) for i in read_manifest(in_tmp / "out")["inputs"]}
    # (12 rows, 9 and 3: 13, all 10 and 3, put the shares at 76.9% and 23.1%, almost two points off 75/25)
    assert shares == {"we=ird:x.jsonl": (9, 0.75), "a.jsonl": (3, 0.25)}


# -- a mapping that cannot be right ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, fmt", [
    ("{path: qa.jsonl, format: conversations, columns: {conversations: question}}", "conversations"),
    ("{path: qa.jsonl, columns: {messages: answer}}", "messages"),
])
def test_a_chat_column_mapped_to_a_text_column_is_one_error_not_every_row_quarantined(in_tmp, entry, fmt):
    write_jsonl(in_tmp / "qa.jsonl", [{"question": f"What is {i}?", "answer": f"It is {i}."} for i in range(8)])
    write_jsonl(in_tmp / "b.jsonl", rows(8))
    write_config(in_tmp, entry[:-1] + ", weight: 1}", "{path: b.jsonl, weight: 1}")
    result = curate_command("-c", "c.yaml", "-o", "out")
    assert result.exit_code == 2
    column = "question" if fmt == "conversations" else "answer"
    assert one_error_line(result.output).startswith(
        f"error: qa.jsonl: columns maps '{fmt}' to '{column}', but no value of '{column}' in its first records is a "
        "list of turns (the first is str)")


# -- what the manifest says of the mix ------------------------------------------------------------------------------

def test_a_mix_switched_off_claims_no_target_share(tmp_path):
    """Weights and ``max_rows`` with ``stages.mix.enabled: false``: every row is kept, and no share is shown
    against a target that nothing drew to (the manifest said 75% / 25% beside 50% / 50%)."""
    a = write_jsonl(tmp_path / "a.jsonl", rows(20))
    b = write_jsonl(tmp_path / "b.jsonl", rows(20, 100))
    c = write_jsonl(tmp_path / "c.jsonl", rows(6, 200))
    manifest = run_local(tmp_path, [{"path": str(a), "weight": 3}, {"path": str(b), "weight": 1},
                                    {"path": str(c), "max_rows": 2}], mix={"enabled": False})
    assert [(i["kept"], i["target_share"]) for i in manifest["inputs"]] == [(20, None), (20, None), (6, None)]
    assert [i["target_rows"] for i in manifest["inputs"]] == [None, None, None]  # (nothing drew to max_rows either)
    assert [m["target"] for m in manifest["mix"]] == [None, None, None]


def test_a_max_rows_input_shows_its_row_cap_as_its_target(tmp_path):
    """An input with ``max_rows`` and no weight: its target is the most rows the mix may take of it, in the
    manifest (``target_rows``) and in the tables (``≤ 4 rows``; it showed ``–``, as if it asked for nothing)."""
    from curation.mix_report import target_text

    a = write_jsonl(tmp_path / "a.jsonl", rows(20))
    c = write_jsonl(tmp_path / "c.jsonl", rows(10, 200))
    manifest = run_local(tmp_path, [{"path": str(a), "name": "a", "weight": 1},
                                    {"path": str(c), "name": "c", "max_rows": 4}])
    records = {i["name"]: i for i in manifest["inputs"]}
    assert (records["c"]["kept"], records["c"]["target_share"], records["c"]["target_rows"]) == (4, None, 4)
    assert records["a"]["target_rows"] is None and records["a"]["target_share"] is not None
    assert target_text(records["c"]) == "≤ 4 rows" and target_text(records["a"]) == f"{records['a']['target_share']:.1%}"
    assert target_text({"target_share": None, "target_rows": None}, none="-") == "-"
    assert [m["target_rows"] for m in manifest["mix"]] == [None, 4]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "| c | 10 | 4 | " in card and card.split("| c | 10 | 4 | ")[1].split("\n")[0].endswith("| ≤ 4 rows |")


def test_a_weighted_input_that_dedup_emptied_is_named_left_out(tmp_path):
    """Every row of ``copy`` is a duplicate of ``a``'s: the mix is drawn from ``a`` and ``c`` at 1:1, and its
    stats name ``copy`` as left out (its weight asked for rows none of which reached the mix)."""
    a = write_jsonl(tmp_path / "a.jsonl", rows(30))
    c = write_jsonl(tmp_path / "c.jsonl", rows(10, 500))
    copy = write_jsonl(tmp_path / "copy.jsonl", rows(30)[:12])
    manifest = run_local(tmp_path, [{"path": str(a), "name": "a", "weight": 1},
                                    {"path": str(copy), "name": "copy", "weight": 5},
                                    {"path": str(c), "name": "c", "weight": 1}])
    stats = next(s for s in manifest["stages"] if s["name"] == "mix")["stats"]
    assert stats["left_out"] == ["copy"] and stats["limited_by"] == "c"
    records = {i["name"]: i for i in manifest["inputs"]}
    assert (records["copy"]["kept"], records["copy"]["target_share"]) == (0, None)
    assert records["copy"]["removed"] == {"exact_duplicate": 12}
    assert [(records[n]["kept"], records[n]["share"], records[n]["target_share"]) for n in ("a", "c")] == [
        (10, 0.5, 0.5), (10, 0.5, 0.5)]


def test_an_input_whose_drawn_rows_a_later_stage_removed_keeps_its_target(tmp_path):
    """``long`` was drawn to its half of the mix, then ``token_lengths`` (``drop_too_long``) removed every row of it:
    its target is still its half (the manifest said none, and gave ``a`` a target of 100% that the mix never
    drew to), as the mix stage's stats say; an input the stats name as left out has none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.mix_report import input_accounting

    root = tmp_path / "out"
    root.mkdir()
    pq.write_table(pa.table({"id": ["a1", "a2"], "input": ["a", "a"]}), root / "train.parquet")
    removed = [("long", "filter:too_many_tokens")] * 3 + [("a", "filter:too_many_tokens")] + \
        [("a", "mix:over_share")] * 5 + [("gone", "exact_duplicate")] * 2
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(removed))], "input": [r[0] for r in removed],
                             "reason": [r[1] for r in removed]}), root / "removed.parquet")
    (root / "quarantine.jsonl").write_text("", encoding="utf-8")
    stats = {"limited_by": "long", "left_out": ["gone"]}
    mix = {"name": "mix", "enabled": True, "stats": stats}
    inputs = [{"name": "long", "weight": 1.0}, {"name": "a", "weight": 1.0}, {"name": "gone", "weight": 4.0}]
    assert [(r["kept"], r["target_share"]) for r in input_accounting(root, inputs, mix)] == [
        (0, 0.5), (2, 0.5), (0, None)]


# -- the Ray engine -------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_ray_engine_refuses_overlapping_inputs_and_reports_a_switched_off_mix_alike(ray_cluster, tmp_path):
    from curation.config import load_config
    from curation.engines.ray import RayOptions, run_curation_ray
    from curation.readers import InputError

    (tmp_path / "shards").mkdir()
    a = write_jsonl(tmp_path / "shards" / "a.jsonl", rows(20))
    b = write_jsonl(tmp_path / "b.jsonl", rows(20, 100))
    overlapping = [{"path": str(tmp_path / "shards"), "weight": 1}, {"path": str(a), "weight": 1}]
    with pytest.raises(InputError, match=r"is read by inputs 1 \(.*shards\) and 2 \(.*a\.jsonl\)"):
        run_curation_ray(None, tmp_path / "refused", load_config(None, {"inputs": overlapping}), RayOptions())
    cfg = load_config(None, {"report": False, "checkpoint": False, "stages": {"mix": {"enabled": False}},
                             "inputs": [{"path": str(a), "weight": 3}, {"path": str(b), "weight": 1}]})
    run_curation_ray(None, tmp_path / "ray", cfg, RayOptions(unit_bytes=20_000, unit_records=10))
    manifest = read_manifest(tmp_path / "ray")
    assert manifest["accounting"]["balanced"]
    assert [(i["kept"], i["target_share"]) for i in manifest["inputs"]] == [(20, None), (20, None)]


def test_two_subsets_of_one_hub_dataset_are_two_inputs_and_one_split_twice_is_refused():
    """Two configurations of one hub dataset (smoltalk's) are other rows: they were refused as one input listed
    twice. ``org/ds`` (train by default), ``org/ds:train`` and ``split: train`` read one split: listed twice, the
    second's rows would all be removed as duplicates; that passed."""
    subsets = [InputConfig(path="HuggingFaceTB/smoltalk", subset=s) for s in ("smol-magpie-ultra", "smol-rewrite")]
    assert [i.name for i in name_inputs(subsets)] == ["smoltalk-smol-magpie-ultra", "smoltalk-smol-rewrite"]
    assert len(name_inputs([InputConfig(path="org/ds"), InputConfig(path="org/ds:test")])) == 2
    for pair in ([{"path": "org/ds"}, {"path": "org/ds:train"}],
                 [{"path": "org/ds"}, {"path": "org/ds", "split": "train"}],
                 [{"path": "org/ds:test"}, {"path": "org/ds", "split": "test"}],
                 [{"path": "org/ds", "subset": "x"}, {"path": "org/ds:train", "subset": "x"}]):
        with pytest.raises(ValueError, match=r"is listed twice \(inputs 1 and 2\)"):
            name_inputs([InputConfig(**entry) for entry in pair])
