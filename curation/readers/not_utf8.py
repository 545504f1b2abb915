"""Bytes that are no UTF-8 inside a JSON document (``.json``) read whole: the rows that hold them are quarantined,
as JSON Lines quarantines each line that holds such bytes, and the other rows are read.

The document is decoded with Python's ``surrogateescape`` handler, which gives each such byte as a lone surrogate
from U+DC80 to U+DCFF; after parsing, a row with one of those in any string (a key or a value, at any depth) is
an :class:`UnreadableRow` saying "not UTF-8: <why>", its raw record shown with U+FFFD in their place. A document
that also holds such a surrogate written as a JSON escape (``"\\udc80"``) cannot be told apart from it there: its
row is quarantined too, not repaired.
"""

from __future__ import annotations

import re
from typing import Any

from curation.readers.source import UnreadableRow

ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def decoded_with_escapes(data: bytes) -> str:
    """UTF-8 ``data`` as text, each byte that is no UTF-8 as its ``surrogateescape`` surrogate."""
    return data.decode("utf-8", "surrogateescape")


def _strings(value: Any):
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            yield from (k for k in v if isinstance(k, str))
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)


def _why(text: str) -> str:
    """What the UTF-8 decoder says of the bytes ``text`` stands for (its first bad byte)."""
    try:
        text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason
    except UnicodeEncodeError:  # the string also holds another lone surrogate, from a JSON escape
        pass
    return "invalid start byte"


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return ESCAPED_BYTE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_shown(k): _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def quarantine_not_utf8(rows: list) -> list:
    """``rows`` with each row that holds an escaped byte as an :class:`UnreadableRow` (its id the id the row as
    read would have: two rows that differ in their bad bytes alone keep two ids). Rows already unreadable are
    kept as they are (the rest of a document that breaks is quarantined as text)."""
    from curation.contract import record_id

    out = []
    for row in rows:
        if not isinstance(row, UnreadableRow):
            bad = next((s for s in _strings(row) if ESCAPED_BYTE.search(s)), None)
            if bad is not None:
                row = UnreadableRow(_shown(row), f"not UTF-8: {_why(bad)}", record_id(row))
        out.append(row)
    return out


def only_not_utf8(rows: list) -> bool:
    """True when ``rows`` hold a row quarantined as not UTF-8 and no row that reads: the file is in another
    encoding (a JSON Lines file none of whose lines is UTF-8 is refused so)."""
    bad = [isinstance(r, UnreadableRow) and r.error.startswith("not UTF-8: ") for r in rows]
    return any(bad) and not any(not isinstance(r, UnreadableRow) for r in rows)
