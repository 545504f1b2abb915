"""A curation output folder read whole, each row with where it lies (a split or ``removed``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.contract import SPLITS, OutputFolderError, OutputPaths, read_manifest, read_quarantine, read_removed
from curation.contract import check_row_counts, read_split, require_output_folder, unreadable_file
from curation.review.errors import ReviewError, ReviewUsageError
from curation.contract import Row

REMOVED = "removed"
LOCATIONS = (*SPLITS, REMOVED)


@dataclass
class Located:
    """One row of the folder and the file it lies in (``train``, ``validation``, ``test`` or ``removed``)."""

    row: Row
    location: str

    @property
    def id(self) -> str:
        return self.row["id"]


@dataclass
class CurationFolder:
    paths: OutputPaths
    manifest: dict[str, Any]
    splits: dict[str, list[Row]]
    removed: list[Row]
    quarantine: list[dict[str, Any]]
    extras: list[str] = field(default_factory=list)
    # each file's Arrow fields (types and field metadata such as tomecraft.encoding), read before the rows
    # became Python values; the reviewed folder writes its columns with them
    fields: dict[str, "pa.Field"] = field(default_factory=dict)

    def located(self) -> list[Located]:
        """Every row of the splits then of removed.parquet, in file order."""
        out = [Located(row, split) for split in SPLITS for row in self.splits[split]]
        out += [Located(row, REMOVED) for row in self.removed]
        return out

    def by_id(self) -> dict[str, Located]:
        return {loc.id: loc for loc in self.located()}

    def cluster_sizes(self) -> dict[str, int]:
        """Rows per near-duplicate cluster, kept and removed members together."""
        return dict(Counter(loc.row.get("cluster_id") for loc in self.located() if loc.row.get("cluster_id")))

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.splits.values()) + len(self.removed) + len(self.quarantine)


def read_folder(root: str | Path) -> CurationFolder:
    """Read ``root`` (the ``--out`` folder of ``tome curate``); a missing or broken folder is a :class:`ReviewError`."""
    try:
        paths = require_output_folder(root)
    except FileNotFoundError as exc:  # not a `tome curate` output folder: the path given is wrong
        raise ReviewUsageError(str(exc)) from None
    try:
        manifest = read_manifest(root)
        tables = {split: read_split(root, split) for split in SPLITS}
        if paths.removed.exists():
            tables[REMOVED] = read_removed(root)
        splits = {split: tables[split].to_pylist() for split in SPLITS}
        removed = tables[REMOVED].to_pylist() if REMOVED in tables else []
        quarantine = read_quarantine(root)
    except OutputFolderError as exc:  # a truncated parquet file, bad JSON, a split without ids...
        raise ReviewError(str(exc)) from None
    except Exception as exc:  # what the contract's readers do not name (a row group damaged past its footer)
        raise ReviewError(f"{paths.root}: cannot read the curation output folder: {exc}") from None
    check_folder(paths, manifest, tables, quarantine)
    extras = manifest.get("extra_columns")
    if extras is not None and not (isinstance(extras, list) and all(isinstance(c, str) for c in extras)):
        raise ReviewError(f"{paths.root}: cannot read the curation output folder: {paths.manifest}: "
                          "'extra_columns' is not a list of column names")
    fields: dict[str, pa.Field] = {}
    for table in tables.values():  # a column's first non-null type, in file order
        for f in table.schema:
            if f.name not in fields or pa.types.is_null(fields[f.name].type):
                fields[f.name] = f
    folder = CurationFolder(paths, manifest, splits, removed, quarantine, list(extras or []), fields)
    seen: Counter[str] = Counter(loc.id for loc in folder.located())
    dupes = [i for i, n in seen.items() if n > 1]
    if dupes:
        raise ReviewError(f"{paths.root}: {len(dupes)} row id(s) appear more than once (e.g. {dupes[0]!r}); "
                          "the folder is not a valid curation output")
    return folder


def check_folder(paths: OutputPaths, manifest: dict[str, Any], tables: dict[str, pa.Table],
                 quarantine: list[dict[str, Any]]) -> None:
    """Refuse (:class:`ReviewError`, one line naming the file; exit code 1, as a file that does not read) a folder
    that reads but is not whole: what would otherwise end an import after the reviewed folder was begun (a
    half-written ``--out``) with a traceback, or be exported as rows the review cannot apply."""
    try:
        _check_manifest_values(paths, manifest)
        check_row_counts(paths.root, manifest)  # removed.parquet or quarantine.jsonl deleted, a split emptied
        _check_accounting(paths, manifest, sum(t.num_rows for t in tables.values()) + len(quarantine))
        for name, table in tables.items():
            _check_columns(paths, paths.removed if name == REMOVED else paths.split(name), table)
    except OutputFolderError as exc:
        raise ReviewError(str(exc)) from None


def _check_manifest_values(paths: OutputPaths, manifest: dict[str, Any]) -> None:
    """The manifest keys the review carries over and the report of the reviewed folder reads (``stages``,
    ``accounting``, ``config``...) hold what ``tome curate`` writes there: the report's own check, made before the
    reviewed folder is written rather than when its report is."""
    from curation.report.facts import check_manifest

    check_manifest(paths, manifest)


def _check_accounting(paths: OutputPaths, manifest: dict[str, Any], held: int) -> None:
    """The rows of the folder's files add up to its manifest's accounting (input rows plus added rows), which the
    reviewed folder's accounting starts from: a file the manifest's ``outputs`` do not list (an older folder) may
    still have lost its rows."""
    accounting = manifest.get("accounting")
    if not isinstance(accounting, dict) or "input_rows" not in accounting:
        return
    counts = [accounting.get("input_rows"), accounting.get("added_rows", 0)]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in counts):
        raise unreadable_file(paths.root, paths.manifest, "'accounting' input_rows and added_rows are not row counts")
    if held != sum(counts):
        raise unreadable_file(paths.root, paths.manifest, f"its accounting counts {sum(counts):,} rows, the folder's "
                              f"files hold {held:,} (a file changed or deleted after the run? run tome curate again)")


def _check_columns(paths: OutputPaths, path: "Path", table: pa.Table) -> None:
    """A split or removed.parquet has ``id`` as text and ``conversations`` as FineTome turns, as ``tome curate``
    writes them: the review reads and writes back every row's turns (a column of strings ended the import in
    pyarrow's conversion error, with the splits before it written)."""
    for name, ok, expected in (("id", _is_text, "text"), ("conversations", _is_turns, "a list of {from, value} turns")):
        if name not in table.column_names:
            raise unreadable_file(paths.root, path, f"no {name!r} column (not a split written by `tome curate`)")
        kind = table.schema.field(name).type
        if not (ok(kind) or (pa.types.is_null(kind) and table.num_rows == 0)):
            raise unreadable_file(paths.root, path, f"column {name!r} is {kind}, expected {expected}")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_turns(kind: pa.DataType) -> bool:
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    turn = kind.value_type
    return pa.types.is_struct(turn) and all(turn.get_field_index(k) >= 0 and _is_text(turn.field(k).type)
                                            for k in ("from", "value"))
