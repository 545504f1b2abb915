"""Schema checks: a raw record becomes a row, or a quarantine entry with the reason.

Accepted shapes: FineTome's ``conversations: [{from, value}]`` (``from`` in human/gpt/system) and OpenAI's
``messages: [{role, content}]`` (role in system/user/assistant). Role spellings are mapped to FineTome's;
the turns as given stay in ``original_conversations`` when that changed anything. Every other column is
carried through unchanged (an input column named ``id`` is kept as ``input_id``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import xxhash

from curation.config import ValidateConfig
from curation.load import RawRecord
from curation.stage import Row

ROLE_MAP = {
    "human": "human",
    "user": "human",
    "gpt": "gpt",
    "assistant": "gpt",
    "system": "system",
}
RESERVED = {"id", "conversations", "messages", "source", "score"}


class RowError(ValueError):
    pass


@dataclass
class Quarantined:
    id: str
    position: dict[str, Any]
    raw: Any
    error: str

    def as_record(self) -> dict[str, Any]:
        return {"id": self.id, "position": self.position, "raw": self.raw, "error": self.error}


def content_hash(obj: Any) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))[:16]


class IdAssigner:
    """Stable ids from content; the k-th identical copy gets ``-k`` appended (k >= 2), in input order."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, content: Any) -> str:
        base = content_hash(content)
        count = self._seen.get(base, 0) + 1
        self._seen[base] = count
        return base if count == 1 else f"{base}-{count}"


def _turns(data: dict[str, Any]) -> tuple[list[Any], str, str, str]:
    if "conversations" in data:
        return data["conversations"], "conversations", "from", "value"
    if "messages" in data:
        return data["messages"], "messages", "role", "content"
    raise RowError("missing 'conversations' (or OpenAI 'messages')")


def validate_record(data: Any, cfg: ValidateConfig) -> Row:
    """The row for ``data``, or :class:`RowError` naming what is wrong."""
    if not isinstance(data, dict):
        raise RowError(f"row is a JSON {type(data).__name__}, expected an object")
    turns, key, role_key, text_key = _turns(data)
    if not isinstance(turns, list):
        raise RowError(f"'{key}' is {type(turns).__name__}, expected a list of turns")
    if not turns:
        raise RowError(f"'{key}' is empty")
    if cfg.max_turns is not None and len(turns) > cfg.max_turns:
        raise RowError(f"'{key}' has {len(turns)} turns, more than max_turns={cfg.max_turns}")
    conversations = []
    original = []
    changed = key != "conversations"
    for n, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise RowError(f"turn {n}: is {type(turn).__name__}, expected an object with '{role_key}' and '{text_key}'")
        for k in (role_key, text_key):
            if k not in turn:
                raise RowError(f"turn {n}: missing '{k}'")
        role, value = turn[role_key], turn[text_key]
        if not isinstance(role, str):
            raise RowError(f"turn {n}: '{role_key}' is {type(role).__name__}, expected a string")
        if not isinstance(value, str):
            raise RowError(f"turn {n}: '{text_key}' is {_type_name(value)}, expected a string")
        if not value.strip():
            raise RowError(f"turn {n}: empty '{text_key}'")
        canonical = ROLE_MAP.get(role.strip().lower())
        if canonical is None:
            raise RowError(f"turn {n}: unknown role {role!r} (expected human, gpt or system)")
        changed |= canonical != role or set(turn) != {role_key, text_key}
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
    row: Row = {
        "conversations": conversations,
        "source": source,
        "score": None if score is None else float(score),
        "original_conversations": original if changed else None,
    }
    for k, v in data.items():
        if k not in RESERVED:
            row[k] = v
    if "id" in data:
        row["input_id"] = data["id"]
    return row


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def validate_records(
    records: list[RawRecord], cfg: ValidateConfig, track=None
) -> tuple[list[Row], list[Quarantined], list[str]]:
    """Rows, quarantine entries, and the extra column names in first-seen order."""
    assign = IdAssigner()
    rows: list[Row] = []
    quarantined: list[Quarantined] = []
    extras: dict[str, None] = {}
    items = track(records, len(records), "validate") if track else records
    for rec in items:
        content = rec.raw if rec.raw is not None else rec.data
        rid = assign(content)
        if rec.error is not None:
            quarantined.append(Quarantined(rid, rec.position, rec.raw, rec.error))
            continue
        try:
            row = validate_record(rec.data, cfg)
        except RowError as exc:
            raw = rec.raw if rec.raw is not None else json.loads(json.dumps(rec.data, default=str))
            quarantined.append(Quarantined(rid, rec.position, raw, str(exc)))
            continue
        row["id"] = rid
        for k in row:
            if k not in _CORE_KEYS:
                extras.setdefault(k, None)
        rows.append(row)
    return rows, quarantined, list(extras)


_CORE_KEYS = {"id", "conversations", "source", "score", "original_conversations", "cluster_id", "origin_id", "augmentation"}
