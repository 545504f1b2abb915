"""The seeded ranks balance, mix and split draw by: many keys at once rank each key as one key alone does,
whatever holds them (a list, a string array of either offset width, chunks, a dictionary array)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.core.hashing import seeded_order, seeded_rank, seeded_ranks

keys = st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40), max_size=60)


@settings(max_examples=80, deadline=None)
@given(keys, st.integers(0, 2**32), st.integers(1, 5))
def test_ranks_of_many_keys_are_each_keys_own(values, seed, pieces):
    expected = [seeded_rank(seed, k) for k in values]
    cut = len(values) // pieces
    held = [values, pa.array(values, pa.string()), pa.array(values, pa.large_string()),
            pa.chunked_array([values[:cut], values[cut:]], pa.string()), pa.array(values, pa.string()).dictionary_encode()]
    for keys_ in held:
        assert seeded_ranks(seed, keys_).tolist() == expected
        assert seeded_ranks(seed, keys_).dtype == np.uint64


def test_ranks_are_read_a_slice_at_a_time_past_the_first():
    values = [f"key-{i}-é" for i in range(70_000)]
    ranks = seeded_ranks(11, pa.array(values))
    assert ranks[[0, 65_535, 65_536, 69_999]].tolist() == [seeded_rank(11, values[i]) for i in (0, 65_535, 65_536, 69_999)]
    assert seeded_order(11, pa.array(values)).tolist() == sorted(range(len(values)), key=lambda i: (int(ranks[i]), values[i]))
