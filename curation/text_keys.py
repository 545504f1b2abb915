"""Which text of a conversation a dedup step compares (the config's ``text_key``)."""

from __future__ import annotations

from curation.contract import Row


def text_for(row: Row, key: str) -> str:
    """``conversation``: every turn, role-tagged; ``first_human``: the first human turn; ``all_human``: all human turns."""
    turns = row["conversations"]
    if key == "conversation":
        return "\n".join(f"{t['from']}: {t['value']}" for t in turns)
    if key == "first_human":
        return next((t["value"] for t in turns if t["from"] == "human"), "")
    if key == "all_human":
        return "\n".join(t["value"] for t in turns if t["from"] == "human")
    raise ValueError(f"unknown text_key {key!r} (conversation, first_human or all_human)")


def conversation_chars(row: Row) -> int:
    return sum(len(t["value"]) for t in row["conversations"])
