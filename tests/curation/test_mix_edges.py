"""Mixing as data engineers push it: a ``total_rows`` that no weighted input scales to (was: the whole run went
through every stage, then stopped with an error at the mix), what set the mix's size when a small input
shrinks the others (the stats name it), and which input the keep policy preferred for a conversation that two
inputs hold, and why (the manifest's inputs say it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.core.stage import POS, ReduceContext, StageError
from curation.inputs import InputConfig
from curation.mix import Mix, MixConfig, size_limit
from curation.mix_report import duplicates_kept_in, input_accounting

WORDS = [f"word{i}" for i in range(400)]


def rows(n: int, start: int = 0, score: float | None = None) -> list[dict]:
    """``n`` distinct conversations that no filter removes (long random answers), numbered from ``start``."""
    rng = np.random.default_rng(start)
    return [{"conversations": [{"from": "human", "value": f"Question {start + i}: explain the topic in detail."},
                               {"from": "gpt", "value": " ".join(rng.choice(WORDS, size=60).tolist())}],
             "score": score} for i in range(n)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def decide(mix: Mix, labels: list[str]):
    keys = pa.table({POS: pa.array(range(len(labels)), pa.int64()), "id": [f"r{i}" for i in range(len(labels))],
                     "input": labels})
    return mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None))


# -- total_rows with nothing to scale ---------------------------------------------------------------------------

@pytest.mark.parametrize("inputs", [
    [],  # one input given without a weight: the stages see no inputs list
    [InputConfig(path="a", name="a"), InputConfig(path="b", name="b")],
    [InputConfig(path="a", name="a", max_rows=80), InputConfig(path="b", name="b", max_rows=30)],
    [InputConfig(path="a", name="a", max_rows=5), InputConfig(path="b", name="b")],
])
def test_a_total_rows_no_weighted_input_scales_to_is_refused_as_the_stage_is_built(inputs):
    with pytest.raises(StageError, match=r"^stages\.mix\.total_rows is 100 but no input has a weight to scale to it"):
        Mix(MixConfig(total_rows=100), inputs)


@pytest.mark.parametrize("inputs", [
    [InputConfig(path="a", name="a", weight=1), InputConfig(path="b", name="b")],
    [InputConfig(path="a", name="a", max_rows=70), InputConfig(path="b", name="b", max_rows=30)],  # fits: no-op
])
def test_a_total_rows_with_a_weighted_input_or_room_for_every_max_rows_is_taken(inputs):
    Mix(MixConfig(total_rows=100), inputs)


def test_the_command_refuses_total_rows_for_an_unweighted_input_before_reading_it(tmp_path):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    data = write_jsonl(tmp_path / "rows.jsonl", rows(30))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["curate", "-q", "-i", str(data), "-o", str(out),
                                      "--set", "stages.mix.total_rows=10"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: stages.mix.total_rows is 10 but no input has a weight")
    assert "-i PATH@1" in lines[0] and "Traceback" not in result.output
    assert not out.exists()  # refused before the output folder was made


# -- what limited the mix ---------------------------------------------------------------------------------------

def test_the_stats_name_the_input_that_shrank_the_others_to_its_share():
    """A one-row input at an equal weight: the mix is three rows (never the one row repeated), and says why."""
    mix = Mix(MixConfig(), [InputConfig(path=n, name=n, weight=1) for n in ("tiny", "b", "c")])
    decisions = decide(mix, ["tiny"] + ["b"] * 50 + ["c"] * 40)
    assert [decisions.stats["per_input"][n]["taken"] for n in ("tiny", "b", "c")] == [1, 1, 1]
    assert decisions.stats["limited_by"] == "tiny"


def test_the_stats_name_total_rows_when_the_cap_is_lower_than_every_input_allows():
    mix = Mix(MixConfig(total_rows=10), [InputConfig(path=n, name=n, weight=1) for n in ("a", "b")])
    decisions = decide(mix, ["a"] * 50 + ["b"] * 40)
    assert decisions.stats["limited_by"] == "total_rows"
    assert sum(s["taken"] for s in decisions.stats["per_input"].values()) == 10


def test_size_limit_without_weights_beside_a_max_rows_input_and_for_equals():
    assert size_limit({"a": 5, "b": 9}, {}, {}) is None
    assert size_limit({"a": 100, "b": 100, "c": 7}, {"a": 1, "b": 1}, {"c": 5}, 120) == "total_rows"
    assert size_limit({"a": 100, "b": 100, "c": 7}, {"a": 1, "b": 1}, {"c": 5}, 205) == "a"  # equals: listed first
    assert size_limit({"a": 100, "b": 10}, {"a": 1, "b": 1}, {}, None) == "b"


# -- which input the keep policy preferred, and why -------------------------------------------------------------

def test_the_manifest_says_which_input_kept_each_inputs_duplicates_and_why(tmp_path):
    """``first`` (listed first, no scores) shares 6 conversations with ``second``, 4 of them with a score in
    ``scored`` (listed last): the scored copies win on score, the others on list order."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    shared = rows(6, start=1000)
    first = write_jsonl(tmp_path / "first.jsonl", rows(20) + shared)
    second = write_jsonl(tmp_path / "second.jsonl", rows(20, start=100) + shared[4:])
    scored = write_jsonl(tmp_path / "scored.jsonl", rows(20, start=200) + [{**r, "score": 4.5} for r in shared[:4]])
    out = tmp_path / "out"
    run_curation(None, out, load_config(None, {"report": False, "checkpoint": False, "inputs": [
        {"path": str(first), "name": "first", "weight": 1}, {"path": str(second), "name": "second", "weight": 1},
        {"path": str(scored), "name": "scored", "weight": 1}]}))
    records = {r["name"]: r for r in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert records["first"]["duplicates_kept_in"] == {"scored": {"higher score": 4}}
    assert records["second"]["duplicates_kept_in"] == {"first": {"listed first": 2}}
    assert records["scored"]["duplicates_kept_in"] == {}
    for name, kept_in in (("first", 4), ("second", 2)):
        assert records[name]["removed"]["exact_duplicate"] == kept_in
    from curation.report import write_report

    write_report(out)  # both pages say it under the inputs table
    assert "- second: 2 duplicate(s) kept in first instead (2 listed first)." in (out / "report.md").read_text()
    assert "<li>first: 4 duplicate(s) kept in scored instead (4 higher score).</li>" in (out / "report.html").read_text()


def write_folder(root: Path, kept: list[tuple], removed: list[tuple]) -> Path:
    """An output folder of the columns the accounting reads: kept rows ``(id, input, score)`` in train, removed
    rows ``(id, input, reason, duplicate_of, score)``."""
    root.mkdir()
    pq.write_table(pa.table({"id": [r[0] for r in kept], "input": [r[1] for r in kept],
                             "score": pa.array([r[2] for r in kept], pa.float64())}), root / "train.parquet")
    pq.write_table(pa.table({"id": [r[0] for r in removed], "input": [r[1] for r in removed],
                             "reason": [r[2] for r in removed],
                             "duplicate_of": pa.array([r[3] for r in removed], pa.string()),
                             "score": pa.array([r[4] for r in removed], pa.float64())}), root / "removed.parquet")
    (root / "quarantine.jsonl").write_text("", encoding="utf-8")
    return root


def test_a_kept_copy_removed_later_a_duplicate_within_one_input_and_against_are_told_apart(tmp_path):
    """The kept copy may itself be removed after dedup (by a filter, the mix): it still names its input. A
    duplicate within one input, and ``duplicate_of_existing`` (an id of the existing set), prefer no input."""
    kept = [("k1", "a", None), ("k2", "b", 3.0)]
    removed = [("d1", "b", "near_duplicate", "k1", float("nan")),  # NaN: no score, as the policy reads it
               ("d2", "b", "exact_duplicate", "m1", None),  # kept copy removed later, by the mix
               ("m1", "a", "mix:over_share", None, None),
               ("d3", "a", "exact_duplicate", "k2", 1.0),  # b's copy scored higher
               ("d4", "b", "exact_duplicate", "k2", None),  # within b
               ("d5", "b", "duplicate_of_existing", "k1", None)]
    root = write_folder(tmp_path / "out", kept, removed)
    inputs = [{"name": "a", "weight": 1.0}, {"name": "b", "weight": 1.0}]
    assert duplicates_kept_in(root, inputs) == {"a": {"b": {"higher score": 1}}, "b": {"a": {"listed first": 2}}}
    assert [r["duplicates_kept_in"] for r in input_accounting(root, inputs)] == [{"b": {"higher score": 1}},
                                                                                 {"a": {"listed first": 2}}]
    assert duplicates_kept_in(root, inputs[:1]) == {}  # one input: nothing to prefer


def test_the_report_and_summary_say_which_input_kept_the_duplicates_and_what_sized_the_mix():
    """The manifest said it, but nothing a user reads did: the inputs table of both report pages and of the
    command's summary is followed by one sentence per input whose duplicates another kept, and one naming what
    set the mix's size."""
    from curation.report.facts import mix_notes

    inputs = [{"name": "a", "duplicates_kept_in": {}},
              {"name": "b", "duplicates_kept_in": {"a": {"listed first": 3, "higher score": 1}}}]
    assert mix_notes(inputs, {"limited_by": "a"}) == [
        "b: 4 duplicate(s) kept in a instead (3 listed first, 1 higher score).",
        "The mix's size was set by a: all of its rows at its share (the mix never repeats rows to fill a share; "
        "the other inputs shrank to it)."]
    assert mix_notes(inputs[:1], {"limited_by": "total_rows"}) == ["The mix's size was set by total_rows."]
    assert mix_notes([{"name": "x"}], None) == []
    # a weighted input with no row left when the mix was drawn: its "-" target is explained, and where its weight
    # went: to the other weighted inputs, where there are any (beside one given max_rows alone, nowhere)
    weighted = [{"name": "a", "weight": 2.0}, {"name": "gone", "weight": 1.0}]
    assert mix_notes(weighted, {"limited_by": None, "left_out": ["gone"]}) == [
        "gone: left out of the mix, no target share (none of its rows was left when the mix was drawn: all removed "
        "or quarantined before it); the other weighted inputs shared its weight."]
    beside_max_rows = [{"name": "a", "max_rows": 5}, {"name": "gone", "weight": 1.0}]
    assert mix_notes(beside_max_rows, {"limited_by": None, "left_out": ["gone"]}) == [
        "gone: left out of the mix, no target share (none of its rows was left when the mix was drawn: all removed "
        "or quarantined before it)."]



def test_weights_the_switched_off_mix_did_not_apply_are_said(tmp_path):
    """With `stages.mix.enabled: false` the inputs' weights and max_rows were ignored without a word (the target
    column showed "-"): the summary and both report pages now say so; an applied mix says nothing of it."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    rows = [{"conversations": [{"from": "human", "value": f"Question {tag} {i}: why is the sky blue at noon?"},
                               {"from": "gpt", "value": f"Answer {tag} {i}: because air scatters blue light the most."}]}
            for tag in ("a", "b") for i in range(30)]
    for tag in ("a", "b"):
        (tmp_path / f"{tag}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if f" {tag} " in r["conversations"][0]["value"]))
    said = "The mix stage is off (stages.mix.enabled: false): the weight or max_rows of a, b was not applied"
    for enabled in (False, True):
        out = tmp_path / f"out-{enabled}"
        result = CliRunner().invoke(app, ["curate", "-i", f"a={tmp_path / 'a.jsonl'}@2", "-i", f"b={tmp_path / 'b.jsonl'}@1",
                                          "-o", str(out), "--set", f"stages.mix.enabled={str(enabled).lower()}"],
                                    env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        assert (said in result.output) is not enabled, result.output
        assert (said in (out / "report.md").read_text(encoding="utf-8")) is not enabled
        assert (said in (out / "report.html").read_text(encoding="utf-8")) is not enabled

# -- a mix with no row to mix -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stages", [{}, pytest.param({"semantic_dedup": {"enabled": True}}, marks=pytest.mark.slow)],
                         ids=["defaults", "semantic"])
@pytest.mark.parametrize("weights", [False, True], ids=["no-weights", "weights"])
def test_a_mix_whose_every_row_is_quarantined_ends_with_empty_splits(tmp_path, weights, stages):
    """Was a traceback (``Field "input" does not exist``): the dedup stages and the mix read the rows' input labels
    from a batch of no row, which the engine builds without them."""
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    (tmp_path / "bad.jsonl").write_text("not json\n{\"conversations\": 3}\n", encoding="utf-8")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    inputs = [{"path": str(tmp_path / "bad.jsonl"), "name": "a"}, {"path": str(tmp_path / "empty.jsonl"), "name": "b"}]
    if weights:
        inputs[0]["weight"], inputs[1]["weight"] = 1, 2
    run_curation(None, tmp_path / "out", load_config(None, {"inputs": inputs, "report": True, "stages": stages}))
    accounting = read_manifest(tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == accounting["quarantined"] == 2 and accounting["in_splits"] == 0
    assert accounting["balanced"] and (tmp_path / "out" / "report.html").is_file()


def test_one_weighted_input_shrinks_no_other_and_is_not_named_as_what_sized_the_mix():
    """One weighted input beside inputs with ``max_rows`` or no weight (or alone) keeps every row: the stats named it
    as what set the mix's size, and the report said "the other inputs shrank to it", which they had not; a
    ``total_rows`` that caps it is still named."""
    assert size_limit({"a": 100, "b": 40, "c": 5}, {"a": 3}, {"b": 20}) is None
    assert size_limit({"a": 100}, {"a": 0.3}, {}) is None
    assert size_limit({"a": 100, "c": 5}, {"a": 3}, {}, 50) == "total_rows"
    mix = Mix(MixConfig(), [InputConfig(path="a", name="a", weight=3), InputConfig(path="b", name="b", max_rows=2),
                            InputConfig(path="c", name="c")])
    decisions = decide(mix, ["a"] * 10 + ["b"] * 5 + ["c"] * 3)
    assert decisions.stats["limited_by"] is None
    assert [decisions.stats["per_input"][n]["taken"] for n in "abc"] == [10, 2, 3]
