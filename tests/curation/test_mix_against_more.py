"""Mixing edge cases the other mix tests leave out: one input whose rows hold a column named ``input`` of their own
(its data, which only labels rows with two inputs or more: read as a label, the mix grouped the rows by its
values, ignored the input's ``max_rows`` and the manifest counted none of its rows), the targets of a mix
that keeps no row at all, and input names that are blank or hold a control character."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from curation.core.stage import POS, REASON, ReduceContext
from curation.inputs import InputConfig, inputs_from_cli
from curation.mix import Mix, MixConfig, target_shares
from curation.mix_report import input_accounting

WORDS = [f"word{i}" for i in range(400)]


def own_input_rows(n: int) -> list[dict]:
    """``n`` distinct conversations (long random answers: no filter removes them) with an ``input`` field of their
    own (three values), as metadata, or an instruction's context."""
    rng = np.random.default_rng(0)
    return [{"conversations": [{"from": "human", "value": f"Question {i}: explain the topic in detail."},
                               {"from": "gpt", "value": " ".join(rng.choice(WORDS, size=60).tolist())}],
             "input": f"meta{i % 3}"} for i in range(n)]


def test_one_inputs_own_input_column_is_no_label_for_the_mix():
    mix = Mix(MixConfig(), [InputConfig(path="rows.jsonl", name="rows", max_rows=3)])
    batch = pa.RecordBatch.from_pydict({POS: pa.array(range(9), pa.int64()), "id": [f"r{i}" for i in range(9)],
                                        "input": [f"meta{i % 3}" for i in range(9)]})
    keys = mix.keys(batch)
    assert set(keys.column("input").to_pylist()) == {"rows"}
    decisions = mix.decide(pa.Table.from_batches([keys]), ReduceContext(config=None, cache_dir=Path("."), fetch=None))
    assert decisions.table.num_rows == 6 and set(decisions.table.column(REASON).to_pylist()) == {"mix:max_rows"}
    assert decisions.stats["per_input"] == {"rows": {"available": 9, "taken": 3, "share": 1.0, "target_share": None}}


def test_one_inputs_own_input_column_is_no_label_for_the_accounting(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    pq.write_table(pa.table({"id": ["k0", "k1"], "input": ["meta0", "meta1"]}), root / "train.parquet")
    pq.write_table(pa.table({"id": ["r0"], "input": ["meta2"], "reason": ["mix:max_rows"]}), root / "removed.parquet")
    (root / "quarantine.jsonl").write_text(json.dumps({"position": {"line": 4}, "raw": "x", "error": "e"}) + "\n",
                                           encoding="utf-8")
    [record] = input_accounting(root, [{"name": "rows", "max_rows": 2}])
    assert (record["rows_in"], record["kept"], record["removed"], record["quarantined"]) == (4, 2, {"mix:max_rows": 1}, 1)


def test_a_single_input_with_max_rows_takes_them_whatever_its_rows_input_column_holds(tmp_path):
    from curation.config import load_config
    from curation.contract import SPLITS, read_manifest
    from curation.pipeline import run_curation

    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in own_input_rows(30)), encoding="utf-8")
    out = tmp_path / "out"
    run_curation(None, out, load_config(None, {"report": False, "checkpoint": False,
                                               "inputs": [{"path": str(path), "max_rows": 10}]}))
    manifest = read_manifest(out)
    kept = pa.concat_tables([pq.read_table(out / f"{s}.parquet") for s in SPLITS])
    assert kept.num_rows == 10
    assert set(kept.column("input").to_pylist()) <= {"meta0", "meta1", "meta2"}  # the rows' own column, as it was
    [record] = manifest["inputs"]
    assert (record["rows_in"], record["kept"], record["removed"]) == (30, 10, {"mix:max_rows": 20})
    assert record["rows_in"] == manifest["accounting"]["input_rows"]


def test_a_mix_that_keeps_no_row_still_targets_the_weights_shares():
    """``total_rows: 0``: nothing is kept, and the weights 3:1 still ask for 75% and 25% (were 0% each)."""
    assert target_shares({"a": 3.0, "b": 1.0}, {"a": 0, "b": 0, "c": 0}) == {"a": 0.75, "b": 0.25}
    mix = Mix(MixConfig(total_rows=0), [InputConfig(path="a", name="a", weight=3), InputConfig(path="b", name="b", weight=1)])
    labels = ["a"] * 4 + ["b"] * 4
    keys = pa.table({POS: pa.array(range(8), pa.int64()), "id": [f"r{i}" for i in range(8)], "input": labels})
    decisions = mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None))
    assert decisions.table.num_rows == 8
    assert {n: s["target_share"] for n, s in decisions.stats["per_input"].items()} == {"a": 0.75, "b": 0.25}


# -- input names ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,problem", [
    ("line1\nline2", "control character '\\n'"), ("a\x00b", "control character '\\x00'"),
    ("tab\there", "control character '\\t'"), ("   ", "the name is blank"), ("a\u2028b", "control character"),
    ("\u200d\u200b\u2060", "the name is blank"), ("\ufeff \u200b", "the name is blank"),
])
def test_a_name_that_is_blank_or_holds_a_control_character_is_one_clear_error(name, problem):
    """A name labels every row and a row of every table: a line break split the command's table row in two and
    the report and card showed it unlike each other; a NUL went into the data as it was."""
    with pytest.raises(ValidationError, match=re.escape(problem)):
        InputConfig(path="a.jsonl", name=name)
    with pytest.raises(ValueError, match=f"(?s)^--input .*: name: .*{re.escape(problem)}"):
        inputs_from_cli([f"{name}=a.jsonl", "b.jsonl"])


@pytest.mark.parametrize("name", ["a|b|<script>alert(1)</script>", "L" * 300 + "🎉", "&amp; \" ' <img src=x>", "ü b"])
def test_names_of_visible_text_are_kept_as_given(name):
    assert InputConfig(path="a.jsonl", name=name).name == name


def test_a_name_taken_from_a_path_with_a_line_break_is_one_line(tmp_path):
    from curation.inputs import default_name, name_inputs

    assert default_name("data/odd\nname.jsonl") == "odd_name"
    assert default_name("data/ .jsonl") == "input"  # a blank file name: no blank input name
    named = name_inputs([InputConfig(path="data/odd\nname.jsonl"), InputConfig(path="data/odd\rname.jsonl")])
    assert [i.name for i in named] == ["odd_name", "odd_name-2"]
