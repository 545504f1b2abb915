"""The evaluation items training rows are checked against.

* the seed's three evaluation prompts (:func:`evaluation.prompt_sets.default_prompt_set`), set ``seed``;
* `tome eval` prompt set YAML files (:func:`evaluation.prompt_sets.load_prompt_set`), set = the file's stem;
* user files, set = the file's stem: JSONL (one JSON object or string per line), a ``.json`` file holding one
  array of them, Parquet, or plain text (one item per non-empty line); UTF-8, a byte order mark allowed. From a
  JSON object or Parquet row the text is ``text_field`` when given, else the first present of
  :data:`TEXT_FIELDS`, else the human/user turns of ``conversations`` / ``messages``; an item whose text is
  null or blank is skipped, one whose text field holds something else (a number) is an error naming the field.

A file that cannot be read is :class:`EvalSetError`, a :class:`~curation.core.stage.StageError`: one line naming
the file (and line), printed by the command line without a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from curation.core.stage import StageError
from curation.decontam.config import DecontamConfig
from curation.repair import without_lone_surrogates
from tomecraft.errors import error_line
from tomecraft.files import expand_user

TEXT_FIELDS = ("text", "prompt", "question", "instruction", "input", "query", "problem", "content")
_TURN_LISTS = (("conversations", "from", "value"), ("messages", "role", "content"))
_PROMPT_ROLES = ("human", "user")


class EvalSetError(StageError, ValueError):
    """An eval file that cannot be read; the message is one line naming the file (and line), which the command
    line prints as is."""


@dataclass(frozen=True)
class EvalItem:
    set: str
    id: str
    text: str


def _text_of(record: Any, text_field: str | None, where: str) -> str | None:
    """The item's text (lone surrogates as U+FFFD, as the input reader has them); None for an item without text
    (a null field, no prompt turn), which is skipped."""
    text = _find_text(record, text_field, where)
    return without_lone_surrogates(text) if text else None


def _find_text(record: Any, text_field: str | None, where: str) -> str | None:
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        raise EvalSetError(f"{where}: expected a JSON object or string, got {type(record).__name__}")
    if text_field:
        if text_field not in record:
            raise EvalSetError(f"{where}: no field {text_field!r}")
        value = record[text_field]
        if value is not None and not isinstance(value, str):
            raise EvalSetError(_not_text(where, text_field, value))
        return value
    for name in TEXT_FIELDS:
        if isinstance(record.get(name), str):
            return record[name]
    for key, role_key, text_key in _TURN_LISTS:
        turns = record.get(key)
        if isinstance(turns, list):
            texts = [t.get(text_key) for t in turns if isinstance(t, dict) and t.get(role_key) in _PROMPT_ROLES]
            return "\n".join(t for t in texts if isinstance(t, str)) or None
    if any(name in record and record[name] is None for name in TEXT_FIELDS):
        return None  # the item's text field is there, empty (a null in a Parquet column)
    for name in TEXT_FIELDS:
        if name in record:  # there, but no text: saying there is no such field sent users looking for the wrong thing
            raise EvalSetError(_not_text(where, name, record[name]))
    raise EvalSetError(f"{where}: no text field (looked for {', '.join(TEXT_FIELDS)}, conversations, messages); "
                       "set text_field")


def _not_text(where: str, field: str, value: Any) -> str:
    kind = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)
    return f"{where}: field {field!r} is {kind}, expected text (a string); set text_field to another field"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (a byte order mark at its start is no text); an undecodable line is an
    error naming it."""
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield line_no, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EvalSetError(f"{path}:{line_no}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _json_document(path: Path) -> list[Any] | None:
    """The items of a ``.json`` file holding one JSON array (pretty-printed or not); None when it is JSON lines."""
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise EvalSetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    return data


def _file_items(path: Path, text_field: str | None) -> Iterator[EvalItem]:
    if not path.is_file():
        raise EvalSetError(f"{path}: eval file not found")
    name = path.stem
    suffix = path.suffix.lower()
    try:
        yield from _read_items(path, name, suffix, text_field)
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _read_items(path: Path, name: str, suffix: str, text_field: str | None) -> Iterator[EvalItem]:
    document = _json_document(path) if suffix == ".json" else None
    if document is not None:
        for i, record in enumerate(document):
            text = _text_of(record, text_field, f"{path}: item {i}")
            if text and text.strip():
                yield EvalItem(name, f"{name}:{i}", text)
    elif suffix in (".jsonl", ".json"):
        for line_no, line in _lines(path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
            text = _text_of(record, text_field, f"{path}:{line_no}")
            if text and text.strip():
                yield EvalItem(name, f"{name}:{line_no}", text)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(path).to_pylist()
        except pa.ArrowException as exc:
            raise EvalSetError(f"{path}: not a readable Parquet file ({error_line(exc)})") from None
        for i, record in enumerate(records):
            text = _text_of(record, text_field, f"{path}: row {i}")
            if text and text.strip():
                yield EvalItem(name, f"{name}:{i}", text)
    else:
        for line_no, line in _lines(path):
            if line.strip():
                yield EvalItem(name, f"{name}:{line_no}", line.rstrip("\r\n"))


def load_eval_items(cfg: DecontamConfig, base: Path | None = None) -> list[EvalItem]:
    """Every eval item the config names, in order: seed prompts, prompt sets, files (relative paths from ``base``).
    A file or prompt set that cannot be read, or a file that holds no item, is :class:`EvalSetError` (one line
    naming it)."""
    from evaluation.prompt_sets import PromptSetError, default_prompt_set, load_prompt_set

    def resolve(p: str) -> Path:
        path = expand_user(p)
        return path if path.is_absolute() or base is None else base / path

    items: list[EvalItem] = []
    if cfg.seed_prompts:
        items += [EvalItem("seed", p.id, p.text) for p in default_prompt_set()]
    for p in cfg.prompt_sets:
        path = resolve(p)
        try:
            specs = load_prompt_set(path)
        except PromptSetError as exc:
            raise EvalSetError(f"stages.decontaminate.prompt_sets: {exc}") from None
        items += [EvalItem(path.stem, f"{path.stem}:{s.id}", s.text) for s in specs]
    for p in cfg.files:
        found = list(_file_items(resolve(p), cfg.text_field))
        if not found:  # (it compared nothing, and the stage reported the file as checked)
            raise EvalSetError(f"{resolve(p)}: no eval items (the file is empty, or every text in it is blank): "
                               "nothing to compare the rows with; give the eval set's file, or leave it out of "
                               "stages.decontaminate.files")
        items += found
    return items
