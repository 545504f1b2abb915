"""Hostile structure of input files (not of their strings): xz files with stream padding or several streams, a
value nested too deeply beside shallow ones in one parse, a line longer than a read. Every row is read, or
quarantined alone with its reason; none is lost unseen."""

from __future__ import annotations

import io
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_quarantine
from curation.readers import open_input
from tests.curation.runs import curate

ROWS = [{"conversations": [{"from": "human", "value": f"Question number {i} about the structure?"},
                           {"from": "gpt", "value": f"The answer to question {i} is {i * 7}, in words."}]}
        for i in range(12)]
TEXT = [b"".join(json.dumps(r).encode() + b"\n" for r in ROWS[:6]),
        b"".join(json.dumps(r).encode() + b"\n" for r in ROWS[6:])]


def _read(spec: Path) -> list[tuple[dict | None, str | None]]:
    """(the record as JSON, or None where it was not read whole; its error) of every record the reader gives."""
    out = []
    for batch in open_input(str(spec)).batches():
        for raw, error in zip(batch.column("_raw").to_pylist(), batch.column("_error").to_pylist()):
            out.append((json.loads(raw.split(b"\n", 1)[0]) if error is None else None, error))
    return out


# --- xz: stream padding, several streams -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["padding after", "padding between and after", "two streams", "long padding"])
def test_an_xz_file_with_stream_padding_or_several_streams_reads_exactly_its_rows(tmp_path, layout):
    """The xz format allows null bytes (stream padding) after a stream and streams one after another, as ``xz``
    reads them. Python's reader took padding at the end for a truncated stream (a phantom quarantined record)
    and padding between streams for the end of the file (every row after it lost, unseen)."""
    one, two = lzma.compress(TEXT[0]), lzma.compress(TEXT[1])
    data = {"padding after": one + two + b"\0" * 4, "padding between and after": one + b"\0" * 8 + two + b"\0" * 4,
            "two streams": one + two, "long padding": one + b"\0" * 65_536 + two + b"\0" * 200_000}[layout]
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(data)
    assert _read(path) == [(r, None) for r in ROWS]


def test_bytes_after_an_xz_stream_that_start_no_stream_are_quarantined_not_dropped(tmp_path):
    """What follows a stream and is neither padding nor a stream is damage: the rows before it are kept, the
    rest is one quarantined record that says so (Python's reader dropped it unseen, rows and all)."""
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(lzma.compress(TEXT[0]) + b"garbage!" + lzma.compress(TEXT[1]))
    got = _read(path)
    assert got[:6] == [(r, None) for r in ROWS[:6]] and len(got) == 7
    assert got[6][1].startswith("the file breaks off here") and "neither padding nor another xz stream" in got[6][1]


def test_a_json_or_parquet_file_compressed_as_xz_with_padding_is_read(tmp_path):
    (tmp_path / "rows.json.xz").write_bytes(lzma.compress(json.dumps(ROWS).encode()) + b"\0" * 4)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), buffer)
    (tmp_path / "rows.parquet.xz").write_bytes(lzma.compress(buffer.getvalue()) + b"\0" * 4)
    for name in ("rows.json.xz", "rows.parquet.xz"):
        batches = list(open_input(str(tmp_path / name)).batches())
        assert sum(b.num_rows for b in batches) == len(ROWS)
        assert all(b.column("_error").null_count == b.num_rows for b in batches)


# --- a value nested too deeply beside shallow ones ---------------------------------------------------------------

DEEP = json.loads("[" * 40 + "]" * 40)


def _deep_rows() -> list[dict]:
    """The rows with, in the middle, one whose turn holds a key nested 40 arrays deep, one whose ``meta`` does
    and one whose ``source`` does; the others hold a shallow ``meta``."""
    deep_turn = {"conversations": [{"from": "human", "value": "A question whose answer holds a deep key?"},
                                   {"from": "gpt", "value": "An answer beside a key nested forty arrays deep.", "x": DEEP}]}
    rows = [{**r, "meta": {"n": i}} for i, r in enumerate(ROWS)]
    return rows[:4] + [deep_turn, {**ROWS[1], "meta": DEEP}, {**ROWS[2], "source": DEEP}] + rows[4:]


@pytest.mark.parametrize("kind", ["jsonl", "json"])
def test_a_deep_value_is_judged_on_its_own_row_not_on_the_rows_parsed_beside_it(tmp_path, kind):
    """A value nested deeper than is kept makes its whole column's type that deep in the parse it shares with
    other rows. Each row is judged as it would be alone: the rows beside it keep their values of that column,
    the deep ``meta`` is quarantined naming it, the deep ``source`` is no string, and the turn's deep other key
    is dropped (noted) as any other key of a turn is. Before, every row of the parse that held a value there was
    quarantined under that column's name, and a deep ``conversations`` left the first batch without one: the
    run ended in "cannot tell the chat format"."""
    rows = _deep_rows()
    path = tmp_path / f"rows.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows), encoding="utf-8")
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == len(rows)
    errors = [q["error"] for q in read_quarantine(tmp_path / "out")]
    assert errors == ["column 'meta' nests more than 32 levels deep (arrays and objects inside each other)",
                      "'source' is list, expected a string"]
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in ("train", "validation", "test")])
    assert sorted(m["n"] for m in kept.column("meta").to_pylist() if m is not None) == list(range(len(ROWS)))
    dropped = [r for r in kept.to_pylist() if r["meta"] is None]
    assert len(dropped) == 1 and json.loads(dropped[0]["repairs"]) == {"turn_keys_dropped": ["conversations"]}


@pytest.mark.parametrize("depth", [40, 300, 500, 900, pytest.param(1200, marks=pytest.mark.slow)])  # (1200: ~2 s)
def test_a_deep_line_ends_the_same_read_alone_or_beside_others(tmp_path, depth):
    """A line is read alone (``json.loads``) when it does not look like one plain object (a space before it),
    else in one parse with its neighbours. Either way a value nested ``depth`` deep is quarantined, its column
    named. Read alone, 500 levels used to end the run: validation's repairs recursed past Python's limit."""
    deep = json.dumps(ROWS[0])[:-1] + ', "meta": ' + "[" * depth + "]" * depth + "}"  # (past what json.loads reads)
    for name, lead in (("beside.jsonl", ""), ("alone.jsonl", " ")):
        path = tmp_path / name
        path.write_text(json.dumps(ROWS[1]) + "\n" + lead + deep + "\n" + json.dumps(ROWS[2]) + "\n")
        manifest = curate(str(path), tmp_path / f"out-{name}")
        assert manifest["accounting"]["quarantined"] == 1 and manifest["accounting"]["input_rows"] == 3
        assert [q["error"] for q in read_quarantine(tmp_path / f"out-{name}")] == [
            "column 'meta' nests more than 32 levels deep (arrays and objects inside each other)"]


def test_value_depths_count_each_rows_own_nesting():
    from curation.readers.raw import MAX_DEPTH, value_depth, value_depths

    values = [None, [], [[1]], {"a": {"b": [1]}}, {"a": None}, [[], [[[]]]], DEEP, {"a": DEEP}]
    for value in values:
        array = pa.array([value, None, value])
        expected = 0 if value is None else min(value_depth(value, MAX_DEPTH), MAX_DEPTH + 1)
        assert value_depths(array).tolist() == [expected, 0, expected], value
    mixed = pa.chunked_array([pa.array([[[[1]]], [[]]], pa.list_(pa.list_(pa.list_(pa.int64())))).slice(1)])
    assert value_depths(mixed).tolist() == [2]  # a slice: its own row only


# --- a line longer than a read, in units ---------------------------------------------------------------------------

def test_units_cut_at_the_line_end_after_a_line_longer_than_several_reads(tmp_path):
    """Units of a byte budget end at a line end: after a line of several MB (read on in pieces, counted, not
    held), the next unit starts at the next line, numbered as it is."""
    long_row = {**ROWS[0], "meta": "x" * (3 << 20)}
    lines = [json.dumps(r) + "\n" for r in (ROWS[1], long_row, ROWS[2], ROWS[3])]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    units = open_input(str(path)).units(unit_bytes=1 << 16)
    starts = [0, len(lines[0]) + len(lines[1])]
    assert [(u.start, u.first_line) for u in units] == [(starts[0], 1), (starts[1], 3)]
    assert units[-1].end == path.stat().st_size
