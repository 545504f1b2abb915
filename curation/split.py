"""Train/validation/test assignment by near-duplicate cluster, so that no cluster spans two splits.

Groups (a row's ``cluster_id``, else its ``id``) are ordered by a seeded hash and filled into the splits
in that order until each split's share of rows is reached. Augmented rows follow their origin's split;
with ``augment.train_only`` those whose origin is not in train are dropped (``augment:origin_not_in_train``).
"""

from __future__ import annotations

from collections import defaultdict

from curation.balance import seeded_rank
from curation.config import SplitConfig
from curation.contract import SPLITS
from curation.stage import Removal, Row, StageContext, StageResult


def group_key(row: Row) -> str:
    return row.get("cluster_id") or row["id"]


def assign_groups(rows: list[Row], cfg: SplitConfig) -> dict[str, str]:
    """Group key -> split name."""
    sizes: dict[str, int] = defaultdict(int)
    for row in rows:
        sizes[group_key(row)] += 1
    order = sorted(sizes, key=lambda g: (seeded_rank(cfg.seed, g), g))
    total = sum(sizes.values())
    bounds = [cfg.train * total, (cfg.train + cfg.validation) * total]
    assigned: dict[str, str] = {}
    filled = 0
    for g in order:
        # a group goes where its first row would fall
        if filled < bounds[0] or (cfg.validation == 0 and cfg.test == 0):
            split = "train"
        elif filled < bounds[1] or cfg.test == 0:
            split = "validation"
        else:
            split = "test"
        assigned[g] = split
        filled += sizes[g]
    # small inputs: a split with a share but no group takes train's last group (datasets rejects empty splits)
    for split, share in (("validation", cfg.validation), ("test", cfg.test)):
        if share > 0 and split not in assigned.values():
            train_groups = [g for g in order if assigned[g] == "train"]
            if len(train_groups) > 1:
                assigned[train_groups[-1]] = split
    return assigned


class Split:
    name = "split"

    def __init__(self, cfg: SplitConfig, train_only_augmented: bool = True) -> None:
        self.cfg = cfg
        self.train_only_augmented = train_only_augmented

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        originals = [r for r in rows if r.get("origin_id") is None]
        assigned = assign_groups(originals, self.cfg)
        split_of_id = {r["id"]: assigned[group_key(r)] for r in originals}
        kept: list[Row] = []
        removed: list[Removal] = []
        for row in rows:
            origin = row.get("origin_id")
            split = split_of_id.get(origin) if origin is not None else split_of_id[row["id"]]
            if split is None:
                removed.append(Removal(row=row, reason="augment:origin_missing", details={"origin_id": origin}))
                continue
            if origin is not None and self.train_only_augmented and split != "train":
                removed.append(Removal(row=row, reason="augment:origin_not_in_train", details={"origin_split": split}))
                continue
            row = dict(row)
            row["_split"] = split
            kept.append(row)
        counts = {s: sum(1 for r in kept if r["_split"] == s) for s in SPLITS}
        return StageResult(kept=kept, removed=removed, stats={"rows": counts, "groups": len(assigned)})
