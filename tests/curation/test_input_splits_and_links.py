"""An input's ``split`` is never dropped unsaid: a path that names a split of its own and a ``split:`` naming
another, a ``split`` of the embedded sample, and a ``split`` of a local file whose name holds a colon were all read
as if no ``split`` had been given (was: ``hub:test`` with ``split: train`` read test's rows)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from curation.config import load_config
from curation.inputs import InputConfig, _spec
from curation.pipeline import InputError, open_source

ROW = {"conversations": [{"from": "human", "value": "What is a tide?"}, {"from": "gpt", "value": "The sea rising."}]}


def _hub_folder(root: Path) -> Path:
    (root / "hub" / "data").mkdir(parents=True)
    (root / "hub" / "data" / "train.jsonl").write_text(json.dumps(ROW) + "\n")
    (root / "hub" / "data" / "test.jsonl").write_text(json.dumps({"instruction": "Why?", "output": "Because."}) + "\n")
    (root / "other.jsonl").write_text(json.dumps({"prompt": "Why is the sky blue?", "completion": "Light."}) + "\n")
    return root / "hub"


def _open(inputs: list[dict]):
    return open_source(None, load_config(None, {"inputs": inputs}))


def test_a_split_that_contradicts_the_paths_own_split_is_one_error(tmp_path):
    hub = _hub_folder(tmp_path)
    with pytest.raises(InputError, match=r"^inputs: .*hub:test names split 'test' but its split is 'train'"):
        _open([{"path": f"{hub}:test", "split": "train", "weight": 1}, {"path": str(tmp_path / "other.jsonl")}])


def test_the_same_split_in_the_path_and_as_split_is_read(tmp_path):
    hub = _hub_folder(tmp_path)
    source, config = _open([{"path": f"{hub}:test", "split": "test", "weight": 1},
                            {"path": str(tmp_path / "other.jsonl")}])
    assert [i.format for i in config.inputs] == ["alpaca", "prompt_completion"]
    assert _spec(InputConfig(path=str(hub), split="test")) == f"{hub}:test"


def test_a_split_of_the_embedded_sample_is_one_error():
    with pytest.raises(ValueError, match=r"^inputs: sample has split 'test', but the embedded sample has no splits"):
        _spec(InputConfig(path="sample", split="test"))


def test_a_split_of_a_local_file_named_with_a_colon_is_refused_as_any_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("co:lon.jsonl").write_text(json.dumps(ROW) + "\n")
    Path("plain.jsonl").write_text(json.dumps(ROW) + "\n")
    Path("other.jsonl").write_text(json.dumps({"prompt": "Why is the sky blue?", "completion": "Light."}) + "\n")
    assert _spec(InputConfig(path="co:lon.jsonl", split="test")) == "co:lon.jsonl:test"
    for name in ("co:lon.jsonl", "plain.jsonl"):
        with pytest.raises(InputError, match=r"is not a datasets\.save_to_disk folder, so it has no split 'test'"):
            _open([{"path": name, "split": "test", "weight": 1},
                   {"path": "other.jsonl", "weight": 1}])


def test_one_file_under_two_names_a_hard_link_is_refused(tmp_path):
    """(was: read twice, every row of the second input removed as an exact duplicate, its weight left unmet)"""
    first = tmp_path / "rows.jsonl"
    first.write_text(json.dumps(ROW) + "\n")
    link = tmp_path / "same_rows.jsonl"
    os.link(first, link)
    with pytest.raises(InputError, match=r"^inputs: .*same_rows\.jsonl \(input 2, .*\) and .*rows\.jsonl \(input 1, "
                                         r".*\) are one file \(a hard link\)"):
        _open([{"path": str(first), "weight": 1}, {"path": str(link), "weight": 1}])


@pytest.mark.parametrize("split", ["", "  "])
def test_a_blank_split_is_one_config_error_naming_the_input_and_field(tmp_path, split):
    """(was: read as no split at all, train, without a word)"""
    from tomecraft.config_files import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text(f"inputs:\n  - {{path: a.jsonl, split: '{split}'}}\n  - {{path: b.jsonl}}\n")
    with pytest.raises(ConfigError, match=r"inputs\.0\.split: the split is blank"):
        load_config(config)


@pytest.mark.parametrize("split", ["train/x", "test[:10]", "train split", "-"])
def test_a_split_datasets_would_refuse_is_one_config_error(tmp_path, split):
    """(was: a local folder laid out as a hub repo loaded whole through datasets, its progress bars shown under
    -q, then an error blaming an unreachable hub for datasets' own refusal of the name)"""
    from tomecraft.config_files import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text(f"inputs:\n  - {{path: a.jsonl, split: '{split}'}}\n")
    with pytest.raises(ConfigError, match=r"inputs\.0\.split: .* is no split name: a split is named with letters"):
        load_config(config)


def test_a_local_folder_with_a_split_datasets_would_refuse_is_one_line(tmp_path):
    from curation.readers import InputError, open_input

    folder = tmp_path / "repo"
    (folder / "data").mkdir(parents=True)
    for split in ("train", "test"):
        (folder / "data" / f"{split}-00000-of-00001.jsonl").write_text(
            '{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}\n')
    with pytest.raises(InputError, match=r"repo:train/x: 'train/x' is no split name \(nor is .* a path\)"):
        open_input(f"{folder}:train/x")
    assert open_input(f"{folder}:test").split == "test"


@pytest.mark.parametrize("record,error", [
    ({"question": "other names", "a": "A."},
     "no column 'q' (read as instruction; the input is read as alpaca; this row has question, a)"),
    ({"q": None, "a": "A."}, "column 'q' (read as instruction) is null"),
    ({"q": "Q?", "a": None}, "column 'a' (read as output) is null"),
    ({"q": ["a", "list"], "a": "A."}, "column 'q' (read as instruction) is list, expected text"),
])
def test_a_mapped_columns_row_error_names_the_inputs_own_column(record, error):
    """(was: the canonical name only, 'no column 'instruction' (...; this row has question, output)': neither
    name is in the row the message quotes)"""
    from curation.formats import FormatError
    from curation.inputs import adapt_record

    with pytest.raises(FormatError) as err:
        adapt_record(record, "alpaca", {"instruction": "q", "output": "a"})
    assert str(err.value) == error


def test_a_mapped_prompt_completion_row_error_names_the_inputs_own_column():
    from curation.formats import FormatError
    from curation.inputs import adapt_record

    with pytest.raises(FormatError, match=r"^column 'ask' \(read as prompt\) is null$"):
        adapt_record({"ask": None, "reply": "R."}, "prompt_completion", {"prompt": "ask", "completion": "reply"})
    with pytest.raises(FormatError, match=r"^no column 'reply' \(read as completion; the input is read as "
                                         r"prompt_completion; this row has ask\)$"):
        adapt_record({"ask": "P?"}, "prompt_completion", {"prompt": "ask", "completion": "reply"})


def test_a_row_read_past_the_mapping_the_user_gave_says_so(tmp_path):
    """A file holding `conversations` and the mapped Alpaca columns `q`/`ans`, null in some rows: those rows were
    read from `conversations` without a word, the manifest saying the input is read through the mapping. The row
    says it now (`read_in_own_format`); a row the mapping reads says nothing."""
    import pyarrow.parquet as pq

    from curation.pipeline import run_curation

    turns = [{"from": "human", "value": "What is the capital of France, please?"},
             {"from": "gpt", "value": "Paris is the capital of France, on the Seine."}]
    rows = [{"conversations": turns, "q": None, "ans": None},
            {"conversations": None, "q": "Name a primary colour, if you would.", "ans": "Red is a primary colour."}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "c.yaml"
    config.write_text(f"report: false\ncheckpoint: false\nstages: {{split: {{train: 1.0, validation: 0.0, test: 0.0}}}}\ninputs:\n"
                      f"  - {{path: {tmp_path / 'rows.jsonl'}, format: alpaca, columns: {{instruction: q, output: ans}}}}\n")
    run_curation(None, tmp_path / "out", load_config(config))
    got = {r["conversations"][0]["value"]: r.get("repairs") for r in pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()}
    assert got == {turns[0]["value"]: '{"read_in_own_format": ["conversations"]}', rows[1]["q"]: None}


def test_a_split_of_a_uri_is_one_error():
    """(was: dropped unsaid, every file under the URI read as the input)"""
    with pytest.raises(ValueError, match=r"^inputs: file:///data/hub has split 'test', but splits are read from hub "
                                         r"datasets and local folders only, not from a URI"):
        _spec(InputConfig(path="file:///data/hub", split="test"))


def test_an_input_that_cannot_be_opened_is_named_in_the_error(tmp_path):
    """(was: "nothere.jsonl: file not found", the path only: which of the inputs: entries it is was left to guess)"""
    (tmp_path / "b.jsonl").write_text(json.dumps(ROW) + "\n")
    missing = tmp_path / "nothere.jsonl"
    with pytest.raises(InputError, match=rf"^chat \({re.escape(str(missing))}\): file not found$"):
        _open([{"name": "chat", "path": str(missing), "weight": 1}, {"path": str(tmp_path / "b.jsonl")}])
    with pytest.raises(InputError, match=rf"^{re.escape(str(missing))}: file not found$"):  # named by its path: said once
        _open([{"path": str(missing), "weight": 1}, {"path": str(tmp_path / "b.jsonl")}])
