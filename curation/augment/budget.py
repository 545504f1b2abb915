"""Which rows get augmented, by which method: a seeded, order-independent plan.

Origins are ranked by a hash of (seed, row id), so the plan does not depend on input order or on other
rows. Candidate slot ``j`` of a group of ``n`` ranked origins goes to origin ``j % n`` in pass ``j // n``,
with method ``(rank + pass) % m``: the first pass spreads the methods over different origins, later passes
give an origin a method it has not had, and no origin gets the same method twice (at most ``n * m`` slots).

``per_source`` groups rows into sources, and caps them, as the balance stage does (:mod:`curation.balance`:
:func:`~curation.balance.source_key`, and the stage's own cap of each source): null, ``""`` and ``"(none)"``
are one source, ``"alpaca "`` is ``"alpaca"``, and no source is lifted past the cap balance holds it to.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any, Sequence

Row = dict[str, Any]

from curation.augment.config import BudgetConfig
from curation.balance import Balance, BalanceConfig, source_key


class BudgetError(ValueError):
    """A budget that cannot be resolved (the message names the config keys to set)."""


def rank(rows: Sequence[Row], indices: Sequence[int], seed: int) -> list[int]:
    return sorted(indices, key=lambda i: (hashlib.sha256(f"{seed}:{rows[i]['id']}".encode()).digest(), i))


def _slots(order: list[int], want: int, methods: Sequence[str]) -> list[tuple[int, str]]:
    n, m = len(order), len(methods)
    if n == 0 or m == 0:
        return []
    want = min(want, n * m)
    out = []
    for j in range(want):
        r, p = j % n, j // n
        out.append((order[r], methods[(r + p) % m]))
    return out


def plan(
    rows: Sequence[Row], methods: Sequence[str], cfg: BudgetConfig, seed: int, balance: BalanceConfig | None = None
) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    """``[(row index, method)]`` sorted by row index then method order, and what the budget resolved to.

    ``per_source``: a source's target is ``target_per_source``, or else its balance cap (``balance``'s
    ``per_source`` cap of it, or ``max_per_source``), and never more than that cap; a source with neither is
    not lifted. A disabled balance stage caps nothing, so it sets no target either.
    """
    if cfg.mode == "fraction":
        # no more than every origin with every method can be tried: capping first also keeps a huge
        # fraction (1e308 * rows overflows to inf) from failing the conversion to int
        want = int(round(min(cfg.fraction * len(rows), float(len(rows) * max(1, len(methods))))))
        slots = _slots(rank(rows, range(len(rows)), seed), want, methods)
        info: dict[str, Any] = {"mode": "fraction", "fraction": cfg.fraction, "requested": want, "candidates": len(slots)}
    else:
        capping = balance is not None and balance.enabled and (balance.max_per_source is not None or balance.per_source)
        if cfg.target_per_source is None and not capping:
            raise BudgetError(
                "augment.budget.mode is per_source but no target is set: set "
                "stages.augment.budget.target_per_source, or a cap in stages.balance (max_per_source or "
                "per_source, with balance enabled)"
            )
        caps = Balance(balance).cap_for if capping else (lambda source: None)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            groups[source_key(row.get("source"))].append(i)
        slots = []
        per_source: dict[str, dict[str, Any]] = {}
        for source in sorted(groups):
            idx = groups[source]
            bounds = [t for t in (cfg.target_per_source, caps(source)) if t is not None]
            target = min(bounds) if bounds else None
            want = max(0, target - len(idx)) if target is not None else 0
            got = _slots(rank(rows, idx, seed), want, methods)
            slots.extend(got)
            per_source[source] = {"rows": len(idx), "target": target, "requested": want, "candidates": len(got)}
        default = cfg.target_per_source if cfg.target_per_source is not None else balance.max_per_source
        info = {"mode": "per_source", "target_per_source": default, "candidates": len(slots), "per_source": per_source}
    order = {name: k for k, name in enumerate(methods)}
    slots.sort(key=lambda s: (s[0], order[s[1]]))
    return slots, info
