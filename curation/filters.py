"""Length and quality heuristics, each with its own reason code.

Checks run in a fixed order and the first that fires names the reason (``filter:<code>``); the measured
value and the threshold go into ``details``. Repetition checks follow Gopher (Rae et al. 2021), as in
datatrove's ``GopherRepetitionFilter``, and look at answers (gpt turns).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterator

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
    """Characters covered by the most frequent word n-gram / all characters."""
    if len(words) < n:
        return 0.0
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = counts.most_common(1)[0]
    if count <= 1:
        return 0.0
    return sum(len(w) for w in gram) * count / max(total_chars, 1)


def duplicate_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters in word n-grams that occurred before (non-overlapping) / all characters."""
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    idx = 0
    limit = len(words) - n + 1
    while idx < limit:
        gram = tuple(words[idx : idx + n])
        if gram in seen:
            repeated += sum(len(w) for w in gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated / max(total_chars, 1)


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
        words = words_of(text)
        total = sum(len(w) for w in words)
        for size, limit in sorted(c.top_ngram_max_fraction.items()):
            frac = top_ngram_fraction(words, size, total)
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "top_ngram": size, "fraction": round(frac, 4), "max": limit}
        for size, limit in sorted(c.dup_ngram_max_fraction.items()):
            frac = duplicate_ngram_fraction(words, size, total)
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "dup_ngram": size, "fraction": round(frac, 4), "max": limit}
        return None

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        kept: list[Row] = []
        removed: list[Removal] = []
        for row in ctx.track(rows, len(rows), "filters"):
            failed = self.check(row)
            if failed is None:
                kept.append(row)
            else:
                code, details = failed
                removed.append(Removal(row=row, reason=f"filter:{code}", details=details))
        return StageResult(kept=kept, removed=removed)
