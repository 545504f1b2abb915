"""Scores near the largest double (a sentinel such as 1.8e308, -1e308 beside 1e308): finite, so kept as scores,
but no chart axis spans them; the report leaves the chart out and the run ends normally, as on any scores."""

from __future__ import annotations

import json
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from curation.report import plots


@pytest.mark.parametrize("kept, removed", [
    ([1e308], []),
    ([1e308, 1e308], [1.5e308]),
    ([-1e308], [1e308]),
    ([-1.7976931348623157e308, 1.7976931348623157e308], []),
    ([0.0, 1e308], []),
])
def test_scores_no_axis_spans_leave_the_chart_out_quietly(kept, removed):
    facts = types.SimpleNamespace(scores_kept=np.array(kept, float), scores_removed=np.array(removed, float))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plots.scores(facts) == ""


@pytest.mark.parametrize("kept", [[4.5], [4.5, 4.5], [1e17], [1e17, 1e17], [0.0, 1e300], [-3.0, 2.0]])
def test_ordinary_and_large_scores_are_still_charted(kept):
    facts = types.SimpleNamespace(scores_kept=np.array(kept, float), scores_removed=np.array([], float))
    assert "<svg" in plots.scores(facts)


def test_curate_with_a_score_near_the_largest_double_writes_its_report(tmp_path: Path, alpaca_path: Path):
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation
    from curation.report import REPORT_HTML, REPORT_MD

    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:20]]
    data = tmp_path / "in.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"conversations": row["conversations"], "score": [1e308, -1e308, None][i % 3]}) + "\n")
    out = tmp_path / "out"
    run_curation(str(data), out, load_config(overrides={"checkpoint": False}))
    accounting = read_manifest(out)["accounting"]
    assert accounting["input_rows"] == 20
    assert accounting["in_splits"] + accounting["removed"] + accounting["quarantined"] == 20
    page = (out / REPORT_HTML).read_text(encoding="utf-8")
    scores = page.split('id="scores"', 1)[1]
    assert "No row has a" not in scores.split("</section>", 1)[0]  # the rows have scores: the table says how many
    assert (out / REPORT_MD).exists()
