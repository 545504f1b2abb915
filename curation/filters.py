"""Length and quality heuristics, each with its own reason code.

Checks run in a fixed order and the first that fires names the reason (``filter:<code>``); the measured
value and the threshold go into ``details``. Repetition checks follow Gopher (Rae et al. 2021), as in
datatrove's ``GopherRepetitionFilter``, and look at answers (gpt turns).
"""

from __future__ import annotations

import re

import numpy as np
from typing import Any, Iterator

from curation import repetition
from curation.config import FiltersConfig
from curation.stage import Removal, Row, StageContext, StageResult

_WORD = re.compile(r"\S+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def duplicate_line_fractions(text: str) -> tuple[float, float]:
    """(duplicate lines / lines, characters in duplicate lines / characters)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0, 0.0
    seen: set[str] = set()
    dup_lines = dup_chars = 0
    for line in lines:
        if line in seen:
            dup_lines += 1
            dup_chars += len(line)
        else:
            seen.add(line)
    total_chars = sum(len(line) for line in lines)
    return dup_lines / len(lines), dup_chars / max(total_chars, 1)


def top_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters covered by the most repeated word n-gram (chars x count) / all characters."""
    ids, lens = repetition.word_arrays(words)
    return repetition.top_ngram_fraction(ids, lens, n, total_chars)


def duplicate_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters in word n-grams that occurred before (non-overlapping) / all characters."""
    ids, lens = repetition.word_arrays(words)
    return repetition.dup_ngram_fraction(ids, lens, n, total_chars)


def roles_alternate(turns: list[dict[str, str]]) -> bool:
    roles = [t["from"] for t in turns]
    i = 0
    while i < len(roles) and roles[i] == "system":
        i += 1
    expected = "human"
    for role in roles[i:]:
        if role != expected:
            return False
        expected = "gpt" if expected == "human" else "human"
    return True


class Filters:
    name = "filters"

    def __init__(self, cfg: FiltersConfig) -> None:
        self.cfg = cfg
        self._top_ns = sorted(cfg.top_ngram_max_fraction)
        self._dup_ns = sorted(cfg.dup_ngram_max_fraction)
        self._fractions: dict[str, np.ndarray] = {}

    def precompute(self, rows: list[Row]) -> None:
        """Measure the n-gram repetition of every long answer in one compiled, parallel pass."""
        texts, words = [], []
        for row in rows:
            for turn in row["conversations"]:
                if turn["from"] == "gpt" and turn["value"] not in self._fractions:
                    w = words_of(turn["value"])
                    if len(w) >= self.cfg.min_words_for_repetition:
                        texts.append(turn["value"])
                        words.append(w)
        if texts:
            fractions = repetition.batch_fractions(words, self._top_ns, self._dup_ns)
            self._fractions.update(zip(texts, fractions))

    def check(self, row: Row) -> tuple[str, dict[str, Any]] | None:
        """The first failing check as (reason code, details), or None when the row passes."""
        for result in self._checks(row):
            if result is not None:
                return result
        return None

    def fired(self, row: Row) -> list[tuple[str, dict[str, Any]]]:
        """Every check that fires on ``row`` (not only the first), as (reason code, details)."""
        return [result for result in self._checks(row) if result is not None]

    def _checks(self, row: Row) -> Iterator[tuple[str, dict[str, Any]] | None]:
        c = self.cfg
        turns = row["conversations"]
        if c.require_alternation and not roles_alternate(turns):
            yield "roles_not_alternating", {"roles": [t["from"] for t in turns]}
        if c.min_score is not None and row.get("score") is not None and row["score"] < c.min_score:
            yield "low_score", {"score": row["score"], "min": c.min_score}
        word_counts = []
        for n, turn in enumerate(turns, start=1):
            chars = len(turn["value"])
            if c.max_chars_per_turn is not None and chars > c.max_chars_per_turn:
                yield "turn_too_long", {"turn": n, "chars": chars, "max": c.max_chars_per_turn}
            if c.min_chars_per_turn is not None and chars < c.min_chars_per_turn:
                yield "turn_too_short", {"turn": n, "chars": chars, "min": c.min_chars_per_turn}
            nwords = len(words_of(turn["value"]))
            word_counts.append(nwords)
            if c.max_words_per_turn is not None and nwords > c.max_words_per_turn:
                yield "turn_too_long", {"turn": n, "words": nwords, "max": c.max_words_per_turn}
            if c.min_words_per_turn is not None and nwords < c.min_words_per_turn:
                yield "turn_too_short", {"turn": n, "words": nwords, "min": c.min_words_per_turn}
        answers = [(n, t["value"], word_counts[n - 1]) for n, t in enumerate(turns, start=1) if t["from"] == "gpt"]
        for n, text, nwords in answers:
            if c.min_answer_chars is not None and len(text) < c.min_answer_chars:
                yield "answer_too_short", {"turn": n, "chars": len(text), "min": c.min_answer_chars}
            if c.min_answer_words is not None and nwords < c.min_answer_words:
                yield "answer_too_short", {"turn": n, "words": nwords, "min": c.min_answer_words}
        if c.max_prompt_answer_ratio is not None:
            prompt = sum(len(t["value"]) for t in turns if t["from"] == "human")
            answer = sum(len(text) for _, text, _ in answers)
            ratio = prompt / max(answer, 1)
            if ratio > c.max_prompt_answer_ratio:
                yield "prompt_answer_ratio", {"ratio": round(ratio, 3), "max": c.max_prompt_answer_ratio}
        for n, text, nwords in answers:
            if nwords < c.min_words_for_repetition:
                continue
            yield self._repetition(n, text)

    def _repetition(self, n: int, text: str) -> tuple[str, dict[str, Any]] | None:
        c = self.cfg
        line_frac, line_char_frac = duplicate_line_fractions(text)
        if c.max_repeated_line_fraction is not None and line_frac > c.max_repeated_line_fraction:
            return "repeated_lines", {"turn": n, "fraction": round(line_frac, 4), "max": c.max_repeated_line_fraction}
        if c.max_repeated_line_char_fraction is not None and line_char_frac > c.max_repeated_line_char_fraction:
            return "repeated_lines", {"turn": n, "char_fraction": round(line_char_frac, 4), "max": c.max_repeated_line_char_fraction}
        fractions = self._fractions.get(text)
        if fractions is None:
            fractions = repetition.batch_fractions([words_of(text)], self._top_ns, self._dup_ns)[0]
        k = len(self._top_ns)
        for j, size in enumerate(self._top_ns):
            frac, limit = float(fractions[j]), c.top_ngram_max_fraction[size]
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "top_ngram": size, "fraction": round(frac, 4), "max": limit}
        for j, size in enumerate(self._dup_ns):
            frac, limit = float(fractions[k + j]), c.dup_ngram_max_fraction[size]
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "dup_ngram": size, "fraction": round(frac, 4), "max": limit}
        return None

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        kept: list[Row] = []
        removed: list[Removal] = []
        self.precompute(rows)
        for row in ctx.track(rows, len(rows), "filters"):
            failed = self.check(row)
            if failed is None:
                kept.append(row)
            else:
                code, details = failed
                removed.append(Removal(row=row, reason=f"filter:{code}", details=details))
        return StageResult(kept=kept, removed=removed)
