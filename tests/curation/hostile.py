"""Hypothesis strategies for hostile chat data: the strings and JSON lines scraped data really holds.

Used by the property tests of the repair functions and of the whole `tome curate` run (every line kept,
repaired or quarantined; nothing lost; no traceback).
"""

from __future__ import annotations

import json
import math

from hypothesis import strategies as st

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
CONTROLS = st.sampled_from(["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"])
ODD = st.sampled_from(["\ufeff", "\r\n", "\r", "\t", "\u2028", "\ufffd", "é", "e\u0301", "😀", "\u200b", '"', "\\"])

# Text with hostile characters at random places among ordinary ones.
hostile_text = st.lists(st.one_of(st.text(max_size=6), SURROGATES, CONTROLS, ODD), max_size=8).map("".join)

hostile_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 4.5, 0]),
    st.integers(-10, 10),
    st.sampled_from(["4.5", " 3 ", "NaN", "high", "", "1e999"]),
    st.booleans(),
    st.none(),
)

turn = st.fixed_dictionaries({"from": st.one_of(st.sampled_from(["human", "gpt", "system", "user", "assistant"]), hostile_text),
                              "value": st.one_of(hostile_text, st.integers(), st.none())})
_row = st.fixed_dictionaries(
    {"conversations": st.one_of(st.lists(turn, max_size=4), hostile_text, st.none())},
    optional={"source": st.one_of(hostile_text, st.integers()), "score": hostile_number,
              "extra": st.one_of(hostile_text, st.integers(), st.lists(st.integers(), max_size=2))},
)
# a row, sometimes with one more column whose name is hostile too
hostile_row = st.tuples(_row, st.dictionaries(hostile_text, hostile_text, max_size=1)).map(lambda p: {**p[0], **p[1]})


@st.composite
def hostile_line(draw) -> bytes:
    """One JSONL line (bytes, with its terminator) as a hostile producer writes it."""
    kind = draw(st.sampled_from(["row", "row", "row", "row", "array", "truncated", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(max_size=20)).replace(b"\n", b" ") + b"\n"
    row = draw(hostile_row)
    text = json.dumps(row if kind != "array" else [row], ensure_ascii=draw(st.booleans()), allow_nan=True)
    if kind == "truncated":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    data = text.encode("utf-8", "surrogatepass")  # a raw lone surrogate is invalid UTF-8, as a real file has it
    if draw(st.booleans()):
        data = "\ufeff".encode() + data
    return data + draw(st.sampled_from([b"\n", b"\r\n"]))


hostile_jsonl = st.lists(hostile_line(), min_size=1, max_size=12).map(b"".join)
