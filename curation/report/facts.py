"""What the curation report shows, gathered from an output folder into small typed records.

Everything here is read from the folder's files (``manifest.json``, the splits, ``removed.parquet``,
``quarantine.jsonl``) with Arrow compute, so it scales to 100k-row folders; nothing is drawn or formatted.
Values that change between two identical runs (seconds, dates, package versions) are left out, so the
same folder, or two runs of the same input and config, give the same report.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.contract import SPLITS, OutputFolderError, read_manifest, read_quarantine, require_output_folder
from curation.contract import ROW_COUNT_KEYS, check_manifest_counts, check_row_counts, is_row_count, reading
from curation.contract import shown_json, split_columns, unreadable_file
from curation.core.columns import contiguous
from curation.report.markdown_text import one_line
from curation.report.quality import QualityFacts, gather_quality
from tomecraft.errors import error_line
from tomecraft.files import dumps_utf8

EXAMPLES_PER_REASON = 3
MAX_SOURCES = 20
REVIEW_VALUE_LIMIT = 12  # a review column with more distinct values than this is free text, not a verdict


@dataclass(frozen=True)
class StageRow:
    """One step of the funnel, from the manifest (volatile timing left out)."""

    name: str
    enabled: bool
    rows_in: int
    kept: int
    added: int
    removed: dict[str, int]
    quarantined: int

    @property
    def rows_out(self) -> int:
        return self.kept + self.added


@dataclass
class Lengths:
    """Per-turn and per-conversation sizes of one set of conversations."""

    chars_per_turn: np.ndarray
    words_per_turn: np.ndarray
    turns_per_conversation: np.ndarray

    @property
    def conversations(self) -> int:
        return int(self.turns_per_conversation.size)

    def summary(self) -> dict[str, float]:
        def med(a: np.ndarray) -> float:
            return float(np.median(a)) if a.size else 0.0

        return {
            "conversations": self.conversations,
            "turns": int(self.chars_per_turn.size),
            "median_chars_per_turn": med(self.chars_per_turn),
            "median_words_per_turn": med(self.words_per_turn),
            "median_turns": med(self.turns_per_conversation),
        }


@dataclass(frozen=True)
class SourceCount:
    source: str
    input: int  # rows of this source that passed validation
    before_balance: int | None  # rows reaching the balance step (None when it was off)
    after_balance: int | None
    final: int  # rows in the splits (augmented rows included)


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


@dataclass(frozen=True)
class ExampleRow:
    id: str
    source: str | None
    turns: tuple[Turn, ...]
    where: str  # "train", "validation", "test", or "removed by <stage> (<reason>)"


@dataclass(frozen=True)
class Example:
    """A removed row, with the row it duplicated when it was a duplicate."""

    reason: str
    stage: str
    row: ExampleRow
    details: dict[str, Any] | None
    duplicate_of: str | None
    kept: ExampleRow | None  # the row named by duplicate_of (None when it is not in the folder)


@dataclass(frozen=True)
class QuarantineExample:
    position: str
    error: str
    raw: str


@dataclass
class ReviewFacts:
    """What ``tome review import`` recorded: verdicts, what was applied, agreement, quality ratings."""

    verdicts: dict[str, int]  # verdict -> records (manifest), else counted from ``review_verdict``
    applied: dict[str, int]  # kept / fixed / discarded / restored ... (manifest)
    agreement: dict[str, dict[str, Any]]  # "verdict" / "quality" -> percent agreement, kappas (scalars only)
    annotators: list[str]
    quality_kept: np.ndarray  # mean rating per reviewed row in the splits
    quality_removed: np.ndarray
    columns: dict[str, dict[str, int]]  # other categorical review_* columns: value -> rows
    removed: dict[str, int]  # reason -> rows removed by the review stage


@dataclass
class ReportFacts:
    folder: str
    input: dict[str, Any]
    tomecraft_version: str
    accounting: dict[str, Any]
    stages: list[StageRow]
    stage_stats: dict[str, dict[str, Any]]
    removed_by_reason: dict[str, int]
    reason_stage: dict[str, str]
    splits: dict[str, int]
    before: Lengths
    after: Lengths
    sources: list[SourceCount]
    sources_left_out: int
    clusters: dict[str, dict[int, int]]  # dedup stage -> cluster size -> clusters
    scores_kept: np.ndarray
    scores_removed: np.ndarray
    scores_missing: dict[str, int]
    augmentation: dict[str, int]  # method -> rows in the splits
    augmented_removed: int
    examples: dict[str, list[Example]]
    quarantine_errors: dict[str, int]
    quarantine_examples: list[QuarantineExample]
    review: ReviewFacts | None
    config: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)  # several inputs: per input accounting and mix share
    quality: QualityFacts | None = None  # the quality stages' sections (language, PII, decontamination, ...)

    @property
    def augmented_rows(self) -> int:
        return sum(self.augmentation.values())


# -- reading ----------------------------------------------------------------------------------------------

REPORT_COLUMNS = ("id", "source", "score", "origin_id", "augmentation", "quality", "stage", "reason", "duplicate_of",
                  "details")
TURN_COLUMNS = ("conversations", "original_conversations")


def _files(path: Path) -> list[Path]:
    return sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]  # a shard folder (--engine ray)


def _names(path: Path) -> list[str]:
    files = [f for f in _files(path) if f.exists()]
    if not files:
        return []
    stat = files[0].stat()
    return list(_schema_names(str(files[0]), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _schema_names(file: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    """A Parquet file's column names, read from its footer once per file state (the report asks for them per
    table it reads; a footer of thousands of columns takes a tenth of a second to parse)."""
    return tuple(pq.ParquetFile(file).schema_arrow.names)


def _read(path: Path, extra: tuple[str, ...] = ()) -> pa.Table:
    """The small columns the report uses (review ones included); the turns are read a row group at a time
    (:func:`_before_after_lengths`) or for the few example rows (:func:`_rows_by_id`)."""
    names = _names(path)
    with _reading(path):
        return pq.read_table(path, columns=[n for n in names if n in REPORT_COLUMNS or n in extra
                                            or n.startswith("review_")])


def _reading(path: Path):
    """:func:`curation.contract.reading` for a split or ``removed`` (a file, or a folder of shards, of the output
    folder): damage its footer does not show (a row group that does not decompress) is named by its file."""
    return reading(path.parent, path)


def _rows_by_id(path: Path, ids: set[str], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of ``path`` whose id is in ``ids`` (the example rows), with ``columns``."""
    names = _names(path)
    ids = sorted(i for i in ids if i is not None)  # (a row without an id is none to look up: it broke the filter)
    if not ids or not names:
        return []
    wanted = [c for c in ("id", *columns) if c in names]
    with _reading(path):
        table = pq.read_table(path, columns=wanted, filters=[("id", "in", ids)])
    return table.to_pylist()


def _before_after_lengths(split_paths: list[Path], removed_path: Path | None) -> tuple["Lengths", "Lengths"]:
    """Lengths of every input row as it came in (the splits' ``original_conversations`` where normalization
    changed a row, augmented rows left out, and the removed rows) and of the rows in the splits, read once a row
    group at a time, two row groups at once. A row normalization did not change is measured once for both;
    the report uses only distributions (histograms, medians), so the order rows are measured in does not
    show."""
    tasks = []
    for path, is_split in [*((p, True) for p in split_paths), *([(removed_path, False)] if removed_path else [])]:
        names = _names(path)
        if "conversations" not in names:
            continue
        cols = [c for c in ("conversations", "original_conversations", "origin_id") if c in names]
        for f in _files(path):
            tasks.extend((path.parent, f, g, cols, is_split) for g in range(pq.ParquetFile(f).metadata.num_row_groups))

    def measure(task) -> tuple[list[Lengths], list[Lengths]]:
        root, f, group, cols, is_split = task
        with reading(root, f):  # (a row group that does not decompress: named by its file)
            table = pq.ParquetFile(f).read_row_group(group, columns=cols)
        if not is_split:
            return [_lengths(_as_input(_not_augmented(table)))], []
        conv = table.column("conversations")
        n = table.num_rows
        augmented = (pc.is_valid(table.column("origin_id")) if "origin_id" in cols
                     else pa.array(np.zeros(n, dtype=bool)))
        changed = pa.array(np.zeros(n, dtype=bool))
        if "original_conversations" in cols and table.column("original_conversations").type == conv.type:
            changed = pc.and_(pc.is_valid(table.column("original_conversations")), pc.invert(augmented))
        plain = pc.invert(pc.or_(augmented, changed))
        same = _lengths(conv.filter(plain))
        rest = _lengths(conv.filter(pc.invert(plain)))
        orig = _lengths(table.column("original_conversations").filter(changed)) if "original_conversations" in cols \
            else _lengths(conv.filter(changed))
        return [same, orig], [same, rest]

    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow compute and the word kernel release the GIL
        measured = list(pool.map(measure, tasks))
    return _joined([p for b, _ in measured for p in b]), _joined([p for _, a in measured for p in a])


def _joined(parts: list["Lengths"]) -> "Lengths":
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Lengths(empty, empty, empty)
    return Lengths(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("chars_per_turn", "words_per_turn", "turns_per_conversation")))


def _column(table: pa.Table, name: str, type_: pa.DataType | None = None) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, type=type_ or pa.string())])


def _lengths(conversations: pa.ChunkedArray) -> Lengths:
    conversations = contiguous(conversations)
    if len(conversations) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Lengths(empty, empty, empty)
    from curation.core.columns import string_buffers
    from curation.repetition import word_counts

    turns = pc.list_value_length(conversations).fill_null(0)
    values = pc.struct_field(pc.list_flatten(conversations), "value").fill_null("")
    chars = pc.utf8_length(values)
    words = np.zeros(len(values), dtype=np.int64)
    if len(values):
        word_counts(*string_buffers(values), words)
    return Lengths(chars.to_numpy(zero_copy_only=False).astype(np.int64), words,
                   turns.to_numpy(zero_copy_only=False).astype(np.int64))


def _as_input(table: pa.Table) -> pa.ChunkedArray:
    """The conversations as they came in: ``original_conversations`` where normalization changed them."""
    conv = table.column("conversations")
    if "original_conversations" not in table.column_names:
        return conv
    orig = table.column("original_conversations")
    if orig.type != conv.type:
        return conv
    return pc.coalesce(orig, conv)


def _not_augmented(table: pa.Table) -> pa.Table:
    if "origin_id" not in table.column_names or table.num_rows == 0:
        return table
    return table.filter(pc.is_null(table.column("origin_id")))


def _value_counts(values: list[Any]) -> dict[str, int]:
    counts = Counter("(none)" if v is None else str(v) for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _turns(conversations: list[dict[str, Any]] | None) -> tuple[Turn, ...]:
    return tuple(Turn(str(t.get("from")), str(t.get("value") or "")) for t in (conversations or []))


def _details(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"details": text}
    return value if isinstance(value, dict) else {"details": value}


def _examples(paths, splits: dict[str, pa.Table], removed: pa.Table, per_reason: int) -> dict[str, list[Example]]:
    if removed.num_rows == 0:
        return {}
    reasons = removed.column("reason").to_pylist()
    picked: dict[str, list[int]] = {}
    for i, reason in enumerate(reasons):  # file order: the order the stages removed them, input order within
        bucket = picked.setdefault(reason, [])
        if len(bucket) < per_reason:
            bucket.append(i)
    indices = sorted(i for rows in picked.values() for i in rows)
    chosen = removed.take(pa.array(indices, type=pa.int64())).to_pylist()
    turns = {r["id"]: r.get("conversations") for r in _rows_by_id(paths.removed, {r["id"] for r in chosen}, ("conversations",))}
    for r in chosen:
        r["conversations"] = turns.get(r["id"])
    by_index = dict(zip(indices, chosen))
    wanted = {r["duplicate_of"] for r in chosen if r.get("duplicate_of")}

    found: dict[str, ExampleRow] = {}
    if wanted:
        columns = ("source", "conversations", "stage", "reason")
        for name in [*SPLITS, "removed"]:
            path = paths.removed if name == "removed" else paths.split(name)
            for r in _rows_by_id(path, wanted, columns):
                where = name if name != "removed" else f"removed by {r.get('stage')} ({r.get('reason')})"
                found.setdefault(r["id"], ExampleRow(r["id"], r.get("source"), _turns(r["conversations"]), where))

    out: dict[str, list[Example]] = {}
    for reason in sorted(picked):
        items = []
        for i in picked[reason]:
            r = by_index[i]
            row = ExampleRow(r["id"], r.get("source"), _turns(r["conversations"]), f"removed by {r['stage']}")
            dup = r.get("duplicate_of")
            items.append(Example(reason, r["stage"], row, _details(r.get("details")), dup, found.get(dup) if dup else None))
        out[reason] = items
    return out


def _floats(tables: list[pa.Table], name: str) -> np.ndarray:
    values = [v for t in tables if name in t.column_names and not pa.types.is_nested(t.column(name).type)
              for v in t.column(name).to_pylist() if v is not None]
    out = []
    for v in values:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            pass
    return np.array(out, dtype=np.float64)


def _review(splits: dict[str, pa.Table], removed: pa.Table, manifest: dict[str, Any]) -> ReviewFacts | None:
    section = manifest.get("review") if isinstance(manifest.get("review"), dict) else {}
    tables = list(splits.values()) + [removed]
    review_removed: dict[str, int] = {}
    if removed.num_rows and "stage" in removed.column_names:
        for stage, reason in zip(removed.column("stage").to_pylist(), removed.column("reason").to_pylist()):
            if stage == "review":
                review_removed[reason] = review_removed.get(reason, 0) + 1
    # the input's own columns (the manifest's extra_columns) are its data, not verdicts, whatever their names: an
    # input with a review_notes or quality column of its own has not been reviewed
    own = {c for c in manifest.get("extra_columns") or [] if isinstance(c, str)}
    columns: dict[str, dict[str, int]] = {}
    for table in tables:
        for name in table.column_names:
            if not name.startswith("review_") or name in own or name in columns \
                    or pa.types.is_nested(table.column(name).type):
                continue
            if not pa.types.is_string(table.column(name).type) and not pa.types.is_boolean(table.column(name).type):
                continue
            values = [v for t in tables if name in t.column_names for v in t.column(name).to_pylist()]
            present = [v for v in values if v is not None]
            counts = _value_counts(present)
            if present and len(counts) <= REVIEW_VALUE_LIMIT:  # more values: free text (answers), not a verdict
                columns[name] = counts
    verdicts = {k: int(v) for k, v in (section.get("verdicts") or {}).items()}
    if not verdicts and "review_verdict" in columns:
        verdicts = dict(columns["review_verdict"])
    columns.pop("review_verdict", None)
    agreement = {}
    for key, report in (section.get("agreement") or {}).items():
        if isinstance(report, dict):
            agreement[key] = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
    rating = "quality" if "quality" not in own else None  # the annotators' mean rating, unless the input's own
    quality_kept = _floats(list(splits.values()), rating) if rating else np.zeros(0, dtype=np.float64)
    quality_removed = _floats([removed], rating) if rating else np.zeros(0, dtype=np.float64)
    annotators = section.get("annotators") or []
    facts = ReviewFacts(
        verdicts=verdicts,
        applied={k: int(v) for k, v in (section.get("applied") or {}).items() if isinstance(v, (int, float))},
        agreement=agreement,
        annotators=sorted(str(a) for a in annotators) if isinstance(annotators, list) else [],
        quality_kept=quality_kept,
        quality_removed=quality_removed,
        columns=columns,
        removed=dict(sorted(review_removed.items())),
    )
    if not (section or verdicts or columns or review_removed or quality_kept.size or quality_removed.size):
        return None
    return facts


def _sources(splits: dict[str, pa.Table], inputs: pa.Table, balance: dict[str, Any] | None) -> tuple[list[SourceCount], int]:
    from curation.balance import source_key

    def counts(col: pa.ChunkedArray) -> Counter:  # sources as balance tells them apart (as they look)
        return Counter(source_key(v) for v in col.to_pylist())

    final = Counter()
    for table in splits.values():
        final.update(counts(_column(table, "source")))
    given = counts(_column(inputs, "source")) if inputs.num_rows else Counter()
    before = (balance or {}).get("per_source_before")
    after = (balance or {}).get("per_source_after")
    names = sorted(set(given) | set(final), key=lambda s: (-given.get(s, 0), -final.get(s, 0), s))
    rows = [
        SourceCount(
            source=s,
            input=given.get(s, 0),
            before_balance=None if before is None else int(before.get(s, before.get(str(s), 0))),
            after_balance=None if after is None else int(after.get(s, after.get(str(s), 0))),
            final=final.get(s, 0),
        )
        for s in names
    ]
    return rows[:MAX_SOURCES], max(0, len(rows) - MAX_SOURCES)


def _quarantine(root: Path, limit: int) -> list[QuarantineExample]:
    out = []
    for record in read_quarantine(root)[:limit]:
        pos = record.get("position") or {}
        if not isinstance(pos, dict):  # a record written by hand: its position shown as it is (it broke the report)
            out.append(QuarantineExample(str(pos), str(record.get("error")), _raw_text(record.get("raw"))))
            continue
        where = pos.get("file", "?")
        if "line" in pos:
            where = f"{where}:{pos['line']}"
        elif "row" in pos:
            where = f"{where} row {pos['row']}"
        out.append(QuarantineExample(str(where), str(record.get("error")), _raw_text(record.get("raw"))))
    return out


def _raw_text(raw: Any) -> str:
    return raw if isinstance(raw, str) else dumps_utf8(raw, sort_keys=True)


# -- checking the folder ------------------------------------------------------------------------------------
# What the report, the dataset card and `tome publish` read of an output folder is checked here, in one place, before
# any of it is shown: a value `tome curate` never writes there (a count of -5, 1.5, true or "12", a share of 7, more
# rows in a stage than the run had, a stage without a name) or a data column of another type is a damaged folder,
# one line naming manifest.json and the key (or the file and the column), where the report showed the value as a
# fact, a chart broke on it (a traceback) or the dataset card did. (The manifest's part belongs in
# curation/contract.py, beside check_manifest_counts, which it extends.)

#: The most rows a count may hold where the folder's accounting does not bound it: a Parquet file counts its rows in
#: 64 bits (a count past it also broke the report's charts).
MAX_ROWS = 2**63 - 1

# The manifest keys the report and the card read, with the JSON type `tome curate` writes for each.
MANIFEST_TYPES = {"stages": list, "input": dict, "accounting": dict, "config": dict, "inputs": list, "outputs": dict,
                  "removed_by_reason": dict, "extra_columns": list, "review": dict, "mix": list}
_JSON_NAMES = {dict: "a JSON object", list: "a JSON array", str: "a string", bool: "true or false"}
# the row counts of a stage's entry, of an input's (several inputs) and of a row of the mix
STAGE_COUNTS = ("rows_in", "kept", "added", "quarantined")
INPUT_COUNTS = ("rows", "rows_in", "augmented", "kept", "quarantined")
MIX_COUNTS = ("rows_in", "kept")
# the objects of row counts in a stage's stats that the report shows, by stage (cluster_sizes: any dedup stage's)
STATS_COUNTS = {"validate": ("errors",), "balance": ("per_source_before", "per_source_after")}


class _ManifestCheck:
    """The checks of :func:`check_manifest`, each refusing a key by its path (``stages[2].kept``)."""

    def __init__(self, paths) -> None:
        self.paths = paths
        self.total: int | None = None  # the run's rows, once its accounting is checked: no count can be more

    def refuse(self, key: str, problem: str) -> OutputFolderError:
        # (a key from the data, a removal reason or a source holding a line break, shown on one line)
        return unreadable_file(self.paths.root, self.paths.manifest, f"{one_line(key)} {problem}")

    def kind(self, key: str, value: Any, kind: type) -> None:
        if not isinstance(value, kind):
            raise self.refuse(key, f"is {shown_json(value)}, not {_JSON_NAMES[kind]}")

    def count(self, key: str, value: Any, bounded: bool = True) -> None:
        if not is_row_count(value):
            raise self.refuse(key, f"is {shown_json(value)}, not a count of rows")
        if bounded and self.total is not None and value > self.total:
            raise self.refuse(key, f"is {value:,}, more than the {self.total:,} rows of its accounting "
                                   "(input_rows + added_rows)")
        if value > MAX_ROWS:
            raise self.refuse(key, f"is {value:,}, more rows than a Parquet file can count")

    def counts(self, key: str, value: Any) -> None:
        """An object of row counts (rows removed by reason, per source, per error)."""
        self.kind(key, value, dict)
        for name, n in value.items():
            self.count(f"{key}.{name}", n)

    def share(self, key: str, value: Any) -> None:
        """A share of the kept rows: a number from 0 to 1."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.refuse(key, f"is {shown_json(value)}, not a share from 0 to 1")

    def stage(self, key: str, stage: Any) -> None:
        self.kind(key, stage, dict)
        self.kind(f"{key}.name", stage.get("name"), str)
        if "enabled" in stage:
            self.kind(f"{key}.enabled", stage["enabled"], bool)
        for name in STAGE_COUNTS:
            if name in stage:
                self.count(f"{key}.{name}", stage[name])
        if stage.get("removed") is not None:
            self.counts(f"{key}.removed", stage["removed"])
        stats = stage.get("stats")
        if stats is None:
            return
        self.kind(f"{key}.stats", stats, dict)
        if stats.get("cluster_sizes") is not None:  # cluster size (as text) -> clusters
            self.counts(f"{key}.stats.cluster_sizes", stats["cluster_sizes"])
            for size in stats["cluster_sizes"]:
                if not (size.isascii() and size.isdigit() and len(size) <= len(str(MAX_ROWS))):
                    raise self.refuse(f"{key}.stats.cluster_sizes", f"names a cluster size {shown_json(size)}, not a count "
                                                                    "of rows")
                self.count(f"{key}.stats.cluster_sizes.{size}", int(size))
        for name in STATS_COUNTS.get(stage["name"], ()):
            if stats.get(name) is not None:
                self.counts(f"{key}.stats.{name}", stats[name])
        if stage["name"] == "against" and stats.get("existing_rows") is not None:  # the existing set's, not this run's
            self.count(f"{key}.stats.existing_rows", stats["existing_rows"], bounded=False)

    def input(self, key: str, entry: Any) -> None:
        self.kind(key, entry, dict)
        for name in INPUT_COUNTS:
            if name in entry:
                self.count(f"{key}.{name}", entry[name])
        if entry.get("removed") is not None:
            self.counts(f"{key}.removed", entry["removed"])
        if "share" in entry:
            self.share(f"{key}.share", entry["share"])
        if entry.get("target_share") is not None:
            self.share(f"{key}.target_share", entry["target_share"])
        if entry.get("target_rows") is not None:  # (a max_rows: a cap, not rows the run had)
            self.count(f"{key}.target_rows", entry["target_rows"], bounded=False)

    def mix_row(self, key: str, row: Any) -> None:
        self.kind(key, row, dict)
        for name in MIX_COUNTS:
            if name in row:
                self.count(f"{key}.{name}", row[name])
        if "share" in row:
            self.share(f"{key}.share", row["share"])
        if row.get("target") is not None:
            self.share(f"{key}.target", row["target"])
        if row.get("target_rows") is not None:
            self.count(f"{key}.target_rows", row["target_rows"], bounded=False)

    def outputs_agree(self, manifest: dict[str, Any]) -> None:
        """The accounting's places hold the rows the outputs list (which :func:`check_row_counts` holds to the files):
        else the report would say "nothing lost" of counts no file holds."""
        accounting, outputs = manifest.get("accounting") or {}, manifest.get("outputs") or {}
        listed = {name: entry.get("rows") for name, entry in outputs.items() if isinstance(entry, dict)}
        places = {"in_splits": SPLITS, "removed": ("removed",), "quarantined": ("quarantine",)}
        for key, names in places.items():
            if key in accounting and all(isinstance(listed.get(n), int) for n in names):
                held = sum(listed[n] for n in names)
                if held != accounting[key]:
                    what = " + ".join(f"outputs.{n}.rows" for n in names)
                    raise self.refuse(f"accounting.{key}", f"is {accounting[key]:,}, but {what} = {held:,}: they "
                                                           "do not agree")


def check_manifest(paths, manifest: dict[str, Any]) -> None:
    """Refuse (:class:`OutputFolderError`, one line naming ``manifest.json`` and the key) a manifest whose keys the
    report, the dataset card or `tome publish` read hold something `tome curate` never writes there: a value of
    another JSON type, a count of rows that is no count (``-5``, ``1.5``, ``true``, ``"12"``, ``NaN``) or more than
    the run's rows, a share outside 0-1, an accounting that does not add up or does not match the outputs."""
    check = _ManifestCheck(paths)
    for key, kind in MANIFEST_TYPES.items():
        if key in manifest and not isinstance(manifest[key], kind):
            raise check.refuse(repr(key), f"is {shown_json(manifest[key])}, not {_JSON_NAMES[kind]}")
    check_manifest_counts(paths.root, manifest)  # accounting and outputs.*.rows: counts, adding up
    check.outputs_agree(manifest)
    accounting = manifest.get("accounting", {})
    if "input_rows" in accounting:  # every count of rows is at most the rows the run had: read, and augmentation's
        check.total = accounting["input_rows"] + accounting.get("added_rows", 0)
    for key in ROW_COUNT_KEYS:
        if key in accounting:
            check.count(f"accounting.{key}", accounting[key])
    for n, stage in enumerate(manifest.get("stages", [])):
        check.stage(f"stages[{n}]", stage)
    if "rows" in manifest.get("input", {}):
        check.count("input.rows", manifest["input"]["rows"])
    for n, entry in enumerate(manifest.get("inputs", [])):
        check.input(f"inputs[{n}]", entry)
    for n, row in enumerate(manifest.get("mix", [])):
        check.mix_row(f"mix[{n}]", row)
    check.counts("removed_by_reason", manifest.get("removed_by_reason", {}))
    for n, name in enumerate(manifest.get("extra_columns", [])):
        check.kind(f"extra_columns[{n}]", name, str)
    stage_configs = manifest.get("config", {}).get("stages", {})
    check.kind("config.stages", stage_configs, dict)
    for name, settings in stage_configs.items():
        check.kind(f"config.stages.{name}", settings, dict)
    review = manifest.get("review", {})
    for name in ("verdicts", "applied"):
        if review.get(name) is not None:
            check.counts(f"review.{name}", review[name])
    if review.get("agreement") is not None:
        check.kind("review.agreement", review["agreement"], dict)


# The columns the report reads, with the Arrow types `tome curate` writes for each (a column of another type broke
# the report with Arrow's message, naming no file, or was blamed on manifest.json).
def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_text(t: pa.DataType) -> bool:
    return _is_string(t) or pa.types.is_null(t)


def _is_turns(t: pa.DataType) -> bool:
    """FineTome's turns as `tome curate` writes them: ``from`` and ``value`` text (not Arrow's null type, which a
    file of turns whose every value is null has: the report measured its text and stopped with "Invalid null
    value", naming no file)."""
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_struct(t.value_type):
        return False
    fields = {f.name: f.type for f in t.value_type}
    return all(name in fields and _is_string(fields[name]) for name in ("from", "value"))


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t)


COLUMN_TYPES = {
    "id": ("text", _is_string),
    "conversations": ("a list of {from, value} turns", _is_turns),
    "original_conversations": ("a list of {from, value} turns", lambda t: pa.types.is_null(t) or _is_turns(t)),
    "score": ("a number", _is_number),
    **{name: ("text", _is_text) for name in ("source", "stage", "reason", "duplicate_of", "details", "augmentation")},
}


def check_columns(paths, name: str) -> None:
    """The columns of a split (``train``...) or of ``removed`` that the report reads are of the type `tome curate`
    writes: :class:`OutputFolderError` naming the file and the column. A split without ``conversations`` holds no
    conversations to show or publish; a ``removed.parquet`` without ``reason`` does not say why its rows went."""
    path = paths.removed if name == "removed" else paths.split(name)
    for file in paths.files(path):
        with reading(paths.root, file):
            schema = pq.read_schema(file)
        required = "reason" if name == "removed" else "conversations"  # (what every row of the file is shown by)
        if required not in schema.names:
            raise unreadable_file(paths.root, file, f"no {required!r} column (not a file written by `tome curate`)")
        for column in schema:
            if column.name in COLUMN_TYPES and not COLUMN_TYPES[column.name][1](column.type):
                raise unreadable_file(paths.root, file, f"column {column.name!r} is {column.type}, not "
                                                        f"{COLUMN_TYPES[column.name][0]} (not as `tome curate` "
                                                        "writes it)")


def read_checked_manifest(paths) -> dict[str, Any]:
    """``manifest.json`` of the folder, read (:func:`curation.contract.read_manifest`) and checked
    (:func:`check_manifest`)."""
    manifest = read_manifest(paths.root)
    check_manifest(paths, manifest)
    return manifest


def check_folder(out_dir: str | Path, rows: bool = True) -> tuple[Any, dict[str, Any]]:
    """``(paths, manifest)`` of the curation output folder ``out_dir`` once what the report, the card and `tome
    publish` read of it is checked: ``FileNotFoundError`` where it is no output folder (a usage error), else
    :class:`OutputFolderError` (one line naming the folder, the file and, where it is known, the key or column) for
    the first thing damaged: the manifest (:func:`check_manifest`), a data file's footer or columns, and with
    ``rows`` a file holding other rows than the manifest lists."""
    paths = require_output_folder(out_dir)
    manifest = read_checked_manifest(paths)
    for name in (*SPLITS, *(["removed"] if paths.removed.exists() else [])):
        split_columns(paths.root, name)  # a damaged file or one without ids, named
        check_columns(paths, name)
    if rows:
        check_row_counts(paths.root, manifest)  # (else "nothing lost" would be said of rows that are gone)
    return paths, manifest


def gather(out_dir: str | Path, examples_per_reason: int = EXAMPLES_PER_REASON) -> ReportFacts:
    """Read a curation output folder into the facts the report shows; :class:`OutputFolderError` (one line naming
    the folder and, where it is known, the file) when it cannot be read."""
    paths, manifest = check_folder(out_dir)
    try:
        return _gather(paths, manifest, examples_per_reason)
    except OutputFolderError:
        raise
    except (pa.ArrowException, OSError) as exc:
        # damage the footers do not show: a bad row group (a bug of the report's own is not taken for damage)
        raise OutputFolderError(f"{paths.root}: cannot read the curation output folder: {exc}") from None


def _gather(paths, manifest: dict[str, Any], examples_per_reason: int) -> ReportFacts:
    splits = {name: _read(paths.split(name)) for name in SPLITS}
    removed = _read(paths.removed) if paths.removed.exists() else pa.table({"id": pa.array([], pa.string())})
    for name in ("reason", "stage"):  # (either may be missing: a folder written by hand; "stage" was added twice)
        if name not in removed.column_names:
            removed = removed.append_column(name, pa.nulls(removed.num_rows, pa.string()))

    stages = [
        StageRow(s["name"], bool(s.get("enabled", True)), int(s.get("rows_in", 0)), int(s.get("kept", 0)),
                 int(s.get("added", 0)), dict(s.get("removed") or {}), int(s.get("quarantined", 0)))
        for s in manifest.get("stages", [])
    ]
    stage_stats = {s["name"]: s.get("stats") or {} for s in manifest.get("stages", [])}
    reason_stage: dict[str, str] = {}
    for st in stages:
        for reason in st.removed:
            reason_stage.setdefault(reason, st.name)
    if removed.num_rows:
        for stage, reason in zip(removed.column("stage").to_pylist(), removed.column("reason").to_pylist()):
            reason_stage.setdefault(reason, stage)
    removed_by_reason = dict(Counter(removed.column("reason").to_pylist())) if removed.num_rows else {}
    stage_order = {st.name: i for i, st in enumerate(stages)}
    removed_by_reason = dict(
        sorted(removed_by_reason.items(), key=lambda kv: (stage_order.get(reason_stage.get(kv[0]), 99), -kv[1], kv[0]))
    )

    # before = every row that passed validation, as it came in; after = the rows in the splits
    input_parts = [_not_augmented(t) for t in splits.values()]
    if "conversations" in _names(paths.removed):
        input_parts.append(_not_augmented(removed))
    inputs = pa.table({"source": pa.chunked_array([c for p in input_parts for c in _column(p, "source").chunks],
                                                  type=pa.string())})

    sources, left_out = _sources(splits, inputs, stage_stats.get("balance") if _enabled(stages, "balance") else None)

    clusters: dict[str, dict[int, int]] = {}
    for st in stages:
        sizes = stage_stats.get(st.name, {}).get("cluster_sizes")
        if st.enabled and isinstance(sizes, dict):
            clusters[st.name] = {int(k): int(v) for k, v in sorted(sizes.items(), key=lambda kv: int(kv[0]))}

    def scores(tables: list[pa.Table]) -> tuple[np.ndarray, int]:
        cols = [_column(t, "score", pa.float64()).cast(pa.float64()) for t in tables]
        present = [pc.drop_null(c).to_numpy() for c in cols if len(c)]
        values = np.concatenate(present) if present else np.zeros(0, dtype=np.float64)
        return values, sum(len(c) for c in cols) - values.size

    scores_kept, missing_kept = scores(list(splits.values()))
    scores_removed, missing_removed = scores([removed] if removed.num_rows else [])

    augmentation: Counter = Counter()
    for table in splits.values():
        for value in pc.drop_null(_column(table, "augmentation")).to_pylist():
            if value is None:
                continue
            try:
                spec = json.loads(value)
            except (TypeError, json.JSONDecodeError):
                spec = value
            method = spec.get("method", "augmented") if isinstance(spec, dict) else str(spec)
            augmentation[str(method)] += 1
    augmented_removed = 0
    if removed.num_rows and "origin_id" in removed.column_names:
        augmented_removed = removed.num_rows - removed.column("origin_id").null_count

    errors = stage_stats.get("validate", {}).get("errors") or {}

    before_lengths, after_lengths = _before_after_lengths([paths.split(name) for name in SPLITS],
                                                          paths.removed if paths.removed.exists() else None)

    return ReportFacts(
        folder=paths.root.name or str(paths.root),
        input={k: manifest.get("input", {}).get(k) for k in ("spec", "kind", "fingerprint", "rows")},
        tomecraft_version=str(manifest.get("tomecraft_version", "")),
        accounting=dict(manifest.get("accounting", {})),
        stages=stages,
        stage_stats=stage_stats,
        removed_by_reason=removed_by_reason,
        reason_stage=reason_stage,
        splits={name: t.num_rows for name, t in splits.items()},
        before=before_lengths,
        after=after_lengths,
        sources=sources,
        sources_left_out=left_out,
        clusters=clusters,
        scores_kept=scores_kept,
        scores_removed=scores_removed,
        scores_missing={"kept": missing_kept, "removed": missing_removed},
        augmentation=dict(sorted(augmentation.items(), key=lambda kv: (-kv[1], kv[0]))),
        augmented_removed=augmented_removed,
        examples=_examples(paths, splits, removed, examples_per_reason) if "conversations" in _names(paths.removed) else {},
        quarantine_errors={str(k): int(v) for k, v in errors.items()},
        quarantine_examples=_quarantine(paths.root, examples_per_reason),
        review=_review(splits, removed, manifest),
        config=manifest.get("config", {}),
        inputs=list(manifest.get("inputs") or []),
        quality=gather_quality(stage_stats, {st.name for st in stages if st.enabled}, manifest.get("config", {}),
                               removed, removed_by_reason),
    )


def _enabled(stages: list[StageRow], name: str) -> bool:
    return any(st.name == name and st.enabled for st in stages)


def mix_notes(inputs: list[dict[str, Any]], mix_stats: dict[str, Any] | None) -> list[str]:
    """Sentences under the inputs table (both report pages and the command's summary): which input kept each
    input's duplicates and why (the manifest's ``inputs[].duplicates_kept_in``), what set the size of the mix
    (the mix stage's stats: ``limited_by``; ``rounded`` when it drew fewer rows, see :func:`curation.mix.allocate`),
    which weighted inputs missed their target share by more than a point and why
    (:func:`curation.mix_report.missed_targets`) and which weighted inputs it left out (``left_out``)."""
    from curation.mix_report import missed_targets

    notes = []
    for i in inputs:
        kept_in = i.get("duplicates_kept_in")
        if not isinstance(kept_in, dict):
            continue
        for other, why in kept_in.items():
            if not isinstance(why, dict):
                continue
            parts = ", ".join(f"{n:,} {reason}" for reason, n in why.items() if isinstance(n, int))
            total = sum(n for n in why.values() if isinstance(n, int))
            if total:
                notes.append(f"{i.get('name')}: {total:,} duplicate(s) kept in {other} instead ({parts}).")
    limited_by = (mix_stats or {}).get("limited_by")
    rounded = (mix_stats or {}).get("rounded")
    if isinstance(rounded, dict) and isinstance(rounded.get("rows"), int) and isinstance(rounded.get("allowed"), int):
        # (the mix drew fewer weighted rows than the size allowed, so that whole rows meet the shares)
        notes.append(f"The weighted inputs gave the mix {rounded['rows']:,} rows, not the {rounded['allowed']:,} "
                     f"{limited_by or 'the scarcest input'} allowed: in whole rows, {rounded['allowed']:,} put a share "
                     "more than a point from its target.")
    elif limited_by == "total_rows":
        notes.append("The mix's size was set by total_rows.")
    elif limited_by:
        notes.append(f"The mix's size was set by {limited_by}: all of its rows at its share (the mix never repeats "
                     "rows to fill a share; the other inputs shrank to it).")
    notes.extend(missed_targets(inputs, mix_stats))
    left_out = (mix_stats or {}).get("left_out")
    left_out = left_out if isinstance(left_out, list) else []
    shared = any(i.get("weight") is not None and i.get("name") not in left_out for i in inputs)
    for name in left_out:
        notes.append(f"{name}: left out of the mix, no target share (none of its rows was left when the mix was "
                     "drawn: all removed or quarantined before it)"
                     + ("; the other weighted inputs shared its weight." if shared else "."))
    unapplied = [str(i.get("name")) for i in inputs
                 if (i.get("weight") is not None or i.get("max_rows") is not None)
                 and i.get("target_share") is None and i.get("target_rows") is None]
    if unapplied and not mix_stats:  # (the stage switched off: no stats, and no input given a target)
        notes.append(f"The mix stage is off (stages.mix.enabled: false): the weight or max_rows of {', '.join(unapplied)} "
                     "was not applied; every row that passed the other stages is in the splits.")
    return notes


def against_summary(config: dict[str, Any] | None, stage: dict[str, Any] | None) -> tuple[str, str] | None:
    """What a run ``--against`` an existing set did, for both report pages and the card: ``(the set's spec, the
    rest of the sentence)`` (each page shows the spec as code), or None for a run without one. ``config``: the
    manifest's resolved config; ``stage``: the manifest's ``against`` stage entry (``enabled``, ``removed``,
    ``stats``)."""
    settings = ((config or {}).get("stages") or {}).get("against") or {}
    if not isinstance(stage, dict) or not stage.get("enabled", True) or not settings.get("path"):
        return None
    stats = stage.get("stats") or {}
    kinds = [k for k in ("exact", "near") if settings.get(k, True)]
    how = "exact and near copies" if len(kinds) == 2 else f"{kinds[0]} copies only" if kinds else "no copies"
    removed = (stage.get("removed") or {}).get("duplicate_of_existing", 0)
    found = ", ".join(f"{stats[k]:,} {k}" for k in ("exact", "near") if isinstance(stats.get(k), int))
    existing = stats.get("existing_rows", 0)  # (None where no row came to be compared: the index was not opened)
    rest = (f"({f'{existing:,}' if is_row_count(existing) else 'its'} existing rows; {how}, found with this run's "
            "dedup settings): "
            f"{removed:,} new rows removed as duplicate_of_existing" + (f" ({found})" if found else ""))
    unreadable = stats.get("existing_unreadable")
    if isinstance(unreadable, int) and unreadable:
        first = stats.get("existing_unreadable_first")
        rest += (f"; {unreadable:,} existing record(s) could not be read and are not in its index"
                 + (f" (the first: {first})" if first else ""))
    changed = stats.get("existing_changed")
    if isinstance(changed, list) and changed:  # (a split edited by hand since its run: read as it is now)
        rest += f"; {'; '.join(map(str, changed))}: read as it is now"
    return str(settings["path"]), rest + "; the existing set is not rewritten."


def against_stage(f: ReportFacts) -> dict[str, Any] | None:
    """The ``against`` stage entry :func:`against_summary` reads, from a report's facts."""
    row = next((s for s in f.stages if s.name == "against"), None)
    if row is None:
        return None
    return {"enabled": row.enabled, "removed": row.removed, "stats": f.stage_stats.get("against") or {}}


# a score's mean or median past this is shown in scientific notation: "%.3f" of 1e308 is 309 digits
_FIXED_LIMIT = 1e6


def score_figures(values: np.ndarray) -> tuple[str, str]:
    """(mean, median) of ``values`` (finite scores) as the report's score table shows them: three decimals, or four
    significant digits past a million. Scores near the largest double (1e308 beside 1.7e308) overflow the plain sum
    and the middle pair's sum, which would show a mean of nan or inf for finite scores: then each is taken from the
    values scaled down first."""
    if not values.size:
        return "–", "–"
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(values))
        if not np.isfinite(mean) and np.isfinite(values).all():
            mean = float(np.sum(values / values.size))
        median = float(np.median(values))
        if not np.isfinite(median) and np.isfinite(values).all():
            middle = np.sort(values)[(values.size - 1) // 2: values.size // 2 + 1]
            median = float(np.sum(middle / middle.size))
    return _figure(mean), _figure(median)


def _figure(value: float) -> str:
    return f"{value:.3f}" if abs(value) < _FIXED_LIMIT or not np.isfinite(value) else f"{value:.4g}"


# quarantine error kinds the report lists: an error that quotes the bad value ("unknown role 'r17'") is a kind of its
# own per value, and 100,000 bad rows would make a table of 100,000 lines (quarantine.jsonl holds every one)
MAX_ERROR_KINDS = 30


def error_kinds(errors: dict[str, int]) -> tuple[list[tuple[str, int]], int, int]:
    """The quarantine error kinds the report lists (most rows first, then by text), and how many kinds and rows the
    rest hold."""
    ranked = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))
    rest = ranked[MAX_ERROR_KINDS:]
    return ranked[:MAX_ERROR_KINDS], len(rest), sum(n for _, n in rest)
