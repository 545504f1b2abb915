"""Signals: near dedup hands its MinHash signatures to --against right after it, and the decisions are the same
as when --against computes them itself (also when the hand-over is partial or missing, as after a resume)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from curation.against import Against
from curation.config import config_model
from curation.core import registry
from curation.core.registry import StageSpec
from curation.core.stage import POS, ReduceContext, RowStage, StageOutput
from curation.engines.plan import build_plan
from curation.near_dedup import NearDedup

from tests.curation.test_against_index import conversation, edited

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def _config(tmp_path, existing, **near):
    path = tmp_path / "existing.jsonl"
    path.write_text("".join(json.dumps({"conversations": c}) + "\n" for c in existing), encoding="utf-8")
    return config_model()(stages={"against": {"path": str(path)}, "near_dedup": near})


def _data(seed=3):
    rng = np.random.default_rng(seed)
    existing = [conversation(rng, int(rng.integers(3, 30))) for _ in range(300)]
    new = [existing[int(i)] for i in rng.integers(0, 300, 40)]
    new += [edited(existing[int(i)], rng) for i in rng.integers(0, 300, 60)]
    new += [conversation(rng, int(rng.integers(3, 30))) for _ in range(60)]
    new += [[{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]]  # no shingles
    return existing, new


def _batch(rows):
    n = len(rows)
    return pa.RecordBatch.from_pydict({POS: pa.array(np.arange(n) * 3 + 5, pa.int64()),  # positions with gaps
                                       "id": pa.array([f"n{i}" for i in range(n)]),
                                       "conversations": pa.array(rows, type=TURNS),
                                       "score": pa.array([None] * n, pa.float64())})


def _fetch(batch):
    table = pa.Table.from_batches([batch])

    def fetch(positions, columns):
        at = np.searchsorted(table.column(POS).to_numpy(), positions)
        out = table.take(pa.array(at))
        return out if columns is None else out.select([POS, *columns])
    return fetch


def _decisions(stage, keys, ctx):
    table = stage.decide(keys, ctx).table
    return table.to_pylist()


@pytest.mark.parametrize("handed", ["all", "some", "none"])
def test_against_decides_the_same_with_signatures_handed_over(tmp_path, handed):
    existing, new = _data()
    config = _config(tmp_path, existing, threshold=0.5)
    batch = _batch(new)

    def against():
        return Against(config.stage("against"), config.stage("exact_dedup"), config.stage("near_dedup"),
                       config.stage("normalize"))

    alone = against()
    expected = _decisions(alone, pa.Table.from_batches([alone.keys(batch)]),
                          ReduceContext(config=config, cache_dir=tmp_path / "c1", fetch=_fetch(batch)))
    assert sum(d["reason"] == "duplicate_of_existing" for d in expected) > 60

    near = NearDedup(config.stage("near_dedup"))
    taker = against()
    shared = near.offers() & taker.wants()
    assert shared
    near.link(give=shared, take=frozenset())
    taker.link(give=frozenset(), take=shared)
    ctx = ReduceContext(config=config, cache_dir=tmp_path / "c2", fetch=_fetch(batch))
    near.decide(pa.Table.from_batches([near.keys(batch)]), ctx)
    (name,) = shared
    assert ctx.signals[name].num_rows == len(new)
    if handed == "some":  # rows added after near dedup (augmentation) are not in its table
        ctx.signals[name] = ctx.signals[name].slice(0, len(new) // 2)
    elif handed == "none":  # as after --resume from a checkpoint between the two stages
        ctx.signals.clear()
    keys = pa.Table.from_batches([taker.keys(batch)])
    assert "signature" not in keys.column_names
    assert _decisions(taker, keys, ctx) == expected
    assert name not in ctx.signals  # taken: its memory goes with the decision


class Rewrite(RowStage):
    name = "rewrite"

    def process(self, batch):
        return StageOutput(batch)


def _linked(plan):
    stages = {p.name: p.stage for p in plan if p.enabled}
    return stages["near_dedup"]._give, stages["against"]._take


def test_only_neighbours_are_linked(tmp_path):
    existing, _ = _data()
    assert _linked(build_plan(_config(tmp_path, existing), "fp")) == (True, True)
    # the reference backend keeps no signatures to give
    assert _linked(build_plan(_config(tmp_path, existing, backend="datasketch"), "fp")) == (False, False)
    # a stage in between could change the text the signatures were computed from
    registry.register(StageSpec(name="rewrite", order=32, kind="row", config=None, build=lambda cfg, _: Rewrite()))
    try:
        assert _linked(build_plan(_config(tmp_path, existing), "fp")) == (False, False)
    finally:
        registry.unregister("rewrite")
