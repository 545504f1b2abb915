"""Word-level differences between a removed duplicate and the row it duplicated, as escaped HTML.

Tokens are words, runs of whitespace and single punctuation marks; :class:`difflib.SequenceMatcher` aligns
them and the tokens only one side has are wrapped in ``<mark>``. In a long turn, unchanged stretches shrink to
some context around each change, and what is shown stops after ``limit`` characters (the diff is computed on
the first ``max_tokens`` tokens, which covers far more than is shown).
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher

TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


Part = tuple[str, bool, int]  # (text, only on this side, characters elided here instead of text)


def _elide(parts: list[Part], limit: int, context: int) -> list[Part]:
    """Long texts with changes: unchanged stretches shrink to ``context`` characters either side of a change."""
    if sum(len(t) for t, _, _ in parts) <= limit or not any(c and t.strip() for t, c, _ in parts):
        return parts
    out: list[Part] = []
    last = len(parts) - 1
    for k, (text, changed, _) in enumerate(parts):
        if changed or len(text) <= 2 * context + 40:
            out.append((text, changed, 0))
            continue
        head = "" if k == 0 else text[:context]
        tail = "" if k == last else text[-context:]
        out += [(head, False, 0), ("", False, len(text) - len(head) - len(tail)), (tail, False, 0)]
    return [p for p in out if p[0] or p[2]]


def _emit(parts: list[Part], limit: int, css: str, context: int = 160) -> str:
    """The parts as HTML; the notes of what is left out are bidi isolates (``dir``), so that a bidi override the
    text leaves open (U+202E) cannot run on into them and show "(sretcarahc erom 002,1)"."""
    out: list[str] = []
    used = 0
    hidden = 0
    for text, changed, elided in _elide(parts, limit, context):
        if elided:
            out.append(f'<span class="more" dir="ltr"> … {elided:,} unchanged characters … </span>')
            continue
        if used >= limit:
            hidden += len(text)
            continue
        piece = text[: limit - used]
        used += len(piece)
        hidden += len(text) - len(piece)
        esc = html.escape(piece)
        out.append(f'<mark class="{css}">{esc}</mark>' if changed and piece.strip() else esc)
    if hidden:
        out.append(f'<span class="more" dir="ltr">… ({hidden:,} more characters)</span>')
    return "".join(out)


def side_by_side(removed: str, kept: str, limit: int = 1000, max_tokens: int = 4000) -> tuple[str, str, float]:
    """(removed side HTML, kept side HTML, similarity ratio of the token sequences)."""
    a, b = tokens(removed)[:max_tokens], tokens(kept)[:max_tokens]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    left: list[Part] = []
    right: list[Part] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left.append(("".join(a[i1:i2]), op in ("delete", "replace"), 0))
        right.append(("".join(b[j1:j2]), op in ("insert", "replace"), 0))
    rest_a = "".join(tokens(removed)[max_tokens:])
    rest_b = "".join(tokens(kept)[max_tokens:])
    if rest_a:
        left.append((rest_a, False, 0))
    if rest_b:
        right.append((rest_b, False, 0))
    return _emit(left, limit, "only-removed"), _emit(right, limit, "only-kept"), matcher.ratio()


def plain(text: str, limit: int = 1000) -> str:
    return _emit([(text, False, 0)], limit, "")
