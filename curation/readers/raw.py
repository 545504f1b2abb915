"""The raw batches every reader yields: parsed input columns plus where each record came from.

Internal columns (names start with ``_``; an input column that happens to carry one of these names is
renamed ``input<name>``, as an input ``id`` becomes ``input_id``):

``_pos``   int64, the record's place in the input (increasing in input order; the key engines sort by)
``_id``    string, the record's content id (:func:`curation.contract.content_id`), before duplicate suffixes
``_file``  string, the file (or dataset) the record came from
``_line``  int64, 1-based line of a text file (null for tables)
``_row``   int64, 0-based row of a table (null for text files)
``_raw``   binary, the record's raw bytes for text inputs (a line: read up to the first newline; held
           without a copy of the block it was read from), or its JSON for loaded arrays; null for tables
``_error`` string, why the record could not be read (invalid UTF-8, not JSON); null when it was
``_slow``  bool, true when the record is valid JSON that the columnar parser could not type; validation
           parses ``_raw`` (or reads the table row) record by record then
"""

from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa

POS, ID, FILE, LINE, ROW, RAW, ERROR, SLOW = "_pos", "_id", "_file", "_line", "_row", "_raw", "_error", "_slow"
RAW_COLUMNS = (POS, ID, FILE, LINE, ROW, RAW, ERROR, SLOW)
INTERNAL_COLUMNS = frozenset(RAW_COLUMNS) | {"_split", "_added"}


def rename_internal(table: pa.Table) -> pa.Table:
    """Input columns named like an internal column get the ``input`` prefix."""
    names = table.column_names
    if not any(n in INTERNAL_COLUMNS for n in names):
        return table
    return table.rename_columns([("input" + n) if n in INTERNAL_COLUMNS else n for n in names])


def raw_batch(
    parsed: pa.Table | None,
    pos: Sequence[int],
    ids: Sequence[str],
    file: str,
    lines: Sequence[int] | None = None,
    rows: Sequence[int] | None = None,
    raw: Sequence[Any] | None = None,
    error: Sequence[Any] | None = None,
    slow: Sequence[bool] | None = None,
) -> pa.RecordBatch:
    """One raw batch: the internal columns, then ``parsed`` (one row per record, nulls where not parsed)."""
    n = len(pos)
    columns: dict[str, pa.Array] = {
        POS: pa.array(pos, type=pa.int64()),
        ID: pa.array(ids, type=pa.string()),
        FILE: pa.array([file] * n, type=pa.string()) if n else pa.array([], type=pa.string()),
        LINE: pa.array(lines if lines is not None else [None] * n, type=pa.int64()),
        ROW: pa.array(rows if rows is not None else [None] * n, type=pa.int64()),
        RAW: raw if isinstance(raw, pa.Array) else pa.array(
            [None if r is None else (r.encode("utf-8") if isinstance(r, str) else r) for r in (raw if raw is not None else [None] * n)],
            type=pa.large_binary(),
        ),
        ERROR: pa.array(error if error is not None else [None] * n, type=pa.string()),
        SLOW: pa.array(slow if slow is not None else [False] * n, type=pa.bool_()),
    }
    if parsed is not None:
        parsed = rename_internal(parsed)
        for name in parsed.column_names:
            col = parsed.column(name)
            columns[name] = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pa.RecordBatch.from_pydict(columns)
