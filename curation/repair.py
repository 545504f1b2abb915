"""Hostile text: repair what can be repaired (and say so in the row), name what cannot.

Scraped chat data holds things that break readers: JSON escapes of lone UTF-16 surrogates (``"\\ud800"``:
Python's ``json`` accepts them, Arrow and UTF-8 cannot hold them), NUL and other control characters, a
byte-order mark in front of a line, ``NaN`` / ``Infinity`` where a number should be, numbers spelt as text,
invalid UTF-8. Each function here either returns the value repaired plus the kinds of repair it made, or an
error string for the quarantine; none raises on any input.

Repairs, recorded per row as ``{kind: [column, ...]}`` (JSON text in the row's ``repairs`` column):

``lone_surrogate``    a lone surrogate code point became U+FFFD
``control_chars``     C0 control characters other than tab, LF and CR, and DEL, were removed; the ones that
                      separate words (VT, form feed, the file/group/record/unit separators \x1c-\x1f, all
                      whitespace to Python's ``str.split``) became a space, so the words either side stay apart
``bom``               a byte-order mark in front of a line (after the first) was dropped (by validation)
``not_finite``        a NaN or infinite number became null
``number_from_text``  ``score`` given as text (``"4.5"``) became the number
``number_from_decimal`` ``score`` given as a decimal (a Parquet decimal column) became the number
``turns_from_json_text`` ``conversations`` / ``messages`` given as JSON text (a string column) became the turns
``number_as_text``    an Alpaca or prompt/completion text column holding a number (``"output": 42``), or a number
                      as ``source`` (a dataset's numeric source ids), became its text
``turn_keys_dropped`` a turn held a value under a key other than its role and text (ShareGPT's ``weight``, a
                      ``name``): the turns hold those two only, so the rest was dropped (by validation)
``read_in_own_format`` the columns an input's ``columns:`` mapping names are null in this row, which holds
                      another format's (``conversations`` beside a mapped Alpaca ``q``/``ans``): it was read in
                      that format (listed), not through the mapping (by validation)

:func:`repair_record` serves validation's record-by-record path, for the few records the columnar reader
cannot take; :func:`repair_table` does the same checks vectorized on Arrow tables that parsed fine (an escaped
``\\u0000`` parses, a NaN score parses).
"""

from __future__ import annotations

import decimal
import json
import math
import re
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous

# C0 controls except tab, LF, CR; and DEL. (C1 controls and noncharacters are left alone: they are valid text.)
CONTROL_CLASS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
# those of them that separate words (VT, FF, and the separators FS/GS/RS/US): a space takes their place
SPACING_CONTROL_CLASS = "\\x0b\\x0c\\x1c-\\x1f"
_CONTROL = re.compile(f"[{CONTROL_CLASS}]")
_SPACING_CONTROL = re.compile(f"[{SPACING_CONTROL_CLASS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HAZARD = re.compile(f"[{CONTROL_CLASS}\ud800-\udfff]")
REPLACEMENT = "\ufffd"
TURN_KEYS_DROPPED = "turn_keys_dropped"

Repairs = dict[str, list[str]]


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate (a JSON ``"\\ud800"`` escape with no pair) as U+FFFD."""
    return _SURROGATE.sub(REPLACEMENT, text)


def repair_string(text: str) -> tuple[str, list[str]]:
    """``text`` with lone surrogates replaced and control characters removed (a space for those that separate
    words), and the kinds of repair made."""
    if not _HAZARD.search(text):
        return text, []
    kinds = []
    if _SURROGATE.search(text):
        text = without_lone_surrogates(text)
        kinds.append("lone_surrogate")
    if _CONTROL.search(text):
        text = _CONTROL.sub("", _SPACING_CONTROL.sub(" ", text))
        kinds.append("control_chars")
    return text, kinds


def _note(repairs: Repairs, kind: str, column: str) -> None:
    columns = repairs.setdefault(kind, [])
    if column not in columns:
        columns.append(column)


def repair_value(value: Any, column: str, repairs: Repairs) -> Any:
    """``value`` (parsed JSON) with every string and key repaired and non-finite floats nulled, noted under ``column``."""
    if isinstance(value, str):
        fixed, kinds = repair_string(value)
        for kind in kinds:
            _note(repairs, kind, column)
        return fixed
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        _note(repairs, "not_finite", column)
        return None
    if isinstance(value, list):
        return [repair_value(v, column, repairs) for v in value]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = repair_value(k, column, repairs)
            out[key if key == k else _unique(key, value, out)] = repair_value(v, column, repairs)
        return out
    return value


def repair_record(record: dict[str, Any]) -> tuple[dict[str, Any], Repairs]:
    """A parsed row with every value repaired, and the repairs by kind, each naming the top-level columns."""
    repairs: Repairs = {}
    out = {}
    for key, value in record.items():
        name = key
        if isinstance(key, str):  # a column's own name may need repair: note it under the repaired name
            name, kinds = repair_string(key)
            if kinds:
                name = _unique(name, record, out)
            for kind in kinds:
                _note(repairs, kind, name)
        out[name] = repair_value(value, name, repairs)
    return out, repairs


def _unique(name: str, record: dict[str, Any], out: dict[str, Any]) -> str:
    """A repaired key that no other key of the record (as given, or as repaired so far) has: ``name``, else
    ``name_2``, ``name_3``, ... (two keys repaired to one name, or onto a key as given, keep both values)."""
    if name not in record and name not in out:
        return name
    k = 2
    while f"{name}_{k}" in record or f"{name}_{k}" in out:
        k += 1
    return f"{name}_{k}"


def coerce_score(value: Any) -> tuple[float | None, str | None, str | None]:
    """``score`` as a float: ``(number, repair kind or None, None)``, or ``(None, None, error)``."""
    if value is None:
        return None, None, None
    if isinstance(value, bool):
        return None, None, "'score' is bool, expected a number"
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer past a float's range (10**400): as its JSON read column-wise, infinite
            return None, "not_finite", None
        return (number, None, None) if math.isfinite(number) else (None, "not_finite", None)
    if isinstance(value, decimal.Decimal):  # a Parquet decimal column
        number = float(value)
        return (number, "number_from_decimal", None) if math.isfinite(number) else (None, "not_finite", None)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None, None, f"'score' is str ({value[:40]!r}), expected a number"
        return (number, "number_from_text", None) if math.isfinite(number) else (None, "not_finite", None)
    return None, None, f"'score' is {type(value).__name__}, expected a number"


def turns_from_text(value: Any) -> list | None:
    """``conversations`` / ``messages`` given as JSON text (tables exported through CSV or pandas hold them so):
    the list of turns it spells, or None when it is not JSON text of a list."""
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return None
    try:
        turns = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return None
    return turns if isinstance(turns, list) else None


def merge_repairs(*parts: Repairs | None) -> Repairs:
    out: Repairs = {}
    for part in parts:
        for kind, columns in (part or {}).items():
            for column in columns:
                _note(out, kind, column)
    return out


def repairs_json(repairs: Repairs | None) -> str | None:
    """The ``repairs`` cell: sorted JSON, or null when nothing was repaired."""
    if not repairs:
        return None
    return json.dumps({k: sorted(v) for k, v in sorted(repairs.items())}, sort_keys=True, ensure_ascii=False)


# --- vectorized, on tables that parsed ---------------------------------------------------------------------------

_CONTROL_RE2 = f"[{CONTROL_CLASS}]"
_SPACING_CONTROL_RE2 = f"[{SPACING_CONTROL_CLASS}]"


def _without_controls(strings: pa.Array) -> pa.Array:
    """``strings`` as :func:`repair_string` leaves them: a space for each control that separates words, the
    other controls removed."""
    return pc.replace_substring_regex(pc.replace_substring_regex(strings, _SPACING_CONTROL_RE2, " "), _CONTROL_RE2, "")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _string_leaves(array: pa.Array, path: str, is_leaf=_is_text):
    """(path, string array, row index of each element) for every string leaf of a (nested) column (every leaf
    ``is_leaf`` says True for)."""
    t = array.type
    if is_leaf(t):
        yield path, array, None
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            yield from _string_leaves(array.field(i), path, is_leaf)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
        rows = np.repeat(np.arange(len(array)), lengths)
        for leaf_path, leaf, leaf_rows in _string_leaves(array.flatten(), path, is_leaf):
            yield leaf_path, leaf, rows if leaf_rows is None else rows[leaf_rows]


def _may_hold_control(leaf: pa.Array) -> bool:
    """False when no byte of the leaf's text is a character of ``CONTROL_CLASS`` (a byte below 0x20 other than
    tab, LF and CR, or 0x7f). ASCII bytes never occur inside a multi-byte UTF-8 sequence, so looking at the
    bytes tells; it is one pass of NumPy over the text buffer, a few times quicker than the regex per value,
    which then runs only for a leaf this says True for. The text is looked at a quarter megabyte at a time: the
    masks then stay in the processor's cache (about 3x quicker than over the whole buffer at once)."""
    _, offsets, data = leaf.buffers()[:3]
    if data is None or len(leaf) == 0:
        return False
    width = np.int64 if pa.types.is_large_string(leaf.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[[leaf.offset, leaf.offset + len(leaf)]]
    text = np.frombuffer(data, dtype=np.uint8)[int(bounds[0]) : int(bounds[1])]
    for at in range(0, len(text), _SCAN_BYTES):
        part = text[at : at + _SCAN_BYTES]
        low = part[part < 0x20]
        if ((low != 9) & (low != 10) & (low != 13)).any() or (part == 0x7F).any():
            return True
    return False


_SCAN_BYTES = 1 << 18


def _not_finite(floats: pa.Array) -> pa.Array:
    return pc.fill_null(pc.invert(pc.is_finite(floats)), False)


def _rebuild(array: pa.Array, fix, is_leaf=_is_text) -> pa.Array:
    """``array`` with every string leaf (every leaf ``is_leaf`` says True for) passed through ``fix``."""
    t = array.type
    if is_leaf(t):
        return fix(array)
    if pa.types.is_struct(t):
        children = [_rebuild(array.field(i), fix, is_leaf) for i in range(t.num_fields)]
        return pa.StructArray.from_arrays(children, fields=list(t), mask=pc.invert(array.is_valid()) if array.null_count else None)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = array.offsets
        start = offsets[0].as_py()
        offsets = pc.subtract(offsets, start) if start else offsets
        values = _rebuild(array.flatten(), fix, is_leaf)
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        return cls.from_arrays(offsets, values, mask=pc.invert(array.is_valid()) if array.null_count else None)
    return array


def repair_table(table: pa.Table, repairs: pa.Array | None = None,
                 given: Mapping[str, str] | None = None) -> tuple[pa.Table, pa.Array]:
    """Control characters removed from every string (nested ones too; as :func:`repair_string` does) and
    non-finite floats nulled, vectorized.

    Returns the repaired table and the per-row ``repairs`` JSON column (merged with ``repairs`` given, e.g.
    from the slow path; null where nothing was repaired). A repair is named by the column's name in ``given``
    where it has one there (the input's own name of a column kept apart, ``id`` for ``input_id``: as the record
    path names it).
    """
    given = given or {}
    n = table.num_rows
    hits: dict[int, Repairs] = {}
    columns = []
    for name in table.column_names:
        col = table.column(name)
        col = contiguous(col)
        bad_rows = np.zeros(n, bool)
        for _, leaf, rows in _string_leaves(col, name):
            if not _may_hold_control(leaf):
                continue
            mask = pc.fill_null(pc.match_substring_regex(leaf, _CONTROL_RE2), False).to_numpy(zero_copy_only=False)
            if mask.any():
                bad_rows[mask.nonzero()[0] if rows is None else rows[mask]] = True
        if bad_rows.any():
            col = _rebuild(col, _without_controls)
            # the turns as given hold the text the turns hold: one repair of it, named as the record path names it
            named = "conversations" if name == "original_conversations" else given.get(name, name)
            for i in bad_rows.nonzero()[0]:
                _note(hits.setdefault(int(i), {}), "control_chars", named)
        # NaN and infinities nulled, in a struct or a list too (a record's are, at any depth: {"n": NaN} was kept
        # column-wise, and written as JSON text that is no JSON beside rows of another type)
        bad_rows = np.zeros(n, bool)
        for _, leaf, rows in _string_leaves(col, name, pa.types.is_floating):
            mask = _not_finite(leaf).to_numpy(zero_copy_only=False)
            if mask.any():
                bad_rows[mask.nonzero()[0] if rows is None else rows[mask]] = True
        if bad_rows.any():
            col = _rebuild(col, lambda leaf: pc.if_else(_not_finite(leaf), pa.scalar(None, leaf.type), leaf),
                           pa.types.is_floating)
            for i in bad_rows.nonzero()[0]:
                _note(hits.setdefault(int(i), {}), "not_finite", given.get(name, name))
        columns.append(col)
    out = pa.table(columns, names=table.column_names)
    if not hits and repairs is not None:
        return out, repairs
    merged = repairs.to_pylist() if repairs is not None else [None] * n
    for i, found in hits.items():
        merged[i] = repairs_json(merge_repairs(json.loads(merged[i]) if merged[i] else None, found))
    return out, pa.array(merged, pa.string())


