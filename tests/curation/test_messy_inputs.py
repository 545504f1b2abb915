"""Messy inputs an outside user really has: each once broke a run (a traceback, rows silently not read, rows
quarantined that the README says are read). Every row ends in one place, and the error, if any, is one line."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.contract import SPLITS, read_manifest, read_quarantine
from curation.formats import to_conversations
from curation.inputs import adapt_record, inputs_from_cli
from curation.readers import InputError, open_input
from curation.readers.jsonl import parse_block
from curation.readers.raw import raw_batch
from curation.validate import Validate, ValidateConfig, validate_record
from tests.curation.runs import curate, rows_read

Q = "How do leaves turn sunlight into food for the plant?"
A = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"{Q} ({i})"}, {"from": "gpt", "value": f"{A} [{i}]"}], **extra}


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()




# -- reading -------------------------------------------------------------------------------------------------

def test_a_file_of_only_a_byte_order_mark_is_empty(tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf")
    assert rows_read(str(tmp_path / "bom.jsonl")) == 0


def test_a_json_array_after_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "rows.json").write_bytes(b"\xef\xbb\xbf" + json.dumps([row(1), row(2)]).encode())
    assert rows_read(str(tmp_path / "rows.json")) == 2


@pytest.mark.parametrize("one", [
    row(1),
    {"messages": [{"role": "user", "content": Q}, {"role": "assistant", "content": A}], "tags": ["a", "b"]},
    {"instruction": Q, "output": A},
    {"prompt": Q, "completion": A},
], ids=["conversations", "messages", "alpaca", "prompt_completion"])
def test_a_json_file_that_is_one_row_is_that_row(tmp_path, one):
    """A .json file holding one object that is a row (its keys show a chat format) is that one row, not an
    object holding the array of rows (its one list, the turns, was read as the rows)."""
    (tmp_path / "one.json").write_bytes(json.dumps(one).encode())
    assert rows_read(str(tmp_path / "one.json")) == 1
    manifest = curate(str(tmp_path / "one.json"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 1 and manifest["accounting"]["quarantined"] == 0


def test_an_object_holding_the_rows_is_still_the_rows(tmp_path):
    (tmp_path / "rows.json").write_bytes(json.dumps({"version": 2, "data": [row(1), row(2), row(3)]}).encode())
    assert rows_read(str(tmp_path / "rows.json")) == 3


def _by_column(rows: list[dict]) -> dict:
    return {name: [r[name] for r in rows] for name in rows[0]}


ALPACA = [{"instruction": f"{Q} ({i})", "input": "", "output": f"{A} [{i}]"} for i in range(5)]


@pytest.mark.parametrize("document", [
    _by_column([row(i, source=f"s{i % 2}", score=4.5) for i in range(5)]),  # json.dump(Dataset.to_dict())
    _by_column(ALPACA),
    {name: {str(i): v for i, v in enumerate(values)} for name, values in _by_column(ALPACA).items()},  # pandas to_json()
], ids=["conversations_lists", "alpaca_lists", "alpaca_pandas_columns"])
def test_a_column_oriented_json_file_is_its_rows(tmp_path, document):
    """A document of columns (each key a list of one value per row, or pandas' {column: {index: value}}) was one
    row, quarantined ("column 'instruction' is list"): every row of the file was lost to the run."""
    (tmp_path / "cols.json").write_bytes(json.dumps(document).encode())
    manifest = curate(str(tmp_path / "cols.json"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 5 and manifest["accounting"]["quarantined"] == 0
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    firsts = sorted(c[0]["value"] for c in kept.column("conversations").to_pylist())
    assert firsts == sorted(f"{Q} ({i})" for i in range(5))


@pytest.mark.parametrize("document", [
    {"conversations": [{"from": "human", "value": Q}, {"from": "gpt", "value": A}]},  # one row: its turns are a list
    {"instruction": [Q, Q + "?"], "output": [A]},  # lists of different lengths: no column layout
], ids=["one_row_of_turns", "ragged"])
def test_what_only_looks_column_oriented_stays_one_row(tmp_path, document):
    (tmp_path / "one.json").write_bytes(json.dumps(document).encode())
    assert rows_read(str(tmp_path / "one.json")) == 1


def test_a_truncated_compressed_json_array_keeps_the_rows_before_the_break(tmp_path):
    """A .json.gz cut short ended the run ("cannot read"); the whole rows before the break are read and the rest
    is one quarantined record saying where the file breaks off."""
    data = gzip.compress(json.dumps([row(i) for i in range(50)]).encode())
    (tmp_path / "rows.json.gz").write_bytes(data[: len(data) // 2])
    records = pa.concat_tables([pa.Table.from_batches([b]) for b in open_input(str(tmp_path / "rows.json.gz")).batches()],
                               promote_options="permissive")
    errors = records.column("_error").to_pylist()
    assert len(errors) > 1 and errors[:-1] == [None] * (len(errors) - 1)
    assert errors[-1].startswith("the file breaks off here") and "\n" not in errors[-1]


def test_a_flat_folder_of_jsonl_and_parquet_shards_reads_both(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl([row(1), row(2)]))
    (tmp_path / "b.ndjson").write_bytes(jsonl([row(3)]))
    pq.write_table(pa.Table.from_pylist([row(4)]), tmp_path / "c.parquet")
    pq.write_table(pa.Table.from_pylist([row(5)]).slice(0, 0), tmp_path / "d.parquet")
    assert rows_read(str(tmp_path)) == 4


ROWS = [row(i) for i in range(6)]
# what a file under each name may hold: JSON Lines, one array (pretty-printed or not), objects one after another
LAYOUTS = {
    "lines": jsonl(ROWS),
    "pretty_array": json.dumps(ROWS, indent=2).encode(),
    "pretty_objects": "\n".join(json.dumps(r, indent=2) for r in ROWS).encode(),
    "one_line_array": json.dumps(ROWS).encode() + b"\n",  # json.dump(rows, f)
}


@pytest.mark.parametrize("name", ["rows.json", "rows.jsonl", "rows.json.gz", "rows.jsonl.gz"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_file_is_read_by_what_it_holds_not_only_by_its_name(tmp_path, name, layout):
    """JSON Lines under a .json name (as many hub datasets ship them) and a pretty-printed JSON document under a
    .jsonl name give the same rows as the file its name promises, compressed or not."""
    data = LAYOUTS[layout]
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == len(ROWS) and manifest["accounting"]["quarantined"] == 0


def test_a_json_lines_file_whose_first_line_is_a_lone_bracket_is_still_read_line_by_line(tmp_path):
    """A first line that looks like a pretty-printed document's, followed by JSON Lines: not one document, so
    every line is read as a line (the bracket is quarantined, the rows kept)."""
    (tmp_path / "rows.jsonl").write_bytes(b"[\n" + jsonl(ROWS))
    manifest = curate(str(tmp_path / "rows.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == len(ROWS) + 1 and manifest["accounting"]["quarantined"] == 1


@pytest.mark.parametrize("name", ["rows.json", "rows.json.gz"])
def test_json_lines_under_a_json_name_with_a_broken_first_line_lose_only_that_line(tmp_path, name):
    data = b'{"conversations": [{"from": "human", "value": "cut of\n' + jsonl(ROWS)
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    manifest = curate(str(tmp_path / name), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == len(ROWS) + 1 and manifest["accounting"]["quarantined"] == 1


def test_a_broken_json_document_keeps_its_whole_rows_and_one_broken_before_any_row_is_one_error(tmp_path):
    (tmp_path / "rows.json").write_bytes(json.dumps(ROWS, indent=2).encode()[:-40])
    records = pa.concat_tables([pa.Table.from_batches([b]) for b in open_input(str(tmp_path / "rows.json")).batches()],
                               promote_options="permissive")
    errors = records.column("_error").to_pylist()
    assert len(errors) == len(ROWS) and errors[:-1] == [None] * (len(ROWS) - 1)
    assert errors[-1].startswith("the file breaks off here")
    (tmp_path / "rows.json").write_bytes(json.dumps(ROWS, indent=2).encode()[:30])  # nothing whole before the break
    with pytest.raises(InputError) as err:
        open_input(str(tmp_path / "rows.json"))
    assert "rows.json: line " in str(err.value) and "\n" not in str(err.value)


def test_json_lines_of_arrays_stay_lines(tmp_path):
    """Lines that are arrays are JSON Lines all the same (each a record, quarantined as not an object)."""
    (tmp_path / "rows.jsonl").write_bytes(b"[1, 2]\n" + jsonl(ROWS) + b"[3]\n")
    manifest = curate(str(tmp_path / "rows.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == len(ROWS) + 2 and manifest["accounting"]["quarantined"] == 2


def test_an_ndjson_file_is_json_lines(tmp_path):
    (tmp_path / "rows.ndjson").write_bytes(jsonl([row(1), row(2)]))
    assert rows_read(str(tmp_path / "rows.ndjson")) == 2


def test_a_line_nested_too_deeply_is_an_error_of_that_line():
    block = jsonl([row(1)]) + b'{"conversations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n" + jsonl([row(2)])
    batch, _, records = parse_block(block, "deep.jsonl", 1, 0)
    assert records == 3
    assert batch.column("_error").to_pylist() == [None, "not readable JSON: nested too deeply", None]


def test_a_line_nested_deeper_than_arrow_recurses_does_not_crash_the_run(tmp_path):
    """Arrow's JSON parser recurses once a level: a line tens of thousands of levels deep overflowed the C
    stack of the thread parsing its block, and the process died (SIGSEGV, no message). Such a line is read
    with ``json.loads`` instead and quarantined; the run, in a process of its own here, goes on."""
    import subprocess
    import sys

    path = tmp_path / "deep.jsonl"
    path.write_bytes(jsonl([row(1)]) + b'{"conversations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
                     + jsonl([row(2)]))
    code = ("from curation.config import load_config; from curation.pipeline import run_curation; "
            f"run_curation({str(path)!r}, {str(tmp_path / 'out')!r}, load_config(None, {{'report': False}}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_manifest(tmp_path / "out")["accounting"]["quarantined"] == 1
    assert [e["error"] for e in read_quarantine(tmp_path / "out")] == ["not readable JSON: nested too deeply"]


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_a_deep_line_is_parsed_alone_however_the_block_is_parsed(depth):
    deep = b'{"conversations": ' + b"[" * depth + b"]" * depth + b"}\n"
    for threads in (True, False):
        batch, _, _ = parse_block(jsonl([row(1)]) + deep + jsonl([row(2)]), "deep.jsonl", 1, 0, threads=threads)
        assert batch.column("_error").to_pylist()[0::2] == [None, None]
        assert batch.num_rows == 3


DEEP = '{"a": ' * 3000 + "1" + "}" * 3000  # deeper than json reads
DEEP_STRINGS = '{"s": "]]}}\\"[[", "n": ' * 3000 + "0" + "}" * 3000  # brackets and an escaped quote in its strings


def _with_deep(i: int, deep: str) -> str:
    return json.dumps(row(i))[:-1] + ', "x": ' + deep + "}"


def _holds(raw, deep: str) -> bool:
    """Does a quarantined row's raw record give the too-deep value's text: the row as its text, or the row with
    its too-deep value as text (a row read member by member: a value of the document's own object, which may be
    the row itself)?"""
    if isinstance(raw, str):
        return deep in raw
    return any(isinstance(v, str) and len(v) > len(deep) // 2 and (deep in v or v in deep) for v in raw.values())


DEEP_VALUES = {"objects": DEEP, "objects, strings with brackets": DEEP_STRINGS, "arrays": "[" * 100_000 + "]" * 100_000}


@pytest.mark.parametrize("shape,deep", [
    pytest.param(shape, deep, id=f"{shape}-{name}")
    for shape in ("array", "wrapped array", "keyed", "wrapped keyed") for name, deep in DEEP_VALUES.items()
    if not (shape == "keyed" and name == "arrays")  # (an array among rows keyed by id: refused, deep or not)
])
def test_a_row_of_a_json_document_nested_too_deeply_is_quarantined_alone(tmp_path, shape, deep):
    """A value nested deeper than ``json`` reads ended the run ("not readable JSON: nested too deeply") wherever
    it was: in one row of a document of many, the others were refused with it. That row is quarantined alone, as
    such a line of JSON Lines is; the rows beside it are read as they would be without it."""
    rows = [json.dumps(row(1)), _with_deep(2, deep), deep, json.dumps(row(3))]
    text = {"array": "[" + ", ".join(rows) + "]",
            "wrapped array": '{"version": 2, "data": [' + ", ".join(rows) + "]}",
            "keyed": "{" + ", ".join(f'"k{i}": {r}' for i, r in enumerate(rows)) + "}",
            "wrapped keyed": '{"data": {' + ", ".join(f'"k{i}": {r}' for i, r in enumerate(rows)) + "}}"}[shape]
    path = tmp_path / "deep.json"
    path.write_text(text)
    manifest = curate(str(path), tmp_path / "out")
    assert (manifest["accounting"]["input_rows"], manifest["accounting"]["in_splits"],
            manifest["accounting"]["quarantined"]) == (4, 2, 2)
    quarantined = read_quarantine(tmp_path / "out")
    assert [(e["error"], e["position"]["row"]) for e in quarantined] == [("not readable JSON: nested too deeply", 1),
                                                                        ("not readable JSON: nested too deeply", 2)]
    assert all(_holds(e["raw"], deep) for e in quarantined), [str(e["raw"])[:200] for e in quarantined]
    splits = [pq.read_table(tmp_path / "out" / f"{s}.parquet", columns=["conversations"]) for s in SPLITS]
    kept = [r["conversations"][0]["value"] for table in splits for r in table.to_pylist()]
    assert sorted(kept) == sorted(row(i)["conversations"][0]["value"] for i in (1, 3))


def test_a_json_row_that_is_too_deep_and_has_no_end_is_still_one_line(tmp_path):
    """Where a too-deep value does not end, the rows after it cannot be told apart: the document is refused, as
    before."""
    (tmp_path / "deep.json").write_text("[" + json.dumps(row(1)) + ", " + '{"a": ' * 3000 + "1")
    with pytest.raises(InputError, match="deep.json: not readable JSON: nested too deeply"):
        open_input(str(tmp_path / "deep.json"))


def test_a_one_row_json_document_nested_too_deeply_is_that_row_quarantined(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(_with_deep(1, DEEP))
    manifest = curate(str(path), tmp_path / "out")
    assert (manifest["accounting"]["input_rows"], manifest["accounting"]["quarantined"]) == (1, 1)


# -- validation ----------------------------------------------------------------------------------------------

def _validated(table: pa.Table):
    n = table.num_rows
    batch = raw_batch(table, pos=np.arange(n), ids=[str(i) for i in range(n)], file="t.parquet", rows=np.arange(n))
    return Validate(ValidateConfig()).process(batch)


def test_clean_rows_beside_a_source_or_score_of_another_type_pass_the_columnar_path():
    turns = [row(i)["conversations"] for i in range(4)]
    table = pa.table({"conversations": turns, "source": pa.array([["a"], None, None, ["b", "c"]]),
                      "score": pa.array([None, {"v": 1}, None, None], pa.struct([("v", pa.int64())]))})
    out = _validated(table)
    assert out.batch.column("_pos").to_pylist() == [2]
    assert out.batch.column("source").to_pylist() == [None] and out.batch.column("score").to_pylist() == [None]
    assert sorted(out.quarantine.column("_pos").to_pylist()) == [0, 1, 3]


def test_an_integer_score_beyond_a_doubles_exact_range_is_rounded_as_float_does():
    table = pa.table({"conversations": [row(i)["conversations"] for i in range(2)],
                      "score": pa.array([2**63 + 5, 3], pa.uint64())})
    out = _validated(table)
    assert out.batch.column("score").to_pylist() == [float(2**63 + 5), 3.0]


@pytest.mark.parametrize("data,error", [
    (None, "row is a JSON null, expected an object"),
    ({"conversations": None}, "'conversations' is null, expected a list of turns"),
    ({"conversations": [None]}, "turn 1: is null, expected an object with 'from' and 'value'"),
    ({"conversations": [{"from": None, "value": "x"}]}, "turn 1: 'from' is null, expected a string"),
])
def test_errors_say_null_not_python_type_names(data, error):
    with pytest.raises(ValueError, match=f"^{error}$".replace("(", r"\(").replace(")", r"\)")):
        validate_record(data, ValidateConfig())


# -- OpenAI content parts, record by record as column-wise ---------------------------------------------------

def test_content_parts_are_joined_record_by_record():
    data = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "text", "text": None},
                                                      {"type": "text", "text": "what is it?"}]},
                         {"role": "assistant", "content": "A cat."}]}
    adapted = adapt_record(data, "messages", {})
    assert adapted["messages"][0]["content"] == "Look:\n\nwhat is it?"
    assert validate_record(adapted, ValidateConfig())["conversations"][0]["value"] == "Look:\n\nwhat is it?"


_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(st.none(), st.text(max_size=5))})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_part, min_size=1, max_size=3), min_size=1, max_size=4))
def test_content_parts_row_wise_equals_column_wise(contents):
    rows = [{"messages": [{"role": "user", "content": c}, {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]}
            for c in contents]
    adapted = to_conversations(pa.Table.from_pylist(rows), "messages")
    for r, conv in zip(rows, adapted.table.column("conversations").to_pylist()):
        assert [t["content"] for t in adapt_record(r, "messages", {})["messages"]] == [t["value"] for t in conv]


def test_a_file_mixing_text_and_text_parts_content_keeps_every_row(tmp_path):
    """Lines whose ``content`` types differ cannot be typed together and are read record by record."""
    rows = [{"messages": [{"role": "user", "content": f"{Q} ({i})"}, {"role": "assistant", "content": A}]} for i in range(2)]
    rows += [{"messages": [{"role": "user", "content": [{"type": "text", "text": f"{Q} [{i}]"}]},
                           {"role": "assistant", "content": [{"type": "text", "text": f"{A} {i}"}]}]} for i in range(3)]
    path = tmp_path / "chat.jsonl"
    path.write_bytes(jsonl(rows))
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 5 and manifest["accounting"]["quarantined"] == 0
    assert not read_quarantine(tmp_path / "out")


# -- whole runs ----------------------------------------------------------------------------------------------

def test_an_extra_column_of_a_different_type_in_each_shard_is_kept_as_text(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, value in enumerate([1, "two", [3, 4], {"five": 5}, None]):
        (shards / f"{i}.jsonl").write_bytes(jsonl([row(i, extra=value)]))
    manifest = curate(str(shards), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 5
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert kept.schema.field("extra").type == pa.string()
    assert {"[3, 4]", '{"five": 5}'} <= set(kept.column("extra").to_pylist())


def test_a_weight_of_zero_on_the_command_line_is_one_line():
    with pytest.raises(ValueError) as err:
        inputs_from_cli(["a.jsonl@0"])
    assert str(err.value) == "--input a.jsonl@0: weight: Input should be greater than 0"


def test_a_negative_weight_on_the_command_line_is_one_line():
    with pytest.raises(ValueError) as err:
        inputs_from_cli(["a.jsonl@-1"])
    assert str(err.value) == "--input a.jsonl@-1: weight: Input should be greater than 0"


def test_a_parquet_decimal_score_is_the_number(tmp_path):
    import decimal

    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({
        "conversations": pa.array([row(i)["conversations"] for i in range(6)]),
        "score": pa.array([decimal.Decimal("4.25")] * 5 + [None], pa.decimal128(5, 2)),
    }), path)
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 0
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert sorted(kept.column("score").to_pylist(), key=lambda x: (x is None, x)) == [4.25] * 5 + [None]


def test_turns_given_as_json_text_are_the_turns(tmp_path):
    """A table exported through CSV or pandas holds the turns as JSON text: read as the turns, with the repair
    recorded; text that is not a JSON list of turns is quarantined as before."""
    path = tmp_path / "text.parquet"
    texts = [json.dumps(row(i)["conversations"]) for i in range(6)] + ["not json", "[1, 2]"]
    pq.write_table(pa.table({"conversations": pa.array(texts)}), path)
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 6 and manifest["accounting"]["quarantined"] == 2
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert set(kept.column("repairs").to_pylist()) == {'{"turns_from_json_text": ["conversations"]}'}
    assert {t[0]["value"] for t in kept.column("conversations").to_pylist()} == {row(i)["conversations"][0]["value"] for i in range(6)}


@pytest.mark.parametrize("fmt,column", [("messages", "dialog"), ("conversations", "turns")])
def test_turns_as_json_text_under_a_mapped_column_are_the_turns(tmp_path, fmt, column):
    """``columns: {messages: dialog}`` where ``dialog`` holds the turns as JSON text (a CSV or pandas export): read
    as the turns, as an unmapped ``messages`` column of JSON text is, not refused as a column that holds no turns."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    role = {"human": "user", "gpt": "assistant"}
    turns = [row(i)["conversations"] for i in range(6)]
    if fmt == "messages":
        turns = [[{"role": role[t["from"]], "content": t["value"]} for t in c] for c in turns]
    path = tmp_path / "text.parquet"
    pq.write_table(pa.table({column: pa.array([json.dumps(t) for t in turns] + ["not json"])}), path)
    config = load_config(None, {"report": False, "checkpoint": False,
                                "inputs": [{"path": str(path), "format": fmt, "columns": {fmt: column}}]})
    run_curation(None, tmp_path / "out", config)
    manifest = read_manifest(tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 6 and manifest["accounting"]["quarantined"] == 1
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert set(kept.column("repairs").to_pylist()) == {json.dumps({"turns_from_json_text": [column]})}
    assert {t[0]["value"] for t in kept.column("conversations").to_pylist()} == {row(i)["conversations"][0]["value"] for i in range(6)}


def test_openai_developer_turns_are_the_system_prompt(tmp_path):
    path = tmp_path / "dev.jsonl"
    messages = [[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": t[0]["value"]},
                 {"role": "assistant", "content": t[1]["value"]}] for t in (row(i)["conversations"] for i in range(5))]
    path.write_bytes(jsonl({"messages": m} for m in messages))
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 5
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert {t[0]["from"] for t in kept.column("conversations").to_pylist()} == {"system"}


def test_a_mapping_to_a_missing_column_is_one_error_with_the_format_given(tmp_path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    path = tmp_path / "qa.jsonl"
    path.write_bytes(jsonl({"q": f"question {i} here", "a": f"answer {i} here"} for i in range(4)))
    config = load_config(None, {"inputs": [{"path": str(path), "format": "alpaca",
                                            "columns": {"instruction": "question", "output": "a"}}]})
    with pytest.raises(InputError) as err:
        run_curation(None, tmp_path / "out", config)
    assert str(err.value) == f"{path}: columns maps 'instruction' to 'question', but there is no column 'question' (columns: q, a)"
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("record_path", [False, True])
def test_input_columns_named_like_tomes_own_are_kept_with_the_input_prefix(tmp_path, record_path):
    """An input's own id, repairs, cluster_id, origin_id, augmentation and original_conversations columns are
    neither dropped nor taken for tome's (an input 'repairs' beside a repaired row ended the run); the record
    path (a row the columnar checks send there: an OpenAI-shaped one) keeps them the same way."""
    owned = {"id": "theirs-{i}", "repairs": "r{i}", "cluster_id": "c{i}", "origin_id": "o{i}", "augmentation": "a{i}",
             "original_conversations": "t{i}", "stage": "s{i}", "reason": "why{i}", "duplicate_of": "d{i}",
             "details": "x{i}",
             # already kept apart by an earlier run, and named like an internal column: neither meets another
             "input_id": "earlier-{i}", "input_input_id": "earliest-{i}", "_id": "u{i}", "input__id": "v{i}"}
    rows = []
    for i in range(6):
        r = row(i, **{k: v.format(i=i) for k, v in owned.items()})
        if record_path:
            r["messages"] = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
                             for t in r.pop("conversations")]
        if i == 0:  # a repaired row: tome's own repairs column is written beside the input's
            (r.get("conversations") or r["messages"])[0]["value" if not record_path else "content"] += "\u0007"
        rows.append(r)
    (tmp_path / "in.jsonl").write_bytes(jsonl(rows))
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS], promote_options="default")
    assert kept.num_rows == 6
    for name, value in owned.items():
        assert sorted(kept.column("input_" + name).to_pylist()) == sorted(value.format(i=i) for i in range(6)), name
    (repairs,) = kept.column("repairs").drop_null().to_pylist()
    assert "conversations" in json.loads(repairs)["control_chars"]
    assert kept.column("cluster_id").null_count == 6


def test_an_input_column_named_input_is_kept_apart_from_the_input_label(tmp_path):
    """With several inputs tome labels each row with its ``input``; an input's own ``input`` column (a ShareGPT
    dump's field, say) ended the run with a duplicated column, or lost its value on the record path."""
    a = [row(i, input=f"field-{i}") for i in range(4)]
    a[0]["messages"] = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
                        for t in a[0].pop("conversations")]  # the record path
    (tmp_path / "a.jsonl").write_bytes(jsonl(a))
    (tmp_path / "b.jsonl").write_bytes(jsonl([row(i) for i in range(10, 14)]))
    curate([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")], tmp_path / "out")
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS], promote_options="default")
    assert kept.num_rows == 8
    pairs = sorted(zip(kept.column("input").to_pylist(), kept.column("input_input").to_pylist()), key=str)
    assert pairs == sorted([("a", f"field-{i}") for i in range(4)] + [("b", None)] * 4, key=str)


def test_parquet_text_stored_as_binary_is_read_as_text(tmp_path):
    """Some writers store strings as plain binary: the chat columns (the turns too) are read as text; any other
    binary column is data and is carried through as it is, valid UTF-8 or not."""
    turns = pa.list_(pa.struct([("from", pa.binary()), ("value", pa.binary())]))
    rows = [row(i) for i in range(4)]
    table = pa.table({
        "conversations": pa.array([[{k: v.encode() for k, v in t.items()} for t in r["conversations"]] for r in rows], turns),
        "source": pa.array([b"spark"] * 4, pa.binary()),
        "blob": pa.array([b"\xff\xfe", b"ok", None, b"\x00"], pa.binary()),
    })
    pq.write_table(table, tmp_path / "bin.parquet")
    manifest = curate(str(tmp_path / "bin.parquet"), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 0
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert kept.num_rows == 4 and set(kept.column("source").to_pylist()) == {"spark"}
    assert kept.schema.field("blob").type == pa.binary()
    assert sorted(map(json.dumps, kept.column("conversations").to_pylist())) == sorted(json.dumps(r["conversations"]) for r in rows)


@pytest.mark.parametrize("codec,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_files_are_read_as_their_text(tmp_path, codec, bom):
    """Windows tools write text as UTF-16 with a byte-order mark: a .jsonl or .json file in it reads as the same
    rows as its UTF-8 twin (line numbers too); a line with an unpaired surrogate is quarantined, the rest kept."""
    rows = [row(i) for i in range(8)]
    rows[3]["conversations"][1]["value"] += " — naïve 日本"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows)
    (tmp_path / "u8.jsonl").write_text(text, encoding="utf-8")
    (tmp_path / "u16.jsonl").write_bytes(bom + text.encode(codec))
    (tmp_path / "u16.json").write_bytes(bom + json.dumps(rows, ensure_ascii=False).encode(codec))

    def kept(out):
        return sorted(json.dumps(r["conversations"]) for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist())

    curate(str(tmp_path / "u8.jsonl"), tmp_path / "o8")
    for name in ("u16.jsonl", "u16.json"):
        curate(str(tmp_path / name), tmp_path / f"o-{name}")
        assert kept(tmp_path / f"o-{name}") == kept(tmp_path / "o8")
    lines = text.split("\r\n")
    broken = "\r\n".join(lines[:5]).encode(codec) + "\r\n".encode(codec) + (b"\x00\xd8" if codec.endswith("le") else b"\xd8\x00")
    broken += "\r\n".join(lines[5:]).encode(codec)
    (tmp_path / "bad.jsonl").write_bytes(bom + broken)
    manifest = curate(str(tmp_path / "bad.jsonl"), tmp_path / "obad")
    (entry,) = read_quarantine(tmp_path / "obad")
    assert entry["position"]["line"] == 6 and entry["error"].startswith("not UTF-8")
    assert manifest["accounting"]["input_rows"] == 8
    # a file cut inside a character (an odd byte at the end): every whole line is kept, the break is said
    (tmp_path / "cut.jsonl").write_bytes(bom + text.encode(codec) + b"\x00")
    manifest = curate(str(tmp_path / "cut.jsonl"), tmp_path / "ocut")
    assert kept(tmp_path / "ocut") == kept(tmp_path / "o8")
    (entry,) = read_quarantine(tmp_path / "ocut")
    assert entry["error"].startswith("the file breaks off here") and entry["position"]["line"] == 9


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"  \n\n", b"\xff\xfe"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_an_empty_file_is_an_empty_input_whatever_its_kind(tmp_path, content, suffix):
    """Nothing but a byte-order mark or whitespace: no rows, no error, for a JSON array file as for JSON Lines."""
    (tmp_path / f"e{suffix}").write_bytes(content)
    assert rows_read(str(tmp_path / f"e{suffix}")) == 0


@pytest.mark.parametrize("orders", [
    (["s0", "s1", "1", 1, "[1, 2]", [1, 2]],),  # strings first
    ([1, "1", [1, 2], "[1, 2]", None],),  # a number first
    (["s0", "s1", "s2"], [1, "1", [1, 2], {"k": "v"}]),  # two inputs: plain strings in one, mixed in the other
])
def test_an_extra_column_of_mixed_types_is_json_text_every_value_reads_back(tmp_path, orders):
    """An extra column whose values share no type is written as JSON text: every value, a string too, is its
    JSON (``"1"`` and ``1`` stay apart), whatever row or input comes first; none is encoded twice."""
    specs, given, k = [], {}, 0
    for n, values in enumerate(orders):
        rows = []
        for v in values:
            rows.append(row(k, extra=v))
            given[f"{Q} ({k})"] = v
            k += 1
        (tmp_path / f"in{n}.jsonl").write_bytes(jsonl(rows))
        specs.append(str(tmp_path / f"in{n}.jsonl"))
    curate(specs if len(specs) > 1 else specs[0], tmp_path / "out")
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS], promote_options="default")
    assert kept.num_rows == len(given)
    for turns, extra in zip(kept.column("conversations").to_pylist(), kept.column("extra").to_pylist()):
        want = given[turns[0]["value"]]
        assert (extra is None and want is None) or json.loads(extra) == want, (extra, want)


@pytest.mark.parametrize("value", [{}, [{}], {"a": {}}])
def test_an_extra_column_of_empty_objects_is_written_as_json_text(tmp_path, value):
    """``{}`` in every row is a struct with no fields to Arrow, which a Parquet file cannot hold: the run
    ended after its work; the column is written as JSON text."""
    (tmp_path / "in.jsonl").write_bytes(jsonl([row(i, metadata=value) for i in range(4)]))
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS])
    assert [json.loads(v) for v in kept.column("metadata").to_pylist()] == [value] * 4


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_an_integer_too_long_to_convert_is_not_finite_in_every_format(tmp_path, suffix):
    """An integer of more digits than Python converts (4,300): in JSON Lines the run goes on (it ended the run,
    naming no file), the integer read as Arrow reads it, an infinite float, also where its line is read on its
    own (it was quarantined there, and not finite where Arrow read it: which followed the lines beside it); in a
    JSON document too (it was one error that ended the run, where the same row in JSON Lines is kept)."""
    big = dict(row(1), score=10 ** 4400)
    rows = [row(0), big, row(2)]
    path = tmp_path / f"in{suffix}"
    import sys

    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:  # a space after the big row: its line is read on its own (Arrow would read the integer as inf)
        text = "".join(json.dumps(r) + (" \n" if r is big else "\n") for r in rows) if suffix == ".jsonl" \
            else json.dumps(rows)
    finally:
        sys.set_int_max_str_digits(old)
    path.write_text(text)
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 0 and manifest["accounting"]["in_splits"] == 3
    kept = _kept(tmp_path / "out")
    assert kept[f"{Q} (1)"]["score"] is None and json.loads(kept[f"{Q} (1)"]["repairs"]) == {"not_finite": ["score"]}


@pytest.mark.parametrize("after", ["", " "])
def test_a_turn_of_only_control_characters_is_empty_on_either_path(tmp_path, after):
    """A turn that repair leaves empty (control characters and spaces) is quarantined as empty whether its row is
    checked column-wise or record by record (``after``: a space after the JSON sends it there); column-wise it
    was repaired to "" and then removed by a filter instead."""
    bad = json.dumps(row(1) | {"conversations": [row(1)["conversations"][0], {"from": "gpt", "value": "\u0001 \u0000\u007f"}]})
    (tmp_path / "in.jsonl").write_text(json.dumps(row(0)) + "\n" + bad + after + "\n" + json.dumps(row(2)) + "\n")
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 1
    assert [q["error"] for q in read_quarantine(tmp_path / "out")] == ["turn 2: empty 'value'"]


def test_extra_columns_keep_one_order_however_the_input_is_cut_into_batches(tmp_path):
    """Extra columns are ordered by the first row holding each, whatever the batch size: here a row read
    record by record (a raw control character) brings ``alpha`` in the batch where a later, column-wise row
    brings ``zeta``; before, the order of the two followed which way their rows went and where batches ended."""
    rows = [row(0), row(1, alpha="x\u0001y"), row(2, mid=[1, "a"]), row(3, zeta=1), *(row(i) for i in range(4, 12))]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r).replace("\\u0001", "\x01") + "\n" for r in rows))
    from curation.config import load_config
    from curation.pipeline import run_curation

    files = {}
    for batch_rows in (2, 3, 1000):
        out = tmp_path / f"out{batch_rows}"
        run_curation(str(tmp_path / "in.jsonl"), out,
                     load_config(None, {"report": False, "checkpoint": False, "engine": {"batch_rows": batch_rows}}))
        names = pq.read_schema(out / "train.parquet").names
        assert [n for n in names if n in ("alpha", "mid", "zeta")] == ["alpha", "mid", "zeta"]
        assert read_manifest(out)["extra_columns"][:1] == ["alpha"]
        files[batch_rows] = [(out / f).read_bytes() for f in ("train.parquet", "validation.parquet", "removed.parquet")]
    assert files[2] == files[3] == files[1000]


@pytest.mark.parametrize("after", ["", " "])  # " ": the row goes record by record
def test_a_messages_column_beside_the_conversations_is_kept_apart_not_dropped(tmp_path, after):
    notes = [{"role": "note", "content": "kept"}]
    rows = [json.dumps(row(i, messages=notes)) + (after if i == 1 else "") for i in range(6)]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["extra_columns"] == ["input_messages"]
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS]).to_pylist()
    assert len(kept) == 6 and all(r["input_messages"] == notes for r in kept)


@pytest.mark.parametrize("after", ["", " "])
def test_the_messages_a_row_is_read_from_are_not_kept_again(tmp_path, after):
    rows = [json.dumps({"messages": [{"role": "user", "content": f"{Q} ({i})"}, {"role": "assistant", "content": A}],
                        "meta": i}) + (after if i == 1 else "") for i in range(6)]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["extra_columns"] == ["meta"]
    for s in SPLITS:
        assert "input_messages" not in pq.read_schema(tmp_path / "out" / f"{s}.parquet").names


def test_a_turn_keyed_the_other_formats_way_is_read_as_the_same_turn(tmp_path):
    """Merged datasets hold both keyings: a `{role, content}` turn inside `conversations` (a whole row, or one
    turn of it) is read, not quarantined as missing 'from'."""
    rows = [row(i) for i in range(6)]
    rows[1] = {"conversations": [{"role": "user", "content": f"{Q} (1)"}, {"role": "assistant", "content": A}]}
    rows[2] = {"conversations": [{"from": "human", "value": f"{Q} (2)"}, {"role": "assistant", "content": A}]}
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 0
    kept = {r["conversations"][0]["value"]: r for s in SPLITS for r in pq.read_table(tmp_path / "out" / f"{s}.parquet").to_pylist()}
    for i in (1, 2):
        turns = kept[f"{Q} ({i})"]["conversations"]
        assert turns == [{"from": "human", "value": f"{Q} ({i})"}, {"from": "gpt", "value": A}]
        assert kept[f"{Q} ({i})"]["original_conversations"][1] == {"from": "assistant", "value": A}


def test_a_list_of_only_nulls_in_an_extra_column_is_kept_not_a_crash(tmp_path):
    """pyarrow's JSON reader builds `[null, null]` as an array whose lengths do not add up: taking its rows ended
    the run with ArrowIndexError. Such lines now go record by record."""
    rows = [row(i, nulls=[None, None]) for i in range(8)] + [row(8, nulls=[None]), row(9, nulls=[])]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 10
    kept = {r["conversations"][0]["value"]: r["nulls"] for s in SPLITS
            for r in pq.read_table(tmp_path / "out" / f"{s}.parquet").to_pylist()}
    assert kept[f"{Q} (0)"] == [None, None] and kept[f"{Q} (8)"] == [None] and kept[f"{Q} (9)"] == []


@pytest.mark.parametrize("after", ["", " "])
def test_input_columns_that_start_with_an_underscore_are_kept_apart_not_dropped(tmp_path, after):
    """Names starting with `_` are the engines' own (never written out): an input's `_meta` or pandas'
    `__index_level_0__` vanished from every output; they are kept as `input_<name>`, in the input's order."""
    rows = [json.dumps(row(i, _meta={"a": i}, __index_level_0__=i, _pos=-1, input__x=1)) + (after if i == 1 else "")
            for i in range(6)]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    names = ["input__meta", "input___index_level_0__", "input__pos", "input_input__x"]
    assert manifest["extra_columns"] == names
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS]).to_pylist()
    assert sorted(r["input___index_level_0__"] for r in kept) == list(range(6))
    assert all(r["input__meta"] == {"a": r["input___index_level_0__"]} and r["input__pos"] == -1 for r in kept)


def test_an_integer_beyond_int64_in_an_extra_column_keeps_every_digit(tmp_path):
    """pyarrow reads such a literal as a double (12345678901234567890123 -> 1.2345678901234568e+22): its lines go
    record by record, where the number is kept exactly (as JSON text, as any value Parquet cannot hold)."""
    big = 12345678901234567890123
    rows = [row(i, big=big + i, ratio=0.5 + i) for i in range(6)]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS]).to_pylist()
    assert sorted(json.loads(r["big"]) for r in kept) == [big + i for i in range(6)]
    assert sorted(r["ratio"] for r in kept) == [0.5 + i for i in range(6)]


def test_a_column_that_holds_only_nulls_is_left_out_on_either_path_whatever_the_batches(tmp_path):
    """A key no row gives a value for was kept when its rows went record by record and left out column-wise, so
    whether it was written depended on the batches (and on the engine's read units)."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    rows = [json.dumps(row(i, t=i if i < 4 else f"text {i}", only_null=None if i in (1, 5) else None)) for i in range(8)]
    rows = [r if i in (1, 5) else r.replace(', "only_null": null', "") for i, r in enumerate(rows)]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    extras = []
    for batch_rows in (1, 3, 1000):
        out = tmp_path / f"out{batch_rows}"
        run_curation(str(tmp_path / "in.jsonl"), out,
                     load_config(None, {"report": False, "checkpoint": False, "engine": {"batch_rows": batch_rows}}))
        extras.append(read_manifest(out)["extra_columns"])
    assert extras == [["t"]] * 3


# -- chat files from everywhere: OpenAI exports, LLaMA-Factory's shapes, shards of several formats ----------------

def _config_run(tmp_path, inputs: list[dict]) -> dict:
    from curation.config import load_config
    from curation.pipeline import run_curation

    run_curation(None, tmp_path / "out", load_config(None, {"report": False, "checkpoint": False, "inputs": inputs}))
    manifest = read_manifest(tmp_path / "out")
    assert manifest["accounting"]["balanced"]
    return manifest


def _kept(out) -> dict[str, dict]:
    return {r["conversations"][-2]["value"]: r for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist()}


def test_openai_exports_keep_what_text_can_hold_and_quarantine_images_with_their_reason(tmp_path):
    """An image part was left out and the row kept (a question about a picture nobody sees); a turn's `name`
    vanished without a word column-wise; a refusal (`content` null) was quarantined as a null content."""
    def msg(i, user, assistant):
        return {"messages": [{"role": "user", **user}, {"role": "assistant", **assistant}]}

    text = [{"type": "text", "text": f"{Q} (0)"}]
    rows = [msg(0, {"content": text}, {"content": A}),
            msg(1, {"content": [{"type": "image_url", "image_url": {"url": "u"}}] + text}, {"content": A}),
            msg(2, {"content": [{"type": "text", "text": f"{Q} (2)"}], "name": "bob"}, {"content": A}),
            msg(3, {"content": [{"type": "text", "text": f"{Q} (3)"}]}, {"content": None, "refusal": "I can't help."})]
    for i in range(6):  # column-wise batches, too
        rows.append(msg(4 + i, {"content": [{"type": "text", "text": f"{Q} ({4 + i})"}]}, {"content": f"{A} [{i}]"}))
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    (quarantined,) = read_quarantine(tmp_path / "out")
    assert quarantined["error"] == "turn 1: content part 1 is 'image_url', not text: images, audio and files are not supported"
    assert quarantined["position"] == {"file": "in.jsonl", "line": 2}
    kept = _kept(tmp_path / "out")
    assert json.loads(kept[f"{Q} (2)"]["repairs"]) == {"turn_keys_dropped": ["messages"]}
    assert kept[f"{Q} (3)"]["conversations"][-1] == {"from": "gpt", "value": "I can't help."}
    assert manifest["accounting"]["in_splits"] == len(rows) - 1


def test_sharegpt_with_a_system_column_puts_the_system_prompt_in_front(tmp_path):
    """LLaMA-Factory's ShareGPT: the system prompt in a `system` column was carried as an extra column, out of
    the conversation the model is trained on."""
    rows = [row(i, system="You are a botanist.") for i in range(6)] + [row(6, system=""), row(7)]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    assert kept[f"{Q} (0)"]["conversations"][0] == {"from": "system", "value": "You are a botanist."}
    assert kept[f"{Q} (6)"]["conversations"][0]["from"] == "human"
    assert kept[f"{Q} (7)"]["conversations"][0]["from"] == "human"
    assert "system" not in manifest["extra_columns"] and manifest["accounting"]["in_splits"] == 8


def test_a_system_column_the_first_records_do_not_show_is_put_in_front_too(tmp_path):
    """The input's format is told by its first records: a `system` prompt that first comes in a row the columns
    could not take (an unrelated key of another type than the row before's), or after the first MB of the file,
    was kept as an extra column, out of the conversation, where the same prompt in the first row became the first
    turn. A system value that is no text stays the row's own column."""
    mixed = [row(0, tag=1), row(1, system="You are a botanist.", tag="x")]
    late = [row(i, pad="." * 600) for i in range(2000)] + [row(i, system="You are a botanist.") for i in range(2000, 2005)]
    late += [row(2005, system={"kind": "metadata"})]
    for name, rows in (("mixed", mixed), ("late", late)):
        (tmp_path / f"{name}.jsonl").write_text(jsonl(rows).decode())
        manifest = curate(str(tmp_path / f"{name}.jsonl"), tmp_path / name)
        assert manifest["accounting"]["in_splits"] + manifest["accounting"]["removed"] == len(rows)
        kept = _kept(tmp_path / name)
        for i, r in enumerate(rows):
            got = kept.get(f"{Q} ({i})")
            if got is None:  # a near duplicate of a row before it (the rows differ by their number)
                continue
            if isinstance(r.get("system"), str):
                assert got["conversations"][0] == {"from": "system", "value": "You are a botanist."}, (name, i)
                assert got.get("system") is None
            else:
                assert got["conversations"][0]["from"] == "human", (name, i)
        assert any(isinstance(r.get("system"), str) and f"{Q} ({i})" in kept for i, r in enumerate(rows))
    own = _kept(tmp_path / "late")[f"{Q} (2005)"]["system"]
    assert (json.loads(own) if isinstance(own, str) else own) == {"kind": "metadata"}


def test_conversations_and_turn_keys_in_another_case_are_detected(tmp_path):
    """`Conversations` of `{From, Value}` turns: "cannot tell the chat format"; `conversations` of `{From,
    Value}`: every row quarantined as "missing 'from'"."""
    for name, key in (("Conversations", "Conversations"), ("conversations", "conversations")):
        rows = [{key: [{"From": "human", "Value": f"{Q} ({i})"}, {"From": "gpt", "Value": A}]} for i in range(4)]
        folder = tmp_path / name
        folder.mkdir()
        (folder / "in.jsonl").write_text(jsonl(rows).decode())
        manifest = curate(str(folder / "in.jsonl"), folder / "out")
        assert manifest["accounting"]["in_splits"] == 4
        (resolved,) = manifest["config"]["inputs"]
        assert resolved["columns"] == ({"conversations": "Conversations"} if key != "conversations" else {}) | {
            "from": "From", "value": "Value"}


def test_a_folder_of_shards_in_different_formats_reads_every_row(tmp_path):
    """Shards of OpenAI messages, Alpaca and prompt/completion rows in one folder read as the first shard's
    format: every row of the others was quarantined ("column 'instruction' is null")."""
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.jsonl").write_text(jsonl([{"messages": [{"role": "user", "content": f"{Q} ({i})"},
                                                         {"role": "assistant", "content": A}]} for i in range(3)]).decode())
    (folder / "b.jsonl").write_text(jsonl([{"instruction": f"{Q} ({i})", "output": A} for i in range(3, 6)]).decode())
    (folder / "c.jsonl").write_text(jsonl([{"prompt": f"{Q} ({i})", "completion": A} for i in range(6, 9)]).decode())
    manifest = curate(str(folder), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 9 and manifest["accounting"]["quarantined"] == 0


@pytest.mark.parametrize("first", [row(0, system="You are a botanist."),  # read with a mapping: {system: system}
                                   {"conversations": [{"role": "user", "content": f"{Q} (0)"},  # {messages: conversations}
                                                      {"role": "assistant", "content": A}]}], ids=["system", "role-content"])
def test_a_row_of_another_format_is_read_in_its_own_beside_rows_a_mapping_reads(tmp_path, first):
    """FineTome rows whose first one has a `system` prompt, or turns keyed role/content, are read with a column
    mapping told from them: a prompt/completion or Alpaca row among them was quarantined ("missing
    'conversations'"), where without the mapping it was read in its own format."""
    rows = [first, {"prompt": f"{Q} (1)", "completion": A}, {"instruction": f"{Q} (2)", "output": A},
            {"messages": [{"role": "user", "content": f"{Q} (3)"}, {"role": "assistant", "content": A}]}]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 4 and manifest["accounting"]["quarantined"] == 0
    kept = _kept(tmp_path / "out")
    for i in (1, 2, 3):
        assert [t["from"] for t in kept[f"{Q} ({i})"]["conversations"]] == ["human", "gpt"]


@pytest.mark.parametrize("value", [[1], {"k": "v"}, "abc"], ids=["list", "object", "text"])
def test_one_inputs_own_input_column_is_carried_through_when_it_is_read_as_a_listed_input(tmp_path, value):
    """One input read through a format conversion (OpenAI messages here) or with a weight is listed under the
    manifest's `inputs`: its own `input` column was counted as the names of the mix's inputs (a list or an object
    there ended the run in "unhashable type" after the splits were written), described as the input each row came
    from in the card, and written to the messages splits, as a mix's `input` is."""
    from curation.card import write_card, write_messages_splits

    msgs = [{"messages": [{"role": "user", "content": f"{Q} ({i})"}, {"role": "assistant", "content": A}], "input": value}
            for i in range(3)]
    (tmp_path / "msgs.jsonl").write_text(jsonl(msgs).decode())
    (tmp_path / "ft.jsonl").write_text(jsonl([row(i, input=value) for i in range(3)]).decode())
    for name, runs in (("msgs", lambda: curate(str(tmp_path / "msgs.jsonl"), tmp_path / "out")),
                       ("ft", lambda: _config_run(tmp_path, [{"path": str(tmp_path / "ft.jsonl"), "weight": 2}]))):
        manifest = runs()
        assert len(manifest["inputs"]) == 1 and manifest["input"]["kind"] == "jsonl", name
        assert manifest["inputs"][0]["kept"] == 3 and manifest["extra_columns"] == ["input"], name
        kept = _kept(tmp_path / "out")
        own = kept[f"{Q} (0)"]["input"]
        assert (json.loads(own) if isinstance(own, str) and not isinstance(value, str) else own) == value, name
        write_messages_splits(tmp_path / "out")
        assert "input" not in pq.read_schema(tmp_path / "out" / "messages" / "train.parquet").names
        card = write_card(tmp_path / "out").read_text(encoding="utf-8")
        assert "the name of the input the row came from" not in card and "carried through from the input: `input`" in card


def test_an_openai_refusal_is_the_answers_text_in_a_finetome_file_too(tmp_path):
    """A refusal (`content` null, its text under `refusal`) in turns keyed role/content under `conversations`,
    among FineTome rows, was quarantined as "'content' is null": read as it is read in a file of such rows alone."""
    refusal = "I can't help with getting into someone else's home without permission."
    rows = [row(0), {"conversations": [{"role": "user", "content": f"{Q} (1)"},
                                       {"role": "assistant", "content": None, "refusal": refusal}]}]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 2
    got = _kept(tmp_path / "out")[f"{Q} (1)"]
    assert got["conversations"][-1] == {"from": "gpt", "value": refusal} and got.get("repairs") is None


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_rows_of_several_formats_in_one_table_are_each_read_in_their_own(tmp_path, suffix):
    """A Parquet file (or any table: `datasets` concatenated, pandas) of FineTome, Alpaca and prompt/completion rows
    holds a null in every column of the other formats: each row of the others was quarantined ("'conversations' is
    null"), where the same rows as JSON Lines without the null keys were read in their own formats."""
    empty = {"conversations": None, "instruction": None, "input": None, "output": None, "prompt": None, "completion": None}
    rows = [{**empty, **row(0)}, {**empty, "instruction": f"{Q} (1)", "input": "", "output": A},
            {**empty, "prompt": f"{Q} (2)", "completion": A}, {**empty, **row(3), "system": None}]
    path = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text(jsonl(rows).decode())
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 4 and manifest["accounting"]["quarantined"] == 0
    kept = _kept(tmp_path / "out")
    for i in range(4):
        assert [t["from"] for t in kept[f"{Q} ({i})"]["conversations"]] == ["human", "gpt"]
    assert not {"instruction", "prompt", "completion", "input_conversations"} & set(manifest["extra_columns"])


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_numeric_source_ids_are_their_text(tmp_path, suffix):
    """A dataset whose `source` holds numbers (ids of the origin) lost every row to quarantine ("'source' is int,
    expected a string"): a number is its text, recorded as a repair; a bool or a list is still no source."""
    rows = [row(i, source=s) for i, s in enumerate([7, 7, 12, 3.5])]
    path = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows[:3]), path)
        rows = rows[:3]
    else:
        path.write_text(jsonl(rows + [row(9, source=True), row(10, source=[1])]).decode())
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == len(rows)
    assert manifest["accounting"]["quarantined"] == (2 if suffix == ".jsonl" else 0)
    kept = _kept(tmp_path / "out")
    for i, r in enumerate(rows):
        got = kept[f"{Q} ({i})"]
        assert got["source"] == str(r["source"]) and json.loads(got["repairs"]) == {"number_as_text": ["source"]}


@pytest.mark.parametrize("layout", ["document", "beside_another_type", "alone"])
def test_an_integer_score_or_source_past_a_floats_range_is_no_traceback(tmp_path, layout):
    """A score or source of 10**400 (JSON holds integers of any size) read record by record, as a .json
    document's rows and a line whose columns' types differ from its neighbours' are, ended the run in
    "OverflowError: int too large to convert to float"; column-wise the score was already not finite (null,
    recorded). Every path gives that now, and the source's text, as for any numeric source."""
    rows = [row(0, score=10**400, x=0), row(1, score=-10**400, x=1), row(2, source=10**400, x=2), row(3, x=3)]
    if layout == "beside_another_type":
        rows = [{**r, "x": str(r["x"]) if i % 2 else r["x"]} for i, r in enumerate(rows)]
    path = tmp_path / ("in.json" if layout == "document" else "in.jsonl")
    path.write_text(json.dumps(rows) if layout == "document" else jsonl(rows).decode())
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 4
    kept = _kept(tmp_path / "out")
    for i in (0, 1):
        got = kept[f"{Q} ({i})"]
        assert got["score"] is None and json.loads(got["repairs"]) == {"not_finite": ["score"]}
    assert kept[f"{Q} (2)"]["source"] == str(10**400)
    assert json.loads(kept[f"{Q} (2)"]["repairs"]) == {"number_as_text": ["source"]}


def test_an_integer_of_more_digits_than_python_converts_reads_as_arrow_reads_it_in_every_read_unit(tmp_path):
    """A score of 5,001 digits was not finite (null, recorded) where Arrow read its line column-wise, and its
    line one more quarantined one where it was read on its own ("an integer of more than 4300 digits"), which of
    the two following the rows read with it: the engines' outputs differed where Ray's read units began. In a
    line that Arrow read and validation read again record by record (a column of another type than the rows
    beside it), it ended the Ray run in "ValueError: Exceeds the limit (4300 digits)". Read record by record,
    such an integer is now what Arrow makes of it, an infinite float, whichever rows share its read."""
    digits = "1" + "0" * 5000
    lines = [json.dumps(row(i, x=i if i % 2 else str(i))) for i in range(30)]
    for i, x in ((9, 9), (21, "t")):
        lines[i] = json.dumps(row(i, x=x)).replace("}]", '}], "score": ' + digits, 1)
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_input(str(path))
    for unit_bytes in (None, *range(1000, 6000, 250)):
        outcome = {}
        for unit in source.units(unit_bytes=unit_bytes, unit_records=7):
            for batch in source.read_unit(unit, 5):
                line_of = dict(zip(batch.column("_pos").to_pylist(), batch.column("_line").to_pylist()))
                out = Validate(ValidateConfig()).process(batch)
                assert out.quarantine is None, unit_bytes
                kept = out.batch.to_pylist()
                outcome.update({line_of[r["_pos"]]: (r["score"], r.get("repairs")) for r in kept})
        assert sorted(outcome) == list(range(1, 31)), unit_bytes
        assert outcome[10] == outcome[22] == (None, '{"not_finite": ["score"]}'), unit_bytes


@pytest.mark.parametrize("layout", ["document", "record_by_record"])
def test_a_bool_beside_a_number_under_one_key_stays_a_bool(tmp_path, layout):
    """`{"n": true}` in one row and `{"n": 0.5}` in another (a metadata column of mixed values) are JSON text,
    as a bool beside a number is at the top level: Arrow's inference took the bool as the number in a struct or
    a list, so a .json document's row, or JSON Lines rows read record by record in one batch (a turn's extra
    key sends them there), said `{"n": 1.0}`; column-wise, and in batches of one row, it was `{"n": true}`."""
    rows = [row(0, meta={"n": True}, l=[True]), row(1, meta={"n": 0.5}, l=[2])]
    if layout == "record_by_record":
        for r in rows:
            r["conversations"][0]["weight"] = 1
    path = tmp_path / ("in.json" if layout == "document" else "in.jsonl")
    path.write_text(json.dumps(rows) if layout == "document" else jsonl(rows).decode())
    curate(str(path), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    assert [(kept[f"{Q} ({i})"]["meta"], kept[f"{Q} ({i})"]["l"]) for i in (0, 1)] == [
        ('{"n": true}', "[true]"), ('{"n": 0.5}', "[2]")]


def test_an_integer_past_two_to_the_53_inside_a_struct_or_a_list_is_kept_exact(tmp_path):
    """Arrow's JSON reader reads an integer too big for int64 (or beside a fraction) as a double, rounding it;
    such a line went record by record (which keeps it exact) only where the float column was a top-level one:
    `{"n": 18446744073709551616}` was written as 1.8446744073709552e+19 where its line was read column-wise,
    and exactly where it was read record by record (which followed the lines read with it, and the engine)."""
    rows = [row(0, meta={"n": 2**64}, l=[9007199254740993, 1.5], deep={"a": [{"b": -(2**70)}]}),
            row(1, meta={"n": 1}, l=[1], deep={"a": [{"b": 0.5}]})]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    got = [{k: kept[f"{Q} ({i})"][k] for k in ("meta", "l", "deep")} for i in (0, 1)]
    assert [{k: json.loads(v) if isinstance(v, str) else v for k, v in g.items()} for g in got] == [
        {"meta": {"n": 2**64}, "l": [9007199254740993, 1.5], "deep": {"a": [{"b": -(2**70)}]}},
        {"meta": {"n": 1}, "l": [1], "deep": {"a": [{"b": 0.5}]}}]


def test_a_repair_of_a_column_kept_apart_names_the_inputs_own_column_on_either_path(tmp_path):
    """An input's own `id` and `_meta` are kept as `input_id` and `input__meta`; a repair of them was named so
    where the row was repaired column-wise and `id` and `_meta` where it was repaired record by record (a
    turn's extra key sends it there), so a row's repairs followed the rows read with it (and the engine)."""
    rows = [row(0, id="a\x01b", _meta="c\x02d"), row(1, id="e\x01f", _meta="g\x02h")]
    rows[1]["conversations"][0]["weight"] = 1
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    assert [json.loads(kept[f"{Q} ({i})"]["repairs"])["control_chars"] for i in (0, 1)] == [["_meta", "id"]] * 2
    assert [(kept[f"{Q} ({i})"]["input_id"], kept[f"{Q} ({i})"]["input__meta"]) for i in (0, 1)] == [
        ("ab", "cd"), ("ef", "gh")]


def test_a_prompt_message_without_a_role_is_named_by_its_own_keys(tmp_path):
    """A message of a conversational prompt/completion row without `role` was quarantined as "'from' is null" (the
    key of the turn it became), which the row does not hold."""
    rows = [{"prompt": [{"content": f"{Q} (0)"}], "completion": [{"role": "assistant", "content": A}]},
            {"prompt": [{"role": "user", "content": f"{Q} (1)"}], "completion": [{"role": "assistant"}]}]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert [e["error"] for e in read_quarantine(tmp_path / "out")] == [
        "column 'prompt': turn 1: missing 'role'", "column 'completion': turn 2: missing 'content'"]


def test_a_format_given_for_rows_that_also_hold_conversations_is_no_traceback(tmp_path):
    """`format: messages` for rows holding both `messages` and `conversations` ended the run in a KeyError
    (a table with `conversations` twice): the input's own is kept apart as `input_conversations`."""
    rows = [{"messages": [{"role": "user", "content": f"{Q} ({i})"}, {"role": "assistant", "content": A}],
             "conversations": [{"from": "human", "value": "other"}]} for i in range(4)]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = _config_run(tmp_path, [{"path": str(tmp_path / "in.jsonl"), "format": "messages"}])
    assert manifest["accounting"]["in_splits"] == 4
    kept = _kept(tmp_path / "out")
    assert kept[f"{Q} (0)"]["input_conversations"] == [{"from": "human", "value": "other"}]


def test_a_mapped_turn_key_no_turn_has_is_one_error_when_the_format_is_detected_too(tmp_path):
    """Checked only when the format was given: left to detection, every row was quarantined as "'content' is
    null"."""
    rows = [{"dialog": [{"speaker": "user", "text": f"{Q} ({i})"}, {"speaker": "assistant", "text": A}]} for i in range(3)]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    with pytest.raises(InputError) as err:
        _config_run(tmp_path, [{"path": str(tmp_path / "in.jsonl"),
                                "columns": {"messages": "dialog", "role": "speaker", "content": "txt"}}])
    assert "columns maps 'content' to 'txt', but no turn of its first records has a key 'txt'" in str(err.value)
    assert "\n" not in str(err.value)


def test_two_names_mapped_to_one_column_is_one_error_line(tmp_path):
    from tests.curation.runs import invoke, one_error_line

    (tmp_path / "in.jsonl").write_text(jsonl([{"q": Q, "a": A}]).decode())
    (tmp_path / "c.yaml").write_text("report: false\ninputs:\n  - path: in.jsonl\n"
                                     "    columns: {instruction: q, input: q, output: a}\n")
    code, output = invoke("curate", "-q", "-c", tmp_path / "c.yaml", "-o", tmp_path / "out")
    assert code == 2
    assert "columns maps both 'instruction' and 'input' to 'q'" in one_error_line(output)


def test_a_finetome_file_of_mixed_shapes_reads_each_row_in_its_own_format(tmp_path):
    """One file, FineTome first: an Alpaca row, a prompt/completion row and OpenAI messages beside a null
    `conversations` (two datasets concatenated) were quarantined as "missing 'conversations'" or "'conversations'
    is null"; an image part read as "'value' is list"; LLaMA-Factory's tool roles read as unknown roles."""
    image = [{"type": "image_url", "image_url": {"url": "u"}}]
    rows = [row(0), row(1),
            {"instruction": f"{Q} (2)", "input": "", "output": A},
            {"prompt": f"{Q} (3)", "completion": A},
            {"conversations": None, "messages": [{"role": "user", "content": f"{Q} (4)"}, {"role": "assistant", "content": A}]},
            {"conversations": [{"from": "human", "value": f"{Q} (5)"}, {"from": "gpt", "value": image}]},
            {"conversations": [{"from": "human", "value": f"{Q} (6)"}, {"from": "function_call", "value": "{}"},
                               {"from": "observation", "value": "42"}, {"from": "gpt", "value": A}]},
            {"text": "no conversation here"},
            {"messages": [{"role": "user", "content": f"{Q} (9)"}, {"role": "assistant", "content": None,
                                                                    "refusal": "I cannot help with that request."}]}]
    (tmp_path / "in.jsonl").write_text(jsonl(rows).decode())
    manifest = curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    kept = _kept(tmp_path / "out")
    assert sorted(kept) == [f"{Q} ({i})" for i in (*range(5), 9)]
    assert kept[f"{Q} (9)"]["conversations"][-1] == {"from": "gpt", "value": "I cannot help with that request."}
    assert kept[f"{Q} (2)"]["conversations"] == [{"from": "human", "value": f"{Q} (2)"}, {"from": "gpt", "value": A}]
    errors = {q["position"]["line"]: q["error"] for q in read_quarantine(tmp_path / "out")}
    assert errors == {
        6: "turn 2: content part 1 is 'image_url', not text: images, audio and files are not supported",
        7: "turn 2: role 'function_call' is a tool call: tool-use conversations are not supported",
        8: "missing 'conversations' (or OpenAI 'messages')"}
    assert manifest["accounting"]["in_splits"] == 6


SHAPES = {  # a row of each shape detection reads, each by a question of its own
    "dolly": {"instruction": f"{Q} (d)", "context": "", "response": A},
    "gsm8k": {"question": f"{Q} (g)", "answer": A},
    "metamath": {"query": f"{Q} (m)", "response": A},
    "openorca": {"system_prompt": "You are a botanist.", "question": f"{Q} (o)", "response": A},
    "flan": {"inputs": f"{Q} (f)", "targets": A},
    "lmsys": {"conversation": [{"role": "user", "content": f"{Q} (l)"}, {"role": "assistant", "content": A}]},
    "capybara": {"conversation": [{"input": f"{Q} (c)", "output": A}]},
    "dialog": {"dialog": [{"speaker": "user", "text": f"{Q} (x)"}, {"speaker": "assistant", "text": A}]},
}
# FineTome's own turns under another name or in another case: a row that misspells its chat column (read in a file
# of such rows alone, where the name is the input's own), quarantined among FineTome rows, as the sample plants them
MISSPELT = [{"turns": [{"from": "human", "value": f"{Q} (t)"}, {"from": "gpt", "value": A}]},
            {"dialogue": [{"from": "human", "value": f"{Q} (u)"}, {"from": "gpt", "value": A}]},
            {"conversation": [{"from": "human", "value": f"{Q} (v)"}, {"from": "gpt", "value": A}]},
            {"Conversations": [{"From": "human", "Value": f"{Q} (w)"}, {"From": "gpt", "Value": A}]}]


def test_a_row_of_any_detected_shape_in_a_finetome_file_is_read_as_in_a_file_of_its_own(tmp_path):
    """A row of Dolly's, GSM8K's, lmsys' or another shape that detection reads, among FineTome rows (two datasets
    concatenated, or a shard of them in a folder of FineTome shards), was quarantined as "missing
    'conversations' (or OpenAI 'messages')" where the same row alone in its file was read; only the four base
    formats' rows were read in their own. Each is now read as in a file of its own: the same turns. FineTome's
    own turns under a misspelt name are still quarantined, naming the column they lack."""
    alone = {}
    for name, shaped in SHAPES.items():
        (tmp_path / f"{name}.jsonl").write_bytes(jsonl([shaped]))
        curate(str(tmp_path / f"{name}.jsonl"), tmp_path / f"alone-{name}")
        [(question, kept)] = _kept(tmp_path / f"alone-{name}").items()
        alone[question] = kept["conversations"]
    (tmp_path / "mixed.jsonl").write_bytes(jsonl([row(0), row(1), *SHAPES.values(), *MISSPELT]))
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "a.jsonl").write_bytes(jsonl([row(0), row(1)]))
    (tmp_path / "shards" / "b.jsonl").write_bytes(jsonl([*SHAPES.values(), *MISSPELT]))
    for spec in ("mixed.jsonl", "shards"):
        manifest = curate(str(tmp_path / spec), tmp_path / f"out-{spec}")
        errors = [q["error"] for q in read_quarantine(tmp_path / f"out-{spec}")]
        assert errors == ["missing 'conversations' (or OpenAI 'messages')"] * len(MISSPELT)
        assert manifest["accounting"]["in_splits"] == 2 + len(SHAPES)
        kept = _kept(tmp_path / f"out-{spec}")
        assert {q: kept[q]["conversations"] for q in alone} == alone


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_turn_text_that_is_a_number_not_finite_says_so(tmp_path, suffix):
    """A turn whose text is 1e400 (JSON reads it as infinity; repair nulls it before the turns are checked) was
    quarantined as "'value' is null", naming a value the row does not hold."""
    bad = {"conversations": [{"from": "human", "value": "q?"}, {"from": "gpt", "value": "INF"}]}
    lines = [json.dumps(row(0)), json.dumps(bad).replace('"INF"', "1e400"), json.dumps(row(2))]
    (tmp_path / f"in{suffix}").write_text("\n".join(lines) + "\n" if suffix == ".jsonl" else f"[{', '.join(lines)}]")
    manifest = curate(str(tmp_path / f"in{suffix}"), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 1
    [quarantined] = [json.loads(q) for q in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert quarantined["error"] == "turn 2: 'value' is null or a number that is not finite, expected a string"
