"""A curation output folder read whole, each row with where it lies (a split or ``removed``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.contract import SPLITS, OutputFolderError, OutputPaths, read_manifest, read_quarantine, read_removed
from curation.contract import read_split, require_output_folder
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
