"""Keys kept past their batch hold no memory of it: a column taken from the rows is copied, a computed one is not."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curation.engines.passes import _spans, own_buffers


def _one_block(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` as a spill file gives it back: every column a slice of one buffer."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return pa.ipc.open_stream(sink.getvalue()).read_next_batch()


def _inside(column: pa.Array, rows: pa.RecordBatch) -> bool:
    theirs = _spans(rows.columns)
    return any(s < e_ and s_ < e for s, e in _spans([column]) for s_, e_ in theirs)


@pytest.mark.parametrize("offset", [0, 3])
def test_a_column_of_the_rows_is_copied_a_computed_one_kept(offset):
    texts = [f"turn {i} " * (i % 7 + 1) for i in range(50)]
    rows = _one_block(pa.record_batch({"_pos": pa.array(np.arange(50), pa.int64()), "id": [f"r{i}" for i in range(50)],
                                       "text": texts})).slice(offset)
    computed = pc.utf8_length(rows.column("text"))
    keys = pa.record_batch({"_pos": rows.column("_pos"), "id": rows.column("id"), "length": computed})
    assert _inside(keys.column("_pos"), rows) and _inside(keys.column("id"), rows)
    owned = own_buffers(keys, rows)
    assert owned.equals(keys) and owned.schema == keys.schema
    assert not _inside(owned.column("_pos"), rows) and not _inside(owned.column("id"), rows)
    assert owned.column("length").buffers()[1].address == computed.buffers()[1].address  # not copied


def test_no_shared_column_leaves_the_keys_as_they_are():
    rows = pa.record_batch({"_pos": pa.array([0, 1, 2], pa.int64())})
    keys = pa.record_batch({"hash": pa.array([7, 8, 9], pa.uint64()), "none": pa.nulls(3)})
    owned = own_buffers(keys, rows)
    assert owned.equals(keys) and owned.column("hash").buffers()[1].address == keys.column("hash").buffers()[1].address
