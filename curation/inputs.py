"""Many inputs, one run: the ``inputs:`` list of the config (or ``--input`` repeated), resolved and read as one.

Each input names a path (a file, a glob, a folder of shards, compressed or not; a Hugging Face dataset id;
``sample`` for the embedded sample), its chat format (detected from its columns unless given), a column
mapping for any other shape, and how much of it the mixture takes (``weight`` or ``max_rows``; see the
``mix`` stage). :func:`open_inputs` resolves names and formats and gives one source whose units are the
inputs' units in list order, so that ``_pos`` orders rows by input first; every raw batch carries the
internal column ``_input`` (the input's name), from which validation converts the format and, with two
inputs or more, sets the public ``input`` column.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, Sequence

import pyarrow as pa
from pydantic import Field, ValidationError, field_validator, model_validator

from curation.core.config_base import StrictModel
from curation.core.temporal import rows_as_python
from curation.formats import (FORMATS, NEEDED_COLUMNS, PAIR_KEYS, REFUSAL, ROLE_MAP, TEXT_PARTS, TURN_KEYS, FormatError,
                              alpaca_aliases, apply_mapping, check_format_columns, detect_format, is_pair_shape,
                              kept_apart, look_alike_hint, shown_columns)
from curation.repair import turns_from_text
from tomecraft.files import LONE_SURROGATE, expand_user

INPUT = "_input"  # internal column: the input a raw record came from


class InputConfig(StrictModel):
    """One input of the run (``inputs:`` in the config; ``--input`` on the command line)."""

    path: str = Field(..., description="file, glob or folder of .jsonl/.json/.parquet (optionally .gz/.bz2/.xz/.zst), "
                                        "a Hugging Face dataset id, or `sample` (the embedded sample)")
    name: str | None = Field(None, description="the input's name in the `input` column and the report (default: from path)")
    weight: float | None = Field(None, gt=0, description="the input's share of the mixture, relative to the other weights")
    max_rows: int | None = Field(None, ge=0, description="take at most this many of its rows (instead of a weight)")
    split: str | None = Field(None, description="hub datasets, local datasets.save_to_disk DatasetDict folders and "
                              "local folders laid out as hub dataset repositories (files named by split, as "
                              "datasets.load_dataset names them): the split to read (default: train)")
    format: Literal["auto", "conversations", "messages", "alpaca", "prompt_completion"] = Field(
        "auto", description="chat format; auto: detected from the columns")
    columns: dict[str, str] = Field(default_factory=dict, description="canonical name -> the input's column, e.g. "
                                    "{instruction: question, output: answer} or {messages: dialog, role: speaker}")
    license: str | None = Field(None, description="the input's license, for the dataset card")
    streaming: bool = Field(False, description="hub datasets: stream the rows instead of downloading the dataset first")
    subset: str | None = Field(None, min_length=1, description="hub datasets: the configuration to read (datasets."
                               "load_dataset's name), for a dataset that has several, e.g. all of HuggingFaceTB/smoltalk")

    @field_validator("path")
    @classmethod
    def _some_path(cls, path: str) -> str:
        """A path names something: an empty one would be read as the working folder (and refused as the run's own
        output, a message about something else)."""
        if not path.strip():
            raise ValueError("the input path is empty: give a file, glob, folder or dataset id")
        return path

    @field_validator("split")
    @classmethod
    def _some_split(cls, split: str | None) -> str | None:
        """A split names one: a blank one was read as no split (train) without a word."""
        if split is not None and not split.strip():
            raise ValueError("the split is blank; give the split to read (e.g. test), or leave it out to read train")
        from curation.readers import SPLIT_NAME, SPLIT_NAME_RULE

        if split is not None and not SPLIT_NAME.fullmatch(split):  # (datasets refuses it only after loading every split)
            raise ValueError(f"{split!r} is no split name: {SPLIT_NAME_RULE} (e.g. test, train_sft)")
        return split

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str | None) -> str | None:
        """A name is one line of visible text: it labels every row (the ``input`` column) and a row of each table
        of the report, the card and the command's summary; a line break there splits the row in two, a NUL or a
        tab hides in it, a blank name shows nothing."""
        if name is None or name == "":  # not given: named from the path
            return name
        if all(c.isspace() or unicodedata.category(c) == "Cf" for c in name):  # (zero-width characters show nothing)
            raise ValueError("the name is blank; give it a visible character, or leave it out to name the input "
                             "from its path")
        if (lone := LONE_SURROGATE.search(name)) is not None:  # (from -i NAME=PATH: a config file's are refused before)
            raise ValueError(f"the name holds the lone surrogate {lone.group()!r}, which is no character; a name is one "
                             "line of visible text")
        bad = next((c for c in name if _control(c)), None)
        if bad is not None:
            kind = "bidirectional control character" if bad in _BIDI_CONTROLS else "control character"
            raise ValueError(f"the name holds the {kind} {bad!r}; a name is one line of visible text")
        return name

    @model_validator(mode="after")
    def _one_amount(self) -> "InputConfig":
        if self.weight is not None and self.max_rows is not None:
            raise ValueError("give an input a weight or max_rows, not both")
        return self


def default_name(path: str) -> str:
    """A short name for an input from its path: the file's stem, the folder's name, the dataset's name. A ``:split``
    is cut from a hub id or a save_to_disk folder only: an existing local path keeps its ``:`` (``a:b.jsonl``)."""
    text = path.rstrip("/")
    if text == "sample":
        return "sample"
    if "://" not in text and not _exists_locally(text):
        head = text.rpartition(":")[0]
        text = head if head and _exists_locally(head) else text.split(":", 1)[0]
    parts = [p for p in re.split(r"[/\\]", text) if p and not any(c in p for c in "*?[")]
    base = parts[-1] if parts else "input"
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".zstd", ".jsonl", ".ndjson", ".json", ".parquet"):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
    base = "".join("_" if _control(c) else c for c in base)  # a file named with a line break: one line still
    return base if base.strip() else "input"


# the bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069, as curation.report.markdown_text
# spells them out): in a name they reorder what follows them on the line (an input named "\u202etxt.a" shows as
# "a.txt", and the table's next cells run backwards after it). The marks (U+200E, U+200F, U+061C) only lean the
# characters beside them: Arabic or Hebrew names keep them
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control(char: str) -> bool:
    """A character no name may hold: a control character, a line or paragraph separator, or a bidi embedding,
    override or isolate."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS


def name_inputs(inputs: Sequence[InputConfig]) -> list[InputConfig]:
    """The inputs with unique names (given ones kept; a repeated default name gets ``-2``, ``-3``, ...)."""
    taken = [i.name for i in inputs if i.name]
    if len(taken) != len(set(taken)):
        dup = next(n for n in taken if taken.count(n) > 1)
        raise ValueError(f"inputs: the name {dup!r} is used twice")
    shown: dict[str, str] = {}
    for name in taken:  # names no reader of the report can tell apart are one name used twice
        other = shown.setdefault(as_shown(name), name)
        if other != name:
            raise ValueError(f"inputs: the names {other!r} and {name!r} look the same (they differ only in spaces at "
                             "their ends, in invisible characters or in how a letter is encoded); give them names "
                             "that differ")
    seen: dict[tuple[str, str, str | None], int] = {}
    for k, i in enumerate(inputs, start=1):  # the same data twice: dedup would remove every row of the second
        key = _data_key(i)
        if key in seen:
            raise ValueError(f"inputs: {i.path} is listed twice (inputs {seen[key]} and {k}); list it once: its "
                             "weight sets its share (the copy's rows would all be removed as duplicates)")
        seen[key] = k
    used = set(shown)
    bases = _default_bases(inputs)
    out = []
    for i, base in zip(inputs, bases):
        if i.name:
            out.append(i)
            continue
        name, k = base, 1
        while as_shown(name) in used:
            k += 1
            name = f"{base}-{k}"
        used.add(as_shown(name))
        out.append(i.model_copy(update={"name": name}))
    return out


def _default_bases(inputs: Sequence[InputConfig]) -> list[str]:
    """Each unnamed input's default name before numbering (:func:`default_name`). Inputs that would share one are
    told apart by what differs among them, their subsets (``smoltalk-smol-magpie-ultra``,
    ``smoltalk-smol-rewrite``) or splits (``ds-train``, ``ds-test``); where neither does (two files of one name in
    two folders) the numbers of :func:`name_inputs` do (``rows``, ``rows-2``)."""
    bases = [default_name(i.path) for i in inputs]
    groups: dict[str, list[int]] = {}
    for k, i in enumerate(inputs):
        if not i.name:
            groups.setdefault(bases[k], []).append(k)
    for base, members in groups.items():
        if len(members) < 2:
            continue
        keys = [_told_by(inputs[k]) for k in members]
        told = [part for part in (0, 1) if len({key[part] for key in keys}) > 1]  # subsets, then splits
        for k, key in zip(members, keys):
            extra = "-".join(str(key[part]) for part in told if key[part] is not None)
            if extra:
                bases[k] = "".join("_" if _control(c) else c for c in f"{base}-{extra}")
    return bases


def _told_by(cfg: InputConfig) -> tuple[str | None, str | None]:
    """An input's subset and the split it names (``split``, or a path's ``:SPLIT``; None where it names none)."""
    path, split, subset = _data_key(cfg)
    named = cfg.split is not None or path != _same_data_key(cfg.path)  # (a path's :SPLIT is cut from the key's path)
    return subset, split if named else None


def as_shown(name: str) -> str:
    """A name as a reader sees it in a table: without its invisible format characters (a zero-width space or
    joiner, a soft hyphen: category Cf), without spaces at its ends, its letters composed (NFC: ``e`` and a
    combining accent look like ``é``)."""
    visible = "".join(c for c in name if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFC", visible).strip()


def _same_data_key(path: str) -> str:
    """What tells two inputs' paths apart as data: an existing local path resolved (``./a.jsonl`` and ``a.jsonl``
    are one file), anything else (a hub id, a glob, a URL) as written."""
    if "://" not in path and not any(c in path for c in "*?[") and _exists_locally(path):
        try:
            return str(expand_user(path).resolve())
        except OSError:
            return path
    return path


def _data_key(cfg: InputConfig) -> tuple[str, str, str | None]:
    """What tells two inputs apart as data: the path (:func:`_same_data_key`), the split read (``split``, or the
    ``:SPLIT`` a hub id or dataset folder's path names; train when neither does, as the readers default) and the
    subset (a hub dataset's configurations are other rows: two of HuggingFaceTB/smoltalk's were refused as one
    input listed twice; ``org/ds`` and ``org/ds:train`` or ``split: train``, one split read twice, were not)."""
    path, split = cfg.path, cfg.split
    if split is None and "://" not in path and not _exists_locally(path):
        head, colon, named = path.rpartition(":")
        if colon and head and named and "/" not in named:  # (as :func:`_spec` reads a path's split)
            path, split = head, named
    return _same_data_key(path), split or "train", cfg.subset


def _spec(cfg: InputConfig) -> str | None:
    """What the reader opens for ``cfg``: its path, with ``:SPLIT`` when a ``split`` is given (a hub dataset's or a
    local dataset folder's; the reader names a wrong one). A path that names a split of its own (``ds:test``) and
    a ``split`` that names another is a :class:`ValueError` (was: the ``split`` was dropped unsaid and the path's
    split read); so is a ``split`` of the embedded sample or of a URI, which have none (was: dropped unsaid)."""
    if cfg.path == "sample":
        if cfg.split:
            raise ValueError(f"inputs: sample has split {cfg.split!r}, but the embedded sample has no splits; leave "
                             "split out")
        return None
    if not cfg.split:
        return cfg.path
    if "://" in cfg.path:  # (was: dropped unsaid, every file under the URI read)
        raise ValueError(f"inputs: {cfg.path} has split {cfg.split!r}, but splits are read from hub datasets and local "
                         "folders only, not from a URI; give the split's files as the path, or leave split out")
    if not _exists_locally(cfg.path):
        head, colon, named = cfg.path.rpartition(":")
        if colon and head and named and "/" not in named:  # the path names a split already
            if named != cfg.split:
                raise ValueError(f"inputs: {cfg.path} names split {named!r} but its split is {cfg.split!r}; give the "
                                 "split once (in the path or as split:)")
            return cfg.path
    return f"{cfg.path}:{cfg.split}"


def _first_records(source, sample: int = 64) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names of the first records of a source, and the first ``sample`` of them as JSON objects (their
    turn keys tell a chat column's shape). Reads its first batch only (the first that holds a record), once per
    source: the format's detection and its checks look at the same records."""
    cache = source.__dict__.setdefault("_first_records", {})
    if sample not in cache:
        cache[sample] = _read_first_records(source, sample)
    names, records = cache[sample]
    return list(names), list(records)


def _read_first_records(source, sample: int) -> tuple[list[str], list[dict[str, Any]]]:
    from curation.readers import raw as rawcols

    # blocks of 1 MB, joined up to ``sample`` rows: a few blocks hold them, whatever the rows' width (in blocks of
    # 64 kB joined up to 256 rows, rows of 2,000 columns were parsed one by one, each parse paying for every column)
    for batch in source.batches(sample, block_bytes=1 << 20):
        names = [n for n in batch.schema.names if n not in rawcols.INTERNAL_COLUMNS]
        records = []
        head = batch.slice(0, sample)
        raws = head.column(rawcols.RAW).to_pylist() if rawcols.RAW in batch.schema.names else []
        for raw in raws:
            try:
                value = json.loads(raw.split(b"\n", 1)[0]) if raw else None
            except (ValueError, UnicodeDecodeError, RecursionError):  # the reader quarantines those lines
                continue
            if isinstance(value, dict):
                records.append(value)
        if not records and names:  # a table's rows (Parquet, a loaded dataset), or JSON that parsed column-wise only
            try:
                records = rows_as_python(head.select(names))
            except RecursionError:  # a column nested too deeply to walk: validation quarantines its rows
                records = []
        # and their JSON's keys: a record the columns could not take (a value of another type than the same key's
        # in the rows before it) is read record by record, and its keys are not among the columns' (a `system`
        # beside the turns was kept as a column of its own instead of becoming the first turn)
        keys = list(dict.fromkeys([*names, *(k for r in records for k in r)]))
        if keys:
            return keys, records
    return [], []


# a chat column's turns keyed as the other format keys them (or as Capybara's {input, output} pairs, which the
# conversations format reads by their keys): the format and mapping that read them
_OTHER_TURNS = {
    ("conversations", ("role", "content")): ("messages", {"messages": "conversations"}),
    ("conversations", PAIR_KEYS): ("conversations", {"conversations": "conversations"}),
    ("messages", ("from", "value")): ("conversations", {"conversations": "messages"}),
    ("conversation", ("role", "content")): ("messages", {"messages": "conversation"}),
    ("conversation", ("from", "value")): ("conversations", {"conversations": "conversation"}),
    ("conversation", PAIR_KEYS): ("conversations", {"conversations": "conversation"}),
}


def _turn_keys(records: Sequence[dict[str, Any]], column: str) -> tuple[str, str] | None:
    """``("from", "value")``, ``("role", "content")`` or ``("input", "output")`` (Capybara's pairs): how every
    turn of ``column`` in ``records`` is keyed, when they all agree (None when they do not, or hold no turn)."""
    found = set()
    for record in records:
        turns = record.get(column)
        for turn in turns if isinstance(turns, list) else []:
            if isinstance(turn, dict):
                found.add(("from", "value") if "from" in turn and "value" in turn
                          else ("role", "content") if "role" in turn and "content" in turn
                          else PAIR_KEYS if any(k in turn for k in PAIR_KEYS) and not any(k in turn for k in TURN_KEYS)
                          else None)
    return found.pop() if len(found) == 1 and None not in found else None


def resolve_input(cfg: InputConfig, source) -> InputConfig:
    """The input with its chat format resolved (:func:`resolve_format`). An input left to detection whose chat
    column's turns are keyed the other format's way (``conversations`` of role/content turns, ``messages`` of
    from/value turns) or whose chat column is ``conversation``, as lmsys and WildChat name it, or whose turns are
    Capybara's ``{input, output}`` pairs, gets the format and column mapping that read it column-wise; so does
    one whose columns name a question and its answer otherwise (:func:`curation.formats.alpaca_aliases`:
    Dolly's, GSM8K's, MetaMathQA's, OpenOrca's, FLAN's and Aya's)."""
    if cfg.format == "auto" and not cfg.columns:
        shape = detected_shape(*_first_records(source))
        if shape is not None:
            fmt, columns = shape
            update = {**({"format": fmt} if fmt is not None else {}), **({"columns": columns} if columns else {})}
            if fmt is None or not columns:  # a mapping alone, or a format alone: resolved on from there
                return resolve_input(cfg.model_copy(update=update), source)
            return cfg.model_copy(update=update)
    resolved = cfg.model_copy(update={"format": resolve_format(cfg, source)})
    names, records = _first_records(source)
    if (resolved.format == "conversations" and not resolved.columns and "system" in names
            and all(isinstance(r.get("system"), (str, type(None))) for r in records)):
        # LLaMA-Factory's ShareGPT: a system prompt beside the turns, which the conversion puts in front of them
        # (FineTome rows are otherwise read as they are)
        resolved = resolved.model_copy(update={"columns": {"system": "system"}})
    return resolved


def detected_shape(names: Sequence[str], records: Sequence[dict[str, Any]]) -> tuple[str | None, dict[str, str]] | None:
    """``(format, column mapping)`` that reads rows of columns ``names`` (the first ``records`` shown) where they
    are not in a format's own shape, as :func:`resolve_input` tells an input's, or None. The format is None for
    a mapping of names spelled in another case (told from the mapped names), the mapping empty for a format whose
    own column is read as another's (``messages`` beside a ``conversations`` that holds no turns)."""
    folded = _casefolded(names, records)
    if folded:  # `Conversations` of `{From, Value}` turns: FineTome's names in another case
        return None, folded
    if "conversations" in names and "messages" in names and _holds_no_turns(records, "conversations") \
            and not _holds_no_turns(records, "messages"):
        # `messages` of turns beside a `conversations` that holds none (an id, a transcript as one string): the
        # turns are read from `messages`, the other column kept as `input_conversations` (was: every row
        # quarantined, "'conversations' is str, expected a list of turns")
        return "messages", {}
    chat = next((c for c in ("conversations", "messages", "conversation") if c in names), None)
    if chat is not None and not (chat == "conversation" and detect_format(names)):
        keys = _turn_keys(records, chat)
        if (chat, keys) in _OTHER_TURNS:
            return _OTHER_TURNS[(chat, keys)]
        # turns keyed neither way (`conversations` of `{speaker, text}`): read by their role and text keys, as a
        # chat column under another name is (was: every row quarantined, "turn 1: missing 'from'", where the
        # same turns under `dialog` were read)
        found = turn_list_column([chat], records) if _unread_turn_part(records, chat, {}) else None
        if found is not None and unsupported_shape(names, records) is None:
            fmt = "messages" if chat == "messages" else "conversations"
            role, text = ("role", "content") if fmt == "messages" else ("from", "value")
            return fmt, {fmt: chat, role: found[1], text: found[2]}
    aliases = alpaca_aliases(names) if chat is None and detect_format(names) is None else None
    if aliases:  # a question and its answer under other names
        return "alpaca", aliases
    turns = turn_list_column(names, records) if chat is None and detect_format(names) is None else None
    # one column of turns under other names (`dialog` of `{speaker, text}`); preference pairs stay refused
    if turns is not None and unsupported_shape(names, records) is None:
        column, role, text = turns
        return "messages", {"messages": column, "role": role, "content": text}
    return None


def _holds_no_turns(records: Sequence[dict[str, Any]], column: str) -> bool:
    """Whether no first record holds a list in ``column`` (and one at least holds a value there)."""
    values = [r.get(column) for r in records if r.get(column) is not None]
    return bool(values) and not any(isinstance(v, list) for v in values)


# the names a turn's text goes by, preferred where a turn holds more than one text beside its role
_TEXT_KEYS = ("content", "value", "text", "message", "utterance", "body")


def turn_list_column(names: Sequence[str], records: Sequence[dict[str, Any]]) -> tuple[str, str, str] | None:
    """``(column, role key, text key)`` of the one column of an input's first ``records`` that holds lists of
    turns under names no format uses (``dialog`` of ``{speaker, text}`` turns): in every record a list (or null),
    one at least not empty, each turn an object with a key whose every value is a role :data:`ROLE_MAP` knows
    and one other key of text (one of :data:`_TEXT_KEYS` where there are several). None where no column or
    more than one is such a column, or a turn's keys leave its role or its text in doubt."""
    found = []
    for name in names:
        values = [r.get(name) for r in records]
        lists = [v for v in values if v is not None]
        if not lists or not all(isinstance(v, list) for v in lists) or not any(lists):
            continue
        turns = [t for v in lists for t in v]
        if not all(isinstance(t, dict) for t in turns):
            continue
        keys = list(dict.fromkeys(k for t in turns for k in t))
        roles = [k for k in keys if all(isinstance(t.get(k), str) and t[k].strip().lower() in ROLE_MAP for t in turns)]
        texts = [k for k in keys if k not in roles and all(isinstance(t.get(k), str) for t in turns)]
        if len(texts) > 1:  # several keys of text: the one usual name among them, or none
            usual = [k for k in texts if k.lower() in _TEXT_KEYS]
            texts = usual if len(usual) == 1 else []
        if len(roles) == 1 and len(texts) == 1:
            found.append((name, roles[0], texts[0]))
    return found[0] if len(found) == 1 else None


# chat columns whose name a detection may read in another case (`Conversations`, `Instruction`)
_FOLDED_COLUMNS = ("conversations", "messages", "instruction", "input", "output", "system", "prompt", "completion")


def _casefolded(names: Sequence[str], records: Sequence[dict[str, Any]]) -> dict[str, str] | None:
    """The column mapping of an input that spells a format's column names (``Conversations``, ``Instruction``)
    or its turns' keys (``From``, ``Value``) in another case, each by exactly one name; None when its names
    are the formats' own, or are not theirs in any case."""
    def folded(given: Sequence[str], wanted: Sequence[str]) -> dict[str, str]:
        by_fold: dict[str, list[str]] = {}
        for name in given:
            by_fold.setdefault(str(name).casefold(), []).append(name)
        return {w: by_fold[w][0] for w in wanted if w not in given and len(by_fold.get(w, ())) == 1}

    mapping = {}
    mapped = list(names)
    if detect_format(names) is None and "conversation" not in names:
        mapping = folded(names, _FOLDED_COLUMNS)
        mapped = [next((k for k, v in mapping.items() if v == n), n) for n in names]
        if detect_format(mapped) is None:
            return None
    fmt = detect_format(mapped)
    given = {canonical: mapping.get(canonical, canonical) for canonical in NEEDED_COLUMNS.get(fmt, ())}
    keys = [k for r in records for c in given.values() if isinstance(r.get(c), list)
            for t in r[c] if isinstance(t, dict) for k in t]
    keys = list(dict.fromkeys(keys))
    for pair in (("from", "value"), ("role", "content")):
        if not any(k in keys for k in pair):
            turn_keys = folded(keys, pair)
            if len(turn_keys) == 2:
                mapping.update(turn_keys)
                break
    return mapping or None


def input_where(cfg: InputConfig) -> str:
    """How a message names an input: its path, with its name in front when the user gave it one."""
    if cfg.name is None or cfg.name == default_name(cfg.path):
        return cfg.path
    return f"{cfg.name} ({cfg.path})"


def resolve_format(cfg: InputConfig, source) -> str:
    """The input's chat format: as configured, or detected from the columns of its first records. A column
    mapping is checked against those columns either way (a mapped column the input does not have is one
    :class:`FormatError`, not every row quarantined)."""
    names, records = _first_records(source)
    if not names:  # an empty input: nothing to convert, and nothing to tell the format by
        return "conversations" if cfg.format == "auto" else cfg.format
    where = input_where(cfg)
    turn_keys: dict[str, str] = {}
    if cfg.columns:
        table = pa.table({n: pa.nulls(0) for n in names})
        table, turn_keys = apply_mapping(table, cfg.columns, where=where)
        names = table.column_names
    if cfg.format != "auto":
        check_format_columns(names, cfg.format, where)  # a format the input has no columns for: one error
        _check_mapped_turns(records, cfg.format, cfg.columns or {}, where)
        _check_turn_keys(records, (cfg.columns or {}).get(cfg.format, cfg.format), turn_keys, where)
        _check_mapped_turns_read(records, cfg.format, cfg.columns or {}, turn_keys, where)
        return cfg.format
    found = detect_format(names)
    if found is None:
        shape = unsupported_shape(names, records)
        if shape is not None:
            raise FormatError(f"{where}: {shape}")
        raise FormatError(
            f"{where}: cannot tell the chat format from its columns ({shown_columns(names)}); "
            "expected conversations, messages, instruction+output, prompt+completion, or one question and one answer "
            f"column (question/query/prompt/inputs, answer/response/targets) (set this input's format and columns)"
            f"{look_alike_hint(names)}")
    if found in ("conversations", "messages"):
        _check_mapped_turns(records, found, cfg.columns or {}, where)
        _check_turn_keys(records, (cfg.columns or {}).get(found, found), turn_keys, where)
        _check_mapped_turns_read(records, found, cfg.columns or {}, turn_keys, where)
    elif found == "prompt_completion":
        if not cfg.columns and _unpaired_preferences(names, records):
            raise FormatError(
                f"{where}: holds unpaired preference data (prompt, completion and a true/false label, as KTO "
                "trains on): read as prompt/completion it would keep the completions labelled false (the answers not "
                "to give) as answers; preference data is not supported: keep the rows labelled true (and drop the "
                "label column), or set this input's format: prompt_completion to take every row as it is")
        _check_turn_keys(records, [(cfg.columns or {}).get(c, c) for c in ("prompt", "completion")], turn_keys, where)
    return found


# the shapes of popular datasets that no chat format fits, told by their columns (see unsupported_shape)
PREFERENCE_COLUMNS = ("chosen", "rejected")  # DPO, reward-model and RLHF pairs (TRL's, Anthropic's HH-RLHF)
MESSAGE_TABLE_COLUMNS = ("message_id", "parent_id", "role", "text")  # OpenAssistant's messages, one per row
PLAIN_TEXT_COLUMN = "text"  # pretraining-style text


def unsupported_shape(names: Sequence[str], records: Sequence[dict[str, Any]]) -> str | None:
    """What an input that no chat format fits holds, and what to do about it, for the shapes of popular datasets
    that tome cannot take as they are (preference pairs, OpenAssistant's message table, plain text); None for
    anything else. One line, for :class:`FormatError`: a run of such an input would otherwise stop at a message
    that the format cannot be told, which says neither."""
    columns = set(names)
    if set(PREFERENCE_COLUMNS) <= columns:
        chosen = next((r["chosen"] for r in records if r.get("chosen") is not None), None)
        what = ("holds preference pairs (columns chosen and rejected: a better and a worse answer, for DPO or a "
                "reward model); preference data is not supported")
        first = chosen[0] if isinstance(chosen, list) and chosen and isinstance(chosen[0], dict) else None
        if first is not None:
            role = first.get("role", first.get("from"))
            whole = isinstance(role, str) and ROLE_MAP.get(role.strip().lower()) in ("human", "system")
            if whole:  # the prompt's turns and the answer: a conversation as it is
                return (f"{what}: to curate the chosen conversations as SFT rows, set this input's format: messages "
                        "and columns: {messages: chosen} (rejected is kept as a column)")
            if "prompt" in columns:
                return (f"{what}: to curate the prompts with their chosen answers as SFT rows, set this input's "
                        "format: prompt_completion and columns: {completion: chosen} (rejected is kept as a column)")
        elif isinstance(chosen, str) and "prompt" in columns:
            return (f"{what}: to curate the prompts with their chosen answers as SFT rows, set this input's "
                    "format: prompt_completion and columns: {completion: chosen} (rejected is kept as a column)")
        elif isinstance(chosen, str) and (question := next((c for c in ("instruction", "question", "query")
                                                            if c in columns), None)):  # Intel's orca_dpo_pairs
            return (f"{what}: to curate the questions with their chosen answers as SFT rows, set this input's "
                    f"format: alpaca and columns: {{instruction: {question}, output: chosen}} (rejected is kept as "
                    "a column)")
        elif isinstance(chosen, str):
            return (f"{what}, and each side is one transcript text (as HH-RLHF's 'Human: ... Assistant: ...'), "
                    "which tome does not split into turns: convert the chosen side to conversations or "
                    "messages first")
        return f"{what}: convert the chosen side to conversations or messages first"
    if set(MESSAGE_TABLE_COLUMNS) <= columns:
        return ("holds one message per row (OpenAssistant's message table: message_id, parent_id, role, text), not "
                "one conversation per row; tome does not rebuild conversation trees: join each path from a root "
                "prompt to an answer into one row of messages ({role, content} turns) first")
    if PLAIN_TEXT_COLUMN in columns and alpaca_aliases(names) is None and not any(
            c in columns for c in ("conversation", "instruction", "prompt", "question", "query", "inputs")):
        return ("holds plain text (a 'text' column and no turns: pretraining-style data), not conversations; tome "
                "curates chat data: give an input with conversations, messages, instruction and output, or prompt "
                "and completion columns (set this input's format and columns to map others)")
    return None


def _unpaired_preferences(names: Sequence[str], records: Sequence[dict[str, Any]]) -> bool:
    """Whether prompt/completion rows carry a true/false ``label`` (TRL's unpaired preference shape, KTO's): some
    completions are the answers not to give."""
    labels = [r.get("label") for r in records if r.get("label") is not None]
    return "label" in names and bool(labels) and all(isinstance(v, bool) for v in labels)


def _check_mapped_turns(records: Sequence[dict[str, Any]], fmt: str, columns: Mapping[str, str], where: str) -> None:
    """:class:`FormatError` when ``columns`` maps the chat column of ``fmt`` (``conversations: question``) to a
    column that holds no list of turns in any of the first records (text, a number; JSON text of a list counts, as
    validation reads it as the turns): the mapping names the
    wrong column, and every row would be quarantined for it, one by one. An unmapped chat column holding text
    is damaged data: its rows are quarantined, each with its error."""
    column = columns.get(fmt) if fmt in ("conversations", "messages") else None
    if column is None:
        return
    values = [r[column] for r in records if r.get(column) is not None]
    if values and not any(isinstance(v, list) or turns_from_text(v) is not None for v in values):
        kind = type(values[0]).__name__
        raise FormatError(f"{where}: columns maps {fmt!r} to {column!r}, but no value of {column!r} in its first "
                          f"records is a list of turns (the first is {kind}); map {fmt!r} to the column of the turns, "
                          "or set this input's format and columns for its shape (e.g. format: alpaca, "
                          "columns: {instruction: QUESTION, output: ANSWER})")


def _unread_turn_part(records: Sequence[dict[str, Any]], column: str, turn_keys: Mapping[str, str]) -> str | None:
    """``"role"`` or ``"text"`` when no turn of ``column`` in the first ``records`` has a key that the reading of
    turns takes for it (``turn_keys``' mapped key, else ``from``/``role`` and ``value``/``content``); None when
    both are found somewhere, when there is no turn to tell by, and for Capybara's ``{input, output}`` pairs."""
    seen = {k for r in records for t in (r.get(column) if isinstance(r.get(column), list) else [])
            if isinstance(t, dict) for k in t}
    if not seen or (any(k in seen for k in PAIR_KEYS) and not any(k in seen for k in TURN_KEYS)):
        return None
    for part, canonical in (("role", ("from", "role")), ("text", ("value", "content"))):
        keys = {turn_keys[k] for k in canonical if k in turn_keys} or set(canonical)
        if not seen & keys:
            return part
    return None


def _check_mapped_turns_read(records: Sequence[dict[str, Any]], fmt: str, columns: Mapping[str, str],
                             turn_keys: Mapping[str, str], where: str) -> None:
    """:class:`FormatError` when ``columns`` maps the chat column of ``fmt`` (``messages: dialog``) or its turn keys
    and no turn of its first records has a key for the role, or none for the text, under the mapping: every row
    would be quarantined for it (was: "turn 1: missing 'role'", row by row). Names the keys to map where the
    turns tell them (:func:`turn_list_column`)."""
    if fmt not in ("conversations", "messages") or not (fmt in columns or turn_keys):
        return
    column = columns.get(fmt, fmt)
    part = _unread_turn_part(records, column, turn_keys)
    if part is None:
        return
    seen = sorted({str(k) for r in records for t in (r.get(column) if isinstance(r.get(column), list) else [])
                   if isinstance(t, dict) for k in t})
    role, text = ("from", "value") if fmt == "conversations" else ("role", "content")
    found = turn_list_column([column], records)
    hint = (f"map them: columns: {{{fmt}: {column}, {role}: {found[1]}, {text}: {found[2]}}}" if found is not None
            else f"map its turns' keys with columns {role}: and {text}:")
    raise FormatError(f"{where}: no turn of {column!r} in its first records has a key for its {part} (their keys: "
                      f"{', '.join(seen)}); {hint}")


def _check_turn_keys(records: Sequence[dict[str, Any]], chat: str | Sequence[str], turn_keys: Mapping[str, str],
                     where: str) -> None:
    """:class:`FormatError` when ``columns`` maps a turn key (``from: speaker``) to a key that no turn of the
    first records' chat column (``chat``, as the input names it; or columns: prompt and completion) holds: a
    misspelled key would leave every row's turns without a role or a text."""
    if not turn_keys:
        return
    chats = [chat] if isinstance(chat, str) else list(chat)
    seen = {k for r in records for c in chats for t in (r.get(c) if isinstance(r.get(c), list) else [])
            if isinstance(t, dict) for k in t}
    if not seen:  # no turn to tell by (the rows are checked one by one)
        return
    for canonical, given in turn_keys.items():
        if given not in seen:
            raise FormatError(f"{where}: columns maps {canonical!r} to {given!r}, but no turn of its first records has "
                              f"a key {given!r} (their keys: {', '.join(sorted(seen))})")


def needs_adapting(cfg: InputConfig) -> bool:
    """Whether validation converts this input's rows column-wise (FineTome rows without a mapping are read as
    they are; OpenAI messages are converted column-wise too, which is faster than record by record)."""
    return cfg.format != "conversations" or bool(cfg.columns)


@dataclass
class MultiSource:
    """Several inputs read as one, in list order. The same interface as :class:`curation.readers.InputSource`."""

    inputs: list[InputConfig]  # named, formats resolved
    sources: list[Any]  # one InputSource per input

    spec = "inputs"
    kind = "mix"

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for cfg, source in zip(self.inputs, self.sources):
            digest.update(json.dumps([cfg.name, cfg.format, cfg.columns, source.fingerprint], sort_keys=True).encode())
        return "inputs:" + digest.hexdigest()

    def describe(self, rows: int) -> dict[str, Any]:
        # one input (read through a format conversion, or with a weight) is no mix: its own kind (jsonl, parquet)
        kind = getattr(self.sources[0], "kind", self.kind) if len(self.sources) == 1 else self.kind
        return {"spec": ", ".join(c.name for c in self.inputs), "kind": kind, "fingerprint": self.fingerprint,
                "rows": rows}

    def input_records(self) -> list[dict[str, Any]]:
        """Per input, what the manifest and the card say about it (``split``: the split read of a local folder
        laid out as a hub dataset repository, :func:`curation.readers._split_folder`)."""
        return [{"name": c.name, "spec": c.path, "kind": s.kind, "format": c.format, "fingerprint": s.fingerprint,
                 "weight": c.weight, "max_rows": c.max_rows, "license": c.license or _known_license(c),
                 **({"split": s.split} if getattr(s, "split", None) is not None else {})}
                for c, s in zip(self.inputs, self.sources)]

    def units(self, unit_bytes: int | None = None, unit_records: int = 200_000) -> list:
        units = []
        for cfg, source in zip(self.inputs, self.sources):
            for unit in source.units(unit_bytes, unit_records):
                units.append(replace(unit, index=len(units), input=cfg.name))
        return units

    def read_unit(self, unit, batch_rows: int = 16_384, block_bytes: int = 8 << 20) -> Iterator[pa.RecordBatch]:
        k = next(i for i, c in enumerate(self.inputs) if c.name == unit.input)
        for batch in self.sources[k].read_unit(unit, batch_rows, block_bytes):
            yield batch.append_column(INPUT, pa.array([unit.input] * batch.num_rows, pa.string()))

    def batches(self, batch_rows: int = 16_384, block_bytes: int = 8 << 20) -> Iterator[pa.RecordBatch]:
        """Every input's batches in list order; small ones of one input joined (:func:`joined`), never two inputs'
        (validation adapts a batch as one input's format)."""
        from curation.readers.source import joined

        for _, mine in itertools.groupby(self.units(), key=lambda unit: unit.input):  # (units come input by input)
            yield from joined((b for unit in mine for b in self.read_unit(unit, batch_rows, block_bytes)), batch_rows)


def _known_license(cfg: InputConfig) -> str | None:
    return "apache-2.0" if cfg.path == "sample" else None


def open_inputs(inputs: Sequence[InputConfig]) -> MultiSource:
    """Open every input (names made unique, formats detected); :class:`InputError` / :class:`FormatError` name
    the input that cannot be read."""
    from curation.readers import InputError, open_input

    named = name_inputs(inputs)
    sources, resolved = [], []
    read_by: dict[tuple[str, str], tuple[int, str]] = {}
    for k, cfg in enumerate(named, start=1):
        try:
            source = open_input(_spec(cfg), streaming=cfg.streaming, subset=cfg.subset)
        except InputError as exc:  # the input's name in front, where it is not the path's (was: the path only)
            raise InputError(_with_name(cfg, str(exc))) from None
        _one_input_per_file(source, k, named, read_by)
        source.hash_in_background()  # while the format is told from the first records
        resolved.append(resolve_input(cfg, source))
        sources.append(source)
    return MultiSource(resolved, sources)


def _with_name(cfg: InputConfig, message: str) -> str:
    """``message`` (about the input's path) with the input's name in front, as :func:`input_where` names an input:
    ``chat (rows.jsonl): file not found``; as it is when the name is the one the path gives."""
    where = input_where(cfg)
    if where == cfg.path:
        return message
    spec = _spec_shown(cfg)
    if message.startswith(f"{spec}:"):
        return f"{cfg.name} ({spec}){message[len(spec):]}"
    return f"{where}: {message}"


def _spec_shown(cfg: InputConfig) -> str:
    try:
        return _spec(cfg) or cfg.path
    except ValueError:
        return cfg.path


def _one_input_per_file(source, k: int, named: Sequence[InputConfig],
                        read_by: dict[tuple[str, str], tuple[int, str]]) -> None:
    """Refuse a file that input ``k`` reads and an earlier input reads too (``read_by``: each file read so far, by
    its filesystem and the file itself (:func:`_local_file_key`), to the input reading it and the path it was
    read under). Overlapping globs or folders (``web/*.jsonl`` and ``web/a*.jsonl``; ``web`` and ``web/a.jsonl``)
    and hard links list the same file twice under two paths that the check of :func:`name_inputs` cannot tell
    apart: every row of the later copy would be removed as an exact duplicate of the earlier, and the later
    input's weight would ask for rows it can never give."""
    from pyarrow import fs as pafs

    filesystem = getattr(source, "filesystem", None)
    for file in getattr(source, "files", None) or ():
        if isinstance(filesystem, pafs.LocalFileSystem):
            key = ("local", _local_file_key(file))
        else:
            key = (getattr(filesystem, "type_name", type(filesystem).__name__), str(file))
        first, other = read_by.setdefault(key, (k, file))
        if first != k:
            if os.path.realpath(str(other)) != os.path.realpath(str(file)):  # one file under two names (a hard link)
                raise ValueError(f"inputs: {file} (input {k}, {named[k - 1].path}) and {other} (input {first}, "
                                 f"{named[first - 1].path}) are one file (a hard link); a file may be in one input "
                                 "only (the second copy's rows would all be removed as duplicates): list it once")
            raise ValueError(f"inputs: {file} is read by inputs {first} ({named[first - 1].path}) and {k} "
                             f"({named[k - 1].path}); a file may be in one input only (the second copy's rows would "
                             "all be removed as duplicates): narrow the globs or folders so that they do not overlap")


def _local_file_key(file: str) -> str:
    """What tells two local files apart: their device and inode (a hard link, and a path through a bind mount,
    is the same file under another path, which :func:`os.path.realpath` does not see: was read twice, every row of
    the later input removed as a duplicate), else the path resolved."""
    try:
        st = os.stat(file)
    except OSError:
        return os.path.realpath(file)
    return f"{st.st_dev}:{st.st_ino}" if st.st_ino else os.path.realpath(file)


def relative_to(inputs: Sequence[InputConfig], folder: Path) -> list[InputConfig]:
    """Inputs of a config file: a relative path that is not found from the working folder is taken relative to
    the file's folder."""
    out = []
    for i in inputs:
        path = expand_user(i.path)
        local = i.path != "sample" and not path.is_absolute() and "://" not in i.path
        if local and not path.exists() and (folder / path).exists():
            i = i.model_copy(update={"path": str(folder / path)})
        out.append(i)
    return out


def inputs_from_cli(specs: Sequence[str]) -> list[InputConfig]:
    """``--input`` values as inputs. ``PATH``, or ``NAME=PATH``; ``PATH@WEIGHT`` gives a weight. A value that is
    an existing local file or folder is that path, whatever ``=``, ``@`` or ``:`` it holds; so is a value that is
    one with ``@WEIGHT`` after it (``we=b.jsonl@3`` of a file ``we=b.jsonl``), and what is left of a value after
    ``NAME=``."""
    out = []
    for spec in specs:
        given = spec
        name = None
        weight = None
        whole_path = _exists_locally(spec) or ("@" in spec and _exists_locally(spec.rpartition("@")[0]))
        if (not whole_path and "=" in spec and not spec.startswith(("/", ".", "~"))
                and "://" not in spec.split("=", 1)[0]):
            name, spec = spec.split("=", 1)
        elif not whole_path and "=" in spec:
            head, _, rest = spec.partition("=")
            if "/" not in head and (_exists_locally(rest) or _exists_locally(rest.rpartition("@")[0])):
                # `.net=data.jsonl`: read as a path (a path may start so), which is not there; the file after `=` is
                raise ValueError(f"--input {given}: no such file; {rest} is one: a NAME in NAME=PATH cannot start with "
                                 "'.', '/' or '~' (a path can): name the input otherwise")
        match = None if _exists_locally(spec) else re.fullmatch(r"(.*)@([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)", spec)
        if match and not match.group(1):  # `@2`: a weight with nothing to weigh (a file named so would be read)
            raise ValueError(f"--input {given}: a weight with no input before it; give PATH@{match.group(2)} "
                             f"(or NAME=PATH@{match.group(2)})")
        if match:
            spec, weight = match.group(1), float(match.group(2))
        elif not _exists_locally(spec) and "@" in spec and _exists_locally(spec.rpartition("@")[0]):
            # PATH@WEIGHT of an existing path with a weight that is no number (nan, inf, 1_000, ...): say so, not
            # that PATH@WEIGHT is no file
            head, _, tail = spec.rpartition("@")
            raise ValueError(f"--input {given}: the weight {tail!r} is not a finite number; give {head}@W with W a "
                             "positive number, e.g. @2 or @0.5")
        try:
            out.append(InputConfig(path=spec, name=name, weight=weight))
        except ValidationError as exc:  # a weight of 0, a name that is blank or holds a line break
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            message = first["msg"].removeprefix("Value error, ")
            shown = given if given.strip() else repr(given)  # (an empty value shown as '')
            raise ValueError(f"--input {shown}: {where + ': ' if where else ''}{message}") from None
    return out


def _exists_locally(spec: str) -> bool:
    """Whether ``spec``, taken literally (no glob, no ``NAME=``, ``@WEIGHT`` or ``:split``), is a local file or
    folder; False for a URI or a name the system cannot hold."""
    return "://" not in spec and os.path.exists(os.path.expanduser(spec))


def adapt_record(data: Any, fmt: str, columns: Mapping[str, str], own_format: list[str] | None = None) -> Any:
    """One parsed record in FineTome's or OpenAI's shape (what :func:`curation.validate.validate_record` reads),
    by the same rules as :func:`curation.formats.to_conversations`; :class:`FormatError` names what is wrong.

    A record without the columns of ``fmt`` that has another format's (a shard of Alpaca rows in a folder read as
    OpenAI messages) is read in its own format, without the mapping: it can be nothing else. That format is
    appended to ``own_format`` when given (validation records it where a mapping the user gave was passed over)."""
    if not isinstance(data, dict):
        return data
    table_keys = {k: v for k, v in columns.items() if k not in TURN_KEYS}
    turn_keys = {k: v for k, v in columns.items() if k in TURN_KEYS}
    given = {v: k for k, v in table_keys.items()}
    record = {given.get(k, k if k not in table_keys else f"{k}__input"): v for k, v in data.items()}

    def col(name: str) -> str:
        """A column as a message names it: the input's own name, with the canonical one it is read as."""
        mapped = table_keys.get(name)
        return f"'{mapped}' (read as {name})" if mapped is not None and mapped != name else f"'{name}'"

    def missing(name: str, fmt: str) -> FormatError:
        mapped = table_keys.get(name)
        read_as = f"read as {name}; " if mapped is not None and mapped != name else ""
        own_keys = ", ".join(map(str, data)) or "no column"  # (the row's columns as the input has them)
        return FormatError(f"no column '{mapped or name}' ({read_as}the input is read as {fmt}; this row has "
                           f"{own_keys})")
    if any(record.get(k) is None for k in NEEDED_COLUMNS.get(fmt, ())):
        # a row of another format (a null is no value: a Parquet file or any table of rows of two formats holds
        # one in every column of the other's); beside the rows a mapping reads (a `system` column or turns keyed
        # role/content told from the first rows) too: read in its own format, as it would be without one
        given_keys = [k for k, v in data.items() if v is not None]
        own = detect_format(given_keys)
        if own is not None and (columns or own != fmt):
            if own_format is not None:
                own_format.append(own)
            data = {k: v for k, v in data.items() if v is not None or k not in _FOLDED_COLUMNS}
            return data if own == "conversations" else adapt_record(data, own, {})
        shape = _own_shape({k: data[k] for k in given_keys}) if own is None else None
        if shape is not None:  # a row of a shape detection reads (Dolly's, lmsys' `conversation`, a `dialog`)
            return adapt_record({k: data[k] for k in given_keys}, *shape)
    if fmt != "conversations" and "conversations" in record:  # the input's own, beside another format's columns
        record = {kept_apart(k): v for k, v in record.items()}
    if fmt in ("conversations", "messages"):
        key = fmt
        turns = record.get(key)
        target = ("from", "value") if key == "conversations" else ("role", "content")
        if key == "conversations" and not turn_keys and isinstance(turns, list):  # Capybara's {input, output} pairs
            turns = record[key] = [t for n, turn in enumerate(turns, start=1) for t in _pair_as_turns(turn, n)]
        # a mapping's turns, and OpenAI messages keyed FineTome's way, under the target's keys (unmapped FineTome
        # turns keyed role/content are validation's to read, which keeps them as given)
        if (turn_keys or key == "messages") and isinstance(turns, list):
            turns = record[key] = [_renamed_turn(t, _turn_keys_of(t, turn_keys, target), target)
                                   if isinstance(t, dict) else t for t in turns]
        if isinstance(turns, list):
            turns = record[key] = [_text_turn(t, target[1], n) for n, t in enumerate(turns, start=1)]
        if "system" in record:  # the system prompt beside the turns (LLaMA-Factory's ShareGPT)
            system_in_front(record, key, target, col("system"))
        return record
    if fmt == "alpaca":
        for name in ("instruction", "output"):
            if name not in record:
                raise missing(name, "alpaca")
            if record.get(name) is None:
                raise FormatError(f"column {col(name)} is null")
        text = {k: _text_value(record.get(k), k, col(k)) for k in ("instruction", "input", "output", "system")}
        human = text["instruction"] + ("\n\n" + text["input"] if text["input"] and text["input"].strip() else "")
        turns = ([{"from": "system", "value": text["system"]}] if text["system"] and text["system"].strip() else [])
        turns += _history_turns(record.get("history"))
        turns += [{"from": "human", "value": human}, {"from": "gpt", "value": text["output"]}]
        rest = {k: v for k, v in record.items() if k not in ("instruction", "input", "output", "system", "history")}
        return {"conversations": turns, **rest}
    if fmt == "prompt_completion":
        turns = []
        for name, role in (("prompt", "human"), ("completion", "gpt")):
            if name not in record:
                raise missing(name, "prompt_completion")
            value = record.get(name)
            if value is None:
                raise FormatError(f"column {col(name)} is null")
            if isinstance(value, list):
                for t in value:
                    if not isinstance(t, dict):
                        raise FormatError(f"column {col(name)}: a turn is {type(t).__name__}, expected an object")
                    role_key, text_key = _turn_keys_of(t, turn_keys, ("role", "content"))
                    t = _text_turn(t, text_key, len(turns) + 1)
                    for key in (role_key, text_key):  # named as the messages key them, not as the turns they become
                        if key not in t:
                            raise FormatError(f"column {col(name)}: turn {len(turns) + 1}: missing '{key}'")
                    given_role = t.get(role_key)
                    mapped = ROLE_MAP.get(given_role.strip().lower(), given_role) if isinstance(given_role, str) else given_role
                    turns.append({**{k: v for k, v in t.items() if k not in (role_key, text_key)},
                                  "from": mapped, "value": t.get(text_key)})
            elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                turns.append({"from": role, "value": _text_value(value, name, col(name))})
            else:
                raise FormatError(f"column {col(name)} is {type(value).__name__}, expected text or a list of messages")
        rest = {k: v for k, v in record.items() if k not in ("prompt", "completion")}
        return {"conversations": turns, **rest}
    raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _own_shape(record: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The format and column mapping that read ``record`` (a row none of whose keys is a format's own column) in
    its own shape, as :func:`detected_shape` tells an input of such rows: a row of Dolly's, GSM8K's or lmsys'
    shape in a file of FineTome rows is read as it would be in a file of its own. None where it shows none, where
    the mapping would still leave a column the format needs unfilled, and for FineTome's own turns (keyed
    ``from``/``value``) under another name or in another case (``turns``, ``dialogue``, ``Conversations``): in an
    input of FineTome rows that is a row that misspells its chat column, which validation names (the embedded
    sample plants such rows), not a row of another dataset."""
    shape = detected_shape(list(record), [record])
    if shape is None or shape[0] is None:  # (FineTome's names in another case: a misspelt row, as below)
        return None
    fmt, columns = shape
    chat = columns.get("conversations") or columns.get("messages")
    turns = record.get(chat) if chat is not None else None
    if isinstance(turns, list) and any(isinstance(t, dict) and "from" in t and "value" in t for t in turns):
        return None  # FineTome's own turns under another name (`turns`, `dialogue`): a misspelt row, not a dataset's
    needed = NEEDED_COLUMNS.get(fmt, ())
    if any(record.get(columns.get(k, k)) is None for k in needed):
        return None
    return fmt, columns


def _pair_as_turns(turn: Any, n: int) -> list[Any]:
    """A Capybara ``{input, output}`` pair (an object with either key and no role or text key) as a human turn and
    the gpt turn answering it, the pair's other keys on the human turn (validation records them as dropped), as
    :func:`curation.formats._pair_turns` reads a column of them; any other turn as it is."""
    if not isinstance(turn, dict) or any(k in turn for k in TURN_KEYS) or not any(k in turn for k in PAIR_KEYS):
        return [turn]
    missing = [k for k in PAIR_KEYS if k not in turn]
    if missing:
        raise FormatError(f"pair {n}: an {{input, output}} pair without '{missing[0]}'")
    rest = {k: v for k, v in turn.items() if k not in PAIR_KEYS}
    return [{"from": "human", "value": turn["input"], **rest}, {"from": "gpt", "value": turn["output"]}]


def _turn_keys_of(turn: dict[str, Any], turn_keys: Mapping[str, str], target: tuple[str, str]) -> tuple[str, str]:
    """The keys that hold a turn's role and its text: the ones the column mapping names; else the target
    shape's own (``target``: ``("role", "content")`` or ``("from", "value")``) where the turn has a value there,
    else the other shape's where it has that key. Column-wise, :func:`curation.formats.to_conversations` reads
    a column's turns keyed either way, or by the mapping, and so must a record: a mapping that names the role
    only (``role: speaker``) left every record's text unread."""
    keys = []
    for mapped, own, other in ((turn_keys.get("from") or turn_keys.get("role"), target[0], _OTHER_KEY[target[0]]),
                               (turn_keys.get("value") or turn_keys.get("content"), target[1], _OTHER_KEY[target[1]])):
        keys.append(mapped or (own if turn.get(own) is not None or other not in turn else other))
    return keys[0], keys[1]


_OTHER_KEY = {"from": "role", "role": "from", "value": "content", "content": "value"}


def _renamed_turn(turn: dict[str, Any], keys: tuple[str, str], target: tuple[str, str]) -> dict[str, Any]:
    """``turn`` with its role and text (under ``keys``) under ``target``'s keys, its other keys kept (validation
    records them as dropped); a key the turn lacks stays missing, for validation to name."""
    out = {k: v for k, v in turn.items() if k not in keys and k not in target}
    for given, wanted in zip(keys, target):
        if given in turn:
            out[wanted] = turn[given]
    return out


def _text_value(value: Any, column: str, shown: str | None = None) -> str | None:
    """An Alpaca column's text: a string, or a finite number as its text (``42``; validation records that repair,
    :func:`numbers_as_text`); null stays null. ``shown``: the column as a message names it (default ``'column'``)."""
    if value is None:
        return None
    shown = shown or f"'{column}'"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FormatError(f"column {shown} is {type(value).__name__}, expected text")
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatError(f"column {shown} is the number {value}, expected text")
    return str(value)


# the columns that hold a turn's text, per format that keeps each turn in a column of its own
TEXT_COLUMNS = {"alpaca": ("instruction", "input", "output", "system"), "prompt_completion": ("prompt", "completion")}


def numbers_as_text(data: dict[str, Any], fmt: str, columns: Mapping[str, str] | None) -> list[str]:
    """A record's text columns (:data:`TEXT_COLUMNS`, as the input names them) that hold a finite number, made its
    text in place (``12345`` -> ``"12345"``, as the conversion reads them); the columns changed, for validation
    to record the repair. A NaN or infinite number is left for the conversion to refuse."""
    changed = []
    for part in TEXT_COLUMNS.get(fmt, ()):
        name = (columns or {}).get(part, part)
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, int) or math.isfinite(value):
            data[name] = str(value)
            changed.append(name)
    return changed


def _history_turns(history: Any) -> list[dict[str, str]]:
    """LLaMA-Factory's Alpaca ``history``, ``[[instruction, response], ...]`` (the earlier rounds), as turns."""
    if history is None:
        return []
    rounds = history if isinstance(history, list) else None
    if rounds is None or not all(isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)
                                 for r in rounds):
        raise FormatError("column 'history': expected a list of [instruction, response] pairs of text")
    return [turn for q, a in rounds for turn in ({"from": "human", "value": q}, {"from": "gpt", "value": a})]


def media_part(content: Any) -> tuple[int, str] | None:
    """The first content part (1-based, and its type) that is not text: an image, audio, a file."""
    if not isinstance(content, list):
        return None
    for k, part in enumerate(content, start=1):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind is None:
            others = [key for key, v in part.items() if key not in ("type", "text") and v is not None]
            if part.get("text") is None and others:
                return k, others[0]
        elif kind not in TEXT_PARTS + (REFUSAL,):
            return k, str(kind)
    return None


def text_of_parts(content: Any) -> Any:
    """A turn's text: a list of text parts (``[{type: text, text: ...}]``, OpenAI's content parts; ``refusal``
    parts too) as their texts joined with a blank line, parts with null text left out, as
    :func:`curation.formats._text_of` does column-wise; anything else, and a list holding a part that is not
    text (an image), as it is (validation names what is wrong with it)."""
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content) or media_part(content):
        return content
    texts = [p.get(REFUSAL) if p.get("type") == REFUSAL else p.get("text") for p in content]
    if not all(t is None or isinstance(t, str) for t in texts):
        return content
    return "\n\n".join(t for t in texts if t is not None)


def system_in_front(record: dict[str, Any], key: str, target: tuple[str, str] = ("from", "value"),
                    where: str = "'system'") -> None:
    """The ``system`` prompt beside a record's turns (LLaMA-Factory's ShareGPT) taken out of it and put in front of
    the turns under ``key`` (keyed ``target``: role, text), unless it is blank or they already start with it."""
    system = _text_value(record.pop("system"), "system", where)
    turns = record.get(key)
    if system is not None and system.strip() and isinstance(turns, list):
        first = turns[0] if turns and isinstance(turns[0], dict) else {}
        role = first.get(target[0])
        if not (isinstance(role, str) and ROLE_MAP.get(role.strip().lower()) == "system"
                and first.get(target[1]) == system):
            record[key] = [{target[0]: "system", target[1]: system}] + turns


def _text_turn(turn: Any, text_key: str, n: int) -> Any:
    """A turn with its content parts joined (:func:`text_of_parts`) and an OpenAI refusal as its text;
    :class:`FormatError` for a part that is not text (text turns cannot hold an image: the row's text without
    it would be a question about a picture nobody sees)."""
    if not isinstance(turn, dict):
        return turn
    value = turn.get(text_key)
    media = media_part(value)
    if media is not None:
        raise FormatError(f"turn {n}: content part {media[0]} is {media[1]!r}, not text: images, audio and files "
                          "are not supported")
    if isinstance(value, list):
        turn = {**turn, text_key: text_of_parts(value)}
    if turn.get(text_key) is None and isinstance(turn.get(REFUSAL), str) and REFUSAL != text_key:
        refusal = turn[REFUSAL]
        turn = {k: v for k, v in turn.items() if k != REFUSAL}
        turn[text_key] = refusal
    return turn
