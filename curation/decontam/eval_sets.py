"""The evaluation items training rows are checked against.

* the seed's three evaluation prompts (:func:`evaluation.prompt_sets.default_prompt_set`), set ``seed``;
* `tome eval` prompt set YAML files (:func:`evaluation.prompt_sets.load_prompt_set`), set = the file's stem;
* user files, set = the file's stem: JSONL (one JSON object or string per line), Parquet, or plain text
  (one item per non-empty line). From a JSON object or Parquet row the text is ``text_field`` when given, else
  the first present of :data:`TEXT_FIELDS`, else the human/user turns of ``conversations`` / ``messages``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from curation.decontam.config import DecontamConfig

TEXT_FIELDS = ("text", "prompt", "question", "instruction", "input", "query", "problem", "content")
_TURN_LISTS = (("conversations", "from", "value"), ("messages", "role", "content"))
_PROMPT_ROLES = ("human", "user")


class EvalSetError(ValueError):
    """An eval file that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class EvalItem:
    set: str
    id: str
    text: str


def _text_of(record: Any, text_field: str | None, where: str) -> str | None:
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        raise EvalSetError(f"{where}: expected a JSON object or string, got {type(record).__name__}")
    if text_field:
        if text_field not in record:
            raise EvalSetError(f"{where}: no field {text_field!r}")
        value = record[text_field]
        return value if isinstance(value, str) else None
    for name in TEXT_FIELDS:
        if isinstance(record.get(name), str):
            return record[name]
    for key, role_key, text_key in _TURN_LISTS:
        turns = record.get(key)
        if isinstance(turns, list):
            texts = [t.get(text_key) for t in turns if isinstance(t, dict) and t.get(role_key) in _PROMPT_ROLES]
            return "\n".join(t for t in texts if isinstance(t, str)) or None
    raise EvalSetError(f"{where}: no text field (looked for {', '.join(TEXT_FIELDS)}, conversations, messages); "
                       "set text_field")


def _file_items(path: Path, text_field: str | None) -> Iterator[EvalItem]:
    if not path.is_file():
        raise EvalSetError(f"{path}: eval file not found")
    name = path.stem
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
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
        import pyarrow.parquet as pq

        for i, record in enumerate(pq.read_table(path).to_pylist()):
            text = _text_of(record, text_field, f"{path}: row {i}")
            if text and text.strip():
                yield EvalItem(name, f"{name}:{i}", text)
    else:
        with path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    yield EvalItem(name, f"{name}:{line_no}", line.rstrip("\n"))


def load_eval_items(cfg: DecontamConfig, base: Path | None = None) -> list[EvalItem]:
    """Every eval item the config names, in order: seed prompts, prompt sets, files (relative paths from ``base``)."""
    from evaluation.prompt_sets import default_prompt_set, load_prompt_set

    def resolve(p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() or base is None else base / path

    items: list[EvalItem] = []
    if cfg.seed_prompts:
        items += [EvalItem("seed", p.id, p.text) for p in default_prompt_set()]
    for p in cfg.prompt_sets:
        path = resolve(p)
        items += [EvalItem(path.stem, f"{path.stem}:{s.id}", s.text) for s in load_prompt_set(path)]
    for p in cfg.files:
        items += list(_file_items(resolve(p), cfg.text_field))
    return items
