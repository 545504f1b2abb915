"""Hostile text: every line is repaired (and says so) or gets a one-line reason; nothing raises, nothing is lost."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.json as pj
import io
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from curation.repair import (
    block_needs_slow_path,
    coerce_score,
    decode_line,
    loads,
    repair_string,
    repair_table,
    repairs_json,
)
from tests.curation.hostile import hostile_jsonl, hostile_line, hostile_text

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def parse(raw: bytes, first=False):
    text, repairs, error = decode_line(raw, first)
    if error:
        return None, {}, error
    value, more, error = loads(text)
    return value, {**repairs, **more}, error


def test_lone_surrogate_escape_is_replaced_and_recorded():
    value, repairs, error = parse(b'{"conversations": [{"from": "human", "value": "a\\ud800b"}], "score": 4}\n')
    assert error is None
    assert value["conversations"][0]["value"] == "a\ufffdb"
    assert repairs == {"lone_surrogate": ["conversations"]}
    pa.Table.from_pylist([value])  # Arrow takes it now


def test_valid_surrogate_pair_escape_is_left_alone():
    value, repairs, error = parse(b'{"value": "\\ud83d\\ude00"}\n')
    assert value == {"value": "😀"} and repairs == {} and error is None


def test_nul_and_control_characters_are_removed_tab_and_newlines_kept():
    value, repairs, error = parse(b'{"value": "a\\u0000b\\u001bc\\td\\ne\\r", "raw": "x\x01y"}\n')
    assert value == {"value": "abc\td\ne\r", "raw": "xy"}
    assert repairs == {"control_chars": ["value", "raw"]}


def test_bom_first_line_is_silent_later_lines_recorded():
    assert parse(b'\xef\xbb\xbf{"a": "x"}\n', first=True) == ({"a": "x"}, {}, None)
    assert parse(b'\xef\xbb\xbf{"a": "x"}\r\n') == ({"a": "x"}, {"bom": ["(line)"]}, None)


def test_crlf_terminator_is_stripped():
    assert decode_line(b'{"a": 1}\r\n')[0] == '{"a": 1}'


def test_nan_and_infinite_numbers_become_null_and_are_recorded():
    value, repairs, _ = parse(b'{"score": NaN, "other": -Infinity, "ok": 1.5}\n')
    assert value == {"score": None, "other": None, "ok": 1.5}
    assert repairs == {"not_finite": ["score", "other"]}


@pytest.mark.parametrize("raw,error", [
    (b'{"a": "x\xff"}\n', "not UTF-8: invalid start byte at byte 8"),
    (b'{"a": \n', "not valid JSON: Expecting value (column 7)"),
    (b"[" * 100_000 + b"\n", "not valid JSON"),
])
def test_unreadable_lines_get_a_one_line_reason(raw, error):
    value, _, got = parse(raw)
    assert value is None and got.startswith(error) and "\n" not in got


def test_multi_megabyte_turn_is_kept_whole():
    big = "word " * 1_000_000
    value, repairs, error = parse(json.dumps({"conversations": [{"from": "human", "value": big}]}).encode() + b"\n")
    assert error is None and repairs == {} and len(value["conversations"][0]["value"]) == 5_000_000


@pytest.mark.parametrize("given,expected", [
    (4, (4.0, None, None)), ("4.5", (4.5, "number_from_text", None)), (math.nan, (None, "not_finite", None)),
    ("inf", (None, "not_finite", None)), (None, (None, None, None)), (True, (None, None, "'score' is bool, expected a number")),
    ("high", (None, None, "'score' is str ('high'), expected a number")), ([1], (None, None, "'score' is list, expected a number")),
])
def test_coerce_score(given, expected):
    assert coerce_score(given) == expected


def test_repair_table_cleans_nested_strings_and_scores():
    table = pa.table({
        "conversations": pa.array([[{"from": "human", "value": "a\x00b"}, {"from": "gpt", "value": "ok"}],
                                   [{"from": "human", "value": "fine"}], None], TURNS),
        "source": ["s\x07", "s", None],
        "score": [1.0, float("nan"), float("inf")],
    })
    fixed, repairs = repair_table(table)
    assert fixed.column("conversations").to_pylist()[0][0]["value"] == "ab"
    assert fixed.column("source").to_pylist() == ["s", "s", None]
    assert fixed.column("score").to_pylist() == [1.0, None, None]
    assert [json.loads(r) if r else None for r in repairs.to_pylist()] == [
        {"control_chars": ["conversations", "source"]}, {"not_finite": ["score"]}, {"not_finite": ["score"]}]


def test_repair_table_merges_with_slow_path_repairs_and_leaves_clean_tables_alone():
    table = pa.table({"score": [float("nan"), 2.0]})
    _, repairs = repair_table(table, pa.array([repairs_json({"lone_surrogate": ["x"]}), None]))
    assert json.loads(repairs[0].as_py()) == {"lone_surrogate": ["x"], "not_finite": ["score"]}
    clean = pa.table({"a": ["x", "y"]})
    fixed, repairs = repair_table(clean)
    assert fixed.equals(clean) and repairs.null_count == 2


@pytest.mark.parametrize("block,why", [
    (b'{"a": "x"}\n{"a": "y"}\n', None),
    (b'{"a": "\xef\xbb\xbf in text is fine"}\n', None),
    (b'{"a": "x"}\r\n{"a": "y"}\r\n', None),
    (b'{"a": "x\xff"}\n', "invalid UTF-8"),
    (b'{"a": "x"}\r{"a": "y"}\n', "a carriage return that does not end a line"),
    (b'{"a": "x"}\n\xef\xbb\xbf{"a": "y"}\n', "a byte-order mark in front of a line"),
])
def test_block_needs_slow_path(block, why):
    assert block_needs_slow_path(block) == why


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_repaired_strings_are_valid_utf8_without_controls(text):
    fixed, kinds = repair_string(text)
    fixed.encode("utf-8")  # no lone surrogate left
    assert not any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in fixed)
    assert (fixed == text) == (kinds == [])
    assert repair_string(fixed) == (fixed, [])


@settings(max_examples=100, deadline=None)
@given(hostile_line())
def test_every_hostile_line_is_a_clean_row_or_a_reason(raw):
    value, repairs, error = parse(raw)
    if error is not None:
        assert value is None and isinstance(error, str) and "\n" not in error
        return
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)  # no NaN left, no surrogate left
    text.encode("utf-8")
    assert all(kind in {"lone_surrogate", "control_chars", "bom", "not_finite"} for kind in repairs)


@settings(max_examples=30, deadline=None)
@given(hostile_jsonl)
@example(b"\xef\xbb\xbf\n")  # a block that starts with a byte-order mark line (a block boundary mid-file)
def test_a_block_is_either_taken_by_arrow_or_sent_down_the_slow_path(block):
    """The contract the reader relies on: if this check passes and Arrow parses the block, every parsed row
    is one non-blank line of the block (so rows and lines stay aligned) and its strings are valid UTF-8."""
    if block_needs_slow_path(block) is not None:
        return
    try:
        table = pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(block_size=len(block) + 1))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return  # the reader falls back to the row-wise path
    lines = [line for line in block.split(b"\n") if line.strip()]
    assert table.num_rows == len(lines)
    table.validate(full=True)
    repaired, _ = repair_table(table)
    repaired.to_pylist()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(max_codepoint=0x3000, exclude_categories=("Cs",))))),
       st.integers(0, 5), st.integers(0, 5), st.booleans())
def test_control_prefilter_says_true_exactly_when_a_value_holds_one(values, cut_front, cut_back, large):
    """The byte screen before the regex: True exactly when some value of the (sliced) leaf holds a control
    character, so no value with one skips the repair and clean leaves skip the regex."""
    import re

    from curation.repair import CONTROL_CLASS, _may_hold_control

    arr = pa.array(values, pa.large_string() if large else pa.string())
    arr = arr.slice(min(cut_front, len(arr)), max(len(arr) - cut_front - cut_back, 0))
    pattern = re.compile(f"[{CONTROL_CLASS}]")
    assert _may_hold_control(arr) == any(v is not None and pattern.search(v) for v in arr.to_pylist())
