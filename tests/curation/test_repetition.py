"""The compiled Gopher repetition measures equal a plain Python reading of their definitions
(:mod:`curation.repetition`): words are runs of non-whitespace, measured in characters; lines split on newlines."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.repetition import text_measures

TOP, DUP = [2, 3, 4], [5, 6, 7, 8, 9, 10]


def reference(text: str) -> list[float]:
    words = re.findall(r"\S+", text)
    total = max(sum(map(len, words)), 1)
    lines = [line for line in text.split("\n") if line.strip()]
    seen_lines: set[str] = set()
    dup_lines = dup_line_chars = 0
    for line in lines:
        if line in seen_lines:
            dup_lines += 1
            dup_line_chars += len(line)
        seen_lines.add(line)
    out = [dup_lines / len(lines) if lines else 0.0,
           dup_line_chars / max(sum(map(len, lines)), 1) if lines else 0.0]
    for n in TOP:
        grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        best = max([sum(map(len, g)) * c for g, c in grams.items() if c > 1], default=0)
        out.append(best / total)
    for n in DUP:
        seen, repeated, i = set(), 0, 0
        while i < len(words) - n + 1:
            gram = tuple(words[i : i + n])
            if gram in seen:
                repeated += sum(map(len, gram))
                i += n
            else:
                seen.add(gram)
                i += 1
        out.append(repeated / total)
    return out


_word = st.sampled_from(["a", "bb", "the", "cat", "sat", "on", "mat", "é", "naïve", "日本", "x1", "!"])
_space = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", " \n", "\u3000", "\r\n"])
_text = st.lists(st.tuples(_word, _space), max_size=120).map(lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=200, deadline=None)
@given(_text)
def test_measures_equal_their_definitions(text):
    assert np.allclose(text_measures(text, TOP, DUP), reference(text), rtol=0, atol=1e-12)


@pytest.mark.parametrize("text", ["", "one", "a b a b a b", ("the cat sat on the mat. " * 20).strip(), "x\n\nx\n x\n"])
def test_measures_of_plain_cases(text):
    assert np.allclose(text_measures(text, TOP, DUP), reference(text), rtol=0, atol=1e-12)
