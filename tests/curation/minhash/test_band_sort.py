"""One band's candidate pairs: the packed-key sort orders rows as the stable argsort does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.minhash import kernels
from curation.minhash.banding import band_candidates


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=80), st.integers(2, 5), st.integers(0, 3), st.booleans())
def test_packed_sort_gives_the_pairs_of_the_stable_sort(keys, cap, gap, wide):
    keys = np.array(keys, dtype=np.uint32) * np.uint32(0x1000193 if wide else 1)  # many ties, small and large keys
    rows = np.arange(len(keys), dtype=np.int64) * (gap + 1)  # ascending, with gaps
    n = int(rows[-1]) + 1 if len(rows) else 1
    order = np.argsort(keys, kind="stable")
    want = kernels.bucket_pairs(rows[order], keys[order], n, cap)
    got = band_candidates(keys, rows, n, cap)
    assert np.array_equal(got[0], want[0]) and got[1] == want[1]
