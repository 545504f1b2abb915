"""Normalization tidies stray whitespace without touching whitespace that carries meaning: a line's
indentation and everything inside a fenced code block. The column-wise stage equals the definition."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.normalize import NormalizeConfig, normalize_text, normalize_values

CFG = NormalizeConfig()
CODE = "Fix it:\n```python\ndef f(x):\n    if x:   # note\n\n\n\n        return x  \n```\nThat  is  all."


def test_code_blocks_and_indentation_are_kept():
    out = normalize_text(CODE, CFG)
    assert out == "Fix it:\n```python\ndef f(x):\n    if x:   # note\n\n\n\n        return x  \n```\nThat is all."
    nested = normalize_text("Steps:\n  1.  first\n      - a  detail   \n", CFG)
    assert nested == "Steps:\n  1. first\n      - a detail"


def test_a_fence_left_open_runs_to_the_end_and_inline_backticks_are_prose():
    assert normalize_text("see\n~~~\n  a    b\n", CFG) == "see\n~~~\n  a    b"
    assert normalize_text("a ```x```  b", CFG) == "a ```x``` b"


def test_the_old_whitespace_rules_still_hold_in_prose():
    assert normalize_text("x\u00a0\u00a0y\t\tz  \r\n\ufeffnext\n\n\n\n\nend ", CFG) == "x y z\nnext\n\n\nend"


PIECES = st.sampled_from(["a", "b", " ", "  ", "\t", "\u00a0", "\u3000", "\n", "\r\n", "\r", "\ufeff", "```", "~~~",
                          "```py\n", "\n```\n", "é", "e\u0301", "x=1", "    ", "\n\n\n\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=30).map("".join), min_size=1, max_size=8),
       st.booleans(), st.integers(-1, 3), st.booleans())
def test_the_column_wise_stage_equals_the_definition(texts, collapse, blank_lines, strip):
    cfg = NormalizeConfig(collapse_spaces=collapse, max_blank_lines=blank_lines, strip=strip)
    assert normalize_values(pa.array(texts), cfg).to_pylist() == [normalize_text(t, cfg) for t in texts]
