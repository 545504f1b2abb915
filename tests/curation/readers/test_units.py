"""A JSON Lines file cut into byte ranges (the Ray engine's read units) reads as the whole file does."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.readers import InputError, open_input

ROW = '{"source": "a", "conversations": [{"from": "human", "value": "Q %d?"}, {"from": "gpt", "value": "A %d."}]}'


def _raw(source, units) -> pa.Table:
    return pa.concat_tables(
        pa.Table.from_batches([b]).select(["_line", "_error"]) for u in units for b in source.read_unit(u)
    )


def test_a_part_holding_only_bad_lines_reads_like_the_whole_file(tmp_path):
    lines = ["", '{"conversations": [', "[1, 2]", *(ROW % (i, i) for i in range(6)), '{"conversations": [', "nope"]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_input(str(path))
    whole = source.units()
    parts = source.units(unit_bytes=40)
    assert len(whole) == 1 and len(parts) > 3
    assert _raw(source, parts).to_pylist() == _raw(source, whole).to_pylist()


@pytest.mark.parametrize("unit_bytes", [None, 16])
def test_a_file_without_one_json_line_is_refused_whole_or_cut(tmp_path, unit_bytes):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"not json\n\x00\x01\x02 binary\nstill not json\n" * 5)
    source = open_input(str(path))
    with pytest.raises(InputError, match=r"junk\.jsonl: line 1: not JSON Lines"):
        for unit in source.units(unit_bytes=unit_bytes):
            list(source.read_unit(unit))


def _read_all(path, block_bytes: int) -> list[dict]:
    from pyarrow import fs as pafs

    from curation.readers.jsonl import read_jsonl

    size = path.stat().st_size
    batches = [b for b, _ in read_jsonl(pafs.LocalFileSystem(), str(path), path.name, 0, size, 1, 0,
                                        block_bytes=block_bytes, check=False)]
    keep = ("_pos", "_id", "_line", "_error", "_slow", "conversations")
    # a record's raw bytes run to the next record's first byte: blank lines after it go with the block
    return [{**{k: row.get(k) for k in keep}, "_raw": row["_raw"].split(b"\n", 1)[0]} for b in batches for row in b.to_pylist()]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([ROW % (1, 1), ROW % (22, 333) + "   ", "", "   ", "not json", "[1, 2]",
                                 ROW.replace("Q %d?", "x" * 300) % 5, ROW % (4, 4) + "\r"]), max_size=25),
       st.booleans(), st.booleans(), st.sampled_from([1, 7, 64, 200]))
def test_any_block_size_reads_what_one_block_reads(tmp_path_factory, lines, bom, trailing_newline, block_bytes):
    """Blocks are read from the start of their first line, as views of what was read; a line longer than a
    block is read with a larger one. Any block size gives the same records, line numbers, ids and raw bytes."""
    path = tmp_path_factory.mktemp("blocks") / "rows.jsonl"
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert _read_all(path, block_bytes) == _read_all(path, 1 << 20)


def test_fingerprint_hashed_in_background_is_the_same_and_travels(tmp_path):
    """``hash_in_background`` (a run's start overlaps the hashing) gives the fingerprint hashing gives; a
    source pickled meanwhile (to Ray workers) carries the value; a file gone meanwhile is the usual error."""
    import pickle

    path = tmp_path / "rows.jsonl"
    path.write_text("".join(ROW % (i, i) + "\n" for i in range(50)), encoding="utf-8")
    want = open_input(str(path)).fingerprint
    source = open_input(str(path))
    source.hash_in_background()
    assert pickle.loads(pickle.dumps(source)).fingerprint_value == want
    assert source.fingerprint == want
    gone = open_input(str(path))
    path.unlink()
    gone.hash_in_background()
    with pytest.raises(InputError, match="cannot read"):
        gone.fingerprint


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json"])
def test_a_source_with_a_value_nested_hundreds_deep_travels_to_a_ray_worker(tmp_path, name):
    """Ray ships the source to its workers with cloudpickle. A value nested 600 objects deep (JSON reads it,
    the local engine quarantines its row) among the first records that told the format, or among a ``.json``
    document's rows, ended the Ray run in "Could not pickle object as excessively deep recursion required"."""
    cloudpickle = pytest.importorskip("ray.cloudpickle")
    import json

    from curation.config import load_config
    from curation.pipeline import open_source

    rows = [ROW % (i, i) for i in range(5)]
    rows.insert(2, ROW[:-1] % (2, 2) + ', "meta": ' + '{"a": ' * 600 + "1" + "}" * 600 + "}")
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n" if name.endswith(".jsonl") else "[" + ",\n".join(rows) + "]",
                    encoding="utf-8")
    source, _ = open_source(str(path), load_config(None, {"report": False}), tmp_path / "out")
    assert "_first_records" in source.__dict__  # (the format was told from the first records: they hold the row)
    copy = cloudpickle.loads(cloudpickle.dumps(source))
    for unit in source.units(unit_bytes=1 << 20):
        mine, theirs = list(source.read_unit(unit)), list(copy.read_unit(unit))
        assert [b.column("_raw").to_pylist() for b in theirs] == [b.column("_raw").to_pylist() for b in mine]
    assert json.loads(pa.concat_tables(pa.Table.from_batches([b]) for b in theirs).column("_raw")[2].as_py())["meta"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30))
def test_line_ids_of_a_block_are_each_lines_line_id(lines):
    import numpy as np

    from curation.contract import line_id, line_ids

    block = b"".join(lines)
    ends = np.cumsum([len(x) for x in lines]).astype(np.int64)
    starts = ends - np.array([len(x) for x in lines], dtype=np.int64)
    assert line_ids(block, starts, ends).to_pylist() == [line_id(x) for x in lines]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_the_block_utf8_check_agrees_with_python(data):
    """Arrow's check of a block (no GIL held) says what Python's strict decode says, surrogates included."""
    from curation.readers.jsonl import _valid_utf8

    try:
        data.decode("utf-8")
        strict = True
    except UnicodeDecodeError:
        strict = False
    assert _valid_utf8(data) is strict
    assert _valid_utf8(memoryview(b"x" + data)[1:]) is strict


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([ROW % (1, 1), ROW % (22, 333), "", "not json", "[1, 2]", ROW % (4, 4) + "\r"]),
                min_size=1, max_size=40), st.integers(1, 8), st.integers(0, 10**6), st.integers(1, 10**6))
def test_blocks_parsed_side_by_side_are_numbered_as_one_after_another(lines, cuts, first_pos, first_line):
    """Blocks parsed on threads (each as if it came first, then shifted) give the positions and line numbers
    of parsing them one after another."""
    from curation.readers.jsonl import parse_block, parsed_blocks

    step = max(1, len(lines) // cuts)
    blocks = [("\n".join(lines[i : i + step]) + "\n").encode() for i in range(0, len(lines), step)]
    expected, line, pos = [], first_line, first_pos
    for block in blocks:
        batch, nlines, nrec = parse_block(block, "f.jsonl", line, pos, threads=False)
        expected.append((None if batch is None else batch.to_pylist(), nlines, nrec))
        line, pos = line + nlines, pos + nrec
    got = [(None if b is None else b.to_pylist(), nl, nr)
           for b, nl, nr in parsed_blocks(blocks, "f.jsonl", first_pos, first_line, workers=2)]
    assert got == expected


def test_small_shards_are_read_as_batches_of_up_to_batch_rows(tmp_path):
    """A folder of one-row shards was one batch per shard, each paying every stage's per-batch cost in every pass
    (2,000 shards: 14 s for 2,000 rows); batches of the same columns are joined, in order, up to ``batch_rows``."""
    import json

    folder = tmp_path / "shards"
    folder.mkdir()
    for i in range(50):
        row = {"conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}]}
        if i >= 40:
            row["meta"] = i  # other columns from here: a batch of their own
        (folder / f"part-{i:03d}.jsonl").write_text(json.dumps(row) + "\n")
    source = open_input(str(folder))
    batches = list(source.batches(batch_rows=16))
    assert [b.num_rows for b in batches] == [16, 16, 8, 10]
    positions = pa.Table.from_batches(batches[:3]).column("_pos").to_pylist()
    assert len(positions) == 40 and positions == sorted(set(positions))  # every row once, in input order
    assert [b.num_rows for b in source.batches()] == [40, 10]


def test_small_shards_of_two_inputs_are_joined_within_each_input_only(tmp_path):
    import json

    from curation.inputs import INPUT, InputConfig, open_inputs

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(5):
            row = {"conversations": [{"from": "human", "value": f"{name}{i}"}, {"from": "gpt", "value": "x"}]}
            (tmp_path / name / f"p{i}.jsonl").write_text(json.dumps(row) + "\n")
    source = open_inputs([InputConfig(path=str(tmp_path / "a")), InputConfig(path=str(tmp_path / "b"))])
    assert [(b.num_rows, set(b.column(INPUT).to_pylist())) for b in source.batches()] == [(5, {"a"}), (5, {"b"})]


def test_a_folder_of_shards_is_listed_once_per_run(tmp_path, monkeypatch):
    """Each pass over the input and each look at its first records listed its units again: for a folder of
    thousands of shards, every file classified and its head read four times."""
    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.readers.source import InputSource

    folder = tmp_path / "shards"
    folder.mkdir()
    for k in range(12):
        (folder / f"part-{k:02d}.jsonl").write_text(ROW % (k, k) + "\n", encoding="utf-8")
    heads = []
    real = InputSource._plain_text
    monkeypatch.setattr(InputSource, "_plain_text", lambda self, path: heads.append(path) or real(self, path))
    run_curation(str(folder), tmp_path / "out", load_config(None, {"report": False, "checkpoint": False}))
    assert sorted(heads) == sorted(str(p) for p in folder.iterdir())  # each file's head read once
