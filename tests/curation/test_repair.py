"""Hostile text: every line is repaired (and says so) or gets a one-line reason; nothing raises, nothing is lost."""

from __future__ import annotations

import io
import json
import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.readers.jsonl import parse_block
from curation.sources import iter_line_blocks
from curation.repair import coerce_score, repair_record, repair_string, repair_table, repairs_json
from curation.validate import Validate, ValidateConfig
from tests.curation.hostile import hostile_line, hostile_text

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
ROW = '"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "an answer"}]'
KEPT_COLUMNS = ("id", "conversations", "source", "score", "original_conversations", "cluster_id", "origin_id",
                "augmentation", "repairs")


def parse(raw: bytes, first: bool = False):
    """One JSON line through the reader and validation, as a file holds it (after a plain first line, unless
    ``first``): ``(row, repairs, None)`` for the kept row (its columns, nulls left out), ``(None, {}, error)``
    when it is quarantined."""
    data = raw if first else ("{" + ROW + "}\n").encode() + raw
    (block,) = iter_line_blocks(io.BytesIO(data))  # the reader's cut: a byte-order mark at the start is dropped
    batch, _, _ = parse_block(block, "r.jsonl", 1, 0)
    out = Validate(ValidateConfig()).process(batch)
    if out.quarantine is not None and out.quarantine.num_rows:
        return None, {}, out.quarantine.column("error")[0].as_py()
    row = out.batch.to_pylist()[-1]
    repairs = json.loads(row["repairs"]) if row.get("repairs") else {}
    value = {k: v for k, v in row.items() if not k.startswith("_") and v is not None
             and k not in KEPT_COLUMNS or k == "conversations"}
    return value, repairs, None


def test_lone_surrogate_escape_is_replaced_and_recorded():
    value, repairs, error = parse(b'{"conversations": [{"from": "human", "value": "a\\ud800b"}, '
                                  b'{"from": "gpt", "value": "an answer"}]}\n')
    assert error is None
    assert value["conversations"][0]["value"] == "a\ufffdb"
    assert repairs == {"lone_surrogate": ["conversations"]}


def test_valid_surrogate_pair_escape_is_left_alone():
    value, repairs, error = parse(("{" + ROW + ', "value": "\\ud83d\\ude00"}\n').encode())
    assert value["value"] == "\U0001f600" and repairs == {} and error is None


def test_nul_and_control_characters_are_removed_tab_and_newlines_kept():
    value, repairs, error = parse(("{" + ROW + ', "value": "a\\u0000b\\u001bc\\td\\ne\\r"').encode() + b', "raw": "x\x01y"}\n')
    assert (value["value"], value["raw"]) == ("abc\td\ne\r", "xy")
    assert repairs == {"control_chars": ["raw", "value"]}


def test_bom_first_line_is_silent_later_lines_recorded():
    line = ("{" + ROW + ', "a": "x"}').encode()
    assert parse(b"\xef\xbb\xbf" + line + b"\n", first=True)[1:] == ({}, None)
    value, repairs, error = parse(b"\xef\xbb\xbf" + line + b"\r\n")
    assert value["a"] == "x" and repairs == {"bom": ["(line)"]} and error is None


def test_crlf_terminator_is_a_line_end():
    value, repairs, error = parse(("{" + ROW + ', "a": 1}\r\n').encode())
    assert value["a"] == 1 and repairs == {} and error is None


def test_nan_and_infinite_numbers_become_null_and_are_recorded():
    value, repairs, _ = parse(("{" + ROW + ', "score": NaN, "other": -Infinity, "ok": 1.5}\n').encode())
    assert "other" not in value and value["ok"] == 1.5
    assert repairs == {"not_finite": ["other", "score"]}


@pytest.mark.parametrize("raw,error", [
    (b'{"a": "x\xff"}\n', "not UTF-8: invalid start byte"),
    (b'{"a": \n', "not valid JSON: Expecting value"),
    (b"[" * 100_000 + b"\n", "not readable JSON: nested too deeply"),
])
def test_unreadable_lines_get_a_one_line_reason(raw, error):
    value, _, got = parse(raw)
    assert value is None and got.startswith(error) and "\n" not in got


def test_multi_megabyte_turn_is_kept_whole():
    big = "word " * 1_000_000
    line = json.dumps({"conversations": [{"from": "human", "value": big}, {"from": "gpt", "value": "an answer"}]})
    value, repairs, error = parse(line.encode() + b"\n")
    assert error is None and repairs == {} and len(value["conversations"][0]["value"]) == 5_000_000


@pytest.mark.parametrize("given,expected", [
    (4, (4.0, None, None)), ("4.5", (4.5, "number_from_text", None)), (math.nan, (None, "not_finite", None)),
    ("inf", (None, "not_finite", None)), (None, (None, None, None)), (True, (None, None, "'score' is bool, expected a number")),
    ("high", (None, None, "'score' is str ('high'), expected a number")), ([1], (None, None, "'score' is list, expected a number")),
    (-10**400, (None, "not_finite", None)),  # an integer past a float's range
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


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_repaired_strings_are_valid_utf8_without_controls(text):
    fixed, kinds = repair_string(text)
    fixed.encode("utf-8")  # no lone surrogate left
    assert not any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in fixed)
    assert (fixed == text) == (kinds == [])
    assert repair_string(fixed) == (fixed, [])


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f"])
def test_controls_that_separate_words_become_a_space_on_both_paths(control):
    """A form feed or a record separator between two words keeps them two words (deleting it joined them), by
    the record path and by the vectorized one alike; NUL and the like are still removed outright."""
    text = f"page one{control}page two\x00!"
    assert repair_string(text) == ("page one page two!", ["control_chars"])
    fixed, repairs = repair_table(pa.table({"t": [text, "clean"]}))
    assert fixed.column("t").to_pylist() == ["page one page two!", "clean"]
    assert json.loads(repairs[0].as_py()) == {"control_chars": ["t"]} and repairs[1].as_py() is None


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_both_repair_paths_agree_on_every_ascii_string(text):
    fixed, _ = repair_table(pa.table({"t": [text]}))
    assert fixed.column("t").to_pylist() == [repair_string(text)[0]]


@settings(max_examples=100, deadline=None)
@given(hostile_line())
def test_every_hostile_line_is_a_clean_row_or_a_reason(raw):
    value, repairs, error = parse(raw)
    if error is not None:
        assert value is None and isinstance(error, str) and "\n" not in error
        return
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)  # no NaN left, no surrogate left
    text.encode("utf-8")
    assert all(kind in {"lone_surrogate", "control_chars", "bom", "not_finite", "number_from_text",
                        "turns_from_json_text"} for kind in repairs)


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


@pytest.mark.parametrize("where", [0, (1 << 18) - 1, 1 << 18, (3 << 18) + 5, None])
@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x0b"])
def test_control_prefilter_reads_the_whole_text_a_part_at_a_time(where, char):
    """The screen reads the text a quarter megabyte at a time: a control character in any part, or at a part's
    edge, is seen; tabs, line ends and text past the leaf's slice are not."""
    from curation.repair import _may_hold_control

    size = (4 << 18) + 17
    text = ["a\tb\r\n" * (size // 6)]
    if where is not None:
        text[0] = text[0][:where] + char + text[0][where + 1 :]
    arr = pa.array(["\x00 outside"] + text + ["\x7f outside"]).slice(1, 1)
    assert _may_hold_control(arr) == (where is not None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from("a Z~!\x00\x08\t\n\x0b\x1f \x7f\x80\x85\xa0é\u2003\u3000"))
                          | st.text(max_size=3))),
       st.integers(0, 5), st.integers(0, 5), st.booleans())
def test_empty_turn_screen_agrees_with_its_regex(values, cut_front, cut_back, large):
    """The empty-turn screen runs the regex only where a value's first byte leaves it open: its answer is the
    regex's on every value of a (sliced) leaf, nulls counted as empty."""
    from curation.validate import EMPTY_TURN, empty_turns

    arr = pa.array(values, pa.large_string() if large else pa.string())
    arr = arr.slice(min(cut_front, len(arr)), max(len(arr) - cut_front - cut_back, 0))
    expected = pc.match_substring_regex(arr, EMPTY_TURN).fill_null(True).to_pylist()
    assert empty_turns(arr).tolist() == expected


def test_repair_table_nulls_non_finite_floats_in_structs_and_lists_as_a_record_does():
    """A NaN or an infinity inside a struct or a list (`{"n": NaN}`) was kept column-wise, where the record path
    nulls it and records not_finite: which one a row got followed the rows read with it (and the engine), and
    beside rows of another type the kept NaN was written as JSON text that is no JSON (`{"n": NaN}`)."""
    rows = [{"meta": {"n": math.nan, "l": [math.inf, 1.0]}, "deep": [{"x": [-math.inf]}], "score": math.nan},
            {"meta": {"n": 1.5, "l": [2.0]}, "deep": [{"x": [0.5]}], "score": 4.0}]
    table, repairs = repair_table(pa.Table.from_pylist(rows))
    by_record = [repair_record(r) for r in rows]
    assert table.to_pylist() == [r for r, _ in by_record]
    assert repairs.to_pylist() == [repairs_json(found) for _, found in by_record]
    assert repairs.to_pylist()[0] == '{"not_finite": ["deep", "meta", "score"]}'
