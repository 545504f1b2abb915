"""What our heuristics say about a row: which fired, whether they disagree, the quality the score suggests.

A row's *heuristics* are the reason it was removed (``exact_duplicate``, ``near_duplicate``,
``filter:answer_too_short``...) plus every length/quality filter of the run's own filter config that fires
on it now (``filter:<code>``; a kept row normally has none). Its ``score`` is a second, independent opinion.
They *disagree* when a filter fired on a row whose score is high (``score >= score_high``), or when no
heuristic fired on a row whose score is low (``score <= score_low``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from curation.review.folder import REMOVED, Located
from curation.contract import Row

DEFAULT_SCORE_HIGH = 4.5
DEFAULT_SCORE_LOW = 3.5


@dataclass(frozen=True)
class Thresholds:
    score_high: float = DEFAULT_SCORE_HIGH
    score_low: float = DEFAULT_SCORE_LOW


class HeuristicReader:
    """Lists the heuristics that fire on a row, with the filter config recorded in the folder's manifest."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self._filters = None
        section = (manifest.get("config") or {}).get("stages", {}).get("filters")
        if section and section.get("enabled", True):
            from curation.config import FiltersConfig
            from curation.filters import Filters

            self._filters = Filters(FiltersConfig.model_validate(section))

    def filter_codes(self, row: Row) -> list[str]:
        if self._filters is None:
            return []
        # every check that fails, not only the first (which named the removal reason)
        fired = [code for code, _ in self._filters.fired(row)]
        return [f"filter:{code}" for code in fired]

    def fired(self, loc: Located) -> list[str]:
        names = set(self.filter_codes(loc.row))
        if loc.location == REMOVED and loc.row.get("reason"):
            names.add(loc.row["reason"])
        return sorted(names)


def score_of(row: Row) -> float | None:
    score = row.get("score")
    if score is None:
        return None
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def disagreement(fired: list[str], score: float | None, thresholds: Thresholds) -> str | None:
    """Why the heuristics disagree on this row, or None when they agree (or the score is missing)."""
    if score is None:
        return None
    if fired and score >= thresholds.score_high:
        return f"{', '.join(fired)} fired but score {score:g} >= {thresholds.score_high:g}"
    if not fired and score <= thresholds.score_low:
        return f"no heuristic fired but score {score:g} <= {thresholds.score_low:g}"
    return None


def quality_from_score(score: float | None) -> int | None:
    """The 1-5 rating a 0-5 ``score`` suggests (rounded half up, clipped); None outside that scale."""
    if score is None or score < 0 or score > 5:
        return None
    return int(min(5, max(1, math.floor(score + 0.5))))
