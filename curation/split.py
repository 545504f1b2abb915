"""Train/validation/test assignment by near-duplicate cluster, so that no cluster spans two splits.

Groups (a row's ``cluster_id``, else its ``id``) are ordered by a seeded hash and filled into the splits
in that order until each split's share of rows is reached. Augmented rows follow their origin's split;
with ``augment.train_only`` those whose origin is not in train are dropped (``augment:origin_not_in_train``).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
    groups, sizes = _group_sizes(pa.array(group_keys, pa.string()))
    codes = _assign(groups, sizes, cfg)
    return dict(zip(groups.to_pylist(), [SPLITS[c] for c in codes.tolist()]))


def _group_sizes(keys: pa.Array) -> tuple[pa.Array, np.ndarray]:
    counts = pc.value_counts(keys)
    return counts.field("values"), np.asarray(counts.field("counts"), dtype=np.int64)


def _assign(groups: pa.Array, sizes: np.ndarray, cfg: SplitConfig) -> np.ndarray:
    """The split of each group, as an index into :data:`SPLITS` (int8, aligned with ``groups``)."""
    train, validation, test = (SPLITS.index(s) for s in ("train", "validation", "test"))
    order = seeded_order(cfg.seed, groups)
    size = sizes[order]
    total = int(size.sum())
    filled = np.cumsum(size) - size  # rows placed before each group: a group goes where its first row falls
    bounds = (cfg.train * total, (cfg.train + cfg.validation) * total)
    only_train = cfg.validation == 0 and cfg.test == 0
    in_order = np.where(
        (filled < bounds[0]) | only_train,
        train,
        np.where((filled < bounds[1]) | (cfg.test == 0), validation, test),
    ).astype(np.int8)
    # small inputs: a split with a share but no group takes the last group of train, or where train has one group
    # alone, of the split holding the most (datasets rejects empty splits; 5 rows at 0.1/0.8/0.1 fall 1/4/0)
    for split, share in ((validation, cfg.validation), (test, cfg.test)):
        if share > 0 and not (in_order == split).any():
            donors = sorted((d for d in (train, validation, test) if d != split),
                            key=lambda d: (d != train, -int((in_order == d).sum()), d))
            for donor in donors:
                at = np.flatnonzero(in_order == donor)
                if len(at) > 1:
                    in_order[at[-1]] = split
                    break
    codes = np.empty(len(groups), dtype=np.int8)
    codes[order] = in_order
    return codes


class Split(GlobalStage):
    name = "split"

    def __init__(self, cfg: SplitConfig, train_only_augmented: bool = True) -> None:
        self.cfg = cfg
        self.train_only_augmented = train_only_augmented

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = [POS, "id", "cluster_id", "origin_id"]
        return pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        ids = keys.column("id").combine_chunks()
        origin = keys.column("origin_id").combine_chunks()
        original = np.asarray(origin.is_null(), dtype=bool)
        group = pc.coalesce(keys.column("cluster_id").combine_chunks(), ids)
        groups, sizes = _group_sizes(group.filter(pa.array(original)))
        group_codes = pa.array(_assign(groups, sizes, self.cfg), pa.int8()) if len(groups) else pa.array([], pa.int8())
        # every row's split: originals by their group, augmented rows by their origin's row
        codes = group_codes.take(pc.index_in(group, value_set=groups))
        if not original.all():
            codes = pc.if_else(pa.array(original), codes, _origin_splits(ids, original, origin, codes))
        code = np.array(codes.fill_null(-1), dtype=np.int8)
        n = len(code)
        reasons = np.full(n, None, dtype=object)
        details = np.full(n, None, dtype=object)
        for i in np.flatnonzero(~original):
            if code[i] < 0:
                reasons[i] = "augment:origin_missing"
                details[i] = json.dumps({"origin_id": origin[i].as_py()}, sort_keys=True)
            elif self.train_only_augmented and SPLITS[code[i]] != "train":
                reasons[i] = "augment:origin_not_in_train"
                details[i] = json.dumps({"origin_split": SPLITS[code[i]]}, sort_keys=True)
                code[i] = -1
        split = pa.DictionaryArray.from_arrays(pa.array(code, mask=code < 0), pa.array(SPLITS)).cast(pa.string())
        counts = {name: int((code == k).sum()) for k, name in enumerate(SPLITS)}
        any_reason = not original.all()
        table = pa.table(
            {
                POS: keys.column(POS),
                SPLIT: split,
                REASON: pa.array(reasons.tolist(), pa.string()) if any_reason else pa.nulls(n, pa.string()),
                DETAILS: pa.array(details.tolist(), pa.string()) if any_reason else pa.nulls(n, pa.string()),
            }
        )
        return Decisions(table, {"rows": counts, "groups": len(groups)})


def _origin_splits(ids: pa.Array, original: np.ndarray, origin: pa.Array, split: pa.Array) -> pa.Array:
    """For each row, the split (code) of the original row whose id is its ``origin_id`` (null when none)."""
    original_ids = ids.filter(pa.array(original))
    original_splits = split.filter(pa.array(original))
    return original_splits.take(pc.index_in(origin, value_set=original_ids))


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
