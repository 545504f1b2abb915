"""Schema checks: a raw record becomes a row, or a quarantine entry with the reason.

Accepted shapes: FineTome's ``conversations: [{from, value}]`` (``from`` in human/gpt/system) and OpenAI's
``messages: [{role, content}]`` (role in system/user/assistant). Role spellings are mapped to FineTome's;
the turns as given stay in ``original_conversations`` when that changed anything. Every other column is
carried through unchanged; an input column named like one tome writes (``id``, ``original_conversations``,
``cluster_id``, ``origin_id``, ``augmentation``, ``repairs``, removed.parquet's ``stage``, ``reason``,
``duplicate_of``, ``details``; with several inputs ``input``), or like one already kept so (``input_id``), is
kept as ``input_<name>`` (a curated output curated again keeps its earlier provenance that way; no two
columns meet).

Column-wise first: a batch whose turns parsed as ``list<struct<from: string, value: string>>`` is checked
with Arrow compute, and its clean rows pass as they are. A row the columnar checks cannot clear (an odd
type, an unknown role spelling, an empty turn, OpenAI shape, a record the reader could not type) is checked
by :func:`validate_record`, one record at a time: the one definition of what is valid and of every error
message.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation.contract import REMOVED_COLUMNS
from curation.core.columns import (JSON_TEXT, TURNS, WHITESPACE_CLASS, any_per_row, concat_unified, contiguous,
                                   json_text, mark_wide_ints, string_buffers, turns_of, typed_array)
from curation.core.config_base import StrictModel
from curation.core.registry import StageSpec, register
from curation.core.stage import POS, RowStage, StageOutput
from curation.core.temporal import rows_as_python
from curation.formats import REFUSAL, ROLE_MAP, TABLE_KEYS, FormatError, to_conversations
from curation.inputs import (INPUT, adapt_record, media_part, needs_adapting, numbers_as_text, system_in_front,
                             text_of_parts)
from curation.readers import raw as rawcols
from curation.readers.errors import json_int
from curation.repair import (CONTROL_CLASS, TURN_KEYS_DROPPED, coerce_score, merge_repairs, repair_record, repair_table,
                             repairs_json, turns_from_text)
from tomecraft.files import dumps_utf8

CANONICAL_ROLES = ("human", "gpt", "system")
RESERVED = {"id", "conversations", "messages", "source", "score"}
PROVENANCE = ("original_conversations", "cluster_id", "origin_id", "augmentation")
ORIGINAL = "_original"  # internal: the turns as given by a format conversion, for original_conversations
REPAIRS = "repairs"  # what was repaired in a kept row (JSON {kind: [columns]}); only when something was
# the columns TRL's SFTTrainer reads beside the turns: an input column with one of these names would make it read
# the curated rows as something else (``input_ids``: already tokenized, ``labels``: the loss given, ``prompt``/
# ``completion``/``chosen``/``rejected``: another dataset type, ``image(s)``: a vision dataset,
# ``chat_template_kwargs``: arguments to the template), so the splits train as they are only with them kept apart
TRAINER_COLUMNS = frozenset({"prompt", "completion", "chosen", "rejected", "input_ids", "labels", "attention_mask",
                             "completion_mask", "assistant_masks", "position_ids", "seq_lengths", "image", "images",
                             "chat_template_kwargs"})
# columns tome writes, or that the trainers read: an input's own are kept apart as input_<name> (with several
# inputs, ``input`` too); so is a ``messages`` column beside the ``conversations`` a row is read from
# (``--format messages`` writes one)
OWNED = frozenset(PROVENANCE) | frozenset(REMOVED_COLUMNS) | {"id", "messages", REPAIRS} | TRAINER_COLUMNS
LABELLED = OWNED | {"input"}


EMPTY_TURN = f"^(?:{WHITESPACE_CLASS}|[{CONTROL_CLASS}])*$"


def empty_turns(values: pa.Array) -> np.ndarray:
    """Per value, is it null or nothing but whitespace and control characters (:data:`EMPTY_TURN`)? The regex
    runs only on the values that may be: one whose first byte is a printable ASCII character is not (most are),
    which its offsets tell without reading the text (a null reads as empty there: the regex is asked)."""
    n = len(values)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return np.asarray(pc.match_substring_regex(values, EMPTY_TURN).fill_null(True), dtype=bool)
    text, offsets = string_buffers(values)
    filled = offsets[1:] > offsets[:-1]
    first = np.zeros(n, dtype=np.uint8)
    first[filled] = text[offsets[:-1][filled]]
    maybe = ~filled | (first <= 0x20) | (first >= 0x7F)
    out = np.zeros(n, dtype=bool)
    at = np.flatnonzero(maybe)
    if len(at):
        picked = values.take(pa.array(at))
        out[at] = np.asarray(pc.match_substring_regex(picked, EMPTY_TURN).fill_null(True), dtype=bool)
    return out


# the repairs of a value's text, which the columnar conversion (it converts, then repairs) names by the column
# the text ends in
TEXT_REPAIRS = ("lone_surrogate", "control_chars")


def _named_as_turns(repairs: dict[str, list[str]], folded: set[str]) -> dict[str, list[str]]:
    """``repairs`` with the text repairs of the columns a format's conversion ``folded`` into the turns (Alpaca's
    instruction and output, a prompt, OpenAI's messages) named ``conversations``, as the columnar conversion names
    them: a row's repairs are the same whichever way it was read (how many rows a batch holds decides that)."""
    out = {}
    for kind, columns in repairs.items():
        if kind in TEXT_REPAIRS:
            columns = list(dict.fromkeys("conversations" if c in folded else c for c in columns))
        out[kind] = columns
    return out


class ValidateConfig(StrictModel):
    """Schema checks; rows that break them go to quarantine with the reason. Always on: later stages rely on it."""

    require_gpt_turn: bool = Field(True, description="a conversation needs at least one gpt turn")
    max_turns: int | None = Field(None, description="quarantine conversations with more turns than this")


class RowError(ValueError):
    pass


def _turns(data: dict[str, Any]) -> tuple[list[Any], str, str, str]:
    """The row's turns, the key they are under and its turns' role and text keys. A null ``conversations`` beside
    OpenAI ``messages`` (two datasets concatenated, each row holding one) is no turns: the messages are."""
    if "conversations" in data and not (data["conversations"] is None and data.get("messages") is not None):
        return data["conversations"], "conversations", "from", "value"
    if "messages" in data:
        return data["messages"], "messages", "role", "content"
    raise RowError("missing 'conversations' (or OpenAI 'messages')")


def _openai_turns(turns: Any) -> bool:
    """Whether ``turns`` are OpenAI messages: a list whose turns are keyed ``role``/``content``, none FineTome's way."""
    return isinstance(turns, list) and not any(isinstance(t, dict) and ("from" in t or "value" in t) for t in turns)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# OpenAI's tool and function results, Llama 3's; LLaMA-Factory's call and result roles
TOOL_ROLES = frozenset({"tool", "function", "ipython", "function_call", "observation"})
TOOL_CALLS = ("tool_calls", "function_call")


def _no_tool_use(n: int, turn: dict[str, Any], role: Any, value: Any) -> None:
    """Tool use (a call with no text, a tool's result) has no place in FineTome's human/gpt/system text turns:
    say so, rather than that a value is null or a role unknown."""
    calls = next((k for k in TOOL_CALLS if turn.get(k)), None)
    if calls and not (isinstance(value, str) and value.strip()):
        raise RowError(f"turn {n}: a tool call ('{calls}') with no text: tool-use conversations are not supported")
    if isinstance(role, str) and role.strip().lower() in TOOL_ROLES:
        what = "a tool call" if role.strip().lower() == "function_call" else "a tool's result"
        raise RowError(f"turn {n}: role {role!r} is {what}: tool-use conversations are not supported")


def _keyed_the_other_way(turn: dict, keys: tuple[str, str], other: tuple[str, ...]) -> bool:
    """Is ``turn`` keyed the other format's way: the other keys there, its own absent, or null beside another key
    that holds a value (a table's turn struct holds every key any turn has, null where a turn lacks it: a Parquet
    file of merged data)?"""
    if not all(k in turn for k in other) or any(turn.get(k) is not None for k in keys):
        return False
    return not any(k in turn for k in keys) or any(turn[k] is not None for k in other)


def validate_record(data: Any, cfg: ValidateConfig, owned: frozenset[str] = OWNED,
                    repairs: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The row for ``data`` (without ``id``), or :class:`RowError` naming what is wrong. Its own columns named
    like tome's (``owned``, or internal ones) are kept apart (:func:`~curation.readers.raw.kept_apart`).
    ``repairs``: where to note what was changed on the way (a turn's other keys dropped)."""
    if not isinstance(data, dict):
        raise RowError(f"row is a JSON {_type_name(data)}, expected an object")
    turns, key, role_key, text_key = _turns(data)
    if not isinstance(turns, list):
        raise RowError(f"'{key}' is {_type_name(turns)}, expected a list of turns")
    if not turns:
        raise RowError(f"'{key}' is empty")
    if cfg.max_turns is not None and len(turns) > cfg.max_turns:
        raise RowError(f"'{key}' has {len(turns)} turns, more than max_turns={cfg.max_turns}")
    conversations = []
    original = []
    changed = key != "conversations"
    dropped = False
    # a `conversations` turn keyed OpenAI's way (merged datasets hold both) is the same turn; the other way round,
    # FineTome's turns under `messages` in a row of a FineTome file, is a row that misnames its chat column
    other_keys = ("role", "content") if key == "conversations" else None
    for n, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise RowError(f"turn {n}: is {_type_name(turn)}, expected an object with '{role_key}' and '{text_key}'")
        keys = (role_key, text_key)
        if other_keys and _keyed_the_other_way(turn, keys, other_keys):
            keys = other_keys
            changed = True
        for k in keys:
            if k not in turn:
                raise RowError(f"turn {n}: missing '{k}'")
        role, value = turn[keys[0]], turn[keys[1]]
        used = keys
        if value is None and isinstance(turn.get(REFUSAL), str):  # OpenAI: an answer that refused has its text there
            value, used, changed = turn[REFUSAL], (*keys, REFUSAL), True
        _no_tool_use(n, turn, role, value)
        if isinstance(value, list):  # OpenAI's content parts: their texts
            media = media_part(value)
            if media is not None:  # as the conversion of another format's input says it (curation.inputs)
                raise RowError(f"turn {n}: content part {media[0]} is {media[1]!r}, not text: images, audio and "
                               "files are not supported")
            value = text_of_parts(value)
            changed = True
        if not isinstance(role, str):
            raise RowError(f"turn {n}: '{keys[0]}' is {_type_name(role)}, expected a string")
        if not isinstance(value, str):
            # (repair nulls a NaN or infinite number, 1e400 say, before this: a null so is the number's)
            nulled = value is None and key in (repairs or {}).get("not_finite", ())
            held = "null or a number that is not finite" if nulled else _type_name(value)
            raise RowError(f"turn {n}: '{keys[1]}' is {held}, expected a string")
        if not value.strip():
            raise RowError(f"turn {n}: empty '{keys[1]}'")
        canonical = ROLE_MAP.get(role.strip().lower())
        if canonical is None:
            raise RowError(f"turn {n}: unknown role {role!r} (expected human, gpt or system)")
        # a turn holds its role and text only: a value under any other key (ShareGPT's `weight`, `name`) is
        # dropped, and the row says so (a null one is no value, as the columnar path sees it: no change either)
        other = any(v is not None for k, v in turn.items() if k not in used)
        changed |= canonical != role or other
        dropped |= other
        conversations.append({"from": canonical, "value": value})
        original.append({"from": role, "value": value})
    if cfg.require_gpt_turn and not any(t["from"] == "gpt" for t in conversations):
        raise RowError("no gpt turn (a conversation needs at least one answer)")
    source = data.get("source")
    if source is not None and not isinstance(source, str):
        raise RowError(f"'source' is {_type_name(source)}, expected a string")
    score = data.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise RowError(f"'score' is {_type_name(score)}, expected a number")
    if dropped and repairs is not None:
        repairs.setdefault(TURN_KEYS_DROPPED, []).append(key)
    row: dict[str, Any] = {
        "conversations": conversations,
        "source": source,
        "score": None if score is None else float(score),
        "original_conversations": original if changed else None,
    }
    for k, v in data.items():
        if k == key:  # the turns read above; another chat column beside them is the input's own (kept apart)
            continue
        if k not in RESERVED and isinstance(v, (dict, list)) and rawcols.value_depth(v) > rawcols.MAX_DEPTH:
            raise RowError(rawcols.too_deep(k))
        if k not in RESERVED or k in owned:
            row[rawcols.kept_apart(rawcols.kept_apart_internal(k), owned)] = v
    _check_text(row)
    return row


def _check_text(value: Any, where: str = "") -> None:
    """Strings must be valid Unicode (a lone UTF-16 surrogate from a ``\\ud800`` escape is not)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RowError(f"{where or 'a value'} holds a lone UTF-16 surrogate (invalid Unicode)") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, where)
            _check_text(v, f"'{k}'" if not where else where)
    elif isinstance(value, list):
        for v in value:
            _check_text(v, where)


def error_kind(error: str) -> str:
    """The kind of a quarantine error, for the manifest's counts (positions and values stripped)."""
    kind = error.split(":", 1)[1].strip() if error.startswith("turn ") else error
    return kind.split(" (")[0]


def _core_column(rows: pa.RecordBatch, name: str, target: pa.DataType) -> pa.Array:
    """``source`` / ``score`` of rows the screen cleared, as ``target``. A column of another type (a list, a
    struct) is all null in those rows, so it is nulls; an integer score too large for a double's exact range is
    rounded, as ``float()`` rounds it record by record."""
    n = rows.num_rows
    if name not in rows.schema.names:
        return pa.nulls(n, target)
    col = rows.column(name)
    t = col.type
    usable = (pa.types.is_string(t) or pa.types.is_large_string(t)) if target == pa.string() else \
        (pa.types.is_integer(t) or pa.types.is_floating(t))
    return col.cast(target, safe=False) if usable else pa.nulls(n, target)


def _usable_turn_type(t: pa.DataType) -> bool:
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_struct(t.value_type):
        return False
    fields = {f.name: f.type for f in t.value_type}
    return all(k in fields and (pa.types.is_string(fields[k]) or pa.types.is_large_string(fields[k])) for k in ("from", "value"))


class Validate(RowStage):
    name = "validate"

    def __init__(self, cfg: ValidateConfig, inputs: list | None = None) -> None:
        self.cfg = cfg
        # several inputs (curation.inputs): their formats by name; rows get an `input` column when there are 2+
        self.inputs = {i.name: i for i in inputs or []}
        self.label = len(self.inputs) > 1
        self.owned = LABELLED if self.label else OWNED

    # -- the columnar screen ---------------------------------------------------------------------------
    def _screen(self, batch: pa.RecordBatch) -> np.ndarray:
        """Rows whose columns are fine as parsed (True), the others go record by record."""
        n = batch.num_rows
        ok = np.asarray(batch.column(rawcols.ERROR).is_null(), dtype=bool) & ~np.asarray(
            batch.column(rawcols.SLOW).fill_null(True), dtype=bool
        )
        names = batch.schema.names
        if "conversations" not in names or not _usable_turn_type(batch.schema.field("conversations").type):
            return np.zeros(n, dtype=bool)
        conv = batch.column("conversations")
        ok &= np.asarray(conv.is_valid(), dtype=bool)
        if "messages" in names:  # `conversations: null` beside `messages`: the record's own rules decide
            ok &= ~(np.asarray(conv.is_null(), dtype=bool) & np.asarray(batch.column("messages").is_valid(), dtype=bool))
        counts = np.asarray(pc.list_value_length(conv).fill_null(0), dtype=np.int64)
        ok &= counts > 0
        if self.cfg.max_turns is not None:
            ok &= counts <= self.cfg.max_turns
        filled = conv.fill_null([]) if conv.null_count else conv
        offsets = np.asarray(filled.offsets, dtype=np.int64)
        offsets = offsets - offsets[0]
        flat = filled.flatten()
        bad_turn = np.asarray(flat.is_null(), dtype=bool)
        roles, values = flat.field("from"), flat.field("value")
        for f in flat.type:
            if f.name not in ("from", "value"):
                bad_turn |= np.asarray(flat.field(f.name).is_valid(), dtype=bool)
        bad_turn |= ~np.asarray(pc.is_in(roles, pa.array(CANONICAL_ROLES)).fill_null(False), dtype=bool)
        bad_turn |= np.asarray(values.is_null(), dtype=bool)
        # empty once repaired (only spaces and control characters): the record path names it, as it would there
        bad_turn |= empty_turns(values)
        ok &= ~any_per_row(offsets, bad_turn)
        if self.cfg.require_gpt_turn:
            ok &= any_per_row(offsets, np.asarray(pc.equal(roles, "gpt").fill_null(False), dtype=bool))
        if "source" in names:
            t = batch.schema.field("source").type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
                ok &= np.asarray(batch.column("source").is_null(), dtype=bool)
        if "score" in names:
            t = batch.schema.field("score").type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
                ok &= np.asarray(batch.column("score").is_null(), dtype=bool)
        return ok

    def _fast_rows(self, batch: pa.RecordBatch, ok: np.ndarray, declared: dict[str, pa.DataType]) -> pa.Table:
        rows = batch if ok.all() else batch.filter(pa.array(ok))
        n = rows.num_rows
        names = rows.schema.names
        offsets, roles, values = turns_of(rows.column("conversations"))
        from curation.core.columns import conversations_from

        columns: dict[str, pa.Array] = {
            POS: rows.column(POS),
            "id": rows.column(rawcols.ID),
            "conversations": conversations_from(offsets, roles, values),
            "source": _core_column(rows, "source", pa.string()),
            "score": _core_column(rows, "score", pa.float64()),
        }
        given: dict[str, str] = {}  # a column kept apart -> the input's own name, which a record's repairs name
        for name in names:
            if (name in RESERVED and name not in self.owned) or name in rawcols.INTERNAL_COLUMNS:
                continue
            col = rows.column(name)
            kept = rawcols.kept_apart(name, self.owned)
            # a key no row of these has stays out (it may belong to quarantined rows); a typed input's own
            # column is carried, values or not
            if col.null_count < n or kept in declared:
                columns[kept] = col
                given[kept] = rawcols.given_name(name)
        for name in PROVENANCE:
            columns[name] = pa.nulls(n, TURNS if name == "original_conversations" else pa.string())
        if ORIGINAL in names:  # the turns as given, where a format conversion renamed roles
            columns["original_conversations"] = rows.column(ORIGINAL)
        table, repairs = repair_table(pa.table(columns), given=given)
        if repairs.null_count < n:
            table = table.append_column(REPAIRS, repairs)
        return self._labelled(table, rows)

    def _declared(self, given: pa.RecordBatch) -> dict[str, pa.DataType]:
        """The columns of a batch read from a typed table (Parquet, a datasets table: its schema gives them,
        :func:`curation.readers.raw.is_typed`) that rows carry as extra columns, by their output names, with
        their types: carried even where no row of the batch holds a value (a ``note`` column of nulls, as any
        other column of the input). Not a JSON input's keys (no row holding one, there is no such column), nor
        a chat format's columns (:data:`curation.formats.TABLE_KEYS`: ``system``, ``instruction``, ``prompt``...),
        which rows of that format fold into their turns and a table of several formats holds as nulls in the
        others' rows, nor a column named as one tome writes (kept apart as ``input_cluster_id``...: a curated
        folder read again holds its provenance columns, mostly null). Empty for other batches."""
        if not rawcols.is_typed(given):
            return {}
        out = {}
        for field in given.schema:
            name = field.name
            if name in rawcols.INTERNAL_COLUMNS or name == INPUT:
                continue
            if name in TABLE_KEYS:  # a chat format's column: in a table of several, the other rows' null
                continue
            kept = rawcols.kept_apart(name, self.owned)
            if kept != name:  # named as a column tome writes (a curated folder read again): its nulls say nothing
                continue
            out[kept] = field.type
        return out

    def _labelled(self, table: pa.Table, rows) -> pa.Table:
        """With several inputs, the ``input`` column (from the internal ``_input``)."""
        if self.label and INPUT in rows.schema.names:
            return table.append_column("input", rows.column(INPUT))
        return table

    # -- record by record ------------------------------------------------------------------------------
    @staticmethod
    def _raw_text(batch: pa.RecordBatch, i: int) -> tuple[str, str] | None:
        """The record's raw line and its line end (LF, CR LF or a lone CR: text inputs), or its JSON (loaded
        arrays), as text."""
        raw = batch.column(rawcols.RAW)[i].as_py()
        if raw is None:
            return None
        end = b""
        if batch.column(rawcols.LINE)[i].as_py() is not None:
            raw, end, _ = raw.partition(b"\n")
            if raw.endswith(b"\r"):
                raw, end = raw[:-1], b"\r" + end
        return raw.decode("utf-8", "replace"), end.decode()

    def _record(self, batch: pa.RecordBatch, i: int) -> Any:
        raw = self._raw_text(batch, i)
        if raw is not None:
            text = raw[0].lstrip("\ufeff") + raw[1]
            try:
                return json.loads(text, parse_int=json_int)
            except json.JSONDecodeError as exc:
                if not exc.msg.startswith("Invalid control character"):
                    raise
                # raw control characters inside strings: read leniently (repaired, and recorded, as the row is
                # prepared)
                return json.loads(text, strict=False, parse_int=json_int)
        row = rows_as_python(batch.slice(i, 1))[0]
        return {k: v for k, v in row.items() if k not in rawcols.INTERNAL_COLUMNS}

    def _prepared(self, data: Any, input_name: str | None) -> tuple[Any, dict]:
        """A parsed record repaired (hostile text, NaN, numbers as text) and in FineTome's or OpenAI's shape."""
        if not isinstance(data, dict):
            return data, {}
        limit = rawcols.READ_ALONE_DEPTH  # checked before the repairs, which walk each value recursively
        for key, value in data.items():
            if isinstance(value, (dict, list)) and rawcols.value_depth(value, limit) > limit:
                raise RowError(rawcols.too_deep(key))
        data, repairs = repair_record(data)
        if "score" in data and not (data["score"] is None or isinstance(data["score"], float)
                                    or isinstance(data["score"], int) and not isinstance(data["score"], bool)
                                    and abs(data["score"]) <= sys.float_info.max):
            number, kind, _ = coerce_score(data["score"])
            if kind is not None:
                data["score"] = number
                repairs.setdefault(kind, []).append("score")
        source = data.get("source")
        if isinstance(source, (int, float)) and not isinstance(source, bool) and (isinstance(source, int)
                                                                                  or math.isfinite(source)):
            data["source"] = str(source)  # numeric source ids: their text (a row's `source` is a string)
            repairs = merge_repairs(repairs, {"number_as_text": ["source"]})
        cfg = self.inputs.get(input_name) if input_name is not None else None
        chat_keys = ["conversations", "messages"]
        if cfg is not None and cfg.columns.get(cfg.format) not in (None, *chat_keys):
            chat_keys.append(cfg.columns[cfg.format])  # the column mapped to the turns (messages: dialog)
        for key in chat_keys:
            turns = turns_from_text(data.get(key))
            if turns is not None:  # JSON text of the turns (a string column): the turns, repaired as a row's
                fixed, more = repair_record({key: turns})
                data[key] = fixed[key]
                repairs = merge_repairs(repairs, more, {"turns_from_json_text": [key]})
        before, adapted = set(data), True
        try:
            if cfg is not None and needs_adapting(cfg):
                converted = numbers_as_text(data, cfg.format, cfg.columns)
                if converted:  # a number where the text goes (an answer of 42): its text, recorded
                    repairs = merge_repairs(repairs, {"number_as_text": converted})
                own: list[str] = []
                data = adapt_record(data, cfg.format, cfg.columns, own)
                if own and cfg.columns:  # the mapping the user gave passed over: the row is read in its own format
                    repairs = merge_repairs(repairs, {"read_in_own_format": own})
            elif data.get("conversations") is None and data.get("messages") is not None:
                # OpenAI messages in a FineTome input: read as an input of messages reads them (a refusal is the
                # turn's text); a null `conversations` beside them is no column of the row. FineTome's own turns
                # under `messages` are a row that misnames its chat column: left for validation to name.
                if _openai_turns(data["messages"]):
                    data = adapt_record({k: v for k, v in data.items() if k != "conversations"}, "messages", {})
            elif data.get("conversations") is None:
                # a row of another format in a FineTome input (a file of mixed shapes): read in its own format,
                # which is all it can be; one of no format is left as it is for validation to name
                data = adapt_record(data, "conversations", {})
            elif isinstance(data.get("system"), str):
                # a system prompt beside FineTome turns that the input's first records did not show (it first
                # comes further in the file): put in front of the turns, as the input's format would have put it
                data = dict(data)
                system_in_front(data, "conversations")
            else:
                adapted = False
        except FormatError as exc:
            raise RowError(str(exc)) from None
        if adapted and isinstance(data, dict):  # converted: the columns it folded into the turns
            folded = before - set(data)
            if data.get("conversations") is None and "messages" in data:  # (OpenAI messages, read as they are)
                folded |= {"messages"}
            repairs = _named_as_turns(repairs, folded)
        return data, repairs

    def _adapted(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, str | None]:
        """The batch with its input's format converted to ``conversations`` column-wise (rows the conversion
        cannot take go record by record), and the input's name."""
        if INPUT not in batch.schema.names or batch.num_rows == 0:
            return batch, None
        name = batch.column(INPUT)[0].as_py()
        cfg = self.inputs.get(name)
        if cfg is None or not needs_adapting(cfg):
            return batch, name
        internal = [c for c in batch.schema.names if c in rawcols.INTERNAL_COLUMNS or c == INPUT]
        parsed = pa.Table.from_batches([batch.select([c for c in batch.schema.names if c not in internal])])
        try:
            adapted = to_conversations(parsed, cfg.format, cfg.columns, where=name)
        except FormatError:  # a type the columns cannot take here: every row record by record
            return batch.select(internal), name
        columns = {c: batch.column(c) for c in internal}
        slow = np.asarray(batch.column(rawcols.SLOW).fill_null(True), dtype=bool) | ~np.asarray(adapted.ok, dtype=bool)
        columns[rawcols.SLOW] = pa.array(slow)
        for c in adapted.table.column_names:
            col = adapted.table.column(c)
            columns[c] = contiguous(col)
        if adapted.original is not None:
            columns[ORIGINAL] = adapted.original
        return pa.RecordBatch.from_pydict(columns), name

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        n = batch.num_rows
        given = batch
        batch, input_name = self._adapted(batch)
        ok = self._screen(batch)
        cfg = self.inputs.get(input_name) if input_name is not None else None
        if "system" in batch.schema.names and (cfg is None or not needs_adapting(cfg)):
            # FineTome turns read as they are, with a system prompt beside them that the first records did not
            # show: the record path puts it in front of the turns (:meth:`_prepared`)
            system = batch.column("system")
            if pa.types.is_string(system.type) or pa.types.is_large_string(system.type):
                ok &= np.asarray(system.is_null(), dtype=bool)
        declared = self._declared(given)
        parts = [self._fast_rows(batch, ok, declared)] if ok.any() else []
        quarantine: list[dict[str, Any]] = []
        slow_rows: list[dict[str, Any]] = []
        errors = batch.column(rawcols.ERROR)
        for i in np.flatnonzero(~ok).tolist():
            pos = batch.column(POS)[i].as_py()
            rid = batch.column(rawcols.ID)[i].as_py()
            error = errors[i].as_py()
            data = None
            if error is None:
                try:
                    data = self._record(given, i)
                    prepared, repairs = self._prepared(data, input_name)
                    raw = self._raw_text(given, i)
                    if raw is not None and raw[0].startswith("\ufeff"):  # a mark in front of a later line
                        repairs["bom"] = ["(line)"]
                    row = validate_record(prepared, self.cfg, self.owned, repairs)
                    row[POS], row["id"] = pos, rid
                    if repairs:
                        row[REPAIRS] = repairs_json(repairs)
                    if self.label and input_name is not None:
                        row["input"] = input_name
                    slow_rows.append(row)
                    continue
                except json.JSONDecodeError as exc:
                    error = f"not valid JSON: {exc.msg} (column {exc.colno})"
                except RowError as exc:
                    error = str(exc)
                except RecursionError:  # JSON nested deeper than Python parses (the reader quarantines most)
                    error = "not readable JSON: nested too deeply"
            quarantine.append(self._quarantined(given, i, pos, rid, data, error))
        if slow_rows:
            parts.append(_rows_table(slow_rows, declared))
        # (a column holding an integer past 2**53 is marked: beside floats it becomes JSON text, not rounded)
        table = concat_unified([mark_wide_ints(part) for part in parts]) if parts else _empty_rows()
        if len(parts) > 1:
            table = table.take(pc.sort_indices(table.column(POS)))
        # the columns the run makes (repairs, then input) last, in one order whichever way the rows went: a batch
        # of record-by-record rows alone listed them in another order than one merged with columnar rows, and the
        # output's column order (set by the first batch) then followed engine.batch_rows
        made = [name for name in (REPAIRS, *(["input"] if self.label else [])) if name in table.schema.names]
        if made:
            table = table.select([n for n in table.schema.names if n not in made] + made)
        kinds: dict[str, int] = {}
        for q in quarantine:
            kinds[error_kind(q["error"])] = kinds.get(error_kind(q["error"]), 0) + 1
        q_table = pa.Table.from_pylist(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else None
        out = table.combine_chunks().to_batches()
        return StageOutput(
            out[0] if out else pa.RecordBatch.from_pylist([], schema=table.schema),
            quarantine=q_table,
            stats={"errors": dict(sorted(kinds.items()))},
        )

    def _quarantined(self, batch: pa.RecordBatch, i: int, pos: int, rid: str, data: Any, error: str) -> dict[str, Any]:
        line = batch.column(rawcols.LINE)[i].as_py()
        file = batch.column(rawcols.FILE)[i].as_py()
        position = {"file": file, "line": line} if line is not None else {"file": file, "row": batch.column(rawcols.ROW)[i].as_py()}
        if self.label and INPUT in batch.schema.names:
            position["input"] = batch.column(INPUT)[i].as_py()
        if line is not None:
            raw: Any = self._raw_text(batch, i)[0]
        else:
            raw = data if data is not None else self._record(batch, i)
            raw = json.loads(json.dumps(raw, default=str))
        return {
            POS: pos,
            "id": rid,
            "position": dumps_utf8(position),
            "raw": dumps_utf8(raw, default=str),  # (a lone surrogate escape of a loaded record kept as its escape)
            "error": error,
        }


QUARANTINE_SCHEMA = pa.schema(
    [(POS, pa.int64()), ("id", pa.string()), ("position", pa.string()), ("raw", pa.string()), ("error", pa.string())]
)


def _empty_rows() -> pa.Table:
    return pa.table(
        {
            POS: pa.array([], pa.int64()),
            "id": pa.array([], pa.string()),
            "conversations": pa.array([], TURNS),
            "source": pa.array([], pa.string()),
            "score": pa.array([], pa.float64()),
            **{name: pa.array([], TURNS if name == "original_conversations" else pa.string()) for name in PROVENANCE},
        }
    )


def _rows_table(rows: list[dict[str, Any]], declared: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Rows checked one by one, as a table with the same core columns as the columnar path; a key of
    ``declared`` (a typed input's own columns, :meth:`Validate._declared`) whose rows hold only nulls is kept, of
    its type, as the columnar path keeps it."""
    keys: dict[str, None] = {}
    for row in rows:
        for k in row:
            keys.setdefault(k, None)
    columns: dict[str, pa.Array] = {
        POS: pa.array([r[POS] for r in rows], pa.int64()),
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "conversations": pa.array([r["conversations"] for r in rows], TURNS),
        "source": pa.array([r["source"] for r in rows], pa.string()),
        "score": pa.array([r["score"] for r in rows], pa.float64()),
    }
    json_columns = set()
    for k in keys:
        if k in columns or k in PROVENANCE:
            continue
        values = [r.get(k) for r in rows]
        if all(v is None for v in values):  # as the columnar path: a key no row of these holds a value for stays out
            if declared and k in declared:  # (but a typed input's own column)
                columns[k] = pa.nulls(len(rows), declared[k])
            continue
        array = typed_array(values)
        if array is not None:
            columns[k] = array
        else:
            # values that share no type: JSON text, marked so that it is not encoded again beside a typed batch
            columns[k] = json_text(values)
            json_columns.add(k)
    columns["original_conversations"] = pa.array([r["original_conversations"] for r in rows], TURNS)
    for name in PROVENANCE[1:]:
        columns[name] = pa.nulls(len(rows), pa.string())
    schema = pa.schema([pa.field(k, c.type, metadata=JSON_TEXT if k in json_columns else None)
                        for k, c in columns.items()])
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


SPEC = register(
    StageSpec(
        name="validate",
        order=0,
        kind="row",
        config=ValidateConfig,
        build=lambda cfg, curation: Validate(cfg, getattr(curation, "inputs", None)),
        summary="schema checks; bad rows go to quarantine.jsonl with the error and their file/line",
        always_on=True,
    )
)
