"""The raw batches every reader yields: parsed input columns plus where each record came from.

Internal columns (names start with ``_``; an input column that happens to carry one of these names is kept
as ``input_<name>``, :func:`kept_apart`: an input ``_id`` becomes ``input__id``):

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

from typing import Any, Collection, Sequence

import numpy as np
import pyarrow as pa

from curation.core.columns import contiguous
from curation.formats import TABLE_KEYS

POS, ID, FILE, LINE, ROW, RAW, ERROR, SLOW = "_pos", "_id", "_file", "_line", "_row", "_raw", "_error", "_slow"
RAW_COLUMNS = (POS, ID, FILE, LINE, ROW, RAW, ERROR, SLOW)
INTERNAL_COLUMNS = frozenset(RAW_COLUMNS) | {"_split", "_added", "_input", "_original"}
# the deepest a record's values may nest (arrays and objects inside each other) to be kept: a Parquet file holds
# 100 schema levels, and a list takes 2 of them; a deeper record is quarantined with the column named
MAX_DEPTH = 32
# the deepest a record's values may nest to be read record by record (validation's repairs walk a value
# recursively, two Python frames a level, under Python's limit of 1,000): a deeper record is quarantined, its
# column named, by the reader or by validation, however it was parsed
READ_ALONE_DEPTH = 256


def _plain(t: pa.DataType) -> pa.DataType:
    """``t`` in the layouts every stage and the ecosystem's tools take, at any depth: Arrow's view layouts as the
    classic ones (string_view -> string, list_view -> list: the compute kernels the stages use have no view
    kernels), and the types ``datasets`` has no feature for as the nearest it has (a map as a list of
    key/value structs, fixed-size binary as binary, an extension type as its storage, decimal32/64 as
    decimal128, a dictionary of nested values as its values), so the outputs load with ``load_dataset``."""
    if isinstance(t, pa.BaseExtensionType):
        return _plain(t.storage_type)
    if t == pa.string_view():
        return pa.string()
    if t == pa.binary_view() or pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_decimal32(t) or pa.types.is_decimal64(t):
        return pa.decimal128(t.precision, t.scale)
    if pa.types.is_map(t):
        entry = pa.struct([pa.field("key", _plain(t.key_type), nullable=False), t.item_field.with_type(_plain(t.item_type))])
        return pa.list_(pa.field("entries", entry, nullable=False))
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        item = t.value_field.with_type(_plain(t.value_type))
        return pa.list_(item) if pa.types.is_list_view(t) else pa.large_list(item)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item = t.value_field.with_type(_plain(t.value_type))
        if pa.types.is_fixed_size_list(t):
            return pa.list_(item, t.list_size)
        return pa.list_(item) if pa.types.is_list(t) else pa.large_list(item)
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_plain(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_dictionary(t):
        value = _plain(t.value_type)
        nested = pa.types.is_nested(value) or value != t.value_type
        return value if nested else t
    return t


def _converted(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    """``column`` as ``target``: Arrow's cast where it is right (a cast from list views can build an invalid
    array in pyarrow 26, so it is checked), else through the Python values; None when neither works."""
    if isinstance(column.type, pa.BaseExtensionType):
        column = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
    try:
        out = column.cast(target)
        out.validate(full=True)
        return out
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    try:
        return pa.chunked_array([pa.array(c.to_pylist(), type=target) for c in column.chunks], type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError):
        return None


def plain_layouts(table: pa.Table) -> pa.Table:
    """``table`` with every column in :func:`_plain` types; the same table when they are already. A column that
    converts neither way becomes JSON text (a string column), so no row is lost over a column's type."""
    fields, columns, changed = [], [], False
    for field, column in zip(table.schema, table.columns):
        plain = _plain(field.type)
        if plain != field.type:
            changed = True
            converted = _converted(column, plain)
            if converted is None:
                from curation.core.columns import json_text

                plain = pa.string()
                converted = pa.chunked_array([json_text(c.to_pylist()) for c in column.chunks], type=plain)
            field, column = field.with_type(plain), converted
        fields.append(field)
        columns.append(column)
    if not changed:
        return table
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def with_leaves(t: pa.DataType, leaf) -> pa.DataType:
    """``t`` with each leaf type, at any depth (structs, lists of each kind, maps; a dictionary as its values where
    they change), as ``leaf(type)`` gives it."""
    if pa.types.is_dictionary(t):
        inner = with_leaves(t.value_type, leaf)
        return t if inner == t.value_type else inner
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(with_leaves(t.field(i).type, leaf)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(t.key_field.with_type(with_leaves(t.key_type, leaf)),
                       t.item_field.with_type(with_leaves(t.item_type, leaf)), t.keys_sorted)
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(with_leaves(t.value_type, leaf)), t.list_size)
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(with_leaves(t.value_type, leaf)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(with_leaves(t.value_type, leaf)))
    return leaf(t)


def _text_leaf(t: pa.DataType) -> pa.DataType:
    if t in (pa.binary(), pa.binary_view()) or pa.types.is_fixed_size_binary(t):
        return pa.string()
    return pa.large_string() if t == pa.large_binary() else t


def _as_text(t: pa.DataType) -> pa.DataType:
    """``t`` with every binary type (at any depth) as its string type."""
    return with_leaves(t, _text_leaf)


def binary_as_text(table: pa.Table) -> pa.Table:
    """A typed table's chat columns (the canonical names of :data:`curation.formats.TABLE_KEYS`) stored as binary,
    as some Parquet writers store strings, as strings (nested ones too). A column with a value that is not UTF-8
    is viewed as text unchecked, as a Parquet string column may arrive: the reader finds those rows
    (:func:`curation.readers.source.without_unreadable_values`) and quarantines each alone. Other binary columns are
    data, as given."""
    columns, changed = [], False
    for name, column in zip(table.column_names, table.columns):
        target = _as_text(column.type) if name in TABLE_KEYS else column.type
        if target != column.type:
            try:
                column, changed = column.cast(target), True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                try:  # not UTF-8 somewhere: the same buffers, as text (a layout that differs stays binary)
                    column, changed = pa.chunked_array([c.view(target) for c in column.chunks], type=target), True
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    pass
        columns.append(column)
    if not changed:
        return table
    return pa.Table.from_arrays(columns, names=table.column_names)


def turn_maps_as_structs(table: pa.Table) -> tuple[pa.Table, dict[int, str], dict[str, list]]:
    """A typed table's ``conversations`` / ``messages`` whose turns are maps (Spark writes a dict as a
    ``MapType``: ``list<map<string, string>>``) as turns of structs keyed by the maps' keys, as every other writer
    stores a turn; without this each turn would read as a list of key/value pairs and every row would be
    quarantined as holding no turn objects. Also the rows to quarantine, with why: a map that names one key twice
    (which value is meant would be a guess, :class:`~curation.readers.errors.DuplicateKey`); and, per column
    converted, each row's turns as its own maps hold them (the structs give every turn each key any map of the
    table holds, as nulls: a row's id and raw record come from its own keys)."""
    from curation.readers.errors import DuplicateKey, unique_keys

    columns, refused, changed, given = [], {}, False, {}
    for name, column in zip(table.column_names, table.columns):
        t = column.type
        if name in ("conversations", "messages") and (pa.types.is_list(t) or pa.types.is_large_list(t)) \
                and pa.types.is_map(t.value_type):
            rows = column.to_pylist()
            for i, turns in enumerate(rows):
                for k, pairs in enumerate(turns or []):
                    if pairs is None:
                        continue
                    try:
                        turns[k] = unique_keys(pairs)
                    except DuplicateKey as exc:
                        refused.setdefault(i, str(exc))
                        turns[k] = dict(pairs)
            try:
                column, changed = pa.chunked_array([pa.array(rows)]), True
                given[name] = rows
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pass
        columns.append(column)
    if not changed:
        return table, {}, {}
    return pa.Table.from_arrays(columns, names=table.column_names), refused, given


def type_depth(t: pa.DataType) -> int:
    """How deep values of ``t`` nest: each list, struct or map is one level (walked without recursion: a type
    parsed from thousands of nested arrays is as deep)."""
    deepest, todo = 0, [(t, 0)]
    while todo:
        t, depth = todo.pop()
        if isinstance(t, pa.BaseExtensionType):
            todo.append((t.storage_type, depth))
        elif pa.types.is_dictionary(t):
            todo.append((t.value_type, depth))
        elif pa.types.is_struct(t):
            todo.extend((t.field(i).type, depth + 1) for i in range(t.num_fields))
            deepest = max(deepest, depth + 1)
        elif pa.types.is_map(t):
            todo.extend(((t.key_type, depth + 1), (t.item_type, depth + 1)))
            deepest = max(deepest, depth + 1)
        elif pa.types.is_nested(t):  # the lists, of every layout
            todo.append((t.value_type, depth + 1))
            deepest = max(deepest, depth + 1)
    return deepest


def value_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep a Python value nests (each list or dict one level), counted up to ``limit + 1``."""
    deepest, todo = 0, [(value, 0)]
    while todo and deepest <= limit:
        v, depth = todo.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, (list, tuple)):
            continue
        deepest = max(deepest, depth + 1)
        todo.extend((item, depth + 1) for item in v if isinstance(item, (dict, list, tuple)))
    return deepest


def too_deep(name: str) -> str:
    return f"column {name!r} nests more than {MAX_DEPTH} levels deep (arrays and objects inside each other)"


def value_depths(column: pa.Array | pa.ChunkedArray, limit: int = MAX_DEPTH) -> np.ndarray:
    """How deep each row's value of an Arrow column nests (each list or struct one level, as :func:`type_depth`
    and :func:`value_depth` count), up to ``limit + 1``. A column's type is as deep as its deepest row's value:
    the others may be shallow. Walked one level at a time (the type may be thousands of levels deep, and
    Arrow's conversions recurse). A row under a nested type of another kind (a map, a union) counts as
    ``limit + 1`` where it holds a value: JSON gives none, and a table's rows are not read past the type."""
    import pyarrow.compute as pc

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    depths = []
    for chunk in chunks:
        depth = np.zeros(len(chunk), dtype=np.int64)
        todo = [(chunk, np.arange(len(chunk)), 1)]
        while todo:
            values, rows, level = todo.pop()
            t = values.type
            if not pa.types.is_nested(t) or not len(values):
                continue
            valid = np.asarray(values.is_valid(), dtype=bool)
            if not valid.any():
                continue
            np.maximum.at(depth, rows[valid], level)
            if level > limit:
                continue
            if pa.types.is_struct(t):
                todo.extend((field, rows, level + 1) for field in values.flatten())  # the struct's nulls applied
            elif (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
                  or pa.types.is_list_view(t) or pa.types.is_large_list_view(t)):
                lengths = np.asarray(pc.list_value_length(values).fill_null(0), dtype=np.int64)
                todo.append((values.flatten(), np.repeat(rows, lengths), level + 1))
            else:
                np.maximum.at(depth, rows[valid], limit + 1)
        depths.append(depth)
    return np.concatenate(depths) if depths else np.zeros(0, dtype=np.int64)


def without_deep_columns(parsed: pa.Table, errors: list[str | None], slow: np.ndarray | None = None) -> pa.Table:
    """``parsed`` with each column whose type nests deeper than :data:`MAX_DEPTH` as a column of nulls (its name
    kept: it may be the chat column the format is told by). Where ``slow`` is given, the records have raw bytes:
    each that holds a value there is read record by record (marked in ``slow``), as a line parsed alone is, so
    validation decides what it decides for that line (a deep value is quarantined, a turn's other keys are
    dropped), whatever rows shared its parse; one nested deeper than :data:`READ_ALONE_DEPTH` (too deep for
    Python to walk) gets the error in ``errors`` instead. Without raw bytes (``slow`` None) a value there
    cannot be read back: each record that holds one gets the error (it goes to quarantine)."""
    deep = [name for name in parsed.column_names if type_depth(parsed.schema.field(name).type) > MAX_DEPTH]
    if not deep:
        return parsed
    for name in deep:
        column = parsed.column(name)
        valid = np.asarray(column.is_valid(), dtype=bool)
        too = valid & (value_depths(column, READ_ALONE_DEPTH) > READ_ALONE_DEPTH) if slow is not None else valid
        for i in np.flatnonzero(too).tolist():
            errors[i] = errors[i] or too_deep(name)
        if slow is not None:
            slow |= valid & ~too
        index = parsed.column_names.index(name)
        parsed = parsed.set_column(index, pa.field(name, pa.null()), pa.nulls(parsed.num_rows))
    return parsed


def _without_deep_columns(parsed: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """:func:`without_deep_columns` of a raw batch's parsed columns; its records with raw bytes (a line, a JSON
    array's row) are the ones that can be read again record by record."""
    errors = columns[ERROR].to_pylist()
    with_raw = np.asarray(columns[RAW].is_valid(), dtype=bool)
    slow = np.asarray(columns[SLOW].fill_null(True), dtype=bool).copy()
    shallow = without_deep_columns(parsed, errors, slow if with_raw.all() else None)
    if shallow is not parsed:
        columns[ERROR] = pa.array(errors, type=pa.string())
        columns[SLOW] = pa.array(slow, type=pa.bool_())
    return shallow


def _names_need_repair(t: pa.DataType, name: str) -> bool:
    """Does ``name``, or a field name nested in ``t``, hold a control character or a lone surrogate?"""
    from curation.repair import repair_string

    if repair_string(name)[1]:
        return True
    if pa.types.is_struct(t):
        return any(_names_need_repair(t.field(i).type, t.field(i).name) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_map(t):
        value = t.item_type if pa.types.is_map(t) else t.value_type
        return _names_need_repair(value, "")
    return False


def _slow_where_names_need_repair(parsed: pa.Table, slow: pa.Array) -> pa.Array:
    """``slow``, also true for the records with a value under a column name (or a nested key) that needs repair:
    validation reads those record by record, where keys are repaired (kept apart when two repair to one name)
    and the repair is noted; Arrow's column of that name is then null on every row the columns carry on."""
    hazards = [name for name in parsed.column_names if _names_need_repair(parsed.schema.field(name).type, name)]
    if not hazards:
        return slow
    mask = np.asarray(slow.fill_null(True), dtype=bool).copy()
    for name in hazards:
        mask |= np.asarray(parsed.column(name).is_valid(), dtype=bool)
    return pa.array(mask, pa.bool_())


# The schema metadata key of a raw batch read from a typed table (Parquet, a datasets table, a streamed hub
# dataset): its columns are the input's own, each with its type, whether or not any row holds a value in it
# (validation carries a column of such a batch that only holds nulls). JSON is typed by its values: a key no
# row of a batch holds a value for is no column of the input.
TYPED_KEY = b"tomecraft.typed"


def as_typed(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` marked as read from a typed table (:data:`TYPED_KEY`)."""
    return batch.replace_schema_metadata({**(batch.schema.metadata or {}), TYPED_KEY: b"1"})


def is_typed(batch: pa.RecordBatch) -> bool:
    """Whether ``batch`` was read from a typed table (:func:`as_typed`)."""
    return (batch.schema.metadata or {}).get(TYPED_KEY) == b"1"


KEPT_APART = "input_"


def kept_apart(name: str, taken: Collection[str]) -> str:
    """An input column's name as tome keeps it beside its own columns: a name tome uses (one of ``taken``), or
    such a name already kept apart (``input_id``, ``input_input_id``), gets one more ``input_`` in front; any
    other name stays. The rule reads the name alone, so a column is named the same in every batch and file
    whatever columns sit beside it, and no two names meet: a name is moved when it, or what is left of it after
    ``input_`` prefixes are taken off one by one, is taken, so a name left as it is is never one moved name
    (``input_`` + a moved name is moved too). A taken name may itself start with ``input_`` (TRL's
    ``input_ids``: moved to ``input_input_ids``)."""
    base = name
    while True:
        if base in taken:
            return KEPT_APART + name
        if not base.startswith(KEPT_APART):
            return name
        base = base[len(KEPT_APART) :]


def kept_apart_internal(name: str) -> str:
    """:func:`kept_apart` for the names tome keeps to itself: every name that starts with ``_`` (the engines'
    columns; none is written out), so an input's own ``_meta`` or ``__index_level_0__`` is kept, as
    ``input__meta``, instead of being dropped with them."""
    base = name
    while base.startswith(KEPT_APART):
        base = base[len(KEPT_APART) :]
    return KEPT_APART + name if base.startswith("_") else name


def given_name(name: str) -> str:
    """The input's own name of a column :func:`kept_apart_internal` named ``name`` (``input__meta`` ->
    ``_meta``); any other name as it is."""
    if name.startswith(KEPT_APART):
        base = name[len(KEPT_APART) :]
        if kept_apart_internal(base) == name:
            return base
    return name


def rename_internal(table: pa.Table) -> pa.Table:
    """Input columns named like an internal column (``_id`` -> ``input__id``, ``_meta`` -> ``input__meta``) kept
    apart from them."""
    names = table.column_names
    renamed = [kept_apart_internal(n) for n in names]
    return table if renamed == names else table.rename_columns(renamed)


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
        ID: ids if isinstance(ids, pa.Array) else pa.array(ids, type=pa.string()),
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
        parsed = _without_deep_columns(parsed, columns)
        columns[SLOW] = _slow_where_names_need_repair(parsed, columns[SLOW])
        parsed = rename_internal(plain_layouts(parsed))
        for name in parsed.column_names:
            col = parsed.column(name)
            columns[name] = contiguous(col)
    return pa.RecordBatch.from_pydict(columns)
