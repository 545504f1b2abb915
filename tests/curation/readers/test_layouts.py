"""Inputs in Arrow's view layouts (string_view, binary_view, list_view) are read as the classic layouts."""

import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_manifest
from curation.readers.raw import plain_layouts

TURNS = [[{"from": "human", "value": f"question {i} about the views"}, {"from": "gpt", "value": f"answer {i} in words"}]
         for i in range(30)]


def test_a_parquet_input_with_view_columns_curates(tmp_path):
    from curation.pipeline import run_curation

    path = tmp_path / "views.parquet"
    pq.write_table(pa.table({
        "conversations": pa.array(TURNS),
        "note": pa.array([f"note {i}" for i in range(30)]).cast(pa.string_view()),
        "blob": pa.array([b"\x00\x01"] * 30).cast(pa.binary_view()),
    }), path)
    assert pq.read_schema(path).field("note").type == pa.string_view()
    run_curation(str(path), tmp_path / "out", None)
    manifest = read_manifest(tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 30 and manifest["accounting"]["quarantined"] == 0
    schema = pq.read_schema(tmp_path / "out" / "train.parquet")
    assert schema.field("note").type == pa.string() and schema.field("blob").type == pa.binary()


def test_nested_views_become_classic_at_every_depth():
    view_turns = pa.list_view(pa.struct([("from", pa.string_view()), ("value", pa.string_view())]))
    table = pa.table({
        "conversations": pa.array(TURNS, type=view_turns),
        "tags": pa.array([{"k": ["a", "b"]}] * 30, type=pa.struct([("k", pa.large_list_view(pa.string_view()))])),
        "plain": pa.array(range(30)),
    })
    out = plain_layouts(table)
    assert out.schema.field("conversations").type == pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
    assert out.schema.field("tags").type == pa.struct([("k", pa.large_list(pa.string()))])
    assert out.column("conversations").to_pylist() == TURNS and out.column("plain").to_pylist() == list(range(30))
    assert plain_layouts(out) is out  # nothing to cast: the same table back


def test_columns_datasets_has_no_feature_for_are_carried_in_the_nearest_it_has(tmp_path):
    """A map, fixed-size binary, an extension type (uuid), decimal32: the run goes on, the card is written and
    the output loads with ``load_dataset``."""
    import datasets

    from curation.pipeline import run_curation

    n = len(TURNS)
    columns = {
        "conversations": pa.array(TURNS),
        "mapping": pa.array([[("a", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
        "fixed": pa.array([b"ab"] * n, pa.binary(2)),
        "uid": pa.array([bytes(range(16))] * n, pa.binary(16)).cast(pa.uuid()),
        "amount": pa.array([decimal.Decimal("1.00")] * n, pa.decimal32(5, 2)),
    }
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table(columns), path)
    run_curation(str(path), tmp_path / "out", None)
    assert read_manifest(tmp_path / "out")["accounting"]["quarantined"] == 0
    assert (tmp_path / "out" / "README.md").exists()
    train = datasets.load_dataset(str(tmp_path / "out"), split="train")
    row = train[0]
    assert row["mapping"] == [{"key": "a", "value": int(row["mapping"][0]["value"])}]
    assert row["fixed"] == b"ab" and row["uid"] == bytes(range(16))
    assert float(row["amount"]) == 1.0


@pytest.mark.parametrize("opening,levels", [("[", 33), ("[", 60), ('{"x": ', 120), ('{"x": ', 1200),
                                           pytest.param("[", 2600, marks=pytest.mark.slow)])  # (2600: ~3 s)
@pytest.mark.parametrize("own_line", [False, True])
def test_a_column_nested_too_deeply_quarantines_the_rows_that_hold_it(tmp_path, opening, levels, own_line):
    """A value nested deeper than a Parquet file holds (50 arrays: the split written, then unreadable), than
    Python walks (1,200), or than Arrow takes rows of (2,600: the process died) quarantines its row, the
    column named; the other rows are kept. ``own_line``: a line read on its own (its neighbour is not JSON).
    The report (about 1 s of charts a run) is written in one case, the deepest the fast lane reads on its own line:
    it shows the quarantined deep line; the other cases check the reader, not the report."""
    import json

    from curation.config import load_config
    from curation.contract import read_quarantine
    from curation.pipeline import run_curation

    closing = "]" if opening == "[" else "}"
    deep = opening * levels + "1" + closing * levels
    path = tmp_path / "deep.jsonl"
    path.write_text('{"conversations": %s, "deep": %s}\n' % (json.dumps(TURNS[0]), deep)
                    + ("not json\n" if own_line else "")
                    + "".join(json.dumps({"conversations": t}) + "\n" for t in TURNS[1:]), encoding="utf-8")
    report = own_line and levels == 1200
    run_curation(str(path), tmp_path / "out", load_config(None, {"report": report}))
    assert (tmp_path / "out" / "report.html").is_file() == report
    accounting = read_manifest(tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == len(TURNS) + own_line
    assert accounting["quarantined"] == 1 + own_line
    errors = [q["error"] for q in read_quarantine(tmp_path / "out")]
    # the column named, however deep (up to what Arrow parses safely), read alone or beside other lines
    assert errors[0] == "column 'deep' nests more than 32 levels deep (arrays and objects inside each other)"


def test_a_column_as_deep_as_kept_is_kept_and_reads_back(tmp_path):
    import json

    from curation.pipeline import run_curation

    deep = "[" * 32 + "1" + "]" * 32
    path = tmp_path / "deep.jsonl"
    path.write_text("".join(json.dumps({"conversations": t, "deep": json.loads(deep)}) + "\n" for t in TURNS),
                    encoding="utf-8")
    run_curation(str(path), tmp_path / "out", None)
    assert read_manifest(tmp_path / "out")["accounting"]["quarantined"] == 0
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in ("train", "validation", "test")])
    assert kept.num_rows == len(TURNS) and kept.column("deep").to_pylist()[0] == json.loads(deep)


def test_crlf_lines_are_handed_to_arrow_as_a_slice_of_the_block_not_a_copy_joined_line_by_line():
    """A CRLF block goes to Arrow as a view of itself, as an LF one does: its lines' ends (CR LF) are left out of
    the lines, and two lines only a line end apart are adjacent (joining them line by line copied every line of
    an 8 MB block in Python)."""
    import json

    import numpy as np

    from curation.readers.jsonl import _Block, _line_bounds, parse_block

    lines = [json.dumps({"conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi there."}], "score": float(i)}).encode() for i in range(50)]
    for end in (b"\n", b"\r\n"):
        block = memoryview(end.join(lines) + end)
        starts, ends = _line_bounds(block)
        text = _Block(block, starts, ends).text(0, len(starts))
        assert isinstance(text, memoryview), end  # a view of the block: no copy
        assert bytes(text).replace(b"\r\n", b"\n") == b"\n".join(lines)
    # the same rows and ids either way; a blank line between two lines still keeps them apart
    lf, _, _ = parse_block(b"\n".join(lines) + b"\n", "f", 1, 0)
    crlf, _, _ = parse_block(b"\r\n".join(lines) + b"\r\n", "f", 1, 0)
    assert crlf.column("_id").equals(lf.column("_id")) and crlf.column("score").equals(lf.column("score"))
    blank = b"\r\n".join(lines[:2]) + b"\r\n\r\n" + b"\r\n".join(lines[2:]) + b"\r\n"
    starts, ends = _line_bounds(blank)
    keep = ends > starts
    assert not _Block(blank, starts[keep], ends[keep])._adjacent(0, int(keep.sum()))
    spaced, _, _ = parse_block(blank, "f", 1, 0)
    assert spaced.column("_id").equals(lf.column("_id")) and spaced.column("_line").to_pylist()[2] == 4
