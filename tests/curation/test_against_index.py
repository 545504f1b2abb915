"""--against's index: sorted lookups (binary search) find exactly what comparing every pair finds."""

import json

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.against import POS, Against, ExistingSet, _ranges
from curation.config import config_model
from curation.core.stage import ReduceContext

WORDS = [f"w{i}" for i in range(60)]


def conversation(rng: np.random.Generator, length: int) -> list[dict]:
    return [{"from": "human", "value": "say something"},
            {"from": "gpt", "value": " ".join(rng.choice(WORDS, size=length).tolist())}]


def edited(turns: list[dict], rng: np.random.Generator) -> list[dict]:
    turns = json.loads(json.dumps(turns))
    words = turns[1]["value"].split(" ")
    words[int(rng.integers(len(words)))] = "changed"
    turns[1]["value"] = " ".join(words)
    return turns


def stage(tmp_path, existing_rows: list[list[dict]], **near) -> Against:
    path = tmp_path / "existing.jsonl"
    path.write_text("".join(json.dumps({"conversations": c}) + "\n" for c in existing_rows), encoding="utf-8")
    config = config_model()(stages={"against": {"path": str(path)}, "near_dedup": near})
    return Against(config.stage("against"), config.stage("exact_dedup"), config.stage("near_dedup"),
                   config.stage("normalize")), config


def reference(new_keys: pa.Table, old_keys: pa.Table, threshold: float) -> dict[int, tuple[int, str]]:
    """Every new row against every existing row: exact hash first (lowest position), else the best signature
    estimate among rows sharing a band key (ties: lowest position)."""
    def m(t, c, dtype):
        col = t.column(c).combine_chunks()
        return col.flatten().to_numpy().astype(dtype).reshape(len(col), -1)

    h_new = np.stack([new_keys.column("h1").to_numpy(), new_keys.column("h2").to_numpy()], 1)
    h_old = np.stack([old_keys.column("h1").to_numpy(), old_keys.column("h2").to_numpy()], 1)
    b_new, b_old = m(new_keys, "bands", np.uint64), m(old_keys, "bands", np.uint64)
    s_new, s_old = m(new_keys, "signature", np.uint32), m(old_keys, "signature", np.uint32)
    ok_new, ok_old = new_keys.column("nshingles").to_numpy() > 0, old_keys.column("nshingles").to_numpy() > 0
    out = {}
    for i in range(len(h_new)):
        same = np.flatnonzero((h_old == h_new[i]).all(axis=1))
        if len(same):
            out[i] = (int(same[0]), "exact")
            continue
        if not ok_new[i]:
            continue
        shared = np.flatnonzero(ok_old & (b_old == b_new[i]).any(axis=1))
        if not len(shared):
            continue
        sims = (s_old[shared] == s_new[i]).mean(axis=1)
        best = sims.max()
        if best >= threshold:
            out[i] = (int(shared[np.flatnonzero(sims == best)[0]]), "near")
    return out


def existing_side(against: Against) -> tuple[list[str], pa.Table]:
    """The existing rows' ids and keys, in order, read as the index reads them."""
    ids, keys = [], []
    for id_, conversations, _ in ExistingSet(against.cfg.path).rows(against.normalize_cfg):
        ids += id_.to_pylist()
        keys.append(pa.table(against._signals(conversations)))
    return ids, pa.concat_tables(keys)


def decided(against: Against, config, new_rows: list[list[dict]], tmp_path):
    conversations = pa.array(new_rows, type=pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))
    batch = pa.RecordBatch.from_pydict({POS: pa.array(range(len(new_rows)), pa.int64()),
                                        "id": pa.array([f"n{i}" for i in range(len(new_rows))]),
                                        "conversations": conversations})
    keys = pa.Table.from_batches([against.keys(batch)])
    ctx = ReduceContext(config=config, cache_dir=tmp_path / "cache", fetch=None)
    decisions = against.decide(keys, ctx)
    table = decisions.table
    return keys, decisions.stats, {p: (d, json.loads(x)["match"]) for p, d, x in
                                   zip(table.column(POS).to_pylist(), table.column("duplicate_of").to_pylist(),
                                       table.column("details").to_pylist())}


def test_sorted_lookups_find_what_all_pairs_find(tmp_path):
    rng = np.random.default_rng(7)
    existing = [conversation(rng, int(rng.integers(3, 30))) for _ in range(400)]
    existing += [existing[i] for i in range(0, 40, 4)]  # the same text at two positions: the first one is named
    existing += [[{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]] * 3  # rows without shingles
    new = [existing[int(i)] for i in rng.integers(0, len(existing), 60)]
    new += [edited(existing[int(i)], rng) for i in rng.integers(0, 400, 80)]
    new += [conversation(rng, int(rng.integers(3, 30))) for _ in range(60)]
    against, config = stage(tmp_path, existing, threshold=0.5)
    keys, stats, got = decided(against, config, new, tmp_path)
    assert stats["index"] == "built"
    ids, old_keys = existing_side(against)
    assert got == {row: (ids[at], match) for row, (at, match) in reference(keys, old_keys, 0.5).items()}
    assert sum(k == "near" for _, k in got.values()) > 20 and sum(k == "exact" for _, k in got.values()) >= 60
    # the second run reads the cached index and decides the same
    _, stats, again = decided(against, config, new, tmp_path)
    assert stats["index"] == "cached" and again == got


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=60), st.lists(st.integers(0, 25), max_size=40),
       st.one_of(st.none(), st.integers(1, 4)))
def test_ranges_are_every_equal_slot_capped(sorted_keys, queries, cap):
    keys = np.array(sorted(sorted_keys), dtype=np.uint64)
    q = np.array(queries, dtype=np.uint64)
    at, slot = _ranges(keys, q, cap)
    want = [(i, s) for i, v in enumerate(queries) for s in [j for j, k in enumerate(keys.tolist()) if k == v][:cap]]
    assert sorted(zip(at.tolist(), slot.tolist())) == want


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.data())
def test_gathers_over_many_chunks_equal_arrows_take(chunk_sizes, data):
    """The index's columns come in many chunks (one per written batch): the chunk-wise gathers give what
    Arrow's take over the joined column gives."""
    from curation.against import _gather, _matrix_rows

    total = sum(chunk_sizes)
    rng = np.random.default_rng(total)
    hashes = rng.integers(0, 2**63, total, dtype=np.uint64)
    sigs = rng.integers(0, 2**32, (total, 4), dtype=np.uint32)
    bounds = np.cumsum([0] + chunk_sizes)
    h = pa.chunked_array([pa.array(hashes[a:b]) for a, b in zip(bounds[:-1], bounds[1:])], pa.uint64())
    s = pa.chunked_array([pa.FixedSizeListArray.from_arrays(pa.array(sigs[a:b].reshape(-1)), 4)
                          for a, b in zip(bounds[:-1], bounds[1:])], pa.list_(pa.uint32(), 4))
    positions = np.array(data.draw(st.lists(st.integers(0, max(total - 1, 0)), max_size=20)) if total else [], np.int64)
    assert _gather(h, positions).tolist() == hashes[positions].tolist()
    rows = np.unique(positions)
    assert _matrix_rows(s, rows, np.uint32).tolist() == sigs[rows].tolist()



def test_take_gathers_from_a_column_of_many_chunks_in_the_order_asked():
    from curation.against import _take

    rng = np.random.default_rng(0)
    for sizes in ([5], [3, 0, 4, 1], [1] * 7, [10, 20, 30]):
        n = sum(sizes)
        starts = np.cumsum([0] + sizes)
        column = pa.chunked_array([pa.array([f"r{starts[k] + i}" for i in range(size)], pa.string())
                                   for k, size in enumerate(sizes)], pa.string())
        for m in (0, 1, n, 3 * n):
            positions = rng.integers(0, n, m)
            assert _take(column, positions).to_pylist() == [f"r{p}" for p in positions.tolist()]


# _keep_best: matches folded in slices give each new row the match one pass over all of them gives

from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.8, 0.85, 0.9, 1.0]), st.integers(0, 30)), max_size=40),
       st.integers(1, 8))
def test_best_match_folded_slice_by_slice_is_the_best_of_all(matches, step):
    import numpy as np

    from curation.against import _keep_best

    top_sim, top_pos = np.full(6, -1.0), np.full(6, -1, dtype=np.int64)
    for lo in range(0, len(matches), step):
        part = matches[lo : lo + step]
        _keep_best(top_sim, top_pos, np.array([m[0] for m in part], dtype=np.int64),
                   np.array([m[1] for m in part]), np.array([m[2] for m in part], dtype=np.int64))
    for row in range(6):
        mine = [(s, p) for r, s, p in matches if r == row]
        if not mine:
            assert top_pos[row] == -1
        else:
            best = min(mine, key=lambda sp: (-sp[0], sp[1]))
            assert (top_sim[row], top_pos[row]) == best
