"""Shares within a point of their targets where whole rows allow it, and said where they do not. A small mix
draws the most rows that meet every share (was: weights 1:3 over 2 and 5 rows drew 7, 28.6% and 71.4%, where 4
rows give 25/75). A weighted input whose share still ends more than a point from its target is said, with why: a
mix too small for its weights in whole rows (weights 0.5/0.3/0.2 and one row at 20% make a mix of 5 rows:
60/20/20), or the stages after the mix (augmentation adds rows, decontamination removes some). Was: the inputs
table showed 60.0% beside a 50.0% target, and neither report page nor the command's summary said a word of it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from curation.core.stage import POS, ReduceContext
from curation.inputs import InputConfig
from curation.mix import Mix, MixConfig, allocate, weight_shares
from curation.mix_report import missed_targets
from curation.report.facts import mix_notes

NOT_ACHIEVABLE = "not achievable, the mix drew 5 rows"


def write_rows(path: Path, tag: str, n: int) -> Path:
    rows = [{"conversations": [{"from": "human", "value": f"Question {tag} {i}: why is the sky blue at noon?"},
                               {"from": "gpt", "value": f"Answer {tag} {i}: because air scatters blue light the most."}]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_shares_the_weights_cannot_reach_in_whole_rows_are_said_in_the_summary_and_both_reports(tmp_path):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    a, b = write_rows(tmp_path / "a.jsonl", "a", 40), write_rows(tmp_path / "b.jsonl", "b", 40)
    for rows_of_c in (1, 20):  # 1 row of c: a mix of 5 rows; 20: 100 rows, each share on its target
        c = write_rows(tmp_path / f"c{rows_of_c}.jsonl", "c", rows_of_c)
        out = tmp_path / f"out{rows_of_c}"
        result = CliRunner().invoke(app, ["curate", "-i", f"a={a}@0.5", "-i", f"b={b}@0.3", "-i", f"c={c}@0.2",
                                          "-o", str(out), "--set", "stages.near_dedup.enabled=false"],
                                    env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        inputs = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["inputs"]}
        pages = [result.output, (out / "report.md").read_text(encoding="utf-8"),
                 (out / "report.html").read_text(encoding="utf-8")]
        if rows_of_c == 1:
            assert [inputs[n]["share"] for n in "abc"] == [0.6, 0.2, 0.2]  # as close as 5 rows come
            for page in pages:
                assert "a: 60.0% of the kept rows, not the 50.0% its weight asks: " + NOT_ACHIEVABLE in page
                assert "b: 20.0% of the kept rows, not the 30.0% its weight asks: " + NOT_ACHIEVABLE in page
                assert "c: 20.0% of the kept rows" not in page  # on its target: nothing said
        else:
            assert all(abs(i["share"] - i["target_share"]) <= 0.01 for i in inputs.values())
            assert not any("its weight asks" in page for page in pages)


def test_a_share_the_stages_after_the_mix_moved_is_said_with_what_moved_it():
    inputs = [{"name": "a", "share": 0.62, "target_share": 0.5, "augmented": 30,
               "removed": {"mix:over_share": 400, "decontaminated": 2}},
              {"name": "b", "share": 0.38, "target_share": 0.5, "augmented": 0, "removed": {"decontaminated": 12}},
              {"name": "m", "share": 0.0, "target_share": None, "target_rows": 0, "removed": {"mix:max_rows": 9}}]
    stats = {"per_input": {"a": {"taken": 50, "share": 0.5}, "b": {"taken": 50, "share": 0.5},
                           "m": {"taken": 0, "share": 0.0}}}
    assert missed_targets(inputs, stats) == [
        "a: 62.0% of the kept rows, not the 50.0% its weight asks: the mix drew it at 50.0%; the stages after the mix "
        "moved it (30 added by augment, 2 decontaminated).",
        "b: 38.0% of the kept rows, not the 50.0% its weight asks: the mix drew it at 50.0%; the stages after the mix "
        "moved it (12 decontaminated)."]
    # within a point of the target: nothing to say; and the notes under the table carry the sentences
    assert missed_targets([{**inputs[0], "share": 0.509}], stats) == []
    assert len(mix_notes(inputs, stats)) == 2


@pytest.mark.parametrize("available,weights,expected", [
    ({"a": 2, "b": 5}, {"a": 1, "b": 3}, {"a": 1, "b": 3}),  # was 2/5 (7 rows): 28.6% and 71.4% for 25/75
    ({"a": 1000, "b": 300, "c": 3}, {"a": 0.5, "b": 0.3, "c": 0.2}, {"a": 5, "b": 3, "c": 2}),  # was 8/4/3 of 15
])
def test_a_small_mix_draws_the_most_rows_whose_shares_meet_the_weights(available, weights, expected):
    """Whole rows of a small mix put a share several points off its target where fewer rows meet every target:
    the mix takes the most rows that do, and its stats say how many the scarcest allowed."""
    why: dict = {}
    took = allocate(available, weights, {}, None, why)
    assert took == expected
    drawn = sum(took.values())
    shares = weight_shares(weights)
    assert all(abs(took[n] / drawn - shares[n]) <= 0.01 for n in weights)
    assert why["rows"] == drawn and why["allowed"] > drawn
    labels = [name for name, n in available.items() for _ in range(n)]
    mix = Mix(MixConfig(), [InputConfig(path=n, name=n, weight=w) for n, w in weights.items()])
    keys = pa.table({POS: pa.array(range(len(labels)), pa.int64()), "id": [f"r{i}" for i in range(len(labels))],
                     "input": labels})
    stats = mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None)).stats
    assert stats["rounded"] == why
    assert mix_notes([], stats)[0] == (f"The weighted inputs gave the mix {drawn:,} rows, not the {why['allowed']:,} "
                                       f"{stats['limited_by']} allowed: in whole rows, {why['allowed']:,} put a share "
                                       "more than a point from its target.")


def test_a_mix_no_smaller_draw_meets_keeps_the_rows_the_scarcest_allows_and_large_mixes_are_untouched():
    why: dict = {}
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}
    assert allocate({"a": 40, "b": 40, "c": 1}, weights, {}, None, why) == {"a": 3, "b": 1, "c": 1}
    assert why == {}  # 4, 3, 2 or 1 rows meet the shares no better: the 5 rows stay, and the report says it
    assert allocate({"a": 1000, "b": 300, "c": 50}, weights, {}, None, why) == {
        "a": 125, "b": 75, "c": 50}
    assert why == {}
