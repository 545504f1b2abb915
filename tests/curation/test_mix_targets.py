"""A weighted input whose share ends more than a point from its target is said, with why: a mix too small for
its weights in whole rows (weights 0.5/0.3/0.2 and one row at 20% make a mix of 5 rows: 60/20/20), or the stages
after the mix (augmentation adds rows, decontamination removes some). Was: the inputs table showed 60.0%
beside a 50.0% target, and neither report page nor the command's summary said a word of it."""

from __future__ import annotations

import json
from pathlib import Path

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
