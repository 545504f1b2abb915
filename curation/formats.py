"""Chat formats in: any common shape of chat data becomes FineTome's ``conversations`` column, vectorized.

Formats, detected from an input's columns (first match wins) or named per input:

``conversations``       FineTome / ShareGPT: ``conversations: [{from, value}]`` (``{role, content}`` turns too;
                        Capybara's ``{input, output}`` pairs: a human turn and the gpt turn answering it)
``messages``            OpenAI / TRL: ``messages: [{role, content}]`` (content a string or a list of text parts)
``alpaca``              ``instruction``, optional ``input``, ``output``, optional ``system`` and ``history``
                        (LLaMA-Factory's earlier rounds: ``[[instruction, response], ...]``)
``prompt_completion``   ``prompt`` and ``completion``, each a string or a list of messages (TRL's two shapes)

A ``system`` column beside ``conversations`` or ``messages`` (LLaMA-Factory's ShareGPT shape) is the system
prompt: a system turn in front, unless the turns already start with that text; so is Alpaca's.

Lossless conversions only; a row that would lose something goes to quarantine with its reason instead:

- OpenAI content parts: text parts (``text``, ``input_text``, ``output_text``) and ``refusal`` parts are joined
  with a blank line; a part of any other type (``image_url``, ``input_audio``, ``file``, an ``image``
  placeholder) is media that text turns cannot hold, so the row is quarantined rather than its text kept
  without the image it asks about. An assistant turn with null ``content`` and a ``refusal`` is that refusal.
  A refusal part's text is its ``refusal`` (a ``text`` beside it is not); a part's text that is no string
  (``"text": 5``) is no text, and its row is read record by record, where validation names it.
- A turn's other keys (``name``, ShareGPT's or OpenAI's ``weight``) are dropped, and the row's ``repairs`` says
  so (``turn_keys_dropped``); such rows are left to validation's record-by-record path, which records it.
- Tool use (a turn that calls a tool with no text, a ``tool``/``function`` role's result) is quarantined by
  validation: FineTome's turns are human, gpt and system text, and a call without its result (or a result
  without its call) would teach the model half of the exchange.

Anything else is read through a column mapping, ``{canonical name: input column}``, applied before detection:
``{"instruction": "question", "output": "answer"}`` reads a question/answer file as Alpaca, ``{"messages":
"dialog", "role": "speaker", "content": "text"}`` a list of ``{speaker, text}`` turns as OpenAI messages.

:func:`to_conversations` turns an Arrow table into a table whose ``conversations`` column is
``list<struct<from: string, value: string>>`` with FineTome's role names (``user`` -> ``human``,
``assistant`` -> ``gpt``; unknown roles stay as given for validation to reject), the columns the format
consumed dropped and every other column carried through (an input's own ``conversations`` beside another
format's columns as ``input_conversations``). Rows that cannot be converted, or not without losing something,
get a one-line error in :attr:`Adapted.error` (null = converted); validation reads those record by record
(:func:`curation.inputs.adapt_record`), which names what is wrong. An input that cannot be read in any format
raises :class:`FormatError`, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous

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
# Capybara's turns: one ``{input, output}`` object per round, the human's text and the answer to it
PAIR_KEYS = ("input", "output")
# OpenAI content parts that are text: Chat Completions' ``text``, the Responses API's ``input_text`` and
# ``output_text``; a ``refusal`` part holds its text under ``refusal``
TEXT_PARTS = ("text", "input_text", "output_text")
REFUSAL = "refusal"
# the same turn key named twice by a mapping: a role (``from`` or ``role``) and a text (``value`` or ``content``)
_SAME_TURN_KEY = (("from", "role"), ("value", "content"))


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


# the column names the formats are told by, and Cyrillic and Greek letters that look like the Latin ones in them
KNOWN_COLUMNS = ("conversations", "messages", "instruction", "input", "output", "prompt", "completion", "system",
                 "question", "answer", "response", "query", "context", "inputs", "targets")
_LOOK_ALIKE = str.maketrans({
    **dict(zip("\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0455\u0458\u0501\u051b\u051d\u04cf", "aeopcyxisjdqwl")),  # Cyrillic
    **dict(zip("\u03bf\u03b1\u03b5\u03bd\u03c1\u03c4\u03c5\u03b9\u03ba", "oaevptuik")),  # Greek
})


def _plain_name(name: str) -> str:
    """``name`` as it reads: compatibility forms folded (NFKC), invisible format characters (zero-width, bidi)
    dropped, spaces at its ends stripped, lower case, Cyrillic and Greek look-alikes of Latin letters as those."""
    import unicodedata

    text = "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf")
    return text.strip().lower().translate(_LOOK_ALIKE)


def _odd(c: str) -> bool:
    import unicodedata

    return not c.isprintable() or unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp") and c != " "


def shown_columns(names: Sequence[str]) -> str:
    """Column names for an error line: each as it is, but quoted (``'conversations '``) where a space at its ends
    would not show, and with invisible and non-printable characters spelled as escapes (``conver\\u200bsations``)."""
    shown = []
    for name in names:
        text = "".join(c.encode("unicode_escape").decode("ascii") if _odd(c) else c for c in name)
        shown.append(f"'{text}'" if text != name or name != name.strip() or not name else text)
    return ", ".join(shown) or "none"


def look_alike_hint(names: Sequence[str]) -> str:
    """A sentence naming the columns that read as one of :data:`KNOWN_COLUMNS` but are not it (a Cyrillic ``о``,
    a zero-width space, a space at the end), with the characters that differ; empty when there is none."""
    import unicodedata

    hints = []
    for name in names:
        plain = _plain_name(name)
        if plain == name or plain not in KNOWN_COLUMNS or plain in names:
            continue
        odd = []
        for c in dict.fromkeys(name):
            if not (c.isascii() and c.isprintable()) or (c == " " and c not in plain):
                odd.append(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed').lower()}")
        what = ", ".join(odd[:3]) + (f" and {len(odd) - 3} more" if len(odd) > 3 else "") if odd else "other letter case"
        hints.append(f"column {shown_columns([name])} looks like '{plain}' but is not ({what})")
    if not hints:
        return ""
    return "; " + "; ".join(hints) + ": rename it, or map it with this input's columns"


# single-turn datasets that name Alpaca's parts otherwise: Dolly (instruction, context, response), GSM8K
# (question, answer), MetaMathQA (query, response), OpenOrca (system_prompt, question, response), FLAN, xP3 and
# Aya (inputs, targets)
ALPACA_ALIASES = {"instruction": ("instruction", "question", "query", "prompt", "inputs"), "input": ("input", "context"),
                  "output": ("output", "response", "answer", "targets"), "system": ("system", "system_prompt")}


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
            if given in renames:  # one column read as two parts: the first would silently lose it
                raise FormatError(f"{where}: columns maps both {renames[given]!r} and {canonical!r} to {given!r}; "
                                  "a column can be read as one of them only")
            renames[given] = canonical
        else:
            raise FormatError(f"{where}: columns names {canonical!r}; expected one of {', '.join(TABLE_KEYS + TURN_KEYS)}")
    for a, b in _SAME_TURN_KEY:
        if a in turn_keys and b in turn_keys and turn_keys[a] != turn_keys[b]:
            raise FormatError(f"{where}: columns maps both {a!r} and {b!r} (to {turn_keys[a]!r} and {turn_keys[b]!r}); "
                              f"they name the same part of a turn: give one")
    role = next((k for k in ("from", "role") if k in turn_keys), None)
    text = next((k for k in ("value", "content") if k in turn_keys), None)
    if role is not None and text is not None and turn_keys[role] == turn_keys[text]:
        # (was: each turn's role read as its text too: every conversation "user" -> "assistant", all but one
        # removed as exact duplicates)
        raise FormatError(f"{where}: columns maps both {role!r} and {text!r} to {turn_keys[role]!r}; a turn's role and "
                          "its text are two keys of the turn: map each to its own")
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
            f"{where}: cannot tell the chat format from its columns ({shown_columns(table.column_names)}); "
            "expected conversations, messages, instruction+output or prompt+completion (set this input's format "
            f"and columns){look_alike_hint(table.column_names)}")
    check_format_columns(table.column_names, fmt, where)
    n = table.num_rows
    if fmt in ("conversations", "messages"):
        turns, error, original = _turn_list(_column(table, fmt), fmt, turn_keys, where)
        consumed = [fmt]
        system = _string_column(table, "system", where)
        if system is not None:  # LLaMA-Factory's ShareGPT: the system prompt beside the turns
            turns, original = _with_system(turns, original, system)
            consumed.append("system")
    elif fmt == "alpaca":
        turns, error, original, consumed = _alpaca(table, where)
    else:
        turns, error, original, consumed = _prompt_completion(table, turn_keys, where)
    rest = [c for c in table.column_names if c not in consumed]
    # the input's own columns under their names, but for one that the converted turns take: kept apart as
    # tome keeps an input's columns named like its own (`conversations` -> `input_conversations`)
    out = pa.table([turns] + [table.column(c) for c in rest], names=["conversations"] + [kept_apart(c) for c in rest])
    assert out.num_rows == n
    return Adapted(out, error, fmt, original)


def kept_apart(name: str) -> str:
    """An input column's name beside the converted ``conversations``: ``conversations`` (and a name already
    kept apart, ``input_conversations``) gets ``input_`` in front, by the rule that keeps any column named like
    one tome writes (:func:`curation.readers.raw.kept_apart`)."""
    from curation.readers.raw import kept_apart as kept_apart_of  # (raw imports this module)

    return kept_apart_of(name, ("conversations",))


# --- building blocks -------------------------------------------------------------------------------------------

def _column(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return contiguous(col)


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


def _text_of(content: pa.Array, where: str, column: str) -> tuple[pa.Array, pa.Array]:
    """Turn text as a string array, and per turn whether it holds a content part that is not text (an image):
    strings as they are, lists of text parts joined with a blank line (parts with null text left out)."""
    t = content.type
    n = len(content)
    no_media = pa.array(np.zeros(n, bool))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return content.cast(pa.string()), no_media
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type):
        parts = content.flatten()
        fields = [f.name for f in t.value_type]
        kind, texts, refusals = (_part_string(parts, key, where, column) for key in ("type", "text", REFUSAL))
        # a refusal part: its text is under `refusal` (a `text` beside it is no text of the part's)
        texts = pc.if_else(pc.fill_null(pc.equal(kind, REFUSAL), False), refusals, texts)
        # media: a part of another type, or an untyped one with no text but something else (an `image_url`)
        other = pc.invert(pc.fill_null(pc.is_in(kind, pa.array(TEXT_PARTS + (REFUSAL,))), False))
        untyped_other = pa.array(np.zeros(len(parts), bool))
        for f in fields:
            if f not in ("type", "text"):
                untyped_other = pc.or_(untyped_other, parts.field(f).is_valid())
        media = pc.if_else(pc.is_valid(kind), other, pc.and_(pc.is_null(texts), untyped_other))
        media = pc.and_(media, parts.is_valid())
        offsets = content.offsets
        offsets = pc.subtract(offsets, offsets[0]) if offsets[0].as_py() else offsets
        keep = pc.and_(pc.is_valid(texts), pc.invert(media))
        lengths = _lengths(content)
        row_of = np.repeat(np.arange(n), lengths)
        kept = pc.filter(texts, keep)
        counts = np.bincount(row_of[keep.to_numpy(zero_copy_only=False)], minlength=n)
        joined_offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        joined = pc.binary_join(pa.ListArray.from_arrays(joined_offsets, kept), "\n\n")
        has_media = pa.array(_any_per_row(media, offsets.cast(pa.int64()), n))
        return pc.if_else(pc.is_null(content), pa.scalar(None, pa.string()), joined), has_media
    raise FormatError(f"{where}: column '{column}': turn text is {t}, expected a string or a list of text parts")


def _part_string(parts: pa.StructArray, key: str, where: str, column: str) -> pa.Array:
    """A content part's ``type``, ``text`` or ``refusal`` as strings (null where the parts have no such key).
    :class:`FormatError` for one of another type (``"text": 5``, ``"text": ["a"]``): record by record such a part
    is not text (its turn is quarantined), so column-wise it is not read as the text Arrow would cast it to."""
    fields = [f.name for f in parts.type]
    if key not in fields:
        return pa.nulls(len(parts), pa.string())
    values = parts.field(key)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_null(values.type)):
        raise FormatError(f"{where}: column '{column}': a content part's '{key}' is {values.type}, expected a string")
    return values.cast(pa.string())


def _turn_list(col: pa.Array, name: str, turn_keys: Mapping[str, str], where: str):
    """A list-of-turns column (any field names) as TURNS with mapped roles, row errors, and the originals."""
    n = len(col)
    if pa.types.is_null(col.type):
        return pa.nulls(n, TURNS), _error_where(pa.array(np.ones(n, bool)), f"column '{name}' is null"), None
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)) or not pa.types.is_struct(col.type.value_type):
        raise FormatError(f"{where}: column '{name}' is {col.type}, expected a list of turns (objects)")
    fields = [f.name for f in col.type.value_type]
    if name == "conversations" and is_pair_shape(fields) and not turn_keys:
        return _pair_turns(col, name, where)
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
    values, media = _text_of(flat.field(value_key), where, name)
    used = {role_key, value_key}
    if REFUSAL in fields and REFUSAL not in used:  # OpenAI: an assistant turn that refused has its text there
        refusal = flat.field(REFUSAL)
        if pa.types.is_string(refusal.type) or pa.types.is_large_string(refusal.type):
            refused = pc.and_(pc.is_null(values), refusal.is_valid())
            values = pc.coalesce(values, refusal.cast(pa.string()))
            used.add(REFUSAL)
    roles = map_roles(roles_in)
    turns = pa.StructArray.from_arrays([roles, values], fields=list(TURN), mask=pc.invert(flat.is_valid()))
    offsets = col.offsets
    if pa.types.is_large_list(col.type):
        offsets = offsets.cast(pa.int32())
    # rebase offsets (a sliced column's offsets need not start at 0; flatten() already dropped the rest), into an
    # array of their own: Arrow takes no null mask beside offsets that are a slice
    start = offsets[0].as_py()
    offsets = pc.subtract(offsets, start) if start or offsets.offset else offsets
    out = pa.ListArray.from_arrays(offsets, turns, mask=pc.invert(col.is_valid()) if col.null_count else None)
    # a turn's other keys (`name`, `weight`) are dropped: such rows go record by record, where validation
    # records it in the row's repairs (a refusal read as the turn's text is no other key)
    extra = pa.array(np.zeros(len(flat), bool))
    for other in fields:
        if other not in used:
            extra = pc.or_(extra, flat.field(other).is_valid())
    if REFUSAL in used:
        extra = pc.or_(extra, pc.and_(flat.field(REFUSAL).is_valid(), pc.invert(refused)))
    error = _first_error(
        _error_where(pc.is_null(col), f"column '{name}' is null"),
        _error_where(pa.array(_any_per_row(media, offsets, n)),
                     f"column '{name}': a turn holds a content part that is not text (an image, audio or a file)"),
        _error_where(pa.array(_any_per_row(extra, offsets, n)),
                     f"column '{name}': a turn holds keys other than its role and text (dropped, and recorded)"))
    # keep the turns as given wherever a role name changed or the input was not FineTome's exact shape
    changed = pc.fill_null(pc.not_equal(roles, roles_in), False)
    changed = pc.or_(changed, extra)  # a turn with more keys than its role and text is not FineTome's exact shape
    changed_rows = _any_per_row(changed, offsets, n)
    # as the record path tells it: every row of another chat column, and of turns keyed role/content that no
    # mapping names (curation.validate reads those as another shape); a mapping's turns are FineTome's once renamed
    if name != "conversations" or (not turn_keys and (role_key, value_key) != ("from", "value")):
        changed_rows = np.ones(n, bool)
    original_turns = pa.StructArray.from_arrays([roles_in, values], fields=list(TURN), mask=pc.invert(flat.is_valid()))
    original = pa.ListArray.from_arrays(offsets, original_turns,
                                        mask=pa.array(~changed_rows | ~col.is_valid().to_numpy(zero_copy_only=False)))
    return out, error, original


def is_pair_shape(keys: Sequence[str]) -> bool:
    """Whether turns keyed ``keys`` are Capybara's ``{input, output}`` pairs: both keys, and no role or text key
    of a turn (a turn keyed ``from``/``value`` beside them is a turn with other keys)."""
    return all(k in keys for k in PAIR_KEYS) and not any(k in keys for k in TURN_KEYS)


def _pair_turns(col: pa.Array, name: str, where: str):
    """A list-of-pairs column (``[{input, output}]``, Capybara's) as TURNS: per pair a human turn of its ``input``
    and a gpt turn of its ``output``; row errors as :func:`_turn_list`'s (a pair's other keys: record by record,
    where :func:`curation.inputs.adapt_record` puts them on the pair's human turn for validation to record).
    The pairs become FineTome's turns by their position alone (no role renamed): no originals."""
    n = len(col)
    flat = col.flatten()  # the pairs of valid rows, in order
    texts = []
    for key in PAIR_KEYS:
        values = flat.field(key)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_null(values.type)):
            raise FormatError(f"{where}: column '{name}': pair field '{key}' is {values.type}, expected a string")
        texts.append(values.cast(pa.string()))
    m = len(flat)
    interleaved = np.stack([np.arange(m), np.arange(m) + m], axis=1).ravel()  # input, output of pair 1, ...
    values = pc.take(pa.concat_arrays(texts), pa.array(interleaved))
    roles = pa.array(np.tile(np.array(["human", "gpt"], dtype=object), m), pa.string())
    null_pair = np.repeat(~flat.is_valid().to_numpy(zero_copy_only=False), 2)
    turns = pa.StructArray.from_arrays([roles, values], fields=list(TURN), mask=pa.array(null_pair))
    offsets = col.offsets
    if pa.types.is_large_list(col.type):
        offsets = offsets.cast(pa.int32())
    start = offsets[0].as_py()
    offsets = pc.subtract(offsets, start) if start or offsets.offset else offsets
    out = pa.ListArray.from_arrays(pc.multiply(offsets, 2).cast(pa.int32()), turns,
                                   mask=pc.invert(col.is_valid()) if col.null_count else None)
    extra = pa.array(np.zeros(m, bool))
    for other in (f.name for f in flat.type):
        if other not in PAIR_KEYS:
            extra = pc.or_(extra, flat.field(other).is_valid())
    error = _first_error(
        _error_where(pc.is_null(col), f"column '{name}' is null"),
        _error_where(pa.array(_any_per_row(extra, offsets, n)),
                     f"column '{name}': a turn holds keys other than its role and text (dropped, and recorded)"))
    return out, error, None


def _with_system(turns: pa.Array, original: pa.Array | None, system: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """``turns`` with a system turn of ``system``'s text in front where it is not blank and the turns do not
    already start with it (an export that holds both); ``original`` (the turns as given, null where unchanged)
    likewise, so that the two stay turn for turn. A null row stays null."""
    n = len(turns)
    lengths = _lengths(turns)
    offsets = turns.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = offsets - offsets[0]
    flat = turns.flatten()
    first = np.minimum(offsets[:-1], max(len(flat) - 1, 0))
    has = lengths > 0
    if len(flat):
        first_role = pc.take(flat.field("from"), pa.array(first)).to_numpy(zero_copy_only=False)
        first_text = pc.take(flat.field("value"), pa.array(first)).to_numpy(zero_copy_only=False)
    else:
        first_role = first_text = np.full(n, None, dtype=object)
    text = system.to_numpy(zero_copy_only=False)
    already = has & (first_role == "system") & (first_text == text)
    present = ~_blank(system).to_numpy(zero_copy_only=False) & ~already
    head = _one_turn("system", system, present)
    null = turns.is_null()

    def joined(lists: pa.Array) -> pa.Array:
        out = concat_turn_lists(head, lists)
        mask = pc.or_(null, lists.is_null())
        return pa.ListArray.from_arrays(out.offsets, out.values, mask=mask) if mask.true_count else out

    return joined(turns), (None if original is None else joined(original))


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
    errors = [_error_where(pc.is_null(instruction), "column 'instruction' is null"),
              _error_where(pc.is_null(output), "column 'output' is null")]
    if "history" in table.column_names:
        earlier, bad = _history(_column(table, "history"), where)
        parts.append(earlier)
        errors.append(_error_where(bad, "column 'history': expected a list of [instruction, response] pairs of text"))
    parts += [_one_turn("human", human, ok_h), _one_turn("gpt", output, ok_g)]
    turns = concat_turn_lists(*parts)
    consumed = [c for c in ("instruction", "input", "output", "system", "history") if c in table.column_names]
    return turns, _first_error(*errors), None, consumed


def _history(history: pa.Array, where: str) -> tuple[pa.Array, pa.Array]:
    """LLaMA-Factory's Alpaca ``history`` (the earlier rounds, ``[[instruction, response], ...]``) as turns, and
    per row whether it is not that shape (a round that is not two texts: the row goes record by record)."""
    n = len(history)
    t = history.type
    if pa.types.is_null(t):
        return pa.array([[]] * n, TURNS), pa.array(np.zeros(n, bool))
    if not ((pa.types.is_list(t) or pa.types.is_large_list(t)) and (pa.types.is_list(t.value_type)
            or pa.types.is_large_list(t.value_type)) and (pa.types.is_string(t.value_type.value_type)
                                                       or pa.types.is_large_string(t.value_type.value_type))):
        raise FormatError(f"{where}: column 'history' is {t}, expected a list of [instruction, response] pairs")
    rounds = history.flatten()  # the rounds of valid rows, in order
    texts = rounds.flatten().cast(pa.string())
    round_bad = pc.or_(pc.not_equal(pc.fill_null(pc.list_value_length(rounds), 0), 2), rounds.is_null())
    turn_bad = pc.is_null(texts)  # (an empty text is validation's to name, as any turn's)
    offsets = history.offsets
    offsets = pc.subtract(offsets, offsets[0]) if offsets[0].as_py() else offsets
    round_offsets = rounds.offsets
    round_offsets = pc.subtract(round_offsets, round_offsets[0]) if round_offsets[0].as_py() else round_offsets
    round_bad = pc.or_(round_bad, pa.array(_any_per_row(turn_bad, round_offsets, len(rounds))))
    bad = pa.array(_any_per_row(round_bad, offsets, n))
    # a well-formed round is [instruction, response]: human, then gpt; a bad row's turns are never read
    within = np.arange(len(texts)) - np.repeat(round_offsets.to_numpy(zero_copy_only=False)[:-1],
                                               np.diff(round_offsets.to_numpy(zero_copy_only=False)))
    roles = pa.array(np.where(within % 2 == 0, "human", "gpt").astype(object), pa.string())
    turn_offsets = pc.take(round_offsets, offsets)
    turns = pa.ListArray.from_arrays(turn_offsets.cast(pa.int32()),
                                     pa.StructArray.from_arrays([roles, texts], fields=list(TURN)))
    return turns, bad


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
    conversations = contiguous(conversations)
    flat = conversations.flatten()
    froms = flat.field("from")
    idx = pc.index_in(froms, value_set=pa.array(list(OPENAI_ROLES)))
    roles = pc.coalesce(pc.take(pa.array(list(OPENAI_ROLES.values())), idx), froms)
    messages = pa.StructArray.from_arrays([roles, flat.field("value")], fields=list(MESSAGE))
    offsets = conversations.offsets
    start = offsets[0].as_py()
    offsets = pc.subtract(offsets, start) if start or offsets.offset else offsets
    return pa.ListArray.from_arrays(offsets, messages,
                                    mask=pc.invert(conversations.is_valid()) if conversations.null_count else None)
