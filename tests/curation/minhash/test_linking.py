"""Linker: clusters from candidate pairs, measuring only pairs whose rows are still apart, are the connected
components of every pair at or above the threshold; a removed row's similarity to its kept row is what measuring
that pair gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.minhash import clusters
from curation.minhash.linking import Linker, PairFunction


def _similarity(pairs: np.ndarray, salt: int) -> np.ndarray:
    """A made-up similarity of each pair, a pure function of the pair."""
    x = (pairs[:, 0] * 1_000_003 + pairs[:, 1] * 7_919 + salt) % 1_000
    return x / 999.0


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 30))
    raw = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    dtype = draw(st.sampled_from([np.int64, np.int32]))  # (the stage passes 32-bit pairs where rows fit)
    pairs = np.array(sorted({(min(a, b), max(a, b)) for a, b in raw if a != b}), dtype=dtype).reshape(-1, 2)
    return (n, pairs, draw(st.integers(0, 50)), draw(st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0])), draw(st.integers(1, 7)),
            draw(st.integers(2, 12)))


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_linked_clusters_are_the_components_of_every_similar_pair(case):
    n, pairs, salt, threshold, block, rows_per_block = case
    asked = []

    def measure(some):
        asked.append(len(some))
        return _similarity(some, salt)

    linker = Linker(n, pairs, PairFunction(measure), threshold, block, rows_per_block)
    for _ in linker.run():
        pass
    every = _similarity(pairs, salt) if len(pairs) else np.empty(0)
    assert linker.labels().tolist() == clusters(n, pairs[every >= threshold]).tolist()
    assert sum(asked) == linker.measured <= len(pairs)
    # any two rows: the similarity of their pair when it is a candidate at or above the threshold
    a, b = np.meshgrid(np.arange(n), np.arange(n))
    a, b = a.ravel(), b.ravel()
    found, values = linker.similarity_of(a, b)
    truth = {(int(i), int(j)): s for (i, j), s in zip(pairs, every)}
    for x, y, f, v in zip(a.tolist(), b.tolist(), found.tolist(), values.tolist()):
        s = truth.get((min(x, y), max(x, y)))
        assert f == (s is not None and s >= threshold)
        if f:
            assert v == s


def test_a_clique_is_linked_with_about_one_measure_per_row():
    k = 400
    i, j = np.triu_indices(k, 1)
    pairs = np.stack([i, j], axis=1).astype(np.int64)
    block = 50
    linker = Linker(k, pairs, PairFunction(lambda some: np.ones(len(some))), 0.8, block, rows_per_block=2 * k)
    for _ in linker.run():
        pass
    assert set(linker.labels().tolist()) == {0}
    # row 0's pairs come first and join every row; after them only the rest of their block is measured
    assert linker.measured <= (k - 1) + block < len(pairs) // 50


def test_shingle_sets_in_row_blocks_link_as_measuring_every_pair_exactly():
    """Rows copied with edits, linked through exact Jaccard a pair of small row blocks at a time: the clusters
    and similarities of measuring every candidate pair at once (:func:`exact_jaccard`)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from curation.minhash.verify import ShingleSets, exact_jaccard

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(60)]
    base = [" ".join(rng.choice(words, 40)) for _ in range(6)]
    texts = []
    for k in range(90):
        w = base[k % 6].split()
        for _ in range(int(rng.integers(0, 6))):
            w[int(rng.integers(0, len(w)))] = str(rng.choice(words))
        texts.append(" ".join(w))
    n = len(texts)
    i, j = np.triu_indices(n, 1)
    pairs = np.stack([i, j], axis=1).astype(np.int64)
    every = np.empty(len(pairs))
    for _ in exact_jaccard(pa.array(texts), pairs, "word", 3, every):
        pass
    with ThreadPoolExecutor(2) as pool:
        linker = Linker(n, pairs, ShingleSets(pa.array(texts), "word", 3, pool, 2), 0.5, pairs_per_block=40,
                        rows_per_block=16)
        for _ in linker.run():
            pass
        assert linker.labels().tolist() == clusters(n, pairs[every >= 0.5]).tolist()
        assert linker.measured < len(pairs)
        found, values = linker.similarity_of(pairs[:, 0], pairs[:, 1])
    assert found.tolist() == (every >= 0.5).tolist()
    assert np.array_equal(values, every)
