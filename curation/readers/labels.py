"""Columns that ``datasets`` stores as numbers but means as names: ``ClassLabel`` columns, read as their labels.

A dataset saved by ``datasets`` (``save_to_disk``, the hub, a streamed hub dataset) keeps a ``ClassLabel`` column
as label numbers and its names in the features; only ``datasets`` knows them, so every reader of such a dataset
turns the numbers back into the names users see (``source: web``, not ``source: 0``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def label_names(table: pa.Table, features: Any) -> pa.Table:
    """``table`` with each top-level ``datasets.ClassLabel`` column (stored as its label numbers) as its label
    names, as a string column; a number that names no label (-1: no label) is null."""
    import datasets

    if not features:
        return table
    for name, feature in features.items():
        if not isinstance(feature, datasets.ClassLabel) or name not in table.column_names:
            continue
        column = table.column(name)
        if not pa.types.is_integer(column.type):
            continue
        numbers = column.cast(pa.int64())
        known = pc.and_(pc.greater_equal(numbers, 0), pc.less(numbers, len(feature.names)))
        index = pc.if_else(known, numbers, pa.scalar(None, pa.int64()))
        names = pa.array(feature.names, pa.string()).take(index)
        table = table.set_column(table.column_names.index(name), name, names)
    return table
