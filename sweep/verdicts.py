"""One verdict per axis and measure: how much the axis moves the measure, against the seed-to-seed spread.

For an axis (data, learning rate, batch size, ...) each level's mean is taken over the finished cells at that
level whose setting of the other axes was run at two or more levels of this one (:func:`comparable`; in a full
grid, every cell), over all seeds; in a balanced comparison the other axes' effects cancel in a difference of
levels. The effect is the difference between the best and the worst level mean. The noise is the seed-to-seed
spread: the pooled standard deviation over seeds within each configuration (cells that differ only in their seed).
The effect "exceeds the seed spread" when it is larger than twice the standard error of that difference,
``2 * sd * sqrt(1/n_best + 1/n_worst)`` (about a 95% two-sided test under normal noise); ``wins`` counts, over the
settings of the other axes and seeds both levels were run at, how often the best level beat the worst.
With a single seed there is no spread to compare with, and the verdict says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Sequence

# measure -> (label, lower is better)
MEASURES = {
    "heldout_loss": ("held-out loss", True),
    "checks_passed": ("checks passed", False),
    "tokens_per_second": ("training tokens/s", False),
    "peak_memory_gb": ("peak memory GB", True),
}


@dataclass(frozen=True)
class Verdict:
    axis: str
    measure: str
    levels: dict[str, float]  # level -> mean
    counts: dict[str, int]  # level -> runs
    best: str
    worst: str
    effect: float  # |best mean - worst mean|
    seed_sd: float | None  # pooled seed-to-seed standard deviation
    threshold: float | None  # 2 standard errors of the difference
    exceeds: bool | None  # None: no seed repeats to judge by
    wins: int
    comparisons: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        label, lower = MEASURES.get(self.measure, (self.measure, True))
        if len(self.levels) < 2:
            return f"{self.axis}: one level only, nothing to compare"
        runs = f"{self.counts[self.best]} vs {self.counts[self.worst]} runs"
        if self.effect == 0:
            head = f"{self.axis} on {label}: no difference between {self.best} and {self.worst} ({_num(self.levels[self.best])}, {runs})"
        else:
            better = "lower" if lower else "higher"
            head = (f"{self.axis} on {label}: {self.best} {better} than {self.worst} by {_num(self.effect)} "
                    f"({_num(self.levels[self.best])} vs {_num(self.levels[self.worst])}, {runs})")
        paired = f"; {self.best} won {self.wins} of {self.comparisons} paired comparisons" if self.comparisons and self.effect else ""
        if self.exceeds is None:
            return head + paired + "; no seed repeats, so the seed-to-seed spread is unknown"
        ratio = f"{self.effect / self.seed_sd:.1f}x the seed SD {_num(self.seed_sd)}" if self.seed_sd else "seed SD 0"
        verdict = "EXCEEDS" if self.exceeds else "does not exceed"
        return f"{head}: {ratio}, {verdict} the seed spread (2 SE = {_num(self.threshold)}){paired}"


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.4g}" if abs(x) < 100 else f"{x:,.0f}"


def pooled_seed_sd(records: Sequence[dict[str, Any]], measure: str) -> float | None:
    """Pooled standard deviation over seeds within each group (``group`` = the configuration without the seed)."""
    groups: dict[str, list[float]] = {}
    for r in records:
        if r.get(measure) is not None:
            groups.setdefault(r["group"], []).append(float(r[measure]))
    num = den = 0.0
    for values in groups.values():
        if len(values) >= 2:
            num += statistics.variance(values) * (len(values) - 1)
            den += len(values) - 1
    return math.sqrt(num / den) if den else None


def axis_verdict(records: Sequence[dict[str, Any]], axis: str, measure: str) -> Verdict | None:
    """The verdict for ``axis`` on ``measure`` over the finished ``records`` (each with ``axes``, ``group``,
    ``seed`` and the measure), or None when no record has the measure."""
    rows = comparable([r for r in records if r.get(measure) is not None and axis in r["axes"]], axis)
    if not rows:
        return None
    lower = MEASURES.get(measure, (measure, True))[1]
    by_level: dict[str, list[float]] = {}
    for r in rows:
        by_level.setdefault(_level(r["axes"][axis]), []).append(float(r[measure]))
    means = {level: statistics.fmean(v) for level, v in by_level.items()}
    counts = {level: len(v) for level, v in by_level.items()}
    ordered = sorted(means, key=lambda level: means[level], reverse=not lower)
    best, worst = ordered[0], ordered[-1]
    effect = abs(means[best] - means[worst])
    sd = pooled_seed_sd(rows, measure)
    threshold = exceeds = None
    if sd is not None and len(means) > 1:
        threshold = 2 * sd * math.sqrt(1 / counts[best] + 1 / counts[worst])
        exceeds = effect > threshold
    wins = comparisons = 0
    others: dict[tuple, dict[str, float]] = {}
    for r in rows:
        key = (_setting(r, axis), r["seed"])
        others.setdefault(key, {})[_level(r["axes"][axis])] = float(r[measure])
    for pair in others.values():
        if best in pair and worst in pair and best != worst:
            comparisons += 1
            wins += (pair[best] < pair[worst]) if lower else (pair[best] > pair[worst])
    return Verdict(axis, measure, means, counts, best, worst, effect, sd, threshold, exceeds, wins, comparisons)


def _setting(record: dict[str, Any], axis: str) -> tuple:
    return tuple(sorted((a, _level(v)) for a, v in record["axes"].items() if a != axis))


def comparable(records: Sequence[dict[str, Any]], axis: str) -> list[dict[str, Any]]:
    """The records whose setting of the other axes was run at two or more levels of ``axis``: an explicit cell
    that varies only the batch size is compared with the grid cell of the same data and learning rate, not with
    the whole grid."""
    levels: dict[tuple, set[str]] = {}
    for r in records:
        levels.setdefault(_setting(r, axis), set()).add(_level(r["axes"][axis]))
    return [r for r in records if len(levels[_setting(r, axis)]) > 1]


def _level(value: Any) -> str:
    from sweep.plan import format_value

    return format_value(value)


def all_verdicts(records: Sequence[dict[str, Any]], axes: Sequence[str],
                 measures: Sequence[str] = ("heldout_loss", "checks_passed")) -> list[Verdict]:
    """A verdict for every axis with two or more levels, on each measure the records hold."""
    out = []
    for axis in axes:
        levels = {_level(r["axes"][axis]) for r in comparable([r for r in records if axis in r["axes"]], axis)}
        if len(levels) < 2:
            continue
        for measure in measures:
            verdict = axis_verdict(records, axis, measure)
            if verdict is not None:
                out.append(verdict)
    return out
