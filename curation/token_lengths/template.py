"""A chat template cut into the literal text around each turn.

Rendering a conversation ``[(role_1, c_1), ..., (role_n, c_n)]`` with a regular template (ChatML, Llama 3,
...) gives ``start(role_1) + c_1 + gap(role_1, role_2) + c_2 + ... + c_n + end(role_n)``: the pieces are found
by rendering sentinel contents, and the cut is trusted only when a longer probe renders exactly as the
pieces predict. Since every piece begins and ends at a special token or a line break, a row's token count
is then the pieces' counts plus its contents' counts (contents with leading or trailing whitespace, or
holding a special token's text, are counted the exact way instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

ROLES = ("system", "user", "assistant")
_SENTINEL = "QQSENTINEL{}QQ"


@dataclass
class TemplatePieces:
    start: dict[str, str] = field(default_factory=dict)
    gap: dict[tuple[str, str], str] = field(default_factory=dict)
    end: dict[str, str] = field(default_factory=dict)


def _render(tokenizer: Any, turns: list[tuple[str, str]]) -> str | None:
    try:
        return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in turns], tokenize=False)
    except Exception:  # noqa: BLE001 - templates raise on orders they do not allow (e.g. two user turns)
        return None


def cut(tokenizer: Any) -> TemplatePieces | None:
    """The template's pieces, or None when it does not render as pieces around contents."""
    pieces = TemplatePieces()
    for a in ROLES:
        for b in ROLES:
            s0, s1 = _SENTINEL.format(0), _SENTINEL.format(1)
            text = _render(tokenizer, [(a, s0), (b, s1)])
            if text is None or text.count(s0) != 1 or text.count(s1) != 1:
                continue
            i0, i1 = text.index(s0), text.index(s1)
            if i1 < i0:
                return None
            start, gap, end = text[:i0], text[i0 + len(s0): i1], text[i1 + len(s1):]
            if pieces.start.setdefault(a, start) != start or pieces.end.setdefault(b, end) != end:
                return None  # the text before a turn depends on more than its role: not a piecewise template
            pieces.gap[(a, b)] = gap
    if ("user", "assistant") not in pieces.gap:
        return None
    probe = [("system", "a"), ("user", "b"), ("assistant", "c"), ("user", "d"), ("assistant", "e")]
    if all(k in pieces.gap for k in zip([r for r, _ in probe], [r for r, _ in probe[1:]])):
        contents = [_SENTINEL.format(i) for i in range(len(probe))]
        turns = [(r, c) for (r, _), c in zip(probe, contents)]
        if _render(tokenizer, turns) != assemble(pieces, turns):
            return None
    return pieces


def assemble(pieces: TemplatePieces, turns: list[tuple[str, str]]) -> str:
    out = [pieces.start[turns[0][0]]]
    for (role, content), nxt in zip(turns, turns[1:] + [None]):
        out.append(content)
        out.append(pieces.end[role] if nxt is None else pieces.gap[(role, nxt[0])])
    return "".join(out)


@dataclass
class PieceCounts:
    """Token counts of the pieces, as lookup arrays over role codes (index into :data:`ROLES`); -1 = unknown."""

    start: list[int]
    end: list[int]
    gap: list[list[int]]

    @classmethod
    def of(cls, pieces: TemplatePieces, count: Callable[[str], int]) -> "PieceCounts":
        return cls(
            [count(pieces.start[r]) if r in pieces.start else -1 for r in ROLES],
            [count(pieces.end[r]) if r in pieces.end else -1 for r in ROLES],
            [[count(pieces.gap[(a, b)]) if (a, b) in pieces.gap else -1 for b in ROLES] for a in ROLES],
        )
