"""The mix's and the balance cap's draws and the split's assignment are unrelated orders: a down-weighted input
or a capped source still reaches validation and test (was: each ordered rows by the seeded hash of their bare ids
with the same default seed, so the draw kept exactly the rows that sort first in the split's order, and every kept
row of a down-weighted input or capped source went to train)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.balance import Balance, BalanceConfig
from curation.core.stage import POS, ReduceContext
from curation.inputs import InputConfig
from curation.mix import Mix, MixConfig
from curation.split import SplitConfig, assign_groups


def _kept_ids(mix: Mix, ids: list[str], labels: list[str]) -> list[str]:
    keys = pa.table({POS: pa.array(range(len(ids)), pa.int64()), "id": ids, "input": labels})
    decisions = mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None))
    dropped = set(decisions.table.column(POS).to_pylist())
    return [i for k, i in enumerate(ids) if k not in dropped]


def test_a_down_weighted_input_reaches_validation_and_test():
    ids = [f"{k:016x}" for k in range(1, 2001)]
    labels = ["big"] * 1800 + ["small"] * 200
    mix = Mix(MixConfig(), [InputConfig(path="big", name="big", weight=1), InputConfig(path="small", name="small", weight=1)])
    kept = _kept_ids(mix, ids, labels)
    by_input = dict(zip(ids, labels))
    assert Counter(by_input[i] for i in kept) == {"big": 200, "small": 200}
    split = assign_groups(kept, SplitConfig())
    held_out = Counter((by_input[i], split[i]) for i in kept)
    # 5% of 200 rows each is 10: the big input's kept rows must be spread over the splits like the small one's
    for name in ("big", "small"):
        assert held_out[(name, "validation")] >= 3, held_out
        assert held_out[(name, "test")] >= 3, held_out


def _rows(n: int, tag: str) -> list[dict]:
    rng = np.random.default_rng(len(tag) * 7919 + n)
    words = [f"w{k}" for k in range(500)]
    return [{"conversations": [{"from": "human", "value": f"{tag} question {k}: explain it in detail."},
                               {"from": "gpt", "value": " ".join(rng.choice(words, size=50).tolist())}]}
            for k in range(n)]


def test_a_curated_mix_holds_every_input_in_every_split(tmp_path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    for name, n in (("big", 600), ("small", 150)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(n, name)))
    inputs = [{"name": "big", "path": str(tmp_path / "big.jsonl"), "weight": 1},
              {"name": "small", "path": str(tmp_path / "small.jsonl"), "weight": 1}]
    config = load_config(None, {"inputs": inputs, "report": False, "checkpoint": False})
    run_curation(None, tmp_path / "out", config)
    seen = Counter()
    for split in ("train", "validation", "test"):
        seen.update((name, split) for name in pq.read_table(tmp_path / "out" / f"{split}.parquet").column("input").to_pylist())
    assert seen[("big", "train")] + seen[("big", "validation")] + seen[("big", "test")] == 150
    assert seen[("big", "validation")] > 0 and seen[("big", "test")] > 0, seen


def test_a_capped_source_reaches_validation_and_test():
    ids = [f"{k:016x}" for k in range(1, 2001)]
    sources = ["big"] * 1800 + ["small"] * 200
    keys = pa.table({POS: pa.array(range(len(ids)), pa.int64()), "id": ids, "source": sources})
    decisions = Balance(BalanceConfig(per_source={"big": 200})).decide(keys, ReduceContext(config=None, cache_dir=Path("."),
                                                                                          fetch=None))
    dropped = set(decisions.table.column(POS).to_pylist())
    kept = [i for k, i in enumerate(ids) if k not in dropped]
    by_source = dict(zip(ids, sources))
    assert Counter(by_source[i] for i in kept) == {"big": 200, "small": 200}
    split = assign_groups(kept, SplitConfig())
    held_out = Counter((by_source[i], split[i]) for i in kept)
    for name in ("big", "small"):  # 5% of 200 rows each is 10
        assert held_out[(name, "validation")] >= 3, held_out
        assert held_out[(name, "test")] >= 3, held_out


def test_a_small_input_fills_every_split_with_a_share_whichever_split_is_the_large_one():
    """5 rows at 0.1/0.8/0.1 fell 1/4/0: an empty split took a group from train only, and train had one. It takes
    one from the split holding the most when train has no group to spare; train keeps its group; no split with a
    share is left empty where the rows allow it (3 rows at 0.9/0.05/0.05 gave 1/1/1 already)."""
    for shares, rows in (((0.1, 0.8, 0.1), 5), ((0.05, 0.05, 0.9), 5), ((0.9, 0.05, 0.05), 3), ((0.2, 0.6, 0.2), 3)):
        cfg = SplitConfig(train=shares[0], validation=shares[1], test=shares[2])
        for seed in range(5):
            split = assign_groups([f"row{seed}-{k}" for k in range(rows)], cfg.model_copy(update={"seed": seed}))
            counts = Counter(split.values())
            assert set(counts) == {"train", "validation", "test"}, (shares, rows, counts)
    assert Counter(assign_groups([f"r{k}" for k in range(2)], SplitConfig(train=0.1, validation=0.8, test=0.1))
                   .values()) == {"train": 1, "validation": 1}  # (two rows: one split goes without)
