"""A ``.json`` file holding one JSON document that breaks part-way (cut short, not valid JSON from some point on,
a compressed stream that breaks off, a character cut in two) reads as a compressed JSON Lines stream that breaks
off does: the rows read whole before the break are rows, with the ids they have in the whole file, and the rest
of the file is one quarantined record naming where it breaks; the run goes on and balances. What cannot be told
apart into rows (nothing read whole, an object of several arrays) stays one error line."""

from __future__ import annotations

import json

import pytest

from curation.contract import line_id, record_id
from curation.readers import InputError, open_input
from tests.curation.runs import curate, write_compressed

ROWS = [{"conversations": [{"from": "human", "value": f"Question number {i}?"},
                           {"from": "gpt", "value": f"The answer to question {i} is {i * 7}."}]} for i in range(8)]


def _records(path) -> list[tuple[str, dict, str | None, object]]:
    """``(id, position, error, raw value)`` of every record the reader gives of ``path``, in order."""
    out = []
    for batch in open_input(str(path)).batches():
        for rid, row, error, raw in zip(*(batch.column(c).to_pylist() for c in ("_id", "_row", "_error", "_raw"))):
            out.append((rid, {"file": batch.column("_file")[0].as_py(), "row": row}, error, json.loads(raw)))
    return out


def _whole_ids(tmp_path, text: str) -> list[str]:
    (tmp_path / "whole.json").write_text(text)
    return [rid for rid, _, _, _ in _records(tmp_path / "whole.json")]


def _cut_inside(text: str, row: int) -> int:
    """Where row ``row``'s question starts in ``text`` (a place inside that row)."""
    return text.index(f"Question number {row}?")


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_cut_short_keeps_its_whole_rows_and_quarantines_the_rest(tmp_path, indent):
    text = json.dumps(ROWS, indent=indent)
    at = _cut_inside(text, 5)
    (tmp_path / "rows.json").write_text(text[:at])
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:5]] == ROWS[:5]
    whole = _whole_ids(tmp_path, text)
    assert whole == [record_id(r) for r in ROWS]  # (a row of a JSON document: the id of its JSON, sorted keys)
    assert [rid for rid, _, _, _ in got[:5]] == whole[:5]  # the ids the whole file gives them
    rid, position, error, raw = got[5]
    row_start = text.rindex("{", 0, text.rindex('"conversations"', 0, at))
    assert len(got) == 6 and position == {"file": "rows.json", "row": 5}
    assert raw == text[row_start:at] and rid == line_id(text[row_start:at].encode())
    line = text.count("\n", 0, at) + 1
    assert error.startswith(f"the file breaks off here, the rest is unreadable (at line {line}, column ")
    assert "Unterminated string" in error and "this record is the rest of the file, from line" in error
    assert got == _records(tmp_path / "rows.json")  # the same bytes, the same records


def test_a_run_over_a_json_array_cut_short_goes_on_and_balances(tmp_path):
    text = json.dumps(ROWS, indent=2)
    (tmp_path / "rows.json").write_text(text[: _cut_inside(text, 6)])
    accounting = curate(str(tmp_path / "rows.json"), tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == 7 and accounting["quarantined"] == 1
    (entry,) = [json.loads(q) for q in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert entry["position"] == {"file": "rows.json", "row": 6}
    assert entry["error"].startswith("the file breaks off here, the rest is unreadable")


@pytest.mark.parametrize("between,message", [
    (", oops, ", "Expecting value"),  # a stray word between two rows
    (" ", "Expecting ',' delimiter"),  # a comma left out
])
def test_a_syntax_error_in_the_middle_keeps_the_rows_before_it(tmp_path, between, message):
    text = json.dumps(ROWS[:4])[:-1] + between + json.dumps(ROWS[4:])[1:]
    (tmp_path / "rows.json").write_text(text)
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:-1]] == ROWS[:4]
    _, position, error, raw = got[-1]
    assert position == {"file": "rows.json", "row": 4}
    assert error.startswith("not valid JSON here, the rest is unreadable (at line 1, column ") and message in error
    assert raw.endswith(json.dumps(ROWS[4:])[1:])  # every character after the break is in the record


def test_pretty_printed_objects_one_after_another_cut_short_keep_the_whole_ones(tmp_path):
    text = "\n".join(json.dumps(r, indent=2) for r in ROWS)
    (tmp_path / "rows.json").write_text(text[: _cut_inside(text, 3)])
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:3]] == ROWS[:3] and len(got) == 4
    assert got[3][1]["row"] == 3 and got[3][2].startswith("the file breaks off here")


@pytest.mark.parametrize("cut,whole", [
    (lambda t: t[: _cut_inside(t, 5)], 5),  # cut inside a row
    (lambda t: t[:-1], 8),  # its closing brace lost: every row whole
])
def test_an_object_holding_the_rows_cut_short_keeps_its_whole_rows(tmp_path, cut, whole):
    (tmp_path / "rows.json").write_text(cut(json.dumps({"version": 2, "data": ROWS}, indent=2)))
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:whole]] == ROWS[:whole] and len(got) == whole + 1
    assert got[-1][1]["row"] == whole and got[-1][2].startswith("the file breaks off here")


@pytest.mark.parametrize("suffix", [".gz", ".xz", ".zst"])
def test_a_compressed_json_array_that_breaks_off_keeps_the_rows_before_the_break(tmp_path, suffix):
    rows = [{"conversations": [{"from": "human", "value": f"Question {i}: " + "word " * (i % 50)},
                               {"from": "gpt", "value": f"Answer {i}."}]} for i in range(4000)]
    whole = write_compressed(tmp_path / f"whole.json{suffix}", json.dumps(rows, indent=2).encode()).read_bytes()
    (tmp_path / f"rows.json{suffix}").write_bytes(whole[: len(whole) * 2 // 3])
    got = _records(tmp_path / f"rows.json{suffix}")
    read = [raw for _, _, error, raw in got if error is None]
    assert len(read) > 1000 and read == rows[: len(read)] and len(got) == len(read) + 1
    assert got[-1][2].startswith("the file breaks off here, the rest is unreadable (cannot decompress past line ")
    accounting = curate(str(tmp_path / f"rows.json{suffix}"), tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == len(got)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_json_file_cut_inside_a_character_keeps_the_rows_before(tmp_path, encoding):
    """Cut in the middle of a character (a multi-byte UTF-8 one, a UTF-16 code unit): was "not UTF-8 text:
    convert the file", the whole file refused."""
    rows = [{"conversations": [{"from": "human", "value": f"问题 {i}?"}, {"from": "gpt", "value": "答案。"}]}
            for i in range(6)]
    data = json.dumps(rows, ensure_ascii=False).encode(encoding)
    cut = data.index("问题 4".encode(encoding.replace("utf-16", "utf-16-le"))) + 1  # (the mark: LE)
    (tmp_path / "rows.json").write_bytes(data[:cut])
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:4]] == rows[:4] and len(got) == 5
    assert got[4][2].startswith(f"the file breaks off here, the rest is unreadable (cannot decode past line 1: the "
                                f"file ends in the middle of a {encoding.upper()} character")


def test_the_rest_of_a_large_file_is_its_start_and_its_id_hashes_all_of_it(tmp_path):
    from curation.readers import REST_SHOWN

    rows = [{"conversations": [{"from": "human", "value": "q" * 1000}, {"from": "gpt", "value": "a"}]}] * 200
    head = json.dumps(rows[:1])[:-1] + ", oops, "
    ids = []
    for n, last in enumerate(("x", "y")):
        text = head + json.dumps(rows)[1:-1] + last
        (tmp_path / f"rows{n}.json").write_text(text)
        rid, _, error, raw = _records(tmp_path / f"rows{n}.json")[-1]
        rest = text[len(head) - len("oops, ") :]
        assert raw == rest[:REST_SHOWN] and rid == line_id(rest.encode())
        assert f"its first {REST_SHOWN:,} of {len(rest):,} characters are its raw value" in error
        ids.append(rid)
    assert ids[0] != ids[1]


def test_a_broken_array_is_read_once_each_element_parsed_from_where_the_last_ended(tmp_path, monkeypatch):
    """Linear in the file's size: every element is parsed once, from where the one before it ended (never from
    the start of the document again)."""
    import json as json_module

    starts = []
    raw_decode = json_module.JSONDecoder.raw_decode

    def spy(self, s, idx=0):
        if len(s) == len(text) - 10:  # (the document's text, not a row's)
            starts.append(idx)
        return raw_decode(self, s, idx)

    text = json.dumps(ROWS * 50)
    (tmp_path / "rows.json").write_text(text[:-10])
    monkeypatch.setattr(json_module.JSONDecoder, "raw_decode", spy)
    got = _records(tmp_path / "rows.json")
    reread = starts[starts.index(1):]  # (json.loads' own parse of the whole text starts at 0)
    assert len(got) == len(ROWS) * 50 and len(reread) == len(ROWS) * 50
    assert reread == sorted(set(reread))  # each from further on


@pytest.mark.parametrize("text,hint", [
    (json.dumps(ROWS[:3])[:-1] + ",]", "Expecting value: a comma before a closing ']' is not JSON"),
    (json.dumps(ROWS[:3])[:-1] + ",\n// the rest later\n" + json.dumps(ROWS[3:])[1:], "a comment is not JSON"),
], ids=["trailing-comma", "comment"])
def test_a_trailing_comma_or_a_comment_after_rows_keeps_them_and_says_why(tmp_path, text, hint):
    (tmp_path / "rows.json").write_text(text)
    got = _records(tmp_path / "rows.json")
    assert [raw for _, _, _, raw in got[:3]] == ROWS[:3] and len(got) == 4
    assert got[3][2].startswith("not valid JSON here") and hint in got[3][2]


def test_a_raw_control_character_in_a_string_is_read_as_in_json_lines(tmp_path):
    """A raw tab inside a string is read (and repaired by validation) as a JSON Lines line holding one is; it
    ended the run ("Invalid control character at")."""
    (tmp_path / "rows.json").write_text(json.dumps(ROWS).replace("Question number 2", "Question\tnumber 2"))
    got = _records(tmp_path / "rows.json")
    assert [error for _, _, error, _ in got] == [None] * len(ROWS)
    assert got[2][3]["conversations"][0]["value"] == "Question\tnumber 2?"


@pytest.mark.parametrize("text,message", [
    # nothing read whole: as likely no JSON at all as JSON cut short
    ("// rows\n" + json.dumps(ROWS), r"rows\.json: line 1: not valid JSON: Expecting value \(column 1\): a comment "
                                     r"is not JSON$"),
    (json.dumps(ROWS)[:30], r"rows\.json: line 1: not valid JSON: Unterminated string starting at \(column \d+\)$"),
    (repr(ROWS), r"rows\.json: line 1: not valid JSON: Expecting property name enclosed in double quotes"),
    # one row cut short: its keys show a chat format, so it is no object holding rows
    (json.dumps(ROWS[0], indent=2)[:-20], r"rows\.json: line \d+: not valid JSON: "),
    # which of two arrays holds the rows would be a guess
    (json.dumps({"train": ROWS, "test": ROWS})[:-30], r"rows\.json: line 1: not valid JSON: "),
], ids=["comment-first", "first-row-cut", "python-repr", "one-row-cut", "two-arrays-cut"])
def test_a_document_with_nothing_whole_to_keep_is_still_one_error_line(tmp_path, text, message):
    (tmp_path / "rows.json").write_text(text)
    with pytest.raises(InputError, match=message) as err:
        open_input(str(tmp_path / "rows.json"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("encoding", ["UTF-16LE", "UTF-16BE", "UTF-32LE"])
def test_utf16_without_a_byte_order_mark_is_named(tmp_path, encoding):
    """Was "line 1: not valid JSON: Expecting value (column 2)": its NUL bytes read as UTF-8."""
    (tmp_path / "rows.json").write_bytes(json.dumps(ROWS, indent=2).encode(encoding))
    with pytest.raises(InputError, match=rf"rows\.json: {encoding} text without a byte-order mark \(read as UTF-8, a "
                                         rf"NUL byte stands beside each character\): .*iconv -f {encoding} -t UTF-8"):
        open_input(str(tmp_path / "rows.json"))


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz"])
@pytest.mark.parametrize("encoding", ["UTF-16LE", "UTF-32BE"])
def test_json_lines_in_utf16_without_a_byte_order_mark_is_named_too(tmp_path, name, encoding):
    """Was "line 1: not JSON Lines (not valid JSON: Expecting property name ...)"."""
    text = "".join(json.dumps(r) + "\n" for r in ROWS).encode(encoding)
    path = write_compressed(tmp_path / name, text)
    with pytest.raises(InputError, match=rf"{name}: {encoding} text without a byte-order mark .*iconv -f {encoding}"):
        list(open_input(str(path)).batches())


@pytest.mark.parametrize("end", [b"\n", b"\r"])
def test_a_json_document_that_breaks_under_a_json_lines_name_is_still_read_line_by_line(tmp_path, end):
    """Under a ``.jsonl`` name a document that does not read whole is JSON Lines, as the name says: each line its
    own record, numbered, the same with LF or lone CR line ends (a document read up to its break could not be)."""
    lines = [json.dumps([ROWS[0]]).encode(), json.dumps(ROWS[1]).encode()[:-9], json.dumps(ROWS[2]).encode()]
    (tmp_path / "rows.jsonl").write_bytes(end.join(lines) + end)
    got = []
    for batch in open_input(str(tmp_path / "rows.jsonl")).batches():
        got += zip(batch.column("_line").to_pylist(), [e is None for e in batch.column("_error").to_pylist()])
    assert got == [(1, True), (2, False), (3, True)]


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line-array", "pretty"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_json_document_cut_short_under_a_json_lines_name_keeps_its_whole_rows(tmp_path, indent, suffix):
    """Was the whole run ended ("line 1: not JSON Lines"): a document whose lines are no rows (pretty-printed, or
    one array on one line) that breaks part-way reads as it does under a ``.json`` name: the rows before the break,
    then the rest of the file as one quarantined record."""
    text = json.dumps(ROWS, indent=indent)
    cut = text[: _cut_inside(text, 5)].encode()
    write_compressed(tmp_path / f"rows.json{suffix}", cut)
    write_compressed(tmp_path / f"rows.jsonl{suffix}", cut)
    as_json = [(rid, error, raw) for rid, _, error, raw in _records(tmp_path / f"rows.json{suffix}")]
    as_lines = [(rid, error, raw) for rid, _, error, raw in _records(tmp_path / f"rows.jsonl{suffix}")]
    assert as_lines == as_json and [raw for _, error, raw in as_lines if error is None] == ROWS[:5]
    assert len(as_lines) == 6 and as_lines[-1][1].startswith("the file breaks off here")
    accounting = curate(str(tmp_path / f"rows.jsonl{suffix}"), tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == 6 and accounting["quarantined"] == 1 and accounting["balanced"]


def test_json_lines_whose_first_line_is_broken_stay_json_lines(tmp_path):
    """A first line that starts like a document (``[`` of a row cut short) above JSON Lines rows: line by line."""
    lines = [json.dumps([ROWS[0]])[:-9], json.dumps(ROWS[1]), json.dumps(ROWS[2])]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    got = []
    for batch in open_input(str(tmp_path / "rows.jsonl")).batches():
        got += zip(batch.column("_line").to_pylist(), [e is None for e in batch.column("_error").to_pylist()])
    assert got == [(1, False), (2, True), (3, True)]
