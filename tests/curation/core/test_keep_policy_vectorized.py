"""The keep policy decided with array operations gives, cluster for cluster, what the policy's plain statement
gives: every member's kept row under the sort key (cluster, -score, input, -chars, id, position), and the
similarity details of each removed row."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.core.keep_policy import input_ranks, keep_decisions
from curation.core.stage import POS


def reference_decisions(keys: pa.Table, labels, reason, pairs=None, similarity=None) -> list[dict]:
    """The policy as stated, one member at a time (what tomecraft ran before it was written on arrays)."""
    labels = np.asarray(labels, dtype=np.int64)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    members = np.flatnonzero(counts[inverse] > 1)
    pos = keys.column(POS).to_numpy()[members]
    ids = keys.column("id").to_pylist()
    scores = keys.column("score").to_pylist()
    chars = keys.column("chars").to_pylist()
    names = keys.column("input").to_pylist() if "input" in keys.column_names else None
    first: dict = {}
    if names is not None:
        for name, p in zip(names, keys.column(POS).to_pylist()):
            if name not in first or p < first[name]:
                first[name] = p
    rank_of = {name: r for r, name in enumerate(sorted(first, key=first.get))}

    def sort_key(r):
        s = scores[r]
        s = -math.inf if s is None or math.isnan(s) else s
        return (labels[r], -s, rank_of[names[r]] if names is not None else 0, -chars[r], ids[r], int(keys.column(POS)[r].as_py()))

    winner_of: dict = {}
    for r in sorted(members.tolist(), key=sort_key):
        winner_of.setdefault(int(labels[r]), r)
    sim_of = {}
    if pairs is not None and similarity is not None:
        for (i, j), s in zip(np.asarray(pairs).tolist(), np.asarray(similarity).tolist()):
            sim_of[(i, j)] = s
    out = []
    for r in members.tolist():
        w = winner_of[int(labels[r])]
        row = {POS: int(keys.column(POS)[r].as_py()), "reason": None, "duplicate_of": None, "cluster_id": f"c-{ids[w]}",
               "details": None}
        if r != w:
            row["reason"], row["duplicate_of"] = reason, ids[w]
            if pairs is not None:
                sim = sim_of.get((min(r, w), max(r, w)))
                row["details"] = json.dumps({"similarity": round(sim, 6) if sim is not None else "transitive"}, sort_keys=True)
        out.append(row)
    return sorted(out, key=lambda d: d[POS])


ID = st.text(alphabet=st.sampled_from(["a", "b", "é", "\U0001f600", "\u00ff", "Z", "0", "\x00"]), max_size=3)
SCORE = st.one_of(st.none(), st.just(float("nan")), st.just(float("inf")), st.just(-0.0), st.just(0.0),
                  st.sampled_from([1.0, 2.5, 3.0]))


@st.composite
def cases(draw):
    n = draw(st.integers(1, 40))
    labels = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    positions = draw(st.permutations(list(range(0, 3 * n, 3))))
    columns = {
        POS: pa.array(positions, pa.int64()),
        "id": pa.array(draw(st.lists(ID, min_size=n, max_size=n)), pa.string()),
        "score": pa.array(draw(st.lists(SCORE, min_size=n, max_size=n)), pa.float64()),
        "chars": pa.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), pa.int64()),
    }
    if draw(st.booleans()):
        columns["input"] = pa.array(draw(st.lists(st.sampled_from(["b", "a", None, "c"]), min_size=n, max_size=n)), pa.string())
    keys = pa.table(columns)
    pairs = sims = None
    if draw(st.booleans()):
        raw = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
        raw = [(min(i, j), max(i, j)) for i, j in raw if i != j]
        pairs = np.array(raw, dtype=np.int64).reshape(-1, 2)
        sims = np.array(draw(st.lists(st.floats(0, 1), min_size=len(raw), max_size=len(raw))), dtype=np.float64)
    return keys, np.array(labels), pairs, sims


@settings(max_examples=300, deadline=None)
@given(cases())
def test_array_policy_decides_as_the_stated_policy(case):
    keys, labels, pairs, sims = case
    got = keep_decisions(keys, labels, "near_duplicate", pairs, sims).table
    got_rows = got.to_pylist() if got is not None else []
    assert got_rows == reference_decisions(keys, labels, "near_duplicate", pairs, sims)


def test_pairs_without_similarities_are_transitive():
    keys = pa.table({POS: pa.array([0, 1], pa.int64()), "id": ["a", "b"], "score": [1.0, 2.0], "chars": pa.array([1, 1], pa.int64())})
    rows = keep_decisions(keys, np.array([0, 0]), "near_duplicate", np.array([[0, 1]]), None).table.to_pylist()
    assert [r["details"] for r in rows] == ['{"similarity": "transitive"}', None]


def test_input_ranks_follow_each_inputs_first_row_null_names_included():
    keys = pa.table({POS: pa.array([5, 1, 3, 0, 4], pa.int64()), "input": pa.array(["b", "a", None, "b", "a"])})
    assert input_ranks(keys, np.arange(5)).tolist() == [0, 1, 2, 0, 1]
    keys = keys.set_column(1, "input", pa.array(["b", "a", None, "b", "a"]).dictionary_encode())
    assert input_ranks(keys, np.array([2, 1])).tolist() == [2, 1]
