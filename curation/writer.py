"""Rows to files, deterministically: the same rows give the same bytes.

Every writer of a curation output folder (``tome curate`` on any engine, ``tome review import``) goes
through here, so the columns, their types and their order are the same everywhere (see
:mod:`curation.contract`). :class:`ParquetStream` writes batches as they come, in row groups of a fixed
number of rows (so the bytes do not depend on how the rows were batched); :func:`output_schema` gives the
one schema all files of a folder share; :func:`rows_to_table` is the same for rows as Python dicts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.contract import PROVENANCE_COLUMNS
from curation.core.columns import JSON_TEXT, conform_table, is_json_field, parquet_writable, unified_schema
from tomecraft.files import sha256_file, write_json, write_jsonl

__all__ = [
    "CORE_TYPES", "PROVENANCE_TYPES", "REMOVED_TYPES", "VALUE_BITS_KEY", "ParquetStream", "column_order", "infer_types",
    "output_schema", "read_rows", "rows_to_table", "sha256_file", "value_bits", "write_json", "write_jsonl", "write_parquet",
    "write_rows",
]

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
# The footer key of a data file that holds :func:`value_bits` of its rows (the card's ``num_bytes`` reads it)
VALUE_BITS_KEY = "tomecraft.value_bits"
ROW_GROUP_ROWS = 65_536
# Arrow's own zstd level: at level 3 a run spent about a quarter more time writing its files at the end, for
# files about a seventh smaller
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "write_statistics": True}


def output_schema(schemas: Sequence[pa.Schema], extras: Sequence[str], removed: bool = False) -> pa.Schema:
    """The schema of an output file over rows of ``schemas``: internal columns (``_*``) dropped, types
    unified (columns without a common type, or of one a Parquet file cannot hold, become JSON text), columns in
    :func:`column_order`."""
    unified = unified_schema(schemas)
    fields = {f.name: (pa.field(f.name, pa.string(), metadata=JSON_TEXT)
                       if is_json_field(f) or not parquet_writable(f.type) else pa.field(f.name, f.type))
              for f in unified if not f.name.startswith("_")}
    for name, typ in {**CORE_TYPES, **PROVENANCE_TYPES, **(REMOVED_TYPES if removed else {})}.items():
        fields.setdefault(name, pa.field(name, typ))
    if not removed:
        for name in REMOVED_TYPES:
            fields.pop(name, None)
    names = column_order([{n: None for n in fields}], [e for e in extras if e in fields], removed)
    return pa.schema([fields[n] for n in names if n in fields])


class ParquetStream:
    """Rows to one Parquet file, in row groups of exactly ``row_group_rows`` rows (the last one shorter),
    written to ``<path>.tmp`` and moved into place by :meth:`close`. The bytes depend on the rows only, not on
    how they were cut into the tables given to :meth:`write`."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._writer = pq.ParquetWriter(self._tmp, schema, **PARQUET_OPTIONS)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._group = row_group_rows
        self.bits = 0

    def write(self, rows: pa.Table | pa.RecordBatch) -> None:
        if rows.num_rows == 0:
            return
        table = conform_table(rows, self.schema)
        self.bits += value_bits(table)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self._group:
            self._flush(self._group)

    def _flush(self, n: int) -> None:
        table = pa.concat_tables(self._pending)
        write_combined(self._writer, table.slice(0, n), n)
        rest = table.slice(n)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        self.rows += n

    def close(self) -> int:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.add_key_value_metadata({VALUE_BITS_KEY: str(self.bits)})
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.rows



def write_combined(writer: pq.ParquetWriter, rows: pa.Table, row_group_size: int | None) -> None:
    """``rows`` as row groups of ``writer`` (of ``row_group_size`` rows at most, None: Arrow's default), each column
    one chunk: Parquet's writer cuts pages, and falls back from dictionary encoding, at the chunks' edges too, so
    the bytes would depend on how the rows came in batches. Rows whose column holds more than one Arrow array can
    (2 GiB of text) are written as two row groups of half the rows each, halved again as needed: the split depends
    on the rows alone, and every row group stays one that Arrow, ``datasets`` and pandas read (Arrow reads no row
    group of nested values past that size)."""
    try:
        combined = rows.combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowCapacityError):  # offset overflow while concatenating nested arrays
        combined = None
    if combined is not None and all(column.num_chunks <= 1 for column in combined.columns):
        writer.write_table(combined, row_group_size=row_group_size)
        return
    if rows.num_rows < 2:  # one row past Arrow's limit: as it is
        writer.write_table(rows, row_group_size=row_group_size)
        return
    half = rows.num_rows // 2
    write_combined(writer, rows.slice(0, half), row_group_size)
    write_combined(writer, rows.slice(half), row_group_size)


def value_bits(data: pa.Table | pa.RecordBatch | pa.ChunkedArray | pa.Array) -> int:
    """The size of the values of ``data`` as Arrow holds them, in bits: fixed-width values at their width, each
    string, binary or list value its offset plus its bytes or items, struct fields each, dictionary values
    decoded; validity bitmaps and buffer padding left out. It is a sum over rows, so the same rows give the same
    size however they are cut into batches, row groups or shards (the card's ``num_bytes`` on every engine)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return sum(value_bits(column) for column in data.columns)
    if isinstance(data, pa.ChunkedArray):
        return sum(value_bits(chunk) for chunk in data.chunks)
    t = data.type
    if pa.types.is_null(t):
        return 0
    if pa.types.is_dictionary(t):
        return value_bits(data.dictionary_decode())
    if pa.types.is_struct(t):
        return sum(value_bits(field) for field in data.flatten())
    if pa.types.is_map(t):  # its keys and items are those of every map of the array, slice or not
        start, end = data.offsets[0].as_py(), data.offsets[-1].as_py()
        return len(data) * 32 + value_bits(data.keys.slice(start, end - start)) + value_bits(data.items.slice(start, end - start))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return len(data) * (64 if pa.types.is_large_list(t) else 32) + value_bits(data.flatten())
    if pa.types.is_fixed_size_list(t):
        return value_bits(data.flatten())
    if pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        offsets = 64 if pa.types.is_large_string(t) or pa.types.is_large_binary(t) else 32
        lengths = pc.sum(pc.binary_length(data)).as_py() or 0
        return len(data) * offsets + 8 * lengths
    try:
        return len(data) * t.bit_width
    except ValueError:  # a type of no fixed width the writer does not give (a union, a view): its buffers
        return 8 * data.nbytes


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
    with pq.ParquetWriter(tmp, table.schema, **PARQUET_OPTIONS) as writer:
        if table.num_rows:
            write_combined(writer, table, None)  # (as ParquetStream: bytes by rows only)
        writer.add_key_value_metadata({VALUE_BITS_KEY: str(value_bits(table))})
    os.replace(tmp, path)


def write_rows(rows: Sequence[dict[str, Any]], path: Path, extras: Sequence[str], removed: bool = False,
               types: dict[str, pa.DataType] | None = None) -> int:
    write_parquet(rows_to_table(rows, extras, removed, types), path)
    return len(rows)


def read_rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()
