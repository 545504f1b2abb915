"""Which rows the PII stage drops (``pii:<type>``) and what it writes in their details (counts, never values)."""

from __future__ import annotations

import json
from collections import Counter

from curation.pii.config import PiiConfig
from curation.pii.patterns import ALL_TYPES


def reason_codes() -> tuple[str, ...]:
    return tuple(f"pii:{t}" for t in ALL_TYPES)


def verdicts(row_types: list[Counter], cfg: PiiConfig) -> tuple[list[str | None], list[str | None]]:
    """(reason, details JSON) per row: the first type (in priority order) whose action is ``drop``."""
    drop = [t for t in ALL_TYPES if getattr(cfg.actions, t) == "drop"]
    reasons: list[str | None] = [None] * len(row_types)
    details: list[str | None] = [None] * len(row_types)
    if not drop:
        return reasons, details
    for i, found in enumerate(row_types):
        hit = next((t for t in drop if found.get(t)), None)
        if hit:
            reasons[i] = f"pii:{hit}"
            details[i] = json.dumps({"found": dict(sorted(found.items()))}, sort_keys=True)
    return reasons, details
