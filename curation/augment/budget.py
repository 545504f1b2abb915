"""Which rows get augmented, by which method: a seeded, order-independent plan.

Origins are ranked by a hash of (seed, row id), so the plan does not depend on input order or on other
rows. Candidate slot ``j`` of a group of ``n`` ranked origins goes to origin ``j % n`` in pass ``j // n``,
with method ``(rank + pass) % m``: the first pass spreads the methods over different origins, later passes
give an origin a method it has not had, and no origin gets the same method twice (at most ``n * m`` slots).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any, Sequence

Row = dict[str, Any]

from curation.augment.config import BudgetConfig


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
    rows: Sequence[Row], methods: Sequence[str], cfg: BudgetConfig, seed: int, balance_cap: int | None = None
) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    """``[(row index, method)]`` sorted by row index then method order, and what the budget resolved to."""
    if cfg.mode == "fraction":
        # no more than every origin with every method can be tried: capping first also keeps a huge
        # fraction (1e308 * rows overflows to inf) from failing the conversion to int
        want = int(round(min(cfg.fraction * len(rows), float(len(rows) * max(1, len(methods))))))
        slots = _slots(rank(rows, range(len(rows)), seed), want, methods)
        info: dict[str, Any] = {"mode": "fraction", "fraction": cfg.fraction, "requested": want, "candidates": len(slots)}
    else:
        target = cfg.target_per_source or balance_cap
        if target is None:
            raise BudgetError(
                "augment.budget.mode is per_source but no target is set: set "
                "stages.augment.budget.target_per_source or stages.balance.max_per_source"
            )
        groups: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            groups[str(row.get("source") or "")].append(i)
        slots = []
        per_source: dict[str, dict[str, int]] = {}
        for source in sorted(groups):
            idx = groups[source]
            want = max(0, target - len(idx))
            got = _slots(rank(rows, idx, seed), want, methods)
            slots.extend(got)
            per_source[source] = {"rows": len(idx), "requested": want, "candidates": len(got)}
        info = {"mode": "per_source", "target_per_source": target, "candidates": len(slots), "per_source": per_source}
    order = {name: k for k, name in enumerate(methods)}
    slots.sort(key=lambda s: (s[0], order[s[1]]))
    return slots, info
