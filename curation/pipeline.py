"""Runs the curation steps in order, checkpoints each one, and writes the output folder.

The steps know nothing of files; this module reads the input, hands rows from step to step, leaves a
checkpoint after each step (``--resume`` picks up after the last finished one whose config did not change),
checks the accounting (every input row in exactly one place) and writes the contract of
:mod:`curation.contract`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from curation.config import CurationConfig
from curation.contract import SPLITS, OutputPaths
from curation.load import LoadedInput, load_input
from curation.stage import Removal, Row, StageContext, StageResult
from curation.validate import Quarantined, validate_records
from curation.writer import (
    CORE_TYPES,
    PROVENANCE_TYPES,
    column_order,
    infer_types,
    read_rows,
    rows_to_table,
    sha256_file,
    write_json,
    write_jsonl,
    write_parquet,
    write_rows,
)

PACKAGES = ("tomecraft", "datasets", "pyarrow", "datasketch", "numpy", "numba", "xxhash", "pydantic", "sentence-transformers", "nlpaug")


class AccountingError(RuntimeError):
    """A step lost or duplicated rows; this is a bug, never a user error."""


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
            "removed": self.removed,
            "quarantined": self.quarantined,
            "stats": self.stats,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_in / self.seconds, 1) if self.seconds > 0 else None,
        }


@dataclass
class CurationResult:
    out: OutputPaths
    manifest: dict[str, Any]
    stages: list[StageReport]


def build_steps(config: CurationConfig) -> list[tuple[str, Callable[[], Any] | None]]:
    """(name, factory) for every step after validation, in order; factory None when the step is off."""
    from curation.balance import Balance
    from curation.exact_dedup import ExactDedup
    from curation.filters import Filters
    from curation.near_dedup import NearDedup
    from curation.normalize import Normalize
    from curation.split import Split

    s = config.stages

    def semantic():
        from curation.semantic_dedup import SemanticDedup

        return SemanticDedup(s.semantic_dedup)

    def augment():
        from curation.augment.stage import Augment

        return Augment(s.augment)

    train_only = getattr(s.augment, "train_only", True)
    steps: list[tuple[str, Callable[[], Any] | None, bool]] = [
        ("normalize", lambda: Normalize(s.normalize), s.normalize.enabled),
        ("exact_dedup", lambda: ExactDedup(s.exact_dedup), s.exact_dedup.enabled),
        ("near_dedup", lambda: NearDedup(s.near_dedup), s.near_dedup.enabled),
        ("semantic_dedup", semantic, s.semantic_dedup.enabled),
        ("filters", lambda: Filters(s.filters), s.filters.enabled),
        ("balance", lambda: Balance(s.balance), s.balance.enabled),
        ("augment", augment, s.augment.enabled),
        ("split", lambda: Split(s.split, train_only_augmented=train_only), True),
    ]
    return [(name, factory if enabled else None) for name, factory, enabled in steps]


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


class Checkpoints:
    """One folder per finished step: the rows in play, the step's removals, and its report."""

    def __init__(self, root: Path, enabled: bool) -> None:
        self.root = root
        self.enabled = enabled

    def folder(self, index: int, name: str) -> Path:
        return self.root / f"{index:02d}-{name}"

    def save(self, index: int, name: str, fingerprint: str, rows: list[Row], removed: list[Row],
             quarantined: list[dict[str, Any]], report: StageReport, extras: list[str]) -> None:
        if not self.enabled:
            return
        folder = self.folder(index, name)
        if folder.exists():
            shutil.rmtree(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        write_parquet(rows_to_table(rows, extras), tmp / "rows.parquet")
        write_parquet(rows_to_table(removed, extras, removed=True), tmp / "removed.parquet")
        write_jsonl(quarantined, tmp / "quarantine.jsonl")
        state = {"fingerprint": fingerprint, "report": report.as_dict(), "extras": extras, "columns": _columns(rows)}
        write_json(state, tmp / "state.json")
        tmp.rename(folder)  # a folder without .tmp is complete

    def load(self, index: int, name: str, fingerprint: str):
        folder = self.folder(index, name)
        state_path = folder / "state.json"
        if not self.enabled or not state_path.exists():
            return None
        state = json.loads(state_path.read_text())
        if state.get("fingerprint") != fingerprint:
            return None
        rows = _restore(read_rows(folder / "rows.parquet"), state["columns"])
        removed = read_rows(folder / "removed.parquet")
        with (folder / "quarantine.jsonl").open(encoding="utf-8") as fh:
            quarantined = [json.loads(line) for line in fh if line.strip()]
        return rows, removed, quarantined, state


def _columns(rows: list[Row]) -> list[str]:
    cols: dict[str, None] = {}
    for row in rows:
        for k in row:
            cols.setdefault(k, None)
    return list(cols)


def _restore(rows: list[Row], columns: list[str]) -> list[Row]:
    # Parquet gives every row every column; keep only the keys the rows had (None where absent is the same)
    return [{k: row.get(k) for k in columns} for row in rows]


def run_curation(
    input_spec: str | None,
    out_dir: str | Path,
    config: CurationConfig | None = None,
    resume: bool = False,
    progress: Callable | None = None,
    on_stage: Callable[[StageReport], None] | None = None,
) -> CurationResult:
    """Curate ``input_spec`` (None = the embedded sample) into ``out_dir``."""
    config = config or CurationConfig()
    paths = OutputPaths(Path(out_dir))
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.cache.mkdir(exist_ok=True)
    checkpoints = Checkpoints(paths.checkpoints, config.checkpoint)
    ctx_progress = progress or (lambda items, total, desc: items)
    ctx = StageContext(config=config, cache_dir=paths.cache, progress=ctx_progress)

    t0 = time.perf_counter()
    loaded: LoadedInput = load_input(input_spec)
    load_seconds = time.perf_counter() - t0
    resolved = config.resolved()
    fp = _fingerprint(loaded.fingerprint, resolved["stages"]["validate"], _version())

    reports: list[StageReport] = []
    resumed: list[str] = []
    removed_rows: list[Row] = []
    quarantined: list[dict[str, Any]] = []

    # -- validate (always on) ------------------------------------------------------------------------
    restored = checkpoints.load(0, "validate", fp) if resume else None
    if restored:
        rows, _, quarantined, state = restored
        extras = state["extras"]
        report = _report_from_state(state)
        resumed.append("validate")
    else:
        t = time.perf_counter()
        rows, bad, extras = validate_records(loaded.records, config.stages.validate_, ctx.track)
        quarantined = [q.as_record() for q in bad]
        report = StageReport("validate", True, rows_in=len(loaded.records), kept=len(rows), quarantined=len(bad),
                             seconds=time.perf_counter() - t + load_seconds,
                             stats={"errors": _error_kinds(bad)})
        checkpoints.save(0, "validate", fp, rows, [], quarantined, report, extras)
    reports.append(report)
    if on_stage:
        on_stage(report)

    # -- the steps -------------------------------------------------------------------------------------
    steps = build_steps(config)
    for index, (name, factory) in enumerate(steps, start=1):
        fp = _fingerprint(fp, name, resolved["stages"].get(name) if factory else "off",
                          resolved["stages"]["augment"] if name == "split" else None)
        if factory is None:
            report = StageReport(name, False, rows_in=len(rows), kept=len(rows))
            reports.append(report)
            if on_stage:
                on_stage(report)
            continue
        restored = checkpoints.load(index, name, fp) if resume else None
        if restored:
            rows, stage_removed, _, state = restored
            removed_rows.extend(stage_removed)
            report = _report_from_state(state)
            resumed.append(name)
        else:
            step = factory()
            t = time.perf_counter()
            result: StageResult = step.run(rows, ctx)
            seconds = time.perf_counter() - t
            _check_step(name, rows, result)
            stage_removed = [r.as_record(name) for r in result.removed]
            removed_rows.extend(stage_removed)
            report = StageReport(name, True, rows_in=len(rows), kept=len(result.kept), added=len(result.added),
                                 removed=result.removed_by_reason(), stats=_jsonable(result.stats), seconds=seconds)
            rows = result.kept + result.added
            checkpoints.save(index, name, fp, rows, stage_removed, [], report, extras)
        reports.append(report)
        if on_stage:
            on_stage(report)

    manifest = _write_outputs(paths, loaded, config, rows, removed_rows, quarantined, reports, resumed, extras)
    if config.report:
        _write_report(paths)
    return CurationResult(paths, manifest, reports)


def _version() -> str:
    try:
        return version("tomecraft")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _report_from_state(state: dict[str, Any]) -> StageReport:
    r = state["report"]
    return StageReport(r["name"], r["enabled"], r["rows_in"], r["kept"], r["added"], r["removed"], r["quarantined"],
                       r["stats"], r["seconds"], resumed=True)


def _error_kinds(bad: list[Quarantined]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for q in bad:
        kind = q.error.split(":", 1)[1].strip() if q.error.startswith("turn ") else q.error
        kind = kind.split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def _check_step(name: str, rows_in: list[Row], result: StageResult) -> None:
    ids_in = [r["id"] for r in rows_in]
    ids_out = [r["id"] for r in result.kept] + [r.row["id"] for r in result.removed]
    if len(ids_out) != len(ids_in) or set(ids_out) != set(ids_in):
        raise AccountingError(
            f"step {name!r} returned {len(ids_out)} rows for {len(ids_in)} in; every row must be kept or removed exactly once"
        )
    added = [r["id"] for r in result.added]
    if len(set(added)) != len(added) or set(added) & set(ids_in):
        raise AccountingError(f"step {name!r} added rows whose ids are not new and unique")


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _write_outputs(paths: OutputPaths, loaded: LoadedInput, config: CurationConfig, rows: list[Row],
                   removed_rows: list[Row], quarantined: list[dict[str, Any]], reports: list[StageReport],
                   resumed: list[str], extras: list[str]) -> dict[str, Any]:
    paths.remove_shards()  # a folder an earlier `--engine ray` run wrote as shards gets single files again
    by_split: dict[str, list[Row]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[row["_split"]].append(row)
    outputs: dict[str, Any] = {}
    other = [c for c in column_order(rows + removed_rows, extras) if c not in CORE_TYPES and c not in PROVENANCE_TYPES]
    types = infer_types([rows, removed_rows], other)
    for split, split_rows in by_split.items():
        path = paths.split(split)
        write_rows(split_rows, path, extras, types=types)
        outputs[split] = {"path": path.name, "rows": len(split_rows), "sha256": sha256_file(path)}
    write_rows(removed_rows, paths.removed, extras, removed=True, types=types)
    outputs["removed"] = {"path": paths.removed.name, "rows": len(removed_rows), "sha256": sha256_file(paths.removed)}
    write_jsonl(quarantined, paths.quarantine)
    outputs["quarantine"] = {"path": paths.quarantine.name, "rows": len(quarantined), "sha256": sha256_file(paths.quarantine)}

    added = sum(r.added for r in reports)
    in_splits = sum(len(v) for v in by_split.values())
    accounting = {
        "input_rows": len(loaded.records),
        "added_rows": added,
        "in_splits": in_splits,
        "removed": len(removed_rows),
        "quarantined": len(quarantined),
    }
    accounting["balanced"] = accounting["input_rows"] + added == in_splits + len(removed_rows) + len(quarantined)
    if not accounting["balanced"]:
        raise AccountingError(f"rows were lost or duplicated: {accounting}")
    removed_by_reason: dict[str, int] = {}
    for r in removed_rows:
        removed_by_reason[r["reason"]] = removed_by_reason.get(r["reason"], 0) + 1
    manifest = {
        "tomecraft_version": _version(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": loaded.describe(),
        "config": config.resolved(),
        "stages": [r.as_dict() for r in reports],
        "removed_by_reason": dict(sorted(removed_by_reason.items())),
        "accounting": accounting,
        "outputs": outputs,
        "extra_columns": extras,
        "resumed_stages": resumed,
        "packages": _package_versions(),
    }
    write_json(manifest, paths.manifest)
    return manifest


def _write_report(paths: OutputPaths) -> None:
    try:
        from curation.report import write_report
    except ImportError:  # the report module is optional at this layer
        return
    write_report(paths.root)
