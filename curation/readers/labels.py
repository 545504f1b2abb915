"""Columns that ``datasets`` stores as numbers but means as names: ``ClassLabel`` columns, read as their labels.

A dataset saved by ``datasets`` (``save_to_disk``, the hub, a streamed hub dataset, a Parquet file it wrote) keeps
a ``ClassLabel`` column as label numbers and its names in the features; only ``datasets`` knows them, so every
reader of such a dataset turns the numbers back into the names users see (``source: web``, not ``source: 0``).
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
    return named_labels(table, {name: list(feature.names) for name, feature in features.items()
                                if isinstance(feature, datasets.ClassLabel)})


def parquet_labels(schema: pa.Schema) -> dict[str, list[str]]:
    """The label names of each top-level ``ClassLabel`` column of a Parquet file ``datasets`` wrote
    (``to_parquet``, a hub dataset's ``data/train-00000-of-00001.parquet``): its features are in the schema's
    ``huggingface`` metadata, read here as JSON (without importing ``datasets``). Empty for any other file, and
    for metadata that does not read as ``datasets`` writes it."""
    import json

    meta = (schema.metadata or {}).get(b"huggingface")
    if not meta or b"ClassLabel" not in meta:
        return {}
    try:
        features = json.loads(meta).get("info", {}).get("features", {})
    except (ValueError, AttributeError):
        return {}
    if not isinstance(features, dict):
        return {}
    return {name: list(f["names"]) for name, f in features.items()
            if isinstance(f, dict) and f.get("_type") == "ClassLabel" and isinstance(f.get("names"), list)
            and all(isinstance(n, str) for n in f["names"])}


def named_labels(table: pa.Table, labels: dict[str, list[str]]) -> pa.Table:
    """``table`` with each integer column that ``labels`` names as its label names (``labels[column]``), as a
    string column; a number that names no label (-1: no label) is null."""
    for name, names in labels.items():
        if name not in table.column_names:
            continue
        column = table.column(name)
        if not pa.types.is_integer(column.type):
            continue
        numbers = column.cast(pa.int64())
        known = pc.and_(pc.greater_equal(numbers, 0), pc.less(numbers, len(names)))
        index = pc.if_else(known, numbers, pa.scalar(None, pa.int64()))
        table = table.set_column(table.column_names.index(name), name, pa.array(names, pa.string()).take(index))
    return table
