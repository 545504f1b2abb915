"""Which parts of a turn an augmenter may touch, and tokenizing that keeps a text's layout.

A turn is cut into *prose* and *protected* pieces: code (fenced blocks, inline code, and lines that look like
code without a fence: indented, ending in ``;`` ``{`` ``}``, opening with ``def``/``function``/``return``...,
or a shell command: ``$ ...``, ``sudo ...``, ``pip install ...``, ``rm -rf build``), markdown table rows
(``| apple | 12 |``: cells are data the answer quotes, and a translated header row loses its columns' order),
URLs and quoted text are protected (a synonym inside code breaks the code; a quote is what the task is about:
"Translate 'Good morning'" must not become "Translate 'Expert sunup'"), everything else is prose. Methods rewrite
prose pieces only and the turn is glued back together, so newlines, lists and code survive augmentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE_LINE = (  # whole lines ([^\n], as the pattern is compiled with DOTALL for fenced blocks)
    r"(?m:^(?:[ \t]{2,}|\t)\S[^\n]*$"  # an indented line
    r"|^[ \t]*(?:def|class|function|return|import|from[ \t]+\S+[ \t]+import|const|let|var|public|private|#include|"
    r"console\.log|print)\b[^\n]*$"  # a line that opens as code does
    r"|^[^\n]*(?:[;{}]|\)[ \t]*:|=>)[ \t]*$"  # a line that ends as code does
    # a shell command: after a prompt ("$ "), a tool name seldom written in lowercase prose, or a common
    # command name followed by an option, a path or a shell operator ("rm -rf build", "cd /tmp")
    r"|^[ \t]*(?:\$[ \t]+|(?:sudo|apt-get|apt|pip3?|pipx|npm|npx|yarn|pnpm|git|docker|kubectl|conda|brew|curl|wget|"
    r"chmod|chown|mkdir|ssh|scp)[ \t]+)\S[^\n]*$"
    r"|^[ \t]*(?:cd|ls|rm|cp|mv|cat|echo|export|python3?|node|bash|sh|make|go|cargo|tar|grep|sed|awk|gcc|javac?)[ \t]+"
    r"[^\n]*?(?:[ \t]--?\w|[/~]|&&|\|\||[ \t][|<>])[^\n]*$"
    r"|^[ \t]*\|[^\n]*\|[ \t]*$)"  # a markdown table row: its cells are data ("| apple | 12 |")
)
PROTECTED_RE = re.compile(
    r"```.*?(?:```|\Z)"  # fenced code block (an unclosed fence runs to the end)
    r"|`[^`\n]+`"  # inline code
    r"|https?://\S+|www\.\S+"  # URLs
    r"|" + _CODE_LINE +  # code without a fence
    r"|\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|‘[^’\n]{1,300}’|«[^»\n]{1,300}»"  # quoted text
    r"|(?<!\w)'(?=\S)[^'\n]{1,300}(?<=\S)'(?!\w)",  # 'quoted' (not the apostrophe of don't or John's)
    re.S,
)
WORD_RE = re.compile(r"\w+", re.UNICODE)
TOKEN_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Piece:
    text: str
    prose: bool


# a line with words, then a blank line; anchored at line starts, with the leading blanks and the first
# non-blank in disjoint classes, so a long line without a break is scanned once, not once per character
# (the unanchored ``\S[^\n]*?\n[ \t]*\n`` took minutes on one 200 KB line)
_PARAGRAPH_BREAK_RE = re.compile(r"(?m)^[^\S\n]*\S[^\n]*\n[ \t]*\n")


def task_input_start(text: str) -> int | None:
    """Where a prompt's task input starts: the first blank line after its first words (None when it has none).

    An Alpaca row's ``input`` (the sentence to reword, the numbers to add) is joined to its instruction after a
    blank line, and multi-paragraph prompts put their material after the request the same way; the answer is
    about that text, so a prompt-only paraphrase must leave it as it is.
    """
    match = _PARAGRAPH_BREAK_RE.search(text)
    return match.end() - 1 if match else None


def split_pieces(text: str, protect_code: bool = True, protect_task_input: bool = False) -> list[Piece]:
    """``text`` as alternating prose / protected pieces whose concatenation is ``text``; with
    ``protect_task_input``, everything from :func:`task_input_start` on is one protected piece."""
    tail = ""
    if protect_task_input:
        start = task_input_start(text)
        if start is not None:
            text, tail = text[:start], text[start:]
    pieces = _pieces(text, protect_code)
    if tail:
        if pieces and not pieces[-1].prose:
            pieces[-1] = Piece(pieces[-1].text + tail, False)
        else:
            pieces.append(Piece(tail, False))
    return pieces


def _pieces(text: str, protect_code: bool) -> list[Piece]:
    if not protect_code:
        return [Piece(text, True)] if text else []
    pieces: list[Piece] = []
    pos = 0
    for match in PROTECTED_RE.finditer(text):
        if match.start() > pos:
            pieces.append(Piece(text[pos : match.start()], True))
        pieces.append(Piece(match.group(0), False))
        pos = match.end()
    if pos < len(text):
        pieces.append(Piece(text[pos:], True))
    return pieces


def core(text: str) -> tuple[str, str, str]:
    """``(leading whitespace, stripped text, trailing whitespace)``: methods see the stripped middle only."""
    stripped = text.strip()
    if not stripped:
        return text, "", ""
    start = text.index(stripped[0])
    return text[:start], stripped, text[start + len(stripped) :]


_SPACE_RUN_RE = re.compile(r"[ \t]{2,}")
# a whole run of blanks (it starts where no blank precedes: a long run is scanned once, not once per blank)
_SPACE_BEFORE_PUNCT_RE = re.compile(r"(?<![ \t])[ \t]+(?=[.,!?;:])")


def tidy_spacing(source: str, text: str) -> str:
    """``text`` (a method's rewrite of ``source``) without the spacing ``source`` did not have.

    Back-translation leaves a double space where it dropped a word ("Imagine you are" -> "It imagines  you
    are"), a space at a line start where the dropped word began a line, and a space before punctuation;
    normalization already removed such spacing from the input rows, so it would single out the new rows.
    Each is undone only where ``source`` has none of it: line starts and ends line by line (when the line
    count is the same), space runs and spaces before ``.,!?;:`` over the whole text.
    """
    lines, source_lines = text.split("\n"), source.split("\n")
    if len(lines) == len(source_lines):
        for i, src in enumerate(source_lines):
            if not src[:1].isspace():
                lines[i] = lines[i].lstrip(" \t")
            if not src[-1:].isspace():
                lines[i] = lines[i].rstrip(" \t")
        text = "\n".join(lines)
    if not _SPACE_RUN_RE.search(source):
        text = _SPACE_RUN_RE.sub(" ", text)
    if not _SPACE_BEFORE_PUNCT_RE.search(source):
        text = _SPACE_BEFORE_PUNCT_RE.sub("", text)
    return text


def has_words(text: str) -> bool:
    return WORD_RE.search(text) is not None


def word_set(text: str) -> set[str]:
    return set(WORD_RE.findall(text.lower()))


def word_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the lower-cased word sets (1.0 for two texts with the same words)."""
    sa, sb = word_set(a), word_set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


class LayoutTokenizer:
    """A tokenizer / reverse-tokenizer pair for nlpaug that puts every token back in its original place.

    nlpaug's own pair joins tokens with single spaces, which flattens newlines and breaks contractions
    (``don ' t``). This one keeps the whitespace between tokens of the last text it tokenized and
    re-inserts it; substitution keeps the token count, so the layout comes back exactly. Not thread-safe:
    one instance per augmenter, used from one thread.
    """

    def __init__(self) -> None:
        self._gaps: list[str] | None = None
        self._count = 0

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        gaps: list[str] = []
        pos = 0
        for match in TOKEN_RE.finditer(text):
            gaps.append(text[pos : match.start()])
            tokens.append(match.group(0))
            pos = match.end()
        gaps.append(text[pos:])
        self._gaps, self._count = gaps, len(tokens)
        return tokens

    def detokenize(self, tokens: list[str]) -> str:
        if self._gaps is None or len(tokens) != self._count:
            return " ".join(tokens)
        out = [self._gaps[0]]
        for token, gap in zip(tokens, self._gaps[1:]):
            out.append(token)
            out.append(gap)
        return "".join(out)
