"""Source balancing and the train/validation/test split on Ray, without gathering rows on the driver.

Both local steps rank rows by a seeded hash (:func:`curation.balance.seeded_rank`) and cut the ranking at a
count: balancing keeps the ``cap`` first rows of a source by ``(rank, id)``; the split fills train, then
validation, then test, in ``(rank(group), group)`` order. A cut at a count is the k-th smallest key, found
here exactly by :func:`kth_smallest`: a histogram of the rank's top 16 bits (summed over blocks) names the
bin that holds the k-th key, and only that bin's keys (about ``n / 65536``) come to the driver. Each row is
then placed by comparing its own key with the cut, so the result is the local engine's, row for row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curation.balance import Balance, seeded_rank
from curation.config import BalanceConfig, SplitConfig
from curation.contract import SPLITS
from curation.engines import ray_ops
from curation.engines import ray_records as rec
from curation.engines.ray_records import Kind
from curation.split import group_key
from curation.stage import Removal

BIN_BITS = 16
COLLECT_MAX = 1_000_000  # keys of one bin brought to the driver at most; bigger bins are refined first


# ------------------------------------------------------------------------------------------ k-th smallest


@dataclass
class _Query:
    group: int
    k: int  # 0-based index still to find inside the current prefix
    value: int = 0  # rank prefix (top ``bits`` bits) the answer lies in
    bits: int = 0
    collect: bool = False


def _histograms(t: pa.Table, queries: list[tuple[int, int, int]]) -> pa.Table:
    t = rec.of_kind(t, Kind.KEY)
    group = rec.column(t, "a")
    h = rec.column(t, "h")
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for qi, g, value, bits in queries:
        m = group == g
        if bits:
            m &= (h >> np.uint64(64 - bits)) == np.uint64(value)
        bins = ((h[m] >> np.uint64(64 - bits - BIN_BITS)) & np.uint64((1 << BIN_BITS) - 1)).astype(np.int64)
        idx, counts = np.unique(bins, return_counts=True)
        out[qi] = (idx, counts)
    b = rec.Builder()
    b.stat({"hist": out})
    return b.build()


def _candidates(t: pa.Table, queries: list[tuple[int, int, int, int]]) -> pa.Table:
    t = rec.of_kind(t, Kind.KEY)
    group = rec.column(t, "a")
    h = rec.column(t, "h")
    ties = rec.payloads(t)
    found: dict[int, list[tuple[int, str]]] = {}
    for qi, g, value, bits in queries:
        m = group == g
        if bits:
            m &= (h >> np.uint64(64 - bits)) == np.uint64(value)
        found[qi] = [(int(h[i]), ties[i].decode("utf-8", "surrogatepass")) for i in np.flatnonzero(m)]
    b = rec.Builder()
    b.stat({"keys": found})
    return b.build()


def kth_smallest(keys, targets: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """For each ``(group, k)``: the k-th smallest (0-based) ``(rank, tie)`` among KEY records of ``group``.

    ``keys`` is a materialized dataset of KEY records (``a`` = group, ``h`` = rank, ``data`` = tie text);
    every ``k`` must be below its group's size.
    """
    queries = [_Query(g, k) for g, k in targets]
    while True:
        open_ = [(i, q.group, q.value, q.bits) for i, q in enumerate(queries) if not q.collect]
        if not open_:
            break
        total: dict[int, np.ndarray] = {i: np.zeros(1 << BIN_BITS, dtype=np.int64) for i, *_ in open_}
        for stats in ray_ops.collect(ray_ops.map_records(keys, _histograms, queries=open_), Kind.STAT):
            for i, (idx, counts) in stats["hist"].items():
                np.add.at(total[i], idx, counts)
        for i, *_ in open_:
            q = queries[i]
            cum = np.cumsum(total[i])
            b = int(np.searchsorted(cum, q.k, side="right"))
            if b >= len(cum):
                raise ValueError(f"k={q.k} is beyond the {int(cum[-1])} keys of group {q.group}")
            q.k -= int(cum[b - 1]) if b else 0
            q.value, q.bits = (q.value << BIN_BITS) | b, q.bits + BIN_BITS
            q.collect = int(total[i][b]) <= COLLECT_MAX or q.bits >= 64
    found: dict[int, list[tuple[int, str]]] = {i: [] for i in range(len(queries))}
    spec = [(i, q.group, q.value, q.bits) for i, q in enumerate(queries)]
    for stats in ray_ops.collect(ray_ops.map_records(keys, _candidates, queries=spec), Kind.STAT):
        for i, keys_found in stats["keys"].items():
            found[i].extend(keys_found)
    return [sorted(found[i])[q.k] for i, q in enumerate(queries)]


# ----------------------------------------------------------------------------------------------- balance


def source_counts(t: pa.Table) -> pa.Table:
    """Map: rows per source, and the first ``pos`` of each source."""
    t = rec.of_kind(t, Kind.ROW)
    counts: dict[Any, int] = {}
    first: dict[Any, int] = {}
    for p, d in zip(rec.column(t, "pos").tolist(), rec.payloads(t)):
        source = rec.loads(d).get("source")
        counts[source] = counts.get(source, 0) + 1
        first[source] = min(first.get(source, p), p)
    b = rec.Builder()
    b.stat({"counts": counts, "first": first})
    return b.build()


def balance_keys(t: pa.Table, groups: dict[Any, int], seed: int) -> pa.Table:
    """Map: a KEY record (rank of the id, the id) for each row of an over-cap source."""
    t = rec.of_kind(t, Kind.ROW)
    b = rec.Builder()
    for p, d in zip(rec.column(t, "pos").tolist(), rec.payloads(t)):
        row = rec.loads(d)
        g = groups.get(row.get("source"))
        if g is not None:
            b.add(Kind.KEY, 0, p, a=g, h=seeded_rank(seed, row["id"]), data=row["id"].encode("utf-8", "surrogatepass"))
    return b.build()


def balance_apply(t: pa.Table, cfg: BalanceConfig, cuts: dict[Any, tuple[int, str] | None], stage_index: int) -> pa.Table:
    """Map: rows of an over-cap source ranked after its cut are removed (``balance:source_cap``)."""
    t = rec.of_kind(t, Kind.ROW)
    step = Balance(cfg)
    out = rec.Builder()
    removed: dict[Any, int] = {}
    for p, d in zip(rec.column(t, "pos").tolist(), rec.payloads(t)):
        row = rec.loads(d)
        source = row.get("source")
        if source in cuts:
            cut = cuts[source]
            key = (seeded_rank(cfg.seed, row["id"]), row["id"])
            if cut is None or key > cut:
                removal = Removal(row=row, reason="balance:source_cap", details={"source": source, "cap": step.cap_for(source)})
                out.add(Kind.REMOVED, 0, p, a=stage_index, data=rec.dumps(removal.as_record("balance")))
                removed[source] = removed.get(source, 0) + 1
                continue
        out.add(Kind.ROW, 0, p, data=d)
    out.stat({"removed": removed})
    return out.build()


def balance_stats(counts: dict[Any, int], first: dict[Any, int], removed: dict[Any, int]) -> dict[str, Any]:
    """``per_source_before`` / ``per_source_after`` exactly as :class:`curation.balance.Balance` reports them."""
    by_first_seen = sorted(counts, key=lambda s: first[s])
    before = {str(k): counts[k] for k in sorted(by_first_seen, key=str)}
    after: dict[str, int] = {}
    for source in by_first_seen:
        kept = counts[source] - removed.get(source, 0)
        if kept:
            after[str(source)] = after.get(str(source), 0) + kept
    return {"per_source_before": before, "per_source_after": dict(sorted(after.items()))}


# ------------------------------------------------------------------------------------------------- split


def split_keys(t: pa.Table, seed: int) -> pa.Table:
    """Map: a KEY record per row (rank of its group, the group; ``b`` = 1 when the group is not the row's own:
    neither its id nor ``c-<id>``, the cluster a kept row of a dedup step heads)."""
    t = rec.of_kind(t, Kind.ROW)
    b = rec.Builder()
    for p, d in zip(rec.column(t, "pos").tolist(), rec.payloads(t)):
        row = rec.loads(d)
        g = group_key(row)
        shared = int(g not in (row["id"], f"c-{row['id']}"))
        b.add(Kind.KEY, 0, p, a=0, b=shared, h=seeded_rank(seed, g), data=g.encode("utf-8", "surrogatepass"))
    return b.build()


@dataclass(frozen=True)
class SplitCuts:
    """Where the filled-in-order splits of :func:`curation.split.assign_groups` end, as key cuts."""

    train_all: bool  # validation and test shares are both 0
    test_zero: bool
    train_cut: tuple[int, str] | None  # keys <= cut are train; None: no train (when not train_all)
    train_everything: bool  # the cut lies beyond the last key
    val_cut: tuple[int, str] | None
    val_everything: bool
    overrides: tuple[tuple[str, str], ...] = ()

    def split_of(self, key: tuple[int, str]) -> str:
        for group, split in self.overrides:
            if group == key[1]:
                return split
        if self.train_all or self.train_everything or (self.train_cut is not None and key <= self.train_cut):
            return "train"
        if self.test_zero or self.val_everything or (self.val_cut is not None and key <= self.val_cut):
            return "validation"
        return "test"


def split_cuts(keys, total: int, cfg: SplitConfig) -> SplitCuts:
    """Train gets the groups that start before row ``train * total`` of the ranking, validation those that
    start before ``(train + validation) * total``: each bound is the key of one row, found exactly."""
    bounds = [cfg.train * total, (cfg.train + cfg.validation) * total]
    ks = [math.ceil(b) for b in bounds]  # a group whose first row has index < ceil(bound) starts before it
    targets = [(0, k - 1) for k in ks if 1 <= k <= total]
    found = iter(kth_smallest(keys, targets)) if targets else iter(())
    cuts = []
    for k in ks:
        if k > total:
            cuts.append((None, True))
        elif k < 1:
            cuts.append((None, False))
        else:
            cuts.append((next(found), False))
    return SplitCuts(
        train_all=cfg.validation == 0 and cfg.test == 0,
        test_zero=cfg.test == 0,
        train_cut=cuts[0][0],
        train_everything=cuts[0][1],
        val_cut=cuts[1][0],
        val_everything=cuts[1][1],
    )


def split_summary(t: pa.Table, cuts: SplitCuts) -> pa.Table:
    """Map: rows per split, and the three largest distinct train group keys of the block."""
    t = rec.of_kind(t, Kind.KEY)
    counts = {"train": 0, "validation": 0, "test": 0}
    top: set[tuple[int, str]] = set()
    shared = int(rec.column(t, "b").sum()) if t.num_rows else 0
    for h, d in zip(rec.column(t, "h").tolist(), rec.payloads(t)):
        key = (h, d.decode("utf-8", "surrogatepass"))
        split = cuts.split_of(key)
        counts[split] += 1
        if split == "train":
            top.add(key)
            if len(top) > 3:
                top.discard(min(top))
    b = rec.Builder()
    b.stat({"counts": counts, "top": sorted(top), "shared": shared})
    return b.build()


def fix_small_splits(cuts: SplitCuts, summaries: list[dict[str, Any]], cfg: SplitConfig) -> SplitCuts:
    """The small-input rule of :func:`assign_groups`: a split with a share but no group takes train's last group."""
    counts = {"train": 0, "validation": 0, "test": 0}
    top: set[tuple[int, str]] = set()
    for s in summaries:
        for k, v in s["counts"].items():
            counts[k] += v
        top.update(tuple(x) for x in s["top"])
    train_groups = sorted(top)[-3:]  # enough to tell "more than one" after up to two moves
    overrides = []
    for split, share in (("validation", cfg.validation), ("test", cfg.test)):
        if share > 0 and counts[split] == 0 and not any(s == split for _, s in overrides):
            if len(train_groups) > 1:
                overrides.append((train_groups.pop()[1], split))
    return SplitCuts(cuts.train_all, cuts.test_zero, cuts.train_cut, cuts.train_everything, cuts.val_cut,
                     cuts.val_everything, tuple(overrides))


def distinct_groups(t: pa.Table) -> pa.Table:
    """Partition of KEY records by group: how many distinct groups it holds."""
    t = rec.of_kind(t, Kind.KEY)
    groups = set(zip(rec.column(t, "h").tolist(), rec.payloads(t)))
    b = rec.Builder()
    b.stat({"groups": len(groups)})
    return b.build()


def split_apply(t: pa.Table, cuts: SplitCuts, seed: int) -> pa.Table:
    """Map: every row gets its split (``_split``, and its index in ``a``), as :class:`curation.split.Split` sets it."""
    t = rec.of_kind(t, Kind.ROW)
    out = rec.Builder()
    counts = {"train": 0, "validation": 0, "test": 0}
    for p, d in zip(rec.column(t, "pos").tolist(), rec.payloads(t)):
        row = rec.loads(d)
        g = group_key(row)
        split = cuts.split_of((seeded_rank(seed, g), g))
        row = dict(row)
        row["_split"] = split
        counts[split] += 1
        out.add(Kind.ROW, 0, p, a=SPLITS.index(split), data=rec.dumps(row))
    out.stat({"rows": counts})
    return out.build()
