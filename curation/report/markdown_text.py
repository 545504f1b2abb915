"""Text from the data (source names, reasons, errors, answers, ids) written into Markdown so that it reads as
itself and nothing else.

A Markdown viewer (GitHub, the Hugging Face hub, an editor's preview) renders raw HTML and Markdown syntax:
a source named ``<!--`` would hide the rest of ``report.md``, ``<img src=...>`` or ``![x](http://...)`` would
load a remote image, ``|`` or a line break would cut a table row, and GitHub and the hub set ``$x$`` as math.
A bidi override or isolate (U+202A-U+202E, U+2066-U+2069), invisible, would reorder the rest of its line: a name
could make the numbers beside it read backwards. :func:`md_text` makes such text literal; :func:`md_code` puts it
in a code span that no backtick inside it can close; :func:`one_line` spells line breaks, control and bidi
characters as escapes (``\\n``, ``\\u202e``), for a name that must show on one line as it is.
"""

from __future__ import annotations

import re

# `\` `*` `[` `]` `|` `~` and the backtick start or end Markdown syntax wherever they stand; `_` only at the edge
# of a word (inside one, as in filter:answer_too_short, it is a letter to every CommonMark renderer)
_SYNTAX = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# a span GitHub and the hub (KaTeX) set as math: `$` before a non-space, `$` after one and before no digit ("$x$",
# "$5 and 6$"; not "$3 or $4"); where text holds one, each of its `$` is escaped (`\$` is a dollar everywhere)
_MATH = re.compile(r"\$(?=[^\s$])[^$]*?(?<=[^\s$])\$(?!\d)|\$\$")
# `<` opens HTML, comments and autolinks; `&` only where it would start a character reference
_HTML = re.compile(r"<|&(?=#?[0-9A-Za-z]+;)")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# the bidi embeddings, overrides and isolates: what they start runs to the end of the line (the marks LRM, RLM and
# ALM only lean the characters next to them, and Arabic and Hebrew text holds them: they stay)
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# characters that end a line (or a YAML scalar) or are not printable, and the bidi controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


# the control characters HTML text must not hold (C0 but tab, line feed and carriage return; DEL; C1): a NUL or an
# escape sequence (a quarantined line's raw bytes) would make a terminal or a tool read the page as binary, or act
_HTML_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def html_shown(value: object) -> str:
    """``value`` as the report's HTML shows text from the data, before markup is escaped: the bidi controls
    (:func:`bidi_shown`) and the control characters an HTML page must not hold spelled as escapes (``\\x00``,
    ``\\x1b``); line breaks and tabs stay."""
    return _HTML_CONTROL.sub(_escape, bidi_shown(value))


def bidi_shown(value: object) -> str:
    """``value`` with its bidi embeddings, overrides and isolates spelled as escapes (``\\u202e``): the report's
    HTML shows names this way too, so that none reorders the text after it."""
    return _BIDI.sub(_escape, str(value))


def one_line(value: object) -> str:
    """``value`` on one line with nothing hidden: line breaks, tabs, other control characters and the bidi controls
    spelled as Python escapes (``\\n``, ``\\u202e``), so that a name from the inputs cannot end a line, a table row
    or a YAML scalar, nor reorder the text after it."""
    return _CONTROL.sub(_escape, str(value))


def md_text(value: object, newline: str = " ") -> str:
    """``value`` as literal Markdown text on one line (each line break becomes ``newline``: ``<br>`` inside a
    table cell that should keep them)."""
    text = _SYNTAX.sub(lambda m: "\\" + m.group(0), str(value))
    if _MATH.search(text):
        text = text.replace("$", "\\$")
    text = html_shown(text)  # after the syntax: the escape's backslash is the text's, shown as it is (a NEL too)
    text = _HTML.sub(lambda m: "&lt;" if m.group(0) == "<" else "&amp;", text)
    return _NEWLINES.sub(newline, text)


# what opens a block when it starts a line (or a list item's text): an ATX heading, a block quote, a bullet, an
# ordered list's number, a setext underline; leading spaces or tabs, four of them an indented code block
_BLOCK_START = re.compile(r"#|>|[-+=](?=[\s\-+=]|$)|\d{1,9}(?=[.)](?:\s|$))")


def md_line(value: object) -> str:
    """``value`` as :func:`md_text`, to stand at the start of a line or of a list item's text (``- {name}: ...``):
    a leading ``#``, ``>``, ``-``, ``+``, ``=`` or ``1.`` escaped and leading spaces and tabs written as character
    references, so that a name like ``# big``, ``1. one`` or ``    code`` reads as itself, not as a heading, a
    nested list or a code block."""
    text = md_text(value)
    body = text.lstrip(" \t")
    lead = "".join("&#32;" if c == " " else "&#9;" for c in text[: len(text) - len(body)])
    match = _BLOCK_START.match(body)
    if match:
        end = match.end()
        body = body[:end] + "\\" + body[end:] if body[0].isdigit() else "\\" + body
    return lead + body


def md_code(value: object, cell: bool = False) -> str:
    """``value`` as an inline code span on one line, fenced by more backticks than any run inside it, and padded
    with a space either side when it starts or ends with a backtick or a space (CommonMark strips one from each
    side). ``cell``: inside a table row, where ``|`` would end the cell (GFM reads ``\\|`` as ``|`` there)."""
    text = bidi_shown(_NEWLINES.sub(" ", str(value)))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text.strip() or text[0] in "` " or text[-1] in "` " else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span
