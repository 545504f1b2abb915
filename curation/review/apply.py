"""Decisions applied to a curation output folder, written as a new folder of the same contract.

* ``discard``: the row moves to ``removed.parquet`` with stage ``review``, reason ``review:discard``, and
  the votes and the split it lay in in ``details``;
* ``fix``: the last gpt turn becomes the corrected answer; ``review_original_answer`` keeps the text it
  replaced (the first one, over several reviews) and ``review_fixed_by`` the annotators who wrote it. The
  answer is repaired as ``tome curate`` repairs its input (:func:`curation.repair.repair_string`: control
  characters removed, lone surrogates replaced), noted in the row's ``repairs`` as curate notes its own; an answer
  longer than the folder's ``filters.max_chars_per_turn`` is not applied (the row stays as it was) and is
  listed as ``corrected_answer_too_long``;
* ``keep``: the row stays; a removed row that annotators keep (or fix) comes back into the split an earlier
  review discarded it from, else into the split of the row it duplicated, else into ``restore_to`` (default
  ``train``); a removed row whose fix cannot be applied stays removed;
* every row gets ``quality`` (mean rating), ``review_verdict``, ``review_agreement`` and
  ``review_annotators`` (null where it was not reviewed; values of an earlier review stay).

The manifest keeps every key of the input's and gains a ``review`` section and a ``review`` stage; the
accounting is recomputed and checked: every row of the input folder lies in exactly one place.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from curation.contract import SPLITS, OutputFolderError, OutputPaths, check_output_path, make_output_folder
from curation.review.errors import ReviewError, ReviewUsageError, shown
from curation.review.folder import REMOVED, CurationFolder
from curation.review.records import last_answer_index
from curation.review.verdicts import Decision, Tally
from curation.contract import Row
from curation.repair import merge_repairs, repair_string, repairs_json
from curation.card import read_card_format, write_card
from curation.readers.errors import InputError
from curation.writer import column_order, infer_types, rows_to_table, sha256_file, write_json, write_parquet

STAGE = "review"
DISCARD_REASON = "review:discard"
REMOVAL_KEYS = ("stage", "reason", "duplicate_of", "details")
REVIEW_TYPES: dict[str, pa.DataType] = {
    "quality": pa.float64(),
    "review_verdict": pa.string(),
    "review_agreement": pa.float64(),
    "review_annotators": pa.list_(pa.string()),
    "review_original_answer": pa.string(),
    "review_fixed_by": pa.list_(pa.string()),
}


if TYPE_CHECKING:
    from curation.normalize import NormalizeConfig


class AccountingError(RuntimeError):
    """Rows were lost or duplicated while applying a review; a bug, never a user error."""


@dataclass
class Applied:
    kept: int = 0
    fixed: int = 0
    discarded: int = 0
    restored: int = 0
    confirmed_removed: int = 0
    quality_set: int = 0
    unchanged_undecided: int = 0


def check_out(folder: CurationFolder, out: str | Path, overwrite: bool = False) -> None:
    """``--out`` must be a new folder, not the input (``overwrite`` allows replacing an existing one)."""
    out = Path(out)
    if out.resolve() == folder.paths.root.resolve():
        raise ReviewUsageError(f"--out {out}: must differ from the input folder (the review writes a new folder)")
    if out.exists() and not out.is_dir() and not overwrite:
        raise ReviewUsageError(f"--out {out}: cannot write the output folder here "
                          "(it is a file; pass --overwrite to replace it)")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ReviewUsageError(f"--out {out}: exists and is not empty (pass --overwrite to replace it)")
    if not out.exists():  # a path under a file fails before the review is read (it is made when it is written)
        try:
            check_output_path(out)
        except OutputFolderError as exc:
            raise ReviewUsageError(f"--out {exc}") from None


def prepare_out(folder: CurationFolder, out: str | Path, overwrite: bool = False) -> OutputPaths:
    check_out(folder, out, overwrite)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    try:
        make_output_folder(out)
    except OutputFolderError as exc:
        raise ReviewError(f"--out {exc}") from None
    return OutputPaths(out)


def apply_review(
    folder: CurationFolder,
    tally: Tally,
    out: str | Path,
    source: dict[str, Any],
    restore_to: str = "train",
    overwrite: bool = False,
    min_votes: int = 1,
) -> dict[str, Any]:
    """Write the reviewed folder to ``out``; returns its manifest."""
    t0 = time.perf_counter()
    if restore_to not in SPLITS:
        raise ReviewUsageError(f"--restore-to {restore_to!r}: expected one of {', '.join(SPLITS)}")
    by_id = folder.by_id()
    unknown = [rid for rid, d in tally.decisions.items() if rid not in by_id and d.ballots]
    if unknown:
        raise ReviewError(
            f"{len(unknown)} reviewed record(s) are not rows of {folder.paths.root} (e.g. {shown(unknown[0])}); "
            "import into the folder the review was exported from"
        )
    not_in_folder = sorted(rid for rid in tally.decisions if rid not in by_id)
    paths = prepare_out(folder, out, overwrite)
    renamed = kept_apart_columns(folder.extras)
    extras = [renamed.get(name, name) for name in folder.extras]
    normalize = normalize_config(folder)

    decisions = tally.decisions
    applied = Applied()
    splits: dict[str, list[Row]] = {s: [] for s in SPLITS}
    discarded: list[Row] = []
    removed: list[Row] = []
    restored: list[dict[str, Any]] = []
    extra_conflicts: list[dict[str, Any]] = []
    max_chars = max_answer_chars(folder)

    for split in SPLITS:
        for original in folder.splits[split]:
            row = _with_review_columns(original, renamed)
            d = decisions.get(row["id"])
            if d is not None and _annotate(row, d, applied):
                if d.verdict == "discard":
                    discarded.append(_removal(row, d, split))
                    applied.discarded += 1
                    continue
                if d.verdict == "fix":
                    _fix(row, d, applied, extra_conflicts, max_chars, normalize)
                else:
                    applied.kept += 1
            splits[split].append(row)

    for original in folder.removed:
        row = _with_review_columns(original, renamed)
        d = decisions.get(row["id"])
        if d is not None and _annotate(row, d, applied) and d.verdict in ("keep", "fix"):
            back = {k: v for k, v in row.items() if k not in REMOVAL_KEYS}
            if d.verdict == "fix" and not _fix(back, d, applied, extra_conflicts, max_chars, normalize):
                row["review_verdict"] = None  # a fix that cannot be applied leaves the row where it was
                removed.append(row)
                continue
            if d.verdict == "keep":
                applied.kept += 1
            target = _restore_split(original, by_id, restore_to)
            splits[target].append(back)
            restored.append({"id": row["id"], "reason": original.get("reason"), "to": target})
            applied.restored += 1
            continue
        if d is not None and row.get("review_verdict") == "discard" and d.verdict == "discard":
            applied.confirmed_removed += 1
        removed.append(row)
    removed += discarded

    _check_accounting(folder, splits, removed)
    outputs = _write(folder, paths, splits, removed, extras, renamed)
    manifest = _manifest(folder, tally, source, outputs, splits, removed, applied, restored, extra_conflicts,
                         not_in_folder, min_votes, time.perf_counter() - t0)
    if renamed:
        manifest["extra_columns"] = extras
        manifest["review"]["columns_kept_apart"] = renamed
    write_json(manifest, paths.manifest)
    try:
        write_card(paths.root, read_card_format(folder.paths.root) or "finetome")
    except InputError as exc:  # README.md or messages/ that cannot be written (a folder, a file)
        raise ReviewError(str(exc)) from None
    if (folder.manifest.get("config") or {}).get("report", True):
        try:
            from curation.report import write_report
        except ImportError:  # the report module is optional at this layer
            pass
        else:
            write_report(paths.root)
    return manifest


def kept_apart_columns(extras: list[str]) -> dict[str, str]:
    """Input columns (the folder's ``extra_columns``) renamed so that none is taken for a review column: when one
    is named like a review column (an input's own ``quality``), every extra column is renamed by the rule
    ``tome curate`` keeps its input's columns apart from its own by (``quality`` -> ``input_quality``, and
    ``input_quality`` -> ``input_input_quality`` so that no two meet). Only the columns that change are returned;
    a folder an earlier review renamed has no clash left, so a second review renames nothing."""
    from curation.readers.raw import kept_apart

    if not any(name in REVIEW_TYPES for name in extras):
        return {}
    renamed = {name: kept_apart(name, REVIEW_TYPES) for name in extras}
    return {old: new for old, new in renamed.items() if old != new}


def _with_review_columns(row: Row, renamed: dict[str, str]) -> Row:
    out = {renamed.get(k, k): v for k, v in row.items()}
    for name in REVIEW_TYPES:
        out.setdefault(name, None)
    return out


def _annotate(row: Row, d: Decision, applied: Applied) -> bool:
    """Write the review columns of a reviewed row; True when a verdict is to be applied."""
    if not d.ballots:
        return False
    if d.quality is not None:
        row["quality"] = d.quality
        applied.quality_set += 1
    row["review_annotators"] = d.annotators
    if d.agreement is not None:
        row["review_agreement"] = d.agreement
    if d.verdict is None:
        applied.unchanged_undecided += 1
        return False
    row["review_verdict"] = d.verdict
    return True


def max_answer_chars(folder: CurationFolder) -> int | None:
    """The longest turn ``tome curate`` kept in ``folder``: its ``filters.max_chars_per_turn`` (None: no limit)."""
    from curation.filters import FiltersConfig

    config = folder.manifest.get("config")
    stages = config.get("stages") if isinstance(config, dict) else None
    filters = stages.get("filters") if isinstance(stages, dict) else None
    if not isinstance(filters, dict):
        return FiltersConfig().max_chars_per_turn
    if filters.get("enabled") is False:
        return None
    limit = filters.get("max_chars_per_turn", FiltersConfig().max_chars_per_turn)
    return limit if isinstance(limit, int) else None


def normalize_config(folder: CurationFolder) -> "NormalizeConfig | None":
    """The normalization ``tome curate`` gave ``folder``'s text (its ``stages.normalize``; None: it was off), for
    corrected answers to read as the folder's other answers do."""
    from pydantic import ValidationError

    from curation.normalize import NormalizeConfig

    config = folder.manifest.get("config")
    stages = config.get("stages") if isinstance(config, dict) else None
    given = stages.get("normalize") if isinstance(stages, dict) else None
    if not isinstance(given, dict):
        return NormalizeConfig()
    try:
        cfg = NormalizeConfig.model_validate(given)
    except ValidationError:  # a manifest from another version: the defaults
        return NormalizeConfig()
    return cfg if cfg.enabled else None


def _fix(row: Row, d: Decision, applied: Applied, conflicts: list[dict[str, Any]], max_chars: int | None = None,
         normalize: "NormalizeConfig | None" = None) -> bool:
    """Replace the row's last answer with the decided fix, repaired and normalized as ``tome curate`` repairs and
    normalizes its input; False (listed in ``conflicts``) when it cannot be applied: no gpt turn, nothing left of
    the answer once repaired (control characters only), or an answer longer than ``max_chars``."""
    turns = [dict(t) for t in row["conversations"]]
    idx = last_answer_index(turns)
    if idx is None:
        row["review_verdict"] = None
        conflicts.append({"id": row["id"], "kind": "fix_without_gpt_turn", "votes": d.votes, "applied": None})
        return False
    corrected, repairs = repair_string(d.corrected)
    if normalize is not None:
        from curation.normalize import normalize_text

        corrected = normalize_text(corrected, normalize)
    if not corrected.strip():
        row["review_verdict"] = None
        conflicts.append({"id": row["id"], "kind": "corrected_answer_empty", "votes": d.votes, "applied": None})
        return False
    if max_chars is not None and len(corrected) > max_chars:
        row["review_verdict"] = None
        conflicts.append({"id": row["id"], "kind": "corrected_answer_too_long", "votes": d.votes, "applied": None,
                          "chars": len(corrected), "max": max_chars})
        return False
    if repairs:  # noted in the row's repairs, as tome curate notes what it repaired
        earlier = json.loads(row["repairs"]) if isinstance(row.get("repairs"), str) else None
        row["repairs"] = repairs_json(merge_repairs(earlier, {kind: ["conversations"] for kind in repairs}))
    if row.get("review_original_answer") is None:
        row["review_original_answer"] = turns[idx]["value"]
    turns[idx]["value"] = corrected
    row["conversations"] = turns
    row["review_fixed_by"] = list(d.fixed_by)
    applied.fixed += 1
    return True


def _removal(row: Row, d: Decision, split: str) -> Row:
    """The removed.parquet record of a discarded row: the votes, and the split it lay in, so that a later review
    that keeps it puts it back there (a validation or test row must not come back as a training row)."""
    record = dict(row)
    record["stage"] = STAGE
    record["reason"] = DISCARD_REASON
    record["duplicate_of"] = None
    record["details"] = json.dumps({"votes": d.votes, "agreement": d.agreement, "split": split}, sort_keys=True)
    return record


def _restore_split(row: Row, by_id: dict, default: str) -> str:
    """Where a removed row that annotators keep goes: the split a review discarded it from, else the split of the
    row it duplicated, else ``default`` (``--restore-to``; also for rows an older version discarded, whose
    details do not name their split)."""
    split = _discarded_from(row)
    if split is not None:
        return split
    kept = by_id.get(row.get("duplicate_of") or "")
    if kept is not None and kept.location != REMOVED:
        return kept.location
    return default


def _discarded_from(row: Row) -> str | None:
    """The split a review discarded ``row`` from (its details' ``split``), or None: not removed by review, or by a
    version that did not record it."""
    if row.get("reason") != DISCARD_REASON or not isinstance(row.get("details"), str):
        return None
    try:
        details = json.loads(row["details"])
    except ValueError:
        return None
    split = details.get("split") if isinstance(details, dict) else None
    return split if split in SPLITS else None


def _check_accounting(folder: CurationFolder, splits: dict[str, list[Row]], removed: list[Row]) -> None:
    before = [loc.id for loc in folder.located()]
    after = [r["id"] for rows in splits.values() for r in rows] + [r["id"] for r in removed]
    if len(after) != len(before) or set(after) != set(before):
        raise AccountingError(f"review lost or duplicated rows: {len(before)} rows in, {len(after)} out")


def _column_fields(folder: CurationFolder, rows: list[Row], names: list[str], renamed: dict[str, str]
                   ) -> dict[str, pa.Field]:
    """One field per column for every file of the reviewed folder: the review's own types, else the input
    folder's (its type and field metadata, such as ``tomecraft.encoding: json``), else one inferred over the
    rows of every file together, so that the splits and removed.parquet share their columns' types."""
    original = {new: old for old, new in renamed.items()}
    fields: dict[str, pa.Field] = {}
    infer = []
    for name in names:
        given = folder.fields.get(original.get(name, name))
        if name in REVIEW_TYPES:
            fields[name] = pa.field(name, REVIEW_TYPES[name])
        elif given is not None and not pa.types.is_null(given.type):
            fields[name] = given.with_name(name)
        else:
            infer.append(name)
    if infer:
        fields.update({name: pa.field(name, t) for name, t in infer_types([rows], infer).items()})
    return fields


def _table(rows: list[Row], names: list[str], extras: list[str], fields: dict[str, pa.Field], removed: bool) -> pa.Table:
    """``rows`` with exactly the columns ``names`` (the columns of every file, removal columns first in removed)."""
    rows = [{name: row.get(name) for name in names} for row in rows]
    table = rows_to_table(rows, extras, removed=removed, types={n: f.type for n, f in fields.items()})
    schema = pa.schema([fields[n] if fields[n].type == table.schema.field(n).type
                        else table.schema.field(n) for n in table.column_names])
    return table.cast(schema)


def _write(folder: CurationFolder, paths: OutputPaths, splits: dict[str, list[Row]], removed: list[Row],
           extras: list[str], renamed: dict[str, str]) -> dict[str, Any]:
    every_row = [r for rows in splits.values() for r in rows] + removed
    names = [n for n in column_order(every_row, extras) if n not in REMOVAL_KEYS]
    removed_names = column_order(removed[:0], extras, removed=True)
    removed_names += [n for n in names if n not in removed_names]
    fields = _column_fields(folder, every_row, removed_names, renamed)
    outputs: dict[str, Any] = {}
    paths.remove_shards()  # a folder `--engine ray` wrote as shards becomes single files here
    for split, rows in splits.items():
        path = paths.split(split)
        write_parquet(_table(rows, names, extras, fields, removed=False), path)
        outputs[split] = {"path": path.name, "rows": len(rows), "sha256": sha256_file(path)}
    write_parquet(_table(removed, removed_names, extras, fields, removed=True), paths.removed)
    outputs["removed"] = {"path": paths.removed.name, "rows": len(removed), "sha256": sha256_file(paths.removed)}
    if folder.paths.quarantine.exists():
        shutil.copyfile(folder.paths.quarantine, paths.quarantine)
    else:
        paths.quarantine.write_text("", encoding="utf-8")
    outputs["quarantine"] = {"path": paths.quarantine.name, "rows": len(folder.quarantine),
                             "sha256": sha256_file(paths.quarantine)}
    return outputs


def _manifest(folder: CurationFolder, tally: Tally, source: dict[str, Any], outputs: dict[str, Any],
              splits: dict[str, list[Row]], removed: list[Row], applied: Applied, restored: list[dict[str, Any]],
              extra_conflicts: list[dict[str, Any]], not_in_folder: list[str], min_votes: int,
              seconds: float) -> dict[str, Any]:
    manifest = copy.deepcopy(folder.manifest)
    rows_in = sum(len(v) for v in folder.splits.values())
    kept = sum(len(v) for v in splits.values())
    n_discarded = applied.discarded
    # as every stage counts: ``kept`` rows of its input plus ``added`` rows = the rows it passes on; rows of
    # removed.parquet that annotators brought back are this stage's added rows (not new rows of the folder)
    kept_of_input = rows_in - n_discarded
    if kept_of_input + applied.restored != kept:
        raise AccountingError(f"review stage does not balance: {rows_in} rows in - {n_discarded} discarded + "
                              f"{applied.restored} restored != {kept} in splits")
    counts = tally.counts()
    stats = {"verdicts": counts, "fixed": applied.fixed, "restored": applied.restored}
    manifest["created_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest.setdefault("stages", []).append({
        "name": STAGE,
        "enabled": True,
        "rows_in": rows_in,
        "kept": kept_of_input,
        "added": applied.restored,
        "removed": {DISCARD_REASON: n_discarded} if n_discarded else {},
        "quarantined": 0,
        "stats": stats,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows_in / seconds, 1) if seconds > 0 else None,
    })
    by_reason: dict[str, int] = {}
    for r in removed:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    manifest["removed_by_reason"] = dict(sorted(by_reason.items()))
    old = manifest.get("accounting") or {}
    accounting = {
        "input_rows": old.get("input_rows", folder.row_count),
        "added_rows": old.get("added_rows", 0),
        "in_splits": kept,
        "removed": len(removed),
        "quarantined": len(folder.quarantine),
    }
    accounting["balanced"] = (
        accounting["input_rows"] + accounting["added_rows"]
        == accounting["in_splits"] + accounting["removed"] + accounting["quarantined"]
    )
    if old and not accounting["balanced"]:
        raise AccountingError(f"rows were lost or duplicated: {accounting}")
    manifest["accounting"] = accounting
    manifest["outputs"] = outputs
    packages = dict(manifest.get("packages") or {})
    try:
        from importlib.metadata import version

        packages["argilla"] = version("argilla")
    except Exception:  # pragma: no cover - argilla is what produced the input of this step
        pass
    manifest["packages"] = packages
    answers_counted = sum(
        (b.verdict is not None) + (b.quality is not None) + (b.corrected is not None)
        for d in tally.decisions.values() for b in d.ballots
    )
    manifest["review"] = {
        "input_folder": str(folder.paths.root),
        "source": source,
        "records": len(tally.decisions),
        "records_not_in_folder": not_in_folder,
        "annotators": tally.annotators,
        "answers_counted": answers_counted,
        "answers_skipped": tally.skipped,
        "min_votes": min_votes,
        "verdicts": counts,
        "applied": {
            "kept": applied.kept,
            "fixed": applied.fixed,
            "discarded": applied.discarded,
            "restored": applied.restored,
            "confirmed_removed": applied.confirmed_removed,
            "quality_set": applied.quality_set,
            "undecided": applied.unchanged_undecided,
        },
        "restored": restored,
        "agreement": tally.agreement(),
        "conflicts": tally.conflicts() + extra_conflicts,
    }
    return manifest
