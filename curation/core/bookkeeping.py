"""Run bookkeeping shared by every engine: per-stage reports, the accounting check, the manifest.

Every engine fills one :class:`RunLedger` as batches pass: for each stage, rows in, kept, removed by reason,
quarantined, added, stats and seconds. At the end :meth:`RunLedger.check` proves that every input row is in
exactly one place (a split, ``removed.parquet`` or ``quarantine.jsonl``) and :func:`build_manifest` writes
the same manifest layout whichever engine ran.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from curation.core.stage import merge_stats
from tomecraft.versions import package_versions, tomecraft_version

PACKAGES = ("tomecraft", "datasets", "pyarrow", "datasketch", "numpy", "numba", "xxhash", "pydantic",
            "sentence-transformers", "nlpaug", "ray")


class AccountingError(RuntimeError):
    """A stage lost or duplicated rows; this is a bug, never a user error."""


@dataclass
class StageReport:
    name: str
    enabled: bool
    rows_in: int = 0
    kept: int = 0
    added: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "rows_in": self.rows_in,
            "kept": self.kept,
            "added": self.added,
            "removed": dict(sorted(self.removed.items())),
            "quarantined": self.quarantined,
            "stats": jsonable(self.stats),
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_in / self.seconds, 1) if self.seconds > 0 else None,
        }

    @staticmethod
    def from_dict(d: dict[str, Any], resumed: bool = False) -> "StageReport":
        return StageReport(d["name"], d["enabled"], d["rows_in"], d["kept"], d["added"], dict(d["removed"]),
                           d["quarantined"], d["stats"], d["seconds"], resumed=resumed)

    def count(self, rows_in: int, kept: int, removed: dict[str, int], quarantined: int = 0,
              stats: dict[str, Any] | None = None, seconds: float = 0.0) -> None:
        """Add one batch's numbers."""
        self.rows_in += rows_in
        self.kept += kept
        self.quarantined += quarantined
        for reason, n in removed.items():
            self.removed[reason] = self.removed.get(reason, 0) + n
        if stats:
            self.stats = merge_stats(self.stats, stats)
        self.seconds += seconds


class RunLedger:
    """The reports of every stage of one run, in pipeline order (hidden internal steps count into the
    stage before them, as validation's id step does)."""

    def __init__(self, names: list[tuple[str, bool, bool]]) -> None:
        # (name, enabled, hidden)
        self.reports: dict[str, StageReport] = {}
        self.visible: list[str] = []
        self.owner: dict[str, str] = {}
        for name, enabled, hidden in names:
            if hidden and self.visible:
                self.owner[name] = self.visible[-1]
                continue
            self.reports[name] = StageReport(name, enabled)
            self.visible.append(name)
            self.owner[name] = name

    def report(self, name: str) -> StageReport:
        return self.reports[self.owner[name]]

    def add_rows(self, name: str, n: int) -> None:
        """``n`` rows that global stage ``name`` added. They join the rows its apply step reads and pass it kept
        (its decisions never name them), so that step's counts include them; here they are taken out again and
        counted once, as added: a stage's rows in are the rows the stage before it passed on, and its rows out
        are its kept plus its added rows."""
        report = self.report(name)
        report.added += n
        report.rows_in -= n
        report.kept -= n

    def hidden(self, name: str) -> bool:
        return self.owner[name] != name

    def stages(self) -> list[StageReport]:
        return [self.reports[n] for n in self.visible]

    def check(self, input_rows: int, in_splits: int, removed: int, quarantined: int) -> dict[str, Any]:
        added = sum(r.added for r in self.stages())
        accounting = {
            "input_rows": input_rows,
            "added_rows": added,
            "in_splits": in_splits,
            "removed": removed,
            "quarantined": quarantined,
        }
        accounting["balanced"] = input_rows + added == in_splits + removed + quarantined
        if not accounting["balanced"]:
            raise AccountingError(f"rows were lost or duplicated: {accounting}")
        for r in self.stages():
            if r.enabled and r.rows_in != r.kept + sum(r.removed.values()) + r.quarantined:
                raise AccountingError(
                    f"stage {r.name!r}: {r.rows_in} rows in but {r.kept} kept, "
                    f"{sum(r.removed.values())} removed, {r.quarantined} quarantined"
                )
        return accounting

    def fill_switched_off(self) -> None:
        """A switched-off stage saw every row the stage before it passed on (its kept and added rows)."""
        flowing = None
        for r in self.stages():
            if not r.enabled and flowing is not None:
                r.rows_in = r.kept = flowing
            flowing = r.kept + r.added


def jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def build_manifest(
    input_description: dict[str, Any],
    config: dict[str, Any],
    ledger: RunLedger,
    accounting: dict[str, Any],
    outputs: dict[str, Any],
    extras: list[str],
    resumed: list[str],
    engine: str,
) -> dict[str, Any]:
    removed_by_reason: dict[str, int] = {}
    for r in ledger.stages():
        for reason, n in r.removed.items():
            removed_by_reason[reason] = removed_by_reason.get(reason, 0) + n
    return {
        "tomecraft_version": tomecraft_version(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": engine,
        "input": input_description,
        "config": config,
        "stages": [r.as_dict() for r in ledger.stages()],
        "removed_by_reason": dict(sorted(removed_by_reason.items())),
        "accounting": accounting,
        "outputs": outputs,
        "extra_columns": extras,
        "resumed_stages": resumed,
        "packages": package_versions(PACKAGES),
    }
