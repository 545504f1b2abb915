"""Eval files as users have them (a JSON array, a byte order mark, null texts, lone surrogates) are read; files
that cannot be read stop the run with one line naming the file, never a traceback."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.core.stage import StageError
from curation.decontam.config import DecontamConfig
from curation.decontam.eval_sets import EvalSetError, load_eval_items
from curation.decontam.stage import DecontamStage

CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
ITEM = "the quick brown fox jumps over the lazy dog near the river bank at dawn"


def items(tmp_path, name: str, **cfg) -> list:
    return load_eval_items(DecontamConfig(seed_prompts=False, files=[name], **cfg), base=tmp_path)


def test_a_json_file_holding_one_array_is_read_item_by_item(tmp_path):
    (tmp_path / "set.json").write_text(json.dumps([{"question": ITEM}, "a plain string item"], indent=2))
    got = items(tmp_path, "set.json")
    assert [(i.id, i.text) for i in got] == [("set:0", ITEM), ("set:1", "a plain string item")]


def test_a_byte_order_mark_is_no_text(tmp_path):
    (tmp_path / "bom.jsonl").write_text(json.dumps({"text": ITEM}) + "\n", encoding="utf-8-sig")
    (tmp_path / "bom.txt").write_text(ITEM + "\r\n", encoding="utf-8-sig")
    assert [i.text for i in items(tmp_path, "bom.jsonl")] == [ITEM]
    assert [i.text for i in items(tmp_path, "bom.txt")] == [ITEM]


def test_null_texts_are_skipped_like_blank_ones(tmp_path):
    pq.write_table(pa.table({"text": [None, ITEM]}), tmp_path / "nulls.parquet")
    (tmp_path / "nulls.jsonl").write_text(json.dumps({"text": None}) + "\n" + json.dumps({"text": ITEM}) + "\n")
    assert [i.id for i in items(tmp_path, "nulls.parquet")] == ["nulls:1"]
    assert [i.id for i in items(tmp_path, "nulls.jsonl")] == ["nulls:2"]


def test_a_lone_surrogate_escape_becomes_the_replacement_character_and_the_index_builds(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"text": "lone \\ud800 surrogate in ' + ITEM + '"}\n')
    cfg = DecontamConfig(seed_prompts=False, files=[str(tmp_path / "s.jsonl")], ngram=5)
    stage = DecontamStage(cfg)
    got, _ = stage.index()
    assert got[0].text.startswith("lone \ufffd surrogate")
    batch = pa.record_batch({"id": ["r1"], "conversations": pa.array(
        [[{"from": "human", "value": ITEM}, {"from": "gpt", "value": "ok"}]], CONV)})
    assert stage.process(batch).reason.to_pylist() == ["decontaminated"]


@pytest.mark.parametrize("name,content,message", [
    ("missing.jsonl", None, r"missing\.jsonl: eval file not found$"),
    ("bad.txt", b"ok line\n\xff\xfe bad line\n", r"bad\.txt:2: not UTF-8 text \(invalid start byte at byte 0\)$"),
    ("bad.jsonl", b'{"text": "a"}\n{"text": \n', r"bad\.jsonl:2: not valid JSON \(Expecting value\)$"),
    ("bad.parquet", b"PAR1 not parquet", r"bad\.parquet: not a readable Parquet file \("),
    ("arr.json", b'[{"text": "a"},\n  {"text": ]', r"arr\.json:2: not valid JSON \(Expecting value\)$"),
    ("cols.jsonl", b'{"id": 1}\n', r"cols\.jsonl:1: no text field"),
])
def test_an_unreadable_eval_file_is_one_line_naming_it(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(EvalSetError, match=message) as info:
        items(tmp_path, name)
    assert isinstance(info.value, StageError)  # the command line prints a StageError as one line, no traceback
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name,content", [
    ("empty.jsonl", b""), ("blank.txt", b"\n  \n\t\n"), ("blanks.jsonl", b'{"text": "  "}\n{"text": null}\n'),
    ("none.json", b"[]"), ("empty.parquet", None),
])
def test_an_eval_file_that_holds_no_item_is_one_line_not_a_check_of_nothing(tmp_path, name, content):
    """Such a file compared nothing, and the stage reported its eval set as checked."""
    if content is None:
        pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / name)
    else:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(EvalSetError, match=rf"{name.replace('.', '[.]')}: no eval items") as info:
        items(tmp_path, name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content,text_field,message", [
    ('{"text": 5}\n', None, r"t\.jsonl:1: field 'text' is a number, expected text"),
    ('{"question": ["a", "b"]}\n', None, r"t\.jsonl:1: field 'question' is a list, expected text"),
    ('{"q": true, "text": "an item"}\n', "q", r"t\.jsonl:1: field 'q' is true/false, expected text"),
])
def test_a_text_field_that_holds_no_text_is_named_not_called_missing(tmp_path, content, text_field, message):
    (tmp_path / "t.jsonl").write_text(content)
    with pytest.raises(EvalSetError, match=message) as info:
        items(tmp_path, "t.jsonl", text_field=text_field)
    assert "no text field" not in str(info.value) and "\n" not in str(info.value)


def test_a_bad_prompt_set_is_an_eval_set_error_naming_the_setting(tmp_path):
    (tmp_path / "p.yaml").write_text("prompts: 3\n")
    with pytest.raises(EvalSetError, match=r"^stages\.decontaminate\.prompt_sets: .*p\.yaml"):
        load_eval_items(DecontamConfig(prompt_sets=["p.yaml"]), base=tmp_path)


def test_a_split_name_that_does_not_exist_is_a_config_error_not_a_run_that_removes_nothing():
    from pydantic import ValidationError

    assert DecontamConfig(clean_splits=["train", "test"]).clean_splits == ["train", "test"]
    with pytest.raises(ValidationError, match="'train', 'validation' or 'test'"):
        DecontamConfig(clean_splits=["training"])
