"""Train/validation/test assignment by near-duplicate cluster, so that no cluster spans two splits.

Groups (a row's ``cluster_id``, else its ``id``) are ordered by a seeded hash and filled into the splits
in that order until each split's share of rows is reached. Augmented rows follow their origin's split;
with ``augment.train_only`` those whose origin is not in train are dropped (``augment:origin_not_in_train``).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curation.contract import SPLITS
from curation.core.config_base import StrictModel
from curation.core.hashing import seeded_order
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, POS, REASON, SPLIT, Decisions, GlobalStage, ReduceContext


class SplitConfig(StrictModel):
    """Train/validation/test by near-duplicate cluster, so that no cluster spans two splits."""

    train: float = Field(0.9, ge=0)
    validation: float = Field(0.05, ge=0)
    test: float = Field(0.05, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1 (got {total:g})")
        return self


def assign_groups(group_keys: list[str], cfg: SplitConfig) -> dict[str, str]:
    """Group key (one entry per row, repeats allowed) -> split name."""
    sizes: dict[str, int] = {}
    for g in group_keys:
        sizes[g] = sizes.get(g, 0) + 1
    groups = list(sizes)
    order = [groups[i] for i in seeded_order(cfg.seed, groups)]
    size = np.array([sizes[g] for g in order], dtype=np.int64)
    total = int(size.sum())
    filled = np.cumsum(size) - size  # rows placed before each group: a group goes where its first row falls
    bounds = (cfg.train * total, (cfg.train + cfg.validation) * total)
    only_train = cfg.validation == 0 and cfg.test == 0
    names = np.where(
        (filled < bounds[0]) | only_train,
        "train",
        np.where((filled < bounds[1]) | (cfg.test == 0), "validation", "test"),
    )
    assigned = dict(zip(order, names.tolist()))
    # small inputs: a split with a share but no group takes train's last group (datasets rejects empty splits)
    for split, share in (("validation", cfg.validation), ("test", cfg.test)):
        if share > 0 and split not in assigned.values():
            train_groups = [g for g in order if assigned[g] == "train"]
            if len(train_groups) > 1:
                assigned[train_groups[-1]] = split
    return assigned


class Split(GlobalStage):
    name = "split"

    def __init__(self, cfg: SplitConfig, train_only_augmented: bool = True) -> None:
        self.cfg = cfg
        self.train_only_augmented = train_only_augmented

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = [POS, "id", "cluster_id", "origin_id"]
        return pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        ids = keys.column("id").to_pylist()
        clusters = keys.column("cluster_id").to_pylist()
        origins = keys.column("origin_id").to_pylist()
        originals = [i for i, o in enumerate(origins) if o is None]
        group = [clusters[i] or ids[i] for i in originals]
        assigned = assign_groups(group, self.cfg)
        split_of_id = {ids[i]: assigned[g] for i, g in zip(originals, group)}
        splits: list[str | None] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        for i, origin in enumerate(origins):
            split = split_of_id.get(origin) if origin is not None else split_of_id[ids[i]]
            reason = detail = None
            if split is None:
                reason, detail = "augment:origin_missing", {"origin_id": origin}
            elif origin is not None and self.train_only_augmented and split != "train":
                reason, detail = "augment:origin_not_in_train", {"origin_split": split}
            splits.append(None if reason else split)
            reasons.append(reason)
            details.append(json.dumps(detail, sort_keys=True) if detail else None)
        counts = {s: 0 for s in SPLITS}
        for s in splits:
            if s is not None:
                counts[s] += 1
        table = pa.table(
            {
                POS: keys.column(POS),
                SPLIT: pa.array(splits, pa.string()),
                REASON: pa.array(reasons, pa.string()),
                DETAILS: pa.array(details, pa.string()),
            }
        )
        return Decisions(table, {"rows": counts, "groups": len(assigned)})


SPEC = register(
    StageSpec(
        name="split",
        order=90,
        kind="global",
        config=SplitConfig,
        build=lambda cfg, config: Split(cfg, train_only_augmented=getattr(config.stage("augment"), "train_only", True)),
        reasons=("augment:origin_missing", "augment:origin_not_in_train"),
        summary="train/validation/test by near-duplicate cluster: no cluster spans two splits",
        always_on=True,
    )
)
