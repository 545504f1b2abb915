"""Which rows of a curation output folder go to review.

Criteria add up (a row that matches any of them is in the pool); with none, the pool is every kept row of
the three splits. ``sample`` then draws N rows from the pool, at random or stratified by a column (each
group gets its proportional share, largest remainders first), deterministically for a given ``seed``.
Rows come out in folder order (train, validation, test, removed).
"""

from __future__ import annotations

import fnmatch
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from curation.contract import SPLITS
from curation.review.errors import ReviewError, ReviewUsageError
from curation.review.folder import REMOVED, CurationFolder, Located
from curation.review.signals import HeuristicReader, Thresholds, disagreement, score_of

STRATA_SPECIAL = ("location", "reason")


@dataclass(frozen=True)
class Selection:
    splits: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # glob patterns over removal reasons, e.g. "filter:*"
    clusters: bool = False
    augmented: bool = False
    disagree: bool = False
    sample: int | None = None
    stratify_by: str | None = None
    seed: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def has_criteria(self) -> bool:
        return bool(self.splits or self.removed or self.clusters or self.augmented or self.disagree)

    def describe(self) -> dict[str, Any]:
        return {
            "splits": list(self.splits) or (None if self.has_criteria() else list(SPLITS)),
            "removed": list(self.removed) or None,
            "clusters": self.clusters,
            "augmented": self.augmented,
            "disagree": (
                {"score_high": self.thresholds.score_high, "score_low": self.thresholds.score_low}
                if self.disagree else False
            ),
            "sample": self.sample,
            "stratify_by": self.stratify_by,
            "seed": self.seed,
        }


@dataclass
class Picked:
    """A selected row, the heuristics that fired on it, and why it was selected."""

    loc: Located
    fired: list[str]
    why: list[str]
    disagreement: str | None = None

    @property
    def id(self) -> str:
        return self.loc.id


def select_rows(folder: CurationFolder, selection: Selection, reader: HeuristicReader | None = None) -> list[Picked]:
    reader = reader or HeuristicReader(folder.manifest)
    _check(folder, selection)
    cluster_sizes = folder.cluster_sizes()
    pool: list[Picked] = []
    for loc in folder.located():
        # the heuristics are re-run on every row only when --disagree needs them to choose
        fired = reader.fired(loc) if selection.disagree else None
        disagree = disagreement(fired, score_of(loc.row), selection.thresholds) if selection.disagree else None
        why = _matches(loc, selection, cluster_sizes, disagree)
        if why:
            pool.append(Picked(loc, fired or [], why, disagree))
    if not pool:
        raise ReviewError(f"{folder.paths.root}: the selection ({_short(selection)}) matched no rows")
    if selection.sample is not None:
        pool = _sample(pool, selection)
    if not selection.disagree:
        for picked in pool:
            picked.fired = reader.fired(picked.loc)
            picked.disagreement = disagreement(picked.fired, score_of(picked.loc.row), selection.thresholds)
    return pool


def _check(folder: CurationFolder, selection: Selection) -> None:
    for split in selection.splits:
        if split not in SPLITS:
            raise ReviewUsageError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    reasons = sorted({row.get("reason") or "" for row in folder.removed})
    for pattern in selection.removed:
        if not any(fnmatch.fnmatchcase(r, pattern) for r in reasons):
            known = ", ".join(reasons) or "none: removed.parquet is empty"
            raise ReviewUsageError(f"--removed {pattern!r} matches no removal reason in {folder.paths.removed} (reasons: {known})")
    if selection.sample is not None and selection.sample < 1:
        raise ReviewUsageError(f"--sample {selection.sample}: must be at least 1")
    if selection.stratify_by is not None:
        if selection.sample is None:
            raise ReviewUsageError("--stratify-by needs --sample N (how many rows to draw)")
        columns = set().union(*(loc.row.keys() for loc in folder.located()))
        if selection.stratify_by not in columns | set(STRATA_SPECIAL):
            raise ReviewUsageError(f"--stratify-by {selection.stratify_by!r}: not a column of the folder "
                              f"(try location, reason, source)")


def _matches(loc: Located, s: Selection, cluster_sizes: dict[str, int], disagree: str | None) -> list[str]:
    row = loc.row
    why: list[str] = []
    if not s.has_criteria():
        return [f"split:{loc.location}"] if loc.location != REMOVED else []
    if loc.location in s.splits:
        why.append(f"split:{loc.location}")
    if loc.location == REMOVED and any(fnmatch.fnmatchcase(row.get("reason") or "", p) for p in s.removed):
        why.append(f"removed:{row.get('reason')}")
    if s.clusters and cluster_sizes.get(row.get("cluster_id") or "", 0) > 1:
        why.append("cluster")
    if s.augmented and row.get("augmentation"):
        why.append("augmented")
    if s.disagree and disagree:
        why.append("disagree")
    return why


def stratum_of(picked: Picked, column: str) -> str:
    if column == "location":
        return picked.loc.location
    if column == "reason":
        return picked.loc.row.get("reason") or "kept"
    value = picked.loc.row.get(column)
    return "(none)" if value is None else str(value)


def _sample(pool: list[Picked], s: Selection) -> list[Picked]:
    n = s.sample or 0
    if n >= len(pool):
        return pool
    rng = random.Random(s.seed)
    if s.stratify_by is None:
        chosen = rng.sample(range(len(pool)), n)
    else:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, picked in enumerate(pool):
            groups[stratum_of(picked, s.stratify_by)].append(i)
        quotas = allocate(n, {k: len(v) for k, v in groups.items()})
        chosen = []
        for key in sorted(groups):
            chosen += rng.sample(groups[key], quotas[key])
    return [pool[i] for i in sorted(chosen)]


def allocate(n: int, sizes: dict[str, int]) -> dict[str, int]:
    """Split ``n`` draws over groups in proportion to their sizes (Hamilton's largest-remainder method)."""
    total = sum(sizes.values())
    exact = {k: n * size / total for k, size in sizes.items()}
    quotas = {k: int(v) for k, v in exact.items()}
    left = n - sum(quotas.values())
    order = sorted(sizes, key=lambda k: (-(exact[k] - quotas[k]), -sizes[k], k))
    for key in order:
        if left == 0:
            break
        if quotas[key] < sizes[key]:
            quotas[key] += 1
            left -= 1
    return quotas


def _short(s: Selection) -> str:
    parts = [f"split={','.join(s.splits)}" if s.splits else "", f"removed={','.join(s.removed)}" if s.removed else "",
             "clusters" if s.clusters else "", "augmented" if s.augmented else "", "disagree" if s.disagree else ""]
    return " ".join(p for p in parts if p) or "all kept rows"
