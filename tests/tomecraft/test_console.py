"""Progress bars advance by rows, whatever a stage iterates."""

from __future__ import annotations

import pyarrow as pa

from tomecraft.console import _size


def test_a_bar_advances_by_the_rows_of_what_it_is_given():
    batch = pa.record_batch({"a": [1, 2, 3]})
    assert _size(batch) == 3 and _size((batch, "extra")) == 3
    assert _size((pa.array(["id1", "id2"]), pa.array([[1], [2]]))) == 2  # (ids, conversations) of an existing set
    assert _size(pa.chunked_array([[1], [2, 3]])) == 3
    assert _size(range(5)) == 5 and _size("one item") == 1
