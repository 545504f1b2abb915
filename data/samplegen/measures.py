"""Measurements: the shingling of ``curation/minhash/shingles.py``, what normalization does, and every
default filter as a ratio to its threshold (datatrove's Gopher definitions, both tokenizations)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

import numpy as np

from .plan import (DUP_NGRAM_MAX_FRACTION, MAX_CHARS_PER_TURN, MAX_PROMPT_ANSWER_RATIO, MAX_REPEATED_LINE_CHAR_FRACTION,
                   MAX_REPEATED_LINE_FRACTION, MAX_WORDS_PER_TURN, MIN_ANSWER_CHARS, MIN_ANSWER_WORDS,
                   MIN_WORDS_FOR_REPETITION, SHINGLE_NGRAM, TOP_NGRAM_MAX_FRACTION)

TOKEN_RE = re.compile(r"\w+")


def token_text(text: str) -> str:
    return " ".join(TOKEN_RE.findall(text.lower()))


def shingle_set(text: str, ngram: int = SHINGLE_NGRAM) -> set[str]:
    """Word n-gram shingles exactly as curation.minhash.shingles.shingles(text, "word", ngram) (as str)."""
    canon = token_text(text)
    if not canon:
        return set()
    tokens = canon.split(" ")
    if len(tokens) <= ngram:
        return {canon}
    return {" ".join(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def conversation_text(turns: list[dict]) -> str:
    return "\n".join(t["value"] for t in turns)


def human_text(turns: list[dict], first_only: bool = False) -> str:
    values = [t["value"] for t in turns if t["from"] == "human"]
    return values[0] if first_only else "\n".join(values)


_INNER_SPACE_RE = re.compile(r"(?<=\S)[ \t]{2,}|(?<=\S)\t")


def normalize_value(value: str) -> str:
    """What the normalize stage does to a turn (NFC, inner space runs, blank-line runs, strip)."""
    value = unicodedata.normalize("NFC", value)
    value = "\n".join(_INNER_SPACE_RE.sub(" ", line) for line in value.split("\n"))
    value = re.sub(r"\n{4,}", "\n\n\n", value)
    return value.strip()


def normalized_key(row: dict) -> str:
    return json.dumps([[t["from"], normalize_value(t["value"])] for t in row["conversations"]], ensure_ascii=False)


_HASH_BASE = np.uint64(1_000_003)


def _ngram_measures(toks: list[str], n_chars: int) -> tuple[float, float]:
    """(top n-gram, duplicated n-gram) as fractions of their thresholds, datatrove's definitions.

    n-grams are compared through 64-bit polynomial hashes of token ids (numpy), so a collision could only
    ever overstate repetition.
    """
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(t, len(index)) for t in toks), dtype=np.uint64, count=len(toks))
    pre = np.concatenate(([0], np.cumsum(np.fromiter(map(len, toks), dtype=np.int64, count=len(toks)))))
    top = dup = 0.0
    h = ids.copy()
    with np.errstate(over="ignore"):
        for n in range(2, max(DUP_NGRAM_MAX_FRACTION) + 1):
            if len(toks) < n:
                break
            h = h[:-1] * _HASH_BASE + ids[n - 1 :]
            uniq, first, inverse, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
            if n in TOP_NGRAM_MAX_FRACTION:
                # among equally frequent n-grams the first seen wins, as with Counter.most_common
                start = int(first[counts == counts.max()].min())
                chars = int(pre[start + n] - pre[start]) + n - 1
                top = max(top, chars * int(counts.max()) / n_chars / TOP_NGRAM_MAX_FRACTION[n])
            if n in DUP_NGRAM_MAX_FRACTION:
                if len(uniq) == len(h):
                    break  # no repeated n-gram, so no repeated longer one either
                repeats = np.flatnonzero(first[inverse] != np.arange(len(h)))
                # datatrove skips n tokens after each repeat; walking the repeat positions gives that sum
                # (up to grams first seen inside a skipped stretch, counted here too: an upper bound).
                total, next_free = 0, 0
                for i in repeats.tolist():
                    if i >= next_free:
                        total += int(pre[i + n] - pre[i]) + n - 1
                        next_free = i + n
                dup = max(dup, total / n_chars / DUP_NGRAM_MAX_FRACTION[n])
    return top, dup


def _quick_ngram_measures(toks: list[str], n_chars: int) -> tuple[float, float]:
    """:func:`_ngram_measures` through C-level counting; the slower path only when a 5-gram repeats."""
    if len(toks) < 5 or len(set(zip(*(toks[j:] for j in range(5))))) < len(toks) - 4:
        return _ngram_measures(toks, n_chars)
    top = 0.0
    for n, limit in TOP_NGRAM_MAX_FRACTION.items():
        gram, count = Counter(zip(*(toks[j:] for j in range(n)))).most_common(1)[0]  # first seen wins ties
        top = max(top, (sum(map(len, gram)) + n - 1) * count / n_chars / limit)
    return top, 0.0


def gopher_repetition(text: str, exact: bool = False) -> dict[str, float]:
    """The Gopher repetition measurements as fractions of the default thresholds.

    Both tokenizations (whitespace and ``\\w+``) are measured and the maximum kept. ``exact=False`` (used
    while generating) takes a quicker path that gives the same numbers.
    """
    text = text.strip()
    out = {"line_frac": 0.0, "line_char_frac": 0.0, "top_ngram": 0.0, "dup_ngram": 0.0}
    if not text or len(text.split()) < MIN_WORDS_FOR_REPETITION:
        return out
    n_chars = len(text)
    lines = re.split(r"\n+", text)
    seen: set[str] = set()
    dup_lines = dup_line_chars = 0
    for line in lines:
        if line in seen:
            dup_lines += 1
            dup_line_chars += len(line)
        else:
            seen.add(line)
    out["line_frac"] = dup_lines / len(lines) / MAX_REPEATED_LINE_FRACTION
    out["line_char_frac"] = dup_line_chars / n_chars / MAX_REPEATED_LINE_CHAR_FRACTION
    for toks in (text.split(), TOKEN_RE.findall(text)):
        top, dup = _ngram_measures(toks, n_chars) if exact else _quick_ngram_measures(toks, n_chars)
        out["top_ngram"] = max(out["top_ngram"], top)
        out["dup_ngram"] = max(out["dup_ngram"], dup)
    return out


def filter_measures(turns: list[dict], exact: bool = False) -> dict[str, float]:
    """Each default filter as a ratio to its threshold: > 1 fails, <= 1 passes (alternation: 0 or 2)."""
    gpt = [t["value"].strip() for t in turns if t["from"] == "gpt"]
    human = [t["value"].strip() for t in turns if t["from"] == "human"]
    values = [t["value"].strip() for t in turns]
    m: dict[str, float] = {}
    # answer_too_short: the shortest answer, as threshold / length (so that > 1 means too short)
    m["answer_too_short"] = max(
        max(MIN_ANSWER_CHARS / max(len(g), 1e-9) for g in gpt),
        max(MIN_ANSWER_WORDS / max(len(g.split()), 1e-9) for g in gpt),
    ) if gpt else 99.0
    m["answer_too_short"] = m["answer_too_short"] * (1 + 1e-9) if m["answer_too_short"] > 1 else m["answer_too_short"]
    m["turn_too_long"] = max(len(v) for v in values) / MAX_CHARS_PER_TURN
    m["turn_too_many_words"] = max(max(len(v.split()), len(TOKEN_RE.findall(v))) for v in values) / MAX_WORDS_PER_TURN
    m["turn_empty"] = 2.0 if any(not v for v in values) else 0.0
    m["prompt_answer_ratio"] = (sum(map(len, human)) / max(sum(map(len, gpt)), 1)) / MAX_PROMPT_ANSWER_RATIO
    roles = [t["from"] for t in turns]
    while roles and roles[0] == "system":
        roles = roles[1:]
    expected = ["human" if i % 2 == 0 else "gpt" for i in range(len(roles))]
    m["roles_not_alternating"] = 0.0 if roles == expected and roles and roles[-1] == "gpt" else 2.0
    rep = {"line_frac": 0.0, "line_char_frac": 0.0, "top_ngram": 0.0, "dup_ngram": 0.0}
    for text in [conversation_text(turns), *gpt]:
        for k, v in gopher_repetition(text, exact).items():
            rep[k] = max(rep[k], v)
    m["repeated_lines"] = max(rep["line_frac"], rep["line_char_frac"])
    m["repeated_ngrams"] = max(rep["top_ngram"], rep["dup_ngram"])
    return m


FILTER_KEYS = {
    "filter:answer_too_short": "answer_too_short",
    "filter:turn_too_long": "turn_too_long",
    "filter:prompt_answer_ratio": "prompt_answer_ratio",
    "filter:roles_not_alternating": "roles_not_alternating",
    "filter:repeated_lines": "repeated_lines",
    "filter:repeated_ngrams": "repeated_ngrams",
}
# How far past its threshold a planted row must be on the filter it targets.
FAIL_MARGIN = {"answer_too_short": 1.5, "turn_too_long": 1.012, "prompt_answer_ratio": 1.25, "roles_not_alternating": 1.5,
               "repeated_lines": 1.3, "repeated_ngrams": 1.5}


def is_normalized(row: dict) -> bool:
    return all(normalize_value(t["value"]) == t["value"] for t in row["conversations"])


def passes_all(m: dict[str, float], margin: float, except_key: str | None = None) -> bool:
    return all(v <= margin for k, v in m.items() if k != except_key)
