"""Chat formats in: any common shape of chat data becomes FineTome's ``conversations`` column, vectorized.

Formats, detected from an input's columns (first match wins) or named per input:

``conversations``       FineTome / ShareGPT: ``conversations: [{from, value}]`` (``{role, content}`` turns too)
``messages``            OpenAI / TRL: ``messages: [{role, content}]`` (content a string or a list of text parts)
``alpaca``              ``instruction``, optional ``input``, ``output``, optional ``system``
``prompt_completion``   ``prompt`` and ``completion``, each a string or a list of messages (TRL's two shapes)

Anything else is read through a column mapping, ``{canonical name: input column}``, applied before detection:
``{"instruction": "question", "output": "answer"}`` reads a question/answer file as Alpaca, ``{"messages":
"dialog", "role": "speaker", "content": "text"}`` a list of ``{speaker, text}`` turns as OpenAI messages.

:func:`to_conversations` turns an Arrow table into a table whose ``conversations`` column is
``list<struct<from: string, value: string>>`` with FineTome's role names (``user`` -> ``human``,
``assistant`` -> ``gpt``; unknown roles stay as given for validation to reject), the columns the format
consumed dropped and every other column carried through. Rows that cannot be converted get a one-line error
naming the column in :attr:`Adapted.error` (null = converted); an input that cannot be read in any format
raises :class:`FormatError`, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TURN = pa.struct([("from", pa.string()), ("value", pa.string())])
TURNS = pa.list_(TURN)
FORMATS = ("conversations", "messages", "alpaca", "prompt_completion")
# the role names chat datasets use, as FineTome's: OpenAI's "developer" is its newer name for the system prompt;
# Gemini answers as "model", OpenAssistant asks as "prompter", ShareGPT scrapes answer as "chatgpt", "bard", "bing"
ROLE_MAP = {"human": "human", "user": "human", "prompter": "human",
            "gpt": "gpt", "assistant": "gpt", "model": "gpt", "chatgpt": "gpt", "bard": "gpt", "bing": "gpt",
            "bot": "gpt", "ai": "gpt",
            "system": "system", "developer": "system"}
# canonical column names a mapping may point at, and the turn keys it may rename
TABLE_KEYS = ("conversations", "messages", "instruction", "input", "output", "system", "prompt", "completion",
              "id", "source", "score")
TURN_KEYS = ("from", "value", "role", "content")
_TURN_FIELDS = (("from", "value"), ("role", "content"))


class FormatError(ValueError):
    """An input that no chat format fits; the message is one line naming the file and the columns."""


@dataclass
class Adapted:
    table: pa.Table  # ``conversations`` first, then every column the format did not consume
    error: pa.Array  # string per row: why it could not be converted; null = converted
    format: str
    original: pa.Array | None = None  # the turns as given where role names changed (TURNS), else null per row

    @property
    def ok(self) -> pa.Array:
        return pc.is_null(self.error)


def detect_format(columns: Sequence[str]) -> str | None:
    """The chat format that the column names ``columns`` show, or None."""
    names = set(columns)
    if "conversations" in names:
        return "conversations"
    if "messages" in names:
        return "messages"
    if {"instruction", "output"} <= names:
        return "alpaca"
    if {"prompt", "completion"} <= names:
        return "prompt_completion"
    return None


# single-turn datasets that name Alpaca's parts otherwise: Dolly (instruction, context, response), GSM8K
# (question, answer), MetaMathQA (query, response), OpenOrca (system_prompt, question, response)
ALPACA_ALIASES = {"instruction": ("instruction", "question", "query", "prompt"), "input": ("input", "context"),
                  "output": ("output", "response", "answer"), "system": ("system", "system_prompt")}


def alpaca_aliases(columns: Sequence[str]) -> dict[str, str] | None:
    """The Alpaca column mapping of a table whose columns name a question and its answer otherwise (each part
    by exactly one of :data:`ALPACA_ALIASES`), or None (no question and answer, or a part named twice)."""
    names = set(columns)
    mapping = {}
    for part, aliases in ALPACA_ALIASES.items():
        found = [a for a in aliases if a in names]
        if len(found) > 1:
            return None
        if found:
            mapping[part] = found[0]
    if "instruction" not in mapping or "output" not in mapping:
        return None
    return {part: given for part, given in mapping.items() if part != given}


def apply_mapping(table: pa.Table, columns: Mapping[str, str] | None, where: str = "input") -> tuple[pa.Table, dict[str, str]]:
    """Rename the input columns named in ``columns`` ({canonical: input column}) to their canonical names.

    Returns the renamed table and the turn-key renames (``from``/``value``/``role``/``content``) to apply
    inside the turns.
    """
    if not columns:
        return table, {}
    turn_keys: dict[str, str] = {}
    renames: dict[str, str] = {}
    for canonical, given in columns.items():
        if canonical in TURN_KEYS:
            turn_keys[canonical] = given
        elif canonical in TABLE_KEYS:
            if given not in table.column_names:
                raise FormatError(f"{where}: columns maps {canonical!r} to {given!r}, but there is no column {given!r} "
                                  f"(columns: {', '.join(table.column_names)})")
            renames[given] = canonical
        else:
            raise FormatError(f"{where}: columns names {canonical!r}; expected one of {', '.join(TABLE_KEYS + TURN_KEYS)}")
    names = [renames.get(n, n if n not in renames.values() else f"{n}__input") for n in table.column_names]
    return table.rename_columns(names), turn_keys


NEEDED_COLUMNS = {"conversations": ("conversations",), "messages": ("messages",), "alpaca": ("instruction", "output"),
                  "prompt_completion": ("prompt", "completion")}


def check_format_columns(columns: Sequence[str], fmt: str, where: str = "input") -> None:
    """:class:`FormatError` when ``fmt`` is no format, or when ``columns`` (an input's column names, mapped) lack
    one it needs: a format given for an input that does not have its columns is one error, not every row
    quarantined."""
    if fmt not in FORMATS:
        raise FormatError(f"{where}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    missing = [c for c in NEEDED_COLUMNS[fmt] if c not in columns]
    if missing:
        raise FormatError(f"{where}: format {fmt} needs column(s) {', '.join(missing)}; the input has "
                          f"{', '.join(columns) or 'none'} (map them with columns)")


def to_conversations(table: pa.Table, format: str | None = None, columns: Mapping[str, str] | None = None,
                     where: str = "input") -> Adapted:
    """Convert ``table`` (any supported chat format) to FineTome's ``conversations`` column.

    ``format`` forces a format (default: detected from the columns); ``columns`` maps canonical names to the
    input's own (see the module docstring); ``where`` names the input in error messages.
    """
    table, turn_keys = apply_mapping(table, columns, where)
    fmt = format or detect_format(table.column_names)
    if fmt is None:
        raise FormatError(
            f"{where}: cannot tell the chat format from its columns ({', '.join(table.column_names) or 'none'}); "
            "expected conversations, messages, instruction+output or prompt+completion (set this input's format "
            "and columns)")
    check_format_columns(table.column_names, fmt, where)
    n = table.num_rows
    if fmt in ("conversations", "messages"):
        turns, error, original = _turn_list(_column(table, fmt), fmt, turn_keys, where)
        consumed = [fmt]
    elif fmt == "alpaca":
        turns, error, original, consumed = _alpaca(table, where)
    else:
        turns, error, original, consumed = _prompt_completion(table, turn_keys, where)
    rest = [c for c in table.column_names if c not in consumed]
    out = pa.table([turns] + [table.column(c) for c in rest], names=["conversations"] + rest)
    assert out.num_rows == n
    return Adapted(out, error, fmt, original)


# --- building blocks -------------------------------------------------------------------------------------------

def _column(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _null_strings(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _first_error(*errors: pa.Array) -> pa.Array:
    return pc.coalesce(*errors) if len(errors) > 1 else errors[0]


def _error_where(mask: pa.Array, message: str) -> pa.Array:
    """``message`` where ``mask`` is true, null elsewhere (a null mask counts as false)."""
    return pc.if_else(pc.fill_null(mask, False), pa.scalar(message), pa.scalar(None, pa.string()))


def map_roles(roles: pa.Array) -> pa.Array:
    """FineTome role names for known spellings (case and spaces ignored); unknown roles stay as given."""
    key = pc.utf8_lower(pc.utf8_trim_whitespace(roles))
    idx = pc.index_in(key, value_set=pa.array(list(ROLE_MAP)))
    return pc.coalesce(pc.take(pa.array(list(ROLE_MAP.values())), idx), roles)


def _text_of(content: pa.Array, where: str, column: str) -> pa.Array:
    """Turn text as a string array: strings as they are, lists of text parts joined with a blank line."""
    t = content.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return content.cast(pa.string())
    if pa.types.is_null(t):
        return content.cast(pa.string())
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type) \
            and t.value_type.get_field_index("text") >= 0:
        parts = content.flatten()
        texts = parts.field("text").cast(pa.string())
        keep = pc.is_valid(texts)
        lengths = _lengths(content)
        row_of = np.repeat(np.arange(len(content)), lengths)
        kept = pc.filter(texts, keep)
        counts = np.bincount(row_of[keep.to_numpy(zero_copy_only=False)], minlength=len(content))
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, kept), "\n\n")
        return pc.if_else(pc.is_null(content), pa.scalar(None, pa.string()), joined)
    raise FormatError(f"{where}: column '{column}': turn text is {t}, expected a string or a list of text parts")


def _turn_list(col: pa.Array, name: str, turn_keys: Mapping[str, str], where: str):
    """A list-of-turns column (any field names) as TURNS with mapped roles, row errors, and the originals."""
    n = len(col)
    if pa.types.is_null(col.type):
        return pa.nulls(n, TURNS), _error_where(pa.array(np.ones(n, bool)), f"column '{name}' is null"), None
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)) or not pa.types.is_struct(col.type.value_type):
        raise FormatError(f"{where}: column '{name}' is {col.type}, expected a list of turns (objects)")
    fields = [f.name for f in col.type.value_type]
    role_key = value_key = None
    if "from" in turn_keys or "value" in turn_keys or "role" in turn_keys or "content" in turn_keys:
        role_key = turn_keys.get("from") or turn_keys.get("role")
        value_key = turn_keys.get("value") or turn_keys.get("content")
    for r, v in _TURN_FIELDS:
        role_key = role_key or (r if r in fields else None)
        value_key = value_key or (v if v in fields else None)
    missing = [k for k in (role_key, value_key) if k is None or k not in fields]
    if role_key is None or value_key is None or missing:
        raise FormatError(f"{where}: column '{name}': turns have fields ({', '.join(fields)}); expected from/value "
                          "or role/content (map them with columns: from/value)")
    flat = col.flatten()  # the turns of valid rows, in order
    roles_in = flat.field(role_key)
    if not (pa.types.is_string(roles_in.type) or pa.types.is_large_string(roles_in.type) or pa.types.is_null(roles_in.type)):
        raise FormatError(f"{where}: column '{name}': turn field '{role_key}' is {roles_in.type}, expected a string")
    roles_in = roles_in.cast(pa.string())
    values = _text_of(flat.field(value_key), where, name)
    roles = map_roles(roles_in)
    turns = pa.StructArray.from_arrays([roles, values], fields=list(TURN), mask=pc.invert(flat.is_valid()))
    offsets = col.offsets
    if pa.types.is_large_list(col.type):
        offsets = offsets.cast(pa.int32())
    # rebase offsets (a sliced column's offsets need not start at 0; flatten() already dropped the rest)
    start = offsets[0].as_py()
    offsets = pc.subtract(offsets, start) if start else offsets
    out = pa.ListArray.from_arrays(offsets, turns, mask=pc.invert(col.is_valid()) if col.null_count else None)
    error = _error_where(pc.is_null(col), f"column '{name}' is null")
    # keep the turns as given wherever a role name changed or the input was not FineTome's exact shape
    changed = pc.fill_null(pc.not_equal(roles, roles_in), False)
    for other in fields:  # a turn with more keys than its role and text is not FineTome's exact shape
        if other not in (role_key, value_key):
            changed = pc.or_(changed, flat.field(other).is_valid())
    changed_rows = _any_per_row(changed, offsets, n)
    if name != "conversations" or (role_key, value_key) != ("from", "value"):
        changed_rows = np.ones(n, bool)
    original_turns = pa.StructArray.from_arrays([roles_in, values], fields=list(TURN), mask=pc.invert(flat.is_valid()))
    original = pa.ListArray.from_arrays(offsets, original_turns,
                                        mask=pa.array(~changed_rows | ~col.is_valid().to_numpy(zero_copy_only=False)))
    return out, error, original


def _any_per_row(flags: pa.Array, offsets: pa.Array, n: int) -> np.ndarray:
    f = flags.to_numpy(zero_copy_only=False).astype(np.int64)
    cums = np.concatenate([[0], np.cumsum(f)])
    o = offsets.to_numpy(zero_copy_only=False)
    return (cums[o[1:]] - cums[o[:-1]]) > 0


def _string_column(table: pa.Table, name: str, where: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    col = _column(table, name)
    if pa.types.is_null(col.type) or pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    raise FormatError(f"{where}: column '{name}' is {col.type}, expected text")


def _one_turn(role: str, text: pa.Array, present: np.ndarray) -> pa.Array:
    """A list array holding one turn (``role``, text) where ``present``, no turn elsewhere."""
    counts = present.astype(np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    values = pc.filter(text, pa.array(present))
    roles = pa.array(np.full(len(values), role, dtype=object), pa.string())
    return pa.ListArray.from_arrays(offsets, pa.StructArray.from_arrays([roles, values], fields=list(TURN)))


def _lengths(lists: pa.Array) -> np.ndarray:
    """Turns per row (0 for a null row)."""
    return pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def concat_turn_lists(*lists: pa.Array) -> pa.Array:
    """Row-wise concatenation of list arrays of one value type (a null row counts as empty)."""
    n = len(lists[0])
    lengths = [_lengths(col) for col in lists]
    out_offsets = np.concatenate([[0], np.cumsum(np.sum(lengths, axis=0))])
    index = np.empty(int(out_offsets[-1]), np.int64)
    flats, base, before = [], 0, np.zeros(n, np.int64)
    for col, le in zip(lists, lengths):
        flat = col.flatten()  # the values of valid rows, in row order
        m = int(le.sum())
        within = np.arange(m) - np.repeat(np.cumsum(le) - le, le)
        index[np.repeat(out_offsets[:-1] + before, le) + within] = base + np.arange(m)
        flats.append(flat)
        base += len(flat)
        before += le
    values = pc.take(pa.concat_arrays(flats), pa.array(index))
    return pa.ListArray.from_arrays(pa.array(out_offsets.astype(np.int32)), values)


def _blank(text: pa.Array) -> pa.Array:
    return pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0))


def _alpaca(table: pa.Table, where: str):
    instruction = _string_column(table, "instruction", where)
    output = _string_column(table, "output", where)
    extra = _string_column(table, "input", where)
    system = _string_column(table, "system", where)
    n = table.num_rows
    human = instruction
    if extra is not None:
        joined = pc.binary_join_element_wise(instruction, extra, "\n\n")
        human = pc.if_else(_blank(extra), instruction, joined)
    ok_h = pc.is_valid(human).to_numpy(zero_copy_only=False)
    ok_g = pc.is_valid(output).to_numpy(zero_copy_only=False)
    parts = []
    if system is not None:
        parts.append(_one_turn("system", system, ~_blank(system).to_numpy(zero_copy_only=False)))
    parts += [_one_turn("human", human, ok_h), _one_turn("gpt", output, ok_g)]
    turns = concat_turn_lists(*parts)
    error = _first_error(_error_where(pc.is_null(instruction), "column 'instruction' is null"),
                         _error_where(pc.is_null(output), "column 'output' is null"))
    consumed = [c for c in ("instruction", "input", "output", "system") if c in table.column_names]
    return turns, error, None, consumed


def _prompt_completion(table: pa.Table, turn_keys: Mapping[str, str], where: str):
    parts, errors = [], []
    for name, role in (("prompt", "human"), ("completion", "gpt")):
        col = _column(table, name)
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            turns, error, _ = _turn_list(col, name, turn_keys, where)
        else:
            text = _string_column(table, name, where)
            turns = _one_turn(role, text, pc.is_valid(text).to_numpy(zero_copy_only=False))
            error = _error_where(pc.is_null(text), f"column '{name}' is null")
        parts.append(turns)
        errors.append(error)
    return concat_turn_lists(*parts), _first_error(*errors), None, ["prompt", "completion"]


# --- outputs ---------------------------------------------------------------------------------------------------

OPENAI_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


def to_messages(conversations: pa.Array) -> pa.Array:
    """FineTome turns (list<struct<from, value>>) as OpenAI/TRL ``messages`` (list<struct<role, content>>)."""
    if isinstance(conversations, pa.ChunkedArray):
        conversations = conversations.combine_chunks()
    flat = conversations.flatten()
    froms = flat.field("from")
    idx = pc.index_in(froms, value_set=pa.array(list(OPENAI_ROLES)))
    roles = pc.coalesce(pc.take(pa.array(list(OPENAI_ROLES.values())), idx), froms)
    messages = pa.StructArray.from_arrays([roles, flat.field("value")], fields=list(MESSAGE))
    offsets = conversations.offsets
    start = offsets[0].as_py()
    offsets = pc.subtract(offsets, start) if start else offsets
    return pa.ListArray.from_arrays(offsets, messages,
                                    mask=pc.invert(conversations.is_valid()) if conversations.null_count else None)
