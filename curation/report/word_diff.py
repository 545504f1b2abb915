"""Word-level differences between a removed duplicate and the row it duplicated, as escaped HTML.

Tokens are words, runs of whitespace and single punctuation marks; :class:`difflib.SequenceMatcher` aligns
them and the tokens only one side has are wrapped in ``<mark>``. Long turns are cut after ``limit``
characters (the diff is computed on the first ``max_tokens`` tokens, which covers far more than is shown).
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher

TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _emit(parts: list[tuple[str, bool]], limit: int, css: str) -> str:
    out: list[str] = []
    used = 0
    total = sum(len(t) for t, _ in parts)
    for text, changed in parts:
        if used >= limit:
            break
        piece = text[: limit - used]
        used += len(piece)
        esc = html.escape(piece)
        out.append(f'<mark class="{css}">{esc}</mark>' if changed and piece.strip() else esc)
    if total > used:
        out.append(f'<span class="more">… ({total - used:,} more characters)</span>')
    return "".join(out)


def side_by_side(removed: str, kept: str, limit: int = 1500, max_tokens: int = 4000) -> tuple[str, str, float]:
    """(removed side HTML, kept side HTML, similarity ratio of the token sequences)."""
    a, b = tokens(removed)[:max_tokens], tokens(kept)[:max_tokens]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left.append(("".join(a[i1:i2]), op in ("delete", "replace")))
        right.append(("".join(b[j1:j2]), op in ("insert", "replace")))
    rest_a = "".join(tokens(removed)[max_tokens:])
    rest_b = "".join(tokens(kept)[max_tokens:])
    if rest_a:
        left.append((rest_a, False))
    if rest_b:
        right.append((rest_b, False))
    return _emit(left, limit, "only-removed"), _emit(right, limit, "only-kept"), matcher.ratio()


def plain(text: str, limit: int = 1500) -> str:
    return _emit([(text, False)], limit, "")
