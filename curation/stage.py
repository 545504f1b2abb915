"""What every curation step looks like.

A step is a small class with a ``name`` and one method, ``run(rows, ctx) -> StageResult``. ``rows`` is the
list of rows still in play, in input order; a row is a plain ``dict`` with the keys described in
:mod:`curation.contract` (``id``, ``conversations``, ``source``, ``score``, provenance keys, extra input
columns). A step never mutates a row it hands back as removed; it returns every input row either in
``kept`` or in ``removed`` (the pipeline checks this), plus any new rows it created in ``added``
(augmentation). What runs the steps, checkpoints them and writes the outputs lives in
:mod:`curation.pipeline`, apart from the steps.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

if TYPE_CHECKING:
    from curation.config import CurationConfig

Row = dict[str, Any]


@dataclass
class Removal:
    """One row a step dropped, with why."""

    row: Row
    reason: str
    duplicate_of: str | None = None
    cluster_id: str | None = None
    details: dict[str, Any] | None = None

    def as_record(self, stage: str) -> Row:
        record = dict(self.row)
        record["stage"] = stage
        record["reason"] = self.reason
        record["duplicate_of"] = self.duplicate_of
        if self.cluster_id is not None:
            record["cluster_id"] = self.cluster_id
        record["details"] = json.dumps(self.details, sort_keys=True) if self.details else None
        return record


@dataclass
class StageResult:
    kept: list[Row]
    removed: list[Removal] = field(default_factory=list)
    added: list[Row] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def removed_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.removed).items()))


ProgressFactory = Callable[[Iterable[Any], int, str], Iterator[Any]]


def _no_progress(items: Iterable[Any], total: int, description: str) -> Iterator[Any]:
    yield from items


@dataclass
class StageContext:
    """What a step may use besides its rows: the config, a cache folder, a progress wrapper."""

    config: "CurationConfig"
    cache_dir: Path
    progress: ProgressFactory = _no_progress

    def track(self, items: Iterable[Any], total: int, description: str) -> Iterator[Any]:
        """Wrap a long loop so the user sees a progress bar with rows/s."""
        return self.progress(items, total, description)


class Stage(Protocol):
    name: str

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult: ...
