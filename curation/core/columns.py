"""Arrow helpers the stages share: the turn types, turns as flat columns, text keys, unified concatenation.

A ``conversations`` column is ``list<struct<from: string, value: string>>``. Stages work on its turns as
flat columns (:func:`turns_of`): ``offsets`` (row ``i``'s turns are ``offsets[i]:offsets[i+1]``), ``roles`` and
``values``; :func:`conversations_from` builds the column back. Whitespace means what Python's ``str.isspace``
(and ``re``'s ``\\s``) means, everywhere: :data:`WHITESPACE`.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TURN = pa.struct([("from", pa.string()), ("value", pa.string())])
TURNS = pa.list_(TURN)

TextKey = Literal["conversation", "first_human", "all_human"]

# Python's whitespace (str.isspace / re's \s), as a string and as an RE2 character class
# str.isspace() is true for no code point above U+3000 (checked in tests/curation/core/test_columns.py); scanning
# only that far keeps 40 ms off every start-up.
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"


def contiguous(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A chunked column as one array starting at its buffers' start, as ``combine_chunks`` gives it: its only
    chunk as it is when that is not a slice (``combine_chunks`` copies every buffer even then: 0.1 s for 50 MB of
    turns), else its chunks concatenated (a slice is copied: Arrow refuses some of its offsets, a list's null mask
    beside sliced offsets among them). An array is given back as it is."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    if column.num_chunks == 1 and column.chunk(0).offset == 0:
        return column.chunk(0)
    return column.combine_chunks()


def turns_of(conv: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """``(offsets, roles, values)`` of a conversations column (offsets start at 0, length ``len(conv) + 1``)."""
    conv = contiguous(conv)
    offsets = np.asarray(conv.offsets, dtype=np.int64)
    offsets = offsets - offsets[0]
    flat = conv.flatten()
    return offsets, _plain(flat.field("from")), _plain(flat.field("value"))


def _plain(arr: pa.Array) -> pa.Array:
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def conversations_from(offsets: np.ndarray, roles: pa.Array, values: pa.Array, mask: np.ndarray | None = None) -> pa.Array:
    """The ``list<struct<from, value>>`` column of flat turns (``mask``: rows that are null)."""
    turns = pa.StructArray.from_arrays([roles, values], fields=list(TURN))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), turns, type=TURNS, mask=None if mask is None else pa.array(mask))


def parent_rows(offsets: np.ndarray) -> np.ndarray:
    """The row of every turn."""
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def any_per_row(offsets: np.ndarray, turn_mask: np.ndarray) -> np.ndarray:
    """Per row: does any of its turns have ``turn_mask`` set."""
    n = len(offsets) - 1
    hits = parent_rows(offsets)[np.asarray(turn_mask, dtype=bool)]
    out = np.zeros(n, dtype=bool)
    out[hits] = True
    return out


def sum_per_row(offsets: np.ndarray, turn_values: np.ndarray) -> np.ndarray:
    n = len(offsets) - 1
    return np.bincount(parent_rows(offsets), weights=turn_values, minlength=n).astype(np.int64)


def lengths(values: pa.Array) -> np.ndarray:
    """Characters (code points) per string."""
    return np.asarray(pc.utf8_length(values).fill_null(0), dtype=np.int64)


def conversation_chars(conv: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Characters of all turns per row (the keep policy's length); chunk by chunk (no copy of the column)."""
    if isinstance(conv, pa.ChunkedArray):
        return np.concatenate([np.zeros(0, dtype=np.int64), *(conversation_chars(c) for c in conv.chunks)])
    offsets, _, values = turns_of(conv)
    return sum_per_row(offsets, lengths(values))


def take_rows(column: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``column.take(rows)`` as one array, taking from each chunk of a chunked column in place (Arrow's own
    ``take`` of a chunked column joins every chunk into one array first: a copy of the whole column per call)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not isinstance(column, pa.ChunkedArray):
        return column.take(pa.array(rows))
    if column.num_chunks == 1:
        return column.chunk(0).take(pa.array(rows))
    bounds = np.cumsum([0, *(len(c) for c in column.chunks)])
    chunk_of = np.searchsorted(bounds, rows, side="right") - 1
    order = np.argsort(chunk_of, kind="stable")
    parts, start = [], 0
    for k, count in zip(*np.unique(chunk_of[order], return_counts=True)):
        picked = rows[order[start : start + count]] - bounds[k]
        parts.append(column.chunk(int(k)).take(pa.array(picked)))
        start += count
    taken = pa.concat_arrays(parts) if parts else pa.array([], column.type)
    back = np.empty(len(rows), dtype=np.int64)
    back[order] = np.arange(len(rows))
    return taken.take(pa.array(back))


class RowTexts:
    """The :func:`text_key` of rows of a conversations column, made only for the rows asked for
    (``take``): a verification pass then holds the text of one block of rows at a time, not of them all."""

    def __init__(self, conversations: pa.Array | pa.ChunkedArray, key: str) -> None:
        self.conversations = conversations
        self.key = key

    def take(self, rows) -> pa.Array:
        rows = rows.to_numpy(zero_copy_only=False) if isinstance(rows, (pa.Array, pa.ChunkedArray)) else rows
        return text_key(take_rows(self.conversations, rows), self.key)


def _join_rows(offsets: np.ndarray, parts: pa.Array, sep: str) -> pa.Array:
    lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), parts)
    return pc.binary_join(lists, sep)


def text_key(conv: pa.Array | pa.ChunkedArray, key: str) -> pa.Array:
    """The text a dedup stage compares: ``conversation`` (every turn as ``role: text``, one per line),
    ``first_human`` (the first human turn, else empty) or ``all_human`` (human turns, one per line)."""
    offsets, roles, values = turns_of(conv)
    if key == "conversation":
        tagged = pc.binary_join_element_wise(roles, values, ": ")
        return _join_rows(offsets, tagged, "\n")
    human = np.asarray(pc.equal(roles, "human").fill_null(False), dtype=bool)
    if key == "all_human":
        rows = parent_rows(offsets)[human]
        counts = np.bincount(rows, minlength=len(offsets) - 1)
        new_offsets = np.concatenate(([0], np.cumsum(counts)))
        return _join_rows(new_offsets, values.filter(pa.array(human)), "\n")
    if key == "first_human":
        rows = parent_rows(offsets)
        idx = np.flatnonzero(human)
        first_rows, first_at = np.unique(rows[idx], return_index=True)
        take = np.full(len(offsets) - 1, -1, dtype=np.int64)
        take[first_rows] = idx[first_at]
        missing = take < 0
        picked = values.take(pa.array(np.where(missing, 0, take), mask=missing, type=pa.int64()))
        return picked.fill_null("")
    raise ValueError(f"unknown text_key {key!r} (conversation, first_human or all_human)")


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(utf8 bytes, offsets int64 of length n + 1)`` of a string array, without copying the bytes."""
    arr = contiguous(arr)
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    if arr.null_count:
        arr = arr.fill_null("")
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int32, count=len(arr) + 1 + arr.offset)[arr.offset :].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


def _whole_numbers_as_ints(value: Any) -> Any:
    """``value`` with each float that is a whole number a double holds exactly (up to 2**53) as an int, at any
    depth: JSON has one number type, and whether ``3`` reached here as an int or a float depends on the other
    values its batch held (Arrow types a block of ``3`` and ``1.5`` as doubles, a record read alone keeps ``3``)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= 2**53 else value
    if isinstance(value, list):
        return [_whole_numbers_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers_as_ints(v) for k, v in value.items()}
    return value


def json_text(values: Sequence[Any]) -> pa.Array:
    """Values that share no Arrow type, kept as JSON text (null stays null; what JSON has no type for, a date or a
    decimal, as its text; a whole number as an integer, whichever type its batch gave it)."""
    return pa.array([None if v is None else json.dumps(_whole_numbers_as_ints(v), sort_keys=True, ensure_ascii=False,
                                                       default=str) for v in values], type=pa.string())


def infer_column(values: Sequence[Any]) -> pa.Array:
    """``pa.array`` of Python values, or :func:`json_text` when they share no type."""
    array = typed_array(values)
    return json_text(values) if array is None else array


def typed_array(values: Sequence[Any]) -> pa.Array | None:
    """``pa.array`` of Python values, or None when they share no Arrow type. Arrow refuses a bool beside a number
    at the top level, but in a struct or a list it takes the bool as the number (``[{"n": true}, {"n": 0.5}]``
    -> ``struct<n: double>``, true read back as 1.0): there too they share no type."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None
    if array.type.num_fields and any(_bool_at(values, path) for path in _number_paths(array.type)):
        return None
    return array


def _bool_at(values: Sequence[Any], path: tuple[str | None, ...]) -> bool:
    """Does a bool sit at ``path`` (:func:`_number_paths`) in any of ``values``? Only the values on that path are
    looked at (a row's long turns are passed by on the way to its ``score``)."""
    level = list(values)
    for name in path:
        if name is None:  # a list's items
            level = [item for v in level if isinstance(v, (list, tuple)) for item in v]
            continue
        key = name.encode("utf-8", "surrogatepass")  # (Arrow takes a bytes key as the field it spells)
        level = [v[k] for v in level if isinstance(v, dict) for k in (name, key) if k in v]
    return any(isinstance(v, bool) for v in level)


def _number_paths(t: pa.DataType) -> list[tuple[str | None, ...]]:
    """Where a number sits in ``t``: the struct field names to it (a list's items ``None``), walked without
    recursion. Inferring a type, Arrow takes a bool beside a float in a struct or a list as that float, and refuses
    it beside anything else; so a bool that Arrow did not type as one sits on one of these paths."""
    out: list[tuple[str | None, ...]] = []
    todo: list[tuple[pa.DataType, tuple[str | None, ...]]] = [(t, ())]
    while todo:
        t, path = todo.pop()
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            out.append(path)
        elif pa.types.is_struct(t):
            todo.extend((t.field(i).type, (*path, t.field(i).name)) for i in range(t.num_fields))
        elif pa.types.is_dictionary(t):
            todo.append((t.value_type, path))
        elif pa.types.is_nested(t) and hasattr(t, "value_type") and not pa.types.is_map(t):  # the lists
            todo.append((t.value_type, (*path, None)))
    return out


def unify_types(types: Sequence[pa.DataType]) -> pa.DataType | None:
    """The one type a column can take over ``types`` (nulls and int/float widening, struct fields merged), or
    None when there is none (the column is then written as JSON text)."""
    types = [t for t in dict.fromkeys(types) if not pa.types.is_null(t)]
    if not types:
        return pa.null()
    if len(types) == 1:
        return types[0]
    try:
        schema = pa.unify_schemas([pa.schema([("c", t)]) for t in types], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    unified = schema.field("c").type
    if any(pa.types.is_boolean(t) for t in types) and not pa.types.is_boolean(unified):
        return None  # Python's bool is no number here
    return unified


JSON_TEXT = {b"tomecraft.encoding": b"json"}  # field metadata of a column already turned into JSON text
# field metadata of an integer column (at any depth) holding a value a double cannot hold exactly (past 2**53):
# beside a column of another type it is not widened to a float, which would round the value, but becomes JSON text
WIDE_INT = {b"tomecraft.wide_int": b"1"}
_EXACT_IN_DOUBLE = 2**53


def is_wide_int_field(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(b"tomecraft.wide_int") == b"1"


def _holds_wide_int(column: pa.Array | pa.ChunkedArray) -> bool:
    """Whether an integer anywhere in ``column`` lies past +-2**53 (walked without recursion)."""
    todo: list[Any] = [column]
    while todo:
        a = todo.pop()
        if isinstance(a, pa.ChunkedArray):
            todo.extend(a.chunks)
            continue
        t = a.type
        if pa.types.is_integer(t):
            if t.bit_width == 64 and len(a) and a.null_count < len(a):
                low, high = pc.min_max(a).values()
                if high.as_py() > _EXACT_IN_DOUBLE or low.as_py() < -_EXACT_IN_DOUBLE:
                    return True
        elif pa.types.is_struct(t):
            todo.extend(a.flatten())  # (children with the struct's nulls applied)
        elif pa.types.is_map(t):
            todo.extend((a.keys, a.items))
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            todo.append(a.flatten())
        elif pa.types.is_dictionary(t):
            todo.append(a.dictionary)
    return False


def type_holds(t: pa.DataType, test: Callable[[pa.DataType], bool]) -> bool:
    """Whether a type ``test`` says True for sits anywhere in ``t``, ``t`` itself included (walked without
    recursion: a type parsed from thousands of nested arrays is as deep)."""
    todo = [t]
    while todo:
        t = todo.pop()
        if test(t):
            return True
        todo.extend(t.field(i).type for i in range(t.num_fields))
        if pa.types.is_dictionary(t):
            todo.append(t.value_type)
    return False


def _is_int64(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) and t.bit_width == 64


def mark_wide_ints(table: pa.Table) -> pa.Table:
    """``table`` with :data:`WIDE_INT` on each column holding an integer past +-2**53 (its data untouched;
    internal columns, ``_pos`` and the like, are never written out and not looked at)."""
    wide = [i for i, f in enumerate(table.schema) if not f.name.startswith("_") and not is_json_field(f)
            and type_holds(f.type, _is_int64) and _holds_wide_int(table.column(i))]
    if not wide:
        return table
    schema = table.schema
    for i in wide:
        schema = schema.set(i, schema.field(i).with_metadata({**(schema.field(i).metadata or {}), **WIDE_INT}))
    return pa.Table.from_arrays(table.columns, schema=schema)


def nested_types(t: pa.DataType) -> Iterator[pa.DataType]:
    """``t`` and every type inside it: struct and union fields, map keys and items, list and dictionary values."""
    todo = [t]
    while todo:
        t = todo.pop()
        yield t
        if pa.types.is_struct(t) or pa.types.is_union(t):
            todo.extend(t.field(i).type for i in range(t.num_fields))
        elif pa.types.is_map(t):
            todo.extend((t.key_type, t.item_type))
        elif pa.types.is_dictionary(t):
            todo.append(t.value_type)
        elif hasattr(t, "value_type"):  # list, large_list, fixed_size_list, list_view, ...
            todo.append(t.value_type)


def parquet_writable(t: pa.DataType) -> bool:
    """Can a Parquet file hold ``t``? Not a struct with no fields (``{}`` in every row), at any depth."""
    return not any(pa.types.is_struct(x) and x.num_fields == 0 for x in nested_types(t))


def is_json_field(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(b"tomecraft.encoding") == b"json"


def conform(column: pa.Array | pa.ChunkedArray, target: pa.DataType | None, is_json: bool = False) -> pa.Array:
    """``column`` as ``target`` (None: JSON text; ``is_json``: it is JSON text already)."""
    column = contiguous(column)
    if target is None:
        return column if is_json else json_text(column.to_pylist())
    if column.type == target:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    try:
        return pa.array(column.to_pylist(), type=target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        if not pa.types.is_string(target):
            raise
        # a column written as text because batches disagree on its type (a list here, a string there)
        return json_text(column.to_pylist())


def unified_schema(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The schema :func:`concat_unified` gives tables of these schemas (columns in first-seen order)."""
    seen: dict[str, list[pa.Field]] = {}
    for schema in schemas:
        for f in schema:
            seen.setdefault(f.name, []).append(f)
    fields = []
    for name, fs in seen.items():
        target = None if any(is_json_field(f) for f in fs) else unify_types([f.type for f in fs])
        wide = any(is_wide_int_field(f) for f in fs)
        if wide and target is not None and len({f.type for f in fs if not pa.types.is_null(f.type)}) > 1:
            target = None  # widened, a value past 2**53 would be rounded (or the cast fail): JSON text keeps it
        if target is None:
            fields.append(pa.field(name, pa.string(), metadata=JSON_TEXT))
        else:
            fields.append(pa.field(name, target, metadata=WIDE_INT if wide else None))
    return pa.schema(fields)


def conform_table(table: pa.Table | pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null) and types."""
    cols = []
    names = set(table.schema.names)  # (the schema's list of names is built anew on each call)
    for f in schema:
        json_target = is_json_field(f)
        if f.name in names:
            src = table.schema.field(f.name)
            cols.append(conform(table.column(f.name), None if json_target else f.type, is_json_field(src)))
        else:
            cols.append(pa.nulls(table.num_rows, type=f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def concat_unified(tables: Sequence[pa.Table]) -> pa.Table:
    """Tables with possibly different columns and types as one (missing columns null, types unified, columns
    without a common type as JSON text), columns in first-seen order."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=True) for t in tables[1:]):  # a JSON text mark is no type
        return pa.concat_tables(tables)
    schema = unified_schema([t.schema for t in tables])
    return pa.concat_tables([conform_table(t, schema) for t in tables])
