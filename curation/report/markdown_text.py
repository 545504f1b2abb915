"""Text from the data (source names, reasons, errors, answers, ids) written into Markdown so that it reads as
itself and nothing else.

A Markdown viewer (GitHub, the Hugging Face hub, an editor's preview) renders raw HTML and Markdown syntax:
a source named ``<!--`` would hide the rest of ``report.md``, ``<img src=...>`` or ``![x](http://...)`` would
load a remote image, ``|`` or a line break would cut a table row. :func:`md_text` makes such text literal;
:func:`md_code` puts it in a code span that no backtick inside it can close.
"""

from __future__ import annotations

import re

# `\` `*` `[` `]` `|` `~` and the backtick start or end Markdown syntax wherever they stand; `_` only at the edge
# of a word (inside one, as in filter:answer_too_short, it is a letter to every CommonMark renderer)
_SYNTAX = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# `<` opens HTML, comments and autolinks; `&` only where it would start a character reference
_HTML = re.compile(r"<|&(?=#?[0-9A-Za-z]+;)")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def md_text(value: object, newline: str = " ") -> str:
    """``value`` as literal Markdown text on one line (each line break becomes ``newline``: ``<br>`` inside a
    table cell that should keep them)."""
    text = _SYNTAX.sub(lambda m: "\\" + m.group(0), str(value))
    text = _HTML.sub(lambda m: "&lt;" if m.group(0) == "<" else "&amp;", text)
    return _NEWLINES.sub(newline, text)


def md_code(value: object, cell: bool = False) -> str:
    """``value`` as an inline code span on one line, fenced by more backticks than any run inside it, and padded
    with a space either side when it starts or ends with a backtick or a space (CommonMark strips one from each
    side). ``cell``: inside a table row, where ``|`` would end the cell (GFM reads ``\\|`` as ``|`` there)."""
    text = _NEWLINES.sub(" ", str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text.strip() or text[0] in "` " or text[-1] in "` " else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span
