"""Mixing: the rows of several inputs drawn to the weights (or row counts) the ``inputs:`` list asks for.

It runs after every dedup stage and filter, so duplicates across inputs are gone first (the same conversation
in two inputs survives once: the keep policy prefers the higher ``score``, then the input listed first, then
the longer conversation; see :mod:`curation.core.keep_policy`) and the mixture is drawn from clean rows.

Inputs with ``max_rows`` contribute at most that many rows; inputs with a ``weight`` share the rest in
proportion to their weights, as large as the scarcest of them allows (``total_rows`` caps the whole mixture; a
weighted input with no row left when the mixture is drawn, every row removed before it, is left out and the
others share its weight: the stats' ``left_out`` names it, and its record has no target share);
inputs with neither keep every row. The mix never repeats a row to fill a share: the scarcest weighted input
sets the size and the others shrink to it (the stats' ``limited_by`` names it, or ``total_rows``); a mix so
small that whole rows put a share more than a point from its target takes the most rows that meet every share
within a point, if fewer do (the stats' ``rounded``: the rows drawn and the rows the size allowed); a
``total_rows`` with no weighted input to scale is refused before the run. Which rows an input keeps is a
seeded shuffle of their ids (salted, so that it is unrelated to the split's shuffle: a down-weighted input
reaches validation and test too), so the same rows come out whatever the batch order or engine. Rows not drawn
are removed as ``mix:over_share`` (a weighted input had more than its share) or ``mix:max_rows``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curation.core.config_base import StrictModel
from curation.core.hashing import seeded_order
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, POS, REASON, Decisions, GlobalStage, ReduceContext, StageError


# what the draw's keys are prefixed with: the split (and balance) order rows by the seeded hash of their bare ids
# with the same default seed, so a draw by the bare ids kept exactly the rows that sort first there, and a
# down-weighted input's rows all landed in train (none in validation or test); salted, the two orders are unrelated
MIX_SALT = "mix\x00"


class MixConfig(StrictModel):
    """Draws the mixture to the inputs' `weight` / `max_rows` (in `inputs:`), after dedup and filters."""

    enabled: bool = True
    seed: int = 0
    total_rows: int | None = Field(None, ge=0, description="cap on the whole mixture (weighted inputs scale down to it)")


def weight_shares(weights: dict[str, float]) -> dict[str, float]:
    """Each weight over their sum. The weights are first scaled by one power of two (exact, so the shares are the
    same bits as ``w / sum(weights)``) to put the largest in [0.5, 1): weights near the float maximum cannot
    overflow the sum to infinity."""
    if not weights:
        return {}
    exponent = math.frexp(max(weights.values()))[1]
    scaled = {name: math.ldexp(w, -exponent) for name, w in weights.items()}
    total = sum(scaled.values())
    return {name: w / total for name, w in scaled.items()} if total else {}


def target_shares(weights: dict[str, float], kept: dict[str, int]) -> dict[str, float]:
    """What each weight asks of the whole mix: its share of ``weights`` (the weighted inputs that reached the mix)
    times the weighted inputs' part of the ``kept`` rows (inputs without a weight take the rest), rounded as the
    manifest shows it. An exact draw has each weighted input's share of ``kept`` equal to its target. With no row
    kept at all (``total_rows: 0``) the inputs without a weight kept none either, so the weights still ask for
    their own shares (not 0% each, which would read as if they asked for nothing)."""
    total_kept = sum(kept.values())
    part = sum(kept.get(name, 0) for name in weights) / total_kept if total_kept else 1.0
    return {name: round(share * part, 6) for name, share in weight_shares(weights).items()}


def allocate(available: dict[str, int], weights: dict[str, float], max_rows: dict[str, int],
             total_rows: int | None = None, why: dict[str, int] | None = None) -> dict[str, int]:
    """Rows to take from each input: fixed counts first, then the weighted inputs in proportion, as many as the
    scarcest allows (largest-remainder rounding, so the counts add up exactly). When so few rows that whole rows
    leave a share more than a point (:data:`SHARE_TOLERANCE`) from its target (weights 1:3 over 2 and 5 rows:
    7 rows drawn 2/5, 28.6% and 71.4%), the weighted part is the largest smaller number of rows that meets every
    share within a point (4: 1/3), if any; ``why`` (a dict, when given) then gets ``rows`` (drawn) and
    ``allowed`` (what the scarcest allowed)."""
    take = {name: min(n, max_rows[name]) for name, n in available.items() if name in max_rows}
    free = {name: n for name, n in available.items() if name not in max_rows and name not in weights}
    take.update(free)
    if total_rows is not None and sum(take.values()) > total_rows:
        raise StageError(f"mix: total_rows is {total_rows:,} but the inputs without a weight give {sum(take.values()):,} "
                         "rows (their max_rows, or all their rows); raise total_rows, or give those inputs a weight "
                         "or a smaller max_rows")
    weighted = {name: w for name, w in weights.items() if name in available}
    if weighted:
        shares = weight_shares(weighted)
        # a weight too small beside the largest to have a share (it underflows to 0) gets no row
        size = min(available[name] / share for name, share in shares.items() if share > 0)
        if total_rows is not None:
            size = min(size, total_rows - sum(take.values()))
        fixed = sum(take.values())
        counts = _draw(available, shares, size)
        if not _on_target(counts, shares, fixed):  # (only a mix under 100 rows: each count is within a row of exact)
            allowed = sum(counts.values())
            for rows in range(min(int(round(size)), 10_000) - 1, 0, -1):
                fewer = _draw(available, shares, rows)
                if _on_target(fewer, shares, fixed):
                    counts = fewer
                    if why is not None:
                        why.update(rows=sum(fewer.values()), allowed=allowed)
                    break
        take.update(counts)
    return take


# a share within one point of its target is on it (the report says each weighted input further off, and why)
SHARE_TOLERANCE = 0.01


def _draw(available: dict[str, int], shares: dict[str, float], size: float) -> dict[str, int]:
    """``size`` rows shared by ``shares`` (each at most its ``available`` rows), by largest remainders."""
    exact = {name: share * size for name, share in shares.items()}
    counts = {name: min(available[name], int(np.floor(x + 1e-9))) for name, x in exact.items()}
    left = int(round(size)) - sum(counts.values())
    for name in sorted(exact, key=lambda k: (-(exact[k] - np.floor(exact[k] + 1e-9)), k)):
        if left <= 0:
            break
        if counts[name] < available[name]:
            counts[name] += 1
            left -= 1
    return counts


def _on_target(counts: dict[str, int], shares: dict[str, float], fixed: int) -> bool:
    """Whether each weighted count is within a point of the share of the whole mix (``fixed``: the rows of the
    inputs without a weight) its weight asks."""
    drawn = sum(counts.values())
    total = drawn + fixed
    return not total or all(abs(counts[name] - share * drawn) <= SHARE_TOLERANCE * total + 1e-9
                            for name, share in shares.items())


def size_limit(available: dict[str, int], weights: dict[str, float], max_rows: dict[str, int],
               total_rows: int | None = None) -> str | None:
    """What set the size of the weighted inputs' part of the mix, as :func:`allocate` draws it: the name of the
    scarcest weighted input (all its rows at its share; the first in list order of equals), or ``"total_rows"``
    when the cap is lower. None without a weighted input, and for one weighted input alone: no other shrank to
    it, it kept every row (was named, and the report said "the other inputs shrank to it" of inputs with
    ``max_rows`` or no weight, which keep what they keep). The stats say it, so that a small input that shrinks
    the others to its share (the mix never repeats rows to fill one) is named, not guessed at."""
    shares = {name: share for name, share in weight_shares({n: w for n, w in weights.items() if n in available}).items()
              if share > 0}
    if not shares:
        return None
    scarcest = min(shares, key=lambda name: available[name] / shares[name])  # (min keeps the first of equals)
    if total_rows is not None:
        fixed = sum(min(n, max_rows[name]) if name in max_rows else n
                    for name, n in available.items() if name not in weights)
        if total_rows - fixed < available[scarcest] / shares[scarcest]:
            return "total_rows"
    return scarcest if len(shares) > 1 else None


class Mix(GlobalStage):
    name = "mix"

    def __init__(self, cfg: MixConfig, inputs: list | None = None) -> None:
        self.cfg = cfg
        self.inputs = list(inputs or [])
        self.check_total_rows()

    def check_total_rows(self) -> None:
        """Refuse, before any row is read, a ``total_rows`` that no weighted input scales to: the inputs without a
        weight keep their rows (all, or ``max_rows``), so the cap could only fail the run once every stage before
        the mix had run, or change nothing. (One input given without a weight has none in ``inputs``.)"""
        total = self.cfg.total_rows
        if total is None or any(i.weight is not None for i in self.inputs):
            return
        caps = [i.max_rows for i in self.inputs]
        if caps and None not in caps and sum(caps) <= total:
            return  # every input's max_rows fits under the cap: it changes nothing, and cannot fail
        several = len(self.inputs) > 1
        raise StageError(f"stages.mix.total_rows is {total:,} but no input has a weight to scale to it (the inputs "
                         "without one keep all their rows, or their max_rows); give "
                         + ("the inputs weights" if several else "the input a weight")
                         + " (weight: 1 in inputs:, or -i PATH@1) to draw "
                         + f"{total:,} rows from {'them' if several else 'it'}, or max_rows instead of total_rows")

    def skip(self) -> bool:
        amounts = any(i.weight is not None or i.max_rows is not None for i in self.inputs)
        return not amounts and self.cfg.total_rows is None

    def depends_on(self) -> list[dict[str, Any]]:
        """What the draw depends on outside ``stages.mix``: each input's name, weight and ``max_rows``, in list
        order (the engines' checkpoints are keyed by it: a resumed run with other weights draws again)."""
        return [{"name": i.name, "weight": i.weight, "max_rows": i.max_rows} for i in self.inputs]

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        if len(self.inputs) > 1:  # validation labelled every row with its input (a batch of no row, when every
            # row of every input was quarantined, is built without the column)
            label = batch.column("input") if "input" in batch.schema.names else pa.nulls(n, pa.string())
        else:  # one input owns every row (an ``input`` column of its own is its data, not a label)
            name = self.inputs[0].name if self.inputs else ""
            label = pa.array([name] * n, pa.string())
        return pa.RecordBatch.from_arrays([batch.column(POS), batch.column("id"), label], names=[POS, "id", "input"])

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        labels = keys.column("input").to_pylist()
        ids = keys.column("id").to_pylist()
        pos = keys.column(POS).to_numpy()
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(labels):
            groups.setdefault(name, []).append(i)
        available = {name: len(idx) for name, idx in groups.items()}
        weights = {i.name: i.weight for i in self.inputs if i.weight is not None}
        caps = {i.name: i.max_rows for i in self.inputs if i.max_rows is not None}
        rounded: dict[str, int] = {}
        take = allocate(available, weights, caps, self.cfg.total_rows, rounded)
        kept = {name: take.get(name, n) for name, n in available.items()}
        kept_total = sum(kept.values())
        targets = target_shares({n: w for n, w in weights.items() if n in available}, kept)
        drop_pos: list[int] = []
        drop_reason: list[str] = []
        drop_detail: list[str] = []
        for name, idx in groups.items():
            keep = kept[name]
            if keep >= len(idx):
                continue
            order = seeded_order(self.cfg.seed, [MIX_SALT + ids[i] for i in idx])
            reason = "mix:max_rows" if name in caps else "mix:over_share"
            detail: dict[str, Any] = {"input": name}
            if name in targets:
                detail["target_share"] = targets[name]
            text = json.dumps(detail, sort_keys=True)
            for k in order[keep:]:
                drop_pos.append(int(pos[idx[k]]))
                drop_reason.append(reason)
                drop_detail.append(text)
        stats: dict[str, Any] = {"per_input": {
            name: {"available": available.get(name, 0), "taken": kept.get(name, 0),
                   "share": round(kept.get(name, 0) / kept_total, 6) if kept_total else 0.0,
                   "target_share": targets.get(name)}
            for name in sorted(set(available) | {i.name for i in self.inputs})},
            "limited_by": size_limit(available, weights, caps, self.cfg.total_rows),
            # weighted inputs with no row left to draw (every row removed or quarantined before the mix): left out,
            # the others shared their weight (in list order)
            "left_out": [i.name for i in self.inputs if i.weight is not None and not available.get(i.name)]}
        if rounded:  # fewer weighted rows than the scarcest allowed, so that whole rows meet the shares
            stats["rounded"] = rounded
        if not drop_pos:
            return Decisions.none(stats)
        order = np.argsort(drop_pos)
        return Decisions(pa.table({
            POS: pa.array(np.array(drop_pos, dtype=np.int64)[order]),
            REASON: pa.array([drop_reason[k] for k in order], pa.string()),
            DETAILS: pa.array([drop_detail[k] for k in order], pa.string()),
        }), stats)


SPEC = register(
    StageSpec(
        name="mix",
        order=75,
        kind="global",
        config=MixConfig,
        build=lambda cfg, curation: Mix(cfg, getattr(curation, "inputs", None)),
        reasons=("mix:over_share", "mix:max_rows"),
        summary="draws the mixture of several inputs to their weights or row counts, after dedup and filters",
    )
)
