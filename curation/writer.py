"""Rows to files, deterministically: the same rows give the same bytes.

Every writer of a curation output folder (``tome curate``, ``tome review import``) goes through here, so
the columns, their types and their order are the same everywhere (see :mod:`curation.contract`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from curation.contract import PROVENANCE_COLUMNS

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
CORE_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "conversations": TURNS,
    "source": pa.string(),
    "score": pa.float64(),
}
PROVENANCE_TYPES: dict[str, pa.DataType] = {
    "original_conversations": TURNS,
    "cluster_id": pa.string(),
    "origin_id": pa.string(),
    "augmentation": pa.string(),
}
REMOVED_TYPES: dict[str, pa.DataType] = {
    "stage": pa.string(),
    "reason": pa.string(),
    "duplicate_of": pa.string(),
    "details": pa.string(),
}
INTERNAL_KEYS = ("_split",)


def column_order(rows: Sequence[dict[str, Any]], extras: Sequence[str], removed: bool = False) -> list[str]:
    """Core columns, then extras (input order), then provenance, then any other keys rows carry."""
    names = ["id"] + (list(REMOVED_TYPES) if removed else []) + ["conversations", "source", "score"]
    names += [e for e in extras if e not in names]
    names += [p for p in PROVENANCE_COLUMNS if p not in names]
    seen = set(names) | set(INTERNAL_KEYS)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                names.append(key)
    return names


def _as_json_text(values: list[Any]) -> pa.Array:
    return pa.array([None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False) for v in values], type=pa.string())


def _column(name: str, values: list[Any], types: dict[str, pa.DataType] | None) -> pa.Array:
    known = CORE_TYPES.get(name) or PROVENANCE_TYPES.get(name) or REMOVED_TYPES.get(name)
    if known is None and types is not None:
        known = types.get(name)
    if known is not None and not pa.types.is_null(known):
        if pa.types.is_string(known) and any(v is not None and not isinstance(v, str) for v in values):
            return _as_json_text(values)
        return pa.array(values, type=known)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed types in an extra column: keep every value, as JSON text
        return _as_json_text(values)


def infer_types(row_sets: Iterable[Sequence[dict[str, Any]]], names: Sequence[str]) -> dict[str, pa.DataType]:
    """One Arrow type per column over all row sets, so that every file of a folder shares its schema."""
    values: dict[str, list[Any]] = {name: [] for name in names}
    for rows in row_sets:
        for row in rows:
            for name in names:
                values[name].append(row.get(name))
    return {name: _column(name, vals, None).type for name, vals in values.items()}


def rows_to_table(rows: Sequence[dict[str, Any]], extras: Sequence[str], removed: bool = False,
                  types: dict[str, pa.DataType] | None = None) -> pa.Table:
    names = column_order(rows, extras, removed)
    arrays = [_column(name, [row.get(name) for row in rows], types) for name in names]
    return pa.table(arrays, names=names)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Atomic, deterministic Parquet write (fixed compression, no timestamps).

    An empty table is written with no row group at all: `datasets` cannot read a zero-row row group.
    """
    tmp = path.with_name(path.name + ".tmp")
    options = dict(compression="zstd", compression_level=3, write_statistics=True)
    if table.num_rows == 0:
        pq.ParquetWriter(tmp, table.schema, **options).close()
    else:
        pq.write_table(table, tmp, **options)
    os.replace(tmp, path)


def write_rows(rows: Sequence[dict[str, Any]], path: Path, extras: Sequence[str], removed: bool = False,
               types: dict[str, pa.DataType] | None = None) -> int:
    write_parquet(rows_to_table(rows, extras, removed, types), path)
    return len(rows)


def write_jsonl(records: Iterable[dict[str, Any]], path: Path) -> int:
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_json(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()
