"""Defects found reviewing the day's change, each pinned by a test that failed before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.curation.test_against_existing import against_stats, curate, existing, new_input  # noqa: F401 - fixtures

TURNS = [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi there."}]


# -- JSON Lines: a CRLF block is parsed from the block itself, as an LF one is ---------------------------------------

def test_crlf_lines_are_handed_to_arrow_as_a_slice_of_the_block_not_a_copy_joined_line_by_line():
    """Once CR LF ends were left out of the lines, no two lines of a CRLF file looked adjacent (one byte apart),
    so each parse of a CRLF block copied it line by line in Python (a join over every line of an 8 MB block);
    an LF block is handed over as a view of itself."""
    from curation.readers.jsonl import _Block, _line_bounds, parse_block

    lines = [json.dumps({"conversations": TURNS, "score": float(i)}).encode() for i in range(50)]
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


# -- --against one split of a sharded folder: its index is pruned when the split is written again --------------------

def _shard_train(folder: Path, shards: int) -> None:
    """The curated folder's train split written as ``shards`` shards under ``train/`` (as the Ray engine writes it),
    its manifest entry with them."""
    from curation.writer import write_parquet

    single, shard_dir = folder / "train.parquet", folder / "train"
    table = pq.read_table(single) if single.exists() else pq.read_table(sorted(shard_dir.glob("part-*.parquet")))
    single.unlink(missing_ok=True)
    shutil.rmtree(shard_dir, ignore_errors=True)
    shard_dir.mkdir()
    step, names = -(-table.num_rows // shards), []
    for k in range(shards):
        names.append(f"part-{k:05d}.parquet")
        write_parquet(table.slice(k * step, step), shard_dir / names[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["outputs"]["train"]
    entry.pop("sha256", None)
    entry.update({"path": "train/", "files": names, "rows": table.num_rows})
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_the_index_of_a_sharded_split_is_pruned_when_the_split_is_written_in_other_shards(existing, new_input, tmp_path):  # noqa: F811
    """The scope an index is pruned within was the split's shard files as they are now: written again in three
    shards instead of two, the split's earlier index was another scope's and stayed for good (as large as the
    set's signatures), though it can never match again."""
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    indexes = folder / ".cache" / "against"
    _shard_train(folder, 2)
    assert against_stats(curate(new_input, tmp_path / "first", against=folder / "train"))["index"] == "built"
    assert len(list(indexes.glob("index-*"))) == 1
    _shard_train(folder, 3)  # the same split written again (another run, another number of blocks)
    assert against_stats(curate(new_input, tmp_path / "second", against=folder / "train"))["index"] == "built"
    assert len(list(indexes.glob("index-*"))) == 1
    # one shard alone, and the whole folder, are scopes of their own: their indexes stay beside the split's
    curate(new_input, tmp_path / "shard", against=folder / "train" / "part-00001.parquet")
    curate(new_input, tmp_path / "whole", against=folder)
    assert len(list(indexes.glob("index-*"))) == 3


# -- one --input on the command line replaces a config's inputs: list, for every stage ------------------------------

def test_one_command_line_input_replaces_the_configs_inputs_list_without_a_traceback(tmp_path):
    """A config listing two inputs, run with one ``--input`` (the command line replaces the list): the single
    input was read as it is, unlabelled, while the config kept its two inputs, so exact dedup (which took the
    tie-break ``input`` column from the config's count since the day's change) asked the rows for a column they
    do not have and the run ended in a ``KeyError`` traceback. It now curates that input as a run without the
    list does, byte for byte."""
    from curation.config import load_config
    from curation.pipeline import run_curation
    from tests.curation.test_against_existing import rows, write_jsonl

    a = write_jsonl(tmp_path / "a.jsonl", rows(1, 30) + rows(1, 5))  # 5 exact duplicates
    b = write_jsonl(tmp_path / "b.jsonl", rows(2, 10))
    listed = [{"name": "a", "path": str(a)}, {"name": "b", "path": str(b)}]
    for out, inputs in (("listed", listed), ("plain", [])):
        run_curation(str(a), tmp_path / out, load_config(None, {"report": False, "checkpoint": False, "inputs": inputs}))
    for name in ("train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl"):
        assert (tmp_path / "listed" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name
    removed = pq.read_table(tmp_path / "listed" / "removed.parquet")
    assert removed.column("reason").to_pylist().count("exact_duplicate") == 5
