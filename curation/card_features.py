"""The ``features`` list of a dataset card's ``dataset_info`` for an Arrow schema, without importing ``datasets``.

The card (:mod:`curation.card`) describes each config's columns in the YAML that ``datasets`` writes with
``Features.from_arrow_schema(schema)._to_yaml_list()``. Importing ``datasets`` costs about half a second,
more than the rest of the card, so :func:`card_features` writes that YAML itself for the Arrow types whose
mapping is pinned down by ``datasets`` 4.x (``features/features.py``: ``generate_from_arrow_type``,
``_arrow_to_datasets_dtype``, ``Features._to_yaml_list``):

- a scalar type is ``{dtype: NAME}``, NAME from :data:`SCALAR_DTYPES` or, with parameters,
  ``time32[s]``, ``time64[us]``, ``timestamp[us]``, ``timestamp[us, tz=UTC]``, ``duration[ms]``,
  ``decimal128(10, 2)``, ``decimal256(40, 5)``; a dictionary-encoded column (Parquet's categorical strings)
  is its value type;
- ``list<T>`` is ``{list: T}``, ``large_list<T>`` ``{large_list: T}``, ``fixed_size_list<T>[n]``
  ``{list: T, length: n}``, where T is shortened to its dtype name when T is a scalar, and to the field list
  when T is a struct;
- ``struct<a: A, ...>`` is ``{struct: [{name: a, ...A}, ...]}`` (``struct<>``: ``{struct: []}``); the
  schema itself is that field list.

Everything else gives None and the caller asks ``datasets`` (:func:`datasets_features`), so the card is right
for any schema: map, union, list_view, fixed_size_binary, decimal32/64, string_view and binary_view (4.0
refuses them, later 4.x map them), run-end encoded and extension types (json, uuid, ``datasets``' ArrayXD),
repeated field names, time zones ``datasets`` does not parse, dictionaries of nested values,
and schemas carrying ``datasets``' own ``huggingface`` metadata (whose features take precedence there). So
does every schema when the installed ``datasets`` is not 4.x (3.x spells lists ``sequence``).
``tests/curation/test_card_features.py`` holds the two to the same bytes. A column or struct field named
``_type`` (an input's ``{"_type": ...}`` objects) ``datasets`` cannot write either (it takes the key for its
own type tag): :func:`features_yaml` gives None and the card leaves that config's features out, for
``load_dataset`` to take from the files.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.types as pat

# Arrow types without parameters -> the ``datasets`` dtype name (``Value(dtype)``).
SCALAR_DTYPES = {
    pa.null(): "null",
    pa.bool_(): "bool",
    pa.int8(): "int8",
    pa.int16(): "int16",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.uint8(): "uint8",
    pa.uint16(): "uint16",
    pa.uint32(): "uint32",
    pa.uint64(): "uint64",
    pa.float16(): "float16",
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.date32(): "date32",
    pa.date64(): "date64",
    pa.binary(): "binary",
    pa.large_binary(): "large_binary",
    pa.string(): "string",
    pa.large_string(): "large_string",
}

# The time zones ``datasets`` reads back from ``timestamp[unit, tz=...]`` (``string_to_arrow``); it raises on others.
_TZ = re.compile(r"[a-zA-Z0-9/_+\-:]*")

Feature = dict[str, Any]


def scalar_dtype(t: pa.DataType) -> str | None:
    """The ``datasets`` dtype name of a scalar Arrow type, or None when it is not one handled here."""
    if pat.is_dictionary(t):
        return scalar_dtype(t.value_type) if not pat.is_dictionary(t.value_type) else None
    if isinstance(t, pa.ExtensionType):
        return None
    name = SCALAR_DTYPES.get(t)
    if name is not None:
        return name
    if pat.is_time32(t) or pat.is_time64(t):
        return f"time{t.bit_width}[{t.unit}]"
    if pat.is_timestamp(t):
        if t.tz is None:
            return f"timestamp[{t.unit}]"
        return f"timestamp[{t.unit}, tz={t.tz}]" if t.tz and _TZ.fullmatch(t.tz) else None
    if pat.is_duration(t):
        return f"duration[{t.unit}]"
    if pat.is_decimal128(t) or pat.is_decimal256(t):
        return f"decimal{t.bit_width}({t.precision}, {t.scale})"
    return None


def arrow_feature(t: pa.DataType) -> Feature | None:
    """The card YAML of one column type, without its name: ``{dtype: ...}``, ``{list: ...}``,
    ``{large_list: ...}`` or ``{struct: [...]}``; None when some part of it is not handled here."""
    if pat.is_struct(t):
        fields = struct_fields(list(t))
        return None if fields is None else {"struct": fields}
    if pat.is_list(t) or pat.is_large_list(t) or pat.is_fixed_size_list(t):
        inner = arrow_feature(t.value_type)
        if inner is None:
            return None
        if list(inner) == ["dtype"]:  # list of a scalar: list: string
            inner = inner["dtype"]
        elif list(inner) == ["struct"]:  # list of a struct: list: [its fields]
            inner = inner["struct"]
        out: Feature = {"large_list" if pat.is_large_list(t) else "list": inner}
        if pat.is_fixed_size_list(t):
            out["length"] = t.list_size
        return out
    dtype = scalar_dtype(t)
    return None if dtype is None else {"dtype": dtype}


def struct_fields(fields: list[pa.Field]) -> list[Feature] | None:
    """``[{name, ...feature}]`` for the fields of a struct or a schema; None when one is not handled, two
    share a name, or one is named ``_type`` (``datasets`` reads that key as its own feature tag)."""
    names = {f.name for f in fields}
    if len(names) != len(fields) or "_type" in names:
        return None
    out = []
    for f in fields:
        feature = arrow_feature(f.type)
        if feature is None:
            return None
        out.append({"name": f.name, **feature})
    return out


@lru_cache(maxsize=1)
def datasets_major() -> str | None:
    """The installed ``datasets``' major version ("4"), read from its package metadata (no import); None
    when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datasets").split(".")[0]
    except PackageNotFoundError:
        return None


def card_features(schema: pa.Schema) -> list[Feature] | None:
    """The ``features`` list ``datasets`` writes for ``schema``, or None where only ``datasets`` can say."""
    if datasets_major() not in ("4", None):
        return None
    if schema.metadata and b"huggingface" in schema.metadata:
        return None
    return struct_fields(list(schema))


def datasets_features(schema: pa.Schema) -> list[Feature]:
    """The ``features`` list, by ``datasets`` itself (imports it: about half a second)."""
    import datasets

    return datasets.Features.from_arrow_schema(schema)._to_yaml_list()


def names_type(t: pa.DataType | pa.Schema) -> bool:
    """Whether a struct field (of ``t`` or of a type inside it) or a column of a schema is named ``_type``.
    ``datasets`` reads that key of its features' dicts as the feature's own type tag: it cannot write such a
    column's features as YAML (``Features._to_yaml_list`` raises TypeError), though it reads the data itself."""
    if isinstance(t, pa.Schema):
        return any(f.name == "_type" or names_type(f.type) for f in t)
    if pat.is_struct(t):
        return any(f.name == "_type" or names_type(f.type) for f in t)
    if pat.is_dictionary(t):
        return names_type(t.value_type)
    if pat.is_map(t):
        return names_type(t.key_type) or names_type(t.item_type)
    if pat.is_list(t) or pat.is_large_list(t) or pat.is_fixed_size_list(t):
        return names_type(t.value_type)
    return False


def features_yaml(schema: pa.Schema) -> list[Feature] | None:
    """The ``features`` list of ``schema``'s config: :func:`card_features`, or ``datasets`` for the types it
    leaves out; None when ``datasets`` cannot write them (:func:`names_type`): the card then leaves the config's
    features out and ``load_dataset`` takes them from the files."""
    features = card_features(schema)
    if features is not None:
        return features
    if names_type(schema):
        return None
    return datasets_features(schema)
